"""Checks for chapter 02: stability and conditioning."""

import numpy as np

from lrcourse.grading.core import (Fail, _kind, as_array, as_number, as_numbers, call, choice, close, diagnose,
                                   diagnose_all, task)


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
UNSORTED_EIG = ("the eigenvalues you used are not the smallest and largest ones: np.linalg.eig (and eigvals) "
                "return the eigenvalues in no particular order, so the first and last ones need not be the "
                "extremes. Use np.linalg.eigvalsh, which sorts them in ascending order, or take .min() and .max().")


def _middle_extremes(M):
    """Whether np.linalg.eig and eigvals put both the smallest and the largest eigenvalue of M off the ends."""
    for values in (np.real(np.linalg.eig(M)[0]), np.real(np.linalg.eigvals(M))):
        ends = {values[0], values[-1]}
        if values.min() in ends or values.max() in ends:
            return False
    return True


def _spd_with_unsorted_eig(rng):
    """A random 4-5-D matrix for which np.linalg.eig returns neither extreme eigenvalue first or last."""
    for _ in range(2000):
        A = random_spd(rng, d=int(rng.integers(4, 6)))
        if _middle_extremes(A):
            return A
    raise RuntimeError("no matrix with unsorted eigenvalues found")


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
    (lambda A: 2.0 / np.max(A), "you used the largest entry of A, which for a symmetric positive definite "
                                "matrix sits on its diagonal: a diagonal entry is the curvature along one "
                                "coordinate axis. This matrix is rotated, so its largest curvature is its largest "
                                "eigenvalue, np.linalg.eigvalsh(A).max()."),
    (lambda A: 2.0 / np.trace(A), "the trace is the sum of all eigenvalues; the limit uses the largest one."),
]


def _ends_of_unsorted(A):
    """The first and the last eigenvalue as np.linalg.eig and eigvals return them (in no particular order)."""
    values = []
    for found in (np.linalg.eig(A)[0], np.linalg.eigvals(A)):
        found = np.real(found)
        values += [found[0], found[-1]]
    return values


def _unsorted_explains(result, A, formula):
    """Whether ``result`` is ``formula(v)`` for an eigenvalue v at one end of eig's unsorted output (and wrong)."""
    return any(close(result, formula(v), rtol=1e-6) for v in _ends_of_unsorted(A))


@task("02.largest_stable_lr", "Task 1: the largest stable learning rate")
def check_largest_stable_lr(largest_stable_lr, rng):
    matrices = [random_spd(rng) for _ in range(4)]
    matrices.insert(int(rng.integers(0, 5)), _spd_with_unsorted_eig(rng))
    answers = [(A, as_number(call(largest_stable_lr, A.copy(), names=("A",)), "largest_stable_lr"))
               for A in matrices]
    wrong = [(A, result) for A, result in answers if not close(result, _largest_stable_lr(A), rtol=1e-6)]
    if not wrong:
        return "Correct: 2 / largest eigenvalue. Any larger lr makes the steepest direction blow up."
    # the explanation must fit every wrong answer, so that the same code always gets the same message
    if all(_unsorted_explains(result, A, lambda v: 2.0 / v) for A, result in wrong):
        raise Fail(UNSORTED_EIG)
    why = diagnose_all([((A,), result) for A, result in answers], STABLE_LR_MISTAKES, rtol=1e-6)
    A, result = wrong[0]
    raise Fail(why or f"for this {len(A)}x{len(A)} matrix the limit is 2/L = {_largest_stable_lr(A):.6g}, "
                      f"you returned {result:.6g}.")


# ---------------------------------------------------------------- task 2: derive the best fixed lr
def _best(A):
    mu, L = _spectrum(A)
    return 2.0 / (mu + L), (L / mu - 1) / (L / mu + 1)


def _best_from(mu, L, absolute=False):
    """The formula with a given pair (mu, L); with ``absolute`` the rate is |1 - lr mu|."""
    lr = 2.0 / (mu + L)
    return lr, (abs(1 - lr * mu) if absolute else (L / mu - 1) / (L / mu + 1))


