"""Early-stopping bookkeeping of the batched fits: per-row r and the per-epoch history."""

from __future__ import annotations

import numpy as np
import torch

from xscale_gnn.stopping import EpochLog, ValidationR


def test_validation_r_is_pearson_over_each_rows_regions():
    g = torch.Generator().manual_seed(0)
    y, pred = torch.randn(3, 12, generator=g), torch.randn(3, 12, generator=g)
    mask = torch.zeros(3, 12, dtype=torch.bool)
    mask[0, [1, 4, 5, 9]] = True
    mask[1, 2:9] = True  # row 2: no validation regions
    r = ValidationR(y, mask)(pred)
    for row in (0, 1):
        m = mask[row].numpy()
        expected = np.corrcoef(pred[row].numpy()[m], y[row].numpy()[m])[0, 1]
        assert abs(float(r[row]) - expected) < 1e-6
    assert torch.isnan(r[2])


def test_epoch_log_writes_each_rows_values_to_its_fit_across_row_changes():
    log = EpochLog()
    first, second = torch.tensor([0, 1, 2]), torch.tensor([2, 0])  # fit 1 left the batch after epoch 1
    for epoch in range(2):
        log.add(epoch, first, torch.tensor([10.0, 20.0, 30.0]) + epoch)
    for epoch in range(2, 4):
        log.add(epoch, second, torch.tensor([300.0, 100.0]) + epoch)
    h = log.history(5, 4)
    assert h.shape == (5, 4)
    assert h[:, 0].tolist()[:4] == [10.0, 11.0, 102.0, 103.0]
    assert h[:2, 1].tolist() == [20.0, 21.0] and torch.isnan(h[2:, 1]).all()
    assert h[:4, 2].tolist() == [30.0, 31.0, 302.0, 303.0]
    assert torch.isnan(h[:, 3]).all() and torch.isnan(h[4]).all()  # never logged
