"""Many independent GNN-VAE fits at once: stacked parameters, ``torch.func.vmap``, dense graph layers.

A spatial null refits the model on hundreds of surrogate maps and every CV fold. Each of
those fits is small (68 regions), so a loop spends its time in Python and tiny sparse
kernels. Here B models are trained together: their parameters are stacked
(``torch.func.stack_module_state``), the GCN propagation is a dense (R, R) matrix (exact for
the DK graph, see :func:`xscale_gnn.encoder.gcn_adjacency`), and one ``vmap``-ed forward pass
turns the first layer, where almost all the work is, into one large matrix product over the
shared propagated expression ``A_hat @ X`` (or a batched product when each job has its own
expression matrix, as in the random gene-set null).

Every model keeps what makes it the sequential fit of :class:`xscale_gnn.backend.AdamBackend`:
its own initial weights (built under its seed), its own noise stream, its own training and
validation regions, its own early stopping (a model that stops is frozen at its best epoch
while the others go on). The summed loss has block-diagonal gradients and Adam is elementwise,
so the update of each model is the one it would get alone; results differ from the loop only
by float32 summation order (dense vs sparse propagation).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch.func import functional_call, stack_module_state, vmap

from xscale.interfaces import BrainData, Components, FitResult
from xscale_gnn.backend import AdamBackend, Job, result
from xscale_gnn.decoder import MLPDecoder
from xscale_gnn.encoder import GCNEncoder, gcn_adjacency
from xscale_gnn.prior import LaplacianPrior

PARTS = ("encoder", "prior", "decoder")


def batchable(datas: Sequence[BrainData], components: Sequence[Components | None]) -> bool:
    """Whether the jobs can share one dense batched fit.

    True when every job has the paper's components (``gnn`` encoder without dropout,
    ``laplacian`` prior, ``mlp`` decoder) with identical settings, and all jobs share one graph
    and expression matrices of one shape (they may differ in expression, target and training
    regions).
    """
    first = datas[0]
    if any(c is None for c in components):
        return False
    c0 = components[0]
    if not (type(c0.encoder) is GCNEncoder and type(c0.prior) is LaplacianPrior and type(c0.decoder) is MLPDecoder):
        return False
    if c0.encoder.dropout.p != 0:
        return False

    def settings(c: Components) -> tuple:
        return (type(c.encoder), type(c.prior), type(c.decoder), repr(c.encoder), repr(c.decoder),
                c.prior.smoothness, c.prior.kl_weight, c.prior.edge_reduction, c.prior.kl_reduction)

    same_components = all(settings(c) == settings(c0) for c in components)
    same_inputs = all(d.expression.shape == first.expression.shape and torch.equal(d.edge_index, first.edge_index)
                      for d in datas)
    return same_components and same_inputs


def _masked_corr(pred: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Pearson r per row of (B, R) ``pred`` and ``y`` over the True entries of ``mask``; NaN if flat."""
    n = mask.sum(1).clamp(min=1)
    a = torch.where(mask, pred - (pred * mask).sum(1, keepdim=True) / n[:, None], 0.0)
    b = torch.where(mask, y - torch.where(mask, y, 0.0).sum(1, keepdim=True) / n[:, None], 0.0)
    den = torch.sqrt((a * a).sum(1) * (b * b).sum(1))
    return torch.where(den > 0, (a * b).sum(1) / den, torch.nan)


def _sub(params: dict[str, torch.Tensor], part: str) -> dict[str, torch.Tensor]:
    prefix = f"{PARTS.index(part)}."
    return {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}


def _adam(params, backend: AdamBackend) -> torch.optim.Adam:
    """Adam as in the loop; the fused CPU kernel (same update, one pass over memory) where available."""
    return torch.optim.Adam(params, lr=backend.lr, weight_decay=backend.weight_decay, fused=True)


class _Training:
    """Stacked parameters of the models still training, with their Adam state."""

    def __init__(self, params: dict[str, torch.Tensor], optimizer: torch.optim.Adam):
        self.params, self.optimizer = params, optimizer

    def subset(self, keep: torch.Tensor, backend: AdamBackend) -> "_Training":
        """Drop stopped models (rows where ``keep`` is False); Adam's moments and step carry over."""
        params = {k: v.detach()[keep].clone().requires_grad_(True) for k, v in self.params.items()}
        opt = _adam(params.values(), backend)
        for old, new in zip(self.params.values(), params.values()):
            st = self.optimizer.state[old]
            opt.state[new] = {k: (t[keep].clone() if t.ndim else t.clone()) for k, t in st.items()}
        return _Training(params, opt)


