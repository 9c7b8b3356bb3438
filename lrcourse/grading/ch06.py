"""Checks for chapter 06: AdaGrad.

The chapter hands over AdaGrad's loop (without torch's options), the effective lr after t equal gradients,
lr / (sqrt(s0 + t g^2) + eps), and the exponent -0.51 of the effective lr against feature frequency on one Zipf
problem. The exercise asks for one step with every option of torch.optim.Adagrad, the effective lr when the
gradients shrink geometrically (derived), the exponent measured by the learner's own code on other problems,
the decay of the loss under noise (predicted from chapters 03 and 06, then measured), and the downsides.
"""

import math

import numpy as np

from lrcourse.grading.core import (Fail, _noun, as_array, as_number, call, choice, close, diagnose_all, join,
                                   number_answer, task)


# ---------------------------------------------------------------- task 1: one AdaGrad step, with torch's options
def _adagrad_step(x, s, grad, lr, t, lr_decay=0.0, weight_decay=0.0, eps=1e-10):
    g = grad + weight_decay * x
    s_new = s + g * g
    return x - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s_new) + eps), s_new


def _variant(eps_inside=False, square=True, old_s=False, root=True, sign=1, accumulate=True, decay="torch",
             weight_decay="coupled"):
    """The reference step with one thing changed: the mistakes of the catalogue below."""
    def step(x, s, grad, lr, t, lr_decay=0.0, wd=0.0, eps=1e-10):
        g = grad + wd * x if weight_decay == "coupled" else grad
        increment = g * g if square else np.abs(g)
        if weight_decay == "after":   # the accumulator sees the raw gradient, the step the decayed one
            increment = grad * grad
        s_new = s + increment if accumulate else increment
        rate = {"torch": lr / (1 + (t - 1) * lr_decay), "t": lr / (1 + t * lr_decay),
                "geometric": lr * (1 - lr_decay) ** (t - 1), "none": lr}[decay]
        scale = s if old_s else s_new
        if eps_inside:
            denominator = np.sqrt(scale + eps)
        else:
            denominator = (np.sqrt(scale) if root else scale) + eps
        if weight_decay == "after":
            g = grad + wd * x
        x_new = x - sign * rate * g / denominator
        if weight_decay == "decoupled":
            x_new = x_new - rate * wd * x
        return x_new, s_new
    return step


STEP_MISTAKES = [
    (lambda *args: _adagrad_step(*args)[::-1], "you returned (s_new, x_new); return (x_new, s_new) in that order."),
    (_variant(sign=-1), "sign error: the step goes downhill, x - lr_t g / (sqrt(s) + eps)."),
    (_variant(eps_inside=True), "the eps belongs outside the square root: torch divides by sqrt(s) + eps, not "
                                "sqrt(s + eps). (With a large eps, or an accumulator near 0, the two differ a lot.)"),
    (_variant(old_s=True), "you stepped with the old accumulator: add g^2 to s first, then divide by sqrt of the "
                           "new s (so that even the first step, from s = 0, is finite)."),
    (_variant(square=False), "the accumulator adds the *squared* gradient, s + g^2, not |g|: it is a sum of "
                             "squares, whose square root has the units of a gradient."),
    (_variant(root=False), "the square root is missing: the step is g / (sqrt(s) + eps). Divided by s itself the "
                           "step shrinks like 1/t, and its units are wrong (1/gradient)."),
    (_variant(accumulate=False), "your s is only the latest g^2: AdaGrad *sums* the squares of all gradients so far, "
                                 "s <- s + g^2. (Forgetting the old ones is what RMSprop does, gradually, in chapter 07.)"),
    (_variant(decay="t"), "lr_decay counts from the second step: lr_t = lr / (1 + (t - 1) lr_decay), so that the first "
                          "step (t = 1) uses the lr itself."),
    (_variant(decay="geometric"), "torch's lr_decay is not a factor per step: lr_t = lr / (1 + (t - 1) lr_decay), a "
                                  "slow, harmonic decay."),
    (_variant(decay="none"), "lr_decay is missing: lr_t = lr / (1 + (t - 1) lr_decay)."),
    (_variant(weight_decay="none"), "weight_decay is missing: torch adds weight_decay * x to the gradient before "
                                    "anything else, g = grad + weight_decay * x."),
    (_variant(weight_decay="after"), "the weight decay goes into the gradient *before* the accumulator: g = grad + "
                                     "weight_decay * x, then s <- s + g^2 with that g. Yours accumulates the raw "
                                     "gradient."),
    (_variant(weight_decay="decoupled"), "that is decoupled weight decay (x shrinks by lr * weight_decay * x on its "
                                         "own, as AdamW does, chapter 09). torch's Adagrad adds weight_decay * x to "
                                         "the gradient, and so it is divided by sqrt(s) + eps too."),
]

