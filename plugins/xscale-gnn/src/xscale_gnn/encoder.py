"""Graph-convolutional variational encoder ``q(z | expression, DK graph)``."""

from __future__ import annotations

import torch
from torch_geometric.nn import GCNConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from xscale.checks import require
from xscale.interfaces import Encoder
from xscale_gnn._checks import check_matrix


def gcn_adjacency(edge_index: torch.Tensor, n_nodes: int) -> torch.Tensor:
    """Dense (R, R) propagation matrix of ``GCNConv``: ``D^-1/2 (A + I) D^-1/2`` (Kipf & Welling 2017).

    Built with torch_geometric's own ``gcn_norm`` (self-loops, symmetric normalisation), so
    ``gcn_adjacency(ei, R) @ x @ W.T + b`` equals ``GCNConv(x, ei)`` up to float summation order.
    Row i holds the weights of the messages that node i receives. On ``edge_index``'s device.
    """
    ei, weight = gcn_norm(edge_index, None, n_nodes, add_self_loops=True)
    dense = torch.zeros(n_nodes, n_nodes, dtype=weight.dtype, device=edge_index.device)
    dense.index_put_((ei[1], ei[0]), weight, accumulate=True)
    return dense


class GCNEncoder(Encoder):
    """GCN encoder of the paper: a shared GCNConv layer, then GCNConv heads for mu and log-variance.

    Parameters
    ----------
    in_features : int
        Number of genes G.
    hidden : int
        Width of the shared graph-convolution layer.
    latent_dim : int
        K, latent dimensions per region (the paper: 64).
    dropout : float
        Dropout on the hidden layer during training.

    Shapes:
        - input: expression (R, G), edge_index (2, E)
        - output: loc (R, K), scale (R, K) = exp(log_var / 2)

    Raises
    ------
    ValueError
        If ``expression`` is not (R, G) or ``edge_index`` not (2, E).
    """

    def __init__(self, in_features: int, /, *, hidden: int = 128, latent_dim: int = 64, dropout: float = 0.0):
        super().__init__()
        for name, value in (("in_features", in_features), ("hidden", hidden), ("latent_dim", latent_dim)):
            require("GCNEncoder", name, value, 1)
        require("GCNEncoder", "dropout", dropout, 0, 1, high_open=True)
        self.in_features = in_features
        self.latent_dim = latent_dim
        self.conv = GCNConv(in_features, hidden)
        self.conv_loc = GCNConv(hidden, latent_dim)
        self.conv_log_var = GCNConv(hidden, latent_dim)
        self.dropout = torch.nn.Dropout(dropout)

    def forward(self, expression: torch.Tensor, edge_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_matrix("GCNEncoder", expression, self.in_features, "expression")
        if edge_index.ndim != 2 or edge_index.shape[0] != 2:
            raise ValueError(f"GCNEncoder: expected edge_index of shape (2, E), got {tuple(edge_index.shape)}")
        h = self.dropout(torch.relu(self.conv(expression, edge_index)))
        log_var = self.conv_log_var(h, edge_index).clamp(-10.0, 10.0)
        return self.conv_loc(h, edge_index), torch.exp(0.5 * log_var)
