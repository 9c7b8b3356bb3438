"""Chapter 12: training small networks with the course's optimizers.

- ``OPTIMIZERS``: the optimizers of chapters 03-09 by name, each as its ``lrcourse.torch_optim`` class and its
  ``torch.optim`` twin with the options used here; ``make_optimizer(name, params, lr)`` builds one.
- ``schedule_for(kind, lr, total_steps)``: constant, step, cosine, warm-up + cosine or one-cycle, as a function
  ``lr = schedule(step)`` of ``lrcourse.schedules`` (drive an optimizer with ``torch_optim.ScheduleLR``).
- ``digits_cnn(seed)``: a small convolutional network for the 8x8 digits (input: the 64 standardized pixels).
- ``mlp(sizes, seed)``: an MLP with torch's default initialisation; ``mlp(problem.sizes, s)`` is ``nets.model``.
- ``epochs(...)`` trains one network epoch by epoch and yields its ``History`` after each (a dashboard can stop
  between two epochs); ``train(...)`` runs it to the end behind a ``tqdm`` progress bar.
- ``train_stacked(...)`` trains one MLP for every (lr, seed) at once with *any* optimizer of ``OPTIMIZERS``: one
  param group per lr whose tensors stack the seeds' copies; every update of these optimizers is elementwise, so
  each copy takes exactly the steps a loop of its own would (``tests/test_training.py``). It records the full
  training and validation loss and the validation accuracy every ``every`` steps.
- Chapter 14's learning-rate-free methods are in ``OPTIMIZERS`` too ("D-Adapt SGD", "D-Adapt Adam", "Prodigy",
  "SGD schedule-free", "AdamW schedule-free"; ``implementation="torch"`` gives their reference packages'
  classes). D-Adaptation and Prodigy keep one estimate d for *all* their parameters, so ``train_stacked`` gives
  each copy an optimizer of its own (``PER_COPY``); the schedule-free methods are switched to ``train()`` for the
  steps and to ``eval()`` (the average x) for every record, as ``epochs`` does too. ``train_stacked(...,
  schedule="cosine")`` drives each group's lr by ``schedule_for``.

Every tensor lives on the problem's device (``nets.load(name, lrcourse.get_device())``).
"""

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from lrcourse import nets, schedules, torch_optim

__all__ = ["OPTIMIZERS", "PER_COPY", "set_mode", "SCHEDULE_KINDS", "make_optimizer", "schedule_for", "digits_cnn", "mlp", "subset",
           "accuracy", "evaluate", "History", "UNSTABLE", "epochs", "train", "Curves", "train_stacked"]

# name: (lrcourse.torch_optim class, torch.optim class, options besides the lr)
OPTIMIZERS = {
    "SGD": ("SGD", {}),
    "SGD, momentum 0.9": ("SGD", {"momentum": 0.9}),
    "Nesterov 0.9": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "Adagrad": ("Adagrad", {}),
    "RMSprop": ("RMSprop", {}),
    "Adadelta": ("Adadelta", {}),
    "Adam": ("Adam", {}),
    "AdamW": ("AdamW", {}),
    "Adamax": ("Adamax", {}),
    "NAdam": ("NAdam", {}),
    "RAdam": ("RAdam", {}),
    # chapter 14, learning-rate-free (lr is a multiplier of the estimate d, 1.0; schedule-free keeps a true lr)
    "D-Adapt SGD": ("DAdaptSGD", {}),
    "D-Adapt Adam": ("DAdaptAdam", {}),
    "Prodigy": ("Prodigy", {}),
    "SGD schedule-free": ("SGDScheduleFree", {}),
    "AdamW schedule-free": ("AdamWScheduleFree", {}),
}

# one estimate d for every parameter of the optimizer: stacked copies need an optimizer each
PER_COPY = ("D-Adapt SGD", "D-Adapt Adam", "Prodigy")
# the reference packages of chapter 14's classes (implementation="torch")
_REFERENCES = {"DAdaptSGD": "dadaptation", "DAdaptAdam": "dadaptation", "Prodigy": "prodigyopt",
               "SGDScheduleFree": "schedulefree", "AdamWScheduleFree": "schedulefree"}


def _reference(cls):
    """torch.optim's class, or for a learning-rate-free method its reference package's."""
    if cls in _REFERENCES:
        import importlib
        return getattr(importlib.import_module(_REFERENCES[cls]), cls)
    return getattr(torch.optim, cls)


