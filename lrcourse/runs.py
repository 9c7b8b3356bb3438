"""Run an optimizer on a surface, stop cleanly at divergence, and say what happened.

``run(f, x0, optimizer, steps)`` returns a ``Run`` with the iterates, the
loss gaps f(x_t) - f_min, and ``diverged_at``: the first step whose point is
no longer finite or has flown beyond ``limit``. The run stops there, so every
number a plot or a widget receives is finite, however large the lr.

``regime_1d(L, lr)`` names the four regimes of gradient descent on
f(x) = L/2 x^2, whose iterates are x_t = (1 - lr L)^t x_0.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["Run", "run", "regime_1d", "REGIMES", "describe", "gd_sweep", "sweep", "sgd_sweep", "minibatch_sweep",
           "MinibatchRuns", "track"]

REGIMES = {
    "monotone": "0 < lr < 1/L: x shrinks towards 0 without changing sign",
    "one step": "lr = 1/L: the first step lands exactly on the minimum",
    "oscillating": "1/L < lr < 2/L: x flips sign every step while it shrinks",
    "edge": "lr = 2/L: x flips sign forever at constant size, neither converging nor diverging",
    "divergent": "lr > 2/L: x flips sign and grows without bound",
    "no step": "lr = 0: x never moves",
}


def regime_1d(L, lr, rtol=1e-9):
    """The regime of GD with this lr on f(x) = L/2 x^2 (boundaries matched to rtol)."""
    if lr < 0 or L <= 0:
        raise ValueError(f"Expected lr >= 0 and L > 0, but got lr={lr}, L={L}")
    q = lr * L
    if q == 0:
        return "no step"
    if np.isclose(q, 1.0, rtol=rtol, atol=0):
        return "one step"
    if np.isclose(q, 2.0, rtol=rtol, atol=0):
        return "edge"
    if q < 1:
        return "monotone"
    return "oscillating" if q < 2 else "divergent"


@dataclass
class Run:
    xs: np.ndarray          # iterates x_0 .. x_k, shape (k + 1, dim); all finite
    gaps: np.ndarray        # f(x_t) - f_min for the same steps
    steps: int              # steps asked for
    diverged_at: int | None  # the step at which the run flew off, or None
    states: dict | None = None  # with keep_state: the optimizer's buffers after steps 1 .. k, e.g. states["s"]

    @property
    def diverged(self):
        return self.diverged_at is not None

    @property
    def final(self):
        return self.xs[-1]


def _divergence_bounds(f, gap0, blowup, limit):
    """(largest loss gap, largest |coordinate|) a run may reach before it counts as diverged."""
    if limit is None:
        limit = 1e6 * max(1.0, float(np.max(np.abs(f.bounds))))
    return blowup * np.maximum(gap0, 1e-12), limit


def run(f, x0, optimizer, steps, schedule=None, blowup=1e6, limit=None, keep_state=False):
    """Run ``optimizer`` (an ``lrcourse.optim`` object) on surface ``f`` for ``steps`` steps.

    ``schedule(t)``, if given, sets the lr before step t. The run stops at the
    first step that diverges: its point is not finite, lies further than
    ``limit`` from the origin (default: 1e6 times the plotting box), or its
    loss gap f(x_t) - f_min has grown ``blowup`` times past the start's.
    ``keep_state=True`` records the optimizer's buffers (``s``, ``m``, ``v`` ...)
    after every step kept, in ``Run.states``: one array of shape (steps kept, dim) each.
    """
    x = np.array(x0, dtype=np.float64).reshape(f.dim)
    f_min = f.min_value
    gap0 = float(f(x)) - f_min
    ceiling, limit = _divergence_bounds(f, gap0, blowup, limit)
    optimizer.reset()
    xs, gaps, diverged_at = [x], [gap0], None
    states = {name: [] for name in optimizer._state_names} if keep_state else None
    for t in range(steps):
        if schedule is not None:
            optimizer.lr = schedule(t)
        x = optimizer.step(x, f.grad(x))
        gap = float(f(x)) - f_min if np.all(np.isfinite(x)) else np.inf
        if not np.isfinite(gap) or gap > ceiling or np.max(np.abs(x)) > limit:
            diverged_at = t + 1
            break
        xs.append(x)
        gaps.append(gap)
        if keep_state:
            for name, kept in states.items():
                kept.append(np.copy(getattr(optimizer, name)))
    if keep_state:
        states = {name: np.array(kept, dtype=np.float64).reshape(len(kept), np.size(kept[0]) if kept else x.size)
                  for name, kept in states.items() if all(v is not None for v in kept)}
    return Run(xs=np.array(xs), gaps=np.maximum(np.array(gaps), 0.0), steps=steps,
               diverged_at=diverged_at, states=states)


def _flips(xs):
    """How many consecutive steps reverse direction (a zig-zag flips every step)."""
    d = np.diff(xs, axis=0)
    return int(np.sum(np.einsum("ij,ij->i", d[1:], d[:-1]) < 0)), max(len(d) - 1, 0)


def describe(result, tol=1e-8):
    """A short plain-language account of a run: diverged, converged, converging, growing ..."""
    if result.diverged:
        return f"diverged at step {result.diverged_at} (the loss grew a millionfold or overflowed)"
    xs, gaps = result.xs, result.gaps
    if len(xs) < 3:
        return f"after {len(xs) - 1} step(s) the loss gap is {gaps[-1]:.3g}"
    moves = np.linalg.norm(np.diff(xs, axis=0), axis=1)
    size = max(1.0, float(np.linalg.norm(xs[-1])))
    where = ", ".join(f"{v:.3g}" for v in xs[-1])
    where = where if len(xs[-1]) == 1 else f"({where})"
    if moves[-1] <= tol * size:
        first = int(np.argmax(moves <= tol * size))
        flips, pairs = _flips(xs[: first + 2])
        how = "with oscillations" if pairs and flips > pairs // 2 else "monotonically"
        return f"converged {how} to {where} in about {first} steps"
    flips, pairs = _flips(xs[-8:])
    zigzag = " with a zig-zag" if pairs and flips == pairs else ""
    ratio = gaps[-1] / gaps[0] if gaps[0] > 0 else np.inf
    n = result.steps
    rising = len(moves) >= 8 and np.all(np.diff(moves[-8:]) > 1e-9 * moves[-8])
    if ratio > 2 or (rising and ratio > 1):
        return f"growing{zigzag}: the loss gap is {ratio:.3g} times its start after {n} steps (diverging)"
    if zigzag and moves[-1] >= 0.5 * moves[-8]:
        return f"oscillating without settling after {n} steps"
    if ratio < 1e-3:
        return f"converging{zigzag}: the loss gap is down by a factor {1 / ratio:.2g} after {n} steps"
    return f"slow progress{zigzag}: the loss gap is {ratio:.2g} of its start after {n} steps (at {where})"


def gd_sweep(f, x0, lrs, steps, blowup=1e6, limit=None):
    """Plain gradient descent for many learning rates at once (vectorized over the lrs).

    Returns ``(finals, gaps, diverged_at)``: the final point for each lr (shape
    ``(len(lrs), dim)``, NaN where the run diverged), its loss gap f - f_min
    (``inf`` where it diverged), and the step at which each run diverged (0 if
    it did not), by the same rule as ``run``. ``f`` must accept a batch of
    points of shape ``(dim, n)``, as every surface in ``lrcourse.functions`` does.
    """
    from lrcourse.optim import SGD

    return sweep(f, x0, SGD(), lrs, steps, blowup, limit)


def sweep(f, x0, optimizer, lrs, steps, blowup=1e6, limit=None, trace=False, points=False):
    """Any optimizer of ``lrcourse.optim`` on a surface, for many learning rates at once.

    The optimizer's ``lr`` is replaced by the array ``lrs``: its update rules are elementwise, so one
    optimizer steps every run side by side, each column of its state (``s``, ``m``, ``v`` ...) one
    run's. Afterwards the optimizer still holds that state, for a look at it. Returns
    ``(finals, gaps, diverged_at)`` as ``gd_sweep`` does, by the same rule as ``run``. ``x0`` is one start
    for all runs, or one per run (shape ``(len(lrs), dim)``), each run judged against its own start; with
    ``trace=True`` also the loss gap of every run at every step, shape ``(steps + 1, len(lrs))``
    (``inf`` once a run has diverged), and with ``points=True`` (after it, if both) every run's point at
    every step, shape ``(steps + 1, len(lrs), dim)`` (NaN from the step at which a run diverged on).
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    x0 = np.asarray(x0, dtype=np.float64)
    if x0.ndim == 2:  # one start per run
        if x0.shape != (len(lrs), f.dim):
            raise ValueError(f"Expected one start per lr, of shape ({len(lrs)}, {f.dim}), but got {x0.shape}")
        x = x0.T.copy()
    else:
        x = np.repeat(x0.reshape(f.dim, 1), len(lrs), axis=1)
    f_min = f.min_value
    with np.errstate(all="ignore"):
        ceiling, limit = _divergence_bounds(f, np.maximum(f(x) - f_min, 0.0), blowup, limit)
    diverged_at = np.zeros(len(lrs), dtype=int)
    alive = np.ones(len(lrs), dtype=bool)
    optimizer.reset()
    optimizer.lr = lrs
    history = np.full((steps + 1, len(lrs)), np.inf) if trace else None
    path = np.full((steps + 1, len(lrs), f.dim), np.nan) if points else None
    with np.errstate(all="ignore"):
        if trace:
            history[0] = np.maximum(f(x) - f_min, 0.0)
        if points:
            path[0] = x.T
        for t in range(steps):
            x = optimizer.step(x, f.grad(x))
            gap = f(x) - f_min
            bad = alive & (~np.isfinite(gap) | (gap > ceiling) | np.any(np.abs(x) > limit, axis=0))
            diverged_at[bad] = t + 1
            alive &= ~bad
            if trace:
                history[t + 1] = np.where(alive, np.maximum(gap, 0.0), np.inf)
            if points:
                path[t + 1] = np.where(alive, x, np.nan).T
            if not alive.any():
                break
        gaps = np.where(alive, np.maximum(f(x) - f_min, 0.0), np.inf)
    finals = np.where(alive, x, np.nan).T
    return (finals, gaps, diverged_at) + ((history,) if trace else ()) + ((path,) if points else ())


