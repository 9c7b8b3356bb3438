"""Every schedule against its torch.optim.lr_scheduler twin, with random hyperparameters."""

import math
import warnings

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as tls

from lrcourse import schedules
from lrcourse.torch_optim import ScheduleLR

SEEDS = [0, 1, 2, 3]
STEPS = 300


def torch_lrs(make_scheduler, lr, steps=STEPS, optimizer="SGD"):
    """The lr a torch scheduler sets before each of ``steps`` optimizer steps (step 0 first)."""
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr, momentum=0.9) if optimizer == "SGD" else torch.optim.Adam([p], lr=lr)
    scheduler = make_scheduler(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return np.array(lrs)


def our_lrs(schedule, steps=STEPS):
    return np.array([schedule(t) for t in range(steps)])


def assert_same_lrs(ours, reference, what):
    scale = np.max(np.abs(reference))
    np.testing.assert_allclose(ours, reference, rtol=1e-9, atol=1e-12 * scale, err_msg=what)


def cases(rng):
    """(name, our schedule, torch scheduler factory, initial lr) with random hyperparameters."""
    lr = float(10 ** rng.uniform(-3, 0))
    gamma = float(rng.uniform(0.1, 0.99))
    step_size = int(rng.integers(1, 60))
    milestones = sorted(rng.choice(np.arange(1, STEPS), size=int(rng.integers(1, 6)), replace=False).tolist())
    exp_gamma = float(rng.uniform(0.95, 0.999))
    total_iters = int(rng.integers(1, 2 * STEPS))
    power = float(rng.uniform(0.5, 3.0))
    T_max = int(rng.integers(1, 2 * STEPS))
    eta_min = lr * float(rng.uniform(0, 0.5))
    T_0, T_mult = int(rng.integers(1, 40)), int(rng.integers(1, 4))
    start, end = float(rng.uniform(0.01, 1.0)), float(rng.uniform(0.0, 1.0))
    up, down = int(rng.integers(1, 60)), int(rng.integers(1, 60))
    max_lr = lr * float(rng.uniform(1.5, 20))
    decay = float(rng.uniform(0, 0.1))
    pct = float(rng.uniform(0.05, 0.45))
    div, final_div = float(rng.uniform(2, 50)), float(rng.uniform(10, 1e4))
    return [
        ("constant", schedules.constant(lr), lambda o: tls.LambdaLR(o, lambda t: 1.0), lr),
        ("time_based", schedules.time_based(lr, decay),
         lambda o: tls.LambdaLR(o, lambda t: 1 / (1 + decay * t)), lr),
        ("step_decay", schedules.step_decay(lr, step_size, gamma),
         lambda o: tls.StepLR(o, step_size, gamma), lr),
        ("multi_step", schedules.multi_step(lr, milestones, gamma),
         lambda o: tls.MultiStepLR(o, milestones, gamma), lr),
        ("exponential", schedules.exponential(lr, exp_gamma), lambda o: tls.ExponentialLR(o, exp_gamma), lr),
        ("polynomial", schedules.polynomial(lr, total_iters, power),
         lambda o: tls.PolynomialLR(o, total_iters, power), lr),
        ("cosine", schedules.cosine(lr, T_max, eta_min), lambda o: tls.CosineAnnealingLR(o, T_max, eta_min), lr),
        ("cosine_warm_restarts", schedules.cosine_warm_restarts(lr, T_0, T_mult, eta_min),
         lambda o: tls.CosineAnnealingWarmRestarts(o, T_0, T_mult, eta_min), lr),
        ("linear", schedules.linear(lr, start, end, total_iters),
         lambda o: tls.LinearLR(o, start, end, total_iters), lr),
        *[(f"cyclic-{mode}", schedules.cyclic(lr, max_lr, up, down, mode, exp_gamma),
           lambda o, mode=mode: tls.CyclicLR(o, lr, max_lr, up, down, mode, exp_gamma), lr)
          for mode in ("triangular", "triangular2", "exp_range")],
        *[(f"one_cycle-{anneal}-{'three' if three else 'two'}_phase",
           schedules.one_cycle(max_lr, STEPS, pct, anneal, div, final_div, three),
           lambda o, a=anneal, th=three: tls.OneCycleLR(o, max_lr, STEPS, pct_start=pct, anneal_strategy=a,
                                                         div_factor=div, final_div_factor=final_div,
                                                         three_phase=th), lr)
          for anneal in ("cos", "linear") for three in (False, True)],
        ("warmup-cosine", schedules.warmup(schedules.cosine(lr, T_max, eta_min), step_size, start),
         lambda o: tls.SequentialLR(o, [tls.LinearLR(o, start, 1.0, step_size),
                                        tls.CosineAnnealingLR(o, T_max, eta_min)], [step_size]), lr),
        ("warmup-exponential-cosine",
         schedules.warmup(schedules.cosine(lr, T_max, eta_min), step_size, start, mode="exponential"),
         lambda o: tls.SequentialLR(o, [tls.LambdaLR(o, lambda t: start ** (1 - t / step_size)),
                                        tls.CosineAnnealingLR(o, T_max, eta_min)], [step_size]), lr),
        ("sequential-three",
         schedules.sequential([schedules.linear(lr, start, 1.0, step_size),
                               schedules.cosine_warm_restarts(lr, T_0, T_mult, eta_min),
                               schedules.exponential(lr, exp_gamma)], [step_size, step_size + 2 * T_max // 3 + 1]),
         lambda o: tls.SequentialLR(o, [tls.LinearLR(o, start, 1.0, step_size),
                                        tls.CosineAnnealingWarmRestarts(o, T_0, T_mult, eta_min),
                                        tls.ExponentialLR(o, exp_gamma)],
                                    [step_size, step_size + 2 * T_max // 3 + 1]), lr),
        ("warmup-step_decay", schedules.warmup(schedules.step_decay(lr, T_0, gamma), step_size, start),
         lambda o: tls.SequentialLR(o, [tls.LinearLR(o, start, 1.0, step_size), tls.StepLR(o, T_0, gamma)],
                                    [step_size]), lr),
    ]


NAMES = [name for name, *_ in cases(np.random.default_rng(0))]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("index", range(len(NAMES)), ids=NAMES)
def test_schedule_matches_torch(index, seed):
    name, schedule, make_scheduler, lr = cases(np.random.default_rng(seed))[index]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # SequentialLR's own deprecation chatter
        reference = torch_lrs(make_scheduler, lr)
    assert_same_lrs(our_lrs(schedule), reference, f"{name} (seed {seed}): {schedule.__name__}")


def torch_momenta(make_scheduler, lr, steps=STEPS):
    """The momentum a torch scheduler with cycle_momentum sets before each of ``steps`` steps."""
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr, momentum=0.9)
    scheduler = make_scheduler(opt)
    momenta = []
    for _ in range(steps):
        momenta.append(opt.param_groups[0]["momentum"])
        opt.step()
        scheduler.step()
    return np.array(momenta)


@pytest.mark.parametrize("seed", SEEDS)
def test_cycled_momentum_matches_torch(seed):
    rng = np.random.default_rng(seed)
    lr = float(10 ** rng.uniform(-3, 0))
    max_lr = lr * float(rng.uniform(1.5, 20))
    base_m, max_m = float(rng.uniform(0.5, 0.85)), float(rng.uniform(0.86, 0.99))
    up, down, gamma = int(rng.integers(1, 60)), int(rng.integers(1, 60)), float(rng.uniform(0.95, 0.999))
    pct = float(rng.uniform(0.05, 0.45))
    for mode in ("triangular", "triangular2", "exp_range"):
        ours = our_lrs(schedules.cyclic_momentum(base_m, max_m, up, down, mode, gamma))
        theirs = torch_momenta(lambda o: tls.CyclicLR(o, lr, max_lr, up, down, mode, gamma, cycle_momentum=True,
                                                      base_momentum=base_m, max_momentum=max_m), lr)
        assert_same_lrs(ours, theirs, f"cyclic momentum {mode}")
    for anneal in ("cos", "linear"):
        for three in (False, True):
            ours = our_lrs(schedules.one_cycle_momentum(STEPS, pct, anneal, base_m, max_m, three))
            theirs = torch_momenta(lambda o: tls.OneCycleLR(o, max_lr, STEPS, pct_start=pct, anneal_strategy=anneal,
                                                            base_momentum=base_m, max_momentum=max_m,
                                                            three_phase=three), lr)
            assert_same_lrs(ours, theirs, f"one-cycle momentum {anneal} three_phase={three}")


def test_momentum_is_cycled_against_the_lr():
    lr, m = schedules.cyclic(0.1, 1.0, 10), schedules.cyclic_momentum(0.8, 0.9, 10)
    assert (lr(0), m(0)) == (0.1, 0.9) and (lr(10), m(10)) == (1.0, 0.8)
    lr, m = schedules.one_cycle(1.0, 100), schedules.one_cycle_momentum(100)
    peak = max(range(100), key=lr)
    assert min(range(100), key=m) == peak == 29


def test_sequential_refuses_a_wrong_number_of_milestones():
    with pytest.raises(ValueError, match="number of schedulers 2 and the number of milestones to be equal to 2"):
        schedules.sequential([schedules.constant(0.1)] * 2, [3, 5])
    with pytest.raises(ValueError, match="mode must be one of 'linear' or 'exponential'"):
        schedules.warmup(schedules.constant(0.1), 5, mode="cosine")


@pytest.mark.parametrize("seed", SEEDS)
def test_schedule_drives_torch_optimizer_through_the_bridge(seed):
    """ScheduleLR (and schedules.to_torch) set exactly f(step), step after step."""
    for name, schedule, _, lr in cases(np.random.default_rng(seed)):
        assert_same_lrs(torch_lrs(lambda o: schedules.to_torch(o, schedule), lr), our_lrs(schedule), name)


def test_bridge_gives_the_same_training_run_as_torch_scheduler():
    results = []
    for make in (lambda o: tls.CosineAnnealingLR(o, T_max=50, eta_min=1e-3),
                 lambda o: ScheduleLR(o, schedules.cosine(lr=0.1, T_max=50, eta_min=1e-3))):
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 1).double()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        scheduler = make(opt)
        x = torch.randn(64, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
        for _ in range(80):
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
            scheduler.step()
        results.append(torch.cat([p.detach().ravel() for p in model.parameters()]))
    torch.testing.assert_close(results[0], results[1], rtol=1e-12, atol=1e-15)


def test_bridge_takes_one_schedule_per_param_group():
    a, b = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([{"params": [a]}, {"params": [b]}], lr=1.0)
    ScheduleLR(opt, [schedules.constant(0.1), schedules.exponential(0.2, 0.5)])
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.2]
    with pytest.raises(ValueError, match="Expected 2 schedules, but got 3"):
        ScheduleLR(opt, [schedules.constant(0.1)] * 3)


@pytest.mark.parametrize("seed", SEEDS)
def test_reduce_on_plateau_matches_torch(seed):
    rng = np.random.default_rng(seed)
    mode = ["min", "max"][seed % 2]
    kwargs = dict(mode=mode, factor=float(rng.uniform(0.1, 0.9)), patience=int(rng.integers(0, 8)),
                  threshold=float(10 ** rng.uniform(-4, -1)), threshold_mode=["rel", "abs"][seed // 2],
                  cooldown=int(rng.integers(0, 5)), min_lr=1e-4)
    # a noisy metric that improves, then stalls for long stretches
    trend = np.concatenate([np.linspace(1.0, 0.2, 60), np.full(140, 0.2)])
    metrics = (trend if mode == "min" else -trend) + 0.02 * rng.standard_normal(200)
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.5)
    reference = tls.ReduceLROnPlateau(opt, **kwargs)
    ours = schedules.ReduceLROnPlateau(lr=0.5, **kwargs)
    for metric in metrics:
        reference.step(metric)
        assert ours.step(metric) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12)
    assert ours.lr < 0.5, "the metric plateaued: the lr should have been cut at least once"


class TestScheduleProperties:
    def test_f0_is_the_lr_at_construction(self):
        assert schedules.cosine(0.3, T_max=10)(0) == 0.3
        assert schedules.cyclic(0.01, 0.1, step_size_up=5)(0) == 0.01
        assert schedules.one_cycle(0.1, 100)(0) == pytest.approx(0.1 / 25)
        assert schedules.warmup(schedules.constant(0.1), 10)(0) == pytest.approx(0.1 / 3)  # LinearLR's default
        assert schedules.warmup(schedules.constant(0.1), 10, start_factor=0.01)(0) == pytest.approx(0.001)
        assert schedules.warmup(schedules.constant(0.1), 10)(10) == 0.1

    def test_schedules_are_pure(self):
        f = schedules.cosine_warm_restarts(0.1, T_0=3, T_mult=2)
        forward = [f(t) for t in range(50)]
        assert [f(t) for t in reversed(range(50))] == forward[::-1]

    def test_warm_restarts_restart_where_the_cycles_end(self):
        f = schedules.cosine_warm_restarts(1.0, T_0=2, T_mult=3)
        restarts = [t for t in range(1, 60) if f(t) == 1.0]
        assert restarts == [2, 8, 26]  # cycles of 2, 6, 18 steps

    def test_one_cycle_refuses_steps_past_the_end_as_torch_does(self):
        f = schedules.one_cycle(0.1, total_steps=20)
        f(20)
        with pytest.raises(ValueError, match="Tried to step 21 times. The specified number of total steps is 20"):
            f(21)

    @pytest.mark.parametrize("bad", [-1, 1.5, "3", None])
    def test_a_step_must_be_a_non_negative_integer(self, bad):
        with pytest.raises(ValueError, match="Expected non-negative integer step"):
            schedules.constant(0.1)(bad)

    def test_numpy_integer_steps_work(self):
        assert schedules.step_decay(1.0, 2, 0.5)(np.int64(5)) == 0.25

    def test_schedules_have_readable_names(self):
        f = schedules.warmup(schedules.cosine(0.1, T_max=10), 5)
        assert f.__name__ == "warmup(cosine(lr=0.1, T_max=10, eta_min=0.0), warmup_steps=5, start_factor=0.3333333333333333)"

    def test_time_based_decay_is_one_over_t(self):
        f = schedules.time_based(1.0, decay=0.5)
        assert [f(t) for t in (0, 2, 6)] == [1.0, 0.5, 0.25]

    def test_cosine_reaches_eta_min_at_T_max(self):
        assert schedules.cosine(0.1, T_max=7, eta_min=0.01)(7) == pytest.approx(0.01, rel=1e-15)
        assert math.isclose(schedules.cosine(0.1, T_max=7)(14), 0.1)
