"""Checks for chapter 03: stochastic and minibatch gradients."""

import numpy as np

from lrcourse.grading.core import (Fail, NotAttempted, _kind, aliased_message, aliased_path, as_array, as_number,
                                   call, choice, close, diagnose, diagnose_all, path_difference, task)


def _regression(rng, n=None, d=None):
    n, d = n or int(rng.integers(30, 80)), d or int(rng.integers(2, 6))
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + 0.5 * rng.normal(size=n)
    return X, y


# ---------------------------------------------------------------- task 1: the minibatch gradient
def _minibatch_gradient(X, y, w, idx):
    Xb, yb = X[idx], y[idx]
    return Xb.T @ (Xb @ w - yb) / len(idx)


MINIBATCH_MISTAKES = [
    (lambda X, y, w, idx: X[idx].T @ (X[idx] @ w - y[idx]) / len(X),
     "you divided by n, the size of the whole data set; average over the batch: divide by len(idx)."),
    (lambda X, y, w, idx: X[idx].T @ (X[idx] @ w - y[idx]),
     "you summed over the batch without averaging: divide by the batch size, len(idx), so that the "
     "gradient's size does not grow with the batch."),
    (lambda X, y, w, idx: X[idx].T @ (y[idx] - X[idx] @ w) / len(idx),
     "sign error: the gradient of (x^T w - y)^2 / 2 is x (x^T w - y), residual = prediction minus target."),
    (lambda X, y, w, idx: X.T @ (X @ w - y) / len(X),
     "that is the full-data gradient: use only the rows in idx (X[idx], y[idx])."),
    (lambda X, y, w, idx: _minibatch_gradient(X, y, w, np.unique(idx)),
     "you dropped the repeated rows (np.unique, or a set): idx is drawn with replacement, and a row drawn twice "
     "counts twice in the batch's average. Use X[idx], y[idx] as they are and divide by len(idx)."),
    (lambda X, y, w, idx: _minibatch_gradient(X, y, w, np.unique(idx)) * len(np.unique(idx)) / len(idx),
     "you dropped the repeated rows (np.unique, or a set): idx is drawn with replacement, and a row drawn twice "
     "counts twice in the batch's average. Use X[idx], y[idx] as they are."),
]


@task("03.minibatch_gradient", "Task 1: the minibatch gradient")
def check_minibatch_gradient(minibatch_gradient, rng):
    for _ in range(5):
        X, y = _regression(rng)
        w = rng.normal(size=X.shape[1])
        idx = rng.integers(0, len(X), int(rng.integers(3, 9)))
        idx[int(rng.integers(1, len(idx)))] = idx[0]  # a row drawn twice, as rng.integers often does
        result = as_array(call(minibatch_gradient, X.copy(), y.copy(), w.copy(), idx.copy(),
                               names=("X", "y", "w", "idx")), (X.shape[1],), "minibatch_gradient")
        if not close(result, _minibatch_gradient(X, y, w, idx)):
            why = diagnose(result, (X, y, w, idx), MINIBATCH_MISTAKES)
            raise Fail(why or f"for a batch of {len(idx)} rows the gradient should be "
                              f"{np.round(_minibatch_gradient(X, y, w, idx), 4)}, you returned {np.round(result, 4)}.")
    return "Correct: X_b^T (X_b w - y_b) / B, the average gradient over the batch."


# ---------------------------------------------------------------- task 2: the SGD loop
def _sgd(X, y, w0, lr, batch_size, steps, rng):
    ws = [np.array(w0, dtype=float)]
    for _ in range(steps):
        idx = rng.integers(0, len(X), batch_size)
        ws.append(ws[-1] - lr * _minibatch_gradient(X, y, ws[-1], idx))
    return np.array(ws)


def _sgd_one_batch(X, y, w0, lr, batch_size, steps, rng):
    idx = rng.integers(0, len(X), batch_size)
    ws = [np.array(w0, dtype=float)]
    for _ in range(steps):
        ws.append(ws[-1] - lr * _minibatch_gradient(X, y, ws[-1], idx))
    return np.array(ws)


