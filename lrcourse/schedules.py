"""Learning-rate schedules as pure functions of the step.

Each factory returns ``f(step) -> lr``. ``step`` counts ``scheduler.step()``
calls from 0, so ``f(0)`` is the lr at construction, exactly as in
``torch.optim.lr_scheduler``; the tests check every factory against its torch
twin. Because a schedule is just a function it can be plotted
(``[f(t) for t in range(T)]``), composed (``warmup(cosine(...), 10)``) and
tested by itself; nothing about schedules hides inside an optimizer::

    f = cosine(lr=0.1, T_max=100)
    for t in range(100):
        opt.lr = f(t)
        x = opt.step(x, grad(x))

To drive a ``torch.optim`` optimizer use ``to_torch(optimizer, f)``.
``ReduceLROnPlateau`` is the one stateful helper: it reacts to a metric.
"""

import bisect
import math
import numbers

from lrcourse import _checks

__all__ = [
    "constant", "time_based", "step_decay", "multi_step", "exponential", "polynomial", "cosine",
    "cosine_warm_restarts", "linear", "cyclic", "cyclic_momentum", "one_cycle", "one_cycle_momentum",
    "warmup", "sequential", "ReduceLROnPlateau", "to_torch",
]


def _schedule(name, rule):
    """Wrap ``rule(step)`` so that the step is checked and the function has a readable name."""

    def f(step):
        _checks.step(step)
        return rule(int(step))

    f.__name__ = f.__qualname__ = name
    return f


def constant(lr):
    """lr_t = lr."""
    _checks.lr(lr)
    return _schedule(f"constant(lr={lr})", lambda t: lr)


def time_based(lr, decay):
    """lr_t = lr / (1 + decay * t), the classic 1/t decay (Keras' time-based decay)."""
    _checks.lr(lr)
    _checks.nonnegative(decay, "decay")
    return _schedule(f"time_based(lr={lr}, decay={decay})", lambda t: lr / (1 + decay * t))


