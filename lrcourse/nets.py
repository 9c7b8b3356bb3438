"""Small networks on data sets that scikit-learn ships, and many of them trained at once.

Three problems, each with a fixed train/validation split and standardized inputs:

- ``"digits"``: the 1797 8x8 handwritten digits, an MLP 64-32-10 (ReLU);
- ``"cancer"``: the 569 breast-cancer cases, logistic regression 30 -> 2 (a single linear layer);
- ``"wine"``:   the 178 wines, an MLP 13-16-3 (ReLU).

``model(problem, seed)`` is the ordinary ``torch.nn.Sequential``, initialised by torch's default rule
under ``torch.manual_seed(seed)``. ``batches(problem, batch_size, steps, seed)`` is the sequence of
minibatches a shuffling loader gives (a new permutation every epoch, the last short batch kept).

``train_many`` trains one copy of that model for every (lr, seed) pair at once, as stacked tensors with
one lr per copy: SGD with momentum and Adam written with torch's update rules (``tests/test_nets.py``
shows every copy equal to its own ``torch.optim`` run). It is what makes a full lr sweep over seeds
take seconds, so that a range test's suggestion can be compared with the lr that is really best.
"""

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["PROBLEMS", "Problem", "load", "model", "batches", "train_many", "Sweep", "full_loss"]

PROBLEMS = {  # name: (loader in sklearn.datasets, hidden units or None for a linear model)
    "digits": ("load_digits", 32),
    "cancer": ("load_breast_cancer", None),
    "wine": ("load_wine", 16),
}


@dataclass
class Problem:
    name: str
    X: torch.Tensor          # training inputs, standardized with the training set's mean and std
    y: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    hidden: int | None
    classes: int

    @property
    def n(self):
        return len(self.y)

    @property
    def sizes(self):
        d = self.X.shape[1]
        return [d, self.classes] if self.hidden is None else [d, self.hidden, self.classes]

    def __repr__(self):
        kind = "logistic regression" if self.hidden is None else "MLP " + "-".join(map(str, self.sizes))
        return f"{self.name}: {kind}, {self.n} training and {len(self.y_val)} validation examples"


