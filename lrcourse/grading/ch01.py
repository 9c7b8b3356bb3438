"""Checks for chapter 01: gradient descent and the learning rate.

``01.gd_step`` is the demonstration check of notebook 00 (one step, x - lr * grad), not a task of
exercise 01: the chapter shows it solved. The exercise asks for what the chapter does not hand over:
a loop with a stopping rule, recovering an unknown quadratic from its iterates, the regimes with
floating-point boundaries, step counts, the window of learning rates that meets a tolerance, and the
curvatures that a loss curve allows.
"""

import math

import numpy as np

from lrcourse.grading.core import (Fail, NotAttempted, _kind, aliased_message, aliased_path, as_array, as_number,
                                   as_numbers, call, close, diagnose, diagnose_all, join, path_difference, task)
from lrcourse.runs import regime_1d

REGIME_NAMES = ("monotone", "one step", "oscillating", "edge", "divergent")


# ---------------------------------------------------------------- notebook 00's demonstration: one step
def _gd_step(x, grad, lr):
    return x - lr * grad


GD_STEP_MISTAKES = [
    (lambda x, g, lr: x + lr * g, "you moved *up* the slope: the step is x - lr * grad (a minus sign), "
                                  "since the gradient points uphill."),
    (lambda x, g, lr: x - g, "the learning rate is missing: the step is x - lr * grad."),
    (lambda x, g, lr: x - lr, "you subtracted the learning rate itself; the step is lr times the gradient: "
                              "x - lr * grad."),
    (lambda x, g, lr: -lr * g, "you returned the step -lr * grad, not the new point x - lr * grad."),
    (lambda x, g, lr: x - g / lr, "you divided by the learning rate; the step is lr * grad (multiply)."),
]


@task("01.gd_step", "Notebook 00, a first check: one gradient-descent step", exercise=False)
def check_gd_step(gd_step, rng):
    for _ in range(5):
        d = int(rng.integers(1, 6))
        x, g, lr = rng.normal(size=d), rng.normal(size=d), float(rng.uniform(0.01, 1.0))
        result = as_array(call(gd_step, x.copy(), g.copy(), lr, names=("x", "grad", "lr")), (d,))
        if not close(result, _gd_step(x, g, lr)):
            why = diagnose(result, (x, g, lr), GD_STEP_MISTAKES)
            raise Fail(why or f"for x = {x}, grad = {g}, lr = {lr:.3g} the new point should be "
                              f"{_gd_step(x, g, lr)}, but you returned {result}.")
    return "Correct: x - lr * grad, a new point a little way downhill."


# ---------------------------------------------------------------- task 1: descend until the gradient is small
def _descend(grad_f, x0, lr, tol, max_steps, norm=np.linalg.norm, stop_on=None):
    """The reference (and, through its options, some mistakes): the path x_0 .. x_k."""
    xs = [np.array(x0, dtype=float)]
    stop_on = stop_on or (lambda x, g: norm(g) <= tol)
    while len(xs) - 1 < max_steps and not stop_on(xs[-1], grad_f(xs[-1])):
        xs.append(xs[-1] - lr * grad_f(xs[-1]))
    return np.array(xs)


def _descend_stop_on_x(grad_f, x0, lr, tol, max_steps):
    return _descend(grad_f, x0, lr, tol, max_steps, stop_on=lambda x, g: np.linalg.norm(x) <= tol)


def _descend_stop_on_step(grad_f, x0, lr, tol, max_steps):
    return _descend(grad_f, x0, lr, tol, max_steps, stop_on=lambda x, g: np.linalg.norm(lr * g) <= tol)


def _descend_uphill(grad_f, x0, lr, tol, max_steps):
    return _descend(lambda x: -grad_f(x), x0, lr, tol, max_steps)


def _descend_fixed_gradient(grad_f, x0, lr, tol, max_steps):
    g0 = grad_f(np.array(x0, dtype=float))
    xs = [np.array(x0, dtype=float)]
    while len(xs) - 1 < max_steps and np.linalg.norm(grad_f(xs[-1])) > tol:
        xs.append(xs[-1] - lr * g0)
    return np.array(xs)


def _descend_one_late(grad_f, x0, lr, tol, max_steps):
    """Looks at the gradient of the point it has just left: one step after the first small gradient."""
    xs = [np.array(x0, dtype=float)]
    while len(xs) - 1 < max_steps:
        g = grad_f(xs[-1])
        xs.append(xs[-1] - lr * g)
        if np.linalg.norm(g) <= tol:
            break
    return np.array(xs)


DESCEND_MISTAKES = [
    (_descend_one_late, "one step too many: you stop after the step taken *from* the first point whose gradient "
                        "is small enough. That point should be the last row: check the gradient at the current "
                        "point before taking a step."),
    (_descend_uphill, "your path goes uphill: the update is x - lr * grad_f(x), with a minus sign."),
    (_descend_fixed_gradient, "you used the gradient at the start, grad_f(x0), for every step. Evaluate "
                              "grad_f at the *current* point inside the loop."),
    (_descend_stop_on_x, "you stopped when x itself was small, |x| <= tol. The rule is on the gradient, "
                         "||grad_f(x)|| <= tol: the minimum need not be at 0 (here it is not), and the "
                         "gradient is what an optimizer can measure."),
    (_descend_stop_on_step, "you stopped when the step lr * grad was small; the rule is on the gradient itself, "
                            "||grad_f(x)|| <= tol."),
    (lambda g, x0, lr, tol, m: _descend(g, x0, lr, tol, m, norm=lambda v: np.sum(np.abs(v))),
     "you measured the gradient with the sum of absolute values; use its Euclidean length, np.linalg.norm(g)."),
    (lambda g, x0, lr, tol, m: _descend(g, x0, lr, tol, m, norm=lambda v: np.max(np.abs(v))),
     "you measured the gradient by its largest entry; use its Euclidean length, np.linalg.norm(g)."),
]


