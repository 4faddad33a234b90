import pytest
import torch

from gan.device import DeviceUnavailable, resolve_device


def test_auto_is_cuda_exactly_where_torch_sees_one(monkeypatch):
    for available, expected in ((True, "cuda"), (False, "cpu")):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: available)
        assert resolve_device("auto") == expected and resolve_device("cpu") == "cpu"


def test_cuda_without_a_device_is_refused_unless_the_caller_defers_it(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceUnavailable, match="no CUDA device"):
        resolve_device("cuda")
    assert resolve_device("cuda", must_exist=False) == "cuda"
