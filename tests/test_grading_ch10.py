"""Exercise 10 (warm-up, cycles, restarts): the checks' references equal torch's schedulers, answers written
differently pass, each named mistake gets its diagnosis whatever the seed, and broken answers get feedback.

REFERENCES_10 and WRONG_10 can also feed tests/test_grading.py's checks over every task."""

import math

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as tls

from lrcourse import schedules
from lrcourse.grading import ch10, check, tasks_of

SEEDS = range(5)

REFERENCES_10 = {
    "10.linear_warmup": ch10._linear_warmup,
    "10.triangular2": ch10._triangular2,
    "10.restart_steps": ch10._restart_steps,
    "10.one_cycle_lr": lambda t, m, N, q, d, f: ch10._one_cycle(t, m, N, q, d, f),
    "10.answer_warmup": "c",
}

WRONG_10 = {
    "10.linear_warmup": [(wrong, explanation[:40]) for wrong, explanation in ch10.WARMUP_MISTAKES],
    "10.triangular2": [(wrong, explanation[:40]) for wrong, explanation in ch10.TRI_MISTAKES],
    "10.restart_steps": [(wrong, explanation[:40]) for wrong, explanation in ch10.RESTART_MISTAKES],
    "10.one_cycle_lr": [(wrong, explanation[:40]) for wrong, explanation in ch10.ONE_CYCLE_MISTAKES],
    "10.answer_warmup": [("a", "not in every setting"), ("b", "the other way round"), ("d", "fewer runs blew up"),
                         ("cd", "a single letter")],
}


