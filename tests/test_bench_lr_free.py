"""bench/bench_lr_free_widget.py runs and reports its timings (what they are is not asserted)."""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "bench_lr_free_widget.py"


def test_the_lr_free_widget_benchmark_reports():
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, check=True,
                         timeout=300).stdout
    for words in ("build (first run", "a new setting (trains): median", "a kept setting (redraw only): median"):
        assert words in out, out
