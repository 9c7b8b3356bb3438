"""Checks for chapter 09: Adam and its family.

The chapter hands over Adam's loop with AMSGrad (no weight decay), the step for a constant gradient (lr, with or
without the bias corrections) and, measured, for a gradient that flips its sign every step, the half-life of AdamW's
decay and its box |x| <= 1/lambda when eps is negligible, and Reddi et al.'s problem with C = 3. The exercise asks for one step of torch.optim.Adam / AdamW with every option (amsgrad,
weight decay coupled or decoupled), Adam's step when the gradient flips its sign every step (derived: beta2 drops
out), AdamW's fixed point on a quadratic when eps is not negligible (derived: lr drops out), Adam's regret on Reddi's
problem with C = 8 (predicted, then measured: 2(C - 2)/3, where the chapter gives 0.67 for C = 3), and how Adam and
RMSprop with momentum differ.
"""

import math

import numpy as np

from lrcourse.grading.core import (Fail, _kind, _noun, as_array, as_number, call, choice, close, join, number_answer,
                                   task)


# ---------------------------------------------------------------- task 1: one step of Adam / AdamW, with torch's options
def _adam_step(x, m, v, v_max, grad, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
               decoupled=False):
    beta1, beta2 = betas
    g = grad
    if decoupled:
        x = x * (1 - lr * weight_decay)          # AdamW: shrink x, then the Adam step with the plain gradient
    else:
        g = grad + weight_decay * x              # Adam: L2, the decay goes through m and v
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    if amsgrad:
        v_max = np.maximum(v_max, v)
    denominator = np.sqrt((v_max if amsgrad else v) / (1 - beta2 ** t)) + eps
    return x - lr * m / (1 - beta1 ** t) / denominator, m, v, v_max


def _variant(sign=1, correction="both", eps_at="torch", swap_betas=False, average_m=True, average_v=True, root=True,
             ams="torch", decay="torch", order="xmv"):
    """The reference step with one thing changed: the mistakes of the catalogue below."""
    def step(x, m, v, v_max, grad, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
             decoupled=False):
        beta1, beta2 = betas[::-1] if swap_betas else betas
        if decoupled:   # torch.optim.AdamW: shrink x by lr * weight_decay first, the moments see the plain gradient
            shrink = {"coupled": 0.0, "none": 0.0, "after": 0.0, "lambda": weight_decay}.get(decay, lr * weight_decay)
            couple = decay == "coupled"
        else:           # torch.optim.Adam: L2, weight_decay * x added to the gradient
            shrink = lr * weight_decay if decay == "decoupled" else 0.0
            couple = decay not in ("decoupled", "none")
        g = grad + weight_decay * x if couple else grad
        x_start = x * (1 - shrink)
        m_new = beta1 * m + (1 - beta1 if average_m else 1) * g
        g_v = grad if (decay == "v_raw" and couple) else g
        v_new = beta2 * v + (1 - beta2 if average_v else 1) * g_v * g_v
        v_max_new, v_used = v_max, v_new
        if amsgrad:
            if ams == "torch":
                v_max_new = np.maximum(v_max, v_new)
                v_used = v_max_new
            elif ams == "unused":
                v_max_new = np.maximum(v_max, v_new)
            elif ams == "old_v":
                v_max_new = np.maximum(v_max, v)
                v_used = v_max_new
        k1 = {"both": 1 - beta1 ** t, "none": 1.0, "m": 1 - beta1 ** t, "v": 1.0, "t-1": 1 - beta1 ** (t - 1),
              "t+1": 1 - beta1 ** (t + 1), "v_in_root": 1 - beta1 ** t}[correction]
        k2 = {"both": 1 - beta2 ** t, "none": 1.0, "m": 1.0, "v": 1 - beta2 ** t, "t-1": 1 - beta2 ** (t - 1),
              "t+1": 1 - beta2 ** (t + 1), "v_in_root": (1 - beta2 ** t) ** 2}[correction]
        m_hat = m_new / k1
        if amsgrad and ams == "hat":           # the largest *corrected* v, kept as it is
            v_max_new = np.maximum(v_max, v_new / k2)
            v_hat = v_max_new
        else:
            v_hat = v_used / k2
        if eps_at == "torch":
            denominator = (np.sqrt(v_hat) if root else v_hat) + eps
        elif eps_at == "inside":
            denominator = np.sqrt(v_hat + eps)
        elif eps_at == "none":
            denominator = np.sqrt(v_hat)
        else:  # "keras": eps on the uncorrected root, the corrections moved into the lr
            denominator = (np.sqrt(v_hat * k2) + eps) / math.sqrt(k2)
        x_new = x_start - sign * lr * m_hat / denominator
        if decoupled and decay == "after":
            x_new = x_new * (1 - lr * weight_decay)
        if order == "xvm":
            return x_new, v_new, m_new, v_max_new
        return x_new, m_new, v_new, v_max_new
    return step