def fit_dense_batch(backend: AdamBackend, datas: Sequence[BrainData], components: Sequence[Components],
                    train_masks: Sequence[np.ndarray], seeds: Sequence[int]) -> list[FitResult]:
    """Train B GNN-VAEs together; each result equals :meth:`AdamBackend.fit` of its job.

    Parameters
    ----------
    backend : AdamBackend
        Learning rate, epochs, patience, validation share, weight decay, standardisation.
    datas : sequence of B BrainData
        Same graph; expression (R, G), shared or one per job; targets (R,) with held-out regions NaN.
    components : sequence of B Components
        Built under each job's seed (:func:`batchable` must hold).
    train_masks : sequence of B (R,) bool ndarray
    seeds : sequence of B int
        Validation split and noise stream of each job.

    Returns
    -------
    list of B FitResult
        As :meth:`AdamBackend.fit`: prediction at the best validation epoch, latent ``loc``,
        per-epoch history up to the job's own stopping epoch.
    """
    d0, c0 = datas[0], components[0]
    B, R, K = len(datas), d0.n_regions, c0.encoder.latent_dim
    jobs: list[Job] = [backend.setup(d, m, s) for d, m, s in zip(datas, train_masks, seeds)]
    y = torch.stack([torch.nan_to_num(j.target) for j in jobs])
    fit_w = torch.zeros(B, R)
    val = torch.zeros(B, R, dtype=torch.bool)
    for b, j in enumerate(jobs):
        fit_w[b, j.fit_idx] = 1.0 / j.fit_idx.size
        val[b, j.val_idx] = True
    has_val = val.any(1)

    adjacency = gcn_adjacency(d0.edge_index, R)
    shared_x = all(d.expression is d0.expression or torch.equal(d.expression, d0.expression) for d in datas)
    # (R, G) shared by every model, or (B, R, G): one expression matrix per job
    propagated = adjacency @ (d0.expression if shared_x else torch.stack([d.expression for d in datas]))
    modules = [torch.nn.ModuleList([c.encoder, c.prior, c.decoder]) for c in components]
    params, _ = stack_module_state(modules)  # leaves with requires_grad, one row per model
    decoder, prior = c0.decoder, c0.prior

    def locate(p: dict[str, torch.Tensor], prop: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B', R, K) loc and scale of the models in ``p``; ``prop``: their propagated expression."""
        return GCNEncoder.dense_forward(_sub(p, "encoder"), prop, adjacency)

    def train_step(p: dict[str, torch.Tensor], loc: torch.Tensor, scale: torch.Tensor,
                   eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = loc + scale * eps
        return functional_call(decoder, _sub(p, "decoder"), (z,)), prior.regulariser(z, loc, scale, d0)

    def decode(p: dict[str, torch.Tensor], loc: torch.Tensor) -> torch.Tensor:
        return functional_call(decoder, _sub(p, "decoder"), (loc,))

    batched_train, batched_decode = vmap(train_step), vmap(decode)
    noise = [torch.Generator().manual_seed(int(s)) for s in seeds]
    best = {k: v.detach().clone() for k, v in params.items()}
    best_r = torch.full((B,), -torch.inf)
    best_epoch = torch.zeros(B, dtype=torch.long)
    members = torch.arange(B)  # rows of the training batch, as indices into the B jobs
    live = torch.ones(B, dtype=torch.bool)  # per row: not yet early-stopped
    state = _Training(params, _adam(params.values(), backend))
    prop_live = propagated  # rows of the jobs still training (re-gathered only when stopped jobs leave)
    losses, mses, val_rs = (torch.full((backend.max_epochs, B), torch.nan) for _ in range(3))
    stopped_at = torch.full((B,), backend.max_epochs - 1)

    def validate(epoch: int, p: dict[str, torch.Tensor], loc: torch.Tensor) -> None:
        """Early stopping of the live rows after ``epoch``'s step (``p``: the weights after it)."""
        with torch.no_grad():
            pred = batched_decode(p, loc)
        rows, jobs_ = live.nonzero().squeeze(1), members[live]
        r = _masked_corr(pred[rows], y[jobs_], val[jobs_])
        val_rs[epoch, jobs_] = r
        hv = has_val[jobs_]
        improved = hv & torch.isfinite(r) & (r > best_r[jobs_])
        best_r[jobs_[improved]], best_epoch[jobs_[improved]] = r[improved], epoch
        if improved.any():
            for k, v in p.items():
                best[k][jobs_[improved]] = v.detach()[rows[improved]]
        stop = hv & ~improved & (epoch - best_epoch[jobs_] >= backend.patience)
        stopped_at[jobs_[stop]] = epoch
        live[rows[stop]] = False

    for epoch in range(backend.max_epochs + 1):
        # this epoch's forward pass also validates the previous epoch's step (same weights)
        loc, scale = locate(state.params, prop_live)
        if epoch > 0:
            validate(epoch - 1, state.params, loc.detach())
            if not live.any():
                break
            if live.sum() <= live.numel() // 2:  # drop stopped rows once they are half the batch
                state, members, live = state.subset(live, backend), members[live], live[live]
                prop_live = propagated if shared_x else propagated[members]
                loc, scale = locate(state.params, prop_live)
        if epoch == backend.max_epochs:
            break
        state.optimizer.zero_grad()
        eps = torch.stack([torch.randn((R, K), generator=noise[int(m)]) for m in members])
        pred, reg = batched_train(state.params, loc, scale, eps)
        mse = (((pred - y[members]) ** 2) * fit_w[members]).sum(1)
        loss = mse + reg
        loss.sum().backward()
        state.optimizer.step()
        losses[epoch, members[live]], mses[epoch, members[live]] = loss.detach()[live], mse.detach()[live]
    last = ~has_val[members]  # jobs without a validation subset keep their last epoch
    for k, v in state.params.items():
        best[k][members[last]] = v.detach()[last]
    with torch.no_grad():
        loc, _ = locate(best, propagated)
        pred = batched_decode(best, loc)
    out = []
    for b, (d, j) in enumerate(zip(datas, jobs)):
        n = int(stopped_at[b]) + 1
        history = {"loss": losses[:n, b].tolist(), "mse": mses[:n, b].tolist(),
                   "val_r": val_rs[:n, b].tolist() if has_val[b] else []}
        out.append(result(d, j, pred[b] * j.sd + j.mean, loc[b], history, float(best_r[b]), int(best_epoch[b])))
    return out
