"""Regression tests for the review of exercises 01-05: each finding, with the wrong answer that must now be
named rightly, the right answer written differently that must pass, or the crash that must become feedback,
over several seeds wherever the outcome could depend on the random inputs."""

import math

import numpy as np
import pytest

from lrcourse.grading import TASKS, check, ch01, ch02, ch03, ch04, ch05


def messages(task_id, answer, seeds):
    feedbacks = [check(task_id, answer, seed=seed) for seed in seeds]
    assert all(f.status == "failed" for f in feedbacks), [str(f) for f in feedbacks if f.status != "failed"]
    return [f.message for f in feedbacks]


def all_pass(task_id, answer, seeds):
    return all(check(task_id, answer, seed=seed).passed for seed in seeds)


# ------------------------------------------------------------------ multiple choice: no crash on "" or "ab"
CHOICE_TASKS = ["02.answer_scaling", "03.answer_robbins_monro", "04.answer_effective_lr", "05.answer_why_decay",
                "05.answer_rm_budget"]


@pytest.mark.parametrize("task_id", CHOICE_TASKS)
@pytest.mark.parametrize("answer", ["", " ", "ab", "bc", "abcd", "a, b", "e", 3, ["a"]])
def test_a_malformed_multiple_choice_answer_gets_feedback(task_id, answer):
    feedback = check(task_id, answer, seed=0)
    assert feedback.status == "failed", feedback
    assert "answer with one of the letters" in feedback.message.lower()


# ------------------------------------------------------------------ paths: no "step -1", aliasing named
def sgd_aliased(X, y, w0, lr, batch_size, steps, rng):
    w = w0.copy()
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


@pytest.mark.parametrize("task_id, aliased", [("03.sgd", sgd_aliased), ("04.classical_momentum", classical_aliased)])
def test_an_aliased_path_is_named_and_never_called_step_minus_one(task_id, aliased):
    for message in messages(task_id, aliased, range(6)):
        assert "all equal the last point (the first row too)" in message
        assert "step -1" not in message


@pytest.mark.parametrize("task_id, shifted", [
    ("03.sgd", lambda X, y, w0, lr, B, steps, rng: ch03._sgd(X, y, w0 + 1.0, lr, B, steps, rng)),
    ("04.classical_momentum", lambda grad_f, x0, lrs, beta: ch04._classical(grad_f, x0 + 1.0, lrs, beta)),
    ("01.descend", lambda grad_f, x0, lr, tol, m: np.vstack([x0 + 1.0, ch01._descend(grad_f, x0, lr, tol, m)[1:]])),
])
def test_a_path_whose_first_row_is_off_is_told_so(task_id, shifted):
    for message in messages(task_id, shifted, range(4)):
        assert "step -1" not in message and "first row of your path should be the start" in message


# ------------------------------------------------------------------ wording: values are not functions
def test_a_value_is_not_said_to_have_returned_something():
    def window(L, x0, tol, steps):
        r = (tol / x0) ** (1 / steps)
        return (1 - r) / L, (1 + r) / L

    for message in messages("01.lr_window", window, range(4)):
        assert "returned returned" not in message and "lo returned" not in message
    floors_0d = lambda X, y, lr, B, steps, seed: (np.float64(1.0), -1.0)  # noqa: E731
    message = check("03.floor_vs_batch", floors_0d, seed=0).message
    assert "`floor_vs_batch` returned an array of shape () as the floors, but shape (4,) was expected" in message
    p_pair = lambda X, y, lr, B, steps, seed: (np.ones(len(B)), np.array([1.0, 2.0]))  # noqa: E731
    message = check("03.floor_vs_batch", p_pair, seed=0).message
    assert "returned a numpy array of length 2 as the exponent p" in message and "returned returned" not in message


@pytest.mark.parametrize("task_id", ["01.descend", "01.regime", "01.steps_to_reach", "02.lr_sweep",
                                     "03.floor_vs_batch", "05.multi_step", "05.end_lr_for"])
def test_the_learners_function_names_are_not_capitalized(task_id):
    name = TASKS[task_id].name
    for answer in (lambda *args: None, lambda *args: [1.0, 2.0, 3.0]):
        message = check(task_id, answer, seed=0).message
        assert name.capitalize() + " " not in message, message
        assert not message.startswith(name.capitalize()), message


