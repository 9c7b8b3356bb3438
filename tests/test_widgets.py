"""The widgets, driven from Python: set controls, assert on the lines and titles drawn."""

import warnings

import numpy as np
import pytest

from lrcourse import functions as F
from lrcourse import widgets as W
from lrcourse.runs import describe, regime_1d, run
from lrcourse.optim import SGD


@pytest.fixture(scope="module")
def problem():
    return F.LeastSquares.diabetes(drop=("s1",))


def line_data(line):
    x, y = line.get_data()
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


class TestRegimes:
    @pytest.mark.parametrize("q, regime", [(0.0, "no step"), (0.3, "monotone"), (1.0, "one step"),
                                           (1.5, "oscillating"), (2.0, "edge"), (2.4, "divergent")])
    def test_regime_1d(self, q, regime):
        assert regime_1d(4.0, q / 4.0) == regime

    @pytest.mark.parametrize("q, regime", [(0.5, "monotone"), (1.0, "one step"), (1.5, "oscillating")])
    def test_regimes_are_what_gd_does(self, q, regime):
        """The names agree with the closed form x_t = (1 - lr L)^t x_0 of a real run."""
        f = F.Quadratic((2.0,))
        xs = run(f, [1.0], SGD(lr=q / 2.0), 20).xs[:, 0]
        if regime == "monotone":
            assert np.all(xs > 0) and np.all(np.diff(xs) < 0)
        elif regime == "one step":
            assert xs[1] == 0.0
        else:
            assert np.all(np.sign(xs[1:]) != np.sign(xs[:-1])) and abs(xs[-1]) < abs(xs[0])


class TestRun:
    def test_divergence_stops_the_run_with_finite_numbers(self):
        f = F.Quadratic((1.0, 10.0))
        result = run(f, [1.0, 1.0], SGD(lr=1.0), 500)
        assert result.diverged and 1 < result.diverged_at < 500
        assert np.all(np.isfinite(result.xs)) and np.all(np.isfinite(result.gaps))
        assert describe(result).startswith(f"diverged at step {result.diverged_at}")

    def test_overflow_to_nan_is_caught(self, recwarn):
        result = run(F.Rosenbrock(), [-1.5, 2.0], SGD(lr=10.0), 100)
        assert result.diverged and np.all(np.isfinite(result.xs))
        assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]

    @pytest.mark.parametrize("lr, words", [(0.1, "converged monotonically"), (0.19, "converged with oscillations"),
                                           (0.2, "oscillating without settling"), (0.201, "growing")])
    def test_describe_names_the_behaviour(self, lr, words):
        result = run(F.Quadratic((10.0,)), [1.0], SGD(lr=lr), 300 if lr < 0.2 else 30)
        assert describe(result).startswith(words)


class TestFirstStep:
    def test_slider_moves_the_landing_point(self):
        w = W.first_step(L=1.0, x0=2.0)
        w.controls["lr"].value = 0.5
        assert "went down" in w.status.value
        x, _ = line_data(w.dynamic[0])
        assert x[0] == pytest.approx(1.0)
        w.controls["lr"].value = 2.4
        assert "went UP" in w.status.value
        assert line_data(w.dynamic[0])[0][0] == pytest.approx(2.0 - 2.4 * 2.0)


