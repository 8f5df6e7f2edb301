"""Many independent GNN-VAE fits at once: stacked parameters, dense graph layers.

A spatial null refits the model on hundreds of surrogate maps and every CV fold. Each of
those fits is small (68 regions), so a loop spends its time in Python and tiny sparse
kernels. Here B models are trained together: their parameters are stacked, the forward
pass is a handful of large products (:mod:`xscale_gnn.stacked`; the first layer, where
almost all the work is, is one matrix product over the shared propagated expression
``A_hat @ X``, or a batched product when each job has its own expression matrix, as in the
random gene-set null), its gradient is written out rather than taped by autograd, and the
first layer's weight gradient, Adam step and next product run chunk by chunk in cache
(:mod:`xscale_gnn.update`).

Every model keeps what makes it the sequential fit of :class:`xscale_gnn.backend.AdamBackend`:
its own initial weights (built under its seed), its own noise stream, its own training and
validation regions, its own early stopping (a model that stops keeps the prediction and latent
means of its best epoch, and leaves the batch once an eighth of its rows have stopped). The summed loss
has block-diagonal gradients and Adam is elementwise, so the update of each model is the one it
would get alone; results differ from the loop only by float32 summation order (dense vs sparse
propagation, products grouped differently).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from xscale.interfaces import BrainData, Components, FitResult
from xscale_gnn.backend import AdamBackend, Job, result
from xscale_gnn.decoder import MLPDecoder
from xscale_gnn.encoder import GCNEncoder, gcn_adjacency
from xscale_gnn.noise import NoiseBlocks
from xscale_gnn.prior import LaplacianPrior
from xscale_gnn.stacked import decode, encode, first_layer, gradients, stack_parameters
from xscale_gnn.stopping import EarlyStopping, EpochLog
from xscale_gnn.update import StackedAdam

# Stopped rows leave the batch once they are this share of its rows. Leaving copies the rows' weights
# and Adam moments; staying costs a stopped row a full epoch of work. Measured on 128 refits of the
# scz map (3 runs each, one process): dropping at 1/2 took 19.0 s, 1/4 17.8 s, 1/8 17.1 s, 1/16 17.1 s.
DROP_STOPPED_SHARE = 0.125


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

    Notes
    -----
    Trains on ``backend.device``: inputs are moved there and every tensor factory called here
    names it (``tests/test_device.py``); the noise is drawn on the CPU and copied over, so a GPU fit
    sees the loop's noise. Run on an NVIDIA H200 (2026-11-23): CUDA fits agree with the CPU's within
    float32 summation order; 1,000 refits at once take 9.5 s.
    """
    d0, c0, dev = datas[0], components[0], backend.device
    B, R, K = len(datas), d0.n_regions, c0.encoder.latent_dim
    jobs: list[Job] = [backend.setup(d, m, s) for d, m, s in zip(datas, train_masks, seeds)]
    y = torch.stack([torch.nan_to_num(j.target) for j in jobs]).to(dev)
    fit_w = torch.zeros(B, R, device=dev)
    val = torch.zeros(B, R, dtype=torch.bool, device=dev)
    for b, j in enumerate(jobs):
        fit_w[b, j.fit_idx] = 1.0 / j.fit_idx.size
        val[b, j.val_idx] = True

    adjacency = gcn_adjacency(d0.edge_index.to(dev), R)
    shared_x = all(d.expression is d0.expression or torch.equal(d.expression, d0.expression) for d in datas)
    # (R, G) shared by every model, or (B, R, G): one expression matrix per job
    propagated = adjacency @ (d0.expression if shared_x else torch.stack([d.expression for d in datas])).to(dev)
    prior = c0.prior
    noise = NoiseBlocks(seeds, (R, K), threads=torch.get_num_threads())  # drawn on the CPU, whatever the device
    state = StackedAdam({k: v.to(dev) for k, v in stack_parameters(components).items()}, backend.lr,
                        backend.weight_decay)
    pre = first_layer(state.params["w1"], state.params["b1"], propagated)
    loc = encode(state.params, pre, adjacency).loc
    stopping = EarlyStopping(y, val, decode(state.params, loc)[0], loc, backend.patience, backend.max_epochs)
    loss_log, mse_log = EpochLog(), EpochLog()
    prop_live = propagated  # rows of the jobs still training (re-gathered only when stopped jobs leave)
    y_rows, w_rows = y, fit_w

    for epoch in range(backend.max_epochs + 1):
        # this epoch's forward pass also validates the previous epoch's step (same weights)
        enc = encode(state.params, pre, adjacency)
        if epoch > 0:
            stopping.validate(epoch - 1, decode(state.params, enc.loc)[0], enc.loc)
            n_live = int(stopping.live.sum())
            if n_live == 0:
                break
            if n_live <= stopping.live.numel() * (1 - DROP_STOPPED_SHARE):
                live = stopping.keep_live()
                state, pre = state.subset(live), pre[live]
                members = stopping.fits
                prop_live = propagated if shared_x else propagated[members]
                y_rows, w_rows = y[members], fit_w[members]
                enc = encode(state.params, pre, adjacency)
        if epoch == backend.max_epochs:
            break
        eps = noise.next(stopping.fits).to(dev).mT.contiguous()  # (B', K, R)
        z = torch.addcmul(enc.loc, enc.scale, eps)
        pred, hidden = decode(state.params, z)
        reg, d_z, d_loc, d_scale = prior.stacked_terms(z, enc.loc, enc.scale, d0, enc.log_scale)
        residual = pred - y_rows
        mse = (residual * residual * w_rows).sum(1)
        d_pred = 2.0 * residual * w_rows
        grads, d_pre = gradients(state.params, enc, adjacency, z, eps, hidden, d_pred, d_z, d_loc, d_scale)
        pre = state.step(grads, d_pre, prop_live)
        loss_log.add(epoch, stopping.fits, mse + reg)
        mse_log.add(epoch, stopping.fits, mse)
    stopping.write_back()
    best = {k: getattr(stopping, k).cpu() for k in ("best_pred", "best_loc", "best_r", "best_epoch", "stopped_at",
                                                     "has_val")}
    losses, mses = loss_log.history(backend.max_epochs, B), mse_log.history(backend.max_epochs, B)
    val_rs = stopping.val_r_log.history(backend.max_epochs, B)
    out = []
    for b, (d, j) in enumerate(zip(datas, jobs)):
        n = int(best["stopped_at"][b]) + 1
        history = {"loss": losses[:n, b].tolist(), "mse": mses[:n, b].tolist(),
                   "val_r": val_rs[:n, b].tolist() if best["has_val"][b] else []}
        out.append(result(d, j, best["best_pred"][b] * j.sd + j.mean, best["best_loc"][b].T, history,
                          float(best["best_r"][b]), int(best["best_epoch"][b])))
    return out
