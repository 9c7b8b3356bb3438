"""Checks for chapter 07: RMSprop.

The chapter hands over plain RMSprop's loop (alpha, eps), torch's options as formulas, alpha as a memory of about
1/(1 - alpha) steps, the first steps of about lr / sqrt(1 - alpha), the moving minimum and its cliff, the price of a
level step under noise, the centered variant's steps (lr a / sigma with noise, alpha^(-t/2) without), momentum's steady
step lr / (1 - mu), and where other frameworks put eps and the lr. The
exercise asks for one step with every option of torch.optim.RMSprop, where plain RMSprop ends on a noiseless
quadratic (derived: a two-cycle of amplitude lr/2 - eps/L, whatever alpha), how its noise floor scales with the lr
and the batch size (predicted, then measured: lr^1 B^(-1/2), where SGD's goes like lr^1 B^(-1) and the noiseless
hop's loss like lr^2), its step for a feature seen once every k steps (derived: lr sqrt((1 - alpha^k) / (1 - alpha)),
AdaGrad's sqrt(k) within the memory, capped at lr / sqrt(1 - alpha) beyond it), and which lr and eps make it follow the
same path in other units (lr times the factor, eps divided by it).
"""

import copy
import math

import numpy as np

from lrcourse.grading.core import (Fail, NotAttempted, _kind, _noun, _short, as_array, as_number, call, choice, close,
                                   join, task)


def _name_of(fn):
    return fn.__name__ if getattr(fn, "__name__", "").isidentifier() else "your function"


def _lenient(value, shape, what, name):
    """The learner's value as a float array of the expected shape; NaN is kept (with the Fail that says so), so that
    a known mistake that gives NaN in the same places can still be named."""
    try:
        return as_array(value, shape, what, value=name), None
    except Fail as fail:
        if "NaN" not in str(fail):
            raise
        return np.asarray(value, dtype=np.float64), fail


def _unpack(raw, what, shape, names):
    """A tuple of len(names) arrays of the given shape, and the first NaN Fail (or None)."""
    if raw is None:
        raise Fail(f"{_noun(what)} returned None: did you forget the `return` statement?")
    if not isinstance(raw, (tuple, list)) or len(raw) != len(names):
        example = ", ".join(n.replace("_new", "") for n in names)
        raise Fail(f"{_noun(what)} should return the {len(names)} arrays ({', '.join(names)}), for example "
                   f"`return {example}`; it returned {_kind(raw)}: {_short(raw)}.")
    parsed = [_lenient(value, shape, what, name) for value, name in zip(raw, names)]
    return tuple(p[0] for p in parsed), next((p[1] for p in parsed if p[1] is not None), None)


