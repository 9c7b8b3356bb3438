"""Every optimizer and option, numpy and torch versions, against torch.optim in float64.

300 steps on a random noisy quadratic, hyperparameters drawn at random for
each of several seeds, every option switched on in some variant; tolerance
1e-9 relative (tests/parity.py).
"""

import numpy as np
import pytest
import torch

from lrcourse import optim, torch_optim
from parity import NoisyQuadratic, assert_same_trajectory, log_uniform, numpy_trajectory, torch_trajectory

SEEDS = [0, 1, 2]


# For each optimizer: variants (which options are on) and a sampler of the
# continuous hyperparameters. Ranges keep every run stable on the quadratic.
def sgd(rng, on):
    kw = dict(lr=rng.uniform(0.01, 0.2))
    if {"momentum", "nesterov"} & on:
        kw["momentum"] = rng.uniform(0.1, 0.9)
    if "dampening" in on:
        kw["dampening"] = rng.uniform(0.05, 0.5)
    if "nesterov" in on:
        kw["nesterov"] = True
    return kw


def adagrad(rng, on):
    kw = dict(lr=rng.uniform(0.05, 0.5))
    if "lr_decay" in on:
        kw["lr_decay"] = log_uniform(rng, 1e-3, 0.1)
    if "initial_accumulator_value" in on:
        kw["initial_accumulator_value"] = rng.uniform(0.01, 1.0)
    if "eps" in on:
        kw["eps"] = log_uniform(rng, 1e-8, 1e-2)
    return kw


def rmsprop(rng, on):
    kw = dict(lr=log_uniform(rng, 1e-3, 3e-2), alpha=rng.uniform(0.8, 0.999))
    if "centered" in on:
        kw["centered"] = True
    if "momentum" in on:
        kw["momentum"] = rng.uniform(0.1, 0.9)
    if "eps" in on:
        kw["eps"] = log_uniform(rng, 1e-10, 1e-3)
    return kw


def adadelta(rng, on):
    kw = dict(lr=rng.uniform(0.5, 2.0))
    if "rho" in on:
        kw["rho"] = rng.uniform(0.5, 0.99)
    if "eps" in on:
        kw["eps"] = log_uniform(rng, 1e-8, 1e-3)
    return kw


def adam(rng, on):
    kw = dict(lr=log_uniform(rng, 1e-3, 0.1),
              betas=(rng.uniform(0.5, 0.95), rng.uniform(0.9, 0.9999)))
    if "amsgrad" in on:
        kw["amsgrad"] = True
    if "eps" in on:
        kw["eps"] = log_uniform(rng, 1e-10, 1e-3)
    return kw


def adamax(rng, on):
    kw = dict(lr=log_uniform(rng, 1e-3, 0.1),
              betas=(rng.uniform(0.5, 0.95), rng.uniform(0.9, 0.9999)))
    if "eps" in on:
        kw["eps"] = log_uniform(rng, 1e-10, 1e-3)
    return kw


def nadam(rng, on):
    kw = adamax(rng, on)
    if "momentum_decay" in on:
        kw["momentum_decay"] = log_uniform(rng, 1e-3, 0.1)
    return kw


OPTIMIZERS = {
    "SGD": (sgd, ["momentum", "dampening", "nesterov"]),
    "Adagrad": (adagrad, ["lr_decay", "initial_accumulator_value", "eps"]),
    "RMSprop": (rmsprop, ["centered", "momentum", "centered+momentum", "eps"]),
    "Adadelta": (adadelta, ["rho", "eps", "rho+eps"]),
    "Adam": (adam, ["amsgrad", "eps"]),
    "AdamW": (adam, ["amsgrad", "eps"]),
    "Adamax": (adamax, ["eps"]),
    "NAdam": (nadam, ["momentum_decay", "decoupled_weight_decay", "eps"]),
    "RAdam": (adamax, ["decoupled_weight_decay", "eps"]),
}
COMMON = ["plain", "weight_decay", "maximize", "lr_changes", "everything"]

