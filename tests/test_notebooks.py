"""The notebooks as documents: structure, widgets, saved outputs, and nbval's marks.

(nbval itself runs every notebook: `pytest` collects notebooks/, solutions/ and
exercises/ with --nbval-lax, see pyproject.toml.)
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def number(path):
    return int(re.match(r"(\d\d)_", path.name).group(1))


def test_notebooks_are_numbered_and_start_at_00():
    numbers = [number(p) for p in NOTEBOOKS]
    assert numbers[:3] == [0, 1, 2] and numbers == sorted(set(numbers))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_with_outputs_and_checked_numbers(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "run the notebook and save it with its outputs"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"], "a saved output is an error"
    checked = [c for c in code if c.source.startswith("# NBVAL_CHECK_OUTPUT")]
    assert checked, "mark the cells whose printed numbers must stay fixed with # NBVAL_CHECK_OUTPUT"
    assert all(c.outputs for c in checked)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(f"# {number(path):02d} ·")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_chapter_has_a_widget_and_figures(path):
    nb = nbformat.read(path, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert any(WIDGET_VIEW in o.get("data", {}) for o in outputs), "no ipywidgets control"
    assert "widgets" in nb.metadata and nb.metadata["widgets"], "save the widget state (it shows the last picture)"
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure"


@pytest.mark.parametrize("path", sorted((ROOT / "solutions").glob("*.ipynb")), ids=lambda p: p.name)
def test_each_solution_has_checks_for_every_task(path):
    from lrcourse.grading import tasks_of

    nb = nbformat.read(path, as_version=4)
    sources = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    chapter = nb.metadata["lrcourse"]["chapter"]
    tasks = tasks_of(chapter)
    assert 4 <= len(tasks) <= 6
    for task in tasks:
        assert f'check("{task.id}", {task.name})' in sources, task.id
    passed = [o for c in nb.cells if c.cell_type == "code" and "check(" in c.source for o in c.outputs
              if "[PASSED]" in o.get("data", {}).get("text/plain", "")]
    assert len(passed) == len(tasks), "the committed solution should show every check passing"


def test_nbval_catches_a_changed_number(tmp_path):
    """The checked cells really are compared: a notebook whose saved number is wrong fails."""
    nb = nbformat.read(ROOT / "notebooks/01_gradient_descent.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.source.startswith("# NBVAL_CHECK_OUTPUT") and "fitted slope" in c.source)
    cell.outputs[0]["text"] = cell.outputs[0]["text"].replace("-0.602060", "-0.602061")
    nb.cells = nb.cells[:2] + [c for c in nb.cells if c is cell or "def gradient_descent" in c.source or
                               c.source.startswith("f = lambda")]
    # keep only what the changed cell needs: imports, the GD loop, L, grad and f
    nb.cells.insert(2, nbformat.v4.new_code_cell("L = 10.0\ngrad = lambda x: L * x"))
    path = tmp_path / "changed.ipynb"
    nbformat.write(nb, path)
    result = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q",
                             str(path)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 1 and "-0.602060" in result.stdout, result.stdout[-2000:]
