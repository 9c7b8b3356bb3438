"""Timing of chapter 13's claims explorer: a rerun of each claim's experiment at its default settings and at the
largest (10 seeds, 500 steps, five optimizers).

    python bench/bench_claims_widget.py
"""

import time

import numpy as np

from lrcourse.widgets.claims import CLAIM_PROBLEMS, CLAIMS, claims_explorer


def main():
    start = time.perf_counter()
    w = claims_explorer()
    print(f"build (claim 2, rotated quadratic, 3 optimizers, 5 seeds, 100 steps): {1e3 * (time.perf_counter() - start):.0f} ms")
    print("| claim | problem | default settings ms | 5 optimizers, 10 seeds, 500 steps ms |")
    for claim in CLAIMS:
        for problem in CLAIM_PROBLEMS[claim]:
            w.controls["claim"].value = claim          # its reaction offers the claim's problems
            with w.hold():
                w.controls["problem"].value = problem
                w.controls["optimizers"].value = ("SGD", "momentum", "Adam")
                w.controls["seeds"].value, w.controls["steps"].value = 5, 100
            small = w.render_ms[-1]
            with w.hold():
                w.controls["optimizers"].value = ("SGD", "momentum", "AdaGrad", "RMSprop", "Adam")
                w.controls["seeds"].value, w.controls["steps"].value = 10, 500
            print(f"| {claim} | {problem} | {small:.0f} | {w.render_ms[-1]:.0f} |")
    print(f"slowest rerun: {np.max(w.render_ms):.0f} ms over {len(w.render_ms)} reruns")


if __name__ == "__main__":
    main()
