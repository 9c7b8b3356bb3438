"""Library parts behind chapters 03-05: least squares with minibatches, the noise floor,
SGD sweeps, heavy-ball theory, and their widgets."""

import numpy as np
import pytest
import torch

from lrcourse import functions as F
from lrcourse import optim
from lrcourse import widgets as W
from lrcourse.runs import run, sgd_sweep
from lrcourse.theory import gd_rate, heavy_ball_rate, nesterov_rate, tuned_heavy_ball, tuned_nesterov


@pytest.fixture(scope="module")
def problem():
    return F.LeastSquares.diabetes(drop=("s1",))


class TestLeastSquares:
    def test_diabetes_is_real_standardized_and_better_conditioned_without_s1(self, problem):
        full = F.LeastSquares.diabetes()
        assert problem.n == 442 and problem.dim == 10 and full.dim == 11
        np.testing.assert_allclose(problem.X[:, 1:].mean(axis=0), 0, atol=1e-12)
        assert full.L / full.mu == pytest.approx(470.08, rel=1e-3)
        assert problem.L / problem.mu == pytest.approx(46.65, rel=1e-3)
        with pytest.raises(ValueError, match="Expected feature names"):
            F.LeastSquares.diabetes(drop=("s9",))

    def test_gradients(self, problem):
        rng = np.random.default_rng(0)
        w = rng.normal(size=problem.dim)
        h = 1e-6
        fd = np.array([(problem(w + h * e) - problem(w - h * e)) / (2 * h) for e in np.eye(problem.dim)])
        np.testing.assert_allclose(problem.grad(w), fd, rtol=1e-6, atol=1e-8)
        idx = rng.integers(0, problem.n, 7)
        Xb, yb = problem.X[idx], problem.y[idx]
        np.testing.assert_allclose(problem.minibatch_gradient(w, idx), Xb.T @ (Xb @ w - yb) / 7, rtol=1e-12)
        np.testing.assert_allclose(problem.minibatch_gradient(w, np.arange(problem.n)), problem.grad(w), rtol=1e-10)
        np.testing.assert_allclose(problem.grad(problem.minima[0]), 0, atol=1e-12)
        # batched: columns of W are separate points
        W2 = rng.normal(size=(problem.dim, 3))
        np.testing.assert_allclose(problem.minibatch_gradient(W2, idx)[:, 1], problem.minibatch_gradient(W2[:, 1], idx))

    def test_minibatch_gradient_matches_torch_autograd(self, problem):
        idx = np.array([3, 17, 17, 200])
        w = torch.tensor(np.linspace(-1, 1, problem.dim), requires_grad=True)
        X, y = torch.tensor(problem.X[idx]), torch.tensor(problem.y[idx])
        (0.5 * ((X @ w - y) ** 2).mean()).backward()
        np.testing.assert_allclose(problem.minibatch_gradient(w.detach().numpy(), idx), w.grad.numpy(), rtol=1e-12)

    @pytest.mark.parametrize("lr, batch_size", [(0.02, 1), (0.1, 8)])
    def test_noise_floor_matches_a_long_simulation(self, problem, lr, batch_size):
        """The exact stationary excess loss agrees with the time average of a long SGD run."""
        steps = 40_000
        recorded, gaps = sgd_sweep(problem, [lr], batch_size, steps, seed=3, start=problem.minima[0], every=5)
        measured = gaps[0][recorded > 2_000].mean()
        assert measured == pytest.approx(problem.noise_floor(lr, batch_size), rel=0.08)

    def test_noise_floor_is_proportional_to_lr_over_batch_for_small_lr(self, problem):
        a = problem.noise_floor(1e-4, 1)
        assert problem.noise_floor(2e-4, 1) / a == pytest.approx(2, rel=1e-3)
        assert problem.noise_floor(1e-4, 4) / a == pytest.approx(0.25, rel=1e-3)
        assert a == pytest.approx(problem.noise_floor(1e-4, 1, exact=False), rel=1e-3)
        assert problem.noise_floor(1.0, 1) == np.inf  # beyond stability there is no floor


    def test_stationary_covariance_is_a_fixed_point_and_says_when_there_is_none(self, problem):
        P = problem.stationary_covariance(0.02, 4)
        np.testing.assert_allclose(problem.expected_excess([0.02] * 50, 4, P), problem.noise_floor(0.02, 4), rtol=1e-9)
        assert problem.stationary_covariance(1.0, 1) is None

    @pytest.mark.parametrize("batch_size", [1, 4])
    def test_stability_by_covariance_agrees_with_the_spectral_radius(self, problem, batch_size):
        """SGD settles iff the map P -> E[(I - lr H_b) P (I - lr H_b)] has spectral radius < 1; the library
        decides it from whether the solved P is a covariance. Both agree on a fine grid of lrs."""
        for lr in np.geomspace(0.01, 1.0, 120):
            step, _ = problem._covariance_map(lr, batch_size)
            settles = np.max(np.abs(np.linalg.eigvals(step))) < 1
            assert (problem.stationary_covariance(lr, batch_size) is not None) == settles, lr

    def test_expected_excess_after_a_change_of_lr_matches_many_runs(self, problem):
        """From the floor of lr 0.0037, switched to 0.0018: the exact expected excess against the mean of 200 runs."""
        warm, after = 8000, 600
        lrs = np.concatenate([np.full(warm, 0.0037), np.full(after, 0.0018)])[None]
        recorded, gaps = sgd_sweep(problem, lrs, 4, warm + after, seed=list(range(200)), every=100,
                                   start=problem.minima[0])
        exact = problem.expected_excess([0.0018] * after, 4, problem.stationary_covariance(0.0037, 4))
        measured = gaps[:, 0, recorded >= warm].mean(axis=0)
        np.testing.assert_allclose(measured, exact[::100], rtol=0.1)


