"""The course's optimizers as ``torch.optim.Optimizer`` subclasses.

Each class is a drop-in for its ``torch.optim`` twin: same constructor
signature (hyperparameter names, defaults, positions and error messages), same
``step(closure=None)``, same param groups, so a learner can swap
``torch.optim.Adam`` for ``lrcourse.torch_optim.Adam`` in any training loop.
The update rules are the ones in ``lrcourse.optim``, written with torch's
in-place operations so that they are as fast as torch's own single-tensor
code; the comment beside each line gives the equation it implements.

What is left out on purpose: the implementation switches ``foreach``,
``fused``, ``capturable`` and ``differentiable`` are accepted only at their
"off" values (torch's defaults on CPU), and sparse gradients are refused.

``ScheduleLR`` drives any optimizer's lr from a schedule function of
``lrcourse.schedules``. The learning-rate-free methods (``DAdaptSGD``, ``DAdaptAdam``,
``Prodigy``, ``SGDScheduleFree``, ``AdamWScheduleFree``) are defined in ``lrcourse.lr_free`` and
``lrcourse.schedule_free`` and exported here too.
"""

import math

import torch
from torch.optim.lr_scheduler import LRScheduler

from lrcourse import _checks
from lrcourse._torch_steps import evaluate, scratch

__all__ = ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "ScheduleLR"]

_IMPLEMENTATION_SWITCHES = ("foreach", "fused", "capturable", "differentiable")


class _Optimizer(torch.optim.Optimizer):
    """Shared loop: closure, param groups, state creation and the step count.

    A subclass writes ``_init_state(state, p, group)`` and
    ``_update(p, g, state, group)``; ``g`` is already negated under
    ``maximize`` and ``state["step"]`` already counts this step.
    """

    def __init__(self, params, defaults, switches):
        for name, value in switches.items():
            if name not in _IMPLEMENTATION_SWITCHES:
                raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument '{name}'")
            if value:
                raise ValueError(
                    f"lrcourse.torch_optim.{type(self).__name__} implements the plain single-tensor "
                    f"algorithm only; {name}={value!r} is not available (use torch.optim.{type(self).__name__})"
                )
        super().__init__(params, defaults)

    def _buffer(self, p, name="d"):
        """A scratch tensor shaped like ``p``, reused at every step and not part of the state.

        Writing a denominator into it (``torch.sqrt(v, out=...)``) instead of
        allocating a new tensor each step saves the allocation and the page
        faults that come with a fresh multi-megabyte block: on a CPU that is
        most of an optimizer step's time.
        """
        return scratch(self, p, name)

    @torch.no_grad()
    def step(self, closure=None):
        loss = evaluate(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    self._init_state(state, p, group)
                state["step"] += 1
                g = -p.grad if group["maximize"] else p.grad
                self._update(p, g, state, group)
        return loss

    def _init_state(self, state, p, group):
        pass

    def _update(self, p, g, state, group):  # pragma: no cover - every subclass writes its own
        raise NotImplementedError


def _zeros(p):
    return torch.zeros_like(p, memory_format=torch.preserve_format)


class SGD(_Optimizer):
    """SGD with momentum, dampening, Nesterov and weight decay; see ``lrcourse.optim.SGD``."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, **switches):
        _checks.lr(lr)
        _checks.nonnegative(momentum, "momentum")
        _checks.nonnegative(weight_decay, "weight_decay")
        _checks.nesterov(nesterov, momentum, dampening)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults, switches)

    def _update(self, p, g, state, group):
        momentum = group["momentum"]
        if group["weight_decay"] != 0:
            g = g.add(p, alpha=group["weight_decay"])                    # g + wd x
        if momentum != 0:
            buf = state.get("buf")
            if buf is None:
                buf = state["buf"] = g.detach().clone()                  # buf = g at t = 1
            else:
                buf.mul_(momentum).add_(g, alpha=1 - group["dampening"])  # mu buf + (1-d) g
            g = g.add(buf, alpha=momentum) if group["nesterov"] else buf  # g + mu buf | buf
        p.add_(g, alpha=-group["lr"])                                      # x - lr g


class Adagrad(_Optimizer):
    """AdaGrad; see ``lrcourse.optim.Adagrad``."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, **switches):
        _checks.lr(lr)
        _checks.nonnegative(lr_decay, "lr_decay")
        _checks.nonnegative(weight_decay, "weight_decay")
        _checks.nonnegative(initial_accumulator_value, "initial_accumulator_value")
        _checks.eps(eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults, dict(switches, foreach=foreach))

    def _init_state(self, state, p, group):
        state["s"] = torch.full_like(p, group["initial_accumulator_value"],
                                     memory_format=torch.preserve_format)

    def _update(self, p, g, state, group):
        if group["weight_decay"] != 0:
            g = g.add(p, alpha=group["weight_decay"])                      # g + wd x
        lr_t = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])  # lr / (1 + (t-1) decay)
        s = state["s"].addcmul_(g, g, value=1)                             # s + g^2
        d = torch.sqrt(s, out=self._buffer(p)).add_(group["eps"])          # sqrt(s) + eps
        p.addcdiv_(g, d, value=-lr_t)                                      # x - lr_t g / d


