"""Timing of the warm-up explorer (chapter 10): a new setting (trains 3 seeds) and a redraw of a kept one.

    python bench/bench_warmup_widget.py
"""

import time

import numpy as np

from lrcourse.widgets.warmup import warmup_explorer


def main():
    start = time.perf_counter()
    w = warmup_explorer()
    print(f"build (first run, 3 seeds x 200 steps of the digits MLP): {1e3 * (time.perf_counter() - start):.0f} ms")
    new, kept = [], []
    for lr in (0.03, 0.1, 0.3, 1.0):
        w.controls["lr"].value = lr
        new.append(w.render_ms[-1])
    for lr in (0.03, 0.1, 0.3, 1.0):
        w.controls["lr"].value = lr
        kept.append(w.render_ms[-1])
    for main_schedule in ("cosine, warm restarts", "one-cycle", "triangular2"):
        w.controls["main"].value = main_schedule
        new.append(w.render_ms[-1])
    print(f"a new setting (trains): median {np.median(new):.0f} ms, max {np.max(new):.0f} ms over {len(new)}")
    print(f"a kept setting (redraw only): median {np.median(kept):.1f} ms, max {np.max(kept):.1f} ms over {len(kept)}")


if __name__ == "__main__":
    main()
