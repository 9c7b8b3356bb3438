"""Timing of the learning-rate-free explorer (chapter 14): a new setting (trains one run) and a kept one.

    python bench/bench_lr_free_widget.py
"""

import time

import numpy as np

from lrcourse.widgets.lr_free import METHODS, lr_free_explorer


def main():
    start = time.perf_counter()
    w = lr_free_explorer()
    print(f"build (first run, Prodigy, 200 steps of the digits MLP): {1e3 * (time.perf_counter() - start):.0f} ms")
    new, kept = [], []
    for method in METHODS:
        w.controls["method"].value = method
        new.append(w.render_ms[-1])
    for method in METHODS:
        w.controls["method"].value = method
        kept.append(w.render_ms[-1])
    w.controls["method"].value = "Prodigy"
    for d0 in (1e-8, 1e-4, 1e-2):
        w.controls["d0"].value = d0
        new.append(w.render_ms[-1])
    print(f"a new setting (trains): median {np.median(new):.0f} ms, max {np.max(new):.0f} ms over {len(new)}")
    print(f"a kept setting (redraw only): median {np.median(kept):.1f} ms, max {np.max(kept):.1f} ms over {len(kept)}")


if __name__ == "__main__":
    main()
