"""Widgets of chapters 06-09: per-coordinate learning rates, live."""

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from lrcourse import functions, optim
from lrcourse.runs import describe, run
from lrcourse.widgets.core import Explorer, loss_axis, loss_limits, positive, show_gaps

__all__ = ["adagrad_explorer", "rmsprop_explorer", "adadelta_explorer", "ALPHAS", "RHOS"]


def adagrad_explorer(kappa=100.0, steps=200):
    """Notebook 06: AdaGrad on a 2-D quadratic; each coordinate's accumulator and effective lr, live.

    Sliders for the lr, eps, the initial accumulator and the rotation of the quadratic's axes. Left:
    the path from (1, 0.5), with gradient descent at its best fixed lr for comparison. Middle: each
    coordinate's effective lr, lr / (sqrt(s) + eps), over the steps. Right: the loss of both.

    With the axes aligned (and eps, the initial s negligible), s_i = curvature_i^2 * sum of x_i^2 along
    the path, so the ratio of the two effective lrs is the ratio of the curvatures times the ratio of
    how far each coordinate has travelled, sqrt(sum x2^2 / sum x1^2); the status line shows both factors.
    """
    controls = {
        "lr": widgets.FloatLogSlider(value=0.3, base=10, min=-3, max=1, step=0.05, description="lr",
                                     readout_format=".3f"),
        "eps": widgets.FloatLogSlider(value=1e-10, base=10, min=-10, max=2, step=0.5, description="eps",
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
              ylim=(1e-6, 1e4))
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
            ratio = effective[-1, 0] / effective[-1, 1]
            title = f"effective lrs now {effective[-1, 0]:.3g} and {effective[-1, 1]:.3g}: ratio {ratio:.3g}"
            lr_text = f"effective lrs now {effective[-1, 0]:.3g} and {effective[-1, 1]:.3g}, a ratio of {ratio:.3g}"
            if abs(f.A[0, 1]) <= 1e-12 * np.abs(f.A).max():
                # axes aligned: s_i = s0 + curvature_i^2 * sum of x_i^2 over the points where gradients were taken
                curvatures = f.A[1, 1] / f.A[0, 0]
                with np.errstate(all="ignore"):
                    travel = np.sqrt(np.sum(result.xs[:len(effective), 1] ** 2) / np.sum(result.xs[:len(effective), 0] ** 2))
                if abs(curvatures * travel / ratio - 1) < 0.01:
                    lr_text += (f" = {curvatures:.3g} (curvature 2 over curvature 1) x {travel:.3g} (how far coordinate 2 "
                                f"has travelled against coordinate 1: the root of sum x2^2 / sum x1^2 along the path)")
                else:
                    lr_text += (f" (curvatures {f.A[0, 0]:.3g} and {f.A[1, 1]:.3g}; eps or the initial s matter "
                                f"here, besides the path)")
            else:
                lr_text += " (axes rotated: each coordinate's gradient mixes both curvatures)"
        else:
            title = lr_text = "no effective lr to show"
        ax_lr.set_title(title, fontsize=9)
        ax_loss.set_title(f"AdaGrad: final loss gap {result.gaps[-1]:.2g}" +
                          (f", diverged at step {result.diverged_at}" if result.diverged else "") +
                          f"; GD: {gd.gaps[-1]:.2g}", fontsize=9)
        return f"AdaGrad with lr = {lr:.3g}, eps = {eps:.0e}, initial s = {s0:.0e}: {outcome}. {lr_text}."

    return Explorer(controls, fig, draw, dynamic=[path, gd_path, *eff_lines, gd_lr, loss_line, gd_loss,
                                                  ax_c.title, ax_lr.title, ax_loss.title],
                    layout_rows=[[controls["lr"], controls["eps"]], [controls["s0"], controls["angle"]]])


ALPHAS = [0.5, 0.8, 0.9, 0.95, 0.99, 0.995, 0.999]


def _chase(problem, opt, steps):
    """One run of ``opt`` after a moving minimum, from the minimum's first place.

    ``opt`` is an ``optim.RMSprop`` (alpha, eps, centered) or an ``optim.Adagrad`` (eps), other options
    off. Returns (path x_0 .. x_k, distance to the minimum after each step, states): the optimizer's
    buffers after each step, named as ``runs.run(keep_state=True)`` names them (``v``, and ``m`` when
    centered; AdaGrad's ``s``), each of shape (k, 2). The run stops early (k < steps) at the first step
    that is not finite or lies beyond 1e6.

    The loop works on Python floats, one coordinate after the other: the same operations in the same
    order as ``opt.step``, so it equals ``runs.track`` with ``opt`` (tests/test_chapters_06_09_library.py),
    and it is fast enough for the 20000 steps a redraw runs.
    """
    import array
    import math

    if isinstance(opt, optim.RMSprop):
        if opt.momentum or opt.weight_decay or opt.maximize:
            raise ValueError("_chase runs RMSprop without momentum, weight_decay or maximize")
        keep, add, centered = float(opt.alpha), 1 - float(opt.alpha), bool(opt.centered)
    elif isinstance(opt, optim.Adagrad):
        if opt.lr_decay or opt.weight_decay or opt.initial_accumulator_value or opt.maximize:
            raise ValueError("_chase runs AdaGrad without lr_decay, weight_decay, an initial accumulator or maximize")
        keep, add, centered = 1.0, 1.0, False   # s <- 1 * s + 1 * g^2: AdaGrad's sum, exactly
    else:
        raise TypeError(f"_chase runs optim.RMSprop or optim.Adagrad, not {type(opt).__name__}")
    lr, eps, nan = float(opt.lr), float(opt.eps), float("nan")
    places = problem.minimum(np.arange(steps + 1))
    c1, c2 = problem.curvatures.tolist()
    p1, p2 = places[0].tolist(), places[1].tolist()
    x1, x2, v1, v2, m1, m2 = p1[0], p2[0], 0.0, 0.0, 0.0, 0.0
    sqrt = math.sqrt
    record = array.array("d")   # per step: x1, x2, v1, v2, m1, m2 after it
    keep_step = record.extend
    for t in range(steps):   # written out for the two coordinates: a redraw runs 2 x 20000 steps
        g1, g2 = c1 * (x1 - p1[t]), c2 * (x2 - p2[t])
        v1, v2 = keep * v1 + add * g1 * g1, keep * v2 + add * g2 * g2
        if centered:
            m1, m2 = keep * m1 + add * g1, keep * m2 + add * g2
            q1, q2 = v1 - m1 * m1, v2 - m2 * m2
        else:
            q1, q2 = v1, v2
        # numpy's sqrt of a negative number (v - m^2 below 0 by rounding) is nan: the same here
        y1 = x1 - lr * g1 / ((sqrt(q1) if q1 >= 0 else nan) + eps)
        y2 = x2 - lr * g2 / ((sqrt(q2) if q2 >= 0 else nan) + eps)
        if not (-1e6 <= y1 <= 1e6 and -1e6 <= y2 <= 1e6):   # also false for nan and inf
            break
        x1, x2 = y1, y2
        keep_step((x1, x2, v1, v2, m1, m2))
    steps_kept = np.frombuffer(record, dtype=np.float64).reshape(-1, 6)
    k = len(steps_kept)
    xs = np.concatenate([places[:, :1].T, steps_kept[:, :2]])
    distance = np.linalg.norm(xs[1:] - places[:, 1:k + 1].T, axis=1)
    if isinstance(opt, optim.Adagrad):
        states = {"s": steps_kept[:, 2:4]}
    else:
        states = {"v": steps_kept[:, 2:4]}
        if centered:
            states["m"] = steps_kept[:, 4:6]
    return xs, distance, states


def rmsprop_explorer(steps_moving=20000, steps_quadratic=300):
    """Notebook 07: RMSprop against AdaGrad, each at its own lr, on a moving minimum or a quadratic.

    Sliders for RMSprop's lr and alpha (the memory of the moving average, about 1 / (1 - alpha) steps),
    for AdaGrad's own lr, and a switch for the centered variant. Left: the path (on the moving minimum,
    its last two turns). Middle: each coordinate's effective lr, lr / (sqrt(v) + eps), with v - m^2 in
    place of v when centered and AdaGrad's sum s for v. Right: the distance to the moving minimum over
    20000 steps (log axis: AdaGrad's stall comes after a few (lr / speed)^2 steps), or the loss gap.

    No run is stopped at a loss threshold: plain RMSprop moves each coordinate at most lr / sqrt(1 - alpha)
    per step and AdaGrad at most its lr, so neither can run away as gradient descent does. A first step
    that throws a run out of the picture is named as such in the status line; a run that leaves the
    finite numbers is drawn up to there and named as diverged.
    """
    controls = {
        "problem": widgets.Dropdown(options=["moving minimum", "quadratic, kappa 100"], value="moving minimum",
                                    description="problem"),
        "lr": widgets.FloatLogSlider(value=0.03, base=10, min=-3, max=0.5, step=0.05, description="RMSprop lr",
                                     readout_format=".3f", style={"description_width": "initial"}),
        "alpha": widgets.SelectionSlider(options=ALPHAS, value=0.99, description="alpha"),
        "centered": widgets.Checkbox(value=False, description="centered"),
        "ada_lr": widgets.FloatLogSlider(value=1.0, base=10, min=-3, max=2, step=0.05, description="AdaGrad lr",
                                         readout_format=".3g", style={"description_width": "initial"}),
    }
    fig = Figure(figsize=(12, 4))
    ax_p, ax_lr, ax_out = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1.1, 1.1]})
    (path,) = ax_p.plot([], [], "-", color="C3", lw=0.8, zorder=3, label="RMSprop")
    (ada_path,) = ax_p.plot([], [], "-", color="0.5", lw=0.8, zorder=2, label="AdaGrad, its own lr")
    ax_p.set_aspect("equal")
    ax_p.legend(loc="lower right", fontsize=7)
    lines = {(name, i): ax_lr.plot([], [], color=f"C{i}", ls="-" if name == "RMSprop" else ":",
                                   label=f"{name}, coordinate {i + 1}")[0]
             for name in ("RMSprop", "AdaGrad") for i in (0, 1)}
    ax_lr.set(yscale="log", xlabel="step t", ylabel="effective lr  lr / (sqrt(v) + eps)", ylim=(1e-4, 1e4))
    ax_lr.grid(True, alpha=0.3)
    ax_lr.legend(loc="upper left", fontsize=6)
    (out,) = ax_out.plot([], [], color="C3", label="RMSprop")
    (ada_out,) = ax_out.plot([], [], color="0.5", label="AdaGrad, its own lr")
    # on the moving minimum: each step thin, the mean over the last turn (one period) thick
    (out_mean,) = ax_out.plot([], [], color="C3", lw=2, label="_mean over the last turn")
    (ada_out_mean,) = ax_out.plot([], [], color="0.3", lw=2, label="_mean over the last turn")
    ax_out.set(yscale="log")
    ax_out.grid(True, alpha=0.3)
    ax_out.legend(loc="upper right", fontsize=7)
    for ax in (ax_p, ax_lr, ax_out):
        ax.set_title(" ", fontsize=9, y=1.0)  # a fixed place: no search for tick labels above
    fig.tight_layout()
    moving = functions.MovingMinimum()
    quadratic = functions.Quadratic((0.01, 1.0), angle=np.pi / 6, start=(1.0, 0.5))
    X, Y = np.meshgrid(np.linspace(-1.5, 1.5, 150), np.linspace(-1.5, 1.5, 150))
    frame = {}

    def set_frame(w, problem, centered):
        """The frame of each problem: axes limits and labels, the circle or the contours (drawn once each)."""
        for artist in frame.get("artists", []):
            artist.remove()
        if problem == "moving minimum":
            circle = moving.minimum(np.linspace(0, moving.period, 200))
            frame["artists"] = ax_p.plot(circle[0], circle[1], color="gold", lw=2, zorder=1,
                                         label="_the minimum's circle")
            ax_p.set(xlim=(-1.6, 1.6), ylim=(-1.6, 1.6), xlabel="x1", ylabel="x2")
            for ax in (ax_lr, ax_out):
                ax.set_xscale("log")
                ax.set(xlim=(1, steps_moving), xlabel="step t (log)")
            ax_out.set(ylim=(1e-3, 3), ylabel="distance to the minimum (thick: turn mean)")
            for line in (out, ada_out):
                line.set(lw=0.5, alpha=0.5)
        else:
            for line in (out, ada_out):
                line.set(lw=1.5, alpha=1.0)
            frame["artists"] = [ax_p.contour(X, Y, quadratic(np.stack([X, Y])), levels=np.geomspace(1e-4, 2, 12),
                                             cmap="Blues_r", linewidths=0.8, zorder=1)]
            ax_p.set(xlim=(-1.5, 1.5), ylim=(-1.5, 1.5), xlabel="x1", ylabel="x2")
            for ax in (ax_lr, ax_out):
                ax.set_xscale("linear")
                ax.set(xlim=(0, steps_quadratic), xlabel="step t")
            ax_out.set(ylim=(1e-16, 1e6), ylabel="loss gap f(x_t) - f*")
        ax_lr.set_ylabel("effective lr  lr / (sqrt(v - m^2) + eps)" if centered else
                         "effective lr  lr / (sqrt(v) + eps)")
        frame["key"] = w.background_key = (problem, centered)

    def effective(opt, states):
        """lr / (sqrt(v) + eps) after each step: v - m^2 in place of v when centered, AdaGrad's s for v."""
        if "s" in states:
            q = states["s"]
        else:
            q = states["v"] - states["m"] ** 2 if "m" in states else states["v"]
        with np.errstate(invalid="ignore", divide="ignore"):
            return opt.lr / (np.sqrt(q) + opt.eps)

    def first_step(name, opt):
        """A run's first step per coordinate (then v holds only (1 - alpha) g^2, and s only g^2), in words."""
        if name == "AdaGrad":
            return f"a full lr, {opt.lr:.3g}, per coordinate"
        if opt.centered:
            return f"lr / sqrt(alpha (1 - alpha)) = {opt.lr / np.sqrt(opt.alpha * (1 - opt.alpha)):.3g} per coordinate"
        return f"lr / sqrt(1 - alpha) = {opt.lr / np.sqrt(1 - opt.alpha):.3g} per coordinate"

    def draw(w, problem, lr, alpha, centered, ada_lr):
        if frame.get("key") != (problem, centered):
            set_frame(w, problem, centered)
        rms = optim.RMSprop(lr=lr, alpha=alpha, centered=centered)
        ada = optim.Adagrad(lr=ada_lr)
        if problem == "moving minimum":
            results = [_chase(moving, opt, steps_moving) for opt in (rms, ada)]
            shown = slice(-2 * moving.period, None)   # the last two turns of each path
            for line, (xs, _, _) in zip((path, ada_path), results):
                line.set_data(xs[shown, 0], xs[shown, 1])
            turn = moving.period
            for line, mean_line, (_, distance, _) in zip((out, ada_out), (out_mean, ada_out_mean), results):
                line.set_data(np.arange(1, len(distance) + 1), positive(distance))
                total = np.concatenate([[0.0], np.cumsum(distance)])
                means = (total[turn:] - total[:-turn]) / turn   # over steps t - turn + 1 .. t, for t >= turn
                mean_line.set_data(np.arange(turn, len(distance) + 1), positive(means))
            paths = [xs for xs, _, _ in results]
            away = [np.concatenate([[0.0], d]) for _, d, _ in results]   # from the minimum, x_0 .. x_k
            states = [s for _, _, s in results]
            ends = [d[-turn:].mean() if len(d) >= turn else np.inf for _, d, _ in results]
            title = f"last turn: RMSprop {ends[0]:.3g} away, AdaGrad {ends[1]:.3g}"
            stopped = [len(d) < steps_moving for _, d, _ in results]
            # the first moving step (step 2: the first gradient, taken on the minimum, is 0) thrown far?
            thrown = [d[:4].max() > 0.5 for d in away]
        else:
            # no loss threshold (blowup=inf): a run thrown far out by its first step is drawn as it comes back
            runs = [run(quadratic, quadratic.start, opt, steps_quadratic, blowup=np.inf, keep_state=True)
                    for opt in (rms, ada)]
            for line, result in zip((path, ada_path), runs):
                line.set_data(result.xs[:, 0], result.xs[:, 1])
            for line, result in zip((out, ada_out), runs):
                show_gaps(line, result)
            for mean_line in (out_mean, ada_out_mean):
                mean_line.set_data([], [])
            paths = [r.xs for r in runs]
            away = [np.linalg.norm(r.xs - quadratic.minima[0], axis=1) for r in runs]
            states = [r.states for r in runs]
            title = f"final loss gap: RMSprop {runs[0].gaps[-1]:.2g}, AdaGrad {runs[1].gaps[-1]:.2g}"
            stopped = [r.diverged for r in runs]
            thrown = [np.abs(r.xs[:4]).max() > 1.5 for r in runs]   # out of the picture in its first steps
        for name, opt, st in (("RMSprop", rms, states[0]), ("AdaGrad", ada, states[1])):
            eff = effective(opt, st)
            for i in (0, 1):
                lines[(name, i)].set_data(np.arange(1, len(eff) + 1), positive(eff[:, i]))
        notes = []
        for name, opt, xs, d, flag, far in zip(("RMSprop", "AdaGrad"), (rms, ada), paths, away, stopped, thrown):
            if flag:   # x_0 .. x_(k-1) kept: step k left the finite numbers (or went beyond 1e6)
                notes.append(f"{name} diverged at step {len(xs)} (drawn up to there)")
            elif far:
                where = ("" if problem == "moving minimum" else
                         "; it came back" if np.abs(xs[-1]).max() <= 1.5 else "; it is still out of the picture")
                notes.append(f"{name}'s first step ({first_step(name, opt)}) threw it {d[:4].max():.3g} away "
                             f"from the minimum{where}")
        lr_title = "effective lr: solid RMSprop, dotted AdaGrad"
        status_extra = ""
        if centered and len(states[0]["v"]):
            v, m = states[0]["v"], states[0]["m"]
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = (np.sqrt(np.maximum(v - m * m, 0.0)) / np.sqrt(v)).ravel()
            ratio = ratio[np.isfinite(ratio)]
            if len(ratio):
                lr_title = f"solid RMSprop, dotted AdaGrad; sqrt(v - m^2) / sqrt(v): median {np.median(ratio):.2f}"
                status_extra = (f"; centered: sqrt(v - m^2) / sqrt(v) has median {np.median(ratio):.2f} "
                                f"(the gradients' standard deviation over their root mean square)")
        memory = 1 / (1 - alpha)
        ax_p.set_title(f"RMSprop: lr {lr:.3g}, alpha {alpha}" + (", centered" if centered else "")
                       + f"  |  AdaGrad: lr {ada_lr:.3g}", fontsize=8)
        ax_lr.set_title(lr_title, fontsize=9)
        ax_out.set_title(title, fontsize=9)
        return (f"RMSprop with lr = {lr:.3g}, alpha = {alpha} (a memory of about {memory:.0f} steps)"
                f"{', centered' if centered else ''} against AdaGrad "
                f"with lr = {ada_lr:.3g} on the {problem}: {title}{status_extra}"
                + ("; " + "; ".join(notes) if notes else "") + ".")

    return Explorer(controls, fig, draw, dynamic=[path, ada_path, *lines.values(), out, ada_out, out_mean,
                                                  ada_out_mean, ax_p.title, ax_lr.title, ax_out.title],
                    layout_rows=[[controls["problem"], controls["centered"]], [controls["lr"], controls["alpha"]],
                                 [controls["ada_lr"]]])


