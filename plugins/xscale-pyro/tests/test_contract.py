"""xscale contract checks for the Pyro plugin, and swapping it in from the command line."""

from __future__ import annotations

import json

import numpy as np

import torch

import pytest
from click.testing import CliRunner

from xscale import testing
from xscale.cli import main
from xscale.errors import IncompatibleModelError
from xscale.fitting import check_compatible
from xscale.interfaces import ModelSpec

SVI = ModelSpec(prior="gp", decoder="linear", backend="svi", encoder_params={"latent_dim": 2},
                backend_params={"steps": 60, "num_samples": 50})
NUTS = ModelSpec(prior="gp", decoder="linear", backend="nuts", encoder_params={"latent_dim": 1},
                 backend_params={"num_samples": 15, "warmup_steps": 15})


def test_prior_and_decoder_contracts():
    testing.check_prior("gp")
    testing.check_prior("gp", params={"kernel": "rbf"})
    testing.check_prior("gp", params={"kernel": "diffusion"})
    testing.check_decoder("linear")


@pytest.mark.parametrize("guide", ["autolowrank", "autonormal", "encoder"])
def test_svi_backend_contract(guide):
    spec = ModelSpec(**{**SVI.__dict__, "backend_params": {**SVI.backend_params, "guide": guide}})
    res = testing.check_backend(spec)
    assert res.interval_95.shape == (2, 68) and (res.interval_95[0] <= res.interval_95[1]).all()
    assert len(res.history["elbo_loss"]) == 60


def test_nuts_backend_contract():
    res = testing.check_backend(NUTS)
    assert set(res.info["r_hat"]) == {"f", "sigma", "lengthscale", "variance"}
    assert res.info["min_ess"] > 0


def test_incompatible_combinations_fail_before_training():
    with pytest.raises(IncompatibleModelError, match="Backends that fit prior 'gp': nuts, svi"):
        check_compatible(ModelSpec(prior="gp"))
    with pytest.raises(IncompatibleModelError, match=r"at most 4 latent maps.*latent_dim=64.*encoder.latent_dim=2"):
        check_compatible(ModelSpec(prior="gp", decoder="linear", backend="nuts"))
    with pytest.raises(IncompatibleModelError, match=r"cannot fit prior 'gp'; it works with priors \['laplacian'\]"):
        check_compatible(ModelSpec(prior="gp", backend="adam"))


def test_cli_swap_gives_the_same_layout_with_intervals(tmp_path):
    args = ["fit", "--target", "enigma:scz", "--folds", "3", "--quick"]
    paper = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "adam"), "--set", "backend.max_epochs=60"])
    gp = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "svi"), "--backend", "svi", "--prior", "gp",
                                   "--encoder", "gnn", "--set", "encoder.latent_dim=2", "--set", "backend.steps=60"])
    assert paper.exit_code == 0 and gp.exit_code == 0, paper.output + gp.output
    assert sorted(p.name for p in (tmp_path / "adam").iterdir()) == sorted(p.name for p in (tmp_path / "svi").iterdir())
    a = json.loads((tmp_path / "adam" / "metrics.json").read_text())
    b = json.loads((tmp_path / "svi" / "metrics.json").read_text())
    assert set(a) == set(b) and set(a["blocked_cv"]) | {"coverage_95"} == set(b["blocked_cv"])
    assert 0 <= b["blocked_cv"]["coverage_95"] <= 1
    header = (tmp_path / "svi" / "predictions.csv").read_text().splitlines()[0]
    assert header == (tmp_path / "adam" / "predictions.csv").read_text().splitlines()[0]
    assert "95% coverage" in gp.output


def test_diffusion_kernel_follows_the_graph():
    """Adjacent regions covary more than distant ones; the kernel is a valid covariance."""
    from xscale_pyro.prior import GPPrior

    data = testing.real_data()
    cov = GPPrior(kernel="diffusion").covariance(data.centroids, 1.0, 1.0, edge_index=data.edge_index)
    assert torch.allclose(cov, cov.T) and float(torch.linalg.eigvalsh(cov).min()) > 0
    assert cov.diagonal().mean() == pytest.approx(1.0, abs=1e-3)
    src, dst = data.edge_index
    adjacent = cov[src, dst].mean()
    left, right = torch.arange(34), torch.arange(34, 68)
    assert adjacent > 5 * cov[left][:, right].abs().mean(), "hemispheres are disconnected in the DK graph"


def test_svi_with_diffusion_kernel_runs():
    spec = ModelSpec(**{**SVI.__dict__, "prior_params": {"kernel": "diffusion"}})
    res = testing.check_backend(spec)
    assert res.info["lengthscale"] > 0 and res.info["lengthscale_units"] == "graph steps^2"


def test_spatial_gp_baseline_uses_no_genes():
    from dataclasses import replace

    from xscale import config

    spec = config.model_spec(config.resolve(config.build(preset="spatial-gp", sets=["backend.steps=150"])))
    res = testing.check_backend(spec)
    assert res.interval_95.shape == (2, 68) and res.info["lengthscale_units"] == "mm"
    data = testing.real_data()
    shuffled = replace(data, expression=data.expression[:, torch.randperm(data.n_genes)] * 0 + 1)
    from xscale.fitting import fit_model

    a = fit_model(data, spec, data.target_mask, seed=1)
    b = fit_model(shuffled, spec, data.target_mask, seed=1)
    assert np.array_equal(a.prediction, b.prediction)