def _unsorted_pairs(A):
    """The (mu, L) a learner gets from np.linalg.eig / eigvals by taking the first and last eigenvalue."""
    pairs = []
    for values in (np.linalg.eig(A)[0], np.linalg.eigvals(A)):
        values = np.real(values)
        pairs += [(values[0], values[-1]), (values[-1], values[0])]
    return pairs


def _is_unsorted_eig(result, A):
    if close(result, _best(A), rtol=1e-6):
        return False
    return any(close(result, _best_from(mu, L, absolute), rtol=1e-6)
               for mu, L in _unsorted_pairs(A) for absolute in (False, True))


BEST_MISTAKES = [
    (lambda A: (1.0 / _spectrum(A)[1], 1 - _spectrum(A)[0] / _spectrum(A)[1]),
     "lr = 1/L makes the steep factor 1 - lr L zero, but leaves the flat one at 1 - mu/L, close to 1. The worst "
     "factor is smallest where the two extremes are equal in size: |1 - lr mu| = |1 - lr L|, with 1 - lr L "
     "negative, so 1 - lr mu = lr L - 1."),
    (lambda A: (1.0 / _spectrum(A)[0], _spectrum(A)[1] / _spectrum(A)[0] - 1),
     "lr = 1/mu solves the flat direction in one step, but the steep factor is then |1 - L/mu| = kappa - 1 > 1: "
     "that lr diverges. Balance the two factors instead: |1 - lr mu| = |1 - lr L|."),
    (lambda A: (_best(A)[1], _best(A)[0]), "you returned (rate, lr); return (lr, rate) in that order."),
    (lambda A: (_best(A)[0], -_best(A)[1]),
     "your lr is right but your rate is negative: at this lr the steep factor 1 - lr L is negative (the error "
     "in that direction flips sign every step), and the error shrinks by its size |1 - lr L| = "
     "(kappa - 1)/(kappa + 1). A rate is a size: take the absolute value. (Computed from kappa, the same "
     "negative number appears if kappa is taken upside down: kappa = L/mu >= 1.)"),
    (lambda A: (2.0 / _spectrum(A)[1], 1.0), "lr = 2/L is the edge of stability, where the steep factor is -1 "
                                             "(rate 1: no convergence). Balance the two extreme factors instead."),
    (lambda A: (_best(A)[0], 1 - 1 / (_spectrum(A)[1] / _spectrum(A)[0])),
     "your lr is right, but the rate there is |1 - lr mu| = (kappa - 1)/(kappa + 1), not 1 - 1/kappa."),
    (lambda A: (_best(A)[0], _best(A)[1] ** 2),
     "your lr is right, but your rate is the square of the rate: (kappa - 1)^2/(kappa + 1)^2 is how fast the "
     "*loss* shrinks per step (it is quadratic in the error). The rate asked for is the error's, |1 - lr mu| = "
     "(kappa - 1)/(kappa + 1)."),
    (lambda A: (_best(A)[0], (np.sqrt(_spectrum(A)[1] / _spectrum(A)[0]) - 1) /
                (np.sqrt(_spectrum(A)[1] / _spectrum(A)[0]) + 1)),
     "your lr is right, but (sqrt(kappa) - 1)/(sqrt(kappa) + 1) is the rate of the heavy ball with tuned momentum "
     "(chapter 04). Gradient descent's rate at this lr is |1 - lr mu| = (kappa - 1)/(kappa + 1)."),
    (lambda A: ((1 / _spectrum(A)[0] + 1 / _spectrum(A)[1]) / 2, None),
     "the mean of 1/mu and 1/L (the lrs that solve each extreme direction in one step) is not where the two "
     "factors balance: solve 1 - lr mu = lr L - 1 for lr."),
]


def _explains(wrong, A, result):
    expected = wrong(A)
    if expected[1] is None:
        return close(result[0], expected[0], rtol=1e-6)
    return close(result, expected, rtol=1e-6)