STEP_MISTAKES = [
    (_variant(order="xvm"), "you returned m_new and v_new the other way round: return (x_new, m_new, v_new, v_max_new) "
                            "in that order."),
    (_variant(sign=-1), "sign error: the step goes downhill, x - lr m_hat / (sqrt(v_hat) + eps)."),
    (_variant(correction="t-1"), "the bias corrections count from t = 1: the first step divides by 1 - beta1 and "
                                 "1 - beta2 (so that m_hat = g and v_hat = g^2 exactly), not by 1 - beta^0 = 0."),
    (_variant(correction="t+1"), "off by one in the bias corrections: the step t (t = 1 for the first step) divides "
                                 "by 1 - beta1^t and 1 - beta2^t, not beta^(t + 1)."),
    (_variant(correction="none"), "the bias corrections are missing: m_hat = m / (1 - beta1^t) and v_hat = v / "
                                  "(1 - beta2^t). Without them the first steps are too long (chapter 09, section 3)."),
    (_variant(correction="m"), "only m is corrected: v_hat = v / (1 - beta2^t) too. With m alone corrected the first "
                               "step is 1/sqrt(1 - beta2) times too long."),
    (_variant(correction="v"), "only v is corrected: m_hat = m / (1 - beta1^t) too."),
    (_variant(correction="v_in_root"), "the correction of v goes inside the square root: sqrt(v / (1 - beta2^t)), "
                                       "that is sqrt(v) / sqrt(1 - beta2^t), not sqrt(v) / (1 - beta2^t)."),
    (_variant(eps_at="inside"), "the eps belongs outside the square root: torch divides by sqrt(v_hat) + eps, not "
                                "sqrt(v_hat + eps). (With a large eps, or small gradients, the two differ a lot.)"),
    (_variant(eps_at="keras"), "that is Keras's and TensorFlow's placement of eps: added to the *uncorrected* "
                               "sqrt(v), with the corrections moved into the lr. torch adds eps to sqrt(v_hat), the "
                               "corrected one (chapter 09, section 4: a Keras eps_hat acts as torch's eps = eps_hat / "
                               "sqrt(1 - beta2^t))."),
    (_variant(eps_at="none"), "eps is missing: the step divides by sqrt(v_hat) + eps."),
    (_variant(root=False), "the square root is missing: the step divides by sqrt(v_hat) + eps. Divided by v_hat "
                           "itself the step is no longer about lr long, and its units are wrong."),
    (_variant(swap_betas=True), "beta1 and beta2 are swapped: betas = (beta1, beta2), beta1 for the average of the "
                                "gradients m, beta2 for the average of their squares v."),
    (_variant(average_m=False), "m is an *average*: m <- beta1 m + (1 - beta1) g. Yours adds the whole gradient, "
                                "beta1 m + g, as SGD's momentum buffer does (chapter 04)."),
    (_variant(average_v=False), "v is an *average*: v <- beta2 v + (1 - beta2) g^2. Yours adds the whole squared "
                                "gradient, beta2 v + g^2."),
    (_variant(ams="unused"), "with amsgrad you update v_max but divide by v: AMSGrad's step divides by the largest v "
                             "so far, sqrt(v_max / (1 - beta2^t)) + eps."),
    (_variant(ams="hat"), "with amsgrad, torch keeps the largest *uncorrected* v, v_max <- max(v_max, v), and then "
                          "corrects it, v_max / (1 - beta2^t). Yours keeps the largest corrected v_hat."),
    (_variant(ams="old_v"), "with amsgrad, update v first and then take v_max <- max(v_max, v) with the *new* v: "
                            "yours took the maximum with the v of the step before."),
    (_variant(decay="coupled"), "with decoupled=True (torch.optim.AdamW) the weight decay is not added to the "
                                "gradient: x shrinks on its own, x (1 - lr weight_decay), and the Adam step uses the "
                                "plain gradient."),
    (_variant(decay="decoupled"), "with decoupled=False (torch.optim.Adam's weight_decay) the decay is L2: g = grad + "
                                  "weight_decay x goes into m and v. Shrinking x directly is AdamW's (decoupled=True)."),
    (_variant(decay="none"), "weight_decay is missing: Adam adds weight_decay x to the gradient, AdamW shrinks x by "
                             "the factor 1 - lr weight_decay."),
    (_variant(decay="lambda"), "AdamW shrinks x by the factor 1 - lr weight_decay, not 1 - weight_decay: the decay "
                               "per step is lr times lambda (chapter 09's half-life, about ln 2 / (lr lambda) steps)."),
    (_variant(decay="after"), "AdamW shrinks the *old* x, before the step: x (1 - lr weight_decay) - lr m_hat / "
                              "(sqrt(v_hat) + eps). Yours shrinks the new x, after the step."),
    (_variant(decay="v_raw"), "with decoupled=False the decayed gradient g = grad + weight_decay x goes into both m "
                              "and v: your v sees the raw gradient."),
]

