"""The learning-rate range test (Smith 2017), as torch-lr-finder and fastai run it.

One short training run whose lr grows every iteration, exponentially ("exp")
or linearly ("linear"), from ``start_lr`` to ``end_lr``. The loss is smoothed
with an exponential moving average and the run stops as soon as the smoothed
loss exceeds ``diverge_th`` times the best one seen: the lr has become too
large. An lr is then read off the curve, by default where the smoothed loss
falls fastest::

    result = range_test(model, torch.optim.SGD(model.parameters(), lr=1e-5), loss_fn, loader)
    result.suggestion()        # the steepest descent of the smoothed loss
    result.suggest("valley")   # or one of fastai's rules: "minimum", "steep", "valley", "slide"

The numbers are those of torch-lr-finder 0.2.2 (``LRFinder.range_test`` and
``LRFinder.plot(suggest_lr=True)``): the same model, data and seed give the
same lrs, losses and suggestion. Two things differ on purpose: the model's
weights, its train/eval mode and the optimizer's state are restored afterwards
(torch-lr-finder asks for a separate ``reset()``), and a loss that becomes NaN
or infinite ends the test as diverged (torch-lr-finder carries NaN on to the
last iteration, since NaN is never larger than the threshold).

The four rules of fastai's ``lr_find`` are written here from their documented
definitions, as functions of the (lrs, losses) curve:

- ``minimum``: a tenth of the lr at which the smoothed loss is lowest;
- ``steep``:   the lr at which the loss falls fastest per unit of log lr;
- ``valley``:  inside the longest stretch over which the loss keeps falling
               (the longest decreasing subsequence), the point half-way
               through its middle third;
- ``slide``:   walking back from the end, the first lr at which the slope
               15 points apart agrees within 0.005 (the loss has flattened).
"""

import copy
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["range_test", "RangeTest", "RULES", "lr_sequence", "smooth", "steepest", "minimum", "steep", "valley",
           "slide"]


def lr_sequence(start_lr, end_lr, num_iter, step_mode="exp"):
    """The lrs a range test uses at iterations 0 .. num_iter-1, written as torch-lr-finder computes them."""
    _check_schedule(end_lr, num_iter, step_mode)
    mode = step_mode.lower()
    out = []
    for i in range(num_iter):
        r = i / (num_iter - 1)
        out.append(start_lr * (end_lr / start_lr) ** r if mode == "exp" else start_lr + r * (end_lr - start_lr))
    return out


def _check_schedule(end_lr, num_iter, step_mode):
    if not isinstance(step_mode, str) or step_mode.lower() not in ("exp", "linear"):
        raise ValueError(f"expected one of (exp, linear), got {step_mode}")
    if not isinstance(num_iter, (int, np.integer)) or isinstance(num_iter, bool) or num_iter <= 1:
        raise ValueError("`num_iter` must be larger than 1")
    if not end_lr > 0:
        raise ValueError(f"Invalid end learning rate: {end_lr}")


class _Smoother:
    """torch-lr-finder's bookkeeping: the first loss as it is, then an exponential moving average; the
    best smoothed loss so far; stop once the smoothed loss passes ``diverge_th`` times the best (or is not
    finite)."""

    def __init__(self, smooth_f, diverge_th):
        self.smooth_f, self.diverge_th = smooth_f, diverge_th
        self.losses, self.best = [], None

    def add(self, value):
        """Record one raw loss; True when the test stops here."""
        if self.losses:
            if self.smooth_f > 0:
                value = self.smooth_f * value + (1 - self.smooth_f) * self.losses[-1]
            self.best = min(self.best, value)
        else:
            self.best = value
        self.losses.append(value)
        return value > self.diverge_th * self.best or not math.isfinite(value)


def smooth(raw_losses, smooth_f=0.05, diverge_th=5.0):
    """(smoothed losses, stopped): what a range test records for these raw losses, up to the one it stops at."""
    smoother = _Smoother(smooth_f, diverge_th)
    for value in raw_losses:
        if smoother.add(value):
            return smoother.losses, True
    return smoother.losses, False


def _next_batch(state, batches):
    """The next (inputs, targets) of ``batches``, starting it again when it is exhausted."""
    try:
        batch = next(state["iter"])
    except StopIteration:
        state["iter"] = iter(batches)
        try:
            batch = next(state["iter"])
        except StopIteration:
            raise ValueError("`batches` gave no batch when started again: pass something that can be iterated "
                             "more than once, such as a DataLoader or a list of (inputs, targets), not a "
                             "generator") from None
    if not isinstance(batch, (list, tuple)) or len(batch) < 2:
        raise ValueError(f"each batch must be a pair (inputs, targets), got {type(batch).__name__}")
    return batch[0], batch[1]