SETTINGS = [  # (what it switches on, sampler of (lr_decay, weight_decay, eps, s0), steps)
    ("no options", lambda rng: (0.0, 0.0, 1e-10, 0.0), 3),
    ("an initial accumulator and a large eps", lambda rng: (0.0, 0.0, float(rng.uniform(0.2, 0.5)),
                                                            float(rng.uniform(0.1, 1.0))), 3),
    ("lr_decay", lambda rng: (float(rng.uniform(0.1, 0.5)), 0.0, 1e-10, 0.0), 4),
    ("weight_decay", lambda rng: (0.0, float(rng.uniform(0.2, 0.8)), 1e-10, float(rng.uniform(0.0, 0.5))), 3),
    ("every option", lambda rng: (float(rng.uniform(0.1, 0.5)), float(rng.uniform(0.2, 0.8)),
                                  float(rng.uniform(1e-3, 0.2)), float(rng.uniform(0.1, 1.0))), 4),
]
NAMES = ("x", "s", "grad", "lr", "t", "lr_decay", "weight_decay", "eps")


def _unpack(raw, what, shape):
    if raw is None:
        raise Fail(f"{_noun(what)} returned None: did you forget the `return` statement?")
    if not isinstance(raw, (tuple, list)) or len(raw) != 2:
        raise Fail(f"{_noun(what)} should return a pair (x_new, s_new), for example `return x, s`.")
    return as_array(raw[0], shape, what, value="x_new"), as_array(raw[1], shape, what, value="s_new")


@task("06.adagrad_step", "Task 1: one AdaGrad step, with torch's options")
def check_adagrad_step(adagrad_step, rng):
    what = adagrad_step.__name__ if getattr(adagrad_step, "__name__", "").isidentifier() else "your function"
    answers = []
    for setting, sampler, steps in SETTINGS:
        d = int(rng.integers(1, 5))
        lr_decay, weight_decay, eps, s0 = sampler(rng)
        lr = float(rng.uniform(0.05, 0.8))
        x, s = rng.normal(size=d), np.full(d, s0)
        for t in range(1, steps + 1):
            args = (x.copy(), s.copy(), rng.normal(size=d), lr, t, lr_decay, weight_decay, eps)
            try:
                raw = call(adagrad_step, *[a.copy() if isinstance(a, np.ndarray) else a for a in args], names=NAMES,
                           mutable=("s",))
                result = _unpack(raw, what, (d,))
            except Fail:
                # fed its own outputs, a wrong step can break down later (a NaN from a swapped pair): the steps
                # so far may already name the mistake
                why = answers and diagnose_all([(a, r) for _, a, r in answers], STEP_MISTAKES, rtol=1e-9, atol=1e-12)
                if why:
                    raise Fail(why) from None
                raise
            answers.append((setting, args, result))
            x, s = result
    wrong = [(setting, args, result) for setting, args, result in answers
             if not close(result, _adagrad_step(*args), rtol=1e-9, atol=1e-12)]
    if not wrong:
        return ("Correct: g = grad + weight_decay x; s <- s + g^2; x <- x - lr / (1 + (t - 1) lr_decay) * g / "
                "(sqrt(s) + eps), as torch.optim.Adagrad. The cell below runs it against torch.")
    # a known mistake names the answer only if it reproduces every step, the right ones included: a mistake in
    # an option shows only where that option is on
    why = diagnose_all([(args, result) for _, args, result in answers], STEP_MISTAKES, rtol=1e-9, atol=1e-12)
    if why:
        raise Fail(why)
    setting, args, (x_new, s_new) = wrong[0]
    x_ref, s_ref = _adagrad_step(*args)
    lr_decay, weight_decay, eps = args[5:]
    part = ("your s_new is right, but x_new is not" if close(s_new, s_ref, rtol=1e-9, atol=1e-12) else
            "your s_new is wrong (s + g^2, with g = grad + weight_decay * x)")
    raise Fail(f"{part}: at step t = {args[4]} of a run with {setting} (lr_decay = {lr_decay:.3g}, weight_decay = "
               f"{weight_decay:.3g}, eps = {eps:.3g}) expected x_new = {np.round(x_ref, 5)}, s_new = "
               f"{np.round(s_ref, 5)}; got x_new = {np.round(x_new, 5)}, s_new = {np.round(s_new, 5)}.")