def _compare_paths(result, expected, steps_wording, by_tol):
    """Fail with a description of how two paths of possibly different lengths differ."""
    rows, want = len(result), len(expected)
    common = min(rows, want)
    if rows != want and close(result[:common], expected[:common]):
        if rows == want + 1:
            hint = (" The last row is the first iterate whose gradient is small enough: check the gradient at the "
                    "current point *before* taking a step." if by_tol else "")
            raise Fail(f"one step too many: your path has {rows} rows, {want} expected. {steps_wording}{hint}")
        if rows == want - 1:
            raise Fail(f"one step short: your path has {rows} rows, {want} expected. {steps_wording}")
        if rows > want:
            raise Fail(f"your path goes on past where it should stop ({rows} rows instead of {want}). "
                       f"{steps_wording}")
        raise Fail(f"your path stops too soon ({rows} rows instead of {want}). {steps_wording}")
    return None


def _quadratic(rng, d):
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    eigenvalues = rng.uniform(0.5, 3.0, d)
    A = Q @ np.diag(eigenvalues) @ Q.T
    c = rng.normal(size=d) * 2 + np.sign(rng.normal(size=d))  # the minimum, away from 0
    grad_f = lambda x, A=A, c=c: A @ (np.asarray(x, dtype=float) - c)  # noqa: E731
    return grad_f, c, float(eigenvalues.max())


def _norms_case(rng):
    """A 2-D or 3-D run on which the Euclidean norm, the largest entry, the sum of absolute values (and the
    other stopping mistakes) all stop at different steps, so that each of them shows in the path's length."""
    stoppers = [_descend, _descend_one_late, _descend_stop_on_step, DESCEND_MISTAKES[-2][0], DESCEND_MISTAKES[-1][0]]
    for _ in range(1000):
        d = int(rng.integers(2, 4))
        grad_f, c, L = _quadratic(rng, d)
        x0 = c + rng.normal(size=d) * 2
        inputs = (grad_f, x0, float(rng.uniform(0.1, 0.4)) / L, float(10 ** rng.uniform(-6, -3)), 5000)
        if len({len(stop(*inputs)) for stop in stoppers}) == len(stoppers):
            return ("norms",) + inputs
    raise RuntimeError("no run found on which the norms disagree")


def _descend_cases(rng):
    cases = []
    for kind in ("tol", "tol", "max_steps", "diverges", "already there", "tol"):
        d = int(rng.integers(1, 4))
        grad_f, c, L = _quadratic(rng, d)
        x0 = c + rng.normal(size=d) * 2
        tol = float(10 ** rng.uniform(-8, -3))
        if kind == "tol":
            lr, max_steps = float(rng.uniform(0.2, 1.6)) / L, 5000
        elif kind == "max_steps":
            lr, max_steps = float(rng.uniform(0.01, 0.05)) / L, int(rng.integers(5, 15))
        elif kind == "diverges":
            lr, max_steps = float(rng.uniform(2.2, 2.8)) / L, int(rng.integers(10, 25))
        else:
            lr, max_steps = float(rng.uniform(0.2, 1.0)) / L, 100
            x0 = c + rng.normal(size=d) * tol / (10 * L * d)
        cases.append((kind, grad_f, x0, lr, tol, max_steps))
    cases.insert(int(rng.integers(0, len(cases) + 1)), _norms_case(rng))
    return cases


def _same_until_it_overflows(a, b):
    """Two paths agree up to and including their first row with inf or NaN (a loop may stop there or go on)."""
    def cut(path):
        bad = ~np.all(np.isfinite(path), axis=1)
        return path[:int(np.argmax(bad)) + 1] if bad.any() else path
    try:
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.ndim == b.ndim == 2 and close(cut(a), cut(b))


def _descend_path(descend, kind, grad_f, x0, lr, tol, max_steps, expected):
    """The learner's path on one case as a (k + 1, d) array, or Fail saying why it is not one."""
    try:
        raw = call(descend, grad_f, x0.copy(), lr, tol, max_steps, names=("grad_f", "x0", "lr", "tol", "max_steps"))
    except Fail as fail:
        if "did not finish" in str(fail) and kind in ("max_steps", "diverges"):
            raise Fail(f"{fail} Here the gradient never gets below tol within max_steps = {max_steps} steps "
                       f"(lr = {lr:.3g}): your loop must also stop after max_steps steps.") from None
        raise
    if raw is None:
        raise Fail("`descend` returned None: did you forget the `return` statement?")
    try:
        result = np.asarray(raw, dtype=float)
    except (TypeError, ValueError):
        raise Fail(f"`descend` returned {_kind(raw)}, which is not an array of points") from None
    d = len(x0)
    if result.ndim == 1 and d == 1 and len(result) == len(expected):
        result = result[:, None]  # a 1-D problem returned as a flat list of numbers is fine
    if result.ndim == 1 and result.shape == (d,):
        raise Fail("you returned only the final point; return the whole path, one row per iterate "
                   "(x0, x1, ..., x_k), e.g. as np.array(list_of_points).")
    if result.ndim != 2 or result.shape[1] != d:
        raise Fail(f"your path has shape {result.shape}; in {d}-D it should have shape (k + 1, {d}): one row "
                   f"per iterate, x0 first.")
    return result