class RMSprop(_Optimizer):
    """RMSprop, centered and with momentum; see ``lrcourse.optim.RMSprop``."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        _checks.lr(lr)
        _checks.eps(eps)
        _checks.nonnegative(momentum, "momentum")
        _checks.nonnegative(weight_decay, "weight_decay")
        _checks.nonnegative(alpha, "alpha")
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults, dict(capturable=capturable, foreach=foreach,
                                                differentiable=differentiable))

    def _init_state(self, state, p, group):
        state["v"] = _zeros(p)
        if group["centered"]:
            state["m"] = _zeros(p)
        if group["momentum"] > 0:
            state["buf"] = _zeros(p)

    def _update(self, p, g, state, group):
        alpha = group["alpha"]
        if group["weight_decay"] != 0:
            g = g.add(p, alpha=group["weight_decay"])                  # g + wd x
        v = state["v"].mul_(alpha).addcmul_(g, g, value=1 - alpha)     # alpha v + (1-alpha) g^2
        if group["centered"]:
            m = state["m"].lerp_(g, 1 - alpha)                         # alpha m + (1-alpha) g
            d = torch.addcmul(v, m, m, value=-1, out=self._buffer(p)).sqrt_()  # sqrt(v - m^2)
        else:
            d = torch.sqrt(v, out=self._buffer(p))                     # sqrt(v)
        d.add_(group["eps"])                                           # ... + eps
        if group["momentum"] > 0:
            buf = state["buf"].mul_(group["momentum"]).addcdiv_(g, d)  # mu buf + g / d
            p.add_(buf, alpha=-group["lr"])                            # x - lr buf
        else:
            p.addcdiv_(g, d, value=-group["lr"])                       # x - lr g / d


class Adadelta(_Optimizer):
    """Adadelta; see ``lrcourse.optim.Adadelta``."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 maximize=False, **switches):
        _checks.lr(lr)
        _checks.rho(rho)
        _checks.eps(eps)
        _checks.nonnegative(weight_decay, "weight_decay")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults, dict(switches, foreach=foreach))

    def _init_state(self, state, p, group):
        state["v"], state["u"] = _zeros(p), _zeros(p)

    def _update(self, p, g, state, group):
        rho, eps = group["rho"], group["eps"]
        if group["weight_decay"] != 0:
            g = g.add(p, alpha=group["weight_decay"])                    # g + wd x
        v = state["v"].mul_(rho).addcmul_(g, g, value=1 - rho)           # rho v + (1-rho) g^2
        rms_v = torch.add(v, eps, out=self._buffer(p, "rms_v")).sqrt_()    # sqrt(v + eps)
        dx = torch.add(state["u"], eps, out=self._buffer(p)).sqrt_()     # sqrt(u + eps)
        dx.div_(rms_v).mul_(g)                                           # dx = sqrt(u+eps)/sqrt(v+eps) g
        state["u"].mul_(rho).addcmul_(dx, dx, value=1 - rho)             # rho u + (1-rho) dx^2
        p.add_(dx, alpha=-group["lr"])                                   # x - lr dx


