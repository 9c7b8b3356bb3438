"""Checks for chapter 04: momentum and Nesterov."""

import copy

import numpy as np

from lrcourse.grading.ch02 import _spectrum, random_spd
from lrcourse.grading.core import (Fail, _noun, aliased_message, aliased_path, as_array, as_number, as_numbers, call,
                                   choice, close, diagnose, path_difference, task)


def _unpack(raw, what, shape):
    if raw is None:
        raise Fail(f"{_noun(what)} returned None: did you forget the `return` statement?")
    if not isinstance(raw, (tuple, list)) or len(raw) != 2:
        raise Fail(f"{_noun(what)} should return a pair (x_new, buf_new), for example `return x, buf`.")
    return as_array(raw[0], shape, what, value="x_new"), as_array(raw[1], shape, what, value="buf_new")


def _run_steps(step, names, rng, n_steps=6, mutable=(), **extra):
    """Feed the learner's step function its own outputs for a few steps; yield (t, inputs, outputs) per step.

    The learner gets copies of the inputs (and may change those named in ``mutable`` in place); the
    inputs yielded are the untouched originals, for the reference.
    """
    d = int(rng.integers(1, 5))
    x, buf = rng.normal(size=d), None
    lr, beta = float(rng.uniform(0.05, 0.5)), float(rng.uniform(0.3, 0.95))
    what = step.__name__ if getattr(step, "__name__", "<lambda>").isidentifier() else "your function"
    aliased = False
    for t in range(n_steps):
        grad = rng.normal(size=d)
        args = (x.copy(), None if buf is None else buf.copy(), grad.copy(), lr, beta, *extra.values())
        given = copy.deepcopy(args)
        raw = call(step, *given, names=names, mutable=mutable)
        out = _unpack(raw, what, (d,))
        if t == 0:
            aliased = isinstance(raw[1], np.ndarray) and raw[1] is given[2]
        elif aliased and not np.array_equal(given[1], args[1]):
            raise Fail("on the first step you returned the gradient array itself as buf, and later you update buf "
                       "in place: that overwrites the caller's gradient from the first step. Start with a copy, "
                       "buf = grad.copy() (torch clones it too), or update buf with `buf = beta * buf + ...`.")
        yield t, args, out
        x, buf = out


def _later_steps_match(step, reference, names, args, mutable, n=5):
    """Whether the learner's step agrees with the reference for n steps from the reference's own state."""
    x, buf = reference(*args)
    rng = np.random.default_rng(0)
    for _ in range(n):
        inputs = (x.copy(), buf.copy(), rng.normal(size=len(x)), *args[3:])
        x_ref, buf_ref = reference(*copy.deepcopy(inputs))
        try:
            x_new, buf_new = _unpack(call(step, *copy.deepcopy(inputs), names=names, mutable=mutable), "step",
                                     x.shape)
        except Fail:
            return False
        if not (close(x_new, x_ref) and close(buf_new, buf_ref)):
            return False
        x, buf = x_ref, buf_ref
    return True


def _check_step(step, reference, mistakes, names, rng, extra_sampler=lambda rng: {}, mutable=(), first_step=()):
    """``first_step``: (mistake, explanation) pairs that differ from the reference only when buf is None."""
    for _ in range(3):
        extra = extra_sampler(rng)
        for t, args, (x_new, buf_new) in _run_steps(step, names, rng, mutable=mutable, **extra):
            x_ref, buf_ref = reference(*args)
            if close(x_new, x_ref) and close(buf_new, buf_ref):
                continue
            if t == 0:
                for wrong, explanation in first_step:
                    if diagnose((x_new, buf_new), args, [(wrong, explanation)]):
                        later = _later_steps_match(step, reference, names, args, mutable)
                        raise Fail(explanation + (" Your later steps are right: given the same buf, steps 2 to 6 "
                                                  "match torch's." if later else ""))
            why = diagnose((x_new, buf_new), args, mistakes)
            where = "at the first step (buf is None)" if t == 0 else f"at step {t + 1} (buf given)"
            if why:
                raise Fail(why)
            raise Fail(f"your step is wrong {where}: expected x = {np.round(x_ref, 4)}, buf = "
                       f"{np.round(buf_ref, 4)}; got x = {np.round(x_new, 4)}, buf = {np.round(buf_new, 4)}.")