CASES = [
    pytest.param(name, variant, seed, id=f"{name}-{variant}-seed{seed}")
    for name, (_, variants) in OPTIMIZERS.items()
    for variant in COMMON + variants
    for seed in SEEDS
]


def make_case(name, variant, seed):
    """Hyperparameters, the problem and (for lr_changes) an lr per step."""
    sampler, variants = OPTIMIZERS[name]
    rng = np.random.default_rng(1000 * seed + sum(map(ord, name + variant)))
    on = set(variant.split("+"))
    if variant == "everything":
        on = {option for v in variants for option in v.split("+")} | {"weight_decay", "maximize"}
        on.discard("dampening")  # torch forbids dampening with nesterov
    kwargs = sampler(rng, on)
    if {"weight_decay", "decoupled_weight_decay"} & on:
        kwargs["weight_decay"] = rng.uniform(0.01, 0.1)
    if "decoupled_weight_decay" in on:
        kwargs["decoupled_weight_decay"] = True
    if "maximize" in on:
        kwargs["maximize"] = True
    problem = NoisyQuadratic(seed, maximize="maximize" in on)
    lrs = None
    if variant == "lr_changes":  # what a schedule does: a different lr before every step
        lrs = kwargs["lr"] * rng.uniform(0.2, 1.0, len(problem.noise))
    return kwargs, problem, lrs


