"""Invalid hyperparameters raise ValueError, worded as torch words it."""

import re

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as tls

from lrcourse import optim, schedules, torch_optim

# (optimizer, bad keyword arguments); torch.optim must reject each one too
BAD_OPTIMIZER_ARGS = [
    ("SGD", dict(lr=-0.1)),
    ("SGD", dict(lr=0.1, momentum=-0.5)),
    ("SGD", dict(lr=0.1, weight_decay=-1e-4)),
    ("SGD", dict(lr=0.1, nesterov=True)),                      # nesterov without momentum
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)),
    ("Adagrad", dict(lr=-1.0)),
    ("Adagrad", dict(lr_decay=-0.1)),
    ("Adagrad", dict(weight_decay=-0.1)),
    ("Adagrad", dict(initial_accumulator_value=-0.1)),
    ("Adagrad", dict(eps=-1e-10)),
    ("RMSprop", dict(lr=-0.01)),
    ("RMSprop", dict(eps=-1e-8)),
    ("RMSprop", dict(momentum=-0.9)),
    ("RMSprop", dict(weight_decay=-0.1)),
    ("RMSprop", dict(alpha=-0.5)),
    ("Adadelta", dict(lr=-1.0)),
    ("Adadelta", dict(rho=1.5)),
    ("Adadelta", dict(rho=-0.1)),
    ("Adadelta", dict(eps=-1e-6)),
    ("Adadelta", dict(weight_decay=-0.1)),
    ("NAdam", dict(momentum_decay=-0.1)),
    *[(name, kw) for name in ("Adam", "AdamW", "Adamax", "NAdam", "RAdam") for kw in (
        dict(lr=-1e-3),
        dict(eps=-1e-8),
        dict(betas=(1.0, 0.999)),
        dict(betas=(-0.1, 0.999)),
        dict(betas=(0.9, 1.0)),
        dict(betas=(0.9, 1.5)),
        dict(weight_decay=-0.1),
    )],
]


def torch_message(name, kwargs):
    with pytest.raises(ValueError) as error:
        getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)], **kwargs)
    return str(error.value)


@pytest.mark.parametrize("name, kwargs", BAD_OPTIMIZER_ARGS, ids=lambda v: str(v))
def test_numpy_optimizer_rejects_with_torchs_message(name, kwargs):
    with pytest.raises(ValueError) as error:
        getattr(optim, name)(**kwargs)
    assert str(error.value) == torch_message(name, kwargs)


@pytest.mark.parametrize("name, kwargs", BAD_OPTIMIZER_ARGS, ids=lambda v: str(v))
def test_torch_optimizer_rejects_with_torchs_message(name, kwargs):
    with pytest.raises(ValueError) as error:
        getattr(torch_optim, name)([torch.zeros(1, requires_grad=True)], **kwargs)
    assert str(error.value) == torch_message(name, kwargs)


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "Adamax", "NAdam", "RAdam"])
def test_nan_hyperparameters_are_rejected(name):
    """torch lets lr=NaN through (NaN < 0 is False); a NaN lr is still never valid."""
    with pytest.raises(ValueError, match="Invalid learning rate: nan"):
        getattr(optim, name)(lr=float("nan"))


def p():
    return [torch.zeros(1, requires_grad=True)]


def sgd():
    return torch.optim.SGD(p(), lr=0.1, momentum=0.9)