class TestSgdSweep:
    def test_equals_a_plain_loop(self, problem):
        lrs = [0.01, 0.05]
        recorded, gaps = sgd_sweep(problem, lrs, 4, 300, seed=9)
        rng = np.random.default_rng(9)
        ws = [problem.start.copy() for _ in lrs]
        for t in range(300):
            idx = rng.integers(0, problem.n, 4)
            ws = [w - lr * problem.minibatch_gradient(w, idx) for w, lr in zip(ws, lrs)]
        for i, w in enumerate(ws):
            assert gaps[i, -1] == pytest.approx(problem(w) - problem.min_value, rel=1e-10)
        assert recorded[-1] == 300 and gaps.shape == (2, 301)

    def test_a_schedule_per_run_and_divergence(self, problem):
        recorded, gaps = sgd_sweep(problem, lambda t: np.array([0.05, 0.05 / (1 + t), 5.0]), 2, 200, every=10)
        assert np.isfinite(gaps[:2]).all() and np.isinf(gaps[2, -1])
        assert gaps[1, -1] != gaps[0, -1]


class TestHeavyBallTheory:
    def test_tuned_values(self):
        lr, beta, rate = tuned_heavy_ball(1.0, 100.0)
        assert rate == pytest.approx(9 / 11) and beta == pytest.approx((9 / 11) ** 2)
        assert lr == pytest.approx(4 / 121)
        assert heavy_ball_rate(lr, beta, [1.0, 30.0, 100.0]) == pytest.approx(rate, rel=1e-6)

    def test_rate_is_what_the_optimizer_does(self):
        f = F.Quadratic((0.1, 2.0), angle=0.4)
        lr, beta = 0.3, 0.6
        result = run(f, [1.0, -0.5], optim.SGD(lr=lr, momentum=beta), 400)
        g = result.gaps
        measured = (g[-1] / g[-101]) ** (1 / 200)
        assert measured == pytest.approx(heavy_ball_rate(lr, beta, f.eigenvalues), rel=1e-3)
        assert gd_rate(0.5, f.eigenvalues) == pytest.approx(f.rate(0.5))

    def test_beta_zero_is_gradient_descent(self):
        assert heavy_ball_rate(0.3, 0.0, [0.5, 2.0]) == pytest.approx(gd_rate(0.3, [0.5, 2.0]))
        assert nesterov_rate(0.3, 0.0, [0.5, 2.0]) == pytest.approx(gd_rate(0.3, [0.5, 2.0]))

    @pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
    def test_momentum_is_stable_up_to_2_1_plus_beta_over_L(self, beta):
        limit = 2 * (1 + beta) / 3.0
        assert heavy_ball_rate(0.999 * limit, beta, [0.1, 3.0]) < 1 < heavy_ball_rate(1.001 * limit, beta, [0.1, 3.0])

    def test_nesterov_rate_is_what_the_optimizer_does(self):
        f = F.Quadratic((0.1, 2.0), angle=0.4)
        lr, beta = 0.3, 0.6
        g = run(f, [1.0, -0.5], optim.SGD(lr=lr, momentum=beta, nesterov=True), 400).gaps
        assert (g[-1] / g[-101]) ** (1 / 200) == pytest.approx(nesterov_rate(lr, beta, f.eigenvalues), rel=1e-3)

    def test_tuned_nesterov_is_the_best_nesterov_and_slower_than_tuned_heavy_ball(self):
        mu, L = 0.01, 1.0
        curvatures = np.linspace(mu, L, 200)
        lr, beta, rate = tuned_nesterov(mu, L)
        assert nesterov_rate(lr, beta, curvatures) == pytest.approx(rate, rel=1e-6)
        grid = [nesterov_rate(a, b, curvatures) for a in np.linspace(0.8, 2.0, 61) for b in np.linspace(0.6, 0.95, 71)]
        assert min(grid) >= rate - 1e-9  # no (lr, beta) on a fine grid does better in the worst case
        assert rate == pytest.approx(1 - 2 / np.sqrt(301)) and tuned_heavy_ball(mu, L)[2] == pytest.approx(9 / 11)
        assert tuned_heavy_ball(mu, L)[2] < rate


