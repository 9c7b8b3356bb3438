"""Checks for chapter 10: warm-up, cyclical rates, one-cycle and restarts.

The chapter derives linear and exponential warm-up, the three modes of CyclicLR, OneCycleLR's phases and the
restarts of CosineAnnealingWarmRestarts, and measures warm-up on the digits MLP. The exercise asks for LinearLR's
warm-up at step t, CyclicLR's triangular2 at step t, the steps at which SGDR restarts (derived: T_0 (T_mult^k - 1) /
(T_mult - 1)), OneCycleLR's lr at step t (cos, two phases), and what the chapter measured about warm-up.
Each reference equals torch's scheduler (tests/test_grading_ch10.py).
"""

import math

import numpy as np

from lrcourse.grading.core import Fail, as_array, as_number, call, choice, close, diagnose_all, task


def _check_cases(fn, name, reference, cases, mistakes, names, describe, passed, rtol=1e-6, read=None):
    """Call ``fn`` on every case; pass if all equal ``reference``, else name the mistake that fits every case.

    rtol 1e-6 accepts an answer computed in float32 (numpy or torch) and still rejects every named mistake; a wrong
    answer that fits no named mistake is shown at the case where it is furthest off (relative error)."""
    read = read or (lambda result: as_number(result, name))
    answers = []
    for args in cases:
        answers.append((args, read(call(fn, *args, names=names))))
    wrong = [(args, result) for args, result in answers if not close(result, reference(*args), rtol=rtol)]
    if not wrong:
        return passed
    why = diagnose_all(answers, mistakes, rtol=rtol)
    if why:
        raise Fail(why)
    args, result = max(wrong, key=lambda case: _relative_error(case[1], reference(*case[0])))
    raise Fail(describe(args, result, reference(*args)))


def _relative_error(result, expected):
    return abs(result - expected) / max(abs(expected), 1e-300)


def _show(value):
    """A number with enough digits to tell two close ones apart."""
    return f"{value:.10g}"


# ---------------------------------------------------------------- task 1: LinearLR as a warm-up
def _linear_warmup(t, lr, start_factor, total_iters):
    return lr * (start_factor + (1 - start_factor) * min(t, total_iters) / total_iters)


WARMUP_MISTAKES = [
    (lambda t, lr, s, T: s + (1 - s) * min(t, T) / T,
     "you returned the factor, not the lr: LinearLR multiplies the optimizer's lr by the factor (as LambdaLR's "
     "function returns a factor), so the lr is lr * (start_factor + (1 - start_factor) * min(t, T) / T)."),
    (lambda t, lr, s, T: lr * t / T,
     "lr * t / T starts at 0 and never stops climbing: LinearLR starts at start_factor * lr and stays at lr from "
     "step total_iters on, lr * (start_factor + (1 - start_factor) * min(t, T) / T)."),
    (lambda t, lr, s, T: lr * min(t, T) / T,
     "your warm-up starts at 0: LinearLR starts at start_factor * lr (step 0 uses start_factor * lr, not 0), "
     "lr * (start_factor + (1 - start_factor) * min(t, T) / T)."),
    (lambda t, lr, s, T: lr * (s + (1 - s) * min(t + 1, T) / T),
     "off by one: step 0 is the lr at construction, start_factor * lr; you count from t + 1, so your warm-up is one "
     "step ahead of LinearLR's."),
    (lambda t, lr, s, T: lr * (s + (1 - s) * min(t, T - 1) / (T - 1)) if T > 1 else lr,
     "your warm-up reaches lr at step T - 1: LinearLR's reaches it at step T = total_iters (the factor is "
     "min(t, T) / T of the way)."),
    (lambda t, lr, s, T: lr * (s + (1 - s) * t / T),
     "after total_iters steps the lr stays at lr: min(t, total_iters). Yours keeps climbing past it."),
    (lambda t, lr, s, T: lr * s ** (1 - min(t, T) / T),
     "that is the exponential warm-up (the same ratio every step); LinearLR climbs in equal steps: "
     "lr * (start_factor + (1 - start_factor) * min(t, T) / T)."),
    (lambda t, lr, s, T: lr * (1 - (1 - s) * min(t, T) / T),
     "your lr falls from lr to start_factor * lr: a warm-up climbs, from start_factor * lr at step 0 to lr at "
     "step total_iters."),
]