# ---------------------------------------------------------------- task 1: one RMSprop step, with torch's options
def _rmsprop_step(x, v, m, buf, grad, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    """torch.optim.RMSprop's step: (x_new, v_new, m_new, buf_new); m is used only when centered, buf only with
    momentum (both are returned unchanged otherwise)."""
    g = grad + weight_decay * x
    v = alpha * v + (1 - alpha) * g * g
    if centered:
        m = alpha * m + (1 - alpha) * g
        d = np.sqrt(v - m * m) + eps
    else:
        d = np.sqrt(v) + eps
    if momentum > 0:
        buf = momentum * buf + g / d
        return x - lr * buf, v, m, buf
    return x - lr * g / d, v, m, buf


def _variant(sign=1, eps_inside=False, swap_alpha=False, old_v=False, root=True, whole_g2=False, center="torch",
             mom="torch", decay="coupled", order="torch"):
    """The reference step with one thing changed: the mistakes of the catalogue below."""
    def step(x, v, m, buf, grad, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        decayed = grad + weight_decay * x
        g = decayed if decay == "coupled" else grad      # what the averages see
        g_step = decayed if decay in ("coupled", "after") else grad   # what the step divides
        keep, new = (1 - alpha, alpha) if swap_alpha else (alpha, 1 - alpha)
        v_new = keep * v + (1.0 if whole_g2 else new) * g * g
        scale = v if old_v else v_new
        m_new = m
        if centered and center != "ignored":
            m_new = keep * m + new * g
        if centered and center in ("torch", "old_m", "unsquared"):
            m_used = m if center == "old_m" else m_new
            scale = scale - (m_used if center == "unsquared" else m_used * m_used)
        if eps_inside:
            d = np.sqrt(scale + eps)
        else:
            d = (np.sqrt(scale) if root else scale) + eps
        buf_new = buf
        if momentum > 0 and mom != "ignored":
            buf_new = {"torch": momentum * buf + g_step / d, "old": momentum * buf + g_step / d,
                       "ema": momentum * buf + (1 - momentum) * g_step / d,
                       "lr_inside": momentum * buf + lr * g_step / d, "raw": momentum * buf + g_step}[mom]
            move = {"torch": lr * buf_new, "old": lr * buf, "ema": lr * buf_new, "lr_inside": buf_new,
                    "raw": lr * buf_new / d}[mom]
        else:
            move = lr * g_step / d
        x_new = x - sign * move
        if decay == "decoupled":
            x_new = x_new - lr * weight_decay * x
        return (x_new, v_new, buf_new, m_new) if order == "m_buf" else (x_new, v_new, m_new, buf_new)
    return step


STEP_MISTAKES = [
    (_variant(order="m_buf"), "you returned (x_new, v_new, buf_new, m_new); return (x_new, v_new, m_new, buf_new) "
                              "in that order."),
    (_variant(sign=-1), "sign error: the step goes downhill, x - lr g / (sqrt(v) + eps)."),
    (_variant(swap_alpha=True), "alpha and 1 - alpha are swapped: alpha is the weight of the *old* average, "
                                "v <- alpha v + (1 - alpha) g^2, so that alpha = 0.99 remembers about 100 steps. "
                                "Yours keeps only 1 - alpha of the past."),
    (_variant(whole_g2=True), "the new g^2 enters with the weight 1 - alpha: v <- alpha v + (1 - alpha) g^2. Yours "
                              "adds the whole g^2, so v is a sum of about 1/(1 - alpha) squares, not their average."),
    (_variant(eps_inside=True), "the eps belongs outside the square root: torch divides by sqrt(v) + eps. Inside, "
                                "sqrt(v + eps), is Keras's and optax's form (chapter 07, section 7): with a large "
                                "eps the two differ a lot."),
    (_variant(old_v=True), "you divided by the old average: update v first, v <- alpha v + (1 - alpha) g^2, then "
                           "divide by the square root of the new v. (At the first step the old v is 0, and only eps "
                           "is left under the gradient: a step of lr g / eps.)"),
    (_variant(root=False), "the square root is missing: the step is g / (sqrt(v) + eps). Divided by v itself, its "
                           "size depends on the gradient's scale (and its units are wrong)."),
    (_variant(center="ignored"), "centered=True is ignored: the centered variant also averages the gradient, "
                                 "m <- alpha m + (1 - alpha) g, and divides by sqrt(v - m^2) + eps."),
    (_variant(center="unused"), "your m is right, but the step does not use it: with centered=True the denominator "
                                "is sqrt(v - m^2) + eps, an estimate of the gradient's standard deviation."),
    (_variant(center="unsquared"), "centered divides by sqrt(v - m^2) + eps: m squared, so that v - m^2 is a "
                                   "variance (mean square minus squared mean). Yours subtracts m itself."),
    (_variant(center="old_m"), "you subtracted the old m^2: update m first, m <- alpha m + (1 - alpha) g, then "
                               "divide by sqrt(v - m^2) + eps with the new v and the new m."),
    (_variant(mom="ignored"), "momentum is missing: with momentum > 0 torch keeps a buffer buf <- momentum buf + "
                              "g / (sqrt(v) + eps) and steps x - lr buf."),
    (_variant(mom="old"), "momentum buffer order: update the buffer first, buf <- momentum buf + g / (sqrt(v) + eps), "
                          "then step with the new one, x - lr buf. Yours steps with the old buffer."),
    (_variant(mom="ema"), "torch's momentum buffer adds the whole rescaled gradient, buf <- momentum buf + g / "
                          "(sqrt(v) + eps); yours is a moving average, with (1 - momentum) in front."),
    (_variant(mom="lr_inside"), "that is Keras's form: the lr inside the buffer, buf <- momentum buf + lr g / d, and "
                                "x - buf. With a constant lr the path is the same, but the buffer is not: torch keeps "
                                "buf <- momentum buf + g / d and steps x - lr buf (the two part ways once the lr "
                                "changes, under a schedule)."),
    (_variant(mom="raw"), "the buffer collects the *rescaled* gradients, buf <- momentum buf + g / (sqrt(v) + eps), "
                          "and the step is x - lr buf. Yours accumulates the raw gradient and divides afterwards."),
    (_variant(decay="none"), "weight_decay is missing: torch adds weight_decay * x to the gradient before anything "
                             "else, g = grad + weight_decay * x."),
    (_variant(decay="after"), "the weight decay goes into the gradient *before* the averages: g = grad + weight_decay "
                              "* x, then v (and m) with that g. Yours averages the raw gradient."),
    (_variant(decay="decoupled"), "that is decoupled weight decay (x shrinks by lr * weight_decay * x on its own, as "
                                  "AdamW does, chapter 09). torch's RMSprop adds weight_decay * x to the gradient, "
                                  "so it is divided by sqrt(v) + eps too."),
]

SETTINGS = [  # (what it switches on, sampler of the options, steps)
    ("no options", lambda rng: dict(), 3),
    ("a large eps", lambda rng: dict(eps=float(rng.uniform(0.05, 0.3))), 3),
    ("centered=True", lambda rng: dict(centered=True), 4),
    ("momentum", lambda rng: dict(momentum=float(rng.uniform(0.3, 0.9))), 4),
    ("weight_decay", lambda rng: dict(weight_decay=float(rng.uniform(0.2, 0.8))), 3),
    ("every option", lambda rng: dict(eps=float(rng.uniform(1e-3, 0.1)), weight_decay=float(rng.uniform(0.2, 0.8)),
                                      momentum=float(rng.uniform(0.3, 0.9)), centered=True), 4),
]
NAMES = ("x", "v", "m", "buf", "grad", "lr", "alpha", "eps", "weight_decay", "momentum", "centered")
OUTPUTS = ("x_new", "v_new", "m_new", "buf_new")


def _used(args):
    """The outputs torch has for these options: x and v always, m when centered, buf with momentum."""
    return [0, 1] + ([2] if args[10] else []) + ([3] if args[9] > 0 else [])


def _agrees(args, result, expected):
    return all(close(result[i], expected[i], rtol=1e-9, atol=1e-12) for i in _used(args))


def _step_cases(rng):
    """Runs of the reference step for each setting: (setting, t, args) with the reference's own state."""
    cases = []
    for setting, sampler, steps in SETTINGS:
        d = int(rng.integers(1, 5))
        options = {**dict(eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False), **sampler(rng)}
        alpha, lr = float(rng.uniform(0.6, 0.95)), float(rng.uniform(0.01, 0.5))
        x, v, m, buf = rng.normal(size=d), np.zeros(d), np.zeros(d), np.zeros(d)
        for t in range(1, steps + 1):
            args = (x, v, m, buf, rng.normal(size=d), lr, alpha, options["eps"], options["weight_decay"],
                    options["momentum"], options["centered"])
            cases.append((setting, t, copy.deepcopy(args)))
            x, v, m, buf = _rmsprop_step(*copy.deepcopy(args))
    return cases


def _named(answers, mistakes, agrees):
    """The first mistake that gives the learner's result in every case (compared as ``agrees`` says)."""
    for wrong, explanation in mistakes:
        try:
            with np.errstate(all="ignore"):
                if all(agrees(args, result, wrong(*copy.deepcopy(args))) for _, _, args, result in answers):
                    return explanation
        except Exception:
            continue
    return None


def _settings_list(names):
    names = list(dict.fromkeys(names))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


@task("07.rmsprop_step", "Task 1: one RMSprop step, with torch's options")
def check_rmsprop_step(rmsprop_step, rng):
    what = _name_of(rmsprop_step)
    answers, nan = [], None
    for setting, t, args in _step_cases(rng):
        d = len(args[0])
        raw = call(rmsprop_step, *copy.deepcopy(args), names=NAMES, mutable=("v", "m", "buf"))
        result, fail = _unpack(raw, what, (d,), OUTPUTS)
        nan = nan or (fail and (setting, t, fail))
        answers.append((setting, t, args, result))
    wrong = [(setting, t, args, result) for setting, t, args, result in answers
             if not _agrees(args, result, _rmsprop_step(*copy.deepcopy(args)))]
    if not wrong:
        return ("Correct: g = grad + weight_decay x; v <- alpha v + (1 - alpha) g^2; centered: m <- alpha m + "
                "(1 - alpha) g and d = sqrt(v - m^2) + eps, else d = sqrt(v) + eps; momentum: buf <- momentum buf + "
                "g / d and x - lr buf, else x - lr g / d, as torch.optim.RMSprop. The cell below runs it against "
                "torch.")
    # a known mistake names the answer only if it reproduces every step, the right ones included: a mistake in an
    # option shows only where that option is on
    why = _named(answers, STEP_MISTAKES, _agrees)
    if why:
        raise Fail(why)
    setting, t, args, result = wrong[0]
    if nan and nan[:2] == (setting, t):   # the first wrong step is a NaN: say so
        raise Fail(f"{nan[2]} (at step {t} of the run with {setting})")
    expected = _rmsprop_step(*copy.deepcopy(args))
    right = [s for s, _, _, _ in answers if s not in {w[0] for w in wrong}]
    intro = (f"your step agrees with torch's with {_settings_list(right)}, but not with {setting}" if right else
             f"your step differs from torch's in every setting; the first is the run with {setting}")
    earlier = [a for a in answers if a[0] == setting and a[1] < t]
    when = (f"It is right at step{'s 1 to' if t > 2 else ''} {t - 1} and wrong from step {t} on, where the state it "
            f"is given (v, m, buf) is no longer zero." if earlier else f"It is wrong from the first step (t = 1).")
    if not close(result[1], expected[1], rtol=1e-9, atol=1e-12):
        part = "Your v_new is wrong: v <- alpha v + (1 - alpha) g^2, with g = grad + weight_decay * x."
    elif 2 in _used(args) and not close(result[2], expected[2], rtol=1e-9, atol=1e-12):
        part = "Your v_new is right, m_new is wrong: m <- alpha m + (1 - alpha) g (centered only)."
    elif 3 in _used(args) and not close(result[3], expected[3], rtol=1e-9, atol=1e-12):
        part = "Your v_new is right, buf_new is wrong: buf <- momentum buf + g / d, d the denominator of the step."
    else:
        part = "Your averages are right, x_new is not: look at the denominator and at the step itself."
    alpha, eps, weight_decay, momentum, centered = args[6:]
    shown = " ".join(f"{OUTPUTS[i]} = {np.round(expected[i], 5)}" for i in _used(args))
    got = " ".join(f"{OUTPUTS[i]} = {np.round(result[i], 5)}" for i in _used(args))
    raise Fail(f"{intro}. {when} {part} There (alpha = {alpha:.3g}, eps = {eps:.3g}, weight_decay = "
               f"{weight_decay:.3g}, momentum = {momentum:.3g}, centered = {centered}) expected {shown}; got {got}.")


# ---------------------------------------------------------------- task 2: where RMSprop ends on a noiseless quadratic
def _hop_amplitude(L, lr, alpha, eps):
    """RMSprop on f(x) = L/2 x^2 ends on the two-cycle x, -x with |x| = lr/2 - eps/L, or converges (0)."""
    return max(0.0, lr / 2 - eps / L)


def _both(formula):
    """A wrong formula as the learner may write it: as it is, and clipped at 0 (no negative amplitude)."""
    def clipped(*args):
        value = formula(*args)
        return None if value is None else max(0.0, value)
    return [formula, clipped]


def _safe_formula(formula):
    def wrong(*args):
        try:
            with np.errstate(all="ignore"):
                value = formula(*args)
            return None if value is None or not math.isfinite(value) else float(value)
        except (ZeroDivisionError, ValueError, OverflowError):
            return None
    return wrong


HOP_MISTAKES = [(_safe_formula(f), explanation) for formulas, explanation in [
    ([lambda L, lr, a, e: lr / 2 - e / L],
     "where lr L < 2 eps your amplitude is negative. There RMSprop does not hop: near x = 0 the gradient L x is far "
     "below eps, the step is lr L x / eps, gradient descent with the lr lr / eps, and that converges (lr L / eps < 2, "
     "chapter 01). The amplitude is then 0."),
    (_both(lambda L, lr, a, e: lr - e / L),
     "that is the length of a hop, from +a to -a: 2a. The amplitude a is half of it."),
    (_both(lambda L, lr, a, e: lr / 2 - e),
     "eps is compared with the gradient L a, not with a: on the cycle each step is lr L a / (L a + eps), so eps "
     "enters as eps / L."),
    (_both(lambda L, lr, a, e: lr / 2 - e * L),
     "eps enters as eps / L, not eps L: on the cycle each step is lr L a / (L a + eps) = 2a; solve that for a."),
    (_both(lambda L, lr, a, e: lr / 2 - e / (2 * L)),
     "check the algebra: the hop from a to -a is 2a = lr L a / (L a + eps), so L a + eps = lr L / 2 and a = lr/2 "
     "- eps/L."),
    ([lambda L, lr, a, e: math.sqrt(max(0.0, lr * lr / 4 - e / (L * L)))],
     "that is the amplitude with eps inside the square root, sqrt(v + eps) (Keras's and optax's RMSprop). torch, and "
     "this task, divide by sqrt(v) + eps."),
    (_both(lambda L, lr, a, e: lr / (2 * math.sqrt(1 - a)) - e / L),
     "lr / sqrt(1 - alpha) is the size of the *first* steps, while v holds only a fraction 1 - alpha of g^2. On the "
     "cycle v has settled at L^2 a^2 (the gradient's square is the same at +a and -a), and alpha drops out."),
    ([lambda L, lr, a, e: L / 2 * max(0.0, lr / 2 - e / L) ** 2],
     "you returned the loss on the cycle, L a^2 / 2; the task asks for the amplitude a = |x| itself."),
] for f in formulas]


def _hop_cases(rng):
    """Amplitudes where eps is negligible, where it is visible (on a flat and on a steep quadratic), where it would be
    visible if it sat inside the square root, and where RMSprop converges (lr L < 2 eps)."""
    cases = []
    for kind in ("tiny", "tiny", "flat", "steep", "visible", "inside", "converges", "converges"):
        L = float(10 ** {"flat": rng.uniform(-1, -0.1), "steep": rng.uniform(0.3, 2)}.get(kind, rng.uniform(-1, 2)))
        lr, alpha = float(10 ** rng.uniform(-3, -0.5)), float(rng.uniform(0.5, 0.99))
        eps = {"tiny": 1e-12, "inside": (L * lr) ** 2 * float(rng.uniform(0.05, 0.2)),
               "converges": L * lr * float(rng.uniform(0.6, 3.0))}.get(kind, L * lr * float(rng.uniform(0.05, 0.4)))
        cases.append((kind, (L, lr, alpha, eps)))
    return [cases[i] for i in rng.permutation(len(cases))]


def _matches(answers, formula, kinds=None, rtol=1e-6):
    chosen = [(a, r) for k, a, r in answers if kinds is None or k in kinds]
    return bool(chosen) and all(close(r, formula(*a), rtol=rtol, atol=1e-12) for a, r in chosen)


@task("07.hop_amplitude", "Task 2: derive where RMSprop ends on a quadratic")
def check_hop_amplitude(hop_amplitude, rng):
    answers = []
    for kind, args in _hop_cases(rng):
        result = as_number(call(hop_amplitude, *args, names=("L", "lr", "alpha", "eps")), "hop_amplitude")
        answers.append((kind, args, result))
    if _matches(answers, _hop_amplitude):
        return ("Correct: on the cycle x, -x, x ... v settles at L^2 a^2, each step is lr L a / (L a + eps) = 2a, so "
                "a = lr/2 - eps/L: alpha drops out, and L only enters through eps. Where lr L <= 2 eps the steps near "
                "0 are gradient descent with the lr lr/eps, which converges. The cell below runs RMSprop to see it.")
    for formula, explanation in HOP_MISTAKES:
        if all(formula(*a) is not None and close(r, formula(*a), rtol=1e-6, atol=1e-12) for _, a, r in answers):
            raise Fail(explanation)
    # partial answers: right where eps is negligible, or a known formula there
    if _matches(answers, _hop_amplitude, ("tiny",)):
        raise Fail("right where eps is negligible (a = lr/2), but not where eps is comparable to the gradient on the "
                   "cycle. Near x = a the gradient is L a and the step is lr L a / (L a + eps), not lr: solve "
                   "lr L a / (L a + eps) = 2a. And where that has no positive solution, RMSprop converges: 0.")
    tiny_hints = [(lambda L, lr, a, e: lr, "where eps is negligible you returned lr: that is the length of a hop, from "
                                           "+a to -a. The amplitude a is half of it (and eps shortens it)."),
                  (lambda L, lr, a, e: lr / (2 * L), "where eps is negligible you returned lr / (2L): RMSprop's step "
                                                    "does not shrink with the curvature, as gradient descent's does. "
                                                    "It divides the gradient by its own size: the hops are about lr "
                                                    "long whatever L."),
                  (lambda L, lr, a, e: lr / (2 * math.sqrt(1 - a)),
                   "where eps is negligible you returned lr / (2 sqrt(1 - alpha)): lr / sqrt(1 - alpha) is the size "
                   "of the *first* steps. Once v has settled, at L^2 a^2 on the cycle, alpha drops out.")]
    for formula, hint in tiny_hints:
        if _matches(answers, formula, ("tiny",)):
            raise Fail(hint)
    kind, (L, lr, alpha, eps), result = next(a for a in answers if not close(a[2], _hop_amplitude(*a[1]), rtol=1e-6,
                                                                              atol=1e-12))
    raise Fail(f"for L = {L:.4g}, lr = {lr:.4g}, alpha = {alpha:.3g}, eps = {eps:.3g} RMSprop ends hopping between "
               f"+-{_hop_amplitude(L, lr, alpha, eps):.6g}; you returned {result:.6g}. Run it (optim.RMSprop on the "
               f"gradient L x) and look at x after a few thousand steps; then look for a two-cycle x -> -x, on which v "
               f"has settled at L^2 x^2.")


# ---------------------------------------------------------------- task 3: predict how the noise floor scales
FLOOR_EXPONENTS = (1.0, -0.5)


def _exponent_pair(answer, name):
    if answer is None:
        raise NotAttempted()
    if isinstance(answer, str):
        raise Fail(f"set {name} to a pair of numbers, such as (2, -1), not the string {answer!r}.")
    if isinstance(answer, dict) or not isinstance(answer, (tuple, list, np.ndarray)) or len(answer) != 2:
        raise Fail(f"set {name} to a pair of numbers (the exponent of the lr, then that of the batch size), such as "
                   f"(2, -1); you gave {_short(answer)}.")
    values = []
    for value, which in zip(answer, ("the lr's", "the batch size's")):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise Fail(f"{which} exponent should be a number, not {_short(value)}.")
        if not math.isfinite(float(value)):
            raise Fail(f"{which} exponent should be a finite number.")
        values.append(float(value))
    return values


def _lower(text):
    return text[0].lower() + text[1:]


def _lr_exponent_advice(a):
    """What is off with the lr's exponent a (None if it is right)."""
    if abs(a - 1) <= 0.1:
        return None
    if abs(a - 2) <= 0.1:
        return ("A loss proportional to lr^2 is task 2's hop, *without* noise, where the steps are lr long and "
                "nothing else moves x. With noise, the noise sets the size of v, whatever the lr: near the minimum "
                "RMSprop is SGD with the lr lr / (the noise's RMS), and SGD's floor is proportional to its lr "
                "(chapter 03), not to its square.")
    if abs(a) <= 0.1:
        return ("An lr exponent of 0 means the floor does not depend on the lr. RMSprop divides the gradient by the "
                "noise's size, but it still multiplies by the lr: a smaller lr means smaller steps around the "
                "minimum and a lower floor, as for SGD.")
    if abs(a - 0.5) <= 0.1:
        return ("A floor proportional to sqrt(lr) would need an effective lr that falls like sqrt(lr). Near the "
                "minimum v holds the noise's mean square, which does not depend on the lr: the effective lr, lr / "
                "sqrt(v), is proportional to the lr itself, and so is SGD's floor (chapter 03).")
    if a < 0:
        return ("A negative lr exponent means a smaller lr settles *higher*: under noise a smaller lr means smaller "
                "steps around the minimum, and a lower floor, for RMSprop as for SGD.")
    return ("The lr's exponent: SGD's floor is proportional to its lr (chapter 03), and near the minimum v holds the "
            "noise's mean square, which does not depend on the lr. What is RMSprop's effective lr there?")


def _batch_exponent_advice(b):
    """What is off with the batch size's exponent b (None if it is right)."""
    if abs(b + 0.5) <= 0.1:
        return None
    if abs(b + 1) <= 0.1:
        return ("A batch exponent of -1 is SGD's (chapter 03: lr tr(Sigma) / (4B)). RMSprop divides each gradient by "
                "its recent RMS, and near the minimum that is the noise's size, sigma / sqrt(B): a larger batch makes "
                "the noise smaller and RMSprop's effective lr larger. What is left of 1/B?")
    if abs(b) <= 0.1:
        return ("A batch exponent of 0 would mean RMSprop divides the batch out entirely. It divides by the noise's "
                "size, sigma / sqrt(B), once; but the floor grows with the noise's variance, sigma^2 / B.")
    if b > 0:
        return "A positive batch exponent would mean larger batches, with less noise, settle higher."
    return ("The batch size's exponent: the floor is proportional to the effective lr times the noise's variance. How "
            "do the two depend on B, when RMSprop divides by the noise's size sigma / sqrt(B)?")


@task("07.answer_floor_exponents", "Task 3: predict how RMSprop's noise floor scales", kind="value")
def check_answer_floor_exponents(answer, rng):
    a, b = _exponent_pair(answer, "answer_floor_exponents")
    lr_advice, batch_advice = _lr_exponent_advice(a), _batch_exponent_advice(b)
    if not lr_advice and not batch_advice:
        return ("Correct: near the minimum the gradients are mostly noise, of size sigma / sqrt(B), and v holds its "
                "square, whatever the lr. So RMSprop is SGD with the lr lr sqrt(B) / sigma, whose floor (chapter 03) "
                "is proportional to that lr times the noise's variance sigma^2 / B: lr sigma / sqrt(B). The cell "
                "below measures it, beside SGD and beside the noiseless hop of task 2.")
    if lr_advice and batch_advice:
        raise Fail(f"both exponents are off. First, {_lower(lr_advice)} Second, {_lower(batch_advice)}")
    raise Fail(join(lr_advice or batch_advice, "The other exponent, " +
                    ("the batch size's (-1/2), is right." if lr_advice else "the lr's (1), is right.")))


# ---------------------------------------------------------------- task 4: the step of a rare feature
def _rare_step(k, g, lr, alpha, eps):
    """RMSprop's step on a coordinate whose gradient is g once every k steps (0 otherwise), once the pattern has
    repeated long enough: just after an appearance v = (1 - alpha) g^2 / (1 - alpha^k)."""
    v = (1 - alpha) * g * g / (1 - alpha ** k)
    return lr * abs(g) / (math.sqrt(v) + eps)


RARE_MISTAKES = [(_safe_formula(f), explanation) for f, explanation in [
    (lambda k, g, lr, a, e: lr * math.sqrt(k),
     "lr sqrt(k) is AdaGrad's ratio, and RMSprop's only while the feature comes back within the memory (k much less "
     "than 1/(1 - alpha)): v is an exponential average, and what it holds of g^2 fades between appearances. Sum the "
     "contributions of all past appearances, k, 2k, 3k ... steps ago."),
    (lambda k, g, lr, a, e: lr * abs(g) / (abs(g) * math.sqrt(1 - a) + e),
     "that is the step of the first appearance (v = (1 - alpha) g^2, from v = 0), and the limit for a feature rarer "
     "than the memory. In the steady state v also holds what is left of the earlier appearances, alpha^k, alpha^(2k) "
     "... of theirs."),
    (lambda k, g, lr, a, e: _rare_step(k - 1, g, lr, a, e),
     "off by one: between two appearances, k steps apart, v is multiplied by alpha k times: v = alpha^k v + "
     "(1 - alpha) g^2 just after each appearance."),
    (lambda k, g, lr, a, e: _rare_step(k + 1, g, lr, a, e),
     "off by one: between two appearances, k steps apart, v is multiplied by alpha k times: v = alpha^k v + "
     "(1 - alpha) g^2 just after each appearance."),
    (lambda k, g, lr, a, e: lr * abs(g) / math.sqrt((1 - a) * g * g / (1 - a ** k) + e),
     "the eps belongs outside the square root: torch divides by sqrt(v) + eps."),
    (lambda k, g, lr, a, e: _rare_step(k, g, lr, 1 - a, e),
     "alpha and 1 - alpha are swapped: v keeps alpha of its old value each step and adds (1 - alpha) g^2."),
    (lambda k, g, lr, a, e: lr * abs(g) / (abs(g) * math.sqrt(1 / (1 - a ** k)) + e),
     "the new g^2 enters v with the weight 1 - alpha: v = alpha^k v + (1 - alpha) g^2 just after each appearance."),
    (lambda k, g, lr, a, e: lr * abs(g) / (g * g * (1 - a) / (1 - a ** k) + e),
     "the square root is missing: the step divides by sqrt(v) + eps."),
    (lambda k, g, lr, a, e: lr * abs(g) / (abs(g) / math.sqrt(k) + e),
     "you divided by the root mean square of the gradient over the pattern, |g| / sqrt(k): that is what v would hold "
     "with an infinite memory. RMSprop's v forgets: it holds (1 - alpha) g^2 / (1 - alpha^k) just after an "
     "appearance, more than g^2 / k."),
]]


def _rare_cases(rng):
    """A feature seen at every step (k = 1), some whose pattern is within the memory (alpha^k between 0.05 and 0.9), one
    much rarer than the memory (alpha^k < 1e-3), and one where eps is comparable to the denominator."""
    out = []
    for i in range(7):
        alpha = float(rng.uniform(0.5, 0.99))
        target = {0: None, 5: float(10 ** rng.uniform(-6, -3))}.get(i, float(rng.uniform(0.05, 0.9)))
        k = 1 if target is None else max(2, round(math.log(target) / math.log(alpha)))
        g = float(rng.choice([-1, 1]) * 10 ** rng.uniform(-2, 1))
        lr = float(10 ** rng.uniform(-3, -1))
        denominator = abs(g) * math.sqrt((1 - alpha) / (1 - alpha ** k))
        eps = denominator * float(10 ** rng.uniform(-0.5, 0.5)) if i == 3 else 1e-8
        out.append((k, g, lr, alpha, eps))
    return [out[i] for i in rng.permutation(len(out))]


@task("07.rare_step", "Task 4: derive RMSprop's step for a rare feature")
def check_rare_step(rare_step, rng):
    answers, broken = [], []
    for args in _rare_cases(rng):
        try:
            result = as_number(call(rare_step, *args, names=("k", "g", "lr", "alpha", "eps")), "rare_step")
        except Fail as fail:   # a division by zero at k = 1, say: a known mistake may be undefined there too
            broken.append((args, fail))
            continue
        answers.append((args, result))
    if not broken and all(close(r, _rare_step(*a), rtol=1e-6, atol=1e-15) for a, r in answers):
        return ("Correct: just after each appearance v = alpha^k v + (1 - alpha) g^2, so in the steady state v = "
                "(1 - alpha) g^2 / (1 - alpha^k), and the step is lr |g| / (|g| sqrt((1 - alpha) / (1 - alpha^k)) + "
                "eps): about lr sqrt(k) while k is well inside the memory, as AdaGrad's frequency^(-1/2), but never "
                "more than lr / sqrt(1 - alpha). The cell below compares it with runs of RMSprop and AdaGrad.")
    for formula, explanation in RARE_MISTAKES:
        if all(formula(*a) is not None and close(r, formula(*a), rtol=1e-6, atol=1e-15) for a, r in answers) and \
                all(formula(*a) is None for a, _ in broken):
            raise Fail(explanation)
    if broken:
        (k, *_), fail = broken[0]
        raise Fail(f"{str(fail).rstrip('.')} (for k = {k}).")
    (k, g, lr, alpha, eps), result = next((a, r) for a, r in answers if not close(r, _rare_step(*a), rtol=1e-6,
                                                                                   atol=1e-15))
    raise Fail(f"for k = {k}, g = {g:.4g}, lr = {lr:.4g}, alpha = {alpha:.4g}, eps = {eps:.3g} the step at an "
               f"appearance is {_rare_step(k, g, lr, alpha, eps):.6g} long once the pattern has settled; you returned "
               f"{result:.6g}. Follow v over one period: just after an appearance it is v*, k steps later alpha^k v* "
               f"+ (1 - alpha) g^2, and in the steady state that is v* again.")


# ---------------------------------------------------------------- task 5: RMSprop in other units
@task("07.answer_units", "Task 5: RMSprop in other units", kind="value")
def check_answer_units(answer, rng):
    choice(answer, "b", "abcd", {
        "a": "the lr is right, 1000 times larger: g / (sqrt(v) + eps) has no units while eps is negligible, so the "
             "lr is a length. But in millimetres the gradients, and sqrt(v), are 1000 times smaller, while eps stays "
             "1e-6: next to them it is 1000 times larger than before, and the steps come out shorter where sqrt(v) "
             "is small. eps is compared with gradients, so it must shrink with them.",
        "c": "multiplying the lr by 1000^2 is gradient descent's rule: there the lr is in length^2 / loss units. "
             "RMSprop divides the gradient by its own root mean square, and g / sqrt(v) has no units: its lr is a "
             "length, and changes by the same factor as the lengths.",
        "d": "RMSprop divides out the scale of the *gradients*, not of the lengths: its steps are about lr long, in "
             "the units of x. A step of 0.01 metres is 10 millimetres, so in millimetres the lr must be 1000 times "
             "larger (and eps, compared with gradients that are 1000 times smaller, 1000 times smaller).",
    })
    return ("Correct: with x' = 1000 x the gradients are g' = g / 1000 and sqrt(v') = sqrt(v) / 1000, so g' / "
            "(sqrt(v') + eps') = g / (sqrt(v) + 1000 eps'): the same as before when eps' = eps / 1000, and the "
            "step, lr' times that, is 1000 times longer when lr' = 1000 lr. The lr carries the units of x, eps "
            "those of the gradient. (Chapter 08 asks for a step that needs no lr at all.)")
