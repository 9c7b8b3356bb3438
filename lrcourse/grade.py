"""Batch grading for instructors.

    python -m lrcourse.grade SUBMISSIONS_DIR --out grades.csv [--cell-timeout 60] [--jobs N] [--memory-limit GB]

Every ``*.ipynb`` in SUBMISSIONS_DIR is executed in a fresh kernel (each cell
under a time limit; a cell that runs over is interrupted and the rest still
run), and then the canonical checks of its chapter are run on the learner's
definitions, in that kernel. The learner's own check cells are skipped, so
editing or deleting them changes nothing (the same goes for the closing
``score(...)`` cell, which only prints a summary). The chapter comes from the
notebook's metadata or its file name (``01_...``).

``--jobs N`` grades N submissions at a time (default: the number of cores), each
still in its own fresh kernel with its own time limits; the CSV is the same as
a serial run's (``--jobs 1``), rows in file-name order.

``--memory-limit GB`` (default 4; 0 for none) caps the memory each kernel may
allocate (its data segment, ``RLIMIT_DATA``, on Linux): a notebook that
allocates without end gets a MemoryError in its own kernel, its row says that it
ran out of memory, and the other submissions are graded as usual.

One CSV row per submission: file, chapter, status, total points, and for each
task its points and feedback. A broken submission (invalid JSON, a crash, a
timeout, a dead kernel) gets a row that says so and the batch goes on.
Submission files are only read, never written.
"""

import argparse
import concurrent.futures
import csv
import json
import multiprocessing
import os
import re
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from lrcourse.grading import TASKS, tasks_of

MARKER = "LRCOURSE-GRADES:"
TIMEOUT_NAME = "CellTimeoutError"
MEMORY_LIMIT_GB = 4.0

# Run in the learner's kernel before their cells: the memory cap (Linux counts every allocation of the heap and of
# private memory maps in the data segment; elsewhere the limit may not be enforced). The soft limit is the learner's;
# the grading cell lifts it to the hard one, GRADING_HEADROOM_GB above, so that the checks can still run after a
# notebook has filled its share.
GRADING_HEADROOM_GB = 1.0
MEMORY_CELL = """
import resource as _lrc_resource
_lrc_resource.setrlimit(_lrc_resource.RLIMIT_DATA, ({limit}, {hard}))
del _lrc_resource
"""
LIFT_LIMIT = """
import resource as _lrc_resource
_lrc_resource.setrlimit(_lrc_resource.RLIMIT_DATA, (_lrc_resource.getrlimit(_lrc_resource.RLIMIT_DATA)[1],) * 2)
"""
OUT_OF_MEMORY = ("MemoryError", "can't allocate memory", "out of memory", "Cannot allocate memory")

# Run in the learner's kernel after their cells. The grading modules are
# reloaded first, so a notebook that patched them cannot change the checks.
GRADING_CELL = """
import builtins as _lrc_builtins, importlib as _lrc_importlib, json as _lrc_json, sys as _lrc_sys
import lrcourse.grading as _lrc_grading
_lrc_importlib.reload(_lrc_sys.modules["lrcourse.grading.core"])
for _lrc_name in sorted(_lrc_sys.modules):
    if _lrc_name.startswith("lrcourse.grading.ch"):
        _lrc_importlib.reload(_lrc_sys.modules[_lrc_name])
_lrc_importlib.reload(_lrc_grading)
_lrc_builtins.print({marker!r} + _lrc_json.dumps(
    [vars(_lrc_f) for _lrc_f in _lrc_grading.grade_namespace({chapter!r}, dict(globals()))]))
"""


def chapter_of(path, nb=None):
    """The chapter number ("01") from the notebook's metadata, else from its file name."""
    chapter = ((nb or {}).get("metadata", {}).get("lrcourse", {}) or {}).get("chapter")
    if chapter:
        return str(chapter)
    match = re.match(r"(\d\d)", Path(path).name)
    return match.group(1) if match else None


