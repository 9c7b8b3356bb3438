"""Exercise 11 (the range test): the checks' references agree with torch-lr-finder and with the library, answers
written differently pass, each named mistake gets its diagnosis whatever the seed, and broken answers get feedback.

REFERENCES_11 and WRONG_11 also feed tests/test_grading.py's checks over every task."""

import contextlib
import io
import math

import numpy as np
import pytest
import torch

from lrcourse.grading import ch11, check, tasks_of
from lrcourse.range_test import smooth

SEEDS = range(6)

REFERENCES_11 = {
    "11.range_lrs": ch11._range_lrs,
    "11.smooth_and_stop": ch11._smooth_and_stop,
    "11.steepest_lr": ch11._steepest_lr,
    "11.lag_factor": ch11._lag_factor,
    "11.answer_cliff": "b",
}

WRONG_11 = {
    "11.range_lrs": [(wrong, explanation[:40]) for wrong, explanation in ch11.SEQUENCE_MISTAKES],
    "11.smooth_and_stop": [(wrong, explanation[:40]) for wrong, explanation in ch11.SMOOTH_MISTAKES],
    "11.steepest_lr": [(wrong, explanation[:40]) for wrong, explanation in ch11.STEEPEST_MISTAKES],
    "11.lag_factor": [(wrong, explanation[:40]) for wrong, explanation in ch11.LAG_MISTAKES],
    "11.answer_cliff": [("a", "makes the suggestion *later*"), ("c", "explains a spread"),
                        ("d", "not on the high side"), ("bd", "a single letter")],
}


def test_the_tasks_of_chapter_11():
    assert [t.name for t in tasks_of("11")] == ["range_lrs", "smooth_and_stop", "steepest_lr", "lag_factor",
                                                "answer_cliff"]


# ------------------------------------------------------------------ the references are torch-lr-finder's numbers
def test_the_lr_sequence_is_torch_lr_finders():
    torch_lr_finder = pytest.importorskip("torch_lr_finder")
    from torch.utils.data import DataLoader, TensorDataset

    data = TensorDataset(torch.randn(64, 3), torch.randint(0, 2, (64,)))
    for mode, end_lr in (("exp", 10.0), ("linear", 0.5)):
        net = torch.nn.Linear(3, 2)
        finder = torch_lr_finder.LRFinder(net, torch.optim.SGD(net.parameters(), lr=1e-5), torch.nn.CrossEntropyLoss())
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            finder.range_test(DataLoader(data, batch_size=16), end_lr=end_lr, num_iter=37, step_mode=mode,
                              diverge_th=float("inf"))
        np.testing.assert_allclose(ch11._range_lrs(1e-5, end_lr, 37, mode), finder.history["lr"], rtol=1e-12)