@task("01.descend", "Task 1: descend until the gradient is small")
def check_descend(descend, rng):
    answers = []
    for kind, grad_f, x0, lr, tol, max_steps in _descend_cases(rng):
        inputs = (grad_f, x0, lr, tol, max_steps)
        expected = _descend(*inputs)
        result = _descend_path(descend, kind, *inputs, expected)
        right = result.shape == expected.shape and close(result, expected, rtol=1e-9, atol=1e-12)
        answers.append((kind, inputs, expected, result, right))
    wrong = [answer for answer in answers if not answer[-1]]
    if not wrong:
        return ("Correct: a step while the gradient is larger than tol, and never more than max_steps steps, "
                "so the loop ends even when the run does not converge.")
    for kind, inputs, expected, result, _ in wrong:
        if aliased_path(result, expected):
            raise Fail(aliased_message(result))
    # a known mistake names the answer only if it reproduces every case, the right ones included: stopping on
    # the largest entry agrees with the Euclidean norm on 1-D runs, and must not be told it stopped one step late
    why = diagnose_all([(inputs, result) for _, inputs, _, result, _ in answers], DESCEND_MISTAKES,
                       same=_same_until_it_overflows)
    if why:
        raise Fail(why)
    kind, (grad_f, x0, lr, tol, max_steps), expected, result, _ = wrong[0]
    if kind == "already there" and len(result) != 1 and close(result[0], x0):
        raise Fail(f"the gradient at x0 is already below tol (||grad_f(x0)|| = "
                   f"{np.linalg.norm(grad_f(x0)):.2g} <= {tol:.2g}), so no step is needed: the path is just "
                   f"[x0]. Check the gradient before each step, including the first.")
    if kind in ("max_steps", "diverges"):
        wording = (f"Here the gradient stays above tol, so the run must stop after exactly max_steps = "
                   f"{max_steps} steps: {max_steps + 1} rows, x0 first.")
    else:
        wording = (f"Here the gradient (its Euclidean length, np.linalg.norm) first drops to tol or below at "
                   f"x_{len(expected) - 1}, so the path has {len(expected)} rows, x0 first.")
    if not np.all(np.isfinite(result)):
        raise Fail("your path contains inf or NaN: check the update x - lr * grad_f(x).")
    _compare_paths(result, expected, wording, by_tol=kind not in ("max_steps", "diverges"))
    if result.shape == expected.shape:
        raise Fail(path_difference(result, expected, "Check the update x_(t+1) = x_t - lr * grad_f(x_t)."))
    raise Fail(f"your path has {len(result)} rows, but {len(expected)} were expected. {wording}")


# ---------------------------------------------------------------- task 2: recover the quadratic from its iterates
def _recover(xs, lr):
    xs = np.asarray(xs, dtype=float)
    d0, d1 = xs[1] - xs[0], xs[2] - xs[1]
    q = d1 / d0
    return (1 - q) / lr, xs[0] + d0 / (1 - q)


def _ratio(xs):
    xs = np.asarray(xs, dtype=float)
    return (xs[2] - xs[1]) / (xs[1] - xs[0])


RECOVER_L_MISTAKES = [
    (lambda xs, lr: (1 - xs[1] / xs[0]) / lr,
     "your L uses x_1 / x_0 = 1 - lr L, which holds only when the minimum is at 0. Here it is not: the "
     "factor multiplies the distance to the minimum, x_(t+1) - x* = (1 - lr L)(x_t - x*), and x* is unknown. "
     "Differences of successive iterates get rid of it: (x_2 - x_1) / (x_1 - x_0) = 1 - lr L."),
    (lambda xs, lr: (1 - abs(_ratio(xs))) / lr,
     "your L comes from the *size* of the factor, |1 - lr L|, and misses its sign. In this run the iterates "
     "jump from one side of the minimum to the other (the factor is negative, lr L > 1), so "
     "L = (1 - factor) / lr with the signed factor."),
    (lambda xs, lr: (_ratio(xs) - 1) / lr, "sign error: the factor is q = 1 - lr L, so L = (1 - q) / lr."),
    (lambda xs, lr: (1 - _ratio(xs)) * lr, "the factor is 1 - lr L, so L = (1 - q) / lr: divide by the lr."),
    (lambda xs, lr: 1 - _ratio(xs), "the lr is missing: the factor is q = 1 - lr L, so L = (1 - q) / lr."),
    (lambda xs, lr: (1 - 1 / _ratio(xs)) / lr,
     "your ratio is upside down: you divided the earlier difference by the later one, (x_1 - x_0) / (x_2 - x_1), "
     "which is 1/q. Each step multiplies the difference by q = 1 - lr L, so q = (x_2 - x_1) / (x_1 - x_0), the "
     "later difference over the earlier one."),
]

RECOVER_XSTAR_MISTAKES = [
    (lambda xs, lr: float(np.asarray(xs)[-1]),
     "your x_star is the last iterate, but the run has not arrived yet: x* is where the iterates are heading. "
     "Solve x_1 - x* = q (x_0 - x*) for x*."),
    (lambda xs, lr: float(np.mean(xs)), "the mean of the iterates is not the minimum (it is pulled towards the "
                                        "start). Solve x_1 - x* = q (x_0 - x*) for x*."),
    (lambda xs, lr: 0.0, "the minimum is not at 0 here: solve x_1 - x* = q (x_0 - x*) for x*."),
    (lambda xs, lr: xs[0] - (xs[1] - xs[0]) / (1 - _ratio(xs)),
     "sign error in x*: from x_1 - x_0 = (q - 1)(x_0 - x*) it follows that x* = x_0 + (x_1 - x_0) / (1 - q)."),
]


def _works_on_an_array(recover_quadratic, xs, lr):
    try:
        result = as_numbers(call(recover_quadratic, np.array(xs), lr, names=("xs", "lr")), ("L", "x_star"))
    except (Fail, NotAttempted):
        return False
    return close(result, _recover(xs, lr), rtol=1e-6, atol=1e-9)


