"""The library behind chapters 06-09: logistic regression on sparse data, sweeps of any optimizer."""

import numpy as np
import pytest
import torch

from lrcourse import functions as F
from lrcourse import optim
from lrcourse.runs import gd_sweep, minibatch_sweep, run, sgd_sweep, sweep, track


@pytest.fixture(scope="module")
def zipf():
    return F.Logistic.zipf()


@pytest.fixture(scope="module")
def digits():
    return F.Logistic.digits()


class TestLogistic:
    @pytest.mark.parametrize("name", ["zipf", "digits"])
    def test_gradient_minimum_and_batches(self, name, request):
        p = request.getfixturevalue(name)
        rng = np.random.default_rng(0)
        w = 0.1 * rng.normal(size=p.dim)
        h = 1e-6
        fd = np.array([(p(w + h * e) - p(w - h * e)) / (2 * h) for e in np.eye(p.dim)])
        np.testing.assert_allclose(p.grad(w), fd, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(p.grad(p.minima[0]), 0, atol=1e-12)   # Newton found the minimum
        W = 0.1 * rng.normal(size=(3, p.dim, 4))
        idx = rng.integers(0, p.n, (3, 7))
        G = p.batch_gradient(W, idx)
        np.testing.assert_allclose(G[2][:, 1], p.minibatch_gradient(W[2][:, 1], idx[2]), rtol=1e-12)
        np.testing.assert_allclose(p.excess(W)[1, 3], p(W[1][:, 3]) - p.min_value, rtol=1e-12)
        assert p.test_loss(W).shape == (3, 4) and np.isclose(p.test_loss(W)[0, 2], p.test_loss(W[0][:, 2]))

    def test_matches_torch(self, zipf):
        idx = np.arange(50)
        w = torch.tensor(np.linspace(-0.5, 0.5, zipf.dim), requires_grad=True)
        X, y = torch.tensor(zipf.X[idx]), torch.tensor(zipf.y[idx])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(X @ w, y) + 0.5 * zipf.l2 * (w @ w)
        loss.backward()
        np.testing.assert_allclose(zipf.minibatch_gradient(w.detach().numpy(), idx), w.grad.numpy(), rtol=1e-10)

    def test_zipf_features_are_rare_in_a_zipf_law(self, zipf):
        f = zipf.frequency[1:]   # column 0 is the intercept
        assert zipf.frequency[0] == 1 and f[0] == pytest.approx(0.5, abs=0.03) and f[-1] < 0.01
        slope = np.polyfit(np.log(np.arange(1, len(f) + 1)), np.log(np.maximum(f, 1e-4)), 1)[0]
        assert slope == pytest.approx(-1.0, abs=0.1)

    def test_digits_border_pixels_are_rare(self, digits):
        assert digits.n + len(digits.y_test) == 1797 and digits.dim == 65
        assert np.sum(digits.frequency[1:] < 0.05) >= 10 and set(np.unique(digits.y)) == {0.0, 1.0}


class TestSweeps:
    def test_gd_sweep_is_a_sweep_of_sgd(self):
        f = F.Rosenbrock()
        lrs = np.geomspace(1e-5, 1e-2, 13)
        a, b = gd_sweep(f, f.start, lrs, 300), sweep(f, f.start, optim.SGD(), lrs, 300)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)

    @pytest.mark.parametrize("make", [lambda: optim.Adagrad(lr_decay=0.01, eps=1e-6),
                                      lambda: optim.Adam(betas=(0.8, 0.99)), lambda: optim.RMSprop(momentum=0.5)])
    def test_sweep_equals_one_run_per_lr(self, make):
        f = F.Quadratic((0.5, 20.0), angle=0.4, start=(1.0, -1.0))
        lrs = np.geomspace(0.001, 3.0, 9)
        opt = make()
        finals, gaps, diverged_at = sweep(f, f.start, opt, lrs, 200)
        assert opt.t == 200 or diverged_at.all()
        for i, lr in enumerate(lrs):
            single = make()
            single.lr = lr
            result = run(f, f.start, single, 200)
            if result.diverged:
                assert diverged_at[i] == result.diverged_at and np.isinf(gaps[i])
            else:
                np.testing.assert_allclose(finals[i], result.final, rtol=1e-12, atol=1e-15)

    def test_sweep_traces_every_step(self):
        f = F.Quadratic((1.0, 10.0))
        finals, gaps, diverged_at, history = sweep(f, f.start, optim.SGD(), [0.05, 0.25], 30, trace=True)
        assert history.shape == (31, 2) and history[-1, 0] == gaps[0]
        np.testing.assert_allclose(history[:, 0], run(f, f.start, optim.SGD(lr=0.05), 30).gaps, rtol=1e-12)
        assert np.isinf(history[diverged_at[1]:, 1]).all() and np.isfinite(history[:diverged_at[1], 1]).all()

    def test_minibatch_sweep_of_sgd_is_sgd_sweep(self):
        p = F.LeastSquares.diabetes(drop=("s1",))
        recorded, gaps = sgd_sweep(p, [0.01, 0.05, 5.0], 4, 300, seed=[3, 4], every=10)
        runs = minibatch_sweep(p, optim.SGD(), [0.01, 0.05, 5.0], 4, 300, seed=[3, 4], every=10)
        np.testing.assert_array_equal(runs.recorded, recorded)
        np.testing.assert_allclose(runs.gaps, gaps, rtol=1e-10)
        assert np.all(np.isinf(runs.gaps[:, 2, -1])) and np.all(np.isnan(runs.weights[:, :, 2]))

    def test_minibatch_sweep_equals_a_plain_loop(self, zipf):
        runs = minibatch_sweep(zipf, optim.Adagrad(), [0.05, 0.5], 8, 120, seed=7, every=40)
        rng = np.random.default_rng(7)
        idx = rng.integers(0, zipf.n, (120, 8))
        for i, lr in enumerate([0.05, 0.5]):
            opt, w = optim.Adagrad(lr=lr), zipf.start.copy()
            for t in range(120):
                w = opt.step(w, zipf.minibatch_gradient(w, idx[t]))
            np.testing.assert_allclose(runs.weights[:, i], w, rtol=1e-10)
            np.testing.assert_allclose(runs.optimizer.s[0][:, i], opt.s, rtol=1e-10)
            assert runs.gaps[i, -1] == pytest.approx(zipf(w) - zipf.min_value, rel=1e-9)


