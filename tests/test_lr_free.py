"""lrcourse.lr_free side by side with its reference packages, in float64.

DAdaptSGD and DAdaptAdam against dadaptation 3.2, Prodigy against prodigyopt
1.1.2 (pinned in requirements.txt). Each run trains two copies of a small MLP
(several parameter tensors, so the d estimate is a sum over all of them; one or
two param groups, sometimes a frozen group, a never-used parameter or an
all-zero tensor) for 300 steps on random mini-batches, with options drawn at
random per seed. The parameters must agree to 1e-10 relative and the d
estimate at every step.
"""

import copy
import inspect
import re

import numpy as np
import pytest
import torch

from lrcourse import lr_free
from parity import log_uniform, one_thread  # noqa: E402,F401  (one_thread: the fixture below uses it)

dadaptation = pytest.importorskip("dadaptation")
prodigyopt = pytest.importorskip("prodigyopt")

STEPS = 300
SEEDS = range(8)
RTOL = 1e-10
REFERENCES = {
    "DAdaptSGD": dadaptation.DAdaptSGD,
    "DAdaptAdam": dadaptation.DAdaptAdam,
    "Prodigy": prodigyopt.Prodigy,
}


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test of this module on one thread."""


# ---- randomized options ---------------------------------------------------------------------

def growth(rng):
    return float("inf") if rng.random() < 0.5 else float(rng.uniform(1.01, 1.2))


def sgd_options(rng):
    kw = dict(lr=float(rng.uniform(0.3, 1.0)), d0=log_uniform(rng, 1e-7, 1e-4), growth_rate=growth(rng),
              log_every=int(rng.choice([0, 7])))
    if rng.random() < 0.6:
        kw["momentum"] = float(rng.uniform(0.1, 0.9))
    if rng.random() < 0.5:
        kw["weight_decay"] = log_uniform(rng, 1e-4, 1e-2)
    return kw, {}


def adam_options(rng):
    kw = dict(lr=float(rng.uniform(0.3, 1.0)), d0=log_uniform(rng, 1e-7, 1e-4), growth_rate=growth(rng),
              betas=(float(rng.uniform(0.0, 0.95)), float(rng.uniform(0.9, 0.9999))),
              eps=log_uniform(rng, 1e-10, 1e-6), decouple=bool(rng.random() < 0.5),
              use_bias_correction=bool(rng.random() < 0.5), log_every=int(rng.choice([0, 7])))
    if rng.random() < 0.6:
        kw["weight_decay"] = log_uniform(rng, 1e-4, 1e-2)
    # per-group options for the second group, when there are two
    group = dict(layer_scale=float(rng.uniform(0.5, 2.0)), eps=log_uniform(rng, 1e-10, 1e-6),
                 weight_decay=float(rng.choice([0.0, log_uniform(rng, 1e-4, 1e-2)])))
    return kw, group


def prodigy_options(rng):
    kw = dict(lr=float(rng.uniform(0.3, 1.0)), d0=log_uniform(rng, 1e-7, 1e-4), growth_rate=growth(rng),
              betas=(float(rng.choice([0.0, rng.uniform(0.5, 0.95)])), float(rng.uniform(0.9, 0.9999))),
              beta3=None if rng.random() < 0.5 else float(rng.uniform(0.9, 0.999)),
              eps=log_uniform(rng, 1e-10, 1e-6), decouple=bool(rng.random() < 0.5),
              use_bias_correction=bool(rng.random() < 0.5), safeguard_warmup=bool(rng.random() < 0.5),
              d_coef=float(rng.uniform(0.5, 2.0)), slice_p=int(rng.choice([1, 1, 3])))
    if rng.random() < 0.6:
        kw["weight_decay"] = log_uniform(rng, 1e-4, 1e-2)
    group = dict(eps=log_uniform(rng, 1e-10, 1e-6), safeguard_warmup=bool(rng.random() < 0.5),
                 weight_decay=float(rng.choice([0.0, log_uniform(rng, 1e-4, 1e-2)])),
                 slice_p=int(rng.choice([1, 2])))
    return kw, group


OPTIONS = {"DAdaptSGD": sgd_options, "DAdaptAdam": adam_options, "Prodigy": prodigy_options}


# ---- the side-by-side run -------------------------------------------------------------------

def make_model(rng):
    torch.manual_seed(int(rng.integers(2**31)))
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3)).double()
    if rng.random() < 0.3:
        with torch.no_grad():
            model[2].bias.zero_()          # an all-zero tensor at the start (Prodigy keeps a scalar x0)
    model.unused = torch.nn.Parameter(torch.randn(4, dtype=torch.float64))  # never gets a gradient
    return model


def param_groups(model, rng, group_options, layout):
    unused = [model.unused] if rng.random() < 0.5 else []
    if layout == "one":
        return [{"params": list(model[0].parameters()) + list(model[2].parameters()) + unused}]
    second = dict(group_options) if layout == "two" else {"lr": 0.0}
    return [{"params": list(model[0].parameters()) + unused}, {"params": list(model[2].parameters()), **second}]


def relative_gap(ours, theirs):
    return (ours - theirs).abs().max().item() / max(theirs.abs().max().item(), 1e-300)


def run_side_by_side(name, seed):
    rng = np.random.default_rng(1000 * seed + len(name))
    options, group_options = OPTIONS[name](rng)
    ours_model = make_model(rng)
    ref_model = copy.deepcopy(ours_model)
    # Prodigy without momentum (beta1 = 0) moves a frozen group too (v stays 0, so the step is
    # dlr g / eps) and the reference blows up: no frozen group there
    layout = ["one", "two", "two-frozen"][seed % 3]
    # Prodigy without momentum (beta1 = 0) moves a frozen group too (v stays 0, so the step is
    # dlr g / eps) and the reference blows up: no frozen group there
    if layout == "two-frozen" and name == "Prodigy" and options["betas"][0] == 0.0:
        layout = "two"
    groups = param_groups(ours_model, rng, group_options, layout)
    index = {id(p): i for i, p in enumerate(ours_model.parameters())}
    ref_params = list(ref_model.parameters())
    ref_groups = [{**g, "params": [ref_params[index[id(p)]] for p in g["params"]]} for g in groups]
    ours = getattr(lr_free, name)(groups, **options)
    ref = REFERENCES[name](ref_groups, **options)

    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(256, 5, generator=gen, dtype=torch.float64)
    Y = torch.sin(X @ torch.randn(5, 3, generator=gen, dtype=torch.float64))
    use_closure = seed % 2 == 1
    worst_param, worst_d = 0.0, 0.0
    for step in range(STEPS):
        batch = torch.randint(0, 256, (32,), generator=gen)
        for model, opt in ((ours_model, ours), (ref_model, ref)):
            def closure(model=model, opt=opt):
                opt.zero_grad()
                loss = torch.nn.functional.mse_loss(model(X[batch]), Y[batch])
                loss.backward()
                return loss
            if use_closure:
                opt.step(closure)
            else:
                closure()
                opt.step()
        for group, ref_group in zip(ours.param_groups, ref.param_groups):
            gap = abs(group["d"] - ref_group["d"]) / ref_group["d"]
            assert gap <= RTOL, f"{name} seed {seed} step {step}: d {group['d']} vs {ref_group['d']}"
            worst_d = max(worst_d, gap)
        for p, q in zip(ours_model.parameters(), ref_model.parameters()):
            gap = relative_gap(p, q)
            assert gap <= RTOL, f"{name} seed {seed} step {step}: parameters differ by {gap:.2e} relative"
            worst_param = max(worst_param, gap)
    loss = torch.nn.functional.mse_loss(ours_model(X), Y).item()
    assert np.isfinite(loss)
    # same param-group keys and values, same state (names and tensors)
    for group, ref_group in zip(ours.param_groups, ref.param_groups):
        assert set(group) == set(ref_group)
        for key in group:
            if isinstance(ref_group[key], float):
                assert group[key] == pytest.approx(ref_group[key], rel=RTOL, abs=0.0), key
            elif key != "params":
                assert group[key] == ref_group[key], key
    for p, q in zip(ours_model.parameters(), ref_model.parameters()):
        assert set(ours.state[p]) == set(ref.state[q])
        for key, value in ours.state[p].items():
            if torch.is_tensor(value):
                assert relative_gap(value, ref.state[q][key]) <= RTOL, key
            else:
                assert value == ref.state[q][key], key
    return worst_param, worst_d


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", list(REFERENCES))
def test_same_trajectory_as_reference(name, seed, capsys):
    run_side_by_side(name, seed)


# ---- constructor: signature, defaults, validation ------------------------------------------

@pytest.mark.parametrize("name", list(REFERENCES))
def test_same_signature_and_defaults(name):
    assert inspect.signature(getattr(lr_free, name)) == inspect.signature(REFERENCES[name])
    params = [torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))]
    ours, ref = getattr(lr_free, name)(params), REFERENCES[name](params)
    assert ours.defaults == ref.defaults
    assert issubclass(getattr(lr_free, name), torch.optim.Optimizer)


INVALID = [
    dict(d0=0.0), dict(d0=-1e-6), dict(lr=0.0), dict(lr=-1.0),
    dict(eps=0.0), dict(eps=-1e-8), dict(betas=(1.0, 0.999)), dict(betas=(-0.1, 0.999)),
    dict(betas=(0.9, 1.0)), dict(betas=(0.9, -0.5)),
]


@pytest.mark.parametrize("kw", INVALID, ids=str)
@pytest.mark.parametrize("name", list(REFERENCES))
def test_invalid_arguments_raise_the_reference_message(name, kw, capsys):
    signature = inspect.signature(REFERENCES[name]).parameters
    if not set(kw) <= set(signature):
        pytest.skip(f"{name} has no {set(kw) - set(signature)}")
    params = [torch.nn.Parameter(torch.zeros(2))]
    with pytest.raises(ValueError) as reference_error:
        REFERENCES[name](params, **kw)
    with pytest.raises(ValueError, match=f"^{re.escape(str(reference_error.value))}$"):
        getattr(lr_free, name)(params, **kw)


@pytest.mark.parametrize("name, kw, message", [
    ("DAdaptSGD", dict(weight_decay=-1e-3), "Invalid weight_decay value: -0.001"),
    ("DAdaptSGD", dict(momentum=-0.5), "Invalid momentum value: -0.5"),
    ("DAdaptAdam", dict(weight_decay=-1e-3), "Invalid weight_decay value: -0.001"),
    ("Prodigy", dict(weight_decay=-1e-3), "Invalid weight_decay value: -0.001"),
])
def test_torch_checks_where_the_reference_has_none(name, kw, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        getattr(lr_free, name)([torch.nn.Parameter(torch.zeros(2))], **kw)


@pytest.mark.parametrize("name", list(REFERENCES))
def test_different_group_lrs_are_refused_as_in_reference(name):
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    opt = getattr(lr_free, name)([{"params": [a]}, {"params": [b], "lr": 0.5}])
    (a.sum() + b.sum()).backward()
    with pytest.raises(RuntimeError, match="only supported for values of 0"):
        opt.step()
