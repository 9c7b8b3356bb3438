"""The benchmark script keeps running (its figures are reported, not asserted: timing is no test)."""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_adam.py"


def test_benchmark_runs_and_reports_all_three_optimizers():
    out = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    for name in ("lrcourse.torch_optim.Adam", "torch.optim.Adam (default)", "torch.optim.Adam (foreach)"):
        assert name in out
    assert "the fastest torch epoch" in out and "1.15x target" in out


def test_widget_benchmark_runs_every_explorer():
    bench = BENCH.parent / "bench_widgets.py"
    out = subprocess.run([sys.executable, str(bench), "--quick"], capture_output=True, text=True, check=True,
                         timeout=300).stdout
    for name in ("first_step", "lr_explorer_1d", "contour_explorer", "sgd_explorer", "momentum_explorer",
                 "schedule_explorer", "range_test_explorer"):
        assert f"| {name}" in out or f" {name} |" in out or name in out
    assert "| explorer | control | redraws | median ms | p90 ms |" in out and "slowest median" in out


def test_grading_benchmark_runs_and_compares_serial_with_parallel():
    bench = BENCH.parent / "bench_grade.py"
    out = subprocess.run([sys.executable, str(bench), "--quick", "--jobs", "2"], capture_output=True, text=True,
                         check=True, timeout=300).stdout
    assert "| --jobs 1 |" in out and "| --jobs 2 |" in out and "the two CSVs are identical" in out


def test_dashboard_and_warmup_benchmarks_run():
    for script, flags, words in (("bench_dashboard.py", ["--quick"], "| stop: click -> thread ended |"),
                                 ("bench_warmup_widget.py", [], "a new setting (trains)")):
        out = subprocess.run([sys.executable, str(BENCH.parent / script), *flags], capture_output=True, text=True,
                             check=True, timeout=300).stdout
        assert words in out
