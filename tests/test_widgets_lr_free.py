"""Chapter 14's explorer: every control changes the picture or the status, divergence is named, no combination
raises, and the step-size panel shows what each method chose."""

import itertools
import math

import numpy as np
import pytest

from lrcourse.widgets.lr_free import GROWTH_RATES, METHODS, lr_free_explorer


@pytest.fixture(scope="module")
def w():
    return lr_free_explorer(steps=100)


def changed(w, name, value, method=None):
    if method is not None:
        w.controls["method"].value = method
    before = (w.status.value, w.image.value)
    w.controls[name].value = value
    return w.status.value != before[0] and w.image.value != before[1]


def test_the_first_picture_is_prodigy_with_its_estimate(w):
    assert w.status.value.startswith("<b>Prodigy (d0 1e-06") and "final d" in w.status.value
    assert len(w.image.value) > 1000 and "Could not" not in w.status.value


@pytest.mark.parametrize("name, value, method", [
    ("method", "D-Adapt Adam", None), ("d0", 1e-3, "D-Adapt Adam"), ("growth_rate", 1.02, "Prodigy"),
    ("d_coef", 0.3, "Prodigy"), ("lr", 0.3, "SGD schedule-free"), ("warmup", 30, "AdamW schedule-free"),
    ("seed", 3, "Prodigy"), ("steps", 150, "D-Adapt SGD")])
def test_every_control_changes_the_status_and_the_picture(w, name, value, method):
    assert changed(w, name, value, method), (name, w.status.value)
    assert "Could not" not in w.status.value


def test_choosing_a_schedule_free_method_sets_its_default_lr(w):
    w.controls["method"].value = "AdamW schedule-free"
    assert w.controls["lr"].value == pytest.approx(0.0025, rel=1e-6) and "lr 0.0025" in w.status.value
    w.controls["method"].value = "SGD schedule-free"
    assert w.controls["lr"].value == 1.0


def test_divergence_is_named_with_its_step(w):
    w.controls["method"].value = "SGD schedule-free"
    w.controls["lr"].value = 10.0
    assert "diverged at step" in w.status.value
    k = int(w.status.value.split("diverged at step ")[1].split(" ")[0])
    assert 0 <= k < w.controls["steps"].value


def test_a_growth_cap_slows_the_estimate():
    w = lr_free_explorer(method="Prodigy", steps=100)
    free = float(w.status.value.split("final d ")[1].rstrip(".</b>"))
    w.controls["growth_rate"].value = 1.02
    capped = float(w.status.value.split("final d ")[1].rstrip(".</b>"))
    assert capped < free          # (Prodigy's first growth, away from d0, is not capped: the package's rule)


def test_a_warmup_longer_than_the_run_is_drawn_and_named():
    w = lr_free_explorer(method="SGD schedule-free", steps=50)
    w.controls["warmup"].value = 100
    assert "Could not" not in w.status.value and "longer than the run" in w.status.value
    w.controls["warmup"].value = 10
    assert "Could not" not in w.status.value and "longer than the run" not in w.status.value


def test_only_the_knobs_of_the_method_are_enabled():
    w = lr_free_explorer(method="Prodigy", steps=50)
    c = w.controls
    assert not c["d0"].disabled and not c["d_coef"].disabled and c["lr"].disabled and c["warmup"].disabled
    c["method"].value = "D-Adapt Adam"
    assert not c["d0"].disabled and not c["growth_rate"].disabled and c["d_coef"].disabled
    c["method"].value = "AdamW schedule-free"
    assert c["d0"].disabled and c["growth_rate"].disabled and not c["lr"].disabled and not c["warmup"].disabled
    c["method"].value = "Adam (tuned lr)"
    assert all(c[k].disabled for k in ("d0", "growth_rate", "d_coef", "lr", "warmup"))


def test_a_run_that_diverges_at_once_still_shows_its_step_size(monkeypatch):
    import lrcourse.widgets.lr_free as lr_free

    def one_step(problem, method, steps, seed, **knobs):          # diverged at step 1: one step size recorded
        sizes, ds, losses = np.full(steps, np.nan), np.full(steps, np.nan), np.full(steps, np.nan)
        sizes[0], ds[0], losses[0] = 1e-3, 1e-3, 2.3
        return losses, np.array([0]), np.array([2.3]), sizes, ds, 1

    monkeypatch.setattr(lr_free, "run", one_step)
    w = lr_free.lr_free_explorer(method="D-Adapt SGD", steps=50)
    size_line, d_line = w.dynamic[3], w.dynamic[4]
    assert "diverged at step 1" in w.status.value
    assert size_line.get_marker() == "o" and d_line.get_marker() == "o"


def test_no_combination_raises():
    w = lr_free_explorer(steps=50)
    for method, d0, (_, growth), lr in itertools.product(METHODS, (1e-10, 1.0), GROWTH_RATES[::3], (1e-4, 10.0)):
        with w.hold():
            w.controls["method"].value = method
            w.controls["d0"].value = d0
            w.controls["growth_rate"].value = growth
            w.controls["lr"].value = lr
        assert "Could not" not in w.status.value, w.status.value
        assert w.status.value.startswith(f"<b>{method} (")
