"""The optimizer race of chapter 09: several optimizers side by side on one surface."""

from collections import OrderedDict

import ipywidgets as widgets
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from lrcourse import race
from lrcourse.runs import run
from lrcourse.widgets.core import Explorer, loss_limits, positive

__all__ = ["race_explorer", "LR_MODES"]

LR_MODES = ["each tuned", "each its own", "one for all"]
COLOURS = {"SGD": "0.3", "momentum": "C0", "Nesterov": "C9", "AdaGrad": "C2", "RMSprop": "C1", "Adadelta": "C8",
           "Adam": "C3", "AMSGrad": "C6", "AdamW": "C5", "Adamax": "navy", "NAdam": "C4", "RAdam": "teal"}
ON_AT_FIRST = ("SGD", "momentum", "AdaGrad", "RMSprop", "Adam")


def _starts(f):
    """The starts offered for a surface: its usual start, then three drawn at random (the same every time)."""
    points = [np.asarray(f.start, dtype=np.float64), *f.random_starts(3, seed=9)]
    def coordinate(z):   # near the saddle's ridge the offset from y = 0 is the point: keep its digits
        return f"{z:.2f}" if z == 0 or abs(z) >= 0.01 else f"{z:.1e}"

    return {f"({coordinate(x)}, {coordinate(y)})" + (" usual" if i == 0 else ""): (float(x), float(y))
            for i, (x, y) in enumerate(points)}