class Adam(_Optimizer):
    """Adam, with AMSGrad and (decoupled) weight decay; see ``lrcourse.optim.Adam``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False, **switches):
        _checks.lr(lr)
        _checks.eps(eps)
        _checks.betas(betas)
        _checks.nonnegative(weight_decay, "weight_decay")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults, switches)

    def _init_state(self, state, p, group):
        state["m"], state["v"] = _zeros(p), _zeros(p)
        if group["amsgrad"]:
            state["v_max"] = _zeros(p)

    def _update(self, p, g, state, group):
        (beta1, beta2), lr, t = group["betas"], group["lr"], state["step"]
        g = _decay_weights(p, g, group)                                  # L2 (Adam) or decoupled (AdamW)
        m = state["m"].lerp_(g, 1 - beta1)                              # beta1 m + (1-beta1) g
        v = state["v"].mul_(beta2).addcmul_(g, g, value=1 - beta2)      # beta2 v + (1-beta2) g^2
        if group["amsgrad"]:
            v = torch.maximum(state["v_max"], v, out=state["v_max"])    # v_max = max(v_max, v)
        denom = torch.sqrt(v, out=self._buffer(p))                      # sqrt(v) ...
        denom.div_(math.sqrt(1 - beta2 ** t)).add_(group["eps"])        # ... = sqrt(v_hat) + eps
        p.addcdiv_(m, denom, value=-lr / (1 - beta1 ** t))              # x - lr m_hat / denom


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay; see ``lrcourse.optim.AdamW``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, **switches):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True, **switches)


def _decay_weights(p, g, group):
    """L2 (returns g + wd x) or, when decoupled, shrinks p in place by (1 - lr wd) (returns g)."""
    if group["weight_decay"] == 0:
        return g
    if group.get("decoupled_weight_decay"):
        p.mul_(1 - group["lr"] * group["weight_decay"])                # x (1 - lr wd)
        return g
    return g.add(p, alpha=group["weight_decay"])                        # g + wd x


def _adam_family_checks(lr, betas, eps, weight_decay):
    _checks.lr(lr)
    _checks.eps(eps)
    _checks.betas(betas)
    _checks.nonnegative(weight_decay, "weight_decay")


class Adamax(_Optimizer):
    """Adamax; see ``lrcourse.optim.Adamax``."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, **switches):
        _adam_family_checks(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults, dict(switches, foreach=foreach))

    def _init_state(self, state, p, group):
        state["m"], state["u"] = _zeros(p), _zeros(p)

    def _update(self, p, g, state, group):
        (beta1, beta2), t = group["betas"], state["step"]
        g = _decay_weights(p, g, group)
        m = state["m"].lerp_(g, 1 - beta1)                              # beta1 m + (1-beta1) g
        bound = torch.abs(g, out=self._buffer(p)).add_(group["eps"])    # |g| + eps
        u = torch.maximum(state["u"].mul_(beta2), bound, out=state["u"])  # max(beta2 u, |g| + eps)
        p.addcdiv_(m, u, value=-group["lr"] / (1 - beta1 ** t))         # x - lr / (1-beta1^t) m / u


