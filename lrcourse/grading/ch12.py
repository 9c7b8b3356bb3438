"""Checks for chapter 12: neural networks in PyTorch.

The chapter writes heavy-ball momentum as a ``torch.optim.Optimizer`` subclass, a training loop that records the
full training and validation loss after every epoch, a small CNN, the lr-by-batch-size map at a fixed budget of
epochs, and learning curves of under- and over-fitting. The exercise asks for SGD with Nesterov momentum as an
Optimizer (checked against ``torch.optim.SGD(nesterov=True)`` on a small network, with two param groups and an lr
changed mid-run), the training loop with its curves, the number of weights of the CNN for any channels (derived), the
ratio of the best lrs at batch 512 and 16 at a fixed budget of *steps* (predicted, then measured), and a diagnosis
read off learning curves.
"""

import math

import numpy as np

from lrcourse.grading.core import Fail, NotAttempted, _kind, as_number, call, choice, close, number_answer, task


def _torch():
    import torch
    return torch


# ---------------------------------------------------------------- task 1: SGD with Nesterov momentum as an Optimizer
def _make_optimizer_class(rule):
    """An Optimizer subclass whose update is ``rule(p, g, state, group)`` (the reference and the mistakes)."""
    torch = _torch()

    class Reference(torch.optim.Optimizer):
        def __init__(self, params, lr=1e-3, momentum=0.0):
            if lr < 0.0:
                raise ValueError(f"Invalid learning rate: {lr}")
            if momentum < 0.0:
                raise ValueError(f"Invalid momentum value: {momentum}")
            super().__init__(params, dict(lr=lr, momentum=momentum))
            self._first_lr = lr

        @torch.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        rule(self, p, p.grad, self.state[p], group)

    return Reference


def _nesterov(opt, p, g, state, group):
    mu = group["momentum"]
    buf = state.get("buf")
    state["buf"] = buf = g.clone() if buf is None else buf.mul_(mu).add_(g)      # b = mu b + g (b_1 = g)
    p.add_(g + mu * buf, alpha=-group["lr"])                                      # x - lr (g + mu b)


def _heavy_ball(opt, p, g, state, group):
    buf = state.get("buf")
    state["buf"] = buf = g.clone() if buf is None else buf.mul_(group["momentum"]).add_(g)
    p.add_(buf, alpha=-group["lr"])


def _dampened(opt, p, g, state, group):
    mu = group["momentum"]
    buf = state.get("buf")
    state["buf"] = buf = g.clone() if buf is None else buf.mul_(mu).add_(g, alpha=1 - mu)
    p.add_(g + mu * buf, alpha=-group["lr"])


def _no_state(opt, p, g, state, group):
    mu = group["momentum"]
    p.add_(g + mu * g, alpha=-group["lr"])


def _uphill(opt, p, g, state, group):
    mu = group["momentum"]
    buf = state.get("buf")
    state["buf"] = buf = g.clone() if buf is None else buf.mul_(mu).add_(g)
    p.add_(g + mu * buf, alpha=group["lr"])


def _fixed_lr(opt, p, g, state, group):
    mu = group["momentum"]
    buf = state.get("buf")
    state["buf"] = buf = g.clone() if buf is None else buf.mul_(mu).add_(g)
    p.add_(g + mu * buf, alpha=-opt._first_lr)


NESTEROV_MISTAKES = [
    (_heavy_ball, "that is heavy-ball momentum (the chapter's `Momentum`): x - lr b. Nesterov's step looks ahead, "
                  "x - lr (g + mu b), with the buffer b already updated."),
    (_dampened, "torch's buffer adds the whole gradient, b = mu b + g (dampening 0), not the average "
                "mu b + (1 - mu) g."),
    (_no_state, "the buffer must live from step to step in `self.state[p]`: yours starts afresh at every step, so "
                "the step is just lr (1 + mu) g."),
    (_uphill, "sign error: the step goes downhill, p - lr (g + mu b)."),
    (_fixed_lr, "read the lr from each param group at every step (`group['lr']`): a scheduler changes it there, and "
                "two groups can have different lrs. Yours keeps the lr it was built with."),
]


