"""Checks for chapter 11: the learning-rate range test.

The chapter hands over a range test of fifteen lines (its lr sequence, smoothing and stopping written inline), the
lag of the moving average for a linear ramp, (1 - f)/f iterations, and the factor it makes in lr at the defaults
(about 22), and the table of five rules against full sweeps on three problems. The exercise asks for the lr sequence
in both modes as a function of its own, the smoothing and stopping rule as torch-lr-finder records them, the
steepest-descent suggestion with its skips, the lag factor for any settings (derived), and the reading of one line of
the trust table.
"""

import math

import numpy as np

from lrcourse.grading.core import Fail, as_array, as_number, call, choice, close, diagnose_all, task
from lrcourse.range_test import lr_sequence, smooth, steepest


def _explained(shown, explanation, otherwise):
    """Fail with what was expected and what came (``shown``), then the named mistake, else the rule again."""
    text = explanation or otherwise
    raise Fail(f"{shown} {text[0].upper()}{text[1:]}".strip())


# ---------------------------------------------------------------- task 1: the lr sequence
def _range_lrs(start_lr, end_lr, num_iter, step_mode="exp"):
    return np.array(lr_sequence(start_lr, end_lr, num_iter, step_mode))


def _sequence_with(exponent, step_mode_swap=False):
    """The sequence with the fraction r of the way computed as ``exponent(i, num_iter)``."""
    def lrs(start_lr, end_lr, num_iter, step_mode="exp"):
        mode = step_mode if not step_mode_swap else {"exp": "linear", "linear": "exp"}[step_mode]
        out = []
        for i in range(num_iter):
            r = exponent(i, num_iter)
            out.append(start_lr * (end_lr / start_lr) ** r if mode == "exp" else start_lr + r * (end_lr - start_lr))
        return np.array(out)
    return lrs


SEQUENCE_MISTAKES = [
    (_sequence_with(lambda i, n: i / n),
     "your last lr falls short of end_lr: with r = i / num_iter the last iteration, i = num_iter - 1, gets "
     "r = (num_iter - 1) / num_iter, not 1. Both ends are included: r = i / (num_iter - 1)."),
    (_sequence_with(lambda i, n: (i + 1) / n),
     "your sequence starts one step late: its first lr is already past start_lr. Counting i from 0, r = i / "
     "(num_iter - 1) gives start_lr at the first iteration and end_lr at the last."),
    (_sequence_with(lambda i, n: (i + 1) / (n - 1)),
     "off by one: your first lr is past start_lr and your last one past end_lr. Count i from 0 to num_iter - 1: "
     "r = i / (num_iter - 1)."),
    (lambda start_lr, end_lr, num_iter, step_mode="exp": _range_lrs(start_lr, end_lr, num_iter, "exp"),
     "your sequence is geometric in \"linear\" mode too: there the lr grows by the same *amount* every iteration, "
     "start_lr + r * (end_lr - start_lr)."),
    (_sequence_with(lambda i, n: i / (n - 1), step_mode_swap=True),
     "the two modes are swapped: \"exp\" multiplies the lr by the same factor every iteration, start_lr * "
     "(end_lr / start_lr) ** r, and \"linear\" adds the same amount, start_lr + r * (end_lr - start_lr)."),
]


def _sequence_cases(rng):
    cases = [(1e-6, 10.0, 100, "exp"), (1e-4, 1.0, 80, "linear")]
    for mode in ("exp", "linear", "exp"):
        start = float(10 ** rng.uniform(-7, -3))
        cases.append((start, float(start * 10 ** rng.uniform(2, 7)), int(rng.integers(20, 150)), mode))
    return cases