class TestRunKeepsState:
    def test_states_are_the_optimizers_buffers_after_each_step(self):
        f = F.Quadratic((0.1, 2.0), angle=0.3)
        result = run(f, f.start, optim.Adagrad(lr=0.2), 25, keep_state=True)
        assert result.states["s"].shape == (25, 2)
        g0 = f.grad(f.start)
        np.testing.assert_allclose(result.states["s"][0], g0 * g0)
        assert np.all(np.diff(result.states["s"], axis=0) >= 0)   # the accumulator only grows
        assert run(f, f.start, optim.Adagrad(lr=0.2), 5).states is None


class TestAdagradExplorer:
    def test_effective_lrs_follow_the_accumulator_and_rotation_equalizes_them(self):
        from lrcourse import widgets as W

        w = W.adagrad_explorer()
        w.controls["lr"].value = 1.0
        eff = [line.get_data()[1] for line in w.dynamic[2:4]]
        assert eff[1][-1] / eff[0][-1] < 0.05          # aligned axes: about the ratio of the curvatures, 1/100
        assert "effective lrs now" in w.status.value and "Could not draw" not in w.status.value
        w.controls["angle"].value = 45
        eff = [line.get_data()[1] for line in w.dynamic[2:4]]
        assert eff[1][-1] / eff[0][-1] == pytest.approx(1.0, rel=0.05)   # rotated 45 degrees: equal
        w.controls["eps"].value = 1.0
        assert max(line.get_data()[1].max() for line in w.dynamic[2:4]) <= 1.0 + 1e-12   # lr / eps caps it

    def test_aligned_ratio_is_the_curvature_ratio_times_the_travel(self):
        from lrcourse import widgets as W

        w = W.adagrad_explorer()
        for lr in (0.01, 0.3, 3.0):
            w.controls["lr"].value = lr
            eff = [line.get_data()[1] for line in w.dynamic[2:4]]
            x1, x2 = (np.asarray(a) for a in w.dynamic[0].get_data())   # the path, x_0 .. x_steps
            k = len(eff[0])
            travel = np.sqrt(np.sum(x2[:k] ** 2) / np.sum(x1[:k] ** 2))
            ratio = eff[0][-1] / eff[1][-1]
            assert ratio == pytest.approx(100 * travel, rel=1e-3)
            assert f"a ratio of {ratio:.3g} = 100 (curvature 2 over curvature 1) x {travel:.3g}" in w.status.value
        w.controls["lr"].value = 0.3   # the default start (1, 0.5): coordinate 2 travels less, the ratio is well below 100
        assert 30 < w.dynamic[2].get_data()[1][-1] / w.dynamic[3].get_data()[1][-1] < 41

    def test_a_large_eps_or_initial_s_leaves_gradient_descent_with_a_smaller_lr(self):
        from lrcourse import widgets as W

        w = W.adagrad_explorer()
        lr = w.controls["lr"].value
        w.controls["eps"].value = 100.0   # eps far above sqrt(s): both effective lrs nearly lr / eps, all along
        for line in w.dynamic[2:4]:
            eff = line.get_data()[1]
            assert np.all(eff <= lr / 100) and np.all(eff > 0.9 * lr / 100)
        assert "eps or the initial s matter" in w.status.value
        w.controls["eps"].value = 1e-10
        w.controls["s0"].value = 100.0    # the initial s caps the effective lr at lr / sqrt(s0)
        for line in w.dynamic[2:4]:
            eff = line.get_data()[1]
            assert np.all(eff <= lr / 10) and eff[-1] > 0.9 * lr / 10
        w.controls["angle"].value = 45
        assert "axes rotated" in w.status.value and "Could not draw" not in w.status.value

    def test_any_lr_draws_and_a_diverging_run_is_named(self):
        from lrcourse import widgets as W

        w = W.adagrad_explorer()
        for lr in (1e-3, 0.1, 10.0):
            w.controls["lr"].value = lr
            assert "Could not draw" not in w.status.value
        w.controls["s0"].value = 1e-8
        assert w.image.value[:8] == b"\x89PNG\r\n\x1a\n"


