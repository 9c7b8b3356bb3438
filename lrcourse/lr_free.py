"""Learning-rate-free optimizers: D-Adaptation (SGD, Adam) and Prodigy.

These methods still take an ``lr``, but it is a *multiplier* left at 1.0: the
step size is ``d * lr``, where ``d`` is an estimate of the distance
``D = ||x0 - x*||`` from the start to a solution, grown as training goes on.
The estimate comes from a lower bound on ``D`` that holds for convex problems:
if ``s`` is the weighted sum of the gradients seen so far, then

    D  >=  sum_k lr_k <g_k, s_k>  /  ||s||          (D-Adaptation)

and the right-hand side is computable from the run alone. Every sum is over
*all* the parameter tensors of all the parameter groups, so ``d`` is one number
for the whole model, stored in every param group as ``group["d"]``.

Each class has the class name, constructor signature, defaults, param-group
keys and state of its reference package, and computes the same numbers, in
the same order, as the reference:

- ``DAdaptSGD`` and ``DAdaptAdam``: ``dadaptation`` 3.2 (Defazio and
  Mishchenko, "Learning-Rate-Free Learning by D-Adaptation", ICML 2023);
- ``Prodigy``: ``prodigyopt`` 1.1.2 (Mishchenko and Defazio, "Prodigy: An
  Expeditiously Adaptive Parameter-Free Learner", 2023).

tests/test_lr_free.py runs them side by side with the reference packages in
float64. Things the references do that are kept on purpose, so that the
numbers stay equal:

- the global hyperparameters (betas, momentum, growth rate, bias correction,
  decoupling, and for DAdaptSGD the weight decay) are read from the *first*
  param group; per group the references read only what is noted below;
- coupled (L2) weight decay is added into ``p.grad`` in place, as the
  references do, so after ``step()`` the gradient holds ``g + wd x``;
- all groups must share one lr, except groups with lr 0 (frozen): other
  values raise ``RuntimeError`` (DAdaptAdam offers ``layer_scale`` per group);
- ``fsdp_in_use=True`` all-reduces the sums over the ranks of a
  ``torch.distributed`` process group with the references' own code (a float32
  CUDA tensor); it is not tested here (no process group, no GPU).

Left out: the references' ``print("Using decoupled weight decay")`` in the
constructor. Added: the checks torch makes where a reference makes none
(``weight_decay >= 0``, and ``momentum >= 0`` for DAdaptSGD), in torch's words.
"""

import logging
import math

import torch
import torch.distributed as dist

from lrcourse import _checks
from lrcourse._torch_steps import evaluate

__all__ = ["DAdaptSGD", "DAdaptAdam", "Prodigy"]


def _all_reduce_sum(*values):
    """Sums floats over the ranks of a process group, as the references do (FSDP only)."""
    dist_tensor = torch.zeros(len(values)).cuda()
    for i, value in enumerate(values):
        dist_tensor[i] = value
    dist.all_reduce(dist_tensor, op=dist.ReduceOp.SUM)
    return [dist_tensor[i] for i in range(len(values))]


def _check_same_lr(group_lr, lr, hint=""):
    if group_lr not in [lr, 0.0]:
        raise RuntimeError("Setting different lr values in different parameter groups "
                           "is only supported for values of 0" + hint)


class _DistanceOptimizer(torch.optim.Optimizer):
    """What the three share besides the estimate: the flags the references report to fairseq-style trainers."""

    @property
    def supports_memory_efficient_fp16(self):
        return False

    @property
    def supports_flat_params(self):
        return True


def _check_adam_like(d0, lr, eps, betas, weight_decay):
    """DAdaptAdam's and Prodigy's checks, in their words, and torch.optim.Adam's for weight_decay."""
    if not 0.0 < d0:
        raise ValueError("Invalid d0 value: {}".format(d0))
    if not 0.0 < lr:
        raise ValueError("Invalid learning rate: {}".format(lr))
    if not 0.0 < eps:
        raise ValueError("Invalid epsilon value: {}".format(eps))
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError("Invalid beta parameter at index 0: {}".format(betas[0]))
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError("Invalid beta parameter at index 1: {}".format(betas[1]))
    _checks.nonnegative(weight_decay, "weight_decay")