def _sgd_without_replacement(X, y, w0, lr, batch_size, steps, rng):
    ws = [np.array(w0, dtype=float)]
    for _ in range(steps):
        idx = rng.choice(len(X), batch_size, replace=False)
        ws.append(ws[-1] - lr * _minibatch_gradient(X, y, ws[-1], idx))
    return np.array(ws)


def _full_batch(X, y, w0, lr, batch_size, steps, rng):
    ws = [np.array(w0, dtype=float)]
    for _ in range(steps):
        ws.append(ws[-1] - lr * X.T @ (X @ ws[-1] - y) / len(X))
    return np.array(ws)


SGD_MISTAKES = [
    (_sgd_one_batch, "you drew one batch and used it for every step: draw a fresh batch, "
                     "rng.integers(0, n, batch_size), inside the loop."),
    (_full_batch, "that is full-batch gradient descent: each step should use only a random batch of rows."),
    (_sgd_without_replacement, "draw the rows with rng.integers(0, n, batch_size) (with replacement), as the "
                               "task says; the check replays the same random numbers to compare."),
]


@task("03.sgd", "Task 2: minibatch SGD, the loop")
def check_sgd(sgd, rng):
    for _ in range(3):
        X, y = _regression(rng)
        w0 = rng.normal(size=X.shape[1])
        lr, batch_size, steps = float(rng.uniform(0.01, 0.1)), int(rng.integers(1, 6)), int(rng.integers(5, 15))
        seed = int(rng.integers(2 ** 31))
        expected = _sgd(X, y, w0, lr, batch_size, steps, np.random.default_rng(seed))
        raw = call(sgd, X.copy(), y.copy(), w0.copy(), lr, batch_size, steps, np.random.default_rng(seed),
                   names=("X", "y", "w0", "lr", "batch_size", "steps", "rng"))
        result = as_array(raw, what="sgd")
        if result.ndim == 1 and result.shape == w0.shape:
            raise Fail(f"you returned only the final point; return the path, one row per iterate, w0 first: shape "
                       f"{expected.shape} for steps = {steps}.")
        if result.shape != expected.shape:
            raise Fail(f"return the path: one row per iterate, w0 first, so steps = {steps} gives shape "
                       f"{expected.shape}; yours has shape {result.shape}.")
        if not close(result, expected):
            if aliased_path(result, expected):
                raise Fail(aliased_message(result, x="w"))
            why = diagnose(result, (X, y, w0, lr, batch_size, steps, np.random.default_rng(seed)), SGD_MISTAKES)
            raise Fail(why or path_difference(result, expected, "Each step: idx = rng.integers(0, n, batch_size), "
                                                                "then w = w - lr * (minibatch gradient).", start="w0"))
    return "Correct: a fresh random batch each step, and a step along its average gradient."


# ---------------------------------------------------------------- task 3: predict the floor from the data
def _solution(X, y):
    return np.linalg.lstsq(X, y, rcond=None)[0]


def _trace_sigma(X, y, w=None, ddof=0, centre=True):
    """tr of the covariance of one example's gradient x_i (x_i^T w - y_i) at w (w* by default)."""
    w = _solution(X, y) if w is None else w
    G = X * (X @ w - y)[:, None]               # one row per example: its gradient
    centred = G - G.mean(axis=0) if centre else G   # at w* the mean is 0 (the normal equations), up to rounding
    return float(np.sum(centred ** 2) / (len(X) - ddof))


def _predicted_floor(X, y, lr, batch_size):
    return lr * _trace_sigma(X, y) / (4 * batch_size)


def _floor_accepted(X, y, lr, B):
    """The floor with the covariance of the n gradients (1/n), and with the sample covariance (1/(n - 1))."""
    return [lr * _trace_sigma(X, y, ddof=ddof) / (4 * B) for ddof in (0, 1)]


def _residual_at_solution(X, y):
    return X @ _solution(X, y) - y