def _to(obj, device):
    if hasattr(obj, "to"):
        return obj.to(device)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to(o, device) for o in obj)
    if isinstance(obj, dict):
        return {k: _to(v, device) for k, v in obj.items()}
    return obj


def range_test(model, optimizer, loss_fn, batches, start_lr=None, end_lr=10.0, num_iter=100,
               step_mode="exp", smooth_f=0.05, diverge_th=5.0):
    """Run the range test and return a ``RangeTest`` (``.lrs``, smoothed ``.losses``, ``.suggestion()``).

    ``batches`` is any iterable of (inputs, targets), such as a DataLoader, started again when exhausted;
    each batch is moved to the device of the model's first parameter. ``start_lr`` (if given) replaces the
    optimizer's lr in every param group; otherwise each group starts from its own lr. The model's weights,
    its train/eval mode and the optimizer's state (lrs included) are as before when the test returns.
    """
    _check_schedule(end_lr, num_iter, step_mode)
    if not 0 <= smooth_f < 1:
        raise ValueError("smooth_f is outside the range [0, 1[")
    if not diverge_th >= 1:   # inf is allowed: then only a loss that is not finite stops the test
        raise ValueError(f"diverge_th must be at least 1 (a multiple of the best loss), got {diverge_th}")
    if start_lr is not None and not start_lr > 0:
        raise ValueError(f"Invalid learning rate: {start_lr}")
    groups = optimizer.param_groups
    base_lrs = [float(start_lr if start_lr is not None else group["lr"]) for group in groups]
    if not all(lr > 0 for lr in base_lrs):
        raise ValueError(f"Invalid learning rate: {min(base_lrs)} (the range test starts from it and multiplies "
                         "it; pass start_lr > 0)")
    schedules = [lr_sequence(lr, end_lr, num_iter, step_mode) for lr in base_lrs]

    model_state = copy.deepcopy(model.state_dict())
    optimizer_state = copy.deepcopy(optimizer.state_dict())
    was_training = model.training
    device = next(model.parameters()).device
    state = {"iter": iter(batches)}
    lrs, raw, smoother, diverged = [], [], _Smoother(smooth_f, diverge_th), False
    try:
        for i in range(num_iter):
            for group, schedule in zip(groups, schedules):
                group["lr"] = schedule[i]
            inputs, targets = _next_batch(state, batches)
            model.train()
            optimizer.zero_grad()
            loss = loss_fn(model(_to(inputs, device)), _to(targets, device))
            loss.backward()
            optimizer.step()
            raw.append(loss.item())
            lrs.append(schedules[0][i])
            if smoother.add(raw[-1]):
                diverged = True
                break
    finally:
        model.load_state_dict(model_state)
        optimizer.load_state_dict(optimizer_state)
        model.train(was_training)
    return RangeTest(lrs=lrs, losses=smoother.losses, raw_losses=raw, diverged=diverged,
                     step_mode=step_mode.lower(), num_iter=num_iter)


# ------------------------------------------------------------------ reading an lr off the curve
def steepest(lrs, losses):
    """torch-lr-finder's suggestion: the lr where ``np.gradient`` of the losses (per point) is lowest."""
    return float(lrs[int(np.argmin(np.gradient(np.asarray(losses, dtype=float))))])


def minimum(lrs, losses):
    """fastai's ``minimum``: a tenth of the lr with the lowest (smoothed) loss."""
    return float(lrs[int(np.argmin(losses))]) / 10


def steep(lrs, losses):
    """fastai's ``steep``: the left end of the segment with the most negative slope in log lr."""
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    slopes = np.diff(losses) / np.diff(np.log(lrs))
    return float(lrs[int(np.argmin(slopes))])


def valley(lrs, losses):
    """fastai's ``valley``: inside the longest decreasing run of losses, the point half-way through its middle third.

    The "run" is the longest strictly decreasing subsequence (not necessarily contiguous) ending at some point;
    it starts ``length`` points before that end, and the lr is taken ``third + third / 2`` points after its start.
    """
    n = len(losses)
    length = [1] * n
    start = end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and length[i] < length[j] + 1:
                length[i] = length[j] + 1
            if length[end] < length[i]:
                end = i
                start = end - length[end]
    third = (end - start) / 3
    return float(lrs[start + int(third) + int(third / 2)])


