"""Checks for chapter 05: learning-rate schedules."""

import bisect
import math

import numpy as np

from lrcourse.grading.core import Fail, _kind, _short, as_number, call, choice, diagnose, diagnose_all, task


def _schedule_values(factory, args, what, steps, rng):
    """Build the learner's schedule and evaluate it at ``steps`` (each call time-limited), asked in a random order.

    A schedule is a function of the step alone: the check asks for the steps in a shuffled order, and then
    once more in order; a schedule that keeps state between calls (and so relies on being called 0, 1, 2 ...)
    gives two different answers for some step, and is told so.
    """
    schedule = call(factory, *args)
    if schedule is None:
        raise Fail(f"`{what}` returned None: did you forget the `return` statement? It should return a function of "
                   f"the step, e.g. `return lambda step: ...` or a nested `def f(step): ...; return f`.")
    if not callable(schedule):
        raise Fail(f"`{what}` returned {_kind(schedule)} ({_short(schedule, 60)}); it should return a *function* of "
                   f"the step, f(step) -> lr, for example `return lambda step: ...`.")
    steps = list(steps)
    order = rng.permutation(len(steps))
    values = np.empty(len(steps))
    for i in order:
        values[i] = as_number(call(schedule, steps[i]), f"your schedule at step {steps[i]}")
    again = np.array([as_number(call(schedule, t), f"your schedule at step {t}") for t in steps])
    changed = np.nonzero(~np.isclose(values, again, rtol=1e-12, atol=0))[0]
    if len(changed):
        i = int(changed[0])
        raise Fail(f"your schedule gave two different lrs for the same step {steps[i]} ({values[i]:.6g}, then "
                   f"{again[i]:.6g}): it keeps state between calls (a counter, or an lr it multiplies as it goes), "
                   f"so its answer depends on which steps were asked for before. A schedule is a function of the "
                   f"step alone: compute the lr from `step` itself. (This check asks for the steps in a shuffled "
                   f"order, as anyone may: a plot, a restart, or torch's closed form.)")
    return values


def _first_difference(result, expected, steps):
    bad = int(np.argmax(~np.isclose(result, expected, rtol=1e-9, atol=1e-15)))
    return f"at step {steps[bad]} your schedule gives {result[bad]:.6g}, expected {expected[bad]:.6g}"


def _check_schedule(factory, name, reference, mistakes, sampler, rng, what, steps_of):
    """Four random settings; a known mistake names the answer only if it reproduces all of them."""
    answers = []
    for _ in range(4):
        args = sampler(rng)
        steps = list(steps_of(*args))
        answers.append((args, steps, _schedule_values(factory, args, name, steps, rng)))
    wrong = [(args, steps, result) for args, steps, result in answers
             if not np.allclose(result, [reference(*args)(t) for t in steps], rtol=1e-9, atol=1e-15)]
    if not wrong:
        return
    for mistake, explanation in mistakes:
        if all(np.allclose(result, [mistake(*args)(t) for t in steps], rtol=1e-9, atol=1e-15)
               for args, steps, result in answers):
            raise Fail(explanation)
    args, steps, result = wrong[0]
    raise Fail(f"for {what(*args)}: {_first_difference(result, np.array([reference(*args)(t) for t in steps]), steps)}.")


# ---------------------------------------------------------------- task 1: multi-step decay
def _multi_step(lr, milestones, gamma):
    return lambda t: lr * gamma ** bisect.bisect_right(milestones, t)


