"""Chapter 13: the experiments that test the popular claims, each tuned by one fair protocol.

The protocol, used by every function here: each optimizer gets its **own** lr grid (``LRS``: 1e-4 to 10, four per
decade) and the same budget of steps; its lr is chosen on *tuning* seeds (or starts) by the lowest mean final loss,
and scored on other, *scoring* seeds, reported as mean and standard deviation. A run that diverges scores ``inf``, so
an lr at which any seed diverges is never chosen.

- ``PROBLEMS``: the course's problems by name (quadratics aligned with the axes or rotated, Rosenbrock, chapter 02-03's
  diabetes least squares with minibatches, chapter 06's digits logistic regression, chapter 12's digits MLP), each a
  function ``losses(name, lrs, seeds, steps, eps=None) -> (len(lrs), len(seeds))`` of final losses.
- ``width(lrs, losses)``: the range of lrs whose mean loss is within ``factor`` (2) of the best, in decades.
- ``sensitivity(...)``: the whole tuning curve, its width, the tuned lr and its score on the scoring seeds.
- ``search_hits(...)``: grid against random search for the lr (or for two hyperparameters) at equal budgets.
- ``wilson_data``, ``wilson_run``: the linear problem of Wilson et al. (2017, section 3.3) on which adaptive methods
  generalize at the level of always answering the majority class, while gradient descent generalizes perfectly.
- ``escape(...)``: many starts on the two-basin function or the saddle, the fraction of runs that end where a
  ``success`` rule says (the better basin; away from the saddle).
"""

from dataclasses import dataclass

import numpy as np

from lrcourse import _checks, functions, optim, race
from lrcourse.runs import minibatch_sweep, sweep

__all__ = ["OPTIMIZERS", "LRS", "EPS", "PROBLEMS", "make", "losses", "Width", "width", "Sensitivity",
           "sensitivity", "search_hits", "hit_probability", "wilson_data", "wilson_test", "wilson_run",
           "min_norm", "Escape", "escape", "two_basin_starts", "in_better_basin", "left_saddle"]

OPTIMIZERS = ("SGD", "momentum", "AdaGrad", "RMSprop", "Adam")
"""The optimizers compared: chapter 09's racers of these names (momentum 0.9; the rest at torch's defaults)."""

ADAPTIVE = ("AdaGrad", "RMSprop", "Adam")

LRS = 10.0 ** np.round(np.arange(-16, 5) / 4, 2)
"""1e-4 to 10, four lrs per decade (a factor 1.78 apart)."""

EPS = (1e-8, 1e-6, 1e-4, 1e-2, 1.0)
"""The eps grid for Adam and RMSprop (after Choi et al. 2019, who tuned it)."""

FLOOR = 1e-10
"""A final loss below this counts as this: the problem is solved, and "within 2x of the best" means within 2x of it."""

TORCH_DEFAULT_LR = {"SGD": 1e-3, "momentum": 1e-3, "AdaGrad": 1e-2, "RMSprop": 1e-2, "Adam": 1e-3}
"""torch.optim's default lr of each (torch 2's SGD defaults to 1e-3 too, as the course library's does)."""


def make(name, eps=None):
    """The optimizer ``name`` of ``OPTIMIZERS`` (any racer of ``lrcourse.race``), with ``eps`` set if given (an array:
    one eps per run, side by side)."""
    if name not in race.RACERS:
        raise ValueError(f"expected one of ({', '.join(race.RACERS)}), got {name}")
    opt = race.RACERS[name](1.0)
    if eps is not None:
        if not hasattr(opt, "eps"):
            raise ValueError(f"{name} has no eps")
        for value in np.ravel(np.asarray(eps, dtype=np.float64)):
            _checks.eps(float(value))
        opt.eps = np.asarray(eps, dtype=np.float64)
    return opt


