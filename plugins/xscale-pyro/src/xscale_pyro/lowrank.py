"""Posterior-predictive draws from the low-rank multivariate normal guide, for one or many fits.

The default SVI guide (``AutoLowRankMultivariateNormal``) is one Gaussian over the packed,
unconstrained latent vector ``u`` (D values: sigma, lengthscale, variance and the K x R latent
programs z). Predictions draw S latent vectors per fit from an explicit generator, map them to
the model's sites (``biject_to`` each site's support, as Pyro does), decode the programs and
summarise the posterior predictive (:func:`xscale_pyro.model.summarise`). The sequential fit
and the batched fits (:mod:`xscale_pyro.svi_batched`) both predict through this function, so
they draw the same numbers for the same seed.
"""

from __future__ import annotations

import math
from typing import Iterator, Mapping, Sequence

import numpy as np
import torch
from torch.distributions import biject_to
from torch.func import functional_call, vmap

from xscale.interfaces import Decoder
from xscale_pyro.model import Posterior, Problem, summarise


def unpack(guide, latent: torch.Tensor) -> Iterator[tuple[dict, torch.Tensor]]:
    """Split packed unconstrained latents into the model's sites, in the guide's packing order.

    Parameters
    ----------
    guide : pyro.infer.autoguide.AutoContinuous
        An initialised guide (its prototype trace gives the sites' order and shapes).
    latent : (..., D) tensor
        Any leading batch shape (fits, draws).

    Yields
    ------
    site : dict
        The prototype trace's site (``name``, ``fn``).
    value : (..., *site shape) tensor
        Its unconstrained values.
    """
    pos = 0
    for name, site in guide.prototype_trace.iter_stochastic_nodes():
        shape = guide._unconstrained_shapes[name]
        size = math.prod(shape)
        yield site, latent[..., pos:pos + size].reshape(latent.shape[:-1] + shape)
        pos += size
    if pos != latent.shape[-1]:
        raise ValueError(f"unpack: latent has {latent.shape[-1]} values; the guide's sites hold {pos}")


def unpack_sites(guide, latent: torch.Tensor) -> dict[str, torch.Tensor]:
    """Constrained site values of packed unconstrained latents (:func:`unpack`, then ``biject_to``
    each site's support, as Pyro's guide does).

    Returns
    -------
    dict of str to (..., *site shape) tensor
    """
    return {site["name"]: biject_to(site["fn"].support)(u) for site, u in unpack(guide, latent)}


