"""Chapter 09's race: the tuning rule, the scores, the new surfaces, and the race widget."""

import numpy as np
import pytest

from lrcourse import functions, optim, race
from lrcourse.runs import run, sweep
from lrcourse.widgets import LR_MODES, race_explorer


def test_settled_at_is_the_first_step_from_which_the_gap_stays_below():
    history = np.array([[1.0, 1.0, 1.0, 1.0],
                        [1e-7, 1e-3, 1e-7, np.inf],
                        [1e-3, 1e-7, 1e-8, np.inf],
                        [1e-8, 1e-8, 1e-9, np.inf]])
    # run 0 dips below, comes back up and settles at step 3; run 1 settles at 2; run 2 at 1; run 3 diverged
    assert race.settled_at(history, 1e-6).tolist() == [3.0, 2.0, 1.0, np.inf]
    assert race.settled_at(np.array([[1.0], [0.5]]), 1e-6).tolist() == [np.inf]   # never below


def test_sweep_takes_one_start_per_run_and_matches_single_runs():
    f = functions.Rosenbrock()
    starts = f.random_starts(4, seed=3)
    lrs = np.array([1e-3, 2e-3, 1e-3, 5e-3])
    finals, gaps, diverged_at = sweep(f, starts, optim.Adam(), lrs, 200)
    for i in range(4):
        single = run(f, starts[i], optim.Adam(lr=lrs[i]), 200)
        assert np.allclose(finals[i], single.final, rtol=1e-12, atol=1e-14)
        assert gaps[i] == pytest.approx(single.gaps[-1], rel=1e-10, abs=1e-300)
    with pytest.raises(ValueError, match="one start per lr"):
        sweep(f, starts[:3], optim.SGD(), lrs, 10)


def test_tune_picks_the_lr_that_finishes_soonest():
    f = functions.Quadratic((0.1, 1.0), angle=0.3, start=(1.0, 0.5))
    lrs = np.array([0.5, 1.0, 1.8, 2.5])   # 2.5 > 2/L diverges; 1.8 = 2/(mu + L) is GD's best fixed lr
    starts = f.random_starts(5, seed=0)
    assert race.tune(f, race.RACERS["SGD"], starts, 300, lrs=lrs) == 1.8
    for lr in lrs[:3]:
        assert race.score(f, race.RACERS["SGD"], lr, starts, 300).finished.all()
    assert race.score(f, race.RACERS["SGD"], 2.5, starts, 300).diverged.all()


def test_half_finished_needs_half_the_starts_by_the_budget():
    settled = np.array([[5.0, 1.0, np.inf], [7.0, np.inf, np.inf], [np.inf, np.inf, 2.0], [9.0, 3.0, 40.0]])
    # column 0: finished at 5, 7, 9 -> half (2 of 4) by step 7; column 1: 1 and 3 -> by 3; column 2: 2 and 40
    assert race.half_finished(settled, 100).tolist() == [7.0, 3.0, 40.0]
    assert race.half_finished(settled, 10).tolist() == [7.0, 3.0, np.inf]   # 40 is past the budget
    assert race.half_finished(settled[:3], 100).tolist() == [7.0, np.inf, np.inf]   # 2 of 3 needed


def test_best_counts_finishing_not_safety_and_takes_the_middle_of_a_tie():
    # three starts, five lrs; history rows are steps 0..4
    inf = np.inf
    history = np.ones((5, 3, 5))
    history[2:, :, 1] = 1e-9           # lr 1: every start finishes at step 2
    history[1:, :2, 3] = 1e-9          # lr 3: two of three finish at step 1, the third diverges
    history[1:, 2, 3] = inf
    diverged = np.zeros((3, 5), dtype=int)
    diverged[2, 3] = 1
    runs = race.Grid(np.arange(5.0), history, diverged)
    assert race.best(runs) == 3.0      # half the starts home soonest, though one start diverges
    history[1:, 2, 3] = 1.0            # now the third start of lr 3 neither finishes nor diverges
    diverged[2, 3] = 0
    history[1:, :, 4] = 1e-9           # lr 4: every start at step 1, as lr 3's two: more finish
    assert race.best(race.Grid(np.arange(5.0), history, diverged)) == 4.0
    tie = race.Grid(np.arange(5.0), np.ones((5, 3, 5)), np.zeros((3, 5), dtype=int))
    tie.history[3:] = 0.5              # nobody finishes, all level: the middle lr
    assert race.best(tie) == 2.0


def test_a_run_that_dips_below_and_comes_back_has_not_finished():
    # Adam at a constant lr on Rosenbrock: below the line at step 1000, above it again later (ch. 09)
    f = functions.Rosenbrock()
    starts = f.random_starts(20, seed=2000)
    s = race.score(f, race.RACERS["Adam"], race.LR_GRID[52], starts, 1000)     # lr 1.6
    below_at_budget = s.final <= race.TARGET
    assert below_at_budget.sum() > s.finished.sum()
    amsgrad = race.score(f, race.RACERS["AMSGrad"], race.LR_GRID[52], starts, 1000)
    assert np.all(amsgrad.finished[amsgrad.final <= race.TARGET])      # AMSGrad's stay down


