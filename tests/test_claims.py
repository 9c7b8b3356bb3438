"""Chapter 13's experiments (lrcourse.claims): the width of the good range on curves whose answers are known by hand,
tuning kept apart from scoring, grid against random search against their closed forms, Wilson et al.'s construction,
the escape helpers, and the final losses against hand-run loops of lrcourse.optim."""

import numpy as np
import pytest

from lrcourse import claims, functions, optim
from lrcourse.claims import FLOOR, LRS, OPTIMIZERS, hit_probability, search_hits, width
from lrcourse.runs import sweep

SURFACES = ("quadratic, aligned", "quadratic, rotated", "Rosenbrock")
DATA = ("diabetes, least squares", "digits, logistic")


# ------------------------------------------------------------------------------------------------------ width
def test_width_on_a_hand_built_curve():
    lrs = 10.0 ** np.arange(-3, 2.0)                  # 1e-3 .. 10
    w = width(lrs, [8.0, 3.0, 1.5, 2.9, 100.0])       # best 1.5 at 0.1; 3.0 and 2.9 within 2x, 8 and 100 not
    assert (w.lo, w.hi, w.best_lr, w.best) == (1e-2, 1.0, 0.1, 1.5)
    assert w.decades == pytest.approx(2.0)
    assert w.factor == pytest.approx(100.0)
    assert width(lrs, [8.0, 3.01, 1.5, 3.0, 100.0]).lo == 0.1    # 3.01 > 2 * 1.5: just outside
    one = width(lrs, [8.0, 4.0, 1.0, 4.0, 8.0])
    assert (one.lo, one.hi, one.decades) == (0.1, 0.1, 0.0)      # one lr alone: zero decades


def test_width_factor_argument_widens_and_narrows_the_window():
    lrs = 10.0 ** np.arange(-3, 2.0)
    curve = [8.0, 3.0, 1.5, 2.9, 100.0]
    assert width(lrs, curve, factor=10).lo == 1e-3 and width(lrs, curve, factor=10).hi == 1.0
    assert width(lrs, curve, factor=100).hi == 10.0
    assert width(lrs, curve, factor=1.5).decades == 0.0
    assert width(lrs, curve, factor=10).best_lr == 0.1          # the factor never moves the best


def test_width_diverged_lrs_are_never_within_and_never_best():
    lrs = 10.0 ** np.arange(-3, 2.0)
    w = width(lrs, [1.2, 1.0, np.inf, 1.1, np.nan])
    assert (w.lo, w.hi, w.best_lr, w.best) == (1e-3, 1.0, 1e-2, 1.0)    # inf at 0.1 is a gap inside the range
    # (lrs, seeds): one diverged seed makes the lr's mean inf, so it is never chosen, however good the other seeds
    table = np.array([[2.0, 2.0], [1e-6, np.inf], [1.5, 1.7], [np.nan, 1.0]])
    w = width(lrs[:4], table)
    assert (w.best_lr, w.best, w.lo, w.hi) == (0.1, 1.6, 1e-3, 0.1)
    nothing = width(lrs[:3], [np.inf, np.nan, np.inf])
    assert np.isnan(nothing.lo) and np.isnan(nothing.hi) and np.isnan(nothing.best_lr) and nothing.best == np.inf
    assert np.isnan(nothing.decades)


def test_width_best_at_the_edge_of_the_grid():
    lrs = 10.0 ** np.arange(-3, 2.0)
    w = width(lrs, [100.0, 30.0, 10.0, 3.0, 1.0])             # still falling at the largest lr
    assert (w.best_lr, w.lo, w.hi, w.decades) == (10.0, 10.0, 10.0, 0.0)
    w = width(lrs, [1.0, 1.5, 2.5, np.inf, np.inf])            # best at the smallest lr
    assert (w.best_lr, w.lo, w.hi) == (1e-3, 1e-3, 1e-2)


def test_width_takes_the_middle_lr_of_a_tie_and_uses_the_floor():
    lrs = 10.0 ** np.arange(-3, 2.0)
    assert width(lrs, [FLOOR, FLOOR, FLOOR, 1.0, 1.0]).best_lr == 1e-2          # three level: the middle one
    assert width(lrs, [5.0, FLOOR, FLOOR, FLOOR, FLOOR]).best_lr == 1e-1        # four level: the lower middle
    assert width(lrs, [5.0, FLOOR, FLOOR, 3 * FLOOR, 1.0]).hi == 0.1            # within 2x of the floor only
    zero = width(lrs, [0.0, 0.0, 1e-300, 1.0, 1.0])                            # best 0: only the level lrs count
    assert (zero.lo, zero.hi) == (1e-3, 1e-2)


