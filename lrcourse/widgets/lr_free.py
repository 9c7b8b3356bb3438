"""Chapter 14: a learning-rate-free method's estimate d (the lr it chose) live beside its loss."""

import math

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from lrcourse.widgets.core import Explorer

__all__ = ["lr_free_explorer", "METHODS", "GROWTH_RATES", "run"]

METHODS = ["D-Adapt SGD", "D-Adapt Adam", "Prodigy", "SGD schedule-free", "AdamW schedule-free", "Adam (tuned lr)"]
GROWTH_RATES = [("inf (default)", math.inf), ("2", 2.0), ("1.1", 1.1), ("1.02", 1.02)]
SF_DEFAULT_LR = {"SGD schedule-free": 1.0, "AdamW schedule-free": 0.0025}   # schedulefree 1.4.1's defaults
BLOWUP = 1e3          # a minibatch loss this many times the first one (or NaN) has diverged, as in lrcourse.training
EVERY = 10            # the validation loss is measured every EVERY steps


def _optimizer(method, params, d0, growth_rate, d_coef, lr, warmup, adam_lr):
    """The method by its name in ``lrcourse.training.OPTIMIZERS``, with the knobs it has (D-Adaptation and Prodigy
    at their default lr 1, a multiplier of d)."""
    from lrcourse import training

    if method not in METHODS:
        raise ValueError(f"expected one of ({', '.join(METHODS)}), got {method}")
    if method == "Adam (tuned lr)":
        return training.make_optimizer("Adam", params, adam_lr)
    if "schedule-free" in method:
        return training.make_optimizer(method, params, lr, warmup_steps=warmup)
    knobs = {"d0": d0, "growth_rate": growth_rate, **({"d_coef": d_coef} if method == "Prodigy" else {})}
    return training.make_optimizer(method, params, 1.0, **knobs)


def _step_size(method, opt):
    """The lr the method used at its last step: d lr (d lr / ||g_0|| for D-Adapt SGD), the scheduled lr, or lr."""
    group = opt.param_groups[0]
    if method == "D-Adapt SGD":
        return group["d"] * group["lr"] / group["g0_norm"] if group.get("g0_norm") else math.nan
    if method in ("D-Adapt Adam", "Prodigy"):
        return group["d"] * group["lr"]
    if "schedule-free" in method:
        return group["scheduled_lr"]
    return group["lr"]


def run(problem, method, steps, seed, d0=1e-6, growth_rate=math.inf, d_coef=1.0, lr=1.0, warmup=0, adam_lr=0.01,
        batch_size=32):
    """One training run: minibatch losses (steps,), validation losses every EVERY steps, step sizes, d, and the
    step at which the run diverged (None if it did not). A schedule-free run is evaluated at x (``eval()``)."""
    import torch

    from lrcourse import nets, training

    threads = torch.get_num_threads()
    torch.set_num_threads(1)        # one small network: one thread is fastest
    try:
        net = training.mlp(problem.sizes, seed, problem.X.device, problem.X.dtype)
        opt = _optimizer(method, net.parameters(), d0, growth_rate, d_coef, lr, warmup, adam_lr)
        losses, sizes, ds = np.full(steps, np.nan), np.full(steps, np.nan), np.full(steps, np.nan)
        val_steps, val = [0], [nets.full_loss(net, problem.X_val, problem.y_val)]
        first, diverged = None, None
        for t, idx in enumerate(nets.batches(problem, batch_size, steps, seed)):
            training.set_mode(opt, "train")
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(problem.X[idx]), problem.y[idx])
            value = loss.item()
            first = value if first is None else first
            if not math.isfinite(value) or value > BLOWUP * first:
                diverged = t
                break
            losses[t] = value
            loss.backward()
            opt.step()
            sizes[t] = _step_size(method, opt)
            ds[t] = opt.param_groups[0].get("d", math.nan)
            if (t + 1) % EVERY == 0 or t + 1 == steps:
                training.set_mode(opt, "eval")
                v = nets.full_loss(net, problem.X_val, problem.y_val)
                if not math.isfinite(v):
                    diverged = t + 1
                    break
                val_steps.append(t + 1)
                val.append(v)
        return losses, np.array(val_steps), np.array(val), sizes, ds, diverged
    finally:
        torch.set_num_threads(threads)


