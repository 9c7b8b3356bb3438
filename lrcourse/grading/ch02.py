"""Checks for chapter 02: stability and conditioning."""

import numpy as np

from lrcourse.grading.core import Fail, _kind, as_array, as_number, as_numbers, call, choice, close, diagnose, task


def random_spd(rng, d=None, kappa=None):
    """A random symmetric positive definite matrix, rotated so its diagonal is not its spectrum."""
    d = d or int(rng.integers(2, 6))
    kappa = kappa or float(10 ** rng.uniform(0.5, 3))
    L = float(rng.uniform(0.5, 20))
    eigenvalues = np.concatenate([[L / kappa, L], rng.uniform(L / kappa, L, d - 2)])
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    A = Q @ np.diag(eigenvalues) @ Q.T
    return (A + A.T) / 2


def _spectrum(A):
    eigenvalues = np.linalg.eigvalsh(A)
    return eigenvalues[0], eigenvalues[-1]


# ---------------------------------------------------------------- task 1: the stability limit
def _largest_stable_lr(A):
    return 2.0 / _spectrum(A)[1]


STABLE_LR_MISTAKES = [
    (lambda A: 1.0 / _spectrum(A)[1], "that is 1/L, the lr that solves a 1-D quadratic in one step; GD "
                                      "stays stable up to 2/L, where |1 - lr L| reaches 1."),
    (lambda A: 2.0 / _spectrum(A)[0], "you used the smallest eigenvalue. The *largest* curvature L sets the "
                                      "limit: along its direction |1 - lr L| passes 1 first."),
    (lambda A: 2.0 / np.linalg.norm(A), "np.linalg.norm(A) is the Frobenius norm (root of the sum of all "
                                        "squared entries), which overestimates L. Use the largest eigenvalue, "
                                        "np.linalg.eigvalsh(A).max() (or the spectral norm, ord=2)."),
    (lambda A: 2.0 / np.max(np.diag(A)), "the diagonal entries are the curvatures along the axes, but this "
                                         "matrix is rotated: its largest curvature is its largest eigenvalue."),
    (lambda A: 2.0 / np.max(np.abs(A)), "the largest entry of A is not its largest eigenvalue; use "
                                        "np.linalg.eigvalsh(A).max()."),
    (lambda A: 2.0 / np.trace(A), "the trace is the sum of all eigenvalues; the limit uses the largest one."),
]


@task("02.largest_stable_lr", "Task 1: the largest stable learning rate")
def check_largest_stable_lr(largest_stable_lr, rng):
    for _ in range(5):
        A = random_spd(rng)
        result = as_number(call(largest_stable_lr, A.copy(), names=("A",)), "largest_stable_lr")
        if not close(result, _largest_stable_lr(A), rtol=1e-6):
            why = diagnose(result, (A,), STABLE_LR_MISTAKES, rtol=1e-6)
            raise Fail(why or f"for this {len(A)}x{len(A)} matrix the limit is 2/L = {_largest_stable_lr(A):.6g}, "
                              f"you returned {result:.6g}.")
    return "Correct: 2 / largest eigenvalue. Any larger lr makes the steepest direction blow up."


# ---------------------------------------------------------------- task 2: the best fixed lr
def _best(A):
    mu, L = _spectrum(A)
    return 2.0 / (mu + L), (L / mu - 1) / (L / mu + 1)


BEST_MISTAKES = [
    (lambda A: (1.0 / _spectrum(A)[1], 1 - _spectrum(A)[0] / _spectrum(A)[1]),
     "that is lr = 1/L with its rate 1 - 1/kappa. The best fixed lr balances the two extreme "
     "directions, |1 - lr mu| = |1 - lr L|, which gives lr = 2/(mu + L)."),
    (lambda A: (_best(A)[1], _best(A)[0]), "you returned (rate, lr); return (lr, rate) in that order."),
    (lambda A: (_best(A)[0], (_spectrum(A)[0] / _spectrum(A)[1] - 1) / (_spectrum(A)[0] / _spectrum(A)[1] + 1)),
     "your rate is negative: kappa = L / mu (largest over smallest), which is >= 1, so the rate "
     "(kappa - 1)/(kappa + 1) lies in [0, 1)."),
    (lambda A: (2.0 / _spectrum(A)[1], 1.0), "lr = 2/L is the edge of stability, where the rate is 1 "
                                             "(no convergence). The best lr is 2/(mu + L)."),
    (lambda A: (_best(A)[0], 1 - 1 / (_spectrum(A)[1] / _spectrum(A)[0])),
     "the rate at lr = 2/(mu + L) is |1 - lr mu| = (kappa - 1)/(kappa + 1), not 1 - 1/kappa."),
]


