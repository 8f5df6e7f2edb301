"""Alzheimer's disease cortical thinning map from an ADNI cohort: per DK region, NC minus AD.

For each of the 68 regions, baseline cortical thickness (mm) of the subjects with a value is
regressed on group (AD = 1, CN = 0) and the configured covariates (age in years and sex, and
intracranial volume in litres when asked), centred on the cohort means::

    thickness = b0 + b_AD * AD + b_age * age + b_sex * male [+ b_icv * icv] + error

The thinning is ``-b_AD`` (mm; positive = thinner in AD). Cohort imbalance (the paper: NC 926,
AD 426) is handled as configured (``map.balance``):

* ``inverse-frequency``: weighted least squares with weights ``n / (2 n_group)``, so each group
  has the same total weight in the covariate slopes; t and p from the weighted fit;
* ``resample``: the estimate is the mean over ``map.resamples`` balanced subsamples (the larger
  group drawn without replacement down to the smaller one's size, seeded); t and p come from the
  ordinary least-squares fit on all subjects (imbalance does not bias that test);
* ``none``: ordinary least squares.

Cohen's d is the thinning divided by the pooled within-group SD of thickness. p-values are
two-sided t tests (df = n - number of coefficients), FDR by Benjamini-Hochberg
(:func:`scipy.stats.false_discovery_control`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from xscale.data.adni_cohort import Cohort
from xscale.data.atlas import load_atlas
from xscale.data.manifest import sha256_bytes
from xscale.data.targets import TargetMap

SYNTHETIC_LABEL = "SYNTHETIC (xscale.data.synthetic; not ADNI data)"


@dataclass(frozen=True)
class ThinningMap:
    """The AD thinning map and its per-region statistics.

    Attributes
    ----------
    table : DataFrame, 68 rows in DK order
        ``region``, ``adni_column``, ``st_code``, ``n_cn``, ``n_ad``, ``mean_cn_mm``, ``sd_cn_mm``,
        ``mean_ad_mm``, ``sd_ad_mm``, ``thinning_mm`` (NC minus AD, adjusted), ``se_mm``, ``t``,
        ``df``, ``p``, ``p_fdr``, ``cohens_d``, ``dataset`` ('ADNI' or the SYNTHETIC label).
    target : {'thinning_mm', 'cohens_d'}
        The column models fit.
    method : dict
        Covariates, balance, resamples, seed, and a one-line description.
    synthetic : bool
    """

    table: pd.DataFrame
    target: str
    method: dict
    synthetic: bool

    @property
    def values(self) -> np.ndarray:
        """(68,) ndarray: the target column (mm or Cohen's d), positive = thinner in AD."""
        return self.table[self.target].to_numpy(dtype=float)

    @property
    def name(self) -> str:
        """Target name used in run directories, ``adni:ad_thinning_mm`` (``adni:SYNTHETIC_...`` if synthetic)."""
        return f"adni:{'SYNTHETIC_' if self.synthetic else ''}ad_{self.target}"

    def region_value_csv(self) -> str:
        """``region,value`` CSV text, readable by ``xscale fit --target`` / ``xscale evaluate --target``."""
        return pd.DataFrame({"region": self.table["region"], "value": self.values}).to_csv(index=False,
                                                                                           float_format="%.10g")

    def target_map(self) -> TargetMap:
        """The map as a :class:`~xscale.data.targets.TargetMap` on the 68 DK regions (for ``load_brain_data``)."""
        source = f"{SYNTHETIC_LABEL + ' ' if self.synthetic else ''}ADNI cohort thinning map ({self.target})"
        return TargetMap(self.name, self.values, source, sha256_bytes(self.region_value_csv().encode()),
                         regions=tuple(self.table["region"]))


def _design(sub: pd.DataFrame, covariates: list[str]) -> np.ndarray:
    cols = [np.ones(len(sub)), (sub["group"] == "AD").to_numpy(dtype=float)]
    scale = {"age": 1.0, "sex": 1.0, "icv": 1e-6}  # icv in litres
    for c in covariates:
        x = sub[c].to_numpy(dtype=float) * scale[c]
        cols.append(x - x.mean())
    return np.column_stack(cols)


def _wls(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float, int]:
    """Coefficient of AD, its standard error, and residual df, by weighted least squares."""
    sw = np.sqrt(w)
    beta, *_ = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)
    resid = y - X @ beta
    df = len(y) - X.shape[1]
    sigma2 = float(np.sum(w * resid**2) / df)
    cov = sigma2 * np.linalg.inv((X * w[:, None]).T @ X)
    return float(beta[1]), float(np.sqrt(cov[1, 1])), df