def race_explorer(surface="Rosenbrock", steps=500, racers=ON_AT_FIRST, mode="each tuned"):
    """Notebook 09: the optimizers of chapters 01-09 raced on one surface.

    Controls: the surface, the start, the number of steps, and how the lrs are set: **each tuned**
    (each racer at the lr of ``lrcourse.race.LR_GRID`` chosen by the rule of ``lrcourse.race.best`` from
    this start on this budget; here a run has finished when it stays below the line to the last step
    shown), **each its own** (a slider per racer) or **one for all** (one shared slider). Each racer is
    run once at every lr of the grid (one vectorized sweep, kept), so moving an lr slider or the steps
    back down draws at once; a new surface, start or a larger number of steps runs the sweeps again. A checkbox per racer puts it in or out. Left: the paths on the contours;
    right: the loss gaps, with the finishing line at ``race.TARGET``. The legend and the status line
    say for each racer when it finished, how far it got, or when it diverged.
    """
    surfaces = {name: make() for name, make in race.SURFACES.items()}
    starts = {name: _starts(f) for name, f in surfaces.items()}
    first = next(iter(starts[surface]))
    lr_slider = dict(base=10, min=-5, max=1, step=0.1, readout_format=".1e", continuous_update=False,
                     layout=widgets.Layout(width="330px"))
    controls = {
        "surface": widgets.Dropdown(options=list(surfaces), value=surface, description="surface"),
        "start": widgets.Dropdown(options=list(starts[surface]), value=first, description="start"),
        "steps": widgets.IntSlider(value=steps, min=100, max=2000, step=100, description="steps",
                                   continuous_update=False),
        "mode": widgets.ToggleButtons(options=LR_MODES, value=mode, description="lrs"),
        "shared": widgets.FloatLogSlider(value=1e-2, description="one lr", **lr_slider),
    }
    for name in race.RACERS:
        controls["on " + name] = widgets.Checkbox(value=name in racers, description=name, indent=False,
                                                  layout=widgets.Layout(width="100px"))
        controls["lr " + name] = widgets.FloatLogSlider(value=1e-2, description="lr", **lr_slider)

    fig = Figure(figsize=(12, 4.6))
    ax_c, ax_loss = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.25]})
    paths = {name: ax_c.plot([], [], ".-", color=COLOURS[name], ms=2, lw=1, zorder=3)[0] for name in race.RACERS}
    losses = {name: ax_loss.plot([], [], color=COLOURS[name], lw=1.2)[0] for name in race.RACERS}
    (start_dot,) = ax_c.plot([], [], "o", color="k", ms=7, zorder=5)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("step t")
    ax_loss.set_ylabel("loss gap f(x_t) - f*")
    ax_loss.grid(True, which="major", alpha=0.3)
    ax_loss.axhline(race.TARGET, color="k", ls=":", lw=0.8)
    for ax in (ax_c, ax_loss):
        ax.set_title(" ", fontsize=9, y=1.0)  # a fixed place: no search for tick labels above
    fig.tight_layout()
    fig.subplots_adjust(right=0.8, wspace=0.3)      # room for the legend beside the loss axes
    legend = {"artist": None}
    layers = {}    # surface -> (contour artists, largest gap in its box)
    grids = OrderedDict()   # (surface, start, racer) -> race.Grid over LR_GRID with points, most recently used last
    others = OrderedDict()  # (surface, start, steps, racer, lr) -> Run, for an lr off the grid

    def show_surface(name):
        for other, (artists, _) in layers.items():
            for artist in artists:
                artist.set_visible(other == name)
        if name not in layers:
            f = surfaces[name]
            (xl, xh), (yl, yh) = f.bounds
            X, Y = np.meshgrid(np.linspace(xl, xh, 120), np.linspace(yl, yh, 120))
            Z = np.maximum(f(np.stack([X, Y])) - f.min_value, 0.0)
            low = max(float(np.percentile(Z, 1)), 1e-6)
            levels = np.geomspace(low, Z.max(), 18)
            contour = ax_c.contourf(X, Y, np.maximum(Z, low), levels=levels, cmap="Blues_r", alpha=0.85, zorder=1,
                                    norm=LogNorm(vmin=levels[0], vmax=levels[-1]), extend="both")
            # the global minimum (the gaps are measured to it) in gold, other minima in white, a saddle point as x
            (stars,) = ax_c.plot(f.minima[:1, 0], f.minima[:1, 1], "*", color="gold", ms=13, mec="k", zorder=4)
            marks = [contour, stars]
            if len(f.minima) > 1 and not np.allclose(f(f.minima[1:].T), f.min_value):
                marks += ax_c.plot(f.minima[1:, 0], f.minima[1:, 1], "*", color="w", ms=10, mec="k", zorder=4)
            elif len(f.minima) > 1:
                marks += ax_c.plot(f.minima[1:, 0], f.minima[1:, 1], "*", color="gold", ms=13, mec="k", zorder=4)
            if hasattr(f, "saddle_point"):
                marks += ax_c.plot(*f.saddle_point, "x", color="k", ms=9, mew=2, zorder=4)
            layers[name] = (marks, float(Z.max()))
        (xl, xh), (yl, yh) = surfaces[name].bounds
        ax_c.set_xlim(xl, xh)
        ax_c.set_ylim(yl, yh)

    def lr_grid(surface, start, steps, name):
        """The racer at every lr of the grid from this start, for at least ``steps`` steps: one sweep,
        kept, so that moving an lr slider, the shared slider or the steps back down draws at once."""
        key = (surface, start, name)
        if key not in grids or grids[key].steps < steps:
            grids[key] = race.grid(surfaces[surface], race.RACERS[name], [start], steps, points=True)
            while len(grids) > 64:
                grids.popitem(last=False)
        grids.move_to_end(key)
        return grids[key]

    def tuned_lr(surface, start, steps, name):
        return race.best(lr_grid(surface, start, steps, name), steps=steps, stay=steps)

    def settle_controls(w, surface, start, steps, mode, on):
        """Make the controls agree with each other, without a redraw: the starts of this surface, which
        sliders can move, and in 'each tuned' mode every racer's slider at its tuned lr. Returns the start."""
        with w.quietly():
            options = list(starts[surface])
            if list(controls["start"].options) != options:
                controls["start"].options = options
            if start not in options:
                start = options[0]
            controls["start"].value = start
            controls["shared"].disabled = mode != "one for all"
            for name in race.RACERS:
                controls["lr " + name].disabled = mode != "each its own"
                if mode == "each tuned" and on[name]:
                    lr = tuned_lr(surface, starts[surface][start], steps, name)
                    # the browser may send back the slider's value rounded in its last digits: leave that be
                    if not np.isclose(controls["lr " + name].value, lr, rtol=1e-9, atol=0):
                        controls["lr " + name].value = lr
        return start

    def one_run(surface, start, steps, name, lr):
        """(points, loss gaps, the step it diverged at or None), up to the divergence."""
        on_grid = np.flatnonzero(np.isclose(race.LR_GRID, lr, rtol=1e-9, atol=0))
        if on_grid.size:   # every slider position is a grid lr (the browser may round its last digits)
            g, j = lr_grid(surface, start, steps, name), on_grid[0]
            at = int(g.diverged_at[0, j])
            kept = at if 0 < at <= steps else steps + 1
            return g.points[:kept, 0, j], g.history[:kept, 0, j], (at if 0 < at <= steps else None)
        key = (surface, start, steps, name, lr)
        if key not in others:
            others[key] = run(surfaces[surface], start, race.RACERS[name](lr), steps)
            while len(others) > 64:
                others.popitem(last=False)
        result = others[key]
        return result.xs, result.gaps, result.diverged_at

    def draw(w, surface, start, steps, mode, shared, **racers):
        on = {name: racers["on " + name] for name in race.RACERS}
        start = settle_controls(w, surface, start, steps, mode, on)
        if mode == "each tuned":   # the tuned values themselves, whatever digits the sliders show
            racers.update({"lr " + name: tuned_lr(surface, starts[surface][start], steps, name)
                           for name in race.RACERS if on[name]})
        if w.background_key is None or w.background_key[0] != surface:
            show_surface(surface)
        w.background_key = (surface, steps)
        f = surfaces[surface]
        x0 = starts[surface][start]
        loss_limits(ax_loss, steps, layers[surface][1])
        start_dot.set_data([x0[0]], [x0[1]])
        handles, labels, finished, unfinished, diverged = [], [], [], [], []
        for name in race.RACERS:
            if not on[name]:
                paths[name].set_data([], [])
                losses[name].set_data([], [])
                continue
            lr = shared if mode == "one for all" else racers["lr " + name]
            xs, gaps, diverged_at = one_run(surface, x0, steps, name, lr)
            paths[name].set_data(xs[:, 0], xs[:, 1])
            losses[name].set_data(np.arange(len(gaps)), positive(gaps))
            at = race.settled_at(gaps[:, None], race.TARGET)[0] if diverged_at is None else np.inf
            if diverged_at is not None:
                outcome = f"diverged at step {diverged_at}"
                diverged.append(f"{name} (step {diverged_at})")
            elif np.isfinite(at):
                outcome = f"finished at step {at:.0f}"
                finished.append((at, f"{name} (step {at:.0f})"))
            else:
                outcome = f"not finished: gap {gaps[-1]:.1e}"
                unfinished.append((gaps[-1], f"{name} (gap {gaps[-1]:.1e})"))
            handles.append(losses[name])
            labels.append(f"{name}, lr {lr:.1e}\n  {outcome}")
        if legend["artist"] is not None:
            legend["artist"].remove()
            w.dynamic.remove(legend["artist"])
            legend["artist"] = None
        if handles:
            legend["artist"] = ax_loss.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                                              fontsize=7, frameon=False, borderaxespad=0.0)
            legend["artist"].set_animated(True)
            w.dynamic.append(legend["artist"])
        how = {"each tuned": "each at its tuned lr", "each its own": "each at its own lr",
               "one for all": f"all at lr {shared:.1e}"}[mode]
        ax_c.set_title(f"{f.name} from {start.replace(' usual', '')}, {how}", fontsize=9)
        ax_loss.set_title(f"loss gap over {steps} steps; dotted: the finishing line {race.TARGET:g}", fontsize=9)
        if not handles:
            return "No racer in the race: tick at least one box."
        parts = []
        if finished:
            parts.append("finished, in order: " + ", ".join(text for _, text in sorted(finished)))
        if unfinished:
            parts.append("not finished: " + ", ".join(text for _, text in sorted(unfinished)))
        if diverged:
            parts.append("diverged: " + ", ".join(diverged))
        return f"{f.name}, {how}, {steps} steps. " + "; ".join(parts) + "."

    rows = [[controls["surface"], controls["start"], controls["steps"]], [controls["mode"], controls["shared"]]]
    names = list(race.RACERS)
    for i in range(0, len(names), 2):
        rows.append([item for name in names[i:i + 2] for item in (controls["on " + name], controls["lr " + name])])
    return Explorer(controls, fig, draw, dynamic=[*paths.values(), *losses.values(), start_dot, ax_c.title,
                                                  ax_loss.title], layout_rows=rows)