@task("02.best_lr_and_rate", "Task 2: the best fixed learning rate and its rate")
def check_best_lr_and_rate(best_lr_and_rate, rng):
    for _ in range(5):
        A = random_spd(rng)
        result = as_numbers(call(best_lr_and_rate, A.copy(), names=("A",)), ("the lr", "the rate"),
                            "best_lr_and_rate")
        if not close(result, _best(A), rtol=1e-6):
            why = diagnose(result, (A,), BEST_MISTAKES, rtol=1e-6)
            lr, rate = _best(A)
            raise Fail(why or f"for this matrix (mu = {_spectrum(A)[0]:.4g}, L = {_spectrum(A)[1]:.4g}) the best lr "
                              f"is {lr:.6g} with rate {rate:.6g}; you returned ({result[0]:.6g}, {result[1]:.6g}).")
    return "Correct: lr = 2/(mu + L) makes |1 - lr mu| = |1 - lr L| = (kappa - 1)/(kappa + 1)."


# ---------------------------------------------------------------- task 3: the sweep
def _final_loss(f, grad_f, x0, lr, steps):
    x = np.array(x0, dtype=float)
    with np.errstate(all="ignore"):
        for _ in range(steps):
            x = x - lr * grad_f(x)
        loss = f(x)
    return float(loss) if np.isfinite(loss) else np.inf


def _lr_sweep(f, grad_f, x0, lrs, steps):
    return np.array([_final_loss(f, grad_f, x0, lr, steps) for lr in lrs])


def _sweep_not_reset(f, grad_f, x0, lrs, steps):
    x, out = np.array(x0, dtype=float), []
    with np.errstate(all="ignore"):
        for lr in lrs:
            for _ in range(steps):
                x = x - lr * grad_f(x)
            out.append(float(f(x)) if np.isfinite(f(x)) else np.inf)
    return np.array(out)


SWEEP_MISTAKES = [
    (_sweep_not_reset, "each lr must start again from x0; your runs carry on from where the previous lr "
                       "stopped. Set x = x0 at the start of each run."),
    (lambda f, g, x0, lrs, steps: _lr_sweep(f, g, x0, lrs, steps - 1),
     "off by one: each run should take exactly `steps` steps."),
    (lambda f, g, x0, lrs, steps: _lr_sweep(f, g, x0, lrs, steps + 1),
     "off by one: each run should take exactly `steps` steps."),
    (lambda f, g, x0, lrs, steps: np.array([f(np.array(x0, dtype=float))] * len(lrs)),
     "every entry is the loss at the start: update x inside the loop and measure the loss at the end."),
]


@task("02.lr_sweep", "Task 3: a learning-rate sweep", time_limit=20.0)
def check_lr_sweep(lr_sweep, rng):
    for _ in range(3):
        A = random_spd(rng, kappa=float(rng.uniform(5, 50)))
        f = lambda x, A=A: 0.5 * x @ A @ x  # noqa: E731
        grad_f = lambda x, A=A: A @ x  # noqa: E731
        x0 = rng.normal(size=len(A))
        limit = 2.0 / _spectrum(A)[1]
        # four stable lrs, one that diverges slowly (its loss overflows to inf) and one that diverges
        # fast enough for x itself to overflow, after which inf - inf gives NaN
        lrs = np.sort(np.concatenate([limit * rng.uniform(0.05, 0.95, 4), limit * rng.uniform(1.3, 2.0, 1),
                                      limit * rng.uniform(6.0, 10.0, 1)]))
        steps = int(rng.integers(380, 450))
        expected = _lr_sweep(f, grad_f, x0, lrs, steps)
        raw = call(lr_sweep, f, grad_f, x0.copy(), lrs.copy(), steps, names=("f", "grad_f", "x0", "lrs", "steps"))
        if raw is None:
            raise Fail("lr_sweep returned None: did you forget the `return` statement?")
        try:
            result = np.asarray(raw, dtype=float)
        except (TypeError, ValueError):
            raise Fail(f"lr_sweep returned {_kind(raw)}, not a list or array of losses") from None
        if result.shape != expected.shape:
            raise Fail(f"return one final loss per lr: {len(lrs)} numbers, but yours has shape {result.shape}.")
        if np.any(np.isnan(result)):
            raise Fail("some of your losses are NaN: a diverged run overflows to inf and then inf - inf = NaN. "
                       "Report such a run as np.inf (check np.isfinite), so that plots and np.argmin still work.")
        if not close(result, expected, rtol=1e-6, atol=1e-300):
            why = diagnose(result, (f, grad_f, x0, lrs, steps), SWEEP_MISTAKES, rtol=1e-6, atol=1e-300)
            bad = int(np.argmax(~np.isclose(result, expected, rtol=1e-6, atol=1e-300)))
            raise Fail(why or f"for lr = {lrs[bad]:.4g} (run of {steps} steps) the final loss is "
                              f"{expected[bad]:.6g}, you returned {result[bad]:.6g}.")
    return "Correct: one run per lr from the same start, and the divergent ones reported as inf."


# ---------------------------------------------------------------- task 4: standardize
def _standardize(X):
    return (X - X.mean(axis=0)) / X.std(axis=0)