SETTINGS = [  # (what it switches on, sampler of (betas, eps, weight_decay, amsgrad, decoupled), gradient scales)
    ("no options", lambda rng: (_betas(rng), 1e-8, 0.0, False, False), (1, 1, 1, 1)),
    ("a large eps", lambda rng: (_betas(rng), float(rng.uniform(0.1, 0.5)), 0.0, False, False), (1, 1, 1)),
    ("amsgrad, with gradients that shrink", lambda rng: (_betas(rng, 0.5, 0.8), 1e-8, 0.0, True, False),
     (2, 1, 0.3, 0.1, 0.03)),
    ("weight_decay (Adam's: L2)", lambda rng: (_betas(rng), 1e-8, float(rng.uniform(0.2, 0.8)), False, False),
     (1, 1, 1)),
    ("weight_decay, decoupled (AdamW)", lambda rng: (_betas(rng), 1e-8, float(rng.uniform(0.2, 0.8)), False, True),
     (1, 1, 1)),
    ("every option: AdamW with amsgrad and a large eps",
     lambda rng: (_betas(rng, 0.5, 0.8), float(rng.uniform(0.05, 0.3)), float(rng.uniform(0.2, 0.8)), True, True),
     (2, 1, 0.3, 0.1)),
]
NAMES = ("x", "m", "v", "v_max", "grad", "t", "lr", "betas", "eps", "weight_decay", "amsgrad", "decoupled")
PARTS = ("x_new", "m_new", "v_new", "v_max_new")


def _betas(rng, low2=0.9, high2=0.999):
    return float(rng.uniform(0.5, 0.85)), float(rng.uniform(low2, high2))


def _same_step(result, expected, amsgrad):
    """(x_new, m_new, v_new[, v_max_new]) equal: v_max counts only with amsgrad (otherwise nothing reads it)."""
    count = 4 if amsgrad else 3
    return all(close(a, b, rtol=1e-9, atol=1e-12) for a, b in zip(result[:count], expected[:count]))


def _named(answers, mistakes=STEP_MISTAKES):
    """The explanation of the first mistake that reproduces every step so far, or None."""
    for wrong, explanation in mistakes:
        try:
            with np.errstate(all="ignore"):
                if all(_same_step(result, wrong(*[a.copy() if isinstance(a, np.ndarray) else a for a in args]),
                                  args[10]) for _, args, result in answers):
                    return explanation
        except Exception:
            continue
    return None


def _unpack(raw, what, shape, amsgrad):
    if raw is None:
        raise Fail(f"{_noun(what)} returned None: did you forget the `return` statement?")
    if not isinstance(raw, (tuple, list)) or len(raw) != 4:
        got = f"{_kind(raw)} of length {len(raw)}" if isinstance(raw, (tuple, list)) else _kind(raw)
        raise Fail(f"{_noun(what)} returned {got}: it should return four arrays (x_new, m_new, v_new, v_max_new), "
                   f"for example `return x, m, v, v_max` (v_max unchanged when amsgrad is False).")
    parts = []
    for value, name in zip(raw, PARTS):
        if name == "v_max_new" and not amsgrad:
            parts.append(None)       # not read without amsgrad: anything may come back
            continue
        try:
            parts.append(as_array(value, shape, what, value=name))
        except Fail as fail:
            if "NaN" not in str(fail):
                raise
            parts.append(np.asarray(value, dtype=np.float64))  # NaN: perhaps a known mistake; said below
    return tuple(parts)