# ------------------------------------------------------------------------------------------------- the problems
def _surface_losses(f, name, lrs, seeds, steps, eps, starts_per_seed=1):
    """Final loss gaps from one random start per seed: (len(lrs), len(seeds)), inf where a run diverged."""
    starts = np.concatenate([f.random_starts(starts_per_seed, seed=int(s)) for s in seeds])
    n, k = len(starts), len(lrs)
    tiled_eps = None if eps is None else np.tile(np.broadcast_to(eps, (k,)), n)
    _, gaps, _ = sweep(f, np.repeat(starts, k, axis=0), make(name, tiled_eps), np.tile(lrs, n), steps)
    return gaps.reshape(n, k).T


def _minibatch_losses(problem, name, lrs, seeds, steps, eps, batch_size=16):
    eps = None if eps is None else np.broadcast_to(eps, (len(lrs),))
    out = minibatch_sweep(problem, make(name, eps), lrs, batch_size, steps, seed=list(seeds), every=steps)
    return out.gaps[:, :, -1].T                                                     # (k, S)


_CACHE = {}


def _cached(key, build):
    if key not in _CACHE:
        _CACHE[key] = build()
    return _CACHE[key]


def _net_losses(name, lrs, seeds, steps, eps, batch_size=32):
    """Chapter 12's digits MLP (64-32-10): the mean training cross-entropy after the budget, one copy per (lr, seed)."""
    import torch

    from lrcourse import get_device, training

    problem = _cached("digits", lambda: __import__("lrcourse.nets", fromlist=["load"]).load("digits", get_device()))
    options = {"SGD": ("SGD", {}), "momentum": ("SGD, momentum 0.9", {}), "AdaGrad": ("Adagrad", {}),
               "RMSprop": ("RMSprop", {}), "Adam": ("Adam", {})}
    if name not in options:
        raise ValueError(f"expected one of ({', '.join(options)}), got {name}")
    key, _ = options[name]
    lrs = np.asarray(lrs, float)
    if eps is None:
        groups = [(None, np.arange(len(lrs)))]
    else:
        make(name, eps)                                    # the same checks as on the other problems
        per_lr = np.broadcast_to(np.asarray(eps, dtype=np.float64), lrs.shape)
        groups = [(float(e), np.flatnonzero(per_lr == e)) for e in np.unique(per_lr)]   # one eps per lr
    out = np.empty((len(lrs), len(list(seeds))))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for e, rows in groups:
            extra = {} if e is None else {"eps": e}
            curves = training.train_stacked(problem, key, lrs[rows], list(seeds), steps, batch_size, **extra)
            out[rows] = curves.final("train_loss")                                  # inf where diverged
    finally:
        torch.set_num_threads(threads)
    return out


PROBLEMS = {
    "quadratic, aligned": lambda: functions.Quadratic((0.01, 1.0), angle=0.0, start=(1.0, 0.5)),
    "quadratic, rotated": lambda: functions.Quadratic((0.01, 1.0), angle=np.pi / 6, start=(1.0, 0.5)),
    "Rosenbrock": functions.Rosenbrock,
    "diabetes, least squares": functions.LeastSquares.diabetes,
    "digits, logistic": functions.Logistic.digits,
    "digits, MLP": None,
}
"""The problems by name: each builds its surface (the MLP is trained by ``lrcourse.training``)."""

BUDGETS = {"quadratic, aligned": 100, "quadratic, rotated": 100, "Rosenbrock": 500, "diabetes, least squares": 200,
           "digits, logistic": 300, "digits, MLP": 100}
"""The budget of steps used for each problem in chapter 13 (every optimizer gets the same)."""


def losses(problem, name, lrs, seeds, steps, eps=None):
    """Final losses of optimizer ``name`` on ``problem`` (a key of ``PROBLEMS``): shape (len(lrs), len(seeds)).

    A seed is a random start on the surfaces, a minibatch order on the data sets (batches of 16; the MLP: an
    initialization and an order, batches of 32). The loss is the gap to the minimum (excess loss on the linear
    models); on the MLP the full training cross-entropy. ``inf`` marks a diverged run; a loss below ``FLOOR`` counts
    as ``FLOOR`` (solved)."""
    lrs = np.atleast_1d(np.asarray(lrs, dtype=np.float64))
    if np.any(~(lrs >= 0)):
        raise ValueError(f"Invalid learning rate: {lrs[~(lrs >= 0)][0]}")
    if problem not in PROBLEMS:
        raise ValueError(f"expected one of ({', '.join(PROBLEMS)}), got {problem}")
    if int(steps) < 1:
        raise ValueError(f"Expected steps >= 1, but got {steps}")
    if problem == "digits, MLP":
        out = _net_losses(name, lrs, seeds, int(steps), eps)
    else:
        f = _cached(problem, PROBLEMS[problem])
        if isinstance(f, (functions.LeastSquares, functions.Logistic)):
            out = _minibatch_losses(f, name, lrs, seeds, int(steps), eps)
        else:
            out = _surface_losses(f, name, lrs, seeds, int(steps), eps)
    return np.maximum(np.where(np.isnan(out), np.inf, out), FLOOR)