def test_tune_falls_back_to_the_final_gap_when_nothing_finishes():
    f = functions.Rosenbrock()
    lrs = np.array([1e-4, 1e-3])   # neither reaches 1e-6 in 50 steps; 1e-3 gets further
    assert race.tune(f, race.RACERS["SGD"], [f.start], 50, lrs=lrs) == 1e-3


def test_score_matches_a_single_run():
    f = functions.Beale()
    s = race.score(f, race.RACERS["Adam"], 0.1, [f.start], 300)
    single = run(f, f.start, optim.Adam(lr=0.1), 600)
    assert s.final[0] == pytest.approx(single.gaps[300], rel=1e-9, abs=1e-300)
    assert s.settled[0] == race.settled_at(single.gaps[:, None], race.TARGET)[0]


def test_every_racer_is_the_library_optimizer_it_names():
    assert isinstance(race.RACERS["Nesterov"](0.1), optim.SGD) and race.RACERS["Nesterov"](0.1).nesterov
    assert race.RACERS["AMSGrad"](0.1).amsgrad and not race.RACERS["Adam"](0.1).amsgrad
    for name, make in race.RACERS.items():
        assert make(0.03).lr == 0.03, name
    assert np.allclose(np.log10(race.LR_GRID), np.round(np.arange(-50, 11) / 10, 1))


def test_styblinski_tang_minima_are_stationary_and_ordered():
    f = functions.StyblinskiTang()
    assert np.abs(f.grad(f.minima.T)).max() < 1e-10
    assert f.depths[0] == pytest.approx(-78.33233, abs=1e-4) and f.depths[3] == pytest.approx(-50.05889, abs=1e-4)
    assert f.min_value == f.depths[0]
    assert f.basin(f.minima).tolist() == [0, 1, 2, 3]
    # a small lr ends in the minimum of the quarter it starts in
    for start in f.random_starts(6, seed=1):
        end = run(f, start, optim.SGD(lr=0.01), 2000).final
        assert f.basin(end[None])[0] == f.basin(start[None])[0]


def test_scaled_multiplies_the_loss_and_adam_does_not_notice():
    f = functions.Quadratic((0.01, 1.0), angle=0.5, start=(1.0, 0.5))
    g = functions.Scaled(f, 1e3)
    x = np.array([0.3, -0.2])
    assert g(x) == pytest.approx(1e3 * f(x)) and np.allclose(g.grad(x), 1e3 * f.grad(x))
    a = run(f, f.start, optim.Adam(lr=0.05, eps=0.0), 100).xs
    b = run(g, g.start, optim.Adam(lr=0.05, eps=0.0), 100).xs
    assert np.allclose(a, b, rtol=1e-12, atol=1e-15)


def test_random_starts_are_reproducible_and_in_the_box():
    for f in (functions.Rosenbrock(), functions.Beale(), functions.Saddle(), functions.StyblinskiTang()):
        a, b = f.random_starts(50, seed=4), f.random_starts(50, seed=4)
        assert a.shape == (50, 2) and np.array_equal(a, b)
        for (low, high), column in zip(f.bounds, a.T):
            assert column.min() >= low and column.max() <= high
    near = functions.Saddle().random_starts(200, seed=0)[:, 1]
    assert np.all((np.abs(near) >= 1e-6) & (np.abs(near) <= 1e-2)) and (near > 0).any() and (near < 0).any()


# the widget

@pytest.fixture(scope="module")
def explorer():
    return race_explorer()


def test_race_explorer_starts_with_each_racer_tuned(explorer):
    w = explorer
    assert w.controls["mode"].value == "each tuned" and list(w.controls["mode"].options) == LR_MODES
    f = race.SURFACES["Rosenbrock"]()
    for name in ("SGD", "Adam"):
        expected = race.best(race.grid(f, race.RACERS[name], [f.start], 500))   # judged within the steps shown
        assert w.controls["lr " + name].value == pytest.approx(expected)
        assert w.controls["lr " + name].disabled
    assert "each at its tuned lr" in w.status.value and "Could not draw" not in w.status.value


def test_race_explorer_names_a_diverging_racer_and_keeps_drawing(explorer):
    w = explorer
    with w.hold():
        w.controls["surface"].value = "Styblinski-Tang"
        w.controls["mode"].value = "one for all"
        w.controls["shared"].value = 1.0
    assert not w.controls["shared"].disabled
    text = w.status.value
    assert "all at lr 1.0e+00" in text and "diverged: SGD (step 2)" in text, text
    legend = [t.get_text() for t in w.fig.axes[1].get_legend().get_texts()]
    assert any(label.startswith("SGD") and "diverged at step 2" in label for label in legend)
    assert len(w.image.value) > 1000