def _small_net(seed):
    torch = _torch()
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()


def _nesterov_run(make, seed, lrs, momentum, steps=12):
    """The weights after ``steps`` steps: two param groups (the layers) with their own lrs; the lrs halve at the
    middle (as a scheduler would). ``make(groups, lr, momentum)`` builds the optimizer."""
    torch = _torch()
    net = _small_net(seed)
    g = torch.Generator().manual_seed(seed)
    X, y = torch.randn(40, 5, generator=g, dtype=torch.float64), torch.randint(0, 3, (40,), generator=g)
    groups = [{"params": list(net[0].parameters()), "lr": lrs[0]}, {"params": list(net[2].parameters()), "lr": lrs[1]}]
    opt = make(groups, lrs[0], momentum)
    for t in range(steps):
        if t == steps // 2:
            for group in opt.param_groups:
                group["lr"] *= 0.5
        idx = torch.randint(0, 40, (10,), generator=g)
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(X[idx]), y[idx]).backward()
        opt.step()
    return torch.cat([p.detach().flatten() for p in net.parameters()]).numpy()


_ARGS = dict(names=["params", "lr", "momentum"], mutable=("params",))   # torch fills in the param groups


@task("12.NesterovSGD", "Task 1: SGD with Nesterov momentum as a torch.optim.Optimizer", time_limit=5.0)
def check_NesterovSGD(NesterovSGD, rng):
    torch = _torch()
    try:
        probe = call(NesterovSGD, [torch.zeros(2, dtype=torch.float64, requires_grad=True)], 0.1, 0.9, **_ARGS)
    except Fail as fail:
        if "`__init__`, which still raises NotImplementedError" in str(fail):   # the class's own placeholder
            raise NotAttempted() from None
        raise
    if probe is None:
        raise Fail("calling `NesterovSGD(params, lr, momentum)` returned None: did you forget the `return`? Make it "
                   "a class, `class NesterovSGD(torch.optim.Optimizer)`, whose instances are optimizers.")
    if not isinstance(probe, torch.optim.Optimizer):
        raise Fail(f"`NesterovSGD(params, lr, momentum)` gave {_kind(probe)}, not an optimizer: make it a subclass "
                   f"of torch.optim.Optimizer.")
    for what, lr, momentum, expected in (("lr", -0.5, 0.9, "Invalid learning rate: -0.5"),
                                         ("momentum", 0.1, -0.5, "Invalid momentum value: -0.5")):
        try:
            NesterovSGD([torch.zeros(2, requires_grad=True)], lr, momentum)
            refused = None
        except ValueError as error:
            refused = str(error)
        except Exception as error:
            refused = f"{type(error).__name__}: {error}"
        if refused != expected:
            said = "nothing" if refused is None else repr(refused)
            raise Fail(f"a negative {what} should raise ValueError('{expected}'), in torch's words; yours raised "
                       f"{said}. Check the {what} in __init__ before calling super().__init__.")

    def theirs(groups, lr, momentum):
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=True)

    def ours(groups, lr, momentum):
        opt = call(NesterovSGD, groups, lr, momentum, **_ARGS)
        if not isinstance(opt, torch.optim.Optimizer):
            raise Fail(f"`NesterovSGD(params, lr, momentum)` gave {_kind(opt)}, not an optimizer.")
        step = opt.step

        def checked_step(closure=None):
            return call(step)
        opt.step = checked_step
        return opt

    cases = []
    for _ in range(3):
        seed = int(rng.integers(1000))
        lrs = (float(rng.uniform(0.05, 0.3)), float(rng.uniform(0.05, 0.3)))
        momentum = float(rng.uniform(0.5, 0.95))
        cases.append((seed, lrs, momentum))
    for seed, lrs, momentum in cases:
        expected = _nesterov_run(theirs, seed, lrs, momentum)
        try:
            result = _nesterov_run(ours, seed, lrs, momentum)
        except Fail:
            raise
        except Exception as error:
            raise Fail(f"training with your optimizer raised {type(error).__name__}: {error}") from None
        if not np.all(np.isfinite(result)):
            raise Fail("after a few steps the weights contain NaN or inf: the step should be lr (g + mu b), small "
                       "for these lrs.")
        if close(result, expected, rtol=1e-9, atol=1e-12):
            continue
        for rule, explanation in NESTEROV_MISTAKES:
            wrong = _nesterov_run(lambda groups, lr, mu, rule=rule: _make_optimizer_class(rule)(groups, lr, mu),
                                  seed, lrs, momentum)
            if close(result, wrong, rtol=1e-9, atol=1e-12):
                raise Fail(explanation)
        raise Fail(f"after 12 steps (two param groups, lrs {lrs[0]:.3g} and {lrs[1]:.3g} halved at step 6, momentum "
                   f"{momentum:.3g}) your weights differ from torch.optim.SGD(nesterov=True)'s by up to "
                   f"{np.abs(result - expected).max():.2g}. Per parameter: b = mu b + g (b = g at the first step), "
                   f"kept in self.state[p]; then p - lr (g + mu b) with lr = group['lr'].")
    return ("Correct: your optimizer takes torch.optim.SGD(nesterov=True)'s steps, reads each group's lr at every "
            "step, and refuses a negative lr or momentum in torch's words.")