# ---------------------------------------------------------------- task 1: heavy ball, torch's way
def _heavy_ball_step(x, buf, grad, lr, beta, dampening=0.0):
    buf = grad.copy() if buf is None else beta * buf + (1 - dampening) * grad
    return x - lr * buf, buf


def _zero_init(x, buf, grad, lr, beta, dampening=0.0):
    return _heavy_ball_step(x, np.zeros_like(grad) if buf is None else buf, grad, lr, beta, dampening)


def _moving_average(x, buf, grad, lr, beta, dampening=0.0):
    buf = grad.copy() if buf is None else beta * buf + (1 - beta) * grad
    return x - lr * buf, buf


HEAVY_BALL_FIRST_STEP = [
    (_zero_init, "at the first step (buf is None) your buffer is (1 - dampening) * grad: either it started from "
                 "zero (beta * 0 + (1 - dampening) * grad) or the dampening was applied to the first step. torch "
                 "starts with buf = grad itself and dampens only the later gradients."),
]

HEAVY_BALL_MISTAKES = [
    (lambda x, buf, g, lr, beta, d=0.0: _heavy_ball_step(x, buf, g, lr, beta)[::-1],
     "you returned (buf_new, x_new); return (x_new, buf_new) in that order."),
    (lambda x, buf, g, lr, beta, d=0.0: _heavy_ball_step(x, buf, g, lr, beta),
     "you left out the dampening: after the first step the buffer adds (1 - dampening) * grad, not the whole "
     "gradient: buf = beta * buf + (1 - dampening) * grad."),
    (lambda x, buf, g, lr, beta, d=0.0: _heavy_ball_step(x, buf, g, lr, beta, 1 - d),
     "you multiplied the gradient by the dampening itself; the buffer adds (1 - dampening) * grad."),
    (_moving_average,
     "that is an exponential moving average, buf = beta buf + (1 - beta) grad. torch's momentum adds the "
     "whole gradient: buf = beta buf + (1 - dampening) grad."),
    (lambda x, buf, g, lr, beta, d=0.0: (x + lr * _heavy_ball_step(x, buf, g, lr, beta, d)[1],
                                         _heavy_ball_step(x, buf, g, lr, beta, d)[1]),
     "sign error: the step is x - lr * buf."),
    (lambda x, buf, g, lr, beta, d=0.0: (x - lr * (g if buf is None else buf), _heavy_ball_step(x, buf, g, lr, beta, d)[1]),
     "you stepped with the old buffer: update buf first, then step x - lr * buf with the new one."),
]


@task("04.heavy_ball_step", "Task 1: one heavy-ball step, PyTorch's formulation")
def check_heavy_ball_step(heavy_ball_step, rng):
    _check_step(heavy_ball_step, _heavy_ball_step, HEAVY_BALL_MISTAKES,
                ("x", "buf", "grad", "lr", "beta", "dampening"), rng,
                extra_sampler=lambda rng: {"dampening": float(rng.uniform(0.1, 0.5))}, mutable=("buf",),
                first_step=HEAVY_BALL_FIRST_STEP)
    return "Correct: buf = grad at first, then beta buf + (1 - dampening) grad; x - lr buf, exactly as torch.optim.SGD."


# ---------------------------------------------------------------- task 2: Nesterov, torch's way
def _nesterov_step(x, buf, grad, lr, beta):
    buf = grad.copy() if buf is None else beta * buf + grad
    return x - lr * (grad + beta * buf), buf


NESTEROV_MISTAKES = [
    (lambda x, buf, g, lr, beta: _heavy_ball_step(x, buf, g, lr, beta),
     "that is plain heavy-ball momentum, without the look-ahead: Nesterov steps along grad + beta * buf "
     "(the gradient plus the momentum it is about to add)."),
    (lambda x, buf, g, lr, beta: (x - lr * (1 + beta) * _nesterov_step(x, buf, g, lr, beta)[1],
                                  _nesterov_step(x, buf, g, lr, beta)[1]),
     "you stepped along buf + beta * buf; the look-ahead adds beta * buf to the *gradient*: grad + beta * buf."),
    (lambda x, buf, g, lr, beta: (x + lr * (g + beta * _nesterov_step(x, buf, g, lr, beta)[1]),
                                  _nesterov_step(x, buf, g, lr, beta)[1]),
     "sign error: the step is x - lr * (grad + beta * buf)."),
]


