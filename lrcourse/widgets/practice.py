"""Chapters 10-12: the explorers of practice (the range test first)."""

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from lrcourse.widgets.core import Explorer

__all__ = ["range_test_explorer", "RANGE_TEST_PROBLEMS"]

RANGE_TEST_PROBLEMS = {"digits": 64, "cancer": 32, "wine": 16}   # problem of lrcourse.nets: its batch size


def _range_test(problem, optimizer, seed, num_iter=100, start_lr=1e-6, end_lr=10.0):
    """One range test run to the end (only a non-finite loss stops it): the explorer re-smooths it."""
    import torch

    from lrcourse import nets
    from lrcourse.range_test import range_test

    data = nets.load(problem)
    net = nets.model(data, seed)
    opt = (torch.optim.SGD(net.parameters(), lr=start_lr, momentum=0.9) if optimizer == "SGD, momentum 0.9"
           else torch.optim.Adam(net.parameters(), lr=start_lr))
    batches = [(data.X[i], data.y[i]) for i in nets.batches(data, RANGE_TEST_PROBLEMS[problem], num_iter, seed)]
    return range_test(net, opt, torch.nn.functional.cross_entropy, batches, end_lr=end_lr, num_iter=num_iter,
                      diverge_th=float("inf"))


def range_test_explorer(problem="digits", optimizer="SGD, momentum 0.9", seed=0):
    """Notebook 11: the range test's curve, and how smoothing, stopping, skipping and the rule move its lr.

    The test runs once per problem, optimizer and seed (100 iterations, lr from 1e-6 to 10, kept); every
    other control only re-reads it: ``smooth_f`` (the moving average's weight of the newest loss),
    ``diverge_th`` (stop when the smoothed loss passes this multiple of its best), ``skip_start`` and
    ``skip_end`` (points left out before a rule reads the curve) and the rule. Grey dots: the loss of each
    batch; blue: the smoothed loss up to where the test stops (light where it is skipped); the dashed
    line: the rule's lr. Too few points for a rule is said, never raised.
    """
    from lrcourse.range_test import RULES

    controls = {
        "problem": widgets.Dropdown(options=list(RANGE_TEST_PROBLEMS), value=problem, description="problem"),
        "optimizer": widgets.Dropdown(options=["SGD, momentum 0.9", "Adam"], value=optimizer,
                                      description="optimizer"),
        "seed": widgets.IntSlider(value=seed, min=0, max=9, description="seed"),
        "smooth_f": widgets.FloatSlider(value=0.05, min=0.0, max=0.5, step=0.01, description="smooth_f"),
        "diverge_th": widgets.FloatLogSlider(value=5.0, base=10, min=0.1, max=2, step=0.05, description="diverge_th",
                                             readout_format=".3g"),
        "skip_start": widgets.IntSlider(value=10, min=0, max=60, description="skip_start"),
        "skip_end": widgets.IntSlider(value=5, min=0, max=30, description="skip_end"),
        "rule": widgets.Dropdown(options=list(RULES), value="steepest", description="rule"),
    }
    tests = {}   # (problem, optimizer, seed) -> the full run

    fig = Figure(figsize=(9, 4))
    ax = fig.subplots()
    (raw_dots,) = ax.plot([], [], ".", color="0.6", ms=3, label="loss of each batch")
    (skipped_line,) = ax.plot([], [], color="C0", alpha=0.3, lw=1.5)
    (smooth_line,) = ax.plot([], [], color="C0", lw=2, label="smoothed loss (read by the rule)")
    suggestion = ax.axvline(1e-3, color="C3", ls="--", lw=1.5, label="the rule's lr")
    (stop_mark,) = ax.plot([], [], "X", color="C3", ms=10, mec="k", label="the test stops")
    ax.set(xscale="log", xlabel="learning rate", ylabel="cross-entropy loss", xlim=(1e-6, 10))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    title = ax.set_title(" ", fontsize=10)
    fig.tight_layout()

    def draw(w, problem, optimizer, seed, smooth_f, diverge_th, skip_start, skip_end, rule):
        key = (problem, optimizer, seed)
        if key not in tests:
            tests[key] = _range_test(problem, optimizer, seed)
        full = tests[key]
        result = full.resmoothed(smooth_f, diverge_th)
        w.background_key = key
        raw = np.asarray(full.raw_losses, dtype=float)
        finite = np.isfinite(raw)
        first = float(raw[0]) if np.isfinite(raw[0]) else 3.0
        raw_dots.set_data(np.asarray(full.lrs)[finite], raw[finite])
        ax.set_ylim(0, 2.5 * first)
        lrs, losses = np.asarray(result.lrs), np.asarray(result.losses)
        skipped_line.set_data(lrs, losses)
        kept_lrs, kept = result.window(skip_start, skip_end)
        smooth_line.set_data(kept_lrs, kept)
        stop_mark.set_data(lrs[-1:], losses[-1:]) if result.diverged else stop_mark.set_data([], [])
        stopped = (f"the test stops at lr {lrs[-1]:.2e} (iteration {len(lrs)}), where the smoothed loss passes "
                   f"{diverge_th:.3g} times its best" if result.diverged else
                   f"the test runs all {len(lrs)} iterations without stopping")
        try:
            lr = result.suggest(rule, skip_start, skip_end)
        except (RuntimeError, ValueError) as error:   # too few points for this rule: said, not raised
            suggestion.set_visible(False)
            title.set_text(f"{rule}: no suggestion")
            return f"{problem}, {optimizer}, seed {seed}: {stopped}. No suggestion: {error}."
        suggestion.set_visible(True)
        suggestion.set_xdata([lr, lr])
        title.set_text(f"{rule}: lr {lr:.2e}")
        return f"{problem}, {optimizer}, seed {seed}: {stopped}. The rule '{rule}' reads lr = {lr:.3g}."

    rows = [[controls["problem"], controls["optimizer"], controls["seed"]],
            [controls["smooth_f"], controls["diverge_th"], controls["rule"]],
            [controls["skip_start"], controls["skip_end"]]]
    return Explorer(controls, fig, draw, dynamic=[raw_dots, skipped_line, smooth_line, suggestion, stop_mark, title],
                    layout_rows=rows)
