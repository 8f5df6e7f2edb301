"""B spatial-only GP regressions trained at once, exactly as pyro trains each alone.

Null distributions refit the spatial-only GP (:class:`~xscale_pyro.spatial.SpatialGPBackend`)
on thousands of surrogate maps and CV folds. Each fit is a ``pyro.contrib.gp`` GPRegression
(built by :func:`~xscale_pyro.spatial.build_spatial_gp`, zero mean function, the map centred)
whose lengthscale, variance and noise variance are MAP estimates. What pyro 1.9 does, read
from its source (``contrib/gp/parameterized.py``, ``models/gpr.py``, ``util.py``):

* each hyperparameter has a Delta autoguide initialised to a draw from its hyperprior (so
  ``pyro.set_rng_seed(seed)`` fixes it): lengthscale, variance (float32, as the hyperpriors
  are built from Python floats), then noise (float64);
* Adam acts on the unconstrained values ``u = log(theta)`` (``transform_to(positive)``);
* the ``Trace_ELBO`` loss of a Delta guide is the negative log joint
  ``-log N(y | 0, K + (jitter + noise) I) - log p(lengthscale) - log p(variance) - log p(noise)``,
  hyperprior densities in constrained space, no Jacobian;
* prediction (``forward(X*, full_cov=False, noiseless=False)``): mean ``K*f Kff^-1 y``,
  variance ``variance - diag(K*f Kff^-1 Kf*)`` clamped at 0, plus the noise variance.

This module computes the same loss for B models in plain torch (batched kernel matrices and
Cholesky factors) and sums it over jobs; Adam is elementwise, so each job gets the update it
would get alone. Training sets of different sizes are padded to the largest: a padding row
and column of the training covariance are the identity's and its target is 0, which adds
nothing to the Mahalanobis term or the log-determinant; the ``n log(2 pi)`` term counts the
real training points only. Dtypes and arithmetic follow pyro's, so results agree with the
loop up to float summation order.

References: Rasmussen & Williams 2006, eqs. 2.25-2.26 (predictive), 5.8 (marginal likelihood).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import pyro.contrib.gp as gp
import torch
from torch.distributions import transform_to

from xscale_pyro.batched_kernel import batched_kernel

SITES = ("kernel.lengthscale", "kernel.variance", "noise")  # pyro's sample sites, in model order

#: Pyro kernel classes this module batches, and their names in :mod:`xscale_pyro.batched_kernel`.
KERNELS: dict[type, str] = {gp.kernels.Matern52: "matern52", gp.kernels.RBF: "rbf"}


@dataclass(frozen=True)
class BatchedGPFit:
    """MAP hyperparameters, losses and posterior predictive of B GP regressions.

    Attributes
    ----------
    lengthscale : (B,) float32 tensor
        Kernel lengthscale, mm.
    variance : (B,) float32 tensor
        Kernel variance (units of the standardised map, squared).
    noise : (B,) float64 tensor
        Noise variance (same units).
    loss : (steps, B) float64 tensor
        Loss at each Adam step (before the step), as ``pyro.contrib.gp.util.train`` records it.
    loc, var : (B, M) float64 tensors
        Posterior-predictive mean and variance (noise included) at the M prediction points, as
        ``GPRegression.forward(X, full_cov=False, noiseless=False)`` gives them.
    """

    lengthscale: torch.Tensor
    variance: torch.Tensor
    noise: torch.Tensor
    loss: torch.Tensor
    loc: torch.Tensor
    var: torch.Tensor


def supports(model: gp.models.GPRegression) -> bool:
    """Whether :func:`fit_gp_batch` can train ``model``: a Matern-5/2 or RBF kernel."""
    return type(model.kernel) in KERNELS


class _Batch:
    """The B jobs as tensors: padded training inputs and targets, hyperpriors, initial values.

    Job b's N_b training rows come first, then N - N_b padding rows (N the largest N_b), which
    the covariance treats as independent unit-variance points with target 0.
    """

    def __init__(self, models: Sequence[gp.models.GPRegression]):
        if not models:
            raise ValueError("fit_gp_batch: no models")
        first = models[0]
        kinds = {type(m.kernel) for m in models}
        if len(kinds) != 1 or not supports(first):
            raise ValueError(f"fit_gp_batch: one kernel type among {sorted(k.__name__ for k in KERNELS)} expected, "
                             f"got {sorted(k.__name__ for k in kinds)}")
        for b, m in enumerate(models):
            if m.y is None or m.y.shape != (1, len(m.X)) or m.X.shape[1:] != first.X.shape[1:]:
                raise ValueError(f"fit_gp_batch: job {b} must be one map (y of shape (1, N)) on inputs (N, "
                                 f"{first.X.shape[1]}); got y {None if m.y is None else tuple(m.y.shape)}, "
                                 f"X {tuple(m.X.shape)}")
        n = torch.tensor([len(m.X) for m in models])
        self.valid = torch.arange(int(n.max())) < n[:, None]
        self.pairs = self.valid[:, :, None] & self.valid[:, None, :]
        self.eye = torch.eye(self.valid.shape[1], dtype=torch.float64)
        self.X = torch.zeros(*self.valid.shape, first.X.shape[1], dtype=torch.float64)
        self.y = torch.zeros(self.valid.shape, dtype=torch.float64)
        for b, m in enumerate(models):
            self.X[b, :n[b]], self.y[b, :n[b]] = m.X, m.y[0]
        self.n_train, self.jitter = n.double(), first.jitter
        self.kernel_name = KERNELS[type(first.kernel)]
        # the hyperpriors of the first model (all built alike); pyro keeps them in `_priors`
        sites = [s.rpartition(".") for s in SITES]
        self.priors = [first.get_submodule(module)._priors[attr] for module, _, attr in sites]
        self.transforms = [transform_to(p.support) for p in self.priors]
        self.unconstrained = self._initial(models)

    @staticmethod
    def _initial(models: Sequence[gp.models.GPRegression]) -> list[torch.Tensor]:
        """Each site's (B,) initial unconstrained value, read from the models' pyro parameters."""
        names = [f"{s}_map_unconstrained" for s in SITES]
        params = [dict(m.named_parameters()) for m in models]
        if any(set(p) != set(names) for p in params):
            raise ValueError(f"fit_gp_batch: models must have exactly the parameters {names} (Delta autoguides); "
                             f"got {sorted(params[0])}")
        return [torch.stack([p[n].detach() for p in params]).requires_grad_() for n in names]

    def hyperparameters(self) -> list[torch.Tensor]:
        """(B,) constrained lengthscale, variance and noise variance."""
        return [t(u) for t, u in zip(self.transforms, self.unconstrained)]

    def kernel(self, lengthscale: torch.Tensor, variance: torch.Tensor, Z: torch.Tensor | None = None) -> torch.Tensor:
        """(B, N, M) kernel between the training inputs and ``Z`` ((M, D) or (B, M, D); default
        the training inputs), with pyro's ``Isotropy`` arithmetic."""
        return batched_kernel(self.kernel_name, self.X, lengthscale, variance, Z)

    def cholesky(self, lengthscale: torch.Tensor, variance: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """(B, N, N) Cholesky factors of the training covariances (identity on padding rows)."""
        diag = torch.where(self.valid, self.jitter + noise[:, None], 0.0)
        K = self.kernel(lengthscale, variance) + torch.diag_embed(diag)
        return torch.linalg.cholesky(torch.where(self.pairs, K, self.eye))

    def loss(self) -> torch.Tensor:
        """(B,) negative log joint of each job at its current hyperparameters."""
        hyper = self.hyperparameters()
        L = self.cholesky(*hyper)
        maha = torch.linalg.solve_triangular(L, self.y[..., None], upper=False).pow(2).sum((-2, -1))
        half_log_det = L.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        log_lik = -0.5 * (self.n_train * math.log(2 * math.pi) + maha) - half_log_det
        log_prior = [p.log_prob(v).double() for p, v in zip(self.priors, hyper)]
        return -(log_prior[0] + log_prior[1] + log_prior[2] + log_lik)

    @torch.no_grad()
    def predict(self, Xnew: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, M) posterior-predictive mean and variance (noise included) at ``Xnew`` (M, D) or (B, M, D)."""
        lengthscale, variance, noise = hyper = self.hyperparameters()
        L = self.cholesky(*hyper)
        Kfs = torch.where(self.valid[:, :, None], self.kernel(lengthscale, variance, Xnew.double()), 0.0)
        solved = torch.linalg.solve_triangular(L, torch.cat([self.y[..., None], Kfs], dim=-1), upper=False)
        v, W = solved[..., :1], solved[..., 1:].mT
        loc = W.matmul(v)[..., 0]
        var = (variance[:, None] - W.pow(2).sum(-1)).clamp(min=0)
        return loc, var + noise[:, None]


def fit_gp_batch(models: Sequence[gp.models.GPRegression], Xnew: torch.Tensor, steps: int,
                 lr: float) -> BatchedGPFit:
    """Train B untrained GP regressions at once, as ``pyro.contrib.gp.util.train`` trains each.

    Each model is one map on its own training inputs, built by
    :func:`~xscale_pyro.spatial.build_spatial_gp` (Delta autoguides for lengthscale, variance
    and noise, whose initial values are read from the model, so each job starts where its own
    pyro fit would). The loop this replaces runs, per model, ``steps`` steps of
    ``torch.optim.Adam(model.parameters(), lr)`` on ``Trace_ELBO().differentiable_loss``, then
    ``model(Xnew, full_cov=False, noiseless=False)``.

    Parameters
    ----------
    models : sequence of B pyro.contrib.gp.models.GPRegression
        Same kernel type (Matern-5/2 or RBF) and hyperpriors; model b has inputs ``X`` (N_b, D)
        (region centroids, mm) and ``y`` of shape (1, N_b); the N_b may differ.
    Xnew : (M, D) or (B, M, D) tensor
        Where to predict (all R centroids, mm), shared or per job.
    steps : int
        Adam steps.
    lr : float
        Adam learning rate.

    Returns
    -------
    BatchedGPFit
        Predictions at the M points.

    Raises
    ------
    ValueError
        If there are no models, the kernels are not all Matern-5/2 or all RBF, a model is not
        one map on (N, D) inputs, or its parameters are not the three Delta-guide values.
    torch.linalg.LinAlgError
        If a training covariance is not positive definite (as in pyro's own fit).
    """
    batch = _Batch(models)
    optimizer = torch.optim.Adam(batch.unconstrained, lr=lr)
    losses = torch.empty(steps, len(models), dtype=torch.float64)
    for step in range(steps):
        optimizer.zero_grad()
        loss = batch.loss()
        loss.sum().backward()
        optimizer.step()
        losses[step] = loss.detach()
    with torch.no_grad():
        lengthscale, variance, noise = batch.hyperparameters()
    loc, var = batch.predict(Xnew)
    return BatchedGPFit(lengthscale, variance, noise, losses, loc, var)
