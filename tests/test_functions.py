"""The test surfaces: gradients against finite differences, minima, closed forms of GD."""

import numpy as np
import pytest

from lrcourse import functions as F
from lrcourse.optim import SGD

SURFACES = [
    F.Quadratic((1.0, 10.0), angle=0.4, center=(0.5, -1.0)),
    F.Quadratic.with_condition(50.0, L=4.0, dim=5, seed=3),
    F.Quadratic((2.0,)),
    F.Rosenbrock(),
    F.Rosenbrock(a=2.0, b=10.0),
    F.Beale(),
    F.Saddle(),
    F.Himmelblau(),
    F.TwoBasin(),
    *[make() for make in F.SURFACES.values()],
]


def finite_difference_grad(f, x, h=1e-6):
    grad = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        grad[i] = (f(x + e) - f(x - e)) / (2 * h)
    return grad


@pytest.mark.parametrize("f", SURFACES, ids=repr)
def test_gradient_matches_finite_differences(f):
    rng = np.random.default_rng(0)
    low, high = np.array(f.bounds).T
    for _ in range(20):
        x = rng.uniform(low, high)
        np.testing.assert_allclose(f.grad(x), finite_difference_grad(f, x), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("f", SURFACES, ids=repr)
def test_minima_are_stationary_and_lowest(f):
    for x_star in f.minima:
        np.testing.assert_allclose(f.grad(x_star), 0.0, atol=1e-9)
        assert f(x_star) == pytest.approx(f.min_value, abs=1e-12)
    low, high = np.array(f.bounds).T
    samples = np.random.default_rng(1).uniform(low, high, size=(5000, f.dim)).T
    assert np.min(f(samples)) >= f.min_value - 1e-12, "a sampled point is below the known minimum"


@pytest.mark.parametrize("f", SURFACES, ids=repr)
def test_grid_evaluation_equals_point_evaluation(f):
    """f(x) and f.grad(x) accept (dim, ...) arrays, so widgets can contour a grid at once."""
    low, high = np.array(f.bounds).T
    grid = np.random.default_rng(2).uniform(low, high, size=(4, 3, f.dim)).transpose(2, 0, 1)
    values, grads = f(grid), f.grad(grid)
    assert values.shape == (4, 3) and grads.shape == (f.dim, 4, 3)
    for i in range(4):
        for j in range(3):
            assert values[i, j] == pytest.approx(f(grid[:, i, j]), rel=1e-12)
            np.testing.assert_allclose(grads[:, i, j], f.grad(grid[:, i, j]), rtol=1e-12)


def test_a_point_of_the_wrong_dimension_is_a_clear_error():
    with pytest.raises(ValueError, match=r"takes points of shape \(2, ...\)"):
        F.Rosenbrock()(np.zeros(3))


def test_known_minima_values():
    assert F.Rosenbrock().min_value == 0.0
    assert F.Beale().min_value == pytest.approx(0.0, abs=1e-30)
    assert F.Saddle().min_value == -0.25
    np.testing.assert_allclose(F.Himmelblau()(F.Himmelblau().minima.T), 0.0, atol=1e-20)


class TestQuadraticClosedForms:
    @pytest.mark.parametrize("L", [0.5, 2.0, 10.0])
    @pytest.mark.parametrize("lr_over_limit", [0.2, 0.5, 0.8, 0.99, 1.01, 1.3])
    def test_gd_iterates_follow_the_closed_form_1d(self, L, lr_over_limit):
        """x_t = (1 - lr L)^t x_0 on f(x) = L/2 x^2, in every regime."""
        f, lr, x = F.Quadratic((L,)), lr_over_limit * 2 / L, np.array([1.5])
        opt = SGD(lr=lr)
        for t in range(1, 101):
            x = opt.step(x, f.grad(x))
            assert x[0] == pytest.approx((1 - lr * L) ** t * 1.5, rel=1e-10, abs=1e-300)

    def test_gd_iterates_follow_the_closed_form_nd(self):
        """x_t - c = Q diag((1 - lr lambda_i)^t) Q^T (x_0 - c) for a rotated quadratic."""
        f = F.Quadratic.with_condition(20.0, L=3.0, dim=4, seed=7, center=np.arange(4.0))
        x0 = np.array([1.0, -2.0, 0.5, 3.0])
        lr, x, opt = 0.6, x0.copy(), SGD(lr=0.6)
        for t in range(1, 61):
            x = opt.step(x, f.grad(x))
            expected = f.center + f.Q @ ((1 - lr * f.eigenvalues) ** t * (f.Q.T @ (x0 - f.center)))
            np.testing.assert_allclose(x, expected, rtol=1e-10, atol=1e-14)

    def test_stability_limit_is_two_over_L(self):
        f = F.Quadratic((0.5, 4.0), angle=0.3)
        for factor, converges in [(0.99, True), (1.01, False)]:
            x, opt = f.start.copy(), SGD(lr=factor * f.lr_max)
            for _ in range(3000):
                x = opt.step(x, f.grad(x))
            assert (f(x) < 1e-6) == converges

    def test_best_fixed_lr_and_its_rate(self):
        f = F.Quadratic((1.0, 25.0))
        assert f.lr_best == pytest.approx(2 / 26) and f.rate_best == pytest.approx(24 / 26)
        assert f.rate(f.lr_best) == pytest.approx(f.rate_best)
        # measured: the error norm shrinks by rate_best per step (both modes decay equally fast)
        x, opt = np.array([1.0, 1.0]), SGD(lr=f.lr_best)
        norms = []
        for _ in range(50):
            x = opt.step(x, f.grad(x))
            norms.append(np.linalg.norm(x))
        assert norms[-1] / norms[-2] == pytest.approx(f.rate_best, rel=1e-9)
        # and no other fixed lr does better
        lrs = np.linspace(0.001, f.lr_max, 2001)
        assert min(f.rate(lr) for lr in lrs) >= f.rate_best - 1e-12

    def test_with_condition_sets_kappa(self):
        f = F.Quadratic.with_condition(100.0, L=2.0, dim=3, seed=0)
        assert f.kappa == pytest.approx(100.0) and f.L == pytest.approx(2.0) and f.mu == pytest.approx(0.02)
        np.testing.assert_allclose(f.Q @ f.Q.T, np.eye(3), atol=1e-12)

    def test_rejects_non_positive_eigenvalues(self):
        with pytest.raises(ValueError, match="Expected positive eigenvalues"):
            F.Quadratic((1.0, 0.0))


class TestTwoBasin:
    def run(self, lr, steps=3000):
        f = F.TwoBasin()
        x, opt = f.start.copy(), SGD(lr=lr)
        for _ in range(steps):
            x = opt.step(x, f.grad(x))
        return f, x

    def test_the_sharp_basin_is_the_global_minimum(self):
        f = F.TwoBasin()
        sharp, wide = f.local_minima[:, 0]
        assert f.minima[0, 0] == sharp and f(np.array([sharp])) < f(np.array([wide]))
        assert f.curvatures[0] > 10 * f.curvatures[1]

    def test_small_lr_stays_in_the_sharp_basin(self):
        f, x = self.run(lr=0.5 * 2 / F.TwoBasin().curvatures[0])
        assert x[0] == pytest.approx(f.local_minima[0, 0], abs=1e-9)

    def test_lr_above_the_sharp_limit_lands_in_the_wide_basin(self):
        f, x = self.run(lr=1.0)
        assert 1.0 > 2 / f.curvatures[0]
        assert x[0] == pytest.approx(f.local_minima[1, 0], abs=1e-9)


class TestNoisy:
    def test_reproducible_and_resettable(self):
        f = F.Noisy(F.Rosenbrock(), sigma=0.5, seed=4)
        x = np.array([0.3, 0.2])
        first = [f.grad(x) for _ in range(3)]
        f.reset()
        np.testing.assert_array_equal([f.grad(x) for _ in range(3)], first)
        np.testing.assert_array_equal(F.Noisy(F.Rosenbrock(), 0.5, seed=4).grad(x), first[0])

    def test_noise_is_unbiased_with_the_given_sigma_and_values_are_exact(self):
        base = F.Quadratic((1.0, 3.0))
        f, x = F.Noisy(base, sigma=0.2, seed=0), np.array([0.4, -0.7])
        noise = np.array([f.grad(x) - base.grad(x) for _ in range(20000)])
        np.testing.assert_allclose(noise.mean(axis=0), 0.0, atol=0.01)
        np.testing.assert_allclose(noise.std(axis=0), 0.2, rtol=0.02)
        assert f(x) == base(x) and f.minima is base.minima
