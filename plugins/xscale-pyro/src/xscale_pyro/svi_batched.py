"""B independent SVI fits of the GP latent model trained at once, for null-model refits.

Each fit first takes Pyro's own first SVI step, exactly as :meth:`SVIBackend.fit` does: that
builds the low-rank guide and initialises every parameter, the ClippedAdam state and the RNG
stream from the fit's seed. From the second step on, the B fits' negative ELBOs are evaluated
together in plain torch, float64 (:class:`BatchedELBO`), with each fit's reparameterisation
noise drawn from its own generator continuing its own RNG stream (the draws Pyro would make).
ClippedAdam clips and updates elementwise, so one optimiser over the stacked parameters gives
each fit the update it gets alone.

Two terms are computed in closed form rather than by autograd through Pyro's arithmetic (the same
functions of the parameters, so the same values and gradients up to rounding): the GP prior of
the latent programs with its lengthscale and variance gradients
(:class:`~xscale_pyro.batched_kernel.GPLogDensity`), and the guide's log density at its own draw,
from the noise (:func:`~xscale_pyro.lowrank.lowrank_log_density`). Against differentiating through
the kernel, ``torch.linalg.cholesky`` and ``LowRankMultivariateNormal.log_prob`` (xscale-pyro
0.2.0), measured on 60 refits, one thread: an SVI step 1.3 times faster, a whole refit 1.2 times.

How close to the loop: over tens of steps, to float64 rounding (1e-15). Over the default 1,500
steps SVI amplifies rounding, in Pyro's loop as much as here: predictions differ from the loop's
by about 1% of their posterior SD, as much as the loop's own predictions move when the target is
nudged by one float32 ulp (plugins/xscale-pyro/tests/test_svi_batched.py,
benchmarks/bench_svi_batched.py). For the same reason a fit's numbers depend, at that level, on
the other fits in its batch (matrix-product kernels differ with the batch size): null refits are
reproducible for a fixed ``--batch-size`` (in the evaluation cache's key) and thread count (in
``results.json``'s ``execution``, not in the key: a run resumed with another thread count, or
another executor, mixes refits whose last digits differ, each a valid null draw).

This module reads Pyro internals (the guide's packing, the parameter store's constraints, the
optimiser's per-parameter state); pyro-ppl is pinned below 1.10 and the equality tests guard them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pyro
import torch
from pyro.optim.clipped_adam import ClippedAdam
from torch.distributions import biject_to

from xscale.interfaces import BrainData, Components, FitResult
from xscale_pyro.batched_kernel import KERNELS, GPLogDensity, sq_dist
from xscale_pyro.lowrank import decode_many, lowrank_log_density, lowrank_sample, predict, unpack
from xscale_pyro.model import Problem

#: The model's latent sites (:func:`xscale_pyro.model.make_model`), in the guide's packing.
SITES = {"sigma", "lengthscale", "variance", "z"}


#: GPPrior attributes that must agree for fits to share one batch.
PRIOR_FIELDS = ("kernel_name", "lengthscale_mm", "diffusion_time", "lengthscale_log_sd", "variance_log_sd", "jitter")


def batchable(backend, datas: Sequence[BrainData], components: Sequence[Components]) -> bool:
    """Whether :func:`fit_batched` trains these fits together.

    Needs the ``autolowrank`` guide, a distance kernel (:data:`~xscale_pyro.batched_kernel.KERNELS`),
    one GP prior, the same centroids, and decoders of one architecture without buffers; otherwise
    the backend loops.
    """
    if backend.guide != "autolowrank" or not datas:
        return False
    first_prior, first_dec = components[0].prior, components[0].decoder
    return (first_prior.kernel_name in KERNELS
            and all(getattr(c.prior, f) == getattr(first_prior, f) for c in components for f in PRIOR_FIELDS)
            and all(torch.equal(d.centroids, datas[0].centroids) for d in datas)
            and not any(True for c in components for _ in c.decoder.buffers())
            and all(type(c.decoder) is type(first_dec) and
                    [p.shape for p in c.decoder.parameters()] == [p.shape for p in first_dec.parameters()]
                    for c in components))


@dataclass
class Started:
    """One fit after Pyro's first SVI step.

    Attributes
    ----------
    problem : Problem
    guide : AutoLowRankMultivariateNormal
        Initialised (its prototype trace gives the packing of the D latent values).
    params : dict of str to tensor
        Every parameter in Pyro's store, unconstrained, by store name (guide ``loc`` (D,),
        ``scale`` (D,), ``cov_factor`` (D, rank); ``loadings`` (G, K), ``expression_noise`` ();
        ``decoder$$$<name>``).
    constraints : dict of str to Constraint
    adam : dict of str to dict
        ClippedAdam state per parameter (``step``, ``exp_avg``, ``exp_avg_sq``) and its ``hyper``
        settings (lr, betas, clip_norm, ...).
    rng : (N,) uint8 tensor
        torch's CPU RNG state after the step.
    loss : float
        The first step's negative ELBO.
    """

    problem: Problem
    guide: object
    params: dict
    constraints: dict
    adam: dict
    rng: torch.Tensor
    loss: float


def start(backend, data: BrainData, components: Components, mask: np.ndarray, seed: int) -> Started:
    """Pyro's first SVI step of one fit, as :meth:`SVIBackend.fit` takes it; capture its state.

    Parameters
    ----------
    backend : SVIBackend
    data : BrainData
        Held-out targets already hidden (NaN).
    components : Components
        Built under ``seed``.
    mask : (R,) bool ndarray
        Training regions.
    seed : int

    Returns
    -------
    Started

    Raises
    ------
    ValueError
        On a bad ``mask``.
    """
    problem, _, guide, svi = backend.start(data, components, mask, seed)
    loss = float(svi.step())
    store = pyro.get_param_store()
    params, constraints, adam = {}, {}, {}
    for name, p in store.named_parameters():
        params[name] = p.detach().clone()
        constraints[name] = store._constraints[name]
        opt = svi.optim.optim_objs[p]
        adam[name] = {k: (v.clone() if torch.is_tensor(v) else v) for k, v in opt.state[p].items()}
        adam[name]["hyper"] = {k: v for k, v in opt.param_groups[0].items() if k != "params"}
    return Started(problem, guide, params, constraints, adam, torch.get_rng_state(), loss)


class BatchedELBO:
    """Negative ELBO of B fits of the GP latent model with the low-rank guide, one value per fit.

    The same terms as Pyro's ``Trace_ELBO`` on :func:`xscale_pyro.model.make_model`: hyperpriors,
    the GP prior of the K latent programs, the expression factor model (weight
    ``expression_weight``) and the Gaussian likelihood of the training regions, minus the guide's
    log density (the low-rank normal of the packed latent and the log-Jacobians of the
    transforms to each site's support).

    Parameters
    ----------
    started : sequence of B Started
    prior : GPPrior
        The fits' prior (kernel and jitter; hyperpriors come from the guide's prototype trace).
    decoder : Decoder
        Architecture of the fits' decoders (each fit's weights are its own parameters).
    expression_weight : float
    """

    DECODER = "decoder$$$"  # prefix of the decoder's weights in Pyro's parameter store (pyro.module)

    def __init__(self, started: Sequence[Started], prior, decoder, expression_weight: float):
        first = started[0]
        self.guide, self.kernel, self.jitter = first.guide, prior.kernel_name, prior.jitter
        self.decoder, self.weight, self.constraints = decoder, expression_weight, first.constraints
        self.g = first.guide._pyro_name
        sites = {s["name"]: s for s, _ in unpack(first.guide, torch.zeros(first.guide.latent_dim))}
        if set(sites) != SITES:
            raise ValueError(f"BatchedELBO: the model's latent sites are {sorted(sites)}; expected {sorted(SITES)}")
        self.hyperpriors = {k: sites[k]["fn"] for k in ("sigma", "lengthscale", "variance")}
        self.sq_dist = sq_dist(first.problem.centroids)  # (R, R) mm^2, shared by every fit (see batchable)
        exprs = [s.problem.expression for s in started]
        self.shared = all(torch.equal(e, exprs[0]) for e in exprs)
        self.expression = exprs[0][None] if self.shared else torch.stack(exprs)  # (1 or B, R, G)
        self.expression_sq = (self.expression**2).sum((-1, -2))
        self.y = torch.stack([s.problem.y for s in started])  # (B, R)
        train = torch.zeros_like(self.y)
        for b, s in enumerate(started):
            train[b, s.problem.train] = 1.0
        self.train = train

    def decoder_params(self, p: dict) -> dict:
        """The decoder's weights among the parameters ``p``, by the decoder's own parameter names."""
        return {k[len(self.DECODER):]: v for k, v in p.items() if k.startswith(self.DECODER)}

    def guide_params(self, p: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The guide's loc (B, D), constrained scale (B, D) and cov_factor (B, D, rank)."""
        g = self.g
        scale = biject_to(self.constraints[f"{g}.scale"])(p[f"{g}.scale"])
        return p[f"{g}.loc"], scale, p[f"{g}.cov_factor"]

    def __call__(self, p: dict, eps_w: torch.Tensor, eps_d: torch.Tensor) -> torch.Tensor:
        """(B,) negative ELBO for unconstrained parameters ``p`` and noise eps_W (B, rank), eps_D (B, D)."""
        loc, scale, factor = self.guide_params(p)
        u = lowrank_sample(loc, scale, factor, eps_w.unsqueeze(-2), eps_d.unsqueeze(-2)).squeeze(-2)
        log_q = lowrank_log_density(scale, factor, eps_w, eps_d)
        s = {}
        for site, value in unpack(self.guide, u):
            t = biject_to(site["fn"].support)
            s[site["name"]] = t(value)
            ldj = t.inv.log_abs_det_jacobian(s[site["name"]], value)
            log_q = log_q + ldj.reshape(ldj.shape[0], -1).sum(-1)
        log_p = sum(d.log_prob(s[k]) for k, d in self.hyperpriors.items()) + self._gp_prior(s)
        z = s["z"]  # (B, K, R)
        if self.weight > 0:
            log_p = log_p + self.weight * self._expression(z, p["loadings"], p["expression_noise"])
        f = decode_many(self.decoder, self.decoder_params(p), z.unsqueeze(1))[:, 0]
        sigma = s["sigma"].unsqueeze(-1)
        log_lik = -0.5 * ((self.y - f) / sigma) ** 2 - sigma.log() - 0.5 * math.log(2 * math.pi)
        return log_q - log_p - (log_lik * self.train).sum(-1)

    def _gp_prior(self, s: dict) -> torch.Tensor:
        """(B,) log density of the K latent programs z (B, K, R) under their GPs (zero mean)."""
        return GPLogDensity.apply(s["lengthscale"], s["variance"], s["z"].transpose(-1, -2), self.sq_dist,
                                  self.kernel, self.jitter)

    def _expression(self, z: torch.Tensor, W: torch.Tensor, tau_u: torch.Tensor) -> torch.Tensor:
        """(B,) log-likelihood of the expression under x_rg ~ Normal(z_r . W_g, tau), without forming
        the (B, R, G) mean: ||X - Z W^T||^2 = ||X||^2 - 2 <X^T Z, W> + <Z^T Z, W^T W>.

        z : (B, K, R); W : (B, G, K) loadings; tau_u : (B,) unconstrained noise SD.
        """
        tau = biject_to(self.constraints["expression_noise"])(tau_u)
        Z = z.transpose(-1, -2)  # (B, R, K)
        B, R, K = Z.shape
        G = self.expression.shape[-1]
        if self.shared:  # one (G, R) x (R, B*K) product
            xz = (self.expression[0].T @ Z.permute(1, 0, 2).reshape(R, B * K)).reshape(G, B, K).permute(1, 0, 2)
        else:
            xz = self.expression.transpose(-1, -2) @ Z
        sse = self.expression_sq - 2 * (xz * W).sum((-1, -2)) + ((z @ Z) * (W.transpose(-1, -2) @ W)).sum((-1, -2))
        return -0.5 * sse / tau**2 - R * G * (tau.log() + 0.5 * math.log(2 * math.pi))


