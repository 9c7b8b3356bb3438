"""Benchmark: the batch grader's throughput, serial (``--jobs 1``) against parallel (``--jobs N``).

A folder of copies of the solution notebooks (chapters 01-05, the quickest to grade, in turn) is graded twice
with ``python -m lrcourse.grade``, once one submission at a time and once with N at a time, each submission in
its own fresh kernel as always; the two CSVs must be identical. Reports submissions per minute and the ratio.
Run from the repository root::

    python bench/bench_grade.py              # 12 submissions, --jobs 1 and --jobs <cores> (a few minutes)
    python bench/bench_grade.py --quick      # 2 submissions: checks that it runs
    python bench/bench_grade.py --submissions 24 --jobs 4
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ["01_gradient_descent", "02_stability_and_conditioning", "03_sgd_and_minibatches", "04_momentum",
            "05_schedules"]


def grade(folder, jobs, out):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "lrcourse.grade", str(folder), "--out", str(out), "--jobs", str(jobs)],
                   check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quick", action="store_true", help="2 submissions, to check that the benchmark runs")
    args = parser.parse_args(argv)
    count = 2 if args.quick else args.submissions
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "submissions"
        folder.mkdir()
        for k in range(count):
            chapter = CHAPTERS[k % len(CHAPTERS)]
            nb = nbformat.read(ROOT / "solutions" / f"{chapter}.ipynb", as_version=4)
            nbformat.write(nb, folder / f"{chapter[:2]}_learner{k:03d}.ipynb")
        serial = grade(folder, 1, Path(tmp) / "serial.csv")
        parallel = grade(folder, args.jobs, Path(tmp) / "parallel.csv")
        same = (Path(tmp) / "serial.csv").read_text() == (Path(tmp) / "parallel.csv").read_text()
    print(f"{count} submissions (chapters 01-05 in turn) on {os.cpu_count()} cores")
    print("| run | seconds | submissions per minute |")
    print("|---|---|---|")
    print(f"| --jobs 1 | {serial:.1f} | {60 * count / serial:.1f} |")
    print(f"| --jobs {args.jobs} | {parallel:.1f} | {60 * count / parallel:.1f} |")
    print(f"speed-up {serial / parallel:.2f}x; the two CSVs are {'identical' if same else 'DIFFERENT'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