def test_a_schedule_factory_that_returns_a_list_is_told_so_briefly():
    def as_list(lr, milestones, gamma):
        return [lr * gamma ** sum(t >= m for m in milestones) for t in range(milestones[-1] + 20)]

    for message in messages("05.multi_step", as_list, range(3)):
        assert message.startswith("`multi_step` returned a list (") and "Multi_step" not in message
        assert len(message) < 400


# ------------------------------------------------------------------ 01, task 1: the norm of the gradient
def descend_with(norm):
    def descend(grad_f, x0, lr, tol, max_steps):
        xs = [np.array(x0, dtype=float)]
        while len(xs) - 1 < max_steps and norm(grad_f(xs[-1])) > tol:
            xs.append(xs[-1] - lr * grad_f(xs[-1]))
        return np.array(xs)
    return descend


@pytest.mark.parametrize("norm, words", [(lambda g: np.max(np.abs(g)), "largest entry"),
                                         (lambda g: np.sum(np.abs(g)), "sum of absolute values")])
def test_the_wrong_norm_is_always_rejected_and_named(norm, words):
    for message in messages("01.descend", descend_with(norm), range(20)):
        assert words in message
        assert "one step too many" not in message.lower() and "lr * grad was small" not in message


def test_the_norms_case_is_in_two_or_more_dimensions_and_tells_the_norms_apart():
    for seed in range(10):
        kind, grad_f, x0, lr, tol, m = ch01._norms_case(np.random.default_rng(seed))
        assert len(x0) >= 2
        lengths = {len(ch01._descend(grad_f, x0, lr, tol, m, norm=norm))
                   for norm in (np.linalg.norm, lambda g: np.max(np.abs(g)), lambda g: np.sum(np.abs(g)))}
        assert len(lengths) == 3


def test_the_euclidean_norm_written_differently_passes():
    assert all_pass("01.descend", descend_with(lambda g: math.sqrt(float(np.sum(g * g)))), range(8))


# ------------------------------------------------------------------ 01, task 2: a list of iterates
def recover_needs_an_array(xs, lr):
    d = xs[1:] - xs[:-1]
    q = d[1] / d[0]
    return (1 - q) / lr, xs[0] + d[0] / (1 - q)


def test_a_recovery_that_needs_an_array_fails_the_check_as_it_fails_the_try_it_cell():
    for message in messages("01.recover_quadratic", recover_needs_an_array, range(6)):
        assert "not when it is a Python list" in message and "np.asarray(xs" in message
    with pytest.raises(TypeError):
        recover_needs_an_array([4.0, -7.7, 1.66, -5.828], 0.15)   # what the notebook's "Try it" cell passes


def test_an_inverted_ratio_is_named():
    def inverted(xs, lr):
        xs = np.asarray(xs, dtype=float)
        q = (xs[1] - xs[0]) / (xs[2] - xs[1])
        return (1 - q) / lr, xs[0] + (xs[1] - xs[0]) / (1 - q)

    assert all("ratio is upside down" in m for m in messages("01.recover_quadratic", inverted, range(6)))


# ------------------------------------------------------------------ 01, task 3: boundaries and tolerances
def regime_from(test_first, tolerance):
    def regime(L, lr):
        q = lr * L
        if test_first:
            if q < 1:
                return "monotone"
        for k, name in ((1, "one step"), (2, "edge")):
            if abs(q - k) < tolerance * k:
                return name
        return "monotone" if q < 1 else "oscillating" if q < 2 else "divergent"
    return regime


def test_a_tolerance_after_the_strict_test_is_told_to_test_the_boundaries_first():
    for message in messages("01.regime", regime_from(True, 1e-9), range(8)):
        assert "before its tolerance test" in message and "Compare with a tolerance" not in message


def test_code_that_never_returns_edge_is_told_so():
    def no_edge(L, lr):
        q = lr * L
        if np.isclose(q, 1):
            return "one step"
        return "monotone" if q < 1 else "oscillating" if q < 2 else "divergent"

    assert all("never returns 'edge'" in m for m in messages("01.regime", no_edge, range(8)))


