"""Widgets of chapters 00-02: the first step, the 1-D lr explorer, the 2-D contour explorer."""

import ipywidgets as widgets
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from lrcourse import functions, optim
from lrcourse.runs import describe, regime_1d, run
from lrcourse.widgets.core import Explorer, loss_axis, loss_limits, show_gaps

__all__ = ["first_step", "lr_explorer_1d", "contour_explorer", "OPTIMIZERS"]

# Optimizers the 2-D explorer offers, by name: each builds an lrcourse.optim object from an lr.
# Later chapters pass their own (momentum, Adam ...) through the ``optimizers`` argument.
OPTIMIZERS = {
    "gradient descent": lambda lr: optim.SGD(lr=lr),
}


def first_step(L=1.0, x0=2.0):
    """Notebook 00: one gradient step on f(x) = L/2 x^2, with an lr slider.

    Shows the point, the slope there, and where x - lr f'(x) lands; the status
    line says whether the loss went down.
    """
    f = functions.Quadratic((L,))
    controls = {"lr": widgets.FloatSlider(value=0.5 / L, min=0.0, max=2.5 / L, step=0.05 / L,
                                          description="lr", continuous_update=True,
                                          readout_format=".2f")}
    fig = Figure(figsize=(6, 3.2))
    ax = fig.add_subplot()
    xs = np.linspace(-2.6 * abs(x0), 2.6 * abs(x0), 300)
    top = float(f(xs[-1:][None])[0])
    ax.plot(xs, f(xs[None]), color="0.4", label="f(x) = L/2 x^2")
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(-0.05 * top, 1.02 * top)
    ax.plot([x0], [f(np.array([x0]))], "o", color="C0", label="x (start)")
    (landing,) = ax.plot([], [], "o", color="C3", label="x - lr f'(x)")
    (arrow,) = ax.plot([], [], "--", color="C3")
    ax.legend(loc="upper center", fontsize=8)
    ax.set_title(" ", fontsize=10, y=1.0)  # a fixed place: no search for tick labels above
    fig.tight_layout()

    def draw(w, lr):
        g = f.grad(np.array([x0]))[0]
        x1 = x0 - lr * g
        f0, f1 = float(f(np.array([x0]))), float(f(np.array([x1])))
        landing.set_data([x1], [f1])
        arrow.set_data([x0, x1], [f0, f1])
        verdict = "the loss went down" if f1 < f0 else ("no change" if f1 == f0 else "the loss went UP")
        ax.set_title(f"lr = {lr:.2f}: x moves from {x0:.2f} to {x1:.2f}; {verdict}", fontsize=10)
        return f"f(x) went from {f0:.3f} to {f1:.3f}: {verdict}."

    return Explorer(controls, fig, draw, dynamic=[landing, arrow, ax.title])


