"""Which device the course's torch code runs on.

CUDA when a GPU is present, else the CPU. The environment variable
``LRCOURSE_DEVICE`` forces a choice (``cpu``, ``cuda`` or ``cuda:1``), e.g. to
compare timings or to run a notebook on the CPU of a machine with a GPU.
torch is imported only when a function here is called, so ``import lrcourse``
stays light.
"""

import os

__all__ = ["ENV_VAR", "get_device", "describe_device"]

ENV_VAR = "LRCOURSE_DEVICE"


def get_device():
    """The ``torch.device`` to use: ``$LRCOURSE_DEVICE`` if set, else cuda if available, else cpu."""
    import torch

    forced = os.environ.get(ENV_VAR, "").strip()
    if forced:
        try:
            device = torch.device(forced)
        except RuntimeError as error:
            raise ValueError(f"{ENV_VAR}={forced!r} is not a device torch knows: {error}") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"{ENV_VAR}={forced!r} asks for CUDA, but torch sees no CUDA GPU here")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def describe_device():
    """One line for a notebook to print: the device, and why it was chosen."""
    import torch

    device = get_device()
    why = f"set by {ENV_VAR}" if os.environ.get(ENV_VAR, "").strip() else "chosen automatically"
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return f"Using GPU {name} ({device}, {why})."
    return f"Using the CPU ({why}; torch {torch.__version__})."
