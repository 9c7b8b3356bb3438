"""Shared harness: run an optimizer on a random noisy quadratic and compare trajectories.

Every implementation follows its own trajectory: at each step it gets the
gradient at its *own* point plus the same noise draw, so a small difference in
the update rule shows up and grows instead of being reset each step.
"""

import numpy as np
import pytest
import torch

RTOL = 1e-9
STEPS = 300


def log_uniform(rng, low, high):
    """A hyperparameter drawn uniformly on a log scale between ``low`` and ``high``."""
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


@pytest.fixture
def one_thread():
    """torch on one thread for the test (bit-exact comparisons must not depend on how a sum is split), then as before."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class NoisyQuadratic:
    """f(x) = 1/2 (x-c)^T A (x-c), eigenvalues of A in [0.2, 4], Gaussian gradient noise."""

    def __init__(self, seed, dim=6, sigma=0.05, maximize=False, steps=STEPS):
        rng = np.random.default_rng(seed)
        Q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
        self.A = Q @ np.diag(rng.uniform(0.2, 4.0, dim)) @ Q.T
        self.c = rng.standard_normal(dim)
        self.x0 = self.c + rng.standard_normal(dim)
        self.noise = sigma * rng.standard_normal((steps, dim))
        # maximize=True asks an optimizer to climb -f, which is the same as descending f
        self.sign = -1.0 if maximize else 1.0

    def grad(self, x, t):
        return self.sign * (self.A @ (x - self.c) + self.noise[t])


def numpy_trajectory(opt, problem, lrs=None):
    """Run an ``lrcourse.optim`` optimizer; ``lrs[t]`` (if given) is set before step t."""
    x, out = problem.x0.copy(), []
    for t in range(len(problem.noise)):
        if lrs is not None:
            opt.lr = lrs[t]
        x = opt.step(x, problem.grad(x, t))
        out.append(x)
    return np.array(out)


def torch_trajectory(cls, kwargs, problem, lrs=None):
    """Run a ``torch.optim.Optimizer`` class in float64 the same way."""
    p = torch.tensor(problem.x0, dtype=torch.float64, requires_grad=True)
    opt = cls([p], **kwargs)
    out = []
    for t in range(len(problem.noise)):
        if lrs is not None:
            opt.param_groups[0]["lr"] = lrs[t]
        x = p.detach().numpy()
        p.grad = torch.from_numpy(problem.grad(x, t))
        opt.step()
        out.append(p.detach().numpy().copy())
    return np.array(out)


def relative_error(ours, reference):
    """Worst step-wise relative error ||ours_t - ref_t|| / ||ref_t|| over the trajectory."""
    ours, reference = np.asarray(ours), np.asarray(reference)
    diff = np.linalg.norm(ours - reference, axis=-1)
    scale = np.linalg.norm(reference, axis=-1)
    return float(np.max(diff / scale))


def assert_same_trajectory(ours, reference, what=""):
    assert np.all(np.isfinite(reference)), f"{what}: the reference run diverged; pick a smaller lr"
    err = relative_error(ours, reference)
    first = int(np.argmax(np.linalg.norm(ours - reference, axis=-1)
                          > RTOL * np.linalg.norm(reference, axis=-1)))
    assert err <= RTOL, f"{what}: relative error {err:.3g} > {RTOL} (first at step {first + 1})"