class DAdaptSGD(torch.optim.Optimizer):
    """SGD with a D-Adapted step size (dual averaging form), as ``dadaptation.DAdaptSGD``.

    Leave ``lr`` at 1: the step is ``d * lr / ||g_0||``. With ``s_k`` the sum of
    the scaled gradients, the iterate is ``z_k = x_0 - s_k`` (dual averaging),
    averaged into ``x`` when ``momentum > 0``; ``d`` grows to
    ``2 sum_k dlr_k <g_k, s_{k-1}> / ||s_k||`` (never shrinks, at most by the
    factor ``growth_rate`` per step).

    ``momentum``, ``weight_decay``, ``growth_rate`` and ``log_every`` are read
    from the first param group only, as in the reference.
    """

    def __init__(self, params,
                 lr=1.0,
                 momentum=0.0,
                 weight_decay=0,
                 log_every=0,
                 d0=1e-6, growth_rate=float('inf'),
                 fsdp_in_use=False):
        if not 0.0 < d0:
            raise ValueError("Invalid d0 value: {}".format(d0))
        if not 0.0 < lr:
            raise ValueError("Invalid learning rate: {}".format(lr))
        _checks.nonnegative(momentum, "momentum")          # torch.optim.SGD's checks
        _checks.nonnegative(weight_decay, "weight_decay")
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, k=0,
                        log_every=log_every, numerator_weighted=0.0, d=d0,
                        growth_rate=growth_rate, fsdp_in_use=fsdp_in_use)
        self.loggables = {}
        try:
            self.rank = torch.distributed.get_rank()
        except Exception:
            self.rank = 0
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = evaluate(closure)

        first = self.param_groups[0]
        lr = max(group['lr'] for group in self.param_groups)           # the one shared lr
        decay = first['weight_decay']
        log_every = first['log_every']
        ck = 1 - first['momentum']                                     # averaging weight of z
        k = first['k']                                                 # steps taken so far
        numerator_weighted = first['numerator_weighted']               # sum_k dlr_k <g_k, s_{k-1}>
        growth_rate = first['growth_rate']
        d = first['d']                                                 # distance estimate
        fsdp_in_use = first['fsdp_in_use']

        if k == 0:
            # ||g_0|| over all tensors; the decay is not in it (the reference adds it out of place).
            g_sq = 0.0
            for group in self.param_groups:
                for p in group['params']:
                    if p.grad is None:
                        continue
                    if hasattr(p, "_fsdp_flattened"):
                        fsdp_in_use = True
                    if group['lr'] > 0.0:
                        g_sq += (p.grad * p.grad).sum().item()        # sum ||g_0||^2
            global_gsq = _all_reduce_sum(g_sq)[0] if fsdp_in_use else g_sq
            self.param_groups[-1]['g0_norm'] = g0_norm = math.sqrt(global_gsq)  # ||g_0||
        else:
            g0_norm = first['g0_norm']

        dlr = d * lr / g0_norm                                         # step = d lr / ||g_0||

        sk_sq = 0.0
        for group in self.param_groups:
            group_lr = group['lr']
            _check_same_lr(group_lr, lr)
            for p in group['params']:
                if p.grad is None:
                    continue
                grad = p.grad
                state = self.state[p]
                if 'z' not in state:
                    state['z'] = torch.clone(p).detach()               # dual-averaging iterate
                    state['s'] = torch.zeros_like(p).detach()          # s = sum of dlr g
                    state['x0'] = torch.clone(p).detach()              # the start x0
                if decay != 0:
                    grad.add_(p, alpha=decay)                          # g + wd x (into p.grad)
                s = state['s']
                if group_lr > 0.0:
                    numerator_weighted += dlr * torch.dot(grad.flatten(), s.flatten()).item()  # += dlr <g, s>
                    s.add_(grad, alpha=dlr)                            # s += dlr g
                    sk_sq += (s * s).sum().item()                      # ||s||^2 over all tensors

        d_hat = d
        global_sk_sq, global_numerator_weighted = sk_sq, numerator_weighted
        if lr > 0.0:
            if fsdp_in_use:
                global_sk_sq, global_numerator_weighted = _all_reduce_sum(sk_sq, numerator_weighted)
            d_hat = 2 * global_numerator_weighted / math.sqrt(global_sk_sq)  # d_hat = 2 sum dlr <g,s> / ||s||
            d = max(d, min(d_hat, d * growth_rate))                    # d never shrinks, grows <= growth_rate x

        if global_sk_sq == 0:
            return loss

        if log_every > 0 and k % log_every == 0:
            logging.info(f"(r={self.rank},k={k}) dlr: {dlr} d_hat: {d_hat}, d: {d}. "
                         f"sk_norm={math.sqrt(global_sk_sq)} numerator_weighted={global_numerator_weighted} "
                         f"g0_norm={g0_norm}")

        for group in self.param_groups:
            group['numerator_weighted'] = numerator_weighted
            group['d'] = d
            group['g0_norm'] = g0_norm
            for p in group['params']:
                if p.grad is None:
                    continue
                state = self.state[p]
                z = state['z']
                z.copy_(state['x0'] - state['s'])                      # z = x0 - s
                p.mul_(1 - ck).add_(z, alpha=ck)                       # x = (1-ck) x + ck z
            group['k'] = k + 1
        return loss