def set_mode(optimizer, mode):
    """``optimizer.train()`` or ``.eval()`` for a schedule-free optimizer (parameters at y or at x); else nothing."""
    if "train_mode" in optimizer.param_groups[0]:
        getattr(optimizer, mode)()

SCHEDULE_KINDS = ("constant", "step", "cosine", "warm-up + cosine", "one-cycle")


def make_optimizer(name, params, lr, implementation="lrcourse", **options):
    """The optimizer ``name`` of ``OPTIMIZERS`` at ``lr``: ``lrcourse.torch_optim``'s or ``torch.optim``'s.

    (For chapter 14's methods, ``implementation="torch"`` gives the reference package's class.)
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"expected one of ({', '.join(OPTIMIZERS)}), got {name}")
    if implementation not in ("lrcourse", "torch"):
        raise ValueError(f"expected one of (lrcourse, torch), got {implementation}")
    cls, defaults = OPTIMIZERS[name]
    make = getattr(torch_optim, cls) if implementation == "lrcourse" else _reference(cls)
    return make(params, lr=lr, **{**defaults, **options})


def schedule_for(kind, lr, total_steps):
    """A schedule ``lr(step)`` for ``total_steps`` steps that peaks at ``lr`` (or stays there: "constant")."""
    total_steps = max(int(total_steps), 1)
    if kind == "constant":
        return schedules.constant(lr)
    if kind == "step":                                   # a tenth at half and at three quarters of the budget
        return schedules.multi_step(lr, [total_steps // 2, (3 * total_steps) // 4], 0.1)
    if kind == "cosine":
        return schedules.cosine(lr, T_max=total_steps)
    if kind == "warm-up + cosine":
        warm = max(1, total_steps // 10)
        return schedules.warmup(schedules.cosine(lr, T_max=total_steps), warm)
    if kind == "one-cycle":
        return schedules.one_cycle(lr, total_steps=total_steps)
    raise ValueError(f"expected one of ({', '.join(SCHEDULE_KINDS)}), got {kind}")


def mlp(sizes, seed, device=None, dtype=torch.float32):
    """Linear layers of ``sizes`` with ReLU between, torch's default initialisation under ``manual_seed(seed)``."""
    torch.manual_seed(seed)
    layers = []
    for k in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[k], sizes[k + 1]))
        if k < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers).to(device=device, dtype=dtype)


def digits_cnn(seed, device=None, dtype=torch.float32, channels=(8, 16)):
    """A small CNN for the 8x8 digits: two 3x3 convolutions (each ReLU and 2x2 max-pool), then a linear layer.

    It takes the 64 pixels as a row, like the MLP: the first layer turns them back into a 1x8x8 image.
    """
    torch.manual_seed(seed)
    c1, c2 = channels
    return torch.nn.Sequential(
        torch.nn.Unflatten(1, (1, 8, 8)),
        torch.nn.Conv2d(1, c1, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),    # 8x8 -> 4x4
        torch.nn.Conv2d(c1, c2, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),   # 4x4 -> 2x2
        torch.nn.Flatten(), torch.nn.Linear(4 * c2, 10),
    ).to(device=device, dtype=dtype)


def subset(problem, n, seed=0):
    """The problem with only ``n`` of its training examples (drawn by ``seed``); the validation set unchanged."""
    if not 1 <= n <= problem.n:
        raise ValueError(f"n should be between 1 and {problem.n}, got {n}")
    keep = torch.randperm(problem.n, generator=torch.Generator().manual_seed(seed))[:n].to(problem.X.device)
    return dataclasses.replace(problem, X=problem.X[keep], y=problem.y[keep])


def accuracy(net, X, y):
    """The fraction of (X, y) that ``net`` classifies right."""
    with torch.no_grad():
        return (net(X).argmax(dim=1) == y).to(torch.float64).mean().item()


def evaluate(net, problem):
    """(training loss, validation loss, training accuracy, validation accuracy) of ``net`` on the full sets."""
    return (nets.full_loss(net, problem.X, problem.y), nets.full_loss(net, problem.X_val, problem.y_val),
            accuracy(net, problem.X, problem.y), accuracy(net, problem.X_val, problem.y_val))