# ---------------------------------------------------------------- task 2: the training loop with its curves
def _train_epochs(net, optimizer, X, y, X_val, y_val, epochs):
    torch = _torch()
    F = torch.nn.functional
    train, val = [], []
    for batches in epochs:
        for idx in batches:
            optimizer.zero_grad()
            F.cross_entropy(net(X[idx]), y[idx]).backward()
            optimizer.step()
        with torch.no_grad():
            train.append(F.cross_entropy(net(X), y).item())
            val.append(F.cross_entropy(net(X_val), y_val).item())
    return train, val


def _loop_variant(kind):
    def run(net, optimizer, X, y, X_val, y_val, epochs):
        torch = _torch()
        F = torch.nn.functional
        train, val = [], []
        for batches in epochs:
            if kind == "before":
                with torch.no_grad():
                    train.append(F.cross_entropy(net(X), y).item())
                    val.append(F.cross_entropy(net(X_val), y_val).item())
            seen = []
            if kind == "one_step_sum":
                optimizer.zero_grad()
            for idx in batches:
                if kind not in ("no_zero_grad", "one_step_sum"):
                    optimizer.zero_grad()
                loss = F.cross_entropy(net(X[idx]), y[idx], reduction="sum" if kind == "sum_step" else "mean")
                loss.backward()
                if not kind.startswith("one_step"):
                    optimizer.step()
                seen.append(loss.item())
            if kind.startswith("one_step"):
                optimizer.step()
            if kind == "before":
                continue
            with torch.no_grad():
                full_train = F.cross_entropy(net(X), y).item()
                full_val = F.cross_entropy(net(X_val), y_val).item()
            if kind == "batch_mean":
                train.append(float(np.mean(seen)))
                val.append(full_val)
            elif kind == "last_batch":
                train.append(seen[-1])
                val.append(full_val)
            elif kind == "swapped":
                train.append(full_val)
                val.append(full_train)
            elif kind == "sum":
                train.append(F.cross_entropy(net(X), y, reduction="sum").item())
                val.append(F.cross_entropy(net(X_val), y_val, reduction="sum").item())
            else:
                train.append(full_train)
                val.append(full_val)
        return train, val
    return run