class DAdaptAdam(_DistanceOptimizer):
    """Adam with a D-Adapted step size, as ``dadaptation.DAdaptAdam``.

    The step is ``dlr = d * lr`` (times Adam's bias correction
    ``sqrt(1 - beta2^(k+1)) / (1 - beta1^(k+1))`` when ``use_bias_correction``),
    folded into the first moment: ``m = beta1 m + (1-beta1) dlr g`` and
    ``x -= m / (sqrt(v) + eps)``. The estimate is

        d_hat = sum_k dlr_k <g_k, s_k / (sqrt(v_k) + eps)>  /  ||s||_1

    with EMAs (factor ``sqrt(beta2)``) in place of the sums, both over all the
    tensors. Per group: ``weight_decay``, ``eps`` and ``layer_scale`` (a
    multiplier of that group's step, default 1.0, set in the group's dict);
    the rest is read from the first group.
    """

    def __init__(self, params, lr=1.0,
                 betas=(0.9, 0.999), eps=1e-8,
                 weight_decay=0, log_every=0,
                 decouple=False,
                 use_bias_correction=False,
                 d0=1e-6, growth_rate=float('inf'),
                 fsdp_in_use=False):
        _check_adam_like(d0, lr, eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, d=d0, k=0,
                        layer_scale=1.0, numerator_weighted=0.0, log_every=log_every,
                        growth_rate=growth_rate, use_bias_correction=use_bias_correction,
                        decouple=decouple, fsdp_in_use=fsdp_in_use)
        self.d0 = d0
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = evaluate(closure)

        first = self.param_groups[0]
        numerator_weighted = first['numerator_weighted']               # EMA of dlr <g, s/denom>
        beta1, beta2 = first['betas']
        k = first['k']
        d = first['d']                                                 # distance estimate
        lr = max(group['lr'] for group in self.param_groups)
        if first['use_bias_correction']:
            bias_correction = ((1 - beta2 ** (k + 1)) ** 0.5) / (1 - beta1 ** (k + 1))  # sqrt(1-b2^t)/(1-b1^t)
        else:
            bias_correction = 1
        dlr = d * lr * bias_correction                                 # this step's size
        growth_rate = first['growth_rate']
        decouple = first['decouple']
        log_every = first['log_every']
        fsdp_in_use = first['fsdp_in_use']
        sqrt_beta2 = beta2 ** 0.5                                      # EMA factor of s and the numerator

        numerator_acum = 0.0
        sk_l1 = 0.0
        for group in self.param_groups:
            decay = group['weight_decay']
            k = group['k']
            eps = group['eps']
            group_lr = group['lr']
            r = group['layer_scale']
            _check_same_lr(group_lr, lr, ". To scale the learning rate differently for each layer, "
                                         "set the 'layer_scale' value instead.")
            for p in group['params']:
                if p.grad is None:
                    continue
                if hasattr(p, "_fsdp_flattened"):
                    fsdp_in_use = True
                grad = p.grad
                if decay != 0 and not decouple:
                    grad.add_(p, alpha=decay)                          # g + wd x (into p.grad)
                state = self.state[p]
                if 'step' not in state:
                    state['step'] = 0
                    state['s'] = torch.zeros_like(p).detach()          # EMA of dlr g
                    state['exp_avg'] = torch.zeros_like(p).detach()    # m, with dlr folded in
                    state['exp_avg_sq'] = torch.zeros_like(p).detach() # v
                exp_avg, exp_avg_sq, s = state['exp_avg'], state['exp_avg_sq'], state['s']
                if group_lr > 0.0:
                    denom = exp_avg_sq.sqrt().add_(eps)                # sqrt(v) + eps (before this g)
                    numerator_acum += r * dlr * torch.dot(grad.flatten(), s.div(denom).flatten()).item()
                    #                                                  # += r dlr <g, s / denom>
                    exp_avg.mul_(beta1).add_(grad, alpha=r * dlr * (1 - beta1))  # m = b1 m + (1-b1) r dlr g
                    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)  # v = b2 v + (1-b2) g^2
                    s.mul_(sqrt_beta2).add_(grad, alpha=dlr * (1 - sqrt_beta2))   # s = sb2 s + (1-sb2) dlr g
                    sk_l1 += r * s.abs().sum().item()                  # ||s||_1 over all tensors

        numerator_weighted = sqrt_beta2 * numerator_weighted + (1 - sqrt_beta2) * numerator_acum  # EMA
        d_hat = d
        if sk_l1 == 0:                                                 # no gradient yet: no step
            return loss

        global_numerator_weighted, global_sk_l1 = numerator_weighted, sk_l1
        if lr > 0.0:
            if fsdp_in_use:
                global_numerator_weighted, global_sk_l1 = _all_reduce_sum(numerator_weighted, sk_l1)
            d_hat = global_numerator_weighted / ((1 - sqrt_beta2) * global_sk_l1)  # d_hat = num / ||s||_1
            d = max(d, min(d_hat, d * growth_rate))                    # d never shrinks, grows <= growth_rate x

        if log_every > 0 and k % log_every == 0:
            logging.info(f"lr: {lr} dlr: {dlr} d_hat: {d_hat}, d: {d}. sk_l1={global_sk_l1:1.1e} "
                         f"numerator_weighted={global_numerator_weighted:1.1e}")

        for group in self.param_groups:
            group['numerator_weighted'] = numerator_weighted
            group['d'] = d
            decay = group['weight_decay']
            k = group['k']
            eps = group['eps']
            for p in group['params']:
                if p.grad is None:
                    continue
                state = self.state[p]
                exp_avg, exp_avg_sq = state['exp_avg'], state['exp_avg_sq']
                state['step'] += 1
                denom = exp_avg_sq.sqrt().add_(eps)                    # sqrt(v) + eps
                if decay != 0 and decouple:
                    p.add_(p, alpha=-decay * dlr)                      # x (1 - wd dlr), decoupled
                p.addcdiv_(exp_avg, denom, value=-1)                   # x - m / denom (m holds dlr)
            group['k'] = k + 1
        return loss


