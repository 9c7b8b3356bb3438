"""What the checks say, case by case: the advice must be true, the verdict repeatable, and answers that
are right but written differently must pass."""

import math
import re

import numpy as np
import pytest

from lrcourse import schedules
from lrcourse.grading import TASKS, check, grade_namespace, score_text, tasks_of
from lrcourse.grading import ch01, ch02, ch03, ch04, ch05


# ------------------------------------------------------------------ chapter 05, task 4: advice that is true
def drop(step, to):
    return lambda t: 0.1 if t < step else to


def exponential_to(end):
    return schedules.exponential(0.1, (end / 0.1) ** (1 / ch05.BUDGET))


ADVICE = [
    # schedules that drop too late: the lr is still high near the end
    (drop(2000, 1e-3), "decay earlier"),
    (drop(2400, 1e-3), "decay earlier"),
    (drop(2700, 1e-3), "decay earlier"),
    (drop(2800, 1e-3), "decay earlier"),
    (drop(2700, 1e-4), "decay earlier"),
    (drop(2800, 1e-4), "decay earlier"),
    # late drops whose best single fix is to end higher: still told that the drop came too late
    (drop(2100, 1e-3), "dropped too late to settle"),
    (drop(2200, 1e-3), "dropped too late to settle"),
    (drop(2600, 1e-4), "dropped too late to settle"),
    # early drops to a low lr: the noise of the high-lr steps settles slowly, the sooner the drop the better
    (drop(50, 1e-3), "decay earlier"),
    (drop(300, 1e-3), "decay earlier"),
    # a final lr so small that the iterates freeze where the noise left them
    (drop(300, 1e-4), "decay less far"),
    (drop(1000, 1e-4), "decay less far"),
    (drop(2000, 1e-4), "dropped too late to settle"),
    (drop(50, 1e-4), "decay less far"),
    (exponential_to(3e-5), "decay less far"),
    # decays that come too soon
    (exponential_to(1e-6), "keep the lr up longer"),
    (schedules.multi_step(0.1, [400, 1200, 2000], 0.2), "keep the lr up longer"),
    (schedules.exponential(0.1, 0.9), "keep the lr up longer"),   # below half the start within the first 30 steps
    (schedules.time_based(0.1, 1.0), "keep the lr up longer"),
    # schedules that end too high
    (schedules.constant(0.1), "decay it by the end"),
    (schedules.exponential(0.1, 0.9995), "decay further by the end"),
    (schedules.time_based(0.1, 0.001), "decay further by the end"),
    (schedules.polynomial(0.1, 3000, 2.0), "decay further by the end"),
    (schedules.cosine(0.1, 3000), "decay further by the end"),
    (exponential_to(1e-3), "decay further by the end"),
]

PASSING = [exponential_to(1e-4), exponential_to(2e-4), exponential_to(5e-4), schedules.time_based(0.1, 1 / 30),
           schedules.polynomial(0.1, 3000, 4.0), lambda t: 0.1 if t < 30 else 0.1 / (1 + (t - 30) / 10)]


@pytest.mark.parametrize("schedule, advice", ADVICE, ids=lambda v: v if isinstance(v, str) else "")
def test_each_kind_of_failing_schedule_gets_its_advice(schedule, advice):
    feedback = check("05.my_schedule", schedule, seed=0)
    assert feedback.status == "failed"
    assert advice in feedback.message.lower(), feedback.message
    wrong = {"decay earlier", "keep the lr up longer", "decay less far", "decay further", "decay it by the end"}
    assert not [w for w in wrong - {advice} if w in feedback.message.lower() and not advice.startswith(w)]


@pytest.mark.parametrize("schedule", PASSING)
def test_good_schedules_pass(schedule):
    assert check("05.my_schedule", schedule, seed=0).passed


def test_the_advice_quotes_what_the_changed_schedule_really_reaches():
    lrs = np.array([exponential_to(1e-3)(t) for t in range(ch05.BUDGET)])
    message = check("05.my_schedule", exponential_to(1e-3)).message
    found = re.search(r"played (\d+) steps faster .*? reaches ([0-9.e-]+) on the same batches", message)
    shift, reached = found.groups()
    t = np.arange(ch05.BUDGET)
    faster = ch05._warp(lrs, np.minimum(ch05.BUDGET - 1, t * ch05.BUDGET / (ch05.BUDGET - int(shift))))
    assert float(f"{ch05.budget_score(faster)[0]:.2g}") == float(reached)
    assert float(reached) <= ch05.TARGET  # and it is enough


