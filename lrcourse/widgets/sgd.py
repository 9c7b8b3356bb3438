"""Widgets of chapters 03-05: minibatch SGD and its noise floor, momentum, schedules."""

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from lrcourse import functions, optim, schedules
from lrcourse.runs import run, sgd_sweep
from lrcourse.theory import heavy_ball_rate, tuned_heavy_ball
from lrcourse.widgets.core import Explorer, loss_axis, loss_limits, positive, show_gaps

__all__ = ["sgd_explorer", "momentum_explorer", "schedule_explorer", "BATCH_SIZES", "SCHEDULES"]


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
    loss_line = loss_axis(ax_loss)
    ax_loss.set_xlabel("step t")
    (gd_line,) = ax_loss.plot([], [], color="0.5", lw=1, label="full-batch GD, same lr")
    floor_line = ax_loss.axhline(np.nan, color="C2", ls="--", lw=1, label="predicted noise floor")
    loss_line.set_label("minibatch SGD")
    ax_loss.set_xlim(0, steps)
    ax_loss.set_ylim(1e-4, 3)
    ax_loss.legend(loc="upper right", fontsize=8)
    ax_loss.set_title(" ", fontsize=9, y=1.0)  # a fixed place: no search for tick labels above
    lrs_theory = np.geomspace(1e-3, 1.0, 60)
    (theory_line,) = ax_floor.loglog([], [], color="C2", label="predicted floor (exact)")
    (approx_line,) = ax_floor.loglog([], [], color="C2", ls=":", label="small-lr approximation lr tr(S) / 4B")
    (measured,) = ax_floor.plot([], [], "o", color="C3", ms=8, label="measured (this run)")
    ax_floor.set(xlabel="learning rate (log)", ylabel="noise floor E[f - f*] (log)", xlim=(1e-3, 1), ylim=(1e-5, 3))
    ax_floor.grid(True, alpha=0.3)
    ax_floor.legend(loc="upper left", fontsize=8)
    ax_floor.set_title(" ", fontsize=10, y=1.0)  # a fixed place: no search for tick labels above
    fig.tight_layout()
    start = problem.start
    theory = {}  # batch size -> (lrs, exact floors, approximate floors): depends on the batch size only

    def floors_for(batch_size):
        if batch_size not in theory:
            exact = np.array([problem.noise_floor(x, batch_size) for x in lrs_theory])
            theory[batch_size] = (exact, lrs_theory * np.trace(problem.gradient_noise) / (4 * batch_size))
        return theory[batch_size]

    runs = {}  # (batch size, lr) -> (steps recorded, excess loss, floor): a slider moved back is instant

    def run_for(batch_size, lr):
        if (batch_size, lr) not in runs:
            recorded, gaps = sgd_sweep(problem, [lr], batch_size, steps, seed=seed, every=10)
            runs[(batch_size, lr)] = recorded, gaps[0], problem.noise_floor(lr, batch_size)
        return runs[(batch_size, lr)]

    def draw(w, batch_size, lr):
        w.background_key = None
        recorded, curve, floor = run_for(batch_size, lr)
        finite = np.isfinite(curve)
        loss_line.set_data(recorded[finite], positive(curve[finite]))
        gd = _gd_gaps(problem, lr, steps, start)
        gd_line.set_data(np.arange(steps + 1)[np.isfinite(gd)], positive(gd[np.isfinite(gd)]))
        floor_line.set_ydata([floor, floor] if np.isfinite(floor) else [np.nan, np.nan])
        floors, approx = floors_for(batch_size)
        ok = np.isfinite(floors)
        theory_line.set_data(lrs_theory[ok], floors[ok])
        approx_line.set_data(lrs_theory, approx)
        if not finite.all():
            diverged_at = int(recorded[np.argmax(~finite)])
            measured.set_data([], [])
            text = f"batch {batch_size}, lr = {lr:.3g}: SGD diverged by step {diverged_at}"
            title = text
        else:
            level = float(np.mean(curve[len(curve) // 2:]))
            measured.set_data([lr], [level])
            quarter = len(curve) // 4   # still falling from the third quarter to the last: not on its floor yet
            settled = np.mean(curve[2 * quarter:3 * quarter]) <= 1.2 * np.mean(curve[3 * quarter:])
            text = (f"batch {batch_size}, lr = {lr:.3g}: noise floor predicted {floor:.3g}, "
                    f"measured {level:.3g} (mean over the second half)")
            if not settled:
                text += f"; the run is still falling at step {steps}: not settled yet, so it lies above its floor"
            title = (f"batch {batch_size}, lr = {lr:.3g}: floor {floor:.3g} predicted, {level:.3g} measured"
                     + ("" if settled else " (not settled)"))
        ax_loss.set_title(title, fontsize=9)
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
    loss_line = loss_axis(ax_loss)
    loss_line.set_label("momentum")
    (gd_loss,) = ax_loss.plot([], [], color="0.45", lw=1, label="GD, best fixed lr")
    (predicted,) = ax_loss.plot([], [], ":", color="C3", lw=1, label="predicted rate^(2t)")
    ax_loss.legend(loc="upper right", fontsize=8)
    loss_limits(ax_loss, steps, 0.5 * float(x0 @ x0))  # the largest start gap of any kappa (L = 1): one frame
    for ax in (ax_c, ax_loss):
        ax.set_title(" ", fontsize=10, y=1.0)  # a fixed place: no search for tick labels above
    fig.tight_layout()
    X, Y = np.meshgrid(np.linspace(-1.3, 1.3, 150), np.linspace(-1.3, 1.3, 150))
    drawn = {"kappa": None}
    gd_runs = {}  # kappa -> GD at its best fixed lr, which no other slider changes
    exact = {}  # the tuned values the button set, used while the sliders still show them

    def draw(w, kappa, lr, beta):
        if exact and (exact["kappa"] != kappa
                      or abs(np.log10(lr / exact["lr"])) > controls["lr"].step / 2 + 1e-12
                      or abs(beta - exact["beta"]) > controls["beta"].step / 2 + 1e-12):
            exact.clear()  # a slider moved away: use what the sliders say
        if exact:
            lr, beta = exact["lr"], exact["beta"]
        f = functions.Quadratic((1.0 / kappa, 1.0), angle=np.pi / 5)
        if drawn["kappa"] != kappa:  # the contours depend on kappa only: the middle layer of the picture
            for contours in w.middle:
                contours.remove()
            w.middle = [ax_c.contour(X, Y, f(np.stack([X, Y])), levels=np.geomspace(1e-4, 2, 12),
                                     cmap="Blues_r", linewidths=0.8, zorder=1)]
            w.middle_key = drawn["kappa"] = kappa
        result = run(f, x0, optim.SGD(lr=lr, momentum=beta), steps)
        if kappa not in gd_runs:
            gd_runs[kappa] = run(f, x0, optim.SGD(lr=f.lr_best), steps)
        gd = gd_runs[kappa]
        path.set_data(result.xs[:, 0], result.xs[:, 1])
        gd_path.set_data(gd.xs[:, 0], gd.xs[:, 1])
        show_gaps(loss_line, result)
        show_gaps(gd_loss, gd)
        rate = heavy_ball_rate(lr, beta, f.eigenvalues)
        t = np.arange(steps + 1)
        predicted.set_data(t, positive(result.gaps[0] * rate ** (2.0 * t)))
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
        ax.set_title(" ", fontsize=10, y=1.0)  # a fixed place: no search for tick labels above
    fig.tight_layout()
    t = np.arange(steps)  # the steps trained: lr(0) .. lr(steps - 1)
    runs = {}  # (schedule, start lr, end fraction) -> (lr(t), steps recorded, excess loss)
    shapes = {}  # (schedule, end fraction) -> lr(t) / lr: every schedule of the family scales with its start lr

    def shape_of(name, final):
        if (name, final) not in shapes:
            schedule = _schedule_family(1.0, final, steps)[name]
            shapes[(name, final)] = np.array([schedule(s) for s in t])
        return shapes[(name, final)]

    def draw(w, chosen, lr, final):
        chosen = [name for name in SCHEDULES if name in chosen] or ["constant"]
        if w.middle_key != tuple(chosen):  # the legend of the chosen ones: the middle layer, over the frame
            for artist in w.middle:
                artist.remove()
            w.middle = [ax_lr.legend([lr_lines[name] for name in chosen], chosen, loc="lower left", fontsize=7)]
            w.middle_key = tuple(chosen)
        missing = [name for name in chosen if (name, lr, final) not in runs]
        if missing:  # only the schedules this change affects are trained again (all on the same batches)
            values = np.array([lr * shape_of(name, final) for name in missing])  # lr(t), a row per schedule
            recorded, gaps = sgd_sweep(problem, values, batch_size, steps, seed=seed, every=10)
            for name, lr_t, curve in zip(missing, values, gaps):
                runs[(name, lr, final)] = lr_t, recorded, curve
        finals = {}
        for name in SCHEDULES:
            if name in chosen:
                lr_t, recorded, curve = runs[(name, lr, final)]
                lr_lines[name].set_data(t, positive(lr_t))
                ok = np.isfinite(curve)
                loss_lines[name].set_data(recorded[ok], positive(curve[ok]))
                finals[name] = float(np.mean(curve[-20:])) if ok.all() else np.inf
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