def sgd_sweep(problem, lrs, batch_size, steps, seed=0, every=1, blowup=1e6, start=None):
    """Minibatch SGD on a ``LeastSquares`` problem for many learning rates at once.

    ``lrs`` is an array of k learning rates, a (k, steps) array whose row i is
    the schedule of run i (lr of step t in column t), or a function ``lrs(t)``
    giving the k learning rates of step t. All runs start at
    ``start`` (default ``problem.start``) and see the same batches (rows drawn with replacement
    from a generator seeded with ``seed``). Returns ``(steps_recorded, gaps)``:
    the steps 0, every, 2*every, ... and the excess loss f(w) - f* of each run
    there, shape (k, len(steps_recorded)); a run that diverges (its excess loss
    grows ``blowup`` times past its start, or overflows) is ``inf`` from then on.

    ``seed`` may also be a sequence of S seeds: then every seed gets its own
    batches (the same ones a single-seed call with that seed draws), the k runs
    are repeated for each, and ``gaps`` has shape (S, k, len(steps_recorded)).
    """
    seeds = np.atleast_1d(np.asarray(seed, dtype=np.int64))
    if callable(lrs):
        scales = None  # lr / B of each step, asked for step by step
        k = len(np.atleast_1d(lrs(0)))
    else:
        lrs = np.asarray(lrs, dtype=np.float64)
        if lrs.ndim == 2 and lrs.shape[1] < steps:
            raise ValueError(f"Expected a schedule of at least {steps} steps per run, but got {lrs.shape[1]}")
        scales = (lrs[:, :steps].T if lrs.ndim == 2 else np.broadcast_to(lrs, (steps, len(lrs)))) / batch_size
        k = scales.shape[1]
    start = problem.start if start is None else np.asarray(start, dtype=np.float64)
    X, y, n = problem.X, problem.y, problem.n
    # every batch of every seed at once: one (steps, B) draw gives the same rows as `steps` draws of B
    idx = np.stack([np.random.default_rng(int(s)).integers(0, n, (steps, batch_size)) for s in seeds])
    S = len(seeds)
    W = np.repeat(np.repeat(start[None, :, None], S, axis=0), k, axis=2)  # (S, d, k)
    ceiling = blowup * max(float(problem(start)) - problem.min_value, 1e-3)
    alive = np.ones((S, k), dtype=bool)

    H, w_star = problem.H, problem.minima[0][None, :, None]

    def excess(W):  # f(w) - f* = (w - w*)^T H (w - w*) / 2 on least squares: exact, and cheaper than f(w)
        e = W - w_star
        return 0.5 * np.sum(e * (H @ e), axis=1)

    recorded, gaps = [0], [np.maximum(excess(W), 0.0)]
    Xs, ys = X[idx].swapaxes(0, 1), y[idx].swapaxes(0, 1)  # (steps, S, B, d), (steps, S, B)
    if S == 1:  # one seed: plain matrix products are faster than stacked ones
        Xs, ys, W = Xs[:, 0], ys[:, 0], W[0]
    with np.errstate(all="ignore"):
        for t in range(steps):
            Xb = Xs[t]
            residual = Xb @ W - ys[t][..., None]            # (S, B, k), or (B, k) for one seed
            scale = scales[t] if scales is not None else np.asarray(lrs(t), dtype=np.float64) / batch_size
            W = W - scale * (Xb.swapaxes(-1, -2) @ residual)
            if (t + 1) % every == 0 or t + 1 == steps:
                gap = excess(W.reshape(S, -1, k))
                alive &= np.isfinite(gap) & (gap <= ceiling)
                W = np.where(alive[:, None, :], W.reshape(S, -1, k), start[None, :, None]).reshape(W.shape)
                recorded.append(t + 1)  # diverged runs are parked at the start (their result: inf)
                gaps.append(np.where(alive, np.maximum(gap, 0.0), np.inf))
    gaps = np.stack(gaps, axis=-1)  # (S, k, recorded)
    return np.array(recorded), (gaps if np.ndim(seed) else gaps[0])


