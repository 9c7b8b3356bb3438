"""The hands-on widgets of the course.

Each factory returns an ``Explorer``: an ipywidgets ``VBox`` of controls, a
status line and a picture. Its state can be driven from Python, which is how
the tests (and instructors' demo scripts) use it::

    w = lr_explorer_1d()
    w.controls["lr"].value = 0.19          # redraws at once
    w.fig.axes[0].get_title()              # 'lr L = 1.90: oscillating ...'
    w.status.value                         # the same, as the learner reads it
    w.render_ms[-1]                        # how long the last redraw took

The picture is a matplotlib figure rendered to PNG into an ``Image`` widget:
it updates in tens of milliseconds, needs no plotting extension, and is kept
with the notebook's saved widget state. Whatever the controls say, a redraw
never raises: a diverging run is drawn up to the step where it flew off and
named "diverged at step k"; an unexpected error is shown in the status line.
"""

import html
import io
import time

import ipywidgets as widgets
import numpy as np
import PIL.Image
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from lrcourse import functions, optim, schedules
from lrcourse.runs import describe, regime_1d, run, sgd_sweep
from lrcourse.theory import gd_rate, heavy_ball_rate, tuned_heavy_ball

__all__ = ["Explorer", "first_step", "lr_explorer_1d", "contour_explorer", "sgd_explorer", "momentum_explorer",
           "schedule_explorer", "OPTIMIZERS", "SCHEDULES"]

GAP_FLOOR = 1e-16  # loss gaps below this are drawn at this level on log axes (machine precision)

# Optimizers the 2-D explorer offers, by name: each builds an lrcourse.optim object from an lr.
# Later chapters add their own entries (momentum, Adam ...) to this dictionary.
OPTIMIZERS = {
    "gradient descent": lambda lr: optim.SGD(lr=lr),
}


class Explorer(widgets.VBox):
    """Controls + status line + picture; ``update()`` redraws from the controls' values.

    ``draw(explorer, **values)`` updates the figure and returns the status
    message. To redraw fast, artists listed in ``dynamic`` (paths, loss lines,
    titles) are drawn over a cached picture of everything else; ``draw`` sets
    ``explorer.background_key`` to a value that changes whenever that static
    part must be drawn again (another surface, another number of steps ...).
    """

    def __init__(self, controls, fig, draw, dynamic=(), layout_rows=None):
        self.controls = controls
        self.fig = fig
        self._draw = draw
        self.dynamic = list(dynamic)
        for artist in self.dynamic:
            artist.set_animated(True)
        self.background_key = None
        self._background = None
        self._holding = False
        self.render_ms = []
        self.status = widgets.HTML()
        self.image = widgets.Image(format="png")
        self.canvas = FigureCanvasAgg(fig)
        rows = layout_rows or [list(controls.values())]
        for control in controls.values():
            control.observe(self._on_change, names="value")
        super().__init__([*(widgets.HBox(row) for row in rows), self.status, self.image])
        self.update()

    def _on_change(self, change):
        if not self._holding:
            self.update()

    def hold(self):
        """Context manager: change several controls, redraw once at the end."""
        explorer = self

        class _Hold:
            def __enter__(self):
                explorer._holding = True

            def __exit__(self, *exc):
                explorer._holding = False
                explorer.update()

        return _Hold()

    def update(self):
        start = time.perf_counter()
        try:
            values = {name: control.value for name, control in self.controls.items()}
            message = self._draw(self, **values)
            self.status.value = f"<b>{html.escape(message)}</b>"
            self.image.value = self._render()
        except Exception as error:  # a widget must never crash the notebook: say what happened
            self.status.value = (f"<b style='color:#b00'>Could not draw this: "
                                 f"{html.escape(type(error).__name__)}: {html.escape(str(error))}</b>")
        self.render_ms.append(1e3 * (time.perf_counter() - start))

    def _render(self):
        """PNG bytes of the figure: cached background, then the dynamic artists on top."""
        key = (self.background_key, self.fig.bbox.bounds)
        if self._background is None or self._background[0] != key:
            self.canvas.draw()
            self._background = (key, self.canvas.copy_from_bbox(self.fig.bbox))
        self.canvas.restore_region(self._background[1])
        for artist in self.dynamic:
            self.fig.draw_artist(artist)
        width, height = self.canvas.get_width_height()
        picture = PIL.Image.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buffer = io.BytesIO()
        picture.save(buffer, format="png", compress_level=1)
        return buffer.getvalue()

    def picture(self):
        """The current figure as a full matplotlib render (for saving or static display)."""
        for artist in self.dynamic:
            artist.set_animated(False)
        try:
            buffer = io.BytesIO()
            self.fig.savefig(buffer, format="png", dpi=self.fig.dpi)
            return buffer.getvalue()
        finally:
            for artist in self.dynamic:
                artist.set_animated(True)