@task("04.nesterov_step", "Task 2: one Nesterov step, PyTorch's formulation")
def check_nesterov_step(nesterov_step, rng):
    _check_step(nesterov_step, _nesterov_step, NESTEROV_MISTAKES, ("x", "buf", "grad", "lr", "beta"), rng,
                mutable=("buf",))
    return "Correct: buf = beta buf + grad, then x - lr (grad + beta buf): torch's Nesterov."


# ---------------------------------------------------------------- task 3: tuned momentum
def _tuned(A):
    mu, L = _spectrum(A)
    rate = (np.sqrt(L / mu) - 1) / (np.sqrt(L / mu) + 1)
    return 4 / (np.sqrt(L) + np.sqrt(mu)) ** 2, rate ** 2, rate


TUNED_MISTAKES = [
    (lambda A: (_tuned(A)[0], _tuned(A)[2], _tuned(A)[1]), "you returned (lr, rate, beta); return (lr, beta, rate) "
                                                           "in that order."),
    (lambda A: (_tuned(A)[1], _tuned(A)[0], _tuned(A)[2]), "you returned (beta, lr, rate); return (lr, beta, rate) "
                                                           "in that order."),
    (lambda A: (_tuned(A)[0], _tuned(A)[2], _tuned(A)[2]),
     "beta is the *square* of the rate: beta = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2."),
    (lambda A: (2 / sum(_spectrum(A)), _tuned(A)[1], _tuned(A)[2]),
     "2/(mu + L) is gradient descent's best lr; with momentum the best lr is 4 / (sqrt(L) + sqrt(mu))^2."),
    (lambda A: (_tuned(A)[0], _tuned(A)[1], (_spectrum(A)[1] / _spectrum(A)[0] - 1) / (_spectrum(A)[1] / _spectrum(A)[0] + 1)),
     "that rate, (kappa - 1)/(kappa + 1), is gradient descent's; momentum's uses sqrt(kappa)."),
    (lambda A: (4 / (_spectrum(A)[1] + _spectrum(A)[0]), _tuned(A)[1], _tuned(A)[2]),
     "the lr is 4 / (sqrt(L) + sqrt(mu))^2: square the sum of the square roots."),
]


@task("04.tuned_momentum", "Task 3: the tuned lr, beta and rate")
def check_tuned_momentum(tuned_momentum, rng):
    for _ in range(5):
        A = random_spd(rng)
        result = as_numbers(call(tuned_momentum, A.copy(), names=("A",)), ("the lr", "the beta", "the rate"),
                            "tuned_momentum")
        if not close(result, _tuned(A), rtol=1e-6):
            why = diagnose(result, (A,), TUNED_MISTAKES, rtol=1e-6)
            lr, beta, rate = _tuned(A)
            raise Fail(why or f"for this matrix (mu = {_spectrum(A)[0]:.4g}, L = {_spectrum(A)[1]:.4g}) expected "
                              f"lr = {lr:.5g}, beta = {beta:.5g}, rate = {rate:.5g}; got {tuple(round(v, 5) for v in result)}.")
    return "Correct: lr = 4/(sqrt L + sqrt mu)^2, beta = rate^2, rate = (sqrt(kappa) - 1)/(sqrt(kappa) + 1)."


# ---------------------------------------------------------------- task 4: the best momentum for a given lr
def _best_momentum(A, lr):
    """The beta that makes heavy ball fastest at this lr, and its rate.

    Along curvature c the roots of z^2 - (1 + beta - lr c) z + beta = 0 have product beta; once they are
    complex (or double) both have size sqrt(beta), and below that beta one real root is larger. They are double
    where (1 - sqrt(beta))^2 = lr c, i.e. beta = (1 - sqrt(lr c))^2; the direction that needs the largest such
    beta is an extreme one, and the rate is max |1 - sqrt(lr c)|: gradient descent's factor with square roots.
    """
    mu, L = _spectrum(A)
    rate = max(abs(1 - np.sqrt(lr * mu)), abs(1 - np.sqrt(lr * L)))
    return rate ** 2, rate


def _best_for(lr, c):
    return (1 - np.sqrt(lr * c)) ** 2, abs(1 - np.sqrt(lr * c))