# (our call, torch's call) where torch has a check of its own: the messages must agree
BAD_SCHEDULES_WITH_TORCH_TWIN = [
    (lambda: schedules.linear(0.1, start_factor=0.0), lambda: tls.LinearLR(sgd(), start_factor=0.0)),
    (lambda: schedules.linear(0.1, start_factor=1.5), lambda: tls.LinearLR(sgd(), start_factor=1.5)),
    (lambda: schedules.linear(0.1, end_factor=1.5), lambda: tls.LinearLR(sgd(), end_factor=1.5)),
    # a warm-up is torch's LinearLR in front of the schedule: it refuses what LinearLR refuses
    (lambda: schedules.warmup(schedules.constant(0.1), 5, start_factor=0.0), lambda: tls.LinearLR(sgd(), 0.0)),
    (lambda: schedules.warmup(schedules.constant(0.1), 5, start_factor=2.0), lambda: tls.LinearLR(sgd(), 2.0)),
    (lambda: schedules.cosine_warm_restarts(0.1, T_0=0), lambda: tls.CosineAnnealingWarmRestarts(sgd(), T_0=0)),
    (lambda: schedules.cosine_warm_restarts(0.1, T_0=2.5), lambda: tls.CosineAnnealingWarmRestarts(sgd(), T_0=2.5)),
    (lambda: schedules.cosine_warm_restarts(0.1, T_0=5, T_mult=0),
     lambda: tls.CosineAnnealingWarmRestarts(sgd(), T_0=5, T_mult=0)),
    (lambda: schedules.one_cycle(0.1, total_steps=0), lambda: tls.OneCycleLR(sgd(), 0.1, total_steps=0)),
    (lambda: schedules.one_cycle(0.1, 100, pct_start=1.5), lambda: tls.OneCycleLR(sgd(), 0.1, 100, pct_start=1.5)),
    (lambda: schedules.one_cycle(0.1, 100, anneal_strategy="cosine"),
     lambda: tls.OneCycleLR(sgd(), 0.1, 100, anneal_strategy="cosine")),
    (lambda: schedules.cyclic(0.01, 0.1, mode="sawtooth"), lambda: tls.CyclicLR(sgd(), 0.01, 0.1, mode="sawtooth")),
    (lambda: schedules.ReduceLROnPlateau(0.1, factor=1.0), lambda: tls.ReduceLROnPlateau(sgd(), factor=1.0)),
    (lambda: schedules.ReduceLROnPlateau(0.1, mode="lowest"), lambda: tls.ReduceLROnPlateau(sgd(), mode="lowest")),
    (lambda: schedules.ReduceLROnPlateau(0.1, threshold_mode="pct"),
     lambda: tls.ReduceLROnPlateau(sgd(), threshold_mode="pct")),
]


@pytest.mark.parametrize("ours, theirs", BAD_SCHEDULES_WITH_TORCH_TWIN)
def test_schedule_rejects_with_torchs_message(ours, theirs):
    with pytest.raises(ValueError) as expected:
        theirs()
    with pytest.raises(ValueError, match=re.escape(str(expected.value))):
        ours()


# where torch has no check (it divides by zero later, or goes silently wrong), ours says what is wrong
BAD_SCHEDULES = [
    (lambda: schedules.constant(-0.1), "Invalid learning rate: -0.1"),
    (lambda: schedules.time_based(0.1, decay=-1), "Invalid decay value: -1"),
    (lambda: schedules.step_decay(0.1, step_size=0), "Expected positive integer step_size, but got 0"),
    (lambda: schedules.step_decay(0.1, step_size=-3), "Expected positive integer step_size, but got -3"),
    (lambda: schedules.step_decay(0.1, step_size=2.5), "Expected positive integer step_size, but got 2.5"),
    (lambda: schedules.multi_step(0.1, [10, 0]), "Expected positive integer milestone, but got 0"),
    (lambda: schedules.exponential(0.1, gamma=0.0), "Expected positive gamma, but got 0.0"),
    (lambda: schedules.polynomial(0.1, total_iters=0), "Expected positive integer total_iters, but got 0"),
    (lambda: schedules.cosine(0.1, T_max=0), "Expected positive integer T_max, but got 0"),
    (lambda: schedules.cosine(0.1, T_max=-5), "Expected positive integer T_max, but got -5"),
    (lambda: schedules.linear(0.1, total_iters=0), "Expected positive integer total_iters, but got 0"),
    (lambda: schedules.cyclic(0.01, 0.1, step_size_up=0), "Expected positive integer step_size_up, but got 0"),
    (lambda: schedules.cyclic(-0.01, 0.1), "Invalid learning rate: -0.01"),
    (lambda: schedules.warmup(schedules.constant(0.1), 0), "Expected positive integer warmup_steps, but got 0"),
]


@pytest.mark.parametrize("make, message", BAD_SCHEDULES, ids=[m for _, m in BAD_SCHEDULES])
def test_schedule_rejects_bad_input(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_validation_happens_before_any_state_exists():
    with pytest.raises(ValueError):
        optim.Adam(lr=0.1, betas=(0.9, 1.0))
    opt = optim.Adam(lr=0.1)
    assert opt.t == 0 and opt.m is None
    np.testing.assert_array_equal(opt.step(np.zeros(1), np.zeros(1)), [0.0])
