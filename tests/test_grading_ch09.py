"""Exercise 09 (Adam and its family): the checks' references agree with torch and with runs, answers written
differently pass, each named mistake gets its diagnosis whatever the seed, and broken answers get feedback.

REFERENCES_09 and WRONG_09 also feed tests/test_grading.py's checks over every task."""

import math

import nbformat
import numpy as np
import pytest
import torch
from scipy.optimize import brentq

from lrcourse import optim
from lrcourse.exercises import ROOT, strip_solutions
from lrcourse.grading import check, ch09, grade_namespace, tasks_of
from lrcourse.grading.core import _sentence

SEEDS = range(8)


def capitalized(explanation):
    """The explanation as the check shows it: its first word capitalized, unless it is a symbol (beta1, lr)."""
    return _sentence(explanation)


def messages(task_id, answer, seeds=SEEDS):
    feedbacks = [check(task_id, answer, seed=seed) for seed in seeds]
    assert all(f.status == "failed" for f in feedbacks), [str(f) for f in feedbacks if f.status != "failed"]
    return {f.message for f in feedbacks}


# ------------------------------------------------------------------ task 1: the reference is torch's step
@pytest.mark.parametrize("decoupled", [False, True])
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("seed", range(2))
def test_the_reference_step_is_torchs(decoupled, amsgrad, seed):
    rng = np.random.default_rng(seed)
    lr, betas = 0.05, (float(rng.uniform(0.5, 0.95)), float(rng.uniform(0.8, 0.999)))
    eps, weight_decay = float(10 ** rng.uniform(-8, -1)), float(rng.uniform(0.0, 0.5))
    x0 = rng.normal(size=4)
    p = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    make = torch.optim.AdamW if decoupled else torch.optim.Adam
    opt = make([p], lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
    x, m, v, v_max = x0.copy(), np.zeros(4), np.zeros(4), np.zeros(4)
    for t in range(1, 80):
        grad = rng.normal(size=4) * 3.0 / t ** 0.5      # shrinking gradients: AMSGrad's maximum matters
        p.grad = torch.tensor(grad)
        opt.step()
        x, m, v, v_max = ch09._adam_step(x, m, v, v_max, grad, t, lr, betas, eps, weight_decay, amsgrad, decoupled)
        assert np.allclose(x, p.detach().numpy(), rtol=1e-12, atol=1e-14)


def adam_in_place(x, m, v, v_max, grad, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                  decoupled=False):
    """As torch writes it: the state updated in place, the corrections folded into the lr and the root."""
    beta1, beta2 = betas
    if decoupled:
        x = x * (1 - lr * weight_decay)
    else:
        grad = grad + weight_decay * x
    m *= beta1
    m += (1 - beta1) * grad
    v *= beta2
    v += (1 - beta2) * grad * grad
    if amsgrad:
        np.maximum(v_max, v, out=v_max)
    denominator = np.sqrt(v_max if amsgrad else v) / math.sqrt(1 - beta2 ** t) + eps
    return x - lr / (1 - beta1 ** t) * m / denominator, m, v, v_max


def adam_like_the_chapter(x, m, v, v_max, grad, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                          amsgrad=False, decoupled=False):
    """Keeps v_max whether or not amsgrad is on (as the chapter's loop does), and decays after computing the step."""
    beta1, beta2 = betas
    g = grad if decoupled else grad + weight_decay * x
    m_new = beta1 * m + (1 - beta1) * g
    v_new = beta2 * v + (1 - beta2) * g ** 2
    v_max_new = np.maximum(v_max, v_new)
    step = lr * (m_new / (1 - beta1 ** t)) / (np.sqrt((v_max_new if amsgrad else v_new) / (1 - beta2 ** t)) + eps)
    decay = lr * weight_decay * x if decoupled else 0.0
    return x - decay - step, m_new, v_new, v_max_new


def adam_without_v_max(x, m, v, v_max, grad, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                       decoupled=False):
    """Returns None for v_max when amsgrad is off: nothing reads it then."""
    result = ch09._adam_step(x, m, v, v_max, grad, t, lr, betas, eps, weight_decay, amsgrad, decoupled)
    return result if amsgrad else (*result[:3], None)


@pytest.mark.parametrize("answer", [adam_in_place, adam_like_the_chapter, adam_without_v_max])
def test_one_step_written_differently_passes(answer):
    assert all(check("09.adam_step", answer, seed=seed).passed for seed in range(6))


@pytest.mark.parametrize("index", range(len(ch09.STEP_MISTAKES)))
def test_each_step_mistake_gets_its_message_on_every_seed(index):
    mistake, explanation = ch09.STEP_MISTAKES[index]
    assert messages("09.adam_step", mistake) == {capitalized(explanation)}


def test_the_mistakes_are_told_apart_in_the_checks_cases():
    """No two mistakes of the catalogue agree on every step of a check: each message belongs to one mistake."""
    for seed in range(4):
        rng = np.random.default_rng(seed)
        for i, (first, _) in enumerate(ch09.STEP_MISTAKES):
            for second, _ in ch09.STEP_MISTAKES[i + 1:]:
                differ = False
                for _, sampler, scales in ch09.SETTINGS:
                    betas, eps, weight_decay, amsgrad, decoupled = sampler(rng)
                    state = [rng.normal(size=3), np.zeros(3), np.zeros(3), np.zeros(3)]
                    for t, scale in enumerate(scales, start=1):
                        args = (*state, scale * rng.normal(size=3), t, 0.3, betas, eps, weight_decay, amsgrad,
                                decoupled)
                        with np.errstate(all="ignore"):
                            a, b = first(*args), second(*args)
                        differ = differ or not ch09._same_step(a, b, amsgrad)
                        state = list(ch09._adam_step(*args))
                assert differ


def test_a_step_that_changes_x_or_grad_in_place_is_named():
    def x_in_place(x, m, v, v_max, grad, t, lr, *options):
        x_new, *state = ch09._adam_step(x, m, v, v_max, grad, t, lr, *options)
        x[...] = x_new
        return (x, *state)

    def grad_in_place(x, m, v, v_max, grad, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                      decoupled=False):
        if not decoupled:
            grad += weight_decay * x
        return ch09._adam_step(x, m, v, v_max, grad, t, lr, betas, eps, 0.0 if not decoupled else weight_decay,
                               amsgrad, decoupled)

    assert "changed its input `x` in place" in check("09.adam_step", x_in_place, seed=0).message
    assert "changed its input `grad` in place" in check("09.adam_step", grad_in_place, seed=0).message


def test_a_wrong_number_of_values_is_named():
    three = lambda *args: ch09._adam_step(*args)[:3]  # noqa: E731
    assert "returned a tuple of length 3: it should return four arrays" in check("09.adam_step", three, seed=0).message
    wrong_shape = lambda *args: (np.zeros(7), *ch09._adam_step(*args)[1:])  # noqa: E731
    assert "shape (7,)" in check("09.adam_step", wrong_shape, seed=0).message


def test_a_bias_correction_from_t_minus_1_is_named_whether_it_gives_nan_or_raises():
    with_numpy = ch09._variant(correction="t-1")

    def with_python_floats(x, m, v, v_max, grad, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                           amsgrad=False, decoupled=False):
        step_size = lr / (1 - betas[0] ** (t - 1))       # ZeroDivisionError at t = 1
        return ch09._adam_step(x, m, v, v_max, grad, t, step_size * (1 - betas[0] ** t), betas, eps, weight_decay,
                               amsgrad, decoupled)

    assert messages("09.adam_step", with_numpy) == {capitalized(ch09.STEP_MISTAKES[2][1])}
    for message in messages("09.adam_step", with_python_floats):
        assert "ZeroDivisionError" in message and "1 - beta^(t - 1)" in message


def test_nan_from_a_step_is_named():
    def nan_step(x, m, v, v_max, grad, *rest):
        return np.full_like(x, np.nan), m, v, v_max

    feedback = check("09.adam_step", nan_step, seed=0)
    assert feedback.status == "failed" and "NaN" in feedback.message and "as x_new" in feedback.message


def test_an_unknown_mistake_is_told_which_part_and_which_step_is_off():
    def two_mistakes(x, m, v, v_max, grad, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                     decoupled=False):
        x_new, m_new, v_new, v_max_new = ch09._adam_step(x, m, v, v_max, grad, t, lr, betas, eps, weight_decay,
                                                         amsgrad, decoupled)
        return x_new + (t > 1) * 1e-3, m_new, v_new, v_max_new

    for message in messages("09.adam_step", two_mistakes):
        assert message.startswith("Your m_new and v_new are right, but x_new is not: at step t = 2")
        assert "Step 1 of that run matches: what acts only from step 2 on" in message


def test_amsgrad_settings_make_the_maximum_matter():
    """In every check, some coordinate's v falls below its earlier maximum: AMSGrad differs from Adam there."""
    for seed in range(20):
        rng = np.random.default_rng(seed)
        for _, sampler, scales in ch09.SETTINGS:
            betas, eps, weight_decay, amsgrad, decoupled = sampler(rng)
            if not amsgrad:
                continue
            state, fell = [rng.normal(size=1), np.zeros(1), np.zeros(1), np.zeros(1)], False
            for t, scale in enumerate(scales, start=1):
                state = list(ch09._adam_step(*state, scale * rng.normal(size=1), t, 0.3, betas, eps, weight_decay,
                                             amsgrad, decoupled))
                fell = fell or bool(state[2][0] < state[3][0])
            assert fell


# ------------------------------------------------------------------ task 2: the step on a zig-zagging coordinate
@pytest.mark.parametrize("seed", range(4))
def test_the_derived_step_is_what_adam_does(seed):
    rng = np.random.default_rng(seed)
    betas, eps = (float(rng.uniform(0.0, 0.99)), float(rng.uniform(0.5, 0.9999))), float(10 ** rng.uniform(-8, 0))
    g, lr = float(rng.normal()), 0.1
    adam, x = optim.Adam(lr=lr, betas=betas, eps=eps), np.zeros(1)
    for t in range(1, 200):
        x_new = adam.step(x, np.array([g * (-1) ** (t - 1)]))
        assert math.isclose((x_new - x)[0], ch09._alternating_step(t, g, lr, betas, eps), rel_tol=1e-9, abs_tol=1e-15)
        x = x_new


def alternating_by_summing(t, g, lr, betas=(0.9, 0.999), eps=1e-8):
    """The two averages summed term by term (a loop, but the same numbers)."""
    beta1, beta2 = betas
    m = sum((1 - beta1) * beta1 ** (t - k) * g * (-1) ** (k - 1) for k in range(1, t + 1))
    v = sum((1 - beta2) * beta2 ** (t - k) * g * g for k in range(1, t + 1))
    return -lr * m / (1 - beta1 ** t) / (math.sqrt(v / (1 - beta2 ** t)) + eps)


def alternating_with_numpy(t, g, lr, betas=(0.9, 0.999), eps=1e-8):
    beta1 = np.float64(betas[0])
    m_hat = (1 - beta1) / (1 + beta1) * (1 - (-beta1) ** t) / (1 - beta1 ** t) * np.sign(g) * (-1.0) ** (t + 1)
    return -lr * m_hat * abs(g) / (abs(g) + eps)


@pytest.mark.parametrize("answer", [alternating_by_summing, alternating_with_numpy])
def test_the_alternating_step_written_differently_passes(answer):
    assert all(check("09.alternating_step", answer, seed=seed).passed for seed in range(6))


@pytest.mark.parametrize("index", range(len(ch09.ALTERNATING_MISTAKES)))
def test_each_alternating_mistake_gets_its_message_on_every_seed(index):
    mistake, explanation = ch09.ALTERNATING_MISTAKES[index]
    assert messages("09.alternating_step", mistake) == {capitalized(explanation)}


def test_the_alternating_cases_cover_the_first_steps_both_signs_and_a_visible_eps():
    for seed in range(10):
        cases = ch09._alternating_cases(np.random.default_rng(seed))
        steps = [ch09._alternating_step(*case) for case in cases]
        assert {1, 2} <= {t for t, *_ in cases} and min(steps) < 0 < max(steps)
        assert any(t % 2 and t > 1 for t, *_ in cases) and any(t % 2 == 0 and t > 2 for t, *_ in cases)
        assert sum(eps > 0.05 * abs(g) for _, g, _, _, eps in cases) >= 3


# ------------------------------------------------------------------ task 3: AdamW's fixed point
@pytest.mark.parametrize("seed", range(3))
def test_the_fixed_point_is_where_adamw_ends(seed):
    rng = np.random.default_rng(seed)
    lam = float(rng.uniform(0.2, 2.0))
    a = 10 ** rng.uniform(-0.5, 0.5, 4)
    c = np.array([0.5, 2.5, -0.6, -3.0]) / lam
    eps = float(np.mean(a * np.abs(c)) * rng.uniform(0.1, 1.0))
    opt, x = optim.AdamW(lr=0.01, betas=(0.9, 0.99), eps=eps, weight_decay=lam), np.zeros(4)
    for _ in range(15000):
        x = opt.step(x, a * (x - c))
    expected = [ch09._adamw_fixed_point(ai, ci, 0.01, lam, eps) for ai, ci in zip(a, c)]
    assert np.allclose(x, expected, rtol=1e-8, atol=1e-10)


def test_torchs_adamw_ends_at_the_fixed_point_too():
    a, c, lam, eps = 2.0, 3.0, 0.5, 0.4
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.AdamW([p], lr=0.02, betas=(0.8, 0.99), eps=eps, weight_decay=lam)
    for _ in range(5000):
        p.grad = a * (p.detach() - c)
        opt.step()
    assert math.isclose(p.item(), ch09._adamw_fixed_point(a, c, 0.02, lam, eps), rel_tol=1e-8)


def fixed_point_by_root_finding(a, c, lr, weight_decay, eps):
    """The balance lambda x (|g| + eps) = -g solved numerically between 0 and c."""
    if c == 0:
        return 0.0
    balance = lambda x: weight_decay * x * (a * abs(x - c) + eps) + a * (x - c)  # noqa: E731
    return brentq(balance, 0.0, c, xtol=1e-15, rtol=1e-14)


def fixed_point_with_a_case_apart(a, c, lr, weight_decay, eps):
    if weight_decay == 0:
        return c
    b = a * (1 + weight_decay * abs(c)) + weight_decay * eps
    x = (b - math.sqrt(b * b - 4 * a * a * weight_decay * abs(c))) / (2 * a * weight_decay)
    return x if c >= 0 else -x


@pytest.mark.parametrize("answer", [fixed_point_by_root_finding, fixed_point_with_a_case_apart])
def test_the_fixed_point_written_differently_passes(answer):
    assert all(check("09.adamw_fixed_point", answer, seed=seed).passed for seed in range(6))


def unguarded(mistake):
    """A mistake written as a learner would: nothing special at lambda = 0 (it may divide by zero there)."""
    def answer(a, c, lr, weight_decay, eps):
        value = mistake(a, c, lr, weight_decay, eps)
        if value is None:
            raise ZeroDivisionError("float division by zero")
        return value
    return answer


@pytest.mark.parametrize("index", range(len(ch09.FIXED_POINT_MISTAKES)))
def test_each_fixed_point_mistake_gets_its_message_on_every_seed(index):
    mistake, explanation = ch09.FIXED_POINT_MISTAKES[index]
    assert messages("09.adamw_fixed_point", unguarded(mistake)) == {capitalized(explanation)}
    guarded = lambda a, c, lr, lam, eps: mistake(a, c, lr, lam, eps) if lam > 0 else c  # noqa: E731
    assert messages("09.adamw_fixed_point", guarded) == {capitalized(explanation)}


def test_a_formula_that_divides_by_lambda_is_told_to_treat_zero_apart():
    def divides(a, c, lr, weight_decay, eps):
        b = a * (1 + weight_decay * abs(c)) + weight_decay * eps
        return math.copysign((b - math.sqrt(b * b - 4 * a * a * weight_decay * abs(c))) / (2 * a * weight_decay), c)

    for message in messages("09.adamw_fixed_point", divides):
        assert "ZeroDivisionError" in message and "Treat lambda = 0 apart" in message


def test_an_answer_near_the_fixed_point_is_told_what_the_check_wants():
    nearly = lambda a, c, lr, lam, eps: ch09._adamw_fixed_point(a, c, lr, lam, eps) * 1.0001  # noqa: E731
    assert all("Close, but not equal" in message for message in messages("09.adamw_fixed_point", nearly))
    halved = lambda a, c, lr, lam, eps: ch09._adamw_fixed_point(a, c, lr, lam, eps) / 2  # noqa: E731
    assert all("what balances the decay?" in message for message in messages("09.adamw_fixed_point", halved))


def test_the_fixed_point_cases_cover_both_sides_of_the_box_both_signs_and_lambda_0():
    for seed in range(10):
        cases = ch09._fixed_point_cases(np.random.default_rng(seed))
        decayed = [(a, c, lam, eps) for a, c, _, lam, eps in cases if lam > 0]
        assert any(abs(c) < 1 / lam for _, c, lam, _ in decayed) and any(abs(c) > 1 / lam for _, c, lam, _ in decayed)
        assert any(c < 0 for _, c, _, _ in decayed) and any(lam == 0 for *_, lam, _ in cases)
        assert sum(eps > 0.05 * a * abs(c) for a, c, _, eps in decayed) >= 4


# ------------------------------------------------------------------ task 4: Adam's regret on Reddi's problem
@pytest.mark.parametrize("answer", [4, 4.0, np.float64(4.0), 12 / 3, 4.001, 3.95, 4.05])
def test_the_regret_is_read_generously(answer):
    assert check("09.answer_regret_per_step", answer).passed


@pytest.mark.parametrize("answer, words", [(0.67, "chapter's regret for C = 3"), (0.0, "that is AMSGrad"),
                                           (0.004, "that is AMSGrad"), (2.0, "distance to the best point is 2"),
                                           (12.0, "whole period"), (6.0, "sum of the gradients"),
                                           (20 / 3, "*lower* the regret"), (16 / 3, "count too"),
                                           (14 / 3, "two steps with gradient -1 (two of every three)"),
                                           (-2.0, "negative regret"), (3.0, "two questions"),
                                           ("4", "not the string"), ([4.0], "one number"), (float("inf"), "finite")])
def test_wrong_regrets_are_named(answer, words):
    feedback = check("09.answer_regret_per_step", answer)
    assert feedback.status == "failed" and words.lower() in feedback.message.lower(), feedback.message


def reddi(C, steps, amsgrad):
    """Adam (beta1 = 0) on Reddi et al.'s problem with the library's optimizer: (x at the end, regret per step)."""
    opt, x, regret = optim.Adam(lr=0.5, betas=(0.0, 1 / (1 + C * C)), amsgrad=amsgrad), np.zeros(1), 0.0
    for t in range(1, steps + 1):
        g = C if t % 3 == 1 else -1.0
        regret += g * (x[0] + 1)
        opt.lr = 0.5 / math.sqrt(t)
        x = np.clip(opt.step(x, np.array([g])), -1.0, 1.0)
    return x[0], regret / steps


def test_adams_regret_per_step_on_reddis_problem_is_two_c_minus_4_over_3():
    """The measurement behind task 4's answer, with lrcourse.optim.Adam (the notebook writes the loop out):
    Adam at the worst point with regret 2(C - 2)/3 per step, AMSGrad at the best one with a regret near 0."""
    for C in (5.0, 8.0):
        x, regret = reddi(C, 30000, amsgrad=False)
        assert x == 1.0 and abs(regret - 2 * (C - 2) / 3) < 0.01
        x, regret = reddi(C, 30000, amsgrad=True)
        assert x < -0.99 and 0 < regret < 0.01
    assert ch09.REGRET == 4.0


def test_the_notebooks_loop_is_adam_and_amsgrad():
    """The measure cell of task 4 writes Adam with beta1 = 0 out, for four C at once: it matches the library's."""
    nb = nbformat.read(ROOT / "solutions/09_adam.ipynb", as_version=4)
    source = next(c.source for c in nb.cells if c.cell_type == "code" and "beta2 = 1 / (1 + C * C)" in c.source)
    names = {"np": np, "answer_regret_per_step": None}
    exec(source.replace("steps = 30000", "steps = 3000"), names)
    for i, C in enumerate(names["C"]):
        for row, amsgrad in enumerate((False, True)):
            x, regret = reddi(float(C), 3000, amsgrad)
            assert math.isclose(names["x"][row, i], x, rel_tol=1e-9, abs_tol=1e-12)
            assert math.isclose(names["regret"][row, i] / 3000, regret, rel_tol=1e-9)


# ------------------------------------------------------------------ task 5: Adam and RMSprop with momentum
@pytest.mark.parametrize("answer", ["", "ab", "B ", True, None, "a", "c", "d"])
def test_the_rmsprop_question_reads_answers_and_never_crashes(answer):
    feedback = check("09.answer_rmsprop_momentum", answer)
    assert feedback.status in ("passed", "failed", "not attempted")
    assert feedback.passed == (answer == "B ")


def test_rmsprop_with_momentum_at_a_tenth_of_the_lr_takes_adams_steps_once_v_has_settled():
    """The facts behind task 5's answer: on a steady and a zig-zagging coordinate, RMSprop (momentum 0.9, lr / 10)
    steps as Adam does after many steps, and 3.2 times longer at step 1."""
    adam, rmsprop = optim.Adam(lr=0.01), optim.RMSprop(lr=0.001, alpha=0.999, momentum=0.9)
    x, y = np.zeros(2), np.zeros(2)
    for t in range(1, 20001):
        g = np.array([0.5, 0.5 * (-1) ** (t - 1)])
        x_new, y_new = adam.step(x, g), rmsprop.step(y, g)
        if t == 1:
            assert np.allclose(np.abs(y_new - y) / np.abs(x_new - x), 0.1 / math.sqrt(1 - 0.999))   # 3.16
        x, y, steps = x_new, y_new, (np.abs(x_new - x), np.abs(y_new - y))
    assert np.allclose(steps[0], steps[1], rtol=1e-4) and math.isclose(steps[0][1] / 0.01, 0.1 / 1.9, rel_tol=1e-6)


# ------------------------------------------------------------------ the notebooks' answers and a blank submission
def solution_definitions():
    """What the solution notebook defines (its code cells up to the first check), run here."""
    nb = nbformat.read(ROOT / "solutions/09_adam.ipynb", as_version=4)
    names = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith(("def ", "### BEGIN", "import")):
            exec(cell.source, names)
    return names


def test_the_solution_notebooks_answers_pass_on_every_seed():
    names = solution_definitions()
    for seed in range(6):
        feedback = grade_namespace("09", names, seed=seed)
        assert all(f.passed for f in feedback), [str(f) for f in feedback if not f.passed]


def test_a_blank_exercise_is_not_attempted_everywhere():
    nb = nbformat.read(ROOT / "solutions/09_adam.ipynb", as_version=4)
    names = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith(("def ", "### BEGIN", "import")):
            exec(strip_solutions(cell.source), names)
    feedback = grade_namespace("09", names)
    assert [f.task for f in feedback] == [t.id for t in tasks_of("09")] and len(feedback) == 5
    assert all(f.status == "not attempted" for f in feedback), [str(f) for f in feedback]
    assert all(f.status == "not attempted" for f in grade_namespace("09", {}))


# ------------------------------------------------------------------ for tests/test_grading.py (every task's checks)
REFERENCES_09 = {
    "09.adam_step": ch09._adam_step,
    "09.alternating_step": ch09._alternating_step,
    "09.adamw_fixed_point": ch09._adamw_fixed_point,
    "09.answer_regret_per_step": 4.0,
    "09.answer_rmsprop_momentum": "b",
}

WRONG_09 = {
    "09.adam_step": [
        (ch09._variant(correction="none"), "bias corrections are missing"),
        (ch09._variant(eps_at="inside"), "outside the square root"),
        (ch09._variant(ams="hat"), "largest *uncorrected* v"),
        (ch09._variant(decay="coupled"), "is not added to the gradient"),
        (ch09._variant(decay="lambda"), "not 1 - weight_decay"),
        (ch09._variant(swap_betas=True), "swapped"),
        (lambda *args: ch09._adam_step(*args)[:2], "should return four arrays"),
    ],
    "09.alternating_step": [
        (lambda t, g, lr, betas=(0.9, 0.999), eps=1e-8: -ch09._alternating_step(t, g, lr, betas, eps),
         "sign is flipped"),
        (lambda t, g, lr, betas=(0.9, 0.999), eps=1e-8: -lr * (1 - betas[0]) / (1 + betas[0]) * g * (-1) ** (t - 1)
         / (abs(g) + eps), "limit for t -> infinity"),
        (lambda t, g, lr, betas=(0.9, 0.999), eps=1e-8: -lr * ch09._factor(t, betas[1]) * g * (-1) ** (t - 1)
         / (abs(g) + eps), "used beta2 in m"),
        (lambda t, g, lr, betas=(0.9, 0.999), eps=1e-8: 0.0, "exponential average"),
    ],
    "09.adamw_fixed_point": [
        (lambda a, c, lr, lam, eps: float(np.clip(c, -1 / lam, 1 / lam)) if lam else c, "limit eps -> 0"),
        (lambda a, c, lr, lam, eps: a * c / (a + lam), "Adam + L2"),
        (lambda a, c, lr, lam, eps: ch09._fixed_point(a, c, lam, eps, lam_factor=lr), "the lr cancels"),
        (lambda a, c, lr, lam, eps: abs(ch09._adamw_fixed_point(a, c, lr, lam, eps)), "mirror image"),
    ],
    "09.answer_regret_per_step": [(0.67, "chapter's regret for C = 3"), (0.0, "that is AMSGrad"),
                                  (2.0, "distance to the best point is 2"), (12.0, "whole period"),
                                  ("4", "not the string")],
    "09.answer_rmsprop_momentum": [("a", "damps a zig-zag too"), ("c", "not the only difference"),
                                   ("d", "not from the first step"), ("", "answer with one of the letters")],
}
