"""lrcourse.schedule_free against schedulefree 1.4.1 (pinned in requirements.txt), side by side.

Two copies of a small float64 network (Linear(5, 7), ReLU, Linear(7, 3): four
parameter tensors, in one or two param groups), the same random minibatches,
300 steps with hyperparameters drawn at random for each seed; after every
step the parameters, the state and the param groups must agree to 1e-10
relative, in train mode, after eval() and after train() again (switches at
random steps). The reference runs with foreach=False (its per-tensor loop);
one test runs it with foreach=True as well.
"""

import copy
import inspect

import numpy as np
import pytest
import torch

schedulefree = pytest.importorskip("schedulefree")

from lrcourse import schedule_free  # noqa: E402
from parity import log_uniform, one_thread  # noqa: E402,F401  (one_thread: the fixture below uses it)

RTOL = 1e-10
STEPS = 300
SEEDS = [0, 1, 2, 3, 4]
NAMES = ["SGDScheduleFree", "AdamWScheduleFree"]


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test of this module on one thread."""


def shared_options(rng):
    kw = {}
    if rng.random() < 0.6:
        kw["weight_decay"] = log_uniform(rng, 1e-4, 1e-1)
    if rng.random() < 0.6:
        kw["warmup_steps"] = int(rng.integers(1, 120))
    if rng.random() < 0.5:
        kw["r"] = float(rng.uniform(0.0, 2.0))
    if rng.random() < 0.6:
        kw["weight_lr_power"] = float(rng.choice([0.0, 1.0, rng.uniform(0.0, 3.0)]))
    return kw


def sgd_options(rng):
    return dict(shared_options(rng), lr=log_uniform(rng, 5e-3, 0.3), momentum=float(rng.uniform(0.3, 0.98)))


def adamw_options(rng):
    kw = dict(shared_options(rng), lr=log_uniform(rng, 1e-4, 3e-2),
              betas=(float(rng.uniform(0.3, 0.98)), float(rng.uniform(0.9, 0.9999))))
    if rng.random() < 0.6:
        kw["eps"] = log_uniform(rng, 1e-10, 1e-3)
    return kw


OPTIONS = {"SGDScheduleFree": sgd_options, "AdamWScheduleFree": adamw_options}


def max_rel(a, b):
    """max |a - b| / max |b| (0 when both are zero)."""
    scale = b.abs().max().item()
    diff = (a - b).abs().max().item()
    return diff / scale if scale > 0 else diff


class Pair:
    """A network trained by the reference and its copy trained by lrcourse's twin."""

    def __init__(self, name, seed, two_groups, foreach=False):
        self.rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        self.net = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3)).double()
        self.ref_net = copy.deepcopy(self.net)
        kw = OPTIONS[name](self.rng)
        if two_groups:  # the first layer with its own options, the second with the defaults given here
            first = OPTIONS[name](self.rng)
            groups = lambda net: [dict(params=list(net[0].parameters()), **first),  # noqa: E731
                                  dict(params=list(net[2].parameters()))]
        else:
            groups = lambda net: net.parameters()  # noqa: E731
        self.kw = kw
        self.ref = getattr(schedulefree, name)(groups(self.ref_net), foreach=foreach, **kw)
        self.opt = getattr(schedule_free, name)(groups(self.net), foreach=False, **kw)
        self.worst = 0.0

    def batch(self):
        x = torch.from_numpy(self.rng.normal(size=(16, 5)))
        y = torch.from_numpy(self.rng.normal(size=(16, 3)))
        return x, y

    def step(self, late=()):
        """One step of both; the parameters named in ``late`` get no gradient (their state is made later)."""
        x, y = self.batch()
        grads = []
        for net, opt in ((self.net, self.opt), (self.ref_net, self.ref)):
            opt.zero_grad()
            torch.nn.functional.mse_loss(net(x), y).backward()
            for i, p in enumerate(net.parameters()):
                if i in late:
                    p.grad = None
            grads.append([None if p.grad is None else p.grad.clone() for p in net.parameters()])
            opt.step()
        for p, g in zip(self.net.parameters(), grads[0]):  # lrcourse leaves the gradients alone
            assert (p.grad is None and g is None) or torch.equal(p.grad, g)

    def check(self, where, tol=RTOL, skip=()):
        for i, (p, q) in enumerate(zip(self.net.parameters(), self.ref_net.parameters())):
            assert torch.isfinite(q).all(), f"the reference diverged {where}: draw other options"
            rel = max_rel(p, q)
            self.worst = max(self.worst, rel)
            assert rel <= tol, f"parameter {i} {where}: relative difference {rel:.3g} (options {self.kw})"
            state, ref_state = self.opt.state[p], self.ref.state[q]
            assert state.keys() == ref_state.keys(), where
            for key in ref_state:
                rel = max_rel(state[key], ref_state[key])
                self.worst = max(self.worst, rel)
                assert rel <= tol, f"state {key!r} of parameter {i} {where}: {rel:.3g}"
        for group, ref_group in zip(self.opt.param_groups, self.ref.param_groups):
            assert sorted(group) == sorted(ref_group), where
            for key in ref_group:
                if key == "params" or key in skip:
                    continue
                a, b = group[key], ref_group[key]
                if key in ("weight_sum", "lr_max", "scheduled_lr"):
                    assert a == pytest.approx(b, rel=tol, abs=0), f"{key} {where}"
                else:
                    assert a == b, f"{key} {where}"

    def switch(self, t):
        self.opt.eval(), self.ref.eval()
        self.check(f"after eval() at step {t}")
        self.opt.train(), self.ref.train()
        self.check(f"after train() at step {t}")


