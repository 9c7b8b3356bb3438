"""Generate the exercise notebooks from the solution notebooks (the single source of both).

    python -m lrcourse.exercises            # solutions/*.ipynb -> exercises/*.ipynb
    python -m lrcourse.exercises --check    # exit 1 if exercises/ is not what solutions/ gives
    python -m lrcourse.exercises --nbgrader OUT   # an nbgrader course directory at OUT

In a solution notebook, the lines from ``### BEGIN SOLUTION`` to
``### END SOLUTION`` are the answer. In the exercise notebook they become:

- inside a function (the marker is indented): ``raise NotImplementedError``,
  which the checks report as "not attempted yet";
- at the top level: ``name = None`` for every name the block assigns, so that
  the unsolved notebook still runs from top to bottom;
- in a markdown cell: an invitation to write the answer.

Outputs, execution counts and run times are cleared, and ``# NBVAL_CHECK_OUTPUT`` marks
are dropped (an unsolved exercise has no fixed output to compare).
"""

import argparse
import ast
import sys
from pathlib import Path

import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
NBVAL_MARK = "# NBVAL_CHECK_OUTPUT"
ROOT = Path(__file__).resolve().parents[1]


class MarkerError(ValueError):
    pass


def _placeholder(block, indent, where):
    """What replaces one solution block (its lines without the markers)."""
    if indent:
        return [f"{indent}# YOUR CODE HERE", f'{indent}raise NotImplementedError("your code here")']
    try:
        tree = ast.parse("\n".join(block))
    except SyntaxError as error:
        raise MarkerError(f"{where}: the solution block is not valid Python: {error}") from None
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if not isinstance(node, (ast.Assign, ast.AnnAssign)) or not all(isinstance(t, ast.Name) for t in targets):
            raise MarkerError(f"{where}: a top-level solution block may only assign names "
                              f"(answer = ...), so that the exercise runs unsolved")
        names += [t.id for t in targets if t.id not in names]
    return [f"{name} = None  # YOUR ANSWER HERE" for name in names]


def strip_solutions(source, where="cell", markdown=False):
    """Replace every solution block in ``source``; raise MarkerError on unbalanced markers."""
    out, block, indent = [], None, ""
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        if stripped == BEGIN:
            if block is not None:
                raise MarkerError(f"{where}, line {number}: {BEGIN} inside another solution block")
            block, indent = [], line[: len(line) - len(line.lstrip())]
        elif stripped == END:
            if block is None:
                raise MarkerError(f"{where}, line {number}: {END} without {BEGIN}")
            out += ["*Write your answer here.*"] if markdown else _placeholder(block, indent, where)
            block = None
        elif block is not None:
            block.append(line[len(indent):] if line.startswith(indent) else line)
        elif not markdown and stripped == NBVAL_MARK:
            continue
        else:
            out.append(line)
    if block is not None:
        raise MarkerError(f"{where}: {BEGIN} without {END}")
    return "\n".join(out)


def make_exercise(solution):
    """The exercise notebook (a new NotebookNode) for a solution notebook."""
    exercise = nbformat.from_dict(nbformat.reads(nbformat.writes(solution), as_version=4))
    for index, cell in enumerate(exercise.cells):
        where = f"cell {index}"
        cell.metadata.pop("execution", None)  # the solution's run times: nothing to keep in an unrun notebook
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source, where)
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = strip_solutions(cell.source, where, markdown=True)
    exercise.metadata.pop("widgets", None)  # no saved widget state in an unrun notebook
    return exercise


# ------------------------------------------------------------------ nbgrader's source assignments
NBGRADER_CONFIG = """# nbgrader configuration of the lrcourse exercises (written by `python -m lrcourse.exercises --nbgrader`).
c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.course_id = "lrcourse"
# The checks are the course's own (lrcourse.grading): a test cell raises, and scores 0, when its task's check
# does not pass. generate_assignment replaces each solution region with nbgrader's stub.
"""