@task("10.linear_warmup", "Task 1: LinearLR's warm-up at step t")
def check_linear_warmup(linear_warmup, rng):
    cases = []
    for _ in range(6):
        T = int(rng.integers(2, 60))
        lr, s = float(10 ** rng.uniform(-3, 0)), float(rng.uniform(0.01, 0.9))
        cases += [(t, lr, s, T) for t in (0, 1, int(rng.integers(2, T + 1)), T - 1, T, T + int(rng.integers(1, 50)))]
    return _check_cases(
        linear_warmup, "linear_warmup", _linear_warmup, cases, WARMUP_MISTAKES, ("t", "lr", "start_factor", "total_iters"),
        lambda a, r, e: (f"for t = {a[0]}, lr = {a[1]:.4g}, start_factor = {a[2]:.4g}, total_iters = {a[3]} LinearLR "
                         f"gives {_show(e)}; you returned {_show(r)}."),
        "Correct: lr * (start_factor + (1 - start_factor) * min(t, T) / T), equal to torch's LinearLR; it reaches lr at "
        "step T, not T - 1.")


# ---------------------------------------------------------------- task 2: CyclicLR triangular2
def _triangular2(t, base_lr, max_lr, up, down):
    cycle = t // (up + down)
    c = t % (up + down)
    h = c / up if c <= up else (up + down - c) / down
    return base_lr + (max_lr - base_lr) * h / 2 ** cycle


