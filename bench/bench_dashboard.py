"""Benchmark: the training dashboard of chapter 12 (``lrcourse.widgets.dashboard.training_dashboard``).

Driven from Python as the tests drive it, it reports:

- building it (no training: the empty picture) and redrawing after a control changes (no training either), for an
  empty picture and for an unstable run (whose loss axis has grown);
- per network: one epoch of training, with and without the picture redrawn after it (the dashboard redraws at most
  every 0.2 s while it trains, and after the last epoch), and the time from pressing *train* to the first epoch's
  curves;
- the stop button: from the click to the background thread's end, in ms and in epochs (the run ends after the epoch
  in progress).

Timings depend on the machine and its load; they are reported, not asserted.

    python bench/bench_dashboard.py            # about 30 s
    python bench/bench_dashboard.py --quick    # a few repeats: checks that it runs
"""

import argparse
import statistics
import threading
import time


def median_ms(values):
    return f"{1e3 * statistics.median(values):8.1f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few repeats only")
    args = parser.parse_args(argv)
    repeats = 2 if args.quick else 5

    import torch

    from lrcourse.widgets.dashboard import MODELS, training_dashboard

    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread; repeats: {repeats}\n")

    builds = []
    for _ in range(repeats):
        start = time.perf_counter()
        dash = training_dashboard(epochs=5)
        builds.append(time.perf_counter() - start)
    redraws = []
    for value in [1e-2, 3e-3, 1e-3] * repeats:
        dash.controls["lr"].value = value
        redraws.append(dash.render_ms[-1] / 1e3)
    print("| what | median ms |")
    print("|---|---|")
    print(f"| build (empty picture) | {median_ms(builds)} |")
    print(f"| redraw after a control changes | {median_ms(redraws)} |")
    dash.controls["model"].value, dash.controls["optimizer"].value = "wine: MLP 13-16-3", "Adamax"
    dash.controls["lr"].value = 10.0
    dash.run()                                        # unstable: losses in the hundreds, the axis grows by decades
    unstable = []
    for value in [9.0, 10.0] * repeats:
        dash.controls["lr"].value = value
        unstable.append(dash.render_ms[-1] / 1e3)
    print(f"| redraw of an unstable run (larger loss axis, marks) | {median_ms(unstable)} |\n")

    print("| network | batch | epoch, no redraw (ms) | epoch + redraw (ms) | train pressed -> first epoch done (ms) |")
    print("|---|---|---|---|---|")
    for model in MODELS:
        dash = training_dashboard(model=model, epochs=3 if args.quick else 6)
        dash.run()                                    # warm up: data loaded, first allocations
        epoch_times, marks = [], []
        dash.on_epoch.append(lambda h: marks.append(time.perf_counter()))
        dash.REDRAW_EVERY_S = float("inf")            # time the training alone (the last epoch still redraws)
        start = time.perf_counter()
        dash.run()
        epoch_times = [b - a for a, b in zip([start] + marks[:-1], marks)]
        marks.clear()
        dash.REDRAW_EVERY_S = 0.0                     # a redraw after every epoch
        redraw_start = time.perf_counter()
        dash.run()
        with_redraw = [b - a for a, b in zip([redraw_start] + marks[:-1], marks)]
        firsts = []
        for _ in range(repeats):
            first = threading.Event()
            dash.on_epoch[:] = [lambda h: first.set()]
            start = time.perf_counter()
            dash.train_button.click()
            first.wait(60)
            firsts.append(time.perf_counter() - start)
            dash.stop_button.click()
            dash.wait(60)
        print(f"| {model} | {dash.controls['batch_size'].value} | {median_ms(epoch_times[1:] or epoch_times)} | "
              f"{median_ms(with_redraw[1:] or with_redraw)} | {median_ms(firsts)} |")

    print("\n| stop: click -> thread ended | median ms | epochs run after the click |")
    print("|---|---|---|")
    for model in ("digits: MLP 64-32-10", "digits: CNN"):
        dash = training_dashboard(model=model, epochs=100)
        latencies, extra = [], []
        for _ in range(repeats):
            second = threading.Event()
            dash.on_epoch[:] = [lambda h: h.done >= 2 and second.set()]
            dash.train_button.click()
            second.wait(60)
            done_at_click = dash.history.done
            start = time.perf_counter()
            dash.stop_button.click()
            dash.wait(60)
            latencies.append(time.perf_counter() - start)
            extra.append(dash.history.done - done_at_click)
        print(f"| {model} | {median_ms(latencies)} | {statistics.median(extra):g} |")


if __name__ == "__main__":
    main()
