"""Exercise 07 (RMSprop): the checks' references agree with torch and with runs, answers written differently pass,
each named mistake gets its diagnosis whatever the seed, and broken answers get feedback."""

import math

import numpy as np
import pytest
import torch

from lrcourse import functions, optim
from lrcourse.grading import TASKS, check, ch07
from lrcourse.grading.core import _sentence
from lrcourse.runs import minibatch_sweep, run

SEEDS = range(8)

# for tests/test_grading.py, which runs every task's reference on six seeds and a few named mistakes on three
REFERENCES_07 = {
    "07.rmsprop_step": ch07._rmsprop_step,
    "07.hop_amplitude": ch07._hop_amplitude,
    "07.answer_floor_exponents": ch07.FLOOR_EXPONENTS,
    "07.rare_step": ch07._rare_step,
    "07.answer_units": "b",
}
WRONG_07 = {
    "07.rmsprop_step": [(ch07._variant(eps_inside=True), "outside the square root"),
                        (ch07._variant(swap_alpha=True), "alpha and 1 - alpha are swapped"),
                        (ch07._variant(center="unsquared"), "m squared"),
                        (ch07._variant(mom="old"), "momentum buffer order"),
                        (ch07._variant(mom="lr_inside"), "Keras's form"),
                        (ch07._variant(decay="after"), "*before* the averages")],
    "07.hop_amplitude": [(lambda L, lr, alpha, eps: lr / 2 - eps / L, "amplitude is negative"),
                         (lambda L, lr, alpha, eps: max(0.0, lr - eps / L), "length of a hop"),
                         (lambda L, lr, alpha, eps: max(0.0, lr / 2 - eps), "not with a"),
                         (lambda L, lr, alpha, eps: lr / 2, "right where eps is negligible")],
    "07.answer_floor_exponents": [((1, -1), "is SGD's"), ((2, -0.5), "*without* noise"),
                                  ((1, 0), "divides the batch out"), ("(1, -0.5)", "not the string")],
    "07.rare_step": [(lambda k, g, lr, alpha, eps: lr * math.sqrt(k), "AdaGrad's ratio"),
                     (lambda k, g, lr, alpha, eps: lr * abs(g) / (abs(g) * math.sqrt(1 - alpha) + eps),
                      "the first appearance"),
                     (lambda k, g, lr, alpha, eps: ch07._rare_step(k + 1, g, lr, alpha, eps), "off by one")],
    "07.answer_units": [("a", "must shrink with them"), ("c", "gradient descent's rule"), ("d", "not of the lengths")],
}


def messages(task_id, answer, seeds=SEEDS):
    feedbacks = [check(task_id, answer, seed=seed) for seed in seeds]
    assert all(f.status == "failed" for f in feedbacks), [str(f) for f in feedbacks if f.status != "failed"]
    return {f.message for f in feedbacks}


# ------------------------------------------------------------------ task 1: the reference is torch's step
@pytest.mark.parametrize("options", [dict(), dict(centered=True), dict(momentum=0.7), dict(weight_decay=0.3),
                                     dict(centered=True, momentum=0.5, weight_decay=0.2, eps=1e-3)])
def test_the_reference_step_is_torchs(options):
    rng = np.random.default_rng(len(options))
    lr, alpha = 0.05, 0.85
    x0 = rng.normal(size=4)
    p = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.RMSprop([p], lr=lr, alpha=alpha, **options)
    full = {**dict(eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False), **options}
    x, v, m, buf = x0.copy(), np.zeros(4), np.zeros(4), np.zeros(4)
    for _ in range(60):
        grad = rng.normal(size=4)
        p.grad = torch.tensor(grad)
        opt.step()
        x, v, m, buf = ch07._rmsprop_step(x, v, m, buf, grad, lr, alpha, full["eps"], full["weight_decay"],
                                          full["momentum"], full["centered"])
        assert np.allclose(x, p.detach().numpy(), rtol=1e-12, atol=1e-14)
        assert np.allclose(v, opt.state[p]["square_avg"].numpy(), rtol=1e-12, atol=1e-14)