# ---------------------------------------------------------------- task 2: the effective lr when the gradient shrinks
def _accumulated(t, g0, q):
    """g0^2 (1 + q^2 + ... + q^(2(t - 1))): the sum of the squares of t gradients g0, g0 q, g0 q^2 ..."""
    if q * q == 1.0:
        return t * g0 * g0
    return g0 * g0 * (1 - q ** (2 * t)) / (1 - q * q)


def _effective_lr_after(t, g0, q, lr, s0=0.0, eps=1e-10):
    return lr / (math.sqrt(s0 + _accumulated(t, g0, q)) + eps)


def _safe(formula):
    """A mistake's formula, undefined (None) where it divides by zero."""
    def wrong(*args):
        try:
            return formula(*args)
        except (ZeroDivisionError, ValueError, OverflowError):
            return None
    return wrong


EFFECTIVE_MISTAKES = [
    (_safe(lambda t, g, q, lr, s0, eps: lr / (math.sqrt(_accumulated(t, g, q)) + eps)),
     "s0 is missing: the accumulator starts at s0 (initial_accumulator_value), s = s0 + the sum of the squares."),
    (_safe(lambda t, g, q, lr, s0, eps: lr / math.sqrt(s0 + _accumulated(t, g, q) + eps)),
     "the eps belongs outside the square root: the effective lr is lr / (sqrt(s) + eps)."),
    (_safe(lambda t, g, q, lr, s0, eps: lr / (math.sqrt(s0 + g * g * (1 - q ** t) / (1 - q)) + eps)),
     "the squares of the gradients form a geometric series with ratio q^2, not q: g0^2 (1 + q^2 + q^4 + ...) = "
     "g0^2 (1 - q^(2t)) / (1 - q^2)."),
    (_safe(lambda t, g, q, lr, s0, eps: lr / (math.sqrt(s0 + _accumulated(t - 1, g, q)) + eps)),
     "off by one: after t steps the accumulator holds t squared gradients, g0^2 up to (g0 q^(t-1))^2."),
    (_safe(lambda t, g, q, lr, s0, eps: lr / (math.sqrt(s0 + _accumulated(t + 1, g, q)) + eps)),
     "off by one: after t steps the accumulator holds t squared gradients, g0^2 up to (g0 q^(t-1))^2."),
    (_safe(lambda t, g, q, lr, s0, eps: lr / (math.sqrt(s0 + abs(g) * (1 - q ** (2 * t)) / (1 - q * q)) + eps)),
     "the accumulator sums *squared* gradients: the series starts at g0^2, not |g0|."),
    (_safe(lambda t, g, q, lr, s0, eps: lr / (math.sqrt(s0 + g * g / (1 - q * q)) + eps)),
     "that is the limit for t -> infinity: after t steps the series has only t terms, g0^2 (1 - q^(2t)) / (1 - q^2)."),
    (_safe(lambda t, g, q, lr, s0, eps: lr / (math.sqrt(s0 + t * g * g) + eps)),
     "that is the chapter's formula for a constant gradient (q = 1): here the gradients shrink, g0, g0 q, g0 q^2 "
     "..., so the accumulator sums a geometric series."),
    (_safe(lambda t, g, q, lr, s0, eps: lr / (s0 + _accumulated(t, g, q) + eps)),
     "the square root is missing: the effective lr is lr / (sqrt(s) + eps)."),
]