def load(name, device=None, dtype=torch.float32, val_fraction=0.25, seed=0):
    """The problem ``name`` (a key of ``PROBLEMS``) as tensors on ``device``; the split is fixed by ``seed``."""
    import sklearn.datasets

    if name not in PROBLEMS:
        raise ValueError(f"expected one of ({', '.join(PROBLEMS)}), got {name}")
    loader, hidden = PROBLEMS[name]
    X, y = getattr(sklearn.datasets, loader)(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    cut = int(round(len(y) * (1 - val_fraction)))
    train, val = order[:cut], order[cut:]
    mean, std = X[train].mean(0), X[train].std(0)
    std[std == 0] = 1.0                                     # the digits' always-blank border pixels
    X = (X - mean) / std
    device = torch.device("cpu") if device is None else device

    def t(a, kind):
        return torch.tensor(a, dtype=kind, device=device)

    return Problem(name, t(X[train], dtype), t(y[train], torch.long), t(X[val], dtype), t(y[val], torch.long),
                   hidden, int(y.max()) + 1)


def model(problem, seed):
    """The problem's network with torch's default initialisation under ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    sizes = problem.sizes
    layers = []
    for k in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[k], sizes[k + 1]))
        if k < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers).to(device=problem.X.device, dtype=problem.X.dtype)


def batches(problem, batch_size, steps, seed):
    """``steps`` index tensors of the minibatches a shuffling loader gives: each epoch a new permutation."""
    g = torch.Generator().manual_seed(seed)
    out = []
    while len(out) < steps:
        order = torch.randperm(problem.n, generator=g)
        out.extend(order[i:i + batch_size] for i in range(0, problem.n, batch_size))
    return [idx.to(problem.X.device) for idx in out[:steps]]


def full_loss(net, X, y):
    """The mean cross-entropy of ``net`` on (X, y), without gradients."""
    with torch.no_grad():
        return torch.nn.functional.cross_entropy(net(X), y).item()


@dataclass
class Sweep:
    lrs: np.ndarray
    seeds: list
    loss: np.ndarray        # (lrs, seeds): mean training cross-entropy after the budget; inf where it diverged
    val_loss: np.ndarray    # the same on the validation set
    steps: int

    def mean(self, which="loss"):
        return getattr(self, which).mean(axis=1)

    @property
    def best(self):
        """The lr of the grid whose mean final training loss over the seeds is lowest."""
        return float(self.lrs[int(np.argmin(self.mean()))])


def _stacked(problem, seeds, copies):
    """Every layer's weight and bias, one copy per (lr, seed): tensors of shape (copies * S, ...)."""
    nets = [model(problem, s) for s in seeds]
    linears = [[m for m in net if isinstance(m, torch.nn.Linear)] for net in nets]
    params = []
    for k in range(len(linears[0])):
        W = torch.stack([ls[k].weight.detach().T for ls in linears])        # (S, in, out)
        b = torch.stack([ls[k].bias.detach()[None, :] for ls in linears])   # (S, 1, out)
        params += [W.repeat(copies, 1, 1).clone().requires_grad_(), b.repeat(copies, 1, 1).clone().requires_grad_()]
    return params


def _forward(params, X):
    h = X
    for k in range(0, len(params), 2):
        h = torch.baddbmm(params[k + 1], h, params[k])
        if k + 2 < len(params):
            h = torch.relu(h)
    return h


def _losses(params, X, y):
    """Mean cross-entropy per copy: ``X`` (M, B, d), ``y`` (M, B) -> (M,)."""
    logits = _forward(params, X)
    return torch.nn.functional.cross_entropy(logits.transpose(1, 2), y, reduction="none").mean(dim=1)


def train_many(problem, optimizer, lrs, seeds, steps, batch_size, momentum=0.9, betas=(0.9, 0.999), eps=1e-8,
               blowup=1e3, schedule=None):
    """Train the problem's model for every (lr, seed) at once; returns a ``Sweep`` of the final losses.

    ``optimizer`` is ``"sgd"`` (torch's SGD with ``momentum``) or ``"adam"`` (torch's Adam). Seed s gives the
    model ``model(problem, s)`` and the minibatches ``batches(problem, batch_size, steps, s)``, the same for
    every lr. A copy whose minibatch loss becomes NaN, infinite or ``blowup`` times its first one has diverged:
    it is stopped and scored inf.

    ``schedule``, if given, is a function ``t -> factor``: step t (t = 0 .. steps - 1) uses ``factor * lr`` for
    every copy, as ``torch.optim.lr_scheduler.LambdaLR(opt, schedule)`` stepped after each ``opt.step()`` does.
    A schedule of ``lrcourse.schedules`` built with lr 1 is one: ``schedule=schedules.warmup(
    schedules.constant(1.0), 20, start_factor=0.01)`` warms every lr of the sweep up over 20 steps.
    """
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"expected one of (sgd, adam), got {optimizer}")
    lrs = np.asarray(lrs, dtype=float)
    seeds = list(seeds)
    K, S = len(lrs), len(seeds)
    params = _stacked(problem, seeds, K)                                  # copy index = lr_index * S + seed_index
    dtype, device = problem.X.dtype, problem.X.device
    lr = torch.tensor(np.repeat(lrs, S), dtype=dtype, device=device)[:, None, None]
    plans = [batches(problem, batch_size, steps, s) for s in seeds]
    state = [None] * len(params)
    alive = torch.ones(K * S, dtype=torch.bool, device=device)
    beta1, beta2 = betas
    for t in range(steps):
        factor = 1.0 if schedule is None else float(schedule(t))
        # every seed's epochs have the same length, so the short last batch comes at the same step for all
        idx = torch.stack([plan[t] for plan in plans]).repeat(K, 1)                  # (K * S, B)
        loss = _losses(params, problem.X[idx], problem.y[idx])
        if t == 0:
            ceiling = blowup * loss.detach()
        alive &= torch.isfinite(loss) & (loss <= ceiling)
        grads = torch.autograd.grad(torch.where(alive, loss, 0.0).sum(), params)
        with torch.no_grad():
            live = alive.to(dtype)[:, None, None]
            for i, (p, g) in enumerate(zip(params, grads)):
                if optimizer == "sgd":                    # buf = momentum buf + g (buf = g at the first step)
                    state[i] = g.clone() if state[i] is None else state[i].mul_(momentum).add_(g)
                    p.sub_(live * (factor * lr) * state[i])
                else:                                     # Adam, as torch.optim.Adam (no weight decay)
                    if state[i] is None:
                        state[i] = (torch.zeros_like(p), torch.zeros_like(p))
                    m, v = state[i]
                    m.lerp_(g, 1 - beta1)
                    v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
                    bc1, bc2 = 1 - beta1 ** (t + 1), 1 - beta2 ** (t + 1)
                    denom = (v.sqrt() / bc2 ** 0.5).add_(eps)
                    p.sub_(live * (factor * lr / bc1) * m / denom)
    with torch.no_grad():
        def final(X, y):
            out = _losses(params, X.expand(K * S, -1, -1), y.expand(K * S, -1))
            out = torch.where(alive & torch.isfinite(out), out, torch.inf)
            return out.view(K, S).cpu().numpy().astype(float)

        return Sweep(lrs, seeds, final(problem.X, problem.y), final(problem.X_val, problem.y_val), steps)
