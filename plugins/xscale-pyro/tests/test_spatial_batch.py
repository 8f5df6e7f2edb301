"""The batched spatial-only GP (``SpatialGPBackend.fit_batch``) equals the loop over ``fit``.

Real data: spin-test surrogates (Vasa) of the embedded schizophrenia map and its spatially
blocked CV folds, whose training sets differ in size (50-58 of 68 regions), in one batch.

Tolerances. The loop and the batch do the same float64 arithmetic in a different order
(batched Cholesky, sums over padded rows), so gradients differ by ~1e-16 relative. The
lengthscale and variance are float32 (pyro samples their initial values from float32
hyperpriors and Adam updates them in float32), so now and then such a difference flips the
last bit of one Adam update: measured over 60 jobs x 500 steps the hyperparameters differ by
at most ~1e-7 relative (1-2 float32 units) and predictions by ~1e-8 (Cohen's d units), most
jobs not at all. We allow 1e-5 relative on hyperparameters and 1e-6 absolute on predictions
and intervals (about 1e-5 of the maps' SD); fitting the hyperprior in unconstrained space (a
Jacobian term too many) moves them by orders of magnitude more, as the last test checks.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from xscale.evaluate.cv import scheme_for
from xscale.evaluate.nulls import null_maps
from xscale.fitting import fit_many, fit_model
from xscale.interfaces import ModelSpec
from xscale.testing import real_data
from xscale_pyro import spatial_batch

STEPS = 150  # enough for the hyperparameters to move far from their initial values
HYPER_RTOL, PRED_ATOL, LOSS_RTOL = 1e-5, 1e-6, 1e-5


def _spec(kernel: str, steps: int = STEPS) -> ModelSpec:
    return ModelSpec(encoder=None, prior=None, decoder=None, backend="spatial-gp",
                     backend_params={"kernel": kernel, "steps": steps})


@pytest.fixture(scope="module")
def jobs():
    """Five (data, train mask) jobs: two spin surrogates x blocked folds of different sizes."""
    data = real_data()
    sch = scheme_for(data, "blocked", 5, 0)
    dist = np.linalg.norm(data.centroids.numpy()[:, None] - data.centroids.numpy()[None], axis=-1)
    maps = null_maps(data.target.numpy(), data.regions, dist, "spin-vasa", 2, seed=0)
    per_map = [replace(data, target=torch.as_tensor(m, dtype=torch.float32)) for m in maps]
    pairs = [(d, split.train & d.target_mask) for d in per_map for split in sch.splits]
    chosen = [pairs[i] for i in (0, 1, 2, 3, 9)]
    assert len({int(m.sum()) for _, m in chosen}) >= 3, "the batch should mix training-set sizes"
    return [d for d, _ in chosen], [m for _, m in chosen]


def _loop(datas, masks, spec, seeds):
    return [fit_model(d, spec, m, s) for d, m, s in zip(datas, masks, seeds)]


def _assert_same(batched, loop) -> None:
    for b, (x, y) in enumerate(zip(batched, loop, strict=True)):
        for key in ("lengthscale", "variance", "sigma"):
            assert x.info[key] == pytest.approx(y.info[key], rel=HYPER_RTOL), (b, key)
        for key in ("prediction", "prediction_scale", "interval_95"):
            np.testing.assert_allclose(getattr(x, key), getattr(y, key), rtol=0, atol=PRED_ATOL, err_msg=f"job {b} {key}")
        np.testing.assert_allclose(x.history["loss"], y.history["loss"], rtol=LOSS_RTOL, err_msg=f"job {b} loss")
        assert x.info["lengthscale_units"] == "mm" and x.latent.shape == (len(x.prediction), 0)


@pytest.fixture(scope="module")
def matern_loop(jobs):
    datas, masks = jobs
    return _loop(datas, masks, _spec("matern52"), [0, 1, 2, 3, 4])


def test_batched_equals_loop_matern52(jobs, matern_loop):
    datas, masks = jobs
    batched = fit_many(datas, _spec("matern52"), masks, [0, 1, 2, 3, 4])
    _assert_same(batched, matern_loop)


def test_batched_equals_loop_rbf(jobs):
    datas, masks = jobs
    spec = _spec("rbf")
    batched = fit_many(datas[:3], spec, masks[:3], 7)
    _assert_same(batched, _loop(datas[:3], masks[:3], spec, [7, 7, 7]))
    # one seed, so one starting point: the data moved each job's lengthscale somewhere else
    assert len({round(r.info["lengthscale"], 3) for r in batched}) == 3


def test_batch_of_one(jobs, matern_loop):
    datas, masks = jobs
    _assert_same(fit_many(datas[3:4], _spec("matern52"), masks[3:4], [3]), matern_loop[3:4])


def test_each_job_predicts_at_its_own_centroids(jobs):
    datas, masks = jobs
    moved = replace(datas[1], centroids=datas[1].centroids + 1.0)
    spec = _spec("matern52", steps=5)
    _assert_same(fit_many([datas[0], moved], spec, masks[:2], 0), _loop([datas[0], moved], masks[:2], spec, [0, 0]))


def test_a_wrong_prior_term_is_caught(jobs, matern_loop, monkeypatch):
    """Adding the log-Jacobian (MAP in log space, not pyro's) must fail the comparison."""
    right = spatial_batch._Batch.loss
    monkeypatch.setattr(spatial_batch._Batch, "loss", lambda self: right(self) - sum(self.unconstrained))
    datas, masks = jobs
    with pytest.raises(AssertionError):
        _assert_same(fit_many(datas, _spec("matern52"), masks, [0, 1, 2, 3, 4]), matern_loop)


def test_bad_inputs_are_refused(jobs):
    from xscale_pyro.spatial import build_spatial_gp

    datas, masks = jobs
    X = datas[0].centroids.double()
    with pytest.raises(ValueError, match="no models"):
        spatial_batch.fit_gp_batch([], X, 1, 0.02)
    two_maps = build_spatial_gp(torch.zeros(2, int(masks[0].sum())), X[torch.as_tensor(masks[0])])
    with pytest.raises(ValueError, match=r"job 0 must be one map \(y of shape \(1, N\)\) on inputs \(N, 3\); got y \(2, 50\)"):
        spatial_batch.fit_gp_batch([two_maps], X, 1, 0.02)
