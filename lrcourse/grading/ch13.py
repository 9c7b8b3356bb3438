"""Checks for chapter 13: tuning and the claims, tested.

The exercise asks for the lr-sensitivity width as a factor (with diverged runs), the chance that k random draws hit a
good range (predicted with the closed form, then measured), a fair comparison (each optimizer tuned on its own on the
tuning seeds, scored on the scoring seeds, mean and sd), the spotting of a fair comparison among unfair ones, and the
minimum-norm solution that gradient descent reaches on Wilson et al.'s problem.
"""

import math

import numpy as np

from lrcourse.grading.core import (Fail, _kind, as_array, as_number, call, choice, close, diagnose,
                                   diagnose_all, task)


# ------------------------------------------------------------------------------------ task 1: sensitivity width
def _width(lrs, losses):
    lrs, losses = np.asarray(lrs, float), np.asarray(losses, float)
    ok = np.isfinite(losses)
    if not ok.any():
        return 0.0
    good = ok & (losses <= 2 * losses[ok].min())
    return float(lrs[good].max() / lrs[good].min())


def _width_nan_best(lrs, losses):            # np.min over NaN: every comparison False
    lrs, losses = np.asarray(lrs, float), np.asarray(losses, float)
    good = losses <= 2 * np.min(losses)
    return float(lrs[good].max() / lrs[good].min()) if good.any() else 0.0


def _width_decades(lrs, losses):
    w = _width(lrs, losses)
    return math.log10(w) if w > 0 else 0.0


def _width_strict(lrs, losses):
    lrs, losses = np.asarray(lrs, float), np.asarray(losses, float)
    ok = np.isfinite(losses)
    if not ok.any():
        return 0.0
    good = ok & ((losses < 2 * losses[ok].min()) | (losses == losses[ok].min()))
    return float(lrs[good].max() / lrs[good].min())


def _width_additive(lrs, losses):
    lrs, losses = np.asarray(lrs, float), np.asarray(losses, float)
    ok = np.isfinite(losses)
    if not ok.any():
        return 0.0
    good = ok & (losses <= losses[ok].min() + 2)
    return float(lrs[good].max() / lrs[good].min())


def _width_inverted(lrs, losses):
    w = _width(lrs, losses)
    return 1.0 / w if w > 0 else 0.0


def _width_count(lrs, losses):
    lrs, losses = np.asarray(lrs, float), np.asarray(losses, float)
    ok = np.isfinite(losses)
    if not ok.any():
        return 0.0
    return float(np.sum(ok & (losses <= 2 * losses[ok].min())))


WIDTH_MISTAKES = [
    (_width_decades, "that is the width in decades, log10(hi / lo); the task asks for the factor hi / lo itself."),
    (_width_inverted, "that is lo / hi: the factor is the largest good lr over the smallest, at least 1."),
    (_width_strict, "an lr whose loss is exactly twice the best is within 2x: use <=, not <."),
    (_width_additive, "'within 2x' is a factor: loss <= 2 * best, not loss <= best + 2."),
    (_width_count, "that is how many lrs are good; the task asks for the factor between the largest and smallest."),
]


def _width_cases(rng):
    lrs = 10.0 ** (np.arange(-16, 5) / 4)
    cases = []
    for _ in range(5):
        centre, sharp = rng.uniform(-3, 0), rng.uniform(0.5, 3)
        losses = 0.1 * rng.uniform(0.5, 2) * (1 + sharp * (np.log10(lrs) - centre) ** 2)
        losses[lrs > 10 ** (centre + rng.uniform(0.5, 1.5))] = rng.choice([np.inf, np.nan])   # diverged
        cases.append((lrs, losses))
    exact = np.array([4.0, 1.0, 2.0, 3.0, np.nan, np.inf])         # 2.0 is exactly twice the best
    cases.append((np.array([1e-3, 1e-2, 4e-2, 1.0, 10.0, 100.0]), exact))
    cases.append((np.array([0.1, 1.0, 10.0]), np.array([5.0, 1.0, 9.0])))          # one lr alone
    return cases


NAN_HINT = ("a NaN loss (a diverged run) spoiled the best: np.min and np.argmin return NaN when one value is NaN, "
            "and then no loss is within 2x of it. Keep only the finite losses (np.isfinite) before taking the best.")