@dataclass
class MinibatchRuns:
    """What ``minibatch_sweep`` returns."""
    recorded: np.ndarray    # the steps 0, every, 2*every, ... at which the excess loss was measured
    gaps: np.ndarray        # f(w) - f* there: (S, k, len(recorded)), or (k, len(recorded)) for one seed
    weights: np.ndarray     # the final points: (S, dim, k), or (dim, k) for one seed; NaN where diverged
    optimizer: object       # the optimizer, holding every run's state side by side


def minibatch_sweep(problem, optimizer, lrs, batch_size, steps, seed=0, every=1, blowup=1e6, start=None):
    """Any optimizer of ``lrcourse.optim`` with minibatch gradients, for many learning rates and seeds at once.

    ``problem`` is a ``LeastSquares`` or ``Logistic``: it gives ``batch_gradient(W, idx)`` and
    ``excess(W)``. Each seed draws its own batches (the rows ``sgd_sweep`` draws for the same seed); the
    k runs of a seed share them. The optimizer's ``lr`` is replaced by the array ``lrs``, as in
    ``sweep``. A run that diverges (its excess loss grows ``blowup`` times past its start, or overflows)
    is ``inf`` from then on.
    """
    seeds = np.atleast_1d(np.asarray(seed, dtype=np.int64))
    lrs = np.asarray(lrs, dtype=np.float64)
    start = problem.start if start is None else np.asarray(start, dtype=np.float64)
    S, k = len(seeds), len(lrs)
    idx = np.stack([np.random.default_rng(int(s)).integers(0, problem.n, (steps, batch_size)) for s in seeds])
    W = np.repeat(np.repeat(start[None, :, None], S, axis=0), k, axis=2)   # (S, d, k)
    ceiling = blowup * max(float(problem.excess(W)[0, 0]), 1e-3)
    alive = np.ones((S, k), dtype=bool)
    optimizer.reset()
    optimizer.lr = lrs
    recorded, gaps = [0], [np.maximum(problem.excess(W), 0.0)]
    with np.errstate(all="ignore"):
        for t in range(steps):
            W = optimizer.step(W, problem.batch_gradient(W, idx[:, t]))
            if (t + 1) % every == 0 or t + 1 == steps:
                gap = problem.excess(W)
                alive &= np.isfinite(gap) & (gap <= ceiling)
                recorded.append(t + 1)
                gaps.append(np.where(alive, np.maximum(gap, 0.0), np.inf))
    gaps = np.stack(gaps, axis=-1)
    W = np.where(alive[:, None, :], W, np.nan)
    if not np.ndim(seed):
        gaps, W = gaps[0], W[0]
    return MinibatchRuns(np.array(recorded), gaps, W, optimizer)


def track(problem, optimizer, lrs, steps):
    """Chase a ``MovingMinimum`` from its starting place: the distance to the minimum after every step.

    The optimizer's ``lr`` is replaced by the array ``lrs`` (one run each, side by side, as in
    ``sweep``). Returns an array of shape (steps, len(lrs)): row t is the distance between x_(t+1)
    and the minimum's place m(t + 1) after step t, which used the gradient of f_t.
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    places = problem.minimum(np.arange(steps + 1))
    x = np.repeat(places[:, :1], len(lrs), axis=1)
    optimizer.reset()
    optimizer.lr = lrs
    distance = np.empty((steps, len(lrs)))
    with np.errstate(all="ignore"):
        for t in range(steps):
            x = optimizer.step(x, problem.grad(x, t))
            distance[t] = np.linalg.norm(x - places[:, t + 1:t + 2], axis=0)
    return distance
