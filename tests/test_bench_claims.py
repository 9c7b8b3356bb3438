"""The claims explorer's benchmark runs and reports every claim's rerun (figures reported, never asserted)."""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_claims_widget.py"


def test_claims_benchmark_reports_every_claim():
    out = subprocess.run([sys.executable, str(BENCH)], capture_output=True, text=True, check=True, timeout=600).stdout
    assert "| claim | problem | default settings ms |" in out and "slowest rerun:" in out
    for claim in ("1: faster", "2: less tuning", "3: escape", "4: generalize"):
        assert f"| {claim} |" in out
