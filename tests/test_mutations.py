"""The parity tests can fail: deliberately wrong Adams are caught by the same harness.

Each mutant is a classic mistake in writing Adam. If the harness of
tests/parity.py ever stopped noticing them, the parity tests would prove
nothing; this file keeps that from happening silently.
"""

import numpy as np
import pytest
import torch

from lrcourse import optim
from parity import RTOL, numpy_trajectory, relative_error, torch_trajectory
from test_optim_parity import CASES, make_case


class EpsInsideSqrt(optim.Adam):
    """sqrt(v_hat + eps) instead of sqrt(v_hat) + eps."""

    def _update(self, x, g):
        beta1, beta2 = self.betas
        self.m = beta1 * self.m + (1 - beta1) * g
        self.v = beta2 * self.v + (1 - beta2) * g * g
        m_hat, v_hat = self.m / (1 - beta1 ** self.t), self.v / (1 - beta2 ** self.t)
        return x - self.lr * m_hat / np.sqrt(v_hat + self.eps)


class EpsBeforeBiasCorrection(optim.Adam):
    """(sqrt(v) + eps) / sqrt(1 - beta2^t): eps gets scaled by the correction."""

    def _update(self, x, g):
        beta1, beta2 = self.betas
        self.m = beta1 * self.m + (1 - beta1) * g
        self.v = beta2 * self.v + (1 - beta2) * g * g
        m_hat = self.m / (1 - beta1 ** self.t)
        return x - self.lr * m_hat / ((np.sqrt(self.v) + self.eps) / np.sqrt(1 - beta2 ** self.t))


class NoBiasCorrection(optim.Adam):
    """m and v used as they are."""

    def _update(self, x, g):
        beta1, beta2 = self.betas
        self.m = beta1 * self.m + (1 - beta1) * g
        self.v = beta2 * self.v + (1 - beta2) * g * g
        return x - self.lr * self.m / (np.sqrt(self.v) + self.eps)


class NoSecondMomentCorrection(optim.Adam):
    """Only m is bias-corrected."""

    def _update(self, x, g):
        beta1, beta2 = self.betas
        self.m = beta1 * self.m + (1 - beta1) * g
        self.v = beta2 * self.v + (1 - beta2) * g * g
        return x - self.lr * self.m / (1 - beta1 ** self.t) / (np.sqrt(self.v) + self.eps)


class CorrectionOffByOne(optim.Adam):
    """Bias correction with t + 1 (a step count started at 1 and incremented before use)."""

    def _update(self, x, g):
        self.t += 1
        try:
            return super()._update(x, g)
        finally:
            self.t -= 1


MUTANTS = [EpsInsideSqrt, EpsBeforeBiasCorrection, NoBiasCorrection, NoSecondMomentCorrection,
           CorrectionOffByOne]

# The Adam cases of the real parity suite that a mutant (which leaves out weight
# decay and AMSGrad) could otherwise pass. At torch's default eps = 1e-8 a
# misplaced eps moves the trajectory by only ~1e-9..1e-8; the suite's random
# eps (up to 1e-3) is what makes it plain, so every "eps" case must catch it.
SUITE_CASES = [case.values for case in CASES
               if case.values[0] == "Adam" and case.values[1] in ("plain", "maximize", "lr_changes", "eps")]


def suite_errors(adam_class):
    errors = {}
    for name, variant, seed in SUITE_CASES:
        kwargs, problem, lrs = make_case(name, variant, seed)
        reference = torch_trajectory(torch.optim.Adam, kwargs, problem, lrs)
        ours = numpy_trajectory(adam_class(**kwargs), problem, lrs)
        errors[variant, seed] = relative_error(ours, reference)
    return errors


def test_the_real_adam_passes_these_cases():
    assert max(suite_errors(optim.Adam).values()) <= RTOL


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.__name__)
def test_parity_suite_catches_wrong_adam(mutant):
    errors = suite_errors(mutant)
    caught = {case for case, error in errors.items() if error > RTOL}
    assert caught, f"{mutant.__name__} passed every parity case"
    eps_cases = {case: error for case, error in errors.items() if case[0] == "eps"}
    assert all(error > 10 * RTOL for error in eps_cases.values()), (
        f"{mutant.__name__} is too close to Adam in the random-eps cases: {eps_cases}")
    if mutant in (NoBiasCorrection, NoSecondMomentCorrection, CorrectionOffByOne):
        # a bias-correction mistake is caught in every case, by far
        assert min(errors.values()) > 1e3 * RTOL