STANDARDIZE_MISTAKES = [
    (lambda X: (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, keepdims=True),
     "you standardized each row (sample); standardize each column (feature): axis=0."),
    (lambda X: (X - X.mean()) / X.std(), "you used one mean and one std for the whole matrix; each feature "
                                         "(column) needs its own: X.mean(axis=0), X.std(axis=0)."),
    (lambda X: X / X.std(axis=0), "you scaled but did not center: subtract the column means first."),
    (lambda X: X - X.mean(axis=0), "you centered but did not scale: divide by the column standard deviations."),
    (lambda X: (X - X.min(axis=0)) / (X.max(axis=0) - X.min(axis=0)),
     "that is min-max scaling to [0, 1]; standardizing means zero mean and unit standard deviation per column."),
]


@task("02.standardize", "Task 4: standardize the features")
def check_standardize(standardize, rng):
    for _ in range(4):
        n, d = int(rng.integers(20, 60)), int(rng.integers(2, 6))
        X = rng.normal(size=(n, d)) * 10 ** rng.uniform(-2, 3, d) + rng.normal(size=d) * 100
        result = as_array(call(standardize, X.copy(), names=("X",)), (n, d), "standardize")
        if close(result, _standardize(X), rtol=1e-6, atol=1e-9):
            continue
        ddof1 = (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)
        if close(result, ddof1, rtol=1e-6, atol=1e-9):
            continue  # the sample standard deviation is fine too
        why = diagnose(result, (X,), STANDARDIZE_MISTAKES, rtol=1e-6, atol=1e-9)
        raise Fail(why or f"after standardizing, each column should have mean 0 and std 1; yours have means "
                          f"{np.round(result.mean(axis=0), 3)} and stds {np.round(result.std(axis=0), 3)}.")
    return "Correct: every feature now has mean 0 and standard deviation 1."


# ---------------------------------------------------------------- task 5: the condition number
def _hessian_condition_number(X):
    eigenvalues = np.linalg.eigvalsh(X.T @ X / len(X))
    return eigenvalues[-1] / eigenvalues[0]


CONDITION_MISTAKES = [
    (lambda X: np.linalg.cond(X), "that is the condition number of X itself, the square root of the answer: "
                                  "the Hessian of the least-squares loss is X^T X / n, and "
                                  "cond(X^T X) = cond(X)^2."),
    (lambda X: np.max(np.diag(X.T @ X)) / np.min(np.diag(X.T @ X)),
     "the ratio of the diagonal entries ignores the correlations between features; use the eigenvalues "
     "of X^T X / n (np.linalg.eigvalsh)."),
    (lambda X: np.max(X.std(axis=0)) / np.min(X.std(axis=0)),
     "the ratio of feature scales is only part of the story; kappa is the ratio of the largest to the "
     "smallest eigenvalue of X^T X / n."),
    (lambda X: np.linalg.eigvalsh(X.T @ X)[0] / np.linalg.eigvalsh(X.T @ X)[-1],
     "upside down: kappa = largest eigenvalue / smallest eigenvalue, a number >= 1."),
]


@task("02.hessian_condition_number", "Task 5: the condition number of least squares")
def check_hessian_condition_number(hessian_condition_number, rng):
    for _ in range(4):
        n, d = int(rng.integers(40, 80)), int(rng.integers(2, 6))
        X = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 10 ** rng.uniform(-1, 2, d)
        result = as_number(call(hessian_condition_number, X.copy(), names=("X",)), "hessian_condition_number")
        expected = _hessian_condition_number(X)
        if not close(result, expected, rtol=1e-5):
            if np.isclose(result, expected * len(X), rtol=1e-5) or np.isclose(result, expected / len(X), rtol=1e-5):
                raise Fail("the factor 1/n does not change kappa (it scales every eigenvalue alike); "
                           "check the ratio largest / smallest eigenvalue.")
            if not np.isfinite(result) or result > 1e6 * expected:  # the ratio of a singular matrix's eigenvalues
                raise Fail("X X^T (n x n) is the wrong product: for n > d it is singular. The Hessian of the "
                           "least-squares loss over the weights is X^T X / n, a d x d matrix.")
            why = diagnose(result, (X,), CONDITION_MISTAKES, rtol=1e-5)
            raise Fail(why or f"kappa of X^T X / n is {expected:.6g} for this X; you returned {result:.6g}.")
    return "Correct: kappa = largest / smallest eigenvalue of the Hessian X^T X / n."


# ---------------------------------------------------------------- task 6: conceptual
@task("02.answer_scaling", "Task 6: what feature scaling changes", kind="value")
def check_answer_scaling(answer, rng):
    choice(answer, "b", "abcd", {
        "a": "the lowest loss reachable is the same: the weights can absorb any rescaling of a feature "
             "(w_j becomes w_j * s_j), so the best fit is unchanged.",
        "c": "gradient descent is not invariant to rescaling: scaling a feature scales the curvature along "
             "it, which changes the eigenvalues of the Hessian, hence 2/L and the rate.",
        "d": "the fitted model's predictions are the same: only the coordinates of the weights change.",
    })
    return ("Correct: scaling changes the Hessian's eigenvalues, so kappa, the largest stable lr and the "
            "rate all change, while the best fit does not.")