def is_check_cell(source):
    """A cell of nothing but check(...), require(...) or score(...) calls (and the import of require, as in an
    nbgrader export): the grader runs its own checks instead."""
    lines = [line.strip() for line in source.splitlines() if line.strip() and not line.strip().startswith("#")]
    return bool(lines) and all(line.startswith(("check(", "score(", "require(", "from lrcourse.grading import"))
                               for line in lines)


def grade_notebook(path, cell_timeout=60.0, memory_limit=MEMORY_LIMIT_GB):
    """Grade one submission: a dict with status, notes and the per-task feedback (list of dicts).

    ``memory_limit``: gigabytes the kernel may allocate (0 or None: no limit)."""
    result = {"submission": Path(path).name, "chapter": chapter_of(path) or "", "status": "", "notes": "",
              "feedback": []}
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as error:  # not JSON, not a notebook, unreadable
        result["status"] = "invalid notebook"
        result["notes"] = f"could not read the file as a notebook: {type(error).__name__}: {str(error)[:200]}"
        return result
    chapter = chapter_of(path, nb)
    result["chapter"] = chapter or ""
    if not chapter or not tasks_of(chapter):
        result["status"] = "unknown chapter"
        result["notes"] = "name the file NN_... (e.g. 01_alice.ipynb) or keep the exercise notebook's metadata"
        return result

    # (cell number in the learner's notebook, counting from 1; its code), check cells left out
    cells = [(number, c.source) for number, c in enumerate(nb.cells, start=1)
             if c.cell_type == "code" and not is_check_cell(c.source)]
    run = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for _, source in cells])
    run.cells.append(nbformat.v4.new_code_cell(GRADING_CELL.format(marker=MARKER, chapter=chapter)))
    if memory_limit:
        run.cells.insert(0, nbformat.v4.new_code_cell(MEMORY_CELL.format(
            limit=int(memory_limit * 2 ** 30), hard=int((memory_limit + GRADING_HEADROOM_GB) * 2 ** 30))))
        run.cells[-1].source = LIFT_LIMIT + run.cells[-1].source
    with tempfile.TemporaryDirectory(prefix="lrcourse-grade-") as workdir:
        client = NotebookClient(
            run, timeout=cell_timeout, kernel_name="python3", allow_errors=True, interrupt_on_timeout=True,
            error_on_timeout={"ename": TIMEOUT_NAME, "evalue": f"stopped after {cell_timeout:g} s",
                              "traceback": []},
            resources={"metadata": {"path": workdir}})
        try:
            client.execute()
        except DeadKernelError:
            result["status"] = "kernel died"
            result["notes"] = ("the kernel died while running this notebook (out of memory, or os._exit?)"
                               + (f"; memory limit {memory_limit:g} GB" if memory_limit else ""))
            return result
        except Exception as error:
            result["status"] = "execution failed"
            result["notes"] = f"{type(error).__name__}: {str(error)[:200]}"
            return result

    notes = []
    for (number, source), cell in zip(cells, run.cells[1:] if memory_limit else run.cells):
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if not errors:
            continue
        names = {o.get("ename") for o in errors}
        message = f"{errors[0].get('ename')}: {errors[0].get('evalue')}"
        if names & {TIMEOUT_NAME, "KeyboardInterrupt"}:  # our interrupt surfaces as KeyboardInterrupt
            what = f"ran over the {cell_timeout:g} s time limit and was stopped"
        elif memory_limit and any(words in message for words in OUT_OF_MEMORY):
            what = f"ran out of memory: it asked for more than the {memory_limit:g} GB limit ({message[:80]})"
        else:
            what = f"raised {errors[0].get('ename')}: {str(errors[0].get('evalue'))[:120]}"
        first_line = source.strip().splitlines()[0][:60] if source.strip() else ""
        notes.append(f"cell {number} ({first_line!r}) {what}")
    grades = None
    for output in run.cells[-1].get("outputs", []):
        text = output.get("text", "") if output.get("output_type") == "stream" else ""
        for line in text.splitlines():
            if line.startswith(MARKER):
                grades = json.loads(line[len(MARKER):])
    if grades is None:
        result["status"] = "grading failed"
        errors = [o for o in run.cells[-1].get("outputs", []) if o.get("output_type") == "error"]
        notes.append(f"the checks could not run: {errors[0].get('ename')}: {errors[0].get('evalue')}"
                     if errors else "the checks produced no result")
    else:
        result["status"] = "graded"
        result["feedback"] = grades
    result["notes"] = "; ".join(notes)
    return result


