"""Chapter 13: rerun the experiments behind the claims with other settings."""

import warnings

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from lrcourse import claims, functions
from lrcourse.runs import minibatch_sweep, sweep
from lrcourse.widgets.core import Explorer

__all__ = ["claims_explorer", "CLAIMS", "CLAIM_PROBLEMS"]

CLAIMS = {
    "1: faster": "the tuned loss at the budget",
    "2: less tuning": "the width of the 2x window",
    "3: escape": "the fraction of starts that escape and stay",
    "4: generalize": "the test error on Wilson et al.'s problem",
}
CLAIM_PROBLEMS = {
    "1: faster": [p for p in claims.PROBLEMS if p != "digits, MLP"],
    "2: less tuning": [p for p in claims.PROBLEMS if p != "digits, MLP"],
    "3: escape": ["two basins", "saddle"],
    "4: generalize": ["Wilson et al. (n = 30, p = 0.75)"],
}
"""The problems each claim's experiment runs on (the MLP is left out: too slow to rerun at each move)."""

_STARTS = 20          # starts per seed in the escape experiment


def _divergence(problem, name, lr, seed, steps):
    """The step at which one run (the first seed) diverged: 0 if it did not."""
    f = claims._cached(problem, claims.PROBLEMS[problem])
    if isinstance(f, (functions.LeastSquares, functions.Logistic)):
        gaps = minibatch_sweep(f, claims.make(name), [lr], 16, steps, seed=seed).gaps[0]
        bad = np.flatnonzero(~np.isfinite(gaps))
        return int(bad[0]) if len(bad) else 0
    _, _, at = sweep(f, f.random_starts(1, seed=seed)[0], claims.make(name), [lr], steps)
    return int(at[0])


