"""The baselines' batched null refits (closed forms, many maps at once) equal the loop over scikit-learn fits.

Tolerance: predictions and latents agree to 1e-9 of the largest |value| of the loop's result.
Both paths solve the same float64 problems; they differ only in summation order and in the
factorisation (ridge: one eigendecomposition of the centred Gram matrix for all penalties vs a
Cholesky solve per penalty; PLS: scores projected off earlier scores vs explicit deflation).
The rounding error of a ridge solve is at most about cond(K + alpha I) * eps, and on the real
data the Gram matrix's largest eigenvalue is 1.3e4 with alpha >= 0.1, so about 1.3e5 * 2.2e-16 =
3e-11; measured differences are ~5e-15. Chosen hyperparameters (ridge alpha, PLS k) must be
identical: a rule other than scikit-learn's (best mean inner-fold R^2, first on ties) picks
other alphas on these maps.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from xscale import config, testing
from xscale.data.atlas import load_atlas
from xscale.evaluate.cv import scheme_for
from xscale.evaluate.genesets import gene_universe
from xscale.evaluate.nulls import null_maps
from xscale.fitting import fit_many, fit_model
from xscale_baselines.linear import job_groups

RTOL = 1e-9


def _spec(preset, *sets):
    return config.model_spec(config.resolve(config.build(preset=preset, sets=list(sets))))


@pytest.fixture(scope="module")
def jobs():
    """One shuffled batch of (data, train mask, seed): 5 brainsmash surrogates of the schizophrenia map
    x 5 spatially blocked folds (shared expression), 2 random landmark-sized gene sets with the real map
    x 5 folds (own expression each), the real map on all regions, and one job under another seed."""
    data = testing.real_data()
    atlas = load_atlas()
    assert atlas.regions == data.regions
    sch = scheme_for(data, "blocked", 5, seed=0)
    maps = null_maps(data.target.numpy(), data.regions, atlas.distances, "brainsmash", 5, seed=0)
    surrogates = [replace(data, target=torch.as_tensor(m, dtype=torch.float32)) for m in maps]
    universe = gene_universe(data.regions, "copy-homologue", "region")
    gene_sets = universe.data_for(data, universe.draw(data.n_genes, 2, seed=0))
    out = [(d, split.train & d.target_mask, 0) for d in surrogates + gene_sets for split in sch.splits]
    out += [(data, data.target_mask, 0), (surrogates[0], sch.splits[0].train & data.target_mask, 1)]
    return [out[i] for i in np.random.default_rng(0).permutation(len(out))]


def _loop_and_batch(preset, jobs, *sets):
    spec = _spec(preset, *sets)
    loop = [fit_model(d, spec, m, seed=s) for d, m, s in jobs]
    batch = fit_many([j[0] for j in jobs], spec, [j[1] for j in jobs], [j[2] for j in jobs])
    return loop, batch


def _assert_same(loop, batch):
    assert len(loop) == len(batch)
    for i, (a, b) in enumerate(zip(loop, batch)):
        assert a.info == b.info, f"job {i}: chosen hyperparameters differ: loop {a.info}, batched {b.info}"
        assert b.latent.shape == a.latent.shape
        for name in ("prediction", "latent"):
            want, got = getattr(a, name), getattr(b, name)
            scale = np.abs(want).max(initial=0.0)
            np.testing.assert_allclose(got, want, rtol=0, atol=RTOL * scale, err_msg=f"job {i}: {name}")


def test_groups_share_expression_content_mask_and_seed(jobs):
    groups = job_groups([j[0] for j in jobs], [j[1] for j in jobs], [j[2] for j in jobs])
    assert sorted(i for g in groups for i in g) == list(range(len(jobs)))
    # 5 folds of the shared panel, 2 gene sets x 5 folds, the full mask, the other seed
    assert len(groups) == 5 + 10 + 1 + 1
    assert sorted(len(g) for g in groups)[-5:] == [5] * 5
    # equal content in another tensor object is the same group
    d, m, s = jobs[0]
    twin = replace(d, expression=d.expression.clone())
    assert len(job_groups([d, twin], [m, m], [s, s])) == 1


@pytest.mark.parametrize("preset, sets", [("ridge", ()), ("pls1", ()), ("pls", ()), ("pcr", ()),
                                         ("ridge", ("backend.inner_cv=homologues",)),
                                         ("pls", ("backend.inner_cv=homologues",))])
def test_batched_fits_equal_the_loop(preset, sets, jobs):
    loop, batch = _loop_and_batch(preset, jobs, *sets)
    _assert_same(loop, batch)
    if preset == "ridge":  # the rule is exercised: the maps need different penalties
        assert len({r.info["alpha"] for r in loop}) >= 3
    if preset == "pls":
        assert len({r.info["pls__n_components"] for r in loop}) >= 2


@pytest.mark.parametrize("preset", ["ridge", "pls1"])
def test_a_batch_of_one(preset, jobs):
    _assert_same(*_loop_and_batch(preset, jobs[:1]))


def test_ridge_with_too_few_regions_for_inner_r2_takes_the_first_alpha(jobs):
    """7 training regions: inner folds of one region have no R^2 (NaN), so every alpha ties and
    scikit-learn takes the first; the batched path must too."""
    data = testing.real_data()
    mask = np.zeros(data.n_regions, dtype=bool)
    mask[np.flatnonzero(data.target_mask)[::9][:7]] = True
    few = [(d, mask, 0) for d, _, _ in jobs[:3]]
    with pytest.warns(Warning):
        loop, batch = _loop_and_batch("ridge", few)
    _assert_same(loop, batch)
    assert {r.info["alpha"] for r in batch} == {config.resolve(config.build(preset="ridge"))["backend"]["alphas"][0]}