def _balanced_mean(X: np.ndarray, y: np.ndarray, ad: np.ndarray, rng: np.random.Generator, draws: int) -> float:
    cn_idx, ad_idx = np.flatnonzero(~ad), np.flatnonzero(ad)
    m = min(len(cn_idx), len(ad_idx))
    est = []
    for _ in range(draws):
        idx = np.concatenate([rng.choice(cn_idx, m, replace=False), rng.choice(ad_idx, m, replace=False)])
        est.append(_wls(X[idx], y[idx], np.ones(len(idx)))[0])
    return float(np.mean(est))


def thinning_map(cohort: Cohort, cfg: dict[str, Any]) -> ThinningMap:
    """Per-region covariate-adjusted NC minus AD thickness difference (mm), Cohen's d, t, p, FDR.

    Parameters
    ----------
    cohort : Cohort
    cfg : dict
        The ADNI configuration (section ``map``: ``covariates``, ``balance``, ``resamples``,
        ``seed``, ``target``).

    Returns
    -------
    ThinningMap
        Same cohort, configuration and seed give identical numbers.
    """
    mc = cfg["map"]
    covariates = [c for c in ("age", "sex", "icv") if c in mc["covariates"]]
    rows = []
    for k, region in enumerate(load_atlas().regions):
        sub = cohort.subjects[cohort.subjects[region].notna()]
        y = sub[region].to_numpy(dtype=float)
        ad = (sub["group"] == "AD").to_numpy()
        X = _design(sub, covariates)
        n_cn, n_ad = int((~ad).sum()), int(ad.sum())
        if mc["balance"] == "inverse-frequency":
            w = np.where(ad, len(y) / (2 * n_ad), len(y) / (2 * n_cn))
        else:
            w = np.ones(len(y))
        b_ad, se, df = _wls(X, y, w)
        if mc["balance"] == "resample":
            b_ad = _balanced_mean(X, y, ad, np.random.default_rng([mc["seed"], k]), int(mc["resamples"]))
        t = -b_ad / se
        sd_cn, sd_ad = y[~ad].std(ddof=1), y[ad].std(ddof=1)
        pooled = np.sqrt(((n_cn - 1) * sd_cn**2 + (n_ad - 1) * sd_ad**2) / (n_cn + n_ad - 2))
        rows.append({"region": region, "adni_column": cohort.columns[region], "st_code": cohort.codes[region],
                     "n_cn": n_cn, "n_ad": n_ad, "mean_cn_mm": y[~ad].mean(), "sd_cn_mm": sd_cn,
                     "mean_ad_mm": y[ad].mean(), "sd_ad_mm": sd_ad, "thinning_mm": -b_ad, "se_mm": se, "t": t,
                     "df": df, "p": float(2 * stats.t.sf(abs(t), df)), "cohens_d": -b_ad / pooled})
    table = pd.DataFrame(rows)
    table.insert(table.columns.get_loc("cohens_d"), "p_fdr", stats.false_discovery_control(table["p"], method="bh"))
    synthetic = cohort.files.synthetic
    table["dataset"] = SYNTHETIC_LABEL if synthetic else "ADNI"
    method = {"covariates": covariates, "balance": mc["balance"], "seed": mc["seed"],
              "resamples": mc["resamples"] if mc["balance"] == "resample" else None,
              "description": "per region: thickness (mm) ~ AD + " + " + ".join(covariates or ["1"]) +
                             f"; thinning = -b_AD (NC minus AD, mm); balance: {mc['balance']}; "
                             "Cohen's d = thinning / pooled within-group SD; BH FDR over 68 regions"}
    return ThinningMap(table, mc["target"], method, synthetic)
