"""Hyperparameter checks shared by every optimizer and schedule in the course.

Each check raises ``ValueError`` with the same message ``torch.optim`` uses, so
a learner who moves from ``lrcourse`` to ``torch.optim`` sees the same words.
Where torch has no check (it fails later, or silently), the message follows
torch's "Expected ..., but got ..." style.
"""

import math
import numbers


def nonnegative(value, name):
    """``name`` must be >= 0 (torch: "Invalid <name> value: <value>")."""
    if not value >= 0.0:  # written this way so that NaN is rejected too
        raise ValueError(f"Invalid {name} value: {value}")


def lr(value):
    if not value >= 0.0:
        raise ValueError(f"Invalid learning rate: {value}")


def eps(value):
    if not value >= 0.0:
        raise ValueError(f"Invalid epsilon value: {value}")


def betas(values):
    if len(values) != 2:
        raise ValueError(f"Expected betas to be a pair (beta1, beta2), but got {values}")
    for index, beta in enumerate(values):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {index}: {beta}")


def rho(value):
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"Invalid rho value: {value}")


def nesterov(nesterov, momentum, dampening):
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")


def positive_int(value, name):
    """Step counts (step_size, T_0, total_steps ...) are positive integers."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"Expected positive integer {name}, but got {value}")


def positive(value, name):
    if not (isinstance(value, numbers.Real) and math.isfinite(value) and value > 0):
        raise ValueError(f"Expected positive {name}, but got {value}")


def step(value):
    """A schedule is evaluated at a step count 0, 1, 2, ..."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"Expected non-negative integer step, but got {value}")
