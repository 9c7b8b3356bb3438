"""Races: optimizers side by side on one surface, each at the lr tuned for it (chapter 09).

``RACERS`` names the optimizers of chapters 01-09, each a function of the lr that builds an
``lrcourse.optim`` object with PyTorch's defaults for everything else. ``grid`` runs a racer at every
lr of a grid from every start at once (``runs.sweep``); ``best`` picks its lr from such a grid, by the
same rule for every racer; ``tune`` is the two together, and ``score`` runs the chosen lr from other
starts.

A run *finishes* at the first step from which its loss gap stays at or below ``target`` to the end of
the run; ``tune`` and ``score`` run twice the budget and count a run as finished when it got there
within the budget, so that a run which dips below the line and comes back up later does not count.
The rule: the tuned lr is the one by whose budget-step half of the starts have finished soonest (a
diverged run never finishes); then the one from which more starts finish; then the lower median
final gap (at the budget, floored at 1e-16); and among lrs still level, the middle one. Divergence
is not forbidden: ``score`` counts the runs that diverge at the chosen lr.
"""

from dataclasses import dataclass

import numpy as np

from lrcourse import functions, optim
from lrcourse.runs import sweep

__all__ = ["RACERS", "SURFACES", "LR_GRID", "TARGET", "settled_at", "half_finished", "Grid", "grid", "best", "tune",
           "score", "Score"]

RACERS = {
    "SGD": lambda lr: optim.SGD(lr=lr),
    "momentum": lambda lr: optim.SGD(lr=lr, momentum=0.9),
    "Nesterov": lambda lr: optim.SGD(lr=lr, momentum=0.9, nesterov=True),
    "AdaGrad": lambda lr: optim.Adagrad(lr=lr),
    "RMSprop": lambda lr: optim.RMSprop(lr=lr),
    "Adadelta": lambda lr: optim.Adadelta(lr=lr),
    "Adam": lambda lr: optim.Adam(lr=lr),
    "AMSGrad": lambda lr: optim.Adam(lr=lr, amsgrad=True),
    "AdamW": lambda lr: optim.AdamW(lr=lr),
    "Adamax": lambda lr: optim.Adamax(lr=lr),
    "NAdam": lambda lr: optim.NAdam(lr=lr),
    "RAdam": lambda lr: optim.RAdam(lr=lr),
}
"""The racers by name: each builds its optimizer from an lr (momentum 0.9; the rest at torch's defaults,
AdamW's weight decay 0.01 included)."""

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


@dataclass
class Grid:
    """Every lr of a grid from every start, run side by side: what ``best`` chooses from.

    ``history[t, i, j]``: the loss gap at step t from start i with lr j (``inf`` after a divergence);
    ``diverged_at[i, j]``: the step of the divergence, 0 if none; ``points`` (if asked for): the
    points, shape (steps + 1, starts, lrs, dim), NaN after a divergence.
    """
    lrs: np.ndarray
    history: np.ndarray
    diverged_at: np.ndarray
    points: np.ndarray | None = None

    @property
    def steps(self):
        return self.history.shape[0] - 1


def grid(f, make, starts, steps, lrs=LR_GRID, points=False):
    """Run the racer ``make`` at every lr of ``lrs`` from every start (shape (n, dim), or one start)."""
    starts = np.atleast_2d(np.asarray(starts, dtype=np.float64))
    lrs = np.atleast_1d(np.asarray(lrs, dtype=np.float64))
    n, k = len(starts), len(lrs)
    out = sweep(f, np.repeat(starts, k, axis=0), make(1.0), np.tile(lrs, n), steps, trace=True, points=points)
    history = out[3].reshape(steps + 1, n, k)
    path = out[4].reshape(steps + 1, n, k, f.dim) if points else None
    return Grid(lrs, history, out[2].reshape(n, k), path)


def half_finished(settled, steps):
    """For each lr (column): the step by which half of the starts have finished, ``inf`` if they have not
    all by ``steps``. ``settled`` has shape (starts, lrs), ``inf`` for a run that never finished."""
    settled = np.where(np.asarray(settled) <= steps, settled, np.inf)
    n = settled.shape[0]
    return np.sort(settled, axis=0)[(n + 1) // 2 - 1]


def best(runs, target=TARGET, steps=None, stay=None):
    """The lr of a ``Grid`` by the module's rule: finished within ``steps`` (default: all the grid's steps),
    staying below ``target`` to step ``stay`` (default: the grid's last step)."""
    stay = runs.steps if stay is None else stay
    steps = stay if steps is None else steps
    history = runs.history[:stay + 1]
    n, k = history.shape[1:]
    settled = settled_at(history.reshape(stay + 1, n * k), target).reshape(n, k)
    finished = settled <= steps
    final = np.median(np.log10(np.maximum(history[steps], 1e-16)), axis=0)   # inf where half diverged
    keys = np.stack([half_finished(settled, steps), -finished.sum(axis=0), final], axis=1)
    level = np.flatnonzero(np.all(keys == keys[np.lexsort(keys.T[::-1])[0]], axis=1))
    return float(runs.lrs[level[(len(level) - 1) // 2]])   # the middle of the lrs still level


def tune(f, make, starts, steps, target=TARGET, lrs=LR_GRID):
    """The racer's lr on the grid ``lrs`` by the module's rule, from ``starts`` (shape (n, 2) or one start):
    finished within ``steps``, staying below ``target`` to twice that."""
    return best(grid(f, make, starts, 2 * steps, lrs), target, steps=steps)


@dataclass
class Score:
    lr: float
    steps: int            # the budget
    settled: np.ndarray   # the step each start's run reached the line for good (inf: never), over twice the budget
    final: np.ndarray     # each run's loss gap at the budget (inf: diverged by then)
    diverged_at: np.ndarray  # the step each run diverged at, within twice the budget (0: never)

    @property
    def finished(self):
        """Below the line by the budget, and still below at twice the budget."""
        return self.settled <= self.steps

    @property
    def diverged(self):
        return self.diverged_at > 0


def score(f, make, lr, starts, steps, target=TARGET):
    """One racer at one lr from each start, run for twice the budget ``steps``: see ``Score``."""
    starts = np.atleast_2d(np.asarray(starts, dtype=np.float64))
    _, _, diverged_at, history = sweep(f, starts, make(1.0), np.full(len(starts), float(lr)), 2 * steps, trace=True)
    return Score(float(lr), steps, settled_at(history, target), history[steps], diverged_at)
