"""Exercise 06 (AdaGrad): the checks' references agree with torch and with runs, answers written differently
pass, mistakes get the same diagnosis whatever the seed, and broken answers get feedback."""

import math

import numpy as np
import pytest
import torch

from lrcourse import functions, optim
from lrcourse.grading import check, ch06
from lrcourse.runs import minibatch_sweep


# ------------------------------------------------------------------ task 1: the reference is torch's step
@pytest.mark.parametrize("seed", range(4))
def test_the_reference_step_is_torchs(seed):
    rng = np.random.default_rng(seed)
    lr, lr_decay, weight_decay, eps, s0 = 0.3, *rng.uniform(0.01, 0.5, 2), float(rng.uniform(1e-4, 0.1)), 0.2
    x0 = rng.normal(size=4)
    p = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adagrad([p], lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps,
                              initial_accumulator_value=s0)
    x, s = x0.copy(), np.full(4, s0)
    for t in range(1, 50):
        grad = rng.normal(size=4)
        p.grad = torch.tensor(grad)
        opt.step()
        x, s = ch06._adagrad_step(x, s, grad, lr, t, lr_decay, weight_decay, eps)
        assert np.allclose(x, p.detach().numpy(), rtol=1e-12, atol=1e-14)


def adagrad_in_place(x, s, grad, lr, t, lr_decay=0.0, weight_decay=0.0, eps=1e-10):
    g = grad + weight_decay * x
    s += g * g                                          # as torch does: addcmul_
    return x - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps), s


def adagrad_step_by_step(x, s, grad, lr, t, lr_decay=0.0, weight_decay=0.0, eps=1e-10):
    g = np.add(grad, weight_decay * x)
    s_new = s + np.square(g)
    lr_t = lr / (1.0 + lr_decay * (t - 1))
    return x - lr_t * np.divide(g, np.sqrt(s_new) + eps), s_new


@pytest.mark.parametrize("answer", [adagrad_in_place, adagrad_step_by_step])
def test_one_step_written_differently_passes(answer):
    assert all(check("06.adagrad_step", answer, seed=seed).passed for seed in range(6))


def test_a_step_that_changes_x_in_place_is_named():
    def x_in_place(x, s, grad, lr, t, lr_decay=0.0, weight_decay=0.0, eps=1e-10):
        x_new, s_new = ch06._adagrad_step(x, s, grad, lr, t, lr_decay, weight_decay, eps)
        x[...] = x_new
        return x, s_new

    assert "changed its input `x` in place" in check("06.adagrad_step", x_in_place, seed=0).message


@pytest.mark.parametrize("change, words", [(dict(eps_inside=True), "outside the square root"),
                                           (dict(old_s=True), "old accumulator"),
                                           (dict(weight_decay="after"), "*before* the accumulator")])
def test_a_step_mistake_gets_the_same_message_on_every_seed(change, words):
    mistake = ch06._variant(**change)
    messages = {check("06.adagrad_step", mistake, seed=seed).message for seed in range(8)}
    assert len(messages) == 1 and words in messages.pop()


def test_a_swapped_pair_is_named_although_it_breaks_down_later():
    swapped = lambda *args: ch06._adagrad_step(*args)[::-1]  # noqa: E731
    assert all("(s_new, x_new)" in check("06.adagrad_step", swapped, seed=seed).message for seed in range(6))


def test_nan_from_a_step_is_named():
    nan_step = lambda x, s, grad, *rest: (np.full_like(x, np.nan), s + grad ** 2)  # noqa: E731
    feedback = check("06.adagrad_step", nan_step, seed=0)
    assert feedback.status == "failed" and "NaN" in feedback.message and "as x_new" in feedback.message


# ------------------------------------------------------------------ task 2: the effective lr of shrinking gradients
def test_the_derived_effective_lr_is_what_adagrad_does():
    rng = np.random.default_rng(3)
    for _ in range(5):
        t, g0, q = int(rng.integers(1, 300)), float(rng.normal()), float(rng.uniform(-0.99, 0.99))
        lr, s0, eps = 0.2, float(rng.uniform(0, 1)), float(rng.uniform(1e-10, 0.1))
        opt, x = optim.Adagrad(lr=lr, eps=eps, initial_accumulator_value=s0), np.zeros(1)
        for k in range(t):
            x = opt.step(x, np.array([g0 * q ** k]))
        assert math.isclose(lr / (math.sqrt(opt.s[0]) + eps), ch06._effective_lr_after(t, g0, q, lr, s0, eps),
                            rel_tol=1e-9)