@task("02.best_lr_and_rate", "Task 2: the best fixed learning rate and its rate")
def check_best_lr_and_rate(best_lr_and_rate, rng):
    matrices = [random_spd(rng) for _ in range(4)] + [_spd_with_unsorted_eig(rng)]
    answers = []
    for A in matrices:
        result = as_numbers(call(best_lr_and_rate, A.copy(), names=("A",)), ("the lr", "the rate"),
                            "best_lr_and_rate")
        answers.append((A, result))
    wrong = [(A, result) for A, result in answers if not close(result, _best(A), rtol=1e-6)]
    if not wrong:
        return ("Correct: the factors |1 - lr mu| and |1 - lr L| balance at lr = 2/(mu + L), where both are "
                "(kappa - 1)/(kappa + 1). Any other lr makes one of them worse.")
    # the explanation must fit every wrong answer, so that the same code always gets the same message
    candidates = [(lambda A, result: _is_unsorted_eig(result, A), UNSORTED_EIG)]
    candidates += [(lambda A, result, wrong=wrong_fn: _explains(wrong, A, result), explanation)
                   for wrong_fn, explanation in BEST_MISTAKES]
    for fits, explanation in candidates:
        if all(fits(A, result) for A, result in wrong):
            raise Fail(explanation)
    A, result = wrong[0]
    lr, rate = _best(A)
    mu, L = _spectrum(A)
    if all(close(result[0], _best(A)[0], rtol=1e-6) for A, result in wrong):
        raise Fail(f"your lr is right: at lr = 2/(mu + L) the two extreme factors have the same size. But the rate "
                   f"there is that size, |1 - lr mu| = |1 - lr L| = (kappa - 1)/(kappa + 1): for this matrix "
                   f"(mu = {mu:.4g}, L = {L:.4g}) it is {rate:.6g}, and you returned {result[1]:.6g}.")
    raise Fail(f"for this matrix (mu = {mu:.4g}, L = {L:.4g}) the best lr is {lr:.6g} with rate {rate:.6g}; you "
               f"returned ({result[0]:.6g}, {result[1]:.6g}). At your lr the two extreme factors are "
               f"|1 - lr mu| = {abs(1 - result[0] * mu):.4g} and |1 - lr L| = {abs(1 - result[0] * L):.4g}; the best "
               f"lr makes them equal.")


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
        # four stable lrs, one that diverges more slowly (|1 - lr L| of 4 to 7: its loss overflows to inf
        # within the run unless x0 has almost no component along the steepest direction, below 1e-70) and one
        # that diverges fast enough for x itself to overflow, after which inf - inf gives NaN
        lrs = np.sort(np.concatenate([limit * rng.uniform(0.05, 0.95, 4), limit * rng.uniform(2.5, 4.0, 1),
                                      limit * rng.uniform(6.0, 10.0, 1)]))
        steps = int(rng.integers(380, 450))
        expected = _lr_sweep(f, grad_f, x0, lrs, steps)
        raw = call(lr_sweep, f, grad_f, x0.copy(), lrs.copy(), steps, names=("f", "grad_f", "x0", "lrs", "steps"))
        if raw is None:
            raise Fail("`lr_sweep` returned None: did you forget the `return` statement?")
        try:
            result = np.asarray(raw, dtype=float)
        except (TypeError, ValueError):
            raise Fail(f"`lr_sweep` returned {_kind(raw)}, not a list or array of losses") from None
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


# ---------------------------------------------------------------- task 4: the learning rates that meet a budget
def _radius(R, tol, steps):
    return (tol / R) ** (1 / steps)


def _window_from(mu, L, r):
    lo, hi = (1 - r) / mu, (1 + r) / L
    return (lo, hi) if lo <= hi else None


def _budget_window(A, R, tol, steps):
    mu, L = _spectrum(A)
    return _window_from(mu, L, _radius(R, tol, steps))


def _never_empty(A, R, tol, steps):
    mu, L = _spectrum(A)
    r = _radius(R, tol, steps)
    return (1 - r) / mu, (1 + r) / L