@task("11.range_lrs", "Task 1: the lr of every iteration")
def check_range_lrs(range_lrs, rng):
    cases = []
    for args in _sequence_cases(rng):
        result = call(range_lrs, *args, names=("start_lr", "end_lr", "num_iter", "step_mode"))
        if isinstance(result, str):
            raise Fail(f"`range_lrs` returned a string ({result[:40]!r}), but the lrs were expected, one per "
                       f"iteration: a list or an array of num_iter numbers.")
        array = as_array(result, what="range_lrs")
        if array.ndim != 1 or len(array) != args[2]:
            raise Fail(f"for num_iter = {args[2]}, `range_lrs` returned {array.size} values (shape {array.shape}): "
                       f"one lr per iteration, num_iter of them, was expected.")
        cases.append((args, array))
    wrong = [(args, r) for args, r in cases if not close(r, _range_lrs(*args), rtol=1e-6, atol=0)]  # float32 too
    if not wrong:
        return ("Correct: r = i / (num_iter - 1) goes from 0 to 1 over the iterations, so the test starts at start_lr "
                "and ends exactly at end_lr, and \"exp\" multiplies the lr by (end_lr / start_lr) ** (1 / (num_iter - "
                "1)) each time: torch-lr-finder's sequence.")
    explanation = diagnose_all(wrong, SEQUENCE_MISTAKES, rtol=1e-6, atol=0)
    (args, result) = wrong[0]
    expected = _range_lrs(*args)
    k = int(np.argmax(~np.isclose(result, expected, rtol=1e-6, atol=0)))
    where = (f"For start_lr = {args[0]:.3g}, end_lr = {args[1]:.3g}, num_iter = {args[2]}, step_mode = {args[3]!r}: "
             f"iteration {k} should use {expected[k]:.6g}, yours uses {result[k]:.6g}.")
    _explained(where, explanation, "the fraction of the way is r = i / (num_iter - 1); \"exp\" gives start_lr * "
               "(end_lr / start_lr) ** r and \"linear\" start_lr + r * (end_lr - start_lr).")


# ---------------------------------------------------------------- task 2: smoothing and stopping
def _smooth_and_stop(raw_losses, smooth_f=0.05, diverge_th=5.0):
    losses, stopped = smooth(raw_losses, smooth_f, diverge_th)
    return np.array(losses), stopped


def _smoother_variant(weights="torch", stop_on="smoothed", best="lowest", keep_last=True, debias=False,
                      previous="smoothed"):
    """torch-lr-finder's smoothing and stopping with one thing changed (the mistakes below)."""
    def run(raw_losses, smooth_f=0.05, diverge_th=5.0):
        out, average, best_value = [], 0.0, None
        for i, value in enumerate(raw_losses):
            if debias is not False:          # an average started at 0; fastai divides it by 1 - (1 - f)^(i+1)
                average = smooth_f * value + (1 - smooth_f) * average
                s = average / (1 - (1 - smooth_f) ** (i + 1)) if debias else average
            elif out and previous == "raw":
                s = smooth_f * value + (1 - smooth_f) * raw_losses[i - 1]
            elif not out:
                s = value
            elif weights == "swapped":
                s = (1 - smooth_f) * value + smooth_f * out[-1]
            else:
                s = smooth_f * value + (1 - smooth_f) * out[-1]
            if best_value is None:
                best_value = s
            elif best == "lowest":
                best_value = min(best_value, s)
            watched = s if stop_on == "smoothed" else value
            if watched > diverge_th * best_value or not math.isfinite(watched):
                if keep_last:
                    out.append(s)
                return np.array(out), True
            out.append(s)
        return np.array(out), False
    return run


SMOOTH_MISTAKES = [
    (_smoother_variant(weights="swapped"),
     "the weights are swapped: the newest loss gets the small weight smooth_f, the average so far the rest, "
     "smoothed = smooth_f * loss + (1 - smooth_f) * previous. With yours the curve is hardly smoothed at all."),
    (_smoother_variant(debias=True),
     "that is fastai's moving average, started at 0 and divided by 1 - (1 - f)^(i+1). torch-lr-finder (and the "
     "course's range_test) keeps the first loss as it is and averages from there, without a correction; the two "
     "differ over the first few dozen iterations."),
    (_smoother_variant(previous="raw"),
     "you averaged the new loss with the previous *raw* loss: smoothed = smooth_f * loss + (1 - smooth_f) * the "
     "previous *smoothed* value, so that the average remembers every loss so far, not just the last one."),
    (_smoother_variant(debias=None),
     "your average starts at 0 (smoothed = smooth_f * loss at the first iteration), so the first smoothed losses are "
     "far too small and the test stops at once. torch-lr-finder keeps the first loss as it is and averages from there."),
    (_smoother_variant(stop_on="raw"),
     "your test stops on the *raw* loss of one minibatch: one noisy batch can end it. torch-lr-finder compares "
     "the smoothed loss with diverge_th times the lowest smoothed loss."),
    (_smoother_variant(best="first"),
     "your threshold is diverge_th times the *first* loss; it should be diverge_th times the lowest smoothed "
     "loss so far, which falls as the test goes on."),
    (_smoother_variant(keep_last=False),
     "off by one at the end: the loss that stops the test is recorded too (torch-lr-finder appends it, then "
     "stops), so the list ends with the first smoothed loss above the threshold."),
]


