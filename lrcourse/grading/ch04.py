"""Checks for chapter 04: momentum and Nesterov."""

import copy

import numpy as np

from lrcourse.grading.ch02 import _spectrum, random_spd
from lrcourse.grading.core import (Fail, as_array, as_number, as_numbers, call, choice, close, diagnose,
                                   first_differing_row, task)


def _unpack(raw, what, shape):
    if raw is None:
        raise Fail(f"{what} returned None: did you forget the `return` statement?")
    if not isinstance(raw, (tuple, list)) or len(raw) != 2:
        raise Fail(f"{what} should return a pair (x_new, buf_new), for example `return x, buf`.")
    return as_array(raw[0], shape, f"the x that {what} returned"), as_array(raw[1], shape, f"the buf that {what} returned")


def _run_steps(step, names, rng, n_steps=6, mutable=(), **extra):
    """Feed the learner's step function its own outputs for a few steps; yield (t, inputs, outputs) per step.

    The learner gets copies of the inputs (and may change those named in ``mutable`` in place); the
    inputs yielded are the untouched originals, for the reference.
    """
    d = int(rng.integers(1, 5))
    x, buf = rng.normal(size=d), None
    lr, beta = float(rng.uniform(0.05, 0.5)), float(rng.uniform(0.3, 0.95))
    what = step.__name__ if hasattr(step, "__name__") else "your function"
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
            x_new, buf_new = _unpack(call(step, *copy.deepcopy(inputs), names=names, mutable=mutable), "", x.shape)
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


# ---------------------------------------------------------------- task 4: the stability limit with momentum
def _momentum_lr_limit(A, beta):
    return 2 * (1 + beta) / _spectrum(A)[1]


MOMENTUM_LIMIT_MISTAKES = [
    (lambda A, beta: 2 / _spectrum(A)[1],
     "2/L is gradient descent's limit; with momentum the steep direction follows x_(t+1) = "
     "(1 + beta - lr L) x_t - beta x_(t-1), and its roots reach -1 only at lr L = 2 (1 + beta)."),
    (lambda A, beta: 2 * (1 - beta) / _spectrum(A)[1],
     "that is the 'effective lr' argument, lr / (1 - beta) < 2/L. It holds where the gradients agree (a gentle "
     "slope), but divergence starts in the steep direction, where they alternate in sign and momentum damps "
     "them instead. From the recursion: the root -1 is reached at lr L = 2 (1 + beta)."),
    (lambda A, beta: 2 / ((1 + beta) * _spectrum(A)[1]),
     "upside down in beta: momentum lets the lr go *higher* than 2/L, to 2 (1 + beta) / L."),
    (lambda A, beta: (1 + beta) / _spectrum(A)[1], "a factor 2 is missing: the limit is 2 (1 + beta) / L, which "
                                                   "is 2/L when beta = 0."),
    (lambda A, beta: 2 * (1 + beta) / _spectrum(A)[0],
     "you used the smallest eigenvalue; the steepest direction (largest eigenvalue L) breaks first."),
    (lambda A, beta: 4 / (np.sqrt(_spectrum(A)[1]) + np.sqrt(_spectrum(A)[0])) ** 2,
     "that is Polyak's tuned lr (task 3), which is stable; the question is the largest stable lr for this beta."),
]


@task("04.momentum_lr_limit", "Task 4: the largest stable lr with momentum")
def check_momentum_lr_limit(momentum_lr_limit, rng):
    for i in range(6):
        A = random_spd(rng)
        beta = 0.0 if i == 5 else float(rng.uniform(0.1, 0.95))
        result = as_number(call(momentum_lr_limit, A.copy(), beta, names=("A", "beta")), "momentum_lr_limit")
        expected = _momentum_lr_limit(A, beta)
        if not close(result, expected, rtol=1e-6):
            why = diagnose(result, (A, beta), MOMENTUM_LIMIT_MISTAKES, rtol=1e-6)
            raise Fail(why or f"for this matrix (L = {_spectrum(A)[1]:.4g}) and beta = {beta:.3g} the limit is "
                              f"{expected:.6g}; you returned {result:.6g}. Find where a root of "
                              f"z^2 - (1 + beta - lr L) z + beta reaches size 1.")
    return ("Correct: lr < 2 (1 + beta) / L. Momentum raises the stability limit, which is how the tuned lr can "
            "exceed gradient descent's 2/L.")


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
            why = diagnose(result, (grad_f, x0, lrs, beta), CLASSICAL_MISTAKES)
            bad = first_differing_row(result, expected)
            raise Fail(why or f"your path matches up to step {bad - 1} and differs from step {bad} on: "
                              f"v = beta v - lr_t grad_f(x); x = x + v.")
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