def test_a_schedule_whose_lrs_add_up_to_too_little_is_told_that_a_budget_is_not_infinity():
    message = check("05.my_schedule", lambda t: 0.1 if t < 30 else 1e-5).message
    assert "Robbins-Monro" in message and "not of a budget of 3000 steps" in message


def test_the_target_needs_a_schedule_that_decays():
    """No constant lr, and no constant after a first step (or 30 steps) at 0.1, reaches the target."""
    t = np.arange(ch05.BUDGET)
    lrs = np.geomspace(5e-4, 0.02, 30)
    rows = [np.full(ch05.BUDGET, lr) for lr in lrs] + [np.where(t < 30, 0.1, lr) for lr in lrs]
    scores = ch05.budget_score(np.array(rows))
    assert scores.min() > 1.1 * ch05.TARGET
    assert abs(scores[:30].min() - ch05.BEST_CONSTANT[1]) < 0.05 * ch05.BEST_CONSTANT[1]
    assert abs(lrs[np.argmin(scores[:30])] - ch05.BEST_CONSTANT[0]) < 0.15 * ch05.BEST_CONSTANT[0]
    for lr in (0.01, 0.0016, 0.013):
        feedback = check("05.my_schedule", lambda step, lr=lr: 0.1 if step == 0 else lr)
        assert feedback.status == "failed" and "for the first 30 steps" in feedback.message


def test_the_reference_schedule_passes_with_a_margin():
    lrs = np.array([exponential_to(2e-4)(t) for t in range(ch05.BUDGET)])
    assert ch05.budget_score(lrs)[0] < 0.8 * ch05.TARGET


@pytest.mark.parametrize("schedule", [drop(1700, 1e-3), drop(1000, 1e-3), drop(1800, 1e-3)])
def test_the_schedule_verdict_does_not_depend_on_the_random_seed(schedule):
    """Borderline schedules: the check runs on fixed seeds, so every call gives the same answer."""
    feedbacks = [check("05.my_schedule", schedule, seed=seed) for seed in (None, 0, 1, 7, 12345)]
    assert len({(f.status, f.message) for f in feedbacks}) == 1