BEST_MOMENTUM_MISTAKES = [
    (lambda A, lr: _tuned(A)[1:], "that is Polyak's beta, tuned together with his own lr. For the lr given here the "
                                  "best beta differs: it is the smallest beta for which both extreme directions have "
                                  "complex (or double) roots."),
    (lambda A, lr: (_best_momentum(A, lr)[1], _best_momentum(A, lr)[0]), "you returned (rate, beta); return "
                                                                          "(beta, rate) in that order."),
    (lambda A, lr: (_best_momentum(A, lr)[0], _best_momentum(A, lr)[0]),
     "your beta is right, but the rate is the size of the roots, sqrt(beta), not beta itself: their product is beta "
     "and, once they are complex, they have the same size."),
    (lambda A, lr: (lambda b: (b, np.sqrt(b)))(max((1 - lr * _spectrum(A)[0]) ** 2, (1 - lr * _spectrum(A)[1]) ** 2)),
     "the roots are double where (1 - sqrt(beta))^2 = lr c, so beta = (1 - sqrt(lr c))^2, with the square root of "
     "lr c; (1 - lr c)^2 is gradient descent's factor squared."),
    (lambda A, lr: _best_for(lr, _spectrum(A)[1]),
     "you looked at the steep direction only. Whenever the flat direction needs the larger beta, "
     "(1 - sqrt(lr mu))^2, that one sets both beta and the rate: take the larger of the two."),
    (lambda A, lr: _best_for(lr, _spectrum(A)[0]),
     "you looked at the flat direction only. Whenever the steep direction needs the larger beta, "
     "(1 - sqrt(lr L))^2, that one sets both beta and the rate: take the larger of the two."),
    (lambda A, lr: (lambda m, L: (min(m[0], L[0]), min(m[1], L[1])))(_best_for(lr, _spectrum(A)[0]),
                                                                     _best_for(lr, _spectrum(A)[1])),
     "you took the smaller of the two betas: then the other extreme direction still has a real root larger than "
     "sqrt(beta). Take the larger one, so that both directions have roots of size sqrt(beta)."),
]


def _momentum_case(rng, steep):
    """A matrix and an lr at which the flat direction (steep=False) or the steep one (steep=True) needs the larger beta."""
    for _ in range(1000):
        A = random_spd(rng, kappa=float(10 ** rng.uniform(0.3, 1.0)) if steep else None)
        L = _spectrum(A)[1]
        lr = float(rng.uniform(3.0, 3.9) if steep else rng.uniform(0.2, 2.5)) / L
        flat, sharp = _best_for(lr, _spectrum(A)[0])[0], _best_for(lr, L)[0]
        if (sharp > 1.05 * flat) if steep else (flat > 1.05 * sharp):
            return A, lr
    return A, lr


@task("04.best_momentum", "Task 4: the best momentum for a given lr")
def check_best_momentum(best_momentum, rng):
    answers = []
    for steep in (False, True, False, True, False):
        A, lr = _momentum_case(rng, steep)
        result = as_numbers(call(best_momentum, A.copy(), lr, names=("A", "lr")), ("the beta", "the rate"),
                            "best_momentum")
        answers.append((A, lr, result))
    wrong = [(A, lr, result) for A, lr, result in answers if not close(result, _best_momentum(A, lr), rtol=1e-6)]
    if wrong:
        # a known mistake must reproduce every answer, the right ones included: looking at one extreme only is
        # right whenever that extreme is the worse one, and that is what tells it from other mistakes
        for mistake, explanation in BEST_MOMENTUM_MISTAKES:
            if all(close(result, mistake(A, lr), rtol=1e-6) for A, lr, result in answers):
                raise Fail(explanation)
        A, lr, result = wrong[0]
        expected = _best_momentum(A, lr)
        mu, L = _spectrum(A)
        raise Fail(f"for this matrix (mu = {mu:.4g}, L = {L:.4g}) and lr = {lr:.4g} the best beta is "
                   f"{expected[0]:.6g} with rate {expected[1]:.6g}; you returned ({result[0]:.6g}, {result[1]:.6g}). "
                   f"For which beta are the roots of z^2 - (1 + beta - lr c) z + beta double, at c = mu and at c = L?")
    return ("Correct: beta = max over the extreme curvatures c of (1 - sqrt(lr c))^2, and the rate is "
            "max |1 - sqrt(lr c)|: gradient descent's factor |1 - lr c| with square roots. At Polyak's lr the two "
            "extremes balance, which gives his beta.")