def _raw_curve(rng, n=None, explode=True):
    """Minibatch losses of a range test: flat, falling, then (if ``explode``) rising fast, with noise."""
    n = n or int(rng.integers(60, 120))
    x = np.linspace(0, 1, n)
    start, low = float(rng.uniform(1.5, 3.0)), float(rng.uniform(0.2, 0.6))
    fall = low + (start - low) / (1 + np.exp((x - rng.uniform(0.4, 0.6)) * 25))
    rise = np.exp(np.clip((x - rng.uniform(0.75, 0.85)) * 40, -50, 50)) if explode else 0 * x
    return list(fall + rise + rng.normal(0, 0.05 * start, n) ** 2)


@task("11.smooth_and_stop", "Task 2: smoothing and stopping")
def check_smooth_and_stop(smooth_and_stop, rng):
    cases = [(_raw_curve(rng), 0.05, 5.0), (_raw_curve(rng), float(rng.uniform(0.1, 0.4)), float(rng.uniform(2, 4))),
             (_raw_curve(rng, explode=False), 0.05, 5.0), (_raw_curve(rng), float(rng.uniform(0.02, 0.1)), 3.0)]
    nan_case = _raw_curve(rng, 40, explode=False)
    nan_case[30] = float("nan")
    cases.append((nan_case, 0.05, 5.0))
    answers = []
    for args in cases:
        result = call(smooth_and_stop, *args, names=("raw_losses", "smooth_f", "diverge_th"))
        if result is None:
            raise Fail("`smooth_and_stop` returned None: did you forget the `return` statement?")
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise Fail("`smooth_and_stop` should return a pair: (the smoothed losses up to where the test stops, "
                       "whether it stopped), for example `return smoothed, stopped`.")
        losses, stopped = result
        if not isinstance(stopped, (bool, np.bool_)):
            raise Fail(f"the second value `smooth_and_stop` returns should be True or False (whether the test "
                       f"stopped), not {stopped!r}.")
        values = np.asarray(losses, dtype=object)
        if values.ndim != 1:
            raise Fail("the first value should be a list of the smoothed losses, one per iteration run.")
        answers.append((args, (losses, bool(stopped))))
    # the NaN case first: a NaN must stop the test (NaN is never larger than the threshold)
    if not answers[-1][1][1]:
        raise Fail("a NaN loss must stop the test: `nan > diverge_th * best` is False, so a test that only "
                   "compares keeps running on NaN (torch-lr-finder does). Stop when the smoothed loss is not "
                   "finite as well: `not math.isfinite(smoothed)`.")

    def same(result, reference):
        return (len(result[0]) == len(reference[0]) and result[1] == reference[1]
                and close(np.asarray(result[0], dtype=float), np.asarray(reference[0], dtype=float), 1e-9, 1e-12))

    wrong = [(args, r) for args, r in answers if not same(r, _smooth_and_stop(*args))]
    if not wrong:
        return ("Correct: the first loss as it is, then smooth_f * loss + (1 - smooth_f) * previous, stopping at "
                "(and keeping) the first smoothed loss above diverge_th times the lowest one, or a NaN: "
                "torch-lr-finder's history, which the course's range_test reproduces.")
    explanation = diagnose_all(wrong, SMOOTH_MISTAKES, same=same)
    args, (losses, stopped) = wrong[0]
    expected, expected_stop = _smooth_and_stop(*args)
    if explanation:
        raise Fail(explanation)
    try:
        yours = np.asarray(losses, dtype=float)
    except (TypeError, ValueError):
        raise Fail("the smoothed losses should be numbers, one per iteration run.") from None
    shared = min(len(yours), len(expected))
    off = ~np.isclose(yours[:shared], expected[:shared], rtol=1e-9, atol=1e-12, equal_nan=True)
    if off.any():
        k = int(np.argmax(off))
        raise Fail(f"for smooth_f = {args[1]:.3g} the smoothed loss at iteration {k} should be {expected[k]:.6g}, yours "
                   f"is {yours[k]:.6g}. The first is the raw loss; then smooth_f * loss + (1 - smooth_f) * the previous "
                   f"smoothed loss.")
    if len(losses) != len(expected):
        raise Fail(f"for smooth_f = {args[1]:.3g}, diverge_th = {args[2]:.3g} your test records {len(losses)} losses, "
                   f"the reference {len(expected)} ({'it stops there' if expected_stop else 'no stop'}). Stop at the "
                   f"first smoothed loss above diverge_th times the lowest smoothed loss so far, and keep it.")
    raise Fail("the smoothed losses are right, but the stop is not: `stopped` should be True exactly when the test "
               "ended early, at a smoothed loss above diverge_th times the lowest one, or one that is not finite.")