AT_ZERO = ("you took the examples' gradients at w = 0. The floor is set by the noise where SGD settles, at the "
           "solution w* (np.linalg.lstsq(X, y, rcond=None)[0]), where the full gradient is 0 and only the noise is "
           "left.")

FLOOR_MISTAKES = [
    (lambda X, y, lr, B: lr * _trace_sigma(X, y, w=np.zeros(X.shape[1])) / (4 * B), AT_ZERO),
    (lambda X, y, lr, B: lr * _trace_sigma(X, y, w=np.zeros(X.shape[1]), ddof=1) / (4 * B), AT_ZERO),
    (lambda X, y, lr, B: lr * _trace_sigma(X, y, w=np.zeros(X.shape[1]), centre=False) / (4 * B), AT_ZERO),
    (lambda X, y, lr, B: lr * np.mean(_residual_at_solution(X, y) ** 2) * np.trace(X.T @ X / len(X)) / (4 * B),
     "you multiplied the mean squared residual by tr(X^T X / n), as if the residuals did not depend on x. The "
     "gradient of example i at w* is x_i r_i, so tr(Sigma) = mean over i of r_i^2 ||x_i||^2: the squares go "
     "together, example by example (here the noise is larger where x is larger)."),
    (lambda X, y, lr, B: lr * np.trace(np.cov(X.T)) / (4 * B),
     "you used the covariance of the features x_i. Sigma is the covariance of the examples' *gradients* at the "
     "solution, x_i r_i with the residual r_i = x_i^T w* - y_i."),
    (lambda X, y, lr, B: lr * _trace_sigma(X, y) / (4 * B * len(X)),
     "you divided tr(Sigma) by n, as if every step averaged n examples. Sigma is the covariance of *one* "
     "example's gradient, and a batch of B divides it by B (once)."),
    (lambda X, y, lr, B: lr * _trace_sigma(X, y) * len(X) / (4 * B),
     "you summed the squared gradients over the examples instead of averaging: Sigma is a covariance, the mean "
     "over i of (x_i r_i)(x_i r_i)^T."),
    (lambda X, y, lr, B: lr * _trace_sigma(X, y) / 4,
     "the batch size is missing: averaging B gradients divides the noise covariance by B, so the floor is "
     "lr tr(Sigma) / (4 B)."),
    (lambda X, y, lr, B: lr * _trace_sigma(X, y) / (2 * B),
     "a factor 2 off: the excess loss is half of tr(H P), and tr(HP + PH) = lr tr(Sigma)/B, so the floor is "
     "lr tr(Sigma) / (4 B)."),
    (lambda X, y, lr, B: lr ** 2 * _trace_sigma(X, y) / (4 * B),
     "the floor grows like lr, not lr^2: the noise adds lr^2 Sigma/B per step, but the pull back to the minimum "
     "removes a fraction proportional to lr each step."),
    (lambda X, y, lr, B: lr * _trace_sigma(X, y) / (4 * np.sqrt(B)),
     "the noise covariance shrinks like 1/B (not 1/sqrt(B)) when B independent gradients are averaged."),
    (lambda X, y, lr, B: lr * _trace_sigma(X, y) / (4 * B ** 2),
     "you divided by B twice: the batch divides the covariance by B once, Sigma/B, and the floor is "
     "lr tr(Sigma) / (4 B)."),
]


def _noisy_regression(rng):
    """Rows of different sizes, with noise that grows with the row: the residual depends on x."""
    n, d = int(rng.integers(40, 80)), int(rng.integers(2, 6))
    scale = rng.uniform(0.3, 2.0, n)
    X = rng.normal(size=(n, d)) * scale[:, None] + rng.normal(size=d)
    y = X @ rng.normal(size=d) + rng.normal(size=n) * scale
    return X, y


