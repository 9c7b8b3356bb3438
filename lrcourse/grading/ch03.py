"""Checks for chapter 03: stochastic and minibatch gradients."""

import numpy as np

from lrcourse.grading.core import Fail, as_array, as_number, call, choice, close, diagnose, first_differing_row, task


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
]


@task("03.minibatch_gradient", "Task 1: the minibatch gradient")
def check_minibatch_gradient(minibatch_gradient, rng):
    for _ in range(5):
        X, y = _regression(rng)
        w = rng.normal(size=X.shape[1])
        idx = rng.integers(0, len(X), int(rng.integers(2, 9)))
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
        if result.shape != expected.shape:
            raise Fail(f"return the path: one row per iterate, w0 first, so steps = {steps} gives shape "
                       f"{expected.shape}; yours has shape {result.shape}.")
        if not close(result, expected):
            why = diagnose(result, (X, y, w0, lr, batch_size, steps, np.random.default_rng(seed)), SGD_MISTAKES)
            bad = first_differing_row(result, expected)
            raise Fail(why or f"your path matches up to step {bad - 1} and differs from step {bad} on. Each step: "
                              f"idx = rng.integers(0, n, batch_size), then w = w - lr * (minibatch gradient).")
    return "Correct: a fresh random batch each step, and a step along its average gradient."


# ---------------------------------------------------------------- task 3: predict the floor
def _predicted_floor(lr, batch_size, trace_sigma):
    return lr * trace_sigma / (4 * batch_size)


FLOOR_MISTAKES = [
    (lambda lr, B, s: lr * s / 4, "the batch size is missing: averaging B gradients divides the noise "
                                  "covariance by B, so the floor is lr tr(Sigma) / (4 B)."),
    (lambda lr, B, s: lr * s / (2 * B), "a factor 2 off: the excess loss is half of tr(H P), and "
                                        "tr(HP + PH) = lr tr(Sigma)/B, so the floor is lr tr(Sigma) / (4 B)."),
    (lambda lr, B, s: lr ** 2 * s / (4 * B), "the floor grows like lr, not lr^2: the noise adds lr^2 Sigma/B "
                                             "per step, but the pull back to the minimum removes a fraction "
                                             "proportional to lr each step."),
    (lambda lr, B, s: lr * s / (4 * np.sqrt(B)), "the noise covariance shrinks like 1/B (not 1/sqrt(B)) when "
                                                 "B independent gradients are averaged."),
]


@task("03.predicted_floor", "Task 3: predict the noise floor")
def check_predicted_floor(predicted_floor, rng):
    for _ in range(6):
        lr, B, s = float(10 ** rng.uniform(-3, -1)), int(rng.integers(2, 64)), float(rng.uniform(0.5, 20))
        result = as_number(call(predicted_floor, lr, B, s, names=("lr", "batch_size", "trace_sigma")),
                           "predicted_floor")
        if not close(result, _predicted_floor(lr, B, s)):
            why = diagnose(result, (lr, B, s), FLOOR_MISTAKES)
            raise Fail(why or f"for lr = {lr:.3g}, batch size {B}, tr(Sigma) = {s:.3g} the floor is "
                              f"{_predicted_floor(lr, B, s):.4g}; you returned {result:.4g}.")
    return "Correct: floor = lr tr(Sigma) / (4 B): proportional to the lr, inversely proportional to the batch."


# ---------------------------------------------------------------- task 4: the linear scaling rule
def _scaled_lr(base_lr, base_batch, batch, max_lr):
    return min(base_lr * batch / base_batch, max_lr)


SCALING_MISTAKES = [
    (lambda lr, b0, b, m: lr * b / b0, "no cap: the linear scaling rule breaks down once the scaled lr reaches the "
                                       "stability limit of the full-batch problem; return at most max_lr."),
    (lambda lr, b0, b, m: min(lr * b0 / b, m), "the ratio is upside down: a larger batch gets a *larger* lr."),
    (lambda lr, b0, b, m: min(lr * np.sqrt(b / b0), m),
     "that is the square-root rule; the linear scaling rule multiplies the lr by the same factor as the batch."),
]


@task("03.scaled_lr", "Task 4: the linear scaling rule")
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
    return "Correct: multiply the lr by the batch-size factor, up to the stability limit."


# ---------------------------------------------------------------- tasks 5 and 6: conceptual
@task("03.answer_robbins_monro", "Task 5: the Robbins-Monro conditions", kind="value")
def check_answer_robbins_monro(answer, rng):
    choice(answer, "b", "abcd", {
        "a": "a constant lr has sum lr_t = infinity, but also sum lr_t^2 = infinity: the noise never dies "
             "down and SGD stays on its floor.",
        "c": "sum 1/(1+t)^2 is finite, so the steps add up to a finite distance: SGD can stop short of the "
             "minimum (the first condition fails).",
        "d": "sum 1/sqrt(1+t) diverges (good) but so does sum 1/(1+t): the noise is not damped enough for the "
             "second condition.",
    })
    return "Correct: lr_t = c/(1+t) has an infinite sum but a finite sum of squares."


@task("03.answer_batch_floor", "Task 6: batch size and the floor", kind="value")
def check_answer_batch_floor(answer, rng):
    choice(answer, "a", "abcd", {
        "b": "a larger batch averages more gradients, which *reduces* the noise: the floor goes down, not up.",
        "c": "the floor depends on the gradient noise, and averaging twice as many gradients halves its "
             "covariance.",
        "d": "the covariance of an average of B independent gradients is Sigma / B: doubling B halves it, "
             "and the floor (proportional to lr Sigma / B) halves with it.",
    })
    return "Correct: the floor is proportional to lr / B, so doubling the batch halves it."
