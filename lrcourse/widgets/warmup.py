"""Chapter 10: compose a warm-up, a main schedule and restarts; see lr(t) and the training it gives."""

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from lrcourse import schedules
from lrcourse.widgets.core import Explorer

__all__ = ["warmup_explorer", "MAIN_SCHEDULES", "WARMUPS", "composed", "train_curves"]

MAIN_SCHEDULES = ["constant", "cosine", "cosine, warm restarts", "triangular", "triangular2", "one-cycle"]
WARMUPS = ["none", "linear", "exponential"]
LOSS_FLOOR = 1e-6     # Adam's minibatch losses reach 1e-5 (lr 0.03, triangular): the axis shows them
BLOWUP = 1e3          # as lrcourse.nets.train_many: a loss this many times the first one has diverged


def composed(peak, steps, warmup="linear", warmup_steps=20, main="cosine", T_0=50, T_mult=1, start_factor=0.01):
    """The schedule the explorer shows: ``warmup`` (none, linear, exponential) then ``main``, peak lr ``peak``.

    The main schedule gets the steps left after the warm-up (one-cycle has its own warm-up, its first 30%).
    triangular and triangular2 start at their base lr, as ``CyclicLR`` does, when no warm-up precedes them; after a
    warm-up they start at their peak (half a cycle in), so that the warm-up leads up to the peak lr and not down
    to a tenth of it.
    """
    warmed = warmup != "none" and warmup_steps > 0
    rest = steps - (warmup_steps if warmed else 0)
    if rest < 1:
        raise ValueError(f"Expected fewer warm-up steps than the {steps} steps of the run, but got {warmup_steps}")
    mains = {
        "constant": lambda: schedules.constant(peak),
        "cosine": lambda: schedules.cosine(peak, rest),
        "cosine, warm restarts": lambda: schedules.cosine_warm_restarts(peak, T_0, T_mult),
        "triangular": lambda: _cyclic(peak, T_0, "triangular", warmed),
        "triangular2": lambda: _cyclic(peak, T_0, "triangular2", warmed),
        "one-cycle": lambda: schedules.one_cycle(peak, rest),
    }
    if main not in mains:
        raise ValueError(f"expected one of ({', '.join(mains)}), got {main}")
    schedule = mains[main]()
    if not warmed:
        return schedule
    # a warm-up climbs to the main schedule's first lr: the peak for constant, cosine and restarts, the peak
    # for the cyclical ones too (started half a cycle in, above), and peak / 25 for one-cycle, whose own first
    # 30% then climbs on to the peak
    return schedules.warmup(schedule, warmup_steps, start_factor=start_factor, mode=warmup)