@task("01.recover_quadratic", "Task 2: recover the quadratic from its iterates")
def check_recover_quadratic(recover_quadratic, rng):
    cases = []
    for i in range(6):
        L = float(10 ** rng.uniform(-0.3, 1.3))
        q_target = float(rng.uniform(0.1, 0.9)) * (1 if i % 2 else -1)  # alternately oscillating and monotone
        lr = (1 - q_target) / L
        x_star = float(rng.choice([-1, 1]) * rng.uniform(0.5, 5))
        x0 = x_star + float(rng.choice([-1, 1]) * rng.uniform(1, 4))
        xs = [x0]
        for _ in range(int(rng.integers(2, 7))):
            xs.append(xs[-1] - lr * L * (xs[-1] - x_star))
        cases.append((np.array(xs), lr, L, x_star))
    for i, (xs, lr, L, x_star) in enumerate(cases):
        # every other case gives the iterates as a Python list, as the notebook's "Try it" cell does
        given = xs.tolist() if i % 2 else xs.copy()
        try:
            raw = call(recover_quadratic, given, lr, names=("xs", "lr"))
            result = as_numbers(raw, ("L", "x_star"), "recover_quadratic")
        except Fail as fail:
            if isinstance(given, list) and _works_on_an_array(recover_quadratic, xs, lr):
                raise Fail(f"your function works when xs is a numpy array, but not when it is a Python list, as "
                           f"here ({fail}). The iterates may come as a list (the \"Try it\" cell passes one): "
                           f"convert first, xs = np.asarray(xs, dtype=float), so that xs[1:] - xs[:-1] and the "
                           f"like subtract numbers.") from None
            raise
        if isinstance(given, list) and not close(result, (L, x_star), rtol=1e-6, atol=1e-9) and \
                _works_on_an_array(recover_quadratic, xs, lr):
            raise Fail(f"your function gives the right answer when xs is a numpy array, but not when it is a Python "
                       f"list, as here (you returned L = {result[0]:.6g}, x_star = {result[1]:.6g}; the true L is "
                       f"{L:.6g}, x* = {x_star:.6g}). On a list, * repeats and + concatenates instead of "
                       f"computing: convert first, xs = np.asarray(xs, dtype=float).")
        L_ok = close(result[0], L, rtol=1e-6, atol=1e-9)
        x_ok = close(result[1], x_star, rtol=1e-6, atol=1e-9)
        if L_ok and x_ok:
            continue
        if close(result, (x_star, L), rtol=1e-6, atol=1e-9):
            raise Fail("you returned (x_star, L); return (L, x_star) in that order.")
        where = (f"for the iterates {np.round(xs, 4).tolist()} at lr = {lr:.4g} (the true L is {L:.6g}, x* = "
                 f"{x_star:.6g}; you returned L = {result[0]:.6g}, x_star = {result[1]:.6g})")
        if not L_ok:
            why = diagnose(result[0], (xs, lr), RECOVER_L_MISTAKES, rtol=1e-6, atol=1e-9)
            raise Fail(f"{why or 'your L is off.'} That is {where}.")
        why = diagnose(result[1], (xs, lr), RECOVER_XSTAR_MISTAKES, rtol=1e-6, atol=1e-9)
        raise Fail(f"your L is right, but x_star is not: {why or 'solve x_1 - x* = q (x_0 - x*) for x*.'} "
                   f"That is {where}.")
    return ("Correct: successive differences shrink by q = 1 - lr L whatever the minimum, so three iterates "
            "give L = (1 - q)/lr and x* = x_0 + (x_1 - x_0)/(1 - q).")


# ---------------------------------------------------------------- task 3: the regime
REGIME_MISTAKES = [
    (lambda L, lr: regime_1d(1.0, lr), "you compared lr with 1 and 2, leaving out L: the boundaries are "
                                       "lr = 1/L and lr = 2/L (compare lr * L with 1 and 2)."),
    (lambda L, lr: regime_1d(L, lr / 2), "your boundaries are twice too large: one step at lr = 1/L, "
                                         "divergence beyond 2/L."),
    (lambda L, lr: regime_1d(L, 2 * lr), "your boundaries are half what they should be: one step at "
                                         "lr = 1/L, divergence beyond 2/L."),
]

# learning rates that are 1/L or 2/L on paper, computed the way they arise in practice (0.3 / 3 for L = 10):
# their product with L is not exactly 1 or 2 in floating point, and most are not the float 1/L either
_ROUNDABOUT = [lambda k, L, m: (k * m / L) / m, lambda k, L, m: k / (L * m) * m,
               lambda k, L, m: (0.1 * k * m) / (0.1 * m * L),
               lambda k, L, m: k * (1 / (m * L)) * m]


def _boundary_cases(rng):
    """Cases on the boundaries lr L = 1 and 2 where lr * L is not exactly 1 or 2, or lr is not exactly k/L.

    Always among them: lr * L off in the last digit (0.3 / 3 for L = 10; 1/49 for L = 49, the float 1/L
    itself), and lr * L exactly k although lr is not the float k/L, so that neither `lr * L == k` nor
    `lr == k / L` can pass.
    """
    cases = [(10.0, 0.3 / 3, "one step"), (10.0, 0.6 / 3, "edge"), (49.0, 1.0 / 49.0, "one step")]
    for k, name in ((1, "one step"), (2, "edge")):
        wanted = {"product off": 1, "lr off": 1}
        for _ in range(2000):
            L = float(rng.choice([3, 6, 7, 10, 12, 14, 20, 49, 98])) * float(rng.choice([1, 0.1, 10]))
            lr = float(_ROUNDABOUT[int(rng.integers(len(_ROUNDABOUT)))](k, L, int(rng.integers(3, 30))))
            if not np.isclose(lr * L, k, rtol=1e-12):
                continue
            kind = "product off" if lr * L != k else "lr off" if lr != k / L else None
            if kind and wanted[kind]:
                cases.append((L, lr, name))
                wanted[kind] -= 1
            if not any(wanted.values()):
                break
    return cases


