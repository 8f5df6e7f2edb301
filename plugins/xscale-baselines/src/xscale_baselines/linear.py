"""Ridge, partial least squares and principal-component regression on the expression matrix.

Every model is a scikit-learn pipeline fitted on the training regions only (gene-wise
standardisation included); hyperparameters chosen by inner K-fold CV are chosen within the
training regions too (nested CV), so nothing about held-out regions enters the fit.
"""

from __future__ import annotations

import numpy as np
from sklearn.cross_decomposition import PLSRegression
from sklearn.decomposition import PCA
from sklearn.linear_model import LinearRegression, RidgeCV
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from xscale.checks import require
from xscale.fitting import check_train_mask
from xscale.interfaces import Backend, BrainData, FitResult


class _SklearnBackend(Backend):
    """Fit a scikit-learn regressor on training regions, predict every region."""

    needs_components = False
    inner_folds: int = 5

    def _model(self, n_train: int, seed: int) -> Pipeline:
        raise NotImplementedError

    def _latent(self, model: Pipeline, x: np.ndarray) -> np.ndarray:
        return np.zeros((x.shape[0], 0))

    def fit(self, data: BrainData, components, train_mask: np.ndarray, seed: int) -> FitResult:
        """Fit on ``train_mask`` (R,) regions; return predictions for all R regions.

        Raises
        ------
        ValueError
            On a bad ``train_mask``.
        """
        mask = check_train_mask(data, train_mask)
        x = data.expression.numpy().astype(float)
        y = data.target.numpy().astype(float)
        model = self._model(int(mask.sum()), seed).fit(x[mask], y[mask])
        best = getattr(model, "best_params_", None) or {}
        est = getattr(model, "best_estimator_", model)
        info = {k: (v.item() if hasattr(v, "item") else v) for k, v in best.items()}
        if hasattr(est[-1], "alpha_"):
            info["alpha"] = float(est[-1].alpha_)
        return FitResult(prediction=np.asarray(model.predict(x), dtype=float).ravel(),
                         latent=self._latent(est, x), info=info)


class RidgeBackend(_SklearnBackend):
    """Ridge regression on all genes; the penalty alpha is chosen by inner K-fold CV.

    Parameters
    ----------
    alphas : tuple of float
        Candidate penalties (log-spaced by default).
    inner_folds : int
        Folds of the inner CV on the training regions.
    """

    def __init__(self, *, alphas: tuple = tuple(np.logspace(-1, 5, 25).tolist()), inner_folds: int = 5):
        require("RidgeBackend", "inner_folds", inner_folds, 2)
        self.alphas, self.inner_folds = tuple(alphas), inner_folds

    def _model(self, n_train: int, seed: int) -> Pipeline:
        cv = KFold(min(self.inner_folds, n_train), shuffle=True, random_state=seed)
        return make_pipeline(StandardScaler(), RidgeCV(alphas=self.alphas, cv=cv))


class PLSBackend(_SklearnBackend):
    """Partial least squares regression (PLS1 for one component, the usual imaging-transcriptomics PLS).

    Parameters
    ----------
    components : int
        Number of PLS components; 0 chooses it from 1..``max_components`` by inner K-fold CV.
    max_components : int
    inner_folds : int
    """

    def __init__(self, *, components: int = 1, max_components: int = 10, inner_folds: int = 5):
        require("PLSBackend", "components", components, 0)
        require("PLSBackend", "max_components", max_components, 1)
        require("PLSBackend", "inner_folds", inner_folds, 2)
        self.components, self.max_components, self.inner_folds = components, max_components, inner_folds

    def _model(self, n_train: int, seed: int):
        pipe = Pipeline([("scale", StandardScaler()), ("pls", PLSRegression(n_components=max(self.components, 1),
                                                                             scale=False))])
        if self.components:
            return pipe
        cv = KFold(min(self.inner_folds, n_train), shuffle=True, random_state=seed)
        grid = {"pls__n_components": list(range(1, min(self.max_components, n_train - n_train // cv.n_splits - 1) + 1))}
        return GridSearchCV(pipe, grid, cv=cv, scoring="neg_mean_squared_error")

    def _latent(self, model: Pipeline, x: np.ndarray) -> np.ndarray:
        return np.asarray(model[:-1].transform(x) @ model[-1].x_rotations_)


class PCRBackend(_SklearnBackend):
    """Linear regression on the first k principal components of the (standardised) expression.

    Parameters
    ----------
    components : int
        k, the number of gene principal components (fitted on training regions only).
    """

    def __init__(self, *, components: int = 5):
        require("PCRBackend", "components", components, 1)
        self.components = components

    def _model(self, n_train: int, seed: int) -> Pipeline:
        return make_pipeline(StandardScaler(), PCA(n_components=min(self.components, n_train - 1), svd_solver="full"), LinearRegression())

    def _latent(self, model: Pipeline, x: np.ndarray) -> np.ndarray:
        return np.asarray(model[:-1].transform(x))