def test_the_smoothing_is_torch_lr_finders_bookkeeping():
    """Fed raw losses one by one, torch-lr-finder's rule (written out from its source) gives the reference."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        raw, f, th = ch11._raw_curve(rng), float(rng.uniform(0.01, 0.5)), float(rng.uniform(1.5, 6))
        history, best = [], None
        for i, loss in enumerate(raw):
            if i == 0:
                best = loss
            else:
                loss = f * loss + (1 - f) * history[-1]
                best = min(best, loss)
            history.append(loss)
            if loss > th * best:
                break
        losses, stopped = ch11._smooth_and_stop(raw, f, th)
        assert np.allclose(losses, history) and stopped == (len(history) < len(raw) or history[-1] > th * best)


def test_the_lag_factor_is_the_shift_of_a_steady_fall():
    for f, n in ((0.05, 400), (0.2, 80), (0.5, 30)):
        lrs = np.geomspace(1e-6, 10, n)
        raw = 10 - np.log10(lrs)
        smoothed = np.array(smooth(raw, smooth_f=f, diverge_th=np.inf)[0])
        level = raw[3 * n // 4]
        crossed = np.exp(np.interp(-level, -smoothed, np.log(lrs)))
        assert crossed / lrs[3 * n // 4] == pytest.approx(ch11._lag_factor(1e-6, 10, n, f), rel=1e-3)


# ------------------------------------------------------------------ correct answers written differently
def range_lrs_spaced(start_lr, end_lr, num_iter, step_mode="exp"):
    space = np.geomspace if step_mode == "exp" else np.linspace
    return list(space(start_lr, end_lr, num_iter))


def range_lrs_loop(start_lr, end_lr, num_iter, step_mode="exp"):
    out = [start_lr]
    factor = (end_lr / start_lr) ** (1 / (num_iter - 1))
    step = (end_lr - start_lr) / (num_iter - 1)
    for _ in range(num_iter - 1):
        out.append(out[-1] * factor if step_mode == "exp" else out[-1] + step)
    return out


def smooth_and_stop_numpy(raw_losses, smooth_f=0.05, diverge_th=5.0):
    out = np.empty(len(raw_losses))
    for i, loss in enumerate(raw_losses):
        out[i] = loss if i == 0 else smooth_f * loss + (1 - smooth_f) * out[i - 1]
        if np.isnan(out[i]) or np.isinf(out[i]) or out[i] > diverge_th * out[: i + 1].min():
            return out[: i + 1], True
    return out, False


def steepest_lr_sliced(lrs, losses, skip_start=10, skip_end=5):
    end = None if skip_end == 0 else -skip_end
    g = np.gradient(np.array(losses)[skip_start:end])
    return np.array(lrs)[skip_start:end][g.argmin()]


def lag_factor_logs(start_lr, end_lr, num_iter, smooth_f):
    return math.exp(math.log(end_lr / start_lr) / (num_iter - 1) * (1 / smooth_f - 1))


@pytest.mark.parametrize("task_id, answer", [
    ("11.range_lrs", range_lrs_spaced), ("11.range_lrs", range_lrs_loop),
    ("11.smooth_and_stop", smooth_and_stop_numpy), ("11.steepest_lr", steepest_lr_sliced),
    ("11.lag_factor", lag_factor_logs), ("11.answer_cliff", " B "),
])
@pytest.mark.parametrize("seed", SEEDS)
def test_answers_written_differently_pass(task_id, answer, seed):
    feedback = check(task_id, answer, seed=seed)
    assert feedback.passed, feedback


# ------------------------------------------------------------------ mistakes with their own messages
def test_a_slice_to_minus_skip_end_is_named():
    def sliced(lrs, losses, skip_start=10, skip_end=5):
        g = np.gradient(np.array(losses[skip_start:-skip_end]))
        return lrs[skip_start:-skip_end][int(g.argmin())]

    for seed in SEEDS:
        feedback = check("11.steepest_lr", sliced, seed=seed)
        assert feedback.status == "failed" and "-0" in feedback.message, feedback.message


def test_a_test_that_runs_on_through_nan_is_named():
    def no_nan_stop(raw_losses, smooth_f=0.05, diverge_th=5.0):
        out = []
        for loss in raw_losses:
            out.append(loss if not out else smooth_f * loss + (1 - smooth_f) * out[-1])
            if out[-1] > diverge_th * min(out):
                return out, True
        return out, False

    for seed in SEEDS:
        message = check("11.smooth_and_stop", no_nan_stop, seed=seed).message
        assert "NaN loss must stop the test" in message


@pytest.mark.parametrize("answer, words", [
    (lambda a, b, n, mode="exp": np.geomspace(a, b, n + 1), "one lr per iteration"),
    (lambda a, b, n, mode="exp": "np.geomspace", "returned a string"),
    (lambda raw, f=0.05, th=5.0: raw, "should return a pair"),
    (lambda raw, f=0.05, th=5.0: (raw, "no"), "True or False"),
    (lambda lrs, losses, s=10, e=5: float("nan"), "NaN"),
    (lambda a, b, n, f: complex(1, 1), "complex"),
])
def test_wrong_shapes_and_types_get_feedback(answer, words):
    for task_id in ("11.range_lrs", "11.smooth_and_stop", "11.steepest_lr", "11.lag_factor"):
        try:
            feedback = check(task_id, answer, seed=0)
        except Exception as error:  # pragma: no cover - a traceback is the failure this test looks for
            pytest.fail(f"{task_id}: {error!r}")
        assert feedback.status in ("failed", "not attempted")
    messages = [check(t, answer, seed=0).message for t in ("11.range_lrs", "11.smooth_and_stop", "11.steepest_lr",
                                                           "11.lag_factor")]
    assert any(words.lower() in m.lower() for m in messages), messages


def test_the_statement_and_the_check_agree_on_the_exercise():
    """The exercise notebook's task 5 lists the four options the check explains, with the numbers it quotes."""
    import nbformat

    from lrcourse.exercises import ROOT

    nb = nbformat.read(ROOT / "exercises/11_range_test.ipynb", as_version=4)
    statement = next(c.source for c in nb.cells if "Task 5" in c.source)
    for text in ("(a)", "(b)", "(c)", "(d)", "0.251", "0.158", "0.186", "2.07", "2.20", "0.0137", "0.142"):
        assert text in statement