def _effective_cases(rng):
    """Shrinking gradients whose series has visibly not converged (q^(2t) between 0.05 and 0.8), one that has,
    a single gradient (t = 1), and gradients of constant size (q = 1 and q = -1: the chapter's case)."""
    cases = []
    for q in (float(rng.uniform(0.5, 0.99)), -float(rng.uniform(0.5, 0.99)), float(rng.uniform(0.9, 0.999)),
              float(rng.uniform(0.05, 0.5)), float(rng.uniform(0.3, 0.9)), 1.0, -1.0):
        t = max(1, math.ceil(math.log(float(rng.uniform(0.05, 0.8))) / (2 * math.log(abs(q))))) if abs(q) < 1 else \
            int(rng.integers(2, 400))
        cases.append([t, q])
    cases[3][0] = 1                                   # one gradient only
    cases[4][0] = int(rng.integers(300, 600))         # long enough for the series to converge
    out = []
    for i, (t, q) in enumerate(cases):
        g0 = float(rng.choice([-1, 1]) * 10 ** rng.uniform(-1, 1))
        lr = float(10 ** rng.uniform(-2, 0))
        s0 = float(10 ** rng.uniform(-1, 0)) if i % 2 == 0 else 0.0          # s0 > 0 in four of the seven
        eps = float(10 ** rng.uniform(-3, -1)) if i in (1, 2, 5) else 1e-10  # a visible eps in three
        out.append((t, g0, q, lr, s0, eps))
    order = rng.permutation(len(out))
    return [out[i] for i in order]


@task("06.effective_lr_after", "Task 2: derive the effective lr when the gradients shrink")
def check_effective_lr_after(effective_lr_after, rng):
    answers, singular = [], None
    for args in _effective_cases(rng):
        try:
            result = as_number(call(effective_lr_after, *args, names=("t", "g0", "q", "lr", "s0", "eps")),
                               "effective_lr_after")
        except Fail as fail:
            if abs(args[2]) == 1.0 and any(w in str(fail) for w in ("ZeroDivisionError", "NaN", "inf")):
                singular = singular or (args, fail)   # said below, unless a mistake in the other cases says more
                continue
            raise
        answers.append((args, result))
    wrong = [(args, result) for args, result in answers if not close(result, _effective_lr_after(*args), rtol=1e-9)]
    if not wrong and not singular:
        return ("Correct: s = s0 + g0^2 (1 - q^(2t)) / (1 - q^2). For |q| < 1 it stops growing, at s0 + g0^2/(1 - q^2): "
                "the effective lr falls like 1/sqrt(t) only while the gradients keep their size.")
    # the mistakes are about the series: they are compared on the shrinking gradients (q^2 < 1, where a learner's
    # formula for the series applies), and must fit every one of those cases
    series = [(args, result) for args, result in answers if args[2] ** 2 < 1]
    if any(not close(result, _effective_lr_after(*args), rtol=1e-9) for args, result in series):
        for mistake, explanation in EFFECTIVE_MISTAKES:
            values = [mistake(*args) for args, _ in series]
            if all(v is not None and close(result, v, rtol=1e-9) for (_, result), v in zip(series, values)):
                raise Fail(explanation)
    if singular:
        args, fail = singular
        raise Fail(join(str(fail), f"Here q = {args[2]:g}: every gradient has the same size |g0|, and your formula "
                                   f"divides by 1 - q^2 = 0. That is the chapter's case: s = s0 + t g0^2. Treat q^2 = 1 "
                                   f"apart."))
    (t, g0, q, lr, s0, eps), result = wrong[0]
    if all(args[2] ** 2 == 1 for args, _ in wrong):
        raise Fail(f"for q = {q:g} every gradient has the same size |g0| = {abs(g0):.4g}: after t = {t} steps "
                   f"s = s0 + t g0^2 (the chapter's case), so the effective lr is "
                   f"{_effective_lr_after(t, g0, q, lr, s0, eps):.6g}; you returned {result:.6g}.")
    raise Fail(f"for t = {t}, g0 = {g0:.4g}, q = {q:.4g}, lr = {lr:.4g}, s0 = {s0:.4g}, eps = {eps:.3g} the effective "
               f"lr is {_effective_lr_after(t, g0, q, lr, s0, eps):.6g}; you returned {result:.6g}. The gradients of "
               f"steps 1 to t are g0, g0 q, ..., g0 q^(t-1): what does the accumulator hold after step t?")