MULTI_STEP_MISTAKES = [
    (lambda lr, m, g: (lambda t: lr * g ** bisect.bisect_left(m, t)),
     "off by one: your drops come one step late. At step = milestone the lr has already dropped (torch's "
     "MultiStepLR: the lr of step m_i is multiplied by gamma), so count the milestones m_i <= step."),
    (lambda lr, m, g: (lambda t: lr * g ** bisect.bisect_right(m, t + 1)),
     "off by one: your drops come one step early. The lr of step m_i - 1 is still the old one; count the "
     "milestones m_i <= step."),
    (lambda lr, m, g: (lambda t: lr * g if t >= m[0] else lr),
     "your lr drops once, at the first milestone; each milestone passed multiplies it by gamma once more: "
     "lr * gamma ** (the number of milestones <= step)."),
    (lambda lr, m, g: (lambda t: lr * g if bisect.bisect_right(m, t) % 2 else lr),
     "your lr goes back up after a drop: each milestone multiplies the lr by gamma, and the drops add up, "
     "lr * gamma ** (the number of milestones <= step)."),
    (lambda lr, m, g: (lambda t: lr * g * bisect.bisect_right(m, t) if t >= m[0] else lr),
     "you multiplied by gamma times the number of milestones passed; each one multiplies the lr by gamma once more: "
     "gamma ** (that number)."),
    (lambda lr, m, g: (lambda t: lr * g ** (t // m[0])),
     "that is step decay with step_size = the first milestone: a drop every m_1 steps. Multi-step decay drops at "
     "the milestones themselves, which need not be evenly spaced."),
    (lambda lr, m, g: (lambda t: lr * g ** (t / m[0])),
     "that decays smoothly, gamma ** (step / m_1); multi-step decay holds the lr constant between milestones and "
     "drops at each of them."),
]


def _milestones(rng):
    """Unevenly spaced, increasing milestones (2 to 4 of them)."""
    gaps = rng.integers(3, 40, int(rng.integers(2, 5)))
    gaps[int(rng.integers(len(gaps)))] += int(rng.integers(20, 60))   # one long stretch: not a step decay
    return [int(m) for m in np.cumsum(gaps)]


@task("05.multi_step", "Task 1: multi-step decay")
def check_multi_step(multi_step, rng):
    _check_schedule(multi_step, "multi_step", _multi_step, MULTI_STEP_MISTAKES,
                    lambda rng: (float(rng.uniform(0.01, 1)), _milestones(rng), float(rng.uniform(0.1, 0.9))),
                    rng, lambda lr, m, g: f"lr = {lr:.3g}, milestones = {m}, gamma = {g:.3g}",
                    steps_of=lambda lr, m, g: range(0, m[-1] + 20))
    return ("Correct: lr * gamma ** (number of milestones <= step), the same as torch's MultiStepLR, whatever order "
            "the steps are asked in.")


# ---------------------------------------------------------------- task 2: the end lr for a target floor
def _end_lr_for(target, trace_sigma, batch_size):
    return 4 * batch_size * target / trace_sigma


END_LR_MISTAKES = [
    (lambda f, s, B: 4 * f / s, "the batch size is missing: the floor is lr tr(Sigma) / (4 B), so a batch of B allows "
                                "a B times larger lr for the same floor: lr = 4 B target / tr(Sigma)."),
    (lambda f, s, B: 4 * f / (B * s), "the batch size is on the wrong side: a larger batch has *less* noise, so it "
                                      "allows a larger lr for the same floor: lr = 4 B target / tr(Sigma)."),
    (lambda f, s, B: 2 * B * f / s, "a factor 2 off: the floor is lr tr(Sigma) / (4 B) (the excess loss is half of "
                                    "tr(H P), and tr(HP + PH) = lr tr(Sigma) / B), so lr = 4 B target / tr(Sigma)."),
    (lambda f, s, B: B * f / s, "a factor 4 off: solve target = lr tr(Sigma) / (4 B) for lr: lr = 4 B target / "
                                "tr(Sigma)."),
    (lambda f, s, B: s / (4 * B * f), "upside down: a lower target needs a *smaller* lr. From target = lr tr(Sigma) / "
                                      "(4 B), lr = 4 B target / tr(Sigma)."),
    (lambda f, s, B: f * s / (4 * B), "that is the floor of an lr equal to the target, lr tr(Sigma) / (4 B) with "
                                      "lr = target. Solve it for lr instead: lr = 4 B target / tr(Sigma)."),
    (lambda f, s, B: math.sqrt(4 * B * f / s), "the floor grows like lr, not lr^2 (chapter 03 measured a slope of 1), "
                                               "so no square root: lr = 4 B target / tr(Sigma)."),
    (lambda f, s, B: 4 * math.sqrt(B) * f / s, "the noise covariance shrinks like 1/B (not 1/sqrt(B)) when B gradients "
                                               "are averaged: lr = 4 B target / tr(Sigma)."),
]


@task("05.end_lr_for", "Task 2: the end lr for a target")
def check_end_lr_for(end_lr_for, rng):
    answers = []
    for _ in range(5):
        args = (float(10 ** rng.uniform(-5, -2)), float(rng.uniform(0.5, 20)), int(rng.integers(2, 64)))
        result = as_number(call(end_lr_for, *args, names=("target", "trace_sigma", "batch_size")), "end_lr_for")
        answers.append((args, result))
    wrong = [(args, result) for args, result in answers if not np.isclose(result, _end_lr_for(*args), rtol=1e-9)]
    if not wrong:
        return ("Correct: lr = 4 B target / tr(Sigma), the lr whose floor is the target. The cell below measures "
                "whether ending a schedule there is enough.")
    why = diagnose_all([(args, result) for args, result in answers], END_LR_MISTAKES, rtol=1e-9, atol=0)
    (target, trace_sigma, B), result = wrong[0]
    raise Fail(why or f"for a target of {target:.3g}, tr(Sigma) = {trace_sigma:.4g} and batches of {B} the lr is "
                      f"{_end_lr_for(target, trace_sigma, B):.6g}; you returned {result:.6g}. Solve chapter 03's "
                      f"floor, lr tr(Sigma) / (4 B), = target for lr.")


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


@task("05.exponential_gamma", "Task 3: the exponential decay to an end lr")
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
BUDGET, BATCH, TARGET, START_LR = 3000, 4, 3.5e-4, 0.1
HOLD = 30                  # the start: at least START_LR / 2 for the first 1% of the steps
SEEDS = (0, 1, 2)          # the three runs: fixed, so that the same schedule always gets the same verdict
BEST_CONSTANT = (0.0016, 5.1e-4)   # the best constant lr on these runs (a sweep of 40 lrs) and its score
WINDOW = int(0.9 * BUDGET)  # the loss is averaged over the steps from here to the end
EVERY = 10                  # the excess loss is recorded every 10 steps, as in sgd_sweep(..., every=10)

_PROBLEM = None


def budget_problem():
    """Chapter 03's problem: least squares on the diabetes data without s1 (built once)."""
    global _PROBLEM
    if _PROBLEM is None:
        from lrcourse.functions import LeastSquares

        _PROBLEM = LeastSquares.diabetes(drop=("s1",))
    return _PROBLEM


def budget_runs(lrs, seeds=SEEDS, blowup=1e6):
    """Minibatch SGD for k schedules at once, on the same batches as ``sgd_sweep(problem, ..., seed=s, every=10)``.

    ``lrs`` has shape (k, BUDGET). Returns (recorded steps, excess loss of shape (seeds, k, recorded)), inf
    from the point where a run diverged. All seeds and schedules run in one vectorized loop.
    """
    problem = budget_problem()
    lrs = np.asarray(lrs, dtype=np.float64)
    X, y, n = problem.X, problem.y, problem.n
    idx = np.stack([np.random.default_rng(int(s)).integers(0, n, (BUDGET, BATCH)) for s in seeds])
    Xs, ys = X[idx], y[idx]  # (S, BUDGET, B, d), (S, BUDGET, B)
    start = problem.start
    W = np.repeat(np.repeat(start[None, :, None], len(seeds), axis=0), len(lrs), axis=2)  # (S, d, k)
    f_min = problem.min_value
    ceiling = blowup * max(float(problem(start)) - f_min, 1e-3)
    alive = np.ones((len(seeds), len(lrs)), dtype=bool)

    def excess(W):
        r = np.einsum("nd,sdk->snk", X, W) - y[None, :, None]
        return 0.5 * np.mean(r * r, axis=1) - f_min

    recorded, gaps = [0], [np.maximum(excess(W), 0.0)]
    with np.errstate(all="ignore"):
        for t in range(BUDGET):
            Xb = Xs[:, t]
            residual = Xb @ W - ys[:, t][:, :, None]
            W = W - (lrs[:, t] / BATCH) * (Xb.transpose(0, 2, 1) @ residual)
            if (t + 1) % EVERY == 0:
                gap = excess(W)
                alive &= np.isfinite(gap) & (gap <= ceiling)
                W = np.where(alive[:, None, :], W, start[None, :, None])
                recorded.append(t + 1)
                gaps.append(np.where(alive, np.maximum(gap, 0.0), np.inf))
    return np.array(recorded), np.stack(gaps, axis=-1)


def budget_score(lrs, seeds=SEEDS):
    """The mean over the seeds of the mean excess loss over the last 10% of the steps, per schedule."""
    recorded, gaps = budget_runs(np.atleast_2d(lrs), seeds)
    return gaps[:, :, recorded >= WINDOW].mean(axis=2).mean(axis=0)


def noise_free_excess(lrs):
    """The excess loss at the end of full-batch gradient descent from the start with these lrs (no noise)."""
    problem = budget_problem()
    eigenvalues, Q = np.linalg.eigh(problem.H)
    error = Q.T @ (problem.start - problem.minima[0])
    with np.errstate(all="ignore"):
        factors = np.prod(1 - np.outer(lrs, eigenvalues), axis=0)  # each direction: the product of 1 - lr_t c
        return float(0.5 * np.sum(eigenvalues * (factors * error) ** 2))


def _warp(v, tau):
    return v[np.clip(np.floor(tau).astype(int), 0, BUDGET - 1)]


def _counterfactuals(v):
    """Variants of the schedule v, each changed in one respect: [((direction, amount), values), ...]."""
    t = np.arange(BUDGET)
    out = []
    for shift in (300, 600, 1200):
        # the same shape, played faster: it has done all of its decay `shift` steps before the end
        out.append((("earlier", shift), _warp(v, np.minimum(BUDGET - 1, t * BUDGET / (BUDGET - shift)))))
        # the lr held at its start for `shift` more steps, then the same shape in the steps that remain
        out.append((("later", shift), _warp(v, np.maximum(0, t - shift) * BUDGET / (BUDGET - shift))))
    for factor in (2, 5, 20):
        # the same shape, played `factor` times more slowly (it ends where it was at step BUDGET / factor)
        out.append((("slower", factor), _warp(v, t / factor)))
    end = float(np.mean(v[WINDOW:]))
    for factor in (1 / 3, 1 / 10, 3, 10):
        if 0 < end < START_LR / 2 and factor * end < START_LR / 2:
            # the same shape in log(lr), ending `factor` times lower or higher
            power = math.log(factor * end / START_LR) / math.log(end / START_LR)
            out.append((("further" if factor < 1 else "less", factor), START_LR * (v / START_LR) ** power))
        elif end >= START_LR / 2 and factor < 1:
            # a schedule that barely decays: an exponential decay on top of it, to `factor` times its end
            out.append((("decay", factor), v * factor ** (t / (BUDGET - 1))))
    # only variants that keep the start the task fixes: advice must not lead out of the rules
    return [(key, values) for key, values in out if not np.array_equal(values, v) and _keeps_start(values)]


def _keeps_start(values):
    return bool(np.isclose(values[0], START_LR) and np.all(values[:HOLD] >= START_LR / 2 - 1e-12))


_OPPOSITE = {"earlier": ("later", "slower"), "later": ("earlier",), "slower": ("earlier",), "further": ("less",),
             "decay": ("less",), "less": ("further", "decay")}


def _change(direction, amount):
    """The words for one change, completing 'the same schedule ...'."""
    return {"earlier": f"played {amount} steps faster",
            "later": f"held at {START_LR:g} for {amount} more steps",
            "slower": f"played {amount} times more slowly",
            "further": f"ending {1 / amount:g} times lower",
            "decay": f"multiplied by an exponential decay to 1/{1 / amount:g} at the end",
            "less": f"ending {amount:g} times higher"}[direction]


def _falls_below(v, level=START_LR / 2):
    below = np.nonzero(v < level)[0]
    return int(below[0]) if len(below) else None


def _when(step):
    return f"from step {step} on" if step is not None else "at no step"


def _reaches(score):
    return f"reaches {score:.2g} on the same batches" + (", below the target" if score <= TARGET else "")


def _evidence(direction, amount, score, values):
    """'the same schedule <changed> (<when its lr falls>) reaches <score> ...'"""
    moved = ""
    if direction in ("earlier", "later", "slower"):
        moved = f" (below {START_LR / 2:g} {_when(_falls_below(values))})"
    return f"the same schedule {_change(direction, amount)}{moved} {_reaches(score)}"


def budget_advice(lrs, worst):  # worst: the schedule's score (the mean of the runs)
    """Which change helps this failing schedule most, measured on the same batches: a paragraph of advice.

    Every variant of the schedule changes one thing (when it decays, how slowly, how low it ends) and is run
    on the same three seeds as the check; the one that helps most names the advice, with its numbers. If
    no single change reaches the target, the best one is combined with a second change.
    """
    problem = budget_problem()
    variants = _counterfactuals(lrs)
    scores = budget_score(np.array([values for _, values in variants]))
    order = np.argsort(scores)
    (direction, amount), values = variants[order[0]]
    reached = float(scores[order[0]])
    end = float(np.mean(lrs[WINDOW:]))
    half = START_LR / 2
    before = _falls_below(lrs)
    result = (f"The loss ends at {worst:.2g} (the mean of the three runs over the last 10% of the steps), above "
              f"the target {TARGET:g}.")
    if reached > 0.9 * worst:
        return (f"{result} None of the simple changes we tried on the same batches (decaying earlier, later or "
                f"more slowly, ending lower or higher) helps much. Plot your lr and compare it with schedules that "
                f"pass, such as an exponential decay from 0.1 to 2e-4.")
    evidence = _evidence(direction, amount, reached, values)
    if direction == "earlier" and (before is None or before >= BUDGET // 2):
        advice = (f"{result} Your lr was still high late in the run (below {half:g} only {_when(before)}): it "
                  f"dropped too late to settle; decay earlier. For example, {evidence} (it stays at its final "
                  f"value for the last {amount} steps).")
    elif direction == "earlier":
        advice = (f"{result} Your lr is high until step {before}, and the noise those steps add is still there at the "
                  f"end: at your final lr it settles slowly. The sooner the lr falls, the less of that noise is left; "
                  f"decay earlier. For example, {evidence} (it stays at its final value for the last {amount} "
                  f"steps).")
    elif direction in ("later", "slower"):
        advice = (f"{result} Your lr fell too early (below {half:g} {_when(before)}), before the iterates got close "
                  f"to the minimum, and a small lr then moves them too slowly. Keep the lr up longer: {evidence}.")
    elif direction in ("further", "decay"):
        floor = problem.noise_floor(end, BATCH) if end > 0 else 0.0
        what = (f"Your lr hardly decays, and a constant lr stays on its noise floor (about "
                f"{problem.noise_floor(end, BATCH):.2g} at {end:.3g})."
                if direction == "decay" else
                f"Over the last 10% of the steps your lr is about {end:.3g}, whose noise floor is about {floor:.2g}.")
        advice = f"{result} {what} {'Decay it' if direction == 'decay' else 'Decay further'} by the end: {evidence}."
    elif before is None or before >= BUDGET // 2:   # "less", but the lr was still high late: it fell too late
        earlier = [i for i in order if variants[i][0][0] == "earlier"]
        advice = (f"{result} Your lr was still high late in the run (below {half:g} only {_when(before)}): it "
                  f"dropped too late to settle, and then fell lower than it needed to (about {end:.2g} over the last "
                  f"10% of the steps). The change that helps most on the same batches is to end higher: {evidence}.")
        if earlier and scores[earlier[0]] < worst:
            (_, amount2), values2 = variants[earlier[0]]
            advice += (f" Decaying sooner helps too: "
                       f"{_evidence('earlier', amount2, float(scores[earlier[0]]), values2)}.")
    else:
        floor = problem.noise_floor(end, BATCH) if end > 0 else 0.0
        below = "far below the target" if floor < TARGET / 3 else "below the target"
        advice = (f"{result} Your lr ends {'very ' if floor < TARGET / 3 else ''}low (about {end:.2g} over the last 10% of the steps, whose noise floor, "
                  f"{floor:.2g}, is {below}): once it has fallen the iterates move so slowly that much "
                  f"of the noise they gathered at the high lr is still there at the end, instead of settling. Decay "
                  f"less far: {evidence}.")
    if reached <= TARGET:
        similar = _OPPOSITE[direction] + (("later", "slower") if direction in ("later", "slower") else ())
        others = [i for i in order[1:] if variants[i][0][0] not in (direction,) + similar and scores[i] <= TARGET]
        if others:
            (second, amount2), values2 = variants[others[0]]
            advice += (f" Another change that is enough: "
                       f"{_evidence(second, amount2, float(scores[others[0]]), values2)}.")
    else:
        pairs = [(key, second) for key, second in _counterfactuals(values)
                 if key[0] != direction and key[0] not in _OPPOSITE[direction]]
        if pairs:
            pair_scores = budget_score(np.array([second for _, second in pairs]))
            best = int(np.argmin(pair_scores))
            if pair_scores[best] < 0.9 * reached:
                (second, amount2), _ = pairs[best]
                advice += (f" With a second change it gets further: {_change(direction, amount)} and "
                           f"{_change(second, amount2)}, it {_reaches(float(pair_scores[best]))}.")
    noise_free = noise_free_excess(lrs)
    if direction in ("later", "slower", "less") and noise_free > TARGET:
        distance = float(np.sum(lrs))
        advice += (f" Even without any noise, gradient descent with your lrs would end at {noise_free:.2g}: they add "
                   f"up to only {distance:.2g} over the whole run, and along a direction of curvature c the error "
                   f"shrinks by about a factor exp(-c x {distance:.2g}), so the directions of curvature below "
                   f"{1 / distance:.2g} (this problem's run from {problem.mu:.2g} to {problem.L:.2g}) keep more "
                   f"than a third "
                   f"of their starting error. A schedule can satisfy the Robbins-Monro conditions (0.1/(1+t) does) "
                   f"and still stop short: they speak of t going to infinity, not of a budget of {BUDGET} steps.")
    return advice


def _schedule_lrs(my_schedule):
    """The learner's schedule at steps 0 .. BUDGET-1, or Fail saying what is off."""
    if not callable(my_schedule):
        raise Fail(f"my_schedule should be a function of the step (e.g. schedules.cosine(...)), not {my_schedule!r}.")
    name = getattr(my_schedule, "__name__", "")
    example = (f"{name}(0.1, 3000, 1e-4)" if name == "cosine" else
               f"{name}(...)" if name.isidentifier() and name != "<lambda>" else "cosine(0.1, 3000, 1e-4)")
    try:
        first = call(my_schedule, 0)
    except Fail as fail:
        if "TypeError" in str(fail) and "positional argument" in str(fail):
            raise Fail(f"my_schedule is a factory that still needs its settings ({fail}). Call the factory, "
                       f"e.g. my_schedule = {example}, and pass the function it returns, a function of the "
                       f"step alone.") from None
        raise
    if callable(first):
        raise Fail(f"my_schedule(0) returned a function, not a number: my_schedule is a factory (its first "
                   f"argument is a setting, not the step). Call it with its settings, e.g. my_schedule = "
                   f"{example}, and pass the function it returns.")
    raw = call(lambda: [my_schedule(t) for t in range(BUDGET)])
    lrs = np.array([as_number(v, "my_schedule", allow_inf=True, value=f"the lr of step {t}")
                    for t, v in enumerate(raw)])   # a 1-element array is a number too
    bad = np.nonzero(~np.isfinite(lrs) | (lrs < 0))[0]
    if len(bad):
        raise Fail(f"my_schedule({bad[0]}) is {lrs[bad[0]]:g}: a learning rate must be a finite, non-negative "
                   f"number at every step 0 .. {BUDGET - 1}.")
    if not np.isclose(lrs[0], START_LR):
        raise Fail(f"the task fixes the start: my_schedule(0) must be {START_LR} (yours is {lrs[0]:.4g}).")
    low = np.nonzero(lrs[:HOLD] < START_LR / 2 - 1e-12)[0]
    if len(low):
        raise Fail(f"the task fixes the start: the lr must stay at {START_LR / 2:g} (half the start) or above for "
                   f"the first {HOLD} steps, 1% of the budget, for fast early progress; yours is "
                   f"{lrs[low[0]]:.3g} at step {low[0]}. Keep the lr up longer before it decays.")
    return lrs


@task("05.my_schedule", "Task 4: a schedule that beats every constant lr", time_limit=10.0)
def check_my_schedule(my_schedule, rng):
    # the runs use the fixed seeds SEEDS, not rng: the verdict depends on the schedule alone
    lrs = _schedule_lrs(my_schedule)
    recorded, gaps = budget_runs(lrs[None, :])
    curves = gaps[:, 0]
    if not np.all(np.isfinite(curves)):
        step = int(recorded[np.argmax(~np.all(np.isfinite(curves), axis=0))])
        raise Fail(f"training diverged by step {step}, where your lr is {lrs[min(step, BUDGET - 1)]:.3g}: "
                   f"keep the lr at or below {START_LR}.")
    reached = float(curves[:, recorded >= WINDOW].mean(axis=1).mean())
    if reached <= TARGET:
        lr, score = BEST_CONSTANT
        return (f"Reached {reached:.2g} (the mean of 3 runs) against the target {TARGET:g}: better than any constant "
                f"lr on these runs (the best, about {lr:g}, reaches {score:.1e}; a constant {START_LR:g} stays on its "
                f"noise floor, about {budget_problem().noise_floor(START_LR, BATCH):.3f}).")
    raise Fail(budget_advice(lrs, reached))


# ---------------------------------------------------------------- task 5: conceptual
@task("05.answer_why_decay", "Task 5: why decay beats the noise floor", kind="value")
def check_answer_why_decay(answer, rng):
    choice(answer, "a", "abcd", {
        "b": "the noise of a minibatch gradient at the minimum w* does not depend on the lr: the batches come "
             "from the same data. (Away from w* the gradient noise changes with w, but not because of the lr.) "
             "What the lr changes is how far each noisy gradient moves the iterate: lr times the noise.",
        "c": "the batch size stays the same; a smaller lr has the same effect on the floor as a larger batch, "
             "since the floor is proportional to lr / B.",
        "d": "near the minimum a decaying lr takes *smaller* steps, and that is the point: the floor is "
             "proportional to the lr.",
    })
    return "Correct: the noise floor is proportional to the lr, so lowering the lr late in training lowers it."


# ---------------------------------------------------------------- task 6: Robbins-Monro on a budget
@task("05.answer_rm_budget", "Task 6: Robbins-Monro on a budget", kind="value")
def check_answer_rm_budget(answer, rng):
    problem = budget_problem()
    final = START_LR / BUDGET
    choice(answer, "a", "abcd", {
        "b": "it does satisfy both conditions: sum 1/(1+t) diverges, and sum 1/(1+t)^2 is finite (it is pi^2/6). "
             "That is the puzzle: the conditions hold, and still the run falls short.",
        "c": f"its final lr is 0.1/3000 = {final:.1e}, whose noise floor is about "
             f"{problem.noise_floor(final, BATCH):.0e}, far below the target. The loss is high for another reason: "
             f"look at how small the lr is early on, and at the sum of all the lrs.",
        "d": "it does not diverge: its largest lr is the first one, 0.1, which is stable here (the constant 0.1 "
             "runs without diverging), and the run ends with a finite loss.",
    })
    return ("Correct: the Robbins-Monro conditions describe t going to infinity. On a budget of 3000 steps "
            "0.1/(1+t) is below 0.001 from step 100 on and its steps add up to less than 1; along a direction of "
            "curvature c the error shrinks by only about exp(-c x 0.86), so even full-batch gradient descent with "
            "these lrs stops short. A schedule for a budget keeps the lr large long enough to arrive, and only "
            "then decays.")