@task("09.adam_step", "Task 1: one step of Adam and AdamW, with torch's options")
def check_adam_step(adam_step, rng):
    what = adam_step.__name__ if getattr(adam_step, "__name__", "").isidentifier() else "your function"
    answers = []
    for setting, sampler, scales in SETTINGS:
        d = int(rng.integers(1, 5))
        betas, eps, weight_decay, amsgrad, decoupled = sampler(rng)
        lr = float(rng.uniform(0.05, 0.5))
        x, m, v, v_max = rng.normal(size=d), np.zeros(d), np.zeros(d), np.zeros(d)
        for t, scale in enumerate(scales, start=1):
            args = (x.copy(), m.copy(), v.copy(), v_max.copy(), scale * rng.normal(size=d), t, lr, betas, eps,
                    weight_decay, amsgrad, decoupled)
            try:
                raw = call(adam_step, *[a.copy() if isinstance(a, np.ndarray) else a for a in args], names=NAMES,
                           mutable=("m", "v", "v_max"))
                result = _unpack(raw, what, (d,), amsgrad)
            except Fail as fail:
                # fed its own outputs, a wrong step can break down later: the steps so far, if some are wrong, may
                # name the mistake
                why = any(not _same_step(r, _adam_step(*a), a[10]) for _, a, r in answers) and _named(answers)
                if why:
                    raise Fail(why) from None
                if t == 1 and "ZeroDivisionError" in str(fail):
                    raise Fail(join(str(fail), "It happened at the first step, t = 1: is a bias correction "
                                               "1 - beta^(t - 1)? At t = 1 the corrections are 1 - beta1 and "
                                               "1 - beta2.")) from None
                raise
            answers.append((setting, args, result))
            if any(part is not None and not np.all(np.isfinite(part)) for part in result):
                why = _named(answers)
                if why:
                    raise Fail(why)
                bad = next(name for name, part in zip(PARTS, result) if part is not None and
                           not np.all(np.isfinite(part)))
                raise Fail(f"{_noun(what)} returned NaN (not a number) or infinite values as {bad} at step t = {t} of "
                           f"a run with {setting}: a division by zero, 0/0 or inf - inf somewhere?")
            x, m, v = result[:3]
            if amsgrad:
                v_max = result[3]
    wrong = [(setting, args, result) for setting, args, result in answers
             if not _same_step(result, _adam_step(*args), args[10])]
    if not wrong:
        return ("Correct: (Adam) g = grad + weight_decay x, or (AdamW) x <- x (1 - lr weight_decay); m <- beta1 m + "
                "(1 - beta1) g; v <- beta2 v + (1 - beta2) g^2; (amsgrad) v_max <- max(v_max, v); x <- x - lr m_hat / "
                "(sqrt(v_hat) + eps), with both corrections at step t. The cell below runs it against torch.")
    # a known mistake names the answer only if it reproduces every step, the right ones included: a mistake in an
    # option shows only where that option is on
    why = _named(answers)
    if why:
        raise Fail(why)
    setting, args, result = wrong[0]
    expected = _adam_step(*args)
    amsgrad = args[10]
    parts = PARTS if amsgrad else PARTS[:3]
    off = [name for name, a, b in zip(parts, result, expected) if not close(a, b, rtol=1e-9, atol=1e-12)]
    right = [name for name in parts if name not in off]
    part = (f"your {' and '.join(right)} {'is' if len(right) == 1 else 'are'} right, but {', '.join(off)} "
            f"{'is' if len(off) == 1 else 'are'} not" if right else f"your {', '.join(off)} are wrong")
    t, lr, betas, eps, weight_decay, _, decoupled = args[5:]
    shown = "".join(f" {name} = {np.round(b, 5)} (got {np.round(a, 5)});" for name, a, b in
                    zip(parts, result, expected) if name in off)
    message = (f"{part}: at step t = {t} of a run with {setting} (lr = {lr:.3g}, betas = ({betas[0]:.3g}, "
               f"{betas[1]:.3g}), eps = {eps:.3g}, weight_decay = {weight_decay:.3g}, amsgrad = {amsgrad}, decoupled = "
               f"{decoupled}) expected{shown[:-1]}.")
    if t > 1:   # the steps before it in that run matched
        before = "Step 1 of that run matches" if t == 2 else f"Steps 1 to {t - 1} of that run match"
        message += (f" {before}: what acts only from step 2 on is the old m and v (beta1 m, beta2 v) and the t in the "
                    f"bias corrections.")
    raise Fail(message)


# ---------------------------------------------------------------- task 2: Adam's step when the gradient flips its sign
def _factor(t, beta1):
    """m_hat_t / g_t for the gradients g, -g, g, ...: (1 - beta1)(1 - (-beta1)^t) / ((1 + beta1)(1 - beta1^t))."""
    return (1 - beta1) * (1 - (-beta1) ** t) / ((1 + beta1) * (1 - beta1 ** t))


def _alternating_step(t, g, lr, betas=(0.9, 0.999), eps=1e-8):
    g_t = g * (-1) ** (t - 1)                 # the gradient of step t
    return -lr * _factor(t, betas[0]) * g_t / (abs(g) + eps)


def _safe(formula):
    """A mistake's formula, undefined (None) where it divides by zero."""
    def wrong(*args):
        try:
            return formula(*args)
        except (ZeroDivisionError, ValueError, OverflowError):
            return None
    return wrong


def _sign(t):
    return (-1) ** (t - 1)


