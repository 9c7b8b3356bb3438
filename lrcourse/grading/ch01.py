"""Checks for chapter 01: gradient descent and the learning rate.

``01.gd_step`` is the demonstration check of notebook 00 (one step, x - lr * grad), not a task of
exercise 01: the chapter shows it solved. The exercise asks for what the chapter does not hand over:
a loop with a stopping rule, recovering an unknown quadratic from its iterates, the regimes with
floating-point boundaries, step counts, the window of learning rates that meets a tolerance, and the
curvatures that a loss curve allows.
"""

import math

import numpy as np

from lrcourse.grading.core import (Fail, NotAttempted, _kind, as_array, as_number, as_numbers, call, close,
                                   diagnose, first_differing_row, task)
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


def _aliased(result, expected):
    """Rows 1..k (or all rows) equal the last point, which is right: the same array appended each time."""
    if result.shape != expected.shape or len(result) < 3:
        return False
    last = result[-1]
    return close(last, expected[-1]) and all(close(row, last) for row in result[1:]) and \
        not all(close(row, last) for row in expected[1:])


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


@task("01.descend", "Task 1: descend until the gradient is small")
def check_descend(descend, rng):
    cases = []
    for kind in ("tol", "tol", "max_steps", "diverges", "already there", "tol"):
        d = int(rng.integers(1, 4))
        Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
        eigenvalues = rng.uniform(0.5, 3.0, d)
        A = Q @ np.diag(eigenvalues) @ Q.T
        c = rng.normal(size=d) * 2 + np.sign(rng.normal(size=d))  # the minimum, away from 0
        grad_f = lambda x, A=A, c=c: A @ (np.asarray(x, dtype=float) - c)  # noqa: E731
        L = float(eigenvalues.max())
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
    for kind, grad_f, x0, lr, tol, max_steps in cases:
        inputs = (grad_f, x0, lr, tol, max_steps)
        expected = _descend(*inputs)
        try:
            raw = call(descend, grad_f, x0.copy(), lr, tol, max_steps,
                       names=("grad_f", "x0", "lr", "tol", "max_steps"))
        except Fail as fail:
            if "did not finish" in str(fail) and kind in ("max_steps", "diverges"):
                raise Fail(f"{fail} Here the gradient never gets below tol within max_steps = {max_steps} steps "
                           f"(lr = {lr:.3g}): your loop must also stop after max_steps steps.") from None
            raise
        if raw is None:
            raise Fail("descend returned None: did you forget the `return` statement?")
        try:
            result = np.asarray(raw, dtype=float)
        except (TypeError, ValueError):
            raise Fail(f"descend returned {_kind(raw)}, which is not an array of points") from None
        d = len(x0)
        if result.ndim == 1 and d == 1 and len(result) == len(expected):
            result = result[:, None]  # a 1-D problem returned as a flat list of numbers is fine
        if result.ndim == 1 and result.shape == (d,):
            raise Fail("you returned only the final point; return the whole path, one row per iterate "
                       "(x0, x1, ..., x_k), e.g. as np.array(list_of_points).")
        if result.ndim != 2 or result.shape[1] != d:
            raise Fail(f"your path has shape {result.shape}; in {d}-D it should have shape (k + 1, {d}): one row "
                       f"per iterate, x0 first.")
        if kind == "already there" and len(result) != 1 and close(result[0], x0):
            raise Fail(f"the gradient at x0 is already below tol (||grad_f(x0)|| = "
                       f"{np.linalg.norm(grad_f(x0)):.2g} <= {tol:.2g}), so no step is needed: the path is just "
                       f"[x0]. Check the gradient before each step, including the first.")
        if kind in ("max_steps", "diverges"):
            wording = (f"Here the gradient stays above tol, so the run must stop after exactly max_steps = "
                       f"{max_steps} steps: {max_steps + 1} rows, x0 first.")
        else:
            wording = (f"Here the gradient first drops to tol or below at x_{len(expected) - 1}, so the path has "
                       f"{len(expected)} rows, x0 first.")
        if result.shape == expected.shape and close(result, expected, rtol=1e-9, atol=1e-12):
            continue
        if _aliased(result, expected):
            raise Fail("rows 1 to the end of your path all equal the last point. You appended the same array each "
                       "time and then changed it in place (`x -= ...`); append a copy, or write "
                       "`x = x - lr * g`, which makes a new array.")
        why = diagnose(result, inputs, DESCEND_MISTAKES)
        if why:
            raise Fail(why)
        if not np.all(np.isfinite(result)):
            raise Fail("your path contains inf or NaN: check the update x - lr * grad_f(x).")
        _compare_paths(result, expected, wording, by_tol=kind not in ("max_steps", "diverges"))
        if result.shape == expected.shape:
            bad = first_differing_row(result, expected)
            raise Fail(f"your path matches up to step {bad - 1} and differs from step {bad} on: expected "
                       f"{expected[bad]}, got {result[bad]}. Check the update x_(t+1) = x_t - lr * grad_f(x_t).")
        raise Fail(f"your path has {len(result)} rows, but {len(expected)} were expected. {wording}")
    return ("Correct: a step while the gradient is larger than tol, and never more than max_steps steps, "
            "so the loop ends even when the run does not converge.")


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
    for xs, lr, L, x_star in cases:
        result = as_numbers(call(recover_quadratic, xs.copy(), lr, names=("xs", "lr")), ("L", "x_star"),
                            "recover_quadratic")
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
    order = rng.permutation(len(cases))
    return [cases[i] for i in order]