def _loss_axis(ax):
    ax.set_yscale("log")
    ax.set_xlabel("step t")
    ax.set_ylabel("loss gap f(x_t) - f*")
    _loss_limits(ax, 100, 1.0)  # provisional, so that the layout leaves room for the tick labels
    ax.grid(True, which="major", alpha=0.3)
    (line,) = ax.plot([], [], ".-", color="C3", markersize=3)
    return line


def _loss_limits(ax, steps, gap0, blowup=1e6):
    """Fixed axes for the loss gap: from machine precision to the blow-up level where a run stops."""
    ax.set_xlim(-0.5, max(steps, 1) + 0.5)
    ax.set_ylim(GAP_FLOOR / 3, 3 * blowup * max(gap0, GAP_FLOOR))


def _show_gaps(line, result):
    line.set_data(np.arange(len(result.gaps)), np.maximum(result.gaps, GAP_FLOOR))


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
    ax.set_title(" ", fontsize=10)
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
    loss_line = _loss_axis(ax_loss)
    gap0 = float(f(np.array([x0]))) - f.min_value
    for ax in (ax_f, ax_loss):
        ax.set_title(" ", fontsize=10)
    fig.tight_layout()

    def draw(w, lr, steps):
        w.background_key = steps
        _loss_limits(ax_loss, steps, gap0)
        result = run(f, [x0], optim.SGD(lr=lr), steps)
        xs = result.xs[:, 0]
        path.set_data(xs, f(xs[None]))
        last.set_data(xs[-1:], f(xs[-1:][None]))
        _show_gaps(loss_line, result)
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
    loss_line = _loss_axis(ax_loss)
    for ax in (ax_c, ax_loss):
        ax.set_title(" ", fontsize=10)
    fig.tight_layout()
    drawn = {"surface": None, "artists": []}

    def draw_surface(name):
        g = built[name]
        for artist in drawn["artists"]:
            artist.remove()
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
        ax_c.set_xlim(xl, xh)
        ax_c.set_ylim(yl, yh)
        drawn["artists"] = [contour, stars]
        drawn["surface"] = name

    def on_surface(change):
        g = built[change["new"]]
        lr, steps = _DEFAULTS.get(change["new"], (0.01, 100))
        with explorer.hold():
            for key, (low, high), value in (("x0", g.bounds[0], g.start[0]), ("y0", g.bounds[1], g.start[1])):
                slider = controls[key]
                slider.min, slider.max = min(low, slider.min), max(high, slider.max)
                slider.value = value
                slider.min, slider.max = low, high
            controls["lr"].value, controls["steps"].value = lr, steps

    def draw(w, surface, optimizer, x0, y0, lr, steps):
        if drawn["surface"] != surface:
            draw_surface(surface)
        g = built[surface]
        gap0 = float(g(np.array([x0, y0]))) - g.min_value
        w.background_key = (surface, steps, gap0)
        _loss_limits(ax_loss, steps, gap0)
        result = run(g, [x0, y0], optimizers[optimizer](lr), steps)
        path.set_data(result.xs[:, 0], result.xs[:, 1])
        start.set_data([x0], [y0])
        _show_gaps(loss_line, result)
        outcome = describe(result)
        ax_c.set_title(f"{g.name}, {optimizer}, lr = {lr:.2g}", fontsize=10)
        ax_loss.set_title(f"final loss gap {result.gaps[-1]:.3g}" +
                          (f": diverged at step {result.diverged_at}" if result.diverged else ""), fontsize=10)
        return f"{optimizer} on {g.name} with lr = {lr:.3g}: {outcome}."

    explorer = Explorer(controls, fig, draw, dynamic=[path, start, loss_line, ax_c.title, ax_loss.title],
                        layout_rows=[[controls["surface"], controls["optimizer"]],
                                     [controls["x0"], controls["y0"]], [controls["lr"], controls["steps"]]])
    controls["surface"].observe(on_surface, names="value")
    return explorer