LOOP_MISTAKES = [
    (_loop_variant("batch_mean"), "your training curve is the mean of the minibatch losses *during* the epoch, taken "
                                  "while the network was still changing: record the loss of the network on the whole "
                                  "training set after the epoch, as for the validation set."),
    (_loop_variant("no_zero_grad"), "the gradients pile up from step to step: call optimizer.zero_grad() before each "
                                    "backward(), or every step uses the sum of all the gradients so far."),
    (_loop_variant("before"), "you record the losses at the *start* of each epoch, so the first entry is the untrained "
                              "network and the last epoch's training is never measured: record after each epoch."),
    (_loop_variant("swapped"), "the two curves are swapped: return (training losses, validation losses)."),
    (_loop_variant("last_batch"), "your training curve is the loss of the last minibatch of each epoch, a sample of "
                                  "a few examples taken before the last step: record the loss of the network on the "
                                  "whole training set after the epoch, as for the validation set."),
    (_loop_variant("sum_step"), "your training step minimizes the *sum* of the cross-entropy over the minibatch "
                                "(reduction='sum'), so every step is as many times longer as the minibatch has "
                                "examples: use the mean (F.cross_entropy's default), as torch's lrs assume."),
    (_loop_variant("one_step_last"), "you take one optimizer step per epoch (step() after the minibatch loop, so only "
                                     "the last minibatch's gradient is used): call optimizer.step() inside the loop, "
                                     "once per minibatch."),
    (_loop_variant("one_step_sum"), "you take one optimizer step per epoch, on the gradients of all the minibatches "
                                    "added up (zero_grad and step outside the minibatch loop): zero the gradients, "
                                    "backpropagate and step once per minibatch."),
    (_loop_variant("sum"), "record the *mean* cross-entropy (F.cross_entropy's default), not the sum over the "
                           "examples: a sum grows with the size of the set, so the two curves could not be compared."),
]


def _loop_case(seed):
    torch = _torch()
    g = torch.Generator().manual_seed(seed)
    X, y = torch.randn(60, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (60,), generator=g)
    X_val, y_val = torch.randn(20, 4, generator=g, dtype=torch.float64), torch.randint(0, 3, (20,), generator=g)
    epochs = [list(torch.randperm(60, generator=g).split(16)) for _ in range(4)]
    return X, y, X_val, y_val, epochs


def _fresh(seed):
    torch = _torch()
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3)).double()
    return net, torch.optim.SGD(net.parameters(), lr=0.2, momentum=0.5)


def _curves(result, what="`train_epochs`"):
    if result is None:
        raise Fail(f"{what} returned None: did you forget the `return`? Return the pair (training losses, "
                   f"validation losses).")
    if isinstance(result, str) or not isinstance(result, (tuple, list)) or len(result) != 2:
        raise Fail(f"{what} should return a pair (training losses, validation losses), one number per epoch each; "
                   f"it returned {_kind(result)}.")
    try:
        train = [float(v) for v in result[0]]
        val = [float(v) for v in result[1]]
    except (TypeError, ValueError):
        raise Fail(f"{what} should return a pair of lists of numbers (use loss.item() for a number), not "
                   f"{_kind(result[0])} and {_kind(result[1])}.") from None
    return np.array(train), np.array(val)


RTOL, ATOL = 1e-6, 1e-9     # the curves in float32 (about 6e-8 relative per operation) still pass


