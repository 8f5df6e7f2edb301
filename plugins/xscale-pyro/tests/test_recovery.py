"""Parameter recovery and calibration on maps simulated on the real DK centroids."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from xscale.evaluate.cv import evaluate
from xscale.interfaces import ModelSpec
from xscale.testing import real_data
from xscale_pyro.prior import GPPrior
from xscale_pyro.spatial import fit_spatial_gp

LENGTHSCALE, NOISE = 30.0, 0.3  # mm, SD


def _simulate(n_maps: int, seed: int) -> torch.Tensor:
    """(n_maps, 68) draws of GP(0, Matern-5/2, 30 mm, variance 1) + N(0, 0.3^2) noise."""
    X = real_data().centroids.double()
    L = torch.linalg.cholesky(GPPrior().covariance(X, LENGTHSCALE, 1.0))
    g = torch.Generator().manual_seed(seed)
    f = (L @ torch.randn(68, n_maps, generator=g, dtype=torch.float64)).T
    return f + NOISE * torch.randn(n_maps, 68, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lengthscale_and_noise_are_recovered(seed):
    fit = fit_spatial_gp(_simulate(20, seed), real_data().centroids, steps=1000, seed=seed)
    assert abs(fit.lengthscale_mm - LENGTHSCALE) / LENGTHSCALE < 0.20, fit.lengthscale_mm
    assert abs(fit.noise_sd - NOISE) / NOISE < 0.25, fit.noise_sd


def test_recovery_is_not_the_hyperprior():
    """A map with a different true lengthscale gives a different estimate (prior median 40 mm)."""
    X = real_data().centroids.double()
    L = torch.linalg.cholesky(GPPrior().covariance(X, 80.0, 1.0))
    g = torch.Generator().manual_seed(5)
    y = (L @ torch.randn(68, 20, generator=g, dtype=torch.float64)).T + NOISE * torch.randn(20, 68, generator=g,
                                                                                          dtype=torch.float64)
    assert fit_spatial_gp(y, X, steps=1000).lengthscale_mm > 55


@pytest.mark.slow
def test_held_out_intervals_are_calibrated():
    """95% posterior-predictive intervals of held-out blocks cover 88-99% of simulated truths."""
    data = real_data()
    spec = ModelSpec(prior="gp", decoder="linear", backend="svi", encoder_params={"latent_dim": 1},
                     backend_params={"steps": 1000, "expression_weight": 0.0, "num_samples": 300})
    covered = []
    for seed, y in enumerate(_simulate(4, 100)):
        ev = evaluate(replace(data, target=y.float()), spec, seed, n_folds=5)
        lo, hi = ev.oof_interval
        covered.append((y.numpy() >= lo) & (y.numpy() <= hi))
    rate = float(np.mean(covered))
    assert 0.88 <= rate <= 0.99, rate