BUDGET_MISTAKES = [
    (lambda A, R, tol, steps: (lambda mu, L, r: ((1 - r) / L, (1 + r) / L))(*_spectrum(A), _radius(R, tol, steps)),
     "you used L for both ends: that is the window of the steep direction alone (chapter 01's window). The flat "
     "direction must shrink by the same factor: |1 - lr mu| <= r needs lr >= (1 - r)/mu, a larger lower end."),
    (lambda A, R, tol, steps: (lambda mu, L, r: ((1 - r) / mu, (1 + r) / mu))(*_spectrum(A), _radius(R, tol, steps)),
     "you used mu for both ends: that is the window of the flat direction alone. The steep direction must shrink "
     "as fast: |1 - lr L| <= r needs lr <= (1 + r)/L, a smaller upper end."),
    (lambda A, R, tol, steps: (lambda mu, L, r: ((1 - r) / L, (1 + r) / mu))(*_spectrum(A), _radius(R, tol, steps)),
     "your window holds the lrs for which *some* direction shrinks fast enough; every direction must, so take the "
     "lrs that suit both: lo = (1 - r)/mu (from the flat direction) and hi = (1 + r)/L (from the steep one)."),
    (lambda A, R, tol, steps: (lambda w: w and (w[0], 2 / _spectrum(A)[1]))(_budget_window(A, R, tol, steps)),
     "your upper end is 2/L, the stability limit. Stable is not enough: near 2/L the steep direction shrinks by "
     "|1 - lr L|, close to 1 per step, too slowly for the budget. It needs |1 - lr L| <= r: lr <= (1 + r)/L."),
    (lambda A, R, tol, steps: (lambda mu, L: _window_from(mu, L, tol / R))(*_spectrum(A)),
     "your factor r is tol / R, the shrinking needed over the whole run; per step it is its steps-th root, "
     "r = (tol / R)^(1/steps), since the error is multiplied by at most r at each of the steps."),
    (lambda A, R, tol, steps: (lambda mu, L: _window_from(mu, L, tol ** (1 / steps)))(*_spectrum(A)),
     "R is missing: the error must shrink from R to tol, so r = (tol / R)^(1/steps)."),
    (lambda A, R, tol, steps: _budget_window(A, R, tol, steps - 1),
     "off by one: after `steps` steps the factor has been applied exactly `steps` times."),
    (lambda A, R, tol, steps: _budget_window(A, R, tol, steps + 1),
     "off by one: after `steps` steps the factor has been applied exactly `steps` times."),
    (lambda A, R, tol, steps: (lambda w: w and w[::-1])(_budget_window(A, R, tol, steps)),
     "you returned (hi, lo); return (lo, hi)."),
]


def _same_window(a, b):
    if a is None or b is None:
        return a is None and b is None
    return close(a, b, rtol=1e-6, atol=1e-12)


def _budget_cases(rng):
    """Matrices and budgets, some with a window and some without (the budget too small for kappa)."""
    cases = []
    for i, has_window in enumerate((True, True, False, True, False, True)):
        A = _spd_with_unsorted_eig(rng) if i == 3 else random_spd(rng, kappa=float(10 ** rng.uniform(0.3, 2)))
        mu, L = _spectrum(A)
        best = (L / mu - 1) / (L / mu + 1)   # the smallest r any lr achieves (chapter 02's best rate)
        r = best + (1 - best) * float(rng.uniform(0.1, 0.8)) if has_window else best * float(rng.uniform(0.5, 0.95))
        steps, R = int(rng.integers(5, 200)), float(rng.uniform(0.5, 5))
        cases.append((A, R, R * r ** steps, steps))
    return cases


def _as_window(raw):
    if raw is None:
        return None
    if isinstance(raw, (tuple, list, np.ndarray)) and len(raw) == 0:
        raise Fail("return None (not an empty tuple or list) when no learning rate meets the budget.")
    return as_numbers(raw, ("lo", "hi"), "budget_window")


