"""The canonical checks: right answers pass, wrong ones are named, nothing raises."""

import math

import numpy as np
import pytest

from lrcourse.grading import TASKS, check, grade_namespace, tasks_of
from lrcourse import schedules
from lrcourse.grading import ch01, ch02, ch03, ch04, ch05, ch06
from lrcourse.runs import regime_1d
from test_grading_ch07 import REFERENCES_07, WRONG_07  # chapter 07's references and a few named mistakes
from test_grading_ch08 import REFERENCES_08, WRONG_08  # chapter 08's references and a few named mistakes
from test_grading_ch09 import REFERENCES_09, WRONG_09  # chapter 09's references and a few named mistakes
from test_grading_ch10 import REFERENCES_10, WRONG_10  # chapter 10's references and its named mistakes
from test_grading_ch11 import REFERENCES_11, WRONG_11  # chapter 11's references and its named mistakes
from test_grading_ch12 import REFERENCES_12, WRONG_12  # chapter 12's references and its named mistakes
from test_grading_ch13 import ENDLESS_13, REFERENCES_13, WRONG_13  # chapter 13's
from test_grading_ch14 import ENDLESS_14, REFERENCES_14, WRONG_14  # chapter 14's

SEEDS = range(6)


def floor_vs_batch(X, y, lr, batch_sizes, steps, seed):
    """The reference measurement: from w*, fresh batches per B, the mean excess over the second half."""
    floors = np.array([e[steps // 2 + 1:].mean() for e in ch03._excess_paths(X, y, lr, batch_sizes, steps, seed)])
    return floors, ch03._slope(batch_sizes, floors)


def effective_lr_exponent(problem, lr, batch_size, steps, seeds):
    """The reference measurement of exercise 06, task 3."""
    s = ch06._accumulators(problem, lr, batch_size, steps, seeds)
    return ch06._fit(s, lr, problem.frequency)


REFERENCES = {
    "01.gd_step": ch01._gd_step,
    "01.descend": ch01._descend,
    "01.recover_quadratic": ch01._recover,
    "01.regime": regime_1d,
    "01.steps_to_reach": ch01._steps_to_reach,
    "01.lr_window": ch01._lr_window,
    "01.answer_curvatures": ch01._curvatures(),
    "02.largest_stable_lr": ch02._largest_stable_lr,
    "02.best_lr_and_rate": ch02._best,
    "02.lr_sweep": ch02._lr_sweep,
    "02.budget_window": ch02._budget_window,
    "02.hessian_condition_number": ch02._hessian_condition_number,
    "02.answer_scaling": "b",
    "03.minibatch_gradient": ch03._minibatch_gradient,
    "03.sgd": ch03._sgd,
    "03.predicted_floor": ch03._predicted_floor,
    "03.floor_vs_batch": floor_vs_batch,
    "03.scaled_lr": ch03._scaled_lr,
    "03.answer_robbins_monro": "b",
    "04.heavy_ball_step": ch04._heavy_ball_step,
    "04.nesterov_step": ch04._nesterov_step,
    "04.tuned_momentum": ch04._tuned,
    "04.best_momentum": ch04._best_momentum,
    "04.classical_momentum": ch04._classical,
    "04.answer_effective_lr": "c",
    "05.multi_step": ch05._multi_step,
    "05.end_lr_for": ch05._end_lr_for,
    "05.exponential_gamma": ch05._exponential_gamma,
    "05.my_schedule": schedules.exponential(0.1, gamma=(2e-4 / 0.1) ** (1 / 3000)),
    "05.answer_why_decay": "a",
    "05.answer_rm_budget": "a",
    "06.adagrad_step": ch06._adagrad_step,
    "06.effective_lr_after": ch06._effective_lr_after,
    "06.effective_lr_exponent": effective_lr_exponent,
    "06.answer_loss_exponent": -0.5,
    "06.answer_weakness": "b",
}
REFERENCES.update(REFERENCES_07)
REFERENCES.update(REFERENCES_08)
REFERENCES.update(REFERENCES_09)
REFERENCES.update(REFERENCES_10)
REFERENCES.update(REFERENCES_11)
REFERENCES.update(REFERENCES_12)
REFERENCES.update(REFERENCES_13)
REFERENCES.update(REFERENCES_14)


def test_every_task_has_a_reference_here():
    assert set(REFERENCES) == set(TASKS)
    assert [t.name for t in tasks_of("01")] == ["descend", "recover_quadratic", "regime", "steps_to_reach",
                                                "lr_window", "answer_curvatures"]
    assert all(4 <= len(tasks_of(chapter)) <= 6 for chapter in ("01", "02", "03", "04", "05", "06"))
    assert not TASKS["01.gd_step"].exercise  # notebook 00's demonstration, solved there: not a task of exercise 01


@pytest.mark.parametrize("task_id", list(REFERENCES))
@pytest.mark.parametrize("seed", SEEDS)
def test_reference_answers_pass(task_id, seed):
    if task_id == "05.my_schedule" and seed > 1:
        pytest.skip("a design task that trains three models: two seeds are enough")
    feedback = check(task_id, REFERENCES[task_id], seed=seed)
    assert feedback.passed, feedback
    assert feedback.points == feedback.max_points == 1.0


# ------------------------------------------------------------------ wrong answers and their diagnoses
def descend_aliased(grad_f, x0, lr, tol, max_steps):
    x = np.array(x0, dtype=float)
    xs = [x0]
    while len(xs) - 1 < max_steps and np.linalg.norm(grad_f(x)) > tol:
        x -= lr * grad_f(x)
        xs.append(x)
    return np.array(xs)


def descend_step_first(grad_f, x0, lr, tol, max_steps):
    """Takes a step before looking at the gradient: one step too many when x0 is already good enough."""
    xs = [np.array(x0, dtype=float)]
    for _ in range(max_steps):
        xs.append(xs[-1] - lr * grad_f(xs[-1]))
        if np.linalg.norm(grad_f(xs[-1])) <= tol:
            break
    return np.array(xs)


def descend_one_late(grad_f, x0, lr, tol, max_steps):
    xs = [np.array(x0, dtype=float)]
    while len(xs) - 1 < max_steps:
        g = grad_f(xs[-1])
        xs.append(xs[-1] - lr * g)
        if np.linalg.norm(g) <= tol:
            break
    return np.array(xs)


def descend_no_max_steps(grad_f, x0, lr, tol, max_steps):
    xs = [np.array(x0, dtype=float)]
    while np.linalg.norm(grad_f(xs[-1])) > tol and len(xs) < 100_000:
        xs.append(xs[-1] - lr * grad_f(xs[-1]))
    return np.array(xs)


def descend_max_steps_plus_one(grad_f, x0, lr, tol, max_steps):
    return ch01._descend(grad_f, x0, lr, tol, max_steps + 1)


def regime_exact_compare(L, lr):
    q = lr * L
    if q == 1:
        return "one step"
    if q == 2:
        return "edge"
    return "monotone" if q < 1 else ("oscillating" if q < 2 else "divergent")


def regime_compares_lr(L, lr):
    if lr == 1 / L:
        return "one step"
    if lr == 2 / L:
        return "edge"
    return "monotone" if lr < 1 / L else ("oscillating" if lr < 2 / L else "divergent")


def steps_floor(L, lr, x0, tol):
    if abs(x0) <= tol:
        return 0
    f = abs(1 - lr * L)
    if f == 0:
        return 1
    if f >= 1:
        return math.inf
    return math.floor(math.log(tol / abs(x0)) / math.log(f))


def steps_no_abs(L, lr, x0, tol):
    if abs(x0) <= tol:
        return 0
    if lr * L >= 2:
        return math.inf
    if lr * L == 1:
        return 1
    return math.ceil(math.log(tol / abs(x0)) / math.log(1 - lr * L))


def steps_none_for_divergent(L, lr, x0, tol):
    if abs(1 - lr * L) >= 1:
        return None
    return ch01._steps_to_reach(L, lr, x0, tol)


def steps_log_zero(L, lr, x0, tol):
    """Forgets the one-step case: log(0) raises at lr = 1/L."""
    if abs(x0) <= tol:
        return 0
    factor = abs(1 - lr * L)
    if factor >= 1:
        return math.inf
    return math.ceil(math.log(tol / abs(x0)) / math.log(factor))


def recover_min_at_zero(xs, lr):
    return (1 - xs[1] / xs[0]) / lr, 0.0


def recover_abs(xs, lr):
    q = abs((xs[2] - xs[1]) / (xs[1] - xs[0]))
    return (1 - q) / lr, ch01._recover(xs, lr)[1]


def sweep_not_reset(f, grad_f, x0, lrs, steps):
    return ch02._sweep_not_reset(f, grad_f, x0, lrs, steps)


def sweep_nan(f, grad_f, x0, lrs, steps):
    out = []
    for lr in lrs:
        x = np.array(x0, dtype=float)
        for _ in range(steps):
            x = x - lr * grad_f(x)
        out.append(f(x))
    return np.array(out)


def sweep_short(f, grad_f, x0, lrs, steps):
    return ch02._lr_sweep(f, grad_f, x0, lrs, steps - 1)


def regime_strict_first(L, lr):
    """Uses a tolerance, but tests q < 1 (and q < 2) before it."""
    q = lr * L
    if q < 1:
        return "monotone"
    if np.isclose(q, 1):
        return "one step"
    if q < 2:
        return "oscillating"
    if np.isclose(q, 2):
        return "edge"
    return "divergent"


def regime_never_edge(L, lr):
    q = lr * L
    if np.isclose(q, 1):
        return "one step"
    return "monotone" if q < 1 else ("oscillating" if q < 2 else "divergent")


def regime_loose(L, lr):
    q = lr * L
    if abs(q - 1) < 0.1:
        return "one step"
    if abs(q - 2) < 0.1:
        return "edge"
    return "monotone" if q < 1 else ("oscillating" if q < 2 else "divergent")


def steps_edge_gt(L, lr, x0, tol):
    """`factor > 1` instead of `>=`: log(1) = 0 at lr = 2/L."""
    if abs(x0) <= tol:
        return 0
    factor = abs(1 - lr * L)
    if factor == 0:
        return 1
    if factor > 1:
        return math.inf
    return math.ceil(math.log(tol / abs(x0)) / math.log(factor))


def steps_log_without_abs(L, lr, x0, tol):
    if abs(x0) <= tol:
        return 0
    factor = abs(1 - lr * L)
    if factor == 0:
        return 1
    if factor >= 1:
        return math.inf
    return math.ceil(math.log(tol / x0) / math.log(factor))


def steps_compare_without_abs(L, lr, x0, tol):
    if x0 <= tol:
        return 0
    return ch01._steps_to_reach(L, lr, x0, tol)


def steps_round(L, lr, x0, tol):
    if abs(x0) <= tol:
        return 0
    factor = abs(1 - lr * L)
    if factor == 0:
        return 1
    if factor >= 1:
        return math.inf
    return round(math.log(tol / abs(x0)) / math.log(factor))


def descend_max_entry(grad_f, x0, lr, tol, max_steps):
    xs = [np.array(x0, dtype=float)]
    while len(xs) - 1 < max_steps and np.max(np.abs(grad_f(xs[-1]))) > tol:
        xs.append(xs[-1] - lr * grad_f(xs[-1]))
    return np.array(xs)


def descend_sum_abs(grad_f, x0, lr, tol, max_steps):
    xs = [np.array(x0, dtype=float)]
    while len(xs) - 1 < max_steps and np.sum(np.abs(grad_f(xs[-1]))) > tol:
        xs.append(xs[-1] - lr * grad_f(xs[-1]))
    return np.array(xs)


def recover_inverted_ratio(xs, lr):
    xs = np.asarray(xs, dtype=float)
    q = (xs[1] - xs[0]) / (xs[2] - xs[1])
    return (1 - q) / lr, xs[0] + (xs[1] - xs[0]) / (1 - q)


def recover_needs_an_array(xs, lr):
    d = xs[1:] - xs[:-1]          # fine on a numpy array, a TypeError on a list
    q = d[1] / d[0]
    return (1 - q) / lr, xs[0] + d[0] / (1 - q)


def budget_no_empty_check(A, R, tol, steps):
    e = np.linalg.eigvalsh(A)
    r = (tol / R) ** (1 / steps)
    return (1 - r) / e[0], (1 + r) / e[-1]


def budget_with(lo_curvature, hi_curvature, root=True, steps_shift=0, use_R=True):
    def window(A, R, tol, steps):
        e = np.linalg.eigvalsh(A)
        ratio = tol / R if use_R else tol
        r = ratio ** (1 / (steps + steps_shift)) if root else ratio
        lo, hi = (1 - r) / e[lo_curvature], (1 + r) / e[hi_curvature]
        return (lo, hi) if lo <= hi else None
    return window


def sgd_aliased(X, y, w0, lr, batch_size, steps, rng):
    w = np.array(w0, dtype=float)
    ws = [w]
    for _ in range(steps):
        idx = rng.integers(0, len(X), batch_size)
        w -= lr * X[idx].T @ (X[idx] @ w - y[idx]) / batch_size
        ws.append(w)
    return np.array(ws)


def classical_aliased(grad_f, x0, lrs, beta):
    x, v = np.array(x0, dtype=float), np.zeros(len(x0))
    xs = [x]
    for lr in lrs:
        v = beta * v - lr * grad_f(x)
        x += v
        xs.append(x)
    return np.array(xs)


def heavy_ball_no_dampening(x, buf, grad, lr, beta, dampening=0.0):
    buf = grad.copy() if buf is None else beta * buf + grad
    return x - lr * buf, buf


def heavy_ball_swapped(x, buf, grad, lr, beta, dampening=0.0):
    return ch04._heavy_ball_step(x, buf, grad, lr, beta, dampening)[::-1]


def trace_sigma_at(X, y, w):
    G = X * (X @ w - y)[:, None]
    return np.mean(np.sum(G ** 2, axis=1))


def multi_step_late(lr, milestones, gamma):
    return lambda t: lr * gamma ** sum(t > m for m in milestones)


def multi_step_stateful(lr, milestones, gamma):
    """Multiplies its lr as it goes: right only when the steps are asked for in order, once each."""
    state = {"lr": lr}

    def schedule(t):
        if t in milestones:
            state["lr"] *= gamma
        return state["lr"]
    return schedule


def best_from_unsorted_eig(A):
    values = np.linalg.eig(A)[0]
    mu, L = values[0], values[-1]
    return 2 / (mu + L), (L / mu - 1) / (L / mu + 1)


def best_without_abs(A):
    values = np.linalg.eigvalsh(A)
    lr = 2 / (values[0] + values[-1])
    return lr, 1 - lr * values[-1]


def floor_variant(start="w*", window="half", subtract=True, fit=None):
    def measure(X, y, lr, batch_sizes, steps, seed):
        excess = ch03._excess_paths(X, y, lr, batch_sizes, steps, seed, start=start)
        if not subtract:
            f_star = ch03._loss(X, y, np.linalg.lstsq(X, y, rcond=None)[0])[0]
            excess = [e + f_star for e in excess]
        floors = np.array([e[-1] if window == "last" else e.mean() if window == "all" else e[steps // 2:].mean()
                           for e in excess])
        return floors, (fit or ch03._slope)(batch_sizes, floors)
    return measure


def heavy_ball_aliased_in_place(x, buf, grad, lr, beta, dampening=0.0):
    if buf is None:
        buf = grad  # no copy
    else:
        buf *= beta
        buf += (1 - dampening) * grad
    return x - lr * buf, buf


WRONG = {
    "01.gd_step": [
        (lambda x, g, lr: x + lr * g, "up* the slope"),
        (lambda x, g, lr: x - g, "learning rate is missing"),
        (lambda x, g, lr: x - lr, "subtracted the learning rate itself"),
        (lambda x, g, lr: -lr * g, "not the new point"),
        (lambda x, g, lr: x - g / lr, "divided by the learning rate"),
        (lambda x, g, lr: np.array([1.0, 2.0]), "shape"),  # a hard-coded answer
    ],
    "01.descend": [
        (ch01._descend_uphill, "goes uphill"),
        (ch01._descend_fixed_gradient, "gradient at the start"),
        (ch01._descend_stop_on_x, "x itself was small"),
        (ch01._descend_stop_on_step, "the step lr * grad was small"),
        (descend_max_entry, "largest entry"),
        (descend_sum_abs, "sum of absolute values"),
        (descend_aliased, "rows 1 to the end of your path all equal the last point"),
        (descend_step_first, "no step is needed"),
        (descend_one_late, "one step too many"),
        (descend_no_max_steps, "goes on past where it should stop"),
        (descend_max_steps_plus_one, "one step too many"),
        (lambda g, x0, lr, tol, m: ch01._descend(g, x0, lr, tol, m)[-1], "only the final point"),
    ],
    "01.recover_quadratic": [
        (recover_min_at_zero, "holds only when the minimum is at 0"),
        (recover_abs, "*size* of the factor"),
        (lambda xs, lr: (ch01._recover(xs, lr)[0], xs[-1]), "the last iterate"),
        (lambda xs, lr: ch01._recover(xs, lr)[::-1], "(x_star, L)"),
        (lambda xs, lr: (-ch01._recover(xs, lr)[0], ch01._recover(xs, lr)[1]), "sign error: the factor"),
        (lambda xs, lr: (ch01._recover(xs, lr)[0], float(np.mean(xs))), "mean of the iterates"),
        (lambda xs, lr: ch01._recover(xs, lr)[0], "return 2 numbers"),
        (recover_inverted_ratio, "your ratio is upside down"),
        (recover_needs_an_array, "not when it is a Python list"),
    ],
    "01.regime": [
        (regime_exact_compare, "compare with a tolerance"),
        (regime_compares_lr, "rather than lr with"),
        (lambda L, lr: regime_1d(1.0, lr), "leaving out L"),
        (lambda L, lr: regime_1d(L, lr / 2), "twice too large"),
        (lambda L, lr: regime_1d(L, lr).title(), "lower case"),
        (regime_strict_first, "before its tolerance test"),
        (regime_never_edge, "never returns 'edge'"),
        (regime_loose, "your tolerance is too loose"),
        (lambda L, lr: 1, "return one of the strings"),
    ],
    "01.steps_to_reach": [
        (steps_floor, "one step short"),
        (steps_no_abs, "use log(abs(1 - lr * L))"),
        (steps_none_for_divergent, "return math.inf"),
        (steps_log_zero, "so return 1"),
        (lambda L, lr, x0, tol: ch01._steps_to_reach(L, lr, x0, tol) + 1, "one step too many"),
        (steps_edge_gt, "test factor >= 1, not factor > 1"),
        (steps_log_without_abs, "use log(tol / abs(x0))"),
        (steps_compare_without_abs, "compare abs(x0) with tol"),
        (steps_round, "rounded to the nearest whole number"),
    ],
    "01.lr_window": [
        (lambda L, x0, tol, s: (ch01._lr_window(L, x0, tol, s)[0], 2 / L), "the edge of stability"),
        (lambda L, x0, tol, s: (ch01._lr_window(L, x0, tol, s)[0], 1 / L), "upper end is 1/L"),
        (lambda L, x0, tol, s: ch01._lr_window(L, 1.0, tol, s), "x0 is missing"),
        (lambda L, x0, tol, s: ch01._lr_window(L, x0, tol, 1), "a root"),
        (lambda L, x0, tol, s: ch01._lr_window(L, x0, tol, s + 1), "off by one"),
        (lambda L, x0, tol, s: ch01._lr_window(L, x0, tol, s)[::-1], "(hi, lo)"),
        (lambda L, x0, tol, s: ch01._lr_window(L, x0, tol, s)[1], "return 2 numbers"),
        (lambda L, x0, tol, s: (lambda r: ((1 - r) / L, (1 + r) / L))((tol / x0) ** (1 / s)), "use abs(x0)"),
    ],
    "01.answer_curvatures": [
        ((ch01._curvatures()[0],), "not the only L"),
        ((ch01._curvatures()[1],), "not the only L"),
        (ch01._curvatures(square=False), "*square*"),
        (ch01._curvatures(per_step_factor=math.exp(-0.2)), "a decade is a factor 10"),
        ((90.0, 110.0), "over the 10 steps"),
        ((20.0, 50.0), "does not fit"),
        ((20.6, 179.0), "not precise enough"),
        ("twenty", "tuple of numbers"),
    ],
    "02.largest_stable_lr": [
        (lambda A: 1 / np.linalg.eigvalsh(A).max(), "that is 1/L"),
        (lambda A: 2 / np.linalg.eigvalsh(A).min(), "smallest eigenvalue"),
        (lambda A: 2 / np.linalg.norm(A), "Frobenius norm"),
        (lambda A: 2 / np.diag(A).max(), "largest entry of A"),
        (lambda A: 2 / A.max(), "largest entry of A"),
        (lambda A: 2 / np.abs(A).max(), "largest entry of A"),
        (lambda A: 2 / np.trace(A), "trace"),
        (lambda A: 2 / np.linalg.eig(A)[0][-1], "no particular order"),
        (lambda A: 2 / np.linalg.eigvals(A)[0], "no particular order"),
    ],
    "02.best_lr_and_rate": [
        (lambda A: ch02._best(A)[::-1], "(rate, lr)"),
        (lambda A: (1 / np.linalg.eigvalsh(A)[-1], 1 - np.linalg.eigvalsh(A)[0] / np.linalg.eigvalsh(A)[-1]),
         "lr = 1/L makes the steep factor"),
        (lambda A: (ch02._best(A)[0], 1 - np.linalg.eigvalsh(A)[0] / np.linalg.eigvalsh(A)[-1]), "not 1 - 1/kappa"),
        (best_without_abs, "take the absolute value"),
        (best_from_unsorted_eig, "no particular order"),
        (lambda A: (1 / np.linalg.eigvalsh(A)[0], np.linalg.eigvalsh(A)[-1] / np.linalg.eigvalsh(A)[0] - 1),
         "that lr diverges"),
        (lambda A: ((1 / np.linalg.eigvalsh(A)[0] + 1 / np.linalg.eigvalsh(A)[-1]) / 2, 0.5), "mean of 1/mu and 1/L"),
        (lambda A: ch02._best(A)[0], "return 2 numbers"),
        (lambda A: (ch02._best(A)[0], ch02._best(A)[1] ** 2), "the square of the rate"),
        (lambda A: (ch02._best(A)[0], ch04._tuned(A)[2]), "heavy ball"),
        (lambda A: (ch02._best(A)[0], 0.5), "your lr is right"),
    ],
    "02.lr_sweep": [
        (sweep_not_reset, "start again from x0"),
        (sweep_nan, "NaN"),
        (sweep_short, "off by one"),
        (lambda f, g, x0, lrs, steps: [f(x0)] * len(lrs), "loss at the start"),
        (lambda f, g, x0, lrs, steps: ch02._lr_sweep(f, g, x0, lrs, steps)[:-1], "one final loss per lr"),
    ],
    "02.budget_window": [
        (budget_no_empty_check, "return None"),
        (budget_with(-1, -1), "L for both ends"),
        (budget_with(0, 0), "mu for both ends"),
        (budget_with(-1, 0), "*some* direction"),
        (budget_with(0, -1, root=False), "steps-th root"),
        (budget_with(0, -1, use_R=False), "R is missing"),
        (budget_with(0, -1, steps_shift=1), "off by one"),
        (lambda A, R, tol, steps: (lambda w: w and w[::-1])(ch02._budget_window(A, R, tol, steps)), "(hi, lo)"),
        (lambda A, R, tol, steps: (lambda w: w and (w[0], 2 / np.linalg.eigvalsh(A)[-1]))(
            ch02._budget_window(A, R, tol, steps)), "stable is not enough"),
        (lambda A, R, tol, steps: (lambda e, r: ((1 - r) / e[0], (1 + r) / e[-1]))(
            np.linalg.eig(A)[0], (tol / R) ** (1 / steps)), "no particular order"),
        (lambda A, R, tol, steps: None, "returned None every time"),
        (lambda A, R, tol, steps: (), "not an empty tuple"),
    ],
    "02.hessian_condition_number": [
        (lambda X: np.linalg.cond(X), "square root"),
        (lambda X: np.linalg.eigvalsh(X.T @ X)[0] / np.linalg.eigvalsh(X.T @ X)[-1], "upside down"),
        (lambda X: np.max(np.diag(X.T @ X)) / np.min(np.diag(X.T @ X)), "diagonal entries"),
        (lambda X: np.linalg.cond(X @ X.T), "wrong product"),
        (lambda X: (lambda e: e[-1] / e[0])(np.linalg.eigvalsh(X @ X.T / len(X))), "wrong product"),
        (lambda X: (lambda e: e[-1] / e[0])(np.linalg.eigvals(X.T @ X / len(X))), "no particular order"),
        (lambda X: (lambda e: e[0] / e[-1])(np.linalg.eig(X.T @ X)[0]), "no particular order"),
    ],
    "02.answer_scaling": [("a", "minimum value of the loss"), ("c", "not invariant"), ("d", "predictions"),
                          ("", "answer with one of the letters"), ("ab", "a single letter"),
                          ("abcd", "a single letter")],
    "03.minibatch_gradient": [
        (lambda X, y, w, idx: X[idx].T @ (X[idx] @ w - y[idx]) / len(X), "divided by n"),
        (lambda X, y, w, idx: X[idx].T @ (X[idx] @ w - y[idx]), "without averaging"),
        (lambda X, y, w, idx: X[idx].T @ (y[idx] - X[idx] @ w) / len(idx), "sign error"),
        (lambda X, y, w, idx: X.T @ (X @ w - y) / len(X), "full-data gradient"),
        (lambda X, y, w, idx: (lambda u: X[u].T @ (X[u] @ w - y[u]) / len(u))(np.unique(idx)), "repeated rows"),
    ],
    "03.sgd": [
        (ch03._sgd_one_batch, "one batch"),
        (ch03._full_batch, "full-batch"),
        (ch03._sgd_without_replacement, "with replacement"),
        (lambda X, y, w0, lr, B, steps, rng: ch03._sgd(X, y, w0, lr, B, steps, rng)[-1], "only the final point"),
        (sgd_aliased, "rows 1 to the end of your path all equal the last point"),
        (lambda X, y, w0, lr, B, steps, rng: ch03._sgd(X, y, -w0, lr, B, steps, rng), "the first row of your path"),
    ],
    "03.predicted_floor": [
        (lambda X, y, lr, B: lr * trace_sigma_at(X, y, np.zeros(X.shape[1])) / (4 * B), "at w = 0"),
        (lambda X, y, lr, B: (lambda r: lr * np.mean(r ** 2) * np.trace(X.T @ X / len(X)) / (4 * B))(
            X @ np.linalg.lstsq(X, y, rcond=None)[0] - y), "as if the residuals did not depend on x"),
        (lambda X, y, lr, B: lr * np.trace(np.cov(X.T)) / (4 * B), "covariance of the features"),
        (lambda X, y, lr, B: lr * ch03._trace_sigma(X, y) / 4, "batch size is missing"),
        (lambda X, y, lr, B: lr * ch03._trace_sigma(X, y) / (2 * B), "factor 2"),
        (lambda X, y, lr, B: lr ** 2 * ch03._trace_sigma(X, y) / (4 * B), "not lr^2"),
        (lambda X, y, lr, B: lr * ch03._trace_sigma(X, y) / (4 * B ** 0.5), "not 1/sqrt(B)"),
        (lambda X, y, lr, B: lr * ch03._trace_sigma(X, y) * len(X) / (4 * B), "instead of averaging"),
        (lambda X, y, lr, B: lr * ch03._trace_sigma(X, y) / (4 * B ** 2), "divided by B twice"),
    ],
    "03.floor_vs_batch": [
        (floor_variant(start="zero"), "you started at w = 0"),
        (floor_variant(start="zero", window="all"), "you measured too early"),
        (floor_variant(window="all"), "you averaged over the whole run"),
        (floor_variant(window="last"), "last iterate only"),
        (floor_variant(subtract=False), "still contain f(w*)"),
        (floor_variant(fit=lambda B, f: 1 / ch03._slope(B, f)), "not the other way round"),
        (floor_variant(fit=lambda B, f: np.polyfit(B, f, 1)[0]), "linear axes"),
        (floor_variant(fit=lambda B, f: np.polyfit(B, np.log(f), 1)[0]), "but not of B"),
        (floor_variant(fit=lambda B, f: np.polyfit(np.log(f), np.log(B), 1)[0]), "the axes are swapped"),
        (lambda X, y, lr, B, steps, seed: (floor_vs_batch(X, y, lr, B, steps, seed)[0], np.array([-1.0, 0.0])),
         "`floor_vs_batch` returned a numpy array of length 2 as the exponent p"),
        (lambda X, y, lr, B, steps, seed: (np.float64(1.0), -1.0), "returned an array of shape () as the floors"),
        (lambda X, y, lr, B, steps, seed: floor_vs_batch(X, y, lr, B, steps, seed)[1], "return a pair"),
    ],
    "03.scaled_lr": [
        (lambda lr, b0, b, m: lr * b / b0, "no cap"),
        (lambda lr, b0, b, m: min(lr * b0 / b, m), "upside down"),
        (lambda lr, b0, b, m: min(lr * (b / b0) ** 0.5, m), "square-root rule"),
    ],
    "03.answer_robbins_monro": [("a", "noise never dies"), ("c", "finite distance"), ("d", "not damped enough")],
    "04.heavy_ball_step": [
        (ch04._zero_init, "(1 - dampening) * grad"),
        (ch04._moving_average, "exponential moving average"),
        (lambda x, buf, g, lr, beta, d=0.0: (x + lr * ch04._heavy_ball_step(x, buf, g, lr, beta, d)[1],
                                             ch04._heavy_ball_step(x, buf, g, lr, beta, d)[1]), "sign error"),
        (lambda x, buf, g, lr, beta, d=0.0: (x - lr * (g if buf is None else buf),
                                             ch04._heavy_ball_step(x, buf, g, lr, beta, d)[1]), "old buffer"),
        (heavy_ball_aliased_in_place, "overwrites the caller's gradient"),
        (lambda x, buf, g, lr, beta, d=0.0: x - lr * g, "should return a pair"),
        (heavy_ball_no_dampening, "left out the dampening"),
        (heavy_ball_swapped, "(buf_new, x_new)"),
    ],
    "04.nesterov_step": [
        (lambda x, buf, g, lr, beta: ch04._heavy_ball_step(x, buf, g, lr, beta), "without the look-ahead"),
        (lambda x, buf, g, lr, beta: (x - lr * (1 + beta) * ch04._nesterov_step(x, buf, g, lr, beta)[1],
                                      ch04._nesterov_step(x, buf, g, lr, beta)[1]), "to the *gradient*"),
        (lambda x, buf, g, lr, beta: (x + lr * (g + beta * ch04._nesterov_step(x, buf, g, lr, beta)[1]),
                                      ch04._nesterov_step(x, buf, g, lr, beta)[1]), "sign error"),
    ],
    "04.tuned_momentum": [
        (lambda A: (ch04._tuned(A)[0], ch04._tuned(A)[2], ch04._tuned(A)[2]), "*square* of the rate"),
        (lambda A: (2 / sum(ch04._spectrum(A)), *ch04._tuned(A)[1:]), "gradient descent's best lr"),
        (lambda A: (*ch04._tuned(A)[:2], ch02._best(A)[1]), "uses sqrt(kappa)"),
        (lambda A: ch04._tuned(A)[:2], "return 3 numbers"),
        (lambda A: (ch04._tuned(A)[0], ch04._tuned(A)[2], ch04._tuned(A)[1]), "(lr, rate, beta)"),
    ],
    "04.best_momentum": [
        (lambda A, lr: ch04._tuned(A)[1:], "Polyak's beta"),
        (lambda A, lr: ch04._best_momentum(A, lr)[::-1], "(rate, beta)"),
        (lambda A, lr: (ch04._best_momentum(A, lr)[0],) * 2, "not beta itself"),
        (lambda A, lr: ch04._best_for(lr, np.linalg.eigvalsh(A)[-1]), "steep direction only"),
        (lambda A, lr: ch04._best_for(lr, np.linalg.eigvalsh(A)[0]), "flat direction only"),
        (lambda A, lr: min(ch04._best_for(lr, c) for c in np.linalg.eigvalsh(A)[[0, -1]]), "the smaller of the two"),
        (lambda A, lr: (lambda b: (b, b ** 0.5))(max((1 - lr * c) ** 2 for c in np.linalg.eigvalsh(A)[[0, -1]])),
         "with the square root of lr c"),
        (lambda A, lr: ch04._best_momentum(A, lr)[0], "return 2 numbers"),
    ],
    "04.classical_momentum": [
        (ch04._torch_formulation, "PyTorch's formulation"),
        (ch04._classical_at_lookahead, "Nesterov"),
        (lambda grad_f, x0, lrs, beta: ch04._classical(grad_f, x0, [lrs[0]] * len(lrs), beta), "first lr"),
        (lambda grad_f, x0, lrs, beta: ch04._classical(lambda x: -grad_f(x), x0, lrs, beta), "sign error"),
        (classical_aliased, "rows 1 to the end of your path all equal the last point (the first row too)"),
    ],
    "04.answer_effective_lr": [("a", "after many steps on the slope"), ("b", "not a step size"),
                               ("d", "not smaller")],
    "05.multi_step": [
        (multi_step_late, "one step late"),
        (lambda lr, m, g: (lambda t: lr * g ** sum(t + 1 >= k for k in m)), "one step early"),
        (lambda lr, m, g: (lambda t: lr * g if t >= m[0] else lr), "drops once"),
        (lambda lr, m, g: (lambda t: lr * g ** (t // m[0])), "step decay with step_size"),
        (lambda lr, m, g: (lambda t: lr * g * sum(t >= k for k in m) if t >= m[0] else lr), "gamma times the number"),
        (multi_step_stateful, "keeps state between calls"),
        (lambda lr, m, g: [lr * g ** sum(t >= k for k in m) for t in range(m[-1] + 20)], "returned a list ([0."),
        (lambda lr, m, g: lr, "returned a float"),
    ],
    "05.end_lr_for": [
        (lambda f, s, B: 4 * f / s, "batch size is missing"),
        (lambda f, s, B: 4 * f / (B * s), "wrong side"),
        (lambda f, s, B: 2 * B * f / s, "factor 2"),
        (lambda f, s, B: s / (4 * B * f), "upside down"),
        (lambda f, s, B: f * s / (4 * B), "floor of an lr equal to the target"),
        (lambda f, s, B: (4 * B * f / s) ** 0.5, "no square root"),
    ],
    "05.exponential_gamma": [
        (lambda lr, f, T: (f / lr) ** (1 / (T - 1)), "off by one"),
        (lambda lr, f, T: (lr / f) ** (1 / T), "upside down"),
        (lambda lr, f, T: 1 - (1 - f / lr) / T, "does not compound"),
        (lambda lr, f, T: (f / lr) / T, "T-th root"),
    ],
    "05.my_schedule": [
        (schedules.constant(0.1), "decay it by the end"),
        (lambda t: 0.1 if t == 0 else 0.01, "for the first 30 steps"),
        (schedules.exponential(0.1, 0.9), "keep the lr up longer"),
        (schedules.constant(0.05), "must be 0.1"),
        (lambda t: 0.1 if t < 100 else 3.0, "diverged"),
        (schedules.cosine, "call the factory"),
        (schedules.constant, "my_schedule(0) returned a function"),
        (schedules.multi_step(0.1, [2400], 0.01), "dropped too late to settle; decay earlier"),
        (lambda t: np.array([0.1]), "decay it by the end"),  # a 1-element array is read as the number it holds
        (lambda t: np.array([0.1, 0.1]), "numpy array of length 2 as the lr of step 0"),
    ],
    "05.answer_why_decay": [("b", "does not depend on the lr"), ("c", "batch size stays"),
                            ("d", "smaller* steps")],
    "05.answer_rm_budget": [("b", "it does satisfy both conditions"), ("c", "far below the target"),
                            ("d", "it does not diverge")],
}

def adagrad_variant(**change):
    return lambda x, s, grad, lr, t, lr_decay=0.0, weight_decay=0.0, eps=1e-10: ch06._variant(**change)(
        x, s, grad, lr, t, lr_decay, weight_decay, eps)


def effective_formula(total):
    """An effective lr lr / (sqrt(s0 + total(t, g0, q)) + eps), with the constant-size case kept right."""
    def effective_lr_after(t, g0, q, lr, s0=0.0, eps=1e-10):
        if q * q == 1:
            return lr / (math.sqrt(s0 + t * g0 * g0) + eps)
        return lr / (math.sqrt(s0 + total(t, g0, q)) + eps)
    return effective_lr_after


def exponent_variant(**options):
    def measure(problem, lr, batch_size, steps, seeds):
        return ch06._fit(ch06._accumulators(problem, lr, batch_size, steps, seeds), lr, problem.frequency, **options)
    return measure


WRONG.update({
    "06.adagrad_step": [
        (adagrad_variant(eps_inside=True), "outside the square root"),
        (adagrad_variant(square=False), "*squared* gradient"),
        (adagrad_variant(old_s=True), "old accumulator"),
        (adagrad_variant(root=False), "square root is missing"),
        (adagrad_variant(sign=-1), "sign error"),
        (adagrad_variant(accumulate=False), "*sums* the squares"),
        (adagrad_variant(decay="t"), "counts from the second step"),
        (adagrad_variant(decay="geometric"), "not a factor per step"),
        (adagrad_variant(weight_decay="none"), "weight_decay is missing"),
        (adagrad_variant(weight_decay="after"), "*before* the accumulator"),
        (adagrad_variant(weight_decay="decoupled"), "decoupled weight decay"),
        (lambda *args: ch06._adagrad_step(*args)[::-1], "(s_new, x_new)"),
        (lambda x, s, grad, lr, t, lr_decay=0.0, weight_decay=0.0, eps=1e-10: x - lr * grad, "should return a pair"),
    ],
    "06.effective_lr_after": [
        (effective_formula(lambda t, g, q: g * g * (1 - q ** t) / (1 - q)), "ratio q^2, not q"),
        (effective_formula(lambda t, g, q: g * g * (1 - q ** (2 * t - 2)) / (1 - q * q)), "off by one"),
        (effective_formula(lambda t, g, q: g * g / (1 - q * q)), "the limit for t -> infinity"),
        (effective_formula(lambda t, g, q: abs(g) * (1 - q ** (2 * t)) / (1 - q * q)), "*squared* gradients"),
        (lambda t, g, q, lr, s0=0.0, eps=1e-10: lr / (math.sqrt(s0 + t * g * g) + eps), "constant gradient"),
        (lambda t, g, q, lr, s0=0.0, eps=1e-10: ch06._effective_lr_after(t, g, q, lr, 0.0, eps), "s0 is missing"),
        (lambda t, g, q, lr, s0=0.0, eps=1e-10: lr / math.sqrt(s0 + ch06._accumulated(t, g, q) + eps),
         "outside the square root"),
        (lambda t, g, q, lr, s0=0.0, eps=1e-10: lr / (math.sqrt(s0 + g * g * (1 - q ** (2 * t)) / (1 - q * q)) + eps),
         "Treat q^2 = 1 apart"),
    ],
    "06.effective_lr_exponent": [
        (exponent_variant(swap=True), "axes are swapped"),
        (exponent_variant(x="index"), "feature's index"),
        (exponent_variant(intercept=True), "kept the intercept"),
        (exponent_variant(y="s"), "accumulator s itself"),
        (exponent_variant(xlog=np.log10), "mixed the bases"),
        (exponent_variant(average=0), "first seed's run only"),
        (exponent_variant(x="linear", y="linear"), "linear axes"),
        (exponent_variant(absent=True), "never appears in its training data"),
    ],
    "06.answer_loss_exponent": [(0.0, "stays on a floor"), (-1.0, "1/t"), (-0.25, "not to its square root"),
                                (0.5, "loss grows"), (-3.0, "faster than 1/t"), (-0.7, "combine two results"),
                                ("-1/2", "not the string"), ([-0.5], "one number")],
    "06.answer_weakness": [("a", "the opposite"), ("c", "exactly what AdaGrad cures"), ("d", "at most lr"),
                           ("", "answer with one of the letters")],
})

WRONG.update(WRONG_07)  # tests/test_grading_ch07.py runs every named mistake of chapter 07
WRONG.update(WRONG_08)  # tests/test_grading_ch08.py runs every named mistake of chapter 08
WRONG.update(WRONG_09)  # tests/test_grading_ch09.py runs every named mistake of chapter 09
WRONG.update(WRONG_10)  # chapter 10's catalogues of mistakes
WRONG.update(WRONG_11)  # chapter 11's catalogues of mistakes, each with its message
WRONG.update(WRONG_12)  # chapter 12's catalogues of mistakes
WRONG.update(WRONG_13)
WRONG.update(WRONG_14)

WRONG_CASES = [pytest.param(task_id, i, id=f"{task_id}-{i}") for task_id, wrongs in WRONG.items()
               for i in range(len(wrongs))]


def test_at_least_three_diagnosed_mistakes_per_task():
    for task_id in TASKS:
        diagnosed = [w for w in WRONG[task_id] if w[1]]
        assert len(diagnosed) >= 3, task_id


@pytest.mark.parametrize("task_id, index", WRONG_CASES)
def test_wrong_answers_are_rejected_with_the_right_diagnosis(task_id, index):
    wrong, expected = WRONG[task_id][index]
    for seed in range(3 if task_id != "05.my_schedule" else 1):
        feedback = check(task_id, wrong, seed=seed)
        assert feedback.status == "failed", f"{task_id}: a wrong answer passed (seed {seed})"
        assert expected.lower() in feedback.message.lower(), f"{task_id}: expected {expected!r} in: {feedback.message}"
        assert feedback.points == 0


# ------------------------------------------------------------------ robustness: never a traceback
def raises(*args):
    return 1 / 0


def returns_nan(*args):
    return np.full(np.shape(args[0]), np.nan)


def returns_none(*args):
    pass


def returns_text(*args):
    return "x - lr * grad"


def mutates_first(*args):
    args[0][...] = 0
    return args[0]


def loops_forever(*args):
    while True:
        pass


def placeholder(*args):
    raise NotImplementedError("your code here")


FUNCTION_TASKS = [t for t in TASKS if TASKS[t].kind == "function" and t != "05.my_schedule"]


@pytest.mark.parametrize("task_id", FUNCTION_TASKS)
@pytest.mark.parametrize("answer, words", [
    (raises, ["raised ZeroDivisionError: division by zero"]),
    (returns_none, ["returned None: did you forget the `return`", "returned None every time: did you forget the `return`"]),
    (returns_text, ["a string", "the names are", "return 2 numbers", "return 3 numbers",
                    "should return a pair", "not an array", "return a pair"]),
    (placeholder, ["Not attempted yet"]),
    (None, ["Not attempted yet"]),
    (42, ["expected a function, but got an int"]),
])
def test_broken_answers_get_feedback_not_tracebacks(task_id, answer, words):
    feedback = check(task_id, answer, seed=0)
    assert not feedback.passed
    assert feedback.status in ("failed", "not attempted")
    assert any(w.lower() in feedback.message.lower() for w in words), feedback.message


def test_answers_are_read_generously():
    """Spaces and capitals around a multiple-choice letter are not mistakes."""
    assert check("02.answer_scaling", " B ").passed
    assert check("01.answer_curvatures", [179.43, 20.57]).passed  # either order, rounded to 4 digits


def test_the_line_that_raised_is_named():
    def gd_step(x, grad, lr):
        y = x - lr * grad
        return y[10]

    feedback = check("01.gd_step", gd_step, seed=0)
    assert "IndexError" in feedback.message and "return y[10]" in feedback.message


@pytest.mark.parametrize("task_id", ["01.gd_step", "02.budget_window", "02.largest_stable_lr"])
def test_nan_and_mutation_are_named(task_id):
    nan = {"gd_step": returns_nan, "budget_window": lambda A, R, tol, steps: (np.nan, np.nan),
           "largest_stable_lr": lambda A: float("nan")}[TASKS[task_id].name]
    assert "NaN" in check(task_id, nan, seed=0).message
    assert "in place" in check(task_id, mutates_first, seed=0).message


@pytest.mark.parametrize("task_id, answer", [
    ("01.descend", lambda g, x0, lr, tol, m: np.full((3, len(x0)), np.nan)),
    ("01.recover_quadratic", lambda xs, lr: (float("nan"), 0.0)),
    ("01.lr_window", lambda L, x0, tol, steps: (float("nan"), 1.0)),
    ("03.floor_vs_batch", lambda X, y, lr, B, steps, seed: (np.full(len(B), np.nan), -1.0)),
    ("04.best_momentum", lambda A, lr: (float("nan"), 0.5)),
])
def test_nan_from_the_newer_tasks_is_named(task_id, answer):
    feedback = check(task_id, answer, seed=0)
    assert feedback.status == "failed" and "NaN" in feedback.message, feedback.message


@pytest.mark.parametrize("task_id", ["01.recover_quadratic", "03.floor_vs_batch", "04.best_momentum"])
def test_inputs_changed_in_place_are_named_in_the_newer_tasks(task_id):
    assert "in place" in check(task_id, mutates_first, seed=0).message


ENDLESS = ["01.gd_step", "01.descend", "02.lr_sweep", "03.floor_vs_batch", "06.effective_lr_exponent",
           "07.rmsprop_step", "07.hop_amplitude", "07.rare_step", "08.adadelta_step", "08.steady_step",
           "09.adam_step", "09.alternating_step", "09.adamw_fixed_point", "10.linear_warmup", "10.triangular2",
           "10.restart_steps", "10.one_cycle_lr", "11.range_lrs", "11.smooth_and_stop", "11.steepest_lr",
           "11.lag_factor", "12.NesterovSGD", "12.train_epochs", "12.cnn_weights"] + ENDLESS_13 + ENDLESS_14


@pytest.mark.parametrize("task_id", ENDLESS)
def test_endless_loops_are_stopped(task_id, monkeypatch):
    monkeypatch.setattr(TASKS[task_id], "time_limit", 0.3)
    feedback = check(task_id, loops_forever, seed=0)
    assert feedback.status == "failed" and "did not finish within 0.3 s" in feedback.message


def test_an_endless_loop_that_catches_exceptions_is_still_stopped(monkeypatch):
    def stubborn(x, g, lr):
        while True:
            try:
                while True:
                    pass
            except Exception:
                pass

    monkeypatch.setattr(TASKS["01.gd_step"], "time_limit", 0.3)
    assert "did not finish" in check("01.gd_step", stubborn, seed=0).message


def test_a_hard_coded_answer_cannot_pass():
    """Record what the reference returns for one seed and replay it: another seed rejects it."""
    recorded = {}

    def record(L, lr):
        recorded[(L, lr)] = regime_1d(L, lr)
        return recorded[(L, lr)]

    assert check("01.regime", record, seed=1).passed
    table = dict(recorded)
    replay = lambda L, lr: table.get((L, lr), "monotone")  # noqa: E731
    assert not check("01.regime", replay, seed=2).passed


def test_unknown_task_and_missing_definition():
    assert check("99.nothing", None).status == "error"
    feedback = grade_namespace("01", {})[0]
    assert feedback.status == "not attempted" and "no `descend` is defined" in feedback.message


def test_feedback_renders_as_html_and_text():
    feedback = check("01.gd_step", lambda x, g, lr: x + lr * g, seed=0)
    html = feedback._repr_html_()
    assert "failed" in html and "up* the slope" in html and "<script" not in html
    assert str(feedback).startswith("[FAILED] Notebook 00, a first check")


def test_a_bug_in_a_checker_is_reported_as_such(monkeypatch):
    def broken_checker(answer, rng):
        raise KeyError("oops")

    monkeypatch.setattr(TASKS["01.gd_step"], "checker", broken_checker)
    feedback = check("01.gd_step", ch01._gd_step)
    assert feedback.status == "error" and "not your fault" in feedback.message
