"""The explorers of chapters 10-12, driven from Python as a learner moves them."""

import numpy as np
import pytest

from lrcourse import widgets as W
from lrcourse.range_test import RULES


@pytest.fixture(scope="module")
def explorer():
    return W.range_test_explorer()


def test_the_range_test_explorer_reads_the_rule_off_the_curve(explorer):
    w = explorer
    status = w.status.value
    assert "digits, SGD, momentum 0.9, seed 0" in status and "reads lr =" in status
    lr = float(status.split("reads lr = ")[1].split(".<")[0].rstrip("."))
    line = [a for a in w.fig.axes[0].lines if a.get_linestyle() == "--"][0]
    assert line.get_xdata()[0] == pytest.approx(lr, rel=1e-2)


@pytest.mark.parametrize("rule", list(RULES))
def test_every_rule_moves_the_line(explorer, rule):
    explorer.controls["rule"].value = rule
    assert f"The rule &#x27;{rule}&#x27; reads lr" in explorer.status.value
    assert explorer.image.value[:4] == b"\x89PNG"


def test_smoothing_and_the_threshold_move_where_the_test_stops(explorer):
    w = explorer
    w.controls["rule"].value = "steepest"
    stops = {}
    for th in (2.0, 5.0, 50.0):
        w.controls["diverge_th"].value = th
        stops[th] = int(w.status.value.split("(iteration ")[1].split(")")[0])
    assert stops[2.0] <= stops[5.0] <= stops[50.0] and stops[2.0] < stops[50.0]
    w.controls["diverge_th"].value = 5.0
    w.controls["smooth_f"].value = 0.0
    raw = w.status.value
    w.controls["smooth_f"].value = 0.3
    assert raw != w.status.value
    w.controls["smooth_f"].value = 0.05


def test_too_few_points_for_a_rule_is_said_not_raised(explorer):
    w = explorer
    w.controls["smooth_f"].value = 0.0                                      # the raw, noisy losses
    w.controls["diverge_th"].value = 10 ** w.controls["diverge_th"].min     # 1.26 times the best: an early stop
    w.controls["skip_start"].value = 60
    w.controls["skip_end"].value = 30
    assert "No suggestion: Need at least 92 iterations" in w.status.value
    assert w.image.value[:4] == b"\x89PNG"
    w.controls["skip_start"].value, w.controls["skip_end"].value = 10, 5
    w.controls["diverge_th"].value, w.controls["smooth_f"].value = 5.0, 0.05


@pytest.mark.parametrize("control, value", [("optimizer", "Adam"), ("problem", "wine"), ("problem", "cancer"),
                                            ("seed", 3)])
def test_a_new_problem_optimizer_or_seed_runs_a_new_test(explorer, control, value):
    explorer.controls[control].value = value
    assert f"{value}" in explorer.status.value and "reads lr" in explorer.status.value
    assert np.isfinite(float(explorer.status.value.split("reads lr = ")[1].split(".<")[0].rstrip(".")))
