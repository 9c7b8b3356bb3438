"""exercises/ is generated from solutions/: the committed files are what the generator gives."""

import nbformat
import pytest

from lrcourse import exercises
from lrcourse.exercises import BEGIN, END, MarkerError, strip_solutions


def test_committed_exercises_are_up_to_date():
    generated = exercises.generate()
    assert generated, "no solution notebooks found"
    for path, text in generated.items():
        assert path.exists(), f"{path.name} is missing: run `python -m lrcourse.exercises`"
        assert path.read_text() == text, f"{path.name} is stale: run `python -m lrcourse.exercises`"
    committed = {p.name for p in exercises.ROOT.joinpath("exercises").glob("*.ipynb")}
    assert committed == {p.name for p in generated}, "an exercise notebook has no solution notebook"


def test_check_mode_reports_staleness(tmp_path):
    solutions, target = tmp_path / "solutions", tmp_path / "exercises"
    solutions.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"def f():\n    {BEGIN}\n    return 1\n    {END}")])
    nbformat.write(nb, solutions / "01_x.ipynb")
    assert exercises.main(["--check", "--solutions", str(solutions), "--exercises", str(target)]) == 1
    assert exercises.main(["--solutions", str(solutions), "--exercises", str(target)]) == 0
    assert exercises.main(["--check", "--solutions", str(solutions), "--exercises", str(target)]) == 0
    assert 'raise NotImplementedError' in (target / "01_x.ipynb").read_text()


def test_function_body_becomes_a_placeholder_that_raises():
    out = strip_solutions(f"def f(x):\n    '''doc'''\n    {BEGIN}\n    y = x + 1\n    return y\n    {END}\n")
    assert out == "def f(x):\n    '''doc'''\n    # YOUR CODE HERE\n    raise NotImplementedError(\"your code here\")"


def test_top_level_answers_become_none():
    out = strip_solutions(f"{BEGIN}\nanswer = 'b'\nlr: float = 0.3\n{END}\n# NBVAL_CHECK_OUTPUT\ncheck('x', answer)")
    assert out == "answer = None  # YOUR ANSWER HERE\nlr = None  # YOUR ANSWER HERE\ncheck('x', answer)"


def test_markdown_answers_become_an_invitation():
    assert strip_solutions(f"Why?\n{BEGIN}\nBecause.\n{END}", markdown=True) == "Why?\n*Write your answer here.*"


@pytest.mark.parametrize("source, words", [
    (f"{BEGIN}\nx = 1\n", "without ### END"),
    (f"x = 1\n{END}\n", "without ### BEGIN"),
    (f"{BEGIN}\n{BEGIN}\n{END}\n", "inside another"),
    (f"{BEGIN}\nprint('hi')\n{END}\n", "may only assign names"),
])
def test_marker_mistakes_are_reported(source, words):
    with pytest.raises(MarkerError, match=words):
        strip_solutions(source)


def test_exercise_notebooks_have_no_solutions_and_no_outputs():
    for path in exercises.ROOT.joinpath("exercises").glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            assert BEGIN not in cell.source and END not in cell.source
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
