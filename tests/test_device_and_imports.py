"""The device helper, and that the numpy side of lrcourse never imports torch."""

import subprocess
import sys

import pytest
import torch

import lrcourse
from lrcourse import device


def test_numpy_modules_do_not_import_torch():
    code = ("import sys, lrcourse, lrcourse.optim, lrcourse.schedules, lrcourse.functions; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_default_is_cuda_when_available_else_cpu(monkeypatch):
    monkeypatch.delenv(device.ENV_VAR, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert lrcourse.get_device() == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert lrcourse.get_device() == torch.device("cuda")


def test_environment_variable_forces_a_device(monkeypatch):
    monkeypatch.setenv(device.ENV_VAR, "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert lrcourse.get_device() == torch.device("cpu")
    assert "set by LRCOURSE_DEVICE" in lrcourse.describe_device()


def test_forcing_cuda_without_a_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(device.ENV_VAR, "cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="asks for CUDA, but torch sees no CUDA GPU here"):
        lrcourse.get_device()


def test_an_unknown_device_name_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(device.ENV_VAR, "tpu9")
    with pytest.raises(ValueError, match="LRCOURSE_DEVICE='tpu9' is not a device torch knows"):
        lrcourse.get_device()


def test_describe_device_names_what_is_used(monkeypatch):
    monkeypatch.delenv(device.ENV_VAR, raising=False)
    text = lrcourse.describe_device()
    if torch.cuda.is_available():
        assert text.startswith("Using GPU") and "chosen automatically" in text
    else:
        assert text.startswith("Using the CPU (chosen automatically")