def _tri_variant(halve="cycle", whole=False, length=0, start=0):
    def f(t, base_lr, max_lr, up, down):
        total = up + down + length
        c = t % total
        h = c / up if c <= up else max(total - c, 0) / down
        k = {"cycle": t // total, "never": 0, "first": t // total + 1, "peak": (t + down) // total,
             "half": t // up if up == down else (t + down) // total * 2}[halve]
        if whole:
            return (base_lr + (max_lr - base_lr) * h) / 2 ** k
        return base_lr + (max_lr - base_lr) * h / 2 ** k
    return f


def _smith_one_step_size(t, base_lr, max_lr, up, down):
    """Smith's (2017) formula, which has a single step size: it ignores step_size_down."""
    cycle = math.floor(1 + t / (2 * up))
    x = abs(t / up - 2 * cycle + 1)
    return base_lr + (max_lr - base_lr) * max(0.0, 1 - x) / 2 ** (cycle - 1)


def _halved_max(t, base_lr, max_lr, up, down):
    """max_lr halved each cycle instead of the height above base_lr."""
    cycle, c = t // (up + down), t % (up + down)
    h = c / up if c <= up else (up + down - c) / down
    return base_lr + (max_lr / 2 ** cycle - base_lr) * h


TRI_MISTAKES = [
    (_smith_one_step_size,
     "that is the formula of Smith's paper, abs(t / step_size - 2 cycle + 1), with a single step size: it falls over "
     "step_size_up steps too. CyclicLR falls over step_size_down steps, so a cycle is step_size_up + step_size_down "
     "steps long."),
    (_halved_max,
     "you halved max_lr; triangular2 halves the height above base_lr, max_lr - base_lr: "
     "base_lr + (max_lr - base_lr) * h / 2^c. With max_lr halved the peak can even fall below base_lr."),
    (_tri_variant(halve="never"), "the height never halves: that is mode 'triangular'. triangular2 halves the height "
                                  "of the triangle after every full cycle: (max_lr - base_lr) / 2^c in cycle c = 0, 1 ..."),
    (_tri_variant(halve="first"), "the first cycle is already halved: triangular2 reaches max_lr in the first cycle "
                                  "(c = 0) and halves the height from the second on, 2^-c."),
    (_tri_variant(halve="peak"), "the height halves at each peak; triangular2 halves it when a full cycle ends "
                                 "(after step_size_up + step_size_down steps), at the bottom, not at the top."),
    (_tri_variant(whole=True), "you halved the whole lr, base_lr included: only the height above base_lr is halved, "
                               "base_lr + (max_lr - base_lr) * h / 2^c, so the lr never goes below base_lr."),
    (_tri_variant(length=1), "the cycle is one step too long: a cycle is step_size_up + step_size_down steps, the lr "
                             "is back at base_lr at step step_size_up + step_size_down."),
]


@task("10.triangular2", "Task 2: CyclicLR's triangular2 at step t")
def check_triangular2(triangular2, rng):
    cases = []
    for _ in range(5):
        up, down = int(rng.integers(2, 30)), int(rng.integers(2, 30))
        base = float(10 ** rng.uniform(-4, -2))
        peak = base * float(rng.uniform(3, 100))
        cases += [(t, base, peak, up, down) for t in (0, up, up + down, 2 * up + down, 3 * (up + down) + up // 2,
                                                      int(rng.integers(0, 6 * (up + down))), up + down - 1,
                                                      up + down // 2, 2 * (up + down) + up + down // 2)]
    cases += [(t, 0.01, 0.5, 3, 9) for t in (2, 5, 8, 12, 15, 22, 30)]    # step_size_down far from step_size_up
    return _check_cases(
        triangular2, "triangular2", _triangular2, cases, TRI_MISTAKES, ("t", "base_lr", "max_lr", "step_size_up",
                                                                        "step_size_down"),
        lambda a, r, e: (f"for t = {a[0]}, base_lr = {a[1]:.4g}, max_lr = {a[2]:.4g}, step_size_up = {a[3]}, "
                         f"step_size_down = {a[4]} CyclicLR (triangular2) gives {_show(e)}; you returned {_show(r)}."),
        "Correct: the triangle's height above base_lr is halved after each full cycle, as torch's CyclicLR does.")


# ---------------------------------------------------------------- task 3: where SGDR restarts (derive)
def _restart_steps(T_0, T_mult, n):
    k = np.arange(1, n + 1)
    if T_mult == 1:
        return (k * T_0).astype(float)
    return np.array([T_0 * (T_mult ** j - 1) // (T_mult - 1) for j in k], dtype=float)


RESTART_MISTAKES = [
    (lambda T_0, T_mult, n: np.array([T_0 * T_mult ** j for j in range(1, n + 1)], dtype=float),
     "those are the lengths of cycles 1, 2, ... (T_0 T_mult^k), not the steps at which they start: the k-th restart "
     "comes after all the cycles before it, T_0 + T_0 T_mult + ... + T_0 T_mult^(k-1)."),
    (lambda T_0, T_mult, n: np.array([T_0 * T_mult ** j for j in range(n)], dtype=float),
     "those are the lengths of the cycles T_i = T_0 T_mult^i: a restart comes after all the cycles before it, "
     "so add them up: T_0 + T_0 T_mult + ... = T_0 (T_mult^k - 1) / (T_mult - 1)."),
    (lambda T_0, T_mult, n: np.arange(1, n + 1, dtype=float) * T_0,
     "k T_0 holds only for T_mult = 1: with T_mult > 1 each cycle is T_mult times longer than the one before."),
    (lambda T_0, T_mult, n: np.concatenate([[0.0], _restart_steps(T_0, T_mult, n - 1)]) if n > 1 else np.zeros(1),
     "step 0 is the start, not a restart: the first restart is at step T_0."),
    (lambda T_0, T_mult, n: _restart_steps(T_0, T_mult, n) - 1,
     "off by one: the first cycle uses steps 0 ... T_0 - 1, so the lr is back at its peak at step T_0, not T_0 - 1."),
    (lambda T_0, T_mult, n: _restart_steps(T_0, T_mult, n + 1)[1:],
     "your list starts one restart late: the first restart is at step T_0."),
]


@task("10.restart_steps", "Task 3: derive where cosine with warm restarts restarts")
def check_restart_steps(restart_steps, rng):
    cases = [(int(rng.integers(1, 50)), int(m), int(rng.integers(3, 8))) for m in (1, 2, 3, int(rng.integers(2, 5)))]
    cases.append((int(rng.integers(1, 50)), 1, 1))
    ONE = ("For T_mult = 1 the formula T_0 (T_mult^k - 1) / (T_mult - 1) is 0 / 0: the cycles are all T_0 long then, "
           "and the k-th restart is at k T_0; treat T_mult = 1 on its own.")
    raws, errors = {}, {}
    for args in cases:
        try:
            raws[args] = call(restart_steps, *args, names=("T_0", "T_mult", "n"))
        except Fail as fail:
            errors[args] = fail
    others_fine = all(a not in errors and _is_right(raws[a], a) for a in cases if a[1] != 1)
    for args, fail in errors.items():     # the T_mult = 1 cases are blamed only when every other case is right
        if args[1] == 1 and others_fine and "ZeroDivisionError" in str(fail):
            raise Fail(f"{fail}. It happened for T_mult = 1, where T_mult - 1 = 0. {ONE}") from None
        raise fail
    for args, raw in raws.items():
        if args[1] != 1 or not others_fine:
            continue
        with np.errstate(all="ignore"):
            try:
                values = np.asarray(raw, dtype=float).reshape(-1)
            except (TypeError, ValueError):
                continue
        if values.size and np.all(np.isnan(values)):
            raise Fail(f"for T_0 = {args[0]}, T_mult = 1 you returned NaN: your answer is right for T_mult > 1, but "
                       f"numpy's 0 / 0 gives NaN (with a warning, not an error). {ONE}")
        if values.size and np.all(values == 0):
            raise Fail(f"for T_0 = {args[0]}, T_mult = 1 you returned zeros: your answer is right for T_mult > 1, "
                       f"but with T_mult - 1 = 0 numpy's integer floor division // gives 0 (with a warning, not an "
                       f"error). {ONE}")
    answers = [(args, as_array(raws[args], (args[2],), "restart_steps")) for args in cases]
    wrong = [(a, r) for a, r in answers if not close(r, _restart_steps(*a))]
    if not wrong:
        return ("Correct: the k-th restart is at T_0 (T_mult^k - 1) / (T_mult - 1), k T_0 when T_mult = 1: the sum of "
                "the lengths of the cycles before it, where CosineAnnealingWarmRestarts puts the lr back at its peak.")
    why = diagnose_all(answers, RESTART_MISTAKES)
    if why:
        raise Fail(why)
    (T_0, T_mult, n), result = wrong[0]
    raise Fail(f"for T_0 = {T_0}, T_mult = {T_mult} the first {n} restarts are at steps "
               f"{[int(v) for v in _restart_steps(T_0, T_mult, n)]}; you returned {np.round(result, 3).tolist()}. "
               f"Cycle i lasts T_0 T_mult^i steps (i = 0, 1 ...), and a restart comes when a cycle ends.")


def _is_right(raw, args):
    try:
        with np.errstate(all="ignore"):
            return close(np.asarray(raw, dtype=float).reshape(-1), _restart_steps(*args), rtol=1e-6)
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------- task 4: OneCycleLR (cos, two phases)
def _one_cycle(t, max_lr, total_steps, pct_start=0.3, div_factor=25.0, final_div_factor=1e4, peak_shift=-1,
               end=None, anneal="cos", restart_count=False):
    initial = max_lr / div_factor
    final = initial / final_div_factor if end is None else end(max_lr, div_factor, final_div_factor)
    peak = pct_start * total_steps + peak_shift
    how = (lambda a, b, p: b + (a - b) * (1 + math.cos(math.pi * p)) / 2) if anneal == "cos" else \
        (lambda a, b, p: a + (b - a) * p)
    if t <= peak:
        return how(initial, max_lr, t / peak)
    start = 0 if restart_count else peak
    return how(max_lr, final, (t - start) / (total_steps - 1 - peak))


ONE_CYCLE_MISTAKES = [
    (lambda t, m, N, q, d, f: _one_cycle_int_peak(t, m, N, q, d, f),
     "your first phase ends at int(pct_start * total_steps) - 1: OneCycleLR does not round, it ends the phase at "
     "float(pct_start * total_steps) - 1 (for 0.3 x 23 = 6.9 at 5.9, between two steps)."),
    (lambda t, m, N, q, d, f: _one_cycle(t, m, N, q, d, f, peak_shift=0),
     "your lr peaks at step pct_start * total_steps: OneCycleLR's first phase ends at step pct_start * total_steps - 1 "
     "(its phases end at float(pct_start * total_steps) - 1 and total_steps - 1)."),
    (lambda t, m, N, q, d, f: _one_cycle(t, m, N, q, d, f, end=lambda m_, d_, f_: m_ / d_),
     "your lr ends where it started, at max_lr / div_factor: one-cycle ends far lower, at "
     "max_lr / (div_factor * final_div_factor)."),
    (lambda t, m, N, q, d, f: _one_cycle(t, m, N, q, d, f, end=lambda m_, d_, f_: m_ / f_),
     "the final lr is the initial lr divided by final_div_factor: max_lr / (div_factor * final_div_factor), not "
     "max_lr / final_div_factor."),
    (lambda t, m, N, q, d, f: _one_cycle(t, m, N, q, d, f, anneal="linear"),
     "that is anneal_strategy='linear': the default, 'cos', follows half a cosine in each phase, "
     "b + (a - b)(1 + cos(pi p)) / 2."),
    (lambda t, m, N, q, d, f: _one_cycle(t, m, N, q, d, f, restart_count=True),
     "in the second phase the fraction p counts from the peak: p = (t - peak) / (total_steps - 1 - peak), not t / ..."),
]


def _one_cycle_int_peak(t, max_lr, N, q, d, f):
    """OneCycleLR with the peak rounded down to int(q N) - 1."""
    initial, final, peak = max_lr / d, max_lr / d / f, int(q * N) - 1
    cos = lambda a, b, p: b + (a - b) * (1 + math.cos(math.pi * p)) / 2
    return cos(initial, max_lr, t / peak) if t <= peak else cos(max_lr, final, (t - peak) / (N - 1 - peak))


@task("10.one_cycle_lr", "Task 4: OneCycleLR's lr at step t")
def check_one_cycle_lr(one_cycle_lr, rng):
    cases = []
    for _ in range(4):
        N = int(rng.integers(50, 400))
        q = float(rng.choice([0.2, 0.25, 0.3, 0.4]))
        m, d, f = float(10 ** rng.uniform(-2, 0)), float(rng.uniform(5, 40)), float(10 ** rng.uniform(2, 4))
        peak = int(q * N) - 1
        cases += [(t, m, N, q, d, f) for t in (0, 1, peak, peak + 1, N - 1, int(rng.integers(0, N)),
                                               int(rng.integers(peak, N)))]
    m = float(10 ** rng.uniform(-2, 0))     # 0.3 x 23 = 6.9 is no whole number: where the phases meet matters
    cases += [(t, m, 23, 0.3, 25.0, 1e4) for t in (2, 4, 5, 6, 7, 10, 16, 22)]
    return _check_cases(
        one_cycle_lr, "one_cycle_lr", lambda t, m, N, q, d, f: _one_cycle(t, m, N, q, d, f), cases,
        ONE_CYCLE_MISTAKES, ("t", "max_lr", "total_steps", "pct_start", "div_factor", "final_div_factor"),
        lambda a, r, e: (f"for t = {a[0]}, max_lr = {a[1]:.4g}, total_steps = {a[2]}, pct_start = {a[3]}, div_factor = "
                         f"{a[4]:.4g}, final_div_factor = {a[5]:.4g} OneCycleLR gives {_show(e)}; you returned {_show(r)}."),
        "Correct: up from max_lr / div_factor to max_lr by step pct_start * total_steps - 1, then down to "
        "max_lr / (div_factor * final_div_factor) at step total_steps - 1, by half cosines, as OneCycleLR.")


# ---------------------------------------------------------------- task 5: what the chapter measured
@task("10.answer_warmup", "Task 5: what did warm-up do on the digits network?", kind="value")
def check_answer_warmup(answer, rng):
    choice(answer, "c", "abcd", {
        "a": "not in every setting: with minibatches of 64 over 100 steps the largest lr that trains was 0.316 without "
             "and 0.277 with warm-up, for SGD and for Adam (median per-seed ratio 1.00). It about doubled only for "
             "full-batch SGD (2.37 -> 4.92, ratio 2.07).",
        "b": "the other way round: at batch 64 over 100 steps the ratio was 1.00 for SGD and Adam, and with the full "
             "batch SGD's largest trainable lr about doubled (2.37 -> 4.92, larger on all 10 seeds).",
        "d": "fewer runs blew up with warm-up: full-batch SGD 16 of 50 with it against 39 of 50 without, SGD at batch "
             "64 5 of 150 against 7 of 150; Adam's never did.",
    })
    return ("Correct: where the first steps set the limit (full batch, no minibatch noise) a 20-step warm-up about "
            "doubled the largest lr that trains; at batch 64 the limit is set by minibatch noise all through the run, "
            "and the warm-up did not move it (Adam over 500 steps with a 100-step warm-up gained a little, 1.17).")