@pytest.mark.parametrize("tolerance", [0.1, 0.01, 1e-3])
def test_a_loose_tolerance_fails_on_every_seed(tolerance):
    assert all("too loose" in m for m in messages("01.regime", regime_from(False, tolerance), range(8)))


def test_tight_tolerances_pass():
    def with_isclose(L, lr):
        q = lr * L
        if math.isclose(q, 1):
            return "one step"
        if math.isclose(q, 2):
            return "edge"
        return "monotone" if q < 1 else "oscillating" if q < 2 else "divergent"

    assert all_pass("01.regime", with_isclose, range(8))
    assert all_pass("01.regime", regime_from(False, 1e-9), range(8))
    assert all_pass("01.regime", regime_from(False, 1e-6), range(8))


# ------------------------------------------------------------------ 01, task 4: the edge, negative starts, rounding
def steps_from(edge_test=">=", absolute=True, log_abs=True, rounding=math.ceil):
    def steps_to_reach(L, lr, x0, tol):
        if (abs(x0) if absolute else x0) <= tol:
            return 0
        factor = abs(1 - lr * L)
        if factor == 0:
            return 1
        if (factor >= 1) if edge_test == ">=" else (factor > 1):
            return math.inf
        return rounding(math.log(tol / (abs(x0) if log_abs else x0)) / math.log(factor))
    return steps_to_reach


@pytest.mark.parametrize("answer, words", [
    (steps_from(edge_test=">"), "test factor >= 1, not factor > 1"),
    (steps_from(log_abs=False), "use log(tol / abs(x0))"),
    (steps_from(absolute=False), "Compare abs(x0) with tol"),
    (steps_from(rounding=round), "rounded to the nearest whole number"),
    (steps_from(rounding=math.floor), "One step short"),
])
def test_step_count_mistakes_fail_on_every_seed_with_their_diagnosis(answer, words):
    for message in messages("01.steps_to_reach", answer, range(8)):
        assert words in message
        assert "?." not in message and "?. " not in message


# ------------------------------------------------------------------ 01, tasks 5 and 6
def test_a_negative_start_in_the_window_is_named():
    def no_abs(L, x0, tol, steps):
        r = (tol / x0) ** (1 / steps)
        return (1 - r) / L, (1 + r) / L

    assert all("use abs(x0)" in m for m in messages("01.lr_window", no_abs, range(6)))


def test_curvatures_given_too_roughly_are_told_to_be_more_precise():
    assert "not precise enough" in check("01.answer_curvatures", (20.6, 179.0)).message
    assert "not precise enough" in check("01.answer_curvatures", [179, 20.6]).message
    assert check("01.answer_curvatures", (20.57, 179.4)).passed


# ------------------------------------------------------------------ 02
@pytest.mark.parametrize("rate, words", [
    (lambda e: ((e[-1] / e[0] - 1) / (e[-1] / e[0] + 1)) ** 2, "square of the rate"),
    (lambda e: (math.sqrt(e[-1] / e[0]) - 1) / (math.sqrt(e[-1] / e[0]) + 1), "heavy ball"),
    (lambda e: 0.5, "Your lr is right"),
])
def test_a_right_lr_with_a_wrong_rate_is_told_the_lr_is_right(rate, words):
    def answer(A):
        e = np.linalg.eigvalsh(A)
        return 2 / (e[0] + e[-1]), rate(e)

    for message in messages("02.best_lr_and_rate", answer, range(12)):
        assert words in message and "the best lr makes them equal" not in message


@pytest.mark.parametrize("task_id, answer", [
    ("02.largest_stable_lr", lambda A: 2 / np.linalg.eig(A)[0][-1]),
    ("02.largest_stable_lr", lambda A: 2 / np.real(np.linalg.eigvals(A))[0]),
    ("02.hessian_condition_number", lambda X: (lambda e: e[-1] / e[0])(np.linalg.eigvals(X.T @ X / len(X)))),
    ("02.hessian_condition_number", lambda X: (lambda e: e[0] / e[-1])(np.linalg.eig(X.T @ X)[0])),
])
def test_unsorted_eigenvalues_get_the_same_hint_on_every_seed(task_id, answer):
    assert all("no particular order" in m for m in messages(task_id, answer, range(12)))