class Prodigy(_DistanceOptimizer):
    """Adam with a Prodigy step size, as ``prodigyopt.Prodigy``.

    Like DAdaptAdam, but the numerator measures progress from the start:
    ``sum_k (d_k/d0) dlr_k <g_k, x_0 - x_k>``, weighted by ``d_k`` so that
    the early steps (tiny ``d``) count for little, and the moments carry ``d``
    (``m = b1 m + (1-b1) d g``, ``v = b2 v + (1-b2) d^2 g^2``). Then

        d_hat = d_coef * numerator / ||s||_1,   d = min(d_max, d * growth_rate)

    with ``d_max`` the largest ``d_hat`` so far (``d`` jumps to ``d_hat`` while
    still at ``d0``). ``beta3`` (default ``sqrt(beta2)``) is the EMA factor of
    the numerator and of ``s``. With ``slice_p > 1`` the sums use every
    ``slice_p``-th entry of each tensor only (an approximation, as in the
    reference). Per group: ``weight_decay``, ``eps``, ``safeguard_warmup``,
    ``slice_p``, ``d0``; the rest is read from the first group.
    """

    def __init__(self, params, lr=1.0,
                 betas=(0.9, 0.999), beta3=None,
                 eps=1e-8, weight_decay=0, decouple=True,
                 use_bias_correction=False, safeguard_warmup=False,
                 d0=1e-6, d_coef=1.0, growth_rate=float('inf'),
                 fsdp_in_use=False,
                 slice_p=1):
        _check_adam_like(d0, lr, eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=betas, beta3=beta3, eps=eps, weight_decay=weight_decay,
                        d=d0, d0=d0, d_max=d0, d_numerator=0.0, d_coef=d_coef,
                        k=0, growth_rate=growth_rate, use_bias_correction=use_bias_correction,
                        decouple=decouple, safeguard_warmup=safeguard_warmup,
                        fsdp_in_use=fsdp_in_use, slice_p=slice_p)
        self.d0 = d0
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = evaluate(closure)

        first = self.param_groups[0]
        beta1, beta2 = first['betas']
        beta3 = first['beta3']
        if beta3 is None:
            beta3 = math.sqrt(beta2)                                   # default EMA factor sqrt(b2)
        k = first['k']
        d = first['d']                                                 # distance estimate
        d_max = first['d_max']                                         # largest d_hat so far
        d_coef = first['d_coef']
        lr = max(group['lr'] for group in self.param_groups)
        if first['use_bias_correction']:
            bias_correction = ((1 - beta2 ** (k + 1)) ** 0.5) / (1 - beta1 ** (k + 1))  # sqrt(1-b2^t)/(1-b1^t)
        else:
            bias_correction = 1
        dlr = d * lr * bias_correction                                 # this step's size
        growth_rate = first['growth_rate']
        decouple = first['decouple']
        fsdp_in_use = first['fsdp_in_use']
        d_numerator = first['d_numerator'] * beta3                     # numerator EMA: b3 num ...

        delta_numerator = 0.0
        d_denom = 0.0
        for group in self.param_groups:
            decay = group['weight_decay']
            eps = group['eps']
            group_lr = group['lr']
            d0 = group['d0']
            safeguard_warmup = group['safeguard_warmup']
            slice_p = group['slice_p']
            _check_same_lr(group_lr, lr)
            for p in group['params']:
                if p.grad is None:
                    continue
                if hasattr(p, "_fsdp_flattened"):
                    fsdp_in_use = True
                grad = p.grad
                if decay != 0 and not decouple:
                    grad.add_(p, alpha=decay)                          # g + wd x (into p.grad)
                state = self.state[p]
                if 'step' not in state:
                    state['step'] = 0
                    state['s'] = torch.zeros_like(p.flatten()[::slice_p]).detach()  # EMA of weighted g
                    if p.any():
                        state['p0'] = p.flatten()[::slice_p].detach().clone()       # the start x0
                    else:
                        state['p0'] = torch.tensor(0, device=p.device, dtype=p.dtype)  # x0 = 0, stored small
                    if beta1 > 0:
                        state['exp_avg'] = torch.zeros_like(p).detach()  # m, with d folded in
                    state['exp_avg_sq'] = torch.zeros_like(p).detach()   # v, with d^2 folded in
                exp_avg_sq, s, p0 = state['exp_avg_sq'], state['s'], state['p0']
                if group_lr > 0.0:
                    sliced_grad = grad.flatten()[::slice_p]
                    delta_numerator += (d / d0) * dlr * torch.dot(sliced_grad, p0 - p.flatten()[::slice_p]).item()
                    #                                                  # ... + (d/d0) dlr <g, x0 - x>
                    if beta1 > 0:
                        state['exp_avg'].mul_(beta1).add_(grad, alpha=d * (1 - beta1))  # m = b1 m + (1-b1) d g
                    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=d * d * (1 - beta2))  # v = b2 v + (1-b2) d^2 g^2
                    if safeguard_warmup:
                        s.mul_(beta3).add_(sliced_grad, alpha=((d / d0) * d))    # s = b3 s + (d/d0) d g
                    else:
                        s.mul_(beta3).add_(sliced_grad, alpha=((d / d0) * dlr))  # s = b3 s + (d/d0) dlr g
                    d_denom += s.abs().sum().item()                    # ||s||_1 over all tensors

        d_hat = d
        if d_denom == 0 and not fsdp_in_use:                           # no gradient yet: no step
            return loss

        global_d_numerator, global_d_denom = d_numerator + delta_numerator, d_denom
        if lr > 0.0:
            if fsdp_in_use:
                reduced_delta, global_d_denom = _all_reduce_sum(delta_numerator, d_denom)
                global_d_numerator = d_numerator + reduced_delta
            d_hat = d_coef * global_d_numerator / global_d_denom      # d_hat = d_coef num / ||s||_1
            if d == self.param_groups[-1]['d0']:
                d = max(d, d_hat)                                      # first growth: jump to d_hat
            d_max = max(d_max, d_hat)                                  # d_max = max d_hat so far
            d = min(d_max, d * growth_rate)                            # d <= d_max, grows <= growth_rate x

        for group in self.param_groups:
            group['d_numerator'] = global_d_numerator
            group['d_denom'] = global_d_denom
            group['d'] = d
            group['d_max'] = d_max
            group['d_hat'] = d_hat
            decay = group['weight_decay']
            k = group['k']
            eps = group['eps']
            for p in group['params']:
                if p.grad is None:
                    continue
                state = self.state[p]
                state['step'] += 1
                denom = state['exp_avg_sq'].sqrt().add_(d * eps)       # sqrt(v) + d eps (v carries d^2)
                if decay != 0 and decouple:
                    p.add_(p, alpha=-decay * dlr)                      # x (1 - wd dlr), decoupled
                if beta1 > 0:
                    p.addcdiv_(state['exp_avg'], denom, value=-dlr)    # x - dlr m / denom
                else:
                    p.addcdiv_(p.grad, denom, value=-dlr * d)          # x - dlr d g / denom (no momentum)
            group['k'] = k + 1
        return loss