def _cyclic(peak, T_0, mode, from_peak):
    """A triangle from peak / 10 to peak, full cycle T_0: from its base (as CyclicLR) or, after a warm-up, its peak."""
    cyclic = schedules.cyclic(peak / 10, peak, max(T_0 // 2, 1), mode=mode)
    return _from_peak(cyclic) if from_peak else cyclic


def _from_peak(cyclic):
    """A triangular schedule started at its first peak, so that it falls first (its step counted from there)."""
    up = next(t for t in range(1, 10 ** 6) if cyclic(t) <= cyclic(t - 1))  # the step after the peak
    shifted = lambda t: cyclic(t + up - 1)
    shifted.__name__ = cyclic.__name__ + " from its peak"
    return shifted


def train_curves(problem, optimizer, lr_t, seeds, batch_size):
    """Train ``problem``'s network once per seed, all seeds at once, with the lr ``lr_t[t]`` at step t.

    SGD (momentum 0.9) or Adam with torch's update rules, on the stacked copies of ``lrcourse.nets``
    (each equal to its own ``torch.optim`` run). Returns (minibatch losses of shape (seeds, steps), the
    step at which each seed diverged or -1): a loss that is NaN, infinite or ``BLOWUP`` times the first
    one ends that seed's run, as in ``nets.train_many``.
    """
    import torch

    from lrcourse import nets

    threads = torch.get_num_threads()
    torch.set_num_threads(1)     # 3 tiny networks: one thread is fastest, and a busy machine does not stall it
    try:
        return _train(problem, optimizer, lr_t, seeds, batch_size)
    finally:
        torch.set_num_threads(threads)


def _train(problem, optimizer, lr_t, seeds, batch_size):
    import torch

    from lrcourse import nets

    steps, S = len(lr_t), len(seeds)
    params = nets._stacked(problem, seeds, 1)
    plans = [nets.batches(problem, batch_size, steps, s) for s in seeds]
    losses = np.full((S, steps), np.nan)
    diverged = np.full(S, -1)
    alive = torch.ones(S, dtype=torch.bool)
    state = [None] * len(params)
    for t in range(steps):
        idx = torch.stack([plan[t] for plan in plans])
        loss = nets._losses(params, problem.X[idx], problem.y[idx])
        value = loss.detach()
        if t == 0:
            ceiling = BLOWUP * value
        now = torch.isfinite(value) & (value <= ceiling)
        diverged[(alive & ~now).numpy()] = t
        alive &= now
        if not alive.any():
            break
        losses[alive.numpy(), t] = value[alive].double().numpy()
        grads = torch.autograd.grad(torch.where(alive, loss, 0.0).sum(), params)
        lr = float(lr_t[t])
        with torch.no_grad():
            live = alive.to(value.dtype)[:, None, None]
            for i, (p, g) in enumerate(zip(params, grads)):
                g = torch.nan_to_num(g) * live
                if optimizer == "SGD":
                    state[i] = g.clone() if state[i] is None else state[i].mul_(0.9).add_(g)
                    p.sub_(live * lr * state[i])
                else:
                    if state[i] is None:
                        state[i] = (torch.zeros_like(p), torch.zeros_like(p))
                    m, v = state[i]
                    m.lerp_(g, 0.1)
                    v.mul_(0.999).addcmul_(g, g, value=0.001)
                    bc1, bc2 = 1 - 0.9 ** (t + 1), 1 - 0.999 ** (t + 1)
                    p.sub_(live * (lr / bc1) * m / ((v.sqrt() / bc2 ** 0.5).add_(1e-8)))
    return losses, diverged


def warmup_explorer(optimizer="Adam", lr=0.1, warmup="linear", warmup_steps=20, main="cosine", T_0=50, T_mult=1,
                    problem="digits", steps=200, batch_size=64, seeds=(0, 1, 2)):
    """Notebook 10: a warm-up in front of a main schedule, lr(t) on the left, the training it gives on the right.

    Controls: the optimizer (SGD with momentum 0.9, or Adam), the peak lr, the warm-up (none, linear or
    exponential, from 1% of the peak) and its length, the main schedule, and the cycle length T_0 (restarts;
    a triangle's full cycle) and T_mult (restarts). Each seed trains the problem's network of ``lrcourse.nets``
    (digits: an MLP 64-32-10) on its own minibatches; thin lines are the seeds' minibatch losses, the thick one
    their mean. A run that diverges ends where it did, marked with an x, and is named "diverged at step k".
    Runs are kept, so going back to a setting redraws at once.
    """
    from lrcourse import nets

    data = nets.load(problem)
    seeds = list(seeds)
    controls = {
        "optimizer": widgets.Dropdown(options=["SGD", "Adam"], value=optimizer, description="optimizer"),
        "lr": widgets.FloatLogSlider(value=lr, base=10, min=-3, max=1, step=0.125, description="peak lr",
                                     readout_format=".3g"),
        "warmup": widgets.Dropdown(options=WARMUPS, value=warmup, description="warm-up"),
        "warmup_steps": widgets.IntSlider(value=warmup_steps, min=0, max=100, step=5, description="warm-up steps"),
        "main": widgets.Dropdown(options=MAIN_SCHEDULES, value=main, description="then"),
        "T_0": widgets.IntSlider(value=T_0, min=10, max=steps, step=10, description="T_0 / cycle"),
        "T_mult": widgets.IntSlider(value=T_mult, min=1, max=3, description="T_mult"),
    }
    runs = {}     # (optimizer, lr(t) as bytes) -> (losses, diverged)
    t = np.arange(steps)

    fig = Figure(figsize=(11, 4))
    ax_lr, ax_loss = fig.subplots(1, 2)
    (lr_line,) = ax_lr.plot([], [], color="C0", lw=2)
    ax_lr.set(xlabel="step t", ylabel="learning rate (log)", yscale="log", xlim=(0, steps), ylim=(1e-6, 20))
    ax_lr.grid(True, alpha=0.3)
    seed_lines = [ax_loss.plot([], [], color="C1", lw=0.6, alpha=0.5)[0] for _ in seeds]
    (mean_line,) = ax_loss.plot([], [], color="C3", lw=2, label=f"mean of {len(seeds)} seeds")
    (marks,) = ax_loss.plot([], [], "x", color="k", ms=9, mew=2, label="diverged")
    ax_loss.set(xlabel="step t", ylabel="minibatch cross-entropy (log)", yscale="log", xlim=(0, steps),
                ylim=(LOSS_FLOOR, 1e3))
    ax_loss.grid(True, alpha=0.3)
    ax_loss.legend(loc="upper right", fontsize=8)
    for ax in (ax_lr, ax_loss):
        ax.set_title(" ", fontsize=10)
    fig.tight_layout()

    def draw(w, optimizer, lr, warmup, warmup_steps, main, T_0, T_mult):
        w.background_key = "frame"
        if warmup != "none" and warmup_steps >= steps:
            raise ValueError(f"the warm-up must be shorter than the {steps} steps of the run")
        schedule = composed(lr, steps, warmup, warmup_steps, main, T_0, T_mult)
        lr_t = np.array([schedule(s) for s in t])
        key = (optimizer, lr_t.tobytes())
        if key not in runs:
            w.status.value = f"<b>training... ({len(seeds)} seeds x {steps} steps)</b>"
            runs[key] = train_curves(data, optimizer, lr_t, seeds, batch_size)
        losses, diverged = runs[key]
        lr_line.set_data(t, lr_t)
        for line, curve in zip(seed_lines, losses):
            line.set_data(t, curve)
        alive = diverged < 0
        mean = losses[alive].mean(axis=0) if alive.any() else np.full(steps, np.nan)
        mean_line.set_data(t, mean)
        at = diverged[~alive]
        last = [losses[i, k - 1] if k > 0 else 1e3 for i, k in zip(np.flatnonzero(~alive), at)]
        marks.set_data(np.maximum(at - 1, 0), np.clip(last, LOSS_FLOOR, 1e3))
        where = "no warm-up" if warmup == "none" or warmup_steps == 0 else f"{warmup} warm-up over {warmup_steps} steps"
        start = (" (from its peak)" if where != "no warm-up" else " (from its base)") if main.startswith("triangular") else ""
        ax_lr.set_title(f"{where}, then {main}{start}; peak lr {lr:.3g}", fontsize=10)
        final = f"{np.mean(losses[alive, -20:]):.3g}" if alive.any() else "none"
        ax_loss.set_title(f"{optimizer} on {problem}, batch {batch_size}: {alive.sum()} of {len(seeds)} seeds trained",
                          fontsize=10)
        parts = [f"seed {s} diverged at step {k}" for s, k in zip(np.array(seeds)[~alive], at)]
        head = (f"final loss (mean of the last 20 steps, over the {alive.sum()} seeds that trained): {final}"
                if alive.any() else f"every seed diverged: no final loss")
        return head + (". " + "; ".join(parts) if parts else "") + "."

    rows = [[controls["optimizer"], controls["lr"], controls["main"]],
            [controls["warmup"], controls["warmup_steps"]],
            [controls["T_0"], controls["T_mult"]]]
    return Explorer(controls, fig, draw, dynamic=[lr_line, *seed_lines, mean_line, marks, ax_lr.title, ax_loss.title],
                    layout_rows=rows)
