"""Every CV scheme keeps held-out regions (and their homologues, where promised) out of training."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from xscale import testing
from xscale.data.atlas import LOBES, load_atlas, lobe_of
from xscale.evaluate.cv import scheme_for, shared_with_homologue
from xscale.evaluate.splits import SCHEMES, scheme

A = load_atlas()


def _scheme(name, **kw):
    return scheme(name, A.regions, A.centroids, A.edges, **kw)


@pytest.mark.parametrize("name", [s for s in SCHEMES if s != "in-sample"])
def test_test_regions_never_train(name):
    for split in _scheme(name).splits:
        assert not split.train[split.test].any(), (name, split.name)


@pytest.mark.parametrize("name", ["blocked", "loro", "distance", "lobe"])
def test_homologues_of_test_regions_never_train(name):
    hom = A.homologues
    for split in _scheme(name).splits:
        assert not split.train[hom[split.test]].any(), (name, split.name)


@pytest.mark.parametrize("name, n_splits", [("in-sample", 1), ("blocked", 5), ("loro", 68), ("distance", 34),
                                            ("lobe", 6), ("hemisphere", 2)])
def test_partitions_and_sizes(name, n_splits):
    sch = _scheme(name)
    assert len(sch.splits) == n_splits
    tested = np.concatenate([s.test for s in sch.splits])
    if sch.partition:
        assert sorted(tested.tolist()) == list(range(68))
    else:
        assert all(s.train.sum() == 52 and len(s.test) == 16 for s in sch.splits)  # 26 / 8 homologue pairs


def test_loro_trains_on_66_regions():
    assert all(s.train.sum() == 66 and len(s.test) == 1 for s in _scheme("loro").splits)


def test_distance_scheme_trains_on_the_nearest_regions():
    for split in _scheme("distance").splits[:5]:
        seed = A.regions.index(split.name.removeprefix("seed "))
        d = A.distances[seed]
        assert d[split.train & (np.arange(68) < 34)].max() <= d[split.test[split.test < 34]].min() + 1e-9


def test_lobes_and_hemisphere_transfer():
    assert len(LOBES) == 34 and set(LOBES.values()) == {"frontal", "parietal", "temporal", "occipital",
                                                        "cingulate", "insula"}
    assert lobe_of(["L_insula", "R_precuneus"]).tolist() == ["insula", "parietal"]
    h = _scheme("hemisphere").splits
    assert h[0].train[:34].all() and not h[0].train[34:].any() and h[0].test.min() == 34


def test_hemisphere_transfer_does_not_test_regions_that_carry_their_homologues_expression():
    """With the default AHBA data (copy-homologue) the frontal and temporal poles share one row per
    pair: a model trained on one hemisphere would be tested on the row it was fitted to."""
    data = testing.real_data()
    shared = shared_with_homologue(data)
    assert {data.regions[i] for i in np.flatnonzero(shared)} == {"L_frontalpole", "R_frontalpole",
                                                                 "L_temporalpole", "R_temporalpole"}
    tested = np.concatenate([s.test for s in scheme_for(data, "hemisphere").splits])
    assert sorted(tested.tolist()) == np.flatnonzero(~shared).tolist()
    blocked = np.concatenate([s.test for s in scheme_for(data, "blocked").splits])
    assert sorted(blocked.tolist()) == list(range(68)), "only hemisphere transfer leaves them out"
    x = data.expression.clone()
    x[data.regions.index("R_frontalpole"), 0] += 1e-6  # measured rows never repeat exactly
    assert shared_with_homologue(replace(data, expression=x)).sum() == 2
    flat = replace(data, expression=torch.ones_like(data.expression))  # every row alike: nothing to test
    with pytest.raises(ValueError, match="68 of 68 regions share their homologue's expression"):
        scheme_for(flat, "hemisphere")


def test_unknown_scheme():
    with pytest.raises(ValueError, match="unknown CV scheme 'kfold'"):
        _scheme("kfold")


@pytest.mark.parametrize("fraction", [0.001, 0.999])
def test_distance_scheme_rejects_a_train_fraction_leaving_no_train_or_no_test_pairs(fraction):
    with pytest.raises(ValueError, match="train_fraction"):
        _scheme("distance", train_fraction=fraction)