@task("12.train_epochs", "Task 2: a training loop that records training and validation curves", time_limit=5.0)
def check_train_epochs(train_epochs, rng):
    seed = int(rng.integers(1000))
    X, y, X_val, y_val, epochs = _loop_case(seed)
    net, opt = _fresh(seed)
    result = _curves(call(train_epochs, net, opt, X, y, X_val, y_val, epochs,
                          names=["net", "optimizer", "X", "y", "X_val", "y_val", "epochs"],
                          mutable=("net", "optimizer", "epochs")))
    net, opt = _fresh(seed)
    expected = np.array(_train_epochs(net, opt, X, y, X_val, y_val, epochs))
    train, val = result
    if train.shape != (len(epochs),) or val.shape != (len(epochs),):
        raise Fail(f"with {len(epochs)} epochs, return {len(epochs)} training and {len(epochs)} validation losses, "
                   f"one after each epoch; yours has {len(train)} and {len(val)}.")
    yours = np.stack([train, val])
    if close(yours, expected, rtol=RTOL, atol=ATOL):   # float32 arithmetic passes too
        return ("Correct: one optimizer step per minibatch, and after each epoch the mean cross-entropy of the "
                "network on the whole training and validation sets.")
    for wrong, explanation in LOOP_MISTAKES:
        net, opt = _fresh(seed)
        try:
            other = np.array(wrong(net, opt, X, y, X_val, y_val, epochs))
        except Exception:
            continue
        if close(yours, other, rtol=RTOL, atol=ATOL):
            raise Fail(explanation)
    if not (np.isfinite(train).all() and np.isfinite(val).all()):
        raise Fail("your curves contain NaN or inf: with lr 0.2 on this small problem the losses stay finite.")
    worst = np.unravel_index(int(np.argmax(np.abs(yours - expected))), yours.shape)
    which = ("training", "validation")[worst[0]]
    raise Fail(f"your curves differ from the reference's: the largest difference is in the {which} loss after epoch "
               f"{worst[1] + 1}, yours {yours[worst]:.8g} against {expected[worst]:.8g} (a difference of "
               f"{yours[worst] - expected[worst]:.2g}; up to a relative {RTOL:g} counts as equal). The reference: "
               f"training losses {np.round(expected[0], 6).tolist()}, validation {np.round(expected[1], 6).tolist()}. "
               f"For each epoch: for each index tensor idx, zero_grad, the mean cross-entropy of net(X[idx]) against "
               f"y[idx], backward, step; then, without gradients, the cross-entropy on all of (X, y) and on all of "
               f"(X_val, y_val).")


# ---------------------------------------------------------------- task 3: derive the CNN's number of weights
def _cnn_weights(c1, c2):
    return (9 * c1 + c1) + (9 * c1 * c2 + c2) + (4 * c2 * 10 + 10)


CNN_MISTAKES = [
    (lambda c1, c2: 9 * c1 + 9 * c1 * c2 + 4 * c2 * 10, "the biases are missing: every convolution has one bias per "
                                                        "output channel, the linear layer one per class."),
    (lambda c1, c2: (9 * c1 + c1) + (9 * c1 * c2 + c2) + (64 * c2 * 10 + 10),
     "the two 2x2 max-pools halve the image twice, 8x8 -> 4x4 -> 2x2: the linear layer sees 2 * 2 * c2 numbers, not "
     "8 * 8 * c2."),
    (lambda c1, c2: (9 * c1 + c1) + (9 * c1 * c2 + c2) + (16 * c2 * 10 + 10),
     "there are two max-pools, 8x8 -> 4x4 -> 2x2: the linear layer sees 2 * 2 * c2 numbers, not 4 * 4 * c2."),
    (lambda c1, c2: (9 * c1 + c1) + (9 * c2 + c2) + (4 * c2 * 10 + 10),
     "the second convolution's 3x3 kernels run over all c1 input channels: 9 * c1 * c2 weights, not 9 * c2."),
    (lambda c1, c2: (3 * c1 + c1) + (3 * c1 * c2 + c2) + (4 * c2 * 10 + 10),
     "a 3x3 kernel has 9 weights per input channel, not 3."),
]


@task("12.cnn_weights", "Task 3: derive the number of weights of the digits CNN")
def check_cnn_weights(cnn_weights, rng):
    cases = [(8, 16)] + [(int(rng.integers(1, 40)), int(rng.integers(1, 40))) for _ in range(4)]
    for c1, c2 in cases:
        result = as_number(call(cnn_weights, c1, c2), "`cnn_weights`")
        expected = _cnn_weights(c1, c2)
        if result == expected:
            continue
        for wrong, explanation in CNN_MISTAKES:
            if all(wrong(a, b) == as_number(call(cnn_weights, a, b), "`cnn_weights`") for a, b in cases):
                raise Fail(explanation)
        raise Fail(f"for c1 = {c1}, c2 = {c2} the network has {expected} weights, yours says {result:g}. Count layer "
                   f"by layer: a 3x3 convolution from c_in to c_out channels has 9 c_in c_out weights and c_out "
                   f"biases; what size is the image after each max-pool?")
    return ("Correct: 10 c1 + 9 c1 c2 + c2 + 40 c2 + 10, 1898 for the chapter's (8, 16). The pools have no weights, "
            "and they shrink what the linear layer sees to 2 x 2 per channel.")


