"""Fit a model under a cross-validation scheme and score its out-of-sample predictions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from xscale.data.atlas import homologue_index
from xscale.evaluate.metrics import score
from xscale.evaluate.splits import Scheme, scheme as make_scheme
from xscale.fitting import fit_many
from xscale.interfaces import BrainData, FitResult, ModelSpec


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


def shared_with_homologue(data: BrainData) -> np.ndarray:
    """(R,) bool ndarray: regions whose expression row equals their other-hemisphere homologue's.

    Such rows were copied (AHBA regions without samples, ``missing_regions='copy-homologue'``:
    the right frontal and temporal poles by default); measured expression never repeats exactly.
    """
    hom = homologue_index(data.regions)
    x = data.expression
    return np.array([h >= 0 and bool(torch.equal(x[i], x[h])) for i, h in enumerate(hom)])


def scheme_for(data: BrainData, name: str, folds: int = 5, seed: int = 0) -> Scheme:
    """:func:`xscale.evaluate.splits.scheme` on the data's regions, centroids and graph (and, for
    ``hemisphere``, with the regions of :func:`shared_with_homologue` left untested)."""
    return make_scheme(name, data.regions, data.centroids.numpy(), undirected_edges(data), folds, seed,
                       shared_with_homologue=shared_with_homologue(data) if name == "hemisphere" else None)


@dataclass
class CVResult:
    """Out-of-sample predictions of one model under one scheme.

    Attributes
    ----------
    scheme : str
    score : dict
        ``r2``, ``r``, ``n`` (and ``coverage_95`` for probabilistic backends): of the pooled
        out-of-fold map for partition schemes, with ``p`` (parametric, of r; not a spatial test);
        the median over splits otherwise (``aggregate``; no ``p``: a median of per-split p-values
        is not a test).
    splits : list of dict
        Per split: ``split``, ``n_test``, ``test_regions``, ``r2``, ``r``, ``p``.
    prediction : (R,) ndarray
        Out-of-fold prediction (partition schemes; NaN where untested or no target).
    interval : (2, R) ndarray
        Out-of-fold 95 % interval (NaN for backends without uncertainty).
    fold_of : (R,) int ndarray
        Split in which each region was tested (-1: none).
    fits : list of FitResult
        One per split, in order.
    """

    scheme: str
    score: dict
    splits: list[dict]
    prediction: np.ndarray
    interval: np.ndarray
    fold_of: np.ndarray
    fits: list[FitResult] = field(default_factory=list, repr=False)


def _nan_score(n: int) -> dict:
    return {"r2": float("nan"), "r": float("nan"), "p": float("nan"), "n": n}


def cross_validate(data: BrainData, spec: ModelSpec, sch: Scheme, seed: int = 0,
                   on_fit: Callable[[str], None] | None = None) -> CVResult:
    """Fit ``spec`` once per split of ``sch`` (seeded) and score the held-out regions.

    The splits are independent jobs of one :func:`xscale.fitting.fit_many` call, so backends
    that train several models at once do so across folds. Regions without a target are
    neither trained on nor scored.

    Parameters
    ----------
    data : BrainData
    spec : ModelSpec
    sch : Scheme
    seed : int
    on_fit : callable, optional
        Called with each split's name once its fit is done (for progress bars; see
        :func:`xscale.fitting.fit_many`).

    Returns
    -------
    CVResult
    """
    fits = fit_many([data] * len(sch.splits), spec, [split.train & data.target_mask for split in sch.splits], seed,
                    on_fit=(lambda i: on_fit(sch.splits[i].name)) if on_fit else None)
    return score_splits(data, sch, fits)


def score_splits(data: BrainData, sch: Scheme, fits: list[FitResult]) -> CVResult:
    """Score the fits of every split of ``sch`` (in order) on their held-out regions of ``data``.

    Partition schemes are scored on the pooled out-of-fold map; other schemes by the median
    over splits.
    """
    observed = data.target_mask
    y = data.target.numpy().astype(float)
    R = data.n_regions
    pred = np.full(R, np.nan)
    interval = np.full((2, R), np.nan)
    fold_of = np.full(R, -1)
    rows, per_split_cov = [], []
    for i, (split, res) in enumerate(zip(sch.splits, fits, strict=True)):
        test = split.test[observed[split.test]]
        if sch.partition:
            pred[test] = res.prediction[test]
            fold_of[test] = i
            if res.interval_95 is not None:
                interval[:, test] = res.interval_95[:, test]
        s = score(y[test], res.prediction[test]) if test.size >= 3 else _nan_score(int(test.size))
        if res.interval_95 is not None:
            per_split_cov.append(coverage(y[test], res.interval_95[:, test]))
        rows.append({"split": split.name, "n_test": int(test.size),
                     "test_regions": [data.regions[j] for j in test], **{k: s[k] for k in ("r2", "r", "p")}})
    if sch.partition:
        tested = observed & (fold_of >= 0)
        total = score(y[tested], pred[tested])
        total["coverage_95"] = coverage(y[tested], interval[:, tested]) if fits[0].interval_95 is not None else None
    else:
        # no p: a median of per-split parametric p-values is not a test (the spatial nulls are)
        total = {k: float(np.nanmedian([r[k] for r in rows])) for k in ("r2", "r")}
        total["n"] = int(np.median([r["n_test"] for r in rows]))
        total["coverage_95"] = float(np.median(per_split_cov)) if per_split_cov else None
        total["aggregate"] = f"median over {len(rows)} splits"
    if total.get("coverage_95") is None:
        total.pop("coverage_95", None)
    return CVResult(sch.name, total, rows, pred, interval, fold_of, fits)


@dataclass
class Evaluation:
    """Paper-style in-sample numbers beside spatially blocked out-of-sample ones.

    Attributes
    ----------
    in_sample : FitResult
        Fit on every region with a target (the paper's protocol).
    in_sample_score : dict
        ``r2``, ``r``, ``p``, ``n`` (``coverage_95``) of that fit on the same regions: a
        goodness of fit, not a prediction.
    oof_prediction : (R,) ndarray
        Each region predicted by the model fitted without its block (NaN where no target).
    fold_of : (R,) int ndarray
        Fold in which each region was tested (-1: no target).
    cv_score : dict
        Pooled out-of-fold ``r2``, ``r``, ``p``, ``n`` (``coverage_95``).
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

    Raises
    ------
    ValueError
        If ``n_folds`` exceeds the number of homologue pairs.
    """
    blocked = scheme_for(data, "blocked", n_folds, seed)  # fails on a bad k before any fit
    ins = cross_validate(data, spec, scheme_for(data, "in-sample"), seed, on_fit)
    cv = cross_validate(data, spec, blocked, seed, on_fit)
    folds = [{"fold": i, **{k: v for k, v in row.items() if k != "split"}} for i, row in enumerate(cv.splits)]
    return Evaluation(ins.fits[0], ins.score, cv.prediction, cv.fold_of, cv.score, folds, cv.interval)