def _regime_cases(rng):
    cases = []
    for _ in range(3):
        L = float(rng.uniform(0.3, 60))
        cases += [(L, float(rng.uniform(0.05, 0.95)) / L, "monotone"),
                  (L, float(rng.uniform(1.05, 1.95)) / L, "oscillating"),
                  (L, float(rng.uniform(2.05, 4.0)) / L, "divergent"),
                  (L, 1.0 / L, "one step"), (L, 2.0 / L, "edge")]
    cases += _boundary_cases(rng)
    # near a boundary but not on it (0.04% to 2% away): a tolerance must be tight enough to tell them apart
    for k, below, above in ((1, "monotone", "oscillating"), (2, "oscillating", "divergent")):
        for offset in (2e-2, 3e-3, 4e-4):
            L = float(rng.uniform(0.3, 60))
            side = float(rng.choice([-1, 1]))
            cases.append((L, k * (1 + side * offset) / L, below if side < 0 else above))
        # 1/L or 2/L up to a rounding error larger than one digit (a few 1e-14, as an lr computed through a
        # long sum can carry), on both sides of the boundary
        for side in (-1, 1):
            L = float(rng.uniform(0.3, 60))
            cases.append((L, k * (1 + side * float(rng.uniform(2e-14, 8e-14))) / L, "one step" if k == 1 else "edge"))
    order = rng.permutation(len(cases))
    return [cases[i] for i in order]


_NEIGHBOURS = {1: ("monotone", "oscillating"), 2: ("oscillating", "divergent")}


def _strict_test_first(answers):
    """(k, side, one wrong case) when the misses at boundary k all lie on one side of it, as when `q < k` (or
    `q > k`) is tested before the tolerance test; None otherwise."""
    for k, name in ((1, "one step"), (2, "edge")):
        on = [(L, lr, r) for L, lr, e, r in answers if e == name and lr * L != k]
        misses = [(L, lr, r) for L, lr, r in on if r != name]
        below = [c for c in misses if c[0] * c[1] < k and c[2] == _NEIGHBOURS[k][0]]
        above = [c for c in misses if c[0] * c[1] > k and c[2] == _NEIGHBOURS[k][1]]
        for side, these, other in (("below", below, above), ("above", above, below)):
            right_on_other_side = [c for c in on if c[2] == name and ((c[0] * c[1] > k) if side == "below"
                                                                       else (c[0] * c[1] < k))]
            if these and len(these) == len(misses) and right_on_other_side:
                return k, side, these[0]
    return None


@task("01.regime", "Task 3: name the regime")
def check_regime(regime, rng):
    answers = []
    for L, lr, expected in _regime_cases(rng):
        result = call(regime, L, lr, names=("L", "lr"))
        if result is None:
            raise Fail("`regime` returned None: did you forget the `return` statement?")
        if not isinstance(result, str):
            raise Fail(f"`regime` returned {result!r}; return one of the strings "
                       f"{', '.join(map(repr, REGIME_NAMES))}.")
        if result not in REGIME_NAMES:
            hint = " (lower case, exactly as listed)" if result.strip().lower() in REGIME_NAMES else ""
            raise Fail(f"`regime` returned {result!r}; the names are {', '.join(map(repr, REGIME_NAMES))}{hint}.")
        answers.append((L, lr, expected, result))
    wrong = [(L, lr, expected, result) for L, lr, expected, result in answers if result != expected]
    if not wrong:
        return "Correct: lr * L < 1 monotone, = 1 one step, < 2 oscillating, = 2 on the edge, > 2 divergent."
    # a known mistake must explain every answer, not just one (two mistakes can agree on one case)
    for mistake, explanation in REGIME_MISTAKES:
        if all(mistake(L, lr) == result for L, lr, _, result in answers):
            raise Fail(explanation)
    given = {result for *_, result in answers}
    for name, k, what in (("one step", 1, "the first step lands exactly on the minimum (the factor 1 - lr L is 0)"),
                          ("edge", 2, "the factor 1 - lr L is -1: x flips sign for ever, neither shrinking nor "
                                      "growing")):
        if name not in given and any(e == name for _, _, e, _ in wrong):
            raise Fail(f"your `regime` never returns {name!r}. At lr = {k}/L {what}: that is the regime {name!r}. "
                       f"Test for it (with a tolerance, np.isclose(lr * L, {k}), since lr * L can be off in the "
                       f"last digits) before the inequalities.")
    loose = [(L, lr, e, r) for L, lr, e, r in wrong if e not in ("one step", "edge") and r in ("one step", "edge")]
    if loose:
        L, lr, expected, result = loose[0]
        k = 1 if result == "one step" else 2
        raise Fail(f"your tolerance is too loose: at L = {L:.6g}, lr = {lr!r}, lr * L = {lr * L:.6g} is "
                   f"{abs(lr * L - k) / k:.2%} away from {k}, not on the boundary (the regime is {expected!r}), "
                   f"but you said {result!r}. Rounding errors are in the last digits (about 1e-16 relative, a few "
                   f"1e-14 after a long computation): use np.isclose(lr * L, {k}) (a relative tolerance of 1e-5) or "
                   f"a tolerance such as 1e-9.")
    strict = _strict_test_first(answers)
    if strict:
        k, side, (L, lr, result) = strict
        test, other = (f"lr * L < {k}", "above") if side == "below" else (f"lr * L > {k}", "below")
        raise Fail(f"at L = {L:.6g}, lr = {lr!r} (which is {k}/L up to rounding) you said {result!r}: lr * L came "
                   f"out as {lr * L!r}, just {side} {k}, and your code tests `{test}` before its tolerance test, "
                   f"which therefore never sees it (just {other} {k} you are right). Test the boundaries first: "
                   f"np.isclose(lr * L, {k}) before the inequalities.")
    boundary = [(L, lr, e, r) for L, lr, e, r in wrong if e in ("one step", "edge")]
    # which exact comparison explains the misses: lr * L == k (off in the last digit for some) or lr == k / L
    product_off = [(L, lr, e, r) for L, lr, e, r in boundary if lr * L != round(lr * L)]
    lr_off = [(L, lr, e, r) for L, lr, e, r in boundary if lr != round(lr * L) / L]
    if lr_off and len(lr_off) == len(boundary) and len(product_off) < len(boundary):
        L, lr, expected, result = next(c for c in lr_off if c not in product_off)
        k = round(lr * L)
        raise Fail(f"at L = {L:.6g}, lr = {lr!r} you said {result!r}, but lr * L = {lr * L!r}: this lr is "
                   f"{k}/L up to rounding ({k}/L is {k / L!r} in floating point, a different last digit). "
                   f"Compare lr * L with {k} using a tolerance, e.g. np.isclose(lr * L, {k}), rather than "
                   f"lr with {k}/L exactly.")
    if product_off:
        L, lr, expected, result = product_off[0]
        k = round(lr * L)
        raise Fail(f"at L = {L:.6g}, lr = {lr!r} (which is {k}/L up to rounding) you said {result!r}: in "
                   f"floating point lr * L came out as {lr * L!r}, not exactly {k}. Compare with a "
                   f"tolerance, e.g. np.isclose(lr * L, {k}).")
    L, lr, expected, result = wrong[0]
    raise Fail(f"for L = {L:.4g} and lr = {lr:.4g} (lr * L = {lr * L:.6g}) the regime is {expected!r}, "
               f"you said {result!r}. The factor per step is 1 - lr L = {1 - lr * L:.4g}.")