# ---------------------------------------------------------------- task 3: the steepest-descent suggestion
def _steepest_lr(lrs, losses, skip_start=10, skip_end=5):
    stop = len(lrs) - skip_end
    return steepest(lrs[skip_start:stop], losses[skip_start:stop])


def _trimmed(rule, skip=True):
    def suggest(lrs, losses, skip_start=10, skip_end=5):
        if not skip:
            skip_start, skip_end = 0, 0
        stop = len(lrs) - skip_end
        return rule(np.asarray(lrs[skip_start:stop]), np.asarray(losses[skip_start:stop]))
    return suggest


STEEPEST_MISTAKES = [
    (lambda lrs, losses, skip_start=10, skip_end=5: _steepest_lr(lrs, losses, skip_start, skip_end + 1),
     "off by one at the end: you left out skip_end + 1 points. Keep lrs[skip_start:len(lrs) - skip_end]."),
    (lambda lrs, losses, skip_start=10, skip_end=5: float(lrs[skip_start + int(np.argmin(
        np.gradient(np.asarray(losses, dtype=float))[skip_start:len(losses) - skip_end]))]),
     "you took np.gradient of the whole curve and trimmed it afterwards: at the edges of the window the slope then "
     "uses points that should have been left out. Trim first, then take np.gradient of what is left."),
    (lambda lrs, losses, skip_start=10, skip_end=5: float(lrs[int(np.argmin(np.gradient(
        np.asarray(losses[skip_start:len(losses) - skip_end], dtype=float))))]),
     "the index is off by skip_start: np.argmin counts from the start of the trimmed losses, so read the lr from the "
     "trimmed lrs too (or add skip_start)."),
    (_trimmed(lambda l, s: float(l[int(np.argmin(np.diff(s)))])),
     "you used np.diff, whose k-th entry is loss[k+1] - loss[k]: the slope *between* points k and k+1, so the index "
     "it gives is half a point early. torch-lr-finder uses np.gradient, the centred difference at each point."),
    (_trimmed(lambda l, s: float(l[int(np.argmin(np.diff(s))) + 1])),
     "you used np.diff and shifted the index by one: np.diff's k-th entry is the slope between points k and k+1, "
     "not at a point. torch-lr-finder uses np.gradient, the centred difference at each point."),
    (_trimmed(steepest, skip=False),
     "the skips are missing: read the curve without its first skip_start and last skip_end points, "
     "lrs[skip_start:len(lrs) - skip_end], where the noisy start or the explosion can hold the steepest point."),
    (_trimmed(lambda l, s: float(l[int(np.argmax(np.gradient(s)))])),
     "that is the steepest *rise* (np.argmax): the suggestion is where the loss falls fastest, the most negative "
     "gradient, np.argmin."),
    (_trimmed(lambda l, s: float(l[int(np.argmin(np.gradient(s, l)))])),
     "you differentiated per unit of lr, np.gradient(losses, lrs): on a geometric lr axis the points are far apart "
     "at the right, so the slope per unit lr is tiny there. torch-lr-finder's slope is per point, np.gradient(losses)."),
    (_trimmed(lambda l, s: int(np.argmin(np.gradient(s)))),
     "you returned the index of the steepest point; the lr at that index was expected (and the index counts from "
     "skip_start, not from 0)."),
]