def test_the_budget_window_written_differently_passes():
    def with_min_max(A, R, tol, steps):
        e = np.real(np.linalg.eig(A)[0])
        r = math.exp(math.log(tol / R) / steps)
        lo, hi = (1 - r) / e.min(), (1 + r) / e.max()
        return None if lo > hi else [lo, hi]

    assert all_pass("02.budget_window", with_min_max, range(8))


# ------------------------------------------------------------------ 03
def test_dropping_repeated_rows_is_always_caught():
    def unique(X, y, w, idx):
        u = np.unique(idx)
        return X[u].T @ (X[u] @ w - y[u]) / len(u)

    assert all("repeated rows" in m for m in messages("03.minibatch_gradient", unique, range(8)))

    def row_by_row(X, y, w, idx):
        return np.mean([X[i] * (X[i] @ w - y[i]) for i in idx], axis=0)

    assert all_pass("03.minibatch_gradient", row_by_row, range(8))


def test_the_floor_predicted_from_data_written_differently_passes():
    def with_cov(X, y, lr, batch_size):
        w = np.linalg.lstsq(X, y, rcond=None)[0]
        G = X * (X @ w - y)[:, None]
        return lr * np.trace(np.cov(G.T)) / (4 * batch_size)

    def with_einsum(X, y, lr, batch_size):
        w = np.linalg.solve(X.T @ X, X.T @ y)
        r = X @ w - y
        return lr * np.einsum("i,i->", r ** 2, np.einsum("ij,ij->i", X, X)) / len(X) / (4 * batch_size)

    assert all_pass("03.predicted_floor", with_cov, range(6))
    assert all_pass("03.predicted_floor", with_einsum, range(6))


def test_swapped_axes_in_the_floor_fit_are_named():
    def swapped(X, y, lr, batch_sizes, steps, seed):
        excess = ch03._excess_paths(X, y, lr, batch_sizes, steps, seed)
        floors = np.array([e[steps // 2 + 1:].mean() for e in excess])
        return floors, np.polyfit(np.log(floors), np.log(batch_sizes), 1)[0]

    assert all("axes are swapped" in m for m in messages("03.floor_vs_batch", swapped, range(3)))


# ------------------------------------------------------------------ 04
def test_momentum_orders_and_dampening_are_named():
    def no_dampening(x, buf, grad, lr, beta, dampening=0.0):
        buf = grad.copy() if buf is None else beta * buf + grad
        return x - lr * buf, buf

    def swapped(x, buf, grad, lr, beta, dampening=0.0):
        buf = grad.copy() if buf is None else beta * buf + (1 - dampening) * grad
        return buf, x - lr * buf

    assert all("left out the dampening" in m for m in messages("04.heavy_ball_step", no_dampening, range(6)))
    assert all("(buf_new, x_new)" in m for m in messages("04.heavy_ball_step", swapped, range(6)))
    lr_rate_beta = lambda A: (lambda lr, beta, rate: (lr, rate, beta))(*ch04._tuned(A))  # noqa: E731
    assert all("(lr, rate, beta)" in m for m in messages("04.tuned_momentum", lr_rate_beta, range(6)))


# ------------------------------------------------------------------ 05
def test_a_stateful_schedule_is_caught_whatever_the_seed():
    def stateful(lr, milestones, gamma):
        state = {"lr": lr}

        def schedule(step):
            if step in milestones:
                state["lr"] *= gamma
            return state["lr"]
        return schedule

    assert all("keeps state between calls" in m for m in messages("05.multi_step", stateful, range(8)))


def test_a_one_element_array_schedule_is_read_as_a_number():
    reference = schedules_exponential_to(2e-4)
    assert check("05.my_schedule", lambda t: np.array([reference(t)])).passed
    message = check("05.my_schedule", lambda t: np.array([0.1, 0.1])).message
    assert "numpy array of length 2 as the lr of step 0" in message


def schedules_exponential_to(end):
    from lrcourse import schedules

    return schedules.exponential(0.1, (end / 0.1) ** (1 / ch05.BUDGET))


def test_chapter_05_tasks_that_copied_the_chapter_are_gone():
    assert "05.step_decay" not in TASKS and "05.cosine" not in TASKS
    assert "02.standardize" not in TASKS and "02.budget_window" in TASKS
