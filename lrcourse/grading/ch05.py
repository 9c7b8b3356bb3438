"""Checks for chapter 05: learning-rate schedules."""

import math

import numpy as np

from lrcourse.grading.core import Fail, as_number, call, choice, diagnose, task

STEPS = range(0, 120)


def _schedule_values(factory, args, what):
    """Build the learner's schedule and evaluate it at steps 0..119 (each call time-limited)."""
    schedule = call(factory, *args)
    if schedule is None:
        raise Fail(f"{what} returned None: did you forget the `return` statement? It should return a function of "
                   f"the step, e.g. `return lambda step: ...` or a nested `def f(step): ...; return f`.")
    if not callable(schedule):
        raise Fail(f"{what} returned a number ({schedule!r}); it should return a *function* of the step, f(step) -> lr.")
    return np.array([as_number(call(schedule, t), f"your schedule at step {t}") for t in STEPS])


def _first_difference(result, expected):
    bad = int(np.argmax(~np.isclose(result, expected, rtol=1e-9, atol=1e-15)))
    return f"at step {bad} your schedule gives {result[bad]:.6g}, expected {expected[bad]:.6g}"


def _check_schedule(factory, name, reference, mistakes, sampler, rng, what):
    for _ in range(4):
        args = sampler(rng)
        result = _schedule_values(factory, args, name)
        expected = np.array([reference(*args)(t) for t in STEPS])
        if not np.allclose(result, expected, rtol=1e-9, atol=1e-15):
            for wrong, explanation in mistakes:
                values = np.array([wrong(*args)(t) for t in STEPS])
                if np.allclose(result, values, rtol=1e-9, atol=1e-15):
                    raise Fail(explanation)
            raise Fail(f"for {what(*args)}: {_first_difference(result, expected)}.")