# ---------------------------------------------------------------- task 4: predict the step count
def _steps_to_reach(L, lr, x0, tol):
    if abs(x0) <= tol:
        return 0
    factor = abs(1 - lr * L)
    if factor == 0:
        return 1
    if factor >= 1:
        return math.inf
    return math.ceil(math.log(tol / abs(x0)) / math.log(factor))


def _log_steps(L, lr, x0, tol):
    return math.log(tol / abs(x0)) / math.log(abs(1 - lr * L))


STEPS_MISTAKES = [
    (lambda L, lr, x0, tol: round(_log_steps(L, lr, x0, tol)),
     "you rounded to the nearest whole number; the count must be rounded *up* (math.ceil): the smallest t with "
     "|1 - lr L|^t |x0| <= tol. Rounded down (about half of the time, with round), |x| is still above tol."),
    (lambda L, lr, x0, tol: math.floor(_log_steps(L, lr, x0, tol)),
     "one step short: after floor(...) steps |x| is still just above tol. Round *up* with math.ceil."),
    (lambda L, lr, x0, tol: int(_log_steps(L, lr, x0, tol)),
     "one step short: int(...) cuts off the fraction (it rounds down), and after that many steps |x| is still "
     "just above tol. Round *up* with math.ceil."),
    (lambda L, lr, x0, tol: math.ceil(_log_steps(L, lr, x0, tol)) + 1,
     "one step too many: the smallest t with |1 - lr L|^t |x0| <= tol is ceil(log(tol/|x0|) / log|1 - lr L|)."),
    (lambda L, lr, x0, tol: math.ceil(math.log(tol) / math.log(abs(1 - lr * L))),
     "you left out x0: |x_t| = |1 - lr L|^t |x0|, so t >= log(tol / |x0|) / log|1 - lr L|."),
]


def _curvature_with_exact(k):
    """An L whose float k/L times L is exactly k (so that lr * L == k holds in the computer)."""
    return lambda rng: next(L for L in (float(rng.uniform(0.5, 20)) for _ in range(10_000)) if (k / L) * L == k)


def _steps_cases(rng):
    cases = []
    for i in range(3):
        L = float(rng.uniform(0.5, 20))
        sign = -1.0 if i != 1 else 1.0  # negative starts too: the distance to the minimum is |x0|
        x0 = float(sign * rng.uniform(0.5, 5))
        tol = float(10 ** rng.uniform(-9, -3))
        cases += [(L, float(rng.uniform(0.05, 0.95)) / L, x0, tol),    # monotone
                  (L, float(rng.uniform(1.05, 1.9)) / L, -x0, tol)]    # oscillating: |1 - lr L| needed
    L1, L2 = _curvature_with_exact(1)(rng), _curvature_with_exact(2)(rng)
    cases += [(L1, 1.0 / L1, 2.0, 1e-6),                                   # one step (log 0 territory)
              (L2, 2.0 / L2, -1.5, 1e-6),                                  # the edge: |x| never shrinks
              (L1, 2.5 / L1, 1.0, 1e-6),                                   # divergent: never
              (L1, 0.5 / L1, 1e-8, 1e-6), (L2, 0.7 / L2, -2e-7, 1e-6)]     # already there: 0 steps
    order = rng.permutation(len(cases))
    return [cases[i] for i in order]


def _steps_hint(fail, steps_to_reach, L, lr, x0, tol):
    """More to say when the learner's function raised (or returned NaN) on one case."""
    factor = abs(1 - lr * L)
    if factor == 1.0:
        return join(str(fail), f"At lr = 2/L (the edge) the factor |1 - lr L| is exactly 1, and log 1 = 0: |x| keeps "
                               f"its size for ever and never reaches tol, so return math.inf (test factor >= 1, not "
                               f"factor > 1).")
    if factor == 0.0:
        return join(str(fail), "At lr = 1/L the factor 1 - lr L is 0 (and log 0 is undefined): the first step lands "
                               "on the minimum, so return 1.")
    if x0 < 0 and _runs(steps_to_reach, L, lr, -x0, tol):   # the same case with a positive start works
        return join(str(fail), f"Here x0 = {x0:g} is negative: the distance to the minimum is |x0|, so use "
                               f"log(tol / abs(x0)).")
    if 1 < lr * L < 2:  # a log of the negative factor 1 - lr L raises or gives NaN
        return join(str(fail), f"For lr * L = {lr * L:.3g} the factor 1 - lr L is negative: x flips sign, and its "
                               f"size shrinks by |1 - lr L|, so use log(abs(1 - lr * L)).")
    if x0 < 0:
        return join(str(fail), f"Here x0 = {x0:g} is negative: the distance to the minimum is |x0|.")
    return None