def fit_batched(backend, datas: Sequence[BrainData], components: Sequence[Components], masks: Sequence[np.ndarray],
                seeds: Sequence[int]) -> list[FitResult]:
    """Train B fits of :class:`~xscale_pyro.svi.SVIBackend` at once (see the module docstring for
    how closely they match the loop).

    Parameters
    ----------
    backend : SVIBackend
    datas : sequence of B BrainData
        Held-out targets hidden; one set of centroids (:func:`batchable`).
    components : sequence of B Components
        Built under each fit's seed. Unlike the loop, their decoder modules are left as Pyro's
        first step leaves them (the trained decoder weights serve the predictions, then are dropped).
    masks : sequence of B (R,) bool ndarray
        Training regions of each fit.
    seeds : sequence of B int
        Each fit's seed: its Pyro RNG stream for training and its prediction stream.

    Returns
    -------
    list of B FitResult
        Posterior-predictive mean, SD and 95% interval per region, ELBO-loss curve, hyperparameters.

    Raises
    ------
    ValueError
        On a bad mask, or fits :func:`batchable` rejects.
    """
    if not datas:
        return []
    if not batchable(backend, datas, components):
        raise ValueError("fit_batched: these fits cannot share a batch (see xscale_pyro.svi_batched.batchable)")
    started = [start(backend, d, c, m, int(s)) for d, c, m, s in zip(datas, components, masks, seeds, strict=True)]
    elbo = BatchedELBO(started, components[0].prior, components[0].decoder, backend.expression_weight)
    names = list(started[0].params)
    p = {n: torch.stack([s.params[n] for s in started]).requires_grad_(True) for n in names}
    opt = ClippedAdam(list(p.values()), **started[0].adam[names[0]]["hyper"])
    for n in names:
        opt.state[p[n]] = {"step": started[0].adam[n]["step"],
                           "exp_avg": torch.stack([s.adam[n]["exp_avg"] for s in started]),
                           "exp_avg_sq": torch.stack([s.adam[n]["exp_avg_sq"] for s in started])}
    gens = [torch.Generator() for _ in started]
    for gen, s in zip(gens, started):
        gen.set_state(s.rng)
    _, _, factor = elbo.guide_params(p)
    D, rank = factor.shape[-2:]
    losses = [torch.tensor([s.loss for s in started], dtype=torch.float64)]
    for _ in range(backend.steps - 1):
        eps = [(torch.randn(rank, generator=gen, dtype=torch.float64), torch.randn(D, generator=gen, dtype=torch.float64))
               for gen in gens]
        loss = elbo(p, torch.stack([e[0] for e in eps]), torch.stack([e[1] for e in eps]))
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
        losses.append(loss.detach())
    curves = torch.stack(losses).T.tolist()
    with torch.no_grad():
        loc, scale, factor = elbo.guide_params(p)
        posts = predict(elbo.guide, loc, scale, factor, elbo.decoder, elbo.decoder_params(p),
                        [s.problem for s in started], backend.num_samples, seeds, components[0].prior.lengthscale_units)
    return [backend.result(post, curve) for post, curve in zip(posts, curves)]