def _steepest_cases(rng):
    cases = []
    for k, (skip_start, skip_end) in enumerate([(10, 5), (int(rng.integers(0, 20)), int(rng.integers(1, 10))),
                                                (int(rng.integers(5, 15)), 0)]):
        n = int(rng.integers(50, 110))
        lrs = list(np.geomspace(10 ** rng.uniform(-7, -5), 10 ** rng.uniform(-1, 1), n))
        losses = np.asarray(_raw_curve(rng, n), dtype=float)
        smoothed = np.array(smooth(losses, 0.05, np.inf)[0])
        if k == 0:   # a noisy start: the first points fall steeply, which only the skip keeps out of the reading
            smoothed[:4] += np.array([3.0, 1.6, 0.7, 0.2])
        cases.append((lrs, list(smoothed), skip_start, skip_end))
    # built by hand: the slope per point is lowest at 20, np.diff is lowest between 23 and 24
    losses = np.concatenate([np.full(20, 3.0), [2.0, 1.0, 0.0, -0.01, -1.51], np.full(20, -1.51)]) + 2
    cases.append((list(np.geomspace(1e-5, 1.0, len(losses))), list(losses), 10, 5))
    # built by hand: a drop just outside the window's left edge, and the steepest fall at its last point
    left = np.full(45, 3.0)
    left[9], left[30:] = 6.0, 2.7
    right = np.full(45, 3.0)
    right[39], right[40:] = 2.0, 1.9
    for losses in (left, right):
        cases.append((list(np.geomspace(1e-6, 10.0, 45)), list(losses), 10, 5))
    return cases


@task("11.steepest_lr", "Task 3: the steepest-descent suggestion")
def check_steepest_lr(steepest_lr, rng):
    cases = []
    for args in _steepest_cases(rng):
        try:
            result = call(steepest_lr, *args, names=("lrs", "losses", "skip_start", "skip_end"))
        except Fail as error:
            if args[3] == 0 and ("empty" in str(error) or "ValueError" in str(error) or "IndexError" in str(error)):
                raise Fail(f"{str(error).rstrip('.')}. This happened with skip_end = 0: `losses[skip_start:-skip_end]` is then "
                           f"`losses[skip_start:-0]`, which is empty, since -0 is 0. Slice up to "
                           f"len(losses) - skip_end instead.") from None
            raise
        cases.append((args, as_number(result, "steepest_lr")))
    wrong = [(args, r) for args, r in cases if not np.isclose(r, _steepest_lr(*args), rtol=1e-12, atol=0)]
    if not wrong:
        return ("Correct: np.gradient of the trimmed smoothed losses, the lr at its most negative entry: "
                "torch-lr-finder's plot(suggest_lr=True), the course's RangeTest.suggestion().")
    explanation = diagnose_all(wrong, STEEPEST_MISTAKES, rtol=1e-12, atol=0)
    args, result = wrong[0]
    if explanation:
        _explained("", explanation, "")
    if args[3] == 0 and any(a[3] != 0 for a, _ in cases if (a, _) not in wrong):
        raise Fail("right except when skip_end = 0: `losses[skip_start:-skip_end]` is then `losses[skip_start:-0]`, "
                   "which is empty, since -0 is 0. Slice up to len(losses) - skip_end instead.")
    raise Fail(f"with skip_start = {args[2]}, skip_end = {args[3]} the suggestion is {_steepest_lr(*args):.6g}, yours "
               f"{result:.6g}. Trim the curve, take np.gradient of the losses, and return the lr at its argmin.")


# ---------------------------------------------------------------- task 4: the lag factor, derived
def _lag_factor(start_lr, end_lr, num_iter, smooth_f):
    return (end_lr / start_lr) ** ((1 - smooth_f) / (smooth_f * (num_iter - 1)))


