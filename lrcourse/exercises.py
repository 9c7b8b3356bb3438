"""Generate the exercise notebooks from the solution notebooks (the single source of both).

    python -m lrcourse.exercises            # solutions/*.ipynb -> exercises/*.ipynb
    python -m lrcourse.exercises --check    # exit 1 if exercises/ is not what solutions/ gives

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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    parser.add_argument("--solutions", default=ROOT / "solutions", type=Path)
    parser.add_argument("--exercises", default=ROOT / "exercises", type=Path)
    args = parser.parse_args(argv)
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