@task("02.budget_window", "Task 4: the learning rates that meet a budget")
def check_budget_window(budget_window, rng):
    answers = []
    for A, R, tol, steps in _budget_cases(rng):
        result = _as_window(call(budget_window, A.copy(), R, tol, steps, names=("A", "R", "tol", "steps")))
        answers.append(((A, R, tol, steps), result))
    wrong = [(args, result) for args, result in answers if not _same_window(result, _budget_window(*args))]
    if not wrong:
        return ("Correct: every direction must shrink by r = (tol/R)^(1/steps) per step, so lr runs from (1 - r)/mu "
                "(the flat direction) to (1 + r)/L (the steep one); the window closes when r < (kappa - 1)/(kappa + "
                "1), the best rate: then no lr meets the budget.")
    if all(result is None for _, result in answers):
        (A, R, tol, steps), _ = next(answer for answer in wrong)
        lo, hi = _budget_window(A, R, tol, steps)
        raise Fail(f"`budget_window` returned None every time: did you forget the `return` statement? (None means "
                   f"that no lr meets the budget, but for most budgets here some do: for one of them, lrs from "
                   f"{lo:.4g} to {hi:.4g}.) If your lo came out above your hi every time, check r, the factor per "
                   f"step: (tol / R)^(1/steps), the steps-th root of tol / R.")
    # the explanation must fit every answer, so that the same code always gets the same message
    for mistake, explanation in BUDGET_MISTAKES:
        if all(_same_window(result, mistake(*args)) for args, result in answers):
            raise Fail(explanation)
    if all(result is not None and any(close(result, ((1 - _radius(*args[1:])) / a, (1 + _radius(*args[1:])) / b),
                                            rtol=1e-6) for a in _ends_of_unsorted(args[0])
                                      for b in _ends_of_unsorted(args[0]))
           for args, result in wrong):
        raise Fail(UNSORTED_EIG)
    for (A, R, tol, steps), result in wrong:
        expected = _budget_window(A, R, tol, steps)
        mu, L = _spectrum(A)
        best = (L / mu - 1) / (L / mu + 1)
        r = _radius(R, tol, steps)
        if expected is None and result is not None and close(result, _never_empty(A, R, tol, steps), rtol=1e-6):
            raise Fail(f"your ends are right, but here lo > hi ({result[0]:.6g} > {result[1]:.6g}): no learning rate "
                       f"meets this budget, so return None. That happens when r = (tol/R)^(1/steps) = {r:.4g} is "
                       f"below the best rate any lr achieves, (kappa - 1)/(kappa + 1) = {best:.4g}: even the best "
                       f"lr, 2/(mu + L), is too slow for this kappa.")
        if expected is None and result is not None:
            raise Fail(f"no learning rate meets this budget (kappa = {L / mu:.4g}, R = {R:.4g}, tol = {tol:.3g}, "
                       f"{steps} steps), but you returned ({result[0]:.6g}, {result[1]:.6g}). The error must shrink "
                       f"by r = {r:.4g} per step in every direction, and no lr does better than the best rate "
                       f"(kappa - 1)/(kappa + 1) = {best:.4g}: return None.")
    (A, R, tol, steps), result = wrong[0]
    expected = _budget_window(A, R, tol, steps)
    mu, L = _spectrum(A)
    if result is None:
        raise Fail(f"you returned None, but lrs from {expected[0]:.6g} to {expected[1]:.6g} meet this budget "
                   f"(mu = {mu:.4g}, L = {L:.4g}, R = {R:.4g}, tol = {tol:.3g}, {steps} steps). The window is "
                   f"empty only when lo = (1 - r)/mu is above hi = (1 + r)/L.")
    raise Fail(f"for this matrix (mu = {mu:.4g}, L = {L:.4g}), R = {R:.4g}, tol = {tol:.3g} and {steps} steps the "
               f"window is ({expected[0]:.6g}, {expected[1]:.6g}); you returned ({result[0]:.6g}, "
               f"{result[1]:.6g}). The worst start lies along one eigenvector: after `steps` steps its error is "
               f"R |1 - lr lambda|^steps. Which lrs keep that within tol for every eigenvalue lambda?")


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


def _design_matrix(rng, d=None):
    n, d = int(rng.integers(40, 80)), d or int(rng.integers(2, 6))
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) * 10 ** rng.uniform(-1, 2, d)