@dataclass
class History:
    """One training run, one entry per epoch (after it) and one at epoch 0 (before training)."""
    train_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    lr: list = field(default_factory=list)      # the lr of the last step of each epoch
    epochs: int = 0                             # the number of epochs asked for
    diverged_at: int | None = None              # the epoch in which the loss became non-finite or blew up
    stopped_at: int | None = None               # the epoch after which a stop request ended the run
    unstable_at: int | None = None              # the first epoch whose full training loss was > UNSTABLE x the start

    @property
    def worst_rise(self):
        """The largest full training loss over the one before training (inf if a record is not finite)."""
        if len(self.train_loss) < 2:
            return 1.0
        rest = np.asarray(self.train_loss[1:], dtype=float)
        if not np.isfinite(rest).all():
            return math.inf
        return float(rest.max() / max(self.train_loss[0], 1e-12))

    @property
    def done(self):
        """Epochs completed (a diverged run counts the one in which it diverged)."""
        return len(self.train_loss) - 1

    def best_val(self):
        """(epoch, validation loss) of the lowest validation loss."""
        k = int(np.nanargmin(self.val_loss))
        return k, self.val_loss[k]

    def instability(self):
        """'' for a stable run, else a sentence naming the unstable epochs (see ``UNSTABLE``)."""
        if self.unstable_at is None:
            return ""
        rise = self.worst_rise
        size = "not finite" if not math.isfinite(rise) else f"up to {rise:.3g} times its value before training"
        return f"unstable from epoch {self.unstable_at} (the training loss rose {size})"

    def summary(self):
        if self.diverged_at is not None:
            unstable = f"; {self.instability()}" if self.unstable_at is not None and \
                self.unstable_at < self.diverged_at else ""
            return f"diverged at epoch {self.diverged_at}{unstable}"
        k, best = self.best_val()
        state = f"stopped after epoch {self.stopped_at}" if self.stopped_at is not None else f"{self.done} epochs"
        unstable = f"{self.instability()}; " if self.unstable_at is not None else ""
        return (f"{unstable}{state}: train loss {self.train_loss[-1]:.3f}, validation loss {self.val_loss[-1]:.3f} "
                f"(lowest {best:.3f} at epoch {k}), validation accuracy {self.val_acc[-1]:.3f}")


UNSTABLE = 2.0    # a run is unstable from the first epoch whose full training loss is above 2x its value at the start


def epochs(net, problem, optimizer, batch_size, n_epochs, scheduler=None, seed=0, blowup=1e3, loss_fn=None):
    """Train ``net`` for ``n_epochs`` on ``problem``'s minibatches; yield the ``History`` after every epoch.

    The minibatches are those of ``nets.batches(problem, batch_size, ..., seed)``; ``scheduler`` (if any) steps
    after every optimizer step. A minibatch loss that is NaN, infinite or ``blowup`` times the first one ends the
    run: ``history.diverged_at`` is that epoch. A run goes on, but is named *unstable* (``history.unstable_at``, the
    first such epoch), once the full training loss after an epoch is non-finite or more than ``UNSTABLE`` (2) times
    its value before training: an untrained network's loss is about chance level, so a loss twice as high means the
    steps are throwing the network about. Closing the generator early (a stop button) is always safe.
    """
    loss_fn = loss_fn or torch.nn.functional.cross_entropy
    if batch_size < 1 or n_epochs < 0:
        raise ValueError(f"batch_size and epochs should be positive, got {batch_size} and {n_epochs}")
    per_epoch = math.ceil(problem.n / batch_size)
    plan = nets.batches(problem, batch_size, per_epoch * n_epochs, seed)
    history = History(epochs=n_epochs)

    def record():
        for name, value in zip(("train_loss", "val_loss", "train_acc", "val_acc"), evaluate(net, problem)):
            getattr(history, name).append(value)
        history.lr.append(optimizer.param_groups[0]["lr"])

    set_mode(optimizer, "eval")                     # a schedule-free optimizer is evaluated at x
    record()
    first = None
    for epoch in range(1, n_epochs + 1):
        net.train()
        set_mode(optimizer, "train")                # ... and takes its gradients at y
        for idx in plan[(epoch - 1) * per_epoch: epoch * per_epoch]:
            optimizer.zero_grad()
            loss = loss_fn(net(problem.X[idx]), problem.y[idx])
            value = loss.item()
            first = value if first is None else first
            if not math.isfinite(value) or value > blowup * max(first, 1e-12):
                history.diverged_at = epoch
                break
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        net.eval()
        set_mode(optimizer, "eval")
        record()
        latest = history.train_loss[-1]
        if history.unstable_at is None and (not math.isfinite(latest) or latest > UNSTABLE * history.train_loss[0]):
            history.unstable_at = epoch
        if history.diverged_at is None and not all(map(math.isfinite, history.train_loss[-1:] + history.val_loss[-1:])):
            history.diverged_at = epoch
        yield history
        if history.diverged_at is not None:
            return