@task("03.predicted_floor", "Task 3: predict the noise floor from the data")
def check_predicted_floor(predicted_floor, rng):
    answers = []
    for _ in range(5):
        X, y = _noisy_regression(rng)
        lr, B = float(10 ** rng.uniform(-3, -1)), int(rng.integers(2, 64))
        result = as_number(call(predicted_floor, X.copy(), y.copy(), lr, B, names=("X", "y", "lr", "batch_size")),
                           "predicted_floor")
        answers.append(((X, y, lr, B), result))
    wrong = [(args, result) for args, result in answers
             if not any(close(result, ok, rtol=1e-6, atol=0) for ok in _floor_accepted(*args))]
    if not wrong:
        return ("Correct: tr(Sigma) is the mean of r_i^2 ||x_i||^2 at w*, and the floor lr tr(Sigma) / (4 B). The cell "
                "below puts it to the test on the diabetes data.")
    # the explanation must fit every answer, so that the same code always gets the same message
    why = diagnose_all([(args, result) for args, result in answers], FLOOR_MISTAKES, rtol=1e-6, atol=0)
    (X, y, lr, B), result = wrong[0]
    raise Fail(why or f"for this data set (n = {len(X)}, lr = {lr:.3g}, batch size {B}) the predicted floor is "
                      f"{_predicted_floor(X, y, lr, B):.6g}; you returned {result:.6g}. Which gradient is noisy, and "
                      f"where does SGD settle?")


# ---------------------------------------------------------------- task 4: measure the floor against B
def _loss(X, y, ws):
    r = np.atleast_2d(ws) @ X.T - y
    return 0.5 * np.mean(r * r, axis=1)


def _excess_paths(X, y, lr, batch_sizes, steps, seed, start="w*", shared_rng=False):
    """The excess loss f(w_t) - f(w*) along each run, one array per batch size."""
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]
    f_star = _loss(X, y, w_star)[0]
    w0 = w_star if start == "w*" else np.zeros(X.shape[1])
    shared = np.random.default_rng(seed)
    out = []
    for B in batch_sizes:
        path = _sgd(X, y, w0, lr, int(B), steps, shared if shared_rng else np.random.default_rng(seed))
        out.append(_loss(X, y, path) - f_star)
    return out


def _slope(batch_sizes, floors):
    return float(np.polyfit(np.log(batch_sizes), np.log(floors), 1)[0])


