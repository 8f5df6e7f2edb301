"""The paper's spatial prior: graph-Laplacian smoothness plus KL to a standard normal."""

from __future__ import annotations

import torch

from xscale.checks import require
from xscale.interfaces import BrainData, Prior

REDUCTIONS = ("mean", "sum")


def edge_gram(edge_index: torch.Tensor, n_nodes: int) -> torch.Tensor:
    """(R, R) matrix ``M = B^T B`` of the (E, R) signed incidence matrix ``B`` of the edge list.

    ``B @ z`` holds ``z[src] - z[dst]`` per edge, so the summed squared edge differences are
    ``sum(z * (M @ z))``: a graph Laplacian (twice the undirected one when every edge is listed
    in both directions, as the DK graph is). One (R, R) product instead of an (E, R) one, and its
    gradient is a matrix product, deterministic on CPU with several threads (the scatter-add
    gradient of indexing ``z[src]`` is not).
    """
    rows = torch.arange(edge_index.shape[1], device=edge_index.device)
    b = torch.zeros(edge_index.shape[1], n_nodes, device=edge_index.device)
    b[rows, edge_index[0]] = 1.0
    b[rows, edge_index[1]] = -1.0
    return b.T @ b


class LaplacianPrior(Prior):
    """``lambda * S(z) + beta * KL(q(z) || N(0, I))``, with ``S`` the edge smoothness term.

    ``S(z)`` is ``||z_i - z_j||^2`` over the undirected DK surface edges (an improper Gaussian
    prior with precision proportional to the graph Laplacian), reduced by ``edge_reduction``;
    the KL term is reduced over all R x K latent entries by ``kl_reduction``.

    The paper writes "lambda * sum over edges" with lambda = 0.1 but does not state the
    reductions. Both default to ``'mean'``: measured on the embedded schizophrenia map, the
    literal sums (175 edges x 64 dims, KL summed over 64 dims) over-smooth the latent space
    so much that even the in-sample fit is poor (R^2 0.21 after 2,000 epochs), which cannot
    have produced the paper's in-sample R^2 = 0.86; with means the in-sample fit is 0.93.

    Parameters
    ----------
    smoothness : float
        lambda (the paper: 0.1).
    kl_weight : float
        beta (the paper: 1).
    edge_reduction, kl_reduction : {'mean', 'sum'}

    Shapes:
        - input: z, loc, scale (R, K); data.edge_index (2, E)
        - output: scalar

    Raises
    ------
    ValueError
        On an unknown reduction, or if z and loc are not both (R, K).
    """

    def __init__(self, *, smoothness: float = 0.1, kl_weight: float = 1.0,
                 edge_reduction: str = "mean", kl_reduction: str = "mean"):
        super().__init__()
        require("LaplacianPrior", "smoothness", smoothness, 0)
        require("LaplacianPrior", "kl_weight", kl_weight, 0)
        for name, value in (("edge_reduction", edge_reduction), ("kl_reduction", kl_reduction)):
            if value not in REDUCTIONS:
                raise ValueError(f"LaplacianPrior: {name}={value!r}; expected one of {REDUCTIONS}")
        self.smoothness = smoothness
        self.kl_weight = kl_weight
        self.edge_reduction = edge_reduction
        self.kl_reduction = kl_reduction

    def regulariser(self, z: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor | None,
                    data: BrainData) -> torch.Tensor:
        if z.ndim != 2 or z.shape != loc.shape or z.shape[0] != data.n_regions:
            raise ValueError(f"LaplacianPrior: expected z and loc of shape ({data.n_regions}, K), "
                             f"got {tuple(z.shape)} and {tuple(loc.shape)}")
        return self.stacked_terms(z.mT, loc.mT, None if scale is None else scale.mT, data)[0]

    def _edge_gram(self, data: BrainData, device: torch.device) -> torch.Tensor:
        """:func:`edge_gram` of ``data``'s graph on ``device``, kept for the next call with the same edges."""
        cached = getattr(self, "_gram", None)
        if (cached is None or cached[0] is not data.edge_index or cached[1].shape[0] != data.n_regions
                or cached[1].device != device):
            self._gram = (data.edge_index, edge_gram(data.edge_index, data.n_regions).to(device))
        return self._gram[1]

    def _weights(self, data: BrainData, latent: int) -> tuple[float, float]:
        """Factors of the summed squared edge differences and of the summed KL entries."""
        n_edges = data.edge_index.shape[1]  # each undirected edge appears twice
        edge = 1.0 / n_edges if self.edge_reduction == "mean" else 0.5
        kl = 1.0 / (data.n_regions * latent) if self.kl_reduction == "mean" else 1.0
        return self.smoothness * edge, self.kl_weight * kl

    def stacked_terms(self, z: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor | None,
                      data: BrainData, log_scale: torch.Tensor | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """:meth:`regulariser` of B models at once, with its gradients, for training without autograd.

        In the feature-major layout of :mod:`xscale_gnn.stacked`.

        Parameters
        ----------
        z, loc, scale : (..., K, R) Tensor
            Latent sample, mean and SD with regions last (``scale`` None: smoothness only).
        data : BrainData
            Its ``edge_index`` gives the DK surface edges (on any device: the computation runs on ``z``'s).
        log_scale : (..., K, R) Tensor, optional
            ``log(scale)`` when the caller has it (the encoder's clamped half log-variance):
            the KL value is then summed from it and from sums of squares instead of
            elementwise terms, a few passes over the batch fewer. The value agrees with the
            default's to about n * eps in absolute terms (n = K * R entries: a large relative
            error when the KL is near zero; the value is only logged); the gradients are the
            same, bitwise.

        Returns
        -------
        value : (...) Tensor
            One regulariser per model; a 0-d tensor for (K, R) inputs.
        d_z, d_loc : (..., K, R) Tensor
            Gradient of the summed value with respect to ``z`` (smoothness) and ``loc`` (KL).
        d_scale : (..., K, R) Tensor or None
            With respect to ``scale`` (KL); None when ``scale`` is None.
        """
        edge, kl_w = self._weights(data, z.shape[-2])
        zm = z @ self._edge_gram(data, z.device)  # M is symmetric: d sum(z * zM) / dz = 2 zM
        value = edge * (z * zm).sum((-2, -1))
        # under autograd (the loop), tensors autograd saved (zm for the value, reciprocal's output)
        # must not be overwritten; the batched trainer has none and computes in place
        taped = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (z, loc, scale))
        d_z = zm * (2.0 * edge) if taped else zm.mul_(2.0 * edge)
        if scale is None:
            return value, d_z, torch.zeros_like(loc), None
        if log_scale is None:
            kl = (0.5 * (scale**2 + loc**2 - 1.0 - 2.0 * torch.log(scale))).sum((-2, -1))
        else:  # the same sum, by parts: 0.5 (|scale|^2 + |loc|^2 - n) - sum(log scale)
            squares = torch.linalg.vecdot(scale.flatten(-2), scale.flatten(-2)) + \
                torch.linalg.vecdot(loc.flatten(-2), loc.flatten(-2))
            kl = 0.5 * (squares - scale.shape[-2] * scale.shape[-1]) - log_scale.sum((-2, -1))
        if taped:
            d_scale = kl_w * (scale - 1.0 / scale)
        else:  # the same operations into one new tensor (1.0 / x is x.reciprocal() in torch)
            inverse = torch.reciprocal(scale)
            d_scale = torch.sub(scale, inverse, out=inverse).mul_(kl_w)
        return value + kl_w * kl, d_z, kl_w * loc, d_scale