# ---------------------------------------------------------------- task 3: the exponent of the effective lr, measured
def _zipf_problem(rng, absent):
    from lrcourse.functions import Logistic

    problem = Logistic.zipf(n=int(rng.integers(800, 1500)), dim=int(rng.integers(15, 30)),
                            exponent=float(rng.uniform(0.6, 1.6)), top=float(rng.uniform(0.3, 0.6)), n_test=10,
                            seed=int(rng.integers(2 ** 31)))
    if absent:  # a feature that never appears in the training data, as rare words do
        X = problem.X.copy()
        X[:, int(rng.integers(5, X.shape[1]))] = 0.0
        problem = Logistic(X, problem.y, problem.l2, name="logistic regression, Zipf features, one never present")
    return problem


def _accumulators(problem, lr, batch_size, steps, seeds):
    from lrcourse import optim
    from lrcourse.runs import minibatch_sweep

    runs = minibatch_sweep(problem, optim.Adagrad(), [lr], batch_size, steps, seed=seeds, every=steps)
    return runs.optimizer.s[:, :, 0]   # (seed, feature)


def _fit(s, lr, frequency, x="frequency", y="effective", average="mean", intercept=False, absent=False,
         swap=False, xlog=np.log, ylog=np.log, eps=1e-10):
    """The slope of log(effective lr) against log(frequency), and its variants (the mistakes)."""
    keep = np.ones(len(frequency), dtype=bool) if absent else frequency > 0
    keep[0] = intercept and keep[0]
    values = {"effective": lr / (np.sqrt(s) + eps), "linear": lr / (np.sqrt(s) + eps), "s": s, "root": np.sqrt(s)}[y]
    if average == "mean":
        ys = ylog(values.mean(axis=0)[keep])
    elif average == "log":
        ys = ylog(values[:, keep]).mean(axis=0)
    else:  # one seed only
        ys = ylog(values[average][keep])
    xs = {"frequency": xlog(frequency[keep]), "index": xlog(np.arange(1, len(frequency) + 1)[keep]),
          "linear": frequency[keep]}[x]
    if y == "linear":
        ys = values.mean(axis=0)[keep]
    with np.errstate(all="ignore"):
        return float(np.polyfit(ys, xs, 1)[0] if swap else np.polyfit(xs, ys, 1)[0])


