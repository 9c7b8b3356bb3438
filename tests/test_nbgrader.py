"""The exercises as an nbgrader course: ``python -m lrcourse.exercises --nbgrader OUT`` writes one source
assignment per chapter with nbgrader's own cell metadata, and the real nbgrader (requirements-instructors.txt,
installed by .ci/run) generates the assignment and autogrades a solved, a blank and a partly wrong submission with
the same points per task as ``python -m lrcourse.grade`` gives the same notebooks."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from lrcourse.exercises import ROOT, export_nbgrader
from lrcourse.grading import TASKS, require, tasks_of

CHAPTERS = sorted(p.stem for p in (ROOT / "solutions").glob("*.ipynb"))


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    out = tmp_path_factory.mktemp("nbgrader_course")
    export_nbgrader(out)
    return out


def cells_of(course, chapter):
    return nbformat.read(course / "source" / chapter / f"{chapter}.ipynb", as_version=4).cells


def test_every_chapter_has_a_source_assignment_and_the_course_a_config(course):
    assert sorted(p.name for p in (course / "source").iterdir()) == CHAPTERS
    assert 'c.CourseDirectory.course_id = "lrcourse"' in (course / "nbgrader_config.py").read_text()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_task_is_one_autograder_test_cell_worth_its_points(course, chapter):
    tests = {c.metadata["nbgrader"]["grade_id"]: c for c in cells_of(course, chapter)
             if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"}
    expected = {f"check-{t.id.replace('.', '_')}": t for t in tasks_of(chapter[:2])}
    assert set(tests) == set(expected)
    for grade_id, cell in tests.items():
        meta, task = cell.metadata["nbgrader"], expected[grade_id]
        assert meta["points"] == task.points and meta["locked"] and not meta["solution"]
        assert meta["schema_version"] == 3 and f'require("{task.id}", {task.name})' in cell.source


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_solution_regions_are_solution_cells_and_written_answers_are_worth_nothing(course, chapter):
    for cell in cells_of(course, chapter):
        meta = cell.metadata.get("nbgrader")
        has_region = "### BEGIN SOLUTION" in cell.source
        if cell.cell_type == "code" and has_region:
            assert meta["solution"] and not meta["grade"]
        elif cell.cell_type == "markdown" and has_region:  # nbgrader: a markdown answer must be a graded cell
            assert meta["solution"] and meta["grade"] and meta["points"] == 0
        elif meta:
            assert meta["grade"] and not meta["solution"]
        assert cell.get("outputs", []) == []


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_nbgraders_own_validator_accepts_each_source(course, chapter):
    pytest.importorskip("nbgrader")
    from nbgrader.nbgraderformat import MetadataValidator

    nb = nbformat.read(course / "source" / chapter / f"{chapter}.ipynb", as_version=4)
    MetadataValidator().validate_nb(nb)


def test_require_shows_the_feedback_and_raises_only_when_the_task_fails(capsys):
    require("11.answer_cliff", "b")
    with pytest.raises(AssertionError, match="makes the suggestion"):
        require("11.answer_cliff", "a")
    assert "erring high" in capsys.readouterr().out.lower()


# ------------------------------------------------------------------ the round trip through the real nbgrader
ROUND_TRIP = ["01_gradient_descent", "11_range_test"]
OFF_BY_ONE = """def range_lrs(start_lr, end_lr, num_iter, step_mode="exp"):
    r = np.arange(num_iter) / num_iter
    return start_lr * (end_lr / start_lr) ** r if step_mode == "exp" else start_lr + r * (end_lr - start_lr)"""
UPHILL = """def descend(grad_f, x0, lr, tol, max_steps):
    xs = [np.array(x0, dtype=float)]
    while len(xs) - 1 < max_steps and np.linalg.norm(grad_f(xs[-1])) > tol:
        xs.append(xs[-1] + lr * grad_f(xs[-1]))
    return np.array(xs)"""


def nbgrader(course, *args):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--CourseDirectory.root=" + str(course)],
                            cwd=course, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def partly_wrong(nb, chapter):
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if chapter.startswith("11") and cell.source.startswith("def range_lrs"):
            cell.source = OFF_BY_ONE
        if chapter.startswith("01") and cell.source.startswith("def descend"):
            cell.source = UPHILL
    return nb


@pytest.fixture(scope="module")
def round_trip(course, tmp_path_factory):
    """nbgrader's points and lrcourse.grade's points for the same solved, blank and partly wrong notebooks."""
    pytest.importorskip("nbgrader")
    from nbgrader.api import Gradebook

    ours = tmp_path_factory.mktemp("lrcourse_grade")
    for chapter in ROUND_TRIP:
        nbgrader(course, "generate_assignment", chapter, "--force")
        solved = nbformat.read(course / "source" / chapter / f"{chapter}.ipynb", as_version=4)
        blank = nbformat.read(course / "release" / chapter / f"{chapter}.ipynb", as_version=4)
        for student, nb in (("solved", solved), ("blank", blank), ("partial", partly_wrong(solved, chapter))):
            folder = course / "submitted" / student / chapter
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, folder / f"{chapter}.ipynb")
            nbformat.write(nb, ours / f"{chapter[:2]}_{student}.ipynb")
        nbgrader(course, "autograde", chapter, "--create")
    points = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for chapter in ROUND_TRIP:
            for student in ("solved", "blank", "partial"):
                notebook = gradebook.find_submission(chapter, student).notebooks[0]
                points[f"{chapter[:2]}_{student}.ipynb"] = {
                    g.name[len("check-"):].replace("_", ".", 1): g.score for g in notebook.grades}
    out = ours / "grades.csv"
    subprocess.run([sys.executable, "-m", "lrcourse.grade", str(ours), "--out", str(out)], check=True,
                   capture_output=True, timeout=600)
    rows = {row["submission"]: row for row in csv.DictReader(out.open())}
    return points, rows


@pytest.mark.parametrize("chapter", ROUND_TRIP)
@pytest.mark.parametrize("student, expected", [("solved", "all"), ("blank", "none"), ("partial", "all but one")])
def test_nbgrader_gives_the_points_lrcourse_grade_gives(round_trip, chapter, student, expected):
    points, rows = round_trip
    name = f"{chapter[:2]}_{student}.ipynb"
    theirs, row = points[name], rows[name]
    assert row["status"] == "graded", row
    ours = {t.id: float(row[f"{t.id} points"]) for t in tasks_of(chapter[:2])}
    assert theirs == ours
    full = sum(TASKS[t].points for t in ours)
    assert sum(theirs.values()) == {"all": full, "none": 0, "all but one": full - 1}[expected]