def test_race_explorer_own_lrs_and_racers_in_and_out(explorer):
    w = explorer
    with w.hold():
        w.controls["surface"].value = "quadratic, kappa 100"
        w.controls["mode"].value = "each its own"
        for name in race.RACERS:
            w.controls["on " + name].value = name in ("SGD", "Nesterov")
        w.controls["lr SGD"].value = 10 ** -0.3
        w.controls["lr Nesterov"].value = 10 ** -0.5
    assert not w.controls["lr SGD"].disabled
    f = race.SURFACES["quadratic, kappa 100"]()
    expected = race.score(f, race.RACERS["Nesterov"], 10 ** -0.5, [f.start], 500)
    assert f"Nesterov (step {expected.settled[0]:.0f})" in w.status.value
    assert "Adam" not in w.status.value
    assert [t.get_text().split(",")[0] for t in w.fig.axes[1].get_legend().get_texts()] == ["SGD", "Nesterov"]
    for name in race.RACERS:
        w.controls["on " + name].value = False
    assert "No racer" in w.status.value


def test_race_explorer_tunes_a_racer_put_in_and_the_new_surface(explorer):
    w = explorer
    with w.hold():
        for name in race.RACERS:
            w.controls["on " + name].value = False
        w.controls["mode"].value = "each tuned"
        w.controls["surface"].value = "saddle"
    w.controls["on AdaGrad"].value = True
    f = race.SURFACES["saddle"]()
    assert w.controls["lr AdaGrad"].value == pytest.approx(race.best(race.grid(f, race.RACERS["AdaGrad"], [f.start], 500)))
    assert "finished, in order: AdaGrad" in w.status.value
    options = list(w.controls["start"].options)
    assert len(options) == 4 and options[0].endswith("usual")
    w.controls["start"].value = options[2]
    assert w.controls["start"].value.startswith("(") and "Could not draw" not in w.status.value


def test_keep_state_when_the_very_first_step_diverges():
    # RMSprop's first step is lr / sqrt(1 - alpha) per coordinate: 100 here, a millionfold loss
    f = functions.Quadratic((0.01, 1.0), angle=np.pi / 6, start=(1.0, 0.5))
    result = run(f, f.start, optim.RMSprop(lr=3.16, alpha=0.999), 300, keep_state=True)
    assert result.diverged_at == 1 and result.states["v"].shape == (0, 2)


def test_sweep_points_are_the_paths_of_single_runs():
    f = functions.Beale()
    lrs = np.array([0.01, 0.1, 10.0])   # the last diverges
    finals, gaps, diverged_at, history, points = sweep(f, f.start, optim.Adam(), lrs, 50, trace=True, points=True)
    assert points.shape == (51, 3, 2) and history.shape == (51, 3)
    for j, lr in enumerate(lrs):
        single = run(f, f.start, optim.Adam(lr=lr), 50)
        kept = len(single.xs)
        assert np.allclose(points[:kept, j], single.xs, rtol=1e-12, atol=1e-14)
        assert np.all(np.isnan(points[kept:, j]))
        assert (diverged_at[j] > 0) == single.diverged


def test_best_on_a_prefix_equals_tuning_that_many_steps():
    f = functions.Rosenbrock()
    starts = f.random_starts(3, seed=5)
    long = race.grid(f, race.RACERS["momentum"], starts, 400)
    assert race.best(long, steps=200) == race.tune(f, race.RACERS["momentum"], starts, 200)
    assert race.best(long, steps=100, stay=200) == race.tune(f, race.RACERS["momentum"], starts, 100)


def test_race_explorer_draws_a_grid_lr_as_a_single_run_would():
    w = race_explorer(surface="Beale", racers=("Adam", "SGD"), mode="each its own")
    with w.hold():
        w.controls["lr Adam"].value = race.LR_GRID[45]     # 10^-0.5
        w.controls["lr SGD"].value = race.LR_GRID[40]      # 0.1: diverges on Beale
    f = race.SURFACES["Beale"]()
    for name, lr in (("Adam", race.LR_GRID[45]), ("SGD", race.LR_GRID[40])):
        single = run(f, f.start, race.RACERS[name](lr), 500)
        line = w.fig.axes[0].get_lines()[list(race.RACERS).index(name)]
        assert np.allclose(np.column_stack(line.get_data()), single.xs, rtol=1e-12, atol=1e-14)
    assert "diverged: SGD" in w.status.value
    # fewer steps: the same runs, cut short (drawn from the longer runs already made)
    w.controls["steps"].value = 200
    line = w.fig.axes[0].get_lines()[list(race.RACERS).index("Adam")]
    assert len(line.get_data()[0]) == 201