def step_decay(lr, step_size, gamma=0.1):
    """lr_t = lr * gamma ** (t // step_size)            (torch StepLR)."""
    _checks.lr(lr)
    _checks.positive_int(step_size, "step_size")
    return _schedule(f"step_decay(lr={lr}, step_size={step_size}, gamma={gamma})",
                     lambda t: lr * gamma ** (t // step_size))


def multi_step(lr, milestones, gamma=0.1):
    """lr_t = lr * gamma ** (number of milestones <= t)  (torch MultiStepLR)."""
    _checks.lr(lr)
    milestones = sorted(milestones)
    for m in milestones:
        _checks.positive_int(m, "milestone")
    return _schedule(f"multi_step(lr={lr}, milestones={milestones}, gamma={gamma})",
                     lambda t: lr * gamma ** bisect.bisect_right(milestones, t))


def exponential(lr, gamma):
    """lr_t = lr * gamma ** t                            (torch ExponentialLR)."""
    _checks.lr(lr)
    _checks.positive(gamma, "gamma")
    return _schedule(f"exponential(lr={lr}, gamma={gamma})", lambda t: lr * gamma ** t)


def polynomial(lr, total_iters=5, power=1.0):
    """lr_t = lr * (1 - min(t, T) / T) ** power          (torch PolynomialLR)."""
    _checks.lr(lr)
    _checks.positive_int(total_iters, "total_iters")
    return _schedule(f"polynomial(lr={lr}, total_iters={total_iters}, power={power})",
                     lambda t: lr * (1.0 - min(t, total_iters) / total_iters) ** power)


def _cosine_between(high, low, t, period):
    """The half cosine from ``high`` at t = 0 to ``low`` at t = period."""
    return low + (high - low) * (1 + math.cos(math.pi * t / period)) / 2


def cosine(lr, T_max, eta_min=0.0):
    """lr_t = eta_min + (lr - eta_min) * (1 + cos(pi t / T_max)) / 2   (torch CosineAnnealingLR).

    Past T_max the cosine goes on (back up to lr at 2 T_max), as torch's does.
    """
    _checks.lr(lr)
    _checks.positive_int(T_max, "T_max")
    return _schedule(f"cosine(lr={lr}, T_max={T_max}, eta_min={eta_min})",
                     lambda t: _cosine_between(lr, eta_min, t, T_max))


def cosine_warm_restarts(lr, T_0, T_mult=1, eta_min=0.0):
    """Cosine from lr to eta_min over T_i steps, then restart; T_i = T_0 * T_mult ** i.

    (torch CosineAnnealingWarmRestarts, SGDR of Loshchilov & Hutter 2017.)
    """
    _checks.lr(lr)
    if isinstance(T_0, bool) or not isinstance(T_0, numbers.Integral) or T_0 <= 0:
        raise ValueError(f"Expected positive integer T_0, but got {T_0}")
    if isinstance(T_mult, bool) or not isinstance(T_mult, numbers.Integral) or T_mult < 1:
        raise ValueError(f"Expected integer T_mult >= 1, but got {T_mult}")

    def rule(t):
        if T_mult == 1:
            return _cosine_between(lr, eta_min, t % T_0, T_0)
        T_i = T_0
        while t >= T_i:  # walk through the finished cycles: O(log t) of them
            t -= T_i
            T_i *= T_mult
        return _cosine_between(lr, eta_min, t, T_i)

    return _schedule(f"cosine_warm_restarts(lr={lr}, T_0={T_0}, T_mult={T_mult}, "
                     f"eta_min={eta_min})", rule)


def linear(lr, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
    """lr_t = lr * (start + (end - start) * min(t, T) / T)   (torch LinearLR)."""
    _checks.lr(lr)
    if start_factor > 1.0 or start_factor <= 0:
        raise ValueError(
            "Starting multiplicative factor expected to be greater than 0 and less or equal to 1.")
    if end_factor > 1.0 or end_factor < 0:
        raise ValueError("Ending multiplicative factor expected to be between 0 and 1.")
    _checks.positive_int(total_iters, "total_iters")
    return _schedule(
        f"linear(lr={lr}, start_factor={start_factor}, end_factor={end_factor}, "
        f"total_iters={total_iters})",
        lambda t: lr * (start_factor + (end_factor - start_factor) * min(t, total_iters)
                        / total_iters))


def _cyclic_height(step_size_up, step_size_down, mode, gamma):
    """``height(t)`` in [0, 1]: the triangle of CyclicLR times its mode's scale (shared by lr and momentum)."""
    _checks.positive_int(step_size_up, "step_size_up")
    step_size_down = step_size_up if step_size_down is None else step_size_down
    _checks.positive_int(step_size_down, "step_size_down")
    scales = {
        "triangular": lambda cycle, t: 1.0,
        "triangular2": lambda cycle, t: 1 / (2.0 ** (cycle - 1)),
        "exp_range": lambda cycle, t: gamma ** t,
    }
    if mode not in scales:
        raise ValueError("mode is invalid and scale_fn is None")
    scale = scales[mode]
    total = float(step_size_up + step_size_down)
    up_ratio = step_size_up / total

    def height(t):
        cycle = math.floor(1 + t / total)
        x = 1.0 + t / total - cycle  # position inside the cycle, 0..1
        triangle = x / up_ratio if x <= up_ratio else (x - 1) / (up_ratio - 1)
        return triangle * scale(cycle, t)

    return height, step_size_down


def cyclic(base_lr, max_lr, step_size_up=2000, step_size_down=None, mode="triangular",
           gamma=1.0):
    """Cyclical learning rate (Smith 2017; torch CyclicLR).

    The lr climbs linearly from base_lr to max_lr in step_size_up steps and
    falls back in step_size_down steps. The height of cycle c (from 1) is
    scaled by 1 (triangular), 1 / 2**(c-1) (triangular2), or by gamma**t at
    step t (exp_range).
    """
    _checks.lr(base_lr)
    _checks.lr(max_lr)
    height, step_size_down = _cyclic_height(step_size_up, step_size_down, mode, gamma)
    return _schedule(f"cyclic(base_lr={base_lr}, max_lr={max_lr}, step_size_up={step_size_up}, "
                     f"step_size_down={step_size_down}, mode={mode!r}, gamma={gamma})",
                     lambda t: base_lr + (max_lr - base_lr) * height(t))


def cyclic_momentum(base_momentum=0.8, max_momentum=0.9, step_size_up=2000, step_size_down=None,
                    mode="triangular", gamma=1.0):
    """The momentum CyclicLR sets with cycle_momentum=True: cycled against the lr.

    momentum_t = max_momentum - (max_momentum - base_momentum) * height_t, where
    height_t is the one of ``cyclic`` with the same arguments: high momentum
    where the lr is low, and the other way round.
    """
    height, step_size_down = _cyclic_height(step_size_up, step_size_down, mode, gamma)
    return _schedule(f"cyclic_momentum(base_momentum={base_momentum}, max_momentum={max_momentum}, "
                     f"step_size_up={step_size_up}, step_size_down={step_size_down}, mode={mode!r}, "
                     f"gamma={gamma})",
                     lambda t: max_momentum - (max_momentum - base_momentum) * height(t))


def _one_cycle_phases(total_steps, pct_start, anneal_strategy, three_phase, start, peak, end):
    """``value(t)`` of a one-cycle curve from ``start`` to ``peak`` (and back) to ``end``."""
    _checks.positive_int(total_steps, "total_steps")
    if not isinstance(pct_start, numbers.Real) or not 0 <= pct_start <= 1:
        raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
    anneals = {
        "cos": lambda a, b, pct: b + (a - b) / 2.0 * (math.cos(math.pi * pct) + 1),
        "linear": lambda a, b, pct: (b - a) * pct + a,
    }
    if anneal_strategy not in anneals:
        raise ValueError(
            f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
    anneal = anneals[anneal_strategy]
    warm_end = float(pct_start * total_steps) - 1
    if three_phase:  # (end step, value at its start, value at its end) for each phase
        phases = [(warm_end, start, peak),
                  (float(2 * pct_start * total_steps) - 2, peak, start),
                  (total_steps - 1, start, end)]
    else:
        phases = [(warm_end, start, peak), (total_steps - 1, peak, end)]

    def value(t):
        if t > total_steps:
            raise ValueError(
                f"Tried to step {t} times. The specified number of total steps is {total_steps}")
        start_step = 0.0
        for i, (end_step, a, b) in enumerate(phases):
            if t <= end_step or i == len(phases) - 1:
                return anneal(a, b, (t - start_step) / (end_step - start_step))
            start_step = end_step

    return value


def one_cycle(max_lr, total_steps, pct_start=0.3, anneal_strategy="cos", div_factor=25.0,
              final_div_factor=1e4, three_phase=False):
    """One-cycle policy (Smith & Topin 2019; torch OneCycleLR).

    Warm up from max_lr/div_factor to max_lr over pct_start of the steps, then
    anneal to max_lr/(div_factor*final_div_factor) at step total_steps - 1;
    three_phase goes back down to the initial lr before the final annealing.
    Asking for a step beyond total_steps raises ValueError, as torch does.
    """
    _checks.lr(max_lr)
    initial_lr = max_lr / div_factor
    rule = _one_cycle_phases(total_steps, pct_start, anneal_strategy, three_phase,
                             initial_lr, max_lr, initial_lr / final_div_factor)
    return _schedule(f"one_cycle(max_lr={max_lr}, total_steps={total_steps}, "
                     f"pct_start={pct_start}, anneal_strategy={anneal_strategy!r}, "
                     f"div_factor={div_factor}, final_div_factor={final_div_factor}, "
                     f"three_phase={three_phase})", rule)


def one_cycle_momentum(total_steps, pct_start=0.3, anneal_strategy="cos", base_momentum=0.85,
                       max_momentum=0.95, three_phase=False):
    """The momentum OneCycleLR sets with cycle_momentum=True (Smith & Topin 2019).

    The same phases as ``one_cycle``, run the other way: from max_momentum down
    to base_momentum while the lr climbs, and back up to max_momentum while it
    falls (three_phase: back up in the second phase, then kept at max_momentum).
    """
    rule = _one_cycle_phases(total_steps, pct_start, anneal_strategy, three_phase,
                             max_momentum, base_momentum, max_momentum)
    return _schedule(f"one_cycle_momentum(total_steps={total_steps}, pct_start={pct_start}, "
                     f"anneal_strategy={anneal_strategy!r}, base_momentum={base_momentum}, "
                     f"max_momentum={max_momentum}, three_phase={three_phase})", rule)


def warmup(schedule, warmup_steps, start_factor=1.0 / 3, mode="linear"):
    """Warm-up in front of any schedule.

    For t < warmup_steps the lr climbs from start_factor*schedule(0) towards
    schedule(0): linearly (``mode="linear"``, factor start + (1 - start) t / T)
    or geometrically (``mode="exponential"``, factor start ** (1 - t / T), the
    same ratio every step). From then on it is schedule(t - warmup_steps), so
    the wrapped schedule starts where the warm-up ends. (torch: SequentialLR of
    a LinearLR with end_factor 1, or of a LambdaLR for the exponential one, and
    the schedule, milestone warmup_steps; the default start_factor and the rule
    0 < start_factor <= 1 are LinearLR's.)
    """
    _checks.positive_int(warmup_steps, "warmup_steps")
    if not 0 < start_factor <= 1:
        raise ValueError(
            "Starting multiplicative factor expected to be greater than 0 and less or equal to 1.")
    shapes = {"linear": lambda t: start_factor + (1.0 - start_factor) * t / warmup_steps,
              "exponential": lambda t: start_factor ** (1.0 - t / warmup_steps)}
    if mode not in shapes:
        raise ValueError(f"mode must be one of 'linear' or 'exponential', instead got {mode}")
    shape = shapes[mode]
    peak = schedule(0)

    def rule(t):
        if t < warmup_steps:
            return peak * shape(t)
        return schedule(t - warmup_steps)

    name = getattr(schedule, "__name__", "schedule")
    extra = "" if mode == "linear" else f", mode={mode!r}"
    return _schedule(f"warmup({name}, warmup_steps={warmup_steps}, start_factor={start_factor}{extra})",
                     rule)


def sequential(schedules, milestones):
    """One schedule after another (torch SequentialLR).

    Schedule i runs from milestone i-1 (0 for the first) with its own step
    counted from 0 there: lr_t = schedules[i](t - milestones[i-1]).
    ``warmup(s, T)`` is ``sequential([linear warm-up, s], [T])``.
    """
    schedules, milestones = list(schedules), list(milestones)
    if len(milestones) != len(schedules) - 1:
        raise ValueError(
            "Sequential Schedulers expects number of schedulers provided to be one more than the "
            f"number of milestone points, but got number of schedulers {len(schedules)} and the "
            f"number of milestones to be equal to {len(milestones)}")
    for m in milestones:
        _checks.positive_int(m, "milestone")
    if milestones != sorted(milestones):
        raise ValueError(f"Expected increasing milestones, but got {milestones}")
    starts = [0] + milestones

    def rule(t):
        i = bisect.bisect_right(milestones, t)
        return schedules[i](t - starts[i])

    names = ", ".join(getattr(f, "__name__", "schedule") for f in schedules)
    return _schedule(f"sequential([{names}], milestones={milestones})", rule)


class ReduceLROnPlateau:
    """Cut the lr by ``factor`` when a metric stops improving (torch ReduceLROnPlateau).

    Stateful, unlike the schedules: it reacts to what it is shown. Call
    ``step(metric)`` once per evaluation; it returns the lr to use next::

        plateau = ReduceLROnPlateau(lr=0.1, patience=5)
        for epoch in range(50):
            ...
            opt.lr = plateau.step(validation_loss)

    A metric counts as better than the best so far when it beats it by more
    than ``threshold`` (relative or absolute); after more than ``patience``
    evaluations without improvement the lr is multiplied by ``factor`` (never
    below ``min_lr``), then ``cooldown`` evaluations are ignored.
    """

    def __init__(self, lr, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        _checks.lr(lr)
        if factor >= 1.0:
            raise ValueError("Factor should be < 1.0.")
        if mode not in ("min", "max"):
            raise ValueError("mode " + str(mode) + " is unknown!")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError("threshold mode " + str(threshold_mode) + " is unknown!")
        self.lr, self.mode, self.factor, self.patience = lr, mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.min_lr, self.eps = cooldown, min_lr, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def is_better(self, metric):
        sign = 1.0 if self.mode == "min" else -1.0  # for "max", compare the negated values
        if self.threshold_mode == "rel":
            return sign * metric < sign * self.best * (1.0 - sign * self.threshold)
        return sign * metric < sign * self.best - self.threshold

    def step(self, metric):
        metric = float(metric)
        if self.is_better(metric):
            self.best, self.num_bad_epochs = metric, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # evaluations during cooldown do not count
        if self.num_bad_epochs > self.patience:
            new_lr = max(self.lr * self.factor, self.min_lr)
            if self.lr - new_lr > self.eps:
                self.lr = new_lr
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        return self.lr


def to_torch(optimizer, schedule):
    """A torch lr scheduler that sets ``optimizer``'s lr to ``schedule(step)``.

    ``schedule`` is one function for all param groups or a list of them; call
    ``.step()`` on the result as on any torch scheduler. (Imports torch.)
    """
    from lrcourse.torch_optim import ScheduleLR

    return ScheduleLR(optimizer, schedule)
