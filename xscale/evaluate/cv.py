"""In-sample fit and spatially blocked cross-validation of one model on one map."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from xscale.evaluate.metrics import score
from xscale.evaluate.splits import blocked_kfold
from xscale.fitting import fit_model
from xscale.interfaces import BrainData, FitResult, ModelSpec


@dataclass
class Evaluation:
    """Paper-style in-sample numbers beside out-of-sample ones.

    Attributes
    ----------
    in_sample : FitResult
        Fit on every region with a target (the paper's protocol).
    in_sample_score : dict
        ``r2``, ``r``, ``p``, ``n`` of that fit on the same regions: a goodness of fit,
        not a prediction.
    oof_prediction : (R,) ndarray
        Each region predicted by the model fitted without its block (NaN where no target).
    fold_of : (R,) int ndarray
        Fold in which each region was tested (-1: no target).
    cv_score : dict
        ``r2``, ``r``, ``p``, ``n`` of the pooled out-of-fold predictions, plus
        ``coverage_95`` (share of held-out observed values inside their 95 % posterior-predictive
        interval) for probabilistic backends.
    folds : list of dict
        Per fold: ``fold``, ``n_test``, ``test_regions``, ``r2``, ``r``, ``p``.
    oof_interval : (2, R) ndarray
        Out-of-fold 95 % interval (NaN for backends without uncertainty).
    """

    in_sample: FitResult
    in_sample_score: dict
    oof_prediction: np.ndarray
    fold_of: np.ndarray
    cv_score: dict
    folds: list[dict] = field(default_factory=list)
    oof_interval: np.ndarray | None = None


def coverage(observed: np.ndarray, interval: np.ndarray | None) -> float | None:
    """Share of ``observed`` (n,) inside ``interval`` (2, n); None without an interval."""
    if interval is None or not np.isfinite(interval).all():
        return None
    return float(np.mean((observed >= interval[0]) & (observed <= interval[1])))


def undirected_edges(data: BrainData) -> np.ndarray:
    """(E_u, 2) ndarray of the data's adjacency, each pair once with i < j."""
    ei = data.edge_index.numpy()
    keep = ei[0] < ei[1]
    return np.stack([ei[0][keep], ei[1][keep]], axis=1)


def evaluate(data: BrainData, spec: ModelSpec, seed: int = 0, n_folds: int = 5,
             on_fit: Callable[[str], None] | None = None) -> Evaluation:
    """Fit in-sample and under spatially blocked k-fold CV (homologues held out together).

    Parameters
    ----------
    data : BrainData
        Must have a target; regions with NaN targets are neither fitted nor scored.
    spec : ModelSpec
    seed : int
        Seeds every fit and the fold layout.
    n_folds : int
    on_fit : callable, optional
        Called with a short label after each fit (for progress bars).

    Returns
    -------
    Evaluation
    """
    observed = data.target_mask
    y = data.target.numpy().astype(float)
    tick = on_fit or (lambda _label: None)

    full = fit_model(data, spec, observed, seed)
    tick("in-sample")
    in_score = score(y[observed], full.prediction[observed])
    if full.interval_95 is not None:
        in_score["coverage_95"] = coverage(y[observed], full.interval_95[:, observed])

    blocks = blocked_kfold(data.regions, data.centroids.numpy(), undirected_edges(data), n_folds, seed)
    oof = np.full(data.n_regions, np.nan)
    oof_interval = np.full((2, data.n_regions), np.nan)
    fold_of = np.full(data.n_regions, -1)
    folds = []
    for f, test in enumerate(blocks):
        test = test[observed[test]]
        train = observed.copy()
        train[test] = False
        res = fit_model(data, spec, train, seed)
        oof[test] = res.prediction[test]
        if res.interval_95 is not None:
            oof_interval[:, test] = res.interval_95[:, test]
        fold_of[test] = f
        fs = score(y[test], res.prediction[test]) if test.size >= 2 else {"r2": np.nan, "r": np.nan, "p": np.nan, "n": int(test.size)}
        folds.append({"fold": f, "n_test": int(test.size), "test_regions": [data.regions[i] for i in test], **fs})
        tick(f"fold {f + 1}/{len(blocks)}")
    cv = score(y[observed], oof[observed])
    if full.interval_95 is not None:
        cv["coverage_95"] = coverage(y[observed], oof_interval[:, observed])
    return Evaluation(full, in_score, oof, fold_of, cv, folds, oof_interval)
