"""Hamiltonian Monte Carlo (NUTS, ``pyro.infer.MCMC``) for the GP latent model with small K."""

from __future__ import annotations

import numpy as np
import pyro
import torch
from pyro.infer import MCMC, NUTS, Predictive
from pyro.ops.stats import effective_sample_size, split_gelman_rubin

from xscale import registry
from xscale.checks import require
from xscale.errors import IncompatibleModelError
from xscale.fitting import check_train_mask
from xscale.interfaces import Backend, BrainData, Components, FitResult, ModelSpec
from xscale_pyro.model import Problem, make_model, pca_loadings, sampled_decoder, summarise


class NUTSBackend(Backend):
    """Sample the posterior of the GP latent model with NUTS; report R-hat and effective sample size.

    Meant for few latent maps (K <= ``max_latent_dim``): the sampler explores K x R latent values
    plus hyperparameters and decoder weights (which get ``Normal(0, weight_prior_scale)`` priors).
    With ``expression_weight > 0`` the expression likelihood uses fixed loadings, the top-K
    principal axes of the expression (:func:`~xscale_pyro.model.pca_loadings`), since MCMC
    cannot optimise them.

    Convergence is reported for identifiable quantities only: the predicted map ``f`` (max
    R-hat, min ESS over regions), ``sigma``, ``lengthscale`` and ``variance``. The latent maps
    and decoder weights are identified only up to sign and scale (``w . z``), so their R-hat is
    not meaningful.

    Parameters
    ----------
    num_samples, warmup_steps : int
    num_chains : int
        Chains run one after another; R-hat is split-R-hat within chains when 1.
    max_tree_depth : int
    weight_prior_scale : float
    sigma_scale : float
        HalfNormal scale of the noise, in SDs of the training target.
    max_latent_dim : int
    expression_weight : float
    standardise_target : bool
    """

    compatible_priors = ("gp",)

    def __init__(self, *, num_samples: int = 300, warmup_steps: int = 300, num_chains: int = 1,
                 max_tree_depth: int = 6, weight_prior_scale: float = 1.0, sigma_scale: float = 1.0,
                 max_latent_dim: int = 4, expression_weight: float = 1.0, standardise_target: bool = True):
        for name, value in (("num_samples", num_samples), ("warmup_steps", warmup_steps), ("num_chains", num_chains),
                            ("max_tree_depth", max_tree_depth), ("max_latent_dim", max_latent_dim)):
            require("NUTSBackend", name, value, 1)
        require("NUTSBackend", "weight_prior_scale", weight_prior_scale, 0, low_open=True)
        require("NUTSBackend", "sigma_scale", sigma_scale, 0, low_open=True)
        self.num_samples, self.warmup_steps, self.num_chains = num_samples, warmup_steps, num_chains
        self.max_tree_depth, self.weight_prior_scale, self.sigma_scale = max_tree_depth, weight_prior_scale, sigma_scale
        require("NUTSBackend", "expression_weight", expression_weight, 0)
        self.max_latent_dim, self.standardise_target = max_latent_dim, standardise_target
        self.expression_weight = expression_weight

    @classmethod
    def validate(cls, spec: ModelSpec) -> None:
        K = registry.resolve_params("encoder", spec.encoder, spec.encoder_params).get("latent_dim")
        limit = registry.resolve_params("backend", spec.backend, spec.backend_params)["max_latent_dim"]
        if K is not None and K > limit:
            raise IncompatibleModelError(
                f"backend 'nuts' samples at most {limit} latent maps; encoder {spec.encoder!r} has latent_dim={K}. "
                f"Use --set encoder.latent_dim=2 (or --backend svi for larger K)."
            )

    def fit(self, data: BrainData, components: Components, train_mask: np.ndarray, seed: int) -> FitResult:
        mask = check_train_mask(data, train_mask)
        K = components.encoder.latent_dim
        if K > self.max_latent_dim:
            raise ValueError(f"NUTSBackend: latent_dim={K} > max_latent_dim={self.max_latent_dim}")
        pyro.clear_param_store()
        problem = Problem.from_data(data, mask, self.standardise_target)
        decode = sampled_decoder(components.decoder.double(), self.weight_prior_scale)
        model = make_model(problem, components.prior, decode, K, self.sigma_scale, self.expression_weight,
                           pca_loadings(problem.expression, K))
        chains = []
        for c in range(self.num_chains):  # sequential chains: deterministic and no process pool
            pyro.set_rng_seed(seed + c)
            mcmc = MCMC(NUTS(model, max_tree_depth=self.max_tree_depth, jit_compile=False),
                        num_samples=self.num_samples, warmup_steps=self.warmup_steps, disable_progbar=True)
            mcmc.run()
            pred = Predictive(model, posterior_samples=mcmc.get_samples(),
                              return_sites=("f", "sigma", "z", "lengthscale", "variance"))
            with torch.no_grad():
                chains.append(pred(observe=False))
        s = {k: torch.cat([c[k] for c in chains]) for k in chains[0]}
        post = summarise(s["f"], s["sigma"], s["z"], s["lengthscale"], s["variance"], problem, seed,
                         components.prior.lengthscale_units)
        rhat, ess = {}, {}
        for site in ("f", "sigma", "lengthscale", "variance"):
            x = torch.stack([c[site].reshape(self.num_samples, -1) for c in chains])  # (chains, draws, n)
            rhat[site] = float(split_gelman_rubin(x, chain_dim=0, sample_dim=1).max())
            ess[site] = float(effective_sample_size(x, chain_dim=0, sample_dim=1).min())
        return FitResult(
            prediction=post.mean, latent=post.latent, prediction_scale=post.sd,
            interval_95=np.stack([post.lower, post.upper]),
            history={"lengthscale": s["lengthscale"].reshape(-1).tolist(),
                     "sigma": (s["sigma"].reshape(-1) * problem.sd).tolist()},
            info={"num_samples": self.num_samples, "warmup_steps": self.warmup_steps, "num_chains": self.num_chains,
                  "max_r_hat": max(rhat.values()), "min_ess": min(ess.values()), "r_hat": rhat, "ess": ess,
                  **post.hyper},
        )