@pytest.fixture
def float64_scalars():
    """torch's NAdam keeps its momentum product in the default dtype (float32 unless changed); the
    numpy version computes in float64 throughout, so compare them with float64 as torch's default."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


@pytest.mark.parametrize("name, variant, seed", CASES)
def test_numpy_optimizer_matches_torch(name, variant, seed, float64_scalars):
    kwargs, problem, lrs = make_case(name, variant, seed)
    reference = torch_trajectory(getattr(torch.optim, name), kwargs, problem, lrs)
    ours = numpy_trajectory(getattr(optim, name)(**kwargs), problem, lrs)
    assert_same_trajectory(ours, reference, f"lrcourse.optim.{name}({kwargs})")


@pytest.mark.parametrize("name, variant, seed", CASES)
def test_torch_optimizer_matches_torch(name, variant, seed):
    kwargs, problem, lrs = make_case(name, variant, seed)
    reference = torch_trajectory(getattr(torch.optim, name), kwargs, problem, lrs)
    ours = torch_trajectory(getattr(torch_optim, name), kwargs, problem, lrs)
    assert_same_trajectory(ours, reference, f"lrcourse.torch_optim.{name}({kwargs})")


@pytest.mark.parametrize("variant", ["plain", "everything"])
def test_torch_nadam_is_bit_identical_with_float32_scalars_too(variant):
    """With torch's default dtype left at float32, torch rounds NAdam's momentum product to float32 at
    every step; our torch version keeps it exactly as torch does."""
    kwargs, problem, lrs = make_case("NAdam", variant, 0)
    assert torch.get_default_dtype() == torch.float32
    reference = torch_trajectory(torch.optim.NAdam, kwargs, problem, lrs)
    ours = torch_trajectory(torch_optim.NAdam, kwargs, problem, lrs)
    np.testing.assert_array_equal(ours, reference)


def test_every_option_is_exercised():
    """Guard against a variant list that silently stops covering an option."""
    covered = {name: set() for name in OPTIMIZERS}
    for name, variant, seed in (case.values for case in CASES):
        covered[name] |= set(make_case(name, variant, seed)[0])
    expected = {
        "SGD": {"lr", "momentum", "dampening", "nesterov", "weight_decay", "maximize"},
        "Adagrad": {"lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize"},
        "RMSprop": {"lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"},
        "Adadelta": {"lr", "rho", "eps", "weight_decay", "maximize"},
        "Adam": {"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"},
        "AdamW": {"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize"},
        "Adamax": {"lr", "betas", "eps", "weight_decay", "maximize"},
        "NAdam": {"lr", "betas", "eps", "weight_decay", "momentum_decay", "decoupled_weight_decay", "maximize"},
        "RAdam": {"lr", "betas", "eps", "weight_decay", "decoupled_weight_decay", "maximize"},
    }
    assert covered == expected


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_defaults_match_torch(name):
    """Same hyperparameter names and default values as torch.optim (minus params)."""
    ours = getattr(optim, name)()
    reference = getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)]).defaults
    for key, value in vars(ours).items():
        if key in reference:
            assert value == reference[key], f"{name}.{key}: {value} != torch's {reference[key]}"
    shared = {k for k in vars(ours) if k in reference}
    assert {"lr", "maximize"} <= shared and len(shared) >= 3


class TestTorchOptimizerIsADropIn:
    def make_model(self):
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)).double()

    @pytest.mark.parametrize("name", list(OPTIMIZERS))
    def test_param_groups_closure_and_matrices(self, name):
        """Two param groups with their own lr, matrix parameters, a closure: same as torch."""
        x = torch.randn(32, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        y = torch.randn(32, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
        results = []
        for module in (torch.optim, torch_optim):
            model = self.make_model()
            groups = [{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": 3e-3}]
            opt = getattr(module, name)(groups, lr=1e-2)

            def closure():
                opt.zero_grad()
                loss = torch.nn.functional.mse_loss(model(x), y)
                loss.backward()
                return loss

            losses = [opt.step(closure).item() for _ in range(50)]
            results.append((losses, torch.cat([p.detach().ravel() for p in model.parameters()])))
        (ref_losses, ref_params), (our_losses, our_params) = results
        np.testing.assert_allclose(our_losses, ref_losses, rtol=1e-12)
        torch.testing.assert_close(our_params, ref_params, rtol=1e-12, atol=0)

    def test_parameters_without_grad_are_skipped(self):
        a = torch.ones(3, requires_grad=True)
        b = torch.ones(3, requires_grad=True)
        opt = torch_optim.Adam([a, b], lr=0.1)
        a.grad = torch.ones(3)
        opt.step()
        assert torch.all(a < 1) and torch.all(b == 1) and b not in opt.state

    def test_state_dict_round_trip(self):
        p = torch.ones(3, requires_grad=True)
        opt = torch_optim.Adam([p], lr=0.1, amsgrad=True)
        p.grad = torch.ones(3)
        opt.step()
        clone = torch_optim.Adam([p], lr=0.1, amsgrad=True)
        clone.load_state_dict(opt.state_dict())
        assert clone.state[p]["step"] == 1
        torch.testing.assert_close(clone.state[p]["m"], opt.state[p]["m"])

    @pytest.mark.parametrize("switch", [{"foreach": True}, {"fused": True}, {"capturable": True}])
    def test_fast_paths_are_refused_clearly(self, switch):
        with pytest.raises(ValueError, match="plain single-tensor algorithm only"):
            torch_optim.Adam([torch.ones(1, requires_grad=True)], **switch)

    def test_off_switches_are_accepted_and_unknown_keywords_are_not(self):
        p = [torch.ones(1, requires_grad=True)]
        torch_optim.Adam(p, foreach=None, fused=None, capturable=False, differentiable=False)
        torch_optim.RMSprop(p, foreach=False)
        with pytest.raises(TypeError, match="unexpected keyword argument 'betaz'"):
            torch_optim.Adam(p, betaz=(0.9, 0.99))


class TestNumpyOptimizerProtocol:
    @pytest.mark.parametrize("name", list(OPTIMIZERS))
    def test_step_returns_a_new_array_and_leaves_inputs_alone(self, name):
        x, g = np.array([1.0, -2.0]), np.array([0.5, 0.5])
        opt = getattr(optim, name)(lr=0.1)
        x_new = opt.step(x, g)
        assert x_new is not x and not np.shares_memory(x_new, x)
        np.testing.assert_array_equal(x, [1.0, -2.0])
        np.testing.assert_array_equal(g, [0.5, 0.5])
        assert opt.t == 1

    def test_state_lives_under_the_notebook_symbols(self):
        opt = optim.Adam(lr=0.1, amsgrad=True)
        opt.step(np.zeros(2), np.ones(2))
        assert opt.t == 1
        np.testing.assert_allclose(opt.m, 0.1)          # (1 - beta1) * g
        np.testing.assert_allclose(opt.v, 0.001)        # (1 - beta2) * g^2
        np.testing.assert_allclose(opt.v_max, 0.001)
        sgd = optim.SGD(lr=0.1, momentum=0.9)
        sgd.step(np.zeros(2), np.ones(2))
        np.testing.assert_array_equal(sgd.buf, 1.0)     # the first gradient, as torch

    def test_reset_forgets_state(self):
        opt = optim.Adam(lr=0.1)
        x1 = opt.step(np.zeros(2), np.ones(2))
        opt.step(x1, np.ones(2))
        opt.reset()
        assert opt.t == 0 and opt.m is None
        np.testing.assert_array_equal(opt.step(np.zeros(2), np.ones(2)), x1)

    def test_shape_mismatch_is_a_clear_error(self):
        with pytest.raises(ValueError, match=r"grad has shape \(3,\) but x has shape \(2,\)"):
            optim.SGD(lr=0.1).step(np.zeros(2), np.zeros(3))

    def test_scalars_and_lists_are_accepted(self):
        assert optim.SGD(lr=0.5).step(2.0, 1.0) == pytest.approx(1.5)
        np.testing.assert_allclose(optim.SGD(lr=0.5).step([2.0, 0.0], [1.0, 1.0]), [1.5, -0.5])

    def test_repr_names_the_hyperparameters(self):
        text = repr(optim.Adam(lr=0.1))
        assert text.startswith("Adam(") and "lr=0.1" in text and "betas=(0.9, 0.999)" in text


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_gradients_are_not_turned_into_numbers(name, bad):
    """A NaN or inf gradient must show up in the point, for numpy and torch versions alike."""
    kwargs = {"lr": 0.1, "momentum": 0.9} if name == "SGD" else {"lr": 0.1}
    opt = getattr(optim, name)(**kwargs)
    x, trajectory = np.ones(3), []
    for t in range(6):
        g = np.full(3, 0.5)
        if t == 2:
            g[1] = bad
        x = opt.step(x, g)
        trajectory.append(x)
    assert not np.isfinite(trajectory[2][1]), f"{name} turned a {bad} gradient into a number"
    assert not np.all(np.isfinite(trajectory[-1])), f"{name} forgot a {bad} gradient"
    # torch.optim itself, and our torch version, behave the same way
    for module in (torch.optim, torch_optim):
        p = torch.ones(3, dtype=torch.float64, requires_grad=True)
        topt = getattr(module, name)([p], **kwargs)
        for t in range(6):
            p.grad = torch.full((3,), 0.5, dtype=torch.float64)
            if t == 2:
                p.grad[1] = bad
            topt.step()
        np.testing.assert_array_equal(np.isfinite(p.detach().numpy()), np.isfinite(trajectory[-1]))


def test_numpy_optimizers_do_not_warn_when_diverging(recwarn):
    """Widgets show diverging runs on purpose: no RuntimeWarning spam from overflow."""
    opt, x = optim.SGD(lr=10.0), np.array([1.0])
    for _ in range(400):  # f = x^2/2: x <- -9 x overflows after about 320 steps
        x = opt.step(x, x)
    assert not np.isfinite(x).all()
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_scratch_buffers_stay_out_of_the_state_dict():
    """The reusable denominator buffers speed steps up but are not optimizer state."""
    p = torch.ones(4, requires_grad=True)
    opt = torch_optim.Adam([p], lr=0.1)
    p.grad = torch.ones(4)
    opt.step()
    assert set(opt.state_dict()["state"][0]) == {"step", "m", "v"}


def test_an_unpickled_optimizer_keeps_stepping():
    """torch pickles an optimizer's state and groups only; the scratch buffers are remade on demand."""
    import pickle

    p = torch.ones(3, requires_grad=True)
    opt = torch_optim.Adam([p], lr=0.1)
    p.grad = torch.ones(3)
    opt.step()
    clone = pickle.loads(pickle.dumps(opt))
    q = clone.param_groups[0]["params"][0]
    q.grad = torch.ones(3)
    clone.step()
    assert clone.state[q]["step"] == 2