ALTERNATING_MISTAKES = [
    (_safe(lambda t, g, lr, b, eps: -_alternating_step(t, g, lr, b, eps)),
     "the sign is flipped: the gradient of step t is g (-1)^(t-1) (g itself at step 1), and Adam steps against m, "
     "whose sign is the newest gradient's (the newest has the largest weight, 1 - beta1)."),
    (_safe(lambda t, g, lr, b, eps: abs(_alternating_step(t, g, lr, b, eps))),
     "return the signed step x_(t+1) - x_t, not its length: it points against the newest gradient, g (-1)^(t-1)."),
    (_safe(lambda t, g, lr, b, eps: -lr * _sign(t) * g / (abs(g) + eps)),
     "that is the step for a gradient that keeps its size and sign (lr g / (|g| + eps)). Here m averages gradients "
     "of opposite signs, and only v keeps its full size."),
    (_safe(lambda t, g, lr, b, eps: 0.0),
     "m does not average the flips away completely: it is an exponential average, in which the newest gradient "
     "weighs most (1 - beta1), so m_t keeps the sign of g_t and a size of about (1 - beta1) / (1 + beta1) |g|."),
    (_safe(lambda t, g, lr, b, eps: -lr * (1 - b[0]) / (1 + b[0]) * _sign(t) * g / (abs(g) + eps)),
     "that is the limit for t -> infinity, (1 - beta1) / (1 + beta1): at step t the sum of the alternating series "
     "has t terms, and m_hat is divided by 1 - beta1^t (at t = 1 the step is lr g / (|g| + eps))."),
    (_safe(lambda t, g, lr, b, eps: _alternating_step(t, g, lr, b, eps) * (1 - b[0] ** t)),
     "m's bias correction is missing: m_hat = m / (1 - beta1^t). (At t = 1 the step should be lr long: m_hat = g.)"),
    (_safe(lambda t, g, lr, b, eps: -lr * _factor(t, b[0]) * _sign(t) * g / (math.sqrt(1 - b[1] ** t) * abs(g) + eps)),
     "v's bias correction is missing: v_t = (1 - beta2^t) g^2 (every squared gradient is g^2), and v_hat = v_t / "
     "(1 - beta2^t) = g^2 exactly. So beta2 drops out of the step."),
    (_safe(lambda t, g, lr, b, eps: -lr * _factor(t, b[1]) * _sign(t) * g / (abs(g) + eps)),
     "you used beta2 in m: beta1 averages the gradients (m), beta2 their squares (v). And since every squared "
     "gradient is g^2, v_hat = g^2: beta2 drops out of the step."),
    (_safe(lambda t, g, lr, b, eps: -lr * _factor(t, b[0]) * _sign(t) * g / abs(g)),
     "eps is missing: the step divides by sqrt(v_hat) + eps = |g| + eps."),
    (_safe(lambda t, g, lr, b, eps: -lr * _factor(t, b[0]) * _sign(t) * g / math.sqrt(g * g + eps)),
     "the eps belongs outside the square root: sqrt(v_hat) + eps = |g| + eps, not sqrt(g^2 + eps)."),
    (_safe(lambda t, g, lr, b, eps: -lr * (1 - b[0]) * (1 - (-b[0]) ** (t - 1)) / ((1 + b[0]) * (1 - b[0] ** t))
           * _sign(t) * g / (abs(g) + eps)),
     "off by one: after step t, m holds t gradients, so the alternating series has t terms, 1 - beta1 + beta1^2 - "
     "... (t of them) = (1 - (-beta1)^t) / (1 + beta1)."),
    (_safe(lambda t, g, lr, b, eps: -lr * (1 - b[0]) * (1 - (-b[0]) ** (t + 1)) / ((1 + b[0]) * (1 - b[0] ** t))
           * _sign(t) * g / (abs(g) + eps)),
     "off by one: after step t, m holds t gradients, so the alternating series has t terms, 1 - beta1 + beta1^2 - "
     "... (t of them) = (1 - (-beta1)^t) / (1 + beta1)."),
]


def _alternating_cases(rng):
    """Steps 1 and 2, a small odd and a small even t, a long run, eps visible in three, both signs of the step."""
    ts = [1, 2, int(rng.integers(1, 5)) * 2 + 1, int(rng.integers(2, 6)) * 2, int(rng.integers(50, 300)),
          int(rng.integers(3, 30)), int(rng.integers(3, 30))]
    steps = [-1, 1, 1, -1, 1, -1, -1]          # the sign of the step: both occur, at odd and at even t
    cases = []
    for i, t in enumerate(ts):
        g = -steps[i] * (-1) ** (t - 1) * float(10 ** rng.uniform(-3, 1))
        lr = float(10 ** rng.uniform(-3, -0.5))
        betas = (float(rng.uniform(0.5, 0.95)), float(rng.uniform(0.9, 0.9999)))
        eps = abs(g) * float(rng.uniform(0.1, 1.0)) if i in (1, 2, 5) else 1e-8
        cases.append((t, g, lr, betas, eps))
    return [cases[i] for i in rng.permutation(len(cases))]