# ---------------------------------------------------------------- task 1: step decay
def _step_decay(lr, step_size, gamma):
    return lambda t: lr * gamma ** (t // step_size)


STEP_MISTAKES = [
    (lambda lr, s, g: (lambda t: lr * g ** ((t + 1) // s)), "off by one: your drops come one step early. "
                                                          "step 0 is the first step, and the first drop is at step = step_size."),
    (lambda lr, s, g: (lambda t: lr * g ** (t / s)), "that decays smoothly (gamma ** (step / step_size)); step decay "
                                                      "drops in whole steps: gamma ** (step // step_size)."),
    (lambda lr, s, g: (lambda t: lr * g * (t // s) if t >= s else lr),
     "you multiplied by gamma times the number of drops; each drop multiplies the lr by gamma once more: "
     "gamma ** (step // step_size)."),
]


@task("05.step_decay", "Task 1: step decay")
def check_step_decay(step_decay, rng):
    _check_schedule(step_decay, "step_decay", _step_decay, STEP_MISTAKES,
                    lambda rng: (float(rng.uniform(0.01, 1)), int(rng.integers(3, 30)), float(rng.uniform(0.1, 0.9))),
                    rng, lambda lr, s, g: f"lr = {lr:.3g}, step_size = {s}, gamma = {g:.3g}")
    return "Correct: lr * gamma ** (step // step_size), the same as torch's StepLR."


# ---------------------------------------------------------------- task 2: cosine
def _cosine(lr, T_max, eta_min):
    return lambda t: eta_min + (lr - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2


COSINE_MISTAKES = [
    (lambda lr, T, m: (lambda t: lr * (1 + math.cos(math.pi * t / T)) / 2),
     "eta_min is missing: the cosine runs from lr down to eta_min, eta_min + (lr - eta_min)(1 + cos(pi t / T_max)) / 2."),
    (lambda lr, T, m: (lambda t: m + lr * (1 + math.cos(math.pi * t / T)) / 2),
     "you added eta_min on top of the whole cosine: scale the cosine by (lr - eta_min), so that it starts at lr."),
    (lambda lr, T, m: (lambda t: m + (lr - m) * (1 + math.cos(math.pi * t / (2 * T))) / 2),
     "your cosine covers only a quarter period by T_max: it should reach eta_min at step T_max, cos(pi t / T_max)."),
    (lambda lr, T, m: (lambda t: m + (lr - m) * (1 + math.cos(math.pi * (t + 1) / T)) / 2),
     "off by one: at step 0 the lr should be exactly lr (cos 0 = 1)."),
]


@task("05.cosine", "Task 2: cosine annealing")
def check_cosine(cosine, rng):
    _check_schedule(cosine, "cosine", _cosine, COSINE_MISTAKES,
                    lambda rng: (float(rng.uniform(0.01, 1)), int(rng.integers(20, 100)), float(rng.uniform(0.0, 0.005))),
                    rng, lambda lr, T, m: f"lr = {lr:.3g}, T_max = {T}, eta_min = {m:.3g}")
    return "Correct: the same numbers as torch's CosineAnnealingLR."


# ---------------------------------------------------------------- task 3: the exponential rate for a target
def _exponential_gamma(lr, final_lr, T):
    return (final_lr / lr) ** (1 / T)


GAMMA_MISTAKES = [
    (lambda lr, f, T: (f / lr) ** (1 / (T - 1)), "off by one: after T steps (step T) the lr is lr * gamma**T, so "
                                                 "gamma = (final_lr / lr) ** (1 / T)."),
    (lambda lr, f, T: (lr / f) ** (1 / T), "upside down: gamma < 1 for a decaying lr, (final_lr / lr) ** (1 / T)."),
    (lambda lr, f, T: 1 - (1 - f / lr) / T, "a linear decrement per step does not compound; the exponential "
                                            "schedule multiplies by gamma each step: gamma = (final_lr / lr) ** (1 / T)."),
    (lambda lr, f, T: (f / lr) / T, "solve lr * gamma ** T = final_lr for gamma: take the T-th root of the ratio."),
]


@task("05.exponential_gamma", "Task 3: the exponential decay for a target")
def check_exponential_gamma(exponential_gamma, rng):
    for _ in range(5):
        lr = float(10 ** rng.uniform(-3, 0))
        args = (lr, lr * float(10 ** rng.uniform(-4, -1)), int(rng.integers(50, 5000)))
        result = as_number(call(exponential_gamma, *args, names=("lr", "final_lr", "T")), "exponential_gamma")
        if not np.isclose(result, _exponential_gamma(*args), rtol=1e-9):
            why = diagnose(result, args, GAMMA_MISTAKES)
            raise Fail(why or f"for lr = {args[0]:.3g}, final_lr = {args[1]:.3g}, T = {args[2]}: gamma = "
                              f"{_exponential_gamma(*args):.8g}, you returned {result:.8g}.")
    return "Correct: gamma = (final_lr / lr) ** (1 / T)."


# ---------------------------------------------------------------- task 4: design a schedule
BUDGET, BATCH, TARGET, START_LR = 3000, 4, 5e-3, 0.1


@task("05.my_schedule", "Task 4: a schedule that beats the noise floor", time_limit=10.0)
def check_my_schedule(my_schedule, rng):
    from lrcourse.functions import LeastSquares
    from lrcourse.runs import sgd_sweep

    if not callable(my_schedule):
        raise Fail(f"my_schedule should be a function of the step (e.g. schedules.cosine(...)), not {my_schedule!r}.")
    lrs = call(lambda: np.array([my_schedule(t) for t in range(BUDGET)], dtype=float))
    if lrs.shape != (BUDGET,) or not np.all(np.isfinite(lrs)) or np.any(lrs < 0):
        raise Fail("my_schedule must give a finite, non-negative number at every step 0 .. 2999.")
    if not np.isclose(lrs[0], START_LR):
        raise Fail(f"the task fixes the start: my_schedule(0) must be {START_LR} (yours is {lrs[0]:.4g}).")
    problem = LeastSquares.diabetes(drop=("s1",))
    results = []
    for seed in rng.integers(0, 2 ** 31, 3):
        recorded, gaps = sgd_sweep(problem, lambda t: lrs[t:t + 1], BATCH, BUDGET, seed=int(seed), every=10)
        curve = gaps[0]
        if not np.all(np.isfinite(curve)):
            step = int(recorded[np.argmax(~np.isfinite(curve))])
            raise Fail(f"training diverged by step {step}, where your lr is {lrs[min(step, BUDGET - 1)]:.3g}: "
                       f"keep the lr at or below {START_LR}.")
        results.append(float(np.mean(curve[recorded >= 0.9 * BUDGET])))
    worst = max(results)
    if worst <= TARGET:
        return (f"Reached {worst:.2g} (worst of 3 runs) against the target {TARGET:g}; a constant lr of {START_LR} "
                f"stays at its noise floor, about {problem.noise_floor(START_LR, BATCH):.2g}.")
    end_lr = float(np.mean(lrs[int(0.9 * BUDGET):]))
    floor = problem.noise_floor(end_lr, BATCH) if end_lr > 0 else 0.0
    if floor > TARGET / 2:
        raise Fail(f"the loss ends at {worst:.2g}, above the target {TARGET:g}. Over the last 10% of steps your lr is "
                   f"about {end_lr:.3g}, whose noise floor is about {floor:.2g}: decay further by the end.")
    raise Fail(f"the loss ends at {worst:.2g}, above the target {TARGET:g}, although your final lr ({end_lr:.3g}) is "
               f"small enough: it fell too early, before the iterates got close. Keep the lr up longer.")


# ---------------------------------------------------------------- task 5: conceptual
@task("05.answer_why_decay", "Task 5: why decay beats the noise floor", kind="value")
def check_answer_why_decay(answer, rng):
    choice(answer, "a", "abcd", {
        "b": "the gradients are exactly as noisy as before: the batches come from the same data. What changes is "
             "how far each noisy gradient moves the iterate, lr times the noise.",
        "c": "the batch size stays the same; a smaller lr has the same effect on the floor as a larger batch, "
             "since the floor is proportional to lr / B.",
        "d": "near the minimum a decaying lr takes *smaller* steps, and that is the point: the floor is "
             "proportional to the lr.",
    })
    return "Correct: the noise floor is proportional to the lr, so lowering the lr late in training lowers it."
