"""The paper's GNN-VAE plugin: xscale contract checks, the prior's maths, and a fit on real data."""

from __future__ import annotations

import pytest
import torch

from xscale import testing
from xscale.evaluate.metrics import score
from xscale.fitting import fit_model
from xscale.interfaces import ModelSpec
from xscale_gnn.prior import LaplacianPrior

QUICK = ModelSpec(backend_params={"max_epochs": 40, "patience": 20})


def test_encoder_contract():
    enc = testing.check_encoder("gnn")
    assert enc.latent_dim == 64


def test_decoder_and_prior_contracts():
    testing.check_decoder("mlp")
    testing.check_prior("laplacian")


def test_backend_contract():
    res = testing.check_backend(QUICK)
    assert res.latent.shape == (68, 64)
    assert res.info["epochs"] <= 40


def test_laplacian_prior_by_hand():
    data = testing.real_data()
    z = torch.zeros(data.n_regions, 2)
    i, j = (int(v) for v in data.edge_index[:, 0])
    z[i, 0] = 1.0  # one region differs by 1 in one dimension
    deg = int((data.edge_index[0] == i).sum())
    n_undirected = data.edge_index.shape[1] // 2
    loc, scale = torch.zeros_like(z), torch.ones_like(z)
    p_sum = LaplacianPrior(smoothness=1.0, kl_weight=0.0, edge_reduction="sum")
    assert float(p_sum.regulariser(z, loc, scale, data)) == pytest.approx(deg)
    p_mean = LaplacianPrior(smoothness=1.0, kl_weight=0.0)
    assert float(p_mean.regulariser(z, loc, scale, data)) == pytest.approx(deg / n_undirected)
    kl = LaplacianPrior(smoothness=0.0, kl_reduction="sum")
    assert float(kl.regulariser(z, loc, scale, data)) == pytest.approx(0.0)
    assert float(kl.regulariser(z, loc + 1, scale, data)) == pytest.approx(0.5 * z.numel())
    with pytest.raises(ValueError, match="edge_reduction"):
        LaplacianPrior(edge_reduction="max")


def test_fits_real_map_in_sample():
    data = testing.real_data()
    spec = ModelSpec(backend_params={"max_epochs": 600, "val_fraction": 0.0})
    res = fit_model(data, spec, data.target_mask, seed=0)
    s = score(data.target.numpy(), res.prediction)
    assert s["r"] > 0.8, s
    assert res.history["loss"][-1] < res.history["loss"][0]
