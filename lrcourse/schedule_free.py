"""Schedule-free SGD and AdamW (Defazio et al. 2024, "The Road Less Scheduled").

Drop-ins for ``schedulefree.SGDScheduleFree`` and ``schedulefree.AdamWScheduleFree``
(schedulefree 1.4.1): same constructor signatures and defaults, same param-group
keys (``k``, ``train_mode``, ``weight_sum``, ``lr_max``, ``scheduled_lr`` ...), same
state names (``z``, ``exp_avg_sq``), same ``train()`` / ``eval()`` switch, and in
float64 the same numbers step after step (tests/test_schedule_free.py).

The idea. A schedule (cosine, linear decay) makes the last iterates small steps
around a point; schedule-free learning gets the same effect from an *average*
instead, with no stopping time to choose. Three sequences:

    z_{t+1} = z_t - lr_t * g(y_t)                       the plain SGD (or Adam) steps
    x_{t+1} = (1 - c_{t+1}) x_t + c_{t+1} z_{t+1}       a running weighted average of the z's
    y_t     = (1 - beta) z_t + beta x_t                 the point where the gradient is taken

``x`` is what you evaluate (the average); ``z`` is where the raw steps go; ``y``
interpolates between them with the momentum ``beta`` (``momentum`` for SGD,
``betas[0]`` for AdamW) and plays the part of momentum. The averaging weights are

    w_t = t^r * lr_max^weight_lr_power,    c_t = w_t / (w_1 + ... + w_t)

where ``lr_max`` is the largest (warmed-up) lr seen so far, so that the steps
taken at a tiny lr early in the warm-up count little in the average. With
``r = 0`` and no warm-up, c_t = 1/t: x is the plain mean of the z's.

Memory: only ``y`` (kept in the parameter tensor itself during training) and
``z`` (in the state) are stored; ``x`` is recovered from them when needed,
x = (y - (1 - beta) z) / beta. That is what ``train()`` and ``eval()`` do:

- ``eval()``: parameters <- x (the average; evaluate and save checkpoints here);
- ``train()``: parameters <- y (where the next gradient must be taken).

Call ``optimizer.train()`` before the first ``step()`` (the optimizer is created
in eval mode, as the reference's is) and ``optimizer.eval()`` before evaluating.
``step()`` in eval mode raises the reference's ``Exception``.

What differs from the reference on purpose: ``p.grad`` is left as the backward
pass wrote it (the reference overwrites it with the weight-decayed or
Adam-normalized gradient); ``foreach`` is accepted and kept in the param groups
but every update runs tensor by tensor, the loop written below (the reference's
foreach path computes the same numbers); NaN hyperparameters are refused where
the reference checks the range.
"""

import torch

from lrcourse import _checks
from lrcourse._torch_steps import evaluate, scratch

__all__ = ["SGDScheduleFree", "AdamWScheduleFree"]

_FOREACH_DEFAULT = hasattr(torch, "_foreach_mul_")  # the reference's default for ``foreach``


class _ScheduleFree(torch.optim.Optimizer):
    """What both methods share: train()/eval(), the weights c_t, the y and z updates.

    A subclass gives ``_beta(group)`` (the interpolation constant) and
    ``_direction(p, state, group, k)``: the step direction for z at y = p
    (the gradient for SGD, the Adam-normalized gradient for AdamW).
    """

    def _beta(self, group):  # pragma: no cover - every subclass writes its own
        raise NotImplementedError

    def _init_state(self, state, p):
        state["z"] = torch.clone(p, memory_format=torch.preserve_format)  # z_1 = x_1 = y_1 = initial weights

    def _direction(self, p, state, group, k):  # pragma: no cover - every subclass writes its own
        raise NotImplementedError

    def _buffer(self, p, name):
        """A scratch tensor shaped like ``p``, reused at every step and not part of the state."""
        return scratch(self, p, name)

    @torch.no_grad()
    def eval(self):
        """Parameters <- x, the average: x = (y - (1 - beta) z) / beta."""
        for group in self.param_groups:
            beta = self._beta(group)
            if group["train_mode"]:
                for p in group["params"]:
                    state = self.state[p]
                    if "z" in state:
                        # x = y + (1 - 1/beta) (z - y), the same as (y - (1 - beta) z) / beta
                        p.lerp_(end=state["z"].to(p.device), weight=1 - 1 / beta)
                group["train_mode"] = False

    @torch.no_grad()
    def train(self):
        """Parameters <- y, the gradient point: y = (1 - beta) z + beta x."""
        for group in self.param_groups:
            beta = self._beta(group)
            if not group["train_mode"]:
                for p in group["params"]:
                    state = self.state[p]
                    if "z" in state:
                        p.lerp_(end=state["z"].to(p.device), weight=1 - beta)  # y = x + (1 - beta) (z - x)
                group["train_mode"] = True

    @torch.no_grad()
    def step(self, closure=None):
        # The reference looks at the first group only, and raises a plain Exception.
        if not self.param_groups[0]["train_mode"]:
            raise Exception("Optimizer was not in train mode when step is called. "
                            "Please insert .train() and .eval() calls on the "
                            "optimizer. See documentation for details.")
        loss = evaluate(closure)
        for group in self.param_groups:
            k = group["k"]  # steps this group has taken; this one is step t = k + 1
            warmup_steps = group["warmup_steps"]
            sched = (k + 1) / warmup_steps if k < warmup_steps else 1.0  # linear warm-up: t / warmup_steps
            lr = group["lr"] * sched                                     # lr_t = lr * sched
            group["scheduled_lr"] = lr                                   # kept for logging, as the reference does
            lr_max = group["lr_max"] = max(lr, group["lr_max"])          # lr_max = max(lr_1, ..., lr_t)
            weight = ((k + 1) ** group["r"]) * (lr_max ** group["weight_lr_power"])  # w_t = t^r lr_max^p
            weight_sum = group["weight_sum"] = group["weight_sum"] + weight          # w_1 + ... + w_t
            try:
                ckp1 = weight / weight_sum                               # c_t = w_t / (w_1 + ... + w_t)
            except ZeroDivisionError:                                    # lr = 0: every weight is 0
                ckp1 = 0
            beta = self._beta(group)
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
                state = self.state[p]
                if "z" not in state:
                    self._init_state(state, p)
                z = state["z"]
                y = p                                                    # during training the parameter holds y
                d = self._direction(p, state, group, k)                  # g(y_t), or Adam's g / (sqrt(v) + eps)
                if group["weight_decay"] != 0:
                    d = d.add_(y, alpha=group["weight_decay"])           # d + wd y  (decay taken at y)
                # y_{t+1} = (1 - beta) z_{t+1} + beta x_{t+1}, with z_{t+1} = z_t - lr d and
                # x_{t+1} = (1 - c) x_t + c z_{t+1}, written in y and z only (x is never stored):
                #   y_{t+1} = (1 - c) y_t + c z_t + lr (beta (1 - c) - 1) d
                y.lerp_(end=z, weight=ckp1)                              # (1 - c) y + c z
                y.add_(d, alpha=lr * (beta * (1 - ckp1) - 1))            # ... + lr (beta (1 - c) - 1) d
                z.sub_(d, alpha=lr)                                      # z_{t+1} = z_t - lr d
            group["k"] = k + 1
        return loss


