"""Ridge, partial least squares and principal-component regression on the expression matrix.

Every model is a scikit-learn pipeline fitted on the training regions only (gene-wise
standardisation included); hyperparameters chosen by inner K-fold CV are chosen within the
training regions too (nested CV), so nothing about held-out regions enters the fit. The inner
folds split the training regions at random (``inner_cv='regions'``, the default), or keep each
region with its other-hemisphere homologue as the outer spatial schemes do
(``inner_cv='homologues'``).

:meth:`_SklearnBackend.fit_batch` (null-model refits: many surrogate maps on one expression
matrix and fold) solves every map of a group at once in closed form
(:mod:`xscale_baselines.closed_form`) and gives the loop's results up to float rounding.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np
from sklearn.cross_decomposition import PLSRegression
from sklearn.decomposition import PCA
from sklearn.linear_model import LinearRegression, RidgeCV
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from xscale.checks import require
from xscale.evaluate.splits import homologue_pairs
from xscale.fitting import check_train_mask
from xscale.interfaces import Backend, BrainData, Components, FitResult

from xscale_baselines import closed_form as cf
from xscale_baselines.closed_form import NotBatchable


def job_groups(datas: Sequence[BrainData], train_masks: Sequence[np.ndarray], seeds: Sequence[int]) -> list[list[int]]:
    """Indices of the jobs that share expression (by content), training mask and seed, first-seen order.

    Parameters
    ----------
    datas : sequence of B BrainData
    train_masks : sequence of B (R,) ndarray
    seeds : sequence of B int

    Returns
    -------
    list of lists of int
        A partition of ``range(B)``.

    Raises
    ------
    ValueError
        If the three sequences differ in length.
    """
    digests: dict[int, tuple] = {}
    groups: dict[tuple, list[int]] = {}
    for i, (data, mask, seed) in enumerate(zip(datas, train_masks, seeds, strict=True)):
        x = data.expression
        if id(x) not in digests:  # the batch holds every tensor, so ids are not reused meanwhile
            digests[id(x)] = (tuple(x.shape), hashlib.sha256(x.numpy().tobytes()).hexdigest())
        groups.setdefault((digests[id(x)], np.asarray(mask).tobytes(), int(seed)), []).append(i)
    return list(groups.values())


class _SklearnBackend(Backend):
    """Fit a scikit-learn regressor on training regions, predict every region."""

    needs_components = False
    inner_folds: int = 5
    inner_cv: str = "regions"

    def _model(self, train_regions: tuple[str, ...], seed: int) -> Pipeline:
        """The scikit-learn estimator for one fit on the named training regions (in data order)."""
        raise NotImplementedError

    def _inner_splits(self, train_regions: tuple[str, ...], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """The inner K-fold split of the n training regions that chooses a hyperparameter.

        ``inner_cv='regions'``: scikit-learn's shuffled ``KFold``; ``'homologues'``: shuffled
        ``GroupKFold`` with each homologue pair (both in the training set) as one group.

        Returns
        -------
        list of (train, test) int ndarray pairs
            Positions among the training regions.
        """
        n = len(train_regions)
        if self.inner_cv == "regions":
            return list(KFold(min(self.inner_folds, n), shuffle=True, random_state=seed).split(np.zeros(n)))
        pairs = homologue_pairs(train_regions)
        groups = np.empty(n, dtype=int)
        for g, members in enumerate(pairs):
            groups[members] = g
        folds = GroupKFold(min(self.inner_folds, len(pairs)), shuffle=True, random_state=seed)
        return list(folds.split(np.zeros(n), groups=groups))

    def _latent(self, model: Pipeline, x: np.ndarray) -> np.ndarray:
        return np.zeros((x.shape[0], 0))

    def _fit_group(self, x: np.ndarray, mask: np.ndarray, y: np.ndarray, seed: int,
                   regions: tuple[str, ...]) -> list[FitResult]:
        """Fit T target maps sharing expression, mask and seed at once; what :meth:`fit` gives each.

        Parameters
        ----------
        x : (R, G) ndarray
            Expression, float64.
        mask : (R,) bool ndarray
            The n training regions.
        y : (n, T) ndarray
            Each map's values on the training regions.
        seed : int
        regions : tuple of R str
            DK region names (homologue pairs for ``inner_cv='homologues'``).

        Raises
        ------
        NotBatchable
            Where the closed form cannot follow scikit-learn; the caller then loops over :meth:`fit`.
        """
        raise NotBatchable(type(self).__name__)

    def fit_batch(self, datas: Sequence[BrainData], components: Sequence[Components | None],
                  train_masks: Sequence[np.ndarray], seeds: Sequence[int]) -> list[FitResult]:
        """Fit B jobs; those sharing expression, training mask and seed are solved together in closed form.

        Surrogate-map refits share expression and fold and differ in the target only; gene-set
        refits differ in expression too and form groups of their own. Each job's result equals
        :meth:`fit`'s up to float rounding (tests: ``test_batched.py``).

        Parameters and result as :meth:`xscale.interfaces.Backend.fit_batch` (``components`` are None).

        Raises
        ------
        ValueError
            If the sequences differ in length, or a mask is bad (see :func:`xscale.fitting.check_train_mask`).
        """
        if not len(datas) == len(components) == len(train_masks) == len(seeds):
            raise ValueError(f"fit_batch: {len(datas)} data, {len(components)} components, {len(train_masks)} masks "
                             f"and {len(seeds)} seeds; expected equal counts")
        out: list[FitResult | None] = [None] * len(datas)
        for group in job_groups(datas, train_masks, seeds):
            masks = [check_train_mask(datas[i], train_masks[i]) for i in group]
            y = np.stack([datas[i].target.numpy().astype(float)[m] for i, m in zip(group, masks)], axis=1)
            try:
                fits = self._fit_group(datas[group[0]].expression.numpy().astype(float), masks[0], y,
                                       int(seeds[group[0]]), tuple(datas[group[0]].regions))
            except NotBatchable:
                fits = [self.fit(datas[i], None, train_masks[i], seeds[i]) for i in group]
            for i, fit in zip(group, fits, strict=True):
                out[i] = fit
        return out

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
        model = self._model(_named(data.regions, mask), seed).fit(x[mask], y[mask])
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
    inner_cv : {'regions', 'homologues'}
        What the inner folds split: regions at random, or homologue pairs (kept together).

    Raises
    ------
    ValueError
        On fewer than 2 inner folds, no or non-positive alphas, or an unknown ``inner_cv``.
    """

    def __init__(self, *, alphas: tuple = tuple(np.logspace(-1, 5, 25).tolist()), inner_folds: int = 5,
                 inner_cv: str = "regions"):
        require("RidgeBackend", "inner_folds", inner_folds, 2)
        require("RidgeBackend", "len(alphas)", len(alphas), 1)
        for alpha in alphas:
            require("RidgeBackend", "alphas", alpha, 0, low_open=True)
        self.alphas, self.inner_folds, self.inner_cv = tuple(alphas), inner_folds, _inner_cv_choice("RidgeBackend", inner_cv)

    def _model(self, train_regions: tuple[str, ...], seed: int) -> Pipeline:
        return make_pipeline(StandardScaler(), RidgeCV(alphas=self.alphas, cv=self._inner_splits(train_regions, seed)))

    def _fit_group(self, x: np.ndarray, mask: np.ndarray, y: np.ndarray, seed: int,
                   regions: tuple[str, ...]) -> list[FitResult]:
        """RidgeCV over the inner folds for T maps: mean inner-fold R^2 of every alpha, first best, refit (see base)."""
        z_fit, z = cf.standardised(x[mask], x)
        alphas = np.asarray(self.alphas, dtype=float)
        best = cf.chosen(z_fit, y, self._inner_splits(_named(regions, mask), seed),
                         lambda a, b, c: cf.ridge_predict(a, b, c, alphas[:, None]), cf.r2)
        pred = cf.ridge_predict(z_fit, y, z, alphas[best][None, :])[0]
        return [FitResult(prediction=pred[:, t], latent=np.zeros((len(x), 0)), info={"alpha": float(alphas[b])})
                for t, b in enumerate(best)]