def lr_explorer_1d(surface=None, x0=None, lr=None, steps=30):
    """Notebook 01: GD on a 1-D function; the lr slider shows iterates, loss curve and regime.

    ``surface`` is a 1-D surface (default: f(x) = L/2 x^2 with L = 10, whose
    regime is named from lr L); a ``TwoBasin`` shows which basin the lr picks.
    """
    f = surface if surface is not None else functions.Quadratic((10.0,), start=(1.0,))
    if f.dim != 1:
        raise ValueError(f"lr_explorer_1d needs a 1-D surface, got {f.name} in {f.dim}-D")
    x0 = float(f.start[0] if x0 is None else x0)
    is_quadratic = isinstance(f, functions.Quadratic)
    scale = f.L if is_quadratic else float(np.max(getattr(f, "curvatures", [1.0])))
    lr_max = 2.5 / scale if is_quadratic else 2.0
    controls = {
        "lr": widgets.FloatSlider(value=lr if lr is not None else 0.5 / scale, min=0.0, max=lr_max,
                                  step=lr_max / 250, description="lr", readout_format=".4f",
                                  continuous_update=True, layout=widgets.Layout(width="420px")),
        "steps": widgets.IntSlider(value=steps, min=1, max=200, description="steps"),
    }
    fig = Figure(figsize=(10, 3.6))
    ax_f, ax_loss = fig.subplots(1, 2)
    low, high = f.bounds[0]
    grid = np.linspace(low, high, 400)
    values = f(grid[None])
    ax_f.plot(grid, values, color="0.4")
    ax_f.set_xlim(low, high)
    pad = 0.08 * (values.max() - values.min())
    ax_f.set_ylim(values.min() - pad, values.max() + pad)
    ax_f.set_xlabel("x")
    ax_f.set_ylabel("f(x)")
    (path,) = ax_f.plot([], [], "o-", color="C0", markersize=4, linewidth=0.8, alpha=0.8)
    (last,) = ax_f.plot([], [], "o", color="C3", markersize=7)
    loss_line = loss_axis(ax_loss)
    gap0 = float(f(np.array([x0]))) - f.min_value
    for ax in (ax_f, ax_loss):
        ax.set_title(" ", fontsize=10, y=1.0)  # a fixed place: no search for tick labels above
    fig.tight_layout()

    def draw(w, lr, steps):
        w.background_key = steps
        loss_limits(ax_loss, steps, gap0)
        result = run(f, [x0], optim.SGD(lr=lr), steps)
        xs = result.xs[:, 0]
        path.set_data(xs, f(xs[None]))
        last.set_data(xs[-1:], f(xs[-1:][None]))
        show_gaps(loss_line, result)
        outcome = describe(result)
        if is_quadratic:
            headline = f"lr L = {lr * f.L:.2f}: {regime_1d(f.L, lr)}"
            detail = f"|1 - lr L| = {abs(1 - lr * f.L):.2f} per step; {outcome}"
        else:
            headline = outcome
            detail = f"lr = {lr:.4f} against 2/f'' = {2 / scale:.4f} in the sharp basin"
        if result.diverged:
            headline = f"{headline}: diverged at step {result.diverged_at}"
            detail = f"{detail}; the next point is off the plot"
        ax_f.set_title(headline, fontsize=10)
        ax_loss.set_title("loss gap, log scale" + (" (run stopped: diverged)" if result.diverged else ""),
                          fontsize=10)
        return f"{headline}. {detail}."

    return Explorer(controls, fig, draw, dynamic=[path, last, loss_line, ax_f.title, ax_loss.title],
                    layout_rows=[[controls["lr"], controls["steps"]]])


# sensible defaults per 2-D surface: lr, steps
_DEFAULTS = {"quadratic": (0.15, 60), "Rosenbrock": (1.5e-3, 400), "Beale": (0.01, 300),
             "saddle": (0.1, 100), "Himmelblau": (0.01, 100)}


