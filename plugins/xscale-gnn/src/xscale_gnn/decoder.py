"""MLP decoder: latent per region -> predicted thinning per region."""

from __future__ import annotations

import torch

from xscale.checks import require
from xscale.interfaces import Decoder
from xscale_gnn._checks import check_matrix


class MLPDecoder(Decoder):
    """Two-layer perceptron applied to each region's latent vector.

    Parameters
    ----------
    latent_dim : int
        K.
    hidden : int
        Hidden width.

    Shapes:
        - input: z (R, K)
        - output: (R,)
    """

    def __init__(self, latent_dim: int, /, *, hidden: int = 32):
        super().__init__()
        require("MLPDecoder", "latent_dim", latent_dim, 1)
        require("MLPDecoder", "hidden", hidden, 1)
        self.latent_dim = latent_dim
        self.net = torch.nn.Sequential(torch.nn.Linear(latent_dim, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_matrix("MLPDecoder", z, self.latent_dim, "z")
        return self.net(z).squeeze(-1)