@pytest.mark.parametrize("two_groups", [False, True], ids=["one group", "two groups"])
@pytest.mark.parametrize("name", NAMES)
def test_same_trajectory_as_schedulefree(name, two_groups):
    worst = 0.0
    for seed in SEEDS:
        pair = Pair(name, seed, two_groups)
        pair.check("before training")
        pair.opt.train(), pair.ref.train()
        late = {3} if seed % 2 else set()  # the last bias joins at step 10 on odd seeds
        for t in range(1, STEPS + 1):
            pair.step(late if t < 10 else ())
            pair.check(f"after step {t} (seed {seed})")
            if pair.rng.random() < 0.2 or t == STEPS:
                pair.switch(t)
        pair.opt.eval(), pair.ref.eval()  # the end of training: evaluate at x
        pair.check(f"in eval mode at the end (seed {seed})")
        worst = max(worst, pair.worst)
    print(f"{name}, two groups={two_groups}: largest relative difference {worst:.3g}")


@pytest.mark.parametrize("name", NAMES)
def test_same_as_the_foreach_reference(name):
    """The reference's foreach path (its default) computes the same numbers as its loop."""
    pair = Pair(name, 7, two_groups=True, foreach=True)
    pair.opt.train(), pair.ref.train()
    for t in range(1, 101):
        pair.step()
        pair.check(f"after step {t}", tol=1e-12, skip=("foreach",))
    print(f"{name} against the foreach reference: largest relative difference {pair.worst:.3g}")


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_moves_between_them(name):
    """A checkpoint of the reference loads into lrcourse's optimizer, and the runs go on together."""
    pair = Pair(name, 11, two_groups=True)
    pair.opt.train(), pair.ref.train()
    for _ in range(20):
        pair.step()
    pair.ref.eval()
    pair.opt.load_state_dict(copy.deepcopy(pair.ref.state_dict()))
    pair.net.load_state_dict(pair.ref_net.state_dict())
    pair.check("after loading the reference's checkpoint")
    pair.opt.train(), pair.ref.train()
    for t in range(50):
        pair.step()
        pair.check(f"{t + 1} steps after loading")


@pytest.mark.parametrize("name", NAMES)
def test_signature_and_defaults_are_the_reference(name):
    ours, ref = getattr(schedule_free, name), getattr(schedulefree, name)
    ours_params = inspect.signature(ours.__init__).parameters
    ref_params = inspect.signature(ref.__init__).parameters
    assert list(ours_params) == list(ref_params)
    for key in ref_params:
        assert ours_params[key].default == ref_params[key].default, key
        assert ours_params[key].kind == ref_params[key].kind, key
    p, q = torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(3))
    assert ours([p]).defaults == ref([q]).defaults
    assert name in schedule_free.__all__


@pytest.mark.parametrize("name", NAMES)
def test_step_in_eval_mode_raises_as_the_reference(name):
    messages = []
    for module in (schedule_free, schedulefree):
        p = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
        opt = getattr(module, name)([p])  # created in eval mode
        p.grad = torch.ones_like(p)
        with pytest.raises(Exception) as info:
            opt.step()
        messages.append((type(info.value), str(info.value)))
        opt.train()
        opt.step()
        opt.eval()
        with pytest.raises(Exception, match="not in train mode"):
            opt.step()
    assert messages[0] == messages[1]


def _error(cls, **kw):
    p = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError) as info:
        cls([p], **kw)
    return str(info.value)


@pytest.mark.parametrize("kw", [dict(lr=-0.1), dict(weight_decay=-1e-3), dict(momentum=0), dict(momentum=1.0),
                                dict(momentum=-0.5), dict(momentum=1.5)])
def test_sgd_refuses_what_the_reference_refuses_in_its_words(kw):
    assert _error(schedule_free.SGDScheduleFree, **kw) == _error(schedulefree.SGDScheduleFree, **kw)


@pytest.mark.parametrize("kw", [dict(lr=float("nan")), dict(momentum=float("nan"))])
def test_sgd_refuses_nan_in_the_reference_words(kw):
    message = _error(schedule_free.SGDScheduleFree, **kw)
    assert message.startswith("Invalid learning rate" if "lr" in kw else "Momentum must be between 0 and 1")


@pytest.mark.parametrize("kw", [dict(lr=-0.1), dict(eps=-1e-8), dict(betas=(1.0, 0.999)), dict(betas=(0.9, -0.1)),
                                dict(betas=(-0.1, 0.999)), dict(weight_decay=-1e-2)])
def test_adamw_refuses_what_torch_refuses_in_its_words(kw):
    """The reference checks nothing here; torch.optim.AdamW's checks and words are used."""
    assert _error(schedule_free.AdamWScheduleFree, **kw) == _error(torch.optim.AdamW, **kw)


def test_schedulefree_is_pinned():
    assert schedulefree.__name__ == "schedulefree"
    from importlib.metadata import version
    assert version("schedulefree") == "1.4.1"
