"""Exercise 13 (tuning and the claims, tested): the references pass, each named mistake gets its diagnosis.

REFERENCES_13, WRONG_13 and ENDLESS_13 also feed tests/test_grading.py's checks over every task."""

import math

import nbformat
import numpy as np
import pytest

from lrcourse import claims
from lrcourse.exercises import ROOT
from lrcourse.grading import check, ch13, grade_namespace, tasks_of

SEEDS = range(4)


def _fair_mistake(index):
    wrong = ch13.FAIR_MISTAKES[index][0]
    return lambda run, o, lrs, t, s: wrong(run, o, lrs, t, s)


def _width_nan_empty(lrs, losses):
    """The common NaN failure: a NaN best, then lrs[good].max() on an empty selection raises a zero-size ValueError."""
    lrs, losses = np.asarray(lrs, float), np.asarray(losses, float)
    good = losses <= 2 * np.min(losses)
    return float(lrs[good].max() / lrs[good].min())


REFERENCES_13 = {
    "13.sensitivity_width": ch13._width,
    "13.hit_probability": lambda p, k: 1 - (1 - p) ** k,
    "13.fair_compare": ch13._fair_reference,
    "13.answer_fair": "d",
    "13.min_norm": claims.min_norm,
}

WRONG_13 = {
    "13.sensitivity_width": [(w, e.split(":")[0][:30]) for w, e in ch13.WIDTH_MISTAKES]
    + [(ch13._width_nan_best, "NaN loss"), (_width_nan_empty, "NaN loss")],
    "13.hit_probability": [(w, e.split(":")[0][:30]) for w, e in ch13.HIT_MISTAKES],
    "13.fair_compare": [(_fair_mistake(i), e.split(":")[0][:30]) for i, (_, e) in enumerate(ch13.FAIR_MISTAKES)],
    "13.answer_fair": [("a", "untuned"), ("b", "luck of its selection"), ("c", "4 times the steps"),
                       ("e", "answer with one of the letters")],
    "13.min_norm": [(w, e.split(":")[0][:30]) for w, e in ch13.MIN_NORM_MISTAKES],
}

ENDLESS_13 = ["13.sensitivity_width", "13.hit_probability", "13.fair_compare", "13.min_norm"]


def test_every_task_of_the_chapter_is_covered():
    assert {t.id for t in tasks_of("13")} == set(REFERENCES_13) == set(WRONG_13)
    assert all(len(WRONG_13[t]) >= 3 for t in WRONG_13)


@pytest.mark.parametrize("task_id", list(REFERENCES_13))
@pytest.mark.parametrize("seed", SEEDS)
def test_references_pass(task_id, seed):
    assert check(task_id, REFERENCES_13[task_id], seed=seed).passed


@pytest.mark.parametrize("task_id, index", [(t, i) for t, wrongs in WRONG_13.items() for i in range(len(wrongs))])
def test_each_mistake_is_named_whatever_the_seed(task_id, index):
    wrong, words = WRONG_13[task_id][index]
    for seed in range(3):
        feedback = check(task_id, wrong, seed=seed)
        assert feedback.status == "failed" and words.lower() in feedback.message.lower(), feedback.message


def test_answers_written_differently_pass():
    def width_loop(lrs, losses):
        finite = [(lr, v) for lr, v in zip(lrs, losses) if math.isfinite(v)]
        if not finite:
            return 0
        best = min(v for _, v in finite)
        good = [lr for lr, v in finite if v <= 2 * best]
        return max(good) / min(good)

    def fair_by_sorting(run, optimizers, lrs, tuning_seeds, scoring_seeds):
        out = {}
        for name in optimizers:
            means = np.nan_to_num(np.array([np.mean(run(name, lr, list(tuning_seeds))) for lr in lrs]), nan=np.inf)
            lr = lrs[np.argsort(means, kind="stable")[0]]
            s = np.asarray(run(name, lr, list(scoring_seeds)))
            out[name] = [lr, s.mean(), s.std()]
        return out

    for seed in SEEDS:
        assert check("13.sensitivity_width", width_loop, seed=seed).passed
        assert check("13.hit_probability", lambda p, k: 1 - math.exp(k * math.log1p(-p)) if p < 1 else 1.0,
                     seed=seed).passed
        assert check("13.fair_compare", fair_by_sorting, seed=seed).passed
        assert check("13.min_norm", lambda X, y: np.linalg.pinv(X) @ y, seed=seed).passed
    assert check("13.answer_fair", " (D) ").passed


def test_a_solution_of_x_w_y_that_is_not_the_shortest_is_named():
    def longer(X, y):
        w = X.T @ np.linalg.solve(X @ X.T, y)
        null = np.linalg.svd(X)[2][-1]            # a direction X maps to 0
        return w + null

    feedback = check("13.min_norm", longer, seed=0)
    assert feedback.status == "failed" and "not the shortest" in feedback.message


def test_a_sample_sd_is_named():
    def ddof1(run, optimizers, lrs, tuning_seeds, scoring_seeds):
        out = ch13._fair_reference(run, optimizers, lrs, tuning_seeds, scoring_seeds)
        return {n: (lr, m, sd * math.sqrt(10 / 9)) for n, (lr, m, sd) in out.items()}

    feedback = check("13.fair_compare", ddof1, seed=1)
    assert feedback.status == "failed" and "ddof" in feedback.message


@pytest.mark.parametrize("task_id", ENDLESS_13)
@pytest.mark.parametrize("answer, words", [
    (lambda *a: 1 / 0, "raised ZeroDivisionError"),
    (42, "expected a function, but got an int"),
    (None, "Not attempted yet"),
])
def test_broken_answers_get_feedback_not_tracebacks(task_id, answer, words):
    feedback = check(task_id, answer, seed=0)
    assert feedback.status in ("failed", "not attempted") and words.lower() in feedback.message.lower(), feedback


def test_the_checks_agree_with_the_library():
    lrs = claims.LRS
    losses = np.where(lrs > 1, np.inf, 1 + np.log10(lrs) ** 2)
    assert ch13._width(lrs, losses) == pytest.approx(claims.width(lrs, losses).factor)
    assert REFERENCES_13["13.hit_probability"](0.2, 7) == pytest.approx(claims.hit_probability(0.2, 7))


def test_the_solutions_pass_and_the_unsolved_exercise_is_not_attempted():
    for folder, expected in (("solutions", "passed"), ("exercises", "not attempted")):
        nb = nbformat.read(ROOT / folder / "13_tuning_and_claims.ipynb", as_version=4)
        names = {}
        for cell in nb.cells:
            if cell.cell_type == "code" and ("def " in cell.source or "= None" in cell.source or "answer_" in cell.source) \
                    and "check(" not in cell.source and "claims.losses(" not in cell.source and "wilson_data" not in cell.source:
                exec(cell.source, {"np": np, "claims": claims} | names, names)
        feedback = grade_namespace("13", names)
        assert [f.status for f in feedback] == [expected] * 5, feedback
