"""Exercise 08 (Adadelta): the checks' references agree with torch and with runs, answers written differently pass,
each named mistake gets its diagnosis whatever the seed, and broken answers get feedback."""

import math

import numpy as np
import pytest
import torch

from lrcourse import functions, optim
from lrcourse.grading import TASKS, check, ch08
from lrcourse.grading.core import _sentence
from lrcourse.runs import minibatch_sweep

SEEDS = range(8)

# for tests/test_grading.py, which runs every task's reference on six seeds and a few named mistakes on three
REFERENCES_08 = {
    "08.adadelta_step": ch08._adadelta_step,
    "08.steady_step": ch08._steady_step,
    "08.answer_eps_exponent": 0.5,
    "08.answer_why_settles": "c",
}
WRONG_08 = {
    "08.adadelta_step": [(ch08._variant(u_first=True), "decayed u before the step"),
                         (ch08._variant(lr_in_u=True), "*before* the lr multiplier"),
                         (ch08._variant(eps="outside"), "inside both square roots"),
                         (ch08._variant(swap_rho=True), "rho and 1 - rho are swapped"),
                         (ch08._variant(old_v=True), "divided by the old v"),
                         (ch08._variant(decay="decoupled"), "decoupled weight decay")],
    "08.steady_step": [(ch08._linear, "write the recursion for u exactly"),
                       (lambda t, g, u0, rho, eps: ch08._steady_step(t + 1, g, u0, rho, eps), "off by one"),
                       (lambda t, g, u0, rho, eps: abs(g), "where the steps end")],
    "08.answer_eps_exponent": [(1, "make eps an lr"), (0, "eps does not matter"), (0.25, "not to its square root"),
                               ("0.5", "not the string")],
    "08.answer_why_settles": [("a", "not what stops u"), ("b", "the decay alone"), ("d", "nothing resets u")],
}


def messages(task_id, answer, seeds=SEEDS):
    feedbacks = [check(task_id, answer, seed=seed) for seed in seeds]
    assert all(f.status == "failed" for f in feedbacks), [str(f) for f in feedbacks if f.status != "failed"]
    return {f.message for f in feedbacks}


# ------------------------------------------------------------------ task 1: the reference is torch's step
@pytest.mark.parametrize("options", [dict(), dict(lr=0.4), dict(eps=0.1), dict(weight_decay=0.3),
                                     dict(lr=2.0, eps=1e-3, weight_decay=0.2, rho=0.95)])
def test_the_reference_step_is_torchs(options):
    rng = np.random.default_rng(len(options))
    full = {**dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0), **options}
    x0 = rng.normal(size=4)
    p = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adadelta([p], **full)
    x, v, u = x0.copy(), np.zeros(4), np.zeros(4)
    for _ in range(60):
        grad = rng.normal(size=4)
        p.grad = torch.tensor(grad)
        opt.step()
        x, v, u = ch08._adadelta_step(x, v, u, grad, full["lr"], full["rho"], full["eps"], full["weight_decay"])
        assert np.allclose(x, p.detach().numpy(), rtol=1e-12, atol=1e-14)
        assert np.allclose(u, opt.state[p]["acc_delta"].numpy(), rtol=1e-12, atol=1e-14)


