"""The generative model shared by the SVI and NUTS backends, and posterior-predictive summaries.

For R regions with centroids X (mm), K latent maps and a decoder g::

    lengthscale ~ LogNormal(log l0, s_l)        (mm; GPPrior hyperprior)
    variance    ~ LogNormal(0, s_v)
    sigma       ~ HalfNormal(sigma_scale)       (noise, in SDs of the training target)
    z[:, k]     ~ MVN(0, variance * k_l(X, X) + jitter I),   k = 1..K
    y_r         ~ Normal(g(z_r), sigma)         for training regions r

and, when ``expression_weight > 0``, the expression of every region as a factor model
``x_rg ~ Normal(z_r . W_g, tau)`` (W point-estimated), which ties each region's latent
programs to its transcriptome (the paper's "variational programs").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pyro
import pyro.distributions as dist
import torch
from torch.func import functional_call

from xscale.interfaces import BrainData, Decoder
from xscale_pyro.prior import GPPrior


@dataclass
class Problem:
    """Tensors one fit needs, in float64 (the GP Cholesky factor needs it)."""

    centroids: torch.Tensor  # (R, 3) mm
    expression: torch.Tensor  # (R, G)
    edge_index: torch.Tensor  # (2, E)
    y: torch.Tensor  # (R,) standardised target, 0 where unobserved
    train: torch.Tensor  # (n_train,) int64
    mean: float
    sd: float

    @classmethod
    def from_data(cls, data: BrainData, train_mask: np.ndarray, standardise: bool) -> "Problem":
        train = torch.as_tensor(np.flatnonzero(train_mask))
        y = data.target.double()
        mean, sd = (float(y[train].mean()), float(y[train].std())) if standardise else (0.0, 1.0)
        sd = sd if sd > 0 else 1.0
        y = torch.nan_to_num((y - mean) / sd)
        return cls(data.centroids.double(), data.expression.double(), data.edge_index, y, train, mean, sd)


def point_decoder(decoder: Decoder) -> Callable[[torch.Tensor], torch.Tensor]:
    """Decoder weights as point estimates (``pyro.module``), for SVI."""

    def decode(z: torch.Tensor) -> torch.Tensor:
        pyro.module("decoder", decoder)
        return decoder(z)

    return decode


def sampled_decoder(decoder: Decoder, scale: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """Decoder weights as latent variables with ``Normal(0, scale)`` priors (sites ``decoder.<name>``), for MCMC."""
    shapes = {name: p.shape for name, p in decoder.named_parameters()}

    def decode(z: torch.Tensor) -> torch.Tensor:
        params = {name: pyro.sample(f"decoder.{name}", dist.Normal(torch.zeros(shape, dtype=torch.float64), scale)
                                    .to_event(len(shape))) for name, shape in shapes.items()}
        return functional_call(decoder, params, (z,))

    return decode


def pca_loadings(expression: torch.Tensor, latent_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed factor-model loadings for MCMC: top-K principal axes of the expression.

    Parameters
    ----------
    expression : (R, G) tensor
    latent_dim : int

    Returns
    -------
    loadings : (G, K) tensor
        ``V_K * s_K / sqrt(R)``, so that unit-variance programs reproduce the leading components.
    noise : scalar tensor
        SD of the residual expression after K components.
    """
    x = expression - expression.mean(dim=0, keepdim=True)
    _, s, vt = torch.linalg.svd(x, full_matrices=False)
    R = x.shape[0]
    loadings = vt[:latent_dim].T * s[:latent_dim] / R**0.5
    resid = (s[latent_dim:] ** 2).sum() / x.numel()
    return loadings, resid.sqrt()