def _check_calls(source):
    """The (task id, name) of each ``check("NN.task", name)`` in a check cell."""
    import re

    return re.findall(r'check\(\s*"([0-9]{2}\.[A-Za-z_0-9]+)"\s*,\s*([A-Za-z_][A-Za-z_0-9]*)\s*\)', source)


def _nbgrader(cell, grade_id, **flags):
    cell.metadata["nbgrader"] = {"grade": False, "solution": False, "locked": False, "schema_version": 3,
                                 "grade_id": grade_id, **flags}


def make_nbgrader_source(solution, chapter):
    """The solution notebook as an nbgrader source assignment: solution regions in solution cells, each check as
    an autograder test cell worth its task's points (``require`` raises when the check fails), written answers as
    manually graded cells worth 0 points (the course's own grader does not score them either)."""
    from lrcourse.grading import TASKS, tasks_of

    source = nbformat.from_dict(nbformat.reads(nbformat.writes(solution), as_version=4))
    source.metadata.pop("widgets", None)
    exercise_tasks = {t.id for t in tasks_of(chapter)}
    for index, cell in enumerate(source.cells):
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            calls = _check_calls(cell.source)
            if calls and all(task_id in exercise_tasks for task_id, _ in calls) and "def " not in cell.source:
                lines = ["from lrcourse.grading import require", ""]
                lines += [f'require("{task_id}", {name})' for task_id, name in calls]
                cell.source = "\n".join(lines)
                task_ids = [task_id for task_id, _ in calls]
                _nbgrader(cell, "check-" + "-".join(t.replace(".", "_") for t in task_ids), grade=True, locked=True,
                          points=sum(TASKS[t].points for t in task_ids))
            elif BEGIN in cell.source:
                _nbgrader(cell, f"answer-{index:02d}", solution=True)
        elif cell.cell_type == "markdown" and BEGIN in cell.source:
            _nbgrader(cell, f"written-{index:02d}", solution=True, grade=True, points=0)
    return source


def export_nbgrader(out, solutions=ROOT / "solutions"):
    """Write OUT/source/NN_name/NN_name.ipynb for every chapter, and OUT/nbgrader_config.py; returns the paths."""
    out = Path(out)
    written = []
    for path in sorted(Path(solutions).glob("*.ipynb")):
        chapter = path.name[:2]
        target = out / "source" / path.stem / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(make_nbgrader_source(nbformat.read(path, as_version=4), chapter), target)
        written.append(target)
    (out / "nbgrader_config.py").write_text(NBGRADER_CONFIG)
    return written


def generate(solutions=ROOT / "solutions", exercises=ROOT / "exercises"):
    """{exercise path: notebook text} for every solution notebook."""
    result = {}
    for path in sorted(Path(solutions).glob("*.ipynb")):
        solution = nbformat.read(path, as_version=4)
        try:
            result[Path(exercises) / path.name] = nbformat.writes(make_exercise(solution)) + "\n"
        except MarkerError as error:
            raise MarkerError(f"{path.name}: {error}") from None
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lrcourse.exercises", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    parser.add_argument("--solutions", default=ROOT / "solutions", type=Path)
    parser.add_argument("--exercises", default=ROOT / "exercises", type=Path)
    parser.add_argument("--nbgrader", type=Path, metavar="OUT",
                        help="write an nbgrader course directory at OUT (source/NN_name/NN_name.ipynb per chapter) "
                             "instead of the exercises")
    args = parser.parse_args(argv)
    if args.nbgrader:
        for path in export_nbgrader(args.nbgrader, args.solutions):
            print(f"written: {path}")
        print(f"then, in {args.nbgrader}: nbgrader generate_assignment NN_name, and nbgrader autograde NN_name")
        return 0
    stale = []
    for path, text in generate(args.solutions, args.exercises).items():
        current = path.read_text() if path.exists() else None
        if current != text:
            stale.append(path)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    verb = "out of date" if args.check else "written"
    for path in stale:
        print(f"{verb}: {path}")
    if args.check and stale:
        print("run `python -m lrcourse.exercises` and commit exercises/")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