def _windows(excess, steps):
    """The floors from the second half of each run, counted from w_(steps/2) or from the iterate after it."""
    return [np.array([e[steps // 2 + first:].mean() for e in excess]) for first in (0, 1)]


FLOOR_SLOPE_MISTAKES = [
    (lambda B, floors: float(np.polyfit(np.log(floors), np.log(B), 1)[0]),
     "you fitted log(B) against log(floor): the axes are swapped. The exponent p of floor ~ B^p is the slope of "
     "log(floor) (y) against log(B) (x): np.polyfit(np.log(B), np.log(floors), 1)[0]. (With swapped axes the slope "
     "is not even exactly 1/p, since the points do not lie exactly on a line.)"),
    (lambda B, floors: 1 / _slope(B, floors), "your p is 1 / (the slope): fit log(floor) against log(B) "
                                              "(x = log B, y = log floor), not the other way round."),
    (lambda B, floors: float(np.polyfit(B, floors, 1)[0]), "you fitted the floors against B on linear axes. A "
                                                           "power law floor ~ B^p is a straight line of slope p "
                                                           "between log(floor) and log(B)."),
    (lambda B, floors: float(np.polyfit(B, np.log(floors), 1)[0]),
     "you took the log of the floors but not of B: a power law is a straight line on log-log axes."),
    (lambda B, floors: float(np.polyfit(np.log(B), np.log10(floors), 1)[0]),
     "you mixed the bases of the logarithms (np.log of B, np.log10 of the floors): use the same for both; the "
     "slope then does not depend on the base."),
    (lambda B, floors: float(np.polyfit(np.log10(B), np.log(floors), 1)[0]),
     "you mixed the bases of the logarithms (np.log10 of B, np.log of the floors): use the same for both; the "
     "slope then does not depend on the base."),
]


def _sgd_fails(fn, rng):
    """A message when ``fn`` uses the learner's own `sgd` and that does not pass task 2 yet."""
    helper = getattr(fn, "__globals__", {}).get("sgd")
    if "sgd" not in getattr(getattr(fn, "__code__", None), "co_names", ()) or not callable(helper):
        return None
    try:
        check_sgd(helper, rng)
    except Fail as fail:
        return f"`floor_vs_batch` uses your `sgd`, which does not pass task 2 yet ({fail}). Fix that first."
    except NotAttempted:
        return None  # call() names the unsolved `sgd` itself
    return None


def _floor_problem(rng):
    """A small regression with one weak, heavily weighted feature: starting away from w* then takes long."""
    n, d = int(rng.integers(40, 70)), int(rng.integers(2, 5))
    X = rng.normal(size=(n, d))
    X[:, 0] *= rng.uniform(0.2, 0.3)
    w = rng.normal(size=d)
    w[0] = rng.choice([-1, 1]) * rng.uniform(8, 12)
    y = X @ w + 0.5 * rng.normal(size=n)
    return X, y, 0.5 / float(np.sum(X ** 2, axis=1).max())


@task("03.floor_vs_batch", "Task 4: measure how the floor depends on the batch size", time_limit=20.0)
def check_floor_vs_batch(floor_vs_batch, rng):
    why = _sgd_fails(floor_vs_batch, rng)
    if why:
        raise Fail(why)
    for _ in range(2):
        X, y, lr = _floor_problem(rng)
        batch_sizes, steps, seed = [1, 2, 4, 8], int(rng.integers(400, 500)) * 2, int(rng.integers(2 ** 31))
        raw = call(floor_vs_batch, X.copy(), y.copy(), lr, list(batch_sizes), steps, seed,
                   names=("X", "y", "lr", "batch_sizes", "steps", "seed"))
        if raw is None:
            raise Fail("`floor_vs_batch` returned None: did you forget the `return` statement?")
        if not isinstance(raw, (tuple, list)) or len(raw) != 2:
            raise Fail(f"return a pair (floors, p): the array of measured floors, one per batch size, and the "
                       f"fitted exponent; you returned {_kind(raw)}.")
        floors = as_array(raw[0], (len(batch_sizes),), "floor_vs_batch", value="the floors")
        p = as_number(raw[1], "floor_vs_batch", value="the exponent p")
        fresh = _excess_paths(X, y, lr, batch_sizes, steps, seed)
        accepted = _windows(fresh, steps) + _windows(_excess_paths(X, y, lr, batch_sizes, steps, seed,
                                                                   shared_rng=True), steps)
        if not any(close(floors, a, rtol=1e-6, atol=1e-15) for a in accepted):
            expected = accepted[1]
            zero = _excess_paths(X, y, lr, batch_sizes, steps, seed, start="zero")
            w_star = np.linalg.lstsq(X, y, rcond=None)[0]
            f_star = _loss(X, y, w_star)[0]
            mistakes = [
                (_windows(zero, steps)[1], "you started at w = 0, not at the solution w*. From 0 the run first has "
                                           "to travel to the minimum, and along the weak direction that takes "
                                           "longer than half of this run: your second half still contains "
                                           "that descent, not just the noise. Start at w* "
                                           "(np.linalg.lstsq(X, y, rcond=None)[0]), where only the noise acts."),
                (np.array([e.mean() for e in zero]), "you measured too early: starting at w = 0 and averaging the "
                                                     "whole run mixes the descent towards the minimum into the floor. "
                                                     "Start at w* and average over the second half only."),
                (np.array([e.mean() for e in fresh]), "you averaged over the whole run. Started at w*, the excess "
                                                      "loss is 0 at first and needs time to build up to the floor; "
                                                      "average over the second half only."),
                (np.array([e[-1] for e in fresh]), "you used the last iterate only: one noisy sample of the excess "
                                                   "loss. The floor is its average over the second half of the run."),
                (expected + f_star, "your floors still contain f(w*): the floor is the *excess* loss "
                                    "f(w_t) - f(w*), averaged over the second half."),
                (2 * expected, "your floors are twice ours: the loss is f(w) = mean((X w - y)^2) / 2."),
            ]
            for values, explanation in mistakes:
                if close(floors, values, rtol=1e-2, atol=0):
                    raise Fail(explanation)
            raise Fail(f"for this data set (lr = {lr:.3g}, {steps} steps, batch sizes {batch_sizes}) the floors are "
                       f"{np.array2string(expected, precision=4)}; yours are {np.array2string(floors, precision=4)}. "
                       f"Each run: a fresh np.random.default_rng(seed), start at w*, your sgd for `steps` steps, then "
                       f"the mean excess loss over the second half.")
        if not np.all(floors > 0):
            raise Fail("a floor is not positive, so its logarithm is undefined: check the excess loss.")
        slope = _slope(batch_sizes, floors)
        if not close(p, slope, rtol=1e-6, atol=1e-9):
            why = diagnose(p, (batch_sizes, floors), FLOOR_SLOPE_MISTAKES, rtol=1e-6, atol=1e-9)
            raise Fail(why or f"your floors are right, but the slope of log(floor) against log(B) for them is "
                              f"{slope:.4f}, not {p:.4f}: fit a straight line, np.polyfit(np.log(B), "
                              f"np.log(floors), 1)[0].")
    return ("Correct: measured from w*, over the second half of each run. The cell below runs it on the diabetes "
            "problem, at a small lr and at a larger one.")


# ---------------------------------------------------------------- task 5: the linear scaling rule
def _scaled_lr(base_lr, base_batch, batch, max_lr):
    return min(base_lr * batch / base_batch, max_lr)


SCALING_MISTAKES = [
    (lambda lr, b0, b, m: lr * b / b0, "no cap: max_lr is the largest lr allowed, and the scaled lr passed it; "
                                       "return at most max_lr."),
    (lambda lr, b0, b, m: min(lr * b0 / b, m), "the ratio is upside down: a larger batch gets a *larger* lr."),
    (lambda lr, b0, b, m: min(lr * np.sqrt(b / b0), m),
     "that is the square-root rule; the linear scaling rule multiplies the lr by the same factor as the batch."),
]


@task("03.scaled_lr", "Task 5: the linear scaling rule")
def check_scaled_lr(scaled_lr, rng):
    cases = []
    for _ in range(3):
        lr, b0 = float(10 ** rng.uniform(-3, -1)), int(2 ** rng.integers(0, 5))
        cases += [(lr, b0, b0 * int(2 ** rng.integers(1, 4)), 1e3 * lr),   # below the cap
                  (lr, b0, b0 * 256, lr * float(rng.uniform(2, 50)))]       # capped
    for args in cases:
        result = as_number(call(scaled_lr, *args, names=("base_lr", "base_batch", "batch", "max_lr")), "scaled_lr")
        if not close(result, _scaled_lr(*args)):
            why = diagnose(result, args, SCALING_MISTAKES)
            raise Fail(why or f"for base lr {args[0]:.3g} at batch {args[1]}, batch {args[2]} and cap {args[3]:.3g} "
                              f"the lr is {_scaled_lr(*args):.4g}; you returned {result:.4g}.")
    return "Correct: multiply the lr by the batch-size factor, up to the cap max_lr."


# ---------------------------------------------------------------- task 6: conceptual
@task("03.answer_robbins_monro", "Task 6: the Robbins-Monro conditions", kind="value")
def check_answer_robbins_monro(answer, rng):
    choice(answer, "b", "abcd", {
        "a": "a constant lr has sum lr_t = infinity, but also sum lr_t^2 = infinity: the noise never dies "
             "down and SGD stays on its floor.",
        "c": "sum 1/(1+t)^2 is finite, so the steps add up to a finite distance: SGD can stop short of the "
             "minimum (the first condition fails).",
        "d": "sum 1/sqrt(1+t) diverges (good) but so does sum 1/(1+t): the noise is not damped enough for the "
             "second condition.",
    })
    return ("Correct: lr_t = c/(1+t) has an infinite sum but a finite sum of squares. Note what the conditions "
            "promise: convergence as t goes to infinity, nothing about a finite budget. Exercise 05 runs this very "
            "schedule for 3000 steps, where it falls short.")
