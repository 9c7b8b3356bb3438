"""Exercise 12 (neural networks in PyTorch): the references agree with torch and with the chapter's library, answers
written differently pass, each named mistake gets its diagnosis whatever the seed, and broken answers (exceptions,
NaN, wrong shapes, endless loops) get feedback, never a traceback.

REFERENCES_12 and WRONG_12 also feed tests/test_grading.py's checks over every task."""

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lrcourse import training
from lrcourse.exercises import ROOT
from lrcourse.grading import TASKS, check, ch12, grade_namespace, tasks_of

SEEDS = range(4)
NesterovReference = ch12._make_optimizer_class(ch12._nesterov)


# ------------------------------------------------------------------ task 1: Nesterov SGD as an Optimizer
class NesterovWrittenDifferently(torch.optim.Optimizer):
    """The update with p.data and the look-ahead written as (1 + mu) g + mu^2 b_old, no closure support."""

    def __init__(self, params, lr=1e-3, momentum=0.0):
        if not lr >= 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not momentum >= 0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        super().__init__(params, {"lr": lr, "momentum": momentum})

    def step(self, closure=None):
        with torch.no_grad():
            for group in self.param_groups:
                mu = group["momentum"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    g = p.grad.detach()
                    old = self.state[p].get("momentum_buffer")
                    new = g.clone() if old is None else mu * old + g
                    self.state[p]["momentum_buffer"] = new
                    p.data -= group["lr"] * (g + mu * new)


def test_the_reference_is_torchs_nesterov():
    for seed in range(3):
        lrs, mu = (0.1, 0.2), 0.8
        ours = ch12._nesterov_run(lambda g, lr, m: NesterovReference(g, lr, m), seed, lrs, mu)
        theirs = ch12._nesterov_run(lambda g, lr, m: torch.optim.SGD(g, lr=lr, momentum=m, nesterov=True), seed, lrs,
                                    mu)
        assert np.allclose(ours, theirs, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("seed", SEEDS)
def test_nesterov_answers_pass(seed):
    for answer in (NesterovReference, NesterovWrittenDifferently):
        assert check("12.NesterovSGD", answer, seed=seed).passed


def test_torchs_own_sgd_with_nesterov_passes():
    def SGDNesterov(params, lr=1e-3, momentum=0.0):
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=True)
    assert check("12.NesterovSGD", SGDNesterov).passed


def test_a_missing_or_wrong_lr_check_is_named():
    class NoCheck(NesterovReference):
        def __init__(self, params, lr=1e-3, momentum=0.0):
            torch.optim.Optimizer.__init__(self, params, dict(lr=lr, momentum=momentum))
            self._first_lr = lr
    message = check("12.NesterovSGD", NoCheck).message
    assert "Invalid learning rate: -0.5" in message and "nothing" in message


def test_a_missing_momentum_check_is_named():
    class NoMomentumCheck(NesterovReference):
        def __init__(self, params, lr=1e-3, momentum=0.0):
            if lr < 0:
                raise ValueError(f"Invalid learning rate: {lr}")
            torch.optim.Optimizer.__init__(self, params, dict(lr=lr, momentum=momentum))
            self._first_lr = lr
    message = check("12.NesterovSGD", NoMomentumCheck).message
    assert "Invalid momentum value: -0.5" in message and "nothing" in message


def test_an_exception_inside_step_is_feedback():
    class Broken(NesterovReference):
        def step(self, closure=None):
            raise KeyError("buf")
    feedback = check("12.NesterovSGD", Broken)
    assert feedback.status == "failed" and "KeyError" in feedback.message


def test_an_endless_step_is_stopped(monkeypatch):
    monkeypatch.setattr(TASKS["12.NesterovSGD"], "time_limit", 0.3)

    class Endless(NesterovReference):
        def step(self, closure=None):
            while True:
                pass
    feedback = check("12.NesterovSGD", Endless)
    assert feedback.status == "failed" and "did not finish within 0.3 s" in feedback.message


def test_nan_weights_are_named():
    class Nan(NesterovReference):
        @torch.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    p.fill_(float("nan"))
    assert "NaN" in check("12.NesterovSGD", Nan).message


# ------------------------------------------------------------------ task 2: the training loop
def train_epochs_differently(net, optimizer, X, y, X_val, y_val, epochs):
    """With net.train()/eval(), a closure, and numpy floats in tuples."""
    curves = ([], [])
    for batches in epochs:
        net.train()
        for idx in batches:
            def closure(idx=idx):
                optimizer.zero_grad(set_to_none=True)
                loss = F.cross_entropy(net(X[idx]), y[idx])
                loss.backward()
                return loss
            optimizer.step(closure)
        net.eval()
        with torch.no_grad():
            for curve, (A, b) in zip(curves, ((X, y), (X_val, y_val))):
                curve.append(np.float64(F.nll_loss(F.log_softmax(net(A), dim=1), b)))
    return tuple(curves)


@pytest.mark.parametrize("seed", SEEDS)
def test_training_loop_answers_pass(seed):
    for answer in (ch12._train_epochs, train_epochs_differently):
        assert check("12.train_epochs", answer, seed=seed).passed


def train_epochs_float32(net, optimizer, X, y, X_val, y_val, epochs):
    """The reference's curves, rounded to float32 (as a float32 network would report them)."""
    train, val = ch12._train_epochs(net, optimizer, X, y, X_val, y_val, epochs)
    return [np.float32(v) for v in train], torch.tensor(val, dtype=torch.float32)


def test_float32_curves_pass():
    for seed in SEEDS:
        assert check("12.train_epochs", train_epochs_float32, seed=seed).passed


def test_a_wrong_curve_shows_the_difference():
    def off(net, optimizer, X, y, X_val, y_val, epochs):
        train, val = ch12._train_epochs(net, optimizer, X, y, X_val, y_val, epochs)
        return train, [v * (1 + 1e-4) for v in val]
    message = check("12.train_epochs", off, seed=0).message
    assert "largest difference is in the validation loss" in message and "a difference of" in message, message


@pytest.mark.parametrize("kind, words", [("sum_step", "*sum*"), ("last_batch", "last minibatch"),
                                         ("one_step_last", "one optimizer step per epoch"),
                                         ("one_step_sum", "one optimizer step per epoch")])
def test_loop_mistakes_are_named(kind, words):
    for seed in SEEDS:
        message = check("12.train_epochs", ch12._loop_variant(kind), seed=seed).message
        assert words in message, message


@pytest.mark.parametrize("answer, words", [
    (lambda *a: None, "returned None"),
    (lambda *a: [1.0, 2.0, 3.0], "should return a pair"),
    (lambda *a: ([1.0] * 3, [1.0] * 3), "return 4 training and 4 validation losses"),
    (lambda *a: ([float("nan")] * 4, [1.0] * 4), "NaN"),
    (lambda *a: (["a"] * 4, [1.0] * 4), "pair of lists of numbers"),
    (lambda *a: ([1.0] * 4, [1.0] * 4), "Your curves differ from the reference"),
])
def test_broken_training_loops_get_feedback(answer, words):
    feedback = check("12.train_epochs", answer, seed=0)
    assert feedback.status == "failed" and words in feedback.message, feedback.message


# ------------------------------------------------------------------ task 3: the CNN's weights
def test_the_reference_count_is_torchs():
    rng = np.random.default_rng(0)
    for _ in range(10):
        c1, c2 = (int(c) for c in rng.integers(1, 30, 2))
        net = training.digits_cnn(0, channels=(c1, c2))
        assert ch12._cnn_weights(c1, c2) == sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("answer", [lambda c1, c2: 10 * c1 + 9 * c1 * c2 + 41 * c2 + 10,
                                    lambda c1, c2: float(c1 * (9 * c2 + 10) + 41 * c2 + 10),
                                    lambda c1, c2: np.int64(sum(p.numel() for p in training.digits_cnn(
                                        0, channels=(c1, c2)).parameters()))])
def test_counts_written_differently_pass(answer):
    assert check("12.cnn_weights", answer, seed=1).passed


# ------------------------------------------------------------------ task 4: the lr ratio
def test_the_ratio_is_what_the_sweep_gives():
    """The exercise's sweep, ten seeds: the ratio, and the reason the check gives (over-fitting, not divergence)."""
    from lrcourse import nets
    torch.set_flush_denormal(True)
    digits = nets.load("digits")
    grid = np.geomspace(1e-3, 3, 13)
    sweeps = {B: nets.train_many(digits, "sgd", grid, range(10), 200, B, momentum=0.9) for B in (16, 512)}
    best = {B: grid[int(np.argmin(s.mean("val_loss")))] for B, s in sweeps.items()}
    assert abs(best[512] / best[16] - ch12.LR_RATIO) < 0.05 * ch12.LR_RATIO
    s = sweeps[512]
    assert grid[int(np.argmin(s.mean("loss")))] > 2 * best[512]                # larger lrs train further ...
    assert s.mean("val_loss")[int(np.argmin(s.mean("loss")))] > 2 * s.mean("val_loss").min()   # ... and over-fit
    assert grid[np.isfinite(s.mean("val_loss"))].max() > 10 * best[512]       # far from divergence


@pytest.mark.parametrize("answer", [3.8, 2.5, 7, np.float64(4.0), 4, np.float32(3.8), torch.tensor(3.8),
                                    torch.tensor([3.8], dtype=torch.float64), np.array([3.8])])
def test_ratios_near_the_measurement_pass(answer):
    assert check("12.answer_lr_ratio", answer).passed


def test_answers_are_read_generously():
    assert check("12.answer_curves", " (C) ").passed


# ------------------------------------------------------------------ the named mistakes, and the notebook
REFERENCES_12 = {
    "12.NesterovSGD": NesterovReference,
    "12.train_epochs": ch12._train_epochs,
    "12.cnn_weights": ch12._cnn_weights,
    "12.answer_lr_ratio": 3.8,
    "12.answer_curves": "c",
}

WRONG_12 = {
    "12.NesterovSGD": [(ch12._make_optimizer_class(rule), explanation.split(":")[0][:40])
                       for rule, explanation in ch12.NESTEROV_MISTAKES],
    "12.train_epochs": [(wrong, explanation.split(":")[0][:40]) for wrong, explanation in ch12.LOOP_MISTAKES],
    "12.cnn_weights": [(wrong, explanation.split(":")[0][:40]) for wrong, explanation in ch12.CNN_MISTAKES],
    "12.answer_lr_ratio": [(32, "over-fit"), (14.4, "fixed number of *epochs*"), (0.5, "does not fall"),
                           (1.0, "grows more than that"), (100.0, "grows less than that"), (8.0, "over-fit"), ("3.8", "not the string"),
                           (-2.0, "positive")],
    "12.answer_curves": [("a", "under-fitting"), ("b", "over-fitting"), ("d", "not divergence"),
                         ("e", "answer with one of the letters"), ("ac", "a single letter")],
}


def test_every_task_of_the_chapter_is_covered():
    assert {t.id for t in tasks_of("12")} == set(REFERENCES_12) == set(WRONG_12)
    assert all(len([w for w in WRONG_12[t] if w[1]]) >= 3 for t in WRONG_12)


@pytest.mark.parametrize("task_id", list(REFERENCES_12))
@pytest.mark.parametrize("seed", SEEDS)
def test_references_pass(task_id, seed):
    assert check(task_id, REFERENCES_12[task_id], seed=seed).passed


@pytest.mark.parametrize("task_id, index", [(t, i) for t, wrongs in WRONG_12.items() for i in range(len(wrongs))])
def test_each_mistake_is_named_whatever_the_seed(task_id, index):
    wrong, words = WRONG_12[task_id][index]
    for seed in range(3):
        feedback = check(task_id, wrong, seed=seed)
        assert feedback.status == "failed" and words.lower() in feedback.message.lower(), feedback.message


@pytest.mark.parametrize("task_id", ["12.NesterovSGD", "12.train_epochs", "12.cnn_weights"])
@pytest.mark.parametrize("answer, words", [
    (lambda *a: 1 / 0, "raised ZeroDivisionError"),
    (lambda *a: "x - lr * g", "a string"),
    (42, "expected a function, but got an int"),
    (None, "Not attempted yet"),
])
def test_broken_answers_get_feedback_not_tracebacks(task_id, answer, words):
    feedback = check(task_id, answer, seed=0)
    assert feedback.status in ("failed", "not attempted") and words.lower() in feedback.message.lower(), feedback


def test_the_unsolved_exercise_is_not_attempted_everywhere():
    nb = nbformat.read(ROOT / "exercises" / "12_neural_networks.ipynb", as_version=4)
    names = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and ("def " in cell.source or "class " in cell.source or "= None" in cell.source) \
                and "check(" not in cell.source and "weights_after" not in cell.source:
            exec(cell.source, {"torch": torch, "F": F, "np": np, "math": __import__("math")} | names, names)
    feedback = grade_namespace("12", names)
    assert [f.status for f in feedback] == ["not attempted"] * 5, feedback
