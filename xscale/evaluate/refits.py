"""Refit one model under one CV scheme on many surrogate maps, as batches of independent fits."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from xscale.evaluate.cv import score_splits
from xscale.evaluate.splits import Scheme
from xscale.fitting import fit_many
from xscale.interfaces import BrainData, ModelSpec


def refit_scores(data: BrainData, spec: ModelSpec, sch: Scheme, maps: np.ndarray, seed: int) -> np.ndarray:
    """CV score of ``spec`` on each surrogate map: every (map, split) fit in one batch.

    The N x S fits go to :func:`xscale.fitting.fit_many`, so a backend that trains many models
    at once (the GNN-VAE) does; each fit is the one :func:`xscale.evaluate.cv.cross_validate`
    would make for that map, with the same seed.

    Parameters
    ----------
    data : BrainData
        Expression and graph; its target is replaced by each map.
    spec : ModelSpec
    sch : Scheme
    maps : (N, R) ndarray
        Surrogate targets (same units as the real one).
    seed : int

    Returns
    -------
    (N, 2) ndarray
        Pearson r and R^2 of each map's CV predictions (pooled out-of-fold for partition
        schemes, median over splits otherwise).
    """
    per_map = [replace(data, target=torch.as_tensor(m, dtype=torch.float32)) for m in np.atleast_2d(maps)]
    datas = [d for d in per_map for _ in sch.splits]
    masks = [split.train & d.target_mask for d in per_map for split in sch.splits]
    fits = fit_many(datas, spec, masks, seed)
    S = len(sch.splits)
    scores = [score_splits(d, sch, fits[i * S:(i + 1) * S]).score for i, d in enumerate(per_map)]
    return np.array([[s["r"], s["r2"]] for s in scores], dtype=float).reshape(-1, 2)