class TestLrExplorer1D:
    @pytest.mark.parametrize("q, regime", [(0.5, "monotone"), (1.0, "one step"), (1.5, "oscillating"),
                                           (2.0, "edge"), (2.5, "divergent")])
    def test_title_names_the_regime(self, q, regime):
        w = W.lr_explorer_1d()
        w.controls["lr"].value = q / 10.0  # default surface: L = 10
        title = w.fig.axes[0].get_title()
        assert title.startswith(f"lr L = {q:.2f}: {regime}")
        assert regime in w.status.value

    def test_iterates_lie_on_the_curve_and_follow_the_closed_form(self):
        w = W.lr_explorer_1d(steps=12)
        w.controls["lr"].value = 0.06
        x, y = line_data(w.dynamic[0])
        np.testing.assert_allclose(x, (1 - 0.6) ** np.arange(13), rtol=1e-12)
        np.testing.assert_allclose(y, 5.0 * x ** 2, rtol=1e-12)
        steps, gaps = line_data(w.dynamic[2])
        np.testing.assert_allclose(gaps, 5.0 * x ** 2, rtol=1e-12)
        assert w.fig.axes[1].get_yscale() == "log"

    def test_a_loss_below_the_axis_is_not_drawn_flat_along_it(self):
        """The loss keeps falling past the bottom of the axis (it leaves the picture), and ends where it
        underflows to 0: nothing is clamped to a level it never had."""
        w = W.lr_explorer_1d(steps=200)
        w.controls["lr"].value = 0.09  # lr L = 0.9: the loss falls 100-fold per step, to 0 by step 170
        _, gaps = line_data(w.dynamic[2])
        bottom = w.fig.axes[1].get_ylim()[0]
        assert np.nanmin(gaps) < 1e-3 * bottom  # far below the axis, as computed
        assert np.isnan(gaps[-1])  # underflowed to 0: the curve ends before it
        finite = gaps[np.isfinite(gaps)]
        np.testing.assert_allclose(finite[1:-5] / finite[:-6], 0.01, rtol=1e-6)  # a straight line to the end

    def test_any_lr_gives_a_picture_and_names_divergence(self, recwarn):
        w = W.lr_explorer_1d()
        for lr in (0.25, 5.0, 1e3, 1e12):
            w.controls["lr"].max = max(w.controls["lr"].max, lr)
            w.controls["lr"].value = lr
            assert "diverged at step" in w.fig.axes[0].get_title()
            assert "diverged at step" in w.status.value
            x, y = line_data(w.dynamic[0])
            assert len(x) >= 1 and np.all(np.isfinite(x)) and np.all(np.isfinite(y))
            assert w.image.value[:8] == b"\x89PNG\r\n\x1a\n"
        assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]

    def test_zero_lr_is_named(self):
        w = W.lr_explorer_1d()
        w.controls["lr"].value = 0.0
        assert "no step" in w.fig.axes[0].get_title()

    def test_two_basin_lr_picks_the_basin(self):
        f = F.TwoBasin()
        w = W.lr_explorer_1d(f, steps=200)
        w.controls["lr"].value = 0.04
        sharp, wide = f.local_minima[:, 0]
        assert line_data(w.dynamic[0])[0][-1] == pytest.approx(sharp, abs=1e-6)
        w.controls["lr"].value = 1.0
        assert line_data(w.dynamic[0])[0][-1] == pytest.approx(wide, abs=1e-6)
        assert "converged" in w.status.value

    def test_steps_slider_changes_the_run_length(self):
        w = W.lr_explorer_1d()
        w.controls["steps"].value = 7
        assert len(line_data(w.dynamic[0])[0]) == 8
        assert w.fig.axes[1].get_xlim()[1] == pytest.approx(7.5)

    def test_rejects_a_2d_surface(self):
        with pytest.raises(ValueError, match="needs a 1-D surface"):
            W.lr_explorer_1d(F.Rosenbrock())


class TestContourExplorer:
    def test_path_starts_at_the_start_sliders(self):
        w = W.contour_explorer()
        with w.hold():
            w.controls["x0"].value, w.controls["y0"].value = -1.0, 0.5
        x, y = line_data(w.dynamic[0])
        assert (x[0], y[0]) == (-1.0, 0.5)
        assert len(x) == w.controls["steps"].value + 1

    def test_path_is_gradient_descent(self):
        w = W.contour_explorer()
        f = F.SURFACES["quadratic"]()
        w.controls["lr"].value = 0.1
        x, y = line_data(w.dynamic[0])
        p = np.array([w.controls["x0"].value, w.controls["y0"].value])
        np.testing.assert_allclose([x[1], y[1]], p - 0.1 * f.grad(p), rtol=1e-12)

    @pytest.mark.parametrize("surface", list(F.SURFACES))
    def test_every_surface_at_every_lr_draws_and_never_raises(self, surface, recwarn):
        w = W.contour_explorer()
        w.controls["surface"].value = surface
        assert w.fig.axes[0].get_title().startswith(F.SURFACES[surface]().name)
        for lr in (1e-5, 1e-3, 0.1, 10.0):
            w.controls["lr"].value = lr
            assert "Could not draw" not in w.status.value
            x, y = line_data(w.dynamic[0])
            assert np.all(np.isfinite(x)) and np.all(np.isfinite(y)) and len(x) >= 1
        assert "diverged at step" in w.status.value  # lr = 10 diverges everywhere
        assert "diverged at step" in w.fig.axes[1].get_title()
        assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]

    def test_surface_change_resets_start_and_limits(self):
        w = W.contour_explorer()
        w.controls["surface"].value = "Himmelblau"
        assert w.fig.axes[0].get_xlim() == (-5.0, 5.0)
        assert (w.controls["x0"].min, w.controls["x0"].max) == (-5.0, 5.0)
        assert line_data(w.dynamic[0])[0][0] == F.Himmelblau().start[0]

    def test_optimizer_menu_is_open_to_later_chapters(self):
        from lrcourse import optim

        w = W.contour_explorer(optimizers={**W.OPTIMIZERS, "momentum 0.9": lambda lr: optim.SGD(lr, 0.9)})
        w.controls["optimizer"].value = "momentum 0.9"
        assert "momentum 0.9" in w.status.value