EXPONENT_MISTAKES = [
    (dict(swap=True), "you fitted log(frequency) against log(effective lr): the axes are swapped. The exponent of "
                      "effective lr ~ frequency^p is the slope of log(effective lr) (y) against log(frequency) (x)."),
    (dict(x="index"), "you fitted against the feature's index (its column number), not how often it is present. "
                      "Use problem.frequency: the fraction of training examples in which the feature appears."),
    (dict(intercept=True), "you kept the intercept (column 0, present in every example: frequency 1). It is no "
                           "feature of the Zipf law, and its effective lr is set by every example's residual; leave "
                           "it out."),
    (dict(y="s"), "you fitted the accumulator s itself; the effective lr is lr / (sqrt(s) + eps)."),
    (dict(y="root"), "you fitted sqrt(s); the effective lr is lr / (sqrt(s) + eps), its inverse (times lr)."),
    (dict(xlog=np.log10), "you mixed the bases of the logarithms (np.log10 of the frequency, np.log of the effective "
                          "lr): use the same for both; the slope then does not depend on the base."),
    (dict(ylog=np.log10), "you mixed the bases of the logarithms (np.log of the frequency, np.log10 of the effective "
                          "lr): use the same for both; the slope then does not depend on the base."),
    (dict(average=0), "you used the first seed's run only: average the effective lr over all the seeds."),
    (dict(average=-1), "you used the last seed's run only: average the effective lr over all the seeds."),
    (dict(x="linear", y="linear"), "you fitted on linear axes. A power law, effective lr ~ frequency^p, is a straight "
                                   "line of slope p on log-log axes."),
]

ABSENT_HINT = ("A feature of this problem never appears in its training data (frequency 0, so its log is -inf, and "
               "its accumulator stays 0): leave out the features with frequency 0, as well as the intercept.")


@task("06.effective_lr_exponent", "Task 3: measure the exponent of the effective lr", time_limit=20.0)
def check_effective_lr_exponent(effective_lr_exponent, rng):
    answers = []
    for absent in (False, True):
        problem = _zipf_problem(rng, absent)
        lr, batch_size, steps = float(rng.uniform(0.05, 0.5)), int(rng.integers(4, 17)), int(rng.integers(150, 300))
        seeds = [int(v) for v in rng.integers(0, 1000, int(rng.integers(2, 4)))]
        try:
            raw = call(effective_lr_exponent, problem, lr, batch_size, steps, list(seeds),
                       names=("problem", "lr", "batch_size", "steps", "seeds"))
            result = as_number(raw, "effective_lr_exponent")
        except Fail as fail:
            if absent and any(w in str(fail) for w in ("NaN", "LinAlgError", "inf", "-inf", "divide")):
                raise Fail(join(str(fail), ABSENT_HINT)) from None
            raise
        s = _accumulators(problem, lr, batch_size, steps, seeds)
        answers.append((problem, lr, batch_size, steps, seeds, s, result))
    accepted = lambda s, lr, f: [_fit(s, lr, f), _fit(s, lr, f, average="log")]  # noqa: E731
    wrong = [a for a in answers if not any(close(a[-1], v, rtol=1e-6, atol=1e-9)
                                           for v in accepted(a[5], a[1], a[0].frequency))]
    if not wrong:
        return ("Correct: the slope of log(effective lr) against log(frequency), over the features that appear. The "
                "cell below measures it on other problems and batch sizes.")
    for options, explanation in EXPONENT_MISTAKES:
        if all(close(result, _fit(s, lr, problem.frequency, **options), rtol=1e-6, atol=1e-9)
               for problem, lr, _, _, _, s, result in answers):
            raise Fail(explanation)
    problem, lr, batch_size, steps, seeds, s, result = wrong[0]
    if (problem.frequency == 0).any() and close(result, _fit(s, lr, problem.frequency, absent=True), rtol=1e-6):
        raise Fail(ABSENT_HINT)
    raise Fail(f"for this problem ({problem.dim - 1} features, lr = {lr:.3g}, batches of {batch_size}, {steps} steps, "
               f"seeds {seeds}) the measured exponent is {_fit(s, lr, problem.frequency):.6g}; you returned "
               f"{result:.6g}. Run minibatch_sweep(problem, optim.Adagrad(), [lr], batch_size, steps, seed=seeds), "
               f"take lr / (sqrt(s) + eps) from runs.optimizer.s, average it over the seeds, and fit log against log "
               f"frequency.")