def train(net, problem, optimizer, batch_size, n_epochs, scheduler=None, seed=0, progress=True, desc=None,
          **options):
    """``epochs(...)`` run to the end, with a ``tqdm.auto`` bar (``progress=False``: none); returns the History."""
    history = History(epochs=n_epochs)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=n_epochs, desc=desc or type(optimizer).__name__, unit="epoch", leave=False)
    try:
        for history in epochs(net, problem, optimizer, batch_size, n_epochs, scheduler, seed, **options):
            if bar is not None:
                bar.update(1)
                bar.set_postfix(val_loss=f"{history.val_loss[-1]:.3f}")
    finally:
        if bar is not None:
            bar.close()
    return history


# ------------------------------------------------------------------ many copies at once, any optimizer
@dataclass
class Curves:
    """Full-set losses of every copy of a stacked run, recorded every ``every`` steps (and at step 0)."""
    optimizer: str
    lrs: np.ndarray
    seeds: list
    steps: np.ndarray        # (R,) the steps at which the records were taken
    train_loss: np.ndarray   # (lrs, seeds, R): inf from where a copy diverged
    val_loss: np.ndarray
    val_acc: np.ndarray      # (lrs, seeds, R): 0 where a copy diverged
    d: np.ndarray | None = None   # (lrs, seeds, R): the estimate d of each copy (D-Adaptation and Prodigy only)

    def final(self, which="val_loss"):
        """(lrs, seeds): the last record."""
        return getattr(self, which)[:, :, -1]

    def best_lr(self, which="val_loss"):
        """The lr of the grid whose mean final ``which`` over the seeds is lowest (highest for an accuracy)."""
        mean = self.final(which).mean(axis=1)
        return float(self.lrs[int(np.argmax(mean) if which.endswith("acc") else np.argmin(mean))])

    def at_train_loss(self, target, which="val_loss"):
        """(lrs, seeds): ``which`` at the first record whose training loss is at most ``target`` (NaN: never)."""
        reached = self.train_loss <= target
        first = np.argmax(reached, axis=2)
        out = np.take_along_axis(getattr(self, which), first[..., None], axis=2)[..., 0]
        return np.where(reached.any(axis=2), out, np.nan)


def _stack_params(sizes, seeds, lrs, device, dtype):
    """For each lr, each layer's (weight, bias) stacked over the seeds: leaves of shape (S, in, out), (S, 1, out)."""
    nets_ = [mlp(sizes, s, device, dtype) for s in seeds]
    linears = [[m for m in net if isinstance(m, torch.nn.Linear)] for net in nets_]
    base = []
    for k in range(len(sizes) - 1):
        base.append(torch.stack([ls[k].weight.detach().T for ls in linears]))
        base.append(torch.stack([ls[k].bias.detach()[None, :] for ls in linears]))
    return [[p.clone().requires_grad_() for p in base] for _ in lrs]