# ---------------------------------------------------------------- task 4: predict, then measure: best lr vs batch
LR_RATIO = 0.1067 / 0.0281        # measured: best lr at batch 512 over batch 16, 200 steps, SGD momentum 0.9, digits
GRID_STEP = (3 / 1e-3) ** (1 / 12)  # the lr grid's ratio from one point to the next


@task("12.answer_lr_ratio", "Task 4: predict how much larger the best lr is at batch 512 than at 16, at a fixed "
                            "number of steps", kind="value")
def check_answer_lr_ratio(answer, rng):
    if type(answer).__module__.startswith("torch") and hasattr(answer, "numel") and answer.numel() == 1:
        answer = answer.item()            # torch.tensor(3.8): a number too
    if isinstance(answer, np.ndarray) and answer.size == 1:
        answer = answer.reshape(-1)[0]
    p = number_answer(answer, "answer_lr_ratio", "2.5", "the ratio")
    if p <= 0:
        raise Fail("a ratio of two lrs is positive: best lr at batch 512 divided by best lr at batch 16.")
    if LR_RATIO / GRID_STEP <= p <= LR_RATIO * GRID_STEP:
        return (f"Right, within one point of the lr grid: measured {LR_RATIO:.1f} (0.107 against 0.028). With the "
                f"number of steps fixed, a larger batch only lowers the noise of each step, and a larger lr pays off; "
                f"from batch 128 to 512 the lr with the lowest *validation* loss stays at 0.107, although larger lrs "
                f"neither diverge nor train worse (they reach a lower training loss): they over-fit. The cell below "
                f"measures it.")
    if p < 1:
        raise Fail("the best lr does not fall as the batch grows: a larger batch has less gradient noise, which lets a "
                   "larger step pay off.")
    if abs(math.log(p / 32)) < 0.25:
        raise Fail("32 is the linear scaling rule (lr in proportion to the batch). At 200 steps the lr with the lowest "
                   "validation loss stops growing at batch 128: larger lrs still train (they do not diverge, and reach "
                   "a lower training loss), but they over-fit, so the validation loss picks the same lr at batch 128 "
                   "and 512.")
    if abs(math.log(p / 14.4)) < 0.25:
        raise Fail("about 14 is the chapter's ratio at a fixed number of *epochs*, where batch 16 takes about 28 times "
                   "more steps than batch 512 (425 against 15). Here every batch size gets the same 200 steps, so the small batch has no "
                   "extra steps to spend: the ratio is smaller.")
    if p < LR_RATIO / GRID_STEP:
        raise Fail("the best lr grows more than that: at 200 steps batch 16's noise holds its lr down well below the "
                   "lr that batch 512 can use.")
    raise Fail("the best lr grows less than that: from batch 128 on, the lr with the lowest validation loss stops "
               "moving. Larger lrs do not diverge and fit the training set further, but they over-fit: the validation "
               "loss, which picks the lr, is higher.")


# ---------------------------------------------------------------- task 5: read the curves
@task("12.answer_curves", "Task 5: read over- and under-fitting off learning curves", kind="value")
def check_answer_curves(answer, rng):
    choice(answer, "c", "abcd", {
        "a": "run A's training and validation losses are both high and close together: that is under-fitting (a "
             "network too small, or too few steps), and more of the same network would not over-fit first.",
        "b": "run B's validation loss rises while its training loss keeps falling: that is over-fitting, and a "
             "larger lr would not cure it (the training loss is already near zero). Stopping at the validation "
             "minimum, more data or a smaller network would.",
        "d": "a validation loss that rises while the training loss falls is not divergence: divergence sends the "
             "*training* loss up too (to inf, or NaN). Run B's training loss went to nearly zero.",
    })
    return ("Correct: A under-fits (both losses high, a small gap: more capacity, or more steps), B over-fits (the "
            "validation loss turns round at its minimum while the training loss goes to zero: stop early, get more "
            "data, or shrink the network).")