class NAdam(_Optimizer):
    """NAdam; see ``lrcourse.optim.NAdam``. ``mu_prod`` is kept as torch keeps it: a scalar tensor in
    torch's default dtype (float32 unless changed)."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, **switches):
        _adam_family_checks(lr, betas, eps, weight_decay)
        _checks.nonnegative(momentum_decay, "momentum_decay")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults, dict(switches, foreach=foreach))

    def _init_state(self, state, p, group):
        scalar = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
        state["m"], state["v"] = _zeros(p), _zeros(p)
        state["mu_prod"] = torch.tensor(1.0, dtype=scalar)

    def _update(self, p, g, state, group):
        (beta1, beta2), lr, t = group["betas"], group["lr"], state["step"]
        g = _decay_weights(p, g, group)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * group["momentum_decay"]))            # mu_t
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * group["momentum_decay"]))  # mu_(t+1)
        mu_prod = state["mu_prod"].mul_(mu).item()                      # mu_1 mu_2 ... mu_t
        m = state["m"].lerp_(g, 1 - beta1)                              # beta1 m + (1-beta1) g
        v = state["v"].mul_(beta2).addcmul_(g, g, value=1 - beta2)      # beta2 v + (1-beta2) g^2
        d = torch.div(v, 1 - beta2 ** t, out=self._buffer(p)).sqrt_().add_(group["eps"])  # sqrt(v_hat) + eps
        p.addcdiv_(g, d, value=-lr * (1 - mu) / (1 - mu_prod))          # the gradient's part
        p.addcdiv_(m, d, value=-lr * mu_next / (1 - mu_prod * mu_next))  # the look-ahead momentum's part


class RAdam(_Optimizer):
    """RAdam; see ``lrcourse.optim.RAdam``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, **switches):
        _adam_family_checks(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults, dict(switches, foreach=foreach))

    def _init_state(self, state, p, group):
        state["m"], state["v"] = _zeros(p), _zeros(p)

    def _update(self, p, g, state, group):
        (beta1, beta2), lr, t = group["betas"], group["lr"], state["step"]
        g = _decay_weights(p, g, group)
        m = state["m"].lerp_(g, 1 - beta1)                              # beta1 m + (1-beta1) g
        v = state["v"].mul_(beta2).addcmul_(g, g, value=1 - beta2)      # beta2 v + (1-beta2) g^2
        m_hat = m / (1 - beta1 ** t)                                    # m / (1 - beta1^t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t)
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            d = torch.sqrt(v, out=self._buffer(p)).add_(group["eps"])   # sqrt(v) + eps
            p.add_(m_hat * lr * ((1 - beta2 ** t) ** 0.5 / d) * rect, alpha=-1.0)  # x - lr m_hat r_t sqrt(1-b2^t)/d
        else:
            p.add_(m_hat * lr, alpha=-1.0)                              # x - lr m_hat (momentum only)


class ScheduleLR(LRScheduler):
    """Drive an optimizer's lr from schedule functions ``f(step) -> lr``.

    ``schedule`` is one function for every param group, or a list with one per
    group. ``scheduler.step()`` counts steps from 0 as torch's schedulers do,
    so at construction the lr becomes ``schedule(0)``::

        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        scheduler = ScheduleLR(opt, schedules.cosine(lr=0.1, T_max=100))
    """

    def __init__(self, optimizer, schedule, last_epoch=-1):
        groups = len(optimizer.param_groups)
        schedules = list(schedule) if isinstance(schedule, (list, tuple)) else [schedule] * groups
        if len(schedules) != groups:
            raise ValueError(f"Expected {groups} schedules, but got {len(schedules)}")
        self.schedules = schedules
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [float(schedule(self.last_epoch)) for schedule in self.schedules]


# The learning-rate-free methods of chapter 14, each equal to its reference package (tests/test_lr_free.py,
# tests/test_schedule_free.py): D-Adaptation (dadaptation 3.2), Prodigy (prodigyopt 1.1.2) and schedule-free
# SGD and AdamW (schedulefree 1.4.1). They live in their own modules; here they join the other drop-ins.
from lrcourse.lr_free import DAdaptAdam, DAdaptSGD, Prodigy  # noqa: E402
from lrcourse.schedule_free import AdamWScheduleFree, SGDScheduleFree  # noqa: E402

__all__ += ["DAdaptSGD", "DAdaptAdam", "Prodigy", "SGDScheduleFree", "AdamWScheduleFree"]
