"""Benchmark: how fast every explorer of the course redraws.

Each explorer is built as its notebook builds it and then driven from Python
as the README shows (``w.controls["lr"].value = ...``), control by control, the
way a learner moves it: arrow-key steps of a slider, a menu choice, a button.
Every redraw's time is what ``Explorer.render_ms`` records: from the new value
to the finished PNG in the kernel. Reported per explorer and control: the
number of redraws, the median and the 90th percentile in ms. The target is a
median under 100 ms on a 2-core machine.

With ``--browser`` (and Debian's chromium and the playwright package present)
it also opens every explorer in JupyterLab in a real browser, presses the
right-arrow key on its lr slider, and times each press until the picture in
the page has changed: the whole loop a learner feels, kernel round trip
included.

    python bench/bench_widgets.py              # every explorer, in the kernel (about 30 s)
    python bench/bench_widgets.py --browser    # and the slider-to-picture latency in chromium (+ about 40 s)
    python bench/bench_widgets.py --quick      # a few redraws each: checks that it runs
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _explorers():
    """(name, how a notebook builds it, [(control, values to step through)]) for every explorer."""
    from lrcourse import functions, optim
    from lrcourse import widgets as W

    diabetes = functions.LeastSquares.diabetes(drop=("s1",))
    momentum_menu = {**W.OPTIMIZERS, "momentum 0.9": lambda lr: optim.SGD(lr=lr, momentum=0.9)}
    lr_steps = lambda start, factor, n: [start * factor ** i for i in range(1, n + 1)]  # noqa: E731
    return [
        ("00 first_step", "W.first_step()", lambda: W.first_step(),
         [("lr", [0.5 + 0.05 * i for i in range(1, 21)])]),
        ("01 lr_explorer_1d", "W.lr_explorer_1d()", lambda: W.lr_explorer_1d(),
         [("lr", [0.05 + 0.001 * i for i in range(1, 21)]), ("steps", [31, 32, 33, 34, 35])]),
        ("01 lr_explorer_1d (two basins)", "W.lr_explorer_1d(functions.TwoBasin(), steps=60)",
         lambda: W.lr_explorer_1d(functions.TwoBasin(), steps=60), [("lr", [0.05 + 0.008 * i for i in range(1, 21)])]),
        ("02 contour_explorer", "W.contour_explorer()", lambda: W.contour_explorer(),
         [("lr", lr_steps(0.15, 10 ** 0.05, 20)), ("x0", [-1.45 + 0.05 * i for i in range(5)]),
          ("surface", ["Rosenbrock", "Beale", "saddle", "quadratic"])]),
        ("04 contour_explorer (momentum)", "W.contour_explorer(optimizers=..., surface='Rosenbrock')",
         lambda: W.contour_explorer(optimizers=momentum_menu, surface="Rosenbrock"),
         [("lr", lr_steps(1.5e-3, 10 ** 0.05, 20)), ("optimizer", ["momentum 0.9", "gradient descent"] * 2)]),
        ("03 sgd_explorer", "W.sgd_explorer(problem)", lambda: W.sgd_explorer(diabetes),
         [("lr", lr_steps(0.05, 10 ** 0.05, 20)), ("batch_size", [8, 16, 32, 64, 128, 256, 2, 1])]),
        ("04 momentum_explorer", "W.momentum_explorer()", lambda: W.momentum_explorer(),
         [("lr", lr_steps(0.03, 10 ** 0.02, 20)), ("beta", [0.71 + 0.01 * i for i in range(10)]),
          ("kappa", [10 ** (2 + 0.05 * i) for i in range(1, 6)])]),
        ("06 adagrad_explorer", "W.adagrad_explorer()", lambda: W.adagrad_explorer(),
         [("lr", lr_steps(0.3, 10 ** 0.05, 20)), ("eps", [10 ** (-10 + 0.5 * i) for i in range(1, 6)]),
          ("s0", [10 ** (-8 + 0.25 * i) for i in range(1, 6)]), ("angle", [5, 10, 15, 20, 25])]),
        ("07 rmsprop_explorer", "W.rmsprop_explorer()", lambda: W.rmsprop_explorer(),
         [("lr", lr_steps(0.03, 10 ** 0.05, 20)), ("alpha", [0.9, 0.95, 0.995, 0.999]),
          ("centered", [True, False]), ("ada_lr", lr_steps(1.0, 10 ** 0.05, 5)),
          ("problem", ["quadratic, kappa 100", "moving minimum"])]),
        ("08 adadelta_explorer", "W.adadelta_explorer()", lambda: W.adadelta_explorer(),
         [("eps", [10 ** (-6 + 0.5 * i) for i in range(1, 11)]), ("scale", [10 ** (0.5 * i) for i in range(1, 5)]),
          ("rho", [0.95, 0.99, 0.8]), ("lr", [1.2, 1.5, 2.0])]),
        ("09 race_explorer", "W.race_explorer()", lambda: W.race_explorer(),
         [("mode", ["one for all"]), ("shared", lr_steps(1e-2, 10 ** 0.1, 20)), ("mode", ["each its own"]),
          ("lr Adam", lr_steps(0.1, 10 ** 0.1, 10)), ("on Nesterov", [True, False, True, False]),
          ("surface", ["Beale", "saddle", "quadratic, kappa 100", "Styblinski-Tang"]),
          ("mode", ["each tuned"]), ("steps", [600, 700, 800])]),
        ("05 schedule_explorer", "W.schedule_explorer(problem)", lambda: W.schedule_explorer(diabetes),
         [("lr", lr_steps(0.1, 10 ** -0.05, 20)), ("final", [10 ** (-2 + 0.1 * i) for i in range(1, 6)]),
          ("chosen", [("constant", "cosine"), ("constant", "cosine", "exponential"),
                      ("constant", "step (3 drops)", "cosine", "linear")])]),
        ("11 range_test_explorer", "W.range_test_explorer()", lambda: W.range_test_explorer(),
         [("smooth_f", [0.01 * i for i in range(6, 26)]), ("diverge_th", [10 ** (0.5 + 0.05 * i) for i in range(1, 11)]),
          ("skip_start", [11, 12, 13, 14, 15]), ("rule", ["minimum", "steep", "valley", "slide", "steepest"]),
          ("optimizer", ["Adam"]), ("problem", ["wine"])]),
    ]


def kernel_benchmark(quick=False):
    """Every explorer, every control: (name, control, redraws, median ms, p90 ms); plus build times."""
    rows, builds = [], []
    for name, _code, build, moves in _explorers():
        start = time.perf_counter()
        w = build()
        builds.append((name, 1e3 * (time.perf_counter() - start)))
        for control, values in moves:
            values = values[:3] if quick else values
            before = len(w.render_ms)
            for value in values:
                w.controls[control].value = value
            if "Could not draw" in w.status.value:
                raise RuntimeError(f"{name}: {w.status.value}")
            times = w.render_ms[before:]
            rows.append((name, control, len(times), statistics.median(times), float(np.percentile(times, 90))))
    return rows, builds


def browser_benchmark(presses=10):
    """Open every explorer in JupyterLab in chromium; time arrow-key presses on its lr slider to a new picture."""
    sys.path.insert(0, str(ROOT / "tests"))
    import nbformat
    from lab import available, chromium, find_explorer, jupyter_lab, picture_changes_after, run_all

    if available() is not None:
        return None, f"skipped: the browser benchmark {available()}"
    # (explorer, text that finds it on the page, the slider to press): one cell per explorer
    cells = [("W.first_step()", "f(x) went from", "lr"), ("W.lr_explorer_1d()", "lr L =", "lr"),
             ("W.contour_explorer()", "gradient descent on", "lr"), ("W.sgd_explorer(problem)", "noise floor", "lr"),
             ("W.momentum_explorer()", "kappa =", "lr"), ("W.schedule_explorer(problem)", "final excess loss", "start lr"),
             ("W.adagrad_explorer()", "AdaGrad with lr", "lr"), ("W.rmsprop_explorer()", "RMSprop with lr", "lr"),
             ("W.adadelta_explorer()", "Adadelta with lr", "eps"),
             ("W.race_explorer(mode='one for all')", "one for all", "one lr")]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from lrcourse import functions\nfrom lrcourse import widgets as W\n"
        "problem = functions.LeastSquares.diabetes(drop=('s1',))")] +
        [nbformat.v4.new_code_cell(code) for code, _, _ in cells])
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        nbformat.write(nb, root / "bench.ipynb")
        with jupyter_lab(root) as (url, token), chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/lab/tree/bench.ipynb?token={token}")
            run_all(page)
            for code, text, label in cells:
                explorer, _status, picture = find_explorer(page, text)
                explorer.scroll_into_view_if_needed()
                page.wait_for_function("el => el.src && el.src.length > 0", arg=picture.element_handle(),
                                       timeout=30_000)
                slider = explorer.locator(".widget-slider").filter(
                    has=page.locator(".widget-label", has_text=label)).first
                handle = slider.locator(".noUi-handle").first
                handle.focus()
                times = [picture_changes_after(page, picture, lambda: handle.press("ArrowRight"))
                         for _ in range(presses)]
                rows.append((code, label, len(times), statistics.median(times), float(np.percentile(times, 90))))
    return rows, None


def table(rows, what):
    lines = [f"| {what} | control | redraws | median ms | p90 ms |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {control} | {n} | {median:.0f} | {p90:.0f} |" for name, control, n, median, p90 in rows]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="three redraws per control: checks that it runs")
    parser.add_argument("--browser", action="store_true", help="also time slider-to-picture in a real browser")
    args = parser.parse_args(argv)
    import lrcourse

    print(f"lrcourse {lrcourse.__version__} from {Path(lrcourse.__file__).parent}")
    rows, builds = kernel_benchmark(quick=args.quick)
    print("\nRedraw in the kernel (value change to finished picture):\n")
    print(table(rows, "explorer"))
    overall = {}
    for name, _control, _n, median, _p90 in rows:
        overall.setdefault(name, []).append(median)
    print("\nBuild (first picture included): " + ", ".join(f"{name} {ms:.0f} ms" for name, ms in builds))
    slowest = max(rows, key=lambda row: row[3])
    verdict = "under" if slowest[3] < 100 else "OVER"
    print(f"\nslowest median: {slowest[0]} ({slowest[1]}) {slowest[3]:.0f} ms: {verdict} the 100 ms target")
    if args.browser:
        browser_rows, skipped = browser_benchmark(presses=3 if args.quick else 10)
        if skipped:
            print(f"\nbrowser: {skipped}")
        else:
            print("\nSlider to picture in JupyterLab + chromium (arrow key to new picture in the page):\n")
            print(table(browser_rows, "explorer"))


if __name__ == "__main__":
    main()