def train_stacked(problem, optimizer, lrs, seeds, steps, batch_size, every=None, hidden=None, blowup=1e3,
                  progress=False, implementation="lrcourse", schedule="constant", **options):
    """Train the problem's MLP (or one with ``hidden`` units) for every (lr, seed) at once; returns ``Curves``.

    ``optimizer`` is a name of ``OPTIMIZERS``. Seed s gives the model ``mlp(sizes, s)`` (``nets.model``'s) and
    the minibatches ``nets.batches(problem, batch_size, steps, s)``, the same for every lr. A copy whose minibatch
    loss is NaN, infinite or ``blowup`` times its first one has diverged: it stops learning and scores inf.
    ``schedule`` (a kind of ``SCHEDULE_KINDS``) sets each lr's group to ``schedule_for(schedule, lr, steps)(t)``
    before step t. An optimizer of ``PER_COPY`` gets one instance per copy (its estimate d is global).
    """
    lrs, seeds = np.asarray(lrs, dtype=float), list(seeds)
    K, S = len(lrs), len(seeds)
    every = every or steps
    sizes = list(problem.sizes)
    if hidden is not None:
        sizes = [sizes[0], *([hidden] if isinstance(hidden, int) else hidden), sizes[-1]]
    device, dtype = problem.X.device, problem.X.dtype
    groups = _stack_params(sizes, seeds, lrs, device, dtype)
    if optimizer in PER_COPY:        # copy = lr index * S + seed, each of its tensors a leaf of shape (1, ...)
        groups = [[p[j:j + 1].detach().clone().requires_grad_() for p in g] for g in groups for j in range(S)]
        opts = [make_optimizer(optimizer, g, float(lrs[c // S]), implementation, **options)
                for c, g in enumerate(groups)]
    else:
        opts = [make_optimizer(optimizer, [{"params": g, "lr": float(lr)} for g, lr in zip(groups, lrs)],
                               float(lrs[0]), implementation, **options)]
    plan_lr = [schedule_for(schedule, float(lr), steps) for lr in lrs]
    plans = [nets.batches(problem, batch_size, steps, s) for s in seeds]   # every seed's short batch comes together
    alive = torch.ones(K * S, dtype=torch.bool, device=device)
    ceiling = None
    records = {"train_loss": [], "val_loss": [], "val_acc": []}
    estimates = []
    recorded = []

    def params():
        return [torch.cat([g[i] for g in groups]) for i in range(len(groups[0]))]

    def losses(ps, X, y):
        logits = nets._forward(ps, X)   # the stacked MLP's forward pass, as train_many's
        return torch.nn.functional.cross_entropy(logits.transpose(1, 2), y, reduction="none").mean(dim=1), logits

    def record(t):
        for opt in opts:
            set_mode(opt, "eval")
        with torch.no_grad():
            ps = params()
            tr, _ = losses(ps, problem.X.expand(K * S, -1, -1), problem.y.expand(K * S, -1))
            va, logits = losses(ps, problem.X_val.expand(K * S, -1, -1), problem.y_val.expand(K * S, -1))
            acc = (logits.argmax(dim=2) == problem.y_val).to(torch.float64).mean(dim=1)
            ok = alive & torch.isfinite(tr) & torch.isfinite(va)
            for name, value, bad in (("train_loss", tr, torch.inf), ("val_loss", va, torch.inf), ("val_acc", acc, 0.0)):
                records[name].append(torch.where(ok, value.to(torch.float64), bad).view(K, S).cpu().numpy())
        recorded.append(t)
        if optimizer in PER_COPY:
            estimates.append(np.array([o.param_groups[0]["d"] for o in opts], dtype=float).reshape(K, S))
        for opt in opts:
            set_mode(opt, "train")

    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, desc=f"{optimizer}, {K * S} copies", leave=False)
    record(0)
    try:
        for t in range(steps):
            idx = torch.stack([plan[t] for plan in plans]).repeat(K, 1)                                  # (K * S, B): copy = lr index * S + seed
            loss, _ = losses(params(), problem.X[idx], problem.y[idx])
            if ceiling is None:
                ceiling = blowup * loss.detach()
            alive &= torch.isfinite(loss) & (loss <= ceiling)
            for opt in opts:
                opt.zero_grad()
            torch.where(alive, loss, 0.0).sum().backward()
            for g in groups:                                                 # a dead copy's NaNs stay its own
                for p in g:
                    torch.nan_to_num_(p.grad, nan=0.0, posinf=0.0, neginf=0.0)
            if schedule != "constant":
                for c, opt in enumerate(opts):
                    for k, group in enumerate(opt.param_groups):
                        group["lr"] = plan_lr[c // S if optimizer in PER_COPY else k](t)
            for opt in opts:
                opt.step()
            if (t + 1) % every == 0 or t + 1 == steps:
                record(t + 1)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    stack = {name: np.stack(value, axis=2) for name, value in records.items()}
    d = np.stack(estimates, axis=2) if estimates else None
    return Curves(optimizer, lrs, seeds, np.array(recorded), **stack, d=d)