def test_the_effective_lr_written_differently_passes():
    def by_summing(t, g0, q, lr, s0=0.0, eps=1e-10):
        return lr / (math.sqrt(s0 + sum((g0 * q ** k) ** 2 for k in range(t))) + eps)

    def with_numpy(t, g0, q, lr, s0=0.0, eps=1e-10):
        r = np.float64(q) ** 2
        total = t * g0 ** 2 if np.isclose(r, 1.0, rtol=0, atol=0) else g0 ** 2 * (1 - r ** t) / (1 - r)
        return lr / (np.sqrt(s0 + total) + eps)

    assert all(check("06.effective_lr_after", f, seed=seed).passed for seed in range(6) for f in (by_summing, with_numpy))


def test_a_formula_that_divides_by_zero_at_q_1_is_told_why():
    def unguarded(t, g0, q, lr, s0=0.0, eps=1e-10):
        return lr / (math.sqrt(s0 + g0 * g0 * (1 - q ** (2 * t)) / (1 - q * q)) + eps)

    for seed in range(6):
        message = check("06.effective_lr_after", unguarded, seed=seed).message
        assert "ZeroDivisionError" in message and "Treat q^2 = 1 apart" in message


def test_the_cases_show_the_series_before_it_converges():
    for seed in range(10):
        cases = ch06._effective_cases(np.random.default_rng(seed))
        shrinking = [(t, q) for t, _, q, *_ in cases if q * q < 1]
        assert sum(0.05 <= q ** (2 * t) <= 0.8 for t, q in shrinking) >= 3
        assert any(t == 1 for t, q in shrinking) and {1.0, -1.0} <= {q for _, _, q, *_ in cases}
        assert any(s0 > 0 for _, _, _, _, s0, _ in cases) and any(eps > 1e-6 for *_, eps in cases)


# ------------------------------------------------------------------ task 3: the measured exponent
def measure_seed_by_seed(problem, lr, batch_size, steps, seeds):
    """One run per seed, the logs averaged: the slope of the mean of the logs, equally valid."""
    logs = []
    keep = problem.frequency > 0
    keep[0] = False
    for seed in seeds:
        runs = minibatch_sweep(problem, optim.Adagrad(), [lr], batch_size, steps, seed=seed, every=steps)
        logs.append(np.log(lr / np.sqrt(runs.optimizer.s[0, keep, 0])))
    return np.polyfit(np.log(problem.frequency[keep]), np.mean(logs, axis=0), 1)[0]


def test_the_exponent_measured_seed_by_seed_passes():
    assert all(check("06.effective_lr_exponent", measure_seed_by_seed, seed=seed).passed for seed in range(3))


def test_forgetting_the_features_that_never_appear_is_named():
    def keeps_every_feature(problem, lr, batch_size, steps, seeds):
        runs = minibatch_sweep(problem, optim.Adagrad(), [lr], batch_size, steps, seed=seeds, every=steps)
        effective = (lr / (np.sqrt(runs.optimizer.s[:, :, 0]) + 1e-10)).mean(axis=0)
        with np.errstate(divide="ignore"):
            return np.polyfit(np.log(problem.frequency[1:]), np.log(effective[1:]), 1)[0]

    for seed in range(3):
        feedback = check("06.effective_lr_exponent", keeps_every_feature, seed=seed)
        assert feedback.status == "failed" and "never appears in its training data" in feedback.message


def test_the_chapter_problem_exponent_is_near_a_half():
    """What the solution notebook's cell measures, on the chapter's own problem: the check's reference
    reproduces the chapter's -0.51 to two digits."""
    problem = functions.Logistic.zipf()
    s = ch06._accumulators(problem, 0.13, 16, 2000, list(range(100, 110)))
    assert -0.53 < ch06._fit(s, 0.13, problem.frequency) < -0.50


# ------------------------------------------------------------------ tasks 4 and 5
@pytest.mark.parametrize("answer", [-0.5, -1 / 2, np.float64(-0.5), -0.48, -0.52])
def test_the_loss_exponent_is_read_generously(answer):
    assert check("06.answer_loss_exponent", answer).passed


def test_the_loss_exponent_of_adagrad_under_noise_is_a_half():
    """The measurement behind task 4's answer: AdaGrad at lr 0.3 on chapter 03's problem, 8 seeds."""
    problem = functions.LeastSquares.diabetes(drop=("s1",))
    runs = minibatch_sweep(problem, optim.Adagrad(), [0.3], 4, 30000, seed=list(range(8)), every=300)
    late = runs.recorded >= 3000
    slope = np.polyfit(np.log(runs.recorded[late]), np.log(runs.gaps[:, 0].mean(axis=0)[late]), 1)[0]
    assert abs(slope + 0.5) < 0.05


@pytest.mark.parametrize("answer", ["", "ab", "B ", True, None])
def test_the_weakness_question_reads_answers_and_never_crashes(answer):
    feedback = check("06.answer_weakness", answer)
    assert feedback.status in ("passed", "failed", "not attempted")
    assert feedback.passed == (answer == "B ")