# ---------------------------------------------------------------- task 4: predict how the loss falls under noise
@task("06.answer_loss_exponent", "Task 4: predict how AdaGrad's loss falls under noise", kind="value")
def check_answer_loss_exponent(answer, rng):
    p = number_answer(answer, "answer_loss_exponent", "-0.75", "the exponent")
    if abs(p + 0.5) <= 0.05:
        return ("Correct: near the minimum the gradients are mostly noise, of a constant size, so AdaGrad's effective "
                "lr falls like t^(-1/2), and the floor is proportional to the lr (chapter 03): the loss follows it, "
                "t^(-1/2). The cell below measures it.")
    if p > 0.05:
        raise Fail("a positive exponent means the loss grows. AdaGrad's steps only shrink: it cannot diverge here.")
    if abs(p) <= 0.05:
        raise Fail("an exponent of 0 is a loss that stays on a floor: that is SGD with a constant lr. AdaGrad's "
                   "effective lr does not stay constant: its accumulator keeps growing as long as gradients arrive.")
    if abs(p + 1) <= 0.1:
        raise Fail("a loss falling like 1/t would need an lr falling like 1/t (the Robbins-Monro schedule "
                   "0.1/(1+t) of chapters 03 and 05). AdaGrad's effective lr falls more slowly: the accumulator "
                   "grows like t when the gradients keep their size, and the lr is divided by its square root.")
    if abs(p + 0.25) <= 0.05:
        raise Fail("the floor is proportional to the lr itself (chapter 03: lr tr(Sigma) / (4B)), not to its "
                   "square root: the loss falls as fast as the effective lr does.")
    if p < -1.1:
        raise Fail("that is faster than 1/t: no decay of the lr makes the loss fall that fast under noise, and "
                   "AdaGrad's lr decays slowly. Combine the effective lr's decay (chapter 06) with the floor's "
                   "dependence on the lr (chapter 03).")
    raise Fail("combine two results: the floor of SGD is proportional to its lr (chapter 03), and AdaGrad's effective "
               "lr after t steps of gradients of about the same size is lr / (|g| sqrt(t)) (chapter 06). Near the "
               "minimum the gradients are mostly noise, whose size does not shrink.")


# ---------------------------------------------------------------- task 5: AdaGrad's weak point
@task("06.answer_weakness", "Task 5: AdaGrad's weak point", kind="value")
def check_answer_weakness(answer, rng):
    choice(answer, "b", "abcd", {
        "a": "the opposite: a rare feature's accumulator grows slowly (s ~ p t), so its effective lr is *larger*, "
             "about frequency^(-1/2), as the chapter measured on the Zipf problem (and task 3 on others).",
        "c": "aligned with the coordinate axes is exactly what AdaGrad cures: the curvatures cancel and the number "
             "of steps no longer depends on kappa. Its trouble is ill-conditioning *not* aligned with the axes "
             "(the rotated quadratic), which it shares with gradient descent.",
        "d": "AdaGrad's step on a coordinate is lr g_t / (sqrt(s_t) + eps), and since s_t includes g_t^2 it is at most "
             "lr in size, however small the gradients: tiny gradients give steps of up to lr, not unbounded ones.",
    })
    return ("Correct: the accumulator only grows, so every effective lr only shrinks. That is a free decay under noise "
            "(task 4), but a stall when the problem changes: on the moving minimum AdaGrad fell behind after a time "
            "that grows like lr^2. Chapter 07's RMSprop forgets old gradients instead.")
