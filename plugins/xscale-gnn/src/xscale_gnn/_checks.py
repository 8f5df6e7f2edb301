"""Input checks shared by the plugin's modules."""

from __future__ import annotations

import torch


def check_matrix(name: str, x: torch.Tensor, cols: int, what: str) -> None:
    """Raise ValueError unless ``x`` is a 2-D float tensor with ``cols`` columns."""
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != cols:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name}: expected {what} of shape (R, {cols}), got {shape}")
