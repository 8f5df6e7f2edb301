"""Distance kernels of many Gaussian processes at once (one lengthscale and variance per GP).

The same functions as ``pyro.contrib.gp.kernels.Matern52`` and ``RBF`` (Rasmussen & Williams
2006, eqs. 4.14 and 4.9), including Pyro's ``sqrt(r^2 + 1e-12)`` guard, evaluated for B
hyperparameter pairs, for batched fits.
"""

from __future__ import annotations

import math

import torch

#: Kernels :func:`batched_kernel` evaluates (names as in :class:`xscale_pyro.prior.GPPrior`).
KERNELS = ("matern52", "rbf")


def scaled_sq_dist(X: torch.Tensor, lengthscale: torch.Tensor, Z: torch.Tensor | None = None) -> torch.Tensor:
    """Squared distances between inputs divided by each GP's lengthscale, in Pyro's arithmetic
    (``pyro.contrib.gp.kernels.Isotropy``: ``|x|^2 - 2 x.z + |z|^2`` on scaled inputs, clamped at 0).

    Parameters
    ----------
    X : (N, D) or (B, N, D) tensor
        Inputs (region centroids, mm), shared or per GP.
    lengthscale : (B,) tensor
        mm.
    Z : (M, D) or (B, M, D) tensor, optional
        Second inputs (default ``X``).

    Returns
    -------
    (B, N, M) tensor
    """
    ls = lengthscale[:, None, None]
    sx = X / ls
    sz = sx if Z is None else Z / ls
    return ((sx**2).sum(-1, keepdim=True) - 2 * sx @ sz.mT + (sz**2).sum(-1, keepdim=True).mT).clamp(min=0)


def batched_kernel(kernel: str, X: torch.Tensor, lengthscale: torch.Tensor, variance: torch.Tensor,
                   Z: torch.Tensor | None = None) -> torch.Tensor:
    """Kernel matrices of B GPs, each with its own lengthscale and variance.

    Parameters
    ----------
    kernel : {'matern52', 'rbf'}
    X, Z : tensors
        As in :func:`scaled_sq_dist` (mm).
    lengthscale : (B,) tensor
        mm.
    variance : (B,) tensor

    Returns
    -------
    (B, N, M) tensor

    Raises
    ------
    ValueError
        On another kernel name.
    """
    if kernel not in SHAPES:
        raise ValueError(f"batched_kernel: kernel={kernel!r}; expected one of {KERNELS}")
    return SHAPES[kernel](variance[:, None, None], scaled_sq_dist(X, lengthscale, Z))


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

    For the K columns of Z (R, K): ``log N = -tr(C^-1 S) / 2 - K log|C| / 2 - K R log(2 pi) / 2``
    with ``S = Z Z^T`` (R, R); ``d/dC = (C^-1 S C^-1 - K C^-1) / 2`` and ``d/dZ = -C^-1 Z``
    (Rasmussen & Williams 2006, eq. 5.9).
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