@task("01.regime", "Task 3: name the regime")
def check_regime(regime, rng):
    answers = []
    for L, lr, expected in _regime_cases(rng):
        result = call(regime, L, lr, names=("L", "lr"))
        if result is None:
            raise Fail("regime returned None: did you forget the `return` statement?")
        if not isinstance(result, str):
            raise Fail(f"regime returned {result!r}; return one of the strings {', '.join(map(repr, REGIME_NAMES))}.")
        if result not in REGIME_NAMES:
            hint = " (lower case, exactly as listed)" if result.strip().lower() in REGIME_NAMES else ""
            raise Fail(f"regime returned {result!r}; the names are {', '.join(map(repr, REGIME_NAMES))}{hint}.")
        answers.append((L, lr, expected, result))
    wrong = [(L, lr, expected, result) for L, lr, expected, result in answers if result != expected]
    if not wrong:
        return "Correct: lr * L < 1 monotone, = 1 one step, < 2 oscillating, = 2 on the edge, > 2 divergent."
    # a known mistake must explain every answer, not just one (two mistakes can agree on one case)
    for mistake, explanation in REGIME_MISTAKES:
        if all(mistake(L, lr) == result for L, lr, _, result in answers):
            raise Fail(explanation)
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
    raise Fail(f"for L = {L:.4g} and lr = {lr:.4g} (lr * L = {lr * L:.4g}) the regime is {expected!r}, "
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


STEPS_MISTAKES = [
    (lambda L, lr, x0, tol: math.floor(math.log(tol / abs(x0)) / math.log(abs(1 - lr * L))),
     "one step short: after floor(...) steps |x| is still just above tol. Round *up* with math.ceil."),
    (lambda L, lr, x0, tol: math.ceil(math.log(tol / abs(x0)) / math.log(abs(1 - lr * L))) + 1,
     "one step too many: the smallest t with |1 - lr L|^t |x0| <= tol is ceil(log(tol/|x0|) / log|1 - lr L|)."),
    (lambda L, lr, x0, tol: math.ceil(math.log(tol) / math.log(abs(1 - lr * L))),
     "you left out x0: |x_t| = |1 - lr L|^t |x0|, so t >= log(tol / |x0|) / log|1 - lr L|."),
]


@task("01.steps_to_reach", "Task 4: predict the number of steps")
def check_steps_to_reach(steps_to_reach, rng):
    cases = []
    for _ in range(3):
        L = float(rng.uniform(0.5, 20))
        x0 = float(rng.choice([-1, 1]) * rng.uniform(0.5, 5))
        tol = float(10 ** rng.uniform(-9, -3))
        cases += [(L, float(rng.uniform(0.05, 0.95)) / L, x0, tol),   # monotone
                  (L, float(rng.uniform(1.05, 1.9)) / L, x0, tol)]    # oscillating: |1 - lr L| needed
    L = float(rng.uniform(0.5, 20))
    while (1.0 / L) * L != 1.0:  # a curvature whose 1/L is exact enough that lr * L == 1: log(0) territory
        L = float(rng.uniform(0.5, 20))
    cases += [(L, 1.0 / L, 2.0, 1e-6),                                   # one step
              (L, 2.5 / L, 1.0, 1e-6),                                   # divergent: never
              (L, 0.5 / L, 1e-8, 1e-6)]                                  # already there: 0 steps
    for L, lr, x0, tol in cases:
        expected = _steps_to_reach(L, lr, x0, tol)
        try:
            raw = call(steps_to_reach, L, lr, x0, tol, names=("L", "lr", "x0", "tol"))
            if raw is None and math.isinf(expected):
                raise Fail(f"for lr * L = {lr * L:.3g} (divergent) return math.inf: the run never gets there.")
            result = as_number(raw, "steps_to_reach", allow_inf=True)
        except Fail as fail:
            if 1 < lr * L < 2:  # a log of the negative factor 1 - lr L raises or gives NaN
                raise Fail(f"{fail}. For lr * L = {lr * L:.3g} the factor 1 - lr L is negative: x flips sign, "
                           f"and its size shrinks by |1 - lr L|, so use log(abs(1 - lr * L)).") from None
            if lr * L == 1.0:  # log(0)
                raise Fail(f"{fail}. At lr = 1/L the factor 1 - lr L is 0 (and log 0 is undefined): the first "
                           f"step lands on the minimum, so return 1.") from None
            raise
        if result == expected:
            continue
        if math.isinf(expected):
            raise Fail(f"for lr * L = {lr * L:.3g} |x| grows every step, so it never reaches tol: "
                       f"return math.inf, not {result:g}.")
        if expected == 0:
            raise Fail(f"|x0| = {abs(x0):g} is already within tol = {tol:g}: zero steps are needed.")
        if lr * L == 1.0:
            raise Fail(f"at lr = 1/L the first step lands exactly on the minimum: return 1, not {result:g}.")
        why = diagnose(result, (L, lr, x0, tol), STEPS_MISTAKES, rtol=0, atol=0)
        raise Fail(why or f"for L = {L:.4g}, lr = {lr:.4g}, x0 = {x0:.4g}, tol = {tol:.3g}: "
                          f"{expected} steps are needed, you said {result:g}.")
    return "Correct: t = ceil(log(tol/|x0|) / log|1 - lr L|), with 0, 1 and infinity where they belong."


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
    for _ in range(6):
        L = float(10 ** rng.uniform(-0.3, 1.7))
        x0 = float(rng.choice([-1, 1]) * rng.uniform(0.5, 5))
        tol = abs(x0) * float(10 ** rng.uniform(-8, -1))
        steps = int(rng.integers(3, 200))
        args = (L, x0, tol, steps)
        result = as_numbers(call(lr_window, *args, names=("L", "x0", "tol", "steps")), ("lo", "hi"), "lr_window")
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