@task("13.sensitivity_width", "Task 1: the lr-sensitivity width, as a factor")
def check_sensitivity_width(sensitivity_width, rng):
    cases = []
    for lrs, losses in _width_cases(rng):
        try:
            result = call(sensitivity_width, lrs, losses, names=["lrs", "losses"])
        except Fail as error:
            # the common NaN failure: every comparison with a NaN best is False, and lrs[good].max() on an empty
            # selection raises "zero-size array to reduction operation"
            if np.isnan(losses).any() and "zero-size" in str(error):
                raise Fail(NAN_HINT) from None
            raise
        cases.append(((lrs, losses), as_number(result, "sensitivity_width")))
    for (lrs, losses), result in cases:
        expected = _width(lrs, losses)
        if not close(result, expected, rtol=1e-9):
            if np.isnan(losses).any() and close(result, _width_nan_best(lrs, losses)):
                raise Fail(NAN_HINT)
            found = diagnose_all(cases, WIDTH_MISTAKES) or diagnose(result, (lrs, losses), WIDTH_MISTAKES)
            shown = ", ".join("inf" if np.isposinf(v) else "nan" if np.isnan(v) else f"{v:.3g}" for v in losses)
            raise Fail(found or f"for lrs {np.round(lrs, 6).tolist()} and losses [{shown}] the factor is "
                                f"{expected:.6g}, you returned {result:.6g}.")
    all_diverged = np.array([np.inf, np.nan, np.inf])
    result = as_number(call(sensitivity_width, np.array([0.1, 1.0, 10.0]), all_diverged, names=["lrs", "losses"]),
                       "sensitivity_width")
    if result != 0.0:
        raise Fail(f"when every lr diverged (losses inf or NaN) there is no good lr: return 0.0, not {result:.6g}.")
    return "Correct! The width ignores diverged runs and compares every loss with twice the best."


# ---------------------------------------------------------------------------------- task 2: hit probability
HIT_MISTAKES = [
    (lambda p, k: min(1.0, p * k), "k p is the grid's chance (evenly spaced trials, one good interval); random draws can "
                                   "repeat themselves: 1 - (1 - p)^k."),
    (lambda p, k: (1 - p) ** k, "(1 - p)^k is the chance that *every* draw misses; the chance of at least one hit is "
                                "1 minus it."),
    (lambda p, k: 1 - p ** k, "p^k is the chance that all k draws hit; at least one hit is 1 - (1 - p)^k."),
    (lambda p, k: 1 - (1 - p) ** (k - 1), "off by one: k draws, so the power is k."),
    (lambda p, k: p, "that is the chance for one draw; with k draws it grows: 1 - (1 - p)^k."),
]


@task("13.hit_probability", "Task 2: predict how often k random lrs land within 2x of the best")
def check_hit_probability(hit_probability, rng):
    cases = [(float(rng.uniform(0.01, 0.5)), int(rng.integers(2, 30))) for _ in range(6)] + [(0.0, 5), (1.0, 3), (0.3, 1)]
    results = [((p, k), as_number(call(hit_probability, p, k, names=["p", "k"]), "hit_probability")) for p, k in cases]
    for (p, k), result in results:
        expected = 1 - (1 - p) ** k
        if not close(result, expected, rtol=1e-9):
            found = diagnose_all(results, HIT_MISTAKES) or diagnose(result, (p, k), HIT_MISTAKES)
            raise Fail(found or f"for p = {p:.4g} and k = {k} the chance is {expected:.6g}; you returned {result:.6g}.")
    return ("Correct! Random search's chance grows like 1 - (1 - p)^k, never faster than a grid's k p (when the good "
            "lrs form one interval).")


# ------------------------------------------------------------------------------------ task 3: fair comparison
class _Experiment:
    """A deterministic stand-in for training: each optimizer has its own best lr, and each seed its own noise."""

    def __init__(self, rng):
        self.centres = {name: float(rng.uniform(-3, 0)) for name in ("SGD", "momentum", "Adam")}
        self.noise = {s: float(rng.uniform(0.7, 1.3)) for s in range(200)}
        self.calls = []

    def __call__(self, name, lr, seeds):
        self.calls.append((name, float(lr), tuple(int(s) for s in seeds)))
        base = 0.1 * (1 + (math.log10(lr) - self.centres[name]) ** 2)
        out = np.array([base * self.noise[int(s)] * (1 + 0.3 * math.sin(7 * s + 3 * math.log10(lr))) for s in seeds])
        if lr > 10 ** (self.centres[name] + 1.2):
            out[::3] = np.inf                                                  # some seeds diverge at large lrs
        return out