class SGDScheduleFree(_ScheduleFree):
    """Schedule-free SGD: z takes plain SGD steps; the interpolation constant is ``momentum``.

    Arguments as ``schedulefree.SGDScheduleFree``: ``lr`` (1.0), ``momentum``
    (beta, 0.9, strictly between 0 and 1), ``weight_decay`` (an L2 term added
    to the gradient at y, 0), ``warmup_steps`` (linear warm-up, 0), ``r`` (the
    power of t in the averaging weights, 0), ``weight_lr_power`` (the power of
    lr_max in them, 2), ``foreach`` (kept, not used: see the module docstring).
    """

    def __init__(self, params, lr=1.0, momentum=0.9, weight_decay=0, warmup_steps=0, r=0.0,
                 weight_lr_power=2, foreach=_FOREACH_DEFAULT):
        _checks.lr(lr)                                       # the reference's words: "Invalid learning rate: ..."
        _checks.nonnegative(weight_decay, "weight_decay")   # "Invalid weight_decay value: ..."
        if not 0 < momentum < 1:                             # beta = 0 would leave x undefined, beta = 1 never moves
            raise ValueError("Momentum must be between 0 and 1 exclusive: {}".format(momentum))
        defaults = dict(lr=lr, momentum=momentum, r=r, k=0, warmup_steps=warmup_steps, train_mode=False,
                        weight_sum=0.0, lr_max=-1.0, scheduled_lr=0.0, weight_lr_power=weight_lr_power,
                        weight_decay=weight_decay, foreach=foreach)
        super().__init__(params, defaults)

    def _beta(self, group):
        return group["momentum"]

    def _direction(self, p, state, group, k):
        if group["weight_decay"] != 0:                       # wd y will be added: work on a copy of g
            return self._buffer(p, "d").copy_(p.grad)        # g, leaving p.grad as backward wrote it
        return p.grad                                        # g


class AdamWScheduleFree(_ScheduleFree):
    """Schedule-free AdamW: z takes Adam steps without first moment; beta = ``betas[0]``.

    The first moment of Adam is replaced by the y/x interpolation, so only the
    second moment is kept: v_t = beta2 v_{t-1} + (1 - beta2) g^2, bias-corrected,
    and z moves along g / (sqrt(v_t / (1 - beta2^t)) + eps) + wd y.

    Arguments as ``schedulefree.AdamWScheduleFree``: ``lr`` (0.0025), ``betas``
    ((0.9, 0.999)), ``eps`` (1e-8), ``weight_decay`` (0), ``warmup_steps`` (0),
    ``r`` (0), ``weight_lr_power`` (2.0), ``foreach`` (kept, not used). The
    reference checks none of them; torch.optim.AdamW's checks and words are used.
    """

    def __init__(self, params, lr=0.0025, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, warmup_steps=0,
                 r=0.0, weight_lr_power=2.0, foreach=_FOREACH_DEFAULT):
        _checks.lr(lr)
        _checks.eps(eps)
        _checks.betas(betas)
        _checks.nonnegative(weight_decay, "weight_decay")
        defaults = dict(lr=lr, betas=betas, eps=eps, r=r, k=0, warmup_steps=warmup_steps, train_mode=False,
                        weight_sum=0.0, lr_max=-1.0, scheduled_lr=0.0, weight_lr_power=weight_lr_power,
                        weight_decay=weight_decay, foreach=foreach)
        super().__init__(params, defaults)

    def _beta(self, group):
        return group["betas"][0]

    def _init_state(self, state, p):
        super()._init_state(state, p)
        state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)  # v_0 = 0

    def _direction(self, p, state, group, k):
        beta2 = group["betas"][1]
        g = p.grad
        v = state["exp_avg_sq"].mul_(beta2).addcmul_(g, g, value=1 - beta2)  # v_t = beta2 v + (1 - beta2) g^2
        d = torch.div(v, 1 - beta2 ** (k + 1), out=self._buffer(p, "d"))      # v_t / (1 - beta2^t)
        d.sqrt_().add_(group["eps"])                                          # sqrt(...) + eps
        return torch.div(g, d, out=d)                                         # g / (sqrt(v_hat) + eps)