# ------------------------------------------------------------------------------------------------------ make
@pytest.mark.parametrize("name, cls, settings", [
    ("SGD", optim.SGD, {"momentum": 0, "nesterov": False}),
    ("momentum", optim.SGD, {"momentum": 0.9, "dampening": 0, "nesterov": False}),
    ("AdaGrad", optim.Adagrad, {"eps": 1e-10, "lr_decay": 0}),
    ("RMSprop", optim.RMSprop, {"alpha": 0.99, "eps": 1e-8, "momentum": 0, "centered": False}),
    ("Adam", optim.Adam, {"betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False}),
])
def test_make_builds_the_course_optimizer_at_torch_defaults(name, cls, settings):
    opt = claims.make(name)
    assert type(opt) is cls and opt.weight_decay == 0
    for key, value in settings.items():
        assert getattr(opt, key) == value, key


def test_make_sets_one_eps_per_run_and_refuses_what_it_cannot_build():
    opt = claims.make("Adam", eps=[1e-8, 1.0])
    assert isinstance(opt.eps, np.ndarray) and opt.eps.tolist() == [1e-8, 1.0]
    assert claims.make("RMSprop", eps=1e-2).eps == 1e-2
    for name in ("SGD", "momentum"):
        with pytest.raises(ValueError, match=f"{name} has no eps"):
            claims.make(name, eps=1e-8)
    with pytest.raises(ValueError, match=r"expected one of \(SGD, momentum, .*\), got Adamm"):
        claims.make("Adamm")
    assert isinstance(claims.make("Nesterov"), optim.SGD) and claims.make("Nesterov").nesterov   # any racer


def test_make_rejects_an_invalid_eps_as_torch_does():
    with pytest.raises(ValueError, match="Invalid epsilon value"):
        optim.Adam(eps=-1.0)                  # the course's own optimizer does
    with pytest.raises(ValueError, match="Invalid epsilon value"):
        claims.make("Adam", eps=-1.0)


# ------------------------------------------------------------------------------------------------------ losses
@pytest.mark.parametrize("problem", SURFACES + DATA)
def test_losses_shape_finiteness_and_floor(problem):
    lrs = np.array([1e-4, 1e-3, 0.1, 1e3])
    out = claims.losses(problem, "SGD", lrs, [0, 1, 2], 20)
    assert out.shape == (4, 3)
    assert np.all(out >= FLOOR)
    assert np.all(np.isfinite(out[:2]))                    # small lrs: finite
    if problem == "digits, logistic":                      # the logistic loss grows only linearly in w
        assert np.all(out[3] > 100 * out[:2].max())
    else:
        assert np.all(out[3] == np.inf)                    # lr 1000 diverges
    assert claims.losses(problem, "SGD", 1e-3, [5], 20).shape == (1, 1)   # a scalar lr


def test_losses_floor_a_solved_run_and_adaptive_eps_on_the_surfaces():
    out = claims.losses("quadratic, aligned", "AdaGrad", LRS, range(2), 100)
    assert out.min() == FLOOR and np.all(out >= FLOOR)     # AdaGrad solves the aligned quadratic
    with_eps = claims.losses("quadratic, aligned", "Adam", [0.1, 0.1], [0], 50, eps=[1e-8, 1.0])
    assert with_eps[0, 0] == claims.losses("quadratic, aligned", "Adam", [0.1], [0], 50, eps=1e-8)[0, 0]
    assert with_eps[1, 0] == claims.losses("quadratic, aligned", "Adam", [0.1], [0], 50, eps=1.0)[0, 0]
    assert with_eps[0, 0] != with_eps[1, 0]


def test_losses_eps_array_is_one_eps_per_lr_on_the_data_sets():
    both = claims.losses("digits, logistic", "Adam", [0.01, 0.01], [0, 1], 20, eps=[1e-8, 1.0])
    for j, e in enumerate((1e-8, 1.0)):
        alone = claims.losses("digits, logistic", "Adam", [0.01], [0, 1], 20, eps=e)[0]
        assert np.allclose(both[j], alone, rtol=1e-12)
    assert not np.allclose(both[0], both[1])


def test_losses_eps_array_is_one_eps_per_lr_on_the_mlp():
    both = claims.losses("digits, MLP", "Adam", [0.01, 0.01], [0], 3, eps=[1e-8, 1.0])
    alone = claims.losses("digits, MLP", "Adam", [0.01], [0], 3, eps=1.0)[0]
    assert np.allclose(both[1], alone, rtol=1e-6)


def test_losses_mlp_shape_and_finiteness():
    out = claims.losses("digits, MLP", "momentum", [1e-3, 1e-1], [0, 1], 3)
    assert out.shape == (2, 2) and np.all(np.isfinite(out)) and np.all(out > 0)
    assert np.all(out < 3.0)                              # about ln 10 = 2.3 after three steps from the start
    with pytest.raises(ValueError, match="expected one of"):
        claims.losses("digits, MLP", "AdamW", [1e-3], [0], 3)


def test_losses_eps_for_sgd_is_the_same_error_on_the_mlp():
    with pytest.raises(ValueError, match="SGD has no eps"):
        claims.losses("quadratic, rotated", "SGD", [1e-3], [0], 3, eps=1e-8)
    with pytest.raises(ValueError, match="has no eps"):
        claims.losses("digits, MLP", "SGD", [1e-3], [0], 3, eps=1e-8)


def test_losses_rejects_invalid_arguments_as_torch_does():
    with pytest.raises(ValueError, match=r"Invalid learning rate: -0\.1"):
        claims.losses("quadratic, rotated", "SGD", [0.1, -0.1], [0], 10)
    with pytest.raises(ValueError, match="Invalid learning rate: nan"):
        claims.losses("quadratic, rotated", "SGD", [np.nan], [0], 10)
    with pytest.raises(ValueError, match=r"expected one of \(quadratic, aligned.*\), got Beale"):
        claims.losses("Beale", "SGD", [0.1], [0], 10)
    with pytest.raises(ValueError, match="Expected steps >= 1, but got 0"):
        claims.losses("quadratic, rotated", "SGD", [0.1], [0], 0)
    assert np.all(np.isfinite(claims.losses("quadratic, rotated", "SGD", [0.0], [0], 10)))   # lr 0 is allowed


@pytest.mark.parametrize("name, cls, kwargs", [("Adam", optim.Adam, {}), ("momentum", optim.SGD, {"momentum": 0.9}),
                                               ("RMSprop", optim.RMSprop, {})])
@pytest.mark.parametrize("problem", ["quadratic, rotated", "Rosenbrock"])
def test_losses_entry_equals_a_hand_run_loop_on_a_surface(problem, name, cls, kwargs):
    lrs = np.array([1e-3, 1e-2, 0.1]) if problem.startswith("quadratic") else np.array([3e-5, 1e-4, 3e-4])
    seeds, steps = [4, 7], 60
    out = claims.losses(problem, name, lrs, seeds, steps)
    f = claims.PROBLEMS[problem]()
    for j, lr in enumerate(lrs):
        for i, seed in enumerate(seeds):
            x = f.random_starts(1, seed=seed)[0]          # a seed is one random start
            opt = cls(lr=lr, **kwargs)
            for _ in range(steps):
                x = opt.step(x, f.grad(x))
            gap = max(float(f(x)) - f.min_value, 0.0)
            assert np.isfinite(gap)
            assert out[j, i] == pytest.approx(max(gap, FLOOR), rel=1e-9, abs=1e-14)


@pytest.mark.parametrize("name, cls", [("SGD", optim.SGD), ("AdaGrad", optim.Adagrad)])
def test_losses_entry_equals_a_hand_run_minibatch_loop(name, cls):
    problem, seed, lr, steps = "diabetes, least squares", 3, 0.05, 40
    out = claims.losses(problem, name, [1e-3, lr], [seed, 9], steps)
    data = claims.PROBLEMS[problem]()
    rows = np.random.default_rng(seed).integers(0, data.n, (steps, 16))   # batches of 16, drawn from the seed
    w, opt = data.start.copy(), cls(lr=lr)
    for t in range(steps):
        w = opt.step(w, data.minibatch_gradient(w, rows[t]))
    excess = float(data.excess(w[None, :, None])[0, 0])
    assert out[1, 0] == pytest.approx(max(excess, FLOOR), rel=1e-9)


# ------------------------------------------------------------------------------------------------- sensitivity
def test_sensitivity_tunes_on_the_tuning_seeds_and_scores_on_the_others():
    tuning, scoring = range(3), range(100, 103)
    s = claims.sensitivity("quadratic, rotated", "Adam", tuning, scoring, steps=50)
    assert s.tuning.shape == (len(LRS), 3) and s.scores.shape == (3,) and s.steps == 50
    assert np.array_equal(s.tuning, claims.losses("quadratic, rotated", "Adam", LRS, tuning, 50))
    assert s.width == width(LRS, s.tuning) and s.tuned_lr == s.width.best_lr
    assert np.array_equal(s.mean, s.tuning.mean(axis=1))
    on_scoring = claims.losses("quadratic, rotated", "Adam", LRS, scoring, 50)
    # the scoring seeds would pick another lr; the score is still the tuned lr's, not the best on the scoring seeds
    assert width(LRS, on_scoring).best_lr != s.tuned_lr
    assert np.allclose(s.scores, on_scoring[np.flatnonzero(LRS == s.tuned_lr)[0]], rtol=1e-12)
    assert s.scores.mean() > on_scoring.mean(axis=1).min()
    other = claims.sensitivity("quadratic, rotated", "Adam", tuning, range(200, 205), steps=50)
    assert other.tuned_lr == s.tuned_lr and other.scores.shape == (5,)   # scoring seeds never move the tuned lr


def test_sensitivity_reports_divergence_on_the_scoring_seeds_instead_of_avoiding_it():
    s = claims.sensitivity("Rosenbrock", "SGD", range(3), range(100, 103), steps=50)
    assert np.all(np.isfinite(s.tuning[np.flatnonzero(LRS == s.tuned_lr)[0]]))   # safe on the tuning seeds
    assert np.isinf(s.scores).any() and np.isfinite(s.scores).any()


def test_sensitivity_defaults_eps_and_guards():
    s = claims.sensitivity("quadratic, aligned", "RMSprop", [0, 1], [2], lrs=[1e-2, 1e-1], eps=1.0)
    assert s.steps == claims.BUDGETS["quadratic, aligned"] == 100 and s.eps == 1.0
    assert np.array_equal(s.tuning, claims.losses("quadratic, aligned", "RMSprop", [1e-2, 1e-1], [0, 1], 100,
                                                  eps=1.0))
    with pytest.raises(ValueError, match="must differ"):
        claims.sensitivity("quadratic, aligned", "SGD", [0, 1], [1, 2])
    dead = claims.sensitivity("quadratic, aligned", "SGD", [0], [1, 2], steps=20, lrs=[1e3, 1e4])
    assert dead.width.best == np.inf and np.isnan(dead.tuned_lr) and dead.scores.tolist() == [np.inf, np.inf]


# ------------------------------------------------------------------------------------------- grid against random
def test_hit_probability_is_one_minus_the_chance_of_k_misses():
    assert hit_probability(0.1, 4) == pytest.approx(1 - 0.9 ** 4)
    assert hit_probability(0.3, 1) == pytest.approx(0.3)
    assert hit_probability(0.0, 50) == 0.0 and hit_probability(1.0, 3) == 1.0
    p = np.array([0.05, 0.2, 0.5])
    assert np.allclose(hit_probability(p, 9), 1 - (1 - p) ** 9)
    assert np.all(np.diff([hit_probability(0.1, k) for k in range(1, 20)]) > 0)   # more trials, more hits


def within_noise(rate, expected, repeats, sds=4.5):
    return abs(rate - expected) <= sds * np.sqrt(max(expected * (1 - expected), 1e-12) / repeats) + 1e-12


@pytest.mark.parametrize("k", [2, 4, 7, 16])
def test_search_hits_match_the_closed_forms_in_one_dimension(k):
    curve = np.full(100, 10.0)
    curve[40:50] = [1.0, 1.2, 1.5, 1.9, 2.0, 1.1, 1.3, 1.8, 1.6, 1.4]    # 10 of 100 within 2x of the best: p = 0.1
    curve[70:] = np.inf
    curve[60] = np.nan
    repeats = 3000
    grid, random, p = search_hits(curve, k, repeats=repeats, seed=k)
    assert p == 0.1
    assert within_noise(grid, min(1.0, k * p), repeats)
    assert within_noise(random, hit_probability(p, k), repeats)
    assert search_hits(curve, k, repeats=repeats, seed=k) == (grid, random, p)       # reproducible by the seed


def test_search_hits_grid_is_certain_once_its_spacing_is_below_the_window():
    curve = np.full(60, 5.0)
    curve[20:30] = 1.0                                     # a window of 10 of 60 points; spacing 60/7 < 10
    grid, random, p = search_hits(curve, 7, repeats=500, seed=1)
    assert grid == 1.0 and random < 1.0 and p == pytest.approx(1 / 6)
    assert search_hits(curve, 7, repeats=500, seed=1, factor=10)[2] == 1.0             # factor widens the good set


def test_search_hits_in_two_dimensions_match_the_product_of_the_axes():
    table = np.full((40, 30), 10.0)
    table[10:18, 5:11] = 1.0                               # 8 of 40 lrs by 6 of 30 eps
    repeats = 3000
    for k, per_axis in ((9, 3), (16, 4), (10, 3)):       # round(k ** 0.5) values per axis
        grid, random, p = search_hits(table, k, repeats=repeats, seed=k)
        assert p == pytest.approx(48 / 1200)
        expected = min(1.0, 8 * per_axis / 40) * min(1.0, 6 * per_axis / 30)
        assert within_noise(grid, expected, repeats)
        assert within_noise(random, hit_probability(p, k), repeats)


# ---------------------------------------------------------------------------------- Wilson et al. 2017, sec. 3.3
@pytest.mark.parametrize("n, seed", [(1, 0), (2, 3), (7, 1), (30, 5)])
def test_wilson_data_construction(n, seed):
    X, y = claims.wilson_data(n, 0.75, seed=seed)
    assert X.shape == (n, 6 * n) and y.shape == (n,)
    assert set(np.unique(y)) <= {-1.0, 1.0} and y.sum() > 0              # positive majority
    assert np.array_equal(X[:, 0], y) and np.all(X[:, 1:3] == 1.0)       # the shared features
    assert set(np.unique(X)) <= {-1.0, 0.0, 1.0}
    unique = X[:, 3:]
    assert np.all(unique.sum(axis=0) <= 1)                # a unique feature belongs to one example only
    for i in range(n):
        cols = np.flatnonzero(unique[i]) + 3
        assert cols.tolist() == list(range(3 + 5 * i, 3 + 5 * i + (1 if y[i] > 0 else 5)))
    assert np.allclose(X @ np.sign(X.T @ y), 4 * y)       # the sign solution interpolates, scaled by 4
    assert np.array_equal(claims.wilson_data(n, 0.75, seed=seed)[0], X)  # reproducible


def test_wilson_data_labels_follow_p_and_p_is_checked():
    y = np.concatenate([claims.wilson_data(20, 0.75, seed=s)[1] for s in range(40)])
    assert 0.7 < np.mean(y > 0) < 0.85                    # p, nudged up by the majority condition
    y9 = np.concatenate([claims.wilson_data(20, 0.9, seed=s)[1] for s in range(40)])
    assert np.mean(y9 > 0) > np.mean(y > 0)
    for p in (0.5, 1.0, 0.2, 1.5):
        with pytest.raises(ValueError, match=f"Expected 0.5 < p < 1, but got {p}"):
            claims.wilson_data(5, p)


@pytest.mark.parametrize("seed", [0, 4])
def test_min_norm_is_the_minimum_norm_interpolant(seed):
    X, y = claims.wilson_data(12, seed=seed)
    w = claims.min_norm(X, y)
    assert np.allclose(X @ w, y, atol=1e-12)
    assert np.allclose(w, np.linalg.pinv(X) @ y, atol=1e-12)
    assert np.allclose(w, np.linalg.lstsq(X, y, rcond=None)[0], atol=1e-12)
    sign = np.sign(X.T @ y) / 4                            # another interpolant, and any w + null-space vector
    assert np.allclose(X @ sign, y) and np.linalg.norm(w) < np.linalg.norm(sign)
    null = np.random.default_rng(seed).normal(size=X.shape[1])
    null -= np.linalg.pinv(X) @ (X @ null)
    assert np.linalg.norm(w + null) > np.linalg.norm(w)
    assert np.allclose(w, X.T @ np.linalg.lstsq(X.T, w, rcond=None)[0])    # in the row space


def test_wilson_test_points_write_only_the_shared_features():
    X, y = claims.wilson_test(500, 42, p=0.75, seed=3)
    assert X.shape == (500, 42) and set(np.unique(y)) == {-1.0, 1.0}
    assert np.array_equal(X[:, 0], y) and np.all(X[:, 1:3] == 1.0) and np.all(X[:, 3:] == 0.0)
    assert 0.68 < np.mean(y > 0) < 0.82
    assert np.array_equal(claims.wilson_test(500, 42, seed=3)[1], y)


def wilson_draws(n, seeds):
    draws = [claims.wilson_data(n, 0.75, seed=s) for s in seeds]
    return np.stack([d[0] for d in draws]), np.stack([d[1] for d in draws])


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_wilson_run_sgd_generalizes_perfectly_adaptive_methods_answer_the_majority(name):
    n = 20
    Xs, ys = wilson_draws(n, range(6))
    _, tune = claims.wilson_run(Xs[:2], ys[:2], name, LRS, 400)               # tuned as the notebook does
    lr = float(LRS[int(np.argmin(tune.mean(axis=0)))])
    W, loss = claims.wilson_run(Xs[2:], ys[2:], name, [lr], 400)
    assert W.shape == (4, 6 * n, 1) and loss.shape == (4, 1)
    assert np.all(loss < 1e-5)                                                # every method interpolates
    for i in range(4):
        X, y, w = Xs[2 + i], ys[2 + i], W[i, :, 0]
        Xt, yt = claims.wilson_test(1000, 6 * n, seed=50 + i)
        error = np.mean(np.sign(Xt @ w) != yt)
        if name in ("SGD", "momentum"):
            assert error == 0.0
            assert np.allclose(w, claims.min_norm(X, y), atol=1e-6)           # gradient descent from 0 goes there
        else:
            assert error == np.mean(yt < 0)                                  # always +1: the minority is missed
            sign = np.sign(X.T @ y)
            assert w @ sign / (np.linalg.norm(w) * np.linalg.norm(sign)) > 0.999


def test_wilson_run_equals_a_hand_run_loop_and_marks_divergence():
    Xs, ys = wilson_draws(5, [0, 1])
    lrs = np.array([0.01, 0.3, 50.0])
    W, loss = claims.wilson_run(Xs, ys, "momentum", lrs, 30)
    for s in range(2):
        X, y = Xs[s], ys[s]
        for j in range(2):
            w, opt = np.zeros(X.shape[1]), optim.SGD(lr=lrs[j], momentum=0.9)
            for _ in range(30):
                w = opt.step(w, X.T @ (X @ w - y) / len(y))
            assert np.allclose(W[s, :, j], w, rtol=1e-10, atol=1e-14)
            assert loss[s, j] == pytest.approx(0.5 * np.mean((X @ w - y) ** 2), rel=1e-9, abs=1e-300)
    assert np.all(loss[:, 2] == np.inf) and np.all(np.isnan(W[:, :, 2]))     # lr 50 blows up (1e6 x its start)
    W, loss = claims.wilson_run(Xs, ys, "momentum", lrs, 300)
    assert np.all(loss[:, 2] == np.inf) and np.all(np.isnan(W[:, :, 2]))     # overflowed: inf loss, NaN weights
    assert np.all(np.isfinite(W[:, :, :2])) and np.all(np.isfinite(loss[:, :2]))


# ------------------------------------------------------------------------------------------------------ escape
def test_two_basin_starts_lie_in_the_wide_basin_and_gradient_descent_stays_there():
    f = functions.TwoBasin()
    starts = claims.two_basin_starts(f, 300, seed=2)
    assert starts.shape == (300, 1)
    xs = np.linspace(f.x_sharp, f.x_wide, 2001)
    barrier = xs[np.argmax(f(xs[None]))]
    assert f.x_sharp < barrier < f.x_wide and float(f.grad(np.array([barrier]))[0]) == pytest.approx(0, abs=1e-2)
    assert np.all(starts > barrier - 1e-2) and np.all(starts <= f.bounds[0][1])
    assert starts.max() > f.x_wide and starts.min() < f.x_wide               # on both sides of the wide minimum
    assert np.array_equal(claims.two_basin_starts(f, 300, seed=2), starts)
    # small steps from every start settle in the wide (local) minimum: the intended basin
    finals, _, _ = sweep(f, starts, claims.make("SGD"), np.full(300, 0.05), 1500)
    assert np.allclose(finals, f.local_minima[1], atol=1e-6)
    assert not claims.in_better_basin(f, finals).any()


def test_in_better_basin_on_hand_made_points():
    f = functions.TwoBasin()
    sharp, wide = f.local_minima[:, 0]
    finals = np.array([[sharp], [sharp + 0.05], [wide], [0.0], [-3.5], [5.0], [np.nan], [np.inf]])
    assert claims.in_better_basin(f, finals).tolist() == [True, True, False, False, False, False, False, False]


def test_left_saddle_on_hand_made_points():
    f = functions.Saddle()
    finals = np.array([[0.0, 1.0], [0.0, -1.0], [0.05, 1.0], [0.2, -1.0], [0.0, 0.0], [0.0, 1e-3],
                       [np.nan, 1.0], [0.0, np.inf]])
    assert claims.left_saddle(f, finals).tolist() == [True, True, True, False, False, False, False, False]
    assert claims.left_saddle(f, finals, tol=0.05).tolist()[:4] == [True, True, True, True]    # 0.2^2 = 0.04


def test_escape_counts_the_fraction_of_each_seeds_starts_that_succeed():
    f = functions.Saddle()
    lrs, steps = np.array([1e-3, 0.1, 0.9, 1.5]), 60
    starts = [f.random_starts(8, seed=s) for s in (0, 1, 2)]
    out = claims.escape(f, "SGD", lrs, starts, steps, claims.left_saddle)
    assert out.success.shape == out.loss.shape == (4, 3)
    for j, lr in enumerate(lrs):
        for s, block in enumerate(starts):
            finals = []
            for x in block:
                opt = optim.SGD(lr=lr)
                for _ in range(steps):
                    x = opt.step(x, f.grad(x))
                finals.append(x if np.all(np.isfinite(x)) and np.all(np.abs(x) < 1e6) else np.full(2, np.nan))
            assert out.success[j, s] == np.mean(claims.left_saddle(f, np.array(finals)))
    assert np.all(out.success[0] == 0.0)                   # lr 1e-3: 60 steps are too few to leave
    assert np.all(out.success[2] == 1.0)                   # lr 0.9: all leave within 60 steps
    assert np.all(out.loss[3] == np.inf) and np.all(out.success[3] == 0.0)   # lr 1.5 > 2/2 diverges along x
    assert np.array_equal(out.mean, out.success.mean(axis=1)) and np.array_equal(out.sd, out.success.std(axis=1))


def test_escape_from_the_wide_basin_needs_large_steps():
    f = functions.TwoBasin()
    starts = [claims.two_basin_starts(f, 30, seed=s) for s in (0, 1)]
    out = claims.escape(f, "SGD", [1e-2, 0.1], starts, 300, claims.in_better_basin)
    assert np.all(out.success == 0.0)                     # small steps never cross the barrier
    assert np.all(np.isfinite(out.loss)) and np.all(out.loss > 0.5)         # gap of the wide minimum, about 0.74


def test_wilson_data_rejects_no_examples_and_search_hits_on_an_all_diverged_curve():
    with pytest.raises(ValueError, match="Expected n >= 1"):
        claims.wilson_data(0)
    assert claims.search_hits(np.full(50, np.inf), 4, repeats=10) == (0.0, 0.0, 0.0)


def test_escape_hold_counts_only_runs_that_stay():
    f = functions.TwoBasin()
    starts = [claims.two_basin_starts(f, 50, seed=s) for s in (0, 1)]
    lrs = [0.01, 10.0]
    snap = claims.escape(f, "RMSprop", lrs, starts, 200, claims.in_better_basin)
    stay = claims.escape(f, "RMSprop", lrs, starts, 200, claims.in_better_basin, hold=50)
    assert np.all(stay.success <= snap.success)           # staying is stricter than a snapshot
    assert np.array_equal(stay.snapshot, snap.success)    # the snapshot comes with it
    assert np.array_equal(claims.escape(f, "RMSprop", lrs, starts, 200, claims.in_better_basin, hold=1).success,
                          snap.success)
    with pytest.raises(ValueError, match="hold"):
        claims.escape(f, "SGD", lrs, starts, 20, claims.in_better_basin, hold=21)