def count_full_draws(w):
    """Wrap the explorer's canvas so that every full matplotlib draw (not a blit) is counted."""
    calls = []
    draw = w.canvas.draw
    w.canvas.draw = lambda *args, **kwargs: (calls.append(1), draw(*args, **kwargs))[1]
    return calls


class TestRedrawLayers:
    """A slider move redraws only what it changes: the frame (axes, ticks, a surface's contours) is drawn
    in full only when it changes, and a frame seen recently comes back from its cache unchanged."""

    def test_contour_explorer_draws_the_frame_once_per_surface(self):
        w = W.contour_explorer()
        full = count_full_draws(w)
        for lr in np.geomspace(1e-3, 0.3, 10):
            w.controls["lr"].value = lr
        with w.hold():
            w.controls["x0"].value, w.controls["y0"].value = -1.0, 0.5
        assert full == []
        first = w.image.value
        w.controls["surface"].value = "Beale"
        assert len(full) == 1
        w.controls["surface"].value = "quadratic"
        with w.hold():
            w.controls["x0"].value, w.controls["y0"].value = -1.0, 0.5
            w.controls["lr"].value = np.geomspace(1e-3, 0.3, 10)[-1]
        assert len(full) == 1 and w.image.value == first  # the cached frame: the very same picture

    def test_momentum_explorer_keeps_its_frame_when_kappa_moves(self):
        w = W.momentum_explorer()
        full = count_full_draws(w)
        w.controls["lr"].value = 0.05
        w.controls["beta"].value = 0.8
        w.controls["kappa"].value = 10
        w.set_tuned()
        assert full == []
        assert "kappa = 10" in w.status.value and "(tuned)" in w.status.value

    def test_sgd_and_schedule_explorers_never_redraw_their_frames(self, problem):
        for w, moves in [(W.sgd_explorer(problem), [("lr", 0.1), ("batch_size", 16), ("lr", 0.02)]),
                         (W.schedule_explorer(problem), [("lr", 0.05), ("final", 0.1),
                                                         ("chosen", ("constant", "linear")), ("lr", 0.08)])]:
            full = count_full_draws(w)
            for name, value in moves:
                w.controls[name].value = value
                assert "Could not draw" not in w.status.value
            assert full == []

    def test_the_legend_follows_the_chosen_schedules(self, problem):
        w = W.schedule_explorer(problem)
        w.controls["chosen"].value = ("exponential", "linear")
        (legend,) = w.middle
        assert [text.get_text() for text in legend.get_texts()] == ["exponential", "linear"]


def test_a_drawing_error_is_shown_not_raised():
    def broken(w, lr):
        raise RuntimeError("no data")

    from matplotlib.figure import Figure
    import ipywidgets as widgets

    w = W.Explorer({"lr": widgets.FloatSlider()}, Figure(), broken)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w.controls["lr"].value = 0.5
    assert "Could not draw this: RuntimeError: no data" in w.status.value


def test_picture_renders_everything():
    w = W.lr_explorer_1d()
    png = w.picture()
    assert png[:4] == b"\x89PNG" and len(png) > 10_000


@pytest.mark.parametrize("surface, lrs", [(F.Rosenbrock(), np.geomspace(1e-5, 1e-2, 13)),
                                          (F.TwoBasin(), np.linspace(0.01, 2.5, 11)),
                                          (F.Quadratic((1.0, 10.0), angle=0.3), np.linspace(0.01, 0.3, 9))])
def test_gd_sweep_equals_one_run_per_lr(surface, lrs):
    from lrcourse.runs import gd_sweep

    finals, gaps, diverged_at = gd_sweep(surface, surface.start, lrs, 400)
    for i, lr in enumerate(lrs):
        single = run(surface, surface.start, SGD(lr=lr), 400)
        if single.diverged:
            assert diverged_at[i] == single.diverged_at and np.isinf(gaps[i]) and np.all(np.isnan(finals[i]))
        else:
            assert diverged_at[i] == 0
            np.testing.assert_allclose(finals[i], single.final, rtol=1e-12, atol=1e-15)
            assert gaps[i] == pytest.approx(single.gaps[-1], rel=1e-9, abs=1e-300)