def adadelta_in_place(x, v, u, grad, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
    """As torch writes it: the state updated in place."""
    g = grad + weight_decay * x
    v *= rho
    v += (1 - rho) * g * g
    delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
    u *= rho
    u += (1 - rho) * delta ** 2
    return x - lr * delta, v, u


def adadelta_with_a_list(x, v, u, grad, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
    g = np.add(grad, np.multiply(weight_decay, x))
    v_new = rho * v + (1 - rho) * np.square(g)
    step = np.multiply(np.sqrt((u + eps) / (v_new + eps)), g)
    return [x - lr * step, v_new, rho * u + (1 - rho) * step * step]


@pytest.mark.parametrize("answer", [adadelta_in_place, adadelta_with_a_list])
def test_one_step_written_differently_passes(answer):
    assert all(check("08.adadelta_step", answer, seed=seed).passed for seed in range(6))


@pytest.mark.parametrize("index", range(len(ch08.STEP_MISTAKES)))
def test_each_step_mistake_gets_its_message_on_every_seed(index):
    mistake, explanation = ch08.STEP_MISTAKES[index]
    assert messages("08.adadelta_step", mistake) == {_sentence(explanation)}


def test_the_step_mistakes_named_in_the_brief_are_there():
    text = " ".join(explanation for _, explanation in ch08.STEP_MISTAKES)
    for words in ("decayed u before the step", "*before* the lr multiplier", "inside both square roots",
                  "rho and 1 - rho are swapped", "the ratio is upside down", "weight_decay is missing"):
        assert words in text


def test_a_step_that_changes_x_in_place_is_named():
    def x_in_place(x, v, u, grad, *options):
        x_new, v, u = ch08._adadelta_step(x, v, u, grad, *options)
        x[...] = x_new
        return x, v, u

    assert all("changed its input `x` in place" in m for m in messages("08.adadelta_step", x_in_place, range(3)))


def test_an_unknown_mistake_in_one_option_says_which_settings_are_right():
    def weight_decay_twice(x, v, u, grad, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        return ch08._adadelta_step(x, v, u, grad, lr, rho, eps, 2 * weight_decay)

    for message in messages("08.adadelta_step", weight_decay_twice, range(4)):
        assert message.startswith("Your step agrees with torch's with no options, an lr multiplier and a large eps, "
                                  "but not with weight_decay")
        assert "It is wrong from the first step" in message and "Your v_new is wrong" in message


def test_a_step_right_at_first_and_wrong_later_is_told_when():
    def forgets_u(x, v, u, grad, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        return ch08._adadelta_step(x, v, 0.5 * u, grad, lr, rho, eps, weight_decay)

    for message in messages("08.adadelta_step", forgets_u, range(4)):
        assert "It is right at step 1 and wrong from step 2 on" in message and "u_new is wrong" in message


def test_nan_and_wrong_shapes_from_a_step_are_named():
    nan = lambda x, v, u, *rest: (np.full_like(x, np.nan), v, u)  # noqa: E731
    feedback = check("08.adadelta_step", nan, seed=0)
    assert feedback.status == "failed" and "NaN" in feedback.message and "as x_new" in feedback.message
    pair = lambda x, v, u, *rest: (x, v)  # noqa: E731
    assert "should return the 3 arrays (x_new, v_new, u_new)" in check("08.adadelta_step", pair, seed=0).message
    scalar = lambda x, v, u, *rest: (x, v, 0.0)  # noqa: E731
    assert "shape" in check("08.adadelta_step", scalar, seed=0).message


# ------------------------------------------------------------------ task 2: the steady steps
def settled_adadelta(g, u0, rho, eps):
    """optim.Adadelta with its state set by hand: v settled at g^2, u = u0 (as the notebook's measurement does)."""
    opt = optim.Adadelta(rho=rho, eps=eps)
    opt.t, opt.v, opt.u = 1, np.full(1, g * g), np.full(1, u0)
    return opt


def test_the_derived_steady_steps_are_what_adadelta_does():
    for seed in range(3):
        for t, g, u0, rho, eps in ch08._steady_cases(np.random.default_rng(seed)):
            opt, x = settled_adadelta(g, u0, rho, eps), np.zeros(1)
            for _ in range(t):
                before, x = x, opt.step(x, np.array([g]))
            assert math.isclose(abs(x[0] - before[0]), ch08._steady_step(t, g, u0, rho, eps), rel_tol=1e-8)


def test_the_steps_stop_growing_at_the_gradient():
    """The discovery of task 2: u tends to g^2 and the step to |g| (SGD's step at lr 1), from below and from above."""
    for g, u0, eps in [(1.0, 0.0, 1e-2), (0.3, 0.0, 1e-3), (2.0, 40.0, 1e-2)]:
        opt, x = settled_adadelta(g, u0, 0.9, eps), np.zeros(1)
        for _ in range(int(20 * (g * g + eps) / (0.1 * eps))):
            before, x = x, opt.step(x, np.array([g]))
        assert math.isclose(abs(x[0] - before[0]), abs(g), rel_tol=1e-6)
        assert math.isclose(opt.u[0], g * g, rel_tol=1e-6)


def test_steady_steps_found_by_running_adadelta_pass():
    def by_running(t, g, u0, rho, eps):
        opt, x = settled_adadelta(g, u0, rho, eps), np.zeros(1)
        for _ in range(t):
            before, x = x, opt.step(x, np.array([g]))
        return abs(x[0] - before[0])

    assert all(check("08.steady_step", by_running, seed=seed).passed for seed in range(3))


@pytest.mark.parametrize("index", range(len(ch08.STEADY_MISTAKES)))
def test_each_steady_mistake_gets_its_message_on_every_seed(index):
    mistake, explanation = ch08.STEADY_MISTAKES[index]
    assert messages("08.steady_step", mistake) == {_sentence(explanation)}


def test_the_steady_cases_leave_the_linear_law_and_start_from_everywhere():
    for seed in range(10):
        cases = ch08._steady_cases(np.random.default_rng(seed))
        a = [1 - (1 - rho) * eps / (g * g + eps) for t, g, u0, rho, eps in cases]
        assert sum(0.04 < ak ** (t - 1) < 0.95 for ak, (t, *_) in zip(a, cases)) >= 3
        assert any(t == 1 for t, *_ in cases) and any(u0 > g * g for t, g, u0, *_ in cases)
        assert any(u0 == 0 for t, g, u0, *_ in cases) and sum(u0 > 0 for t, g, u0, *_ in cases) >= 3


# ------------------------------------------------------------------ task 3: the floor's eps exponent
@pytest.mark.parametrize("answer", [0.5, 1 / 2, np.float64(0.48), 0.53])
def test_the_eps_exponent_is_read_generously(answer):
    assert check("08.answer_eps_exponent", answer).passed


@pytest.mark.parametrize("answer, words", [
    (1, "make eps an lr"), (0, "eps does not matter"), (0.25, "not to its square root"), (2, "noiseless hop"),
    (-0.5, "settles *lower*"), (0.75, "combine two results"), ("1/2", "not the string"), ([0.5], "one number"),
    (True, "one number"), (float("inf"), "finite"),
])
def test_wrong_eps_exponents_are_told_what_is_off(answer, words):
    feedback = check("08.answer_eps_exponent", answer)
    assert feedback.status == "failed" and words.lower() in feedback.message.lower(), feedback.message


def test_adadeltas_floor_goes_like_the_root_of_eps_and_u_settles_at_a_multiple_of_eps():
    """The measurement behind tasks 3 and 4, smaller than the notebook's."""
    problem = functions.LeastSquares.diabetes(drop=("s1",))
    epss = np.array([1e-7, 1e-5, 1e-4])
    for rho in (0.9, 0.99):
        opt = optim.Adadelta(rho=rho)
        opt.eps = epss
        runs = minibatch_sweep(problem, opt, np.ones(3), 4, 20000, seed=list(range(4)), every=100,
                               start=problem.minima[0])
        floors = runs.gaps[:, :, runs.recorded > 10000].mean(axis=(0, 2))
        assert abs(np.polyfit(np.log(epss), np.log(floors), 1)[0] - 0.5) < 0.05
        settled = opt.u.mean(axis=(0, 1)) / epss
        assert settled.max() / settled.min() < 1.2            # u / eps: the same for every eps


def test_under_noise_the_ratio_is_below_one():
    problem = functions.LeastSquares.diabetes(drop=("s1",))
    batches = np.random.default_rng(1).integers(0, problem.n, (8000, 4))
    opt, w, ratios = optim.Adadelta(rho=0.9), problem.minima[0].copy(), []
    for t in range(8000):
        grad = problem.minibatch_gradient(w, batches[t])
        w = opt.step(w, grad)
        if t >= 4000:
            ratios.append(grad * grad / (opt.v + 1e-6))
    assert np.mean(ratios, axis=0).max() < 0.97


# ------------------------------------------------------------------ task 4
@pytest.mark.parametrize("answer", ["", "ab", " C ", True, None, 3])
def test_the_why_question_reads_answers_and_never_crashes(answer):
    feedback = check("08.answer_why_settles", answer)
    assert feedback.status in ("passed", "failed", "not attempted")
    assert feedback.passed == (answer == " C ")


def test_chapter_08_has_four_tasks_in_order():
    from lrcourse.grading import tasks_of

    assert [t.name for t in tasks_of("08")] == ["adadelta_step", "steady_step", "answer_eps_exponent",
                                                "answer_why_settles"]
    assert all(TASKS[f"08.{name}"].kind == "value" for name in ("answer_eps_exponent", "answer_why_settles"))


# ------------------------------------------------------------------ broken answers: feedback, never a traceback
# (endless loops: tests/test_grading.py::test_endless_loops_are_stopped, for every chapter)
@pytest.mark.parametrize("answer, words", [(lambda *args: float("nan"), "NaN"), (lambda *args: [0.1, 0.2], "a list"),
                                           (lambda *args: "sqrt(eps)", "a string"), (lambda *args: None, "return"),
                                           (lambda t, g, u0, rho, eps: 1 / (t - t), "ZeroDivisionError")])
def test_a_steady_step_that_returns_no_number_is_told_so(answer, words):
    feedback = check("08.steady_step", answer, seed=0)
    assert feedback.status == "failed" and words in feedback.message, feedback.message