@task("09.alternating_step", "Task 2: derive Adam's step when the gradient flips its sign")
def check_alternating_step(alternating_step, rng):
    answers = []
    for args in _alternating_cases(rng):
        result = as_number(call(alternating_step, *args, names=("t", "g", "lr", "betas", "eps")), "alternating_step")
        answers.append((args, result))
    wrong = [(args, result) for args, result in answers if not close(result, _alternating_step(*args), rtol=1e-9)]
    if not wrong:
        return ("Correct: v_hat = g^2 exactly (beta2 drops out), and m_hat = (1 - beta1)(1 - (-beta1)^t) / ((1 + beta1)"
                "(1 - beta1^t)) g_t: the step is lr long at t = 1 and then about (1 - beta1) / (1 + beta1) lr, 1/19 "
                "of lr for beta1 = 0.9. The cell below measures it.")
    for mistake, explanation in ALTERNATING_MISTAKES:
        values = [mistake(*args) for args, _ in answers]
        if all(value is not None and close(result, value, rtol=1e-9) for (_, result), value in zip(answers, values)):
            raise Fail(explanation)
    (t, g, lr, betas, eps), result = wrong[0]
    raise Fail(f"for t = {t}, g = {g:.4g}, lr = {lr:.4g}, betas = ({betas[0]:.4g}, {betas[1]:.4g}), eps = {eps:.3g} the "
               f"step is {_alternating_step(t, g, lr, betas, eps):.6g}; you returned {result:.6g}. The gradients of "
               f"steps 1 to t are g, -g, g, ...: what are m_t and v_t, and then m_hat and v_hat?")


# ---------------------------------------------------------------- task 3: AdamW's fixed point when eps is not negligible
def _fixed_point(a, c, weight_decay, eps, lam_factor=1.0, root=-1):
    """The root of a |c - x| (1 - lam |x|) = lam eps |x| between 0 and c, signed as c (root=+1: the other root)."""
    lam = weight_decay * lam_factor
    b = a * (1 + lam * abs(c)) + lam * eps
    d = b * b - 4 * a * a * lam * abs(c)
    if root < 0:   # (b - sqrt(d)) / (2 a lam), written without the division by lam
        return math.copysign(2 * a * abs(c) / (b + math.sqrt(d)), c)
    return math.copysign((b + math.sqrt(d)) / (2 * a * lam), c)


def _adamw_fixed_point(a, c, lr, weight_decay, eps):
    return _fixed_point(a, c, weight_decay, eps)


def _literal(a, c, lr, lam, eps):
    """The formula for c > 0 used with a negative c as it is."""
    b = a * (1 + lam * c) + lam * eps
    return (b - math.sqrt(b * b - 4 * a * a * lam * c)) / (2 * a * lam)


FIXED_POINT_MISTAKES = [
    (_safe(lambda a, c, lr, lam, eps: float(np.clip(c, -1 / lam, 1 / lam))),
     "that is the limit eps -> 0: the minimum c, clipped to the box |x| <= 1/lambda (chapter 09's bound). Here eps is "
     "not negligible next to the gradient: at the fixed point lambda |x| = |g| / (|g| + eps), with g = a (x - c)."),
    (_safe(lambda a, c, lr, lam, eps: a * c / (a + lam)),
     "a c / (a + lambda) is where Adam + L2 (and SGD + L2) end: the minimum of f + lambda/2 x^2. AdamW's decay is not "
     "part of the gradient: x shrinks by lr lambda x while the Adam step, lr g / (|g| + eps) at a fixed point, "
     "pushes back."),
    (_safe(lambda a, c, lr, lam, eps: _fixed_point(a, c, lam, eps, root=+1)),
     "that is the other root of the quadratic: it lies beyond c or 1/lambda, where the gradient pushes x the wrong "
     "way for a balance with the decay (or |x| > 1/lambda, which no step of length < lr |x| lambda can hold). Take "
     "the root between 0 and c."),
    (_safe(lambda a, c, lr, lam, eps: _fixed_point(a, c, lam, eps, lam_factor=lr)),
     "the lr cancels: at a fixed point the decay lr lambda x equals the step lr m_hat / (sqrt(v_hat) + eps), so "
     "lambda x = -g / (|g| + eps), with lambda alone. (The fixed point does not depend on the lr or the betas.)"),
    (_safe(lambda a, c, lr, lam, eps: abs(_fixed_point(a, c, lam, eps))),
     "for c < 0 the fixed point is negative: the problem is the mirror image of the one with -c, so x*(-c) = "
     "-x*(c)."),
    (_safe(_literal),
     "your formula holds for c > 0 only (there x < c and g < 0, so |g| = a (c - x)); for c < 0 the fixed point is "
     "the mirror image, x*(-c) = -x*(c). Use |c| and give the result the sign of c."),
    (_safe(lambda a, c, lr, lam, eps: c),
     "AdamW does not end at the minimum c: there the gradient is 0, so the Adam step is 0, and the decay still "
     "pulls x towards 0. It ends where the two balance."),
    (_safe(lambda a, c, lr, lam, eps: math.copysign(1 / lam, c)),
     "1/lambda, the edge of the box, is where AdamW ends only when the minimum lies outside the box and eps is "
     "negligible. At a fixed point lambda |x| = |g| / (|g| + eps), with g = a (x - c)."),
]