class TestNewWidgets:
    def test_sgd_explorer_shows_the_floor_and_its_dependence_on_batch_and_lr(self, problem):
        w = W.sgd_explorer(problem)
        w.controls["batch_size"].value = 16
        w.controls["lr"].value = 0.05
        floor_line = w.dynamic[2]
        assert floor_line.get_ydata()[0] == pytest.approx(problem.noise_floor(0.05, 16))
        assert "predicted" in w.status.value and "measured" in w.status.value
        x, y = w.dynamic[5].get_data()
        assert x[0] == 0.05 and y[0] == pytest.approx(problem.noise_floor(0.05, 16), rel=0.5)
        w.controls["lr"].value = 1.0
        assert "diverged" in w.status.value and "Could not draw" not in w.status.value

    def test_sgd_explorer_says_when_a_run_has_not_settled(self, problem):
        w = W.sgd_explorer(problem)
        w.controls["lr"].value = 0.001           # slow: still far above its floor after 3000 steps
        assert "not settled yet" in w.status.value
        w.controls["lr"].value = 0.05
        assert "not settled" not in w.status.value and "measured" in w.status.value

    def test_momentum_explorer_tuned_button_reaches_the_predicted_rate(self):
        w = W.momentum_explorer()
        w.controls["kappa"].value = 100
        w.set_tuned()
        lr, beta, rate = tuned_heavy_ball(0.01, 1.0)
        assert w.controls["lr"].value == pytest.approx(lr) and w.controls["beta"].value == pytest.approx(beta)
        assert f"predicted rate {rate:.4f}" in w.status.value and "(tuned)" in w.status.value
        # the browser snaps sliders to their steps: the tuned values must survive that
        with w.hold():
            w.controls["lr"].value = 10 ** (round(np.log10(lr) / 0.02) * 0.02)
            w.controls["beta"].value = round(beta, 2)
        assert f"predicted rate {rate:.4f}" in w.status.value and "(tuned)" in w.status.value
        # one notch away the knife edge shows: the rate is worse, and the run uses the slider's value
        w.controls["lr"].value = 10 ** (np.log10(lr) + 0.04)
        assert "(tuned)" not in w.status.value
        assert f"predicted rate {rate:.4f}" not in w.status.value
        w.controls["lr"].value = 4.5
        assert "diverged at step" in w.status.value

    def test_schedule_explorer_runs_each_chosen_schedule(self, problem):
        w = W.schedule_explorer(problem)
        w.controls["chosen"].value = ("constant", "cosine")
        lines = dict(zip(W.SCHEDULES, w.dynamic[: len(W.SCHEDULES)]))  # the lr(t) lines, in menu order
        t, lr = lines["cosine"].get_data()
        assert lr[0] == pytest.approx(0.1) and lr[-1] < 0.002
        assert len(lines["exponential"].get_data()[0]) == 0  # not chosen: not drawn
        assert "constant" in w.status.value and "cosine" in w.status.value
        for lr in (0.05, 0.06, 0.07, 0.08, 0.09):  # slider moves: every chosen schedule is trained again
            w.controls["lr"].value = lr
            assert lines["cosine"].get_data()[1][0] == pytest.approx(lr)

    def test_decay_beats_the_constant_floor(self, problem):
        w = W.schedule_explorer(problem)
        w.controls["chosen"].value = ("constant", "exponential")
        finals = dict(part.rsplit(" ", 1) for part in w.status.value.split(": ", 1)[1].rstrip("</b>").split(", "))
        assert float(finals["exponential"]) < 0.2 * float(finals["constant"])
