"""Checks for chapter 08: Adadelta.

The chapter hands over Adadelta's loop (rho, eps, lr), the units argument and eps's two units, the first step
sqrt(eps) |g| / sqrt((1 - rho) g^2 + eps), the approximate growth law sqrt(eps (1/(1 - rho) + (1 - rho) t)) under a
steady gradient, PyTorch's multiplier as eta^2 eps on top, a large eps as SGD, a map over rho and eps, and claim 2 at
three budgets. The exercise asks for one step of torch.optim.Adadelta with its lr multiplier and weight decay, the
exact step under a steady gradient (derived: u tends to g^2, so the steps stop growing at |g|, SGD's step at lr 1),
how the noise floor scales with eps (predicted, then measured: sqrt(eps), since u settles at a multiple of eps), and
why u settles under noise but grows on a slope.
"""

import copy
import math

import numpy as np

from lrcourse.grading.ch07 import _name_of, _named, _safe_formula, _settings_list, _unpack
from lrcourse.grading.core import Fail, as_number, call, choice, close, number_answer, task


# ---------------------------------------------------------------- task 1: one Adadelta step, with torch's options
def _adadelta_step(x, v, u, grad, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
    """torch.optim.Adadelta's step: (x_new, v_new, u_new)."""
    g = grad + weight_decay * x
    v = rho * v + (1 - rho) * g * g
    delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
    u = rho * u + (1 - rho) * delta * delta
    return x - lr * delta, v, u


def _variant(sign=1, swap_rho=False, whole_g2=False, old_v=False, u_first=False, lr_in_u=False, lr_ignored=False,
             eps="torch", ratio="torch", decay="coupled", order="torch"):
    """The reference step with one thing changed: the mistakes of the catalogue below."""
    def step(x, v, u, grad, lr=1.0, rho=0.9, eps_=1e-6, weight_decay=0.0):
        decayed = grad + weight_decay * x
        g = decayed if decay == "coupled" else grad          # what v sees
        g_step = decayed if decay in ("coupled", "after") else grad
        keep, new = (1 - rho, rho) if swap_rho else (rho, 1 - rho)
        v_new = keep * v + (1.0 if whole_g2 else new) * g * g
        below = v if old_v else v_new
        top = keep * u if u_first else u
        root = {"torch": lambda a: np.sqrt(a + eps_), "outside": lambda a: np.sqrt(a) + eps_,
                "top_only": lambda a: np.sqrt(a + eps_), "below_only": lambda a: np.sqrt(a + eps_)}[eps]
        numerator = np.sqrt(top) if eps == "below_only" else root(top)
        denominator = np.sqrt(below) if eps == "top_only" else root(below)
        if ratio == "inverted":
            numerator, denominator = denominator, numerator
        scale = (top + eps_) / (below + eps_) if ratio == "no_root" else numerator / denominator
        delta = scale * g_step
        rate = 1.0 if lr_ignored else lr
        moved = rate * delta if lr_in_u else delta
        # u_first: u was decayed before the step (top = rho u), and the new step's square added after it
        u_new = (top if u_first else keep * u) + new * moved * moved
        x_new = x - sign * rate * delta
        if decay == "decoupled":
            x_new = x_new - lr * weight_decay * x
        return (x_new, u_new, v_new) if order == "u_v" else (x_new, v_new, u_new)
    return step


STEP_MISTAKES = [
    (_variant(order="u_v"), "you returned (x_new, u_new, v_new); return (x_new, v_new, u_new) in that order."),
    (_variant(sign=-1), "sign error: the step goes downhill, x - lr * sqrt(u + eps) / sqrt(v + eps) * g."),
    (_variant(swap_rho=True), "rho and 1 - rho are swapped: rho is the weight of the *old* averages, v <- rho v + "
                              "(1 - rho) g^2 and u <- rho u + (1 - rho) dx^2."),
    (_variant(whole_g2=True), "the new g^2 enters v with the weight 1 - rho: v <- rho v + (1 - rho) g^2. Yours adds "
                              "the whole g^2."),
    (_variant(old_v=True), "you divided by the old v: update v first, v <- rho v + (1 - rho) g^2, then divide by "
                           "sqrt(v + eps) with the new v. (At the first step the old v is 0, and the step is the "
                           "whole gradient.)"),
    (_variant(u_first=True), "you decayed u before the step: the numerator is sqrt(u + eps) with u as the previous "
                             "step left it. Compute the step first, then u <- rho u + (1 - rho) dx^2."),
    (_variant(lr_in_u=True), "u holds the squares of the steps *before* the lr multiplier: torch accumulates "
                             "(1 - rho) dx^2 with dx = sqrt(u + eps) / sqrt(v + eps) * g, and only then moves x by "
                             "lr * dx. Yours puts lr^2 dx^2 into u (the same only at lr = 1)."),
    (_variant(lr_ignored=True), "the lr multiplier is missing: torch moves x by lr * dx (Zeiler's Adadelta has no lr; "
                                "PyTorch's keeps one, default 1)."),
    (_variant(eps="outside"), "eps belongs inside both square roots: sqrt(u + eps) / sqrt(v + eps), not "
                              "(sqrt(u) + eps) / (sqrt(v) + eps) as in RMSprop."),
    (_variant(eps="below_only"), "eps is missing on top: the numerator is sqrt(u + eps). Without it the first step, "
                                 "from u = 0, is 0, u stays 0, and Adadelta never moves."),
    (_variant(eps="top_only"), "eps is missing below: the denominator is sqrt(v + eps) (the same eps in both places)."),
    (_variant(ratio="inverted"), "the ratio is upside down: the step is sqrt(u + eps) / sqrt(v + eps) * g, the RMS of "
                                 "past steps over the RMS of gradients (Newton's 1/f'' = step / gradient)."),
    (_variant(ratio="no_root"), "the square roots are missing: the step is sqrt(u + eps) / sqrt(v + eps) * g, a ratio "
                                "of root mean squares."),
    (_variant(decay="none"), "weight_decay is missing: torch adds weight_decay * x to the gradient before anything "
                             "else, g = grad + weight_decay * x."),
    (_variant(decay="after"), "the weight decay goes into the gradient *before* v: g = grad + weight_decay * x, then v "
                              "with that g. Yours averages the raw gradient."),
    (_variant(decay="decoupled"), "that is decoupled weight decay (x shrinks by lr * weight_decay * x on its own, as "
                                  "AdamW does, chapter 09). torch's Adadelta adds weight_decay * x to the gradient."),
]

SETTINGS = [  # (what it switches on, sampler of the options, steps)
    ("no options", lambda rng: dict(), 4),
    ("an lr multiplier", lambda rng: dict(lr=float(rng.uniform(0.2, 3.0))), 4),
    ("a large eps", lambda rng: dict(eps=float(rng.uniform(0.05, 0.5))), 3),
    ("weight_decay", lambda rng: dict(weight_decay=float(rng.uniform(0.2, 0.8))), 3),
    ("every option", lambda rng: dict(lr=float(rng.uniform(0.2, 3.0)), eps=float(rng.uniform(1e-3, 0.1)),
                                      weight_decay=float(rng.uniform(0.2, 0.8))), 4),
]
NAMES = ("x", "v", "u", "grad", "lr", "rho", "eps", "weight_decay")
OUTPUTS = ("x_new", "v_new", "u_new")


def _agrees(args, result, expected):
    return all(close(a, b, rtol=1e-9, atol=1e-12) for a, b in zip(result, expected))


def _step_cases(rng):
    """Runs of the reference step for each setting: (setting, t, args) with the reference's own state."""
    cases = []
    for setting, sampler, steps in SETTINGS:
        d = int(rng.integers(1, 5))
        options = {**dict(lr=1.0, eps=1e-6, weight_decay=0.0), **sampler(rng)}
        rho = float(rng.uniform(0.6, 0.95))
        x, v, u = rng.normal(size=d), np.zeros(d), np.zeros(d)
        for t in range(1, steps + 1):
            args = (x, v, u, rng.normal(size=d), options["lr"], rho, options["eps"], options["weight_decay"])
            cases.append((setting, t, copy.deepcopy(args)))
            x, v, u = _adadelta_step(*copy.deepcopy(args))
    return cases


@task("08.adadelta_step", "Task 1: one Adadelta step, with torch's options")
def check_adadelta_step(adadelta_step, rng):
    what = _name_of(adadelta_step)
    answers, nan = [], None
    for setting, t, args in _step_cases(rng):
        raw = call(adadelta_step, *copy.deepcopy(args), names=NAMES, mutable=("v", "u"))
        result, fail = _unpack(raw, what, (len(args[0]),), OUTPUTS)
        nan = nan or (fail and (setting, t, fail))
        answers.append((setting, t, args, result))
    wrong = [(setting, t, args, result) for setting, t, args, result in answers
             if not _agrees(args, result, _adadelta_step(*copy.deepcopy(args)))]
    if not wrong:
        return ("Correct: g = grad + weight_decay x; v <- rho v + (1 - rho) g^2; dx = sqrt(u + eps) / sqrt(v + eps) * "
                "g; u <- rho u + (1 - rho) dx^2; x <- x - lr dx, as torch.optim.Adadelta. The cell below runs it "
                "against torch.")
    why = _named(answers, STEP_MISTAKES, _agrees)
    if why:
        raise Fail(why)
    setting, t, args, result = wrong[0]
    if nan and nan[:2] == (setting, t):
        raise Fail(f"{nan[2]} (at step {t} of the run with {setting})")
    expected = _adadelta_step(*copy.deepcopy(args))
    right = [s for s, _, _, _ in answers if s not in {w[0] for w in wrong}]
    intro = (f"your step agrees with torch's with {_settings_list(right)}, but not with {setting}" if right else
             f"your step differs from torch's in every setting; the first is the run with {setting}")
    earlier = [a for a in answers if a[0] == setting and a[1] < t]
    when = (f"It is right at step{'s 1 to' if t > 2 else ''} {t - 1} and wrong from step {t} on, where the state it "
            f"is given (v, u) is no longer zero." if earlier else "It is wrong from the first step (t = 1).")
    if not close(result[1], expected[1], rtol=1e-9, atol=1e-12):
        part = "Your v_new is wrong: v <- rho v + (1 - rho) g^2, with g = grad + weight_decay * x."
    elif not close(result[2], expected[2], rtol=1e-9, atol=1e-12):
        part = ("Your v_new is right, u_new is wrong: u <- rho u + (1 - rho) dx^2, with dx = sqrt(u + eps) / "
                "sqrt(v + eps) * g (the u before this step on top, no lr in it).")
    else:
        part = "Your averages are right, x_new is not: x <- x - lr dx."
    lr, rho, eps, weight_decay = args[4:]
    shown = " ".join(f"{name} = {np.round(value, 5)}" for name, value in zip(OUTPUTS, expected))
    got = " ".join(f"{name} = {np.round(value, 5)}" for name, value in zip(OUTPUTS, result))
    raise Fail(f"{intro}. {when} {part} There (lr = {lr:.3g}, rho = {rho:.3g}, eps = {eps:.3g}, weight_decay = "
               f"{weight_decay:.3g}) expected {shown}; got {got}.")


# ---------------------------------------------------------------- task 2: the exact step under a steady gradient
def _steady_step(t, g, u0, rho, eps):
    """Step t of Adadelta when v has settled at g^2 and u starts at u0, the gradient g at every step."""
    r = g * g / (g * g + eps)
    a = 1 - (1 - rho) * eps / (g * g + eps)
    return math.sqrt(g * g + r * a ** (t - 1) * (u0 - g * g))


def _linear(t, g, u0, rho, eps):
    """u without the eps below: u_(t-1) = u0 + (t - 1)(1 - rho) eps, the step sqrt(u_(t-1) + eps)."""
    return math.sqrt(u0 + eps + (t - 1) * (1 - rho) * eps)


def _u_after(t, g, u0, rho, eps):
    r = g * g / (g * g + eps)
    a = 1 - (1 - rho) * eps / (g * g + eps)
    return g * g + a ** t * (u0 - g * g)


STEADY_MISTAKES = [(_safe_formula(f), explanation) for f, explanation in [
    (_linear,
     "that is the growth while eps is negligible next to g^2 below: u gains (1 - rho) eps a step for ever. But the "
     "step squares to (u + eps) g^2 / (g^2 + eps), a little less than u + eps, so u's gain shrinks as u grows: write "
     "the recursion for u exactly (it is affine, u_t = a u_(t-1) + b) and solve it."),
    (lambda t, g, u0, rho, eps: _steady_step(t + 1, g, u0, rho, eps),
     "off by one: step t uses u_(t-1), the u left by the step before it (u_0 = u0 for the first step)."),
    (lambda t, g, u0, rho, eps: _steady_step(t, g, u0, rho, eps) ** 2,
     "that is the step's square; return its length, the square root."),
    (lambda t, g, u0, rho, eps: _u_after(t - 1, g, u0, rho, eps),
     "that is u_(t-1), the average of the squared steps; the step itself is sqrt(u_(t-1) + eps) |g| / "
     "sqrt(g^2 + eps)."),
    (_u_after, "that is u_t, the average of the squared steps after step t; the step is sqrt(u_(t-1) + eps) |g| / "
               "sqrt(g^2 + eps)."),
    (lambda t, g, u0, rho, eps: abs(g),
     "|g| is where the steps end, after about (g^2 + eps) / ((1 - rho) eps) steps; step t is not there yet."),
    (lambda t, g, u0, rho, eps: math.sqrt(eps / (1 - rho)),
     "sqrt(eps / (1 - rho)) is about the size of the first step from v = 0 (chapter 08); here v has settled at g^2 "
     "and u starts at u0."),
    (lambda t, g, u0, rho, eps: math.sqrt(g * g / (g * g + eps) * u0 * (rho + (1 - rho) * g * g / (g * g + eps)) **
                                          (t - 1)),
     "eps is missing on top: the step is sqrt(u_(t-1) + eps) |g| / sqrt(g^2 + eps). (Without it u only shrinks or "
     "stays, and from u = 0 Adadelta never moves.)"),
    (lambda t, g, u0, rho, eps: _steady_step(t, g, 0.0, rho, eps),
     "u0 is missing: u starts at u0, not 0."),
]]


def _steady_cases(rng):
    """Steps where the exact law has visibly left the chapter's linear one (a^(t-1) between 0.05 and 0.9), two where
    eps is small next to g^2, the first step, and one starting above g^2 (the steps shrink to |g|)."""
    out = []
    for kind in ("first", "visible", "visible", "visible", "small", "small", "above"):
        rho = float(rng.uniform(0.5, 0.95))
        g = float(rng.choice([-1, 1]) * 10 ** rng.uniform(-1, 1))
        delta = float(10 ** rng.uniform(-6, -4)) if kind == "small" else float(rng.uniform(0.01, 0.3))
        eps = delta * g * g / (1 - delta)
        a = 1 - (1 - rho) * delta
        if kind == "first":
            t = 1
        elif kind == "small":
            t = int(rng.integers(10, 2000))
        else:
            t = 1 + max(1, round(math.log(float(rng.uniform(0.05, 0.9))) / math.log(a)))
        u0 = {"above": g * g * float(rng.uniform(2, 10)), "small": 0.0}.get(kind, eps * float(rng.uniform(0.5, 20)))
        if kind == "visible" and rng.uniform() < 0.4:
            u0 = 0.0
        out.append((t, g, u0, rho, eps))
    return [out[i] for i in rng.permutation(len(out))]


@task("08.steady_step", "Task 2: derive Adadelta's steps under a steady gradient, exactly")
def check_steady_step(steady_step, rng):
    answers = []
    for args in _steady_cases(rng):
        result = as_number(call(steady_step, *args, names=("t", "g", "u0", "rho", "eps")), "steady_step")
        answers.append((args, result))
    if all(close(r, _steady_step(*a), rtol=1e-6, atol=1e-15) for a, r in answers):
        return ("Correct: with v = g^2 each step squares to r (u + eps), r = g^2 / (g^2 + eps), so u_t = a u_(t-1) + "
                "(1 - rho) r eps with a = 1 - (1 - rho) eps / (g^2 + eps): u tends to g^2, and the step to |g|, "
                "SGD's step at lr 1, after about (g^2 + eps) / ((1 - rho) eps) steps. The chapter's sqrt(t) law is its "
                "beginning. The cell below follows it for 50000 steps.")
    for formula, explanation in STEADY_MISTAKES:
        if all(formula(*a) is not None and close(r, formula(*a), rtol=1e-6, atol=1e-15) for a, r in answers):
            raise Fail(explanation)
    (t, g, u0, rho, eps), result = next((a, r) for a, r in answers if not close(r, _steady_step(*a), rtol=1e-6,
                                                                                 atol=1e-15))
    raise Fail(f"for t = {t}, g = {g:.4g}, u0 = {u0:.4g}, rho = {rho:.3g}, eps = {eps:.3g} step t is "
               f"{_steady_step(t, g, u0, rho, eps):.6g} long; you returned {result:.6g}. With v = g^2 the step squares "
               f"to (u + eps) g^2 / (g^2 + eps), and u <- rho u + (1 - rho) step^2: an affine recursion for u. Solve "
               f"it.")


# ---------------------------------------------------------------- task 3: predict how the noise floor scales with eps
@task("08.answer_eps_exponent", "Task 3: predict how Adadelta's noise floor scales with eps", kind="value")
def check_answer_eps_exponent(answer, rng):
    p = number_answer(answer, "answer_eps_exponent", "2", "the exponent")
    if abs(p - 0.5) <= 0.05:
        return ("Correct: near the minimum v holds the noise's mean square and u settles at a fixed multiple of eps "
                "(task 4 asks why), so Adadelta is RMSprop with the lr sqrt(u + eps), proportional to sqrt(eps); and "
                "RMSprop's floor is proportional to its lr (exercise 07, task 3). The cell below measures it.")
    if abs(p - 1) <= 0.1:
        raise Fail("a floor proportional to eps would make eps an lr. But eps is a length squared (chapter 08, "
                   "section 1): the steps it sets are about sqrt(eps) long, and an RMSprop-like floor is proportional "
                   "to the step's length (exercise 07, task 3), not to its square.")
    if abs(p) <= 0.1:
        raise Fail("an exponent of 0 means eps does not matter for the floor. Near the minimum u settles, and the "
                   "steps are about sqrt(u + eps) long: what does u settle at, and what sets it?")
    if abs(p - 0.25) <= 0.05:
        raise Fail("the steps are about sqrt(u + eps) long, proportional to sqrt(eps) when u settles at a multiple "
                   "of eps; and the floor is proportional to the step's length (as RMSprop's to its lr, exercise 07, "
                   "task 3), not to its square root.")
    if abs(p - 2) <= 0.2:
        raise Fail("a floor proportional to the square of the step's size would be the noiseless hop (exercise 07, "
                   "task 2). With noise the floor is proportional to the step's size (exercise 07, task 3), and the "
                   "step to sqrt(eps).")
    if p < 0:
        raise Fail("a negative exponent means a larger eps settles *lower*. A larger eps means longer steps "
                   "(chapter 08, section 5), and under noise longer steps settle higher.")
    raise Fail("combine two results: the floor of RMSprop is proportional to its lr (exercise 07, task 3), and "
               "Adadelta's step is sqrt(u + eps) |g| / sqrt(v + eps). Near the minimum u settles: at what, in terms "
               "of eps?")


# ---------------------------------------------------------------- task 4: why u settles under noise
@task("08.answer_why_settles", "Task 4: why u settles under noise and grows on a slope", kind="value")
def check_answer_why_settles(answer, rng):
    choice(answer, "c", "abcd", {
        "a": "Adadelta divides the gradient by its own RMS, sqrt(v + eps): small gradients give the same ratio "
             "g / sqrt(v) as large ones, and near the minimum v is the noise's mean square, not 0. The gradients' "
             "size is not what stops u.",
        "b": "u is multiplied by rho at every step under a steady gradient too, and there it grows, by about "
             "(1 - rho) eps a step (chapter 08, section 5): the decay alone cannot be the difference.",
        "d": "Adadelta's u only sees squares, dx^2: a change of sign changes nothing in it, and nothing resets u. "
             "What differs between the slope and the noise is the size of g^2 / (v + eps) from step to step.",
    })
    return ("Correct: each step multiplies u by rho + (1 - rho) g^2 / (v + eps) and adds (1 - rho) eps g^2 / "
            "(v + eps). On a steady slope g^2 / (v + eps) = g^2 / (g^2 + eps) is nearly 1, the factor nearly 1, and u "
            "keeps gaining about (1 - rho) eps a step (until it reaches g^2, task 2). Under noise the large g^2 pull v "
            "up and count for less: g^2 / (v + eps) is below 1 on average, the factor shrinks u, and u settles where "
            "the loss and the gain balance, in proportion to the gain, eps. The cell below measures both.")