class TestMovingMinimum:
    def test_track_follows_the_circle_and_matches_a_plain_loop(self):
        p = F.MovingMinimum(period=100)
        assert p.speed == pytest.approx(2 * np.pi / 100)
        np.testing.assert_allclose(p.minimum(25), [0.0, 1.0], atol=1e-15)
        distance = track(p, optim.SGD(), [0.5, 1.0], 300)
        x = p.minimum(0)
        for t in range(300):
            x = x - 0.5 * p.curvatures * (x - p.minimum(t))
        assert distance[-1, 0] == pytest.approx(np.linalg.norm(x - p.minimum(300)), rel=1e-12)

    def test_rmsprop_keeps_up_and_adagrad_falls_behind(self):
        p = F.MovingMinimum()
        rms = track(p, optim.RMSprop(), [0.03], 6000)[:, 0]
        ada = track(p, optim.Adagrad(), [1.0], 6000)[:, 0]
        assert rms[-200:].mean() < 1.2 * rms[200:400].mean()
        assert ada[-200:].mean() > 2 * ada[200:400].mean()


class TestRmspropExplorer:
    @staticmethod
    def lines(w):
        """The explorer's curves by name: effective lrs (RMSprop, AdaGrad) x (coordinate 1, 2), distances."""
        names = ["path", "ada_path", "rms_1", "rms_2", "ada_1", "ada_2", "out", "ada_out", "out_mean", "ada_out_mean"]
        return dict(zip(names, w.dynamic))

    def test_both_problems_draw_and_adagrad_stalls_on_the_moving_minimum(self):
        from lrcourse import widgets as W

        w = W.rmsprop_explorer()
        assert "last turn: RMSprop" in w.status.value
        lines = self.lines(w)
        rms_eff, ada_eff = lines["rms_1"].get_data()[1], lines["ada_1"].get_data()[1]
        assert rms_eff[-1] > 10 * ada_eff[-1]
        w.controls["problem"].value = "quadratic, kappa 100"
        assert "final loss gap" in w.status.value and "Could not draw" not in w.status.value
        w.controls["centered"].value = True
        w.controls["lr"].value = 3.0
        assert "Could not draw" not in w.status.value

    @pytest.mark.parametrize("make, lr", [(lambda: optim.RMSprop(alpha=0.9), 0.03),
                                          (lambda: optim.RMSprop(alpha=0.99, centered=True), 0.02),
                                          (lambda: optim.Adagrad(), 1.0)])
    def test_the_fast_chase_is_the_library_optimizer(self, make, lr):
        from lrcourse.widgets.adaptive import _chase

        p = F.MovingMinimum()
        opt = make()
        opt.lr = lr
        xs, distance, states = _chase(p, opt, 3000)
        np.testing.assert_allclose(distance, track(p, make(), [lr], 3000)[:, 0], rtol=1e-12, atol=1e-15)
        reference, x = make(), p.minimum(0)
        reference.lr = lr
        for t in range(3000):
            x = reference.step(x, p.grad(x, t))
        np.testing.assert_allclose(xs[-1], x, rtol=1e-12)
        for name, buffer in states.items():
            assert buffer.shape == (3000, 2)
            np.testing.assert_allclose(buffer[-1], getattr(reference, name), rtol=1e-12)
        assert set(states) == ({"s"} if isinstance(reference, optim.Adagrad)
                               else {"v", "m"} if reference.centered else {"v"})

    def test_adagrad_has_its_own_lr_and_the_run_is_20000_steps_long(self):
        from lrcourse import widgets as W

        w = W.rmsprop_explorer()
        lines = self.lines(w)
        rms_before = lines["out"].get_data()[1].copy()
        ada = lines["ada_out"].get_data()[1]
        assert len(ada) == 20000 and lines["ada_out"].get_data()[0][-1] == 20000
        # at the default AdaGrad lr (1) the stall comes within the 20000 steps: far behind at the end
        assert ada[-200:].mean() > 10 * ada[200:400].mean()
        w.controls["ada_lr"].value = 10.0
        np.testing.assert_array_equal(lines["out"].get_data()[1], rms_before)   # RMSprop is untouched
        assert lines["ada_out"].get_data()[1][-200:].mean() < 0.05           # a larger lr postpones the stall
        assert "against AdaGrad with lr = 10" in w.status.value
        # the thick line is the mean over the last turn (200 steps)
        means = lines["out_mean"].get_data()[1]
        assert means[-1] == pytest.approx(rms_before[-200:].mean(), rel=1e-9)

    def test_centered_effective_lr_divides_by_the_standard_deviation(self):
        from lrcourse import widgets as W

        w = W.rmsprop_explorer()
        with w.hold():
            w.controls["problem"].value = "quadratic, kappa 100"
            w.controls["centered"].value = True
            w.controls["lr"].value = 0.1
        q = F.Quadratic((0.01, 1.0), angle=np.pi / 6, start=(1.0, 0.5))
        states = run(q, q.start, optim.RMSprop(lr=0.1, centered=True), 300, keep_state=True).states
        centered = 0.1 / (np.sqrt(states["v"] - states["m"] ** 2) + 1e-8)
        shown = self.lines(w)["rms_1"].get_data()[1]
        np.testing.assert_allclose(shown, centered[:, 0], rtol=1e-12)
        assert not np.allclose(shown, 0.1 / (np.sqrt(states["v"][:, 0]) + 1e-8), rtol=1e-3)
        assert "sqrt(v - m^2) / sqrt(v) has median" in w.status.value
        # on the moving minimum too: v - m^2, from the chase's own m
        w.controls["problem"].value = "moving minimum"
        from lrcourse.widgets.adaptive import _chase
        _, _, states = _chase(F.MovingMinimum(), optim.RMSprop(lr=0.1, centered=True), 20000)
        with np.errstate(divide="ignore"):
            expected = 0.1 / (np.sqrt(states["v"] - states["m"] ** 2) + 1e-8)
        np.testing.assert_allclose(self.lines(w)["rms_2"].get_data()[1], expected[:, 1], rtol=1e-12)

    def test_a_first_step_that_throws_a_run_out_is_named_and_the_run_drawn_in_full(self):
        from lrcourse import widgets as W

        w = W.rmsprop_explorer()
        with w.hold():   # the expert's crash: RMSprop's first step is lr / sqrt(1 - alpha) = 100 per coordinate
            w.controls["problem"].value = "quadratic, kappa 100"
            w.controls["lr"].value = 10 ** 0.5
            w.controls["alpha"].value = 0.999
        status = w.status.value
        assert "Could not draw" not in status and "diverged" not in status
        assert "RMSprop&#x27;s first step (lr / sqrt(1 - alpha) = 100 per coordinate) threw it 141 away" in status
        assert "it came back" in status
        assert len(self.lines(w)["out"].get_data()[1]) == 301   # all 300 steps, none stopped at a threshold
        with w.hold():   # on the moving minimum, AdaGrad's first step is a full lr per coordinate
            w.controls["problem"].value = "moving minimum"
            w.controls["alpha"].value = 0.99
            w.controls["lr"].value = 0.03
            w.controls["ada_lr"].value = 100.0
        status = w.status.value
        assert "AdaGrad&#x27;s first step (a full lr, 100, per coordinate) threw it 141 away" in status
        assert "RMSprop&#x27;s first step" not in status   # 0.3 per coordinate: not thrown out
        # after the kick AdaGrad's accumulator holds the large gradients met out there: effective lr 1 / curvature
        lines = self.lines(w)
        np.testing.assert_allclose([lines["ada_1"].get_data()[1][400], lines["ada_2"].get_data()[1][400]],
                                   [1.0, 4.0], rtol=0.01)

    def test_every_setting_draws(self):
        from lrcourse import widgets as W

        w = W.rmsprop_explorer()
        for problem in ("moving minimum", "quadratic, kappa 100"):
            for centered in (False, True):
                for alpha in (0.5, 0.999):
                    for lr in (1e-3, 10 ** 0.5):
                        with w.hold():
                            w.controls["problem"].value = problem
                            w.controls["centered"].value = centered
                            w.controls["alpha"].value = alpha
                            w.controls["lr"].value = lr
                            w.controls["ada_lr"].value = 100.0 if lr > 1 else 1e-3
                        assert "Could not draw" not in w.status.value, (problem, centered, alpha, lr)
                        assert w.image.value[:8] == b"\x89PNG\r\n\x1a\n"


