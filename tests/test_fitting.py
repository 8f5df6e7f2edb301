"""The core hides held-out targets from every backend."""

from __future__ import annotations

import numpy as np
import torch

from xscale import registry
from xscale.fitting import fit_many, fit_model, hide_held_out
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

    _use_backend(monkeypatch, Spy)
    data = real_data()
    mask = data.target_mask.copy()
    mask[:10] = False
    fit_model(data, ModelSpec(), mask, seed=0)
    assert torch.isnan(seen["target"][:10]).all() and not torch.isnan(seen["target"][10:]).any()


def _use_backend(monkeypatch, cls) -> None:
    real_load, real_build = registry.load, registry.build
    monkeypatch.setattr(registry, "load", lambda kind, name: cls if kind == "backend" else real_load(kind, name))
    monkeypatch.setattr(registry, "build", lambda kind, name, params=None, *a: cls() if kind == "backend"
                        else real_build(kind, name, params, *a))


def test_progress_follows_each_fit_of_a_looping_backend_and_the_batch_of_a_batched_one(monkeypatch):
    """A backend that fits one model at a time (NUTS) reports each fit as it ends, so the progress
    bar's time left is right early; a batched backend reports its batch when it is done."""
    events = []

    class Loop(Backend):
        def fit(self, data, components, train_mask, seed):
            events.append(("fit", int(train_mask.sum())))
            n = data.n_regions
            return FitResult(np.full(n, float(train_mask.sum())), np.zeros((n, 1)))

    class Batched(Loop):
        def fit_batch(self, datas, components, train_masks, seeds):
            return [self.fit(d, c, m, s) for d, c, m, s in zip(datas, components, train_masks, seeds)]

    data = real_data()
    masks = [data.target_mask.copy() for _ in range(3)]
    for i, m in enumerate(masks):
        m[:i + 1] = False  # fits told apart by their training size
    sizes = [int(m.sum()) for m in masks]
    _use_backend(monkeypatch, Loop)
    fits = fit_many([data] * 3, ModelSpec(), masks, seeds=0, on_fit=lambda i: events.append(("done", i)))
    assert events == [("fit", sizes[0]), ("done", 0), ("fit", sizes[1]), ("done", 1), ("fit", sizes[2]), ("done", 2)]
    assert [f.prediction[0] for f in fits] == sizes == [f.prediction[0] for f in fit_many([data] * 3, ModelSpec(),
                                                                                          masks, seeds=0)]
    events.clear()
    _use_backend(monkeypatch, Batched)
    fit_many([data] * 3, ModelSpec(), masks, seeds=0, on_fit=lambda i: events.append(("done", i)))
    assert events == [("fit", s) for s in sizes] + [("done", i) for i in range(3)]