# ---------------------------------------------------------------- task 5: the classical formulation
def _classical(grad_f, x0, lrs, beta):
    x, v, xs = np.array(x0, dtype=float), np.zeros(len(x0)), [np.array(x0, dtype=float)]
    for lr in lrs:
        v = beta * v - lr * grad_f(x)
        x = x + v
        xs.append(x)
    return np.array(xs)


def _torch_formulation(grad_f, x0, lrs, beta):
    x, buf, xs = np.array(x0, dtype=float), None, [np.array(x0, dtype=float)]
    for lr in lrs:
        g = grad_f(x)
        buf = g if buf is None else beta * buf + g
        x = x - lr * buf
        xs.append(x)
    return np.array(xs)


def _classical_at_lookahead(grad_f, x0, lrs, beta):
    x, v, xs = np.array(x0, dtype=float), np.zeros(len(x0)), [np.array(x0, dtype=float)]
    for lr in lrs:
        v = beta * v - lr * grad_f(x + beta * v)
        x = x + v
        xs.append(x)
    return np.array(xs)


CLASSICAL_MISTAKES = [
    (_torch_formulation, "that is PyTorch's formulation (buf = beta buf + g; x -= lr buf). With a constant lr the "
                         "two agree, but when the lr changes they differ: the classical velocity keeps each "
                         "gradient scaled by the lr of its own step, v = beta v - lr_t g."),
    (_classical_at_lookahead, "you evaluated the gradient at the look-ahead point x + beta v: that is Nesterov's "
                              "method. Classical momentum uses the gradient at x."),
    (lambda grad_f, x0, lrs, beta: _classical(grad_f, x0, [lrs[0]] * len(lrs), beta),
     "you used the first lr for every step: use lrs[t] at step t."),
    (lambda grad_f, x0, lrs, beta: _classical(lambda x: -grad_f(x), x0, lrs, beta),
     "sign error: v = beta v - lr g (the velocity points downhill)."),
]


@task("04.classical_momentum", "Task 5: classical momentum with a changing lr")
def check_classical_momentum(classical_momentum, rng):
    for _ in range(3):
        A = random_spd(rng, d=int(rng.integers(2, 4)), kappa=float(rng.uniform(2, 20)))
        grad_f = lambda x, A=A: A @ x  # noqa: E731
        x0 = rng.normal(size=len(A))
        steps = int(rng.integers(6, 12))
        L = np.linalg.eigvalsh(A)[-1]
        lrs = list(np.where(np.arange(steps) < steps // 2, 0.5 / L, 0.1 / L))  # a step decay halfway
        beta = float(rng.uniform(0.3, 0.9))
        expected = _classical(grad_f, x0, lrs, beta)
        result = as_array(call(classical_momentum, grad_f, x0.copy(), list(lrs), beta,
                               names=("grad_f", "x0", "lrs", "beta")), what="classical_momentum")
        if result.shape != expected.shape:
            raise Fail(f"return the path, one row per iterate with x0 first: shape {expected.shape} for "
                       f"{steps} steps; yours has shape {result.shape}.")
        if not close(result, expected):
            if aliased_path(result, expected):
                raise Fail(aliased_message(result))
            why = diagnose(result, (grad_f, x0, lrs, beta), CLASSICAL_MISTAKES)
            raise Fail(why or path_difference(result, expected, "Each step: v = beta v - lr_t grad_f(x); x = x + v."))
    return "Correct: the velocity keeps each gradient at the lr of its own step."


# ---------------------------------------------------------------- task 6: conceptual
@task("04.answer_effective_lr", "Task 6: the effective step size of momentum", kind="value")
def check_answer_effective_lr(answer, rng):
    choice(answer, "c", "abcd", {
        "a": "0.1 g is the very first step (buf = g). But after many steps on the slope the buffer has grown to "
             "g (1 + 0.9 + 0.81 + ...) = g / (1 - 0.9) = 10 g, so each step moves lr * 10 g: the effective lr is "
             "10 times larger.",
        "b": "0.9 is beta, not a step size: the buffer sums g / (1 - beta) = 10 g, so steps are lr * 10 g = 1.0 g.",
        "d": "momentum makes steps larger, not smaller: the buffer converges to g / (1 - beta) = 10 g.",
    })
    return "Correct: lr / (1 - beta) = 0.1 / 0.1 = 1.0. Switching on momentum without lowering the lr is a 10x larger step."
