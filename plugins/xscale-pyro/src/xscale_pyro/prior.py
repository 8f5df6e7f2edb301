"""Gaussian-process prior over cortex for the K latent maps.

Each latent map ``z[:, k]`` over the R regions is ``GP(0, k_theta)`` with ``k_theta`` a
Matern-5/2 or RBF kernel (``pyro.contrib.gp.kernels``) on Euclidean distances between DK
region centroids (MNI152, mm). Hyperpriors: ``lengthscale ~ LogNormal(log l0, s_l)`` (mm),
``variance ~ LogNormal(0, s_v)``. Reference: Rasmussen & Williams 2006, eq. 4.14 (Matern),
4.9 (RBF).
"""

from __future__ import annotations

import math

import pyro.contrib.gp as gp
import pyro.distributions as dist
import torch
from pyro.nn import PyroSample

from xscale.checks import require
from xscale.interfaces import BrainData, Prior

KERNELS = {"matern52": gp.kernels.Matern52, "rbf": gp.kernels.RBF}


class GPPrior(Prior):
    """GP prior over latent maps on region centroids.

    Parameters
    ----------
    kernel : {'matern52', 'rbf'}
    lengthscale_mm : float
        Median of the lengthscale hyperprior, mm (cortical maps vary over a few centimetres).
    lengthscale_log_sd : float
        SD of log lengthscale under the hyperprior.
    variance_log_sd : float
        SD of log variance under the hyperprior (median 1).
    jitter : float
        Added to the covariance diagonal for a stable Cholesky factor.

    Shapes:
        - regulariser input: z, loc (R, K); output scalar, ``-log N(z | 0, K_theta)`` at the
          hyperprior medians, summed over the K maps

    Raises
    ------
    ValueError
        On an unknown kernel, or z not (R, K) with R the data's regions.
    """

    def __init__(self, *, kernel: str = "matern52", lengthscale_mm: float = 40.0, lengthscale_log_sd: float = 0.5,
                 variance_log_sd: float = 0.5, jitter: float = 1e-4):
        super().__init__()
        if kernel not in KERNELS:
            raise ValueError(f"GPPrior: kernel={kernel!r}; expected one of {sorted(KERNELS)}")
        require("GPPrior", "lengthscale_mm", lengthscale_mm, 0, low_open=True)
        require("GPPrior", "lengthscale_log_sd", lengthscale_log_sd, 0, low_open=True)
        require("GPPrior", "variance_log_sd", variance_log_sd, 0, low_open=True)
        require("GPPrior", "jitter", jitter, 0)
        self.kernel_name = kernel
        self.lengthscale_mm = lengthscale_mm
        self.lengthscale_log_sd = lengthscale_log_sd
        self.variance_log_sd = variance_log_sd
        self.jitter = jitter

    def make_kernel(self) -> gp.kernels.Isotropy:
        """A fresh pyro kernel whose lengthscale and variance are ``pyro.sample`` sites
        ``lengthscale`` (mm) and ``variance`` when called inside a model."""
        k = KERNELS[self.kernel_name](input_dim=3)
        k.lengthscale = PyroSample(dist.LogNormal(math.log(self.lengthscale_mm), self.lengthscale_log_sd))
        k.variance = PyroSample(dist.LogNormal(0.0, self.variance_log_sd))
        return k

    def covariance(self, centroids: torch.Tensor, lengthscale: float | torch.Tensor | None = None,
                   variance: float | torch.Tensor | None = None) -> torch.Tensor:
        """(R, R) covariance at fixed hyperparameters (default: the hyperprior medians), jitter included."""
        k = KERNELS[self.kernel_name](input_dim=3,
                                      variance=torch.as_tensor(1.0 if variance is None else variance),
                                      lengthscale=torch.as_tensor(self.lengthscale_mm if lengthscale is None else lengthscale))
        with torch.no_grad():
            cov = k(centroids.double())
        return cov + self.jitter * torch.eye(len(centroids), dtype=cov.dtype)

    def regulariser(self, z: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor | None,
                    data: BrainData) -> torch.Tensor:
        if z.ndim != 2 or z.shape[0] != data.n_regions:
            raise ValueError(f"GPPrior: expected z of shape ({data.n_regions}, K), got {tuple(z.shape)}")
        cov = self.covariance(data.centroids).to(z.dtype)
        mvn = dist.MultivariateNormal(torch.zeros(data.n_regions, dtype=z.dtype), covariance_matrix=cov)
        return -mvn.log_prob(z.T).sum()