def torch_lrs(make, steps, lr=1.0):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr, momentum=0.9)
    scheduler = make(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return np.array(out)


def test_the_tasks_of_chapter_10():
    assert [t.name for t in tasks_of("10")] == ["linear_warmup", "triangular2", "restart_steps", "one_cycle_lr",
                                                "answer_warmup"]


@pytest.mark.parametrize("seed", SEEDS)
def test_the_references_are_torchs_schedulers(seed):
    rng = np.random.default_rng(seed)
    lr, s, T = float(rng.uniform(0.01, 1)), float(rng.uniform(0.01, 0.9)), int(rng.integers(1, 50))
    np.testing.assert_allclose([ch10._linear_warmup(t, lr, s, T) for t in range(120)],
                               torch_lrs(lambda o: tls.LinearLR(o, s, 1.0, T), 120, lr), rtol=1e-12)
    base, peak, up, down = 0.01, float(rng.uniform(0.05, 1)), int(rng.integers(1, 30)), int(rng.integers(1, 30))
    np.testing.assert_allclose([ch10._triangular2(t, base, peak, up, down) for t in range(300)],
                               torch_lrs(lambda o: tls.CyclicLR(o, base, peak, up, down, "triangular2"), 300, base),
                               rtol=1e-12)
    N, q = int(rng.integers(20, 300)), float(rng.choice([0.2, 0.25, 0.3, 0.4]))
    d, f = float(rng.uniform(5, 40)), float(10 ** rng.uniform(1, 4))
    np.testing.assert_allclose([ch10._one_cycle(t, peak, N, q, d, f) for t in range(N)],
                               torch_lrs(lambda o: tls.OneCycleLR(o, peak, N, pct_start=q, div_factor=d,
                                                                  final_div_factor=f), N), rtol=1e-12)
    T_0, T_mult = int(rng.integers(1, 20)), int(rng.integers(1, 4))
    lrs = torch_lrs(lambda o: tls.CosineAnnealingWarmRestarts(o, T_0, T_mult), 2000)
    restarts = [t for t in range(1, 2000) if lrs[t] > lrs[t - 1]]
    assert restarts[:4] == list(ch10._restart_steps(T_0, T_mult, 4))


@pytest.mark.parametrize("task_id", list(REFERENCES_10))
@pytest.mark.parametrize("seed", SEEDS)
def test_reference_answers_pass(task_id, seed):
    feedback = check(task_id, REFERENCES_10[task_id], seed=seed)
    assert feedback.passed, feedback
    assert feedback.points == feedback.max_points == 1.0


def torch_linear(t, lr, start_factor, total_iters):
    return torch_lrs(lambda o: tls.LinearLR(o, start_factor, 1.0, total_iters), t + 1, lr)[-1]


def restarts_by_walking(T_0, T_mult, n):
    out, step, length = [], 0, T_0
    while len(out) < n:
        step += length
        length *= T_mult
        out.append(step)
    return out


WRITTEN_DIFFERENTLY = {
    "10.linear_warmup": [torch_linear,
                         lambda t, lr, s, T: schedules.linear(lr, s, 1.0, T)(t),
                         lambda t, lr, s, T: lr * s + (lr - lr * s) * (t if t < T else T) / T],
    "10.triangular2": [lambda t, b, m, u, d: schedules.cyclic(b, m, u, d, "triangular2")(t)],
    "10.restart_steps": [restarts_by_walking,
                         lambda T_0, T_mult, n: [T_0 * sum(T_mult ** j for j in range(k)) for k in range(1, n + 1)],
                         lambda T_0, T_mult, n: tuple(float(v) for v in restarts_by_walking(T_0, T_mult, n))],
    "10.one_cycle_lr": [lambda t, m, N, q, d, f: schedules.one_cycle(m, N, q, "cos", d, f)(t)],
    "10.answer_warmup": [" C ", "c"],
}
# float32 and torch answers: equal to the reference to about 1e-7, which rtol 1e-6 accepts
for _task, _reference in [("10.linear_warmup", ch10._linear_warmup), ("10.triangular2", ch10._triangular2),
                          ("10.one_cycle_lr", REFERENCES_10["10.one_cycle_lr"])]:
    WRITTEN_DIFFERENTLY[_task] += [lambda *a, r=_reference: np.float32(r(*a)),
                                   lambda *a, r=_reference: torch.tensor(r(*a)),
                                   lambda *a, r=_reference: torch.tensor([r(*a)], dtype=torch.float32)]
WRITTEN_DIFFERENTLY["10.restart_steps"] += [lambda T_0, T_mult, n: torch.tensor(ch10._restart_steps(T_0, T_mult, n),
                                                                                dtype=torch.float32),
                                            lambda T_0, T_mult, n: np.float32(ch10._restart_steps(T_0, T_mult, n))]


@pytest.mark.parametrize("task_id, index", [(k, i) for k, v in WRITTEN_DIFFERENTLY.items() for i in range(len(v))])
def test_answers_written_differently_pass(task_id, index):
    for seed in range(3):
        feedback = check(task_id, WRITTEN_DIFFERENTLY[task_id][index], seed=seed)
        assert feedback.passed, feedback.message


@pytest.mark.parametrize("task_id, index", [(k, i) for k, v in WRONG_10.items() for i in range(len(v))])
def test_wrong_answers_are_rejected_with_the_right_diagnosis(task_id, index):
    wrong, expected = WRONG_10[task_id][index]
    for seed in range(3):
        feedback = check(task_id, wrong, seed=seed)
        assert feedback.status == "failed", f"{task_id}: a wrong answer passed (seed {seed})"
        assert expected.lower() in feedback.message.lower(), feedback.message


def loops_forever(*args):
    while True:
        pass


FUNCTIONS = [t for t in REFERENCES_10 if not t.startswith("10.answer")]


@pytest.mark.parametrize("task_id", FUNCTIONS)
@pytest.mark.parametrize("answer, words", [
    (lambda *a: 1 / 0, "raised ZeroDivisionError"),
    (lambda *a: None, "returned None"),
    (lambda *a: float("nan"), "NaN"),
    (lambda *a: "lr * t", "a string"),
    (lambda *a: [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], "shape"),
    (42, "expected a function"),
])
def test_broken_answers_get_feedback_not_tracebacks(task_id, answer, words):
    feedback = check(task_id, answer, seed=0)
    assert feedback.status == "failed"
    if task_id == "10.restart_steps" and words in ("shape", "NaN"):   # a list is expected: one number is no list
        assert "shape" in feedback.message
    elif words == "shape":
        assert "length 9" in feedback.message or "a list" in feedback.message
    else:
        assert words.lower() in feedback.message.lower(), feedback.message


@pytest.mark.parametrize("task_id", FUNCTIONS)
def test_endless_loops_are_stopped(task_id, monkeypatch):
    from lrcourse.grading import TASKS

    monkeypatch.setattr(TASKS[task_id], "time_limit", 0.3)
    feedback = check(task_id, loops_forever, seed=0)
    assert feedback.status == "failed" and "did not finish within 0.3 s" in feedback.message


def test_t_mult_one_dividing_by_zero_is_explained():
    feedback = check("10.restart_steps", lambda T_0, T_mult, n: [T_0 * (T_mult ** k - 1) // (T_mult - 1)
                                                                 for k in range(1, n + 1)], seed=0)
    assert "T_mult = 1" in feedback.message and "k T_0" in feedback.message


def test_a_hard_coded_table_cannot_pass():
    assert not check("10.restart_steps", lambda T_0, T_mult, n: [T_0 * k for k in range(1, n + 1)], seed=1).passed
    assert math.isclose(ch10._one_cycle(0, 1.0, 100), 1 / 25)


def _one_cycle_second_phase_off(t, m, N, q, d, f):
    """The second phase's fraction over (t - peak) / (N - peak), not (N - 1 - peak): a mistake with no name."""
    peak = q * N - 1
    if t <= peak:
        return ch10._one_cycle(t, m, N, q, d, f)
    start, end = m, m / d / f
    return end + (start - end) * (1 + math.cos(math.pi * (t - peak) / (N - peak))) / 2


@pytest.mark.parametrize("task_id, answer", [
    ("10.one_cycle_lr", _one_cycle_second_phase_off),
    ("10.one_cycle_lr", lambda t, m, N, q, d, f: ch10._one_cycle(t, m, N, q, d, f) if t < N - 1 else 0.0),
    ("10.linear_warmup", lambda t, lr, s, T: ch10._linear_warmup(t, lr, s, T) * (1 + 1e-5 * (t == T))),
])
def test_unnamed_mistakes_show_two_different_numbers(task_id, answer):
    for seed in range(3):
        feedback = check(task_id, answer, seed=seed)
        assert feedback.status == "failed"
        gives, returned = feedback.message.split(" gives ")[1].split("; you returned ")
        assert gives.strip(". ") != returned.strip(". "), feedback.message


@pytest.mark.parametrize("name, answer, words", [
    ("factor", lambda t, lr, s, T: s + (1 - s) * min(t, T) / T, "the factor, not the lr"),
    ("no start, no min", lambda t, lr, s, T: lr * t / T, "never stops climbing"),
])
def test_task_1_new_diagnoses(name, answer, words):
    for seed in range(3):
        assert words in check("10.linear_warmup", answer, seed=seed).message


def _halves_at_the_peak(t, base, peak, up, down):
    c = t % (up + down)
    h = c / up if c <= up else (up + down - c) / down
    return base + (peak - base) * h / 2 ** ((t + down) // (up + down))


@pytest.mark.parametrize("answer, words", [
    (ch10._smith_one_step_size, "a single step size"),
    (lambda t, b, m, u, d: ch10._smith_one_step_size(t, b, m, u, u), "a single step size"),
    (ch10._halved_max, "halved max_lr"),
    (_halves_at_the_peak, "halves at each peak"),
])
def test_task_2_new_diagnoses(answer, words):
    for seed in range(3):
        assert words in check("10.triangular2", answer, seed=seed).message


def test_task_4_peak_rounded_down_is_named():
    rounded = lambda t, m, N, q, d, f: ch10._one_cycle_int_peak(t, m, N, q, d, f)
    for seed in range(3):
        assert "int(pct_start * total_steps) - 1" in check("10.one_cycle_lr", rounded, seed=seed).message
    # it differs clearly from torch where pct_start * total_steps is no whole number
    assert abs(rounded(5, 1.0, 23, 0.3, 25.0, 1e4) / ch10._one_cycle(5, 1.0, 23, 0.3, 25.0, 1e4) - 1) > 0.01


def _numpy_formula(T_0, T_mult, n):
    k = np.arange(1, n + 1)
    return T_0 * (T_mult ** k - 1) / (T_mult - 1)


def _numpy_floor_formula(T_0, T_mult, n):
    k = np.arange(1, n + 1)
    return T_0 * (T_mult ** k - 1) // (T_mult - 1)


@pytest.mark.parametrize("answer, words", [
    (_numpy_formula, "you returned NaN"),
    (_numpy_floor_formula, "you returned zeros"),
    (lambda T_0, T_mult, n: [T_0 * (T_mult ** k - 1) // (T_mult - 1) for k in range(1, n + 1)], "ZeroDivisionError"),
])
def test_task_3_t_mult_one_is_named_for_nan_zeros_and_division_by_zero(answer, words):
    for seed in range(3):
        message = check("10.restart_steps", answer, seed=seed).message
        assert words in message and "T_mult = 1" in message and "k T_0" in message, message


def test_task_3_division_by_zero_elsewhere_is_not_blamed_on_t_mult_one():
    def divides_by_zero_everywhere(T_0, T_mult, n):
        return [T_0 / (k - k) for k in range(1, n + 1)]
    message = check("10.restart_steps", divides_by_zero_everywhere, seed=0).message
    assert "ZeroDivisionError" in message and "T_mult - 1 = 0" not in message, message
