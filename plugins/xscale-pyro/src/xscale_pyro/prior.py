"""Gaussian-process prior over cortex for the K latent maps.

Each latent map ``z[:, k]`` over the R regions is ``GP(0, k_theta)`` with ``k_theta`` a
Matern-5/2 or RBF kernel (``pyro.contrib.gp.kernels``) on Euclidean distances between DK
region centroids (MNI152, mm), or a diffusion kernel on the DK surface adjacency graph.
Hyperpriors: ``lengthscale ~ LogNormal(log l0, s_l)`` (mm; for the diffusion kernel the
diffusion time in squared graph steps, median ``diffusion_time``), ``variance ~
LogNormal(0, s_v)``. References: Rasmussen & Williams 2006, eq. 4.14 (Matern), 4.9 (RBF);
Kondor & Lafferty 2002 (diffusion).
"""

from __future__ import annotations

import math

import pyro
import pyro.contrib.gp as gp
import pyro.distributions as dist
import torch
from pyro.nn import PyroSample

from xscale.checks import require
from xscale.interfaces import BrainData, Prior
from xscale_pyro.graph_kernel import GraphDiffusion

KERNELS = {"matern52": gp.kernels.Matern52, "rbf": gp.kernels.RBF, "diffusion": GraphDiffusion}


class GPPrior(Prior):
    """GP prior over latent maps on region centroids.

    Parameters
    ----------
    kernel : {'matern52', 'rbf', 'diffusion'}
        Distance kernels on centroids, or the diffusion kernel on the DK adjacency graph.
    lengthscale_mm : float
        Median of the lengthscale hyperprior, mm (cortical maps vary over a few centimetres).
    diffusion_time : float
        Median of the diffusion-time hyperprior (squared graph steps), diffusion kernel only.
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

    def __init__(self, *, kernel: str = "matern52", lengthscale_mm: float = 40.0, diffusion_time: float = 1.0,
                 lengthscale_log_sd: float = 0.5, variance_log_sd: float = 0.5, jitter: float = 1e-4):
        super().__init__()
        if kernel not in KERNELS:
            raise ValueError(f"GPPrior: kernel={kernel!r}; expected one of {sorted(KERNELS)}")
        require("GPPrior", "lengthscale_mm", lengthscale_mm, 0, low_open=True)
        require("GPPrior", "diffusion_time", diffusion_time, 0, low_open=True)
        self.diffusion_time = diffusion_time
        require("GPPrior", "lengthscale_log_sd", lengthscale_log_sd, 0, low_open=True)
        require("GPPrior", "variance_log_sd", variance_log_sd, 0, low_open=True)
        require("GPPrior", "jitter", jitter, 0)
        self.kernel_name = kernel
        self.lengthscale_mm = lengthscale_mm
        self.lengthscale_log_sd = lengthscale_log_sd
        self.variance_log_sd = variance_log_sd
        self.jitter = jitter

    def _base_kernel(self, edge_index: torch.Tensor | None, n_regions: int, **values) -> gp.kernels.Kernel:
        if self.kernel_name != "diffusion":
            return KERNELS[self.kernel_name](input_dim=3, **values)
        if edge_index is None:
            raise ValueError("GPPrior: the diffusion kernel needs the region graph (edge_index)")
        return GraphDiffusion(edge_index, n_regions, **values)

    @property
    def lengthscale_median(self) -> float:
        """Median of the lengthscale hyperprior: mm, or the diffusion time for the graph kernel."""
        return self.diffusion_time if self.kernel_name == "diffusion" else self.lengthscale_mm

    @property
    def lengthscale_units(self) -> str:
        """``'mm'``, or ``'graph steps^2'`` for the diffusion kernel's diffusion time."""
        return "graph steps^2" if self.kernel_name == "diffusion" else "mm"

    def make_kernel(self, edge_index: torch.Tensor | None = None, n_regions: int = 0) -> gp.kernels.Kernel:
        """A fresh pyro kernel whose lengthscale and variance are ``pyro.sample`` sites
        ``lengthscale`` and ``variance`` when called inside a model.

        Parameters
        ----------
        edge_index : (2, E) tensor, optional
            Region graph; required by the diffusion kernel.
        n_regions : int
            R, for the diffusion kernel.
        """
        k = self._base_kernel(edge_index, n_regions)
        k.lengthscale = PyroSample(dist.LogNormal(math.log(self.lengthscale_median), self.lengthscale_log_sd))
        k.variance = PyroSample(dist.LogNormal(0.0, self.variance_log_sd))
        return k

    def covariance(self, centroids: torch.Tensor, lengthscale: float | torch.Tensor | None = None,
                   variance: float | torch.Tensor | None = None, edge_index: torch.Tensor | None = None) -> torch.Tensor:
        """(R, R) covariance at fixed hyperparameters (default: the hyperprior medians), jitter included.

        Parameters
        ----------
        centroids : (R, 3) tensor, mm
        lengthscale : float, optional
            mm (distance kernels) or diffusion time (diffusion kernel).
        variance : float, optional
        edge_index : (2, E) tensor, optional
            Required by the diffusion kernel.
        """
        median = self.lengthscale_median
        k = self._base_kernel(edge_index, len(centroids),
                              variance=torch.as_tensor(1.0 if variance is None else variance, dtype=torch.float64),
                              lengthscale=torch.as_tensor(median if lengthscale is None else lengthscale,
                                                          dtype=torch.float64))
        # A fresh parameter store: pyro kernels keep their hyperparameters there by name, so a
        # second call would otherwise reuse the first call's lengthscale and variance.
        with torch.no_grad(), pyro.get_param_store().scope():
            cov = k(centroids.double())
        return cov + self.jitter * torch.eye(len(centroids), dtype=cov.dtype)

    def regulariser(self, z: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor | None,
                    data: BrainData) -> torch.Tensor:
        if z.ndim != 2 or z.shape[0] != data.n_regions:
            raise ValueError(f"GPPrior: expected z of shape ({data.n_regions}, K), got {tuple(z.shape)}")
        cov = self.covariance(data.centroids, edge_index=data.edge_index).to(z.dtype)
        mvn = dist.MultivariateNormal(torch.zeros(data.n_regions, dtype=z.dtype), covariance_matrix=cov)
        return -mvn.log_prob(z.T).sum()
