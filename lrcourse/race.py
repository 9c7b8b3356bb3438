"""Races: optimizers side by side on one surface, each at the lr tuned for it (chapter 09).

``RACERS`` names the optimizers of chapters 01-09, each a function of the lr that builds an
``lrcourse.optim`` object with PyTorch's defaults for everything else. ``tune`` picks a racer's lr
from a grid, the same rule for every racer; ``score`` runs it from other starts. Both run every lr
and every start at once, with ``runs.sweep``.

The rule: a run *settles* at the first step from which its loss gap stays at or below ``target``.
The tuned lr settles soonest, as the median over the starts; an lr at which any start diverges is
out; ties go to the lower geometric mean of the final gaps; and where no lr settles from at least
half the starts, the lowest geometric mean of the final gaps decides.
"""

from dataclasses import dataclass

import numpy as np

from lrcourse import functions, optim
from lrcourse.runs import sweep

__all__ = ["RACERS", "SURFACES", "LR_GRID", "TARGET", "settled_at", "tune", "score", "Score"]

RACERS = {
    "SGD": lambda lr: optim.SGD(lr=lr),
    "momentum": lambda lr: optim.SGD(lr=lr, momentum=0.9),
    "Nesterov": lambda lr: optim.SGD(lr=lr, momentum=0.9, nesterov=True),
    "AdaGrad": lambda lr: optim.Adagrad(lr=lr),
    "RMSprop": lambda lr: optim.RMSprop(lr=lr),
    "Adadelta": lambda lr: optim.Adadelta(lr=lr),
    "Adam": lambda lr: optim.Adam(lr=lr),
    "AMSGrad": lambda lr: optim.Adam(lr=lr, amsgrad=True),
    "Adamax": lambda lr: optim.Adamax(lr=lr),
    "NAdam": lambda lr: optim.NAdam(lr=lr),
    "RAdam": lambda lr: optim.RAdam(lr=lr),
}
"""The racers by name: each builds its optimizer from an lr (momentum 0.9; the rest at torch's defaults)."""

SURFACES = {
    "Rosenbrock": functions.Rosenbrock,
    "Beale": functions.Beale,
    "saddle": functions.Saddle,
    "quadratic, kappa 100": lambda: functions.Quadratic((0.01, 1.0), angle=np.pi / 6, start=(1.0, 0.5)),
    "Styblinski-Tang": functions.StyblinskiTang,
}
"""The race tracks by name: each builds its surface."""

TARGET = 1e-6
"""A run has finished the race once its loss gap stays at or below this."""

LR_GRID = 10.0 ** np.round(np.arange(-50, 11) / 10, 1)
"""1e-5 to 10, ten lrs per decade: the positions of the race widget's lr sliders."""


def settled_at(history, target):
    """The first step from which each run's loss gap stays <= target, ``inf`` where it never does.

    ``history`` holds the gaps of k runs at steps 0 .. n, shape (n + 1, k), ``inf`` after a divergence
    (as ``sweep(..., trace=True)`` gives them). A run that dips below ``target`` and comes back up has
    not settled: with momentum a path can cross the minimum long before it stays there.
    """
    history = np.asarray(history, dtype=np.float64)
    above = ~(history <= target)
    n = history.shape[0]
    last_above = np.where(above.any(axis=0), n - 1 - np.argmax(above[::-1], axis=0), -1)
    return np.where(last_above < n - 1, last_above + 1.0, np.inf)


def _runs(f, make, lrs, starts, steps):
    """Every (start, lr) pair at once: (settled step, final gap, diverged), each of shape (starts, lrs)."""
    starts = np.atleast_2d(np.asarray(starts, dtype=np.float64))
    lrs = np.atleast_1d(np.asarray(lrs, dtype=np.float64))
    n, k = len(starts), len(lrs)
    _, gaps, diverged_at, history = sweep(f, np.repeat(starts, k, axis=0), make(1.0), np.tile(lrs, n), steps,
                                          trace=True)
    return history, gaps.reshape(n, k), diverged_at.reshape(n, k) > 0


def _geometric_mean(gaps, axis=0):
    return np.exp(np.mean(np.log(np.maximum(gaps, 1e-300)), axis=axis))


def tune(f, make, starts, steps, target=TARGET, lrs=LR_GRID):
    """The racer's lr on the grid ``lrs`` by the module's rule, from ``starts`` (shape (n, 2) or one start)."""
    lrs = np.asarray(lrs, dtype=np.float64)
    history, gaps, diverged = _runs(f, make, lrs, starts, steps)
    settled = settled_at(history, target).reshape(gaps.shape)
    median = np.median(settled, axis=0)
    final = _geometric_mean(gaps)
    out = diverged.any(axis=0)
    if np.all(out):
        return float(lrs[np.argmin(diverged.sum(axis=0))])  # nothing survives: the lr that loses fewest
    if np.any(np.isfinite(median) & ~out):
        key = np.lexsort((final, np.where(out, np.inf, median)))
    else:
        key = np.argsort(np.where(out, np.inf, final), kind="stable")
    return float(lrs[key[0]])


@dataclass
class Score:
    lr: float
    settled: np.ndarray   # the step each start's run settled at (inf: never)
    final: np.ndarray     # each run's final loss gap (inf: diverged)
    finals: np.ndarray    # each run's final point (NaN: diverged)

    @property
    def diverged(self):
        return ~np.isfinite(self.final)


def score(f, make, lr, starts, steps, target=TARGET):
    """One racer at one lr from each start: when it settled below ``target``, its final gap and point."""
    starts = np.atleast_2d(np.asarray(starts, dtype=np.float64))
    finals, gaps, _, history = sweep(f, starts, make(1.0), np.full(len(starts), float(lr)), steps, trace=True)
    return Score(float(lr), settled_at(history, target), gaps, finals)