def _fixed_point_cases(rng):
    """The minimum inside the box and outside it, eps visible or negligible, both signs of c, and lambda = 0."""
    cases = []
    for i, (inside, visible) in enumerate([(True, True), (False, True), (True, True), (False, True), (True, False),
                                           (False, False)]):
        lam = float(rng.uniform(0.2, 2.0))
        a = float(10 ** rng.uniform(-0.5, 0.5))
        c = (float(rng.uniform(0.2, 0.8)) if inside else float(rng.uniform(1.5, 4.0))) / lam
        c = -c if i in (2, 3) else c
        eps = a * abs(c) * float(rng.uniform(0.1, 1.0)) if visible else 1e-8
        cases.append((a, c, float(10 ** rng.uniform(-3, -1)), lam, eps))
    a = float(10 ** rng.uniform(-0.5, 0.5))
    cases.append((a, float(rng.choice([-1, 1]) * rng.uniform(0.5, 3.0)), float(10 ** rng.uniform(-3, -1)), 0.0,
                  float(rng.uniform(0.01, 0.3))))
    return [cases[i] for i in rng.permutation(len(cases))]


@task("09.adamw_fixed_point", "Task 3: derive where AdamW ends when eps is not negligible")
def check_adamw_fixed_point(adamw_fixed_point, rng):
    answers, singular = [], None
    for args in _fixed_point_cases(rng):
        try:
            result = as_number(call(adamw_fixed_point, *args, names=("a", "c", "lr", "weight_decay", "eps")),
                               "adamw_fixed_point")
        except Fail as fail:
            if args[3] == 0.0 and any(w in str(fail) for w in ("ZeroDivisionError", "NaN", "inf")):
                singular = singular or (args, fail)    # said below, unless a mistake in the other cases says more
                continue
            raise
        answers.append((args, result))
    wrong = [(args, result) for args, result in answers if not close(result, _adamw_fixed_point(*args), rtol=1e-7)]
    if not wrong and not singular:
        return ("Correct: at the fixed point m_hat = g and v_hat = g^2, so lambda x = -g / (|g| + eps): the smaller root "
                "of a quadratic, between 0 and c. Neither the lr nor the betas appear; as eps -> 0 it becomes c clipped "
                "to |x| <= 1/lambda. The cell below runs AdamW to it.")
    decayed = [(args, result) for args, result in answers if args[3] > 0]   # the mistakes are about lambda > 0
    if any(not close(result, _adamw_fixed_point(*args), rtol=1e-7) for args, result in decayed):
        for mistake, explanation in FIXED_POINT_MISTAKES:
            values = [mistake(*args) for args, _ in decayed]
            if all(v is not None and close(result, v, rtol=1e-7) for (_, result), v in zip(decayed, values)):
                raise Fail(explanation)
    if singular:
        args, fail = singular
        raise Fail(join(str(fail), f"Here weight_decay = 0: AdamW is then plain Adam, which ends at the minimum "
                                   f"c = {args[1]:.4g}, and a formula that divides by lambda breaks down. Treat "
                                   f"lambda = 0 apart, or write the root without the division (multiply above and "
                                   f"below by b + sqrt(b^2 - 4ac))."))
    wrong.sort(key=lambda answer: answer[0][3] == 0)        # a case with weight decay first, if one is wrong
    (a, c, lr, lam, eps), result = wrong[0]
    if lam == 0:
        raise Fail(f"with weight_decay = 0 AdamW is plain Adam, which ends at the minimum c = {c:.6g}; you returned "
                   f"{result:.6g}.")
    expected = _adamw_fixed_point(a, c, lr, lam, eps)
    message = (f"for a = {a:.6g}, c = {c:.6g}, lr = {lr:.3g}, weight_decay = {lam:.6g}, eps = {eps:.3g} the fixed point "
               f"is {expected:.8g}; you returned {result:.8g}.")
    if abs(result - expected) <= 1e-2 * max(abs(expected), 1e-3):
        raise Fail(f"{message} Close, but not equal: if you ran AdamW, its last steps still jitter or creep (with a tiny "
                   f"eps, by up to about lr). The check wants the fixed point itself: solve the balance of the decay and "
                   f"the step.")
    raise Fail(f"{message} Once x stops moving the gradient g = a (x - c) is constant: what are m_hat and v_hat then, "
               f"and what balances the decay?")


# ---------------------------------------------------------------- task 4: predict Adam's regret on Reddi's problem
REDDI_C = 8.0
REGRET = 2 * (REDDI_C - 2) / 3   # Adam at x = +1: per period C (1 + 1) - 2 (1 + 1), over 3 steps


def _near(p, value, tolerance=0.1):
    return abs(p - value) <= tolerance