def contour_explorer(surfaces=None, optimizers=None, surface="quadratic"):
    """Notebook 02: a 2-D contour explorer.

    Controls: surface, optimizer, start point (x0, y0), lr (log slider) and
    number of steps. Shows the path on the contour plot and the loss gap on a
    log axis; the title names what happened.
    """
    surfaces = dict(functions.SURFACES if surfaces is None else surfaces)
    optimizers = dict(OPTIMIZERS if optimizers is None else optimizers)
    built = {name: make() for name, make in surfaces.items()}
    f = built[surface]
    lr0, steps0 = _DEFAULTS.get(surface, (0.01, 100))
    controls = {
        "surface": widgets.Dropdown(options=list(built), value=surface, description="surface"),
        "optimizer": widgets.Dropdown(options=list(optimizers), description="optimizer"),
        "x0": widgets.FloatSlider(value=f.start[0], min=f.bounds[0][0], max=f.bounds[0][1], step=0.05,
                                  description="start x"),
        "y0": widgets.FloatSlider(value=f.start[1], min=f.bounds[1][0], max=f.bounds[1][1], step=0.05,
                                  description="start y"),
        "lr": widgets.FloatLogSlider(value=lr0, base=10, min=-5, max=1, step=0.05, description="lr",
                                     readout_format=".2e"),
        "steps": widgets.IntSlider(value=steps0, min=1, max=2000, description="steps"),
    }
    fig = Figure(figsize=(10, 4.2))
    ax_c, ax_loss = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
    (path,) = ax_c.plot([], [], ".-", color="C3", markersize=3, linewidth=1, zorder=3)
    (start,) = ax_c.plot([], [], "o", color="C3", markersize=7, zorder=4)
    ax_c.set_xlabel("x")
    ax_c.set_ylabel("y")
    loss_line = loss_axis(ax_loss)
    for ax in (ax_c, ax_loss):
        ax.set_title(" ", fontsize=10, y=1.0)  # a fixed place: no search for tick labels above
    fig.tight_layout()
    drawn = {"surface": None}
    layers = {}  # surface -> (its contour artists, the largest loss gap in its box); made on first use

    def show_surface(name):
        for other, (artists, _top) in layers.items():
            for artist in artists:
                artist.set_visible(other == name)
        if name not in layers:
            g = built[name]
            (xl, xh), (yl, yh) = g.bounds
            X, Y = np.meshgrid(np.linspace(xl, xh, 120), np.linspace(yl, yh, 120))
            Z = g(np.stack([X, Y])) - g.min_value
            if Z.max() / max(np.percentile(Z, 5), 1e-12) > 100:  # spans decades: log-spaced levels
                levels = np.geomspace(max(np.percentile(Z, 1), 1e-6), Z.max(), 18)
                contour = ax_c.contourf(X, Y, Z, levels=levels, cmap="Blues_r", alpha=0.85, zorder=1,
                                        norm=LogNorm(vmin=levels[0], vmax=levels[-1]), extend="both")
            else:
                contour = ax_c.contourf(X, Y, Z, levels=18, cmap="Blues_r", alpha=0.85, zorder=1)
            (stars,) = ax_c.plot(g.minima[:, 0], g.minima[:, 1], "*", color="gold", markersize=13,
                                 markeredgecolor="k", zorder=4)
            layers[name] = ([contour, stars], float(Z.max()))
        (xl, xh), (yl, yh) = built[name].bounds
        ax_c.set_xlim(xl, xh)
        ax_c.set_ylim(yl, yh)
        drawn["surface"] = name

    def on_surface(name):  # a new surface starts from its own start point, lr and number of steps
        g = built[name]
        lr, steps = _DEFAULTS.get(name, (0.01, 100))
        for key, (low, high), value in (("x0", g.bounds[0], g.start[0]), ("y0", g.bounds[1], g.start[1])):
            slider = controls[key]
            slider.min, slider.max = min(low, slider.min), max(high, slider.max)
            slider.value = value
            slider.min, slider.max = low, high
        controls["lr"].value, controls["steps"].value = lr, steps

    def draw(w, surface, optimizer, x0, y0, lr, steps):
        if drawn["surface"] != surface:
            show_surface(surface)
        g = built[surface]
        w.background_key = (surface, steps)
        loss_limits(ax_loss, steps, layers[surface][1])  # room for a run from anywhere in the box
        result = run(g, [x0, y0], optimizers[optimizer](lr), steps)
        path.set_data(result.xs[:, 0], result.xs[:, 1])
        start.set_data([x0], [y0])
        show_gaps(loss_line, result)
        outcome = describe(result)
        ax_c.set_title(f"{g.name}, {optimizer}, lr = {lr:.2g}", fontsize=10)
        ax_loss.set_title(f"final loss gap {result.gaps[-1]:.3g}" +
                          (f": diverged at step {result.diverged_at}" if result.diverged else ""), fontsize=10)
        return f"{optimizer} on {g.name} with lr = {lr:.3g}: {outcome}."

    explorer = Explorer(controls, fig, draw, dynamic=[path, start, loss_line, ax_c.title, ax_loss.title],
                        layout_rows=[[controls["surface"], controls["optimizer"]],
                                     [controls["x0"], controls["y0"]], [controls["lr"], controls["steps"]]],
                        reactions={"surface": on_surface})
    return explorer