def _fair(run, optimizers, lrs, tuning_seeds, scoring_seeds, tune_on=None, pick=np.mean, shared=False):
    out, first = {}, None
    for name in optimizers:
        if shared and first is not None:
            best = first
        else:
            means = [pick(run(name if not shared else optimizers[0], lr, tuning_seeds if tune_on is None else tune_on))
                     for lr in lrs]
            means = [m if np.isfinite(m) else np.inf for m in means]
            best = float(lrs[int(np.argmin(means))])
            first = best
        scores = run(name, best, scoring_seeds)
        out[name] = (best, float(np.mean(scores)), float(np.std(scores)))
    return out


def _fair_reference(run, optimizers, lrs, tuning_seeds, scoring_seeds):
    return _fair(run, optimizers, lrs, tuning_seeds, scoring_seeds)


FAIR_MISTAKES = [
    (lambda run, o, lrs, t, s: _fair(run, o, lrs, t, s, tune_on=s),
     "you tuned on the scoring seeds: the lr is then chosen on the very seeds it is judged on, which flatters it. Tune "
     "on tuning_seeds, score on scoring_seeds."),
    (lambda run, o, lrs, t, s: _fair(run, o, lrs, t, s, shared=True),
     "one lr for all: every optimizer must get its own tuning (its lrs can lie decades apart)."),
    (lambda run, o, lrs, t, s: _fair(run, o, lrs, t, s, pick=np.min),
     "you picked the lr by the best seed (np.min over the seeds); pick it by the mean over the tuning seeds, as a "
     "lucky seed says nothing about the next run."),
]


def _as_table(result, optimizers):
    if result is None:
        raise Fail("`fair_compare` returned None: did you forget the `return` statement? Return a dict: optimizer name "
                   "-> (lr, mean, sd).")
    if not isinstance(result, dict):
        raise Fail(f"`fair_compare` returned {_kind(result)}; return a dict: optimizer name -> (lr, mean, sd).")
    missing = [n for n in optimizers if n not in result]
    if missing:
        raise Fail(f"your dict has no entry for {missing[0]!r}: one entry per optimizer.")
    table = {}
    for name in optimizers:
        value = result[name]
        if not isinstance(value, (tuple, list, np.ndarray)) or len(value) != 3:
            raise Fail(f"the entry for {name!r} should be a tuple (lr, mean, sd), not {value!r}.")
        numbers = []
        for v, what in zip(value, ("the lr", "the mean", "the sd")):
            try:
                numbers.append(float(v))                   # NaN kept: an sd over a diverged seed is NaN
            except (TypeError, ValueError):
                raise Fail(f"`fair_compare` returned {_kind(v)} as {what} of {name}, but a number was expected.") from None
        table[name] = tuple(numbers)
    return table


def _same_table(a, b):
    try:
        return all(close(np.array(a[n]), np.array(b[n]), rtol=1e-9) for n in b)
    except (KeyError, TypeError):
        return False


@task("13.fair_compare", "Task 3: a fair comparison: tune each optimizer on its own, score on other seeds")
def check_fair_compare(fair_compare, rng):
    optimizers = ["SGD", "momentum", "Adam"]
    lrs = 10.0 ** np.arange(-4, 1.01, 0.5)
    tuning, scoring = list(range(5)), list(range(100, 110))
    experiment = _Experiment(rng)
    result = call(fair_compare, experiment, optimizers, lrs, tuning, scoring,
                  names=["run", "optimizers", "lrs", "tuning_seeds", "scoring_seeds"])
    table = _as_table(result, optimizers)
    fresh = _Experiment(np.random.default_rng(0))
    fresh.centres, fresh.noise = experiment.centres, experiment.noise
    expected = _fair_reference(fresh, optimizers, lrs, tuning, scoring)
    if _same_table(table, expected):
        return "Correct! Each optimizer tuned on its own on the tuning seeds, then scored on seeds it has never seen."
    for wrong, explanation in FAIR_MISTAKES:
        other = _Experiment(np.random.default_rng(0))
        other.centres, other.noise = experiment.centres, experiment.noise
        if _same_table(table, wrong(other, optimizers, lrs, tuning, scoring)):
            raise Fail(explanation)
    if any(lr_ not in [float(v) for v in lrs] for lr_, _, _ in table.values()):
        raise Fail("a reported lr is not one of `lrs`: choose it from the grid you were given.")
    for name in optimizers:
        e, r = expected[name], table[name]
        if not close(r[0], e[0]):
            raise Fail(f"for {name} the tuned lr should be {e[0]:.4g} (the lowest mean loss over the tuning seeds; an lr "
                       f"at which a seed diverged, inf, never wins), you chose {r[0]:.4g}.")
        if not close(r[1], e[1]):
            raise Fail(f"for {name} at lr {e[0]:.4g} the mean loss over the scoring seeds is {e[1]:.6g}, you reported "
                       f"{r[1]:.6g}: run the scoring seeds at the tuned lr and take their mean.")
        if not close(r[2], e[2]):
            if close(r[2], e[2] * math.sqrt(10 / 9)):
                raise Fail("the sd uses ddof=1; the chapter reports np.std (ddof=0) of the scoring seeds' losses.")
            raise Fail(f"for {name} the sd of the scoring seeds' losses is {e[2]:.6g} (np.std), you reported {r[2]:.6g}.")
    raise Fail("your table differs from a fair comparison's, but not in a way this check knows.")


