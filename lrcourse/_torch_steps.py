"""What every ``torch.optim.Optimizer`` of the course does the same way around its update rule."""

import torch


def evaluate(closure):
    """The loss of ``closure()``, with gradients on, as torch.optim's step(closure) does (None without one)."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


def scratch(optimizer, p, name):
    """A tensor shaped like ``p``, kept on ``optimizer`` and reused at every step, not part of its state.

    Writing into it (``torch.sqrt(v, out=...)``) instead of allocating a new tensor each step saves the
    allocation and the page faults of a fresh block. It is not pickled with the optimizer: made on demand.
    """
    buffers = optimizer.__dict__.setdefault("_scratch", {})
    key = (p, name)
    if key not in buffers:
        buffers[key] = torch.empty_like(p, memory_format=torch.preserve_format)
    return buffers[key]
