"""Adam on B stacked GNN-VAEs, with the first layer's weight gradient, update and next product fused.

The first layer's weights ``w1`` (B, H, G) are almost all the parameters (26 MB for 64 models
of the paper's size) and its two products almost all the work. Done one after the other, an
epoch streams ``w1`` from memory for the forward product, writes its gradient, then reads
weights, gradient and both Adam moments and writes three of them back: more than the 32 MB
cache holds, so each pass goes to memory. Here the three steps run model chunk by model chunk
(about 2 MB of weights each), so the chunk's gradient never leaves the cache and its updated
weights are still there for the next epoch's product:

    for each chunk: d w1 = d_pre @ propagated;  Adam step;  pre = b1 + w1 @ propagated^T

On a GPU there is no such cache to keep the chunk in: the whole batch is one chunk.

The arithmetic is that of ``torch.optim.Adam(fused=True)`` (its functional form,
``torch.optim.adam.adam``), element by element, so splitting the tensor changes nothing.
"""

from __future__ import annotations

import torch
from torch.optim.adam import adam

from xscale_gnn.stacked import first_layer

CHUNK_FLOATS = 2**19  # 2 MB of float32 weights per chunk: with gradient and moments, well inside the cache


class StackedAdam:
    """Adam state of B stacked models (parameters as :func:`xscale_gnn.stacked.stack_parameters`).

    Parameters
    ----------
    params : dict of str to Tensor
        Updated in place.
    lr, weight_decay : float
        As ``torch.optim.Adam`` (L2 penalty added to the gradient); betas (0.9, 0.999), eps 1e-8.
    """

    def __init__(self, params: dict[str, torch.Tensor], lr: float, weight_decay: float):
        self.params, self.lr, self.weight_decay = params, lr, weight_decay
        self.exp_avg = {k: torch.zeros_like(v) for k, v in params.items()}
        self.exp_avg_sq = {k: torch.zeros_like(v) for k, v in params.items()}
        self.steps = 0  # completed steps, the same for every model and tensor

    def _adam(self, params: list[torch.Tensor], grads: list[torch.Tensor], exp_avg: list[torch.Tensor],
              exp_avg_sq: list[torch.Tensor]) -> None:
        # incremented by adam before use; on the parameters' device, as torch.optim.Adam(fused=True) keeps them
        # (made by a fill, which on a GPU does not wait for the queued work as a copy from the host would)
        steps = [torch.full((), float(self.steps), device=p.device) for p in params]
        adam(params, grads, exp_avg, exp_avg_sq, [], steps, fused=True, amsgrad=False, beta1=0.9, beta2=0.999,
             lr=self.lr, weight_decay=self.weight_decay, eps=1e-8, maximize=False)

    def step(self, grads: dict[str, torch.Tensor], d_pre: torch.Tensor, propagated: torch.Tensor) -> torch.Tensor:
        """One Adam step of every parameter; returns the next epoch's :func:`first_layer` output.

        Parameters
        ----------
        grads : dict of str to Tensor
            Gradients of every parameter but ``w1`` (from :func:`xscale_gnn.stacked.gradients`).
        d_pre : (B, H, R) Tensor
            Gradient with respect to the first layer's output before its ReLU.
        propagated : (R, G) or (B, R, G) Tensor
            The propagated expression, shared or one per model.

        Returns
        -------
        (B, H, R) Tensor
            ``first_layer(w1, b1, propagated)`` with the updated weights.
        """
        rest = [k for k in self.params if k != "w1"]
        self._adam([self.params[k] for k in rest], [grads[k] for k in rest],
                   [self.exp_avg[k] for k in rest], [self.exp_avg_sq[k] for k in rest])
        w1, b1 = self.params["w1"], self.params["b1"]  # b1 already updated
        n_models, hidden, genes = w1.shape
        per_chunk = max(1, CHUNK_FLOATS // (hidden * genes)) if w1.device.type == "cpu" else n_models
        grad = torch.empty(min(per_chunk, n_models), hidden, genes, device=w1.device)  # reused: stays in cache
        pre = torch.empty(d_pre.shape, device=w1.device)
        for a in range(0, n_models, per_chunk):
            rows = slice(a, a + per_chunk)
            n = w1[rows].shape[0]
            if propagated.ndim == 2:
                torch.mm(d_pre[rows].reshape(n * hidden, -1), propagated, out=grad[:n].view(n * hidden, genes))
            else:
                torch.bmm(d_pre[rows], propagated[rows], out=grad[:n])
            self._adam([w1[rows]], [grad[:n]], [self.exp_avg["w1"][rows]], [self.exp_avg_sq["w1"][rows]])
            first_layer(w1[rows], b1[rows], propagated if propagated.ndim == 2 else propagated[rows], out=pre[rows])
        self.steps += 1
        return pre

    def subset(self, keep: torch.Tensor) -> "StackedAdam":
        """The models where ``keep`` (B,) is True, with their moments and step count.

        The rows are moved in place (:func:`compact_rows_`): this state is consumed, and the
        returned one's tensors are views of its memory.
        """
        rows = keep.nonzero().squeeze(1).tolist()  # (on the GPU: waits for the queued work, once per drop)
        new = StackedAdam.__new__(StackedAdam)
        new.lr, new.weight_decay, new.steps = self.lr, self.weight_decay, self.steps
        new.params, new.exp_avg, new.exp_avg_sq = ({k: compact_rows_(v, rows) for k, v in d.items()}
                                                   for d in (self.params, self.exp_avg, self.exp_avg_sq))
        return new


def compact_rows_(t: torch.Tensor, rows: list[int]) -> torch.Tensor:
    """Move the rows ``rows`` (ascending indices along dim 0) of ``t`` to its front, in place.

    Returns ``t[:len(rows)]``, which then holds ``t[rows]``. This is ``t[rows]`` without a new
    allocation: a fresh 50 MB tensor costs more in page faults (about 7 us per 4 kB page on
    the CI machine) than the copy itself. Each run of consecutive kept rows moves down by the
    number of rows dropped before it, in pieces no longer than that shift, so that no piece
    reads a row that an earlier piece wrote.

    Parameters
    ----------
    t : (B, ...) Tensor
        Contiguous along dim 0 (any device).
    rows : list of int
        Strictly ascending, each in ``[0, B)``.
    """
    dst, i = 0, 0
    while i < len(rows):
        j = i  # rows[i:j + 1] is a run of consecutive rows
        while j + 1 < len(rows) and rows[j + 1] == rows[j] + 1:
            j += 1
        src, length = rows[i], j - i + 1
        shift = src - dst
        for a in range(0, length if shift else 0, max(shift, 1)):
            n = min(shift, length - a)
            t[dst + a:dst + a + n].copy_(t[src + a:src + a + n])
        dst, i = dst + length, j + 1
    return t[:len(rows)]
