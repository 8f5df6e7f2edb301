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


def sq_dist(X: torch.Tensor) -> torch.Tensor:
    """(N, N) squared Euclidean distances between the rows of ``X`` (N, D), from their differences
    (an exact zero diagonal, no cancellation)."""
    return ((X[:, None] - X[None]) ** 2).sum(-1)


def matern52_parts(r2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Matern-5/2 shape ``k / variance`` at squared scaled distances ``r2 = d^2 / l^2`` and its
    lengthscale derivative times the lengthscale, ``l dk/dl / variance = (5/3) r^2 (1 + sqrt5 r) e^(-sqrt5 r)``
    (pyro's ``sqrt(r2 + 1e-12)`` guard kept)."""
    sqrt5_r = 5**0.5 * (r2 + 1e-12).sqrt()
    e = torch.exp(-sqrt5_r)
    return (1 + sqrt5_r + (5 / 3) * r2) * e, (5 / 3) * r2 * (1 + sqrt5_r) * e


def rbf_parts(r2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared-exponential shape ``e^(-r2/2)`` and ``l dk/dl / variance = r2 e^(-r2/2)``."""
    e = torch.exp(-0.5 * r2)
    return e, r2 * e


#: (shape, lengthscale x its lengthscale derivative) as functions of r2, by kernel name.
PARTS = {"matern52": matern52_parts, "rbf": rbf_parts}


def matern52(variance: torch.Tensor, r2: torch.Tensor) -> torch.Tensor:
    """Matern-5/2 covariance at squared scaled distances ``r2``; broadcasts ``variance`` against ``r2``."""
    return variance * matern52_parts(r2)[0]


def rbf(variance: torch.Tensor, r2: torch.Tensor) -> torch.Tensor:
    """Squared-exponential covariance at squared scaled distances ``r2``."""
    return variance * rbf_parts(r2)[0]


#: Covariance as a function of (variance, squared scaled distance), by kernel name.
SHAPES = {"matern52": matern52, "rbf": rbf}


class GPLogDensity(torch.autograd.Function):
    """Log density of K latent maps per GP under B zero-mean GPs with their own lengthscale and
    variance, with closed-form gradients.

    With ``C = variance k(d^2 / lengthscale^2) + jitter I`` (R, R) and Z (R, K)::

        log p = -tr(C^-1 Z Z^T) / 2 - K log|C| / 2 - K R log(2 pi) / 2
        dlog p / dC = W / 2,  W = C^-1 Z Z^T C^-1 - K C^-1;   dlog p / dZ = -C^-1 Z

    (Rasmussen & Williams 2006, eq. 5.9), so ``dlog p/dvariance = sum(W * k) / 2`` and
    ``dlog p/dlengthscale = sum(W * dC/dlengthscale) / 2``. One Cholesky factor and one inverse per GP,
    and a handful of elementwise passes over the (B, R, R) kernels: differentiating through the
    kernel and ``torch.linalg.cholesky`` instead costs several times more for B small matrices.
    The covariance equals :func:`batched_kernel`'s up to rounding (distances from differences
    rather than pyro's expanded ``|x|^2 - 2 x.z + |z|^2``).

    Inputs: ``lengthscale``, ``variance`` (B,); ``z`` (B, R, K); ``sq_dist`` (R, R) squared
    distances (mm^2, :func:`sq_dist`); ``kernel`` a key of :data:`PARTS`; ``jitter`` float.
    Output: (B,) log densities. Raises ``torch.linalg.LinAlgError`` when a covariance is not
    positive definite (as ``torch.linalg.cholesky``).
    """

    @staticmethod
    def forward(ctx, lengthscale, variance, z, sq_dist, kernel, jitter):
        r2 = sq_dist / (lengthscale * lengthscale)[:, None, None]
        shape, ls_dshape = PARTS[kernel](r2)
        cov = variance[:, None, None] * shape
        cov.diagonal(dim1=-2, dim2=-1).add_(jitter)
        L = torch.linalg.cholesky(cov)
        alpha = torch.cholesky_solve(z, L)  # C^-1 Z, (B, R, K)
        R, K = z.shape[-2:]
        log_det = 2 * L.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        ctx.save_for_backward(lengthscale, variance, L, alpha, shape, ls_dshape)
        return -0.5 * (z * alpha).sum((-1, -2)) - 0.5 * K * log_det - 0.5 * K * R * math.log(2 * math.pi)

    @staticmethod
    def backward(ctx, grad):
        lengthscale, variance, L, alpha, shape, ls_dshape = ctx.saved_tensors
        W = alpha @ alpha.mT - alpha.shape[-1] * torch.cholesky_inverse(L)  # W = 2 dlog p / dC
        d_variance = 0.5 * (W * shape).sum((-1, -2))
        d_lengthscale = 0.5 * (W * ls_dshape).sum((-1, -2)) * variance / lengthscale
        return grad * d_lengthscale, grad * d_variance, -grad[:, None, None] * alpha, None, None, None