def _runs(fn, *args):
    try:
        as_number(call(fn, *args), allow_inf=True)
    except (Fail, NotAttempted):
        return False
    return True


@task("01.steps_to_reach", "Task 4: predict the number of steps")
def check_steps_to_reach(steps_to_reach, rng):
    answers = []
    for L, lr, x0, tol in _steps_cases(rng):
        expected = _steps_to_reach(L, lr, x0, tol)
        try:
            raw = call(steps_to_reach, L, lr, x0, tol, names=("L", "lr", "x0", "tol"))
            if raw is None and math.isinf(expected):
                raise Fail(f"for lr * L = {lr * L:.3g} return math.inf: the run never gets there.")
            result = as_number(raw, "steps_to_reach", allow_inf=True)
        except Fail as fail:
            hint = _steps_hint(fail, steps_to_reach, L, lr, x0, tol)
            if hint:
                raise Fail(hint) from None
            raise
        answers.append(((L, lr, x0, tol), expected, result))
    wrong = [(args, expected, result) for args, expected, result in answers if result != expected]
    if not wrong:
        return "Correct: t = ceil(log(tol/|x0|) / log|1 - lr L|), with 0, 1 and infinity where they belong."
    for (L, lr, x0, tol), expected, result in wrong:
        if result == 0 and x0 < 0:
            raise Fail(f"x0 = {x0:g} is below tol, but it is not within tol of the minimum: its distance is "
                       f"|x0| = {abs(x0):g}. Compare abs(x0) with tol.")
    # the counts of the ordinary cases: a mistake names the answer only if it explains every one of them
    counted = [(args, result) for args, expected, result in answers if 0 < abs(1 - args[0] * args[1]) < 1
               and abs(args[2]) > args[3]]
    if any(result != _steps_to_reach(*args) for args, result in counted):
        why = diagnose_all(counted, STEPS_MISTAKES, rtol=0, atol=0)
        if why:
            raise Fail(why)
    for (L, lr, x0, tol), expected, result in wrong:
        factor = abs(1 - lr * L)
        if math.isinf(expected):
            how = ("keeps the same size every step (|1 - lr L| = 1: the edge)" if factor == 1.0 else
                   "grows every step")
            raise Fail(f"for lr * L = {lr * L:.3g}, |x| {how}, so it never reaches tol: return math.inf, not "
                       f"{result:g}.")
        if expected == 0:
            raise Fail(f"|x0| = {abs(x0):g} is already within tol = {tol:g}: zero steps are needed.")
        if factor == 0.0:
            raise Fail(f"at lr = 1/L the first step lands exactly on the minimum: return 1, not {result:g}.")
    (L, lr, x0, tol), expected, result = wrong[0]
    raise Fail(f"for L = {L:.4g}, lr = {lr:.4g}, x0 = {x0:.4g}, tol = {tol:.3g}: "
                      f"{expected} steps are needed, you said {result:g}.")


# ---------------------------------------------------------------- task 5: the window of learning rates
def _window_radius(x0, tol, steps):
    return (tol / abs(x0)) ** (1 / steps)


def _lr_window(L, x0, tol, steps):
    r = _window_radius(x0, tol, steps)
    return (1 - r) / L, (1 + r) / L


LR_WINDOW_MISTAKES = [
    (lambda L, x0, tol, s: (_lr_window(L, x0, tol, s)[0], 2 / L),
     "your upper end is 2/L, the edge of stability. Stable is not enough: just below 2/L the factor |1 - lr L| "
     "is close to 1 and the run is as slow as with a tiny lr. The window is symmetric around 1/L: "
     "|1 - lr L| <= r on both sides."),
    (lambda L, x0, tol, s: (_lr_window(L, x0, tol, s)[0], 1 / L),
     "your upper end is 1/L, but learning rates above 1/L get there too: x flips sign each step, and only the "
     "size |1 - lr L| matters. The window is symmetric around 1/L."),
    (lambda L, x0, tol, s: (lambda r: ((1 - r) / L, (1 + r) / L))(tol ** (1 / s)),
     "x0 is missing: |x_steps| = |1 - lr L|^steps |x0| <= tol needs |1 - lr L| <= (tol / |x0|)^(1/steps)."),
    (lambda L, x0, tol, s: (lambda r: ((1 - r) / L, (1 + r) / L))(tol / abs(x0)),
     "that is the window for a single step: after `steps` steps the factor has been applied `steps` times, "
     "so |1 - lr L| <= (tol / |x0|)^(1/steps) (a root, not the ratio itself)."),
    (lambda L, x0, tol, s: _lr_window(L, x0, tol, s - 1),
     "off by one: after `steps` steps the factor has been applied exactly `steps` times."),
    (lambda L, x0, tol, s: _lr_window(L, x0, tol, s + 1),
     "off by one: after `steps` steps the factor has been applied exactly `steps` times."),
    (lambda L, x0, tol, s: _lr_window(L, x0, tol, s)[::-1], "you returned (hi, lo); return (lo, hi)."),
    (lambda L, x0, tol, s: (lambda r: (1 / L - r, 1 / L + r))(_window_radius(x0, tol, s)),
     "|1 - lr L| <= r gives 1 - r <= lr L <= 1 + r: divide r by L too, lo = (1 - r)/L and hi = (1 + r)/L."),
]


