"""Distance kernels of many Gaussian processes at once (one lengthscale and variance per GP).

The same functions as ``pyro.contrib.gp.kernels.Matern52`` and ``RBF`` (Rasmussen & Williams
2006, eqs. 4.14 and 4.9), including Pyro's ``sqrt(r^2 + 1e-12)`` guard, evaluated for B
hyperparameter pairs over one set of squared distances, for batched fits.
"""

from __future__ import annotations

import math

import torch

#: Kernels :func:`batched_kernel` evaluates (names as in :class:`xscale_pyro.prior.GPPrior`).
KERNELS = ("matern52", "rbf")


def squared_distances(a: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """(R1, R2) squared Euclidean distances between points a (R1, 3) and b (R2, 3) (default a), mm^2."""
    b = a if b is None else b
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)


def batched_kernel(kernel: str, sq_dist: torch.Tensor, lengthscale: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    """Kernel matrices of B GPs.

    Parameters
    ----------
    kernel : {'matern52', 'rbf'}
    sq_dist : (R1, R2) tensor
        Squared distances, mm^2 (:func:`squared_distances`).
    lengthscale : (B,) tensor
        mm.
    variance : (B,) tensor

    Returns
    -------
    (B, R1, R2) tensor

    Raises
    ------
    ValueError
        On another kernel name.
    """
    if kernel not in SHAPES:
        raise ValueError(f"batched_kernel: kernel={kernel!r}; expected one of {KERNELS}")
    return SHAPES[kernel](variance[:, None, None], sq_dist / lengthscale[:, None, None] ** 2)


def matern52(variance: torch.Tensor, r2: torch.Tensor) -> torch.Tensor:
    """Matern-5/2 covariance at squared scaled distances ``r2`` (pyro's ``sqrt(r2 + 1e-12)`` guard:
    a finite gradient at r = 0); broadcasts ``variance`` against ``r2``."""
    sqrt5_r = 5**0.5 * (r2 + 1e-12).sqrt()
    return variance * (1 + sqrt5_r + (5 / 3) * r2) * torch.exp(-sqrt5_r)


def rbf(variance: torch.Tensor, r2: torch.Tensor) -> torch.Tensor:
    """Squared-exponential covariance at squared scaled distances ``r2``."""
    return variance * torch.exp(-0.5 * r2)


#: Covariance as a function of (variance, squared scaled distance), by kernel name.
SHAPES = {"matern52": matern52, "rbf": rbf}

class GaussianLogDensity(torch.autograd.Function):
    """Zero-mean Gaussian log density of K vectors per covariance, summed, with a closed-form backward.

    ``log N(Z | 0, C) = -tr(C^-1 S) / 2 - K log|C| / 2 - K R log(2 pi) / 2`` with ``S = Z^T Z``, and
    ``d/dC = (C^-1 S C^-1 - K C^-1) / 2``, ``d/dZ = -Z C^-1`` (Rasmussen & Williams 2006, eq. 5.9).
    One Cholesky factor and one inverse per covariance: differentiating through
    ``torch.linalg.cholesky`` instead costs several times more for B small matrices.

    Inputs: ``cov`` (B, R, R) symmetric positive definite, ``z`` (B, R, K). Output: (B,).
    """

    @staticmethod
    def forward(ctx, cov: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        L = torch.linalg.cholesky(cov)
        alpha = torch.cholesky_solve(z, L)  # C^-1 Z, (B, R, K)
        R, K = z.shape[-2:]
        log_det = 2 * L.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        ctx.save_for_backward(L, alpha)
        return -0.5 * (z * alpha).sum((-1, -2)) - 0.5 * K * log_det - 0.5 * K * R * math.log(2 * math.pi)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        L, alpha = ctx.saved_tensors
        K = alpha.shape[-1]
        g = grad[:, None, None]
        grad_cov = 0.5 * g * (alpha @ alpha.transpose(-1, -2) - K * torch.cholesky_inverse(L))
        return grad_cov, -g * alpha
