"""Cross-validation schemes over cortical regions.

Neighbouring regions have similar values (spatial autocorrelation), and a region's
other-hemisphere homologue is its closest twin. A fold that tests a region while training on
its neighbours or its mirror image measures interpolation, not prediction. Every scheme here
therefore keeps homologues together.
"""

from __future__ import annotations

import numpy as np

from xscale.data.atlas import homologue_index


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
    contiguity allows (e.g. 18/16/12/10/12 regions for k = 5, seed 0), never more than 2:1.

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