@task("01.lr_window", "Task 5: the learning rates that get there in time")
def check_lr_window(lr_window, rng):
    for i in range(6):
        L = float(10 ** rng.uniform(-0.3, 1.7))
        x0 = float((-1) ** i * rng.uniform(0.5, 5))  # every other start negative: the distance is |x0|
        tol = abs(x0) * float(10 ** rng.uniform(-8, -1))
        steps = int(rng.integers(3, 200))
        args = (L, x0, tol, steps)
        try:
            result = as_numbers(call(lr_window, *args, names=("L", "x0", "tol", "steps")), ("lo", "hi"),
                                "lr_window")
        except Fail as fail:
            if x0 < 0 and ("complex" in str(fail) or "NaN" in str(fail)):
                raise Fail(f"for x0 = {x0:.4g} (a negative start) your window is not real: tol / x0 is negative, "
                           f"and a fractional power of a negative number, such as (tol / x0) ** (1 / steps), is "
                           f"complex in Python (NaN with numpy). The distance to the minimum is |x0|: use "
                           f"abs(x0).") from None
            raise
        expected = _lr_window(*args)
        if close(result, expected, rtol=1e-6, atol=1e-12):
            continue
        why = diagnose(result, args, LR_WINDOW_MISTAKES, rtol=1e-6, atol=1e-12)
        if why:
            raise Fail(why)
        if close(result, expected, rtol=1e-2):
            raise Fail(f"close, but not exact: for L = {L:.4g}, x0 = {x0:.4g}, tol = {tol:.3g}, steps = {steps} "
                       f"the window is ({expected[0]:.8g}, {expected[1]:.8g}); you returned ({result[0]:.8g}, "
                       f"{result[1]:.8g}). Compute the ends exactly from the closed form rather than by a search.")
        raise Fail(f"for L = {L:.4g}, x0 = {x0:.4g}, tol = {tol:.3g}, steps = {steps} the window is "
                   f"({expected[0]:.6g}, {expected[1]:.6g}); you returned ({result[0]:.6g}, {result[1]:.6g}). "
                   f"Solve |1 - lr L|^steps |x0| <= tol for lr.")
    return ("Correct: |1 - lr L| <= (tol/|x0|)^(1/steps), a window symmetric around 1/L. Stability (lr < 2/L) "
            "is not speed: most of the stable range is too slow.")


# ---------------------------------------------------------------- task 6: what a loss curve tells about L
CURVE_LR, CURVE_DECADES, CURVE_STEPS = 0.01, 2, 10


def _curvatures(per_step_factor=10 ** (-CURVE_DECADES / CURVE_STEPS), lr=CURVE_LR, square=True):
    q = per_step_factor ** 0.5 if square else per_step_factor
    return (1 - q) / lr, (1 + q) / lr


CURVATURE_MISTAKES = [
    (_curvatures(square=False), "you took the loss factor per step, 10^(-0.2), as the factor of x. The loss "
                                "L/2 x^2 is multiplied by the *square* (1 - lr L)^2, so |1 - lr L| = "
                                "10^(-0.1), its square root."),
    (_curvatures(per_step_factor=math.exp(-CURVE_DECADES / CURVE_STEPS)),
     "a decade is a factor 10: 2 decades in 10 steps is a loss factor 10^(-0.2) per step, not e^(-0.2)."),
    (_curvatures(per_step_factor=10 ** -CURVE_DECADES), "10^(-2) is the loss factor over the 10 steps; per step "
                                                        "it is 10^(-2/10)."),
]


@task("01.answer_curvatures", "Task 6: what a loss curve tells about L", kind="value")
def check_answer_curvatures(answer, rng):
    if answer is None:
        raise NotAttempted()
    expected = _curvatures()
    try:
        values = sorted(float(v) for v in (answer if isinstance(answer, (tuple, list, set, np.ndarray)) else [answer]))
    except (TypeError, ValueError):
        raise Fail(f"set answer_curvatures to a tuple of numbers, e.g. (12.5, 150.0), not {answer!r}.") from None
    if any(not math.isfinite(v) for v in values):
        raise Fail("your curvatures should be finite numbers.")
    if len(values) == 2 and np.allclose(values, expected, rtol=2e-3):
        return (f"Correct: |1 - lr L| = 10^(-0.1) = 0.794 allows L = {expected[0]:.2f} (monotone, lr L = 0.21) and "
                f"L = {expected[1]:.2f} (oscillating, lr L = 1.79). The loss ignores the sign of x, so it cannot "
                f"tell them apart; the iterates can (task 2).")
    rough = [v for v in values if np.isclose(v, expected, rtol=1e-2).any() and not np.isclose(v, expected, rtol=2e-3).any()]
    if rough and all(np.isclose(v, expected, rtol=1e-2).any() for v in values):
        raise Fail(f"{', '.join(f'{v!r}' for v in rough)}: close to a curvature that fits (within 1%), but not "
                   f"precise enough. Give 4 significant digits (12.34 rather than 12.3), or better, compute the "
                   f"values with Python and keep every digit.")
    for wrong, explanation in CURVATURE_MISTAKES:
        if len(values) in (1, 2) and all(np.isclose(v, wrong, rtol=2e-3).any() for v in values):
            raise Fail(explanation)
    if len(values) == 1 and np.isclose(values[0], expected, rtol=2e-3).any():
        other = expected[1] if np.isclose(values[0], expected[0], rtol=2e-3) else expected[0]
        side = "oscillating one, 1 - lr L < 0" if other > values[0] else "monotone one, 1 - lr L > 0"
        raise Fail(f"{values[0]:.4g} fits, but it is not the only L that does: the loss only sees |1 - lr L|, and "
                   f"a second curvature gives the same size with the opposite sign (the {side}). Give both.")
    if len(values) > 2 or (len(values) == 2 and any(np.isclose(v, expected, rtol=2e-3).any() for v in values)):
        raise Fail(f"exactly two curvatures fit: one of yours does not. A straight line on a log axis means the "
                   f"loss shrinks by the same factor every step, here 10^(-0.2) = {10 ** -0.2:.4f}; solve "
                   f"(1 - lr L)^2 = 10^(-0.2) for L.")
    raise Fail(f"{', '.join(f'{v:.4g}' for v in values)} does not fit this loss curve: it shrinks by the same factor "
               f"every step, 10^(-0.2), and that factor is (1 - lr L)^2. Solve for L (there is more than one answer).")
