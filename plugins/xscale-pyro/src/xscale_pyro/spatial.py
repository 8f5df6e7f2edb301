"""Spatial-only Gaussian-process regression on region centroids (no genes).

Fits ``y_m ~ MVN(mean, variance * k_l(X, X) + noise^2 I)`` for one or several maps sharing
hyperparameters, with ``pyro.contrib.gp.models.GPRegression`` and the same kernel and
hyperpriors as :class:`~xscale_pyro.prior.GPPrior` (MAP estimates of lengthscale, variance and
noise). Used for parameter-recovery checks and as the "space alone" baseline: if it predicts
a map as well as a gene model, the genes explain nothing beyond spatial smoothness.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyro
import pyro.contrib.gp as gp
import pyro.distributions as dist
import torch
from pyro.nn import PyroSample

from xscale.checks import require
from xscale.fitting import check_train_mask
from xscale.interfaces import Backend, BrainData, FitResult
from xscale_pyro.prior import GPPrior


@dataclass(frozen=True)
class SpatialGPFit:
    """MAP hyperparameters and the fitted model (for predictions at new centroids)."""

    lengthscale_mm: float
    variance: float
    noise_sd: float
    loss: list[float]
    model: gp.models.GPRegression


def fit_spatial_gp(maps: torch.Tensor, centroids: torch.Tensor, prior: GPPrior | None = None,
                   noise_scale: float = 1.0, steps: int = 1000, lr: float = 0.02, seed: int = 0,
                   edge_index: torch.Tensor | None = None) -> SpatialGPFit:
    """Fit GP hyperparameters to maps observed on region centroids.

    Parameters
    ----------
    maps : (M, R) or (R,) tensor
        Observed values, centred or not (the mean is removed per map).
    centroids : (R, 3) tensor
        mm.
    prior : GPPrior, optional
        Kernel and hyperpriors (default ``GPPrior()``: Matern-5/2, lengthscale median 40 mm).
    noise_scale : float
        The noise variance has a HalfNormal(noise_scale ** 2) prior.
    steps, lr, seed : SVI settings.
    edge_index : (2, E) tensor, optional
        Region graph, for the diffusion kernel.

    Returns
    -------
    SpatialGPFit

    Raises
    ------
    ValueError
        If shapes disagree.
    """
    y = torch.as_tensor(maps, dtype=torch.float64)
    y = y.unsqueeze(0) if y.ndim == 1 else y
    X = torch.as_tensor(centroids, dtype=torch.float64)
    if y.ndim != 2 or y.shape[1] != X.shape[0] or X.shape[1:] != (3,):
        raise ValueError(f"fit_spatial_gp: maps (M, R) and centroids (R, 3) expected, got {tuple(y.shape)}, {tuple(X.shape)}")
    y = y - y.mean(dim=1, keepdim=True)
    pyro.clear_param_store()
    pyro.set_rng_seed(seed)
    prior = prior or GPPrior()
    gpr = gp.models.GPRegression(X, y, prior.make_kernel(edge_index, X.shape[0]), jitter=prior.jitter)
    gpr.noise = PyroSample(dist.HalfNormal(torch.tensor(noise_scale, dtype=torch.float64) ** 2))
    loss = gp.util.train(gpr, torch.optim.Adam(gpr.parameters(), lr=lr),
                         loss_fn=pyro.infer.Trace_ELBO().differentiable_loss, num_steps=steps)
    gpr.set_mode("guide")
    with torch.no_grad():
        ls, var, noise = (float(gpr.kernel.lengthscale), float(gpr.kernel.variance), float(gpr.noise))
    return SpatialGPFit(ls, var, noise**0.5, [float(v) for v in loss], gpr)


class SpatialGPBackend(Backend):
    """Baseline that uses no genes at all: GP regression of the map on region centroids.

    Hyperparameters (lengthscale, variance, noise) are MAP estimates on the training regions;
    held-out regions get the GP posterior-predictive mean and 95 % interval. If this matches a
    gene model out of sample, the genes explain nothing beyond spatial smoothness.

    Parameters
    ----------
    kernel : {'matern52', 'rbf'}
    lengthscale_mm : float
        Median of the lengthscale hyperprior, mm.
    steps : int
        Optimisation steps.
    """

    needs_components = False
    uses_expression = False

    def __init__(self, *, kernel: str = "matern52", lengthscale_mm: float = 40.0, steps: int = 500):
        require("SpatialGPBackend", "steps", steps, 1)
        self.prior = GPPrior(kernel=kernel, lengthscale_mm=lengthscale_mm)
        self.steps = steps

    def fit(self, data: BrainData, components, train_mask: np.ndarray, seed: int) -> FitResult:
        """Fit on ``train_mask`` (R,) regions; predict all R with 95 % intervals.

        Raises
        ------
        ValueError
            On a bad ``train_mask``.
        """
        mask = check_train_mask(data, train_mask)
        y = data.target.double()[torch.as_tensor(mask)]
        mean, sd = float(y.mean()), float(y.std()) or 1.0
        X = data.centroids.double()
        fit = fit_spatial_gp((y - mean) / sd, X[torch.as_tensor(mask)], self.prior, steps=self.steps, seed=seed)
        with torch.no_grad():
            f_loc, f_var = fit.model(X, full_cov=False, noiseless=False)
        loc = f_loc.reshape(-1) * sd + mean
        scale = f_var.reshape(-1).clamp_min(0).sqrt() * sd
        return FitResult(prediction=loc.numpy(), latent=np.zeros((data.n_regions, 0)), prediction_scale=scale.numpy(),
                         interval_95=np.stack([(loc - 1.96 * scale).numpy(), (loc + 1.96 * scale).numpy()]),
                         history={"loss": fit.loss},
                         info={"lengthscale": fit.lengthscale_mm, "lengthscale_units": "mm",
                               "variance": fit.variance * sd**2, "sigma": fit.noise_sd * sd})