@task("09.answer_regret_per_step", "Task 4: predict Adam's regret on Reddi's problem with C = 8", kind="value")
def check_answer_regret_per_step(answer, rng):
    p = number_answer(answer, "answer_regret_per_step", "1.5", "the regret per step")
    C = REDDI_C
    if _near(p, REGRET):
        return ("Correct: Adam is pushed to the worst point x = +1 again (with beta2 = 1/(1 + C^2) the step on the large "
                "gradient is hardly longer than the steps on the small ones), and there each step's regret is "
                "g_t (x_t + 1) = 2 g_t: per period 2C - 4, per step 2(C - 2)/3 = 4 for C = 8. The cell below measures "
                "it for several C.")
    if _near(p, 2 / 3, 0.05):
        raise Fail("that is the chapter's regret for C = 3. With C = 8 each large gradient costs more: the regret per "
                   "step depends on C.")
    if abs(p) <= 0.05:
        raise Fail("a regret per step near 0 means the algorithm learns the best point x = -1: that is AMSGrad. Adam "
                   "with beta2 = 1/(1 + C^2) is pushed to the worst point for C = 8 as for C = 3 (Reddi et al.'s "
                   "construction works for every C > 2).")
    if p < 0:
        raise Fail("a negative regret would mean doing better than the best fixed point x = -1 on average; at the "
                   "worst point the regret of a period, C (x + 1) - 2 (x + 1), is positive.")
    if _near(p, (C - 2) / 3):
        raise Fail("at x_t = +1 the regret of a step is f_t(x_t) - f_t(-1) = g_t (x_t + 1) = 2 g_t: the distance to the "
                   "best point is 2, not 1. ((C - 2)/3 is what x = 0 would give.)")
    if _near(p, 2 * (C - 2)):
        raise Fail("that is the regret of a whole period of three steps (one with gradient C, two with -1): divide by "
                   "3 for the regret per step.")
    if _near(p, C - 2):
        raise Fail("C - 2 is the sum of the gradients over a period. The regret per step is the average of "
                   "g_t (x_t + 1) over the period's three steps, with x_t = +1.")
    if _near(p, 2 * (C + 2) / 3):
        raise Fail("the two steps with gradient -1 *lower* the regret: at x = +1 each has f_t(x) - f_t(-1) = -(1 + 1) "
                   "= -2. Per period: 2C - 4.")
    if _near(p, 2 * C / 3):
        raise Fail("the two steps with gradient -1 count too: at x = +1 each has regret -(1 + 1) = -2. Per period: "
                   "2C - 4.")
    if _near(p, 2 * (C - 1) / 3):
        raise Fail("a period has two steps with gradient -1 (two of every three), not one: per period 2C - 4.")
    raise Fail("two questions: where does Adam end for C = 8 (the chapter's mechanism, with beta2 = 1/(1 + C^2))? And "
               "then, what is the average over a period of three steps of the regret g_t (x_t - (-1))?")


# ---------------------------------------------------------------- task 5: Adam and RMSprop with momentum
@task("09.answer_rmsprop_momentum", "Task 5: can RMSprop with momentum take Adam's steps?", kind="value")
def check_answer_rmsprop_momentum(answer, rng):
    choice(answer, "b", "abcd", {
        "a": "a momentum buffer damps a zig-zag too: fed rescaled gradients +1, -1, +1, ..., b <- 0.9 b + (+-1) "
             "alternates with a size of 1/(1 + 0.9), against 1/(1 - 0.9) on a steady gradient, 19 times less, just as "
             "Adam's zig-zag step, (1 - beta1)/(1 + beta1) lr, is 19 times less than its steady one (task 2). With "
             "lr / 10 RMSprop takes Adam's steps on both, once v has settled.",
        "c": "the bias corrections are not the only difference: RMSprop's buffer *adds up* the rescaled gradients, "
             "b <- 0.9 b + g / (sqrt(v) + eps), which on a steady gradient tends to 10 g / |g|, while Adam's m "
             "*averages* the gradients, with weights 1 - beta1 that add up to 1. At the same lr RMSprop's settled "
             "steps are 10 times Adam's.",
        "d": "not from the first step: RMSprop's v is not bias-corrected, so at step 1 it holds only (1 - alpha) g^2 = "
             "0.001 g^2, and its first step is 1/sqrt(1 - alpha) = 31.6 times its lr, 3.2 times Adam's step with "
             "lr / 10; its steps stay too long until v has caught up with g^2, a few thousand steps.",
    })
    return ("Correct: once v has settled both divide by the same sqrt(v), and what is left is the momentum: Adam's m "
            "averages (weights 1 - beta1), RMSprop's buffer adds up (weight 1), 1/(1 - 0.9) = 10 times more on a steady "
            "gradient, and on a zig-zag alike (1/(1 + 0.9) against 0.1/(1 + 0.9)). They differ at the start, where Adam "
            "corrects its averages and RMSprop does not, and where v changes within the momentum's memory, since Adam "
            "divides an average of gradients and RMSprop averages gradients already divided. The cell below measures "
            "both.")