def make_model(problem: Problem, prior: GPPrior, decode: Callable[[torch.Tensor], torch.Tensor], latent_dim: int,
               sigma_scale: float = 1.0, expression_weight: float = 0.0,
               fixed_loadings: tuple[torch.Tensor, torch.Tensor] | None = None):
    """Build the Pyro model ``model(observe=True)``.

    Sites: ``lengthscale`` (mm), ``variance``, ``sigma``, ``z`` (K, R), ``f`` (R,) deterministic,
    ``y`` (n_train,) observed, and ``x`` (R, G) observed when ``expression_weight > 0``, with
    loadings W (G, K) and noise tau learnt (``pyro.param``) or, for MCMC, ``fixed_loadings``.
    ``decode`` maps z (R, K) to f (R,) (see :func:`point_decoder`, :func:`sampled_decoder`).
    """
    R = problem.centroids.shape[0]
    kernel = prior.make_kernel(problem.edge_index, R)
    eye = torch.eye(R, dtype=torch.float64)

    def model(observe: bool = True) -> torch.Tensor:
        cov = kernel(problem.centroids) + prior.jitter * eye
        sigma = pyro.sample("sigma", dist.HalfNormal(torch.tensor(sigma_scale, dtype=torch.float64)))
        with pyro.plate("maps", latent_dim):
            z = pyro.sample("z", dist.MultivariateNormal(torch.zeros(R, dtype=torch.float64),
                                                         scale_tril=torch.linalg.cholesky(cov)))
        f = pyro.deterministic("f", decode(z.T))
        if expression_weight > 0:
            G = problem.expression.shape[1]
            if fixed_loadings is not None:
                W, tau = fixed_loadings
            else:
                W = pyro.param("loadings", lambda: 0.01 * torch.randn(G, latent_dim, dtype=torch.float64))
                tau = pyro.param("expression_noise", torch.tensor(1.0, dtype=torch.float64),
                                 constraint=dist.constraints.positive)
            with pyro.plate("genes", G, dim=-1), pyro.plate("regions_x", R, dim=-2), \
                    pyro.poutine.scale(scale=expression_weight):
                pyro.sample("x", dist.Normal(z.T @ W.T, tau), obs=problem.expression)
        with pyro.plate("train_regions", len(problem.train)):
            pyro.sample("y", dist.Normal(f[problem.train], sigma), obs=problem.y[problem.train] if observe else None)
        return f

    return model


@dataclass
class Posterior:
    """Posterior-predictive summary in the target's units."""

    mean: np.ndarray  # (R,)
    sd: np.ndarray  # (R,)
    lower: np.ndarray  # (R,) 2.5 %
    upper: np.ndarray  # (R,) 97.5 %
    latent: np.ndarray  # (R, K) posterior mean of z
    hyper: dict  # posterior means of lengthscale (with its units), variance, sigma (target units)


def summarise(f: torch.Tensor, sigma: torch.Tensor, z: torch.Tensor, lengthscale: torch.Tensor,
              variance: torch.Tensor, problem: Problem, seed: int | torch.Generator,
              lengthscale_units: str = "mm") -> Posterior:
    """Posterior predictive ``y* = f + sigma * eps`` from S draws.

    Parameters
    ----------
    f : (S, R); sigma, lengthscale, variance : (S,); z : (S, K, R)
    seed : int or torch.Generator
        Seed of the observation noise eps, or the generator to draw it from.
    lengthscale_units : str
        ``'mm'`` for distance kernels, ``'graph steps^2'`` (diffusion time) for the graph kernel.
    """
    g = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(seed)
    f = f.reshape(f.shape[0], -1).double()
    ystar = f + sigma.reshape(-1, 1).double() * torch.randn(f.shape, generator=g, dtype=torch.float64)
    ystar = ystar * problem.sd + problem.mean
    q = torch.quantile(ystar, torch.tensor([0.025, 0.975], dtype=torch.float64), dim=0)
    return Posterior(
        mean=ystar.mean(0).numpy(), sd=ystar.std(0).numpy(), lower=q[0].numpy(), upper=q[1].numpy(),
        latent=z.reshape(z.shape[0], -1, z.shape[-1]).mean(0).T.numpy(),
        hyper={"lengthscale": float(lengthscale.mean()), "lengthscale_units": lengthscale_units,
               "variance": float(variance.mean()), "sigma": float(sigma.mean()) * problem.sd},
    )
