"""Closed-form linear fits of many target maps at once: the batched path of :mod:`xscale_baselines.linear`.

Each function computes, for T target maps that share one expression matrix, what the
scikit-learn estimator the loop uses computes for one map: the same centring, penalties,
scores, tie rule and sign conventions, rearranged so that one factorisation serves every map
(and, for ridge, every penalty). Results agree with scikit-learn up to float rounding.

Shapes: n fitting regions, m regions to predict, G genes, T target maps, C candidates
(penalties or component counts), k components. Everything is float64.
"""

from __future__ import annotations

from typing import Callable, Iterable, NamedTuple

import numpy as np
from sklearn.preprocessing import StandardScaler

_EPS = np.finfo(np.float64).eps


class NotBatchable(ArithmeticError):
    """The closed form cannot reproduce scikit-learn here (e.g. a PLS residual became constant)."""


def standardised(x_fit: np.ndarray, x_new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gene-wise z-scores with scikit-learn's StandardScaler fitted on ``x_fit`` (n, G).

    Returns ``(z_fit, z_new)``: (n, G) and the (m, G) ``x_new`` under the same scaler,
    bit-identical to what a ``StandardScaler`` pipeline step passes on.
    """
    scaler = StandardScaler().fit(x_fit)
    return scaler.transform(x_fit), scaler.transform(x_new)


def ridge_predict(x_fit: np.ndarray, y_fit: np.ndarray, x_new: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """Ridge regression with an unpenalised intercept, for every target and penalty at once.

    Solves scikit-learn's ``Ridge(alpha, fit_intercept=True)``: X and y centred on the fitting
    regions, coefficients ``Xc^T (Xc Xc^T + alpha I)^{-1} yc`` (the kernel form scikit-learn's
    Cholesky solver uses when G > n), intercept restoring the means. One eigendecomposition of
    the (n, n) Gram matrix serves all penalties and targets.

    Parameters
    ----------
    x_fit : (n, G) ndarray
    y_fit : (n, T) ndarray
    x_new : (m, G) ndarray
    penalty : (C, T) ndarray, or broadcastable to it ((C, 1): the same grid for every target)
        Positive penalties alpha.

    Returns
    -------
    (C, m, T) ndarray
        Predictions at ``x_new``.
    """
    mean, y_mean = x_fit.mean(axis=0), y_fit.mean(axis=0)
    xc = x_fit - mean
    eigval, eigvec = np.linalg.eigh(xc @ xc.T)
    gain = (x_new - mean) @ xc.T @ eigvec
    coords = eigvec.T @ (y_fit - y_mean)
    return np.einsum("mj,cjt->cmt", gain, coords / (eigval[:, None] + penalty[:, None, :])) + y_mean


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """scikit-learn's ``r2_score`` per target: NaN below two regions, 1 for a perfect fit, 0 for a
    constant truth predicted imperfectly.

    Parameters
    ----------
    y_true : (m, T) ndarray
    y_pred : (C, m, T) ndarray

    Returns
    -------
    (C, T) ndarray
    """
    if len(y_true) < 2:
        return np.full((len(y_pred), y_true.shape[1]), np.nan)
    num = ((y_true - y_pred) ** 2).sum(axis=1)
    den = np.broadcast_to(((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0), num.shape)
    out = np.where(num == 0, 1.0, 0.0)
    ok = (num != 0) & (den != 0)
    out[ok] = 1 - num[ok] / den[ok]
    return out


def neg_mse(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """scikit-learn's ``neg_mean_squared_error`` per target: (m, T), (C, m, T) -> (C, T)."""
    return -((y_true - y_pred) ** 2).mean(axis=1)


def chosen(x: np.ndarray, y: np.ndarray, splits: Iterable[tuple[np.ndarray, np.ndarray]],
           predict: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
           score: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """Each target's candidate as ``GridSearchCV`` chooses it: best mean inner-fold score, first on ties.

    A NaN mean ranks below every number (all NaN: the first candidate), as in GridSearchCV.

    Parameters
    ----------
    x : (n, G) ndarray
    y : (n, T) ndarray
    splits : iterable of (train indices, test indices)
        The inner folds (e.g. ``KFold.split(x)``).
    predict : callable
        ``predict(x_fit, y_fit, x_new)`` -> (C, m, T) predictions of every candidate.
    score : callable
        ``score(y_true (m, T), y_pred (C, m, T))`` -> (C, T), larger is better.

    Returns
    -------
    (T,) int ndarray
        Index of the chosen candidate per target.
    """
    mean = np.mean([score(y[te], predict(x[tr], y[tr], x[te])) for tr, te in splits], axis=0)
    return np.argmax(np.nan_to_num(mean, nan=-np.inf), axis=0)


class PLSFit(NamedTuple):
    """NIPALS PLS1 components of T targets (scikit-learn's ``PLSRegression(scale=False)``).

    Attributes
    ----------
    x_mean : (G,) ndarray
    y_mean : (T,) ndarray
    weights : (T, G, k) ndarray
        ``x_weights_`` per target.
    loadings : (T, G, k) ndarray
        ``x_loadings_`` per target.
    y_loadings : (T, k) ndarray
    """

    x_mean: np.ndarray
    y_mean: np.ndarray
    weights: np.ndarray
    loadings: np.ndarray
    y_loadings: np.ndarray

    def _first(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(T, G, k) weights of the first k components and the (T, k, k) pseudo-inverse of ``P^T W``."""
        w = self.weights[..., :k]
        return w, np.linalg.pinv(np.swapaxes(self.loadings[..., :k], 1, 2) @ w)

    def rotations(self, k: int) -> np.ndarray:
        """(T, G, k) ``x_rotations_`` of the first k components: ``W (P^T W)^+``."""
        w, inv = self._first(k)
        return w @ inv

    def predict(self, x_new: np.ndarray, k: int) -> np.ndarray:
        """(m, T) predictions at ``x_new`` (m, G) of the k-component model: coefficients ``W (P^T W)^+ q``."""
        w, inv = self._first(k)
        v = inv @ self.y_loadings[:, :k, None]
        return (x_new - self.x_mean) @ (w * np.swapaxes(v, 1, 2)).sum(axis=-1).T + self.y_mean


def pls1(x_fit: np.ndarray, y_fit: np.ndarray, k: int) -> PLSFit:
    """k NIPALS PLS1 components for each of T targets (``PLSRegression(k, scale=False)``).

    With one target column the power iteration stops after one step, so each component is
    ``w = X_j^T y_j / ||X_j^T y_j||`` (scikit-learn's normalisation, eps included, and sign:
    largest |w| positive), then regression deflation. The deflated X_j is never formed: X_j =
    Pi_j X with Pi_j the projector off the earlier scores, so ``X_j^T y_j = X^T y_j`` and the
    score is X w with the earlier scores projected out. The first ``j`` components of a k-component
    fit are those of a j-component fit.

    Parameters
    ----------
    x_fit : (n, G) ndarray
    y_fit : (n, T) ndarray
    k : int

    Returns
    -------
    PLSFit

    Raises
    ------
    NotBatchable
        If a target's residual is constant before k components (scikit-learn then stops early).
    """
    x_mean, y_mean = x_fit.mean(axis=0), y_fit.mean(axis=0)
    xc, yk = x_fit - x_mean, y_fit - y_mean
    cols = np.arange(yk.shape[1])
    scores, weights, loadings, y_loadings = [], [], [], []
    for _ in range(k):
        if np.all(np.abs(yk) < 10 * _EPS, axis=0).any():
            raise NotBatchable("PLS: y residual is constant")
        w = xc.T @ yk / (yk * yk).sum(axis=0)
        w /= np.sqrt((w * w).sum(axis=0)) + _EPS
        w *= np.sign(w[np.abs(w).argmax(axis=0), cols])
        t = xc @ w
        for prev in scores:
            t -= prev * ((prev * t).sum(axis=0) / (prev * prev).sum(axis=0))
        tt = (t * t).sum(axis=0)
        q = (yk * t).sum(axis=0) / tt
        yk = yk - t * q
        scores.append(t)
        weights.append(w)
        loadings.append(xc.T @ t / tt)
        y_loadings.append(q)
    return PLSFit(x_mean, y_mean, np.stack(weights, -1).transpose(1, 0, 2),
                  np.stack(loadings, -1).transpose(1, 0, 2), np.stack(y_loadings, -1))
