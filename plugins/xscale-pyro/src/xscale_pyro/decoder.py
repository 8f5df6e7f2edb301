"""Linear decoder: predicted thinning as a weighted sum of the latent maps."""

from __future__ import annotations

import torch

from xscale.checks import require
from xscale.interfaces import Decoder


class LinearDecoder(Decoder):
    """``y_r = w . z_r + b``.

    Parameters
    ----------
    latent_dim : int
        K.

    Shapes:
        - input: z (R, K)
        - output: (R,)

    Raises
    ------
    ValueError
        If ``z`` is not (R, K).
    """

    def __init__(self, latent_dim: int, /):
        super().__init__()
        require("LinearDecoder", "latent_dim", latent_dim, 1)
        self.latent_dim = latent_dim
        self.linear = torch.nn.Linear(latent_dim, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"LinearDecoder: expected z of shape (R, {self.latent_dim}), got {tuple(z.shape)}")
        return self.linear(z).squeeze(-1)