def slide(lrs, losses, lr_diff=15, thresh=0.005, adjust_value=1.0):
    """fastai's ``slide``: from the right end, slide a window of ``lr_diff`` points left while the slopes at its
    two ends differ by more than ``thresh``; the lr at the window's left end when they agree (or at the far
    left) times ``adjust_value``."""
    if len(losses) < lr_diff + 1:
        raise ValueError(f"slide needs more than lr_diff = {lr_diff} points, got {len(losses)}")
    slopes = np.gradient(np.asarray(losses, dtype=float))
    right, left = -1, -1 - lr_diff
    found = lrs[left]
    while left >= -len(losses) and abs(slopes[right] - slopes[left]) > thresh:
        found = lrs[left]
        right -= 1
        left -= 1
    return float(found) * adjust_value


RULES = {"steepest": steepest, "minimum": minimum, "steep": steep, "valley": valley, "slide": slide}


@dataclass
class RangeTest:
    """What a range test measured: one entry per iteration run."""

    lrs: list
    losses: list          # smoothed, as torch-lr-finder's history["loss"]
    raw_losses: list      # the loss of each batch before smoothing
    diverged: bool        # the test stopped early: the smoothed loss passed diverge_th times its best
    step_mode: str = "exp"
    num_iter: int = field(default=0)

    def resmoothed(self, smooth_f=0.05, diverge_th=5.0):
        """The test these raw losses give with other smoothing and stopping settings (no new training): the
        same up to the point where this one stopped, so run it with ``diverge_th=float("inf")`` first."""
        losses, diverged = smooth(self.raw_losses, smooth_f, diverge_th)
        n = len(losses)
        return RangeTest(self.lrs[:n], losses, self.raw_losses[:n], diverged or (self.diverged and n == len(self.lrs)),
                         self.step_mode, self.num_iter)

    def window(self, skip_start=10, skip_end=5):
        """(lrs, losses) without the first ``skip_start`` and the last ``skip_end`` points, as torch-lr-finder's plot."""
        if skip_start < 0:
            raise ValueError("skip_start cannot be negative")
        if skip_end < 0:
            raise ValueError("skip_end cannot be negative")
        stop = len(self.lrs) - skip_end
        return self.lrs[skip_start:stop], self.losses[skip_start:stop]

    def suggest(self, rule="steepest", skip_start=10, skip_end=5):
        """The lr that ``rule`` (a name in ``RULES`` or a function of (lrs, losses)) reads off the trimmed curve."""
        function = RULES.get(rule) if isinstance(rule, str) else rule
        if function is None:
            raise ValueError(f"expected one of ({', '.join(RULES)}), got {rule}")
        if len(self.lrs) < skip_start + skip_end + 2:
            raise RuntimeError(f"Need at least {skip_start + skip_end + 2} iterations to suggest a learning rate. "
                               f"Got {len(self.lrs)}")
        return function(*self.window(skip_start, skip_end))

    def suggestion(self, skip_start=10, skip_end=5):
        """The lr at the steepest descent of the smoothed loss: torch-lr-finder's ``plot(suggest_lr=True)``."""
        return self.suggest("steepest", skip_start, skip_end)

    def plot(self, ax=None, skip_start=10, skip_end=5, rules=("steepest",), log_lr=None):
        """The smoothed loss against the lr (log axis in "exp" mode), each rule's lr marked; returns the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.6))
        lrs, losses = self.window(skip_start, skip_end)
        ax.plot(self.lrs, self.losses, color="0.8", lw=1, label="skipped")
        ax.plot(lrs, losses, color="C0", lw=1.5, label="smoothed loss")
        for k, rule in enumerate(rules):
            if len(self.lrs) < skip_start + skip_end + 2:
                break
            lr = self.suggest(rule, skip_start, skip_end)
            ax.axvline(lr, color=f"C{k + 1}", ls="--", lw=1, label=f"{rule}: {lr:.2e}")
        if log_lr if log_lr is not None else self.step_mode == "exp":
            ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        if self.diverged:
            ax.set_title(f"stopped at lr {self.lrs[-1]:.2e}: the loss diverged", fontsize=10)
        ax.legend(fontsize=8)
        return ax
