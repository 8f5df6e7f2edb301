"""Stacked Adam state of the batched fits: dropping stopped rows in place."""

from __future__ import annotations

import itertools

import pytest
import torch

from xscale_gnn.update import StackedAdam, compact_rows_


def _every_subset(n: int):
    for keep in itertools.product((False, True), repeat=n):
        yield [i for i, k in enumerate(keep) if k]


@pytest.mark.parametrize("n_rows", [1, 2, 5, 9])
def test_compacting_rows_in_place_equals_indexing(n_rows):
    # every subset of up to 9 rows: runs of any length after any shift, the overlap cases included
    g = torch.Generator().manual_seed(n_rows)
    for rows in _every_subset(n_rows):
        t = torch.randn(n_rows, 3, 4, generator=g)
        expected, storage = t[rows].clone(), t.untyped_storage().data_ptr()
        out = compact_rows_(t, rows)
        assert torch.equal(out, expected), rows
        assert out.untyped_storage().data_ptr() == storage and out.is_contiguous()  # no new allocation


def test_dropping_rows_keeps_their_weights_moments_and_step_count():
    g = torch.Generator().manual_seed(0)
    params = {"w1": torch.randn(6, 4, 5, generator=g), "b1": torch.randn(6, 4, 1, generator=g)}
    state = StackedAdam(params, lr=1e-2, weight_decay=0.0)
    for k in params:  # moments that differ per row
        state.exp_avg[k].normal_(generator=g)
        state.exp_avg_sq[k].uniform_(generator=g)
    state.steps = 7
    before = {name: {k: v.clone() for k, v in d.items()}
              for name, d in (("params", state.params), ("exp_avg", state.exp_avg), ("exp_avg_sq", state.exp_avg_sq))}
    keep = torch.tensor([False, True, True, False, False, True])
    kept = state.subset(keep)
    assert kept.steps == 7 and (kept.lr, kept.weight_decay) == (1e-2, 0.0)
    for name in before:
        for k, v in getattr(kept, name).items():
            assert torch.equal(v, before[name][k][keep]), (name, k)