class PLSBackend(_SklearnBackend):
    """Partial least squares regression (PLS1 for one component, the usual imaging-transcriptomics PLS).

    Parameters
    ----------
    components : int
        Number of PLS components; 0 chooses it from 1..``max_components`` by inner K-fold CV.
    max_components : int
    inner_folds : int
    inner_cv : {'regions', 'homologues'}
        As :class:`RidgeBackend`.

    Raises
    ------
    ValueError
        On a negative ``components``, ``max_components`` < 1, fewer than 2 inner folds, or an
        unknown ``inner_cv``.
    """

    def __init__(self, *, components: int = 1, max_components: int = 10, inner_folds: int = 5,
                 inner_cv: str = "regions"):
        require("PLSBackend", "components", components, 0)
        require("PLSBackend", "max_components", max_components, 1)
        require("PLSBackend", "inner_folds", inner_folds, 2)
        self.components, self.max_components, self.inner_folds = components, max_components, inner_folds
        self.inner_cv = _inner_cv_choice("PLSBackend", inner_cv)

    def _largest(self, splits: list[tuple[np.ndarray, np.ndarray]]) -> int:
        """Most components the inner CV tries: ``max_components``, below the smallest inner training set."""
        return min(self.max_components, min(len(train) for train, _ in splits) - 1)

    def _model(self, train_regions: tuple[str, ...], seed: int):
        pipe = Pipeline([("scale", StandardScaler()), ("pls", PLSRegression(n_components=max(self.components, 1),
                                                                             scale=False))])
        if self.components:
            return pipe
        splits = self._inner_splits(train_regions, seed)
        grid = {"pls__n_components": list(range(1, self._largest(splits) + 1))}
        return GridSearchCV(pipe, grid, cv=splits, scoring="neg_mean_squared_error")

    def _latent(self, model: Pipeline, x: np.ndarray) -> np.ndarray:
        return np.asarray(model[:-1].transform(x) @ model[-1].x_rotations_)

    def _fit_group(self, x: np.ndarray, mask: np.ndarray, y: np.ndarray, seed: int,
                   regions: tuple[str, ...]) -> list[FitResult]:
        """The pipeline (or its GridSearchCV over k, neg. MSE, scaler refitted per inner fold) for T maps."""
        x_fit, n = x[mask], int(mask.sum())
        if self.components > min(x.shape[1], n):
            raise NotBatchable("more PLS components than the data's rank bound")  # the loop raises sklearn's error
        ks = np.full(y.shape[1], self.components)
        if not self.components:
            splits = self._inner_splits(_named(regions, mask), seed)
            largest = self._largest(splits)
            ks = 1 + cf.chosen(x_fit, y, splits,
                               lambda a, b, c: _pls_path(a, b, c, largest), cf.neg_mse)
        z_fit, z = cf.standardised(x_fit, x)
        fit = cf.pls1(z_fit, y, int(ks.max()))
        out: dict[int, FitResult] = {}
        for k in np.unique(ks):  # the first k components of the longest fit are the k-component fit
            pred, latent = fit.predict(z, k), z @ fit.rotations(k)
            info = {} if self.components else {"pls__n_components": int(k)}
            out.update({t: FitResult(prediction=pred[:, t], latent=latent[t], info=dict(info)) for t in np.flatnonzero(ks == k)})
        return [out[t] for t in range(len(ks))]


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

    def _model(self, train_regions: tuple[str, ...], seed: int) -> Pipeline:
        n_train = len(train_regions)
        return make_pipeline(StandardScaler(), PCA(n_components=min(self.components, n_train - 1), svd_solver="full"), LinearRegression())

    def _latent(self, model: Pipeline, x: np.ndarray) -> np.ndarray:
        return np.asarray(model[:-1].transform(x))

    def _fit_group(self, x: np.ndarray, mask: np.ndarray, y: np.ndarray, seed: int,
                   regions: tuple[str, ...]) -> list[FitResult]:
        """The pipeline fitted once with T target columns: the components ignore the target (see base)."""
        model = self._model(_named(regions, mask), seed).fit(x[mask], y)
        pred, latent = model.predict(x), self._latent(model, x)
        return [FitResult(prediction=pred[:, t], latent=latent.copy()) for t in range(y.shape[1])]


def _named(regions: Sequence[str], mask: np.ndarray) -> tuple[str, ...]:
    """The names of the regions where ``mask`` (R,) is True, in data order."""
    return tuple(r for r, m in zip(regions, mask, strict=True) if m)


INNER_CV = ("regions", "homologues")


def _inner_cv_choice(owner: str, value: str) -> str:
    if value not in INNER_CV:
        raise ValueError(f"{owner}: inner_cv={value!r}; expected one of {INNER_CV}")
    return value


def _pls_path(x_fit: np.ndarray, y_fit: np.ndarray, x_new: np.ndarray, largest: int) -> np.ndarray:
    """(largest, m, T) predictions at ``x_new`` of the scaler + PLS pipeline with 1..``largest`` components."""
    z_fit, z_new = cf.standardised(x_fit, x_new)
    fit = cf.pls1(z_fit, y_fit, largest)
    return np.stack([fit.predict(z_new, k) for k in range(1, largest + 1)])
