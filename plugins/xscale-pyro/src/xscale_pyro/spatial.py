"""Spatial-only Gaussian-process regression on region centroids (no genes).

Fits ``y_m ~ MVN(mean, variance * k_l(X, X) + noise^2 I)`` for one or several maps sharing
hyperparameters, with ``pyro.contrib.gp.models.GPRegression`` and the same kernel and
hyperpriors as :class:`~xscale_pyro.prior.GPPrior` (MAP estimates of lengthscale, variance and
noise). Used for parameter-recovery checks and as the "space alone" baseline: if it predicts
a map as well as a gene model, the genes explain nothing beyond spatial smoothness.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

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
from xscale_pyro.spatial_batch import fit_gp_batch, supports


@dataclass(frozen=True)
class SpatialGPFit:
    """MAP hyperparameters and the fitted model (for predictions at new centroids)."""

    lengthscale_mm: float
    variance: float
    noise_sd: float
    loss: list[float]
    model: gp.models.GPRegression


LEARNING_RATE = 0.02  # Adam step size of the MAP fit


def build_spatial_gp(maps: torch.Tensor, centroids: torch.Tensor, prior: GPPrior | None = None,
                     noise_scale: float = 1.0, seed: int = 0,
                     edge_index: torch.Tensor | None = None) -> gp.models.GPRegression:
    """The untrained pyro model of :func:`fit_spatial_gp`, initialised under ``seed``.

    ``pyro.set_rng_seed(seed)`` is called first; the initial lengthscale, variance and noise
    are then drawn from their hyperpriors (pyro's Delta autoguide initialises to a prior
    sample), in that order, so they depend on ``seed`` only.

    Parameters
    ----------
    maps : (M, R) or (R,) tensor
        Observed values; the mean of each map is removed (``model.y`` is (M, R) float64).
    centroids : (R, 3) tensor
        mm.
    prior, noise_scale, edge_index :
        As in :func:`fit_spatial_gp`.
    seed : int

    Returns
    -------
    pyro.contrib.gp.models.GPRegression

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
    return gpr


def fit_spatial_gp(maps: torch.Tensor, centroids: torch.Tensor, prior: GPPrior | None = None,
                   noise_scale: float = 1.0, steps: int = 1000, lr: float = LEARNING_RATE, seed: int = 0,
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
    gpr = build_spatial_gp(maps, centroids, prior, noise_scale, seed, edge_index)
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
        y, mean, sd = _standardised(data, mask)
        X = data.centroids.double()
        fit = fit_spatial_gp(y, X[torch.as_tensor(mask)], self.prior, steps=self.steps, seed=seed)
        with torch.no_grad():
            f_loc, f_var = fit.model(X, full_cov=False, noiseless=False)
        return _result(f_loc.reshape(-1), f_var.reshape(-1), mean, sd, fit.loss,
                       (fit.lengthscale_mm, fit.variance, fit.noise_sd))

    def fit_batch(self, datas: Sequence[BrainData], components: Sequence[None], train_masks: Sequence[np.ndarray],
                  seeds: Sequence[int]) -> list[FitResult]:
        """B fits trained at once (:func:`~xscale_pyro.spatial_batch.fit_gp_batch`), equal to the loop.

        Each job's pyro model is built as in :meth:`fit` (same standardisation, same seeded
        initial values); the 500-step MAP optimisation and the predictions then run batched in
        float64, so results match :meth:`fit` up to float summation order. Kernels other than
        Matern-5/2 and RBF fall back to the loop.

        Parameters and return value as :meth:`xscale.interfaces.Backend.fit_batch` (B jobs,
        ``components`` all None, (R,) bool training masks); each FitResult as :meth:`fit`'s.

        Raises
        ------
        ValueError
            On a bad ``train_mask`` or sequences of different lengths.
        torch.linalg.LinAlgError
            If a training covariance is not positive definite (as :meth:`fit` would).
        """
        masks = [check_train_mask(d, m) for d, m in zip(datas, train_masks, strict=True)]
        if not masks:
            return []
        jobs = [_standardised(d, m) for d, m in zip(datas, masks)]
        models = [build_spatial_gp(y, d.centroids.double()[torch.as_tensor(m)], self.prior, seed=s)
                  for (y, _, _), d, m, s in zip(jobs, datas, masks, seeds, strict=True)]
        if not supports(models[0]):
            return super().fit_batch(datas, components, train_masks, seeds)
        Xnew = torch.stack([d.centroids.double() for d in datas])
        fit = fit_gp_batch(models, Xnew, self.steps, LEARNING_RATE)
        return [_result(fit.loc[b], fit.var[b], mean, sd, fit.loss[:, b].tolist(),
                        (float(fit.lengthscale[b]), float(fit.variance[b]), float(fit.noise[b]) ** 0.5))
                for b, (_, mean, sd) in enumerate(jobs)]


def _standardised(data: BrainData, mask: np.ndarray) -> tuple[torch.Tensor, float, float]:
    """The (N,) float64 training targets standardised, their mean and SD (1 for a constant map)."""
    y = data.target.double()[torch.as_tensor(mask)]
    mean, sd = float(y.mean()), float(y.std()) or 1.0
    return (y - mean) / sd, mean, sd


def _result(loc: torch.Tensor, var: torch.Tensor, mean: float, sd: float, loss: list[float],
            hyper: tuple[float, float, float]) -> FitResult:
    """FitResult from the standardised (R,) predictive mean and variance and the MAP lengthscale
    (mm), variance and noise SD (standardised units), all rescaled to target units."""
    loc = loc * sd + mean
    scale = var.clamp_min(0).sqrt() * sd
    lengthscale, variance, noise_sd = hyper
    return FitResult(prediction=loc.numpy(), latent=np.zeros((len(loc), 0)), prediction_scale=scale.numpy(),
                     interval_95=np.stack([(loc - 1.96 * scale).numpy(), (loc + 1.96 * scale).numpy()]),
                     history={"loss": [float(v) for v in loss]},
                     info={"lengthscale": lengthscale, "lengthscale_units": "mm",
                           "variance": variance * sd**2, "sigma": noise_sd * sd})