def test_the_schedule_check_and_the_notebook_helper_use_the_same_batches():
    """budget_runs draws the batches as sgd_sweep(problem, ..., seed=s, every=10) does."""
    from lrcourse.runs import sgd_sweep

    lrs = np.array([schedules.exponential(0.1, 0.999)(t) for t in range(ch05.BUDGET)])
    recorded, gaps = ch05.budget_runs(lrs[None, :], seeds=(1,))
    recorded2, gaps2 = sgd_sweep(ch05.budget_problem(), lambda t: lrs[t:t + 1], ch05.BATCH, ch05.BUDGET, seed=1,
                                 every=ch05.EVERY)
    assert np.array_equal(recorded, recorded2)
    assert np.allclose(gaps[0, 0], gaps2[0], rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("factory, words", [
    (schedules.cosine, "call the factory, e.g. my_schedule = cosine(0.1, 3000, 1e-4)"),
    (schedules.exponential, "call the factory"),
    (schedules.constant, "my_schedule(0) returned a function"),
])
def test_a_factory_passed_as_the_schedule_is_named(factory, words):
    feedback = check("05.my_schedule", factory)
    assert feedback.status == "failed" and words.lower() in feedback.message.lower()
    assert "Traceback" not in feedback.message


# ------------------------------------------------------------------ chapter 05, task 1: multi-step decay
def test_multi_step_written_differently_passes():
    def with_searchsorted(lr, milestones, gamma):
        return lambda t: lr * gamma ** int(np.searchsorted(milestones, t, side="right"))

    def with_a_loop(lr, milestones, gamma):
        def schedule(step):
            value = lr
            for m in milestones:
                if step >= m:
                    value *= gamma
            return value
        return schedule

    for seed in range(6):
        assert check("05.multi_step", with_searchsorted, seed=seed).passed
        assert check("05.multi_step", with_a_loop, seed=seed).passed


# ------------------------------------------------------------------ chapter 04: the momentum buffer
def heavy_ball_in_place(x, buf, grad, lr, beta, dampening=0.0):
    if buf is None:
        buf = grad.copy()
    else:
        buf *= beta
        buf += (1 - dampening) * grad
    return x - lr * buf, buf


def nesterov_in_place(x, buf, grad, lr, beta):
    if buf is None:
        buf = grad.copy()
    else:
        buf *= beta
        buf += grad
    return x - lr * (grad + beta * buf), buf


@pytest.mark.parametrize("seed", range(4))
def test_updating_buf_in_place_as_torch_does_is_accepted(seed):
    assert check("04.heavy_ball_step", heavy_ball_in_place, seed=seed).passed
    assert check("04.nesterov_step", nesterov_in_place, seed=seed).passed


def test_changing_x_or_grad_in_place_is_still_named():
    def x_in_place(x, buf, grad, lr, beta, dampening=0.0):
        new_buf = grad.copy() if buf is None else beta * buf + (1 - dampening) * grad
        x -= lr * new_buf
        return x, new_buf

    def grad_in_place(x, buf, grad, lr, beta, dampening=0.0):
        if buf is not None:
            grad *= 1 - dampening
            return x - lr * (beta * buf + grad), beta * buf + grad
        return x - lr * grad, grad.copy()

    assert "changed its input `x` in place" in check("04.heavy_ball_step", x_in_place, seed=0).message
    assert "changed its input `grad` in place" in check("04.heavy_ball_step", grad_in_place, seed=0).message


def test_the_first_step_message_claims_later_steps_only_when_they_were_compared():
    def dampened_first_step_only(x, buf, grad, lr, beta, dampening=0.0):
        return ch04._zero_init(x, buf, grad, lr, beta, dampening)

    def also_wrong_later(x, buf, grad, lr, beta, dampening=0.0):
        buf = (1 - dampening) * grad if buf is None else beta * buf + grad  # no dampening later either
        return x - lr * buf, buf

    right_later = check("04.heavy_ball_step", dampened_first_step_only, seed=0).message
    assert "(1 - dampening) * grad" in right_later and "steps 2 to 6 match" in right_later
    wrong_later = check("04.heavy_ball_step", also_wrong_later, seed=0).message
    assert "(1 - dampening) * grad" in wrong_later and "match" not in wrong_later


# ------------------------------------------------------------------ chapter 02
def test_the_diverging_lrs_of_the_sweep_always_overflow():
    """So a sweep that reports every diverging run as inf passes, as well as one that replaces non-finite losses."""
    def every_diverging_run_is_inf(f, grad_f, x0, lrs, steps):
        out = []
        for lr in lrs:
            x = np.array(x0, dtype=float)
            with np.errstate(all="ignore"):
                for _ in range(steps):
                    x = x - lr * grad_f(x)
                loss = f(x)
            out.append(np.inf if not np.isfinite(loss) or loss > f(np.asarray(x0, dtype=float)) else loss)
        return np.array(out)

    for seed in range(10):
        assert check("02.lr_sweep", every_diverging_run_is_inf, seed=seed).passed


@pytest.mark.parametrize("wrong, words", [
    (lambda A: (lambda e: (2 / (e[0] + e[-1]), 1 - 2 * e[-1] / (e[0] + e[-1])))(np.linalg.eigvalsh(A)),
     "take the absolute value"),
    (lambda A: (lambda e: (2 / (e[0] + e[-1]), (e[-1] / e[0] - 1) / (e[-1] / e[0] + 1)))(np.linalg.eig(A)[0]),
     "no particular order"),
    (lambda A: (lambda e: (2 / (e[0] + e[-1]), abs(1 - 2 * e[0] / (e[0] + e[-1]))))(np.linalg.eigvals(A)),
     "no particular order"),
])
def test_the_best_lr_mistakes_get_the_same_message_every_time(wrong, words):
    messages = {check("02.best_lr_and_rate", wrong, seed=seed).message for seed in range(12)}
    assert len(messages) == 1 and words in messages.pop()


def test_other_ways_to_the_extreme_eigenvalues_pass():
    def with_min_max(A):
        e = np.linalg.eig(A)[0].real
        mu, L = e.min(), e.max()
        return 2 / (mu + L), (L - mu) / (L + mu)

    assert all(check("02.best_lr_and_rate", with_min_max, seed=seed).passed for seed in range(6))


# ------------------------------------------------------------------ chapter 01
@pytest.mark.parametrize("seed", range(8))
def test_the_regime_cases_defeat_both_exact_comparisons(seed):
    cases = ch01._boundary_cases(np.random.default_rng(seed))
    for k in (1, 2):
        on = [(L, lr) for L, lr, name in cases if name == ("one step" if k == 1 else "edge")]
        assert any(lr * L != k for L, lr in on), "a case where lr * L == k fails"
        assert any(lr * L == k and lr != k / L for L, lr in on), "a case where lr == k / L fails"


def test_right_answers_written_differently_pass():
    def recover_by_fit(xs, lr):
        q, c = np.polyfit(xs[:-1], xs[1:], 1)   # x_(t+1) = q x_t + (1 - q) x*
        return (1 - q) / lr, c / (1 - q)

    def descend_with_break(grad_f, x0, lr, tol, max_steps):
        x, path = np.array(x0, dtype=float), []
        for _ in range(max_steps + 1):
            path.append(x)
            g = grad_f(x)
            if np.linalg.norm(g) <= tol or len(path) > max_steps:
                break
            x = x - lr * g
        return np.array(path)

    def regime_abs_tolerance(L, lr):
        q = lr * L
        for k, name in ((1, "one step"), (2, "edge")):
            if abs(q - k) < 1e-9:
                return name
        return "monotone" if q < 1 else "oscillating" if q < 2 else "divergent"

    def window_from_roots(L, x0, tol, steps):
        r = math.exp(math.log(tol / abs(x0)) / steps)
        return 1 / L - r / L, 1 / L + r / L

    for seed in range(6):
        assert check("01.recover_quadratic", recover_by_fit, seed=seed).passed
        assert check("01.descend", descend_with_break, seed=seed).passed
        assert check("01.regime", regime_abs_tolerance, seed=seed).passed
        assert check("01.lr_window", window_from_roots, seed=seed).passed
    assert check("01.answer_curvatures", np.array([179.4, 20.57])).passed
    assert check("01.answer_curvatures", [20.567, 179.433]).passed


def test_an_aliased_path_is_recognized_when_only_the_first_row_is_right():
    def descend_aliased(grad_f, x0, lr, tol, max_steps):
        xs, x = [x0], np.array(x0, dtype=float)
        while len(xs) - 1 < max_steps and np.linalg.norm(grad_f(x)) > tol:
            x -= lr * grad_f(x)
            xs.append(x)
        return np.array(xs)

    message = check("01.descend", descend_aliased, seed=0).message
    assert "rows 1 to the end of your path all equal the last point" in message.lower()


# ------------------------------------------------------------------ chapter 03: the measurement
def floor_vs_batch(X, y, lr, batch_sizes, steps, seed, first=0, shared=False):
    excess = ch03._excess_paths(X, y, lr, batch_sizes, steps, seed, shared_rng=shared)
    floors = np.array([e[steps // 2 + first:].mean() for e in excess])
    return floors, np.polyfit(np.log10(batch_sizes), np.log10(floors), 1)[0]


@pytest.mark.parametrize("variant", [
    dict(first=0), dict(first=1), dict(shared=True), dict(first=1, shared=True)])
def test_equally_valid_measurements_pass(variant):
    """Either end of 'the second half', one generator for all batch sizes, any base of the logarithm."""
    answer = lambda *args: floor_vs_batch(*args, **variant)  # noqa: E731
    assert all(check("03.floor_vs_batch", answer, seed=seed).passed for seed in range(3))


def test_an_unsolved_or_wrong_sgd_is_named_as_the_cause():
    namespace = {"np": np}
    exec("def sgd(X, y, w0, lr, batch_size, steps, rng):\n    raise NotImplementedError('your code here')\n"
         "def floor_vs_batch(X, y, lr, batch_sizes, steps, seed):\n"
         "    return sgd(X, y, None, lr, 1, steps, np.random.default_rng(seed)), -1.0\n", namespace)
    message = check("03.floor_vs_batch", namespace["floor_vs_batch"], seed=0).message
    assert "calls `sgd`, which still raises NotImplementedError" in message
    exec("def sgd(X, y, w0, lr, batch_size, steps, rng):\n    return np.zeros((steps + 1, len(w0)))\n", namespace)
    message = check("03.floor_vs_batch", namespace["floor_vs_batch"], seed=0).message
    assert "uses your `sgd`, which does not pass task 2 yet" in message


# ------------------------------------------------------------------ the closing score
def test_the_score_lists_what_is_left():
    text = score_text(grade_namespace("01", {}))
    assert text.startswith("0 of 6 tasks passed.")
    assert "Task 2 (recover the quadratic from its iterates): not attempted" in text
    names = {t.name: ref for t in tasks_of("02") for ref in [None]}
    names.update(largest_stable_lr=ch02._largest_stable_lr, best_lr_and_rate=lambda A: (1.0, 1.0))
    text = score_text(grade_namespace("02", names))
    assert text.startswith("1 of 6 tasks passed.")
    assert "Task 2 (the best fixed learning rate and its rate): failed" in text


def test_notebook_00s_demonstration_check_is_not_an_exercise_task():
    assert "01.gd_step" in TASKS and TASKS["01.gd_step"].title == "Notebook 00, a first check: one gradient-descent step"
    assert "01.gd_step" not in [t.id for t in tasks_of("01")]