def decode_many(decoder: Decoder, params: Mapping[str, torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    """Decode the latent programs of B fits with their own decoder weights.

    Parameters
    ----------
    decoder : Decoder
        Template module (its architecture; its own weights are not used).
    params : mapping of str to (B, *shape) tensor
        Each fit's decoder weights, by parameter name.
    z : (B, S, K, R) tensor
        S draws of the K latent programs over R regions per fit.

    Returns
    -------
    (B, S, R) tensor
    """
    one = vmap(lambda p, zs: functional_call(decoder, p, (zs.transpose(-1, -2),)), in_dims=(None, 0))
    return vmap(one, in_dims=(0, 0))(dict(params), z)


#: Fits whose S posterior draws are held in memory at once (float64, B x S x D per tensor).
PREDICT_CHUNK = 32


def lowrank_sample(loc: torch.Tensor, scale: torch.Tensor, cov_factor: torch.Tensor, eps_w: torch.Tensor,
                   eps_d: torch.Tensor) -> torch.Tensor:
    """Reparameterised draws of the low-rank guide, as ``LowRankMultivariateNormal.rsample`` makes them.

    ``u = loc + (cov_factor * scale) eps_W + sqrt(scale^2) eps_D`` (Pyro's guide: low-rank factor
    ``cov_factor * scale``, diagonal ``scale^2``).

    Parameters
    ----------
    loc, scale : (B, D) tensor
    cov_factor : (B, D, rank) tensor
    eps_w : (B, S, rank) tensor
    eps_d : (B, S, D) tensor

    Returns
    -------
    (B, S, D) tensor
    """
    factor = cov_factor * scale.unsqueeze(-1)
    return loc.unsqueeze(-2) + eps_w @ factor.transpose(-1, -2) + (scale * scale).sqrt().unsqueeze(-2) * eps_d


def lowrank_log_density(scale: torch.Tensor, cov_factor: torch.Tensor, eps_w: torch.Tensor,
                        eps_d: torch.Tensor) -> torch.Tensor:
    """Log density of the guide at its own reparameterised draw :func:`lowrank_sample`, from the noise.

    With ``A = cov_factor`` (D, rank), ``S = diag(scale)`` and ``u - loc = S (A eps_W + eps_D)``, the
    covariance ``S (I + A A^T) S`` gives, by the Woodbury identity and the matrix determinant lemma,

        (u - loc)^T Sigma^-1 (u - loc) = |eps_W|^2 + |eps_D|^2 - c^T (I + A^T A)^-1 c,  c = eps_W - A^T eps_D
        log |Sigma| = 2 sum(log scale) + log |I + A^T A|

    the same function of (loc, scale, cov_factor) as ``LowRankMultivariateNormal.log_prob`` of the
    draw, so the same value and gradient up to rounding, from one (rank, rank) Cholesky factor per fit.

    Parameters
    ----------
    scale : (B, D) tensor
        Positive.
    cov_factor : (B, D, rank) tensor
    eps_w : (B, rank) tensor
    eps_d : (B, D) tensor

    Returns
    -------
    (B,) tensor
    """
    D = eps_d.shape[-1]
    capacitance = cov_factor.mT @ cov_factor
    capacitance.diagonal(dim1=-2, dim2=-1).add_(1.0)
    L = torch.linalg.cholesky(capacitance)
    c = eps_w - (cov_factor.mT @ eps_d.unsqueeze(-1)).squeeze(-1)
    w = torch.linalg.solve_triangular(L, c.unsqueeze(-1), upper=False).squeeze(-1)
    mahalanobis = (eps_w**2).sum(-1) + (eps_d**2).sum(-1) - (w**2).sum(-1)
    log_det = 2 * L.diagonal(dim1=-2, dim2=-1).log().sum(-1) + 2 * scale.log().sum(-1)
    return -0.5 * (mahalanobis + log_det + D * math.log(2 * math.pi))


def prediction_generator(seed: int) -> torch.Generator:
    """The generator of a fit's posterior-predictive draws: a stream derived from ``seed``
    (``numpy.random.SeedSequence([seed, 1])``), apart from the stream ``pyro.set_rng_seed(seed)``
    gives initialisation and SVI."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([int(seed), 1]).generate_state(1)[0]))


def predict(guide, loc: torch.Tensor, scale: torch.Tensor, cov_factor: torch.Tensor, decoder: Decoder,
            decoder_params: Mapping[str, torch.Tensor], problems: Sequence[Problem], num_samples: int,
            seeds: Sequence[int], lengthscale_units: str) -> list[Posterior]:
    """Posterior predictive of B fitted low-rank guides, each from its own seeded generator.

    For fit b, :func:`lowrank_sample` with ``eps_W`` (S, rank) then ``eps_D`` (S, D) drawn from
    :func:`prediction_generator` (seed_b), which then also draws the observation noise of
    :func:`~xscale_pyro.model.summarise`. Fits are drawn :data:`PREDICT_CHUNK` at a time (each
    from its own generator, so the chunking does not change the numbers).

    Parameters
    ----------
    guide : AutoLowRankMultivariateNormal
        Any of the B fits' initialised guides (they share the site layout).
    loc, scale : (B, D) tensor
        Guide location and (constrained, positive) scale.
    cov_factor : (B, D, rank) tensor
    decoder : Decoder
    decoder_params : mapping of str to (B, *shape) tensor
    problems : sequence of B Problem
    num_samples : int
        S.
    seeds : sequence of B int
    lengthscale_units : str

    Returns
    -------
    list of B Posterior
    """
    out: list[Posterior] = []
    B, D, rank = cov_factor.shape
    with torch.no_grad():
        for a in range(0, B, PREDICT_CHUNK):
            part = slice(a, min(a + PREDICT_CHUNK, B))
            gens = [prediction_generator(s) for s in seeds[part]]
            eps = [(torch.randn((num_samples, rank), generator=g, dtype=loc.dtype),
                    torch.randn((num_samples, D), generator=g, dtype=loc.dtype)) for g in gens]
            u = lowrank_sample(loc[part], scale[part], cov_factor[part], torch.stack([e[0] for e in eps]),
                               torch.stack([e[1] for e in eps]))
            s = unpack_sites(guide, u)
            f = decode_many(decoder, {k: v[part] for k, v in decoder_params.items()}, s["z"])
            out += [summarise(f[i], s["sigma"][i], s["z"][i], s["lengthscale"][i], s["variance"][i], problems[a + i],
                              g, lengthscale_units) for i, g in enumerate(gens)]
    return out
