"""Checks for chapter 14: learning-rate-free methods.

The chapter derives D-Adaptation's lower bound on the distance D = ||x0 - x*||, Prodigy's re-weighting of it, and
schedule-free learning as an average in place of a schedule. The exercise asks for one step of D-Adaptation SGD's
estimate from its running sums, one step of schedule-free SGD (y, z and x), the early growth factor of the estimate
(derived, then measured), and what schedule-free removes and what it keeps.
"""

import math

import numpy as np

from lrcourse.grading.core import Fail, _kind, as_array, as_number, call, choice, close, diagnose_all, number_answer, task


# ---------------------------------------------------------------- task 1: D-Adaptation SGD's estimate, one step
def _dadapt(d, numerator, s, g, lam, bound=lambda num, s: 2 * num / np.linalg.norm(s), use_max=True, after=False):
    s_new = s + lam * g                                        # s_{k+1} = s_k + lam g_k
    numerator = numerator + lam * float(g @ (s_new if after else s))   # + lam <g_k, s_k>  (s before this step)
    d_hat = bound(numerator, s_new)
    return (max(d, d_hat) if use_max else d_hat), numerator, s_new


DADAPT_MISTAKES = [
    (lambda *a: _dadapt(*a, use_max=False),
     "your d can shrink: the estimate is d = max(d, d_hat), never smaller than the d before (the bound is a lower "
     "bound; a smaller d_hat says nothing new)."),
    (lambda *a: _dadapt(*a, after=True),
     "your numerator uses s after adding this step's gradient: the sum is lam_k <g_k, s_k> with s_k the sum of the "
     "gradients *before* step k (add lam g to s after the dot product)."),
    (lambda *a: _dadapt(*a, bound=lambda num, s: 2 * num / np.abs(s).sum()),
     "you divide by the l1 norm of s: D-Adaptation SGD uses the Euclidean norm ||s||_2 (the l1 norm is the Adam "
     "form's)."),
    (lambda *a: _dadapt(*a, bound=lambda num, s: 2 * num / float(s @ s)),
     "you divide by ||s||^2: the bound is numerator / ||s||, the norm itself, not its square."),
    (lambda *a: _dadapt(*a, bound=lambda num, s: num / np.linalg.norm(s)),
     "your d_hat is the bound itself: the package (and the task) doubles it, d_hat = 2 numerator / ||s||."),
]


@task("14.dadapt_step", "Task 1: one step of D-Adaptation SGD's estimate d from its running sums")
def check_dadapt_step(dadapt_step, rng):
    cases = []
    for trial in range(4):
        n = int(rng.integers(3, 8))
        s = rng.normal(size=n) * (0 if trial == 0 else 1)
        g = rng.normal(size=n) + (0.5 * s if trial % 2 else 0)            # some steps along s: d_hat grows
        d, numerator, lam = float(rng.uniform(0.01, 1)), float(rng.uniform(0, 2)), float(rng.uniform(0.05, 1))
        if trial == 3:
            d = 50.0                                                     # a large d: d_hat below it
        inputs = (d, numerator, s, g, lam)
        result = call(dadapt_step, d, numerator, s.copy(), g.copy(), lam,
                      names=["d", "numerator", "s", "g", "lam"])
        if result is None:
            raise Fail("`dadapt_step` returned None: did you forget the `return`? Return `(d, numerator, s)`.")
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            raise Fail("return 3 numbers and arrays, `(d, numerator, s)`: the new estimate, the new running sum and "
                       f"the new s; yours returned {_kind(result)}.")
        got = (as_number(result[0], "dadapt_step", value="the new d"), as_number(result[1], "dadapt_step", value="the new numerator"),
               as_array(result[2], (n,), "dadapt_step", "the new s"))
        cases.append((inputs, got))
    expected = [_dadapt(*inputs) for inputs, _ in cases]
    same = lambda a, b: all(close(x, y) for x, y in zip(a, b))
    if all(same(got, want) for (_, got), want in zip(cases, expected)):
        return ("Correct: numerator += lam <g, s> with the s before the step, then s += lam g, and d = max(d, "
                "2 numerator / ||s||). The estimate never shrinks.")
    explanation = diagnose_all(cases, DADAPT_MISTAKES, same=same)
    if explanation:
        raise Fail(explanation)
    for k, ((inputs, got), want) in enumerate(zip(cases, expected)):
        for name, a, b in zip(("d", "numerator", "s"), got, want):
            if not close(a, b):
                raise Fail(f"your new {name} differs from the rule's in case {k + 1}: expected {np.round(b, 6)}, got "
                           f"{np.round(a, 6)}. Update in this order: numerator += lam <g, s>; s += lam g; "
                           f"d = max(d, 2 numerator / ||s||).")
    raise Fail("your answer differs from the rule's.")   # pragma: no cover - the loop above names the difference