def write_csv(results, out):
    task_ids = sorted({f["task"] for r in results for f in r["feedback"]} |
                      {t.id for r in results if r["chapter"] for t in tasks_of(r["chapter"])})
    header = ["submission", "chapter", "status", "points", "max_points"]
    for task_id in task_ids:
        header += [f"{task_id} points", f"{task_id} feedback"]
    header.append("notes")
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for r in results:
            by_task = {f["task"]: f for f in r["feedback"]}
            max_points = sum(t.points for t in tasks_of(r["chapter"]))
            row = [r["submission"], r["chapter"], r["status"], sum(f["points"] for f in r["feedback"]), max_points]
            for task_id in task_ids:
                f = by_task.get(task_id)
                if f is None:
                    row += ["", ""] if TASKS[task_id].chapter != r["chapter"] else [0, r["status"]]
                else:
                    row += [f["points"], f"{f['status']}: {f['message']}"]
            row.append(r["notes"])
            writer.writerow(row)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lrcourse.grade", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="folder of submitted .ipynb files")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"), help="the CSV to write")
    parser.add_argument("--cell-timeout", type=float, default=60.0, help="seconds per cell (default 60)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="submissions graded at a time, each in its own kernel (default: the number of cores)")
    parser.add_argument("--memory-limit", type=float, default=MEMORY_LIMIT_GB, metavar="GB",
                        help=f"memory each kernel may allocate, in GB (default {MEMORY_LIMIT_GB:g}; 0: no limit)")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder")
    paths = sorted(p for p in args.submissions.glob("*.ipynb") if p.is_file())
    if not paths:
        parser.error(f"no .ipynb files in {args.submissions}")
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        parser.error(f"--jobs must be at least 1, got {jobs}")
    if not args.memory_limit >= 0:
        parser.error(f"--memory-limit must be 0 (no limit) or a number of GB, got {args.memory_limit}")
    if 0 < args.memory_limit < 0.5:
        parser.error(f"--memory-limit {args.memory_limit:g} GB is too small for a kernel that imports torch: "
                     f"give at least 0.5")

    def report(path, r):
        points = sum(f["points"] for f in r["feedback"])
        total = sum(t.points for t in tasks_of(r["chapter"]))
        print(f"{path.name}: {r['status']}" + (f", {points:g}/{total:g}" if r["status"] == "graded" else "")
              + (f" ({r['notes']})" if r["notes"] else ""), flush=True)

    results = {}
    if jobs == 1 or len(paths) == 1:
        for path in paths:
            results[path] = grade_notebook(path, args.cell_timeout, args.memory_limit)
            report(path, results[path])
    else:  # worker processes started fresh ("spawn"): each grades one submission at a time in its own kernel
        with concurrent.futures.ProcessPoolExecutor(min(jobs, len(paths)),
                                                    mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(grade_notebook, path, args.cell_timeout, args.memory_limit): path
                       for path in paths}
            for future in concurrent.futures.as_completed(futures):
                path = futures[future]
                results[path] = future.result()
                report(path, results[path])
    results = [results[path] for path in paths]
    write_csv(results, args.out)
    print(f"wrote {len(results)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