class TestRescaled:
    def test_a_rescaled_surface_is_the_same_problem_in_other_units(self):
        f = F.Quadratic((0.1, 1.0), angle=0.5, start=(1.0, 0.5))
        g = F.Rescaled(f, 100.0)
        np.testing.assert_allclose(g(g.start), f(f.start))
        np.testing.assert_allclose(g.grad(g.start), f.grad(f.start) / 100.0)
        assert g.min_value == pytest.approx(0.0) and np.allclose(g.minima, 100 * f.minima)
        # SGD with its lr in its units (lr c^2) follows the same path, 100 times larger
        a = run(f, f.start, optim.SGD(lr=0.5), 100).xs
        b = run(g, g.start, optim.SGD(lr=0.5 * 100.0**2), 100).xs / 100.0
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
        # Adadelta does not, however small its eps: the little it moves is set by eps in absolute units, so in
        # units of c it moves c times less (notebook 08, section 4)
        a = run(f, f.start, optim.Adadelta(eps=1e-20), 100).xs
        b = run(g, g.start, optim.Adadelta(eps=1e-20), 100).xs / 100.0
        assert np.linalg.norm(a[-1] - a[0]) == pytest.approx(100 * np.linalg.norm(b[-1] - b[0]), rel=1e-3)


class TestAdadeltaExplorer:
    # w.dynamic: 0 path, 1 RMSprop's path, 2 step lengths, 3 RMSprop's, 4 the dashed first step, 5-6 losses,
    # 7-9 titles, 10 the step that flew off, 11 the cross where it left, 12-13 the "diverged" notes
    BASE = F.Quadratic((0.1, 1.0), angle=0.5, start=(1.0, 0.5))

    @staticmethod
    def set(w, **values):
        with w.hold():
            for name, value in values.items():
                w.controls[name].value = value
        return {name: control.value for name, control in w.controls.items()}   # as the sliders snapped them

    def exact_first_step(self, lr, rho, eps, scale):
        g = self.BASE.grad(self.BASE.start) / scale                  # the gradient in units of the scale
        return lr * np.linalg.norm(np.sqrt(eps) * np.abs(g) / np.sqrt((1 - rho) * g * g + eps)) / scale

    def test_the_dashed_line_is_the_exact_first_step_with_the_lr(self):
        from lrcourse import widgets as W

        w = W.adadelta_explorer()
        for settings in [dict(eps=1e-6), dict(lr=10.0), dict(lr=0.1, rho=0.5, eps=1e-2),
                         dict(lr=1.0, rho=0.999, eps=1.0), dict(lr=3.0, rho=0.9, eps=1e-4, scale=0.01),
                         dict(lr=1.0, eps=1e-12, scale=100.0)]:
            v = self.set(w, **settings)
            exact = self.exact_first_step(v["lr"], v["rho"], v["eps"], v["scale"])
            assert w.dynamic[2].get_data()[1][0] == pytest.approx(exact, rel=1e-9)   # the measured first step
            assert w.dynamic[4].get_data()[1][0] == pytest.approx(exact, rel=1e-12)  # the dashed line
            assert f"{exact:.2g}" in w.fig.axes[1].get_title() and "nan" not in w.fig.axes[1].get_title()
        # sqrt(eps / (1 - rho)) per coordinate is only its small-eps limit: here (1 - rho) g^2 is 1.4e-3 and 3.2e-5
        self.set(w, lr=1.0, rho=0.9, eps=1e-8, scale=1.0)
        assert w.dynamic[2].get_data()[1][0] == pytest.approx(np.sqrt(2 * 1e-8 / 0.1), rel=0.01)
        self.set(w, eps=1e-2)
        assert w.dynamic[2].get_data()[1][0] < 0.4 * np.sqrt(2 * 1e-2 / 0.1)
        self.set(w, eps=1.0)                           # eps >> g^2: the step is lr g, SGD's
        assert w.dynamic[2].get_data()[1][0] == pytest.approx(np.linalg.norm(self.BASE.grad(self.BASE.start)), rel=0.01)

    def test_a_run_that_diverges_at_step_1_is_drawn_and_named(self):
        from lrcourse import widgets as W

        w = W.adadelta_explorer()
        v = self.set(w, lr=10.0, rho=0.5, eps=1.0, scale=0.01)
        titles = [ax.get_title() for ax in w.fig.axes[:3]]
        assert "diverged at step 1" in titles[1] and "diverged at step 1" in titles[2]
        assert "diverged at step 1" in w.status.value
        assert not any("nan" in t for t in titles) and "nan" not in w.status.value
        assert [note.get_text() for note in w.dynamic[12:14]] == ["Adadelta diverged at step 1"] * 2
        assert np.array(w.dynamic[11].get_data()).ravel().tolist() == [1.0, 0.5]   # the cross: the start
        xs, ys = w.dynamic[10].get_data()        # the step that flew off, dashed, leaves the picture
        assert len(xs) == 2 and max(abs(xs[1]), abs(ys[1])) > 1.3
        length = w.dynamic[2].get_data()[1]      # its length is the first (and only) step drawn
        assert len(length) == 1 and length[0] == pytest.approx(self.exact_first_step(**v), rel=1e-9)
        assert w.image.value[:8] == b"\x89PNG\r\n\x1a\n"
        self.set(w, lr=10.0, rho=0.9, eps=1e-2, scale=0.01)       # a later step: the steps before it are drawn
        assert "diverged at step 2" in w.fig.axes[1].get_title() and len(w.dynamic[0].get_data()[0]) == 2
        self.set(w, lr=1.0, eps=1e-6, scale=1.0)                   # back to a calm run: no trace of the alarm
        assert [note.get_text() for note in w.dynamic[12:14]] == ["", ""] and len(w.dynamic[10].get_data()[0]) == 0
        assert "diverged" not in w.status.value

    def test_points_in_the_status_are_in_the_pictures_units(self):
        import re

        from lrcourse import widgets as W

        w = W.adadelta_explorer()
        for scale in (0.01, 100.0):
            self.set(w, scale=scale)
            f = F.Rescaled(self.BASE, scale)
            final = run(f, f.start, optim.Adadelta(), 300).xs[-1] / scale
            shown = re.search(r"at \(([-\d.e+]+), ([-\d.e+]+)\)", w.status.value)
            if shown:   # 'slow progress ... (at (x1, x2))': the last point, divided by the scale
                np.testing.assert_allclose([float(shown.group(1)), float(shown.group(2))], final, rtol=5e-3)
            assert np.all(np.abs(final) < 1.3) and "Could not draw" not in w.status.value
        assert re.search(r"at \(0\.99\d, 0\.49\d\)", w.status.value)   # scale 100: the start barely left

    def test_the_pictures_the_bullets_describe(self):
        from lrcourse import widgets as W

        w = W.adadelta_explorer()
        path = lambda: np.array(w.dynamic[0].get_data()).T   # noqa: E731
        self.set(w, eps=1e-8)
        reference, moved = path(), np.abs(path() - path()[0]).max()
        self.set(w, eps=1e-12, scale=0.01)        # eps / scale^2 = 1e-8 on top: the same picture
        assert np.abs(path() - reference).max() < 1e-3 * moved
        self.set(w, eps=1e-6, scale=1.0, lr=0.1)  # lr^2 eps = 1e-8 on top: nearly the same picture
        assert np.abs(path() - reference).max() < 0.02 * moved
        self.set(w, lr=1.0, scale=0.01)           # lengths 100 times shorter: torch's eps is too large, it drifts off
        assert "diverging" in w.status.value
        finals = {}
        for rho in (0.5, 0.9, 0.999):
            self.set(w, rho=rho, scale=1.0)
            finals[rho] = w.dynamic[5].get_data()[1][-1]
        assert finals[0.5] < 1e-10 and finals[0.999] < 1e-8 and finals[0.9] > 1e-5   # 0.9 is the slow one here
        for scale in (0.01, 100.0):
            self.set(w, scale=scale)
            assert "Could not draw" not in w.status.value and "first step" in w.status.value