def _data_with_unsorted_eig(rng):
    """Data whose X^T X (and X^T X / n) np.linalg.eig returns with neither extreme eigenvalue first or last."""
    for _ in range(5000):
        d = int(rng.integers(4, 6))
        n = int(rng.integers(40, 80))
        Q, _ = np.linalg.qr(rng.normal(size=(n, d)))
        X = np.sqrt(n) * Q @ np.linalg.cholesky(random_spd(rng, d=d)).T * 10 ** rng.uniform(-1, 1)
        if _middle_extremes(X.T @ X / len(X)) and _middle_extremes(X.T @ X):
            return X
    raise RuntimeError("no data with unsorted eigenvalues found")


def _unsorted_ratios(X):
    """kappa as the last / first (or first / last) eigenvalue of eig's unsorted output."""
    ratios = []
    for M in (X.T @ X / len(X), X.T @ X):
        for values in (np.real(np.linalg.eig(M)[0]), np.real(np.linalg.eigvals(M))):
            ratios += [values[-1] / values[0], values[0] / values[-1]]
    return ratios


@task("02.hessian_condition_number", "Task 5: the condition number of least squares")
def check_hessian_condition_number(hessian_condition_number, rng):
    data = [_design_matrix(rng) for _ in range(4)]
    data.insert(int(rng.integers(0, 5)), _data_with_unsorted_eig(rng))
    answers = [(X, as_number(call(hessian_condition_number, X.copy(), names=("X",)), "hessian_condition_number"))
               for X in data]
    wrong = [(X, result) for X, result in answers if not close(result, _hessian_condition_number(X), rtol=1e-5)]
    if not wrong:
        return "Correct: kappa = largest / smallest eigenvalue of the Hessian X^T X / n."
    # the explanation must fit every wrong answer, so that the same code always gets the same message
    if all(any(close(result, ratio, rtol=1e-5) for ratio in _unsorted_ratios(X)) for X, result in wrong):
        raise Fail(UNSORTED_EIG)
    why = diagnose_all([((X,), result) for X, result in answers], CONDITION_MISTAKES, rtol=1e-5)
    if why:
        raise Fail(why)
    X, result = wrong[0]
    expected = _hessian_condition_number(X)
    if all(np.isclose(result, _hessian_condition_number(X) * len(X), rtol=1e-5) or
           np.isclose(result, _hessian_condition_number(X) / len(X), rtol=1e-5) for X, result in wrong):
        raise Fail("the factor 1/n does not change kappa (it scales every eigenvalue alike); "
                   "check the ratio largest / smallest eigenvalue.")
    if not np.isfinite(result) or result < 0 or result > 1e6 * expected:
        # the ratio of a singular matrix's eigenvalues: its smallest is 0 up to rounding, of either sign
        raise Fail("X X^T (n x n) is the wrong product: for n > d it is singular, its smallest eigenvalue is "
                   "zero up to rounding (a tiny number of either sign), so the ratio comes out huge or "
                   "negative. The Hessian of the least-squares loss over the weights is X^T X / n, a d x d "
                   "matrix.")
    raise Fail(f"for this X, kappa of X^T X / n is {expected:.6g}; you returned {result:.6g}.")


# ---------------------------------------------------------------- task 6: conceptual
@task("02.answer_scaling", "Task 6: what feature scaling changes", kind="value")
def check_answer_scaling(answer, rng):
    choice(answer, "b", "abcd", {
        "a": "the minimum value of the loss is the same: the weights can absorb any rescaling of a feature "
             "(w_j becomes w_j * s_j), so the best fit is unchanged. (What a fixed budget of steps reaches does "
             "change, through the rate: that is (b).)",
        "c": "gradient descent is not invariant to rescaling: scaling a feature scales the curvature along "
             "it, which changes the eigenvalues of the Hessian, hence 2/L and the rate.",
        "d": "the fitted model's predictions are the same: only the coordinates of the weights change.",
    })
    return ("Correct: scaling changes the Hessian's eigenvalues, so kappa, the largest stable lr and the "
            "rate all change, while the best fit does not.")