# ---------------------------------------------------------------------------------- task 4: the fair one
UNFAIR_OPTIONS = ("a", "b", "c", "d")
UNFAIR_EXPLANATIONS = {
    "a": "(a) is unfair: Adam runs at its default lr (untuned) against an SGD tuned over 10 lrs. An untuned default can "
         "be many times off (section 2 of the chapter).",
    "b": "(b) is unfair: the lrs are chosen on the same 10 seeds that are then reported, so each method's score includes "
         "the luck of its selection, and a method with a larger search space gains most from it.",
    "c": "(c) is unfair: the adaptive method gets 4 times the steps. Every optimizer gets the same budget.",
    "d": "",
}


@task("13.answer_fair", "Task 4: spot the fair comparison", kind="value")
def check_answer_fair(answer, rng):
    choice(answer, "d", UNFAIR_OPTIONS, UNFAIR_EXPLANATIONS)
    return ("Correct! (d) tunes each method on a grid of its own (fair as long as each grid's best lies inside it), "
            "with the same budget, on seeds apart from the scoring seeds, and reports mean and spread.")


# ---------------------------------------------------------------------------------- task 5: minimum-norm solution
MIN_NORM_MISTAKES = [
    (lambda X, y: X.T @ y, "X^T y is the direction of the first gradient step from 0, not the solution: multiply by "
                           "(X X^T)^-1 in between, X^T (X X^T)^-1 y."),
    (lambda X, y: np.sign(X.T @ y), "sign(X^T y) is where the *adaptive* methods go (Wilson et al.'s lemma); gradient "
                                    "descent goes to the minimum-norm solution X^T (X X^T)^-1 y."),
    (lambda X, y: X.T @ np.linalg.solve(X @ X.T, y) / len(y), "no division by n: X w = y must hold exactly."),
]


@task("13.min_norm", "Task 5: the minimum-norm solution, where gradient descent goes on Wilson et al.'s problem")
def check_min_norm(min_norm, rng):
    for n, d in ((5, 12), (8, 30), (3, 3 * 6)):
        X = rng.standard_normal((n, d))
        y = np.where(rng.random(n) < 0.7, 1.0, -1.0)
        result = as_array(call(min_norm, X, y, names=["X", "y"]), shape=(d,), what="min_norm")
        expected = X.T @ np.linalg.solve(X @ X.T, y)
        if not close(result, expected, rtol=1e-7, atol=1e-9):
            found = diagnose(result, (X, y), MIN_NORM_MISTAKES, rtol=1e-7, atol=1e-9)
            if found:
                raise Fail(found)
            if close(X @ result, y, rtol=1e-7, atol=1e-9):
                raise Fail(f"your w solves X w = y, but it is not the shortest solution: |w| = "
                           f"{np.linalg.norm(result):.4g} against {np.linalg.norm(expected):.4g}. The minimum-norm one "
                           f"lies in the span of the rows of X: w = X^T (X X^T)^-1 y.")
            raise Fail(f"for a {n} x {d} X your w does not solve X w = y (largest residual "
                       f"{np.max(np.abs(X @ result - y)):.3g}).")
    return "Correct! w* = X^T (X X^T)^-1 y: the solution in the row space of X, the one GD from 0 reaches."