# ---------------------------------------------------------------- task 2: schedule-free SGD, one step
def _sf(x, z, t, grad, lr, beta, at="y", shift=0, new_z=True, swap=False):
    y = beta * z + (1 - beta) * x if swap else (1 - beta) * z + beta * x
    point = {"y": y, "x": x, "z": z}[at]
    z_next = z - lr * grad(point)
    c = 1 / (t + 1 + shift)                                    # c = 1/(t+1): t steps taken before this one
    x_next = (1 - c) * x + c * (z_next if new_z else z)
    return x_next, z_next


SF_MISTAKES = [
    (lambda *a: _sf(*a, at="x"), "you take the gradient at x, the average: schedule-free takes it at "
                                 "y = (1 - beta) z + beta x."),
    (lambda *a: _sf(*a, at="z"), "you take the gradient at z: schedule-free takes it at y = (1 - beta) z + beta x "
                                 "(at z it would be plain SGD with Polyak averaging, beta = 0)."),
    (lambda *a: _sf(*a, shift=1), "your averaging weight is off by one: with t steps already taken, c = 1/(t + 1) "
                                  "(c = 1 at the first step, t = 0, so that x_1 = z_1)."),
    (lambda *a: _sf(*a, shift=-1), "your averaging weight is off by one: with t steps already taken, c = 1/(t + 1), "
                                   "not 1/t."),
    (lambda *a: _sf(*a, swap=True), "your beta weights the wrong point: y = (1 - beta) z + beta x, so beta is "
                                    "the weight of the average x (beta = 1 takes the gradient at x, beta = 0 at z); "
                                    "yours computes beta z + (1 - beta) x."),
    (lambda *a: _sf(*a, new_z=False), "you average the old z into x: x_{t+1} = (1 - c) x_t + c z_{t+1}, with the z "
                                      "after this step's SGD step."),
]


@task("14.sf_step", "Task 2: one step of schedule-free SGD")
def check_sf_step(sf_step, rng):
    n = int(rng.integers(3, 7))
    h = rng.uniform(0.2, 1.0, size=n)
    target = rng.normal(size=n)
    grad = lambda p: h * (np.asarray(p, dtype=float) - target)
    lr, beta = float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.5, 0.95))
    x = z = rng.normal(size=n)
    ours = (x.copy(), z.copy())
    cases = []
    for t in range(12):
        try:
            result = call(sf_step, ours[0].copy(), ours[1].copy(), t, grad, lr, beta,
                          names=["x", "z", "t", "grad", "lr", "beta"])
        except Fail as error:
            if t == 0 and "ZeroDivisionError" in str(error):
                raise Fail(f"{error}. At the first step t = 0: c = 1/t divides by zero. t counts the steps already "
                           "taken, so this is step t + 1 and c = 1/(t + 1) (c = 1 at the first step).") from None
            raise
        if result is None:
            raise Fail("`sf_step` returned None: did you forget the `return`? Return `(x, z)`.")
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise Fail(f"return 2 numbers or arrays, `(x, z)`: the new average and the new z; yours returned "
                       f"{_kind(result)}.")
        got = (as_array(result[0], (n,), "sf_step", "the new x"), as_array(result[1], (n,), "sf_step", "the new z"))
        inputs = (ours[0].copy(), ours[1].copy(), t, grad, lr, beta)
        want = _sf(*inputs)
        cases.append((inputs, got))
        if not (close(got[0], want[0]) and close(got[1], want[1])):
            same = lambda a, b: close(a[0], b[0]) and close(a[1], b[1])
            explanation = diagnose_all(cases[-1:], SF_MISTAKES, same=same)
            where = "at the first step (t = 0)" if t == 0 else f"matches for t = 0..{t - 1}, differs at t = {t}"
            if explanation:
                raise Fail(f"your step {where}: {explanation}")
            which = "x" if not close(got[0], want[0]) else "z"
            raise Fail(f"your step {where}, in {which}: expected {np.round(want[0 if which == 'x' else 1], 6)}, got "
                       f"{np.round(got[0 if which == 'x' else 1], 6)}. The rule: y = (1 - beta) z + beta x; "
                       f"z = z - lr grad(y); c = 1/(t + 1); x = (1 - c) x + c z.")
        ours = want
    return ("Correct: the gradient at y = (1 - beta) z + beta x, the SGD step on z, and x the running mean of the z's "
            "(c = 1/(t + 1)).")