def lr_free_explorer(method="Prodigy", d0=1e-6, growth_rate=math.inf, d_coef=1.0, lr=None, warmup=0, seed=0,
                     steps=200, problem="digits", batch_size=32, adam_lr=0.01):
    """Notebook 14: the loss (left) and the step size the method chose (right) against the step, one seed.

    Methods: D-Adaptation SGD and Adam, Prodigy (their lr stays 1: the step is d lr, d grown from ``d0`` at most by
    ``growth_rate`` per step; Prodigy also scales its estimate by ``d_coef``), schedule-free SGD and AdamW (a true
    ``lr`` with a linear warm-up of ``warmup`` steps: its right panel is that warm-up), and Adam at ``adam_lr`` (the
    lr tuned in notebook 14) as the baseline. Left: the minibatch loss (thin) and the full validation loss every 10
    steps (schedule-free: at the average x). A run whose loss turns NaN or grows 1000-fold is named "diverged at
    step k" and drawn up to there. Runs are kept: going back to a setting redraws at once.
    """
    from lrcourse import nets

    data = nets.load(problem)
    lr = SF_DEFAULT_LR.get(method, 1.0) if lr is None else lr
    controls = {
        "method": widgets.Dropdown(options=METHODS, value=method, description="method"),
        "d0": widgets.FloatLogSlider(value=d0, base=10, min=-10, max=0, step=0.5, description="d0",
                                     readout_format=".0e"),
        "growth_rate": widgets.Dropdown(options=GROWTH_RATES, value=growth_rate, description="growth rate"),
        "d_coef": widgets.FloatLogSlider(value=d_coef, base=10, min=-1.5, max=1, step=0.25,
                                         description="d_coef", readout_format=".3g"),
        "lr": widgets.FloatLogSlider(value=lr, base=10, min=-4, max=1, step=0.25, description="SF lr",
                                     readout_format=".3g"),
        "warmup": widgets.IntSlider(value=warmup, min=0, max=100, step=10, description="SF warm-up"),
        "seed": widgets.IntSlider(value=seed, min=0, max=9, description="seed"),
        "steps": widgets.IntSlider(value=steps, min=50, max=400, step=50, description="steps"),
    }
    runs = {}

    fig = Figure(figsize=(11, 4))
    ax_loss, ax_d = fig.subplots(1, 2)
    (train_line,) = ax_loss.plot([], [], color="C1", lw=0.7, alpha=0.7, label="minibatch loss")
    (val_line,) = ax_loss.plot([], [], "o-", color="C3", ms=3, lw=2, label="validation loss")
    (mark,) = ax_loss.plot([], [], "x", color="k", ms=10, mew=2, label="diverged")
    ax_loss.set(xlabel="step t", ylabel="cross-entropy (log)", yscale="log", ylim=(1e-3, 1e3))
    ax_loss.grid(True, alpha=0.3)
    ax_loss.legend(loc="upper right", fontsize=8)
    (size_line,) = ax_d.plot([], [], color="C0", lw=2, label="step size used")
    (d_line,) = ax_d.plot([], [], "--", color="C2", lw=1.5, label="estimate d")
    ax_d.axhline(adam_lr, color="0.5", ls=":", lw=1.2, label=f"tuned Adam's lr ({adam_lr:g})")
    ax_d.set(xlabel="step t", ylabel="step size (log)", yscale="log", ylim=(1e-11, 1e3))
    ax_d.grid(True, alpha=0.3)
    ax_d.legend(loc="lower right", fontsize=8)
    for ax in (ax_loss, ax_d):
        ax.set_title(" ", fontsize=10)
    fig.tight_layout()

    def draw(w, method, d0, growth_rate, d_coef, lr, warmup, seed, steps):
        w.background_key = steps
        for ax in (ax_loss, ax_d):
            ax.set_xlim(0, steps)
        if method in ("D-Adapt SGD", "D-Adapt Adam", "Prodigy"):
            knobs = {"d0": d0, "growth_rate": growth_rate, "d_coef": d_coef if method == "Prodigy" else 1.0}
            said = f"d0 {d0:.0e}, growth rate {growth_rate:g}" + (f", d_coef {d_coef:.3g}" if method == "Prodigy" else "")
        elif "schedule-free" in method:
            knobs = {"lr": lr, "warmup": warmup}
            said = f"lr {lr:.3g}, warm-up {warmup} steps" + (" (longer than the run: the lr never reaches its peak)"
                                                              if warmup >= steps else "")
        else:
            knobs = {}
            said = f"lr {adam_lr:g} (tuned)"
        key = (method, seed, steps, tuple(sorted(knobs.items())))
        if key not in runs:
            w.status.value = f"<b>training {method} ({steps} steps)...</b>"
            runs[key] = run(data, method, steps, seed, adam_lr=adam_lr, batch_size=batch_size, **knobs)
        losses, val_steps, val, sizes, ds, diverged = runs[key]
        t = np.arange(steps)
        train_line.set_data(t, losses)
        val_line.set_data(val_steps, val)
        size_line.set_data(t + 1, sizes)
        d_line.set_data(t + 1, ds if method in ("D-Adapt Adam", "Prodigy", "D-Adapt SGD") else np.full(steps, np.nan))
        for line, values in ((size_line, sizes), (d_line, ds)):      # a run that diverged at once: one point, a marker
            line.set_marker("o" if np.isfinite(values).sum() == 1 else "None")
        if diverged is not None:
            mark.set_data([diverged], [min(np.nanmax(losses) if np.isfinite(losses).any() else 1e2, 9e2)])
        else:
            mark.set_data([], [])
        ax_loss.set_title(f"{method} on {problem}, batch {batch_size}, seed {seed}", fontsize=10)
        last = np.nanmax(sizes) if np.isfinite(sizes).any() else math.nan
        ax_d.set_title(f"largest step size used: {last:.3g}", fontsize=10)
        head = f"{method} ({said}), seed {seed}: "
        if diverged is not None:
            return head + f"diverged at step {diverged} (largest step size used {last:.3g})."
        d_text = f", final d {ds[-1]:.3g}" if np.isfinite(ds[-1]) else ""
        return head + (f"validation loss {val[-1]:.3f} after {steps} steps (lowest {val.min():.3f}), "
                       f"step size {sizes[-1]:.3g}{d_text}.")

    def enable(name):
        """Only the knobs the method has are enabled (the others would be ignored)."""
        estimates = name in ("D-Adapt SGD", "D-Adapt Adam", "Prodigy")
        controls["d0"].disabled = controls["growth_rate"].disabled = not estimates
        controls["d_coef"].disabled = name != "Prodigy"
        controls["lr"].disabled = controls["warmup"].disabled = name not in SF_DEFAULT_LR

    def new_method(name):
        """The schedule-free methods' lr slider starts at the package's default lr for the method chosen."""
        controls["method"].value = name
        if name in SF_DEFAULT_LR:
            controls["lr"].value = SF_DEFAULT_LR[name]
        enable(name)

    enable(method)

    rows = [[controls["method"], controls["seed"], controls["steps"]],
            [controls["d0"], controls["growth_rate"], controls["d_coef"]],
            [controls["lr"], controls["warmup"]]]
    return Explorer(controls, fig, draw,
                    dynamic=[train_line, val_line, mark, size_line, d_line, ax_loss.title, ax_d.title],
                    layout_rows=rows, reactions={"method": new_method})
