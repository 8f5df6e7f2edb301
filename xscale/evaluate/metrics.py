"""Agreement between an observed and a predicted map."""

from __future__ import annotations

import numpy as np
from scipy import stats


def r2_score(observed: np.ndarray, predicted: np.ndarray) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot``.

    Parameters
    ----------
    observed, predicted : (n,) ndarray

    Returns
    -------
    float
        1 for a perfect fit, 0 for predicting the observed mean, negative for worse than that
        (common out of sample). Unlike the squared correlation it penalises bias and scale.

    Raises
    ------
    ValueError
        On different lengths, fewer than 2 values, non-finite values or a constant ``observed``.
    """
    y, f = _check(observed, predicted)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    if ss_tot == 0:
        raise ValueError("r2_score: observed values are constant")
    return 1.0 - float(np.sum((y - f) ** 2)) / ss_tot


def pearson(observed: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """Pearson correlation and its two-sided parametric p-value.

    The p-value assumes independent regions; neighbouring cortical regions are not, so it is
    optimistic. Spatial-null p-values (spin tests) are the honest alternative.

    Returns
    -------
    r : float
    p : float
        NaN when ``predicted`` is constant.
    """
    y, f = _check(observed, predicted)
    if np.ptp(f) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")
    res = stats.pearsonr(y, f)
    return float(res.statistic), float(res.pvalue)


def score(observed: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """``{'r2', 'r', 'p', 'n'}`` for one comparison."""
    r, p = pearson(observed, predicted)
    return {"r2": r2_score(observed, predicted), "r": r, "p": p, "n": int(len(observed))}


def _check(observed: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(observed, dtype=float).ravel()
    f = np.asarray(predicted, dtype=float).ravel()
    if y.shape != f.shape:
        raise ValueError(f"observed has {y.size} values, predicted {f.size}")
    if y.size < 2:
        raise ValueError("at least 2 values are needed")
    if not (np.isfinite(y).all() and np.isfinite(f).all()):
        raise ValueError("observed and predicted must be finite; drop NaN regions first")
    return y, f