def rmsprop_in_place(x, v, m, buf, grad, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    """As torch writes it: the state updated in place, m and buf always kept up to date."""
    g = grad + weight_decay * x
    v *= alpha
    v += (1 - alpha) * g * g
    m *= alpha
    m += (1 - alpha) * g                               # even when not centered: unused, and not checked there
    d = (np.sqrt(v - m * m) if centered else np.sqrt(v)) + eps
    buf *= momentum
    buf += g / d
    return (x - lr * buf if momentum > 0 else x - lr * g / d), v, m, buf


def rmsprop_with_a_list(x, v, m, buf, grad, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    g = np.add(grad, np.multiply(weight_decay, x))
    v = np.multiply(alpha, v) + np.multiply(1 - alpha, np.square(g))
    if centered:
        m = alpha * m + (1 - alpha) * g
    denominator = np.sqrt(v - m ** 2 if centered else v) + eps
    if momentum:
        buf = momentum * buf + g / denominator
        step = lr * buf
    else:
        step = lr * g / denominator
    return [x - step, v, m, buf]


@pytest.mark.parametrize("answer", [rmsprop_in_place, rmsprop_with_a_list])
def test_one_step_written_differently_passes(answer):
    assert all(check("07.rmsprop_step", answer, seed=seed).passed for seed in range(6))


@pytest.mark.parametrize("index", range(len(ch07.STEP_MISTAKES)))
def test_each_step_mistake_gets_its_message_on_every_seed(index):
    mistake, explanation = ch07.STEP_MISTAKES[index]
    assert messages("07.rmsprop_step", mistake) == {_sentence(explanation)}


def test_the_step_mistakes_named_in_the_brief_are_there():
    text = " ".join(explanation for _, explanation in ch07.STEP_MISTAKES)
    for words in ("outside the square root", "alpha and 1 - alpha are swapped", "sqrt(v - m^2) + eps: m squared",
                  "momentum buffer order", "Keras's form", "weight_decay is missing", "decoupled weight decay"):
        assert words in text


def test_a_step_that_changes_x_in_place_is_named():
    def x_in_place(x, v, m, buf, grad, lr, *options):
        x_new, v, m, buf = ch07._rmsprop_step(x, v, m, buf, grad, lr, *options)
        x[...] = x_new
        return x, v, m, buf

    assert all("changed its input `x` in place" in message for message in messages("07.rmsprop_step", x_in_place,
                                                                                   range(3)))


def test_an_unknown_mistake_in_one_option_says_which_settings_are_right():
    def centered_by_abs(x, v, m, buf, grad, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        g = grad + weight_decay * x
        v = alpha * v + (1 - alpha) * g * g
        m = alpha * m + (1 - alpha) * g
        d = (np.sqrt(v) - np.abs(m) if centered else np.sqrt(v)) + eps
        if momentum > 0:
            buf = momentum * buf + g / d
            return x - lr * buf, v, m, buf
        return x - lr * g / d, v, m, buf

    for message in messages("07.rmsprop_step", centered_by_abs, range(4)):
        assert message.startswith("Your step agrees with torch's with no options, a large eps, momentum and "
                                  "weight_decay, but not with centered=True")
        assert "Your averages are right, x_new is not" in message


def test_a_step_right_at_first_and_wrong_later_is_told_when():
    def forgets_v(x, v, m, buf, grad, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        return ch07._rmsprop_step(x, v * 0.5, m, buf, grad, lr, alpha, eps, weight_decay, momentum, centered)

    # (in the centered runs it later gives NaN: the first wrong step, not the NaN, is what the message is about)

    for message in messages("07.rmsprop_step", forgets_v, range(4)):
        assert "It is right at step 1 and wrong from step 2 on" in message and "Your v_new is wrong" in message


def test_nan_and_wrong_shapes_from_a_step_are_named():
    nan = lambda x, v, m, buf, *rest: (np.full_like(x, np.nan), v, m, buf)  # noqa: E731
    feedback = check("07.rmsprop_step", nan, seed=0)
    assert feedback.status == "failed" and "NaN" in feedback.message and "as x_new" in feedback.message
    three = lambda x, v, m, buf, *rest: (x, v, m)  # noqa: E731
    message = check("07.rmsprop_step", three, seed=0).message
    assert "should return the 4 arrays (x_new, v_new, m_new, buf_new)" in message
    scalar = lambda x, v, m, buf, *rest: (0.0, v, m, buf)  # noqa: E731
    assert "shape" in check("07.rmsprop_step", scalar, seed=0).message


# ------------------------------------------------------------------ task 2: the hop's amplitude
def test_the_derived_amplitude_is_where_rmsprop_ends():
    for seed in range(2):
        for kind, (L, lr, alpha, eps) in ch07._hop_cases(np.random.default_rng(seed)):
            opt, x = optim.RMSprop(lr=lr, alpha=alpha, eps=eps), np.array([1.0])
            for _ in range(15000):
                x = opt.step(x, L * x)
            after = opt.step(x, L * x)
            a = ch07._hop_amplitude(L, lr, alpha, eps)
            assert math.isclose(abs(x[0]), a, rel_tol=1e-6, abs_tol=1e-12), (kind, L, lr, alpha, eps)
            assert math.isclose(abs(after[0]), a, rel_tol=1e-6, abs_tol=1e-12) and (a == 0 or x[0] * after[0] < 0)


def test_the_amplitude_found_by_running_rmsprop_passes():
    def by_running(L, lr, alpha, eps):
        opt, x = optim.RMSprop(lr=lr, alpha=alpha, eps=eps), np.array([1.0])
        for _ in range(15000):
            x = opt.step(x, L * x)
        return abs(float(x[0]))

    assert check("07.hop_amplitude", by_running, seed=0).passed


@pytest.mark.parametrize("index", range(len(ch07.HOP_MISTAKES)))
def test_each_amplitude_mistake_gets_its_message_on_every_seed(index):
    mistake, explanation = ch07.HOP_MISTAKES[index]
    assert messages("07.hop_amplitude", mistake) == {_sentence(explanation)}


@pytest.mark.parametrize("answer, words", [
    (lambda L, lr, alpha, eps: lr / 2, "Right where eps is negligible (a = lr/2)"),
    (lambda L, lr, alpha, eps: lr, "that is the length of a hop"),
    (lambda L, lr, alpha, eps: lr / (2 * L), "does not shrink with the curvature"),
    (lambda L, lr, alpha, eps: lr / (2 * math.sqrt(1 - alpha)), "size of the *first* steps"),
])
def test_partly_right_amplitudes_get_a_hint_on_every_seed(answer, words):
    found = messages("07.hop_amplitude", answer)
    assert len(found) == 1 and words in found.pop()


def test_the_amplitude_cases_tell_the_formulas_apart():
    for seed in range(20):
        cases = ch07._hop_cases(np.random.default_rng(seed))
        kinds = [kind for kind, _ in cases]
        assert kinds.count("tiny") == 2 and kinds.count("converges") == 2
        assert all(ch07._hop_amplitude(*args) == 0 for kind, args in cases if kind == "converges")
        assert all(ch07._hop_amplitude(*args) > 0 for kind, args in cases if kind in ("tiny", "flat", "visible"))


# ------------------------------------------------------------------ task 3: the noise floor's exponents
@pytest.mark.parametrize("answer", [(1, -0.5), [1.0, -1 / 2], np.array([1.02, -0.48]), (0.95, -0.55),
                                    (np.int64(1), np.float64(-0.5))])
def test_the_floor_exponents_are_read_generously(answer):
    assert check("07.answer_floor_exponents", answer).passed


@pytest.mark.parametrize("answer, words", [
    ((1, -1), "A batch exponent of -1 is SGD's"), ((2, -0.5), "*without* noise"),
    ((2, -0.5), "the batch size's (-1/2), is right"), ((2, 0), "Both exponents are off"),
    ((1, 0), "divides the batch out entirely"), ((0, -0.5), "does not depend on the lr"), ((0.5, -0.5), "sqrt(lr)"),
    ((-1, -0.5), "settles *higher*"), ((1, 0.5), "positive batch exponent"), ((1.5, -0.5), "The lr's exponent"),
    ((1, -0.3), "How do the two depend on B"), ("1, -0.5", "not the string"), (0.5, "a pair of numbers"),
    ((1, "a"), "should be a number"), ((1, float("nan")), "finite"), ((True, -0.5), "should be a number"),
    ((1, -0.5, 0), "a pair of numbers"),
])
def test_wrong_floor_exponents_are_told_what_is_off(answer, words):
    feedback = check("07.answer_floor_exponents", answer)
    assert feedback.status == "failed" and words.lower() in feedback.message.lower(), feedback.message


def test_rmsprops_floor_goes_like_lr_over_the_root_of_the_batch_and_its_hop_like_lr_squared():
    """The measurement behind task 3, smaller than the notebook's: with noise RMSprop lr^1 B^-1/2 (SGD lr^1 B^-1),
    without noise (the full-batch gradient) lr^2."""
    problem = functions.LeastSquares.diabetes(drop=("s1",))
    lrs, batch_sizes, exponents = np.array([1e-3, 4e-3]), [1, 4, 16, 64], {}
    for name, make, rates in [("RMSprop", optim.RMSprop, lrs), ("SGD", optim.SGD, 5 * lrs)]:
        floors = np.empty((2, 4))
        for j, B in enumerate(batch_sizes):
            runs = minibatch_sweep(problem, make(), rates, B, 6000, seed=list(range(6)), every=100,
                                   start=problem.minima[0])
            floors[:, j] = runs.gaps[:, :, runs.recorded > 3000].mean(axis=(0, 2))
        LR, BB = np.meshgrid(rates, batch_sizes, indexing="ij")
        design = np.column_stack([np.log(LR).ravel(), np.log(BB).ravel(), np.ones(8)])
        exponents[name] = np.linalg.lstsq(design, np.log(floors).ravel(), rcond=None)[0][:2]
    assert abs(exponents["RMSprop"][0] - 1) < 0.1 and abs(exponents["RMSprop"][1] + 0.5) < 0.08
    assert abs(exponents["SGD"][0] - 1) < 0.1 and abs(exponents["SGD"][1] + 1) < 0.08
    opt, W, losses = optim.RMSprop(), np.repeat(problem.start[:, None], 2, axis=1), []
    opt.lr = lrs
    for t in range(20000):
        W = opt.step(W, problem.X.T @ (problem.X @ W - problem.y[:, None]) / problem.n)
        if t >= 19000:
            losses.append(problem.excess(W[None])[0])
    assert abs(np.polyfit(np.log(lrs), np.log(np.mean(losses, axis=0)), 1)[0] - 2) < 0.02


# ------------------------------------------------------------------ task 4: a rare feature's step
def test_the_derived_rare_step_is_what_rmsprop_does():
    rng = np.random.default_rng(4)
    for k, alpha in [(1, 0.9), (7, 0.9), (30, 0.99), (500, 0.99), (3, 0.5)]:
        g, lr, eps = float(rng.normal()), 0.01, float(10 ** rng.uniform(-8, -3))
        opt, x = optim.RMSprop(lr=lr, alpha=alpha, eps=eps), np.zeros(1)
        for period in range(int(30 / (1 - alpha) / k) + 30):
            for j in range(k):
                before, x = x, opt.step(x, np.array([g if j == 0 else 0.0]))
                if j == 0:
                    step = abs(x[0] - before[0])
        assert math.isclose(step, ch07._rare_step(k, g, lr, alpha, eps), rel_tol=1e-9)


def test_rare_steps_found_by_running_rmsprop_pass():
    def by_running(k, g, lr, alpha, eps):
        opt, x = optim.RMSprop(lr=lr, alpha=alpha, eps=eps), np.zeros(1)
        for period in range(int(40 / (1 - alpha) / k) + 40):
            for j in range(k):
                before, x = x, opt.step(x, np.array([g if j == 0 else 0.0]))
                if j == 0:
                    step = abs(x[0] - before[0])
        return step

    assert all(check("07.rare_step", by_running, seed=seed).passed for seed in range(2))


@pytest.mark.parametrize("index", range(len(ch07.RARE_MISTAKES)))
def test_each_rare_step_mistake_gets_its_message_on_every_seed(index):
    mistake, explanation = ch07.RARE_MISTAKES[index]
    assert messages("07.rare_step", mistake) == {_sentence(explanation)}


def test_an_off_by_one_that_divides_by_zero_at_k_1_is_named():
    def one_decay_short(k, g, lr, alpha, eps):
        return lr * abs(g) / (abs(g) * math.sqrt((1 - alpha) / (1 - alpha ** (k - 1))) + eps)   # k = 1: 1/0

    assert messages("07.rare_step", one_decay_short) == {_sentence(ch07.RARE_MISTAKES[2][1])}


def test_the_rare_cases_span_the_memory():
    for seed in range(10):
        cases = ch07._rare_cases(np.random.default_rng(seed))
        assert any(k == 1 for k, *_ in cases) and any(a ** k < 2e-3 for k, g, lr, a, e in cases)
        assert sum(0.03 < a ** k < 0.95 for k, g, lr, a, e in cases if k > 1) >= 4
        assert sum(e > 1e-8 for *_, e in cases) == 1


# ------------------------------------------------------------------ task 5: other units
def test_only_the_lr_and_eps_both_rescaled_follow_the_path():
    base = functions.Quadratic((0.1, 1.0), angle=0.5, start=(1.0, 0.5))
    millimetres = functions.Rescaled(base, 1000.0)
    metres = run(base, base.start, optim.RMSprop(lr=0.01, eps=1e-6), 150).xs
    difference = {}
    for letter, lr, eps in [("a", 10.0, 1e-6), ("b", 10.0, 1e-9), ("c", 1e4, 1e-6), ("d", 0.01, 1e-6)]:
        xs = run(millimetres, millimetres.start, optim.RMSprop(lr=lr, eps=eps), 150).xs
        n = min(len(xs), len(metres))
        difference[letter] = np.abs(xs[:n] / 1000 - metres[:n]).max()
    assert difference["b"] < 1e-12 and min(difference["a"], difference["c"], difference["d"]) > 1e-2
    assert check("07.answer_units", "b").passed


@pytest.mark.parametrize("answer", ["", "ab", " B ", True, None, 2])
def test_the_units_question_reads_answers_and_never_crashes(answer):
    feedback = check("07.answer_units", answer)
    assert feedback.status in ("passed", "failed", "not attempted")
    assert feedback.passed == (answer == " B ")


def test_chapter_07_has_five_tasks_in_order():
    from lrcourse.grading import tasks_of

    assert [t.name for t in tasks_of("07")] == ["rmsprop_step", "hop_amplitude", "answer_floor_exponents",
                                                "rare_step", "answer_units"]
    assert all(TASKS[f"07.{name}"].kind == "value" for name in ("answer_floor_exponents", "answer_units"))


# ------------------------------------------------------------------ broken answers: feedback, never a traceback
# (endless loops: tests/test_grading.py::test_endless_loops_are_stopped, for every chapter)
@pytest.mark.parametrize("task_id", ["07.hop_amplitude", "07.rare_step"])
@pytest.mark.parametrize("answer, words", [(lambda *args: float("nan"), "NaN"), (lambda *args: [0.1, 0.2], "a list"),
                                           (lambda *args: "lr / 2", "a string"), (lambda *args: None, "return")])
def test_a_formula_that_returns_no_number_is_told_so(task_id, answer, words):
    feedback = check(task_id, answer, seed=0)
    assert feedback.status == "failed" and words in feedback.message, feedback.message
