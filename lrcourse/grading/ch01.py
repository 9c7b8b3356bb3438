"""Checks for chapter 01: gradient descent and the learning rate."""

import math

import numpy as np

from lrcourse.grading.core import Fail, as_array, as_number, call, choice, close, diagnose, first_differing_row, task
from lrcourse.runs import regime_1d

REGIME_NAMES = ("monotone", "one step", "oscillating", "edge", "divergent")


# ---------------------------------------------------------------- task 1: one step
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


@task("01.gd_step", "Task 1: one gradient-descent step")
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


# ---------------------------------------------------------------- task 2: the loop
def _gradient_descent(grad_f, x0, lr, steps):
    xs = [np.array(x0, dtype=float)]
    for _ in range(steps):
        xs.append(xs[-1] - lr * grad_f(xs[-1]))
    return np.array(xs)


def _gd_fixed_gradient(grad_f, x0, lr, steps):
    g = grad_f(np.array(x0, dtype=float))
    return np.array([x0 - t * lr * g for t in range(steps + 1)])


def _gd_uphill(grad_f, x0, lr, steps):
    return _gradient_descent(lambda x: -grad_f(x), x0, lr, steps)


def _gd_aliased(grad_f, x0, lr, steps):
    final = _gradient_descent(grad_f, x0, lr, steps)[-1]
    return np.array([final] * (steps + 1))


GD_LOOP_MISTAKES = [
    (_gd_uphill, "your path goes uphill: the update is x - lr * grad_f(x), with a minus sign."),
    (_gd_fixed_gradient, "you used the gradient at the start, grad_f(x0), for every step. Evaluate "
                         "grad_f at the *current* point inside the loop."),
    (_gd_aliased, "every row of your path equals the last point. You appended the same array each time "
                  "and then changed it in place (`x -= ...`); append a copy, or write `x = x - lr * g`, "
                  "which makes a new array."),
]


@task("01.gradient_descent", "Task 2: gradient descent, the loop")
def check_gradient_descent(gradient_descent, rng):
    for _ in range(4):
        d = int(rng.integers(1, 4))
        Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
        A = Q @ np.diag(rng.uniform(0.5, 3.0, d)) @ Q.T
        grad_f = lambda x, A=A: A @ x  # noqa: E731
        x0 = rng.normal(size=d)
        lr, steps = float(rng.uniform(0.05, 0.6)), int(rng.integers(3, 12))
        expected = _gradient_descent(grad_f, x0, lr, steps)
        raw = call(gradient_descent, grad_f, x0.copy(), lr, steps, names=("grad_f", "x0", "lr", "steps"))
        result = as_array(raw, what="gradient_descent")
        if result.ndim == 1 and d == 1 and result.shape == (steps + 1,):
            result = result[:, None]  # a 1-D problem returned as a flat list of numbers is fine
        if result.shape != expected.shape:
            rows = result.shape[0] if result.ndim else 0
            if rows == steps and result.ndim == 2 and close(result, expected[1:]):
                raise Fail(f"your path starts at x_1: include the starting point x0 as the first row, "
                           f"so that steps = {steps} gives {steps + 1} rows.")
            if rows == steps or rows == steps + 2:
                raise Fail(f"off by one: for steps = {steps} your path has {rows} rows, but it should have "
                           f"{steps + 1}: x0 and then one row for each step.")
            if result.shape == (d,):
                raise Fail("you returned only the final point; return the whole path, one row per iterate "
                           "(x0, x1, ..., x_steps), e.g. as np.array(list_of_points).")
            raise Fail(f"your path has shape {result.shape}, but for steps = {steps} in {d}-D it should have "
                       f"shape {expected.shape}: one row per iterate, x0 first.")
        if not close(result, expected):
            why = diagnose(result, (grad_f, x0, lr, steps), GD_LOOP_MISTAKES)
            if why:
                raise Fail(why)
            bad = first_differing_row(result, expected)
            raise Fail(f"your path matches up to step {bad - 1} and differs from step {bad} on: expected "
                       f"{expected[bad]}, got {result[bad]}. Check the update x_(t+1) = x_t - lr * grad_f(x_t).")
    return "Correct: your loop produces exactly the iterates of gradient descent."


# ---------------------------------------------------------------- task 3: the closed form
def _closed_form(L, lr, x0, t):
    return (1 - lr * L) ** t * x0


CLOSED_FORM_MISTAKES = [
    (lambda L, lr, x0, t: (1 - lr * L) ** (t - 1) * x0,
     "off by one in the exponent: after t steps the factor (1 - lr L) has been applied t times, "
     "so x_t = (1 - lr L)**t * x0."),
    (lambda L, lr, x0, t: (1 - lr * L) ** (t + 1) * x0,
     "off by one in the exponent: x_0 is the start (t = 0, no factor yet), so x_t = (1 - lr L)**t * x0."),
    (lambda L, lr, x0, t: (1 + lr * L) ** t * x0,
     "sign error: the derivative of L/2 x^2 is L x, so x - lr L x = (1 - lr L) x."),
    (lambda L, lr, x0, t: (1 - lr) ** t * x0, "L is missing: each step multiplies x by (1 - lr * L)."),
    (lambda L, lr, x0, t: (1 - L) ** t * x0, "lr is missing: each step multiplies x by (1 - lr * L)."),
    (lambda L, lr, x0, t: (1 - lr * L * t) * x0,
     "you multiplied by t instead of raising to the power t: the factor is applied once per step, "
     "(1 - lr L)**t."),
    (lambda L, lr, x0, t: (1 - lr * L) ** t, "x0 is missing: x_t = (1 - lr L)**t * x0."),
]


