"""Cross-validation schemes over cortical regions.

Neighbouring regions have similar values (spatial autocorrelation), and a region's
other-hemisphere homologue is its closest twin. A fold that tests a region while training on
its neighbours or its mirror image measures interpolation, not prediction. Every scheme here
therefore keeps homologues together, except hemisphere transfer, which by design trains on one
hemisphere's homologues of the other's test regions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xscale.data.atlas import homologue_index, lobe_of


def homologue_pairs(regions: tuple[str, ...]) -> list[list[int]]:
    """Groups of region indices that must share a fold: ``[L_x, R_x]``, or a singleton.

    Returns
    -------
    list of list of int
        In order of first appearance.
    """
    hom = homologue_index(regions)
    groups, seen = [], set()
    for i in range(len(regions)):
        if i in seen:
            continue
        g = [i] if hom[i] < 0 else sorted({i, int(hom[i])})
        seen.update(g)
        groups.append(g)
    return groups


def blocked_kfold(regions: tuple[str, ...], centroids: np.ndarray, edges: np.ndarray,
                  k: int = 5, seed: int = 0) -> list[np.ndarray]:
    """Spatially blocked k-fold: contiguous blocks of cortex, homologues in the same fold.

    Homologue pairs are placed on one mirrored hemisphere (``|x|``, mean of the pair's
    centroids) and joined where either hemisphere's regions touch. ``k`` seeds are spread by
    farthest-point sampling (the first drawn with ``seed``); blocks then grow in turn, each
    taking the unassigned pair adjacent to it that lies nearest its seed (smallest block
    first), so every block is a connected patch of cortex. Sizes are balanced as far as
    contiguity allows (e.g. 18/16/12/10/12 regions for k = 5, seed 0). Measured over seeds
    0-199 on the DK atlas, the largest fold holds at most 2.25 times as many regions as the
    smallest for k = 5 (median 1.33), and 2.5 times for k = 10 (median 2.0).

    Parameters
    ----------
    regions : tuple of str, length R
    centroids : (R, 3) ndarray, mm
    edges : (E_u, 2) int ndarray
        Undirected adjacency between regions.
    k : int
        Number of folds, 2 <= k <= number of homologue pairs.
    seed : int

    Returns
    -------
    list of (n_test,) int ndarray
        Test-region indices of each fold; together a partition of ``range(R)``.

    Raises
    ------
    ValueError
        On an impossible ``k`` or mismatched shapes.
    """
    groups = homologue_pairs(regions)
    n = len(groups)
    if not 2 <= k <= n:
        raise ValueError(f"blocked_kfold: k={k}; expected 2 <= k <= {n} (homologue pairs)")
    c = np.asarray(centroids, dtype=float)
    if c.shape != (len(regions), 3):
        raise ValueError(f"blocked_kfold: centroids shape {c.shape}, expected ({len(regions)}, 3)")
    mirrored = np.abs(c) * [1, 0, 0] + c * [0, 1, 1]
    gc = np.array([mirrored[g].mean(axis=0) for g in groups])
    group_of = np.empty(len(regions), dtype=int)
    for gi, g in enumerate(groups):
        group_of[g] = gi
    adj = np.zeros((n, n), dtype=bool)
    for i, j in np.asarray(edges, dtype=int).reshape(-1, 2):
        a, b = group_of[i], group_of[j]
        adj[a, b] = adj[b, a] = a != b
    dist = np.linalg.norm(gc[:, None] - gc[None], axis=-1)

    rng = np.random.default_rng(seed)
    seeds = [int(rng.integers(n))]
    while len(seeds) < k:
        seeds.append(int(np.argmax(dist[:, seeds].min(axis=1))))
    label = -np.ones(n, dtype=int)
    label[seeds] = np.arange(k)
    while (label < 0).any():
        grew = False
        for b in np.argsort([np.sum(label == b) for b in range(k)], kind="stable"):
            frontier = np.flatnonzero((label < 0) & adj[label == b].any(axis=0))
            if frontier.size:
                label[frontier[np.argmin(dist[seeds[b], frontier])]] = b
                grew = True
        if not grew:  # an island with no path to any block: join the nearest seed
            rest = np.flatnonzero(label < 0)
            label[rest] = np.argmin(dist[np.ix_(rest, seeds)], axis=1)
    return [np.sort(np.concatenate([groups[g] for g in np.flatnonzero(label == b)])) for b in range(k)]


@dataclass(frozen=True)
class Split:
    """One train/test division of the regions.

    Attributes
    ----------
    name : str
        E.g. ``"fold 3"``, ``"L_insula"``, ``"temporal"``, ``"train L, test R"``.
    train : (R,) bool ndarray
    test : (n_test,) int ndarray
    """

    name: str
    train: np.ndarray
    test: np.ndarray


@dataclass(frozen=True)
class Scheme:
    """A cross-validation scheme's splits and how to score them.

    ``partition`` is True when no region is tested twice (out-of-fold predictions are pooled
    into one map and scored once; every region is tested except, under hemisphere transfer,
    those that share their homologue's expression); otherwise test sets overlap and each split
    is scored on its own (the median is reported).
    """

    name: str
    splits: list[Split]
    partition: bool


def _mask(R: int, exclude: np.ndarray) -> np.ndarray:
    m = np.ones(R, dtype=bool)
    m[exclude] = False
    return m


def _with_homologues(regions: tuple[str, ...], idx: np.ndarray) -> np.ndarray:
    hom = homologue_index(regions)
    return np.unique(np.concatenate([idx, hom[idx][hom[idx] >= 0]]))


def scheme(name: str, regions: tuple[str, ...], centroids: np.ndarray, edges: np.ndarray,
           folds: int = 5, seed: int = 0, train_fraction: float = 0.75,
           shared_with_homologue: np.ndarray | None = None) -> Scheme:
    """Build a named cross-validation scheme.

    Parameters
    ----------
    name : {'in-sample', 'blocked', 'loro', 'distance', 'lobe', 'hemisphere'}
        * ``in-sample``: train and test on every region (the paper's protocol; not a prediction).
        * ``blocked``: :func:`blocked_kfold` with ``folds`` contiguous blocks.
        * ``loro``: leave one region out, its other-hemisphere homologue removed from training.
        * ``distance``: distance-dependent CV (Hansen et al. 2021, Nat Hum Behav 5:800): for each
          homologue pair as seed, train on the ``train_fraction`` of pairs nearest to it (mirrored
          centroids, mm) and test on the rest; one split per seed pair. Adapted: Hansen et al.
          seed with every region and average over splits; here the seeds are homologue pairs
          (homologues stay together), and the score is the median over splits, each split's R^2
          taken against its own test regions' mean (which also penalises the shift in mean
          between near and far cortex).
        * ``lobe``: leave one lobe out, both hemispheres (Desikan et al. 2006 lobes).
        * ``hemisphere``: train on the left hemisphere and test on the right, and back. The one
          scheme that cannot keep homologues apart from each other's folds: a test region is
          predicted by a model trained on its homologue. Regions flagged in
          ``shared_with_homologue`` are not tested: with the default AHBA data the right frontal
          and temporal poles carry their left homologues' expression (``copy-homologue``), so a
          model trained on one of the pair would be tested on the very expression row it was
          fitted to, with the homologue's target as the answer.
    regions : tuple of str, length R
    centroids : (R, 3) ndarray, mm
    edges : (E_u, 2) int ndarray
    folds, seed : int
        For ``blocked``.
    train_fraction : float
        For ``distance``.
    shared_with_homologue : (R,) bool ndarray, optional
        Regions whose expression is their homologue's (both of each such pair); for ``hemisphere``.

    Returns
    -------
    Scheme

    Raises
    ------
    ValueError
        On an unknown name or impossible parameters, or (``hemisphere``) when fewer than 3 regions
        of a hemisphere can be tested.
    """
    R = len(regions)
    idx = np.arange(R)
    if name == "in-sample":
        return Scheme(name, [Split("all regions", np.ones(R, dtype=bool), idx)], True)
    if name == "blocked":
        blocks = blocked_kfold(regions, centroids, edges, folds, seed)
        return Scheme(name, [Split(f"fold {i}", _mask(R, b), b) for i, b in enumerate(blocks)], True)
    if name == "loro":
        return Scheme(name, [Split(regions[i], _mask(R, _with_homologues(regions, np.array([i]))), np.array([i]))
                             for i in idx], True)
    if name == "distance":
        if not 0 < train_fraction < 1:
            raise ValueError(f"train_fraction={train_fraction}; expected 0 < f < 1")
        groups = homologue_pairs(regions)
        c = np.asarray(centroids, dtype=float)
        gc = np.array([(np.abs(c[g]) * [1, 0, 0] + c[g] * [0, 1, 1]).mean(axis=0) for g in groups])
        n_train = int(round(train_fraction * len(groups)))
        if not 1 <= n_train < len(groups):
            raise ValueError(f"distance CV: train_fraction={train_fraction} trains on {n_train} of {len(groups)} "
                             f"homologue pairs; expected at least 1 and fewer than {len(groups)}")
        splits = []
        for s, g in enumerate(groups):
            order = np.argsort(np.linalg.norm(gc - gc[s], axis=1), kind="stable")
            test = np.sort(np.concatenate([groups[j] for j in order[n_train:]]))
            splits.append(Split(f"seed {regions[g[0]]}", _mask(R, test), test))
        return Scheme(name, splits, False)
    if name == "lobe":
        lobes = lobe_of(regions)
        return Scheme(name, [Split(lobe, lobes != lobe, np.flatnonzero(lobes == lobe)) for lobe in dict.fromkeys(lobes)],
                      True)
    if name == "hemisphere":
        hemi = np.array([r[0] for r in regions])
        testable = np.ones(R, dtype=bool) if shared_with_homologue is None else ~np.asarray(shared_with_homologue, bool)
        splits = [Split("train L, test R", hemi == "L", np.flatnonzero((hemi == "R") & testable)),
                  Split("train R, test L", hemi == "R", np.flatnonzero((hemi == "L") & testable))]
        if any(sp.test.size < 3 for sp in splits):
            raise ValueError(f"hemisphere transfer: {int((~testable).sum())} of {R} regions share their homologue's "
                             "expression (copied rows), leaving fewer than 3 regions to test in a hemisphere")
        return Scheme(name, splits, True)
    raise ValueError(f"unknown CV scheme {name!r}; expected one of {SCHEMES}")


SCHEMES = ("in-sample", "blocked", "loro", "distance", "lobe", "hemisphere")
