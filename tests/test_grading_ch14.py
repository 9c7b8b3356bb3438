"""Exercise 14 (learning-rate-free methods): the references pass, each named mistake gets its diagnosis.

REFERENCES_14, WRONG_14 and ENDLESS_14 also feed tests/test_grading.py's checks over every task."""

import math

import nbformat
import numpy as np
import pytest

from lrcourse.grading import TASKS, check, grade_namespace, tasks_of


def dadapt_step(d, numerator, s, g, lam):
    numerator = numerator + lam * np.dot(g, s)
    s = s + lam * g
    return max(d, 2 * numerator / np.linalg.norm(s)), numerator, s


def sf_step(x, z, t, grad, lr, beta):
    y = (1 - beta) * z + beta * x
    z = z - lr * grad(y)
    c = 1 / (t + 1)
    return (1 - c) * x + c * z, z


def dadapt_no_max(d, numerator, s, g, lam):
    numerator = numerator + lam * np.dot(g, s)
    s = s + lam * g
    return 2 * numerator / np.linalg.norm(s), numerator, s


def dadapt_after(d, numerator, s, g, lam):
    s = s + lam * g
    numerator = numerator + lam * np.dot(g, s)
    return max(d, 2 * numerator / np.linalg.norm(s)), numerator, s


def dadapt_l1(d, numerator, s, g, lam):
    numerator = numerator + lam * np.dot(g, s)
    s = s + lam * g
    return max(d, 2 * numerator / np.abs(s).sum()), numerator, s


def sf_at_x(x, z, t, grad, lr, beta):
    z = z - lr * grad(x)
    c = 1 / (t + 1)
    return (1 - c) * x + c * z, z


def sf_off_by_one(x, z, t, grad, lr, beta):
    y = (1 - beta) * z + beta * x
    z = z - lr * grad(y)
    c = 1 / (t + 2)
    return (1 - c) * x + c * z, z


def sf_old_z(x, z, t, grad, lr, beta):
    y = (1 - beta) * z + beta * x
    c = 1 / (t + 1)
    return (1 - c) * x + c * z, z - lr * grad(y)


def sf_swapped_beta(x, z, t, grad, lr, beta):
    y = beta * z + (1 - beta) * x
    z = z - lr * grad(y)
    c = 1 / (t + 1)
    return (1 - c) * x + c * z, z


def sf_c_over_t(x, z, t, grad, lr, beta):
    y = (1 - beta) * z + beta * x
    z = z - lr * grad(y)
    c = 1 / t                                           # unguarded: divides by zero at the first step
    return (1 - c) * x + c * z, z


def endless(*args):
    while True:
        pass


REFERENCES_14 = {"14.dadapt_step": dadapt_step, "14.sf_step": sf_step, "14.growth_factor": math.sqrt(6),
                 "14.removes": "b"}
WRONG_14 = {
    "14.dadapt_step": [(dadapt_no_max, "can shrink"), (dadapt_after, "before"), (dadapt_l1, "l1 norm")],
    "14.sf_step": [(sf_at_x, "gradient at x"), (sf_off_by_one, "off by one"), (sf_old_z, "old z"),
                   (sf_swapped_beta, "wrong point"), (sf_c_over_t, "1/(t + 1)")],
    "14.growth_factor": [(math.sqrt(3), "chapter's factor"), (math.sqrt(2), "bound itself"), (math.sqrt(5), "-1"),
                         (6.0, "without the root"), (2.5, "early ratio"), (2.3, "not the factor")],
    "14.removes": [("a", "not the lr"), ("c", "beta matters"), ("d", "eval()")],
}
ENDLESS_14 = ["14.dadapt_step", "14.sf_step"]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("task_id", list(REFERENCES_14))
def test_references_pass(task_id, seed):
    feedback = check(task_id, REFERENCES_14[task_id], seed=seed)
    assert feedback.status == "passed", feedback.message


@pytest.mark.parametrize("task_id", list(WRONG_14))
def test_named_mistakes_are_diagnosed(task_id):
    for answer, words in WRONG_14[task_id]:
        for seed in range(3):
            feedback = check(task_id, answer, seed=seed)
            assert feedback.status == "failed", (answer, feedback.message)
            assert words.lower() in feedback.message.lower(), (words, feedback.message)


def test_answers_written_differently_pass():
    def dadapt_torch_style(d, numerator, s, g, lam):
        numerator += lam * float((g * s).sum())
        s_new = s + lam * g
        d_hat = 2 * numerator / math.sqrt(float((s_new ** 2).sum()))
        return (d_hat if d_hat > d else d), numerator, s_new

    def sf_lerp(x, z, t, grad, lr, beta):
        y = z + beta * (x - z)
        z_new = z - lr * grad(y)
        return x + (z_new - x) / (t + 1), z_new

    assert check("14.dadapt_step", dadapt_torch_style, seed=1).status == "passed"
    assert check("14.sf_step", sf_lerp, seed=1).status == "passed"
    assert check("14.growth_factor", 2.449, seed=0).status == "passed"
    assert check("14.removes", "(B)", seed=0).status == "passed"


def test_an_off_by_one_from_the_other_side_and_an_unknown_mistake_name_the_step():
    def c_over_t(x, z, t, grad, lr, beta):
        y = (1 - beta) * z + beta * x
        z = z - lr * grad(y)
        c = 1 / max(t, 1)
        return (1 - c) * x + c * z, z

    feedback = check("14.sf_step", c_over_t, seed=0)
    assert feedback.status == "failed" and "t = 1" in feedback.message

    def drifts_late(x, z, t, grad, lr, beta):
        x_new, z_new = sf_step(x, z, t, grad, lr, beta)
        return (x_new + (1e-3 if t == 5 else 0), z_new)

    feedback = check("14.sf_step", drifts_late, seed=0)
    assert feedback.status == "failed" and "differs at t = 5" in feedback.message


def test_broken_answers_get_feedback_not_tracebacks():
    for answer in (lambda *a: None, lambda *a: (1.0, 2.0), lambda *a: 1 / 0, lambda *a: (np.nan, np.nan, np.nan)):
        for task_id in ("14.dadapt_step", "14.sf_step"):
            feedback = check(task_id, answer, seed=0)
            assert feedback.status == "failed", (task_id, feedback.message)
    for answer in ("sqrt 3", float("nan"), [1.7]):
        assert check("14.growth_factor", answer, seed=0).status == "failed"
    assert check("14.removes", "e", seed=0).status == "failed"


def test_every_task_of_the_chapter_is_covered():
    assert {t.id for t in tasks_of("14")} == set(REFERENCES_14) == set(WRONG_14)


def test_the_solution_notebook_passes_and_the_exercise_is_not_attempted():
    namespace = {}
    nb = nbformat.read("solutions/14_learning_rate_free.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "check(" not in cell.source and "score(" not in cell.source:
            exec(cell.source, namespace)
    assert all(f.status == "passed" for f in grade_namespace("14", namespace)), grade_namespace("14", namespace)
    assert all(f.status == "not attempted" for f in grade_namespace("14", {}))