# ---------------------------------------------------------------- task 3: the early growth factor of d
FACTOR = 5          # the task's variant: d = max(d, FACTOR * numerator / ||s||) (the chapter: 2 and 1)


@task("14.growth_factor", "Task 3: predict, then measure, how fast d climbs from a tiny d0 (factor 5)", kind="value")
def check_growth_factor(growth_factor, rng):
    value = number_answer(growth_factor, "growth_factor", "1.5")
    q = math.sqrt(1 + FACTOR)
    if close(value, math.sqrt(3), rtol=2e-3) or close(value, math.sqrt(2), rtol=2e-3):
        raise Fail(f"{value:.4g} is the chapter's factor for the package's rule (2 x the bound: sqrt 3) or the bound "
                   f"itself (sqrt 2); this task's variant multiplies the bound by {FACTOR}: redo the derivation "
                   f"with {FACTOR} in place of 2.")
    if close(value, math.sqrt(FACTOR), rtol=2e-3):
        raise Fail(f"{value:.4g} is sqrt({FACTOR}): you dropped the -1. With d_i = q^i, S_i is about q^i / (q - 1), "
                   f"and d_{{k+1}} = {FACTOR} q^(k+1) / (q^2 - 1), so q^2 - 1 = {FACTOR}.")
    if close(value, 1 + FACTOR, rtol=2e-3):
        raise Fail(f"{value:g} is q^2 without the root: q^2 - 1 = {FACTOR} gives q^2 = {1 + FACTOR}; take the "
                   "square root.")
    if close(value, FACTOR / 2, rtol=2e-3) or close(value, float(FACTOR), rtol=2e-3):
        raise Fail(f"{value:g} is an early ratio (the first growth is d_2 / d_1 = {FACTOR}/2) or the factor itself: "
                   "the ratios settle later, where q^2 - 1 = {0}; look at the last ratios printed.".format(FACTOR))
    if not close(value, q, rtol=2e-3):
        raise Fail(f"{value:.4g} is not the factor the ratios settle at: with d_i = q^i the rule "
                   f"d_{{k+1}} = {FACTOR} sum d_i S_i / S_{{k+1}} gives q^2 - 1 = {FACTOR}. Measure the ratios to check.")
    return (f"Correct: sqrt({1 + FACTOR}) = {q:.3f} per step, so a decade of d0 costs ln 10 / ln q, about "
            f"{math.log(10) / math.log(q):.1f} steps: the start d0 hardly delays the climb (section 6 of the chapter "
            "measures whether it changes the final validation loss).")


# ---------------------------------------------------------------- task 4: what schedule-free removes
SF_OPTIONS = {
    "a": "the learning rate: like D-Adaptation, it estimates the step size from the run",
    "b": "the schedule and with it the need to know the run's length; it keeps an lr (and a warm-up), and the "
         "parameters must be switched to the average x with eval() before evaluating",
    "c": "momentum: the interpolation y replaces it, so beta has no effect",
    "d": "the distinction between training and evaluation: the parameters always hold the average",
}


@task("14.removes", "Task 4: what schedule-free removes and what it keeps", kind="value")
def check_removes(removes, rng):
    choice(removes, "b", SF_OPTIONS, {
        "a": "not the lr: schedule-free SGD's default lr is 1.0 and AdamW's 0.0025, and the chapter measured the loss "
             "moving by more than ten times across AdamW's lr. It estimates no distance.",
        "c": "beta matters: beta = 0 gives Polyak averaging, beta = 1 primal averaging (momentum with a 1/k "
             "schedule); the interpolation plays momentum's part, it does not remove it.",
        "d": "the parameters hold y during training (where the gradient is taken) and x only after eval(): that is "
             "why train() and eval() exist, and the chapter measured different losses at the two points.",
    })
    return "Correct: it removes the schedule, not the lr; evaluate at the average x (eval()), train at y (train())."
