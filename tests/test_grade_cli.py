"""The instructors' batch grader on a folder of sample submissions."""

import csv
import hashlib
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def edit(nb, replace=None, append=None, drop_checks=False):
    """A copy of a notebook with cells edited: ``replace`` maps 'def name' to new source."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        for key, source in (replace or {}).items():
            if key in cell.source and "check(" not in cell.source:
                cell.source = source
    if drop_checks:
        nb.cells = [c for c in nb.cells if "check(" not in c.source or "def " in c.source]
    for source in append or []:
        nb.cells.append(nbformat.v4.new_code_cell(source))
    return nb


UPHILL = """def descend(grad_f, x0, lr, tol, max_steps):
    xs = [np.array(x0, dtype=float)]
    while len(xs) - 1 < max_steps and np.linalg.norm(grad_f(xs[-1])) > tol:
        xs.append(xs[-1] + lr * grad_f(xs[-1]))
    return np.array(xs)"""


EPS_INSIDE = """def adagrad_step(x, s, grad, lr, t, lr_decay=0.0, weight_decay=0.0, eps=1e-10):
    g = grad + weight_decay * x
    s = s + g * g
    return x - lr / (1 + (t - 1) * lr_decay) * g / np.sqrt(s + eps), s"""


DECAY_AFTER = """def adam_step(x, m, v, v_max, grad, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
              decoupled=False):
    beta1, beta2 = betas
    if not decoupled:
        grad = grad + weight_decay * x
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    if amsgrad:
        v_max = np.maximum(v_max, v)
    x_new = x - lr * m / (1 - beta1 ** t) / (np.sqrt((v_max if amsgrad else v) / (1 - beta2 ** t)) + eps)
    return (x_new * (1 - lr * weight_decay) if decoupled else x_new), m, v, v_max"""


RMSPROP_EPS_INSIDE = """def rmsprop_step(x, v, m, buf, grad, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    g = grad + weight_decay * x
    v = alpha * v + (1 - alpha) * g * g
    if centered:
        m = alpha * m + (1 - alpha) * g
    d = np.sqrt((v - m * m if centered else v) + eps)
    if momentum > 0:
        buf = momentum * buf + g / d
        return x - lr * buf, v, m, buf
    return x - lr * g / d, v, m, buf"""


LR_IN_U = """def adadelta_step(x, v, u, grad, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
    g = grad + weight_decay * x
    v = rho * v + (1 - rho) * g * g
    dx = lr * np.sqrt(u + eps) / np.sqrt(v + eps) * g
    u = rho * u + (1 - rho) * dx * dx
    return x - dx, v, u"""


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    sol01 = nbformat.read(ROOT / "solutions/01_gradient_descent.ipynb", as_version=4)
    sol02 = nbformat.read(ROOT / "solutions/02_stability_and_conditioning.ipynb", as_version=4)
    ex01 = nbformat.read(ROOT / "exercises/01_gradient_descent.ipynb", as_version=4)
    submissions = {
        "01_good.ipynb": sol01,
        "02_good.ipynb": sol02,
        "01_blank.ipynb": ex01,
        # wrong sign, a wrong answer, check cells deleted, and a fake "check" that claims success
        "01_partial.ipynb": edit(sol01, replace={"def descend": UPHILL,
                                                 "answer_curvatures = ": "answer_curvatures = (20.57,)"},
                                 drop_checks=True, append=["def check(*a):\n    print('PASSED')"]),
        # a top-level endless loop and a crashing cell: the rest is still graded
        "01_loop_and_crash.ipynb": edit(sol01, replace={"def recover_quadratic": "while True:\n    pass",
                                                        "def regime": "def regime(L, lr):\n    return 'monotone'\n1 / 0"}),
        # the closing score cell is edited to fail: it is a summary, not a check, and the grader skips it
        "01_score_edited.ipynb": edit(sol01, replace={'score("01", globals())': 'score("01", globals())\nscore(1 / 0)'}),
        # tries to make every check pass by patching the grading module
        "01_cheat.ipynb": edit(ex01, append=["import lrcourse.grading.core as c\n"
                                             "c.check = lambda *a, **k: None\nc.TASKS.clear()"]),
    }
    for chapter in ("03_sgd_and_minibatches", "04_momentum", "05_schedules", "06_adagrad", "09_adam"):
        submissions[f"{chapter[:2]}_good.ipynb"] = nbformat.read(ROOT / f"solutions/{chapter}.ipynb", as_version=4)
    # chapter 06 unsolved, and with a step whose eps sits inside the square root
    submissions["06_blank.ipynb"] = nbformat.read(ROOT / "exercises/06_adagrad.ipynb", as_version=4)
    submissions["06_partial.ipynb"] = edit(submissions["06_good.ipynb"], replace={"def adagrad_step": EPS_INSIDE})
    # chapter 09 unsolved, and with AdamW's decay after the step and the chapter's regret for C = 3
    submissions["09_blank.ipynb"] = nbformat.read(ROOT / "exercises/09_adam.ipynb", as_version=4)
    submissions["09_partial.ipynb"] = edit(submissions["09_good.ipynb"], replace={
        "def adam_step": DECAY_AFTER, "answer_regret_per_step = ": "answer_regret_per_step = 0.67"})
    # chapter 07 solved, unsolved, and with eps inside the square root and SGD's exponents for the noise floor
    submissions["07_good.ipynb"] = nbformat.read(ROOT / "solutions/07_rmsprop.ipynb", as_version=4)
    submissions["07_blank.ipynb"] = nbformat.read(ROOT / "exercises/07_rmsprop.ipynb", as_version=4)
    submissions["07_partial.ipynb"] = edit(submissions["07_good.ipynb"], replace={
        "def rmsprop_step": RMSPROP_EPS_INSIDE, "answer_floor_exponents = ": "answer_floor_exponents = (1, -1)"})
    # chapter 08 solved, unsolved, and with the lr inside u and a floor proportional to eps
    submissions["08_good.ipynb"] = nbformat.read(ROOT / "solutions/08_adadelta.ipynb", as_version=4)
    submissions["08_blank.ipynb"] = nbformat.read(ROOT / "exercises/08_adadelta.ipynb", as_version=4)
    submissions["08_partial.ipynb"] = edit(submissions["08_good.ipynb"], replace={
        "def adadelta_step": LR_IN_U, "answer_eps_exponent = ": "answer_eps_exponent = 1"})
    for name, nb in submissions.items():
        nbformat.write(nb, folder / name)
    (folder / "01_broken.ipynb").write_text('{"cells": [')
    (folder / "notes.txt").write_text("not a notebook: ignored")
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    out = folder / "grades.csv"
    result = subprocess.run([sys.executable, "-m", "lrcourse.grade", str(folder), "--out", str(out),
                             "--cell-timeout", "8"], capture_output=True, text=True, timeout=600)
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p != out}
    rows = {row["submission"]: row for row in csv.DictReader(out.open())}
    return result, rows, before, after


def test_cli_succeeds_with_one_row_per_submission(graded):
    result, rows, _, _ = graded
    assert result.returncode == 0, result.stderr
    assert set(rows) == {"01_good.ipynb", "02_good.ipynb", "01_blank.ipynb", "01_partial.ipynb",
                         "01_loop_and_crash.ipynb", "01_cheat.ipynb", "01_broken.ipynb", "01_score_edited.ipynb",
                         "03_good.ipynb", "04_good.ipynb", "05_good.ipynb", "06_good.ipynb", "06_blank.ipynb",
                         "06_partial.ipynb", "09_good.ipynb", "09_blank.ipynb", "09_partial.ipynb", "07_good.ipynb",
                         "07_blank.ipynb", "07_partial.ipynb", "08_good.ipynb", "08_blank.ipynb", "08_partial.ipynb"}
    assert "wrote 23 rows" in result.stdout


def test_no_submission_file_is_modified(graded):
    _, _, before, after = graded
    assert before == after


def test_solutions_get_full_marks(graded):
    _, rows, _, _ = graded
    for name in ["01_good.ipynb", "02_good.ipynb", "03_good.ipynb", "04_good.ipynb", "05_good.ipynb"]:
        assert rows[name]["status"] == "graded" and rows[name]["points"] == "6.0" == rows[name]["max_points"]
        assert rows[name]["notes"] == ""  # every cell ran, the score cell included
    assert rows["02_good.ipynb"]["02.lr_sweep feedback"].startswith("passed")
    assert rows["02_good.ipynb"]["01.descend points"] == ""  # another chapter's task: blank
    assert "01.gd_step points" not in rows["01_good.ipynb"]  # notebook 00's demonstration is not graded
    for name in ["06_good.ipynb", "07_good.ipynb", "09_good.ipynb"]:
        row = rows[name]
        assert row["status"] == "graded" and row["points"] == "5.0" == row["max_points"] and row["notes"] == ""
    row = rows["08_good.ipynb"]
    assert row["status"] == "graded" and row["points"] == "4.0" == row["max_points"] and row["notes"] == ""


def test_chapter_06_is_graded_task_by_task(graded):
    _, rows, _, _ = graded
    blank, partial = rows["06_blank.ipynb"], rows["06_partial.ipynb"]
    assert blank["status"] == "graded" and blank["points"] == "0.0" and blank["max_points"] == "5.0"
    assert all(blank[f"{t} feedback"].startswith("not attempted") for t in
               ("06.adagrad_step", "06.effective_lr_after", "06.effective_lr_exponent", "06.answer_loss_exponent",
                "06.answer_weakness"))
    assert partial["points"] == "4.0" and "outside the square root" in partial["06.adagrad_step feedback"]


def test_chapter_07_is_graded_task_by_task(graded):
    _, rows, _, _ = graded
    blank, partial = rows["07_blank.ipynb"], rows["07_partial.ipynb"]
    assert blank["status"] == "graded" and blank["points"] == "0.0" and blank["max_points"] == "5.0"
    assert blank["notes"] == ""  # the unsolved notebook runs from top to bottom
    assert all(blank[f"{t} feedback"].startswith("not attempted") for t in
               ("07.rmsprop_step", "07.hop_amplitude", "07.answer_floor_exponents", "07.rare_step", "07.answer_units"))
    assert partial["points"] == "3.0" and "outside the square root" in partial["07.rmsprop_step feedback"]
    assert "A batch exponent of -1 is SGD's" in partial["07.answer_floor_exponents feedback"]
    assert partial["07.hop_amplitude feedback"].startswith("passed") and partial["notes"] == ""


def test_chapter_08_is_graded_task_by_task(graded):
    _, rows, _, _ = graded
    blank, partial = rows["08_blank.ipynb"], rows["08_partial.ipynb"]
    assert blank["status"] == "graded" and blank["points"] == "0.0" and blank["max_points"] == "4.0"
    assert blank["notes"] == ""  # the unsolved notebook runs from top to bottom
    assert all(blank[f"{t} feedback"].startswith("not attempted") for t in
               ("08.adadelta_step", "08.steady_step", "08.answer_eps_exponent", "08.answer_why_settles"))
    assert partial["points"] == "2.0" and "*before* the lr multiplier" in partial["08.adadelta_step feedback"]
    assert "make eps an lr" in partial["08.answer_eps_exponent feedback"]
    assert partial["08.steady_step feedback"].startswith("passed") and partial["notes"] == ""


def test_chapter_09_is_graded_task_by_task(graded):
    _, rows, _, _ = graded
    blank, partial = rows["09_blank.ipynb"], rows["09_partial.ipynb"]
    assert blank["status"] == "graded" and blank["points"] == "0.0" and blank["max_points"] == "5.0"
    assert blank["notes"] == ""  # the unsolved notebook runs from top to bottom
    assert all(blank[f"{t} feedback"].startswith("not attempted") for t in
               ("09.adam_step", "09.alternating_step", "09.adamw_fixed_point", "09.answer_regret_per_step",
                "09.answer_rmsprop_momentum"))
    assert partial["points"] == "3.0" and "shrinks the *old* x" in partial["09.adam_step feedback"]
    assert "chapter's regret for C = 3" in partial["09.answer_regret_per_step feedback"]
    assert partial["09.adamw_fixed_point feedback"].startswith("passed")


def test_unsolved_exercise_is_not_attempted_everywhere(graded):
    _, rows, _, _ = graded
    row = rows["01_blank.ipynb"]
    assert row["points"] == "0.0"
    feedback = [v for k, v in row.items() if k.startswith("01.") and k.endswith("feedback")]
    assert len(feedback) == 6 and all(f.startswith("not attempted") for f in feedback)


def test_partial_submission_gets_points_and_named_mistakes(graded):
    _, rows, _, _ = graded
    row = rows["01_partial.ipynb"]
    assert row["points"] == "4.0"
    assert "goes uphill" in row["01.descend feedback"]
    assert "not the only L" in row["01.answer_curvatures feedback"]
    assert row["01.recover_quadratic feedback"].startswith("passed")


def test_endless_loop_and_crash_are_noted_and_the_rest_graded(graded):
    _, rows, _, _ = graded
    row = rows["01_loop_and_crash.ipynb"]
    assert row["status"] == "graded"
    assert "ran over the 8 s time limit" in row["notes"] and "ZeroDivisionError" in row["notes"]
    assert row["01.recover_quadratic feedback"].startswith("not attempted")  # its definition never ran
    assert row["01.descend feedback"].startswith("passed")
    assert row["points"] == "4.0"  # regime is defined (returns 'monotone'): wrong; the other four pass


def test_the_score_cell_is_not_a_check_and_is_not_run(graded):
    from lrcourse.grade import is_check_cell

    assert is_check_cell('# NBVAL_CHECK_OUTPUT\nscore("01", globals())')
    _, rows, _, _ = graded
    row = rows["01_score_edited.ipynb"]
    assert row["status"] == "graded" and row["points"] == "6.0" and row["notes"] == ""


def test_patching_the_checks_in_the_notebook_changes_nothing(graded):
    _, rows, _, _ = graded
    row = rows["01_cheat.ipynb"]
    assert row["status"] == "graded" and row["points"] == "0.0"


def test_broken_file_gets_a_row_saying_so(graded):
    _, rows, _, _ = graded
    row = rows["01_broken.ipynb"]
    assert row["status"] == "invalid notebook" and "JSON" in row["notes"]
    assert row["chapter"] == "01" and row["points"] == "0" and row["max_points"] == "6.0"


def test_cli_refuses_a_missing_folder(tmp_path):
    result = subprocess.run([sys.executable, "-m", "lrcourse.grade", str(tmp_path / "nope")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "is not a folder" in result.stderr


def test_parallel_grading_writes_the_serial_csv(tmp_path):
    """--jobs 2 grades two submissions at a time; the CSV is byte for byte the one --jobs 1 writes."""
    folder = tmp_path / "subs"
    folder.mkdir()
    nbformat.write(nbformat.read(ROOT / "exercises/01_gradient_descent.ipynb", as_version=4), folder / "01_a.ipynb")
    nbformat.write(nbformat.read(ROOT / "exercises/06_adagrad.ipynb", as_version=4), folder / "06_b.ipynb")
    (folder / "01_c.ipynb").write_text('{"cells": [')
    csvs = {}
    for jobs in (1, 2):
        out = tmp_path / f"grades{jobs}.csv"
        result = subprocess.run([sys.executable, "-m", "lrcourse.grade", str(folder), "--out", str(out),
                                 "--jobs", str(jobs)], capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
        assert "wrote 3 rows" in result.stdout
        csvs[jobs] = out.read_bytes()
    assert csvs[1] == csvs[2]


def test_jobs_below_one_is_refused(tmp_path):
    (tmp_path / "01_a.ipynb").write_text("{}")
    result = subprocess.run([sys.executable, "-m", "lrcourse.grade", str(tmp_path), "--jobs", "0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--jobs must be at least 1" in result.stderr


def test_a_notebook_that_allocates_without_end_is_stopped_and_the_rest_graded(tmp_path):
    """Each kernel may allocate --memory-limit GB: the hog's cells fail with a row that says so, its other tasks
    and the other submission are graded."""
    sol01 = nbformat.read(ROOT / "solutions/01_gradient_descent.ipynb", as_version=4)
    hog = nbformat.from_dict(sol01)
    hog.cells.insert(2, nbformat.v4.new_code_cell("hog = []\nwhile True:\n    hog.append(np.ones(10**7))"))
    nbformat.write(hog, tmp_path / "01_hog.ipynb")
    torch_hog = nbformat.from_dict(sol01)
    torch_hog.cells.insert(2, nbformat.v4.new_code_cell("import torch\nbig = torch.ones(2**31)"))
    nbformat.write(torch_hog, tmp_path / "01_torch_hog.ipynb")
    nbformat.write(sol01, tmp_path / "01_good.ipynb")
    out = tmp_path / "grades.csv"
    result = subprocess.run([sys.executable, "-m", "lrcourse.grade", str(tmp_path), "--out", str(out),
                             "--memory-limit", "1", "--cell-timeout", "30", "--jobs", "2"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = {row["submission"]: row for row in csv.DictReader(out.open())}
    assert rows["01_good.ipynb"]["status"] == "graded" and float(rows["01_good.ipynb"]["points"]) == 6
    hog_row = rows["01_hog.ipynb"]
    assert hog_row["status"] == "graded" and float(hog_row["points"]) == 6, hog_row
    assert "cell 3 ('hog = []') ran out of memory: it asked for more than the 1 GB limit" in hog_row["notes"]
    torch_row = rows["01_torch_hog.ipynb"]
    assert torch_row["status"] == "graded" and float(torch_row["points"]) == 6, torch_row
    assert "cell 3 ('import torch') ran out of memory" in torch_row["notes"]


@pytest.mark.parametrize("limit", ["-1", "0.1", "nan"])
def test_a_memory_limit_too_small_or_negative_is_refused(tmp_path, limit):
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "01_x.ipynb")
    result = subprocess.run([sys.executable, "-m", "lrcourse.grade", str(tmp_path), "--memory-limit", limit],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--memory-limit" in result.stderr
