"""The core hides held-out targets from every backend."""

from __future__ import annotations

import numpy as np
import torch

from xscale import registry
from xscale.fitting import fit_model, hide_held_out
from xscale.interfaces import Backend, FitResult, ModelSpec
from xscale.testing import real_data


def test_hide_held_out_sets_nan_outside_mask():
    data = real_data()
    mask = data.target_mask.copy()
    mask[[3, 40]] = False
    visible = hide_held_out(data, mask)
    assert torch.isnan(visible.target[[3, 40]]).all()
    np.testing.assert_array_equal(visible.target.numpy()[mask], data.target.numpy()[mask])
    assert not torch.isnan(data.target).any(), "the caller's data must be left untouched"


def test_backend_receives_only_training_targets(monkeypatch):
    seen = {}

    class Spy(Backend):
        def fit(self, data, components, train_mask, seed):
            seen["target"] = data.target.clone()
            n = data.n_regions
            return FitResult(np.zeros(n), np.zeros((n, 1)))

    real_load, real_build = registry.load, registry.build
    monkeypatch.setattr(registry, "load", lambda kind, name: Spy if kind == "backend" else real_load(kind, name))
    monkeypatch.setattr(registry, "build", lambda kind, name, params=None, *a: Spy() if kind == "backend"
                        else real_build(kind, name, params, *a))
    data = real_data()
    mask = data.target_mask.copy()
    mask[:10] = False
    fit_model(data, ModelSpec(), mask, seed=0)
    assert torch.isnan(seen["target"][:10]).all() and not torch.isnan(seen["target"][10:]).any()
