"""Spatially blocked k-fold: a partition into contiguous blocks, homologues together."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from xscale.data.atlas import load_atlas
from xscale.evaluate.splits import blocked_kfold, homologue_pairs

ATLAS = load_atlas()


def test_homologue_pairs_cover_all_regions():
    pairs = homologue_pairs(ATLAS.regions)
    assert len(pairs) == 34 and all(len(p) == 2 for p in pairs)
    assert sorted(i for p in pairs for i in p) == list(range(68))


@settings(max_examples=25, deadline=None)
@given(k=st.integers(2, 10), seed=st.integers(0, 10_000))
def test_blocked_folds_partition_keep_homologues_and_are_contiguous(k, seed):
    folds = blocked_kfold(ATLAS.regions, ATLAS.centroids, ATLAS.edges, k, seed)
    assert len(folds) == k
    allidx = np.concatenate(folds)
    assert sorted(allidx.tolist()) == list(range(68))
    hom = ATLAS.homologues
    for f in folds:
        assert set(hom[f]) == set(f), "a region's homologue must be tested with it"
        left = f[f < 34]
        sub = ATLAS.edges[np.isin(ATLAS.edges, left).all(axis=1)]
        pos = {r: i for i, r in enumerate(left)}
        rows = [pos[a] for a in sub[:, 0]]
        cols = [pos[b] for b in sub[:, 1]]
        adj = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(left), len(left)))
        # contiguity on the mirrored hemisphere: the left halves touch through left or right edges
        right_sub = ATLAS.edges[np.isin(ATLAS.edges, hom[left]).all(axis=1)]
        rows += [pos[hom[a]] for a in right_sub[:, 0]]
        cols += [pos[hom[b]] for b in right_sub[:, 1]]
        adj = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(left), len(left)))
        assert connected_components(adj, directed=False)[0] == 1, "each block must be one patch of cortex"


def test_fold_sizes_are_roughly_balanced_and_seeded():
    a = blocked_kfold(ATLAS.regions, ATLAS.centroids, ATLAS.edges, 5, 1)
    b = blocked_kfold(ATLAS.regions, ATLAS.centroids, ATLAS.edges, 5, 1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    sizes = [len(f) for f in a]
    assert max(sizes) <= 2 * min(sizes)


def test_impossible_k_is_rejected():
    with pytest.raises(ValueError, match="2 <= k <= 34"):
        blocked_kfold(ATLAS.regions, ATLAS.centroids, ATLAS.edges, 35)
    with pytest.raises(ValueError, match="centroids shape"):
        blocked_kfold(ATLAS.regions, ATLAS.centroids[:3], ATLAS.edges, 5)