# ------------------------------------------------------------------------------------- the width of the good range
@dataclass
class Width:
    lo: float         # the smallest lr whose mean loss is within the factor of the best (NaN: no finite loss)
    hi: float         # the largest such lr
    best_lr: float
    best: float       # the best mean loss

    @property
    def decades(self):
        """log10(hi / lo): 0 when one lr alone is within the factor."""
        return float(np.log10(self.hi / self.lo)) if np.isfinite(self.lo) else float("nan")

    @property
    def factor(self):
        return self.hi / self.lo


def width(lrs, losses, factor=2.0):
    """The lrs whose mean loss is within ``factor`` of the best (NaN and inf: diverged, never within).

    ``losses`` is one mean loss per lr, or (lrs, seeds): then the mean over the seeds is used. The range runs from the
    smallest to the largest such lr (an lr between them that is not within counts as a gap, not as a second range).
    The best lr is the one with the lowest mean loss; among lrs level with it, the middle one (chapter 09's rule)."""
    lrs = np.asarray(lrs, dtype=np.float64)
    losses = np.asarray(losses, dtype=np.float64)
    mean = losses.mean(axis=1) if losses.ndim == 2 else losses
    mean = np.where(np.isnan(mean), np.inf, mean)
    if not np.isfinite(mean).any():
        return Width(np.nan, np.nan, np.nan, np.inf)
    best = float(mean.min())
    ok = mean <= factor * best if best > 0 else mean <= best
    level = np.flatnonzero(mean == best)
    return Width(float(lrs[ok].min()), float(lrs[ok].max()), float(lrs[level[(len(level) - 1) // 2]]), best)


@dataclass
class Sensitivity:
    problem: str
    optimizer: str
    lrs: np.ndarray
    tuning: np.ndarray       # (lrs, tuning seeds): final losses
    width: Width             # of the tuning curve (mean over the tuning seeds)
    scores: np.ndarray       # (scoring seeds,): final losses at the tuned lr
    steps: int
    eps: float | None = None

    @property
    def tuned_lr(self):
        return self.width.best_lr

    @property
    def mean(self):
        return self.tuning.mean(axis=1)


def sensitivity(problem, name, tuning_seeds, scoring_seeds, steps=None, lrs=LRS, eps=None):
    """Tune ``name``'s lr on ``problem`` over ``lrs`` on the tuning seeds, score it on the scoring seeds."""
    steps = BUDGETS[problem] if steps is None else steps
    if set(tuning_seeds) & set(scoring_seeds):
        raise ValueError("the tuning seeds and the scoring seeds must differ")
    lrs = np.asarray(lrs, dtype=np.float64)
    tuning = losses(problem, name, lrs, tuning_seeds, steps, eps)
    w = width(lrs, tuning)
    scores = (losses(problem, name, [w.best_lr], scoring_seeds, steps, eps)[0] if np.isfinite(w.best)
              else np.full(len(scoring_seeds), np.inf))
    return Sensitivity(problem, name, lrs, tuning, w, scores, steps, eps)


# ------------------------------------------------------------------------------------------ grid against random
def hit_probability(p, k):
    """The chance that the best of k independent draws lands in a set of probability p: 1 - (1 - p)^k."""
    return 1.0 - (1.0 - p) ** k


def search_hits(curve, k, repeats=2000, seed=0, factor=2.0):
    """Grid against random search at a budget of ``k`` trials, on a dense table of mean losses ``curve``.

    ``curve`` holds the loss at every point of a dense log grid: one axis per hyperparameter (1-D: the lr; 2-D: lr by
    eps ...). A *grid* search takes round(k^(1/D)) evenly spaced values per axis (a random offset each repeat, so that
    it is not tied to the table's points); a *random* search draws k points uniformly on the (log) table. A search
    *hits* when its best trial is within ``factor`` of the table's best. Returns (grid hit rate, random hit rate,
    p = the fraction of the table within the factor)."""
    curve = np.asarray(curve, dtype=np.float64)
    curve = np.where(np.isnan(curve), np.inf, curve)
    if not np.isfinite(curve).any():                     # every run diverged: nothing is good, no search hits
        return 0.0, 0.0, 0.0
    good = curve <= factor * curve.min()
    rng = np.random.default_rng(seed)
    D = curve.ndim
    per_axis = max(1, int(round(k ** (1.0 / D))))
    grid_hits = np.zeros(repeats, dtype=bool)
    for r in range(repeats):
        axes = []
        for n in curve.shape:
            spacing = n / per_axis
            axes.append(np.minimum((rng.uniform(0, spacing) + spacing * np.arange(per_axis)).astype(int), n - 1))
        grid_hits[r] = good[np.ix_(*axes)].any()
    draws = tuple(rng.integers(0, n, (repeats, k)) for n in curve.shape)
    random_hits = good[draws].any(axis=1)
    return float(grid_hits.mean()), float(random_hits.mean()), float(good.mean())


# ----------------------------------------------------------------------------------- Wilson et al. 2017, sec. 3.3
def wilson_data(n, p=0.75, seed=0):
    """Wilson et al.'s training set: n examples with 6n features; labels +1 with probability p, else -1.

    Example i: x_i1 = y_i, x_i2 = x_i3 = 1, and its own "unique" features: one (column 3 + 5i) when y_i = 1, five
    (columns 3 + 5i .. 7 + 5i) when y_i = -1 (i from 0). Returns (X, y). Draws are repeated until the positive class is
    the majority (the construction's condition, which makes sign(X^T y) interpolate)."""
    if not 0.5 < p < 1:
        raise ValueError(f"Expected 0.5 < p < 1, but got {p}")
    if int(n) != n or n < 1:
        raise ValueError(f"Expected n >= 1 examples, but got {n}")
    rng = np.random.default_rng(seed)
    while True:
        y = np.where(rng.random(n) < p, 1.0, -1.0)
        if y.sum() > 0:
            break
    X = np.zeros((n, 6 * n))
    X[:, 0], X[:, 1], X[:, 2] = y, 1.0, 1.0
    for i in range(n):
        X[i, 3 + 5 * i: 3 + 5 * i + (1 if y[i] > 0 else 5)] = 1.0
    return X, y


def wilson_test(m, dim, p=0.75, seed=1):
    """m fresh test examples: their unique features are new columns, never seen in training (a weight there stays 0
    for every method), so only the first three columns are written. Returns (X_test (m, dim), y_test)."""
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(m) < p, 1.0, -1.0)
    X = np.zeros((m, dim))
    X[:, 0], X[:, 1], X[:, 2] = y, 1.0, 1.0
    return X, y


def min_norm(X, y):
    """The minimum-norm solution of X w = y (more features than examples): X^T (X X^T)^-1 y, where GD from 0 goes."""
    return X.T @ np.linalg.solve(X @ X.T, y)


WILSON_BLOWUP = 1e6
"""A Wilson run whose training loss ends above this many times its start (|y|^2 / 2n = 0.5) has diverged."""


def wilson_run(Xs, ys, name, lrs, steps):
    """Full-batch least squares f(w) = |X w - y|^2 / (2n) from w = 0, for every draw (Xs: (S, n, d)) and lr at once.

    Returns (W (S, d, k), training loss (S, k)); a diverged run (loss not finite, or above ``WILSON_BLOWUP`` times
    its starting loss) is NaN / inf."""
    Xs, ys = np.asarray(Xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    S, n, d = Xs.shape
    lrs = np.asarray(lrs, dtype=np.float64)
    W = np.zeros((S, d, len(lrs)))
    opt = make(name)
    opt.reset()
    opt.lr = lrs
    with np.errstate(all="ignore"):
        for _ in range(steps):
            R = Xs @ W - ys[:, :, None]
            W = opt.step(W, Xs.transpose(0, 2, 1) @ R / n)
        loss = 0.5 * np.mean((Xs @ W - ys[:, :, None]) ** 2, axis=1)
    start = 0.5 * np.mean(ys ** 2, axis=1)[:, None]
    bad = ~(loss <= WILSON_BLOWUP * start)
    loss[bad] = np.inf
    W[np.broadcast_to(bad[:, None, :], W.shape)] = np.nan
    return W, loss


# ----------------------------------------------------------------------------------------------- escape
@dataclass
class Escape:
    lrs: np.ndarray
    success: np.ndarray     # (lrs, seeds): the fraction of each seed's starts that succeeded
    loss: np.ndarray        # (lrs, seeds): the mean final loss gap of each seed's starts (inf: one diverged)
    snapshot: np.ndarray = None   # (lrs, seeds): the fraction that count at the last step alone (with hold > 1)

    @property
    def mean(self):
        return self.success.mean(axis=1)

    @property
    def sd(self):
        return self.success.std(axis=1)


def two_basin_starts(f, n, seed):
    """n starts in the wide (local) basin of a ``TwoBasin``: uniform between the barrier and the right edge."""
    xs = np.linspace(f.x_sharp, f.x_wide, 20001)
    barrier = xs[np.argmax(f(xs[None]))]
    return np.random.default_rng(seed).uniform(barrier, f.bounds[0][1], n)[:, None]


def in_better_basin(f, finals):
    """Which final points of a ``TwoBasin`` lie deep in its sharp, global basin: a loss below the midpoint between the
    two minima's values (only points inside the sharp basin get there)."""
    x = np.asarray(finals, dtype=np.float64)
    level = 0.5 * float(f(f.local_minima[0]) + f(f.local_minima[1]))
    with np.errstate(invalid="ignore"):
        return np.isfinite(x[:, 0]) & (f(np.nan_to_num(x).T) < level)


def left_saddle(f, finals, tol=1e-2):
    """Which final points of the ``Saddle`` lie within ``tol`` (in loss) of one of its two minima."""
    gaps = f(np.where(np.isfinite(finals), finals, 0.0).T) - f.min_value
    return np.all(np.isfinite(finals), axis=1) & (gaps < tol)


def escape(f, name, lrs, starts, steps, success, hold=1):
    """Run ``name`` at every lr from every start; ``starts`` is a list (one entry per seed) of (n, dim) arrays.

    ``success(f, points)`` says which points count. A run succeeds when its point counts at each of the last ``hold``
    steps (``hold=1``: the final point alone, a snapshot; a run still bouncing between basins can be caught at a lucky
    step, so chapter 13 asks that it *stays*). Returns an ``Escape`` (fractions per lr and seed)."""
    lrs = np.asarray(lrs, dtype=np.float64)
    k, S = len(lrs), len(starts)
    n = len(starts[0])
    hold = int(hold)
    if not 1 <= hold <= steps:
        raise ValueError(f"Expected 1 <= hold <= steps, but got hold {hold}")
    every = np.concatenate(starts)
    if hold == 1:
        finals, gaps, _ = sweep(f, np.repeat(every, k, axis=0), make(name), np.tile(lrs, len(every)), steps)
        ok = success(f, finals)
    else:
        finals, gaps, _, _, path = sweep(f, np.repeat(every, k, axis=0), make(name), np.tile(lrs, len(every)),
                                         steps, trace=True, points=True)
        ok = np.ones(len(finals), dtype=bool)
        for t in range(steps + 1 - hold, steps + 1):
            ok &= success(f, path[t])
    last = success(f, finals).reshape(S, n, k).mean(axis=1).T
    ok = ok.reshape(S, n, k)
    gaps = gaps.reshape(S, n, k)
    return Escape(lrs, ok.mean(axis=1).T, gaps.mean(axis=1).T, last)