LAG_MISTAKES = [
    (lambda a, b, n, f: (b / a) ** ((1 - f) / (f * n)),
     "off by one: the lr grows by r = (end_lr / start_lr) ** (1 / (num_iter - 1)) per iteration (num_iter lrs, "
     "num_iter - 1 steps between them), not 1 / num_iter."),
    (lambda a, b, n, f: (b / a) ** (f / ((1 - f) * (n - 1))),
     "the lag is upside down: a *smaller* smooth_f averages over more past losses and lags more. The mean delay is "
     "sum_k k f (1-f)^k = (1 - f) / f iterations."),
    (lambda a, b, n, f: (b / a) ** (1 / (f * (n - 1))),
     "the lag is (1 - f) / f iterations, not 1 / f: the newest loss has weight f at delay 0, and sum_k k f (1-f)^k = "
     "(1 - f) / f."),
    (lambda a, b, n, f: (1 - f) / f,
     "that is the lag in *iterations*; the task asks for the factor in lr it makes: the lr grows by r = (end_lr / "
     "start_lr) ** (1 / (num_iter - 1)) each iteration, so the factor is r ** ((1 - f) / f)."),
    (lambda a, b, n, f: (b / a) ** (1 / (n - 1)) * (1 - f) / f,
     "the lag multiplies the exponent, not the growth: over (1 - f) / f iterations the lr grows by r each time, "
     "r ** ((1 - f) / f)."),
]


@task("11.lag_factor", "Task 4: derive the lag of the smoothing, as a factor in lr")
def check_lag_factor(lag_factor, rng):
    cases = [(1e-6, 10.0, 100, 0.05)]
    for _ in range(5):
        a = float(10 ** rng.uniform(-7, -3))
        cases.append((a, float(a * 10 ** rng.uniform(2, 7)), int(rng.integers(30, 300)), float(rng.uniform(0.02, 0.5))))
    answers = [(args, as_number(call(lag_factor, *args, names=("start_lr", "end_lr", "num_iter", "smooth_f")),
                                "lag_factor")) for args in cases]
    wrong = [(args, r) for args, r in answers if not np.isclose(r, _lag_factor(*args), rtol=1e-6)]  # float32 too
    if not wrong:
        return ("Correct: r ** ((1 - f) / f) with r = (end_lr / start_lr) ** (1 / (num_iter - 1)): 22.05 at "
                "torch-lr-finder's defaults. It holds for a slow trend; the chapter measured how little of it reaches "
                "the suggestion on a real curve.")
    explanation = diagnose_all(wrong, LAG_MISTAKES, rtol=1e-6)
    args, result = wrong[0]
    shown = (f"For start_lr = {args[0]:.3g}, end_lr = {args[1]:.3g}, num_iter = {args[2]}, smooth_f = {args[3]:.3g} "
             f"the factor is {_lag_factor(*args):.6g}; yours is {result:.6g}.")
    _explained(shown, explanation, "the moving average lags (1 - f) / f iterations, and each iteration multiplies "
               "the lr by r = (end_lr / start_lr) ** (1 / (num_iter - 1)).")


# ---------------------------------------------------------------- task 5: reading the trust table
@task("11.answer_cliff", "Task 5: within 2x, yet past the safe lr", kind="value")
def check_answer_cliff(answer, rng):
    choice(answer, "b", "abcd", {
        "a": "the smoothing's lag makes the suggestion *later*, that is higher, not lower: and the median "
             "suggestion, 0.186, is above the best lr 0.1, not below it.",
        "c": "the range tests and the sweep do use different seeds, but that explains a spread, not runs that fail: "
             "the sweep's own runs at 0.251 (the same seeds as at 0.1) end no better than an untrained guess. It is "
             "where the suggestion lands that costs.",
        "d": "not on the high side: 0.186 is within 2x of 0.1 but past the safe lr 0.158, where some runs of the sweep "
             "fail, and minimum/10 at 1.4 times the best already pays 2.07 times its loss. On the low side the loss "
             "is flat: down to 0.063, 1.6 times below the best, it stays within 10% of the best.",
    })
    return ("Correct: the loss against the lr is lopsided near the best lr. Below it a run just makes less progress "
            "(valley, 7 times too low, pays 2.20 times the best loss); above it the runs approach the lrs where they "
            "fail, here only one grid step away, so minimum/10 at 1.4 times the best pays 2.07 times, and most of "
            "steepest's suggestions are past the safe lr. Erring low is cheap, erring high is not.")
