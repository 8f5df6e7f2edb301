"""A diffusion (heat) kernel on the DK surface adjacency graph, as a ``pyro.contrib.gp`` kernel.

``K = variance * U exp(-t Lambda) U^T / mean(diag)``, with ``L = U Lambda U^T`` the combinatorial
Laplacian ``D - A`` of the region graph and ``t`` the diffusion time (squared graph steps).
Normalising to unit mean diagonal keeps ``variance`` comparable with the distance kernels.
Reference: Kondor & Lafferty 2002, "Diffusion kernels on graphs and other discrete structures".
"""

from __future__ import annotations

import torch
from pyro.contrib.gp.kernels import Kernel
from pyro.nn import PyroParam
from torch.distributions import constraints


class GraphDiffusion(Kernel):
    """Diffusion kernel over the R graph nodes.

    Parameters
    ----------
    edge_index : (2, E) int tensor
        Symmetric adjacency of the R regions.
    n_regions : int
        R.
    variance, lengthscale : tensor, optional
        Kernel variance and diffusion time ``t``; replace them by ``PyroSample`` priors to
        learn them (``lengthscale`` keeps the name the distance kernels use).

    Shapes:
        - forward input: X (R, d), only its row count is used (rows are the regions in order)
        - output: (R, R)

    Raises
    ------
    ValueError
        If X does not have R rows, or a second input Z is given.
    """

    def __init__(self, edge_index: torch.Tensor, n_regions: int, variance: torch.Tensor | None = None,
                 lengthscale: torch.Tensor | None = None):
        super().__init__(input_dim=1)
        A = torch.zeros(n_regions, n_regions, dtype=torch.float64)
        A[edge_index[0], edge_index[1]] = 1.0
        lap = torch.diag(A.sum(dim=1)) - A
        evals, evecs = torch.linalg.eigh(lap)
        self.register_buffer("evals", evals.clamp_min(0.0))
        self.register_buffer("evecs", evecs)
        self.variance = PyroParam(torch.tensor(1.0) if variance is None else variance, constraints.positive)
        self.lengthscale = PyroParam(torch.tensor(1.0) if lengthscale is None else lengthscale, constraints.positive)

    def forward(self, X: torch.Tensor, Z: torch.Tensor | None = None, diag: bool = False) -> torch.Tensor:
        if Z is not None and Z is not X:
            raise ValueError("GraphDiffusion: covariance between different node sets is not defined")
        if X.shape[0] != self.evecs.shape[0]:
            raise ValueError(f"GraphDiffusion: expected {self.evecs.shape[0]} rows (regions), got {X.shape[0]}")
        heat = self.evecs @ torch.diag(torch.exp(-self.lengthscale * self.evals)) @ self.evecs.T
        K = self.variance * heat / heat.diagonal().mean()
        return K.diagonal() if diag else K