BATCH_SIZES = [1, 2, 4, 8, 16, 32, 64, 128, 256]


def _gd_gaps(problem, lr, steps, start=None):
    """Full-batch GD's loss gaps on a least-squares problem, in closed form (eigen-directions)."""
    start = problem.start if start is None else start
    eigenvalues, Q = np.linalg.eigh(problem.H)
    z0 = Q.T @ (start - problem.minima[0])
    t = np.arange(steps + 1)[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        gaps = 0.5 * np.sum(eigenvalues * ((1 - lr * eigenvalues) ** (2 * t)) * z0 ** 2, axis=1)
    return np.where(np.isfinite(gaps), gaps, np.inf)


def sgd_explorer(problem=None, steps=3000, seed=0):
    """Notebook 03: minibatch SGD on a regression problem, with batch-size and lr sliders.

    Left: the excess loss of SGD (and of full-batch GD at the same lr) on a log
    axis, with the predicted noise floor. Right: the floor against the lr for
    this batch size (theory), with this run's measured floor marked.
    """
    problem = problem if problem is not None else functions.LeastSquares.diabetes(drop=("s1",))
    controls = {
        "batch_size": widgets.SelectionSlider(options=BATCH_SIZES, value=4, description="batch size"),
        "lr": widgets.FloatLogSlider(value=0.05, base=10, min=-3, max=0, step=0.05, description="lr",
                                     readout_format=".3f"),
    }
    fig = Figure(figsize=(11, 4))
    ax_loss, ax_floor = fig.subplots(1, 2)
    loss_line = _loss_axis(ax_loss)
    ax_loss.set_xlabel("step t")
    (gd_line,) = ax_loss.plot([], [], color="0.5", lw=1, label="full-batch GD, same lr")
    floor_line = ax_loss.axhline(np.nan, color="C2", ls="--", lw=1, label="predicted noise floor")
    loss_line.set_label("minibatch SGD")
    ax_loss.set_xlim(0, steps)
    ax_loss.set_ylim(1e-4, 3)
    ax_loss.legend(loc="upper right", fontsize=8)
    ax_loss.set_title(" \n ", fontsize=9)
    lrs_theory = np.geomspace(1e-3, 1.0, 60)
    (theory_line,) = ax_floor.loglog([], [], color="C2", label="predicted floor (exact)")
    (approx_line,) = ax_floor.loglog([], [], color="C2", ls=":", label="small-lr approximation lr tr(S) / 4B")
    (measured,) = ax_floor.plot([], [], "o", color="C3", ms=8, label="measured (this run)")
    ax_floor.set(xlabel="learning rate (log)", ylabel="noise floor E[f - f*] (log)", xlim=(1e-3, 1), ylim=(1e-5, 3))
    ax_floor.grid(True, alpha=0.3)
    ax_floor.legend(loc="upper left", fontsize=8)
    ax_floor.set_title(" ", fontsize=10)
    fig.tight_layout()
    start = problem.start
    theory = {}  # batch size -> (lrs, exact floors, approximate floors): depends on the batch size only

    def floors_for(batch_size):
        if batch_size not in theory:
            exact = np.array([problem.noise_floor(x, batch_size) for x in lrs_theory])
            theory[batch_size] = (exact, lrs_theory * np.trace(problem.gradient_noise) / (4 * batch_size))
        return theory[batch_size]

    def draw(w, batch_size, lr):
        w.background_key = None
        recorded, gaps = sgd_sweep(problem, [lr], batch_size, steps, seed=seed, every=10)
        curve = gaps[0]
        finite = np.isfinite(curve)
        loss_line.set_data(recorded[finite], np.maximum(curve[finite], GAP_FLOOR))
        gd = _gd_gaps(problem, lr, steps, start)
        gd_line.set_data(np.arange(steps + 1)[np.isfinite(gd)], np.maximum(gd[np.isfinite(gd)], GAP_FLOOR))
        floor = problem.noise_floor(lr, batch_size)
        floor_line.set_ydata([floor, floor] if np.isfinite(floor) else [np.nan, np.nan])
        floors, approx = floors_for(batch_size)
        ok = np.isfinite(floors)
        theory_line.set_data(lrs_theory[ok], floors[ok])
        approx_line.set_data(lrs_theory, approx)
        if not finite.all():
            diverged_at = int(recorded[np.argmax(~finite)])
            measured.set_data([], [])
            text = f"batch {batch_size}, lr = {lr:.3g}: SGD diverged by step {diverged_at}"
        else:
            level = float(np.mean(curve[len(curve) // 2:]))
            measured.set_data([lr], [level])
            text = (f"batch {batch_size}, lr = {lr:.3g}: noise floor predicted {floor:.3g}, "
                    f"measured {level:.3g} (mean over the second half)")
        ax_loss.set_title(text.replace(": ", ":\n", 1), fontsize=9)
        ax_floor.set_title(f"the floor grows with the lr (batch {batch_size})", fontsize=10)
        return text + "."

    return Explorer(controls, fig, draw, dynamic=[loss_line, gd_line, floor_line, theory_line, approx_line,
                                                  measured, ax_loss.title, ax_floor.title])


def momentum_explorer(steps=150):
    """Notebook 04: heavy-ball momentum on a 2-D quadratic, in the spirit of "Why Momentum Really Works".

    Sliders for the condition number, the lr and beta; a button sets Polyak's
    tuned values. Shows the path, the loss against GD at its best fixed lr, and
    the measured rate next to the predicted one.

    Polyak's tuning is a knife edge: one notch of a slider away from it, the
    rate is visibly worse. Sliders round to their steps (the browser snaps to
    them), so the button remembers the exact tuned values and the run uses them
    for as long as the sliders stay within half a step of them.
    """
    controls = {
        "kappa": widgets.FloatLogSlider(value=100, base=10, min=0, max=3, step=0.05, description="kappa"),
        "lr": widgets.FloatLogSlider(value=0.03, base=10, min=-3, max=0.7, step=0.02, description="lr",
                                     readout_format=".4f"),
        "beta": widgets.FloatSlider(value=0.7, min=0.0, max=0.99, step=0.01, description="beta"),
    }
    tune = widgets.Button(description="set tuned lr and beta", layout=widgets.Layout(width="200px"))
    fig = Figure(figsize=(11, 4.2))
    ax_c, ax_loss = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.1]})
    x0 = np.array([-1.0, 0.8])
    (path,) = ax_c.plot([], [], ".-", color="C3", ms=3, lw=1, zorder=3, label="momentum")
    (gd_path,) = ax_c.plot([], [], ".-", color="0.45", ms=2, lw=0.7, zorder=2, label="GD, best fixed lr")
    ax_c.plot(*x0, "o", color="k", zorder=4)
    ax_c.plot(0, 0, "*", color="gold", ms=13, mec="k", zorder=4)
    ax_c.set(xlim=(-1.3, 1.3), ylim=(-1.3, 1.3), xlabel="x", ylabel="y")
    ax_c.set_aspect("equal")
    ax_c.legend(loc="lower right", fontsize=8)
    loss_line = _loss_axis(ax_loss)
    loss_line.set_label("momentum")
    (gd_loss,) = ax_loss.plot([], [], color="0.45", lw=1, label="GD, best fixed lr")
    (predicted,) = ax_loss.plot([], [], ":", color="C3", lw=1, label="predicted rate^(2t)")
    ax_loss.legend(loc="upper right", fontsize=8)
    for ax in (ax_c, ax_loss):
        ax.set_title(" ", fontsize=10)
    fig.tight_layout()
    drawn = {"kappa": None, "contours": None}
    exact = {}  # the tuned values the button set, used while the sliders still show them

    def draw(w, kappa, lr, beta):
        if exact and (exact["kappa"] != kappa
                      or abs(np.log10(lr / exact["lr"])) > controls["lr"].step / 2 + 1e-12
                      or abs(beta - exact["beta"]) > controls["beta"].step / 2 + 1e-12):
            exact.clear()  # a slider moved away: use what the sliders say
        if exact:
            lr, beta = exact["lr"], exact["beta"]
        f = functions.Quadratic((1.0 / kappa, 1.0), angle=np.pi / 5)
        if drawn["kappa"] != kappa:  # the contours depend on kappa only
            if drawn["contours"] is not None:
                drawn["contours"].remove()
            X, Y = np.meshgrid(np.linspace(-1.3, 1.3, 150), np.linspace(-1.3, 1.3, 150))
            drawn["contours"] = ax_c.contour(X, Y, f(np.stack([X, Y])), levels=np.geomspace(1e-4, 2, 12),
                                             cmap="Blues_r", linewidths=0.8, zorder=1)
            drawn["kappa"] = kappa
        w.background_key = kappa
        _loss_limits(ax_loss, steps, float(f(x0)))
        result = run(f, x0, optim.SGD(lr=lr, momentum=beta), steps)
        gd = run(f, x0, optim.SGD(lr=f.lr_best), steps)
        path.set_data(result.xs[:, 0], result.xs[:, 1])
        gd_path.set_data(gd.xs[:, 0], gd.xs[:, 1])
        _show_gaps(loss_line, result)
        _show_gaps(gd_loss, gd)
        rate = heavy_ball_rate(lr, beta, f.eigenvalues)
        t = np.arange(steps + 1)
        predicted.set_data(t, np.maximum(result.gaps[0] * rate ** (2.0 * t), GAP_FLOOR))
        tuned_rate = tuned_heavy_ball(f.mu, f.L)[2]
        if result.diverged:
            measured_text = f"diverged at step {result.diverged_at}"
        else:
            g = result.gaps
            half = len(g) // 2
            if g[-1] > 0 and g[half] > 0 and len(g) > 4:
                measured_text = f"measured rate {(g[-1] / g[half]) ** (1 / (2 * (len(g) - 1 - half))):.4f}"
            else:
                measured_text = "reached the minimum to machine precision"
        ax_c.set_title(f"kappa = {kappa:.0f}, lr = {lr:.4g}, beta = {beta:.4g}" + (" (tuned)" if exact else ""),
                       fontsize=10)
        ax_loss.set_title(f"{measured_text}; predicted {rate:.4f} (tuned {tuned_rate:.4f}, "
                          f"GD best {f.rate_best:.4f})", fontsize=9)
        return (f"kappa = {kappa:.0f}, lr = {lr:.4g}, beta = {beta:.4g}{' (tuned)' if exact else ''}: "
                f"{measured_text}, predicted rate "
                f"{rate:.4f}. Tuned momentum would reach {tuned_rate:.4f}; GD at its best lr {f.rate_best:.4f}.")

    explorer = Explorer(controls, fig, draw, dynamic=[path, gd_path, loss_line, gd_loss, predicted,
                                                      ax_c.title, ax_loss.title],
                        layout_rows=[[controls["kappa"], tune], [controls["lr"], controls["beta"]]])

    def set_tuned(_=None):
        kappa = controls["kappa"].value
        lr, beta, _rate = tuned_heavy_ball(1.0 / kappa, 1.0)
        exact.update(kappa=kappa, lr=lr, beta=beta)
        with explorer.hold():
            controls["lr"].value, controls["beta"].value = lr, beta

    tune.on_click(set_tuned)
    explorer.set_tuned = set_tuned
    return explorer


def _schedule_family(lr, final, T):
    """Each schedule of chapter 05 with its parameters chosen so that it ends near final * lr at step T."""
    final = min(max(final, 1e-6), 1.0)
    return {
        "constant": schedules.constant(lr),
        "time-based 1/(1+kt)": schedules.time_based(lr, decay=(1 / final - 1) / T),
        "step (3 drops)": schedules.step_decay(lr, step_size=max(1, T // 4), gamma=final ** (1 / 3)),
        "exponential": schedules.exponential(lr, gamma=final ** (1 / T)),
        "polynomial (power 2)": schedules.polynomial(lr, total_iters=T, power=2.0),
        "cosine": schedules.cosine(lr, T_max=T, eta_min=final * lr),
        "linear": schedules.linear(lr, start_factor=1.0, end_factor=final, total_iters=T),
    }


SCHEDULES = list(_schedule_family(0.1, 0.01, 100))


def schedule_explorer(problem=None, steps=3000, batch_size=4, seed=0):
    """Notebook 05: pick schedules, see lr(t) and the training loss each gives, side by side.

    Every selected schedule starts at the same lr and is tuned to end near
    ``final lr / start lr`` (polynomial ends at 0); all runs see the same minibatches.
    """
    problem = problem if problem is not None else functions.LeastSquares.diabetes(drop=("s1",))
    controls = {
        "chosen": widgets.SelectMultiple(options=SCHEDULES, value=("constant", "step (3 drops)", "cosine"),
                                         rows=len(SCHEDULES), description="schedules"),
        "lr": widgets.FloatLogSlider(value=0.1, base=10, min=-2.5, max=-0.3, step=0.05, description="start lr",
                                     readout_format=".3f"),
        "final": widgets.FloatLogSlider(value=0.01, base=10, min=-3, max=0, step=0.1, description="end / start",
                                        readout_format=".3f"),
    }
    fig = Figure(figsize=(11, 4))
    ax_lr, ax_loss = fig.subplots(1, 2)
    colours = {name: f"C{i}" for i, name in enumerate(SCHEDULES)}
    lr_lines = {name: ax_lr.plot([], [], color=colours[name], label=name)[0] for name in SCHEDULES}
    loss_lines = {name: ax_loss.plot([], [], color=colours[name], lw=1, label=name)[0] for name in SCHEDULES}
    floor_line = ax_loss.axhline(np.nan, color="0.4", ls="--", lw=1)
    ax_lr.set(xlabel="step t", ylabel="learning rate (log)", yscale="log", xlim=(0, steps), ylim=(1e-6, 1))
    ax_lr.grid(True, alpha=0.3)
    ax_loss.set(xlabel="step t", ylabel="excess loss f - f* (log)", yscale="log", xlim=(0, steps), ylim=(1e-5, 3))
    ax_loss.grid(True, alpha=0.3)
    for ax in (ax_lr, ax_loss):
        ax.set_title(" ", fontsize=10)
    fig.tight_layout()
    t = np.arange(steps)  # the steps trained: lr(0) .. lr(steps - 1)

    def draw(w, chosen, lr, final):
        chosen = [name for name in SCHEDULES if name in chosen] or ["constant"]
        family = _schedule_family(lr, final, steps)
        for name in SCHEDULES:  # the legend lists the chosen ones: part of the background
            lr_lines[name].set_label(name if name in chosen else "_hidden")
        ax_lr.legend(loc="lower left", fontsize=7)
        w.background_key = tuple(chosen)
        values = np.array([[family[name](s) for s in t] for name in chosen])  # lr(t), one row per schedule
        recorded, gaps = sgd_sweep(problem, lambda step: values[:, step], batch_size, steps, seed=seed, every=10)
        finals = {}
        for name in SCHEDULES:
            if name in chosen:
                i = chosen.index(name)
                lr_lines[name].set_data(t, np.maximum(values[i], 1e-12))
                ok = np.isfinite(gaps[i])
                loss_lines[name].set_data(recorded[ok], np.maximum(gaps[i][ok], GAP_FLOOR))
                finals[name] = float(np.mean(gaps[i][-20:])) if ok.all() else np.inf
            else:
                lr_lines[name].set_data([], [])
                loss_lines[name].set_data([], [])
        floor = problem.noise_floor(lr, batch_size)
        floor_line.set_ydata([floor, floor] if np.isfinite(floor) else [np.nan, np.nan])
        best = min(finals, key=finals.get)
        ax_lr.set_title(f"lr(t): start {lr:.3g}, end about {lr * final:.3g}", fontsize=10)
        ax_loss.set_title(f"batch {batch_size}; dashed: constant-lr floor {floor:.2g}; best: {best}", fontsize=9)
        parts = [f"{name} {value:.3g}" if np.isfinite(value) else f"{name} diverged" for name, value in finals.items()]
        return "final excess loss (mean of the last 200 steps): " + ", ".join(parts)

    return Explorer(controls, fig, draw, dynamic=[*lr_lines.values(), *loss_lines.values(), floor_line,
                                                  ax_lr.title, ax_loss.title],
                    layout_rows=[[controls["chosen"], widgets.VBox([controls["lr"], controls["final"]])]])