@task("01.closed_form", "Task 3: the iterates in closed form")
def check_closed_form(closed_form, rng):
    cases = [(float(rng.uniform(0.5, 5)), None, float(rng.normal() * 3), int(rng.integers(2, 30)))
             for _ in range(6)]
    for i, (L, _, x0, t) in enumerate(cases):
        lr = float(rng.uniform(0.01, 2.3)) / L if i else 1.5 / L  # the first case oscillates
        result = as_number(call(closed_form, L, lr, x0, t, names=("L", "lr", "x0", "t")), "closed_form",
                           allow_inf=True)
        expected = _closed_form(L, lr, x0, t)
        if not close(result, expected):
            why = diagnose(result, (L, lr, x0, t), CLOSED_FORM_MISTAKES)
            raise Fail(why or f"for L = {L:.3g}, lr = {lr:.3g}, x0 = {x0:.3g}, t = {t}: expected "
                              f"{expected:.6g}, got {result:.6g}.")
    return "Correct: x_t = (1 - lr L)^t x0. Everything about the four regimes follows from this factor."


# ---------------------------------------------------------------- task 4: the regime
REGIME_MISTAKES = [
    (lambda L, lr: regime_1d(1.0, lr), "you compared lr with 1 and 2, leaving out L: the boundaries are "
                                       "lr = 1/L and lr = 2/L (compare lr * L with 1 and 2)."),
    (lambda L, lr: regime_1d(L, lr / 2), "your boundaries are twice too large: one step at lr = 1/L, "
                                         "divergence beyond 2/L."),
    (lambda L, lr: regime_1d(L, 2 * lr), "your boundaries are half what they should be: one step at "
                                         "lr = 1/L, divergence beyond 2/L."),
]


def _regime_cases(rng):
    cases = []
    for _ in range(3):
        L = float(rng.uniform(0.3, 60))
        cases += [(L, float(rng.uniform(0.05, 0.95)) / L, "monotone"),
                  (L, float(rng.uniform(1.05, 1.95)) / L, "oscillating"),
                  (L, float(rng.uniform(2.05, 4.0)) / L, "divergent"),
                  (L, 1.0 / L, "one step"), (L, 2.0 / L, "edge")]
    # a boundary where lr * L is not exactly 1 in floating point: 1/49 * 49 = 0.9999999999999999
    cases.append((49.0, 1.0 / 49.0, "one step"))
    order = rng.permutation(len(cases))
    return [cases[i] for i in order]


@task("01.regime", "Task 4: name the regime")
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
    boundary = [(L, lr, e, r) for L, lr, e, r in wrong if e in ("one step", "edge") and lr * L != round(lr * L)]
    if boundary:
        L, lr, expected, result = boundary[0]
        raise Fail(f"at L = {L:.6g}, lr = {round(lr * L)}/L you said {result!r}: in floating point lr * L came "
                   f"out as {lr * L!r}, not exactly {round(lr * L)}. Compare with a tolerance, "
                   f"e.g. np.isclose(lr * L, 1).")
    L, lr, expected, result = wrong[0]
    raise Fail(f"for L = {L:.4g} and lr = {lr:.4g} (lr * L = {lr * L:.4g}) the regime is {expected!r}, "
               f"you said {result!r}. The factor per step is 1 - lr L = {1 - lr * L:.4g}.")


# ---------------------------------------------------------------- task 5: predict the step count
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


@task("01.steps_to_reach", "Task 5: predict the number of steps")
def check_steps_to_reach(steps_to_reach, rng):
    cases = []
    for _ in range(3):
        L = float(rng.uniform(0.5, 20))
        x0 = float(rng.choice([-1, 1]) * rng.uniform(0.5, 5))
        tol = float(10 ** rng.uniform(-9, -3))
        cases += [(L, float(rng.uniform(0.05, 0.95)) / L, x0, tol),   # monotone
                  (L, float(rng.uniform(1.05, 1.9)) / L, x0, tol)]    # oscillating: |1 - lr L| needed
    L = float(rng.uniform(0.5, 20))
    cases += [(L, 1.0 / L if (1.0 / L) * L == 1.0 else 0.5, 2.0, 1e-6),  # one step (or a plain case)
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
            raise
        if result == expected:
            continue
        if math.isinf(expected):
            raise Fail(f"for lr * L = {lr * L:.3g} |x| grows every step, so it never reaches tol: "
                       f"return math.inf, not {result:g}.")
        if expected == 0:
            raise Fail(f"|x0| = {abs(x0):g} is already within tol = {tol:g}: zero steps are needed.")
        why = diagnose(result, (L, lr, x0, tol), STEPS_MISTAKES, rtol=0, atol=0)
        raise Fail(why or f"for L = {L:.4g}, lr = {lr:.4g}, x0 = {x0:.4g}, tol = {tol:.3g}: "
                          f"{expected} steps are needed, you said {result:g}.")
    return "Correct: t = ceil(log(tol/|x0|) / log|1 - lr L|), with 0, 1 and infinity where they belong."


# ---------------------------------------------------------------- task 6: conceptual
@task("01.answer_loss_curve", "Task 6: what the loss curve looks like", kind="value")
def check_answer_loss_curve(answer, rng):
    choice(answer, "b", "abcd", {
        "a": "the loss does not go up: with lr = 1.5/L we have |1 - lr L| = 0.5 < 1, so the run converges.",
        "c": "x zig-zags in sign, but the loss L/2 x^2 ignores the sign: each step multiplies it by "
             "(1 - lr L)^2 = 0.25, which is a straight line on a log axis.",
        "d": "the loss does change: each step multiplies it by (1 - lr L)^2 = 0.25.",
    })
    return "Correct: the loss shrinks by (1 - lr L)^2 = 0.25 per step, a straight line on a log axis."
