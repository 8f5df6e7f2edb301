"""Training device (``AdamBackend(device=...)``): checked, and honoured by every tensor xscale-gnn creates.

No GPU exists where CI runs these tests (the 2-core machine); they all ran once on an NVIDIA H200
(2026-11-23, ``benchmarks/measured/2026-11-23/gpu-h200/``). What can be checked here is one
property a GPU run depends on: every tensor factory that xscale-gnn's own code calls while the
loop and the batched fits train is given a device (or ``out=``), so that no tensor is made on the
CPU by default. :class:`FactoryCalls` records the calls without one; the noise buffer is on the CPU
by design (one seeded CPU stream per fit, so that a GPU fit sees the loop's numbers;
:mod:`xscale_gnn.noise`). It does not check the device's value, nor tensors made by other
operations: inputs moved with ``.to(device)`` are checked by reading the code (and, on a machine
with a GPU, by :func:`test_cuda_fits_agree_with_the_cpu`).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

import xscale_gnn
from xscale import testing
from xscale.evaluate.cv import scheme_for
from xscale.fitting import fit_many, fit_model
from xscale.interfaces import ModelSpec
from xscale_gnn.backend import AdamBackend

FACTORIES = {torch.empty, torch.zeros, torch.ones, torch.full, torch.arange, torch.tensor, torch.as_tensor,
             torch.rand, torch.randn, torch.randint, torch.linspace, torch.eye, torch.empty_strided}
CPU_BY_DESIGN = {"noise.py"}  # the noise buffer: drawn on the CPU for every device


class FactoryCalls(TorchFunctionMode):
    """Records ``(file, line, factory)`` of tensor factories called from files under ``root``
    with neither ``device=`` nor ``out=``."""

    def __init__(self, root: Path):
        super().__init__()
        self.root, self.calls = str(root), []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in FACTORIES and "device" not in kwargs and "out" not in kwargs:
            caller = sys._getframe(1).f_code.co_filename
            if caller.startswith(self.root) and Path(caller).name not in CPU_BY_DESIGN:
                self.calls.append((Path(caller).name, sys._getframe(1).f_lineno, func.__name__))
        return func(*args, **kwargs)


def _jobs(n):
    data = testing.real_data()
    splits = scheme_for(data, "blocked", 5, 0).splits
    rng = np.random.default_rng(3)
    datas = [data] + [replace(data, target=torch.as_tensor(rng.permutation(data.target.numpy())))
                      for _ in range(n - 1)]
    return datas, [splits[i % len(splits)].train for i in range(n)]


def test_the_checker_sees_a_tensor_made_without_a_device():
    with FactoryCalls(Path(__file__).parent) as mode:
        torch.zeros(3)
        torch.zeros(3, device="cpu")
        torch.empty(2, out=torch.empty(2, device="cpu"))
    assert [c[2] for c in mode.calls] == ["zeros"]


def test_loop_and_batch_create_every_tensor_on_the_training_device():
    datas, masks = _jobs(4)
    spec = ModelSpec(backend_params={"max_epochs": 30, "patience": 5, "device": "cpu"})
    plain = fit_many(datas, spec, masks, seeds=0)
    with FactoryCalls(Path(xscale_gnn.__file__).parent) as mode:
        batched = fit_many(datas, spec, masks, seeds=0)
        loop = fit_model(datas[0], spec, masks[0], seed=0)
    assert mode.calls == [], f"tensors made without the training device: {mode.calls}"
    assert len({r.info["epochs"] for r in batched}) > 1, "fits stop at different epochs (rows leave the batch)"
    assert [r.prediction.tolist() for r in batched] == [r.prediction.tolist() for r in plain]
    assert np.isfinite(loop.prediction).all()


def test_explicit_cpu_device_gives_the_default_numbers():
    datas, masks = _jobs(2)
    default = ModelSpec(backend_params={"max_epochs": 20})
    cpu = ModelSpec(backend_params={"max_epochs": 20, "device": "cpu"})
    for a, b in ((fit_many(datas, default, masks, seeds=1), fit_many(datas, cpu, masks, seeds=1)),
                 ([fit_model(datas[0], default, masks[0], seed=1)], [fit_model(datas[0], cpu, masks[0], seed=1)])):
        assert [r.prediction.tolist() for r in a] == [r.prediction.tolist() for r in b]


@pytest.mark.parametrize("device, message", [("tpu", "expected 'cpu' or 'cuda"),
                                             ("not a device", "not a device name"),
                                             ("meta", "expected 'cpu' or 'cuda")])
def test_unknown_devices_are_refused(device, message):
    with pytest.raises(ValueError, match=message) as err:
        AdamBackend(device=device)
    assert repr(device) in str(err.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_cuda_without_a_gpu_is_refused_with_the_reason():
    with pytest.raises(ValueError, match=r"device='cuda'.*torch.cuda.is_available\(\) is False"):
        AdamBackend(device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine (passed on an NVIDIA H200, 2026-11-23)")
def test_cuda_fits_agree_with_the_cpu():
    """On a GPU: the batch and the loop give the CPU's predictions up to float32 summation order
    (150 epochs without early stopping on the real map and a permuted one; tolerance as in
    test_batched.py, 1e-4 of the target's SD)."""
    datas, masks = _jobs(2)
    spec = {"max_epochs": 150, "val_fraction": 0.0}
    cpu, gpu = ModelSpec(backend_params=spec), ModelSpec(backend_params={**spec, "device": "cuda"})
    sd = float(datas[0].target.std())
    for a, b in zip(fit_many(datas, cpu, masks, seeds=2), fit_many(datas, gpu, masks, seeds=2)):
        np.testing.assert_allclose(b.prediction, a.prediction, atol=1e-4 * sd, rtol=0)
    loop_cpu, loop_gpu = fit_model(datas[0], cpu, masks[0], seed=2), fit_model(datas[0], gpu, masks[0], seed=2)
    np.testing.assert_allclose(loop_gpu.prediction, loop_cpu.prediction, atol=1e-4 * sd, rtol=0)


def test_device_is_a_hyperparameter_of_the_configuration():
    """``--set backend.device=...`` reaches the backend; the resolved configuration (cache key,
    provenance) records it."""
    from xscale import config

    cfg = config.resolve(config.build(preset="gnn-vae"))
    assert cfg["backend"]["device"] == "cpu"
    assert config.resolve(config.build(preset="gnn-vae", sets=["backend.device=cuda:1"]))["backend"]["device"] == \
        "cuda:1"