RHOS = [0.5, 0.8, 0.9, 0.95, 0.99, 0.999]


def adadelta_explorer(steps=300):
    """Notebook 08: Adadelta's units, and how lr, rho and eps set its steps.

    The quadratic of chapter 02 (kappa 10) with every length multiplied by ``scale``: the same problem
    in other units. Left: the path, measured in those units (x / scale), for Adadelta and for RMSprop at
    a fixed lr of 0.01. Middle: the length of each step (also / scale), with Adadelta's exact first step
    dashed, lr sqrt(eps) |g0| / sqrt((1 - rho) g0^2 + eps) per coordinate (about lr sqrt(eps / (1 - rho))
    only while (1 - rho) g0^2 >> eps). Right: the loss, which does not depend on the units. A run that
    flies off is drawn up to the step that flew off, dashed towards where it landed (a cross where it left),
    and the step and loss panels say "diverged at step k". The status gives points in the picture's units (x / scale).
    """
    from dataclasses import replace

    controls = {
        "lr": widgets.FloatLogSlider(value=1.0, base=10, min=-2, max=1, step=0.1, description="lr (multiplier)",
                                     readout_format=".2f"),
        "rho": widgets.SelectionSlider(options=RHOS, value=0.9, description="rho"),
        "eps": widgets.FloatLogSlider(value=1e-6, base=10, min=-12, max=0, step=0.5, description="eps",
                                      readout_format=".0e"),
        "scale": widgets.FloatLogSlider(value=1.0, base=10, min=-2, max=2, step=0.5, description="units (scale)",
                                        readout_format=".2g"),
    }
    base = functions.Quadratic((0.1, 1.0), angle=0.5, start=(1.0, 0.5))
    fig = Figure(figsize=(12, 4))
    ax_p, ax_step, ax_loss = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1.1, 1.1]})
    X, Y = np.meshgrid(np.linspace(-1.3, 1.3, 150), np.linspace(-1.3, 1.3, 150))
    ax_p.contour(X, Y, base(np.stack([X, Y])), levels=np.geomspace(1e-4, 1, 12), cmap="Blues_r", linewidths=0.8)
    ax_p.plot(0, 0, "*", color="gold", ms=13, mec="k", zorder=4)
    ax_p.plot(*base.start, "o", color="k", zorder=4)
    (path,) = ax_p.plot([], [], ".-", color="C3", ms=3, lw=1, zorder=3, label="Adadelta")
    (rms_path,) = ax_p.plot([], [], ".-", color="0.5", ms=2, lw=0.7, zorder=2, label="RMSprop, lr 0.01")
    (flown,) = ax_p.plot([], [], "--", color="C3", lw=1.2, zorder=3)          # the step that flew off
    (flown_from,) = ax_p.plot([], [], "X", color="C3", ms=10, mec="k", zorder=5)  # where it flew off from
    ax_p.set(xlim=(-1.3, 1.3), ylim=(-1.3, 1.3), xlabel="x1 / scale", ylabel="x2 / scale")
    ax_p.set_aspect("equal")
    ax_p.legend(loc="lower right", fontsize=7)
    (step_line,) = ax_step.plot([], [], ".-", color="C3", ms=4, label="Adadelta")
    (rms_step,) = ax_step.plot([], [], color="0.5", label="RMSprop, lr 0.01")
    (predicted,) = ax_step.plot([], [], "--", color="C3", lw=0.8,
                                label="first step, exact:\nlr sqrt(eps) |g| / sqrt((1-rho) g^2 + eps)")
    ax_step.set(yscale="log", xlabel="step t", ylabel="length of the step / scale", xlim=(0, steps), ylim=(1e-8, 10))
    ax_step.grid(True, alpha=0.3)
    ax_step.legend(loc="lower right", fontsize=7)
    loss_line = loss_axis(ax_loss)
    loss_line.set_label("Adadelta")
    (rms_loss,) = ax_loss.plot([], [], color="0.5", lw=1, label="RMSprop, lr 0.01")
    loss_limits(ax_loss, steps, float(base(base.start)))
    ax_loss.legend(loc="upper right", fontsize=7)
    for ax in (ax_p, ax_step, ax_loss):
        ax.set_title(" ", fontsize=9, y=1.0)  # a fixed place: no search for tick labels above
    alarms = [ax.text(0.5, 0.6, "", transform=ax.transAxes, ha="center", va="center", color="C3", fontsize=11,
                      fontweight="bold") for ax in (ax_step, ax_loss)]   # "diverged at step k", else empty
    fig.tight_layout()

    def landing(f, opt, k):
        """Where a run that diverged at step k landed: run() keeps only the points before that step."""
        x = np.array(f.start, dtype=np.float64)
        opt.reset()
        with np.errstate(all="ignore"):
            for _ in range(k):
                x = opt.step(x, f.grad(x))
        return x

    def draw(w, lr, rho, eps, scale):
        f = functions.Rescaled(base, scale)
        results = [run(f, f.start, opt, steps) for opt in (optim.Adadelta(lr=lr, rho=rho, eps=eps),
                                                             optim.RMSprop(lr=0.01))]
        adadelta = results[0]
        landed = None   # in the picture's units: where the step that flew off landed (if it is finite)
        if adadelta.diverged:
            landed = landing(f, optim.Adadelta(lr=lr, rho=rho, eps=eps), adadelta.diverged_at) / scale
            if not np.all(np.isfinite(landed)):
                landed = None
        for line, step, loss, result in zip((path, rms_path), (step_line, rms_step), (loss_line, rms_loss), results):
            xs = result.xs / scale
            line.set_data(xs[:, 0], xs[:, 1])
            if result is adadelta and landed is not None:
                xs = np.vstack([xs, landed])   # the step that flew off counts among the steps
            length = np.linalg.norm(np.diff(xs, axis=0), axis=1)
            step.set_data(np.arange(1, len(length) + 1), positive(length))
            show_gaps(loss, result)
        step_line.set_marker("." if len(step_line.get_xdata()) < 30 else "None")   # a short run: every step seen
        g0 = f.grad(f.start)
        exact = lr * np.linalg.norm(np.sqrt(eps) * np.abs(g0) / np.sqrt((1 - rho) * g0 * g0 + eps)) / scale
        predicted.set_data([0, steps], [exact, exact])
        drawn = adadelta.xs / scale
        if len(drawn) > 1:
            first_step = np.linalg.norm(drawn[1] - drawn[0])
        else:
            first_step = np.linalg.norm(landed - drawn[0]) if landed is not None else np.inf
        first_text = f"{first_step:.2g}" if np.isfinite(first_step) else "too long to measure"
        if adadelta.diverged:
            diverged = f"diverged at step {adadelta.diverged_at}"
            last = drawn[-1]
            if landed is None:
                flown.set_data([], [])
            else:   # dashed towards where it landed, cut at 100 units: it leaves the picture where it did
                jump = np.linalg.norm(landed - last)
                end = last + (landed - last) * min(1.0, 100 / jump) if jump > 0 else landed
                flown.set_data([last[0], end[0]], [last[1], end[1]])
            flown_from.set_data([last[0]], [last[1]])
            ax_step.set_title(f"Adadelta {diverged}; first step {first_text} (exact {exact:.2g})", fontsize=9)
            ax_loss.set_title(f"Adadelta {diverged}; RMSprop ends at {results[1].gaps[-1]:.2g}", fontsize=9)
        else:
            diverged = ""
            flown.set_data([], [])
            flown_from.set_data([], [])
            ax_step.set_title(f"Adadelta's first step: {first_text} (exact formula: {exact:.2g})", fontsize=9)
            ax_loss.set_title(f"final loss: Adadelta {adadelta.gaps[-1]:.2g}, RMSprop {results[1].gaps[-1]:.2g}",
                              fontsize=9)
        for alarm in alarms:
            alarm.set_text(f"Adadelta {diverged}" if diverged else "")
        ax_p.set_title(f"lengths times {scale:.2g}: lr {lr:.2g}, rho {rho}, eps {eps:.0e}", fontsize=9)
        verdict = describe(replace(adadelta, xs=drawn))   # points in the picture's units, x / scale
        landed_text = "" if landed is None else f"; the step that flew off landed at ({landed[0]:.3g}, {landed[1]:.3g})"
        return (f"Adadelta with lr = {lr:.2g}, rho = {rho}, eps = {eps:.0e}, lengths times {scale:.2g} (points in "
                f"units of the scale): {verdict}{landed_text}. Its first step is {first_text} (the exact formula: "
                f"{exact:.2g}); RMSprop at lr 0.01 ends at {results[1].gaps[-1]:.2g}.")

    return Explorer(controls, fig, draw, dynamic=[path, rms_path, step_line, rms_step, predicted, loss_line, rms_loss,
                                                  ax_p.title, ax_step.title, ax_loss.title, flown, flown_from, *alarms],
                    layout_rows=[[controls["lr"], controls["scale"]], [controls["rho"], controls["eps"]]])
