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
