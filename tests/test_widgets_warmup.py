"""The warm-up explorer (chapter 10), driven from Python as a learner moves it: every control redraws, a diverging
seed is named with its step, and nothing raises."""

import numpy as np
import pytest

from lrcourse import schedules
from lrcourse.widgets.warmup import MAIN_SCHEDULES, WARMUPS, composed, warmup_explorer


@pytest.fixture(scope="module")
def explorer():
    return warmup_explorer(steps=60, seeds=(0, 1))


def lr_curve(w):
    return w.fig.axes[0].lines[0].get_ydata()


def test_it_starts_with_a_picture_and_a_final_loss(explorer):
    assert explorer.image.value[:4] == b"\x89PNG"
    assert "final loss" in explorer.status.value


@pytest.mark.parametrize("main", MAIN_SCHEDULES)
@pytest.mark.parametrize("warmup", WARMUPS)
def test_every_composition_draws(explorer, main, warmup):
    with explorer.hold():
        explorer.controls["main"].value = main
        explorer.controls["warmup"].value = warmup
    assert "Could not draw" not in explorer.status.value
    expected = composed(explorer.controls["lr"].value, 60, warmup, explorer.controls["warmup_steps"].value, main,
                        explorer.controls["T_0"].value, explorer.controls["T_mult"].value)
    np.testing.assert_allclose(lr_curve(explorer), [expected(t) for t in range(60)])


def test_the_warmup_length_and_restarts_move_the_curve(explorer):
    w = explorer
    with w.hold():
        w.controls["main"].value, w.controls["warmup"].value = "cosine, warm restarts", "linear"
        w.controls["T_0"].value, w.controls["T_mult"].value, w.controls["warmup_steps"].value = 20, 1, 10
    before = np.array(lr_curve(w))
    w.controls["warmup_steps"].value = 30
    assert lr_curve(w)[15] < before[15]
    w.controls["T_mult"].value = 2
    w.controls["T_0"].value = 10
    assert "Could not draw" not in w.status.value


def test_a_diverging_run_is_named_with_its_step(explorer):
    w = explorer
    with w.hold():
        w.controls["optimizer"].value, w.controls["warmup"].value, w.controls["main"].value = "SGD", "none", "constant"
        w.controls["lr"].value = 10.0
    assert "diverged at step" in w.status.value
    assert w.image.value[:4] == b"\x89PNG"
    w.controls["lr"].value = 0.1
    assert "diverged" not in w.status.value


def test_a_warmup_as_long_as_the_run_is_said_not_raised(explorer):
    w = explorer
    w.controls["warmup"].value = "linear"
    w.controls["warmup_steps"].value = 60
    assert "warm-up must be shorter" in w.status.value
    w.controls["warmup_steps"].value = 20
    assert "final loss" in w.status.value


def test_runs_are_kept(explorer):
    w = explorer
    w.controls["lr"].value = 0.05
    first = w.status.value
    w.controls["lr"].value = 0.1
    w.controls["lr"].value = 0.05
    assert w.status.value == first


def test_the_linear_warmup_is_the_librarys():
    f = composed(0.2, 100, "linear", 10, "constant", start_factor=0.01)
    g = schedules.warmup(schedules.constant(0.2), 10, start_factor=0.01)
    assert [f(t) for t in range(100)] == [g(t) for t in range(100)]


@pytest.mark.parametrize("mode", ["triangular", "triangular2"])
def test_a_cycle_starts_at_its_base_without_warmup_and_at_its_peak_after_one(mode):
    bare = composed(0.3, 200, "none", 20, mode, T_0=50)
    assert bare(0) == pytest.approx(0.03) and bare(25) == pytest.approx(0.3)           # as CyclicLR: base first
    assert [bare(t) for t in range(200)] == [schedules.cyclic(0.03, 0.3, 25, mode=mode)(t) for t in range(200)]
    warmed = composed(0.3, 200, "linear", 20, mode, T_0=50)
    assert warmed(20) == pytest.approx(0.3) and warmed(45) == pytest.approx(0.03)      # the warm-up leads to the peak


def test_the_title_says_where_a_cycle_starts(explorer):
    w = explorer
    with w.hold():
        w.controls["main"].value, w.controls["warmup"].value = "triangular", "none"
    assert "from its base" in w.fig.axes[0].get_title()
    w.controls["warmup"].value = "linear"
    assert "from its peak" in w.fig.axes[0].get_title()


def test_the_loss_axis_shows_small_minibatch_losses(explorer):
    assert explorer.fig.axes[1].get_ylim()[0] <= 1e-5


def test_training_leaves_torch_threads_as_they_were_and_says_training(explorer, monkeypatch):
    import torch

    from lrcourse.widgets import warmup

    before = torch.get_num_threads()
    seen = []
    real = warmup.train_curves

    def spy(*args, **kwargs):
        seen.append(explorer.status.value)
        return real(*args, **kwargs)

    monkeypatch.setattr(warmup, "train_curves", spy)
    explorer.controls["lr"].value = 0.0237      # a setting not trained yet
    assert seen and "training..." in seen[-1]
    assert torch.get_num_threads() == before
    assert "final loss" in explorer.status.value