def _curves(claim, problem, names, lrs, steps, seeds):
    """name -> (values per lr (mean over the seeds), sd per lr); and a dict name -> text of a divergence."""
    out, diverged = {}, {}
    if claim in ("1: faster", "2: less tuning"):
        for name in names:
            loss = claims.losses(problem, name, lrs, seeds, steps)
            start = claims.losses(problem, name, [0.0], seeds, 1).mean()          # lr 0: the starting loss
            out.setdefault("_start", {})[name] = start
            mean = loss.mean(axis=1)
            out[name] = (mean, loss.std(axis=1))
            bad = np.flatnonzero(~np.isfinite(mean))
            if len(bad):
                lr = float(lrs[bad[0]])
                seed = int(np.asarray(seeds)[np.flatnonzero(~np.isfinite(loss[bad[0]]))[0]])
                diverged[name] = f"{name} diverged at step {_divergence(problem, name, lr, seed, steps)} (lr {lr:.3g})"
    elif claim == "3: escape":
        f = functions.TwoBasin() if problem == "two basins" else functions.Saddle()
        rule = claims.in_better_basin if problem == "two basins" else claims.left_saddle
        starts = [claims.two_basin_starts(f, _STARTS, s) if problem == "two basins" else f.random_starts(_STARTS, s)
                  for s in seeds]
        for name in names:
            e = claims.escape(f, name, lrs, starts, steps, rule, hold=max(1, steps // 5))   # stays: last fifth
            out[name] = (e.mean, e.sd)
            every = np.concatenate(starts)
            bad = np.flatnonzero(~np.isfinite(e.loss).all(axis=1) | ~np.isfinite(e.loss).any(axis=1))
            if len(bad):
                _, _, at = sweep(f, every, claims.make(name), np.full(len(every), lrs[bad[0]]), steps)
                diverged[name] = f"{name} diverged at step {int(at[at > 0].min())} (lr {lrs[bad[0]]:.3g})"
    else:
        draws = [claims.wilson_data(30, 0.75, seed=int(s)) for s in seeds]
        Xs, ys = np.stack([d[0] for d in draws]), np.stack([d[1] for d in draws])
        for name in names:
            W, loss = claims.wilson_run(Xs, ys, name, lrs, steps)
            errors = np.empty((len(lrs), len(seeds)))
            for i, s in enumerate(seeds):
                Xt, yt = claims.wilson_test(500, Xs.shape[2], 0.75, seed=1000 + int(s))
                errors[:, i] = np.mean(np.sign(Xt @ np.nan_to_num(W[i], nan=0.0)) != yt[:, None], axis=0)
            errors[~np.isfinite(loss.T)] = np.nan
            out[name] = (np.nanmean(np.where(np.isfinite(loss.T), errors, np.nan), axis=1)
                         if np.isfinite(loss).any() else np.full(len(lrs), np.nan), np.nanstd(errors, axis=1))
            out.setdefault("_train", {})[name] = np.where(np.isfinite(loss), loss, np.inf).mean(axis=0)
            bad = np.flatnonzero(~np.isfinite(loss).all(axis=0))
            if len(bad):
                diverged[name] = f"{name} diverged (lr {lrs[bad[0]]:.3g} and above)"
    return out, diverged


def _verdict(claim, curves, lrs):
    curves = dict(curves)
    start, train = curves.pop("_start", {}), curves.pop("_train", {})
    if claim in ("1: faster", "2: less tuning"):
        text = _verdict_loss(claim, curves, lrs)
        idle = [n for n, (m, _) in curves.items() if np.isfinite(m).any() and np.nanmin(m) > 0.5 * start.get(n, np.inf)]
        if idle:
            text += (f" (note: {', '.join(idle)} still above half the starting loss at the best lr: too few steps "
                     "to have trained, so these numbers mean little)")
        return text
    if claim == "4: generalize":
        at = {}
        for n, (m, _) in curves.items():
            t = train.get(n)
            if t is not None and np.isfinite(t).any():
                j = int(np.argmin(t))
                at[n] = (m[j], lrs[j])
        if not at:
            return "every run diverged"
        return "test error at the lr with the lowest training loss: " + ", ".join(
            f"{n} {e:.3f} (lr {lr:.2g})" for n, (e, lr) in sorted(at.items(), key=lambda kv: kv[1][0]))
    return _verdict_loss(claim, curves, lrs)


def _verdict_loss(claim, curves, lrs):
    if claim == "2: less tuning":
        widths = {n: claims.width(lrs, m) for n, (m, _) in curves.items()}
        widths = {n: w for n, w in widths.items() if np.isfinite(w.best)}
        if not widths:
            return "every run diverged: no window"
        wide = max(widths, key=lambda n: widths[n].decades)
        narrow = min(widths, key=lambda n: widths[n].decades)
        return (f"widest 2x window: {wide} ({widths[wide].decades:.2f} decades); narrowest: {narrow} "
                f"({widths[narrow].decades:.2f})")
    if claim == "1: faster":
        best = {n: np.nanmin(np.where(np.isfinite(m), m, np.nan)) for n, (m, _) in curves.items()
                if np.isfinite(m).any()}
        if not best:
            return "every run diverged"
        ranked = sorted(best, key=best.get)
        return "lowest tuned loss: " + ", ".join(f"{n} {best[n]:.3g}" for n in ranked)
    if claim == "3: escape":
        top = {n: (np.nanmax(m), lrs[int(np.nanargmax(m))]) for n, (m, _) in curves.items()}
        return "most escapes that stay: " + ", ".join(f"{n} {f:.2f} (lr {lr:.2g})" for n, (f, lr) in
                                           sorted(top.items(), key=lambda kv: -kv[1][0]))
    lowest = {n: np.nanmin(m) for n, (m, _) in curves.items() if np.isfinite(m).any()}
    if not lowest:
        return "every run diverged"
    return "lowest test error over the lrs: " + ", ".join(f"{n} {e:.3f}" for n, e in sorted(lowest.items(),
                                                                                         key=lambda kv: kv[1]))


def claims_explorer(claim="2: less tuning", problem="quadratic, rotated", optimizers=("SGD", "momentum", "Adam"),
                    steps=100, seeds=5):
    """Notebook 13: pick a claim, a problem and optimizers; the experiment reruns with the settings chosen.

    Claims 1 and 2: each optimizer's mean final loss over the seeds against the lr (the best marked, the 2x window
    drawn as a bar); claim 3: the fraction of the starts (20 per seed) that escape; claim 4: the test error on
    Wilson et al.'s problem. The status line gives a one-line verdict for the setting (tuned and scored on the same
    seeds) and names a run that diverged with its step.
    """
    controls = {
        "claim": widgets.Dropdown(options=list(CLAIMS), value=claim, description="claim"),
        "problem": widgets.Dropdown(options=CLAIM_PROBLEMS[claim], value=problem if problem in CLAIM_PROBLEMS[claim]
                                    else CLAIM_PROBLEMS[claim][0], description="problem"),
        "optimizers": widgets.SelectMultiple(options=list(claims.OPTIMIZERS), value=tuple(optimizers),
                                             description="optimizers", rows=5),
        "steps": widgets.IntSlider(value=steps, min=5, max=500, step=5, description="steps"),
        "seeds": widgets.IntSlider(value=seeds, min=1, max=10, description="seeds"),
        "lr_range": widgets.FloatRangeSlider(value=(-4.0, 1.0), min=-4.0, max=1.0, step=0.25,
                                             description="log10 lr", readout_format=".2f"),
    }
    fig = Figure(figsize=(8.5, 4))
    ax = fig.subplots()
    explorer = None

    def on_claim(new):
        with explorer.quietly():
            controls["problem"].options = CLAIM_PROBLEMS[new]
            controls["problem"].value = CLAIM_PROBLEMS[new][0]

    def draw(ex, claim, problem, optimizers, steps, seeds, lr_range):
        ex.background_key = object()          # every setting is a new experiment: draw the whole figure
        ax.clear()
        names = [n for n in claims.OPTIMIZERS if n in optimizers]
        lo, hi = lr_range
        lrs = 10.0 ** np.arange(lo, hi + 1e-9, 0.25)
        if problem not in CLAIM_PROBLEMS[claim]:
            ax.set_axis_off()
            return f"pick a problem of claim {claim}: {', '.join(CLAIM_PROBLEMS[claim])}"
        if not names:
            ax.set_axis_off()
            return "pick at least one optimizer (ctrl-click or shift-click to choose several)"
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")        # all-NaN slices of diverged runs: drawn as such, not warned
            curves, diverged = _curves(claim, problem, names, lrs, int(steps), list(range(int(seeds))))
            message = _verdict(claim, curves, lrs)
            curves = {k: v for k, v in curves.items() if not k.startswith("_")}     # the extras: for the verdict only
        for name in names:
            mean, sd = curves[name]
            finite = np.isfinite(mean)
            line, = ax.plot(lrs, np.where(finite, mean, np.nan), "o-", ms=3, label=name)
            colour = line.get_color()
            if claim in ("1: faster", "2: less tuning"):
                top = np.nanmax(np.where(finite, mean, np.nan)) if finite.any() else 1.0
                ax.plot(lrs[~finite], np.full((~finite).sum(), top * 3), "x", color=colour)   # diverged: at the top
                w = claims.width(lrs, mean)
                if np.isfinite(w.best):
                    ax.plot([w.best_lr], [w.best], "*", ms=12, color=colour)
                    if claim == "2: less tuning":
                        ax.plot([w.lo, w.hi], [w.best * 1.4] * 2, lw=4, alpha=0.5, color=colour)
            else:
                ax.fill_between(lrs, np.where(finite, mean - sd, np.nan), np.where(finite, mean + sd, np.nan),
                                color=colour, alpha=0.15)
        ax.set_xlim(lrs[0] / 1.3, lrs[-1] * 1.3)       # set before the log scale: every run may have diverged
        ax.set_xscale("log")
        ax.set_xlabel("lr")
        if claim in ("1: faster", "2: less tuning"):
            if any(np.isfinite(m).any() for m, _ in curves.values()):
                ax.set_yscale("log")
            ax.set_ylabel(f"mean final loss over {seeds} seeds (x: diverged)")
        elif claim == "3: escape":
            ax.set(ylabel="fraction that escaped", ylim=(-0.03, 1.03))
        else:
            ax.set(ylabel="test error", ylim=(-0.03, 0.6))
        ax.set_title(f"claim {claim} on {problem}, {steps} steps: {CLAIMS[claim]}", fontsize=10)
        ax.legend(fontsize=8)
        fig.tight_layout()
        if diverged:
            message += ". " + "; ".join(diverged.values())
        return message

    explorer = Explorer(controls, fig, draw, reactions={"claim": on_claim},
                        layout_rows=[[controls["claim"], controls["problem"], controls["optimizers"]],
                                     [controls["steps"], controls["seeds"], controls["lr_range"]]])
    return explorer
