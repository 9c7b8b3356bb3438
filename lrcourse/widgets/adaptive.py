"""Widgets of chapters 06-09: per-coordinate learning rates, live."""

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from lrcourse import functions, optim
from lrcourse.runs import describe, run
from lrcourse.widgets.core import Explorer, loss_axis, loss_limits, positive, show_gaps

__all__ = ["adagrad_explorer"]


def adagrad_explorer(kappa=100.0, steps=200):
    """Notebook 06: AdaGrad on a 2-D quadratic; each coordinate's accumulator and effective lr, live.

    Sliders for the lr, eps, the initial accumulator and the rotation of the quadratic's axes. Left:
    the path, with gradient descent at its best fixed lr for comparison. Middle: each coordinate's
    effective lr, lr / (sqrt(s) + eps), over the steps. Right: the loss of both.
    """
    controls = {
        "lr": widgets.FloatLogSlider(value=0.3, base=10, min=-3, max=1, step=0.05, description="lr",
                                     readout_format=".3f"),
        "eps": widgets.FloatLogSlider(value=1e-10, base=10, min=-10, max=0, step=0.5, description="eps",
                                      readout_format=".0e"),
        "s0": widgets.FloatLogSlider(value=1e-8, base=10, min=-8, max=2, step=0.25,
                                     description="initial s", readout_format=".0e"),
        "angle": widgets.IntSlider(value=0, min=0, max=90, step=5, description="rotation (deg)"),
    }
    fig = Figure(figsize=(12, 4))
    ax_c, ax_lr, ax_loss = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1.1, 1.1]})
    x0 = np.array([1.0, 0.5])
    lim = 1.5
    (path,) = ax_c.plot([], [], ".-", color="C3", ms=3, lw=1, zorder=3, label="AdaGrad")
    (gd_path,) = ax_c.plot([], [], ".-", color="0.45", ms=2, lw=0.7, zorder=2, label="GD, best fixed lr")
    ax_c.plot(*x0, "o", color="k", zorder=4)
    ax_c.plot(0, 0, "*", color="gold", ms=13, mec="k", zorder=4)
    ax_c.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="x1", ylabel="x2")
    ax_c.set_aspect("equal")
    ax_c.legend(loc="lower right", fontsize=7)
    colours = ("C0", "C1")
    eff_lines = [ax_lr.plot([], [], color=c, label=f"coordinate {i + 1}")[0] for i, c in enumerate(colours)]
    (gd_lr,) = ax_lr.plot([], [], color="0.45", ls="--", lw=1, label="GD's fixed lr")
    ax_lr.set(yscale="log", xlabel="step t", ylabel="effective lr  lr / (sqrt(s) + eps)", xlim=(0, steps),
              ylim=(1e-4, 1e3))
    ax_lr.grid(True, alpha=0.3)
    ax_lr.legend(loc="upper right", fontsize=7)
    loss_line = loss_axis(ax_loss)
    loss_line.set_label("AdaGrad")
    (gd_loss,) = ax_loss.plot([], [], color="0.45", lw=1, label="GD, best fixed lr")
    loss_limits(ax_loss, steps, 0.5 * float(x0 @ x0))   # the largest start gap of any rotation (L = 1)
    ax_loss.legend(loc="upper right", fontsize=7)
    for ax in (ax_c, ax_lr, ax_loss):
        ax.set_title(" ", fontsize=9, y=1.0)  # a fixed place: no search for tick labels above
    fig.tight_layout()
    X, Y = np.meshgrid(np.linspace(-lim, lim, 150), np.linspace(-lim, lim, 150))
    gd_runs = {}  # rotation -> GD at its best fixed lr, which the other sliders do not change

    def draw(w, lr, eps, s0, angle):
        f = functions.Quadratic((1.0 / kappa, 1.0), angle=np.radians(angle))
        if w.middle_key != angle:  # the contours depend on the rotation only: the middle layer
            for contours in w.middle:
                contours.remove()
            w.middle = [ax_c.contour(X, Y, f(np.stack([X, Y])), levels=np.geomspace(1e-4, 2, 12),
                                     cmap="Blues_r", linewidths=0.8, zorder=1)]
            w.middle_key = angle
        result = run(f, x0, optim.Adagrad(lr=lr, eps=eps, initial_accumulator_value=s0), steps, keep_state=True)
        if angle not in gd_runs:
            gd_runs[angle] = run(f, x0, optim.SGD(lr=f.lr_best), steps)
        gd = gd_runs[angle]
        path.set_data(result.xs[:, 0], result.xs[:, 1])
        gd_path.set_data(gd.xs[:, 0], gd.xs[:, 1])
        effective = lr / (np.sqrt(result.states["s"]) + eps)   # after each step: the lr of the next, per coordinate
        t = np.arange(1, len(effective) + 1)
        for i, line in enumerate(eff_lines):
            line.set_data(t, positive(effective[:, i]) if len(effective) else [])
        gd_lr.set_data([0, steps], [f.lr_best, f.lr_best])
        show_gaps(loss_line, result)
        show_gaps(gd_loss, gd)
        outcome = describe(result)
        ax_c.set_title(f"kappa = {kappa:g}, axes rotated {angle} deg", fontsize=9)
        if len(effective) and np.all(np.isfinite(effective[-1])):
            ratio = effective[-1, 1] / effective[-1, 0]
            lr_text = (f"effective lrs now {effective[-1, 0]:.3g} and {effective[-1, 1]:.3g} (ratio {ratio:.3g}; "
                       f"the curvatures along the axes: {f.A[0, 0]:.3g} and {f.A[1, 1]:.3g})")
        else:
            lr_text = "no effective lr to show"
        ax_lr.set_title(lr_text.split(" (")[0], fontsize=9)
        ax_loss.set_title(f"AdaGrad: final loss gap {result.gaps[-1]:.2g}" +
                          (f", diverged at step {result.diverged_at}" if result.diverged else "") +
                          f"; GD: {gd.gaps[-1]:.2g}", fontsize=9)
        return f"AdaGrad with lr = {lr:.3g}, eps = {eps:.0e}, initial s = {s0:.0e}: {outcome}. {lr_text}."

    return Explorer(controls, fig, draw, dynamic=[path, gd_path, *eff_lines, gd_lr, loss_line, gd_loss,
                                                  ax_c.title, ax_lr.title, ax_loss.title],
                    layout_rows=[[controls["lr"], controls["eps"]], [controls["s0"], controls["angle"]]])
