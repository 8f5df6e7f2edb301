"""Refit one model under one CV scheme on many null draws (surrogate maps or random gene sets), in batches."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from xscale.evaluate.cv import score_splits
from xscale.evaluate.genesets import GeneUniverse
from xscale.evaluate.splits import Scheme
from xscale.fitting import fit_many
from xscale.interfaces import BrainData, ModelSpec


def refit_scores(data: BrainData, spec: ModelSpec, sch: Scheme, maps: np.ndarray | None = None, *, seed: int,
                 gene_sets: np.ndarray | None = None, universe: GeneUniverse | None = None) -> np.ndarray:
    """CV score of ``spec`` on each null draw: every (draw, split) fit in one batch.

    A draw is either a surrogate target map (spatial nulls) or a random gene set that replaces
    the expression panel, with the real target (:mod:`xscale.evaluate.genesets`).

    The N x S fits go to :func:`xscale.fitting.fit_many`, so a backend that trains many models
    at once (the GNN-VAE, the Pyro GP models, the linear baselines) does; each fit is the one :func:`xscale.evaluate.cv.cross_validate`
    would make for that map, with the same seed.

    Parameters
    ----------
    data : BrainData
        Expression and graph; its target is replaced by each map.
    spec : ModelSpec
    sch : Scheme
    maps : (N, R) ndarray, optional
        Surrogate targets (same units as the real one).
    seed : int
    gene_sets : (N, G) int ndarray, optional
        Column indices into ``universe`` (instead of ``maps``).
    universe : GeneUniverse, optional
        The whole transcriptome, with ``gene_sets``.

    Returns
    -------
    (N, 2) ndarray
        Pearson r and R^2 of each draw's CV predictions (pooled out-of-fold for partition
        schemes, median over splits otherwise).

    Raises
    ------
    ValueError
        Unless exactly one of ``maps`` and ``gene_sets`` (with ``universe``) is given.
    """
    if (maps is None) == (gene_sets is None) or (gene_sets is not None and universe is None):
        raise ValueError("refit_scores: give either maps, or gene_sets with universe")
    if maps is not None:
        per_map = [replace(data, target=torch.as_tensor(m, dtype=torch.float32)) for m in np.atleast_2d(maps)]
    else:
        per_map = universe.data_for(data, gene_sets)
    datas = [d for d in per_map for _ in sch.splits]
    masks = [split.train & d.target_mask for d in per_map for split in sch.splits]
    fits = fit_many(datas, spec, masks, seed)
    S = len(sch.splits)
    scores = [score_splits(d, sch, fits[i * S:(i + 1) * S]).score for i, d in enumerate(per_map)]
    return np.array([[s["r"], s["r2"]] for s in scores], dtype=float).reshape(-1, 2)
