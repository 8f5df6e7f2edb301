"""Batched SVI refits of the GP latent model (xscale_pyro.svi_batched) against Pyro's own loop.

What must agree, and how closely: the batched path re-implements Pyro's Trace_ELBO for this
model in plain torch and continues each fit's own RNG stream, so step by step it computes the
same float64 numbers up to summation order (about 1e-16 relative per operation). Over 30 steps
the ELBO curves, predictions, intervals and hyperparameters agree to 1e-9 (measured: 1e-15 for
predictions, 6e-16 relative for the ELBO). Any wrong term (a missing Jacobian, a wrong prior, a
misplaced noise draw) changes the very first batched step by orders of magnitude more.

Longer runs are chaotic, for Pyro as much as for the batched path: Adam divides noisy gradients
by their own running scale, so a 1e-16 difference grows to about 1e-5 of the ELBO after 300
steps; at the default 1,500 steps the two trajectories jitter independently around the same
optimum (measured on 8 refits: predictions differ by at most 1.1e-3 Cohen's d, 1-2 % of their
posterior SD). ``benchmarks/bench_svi_batched.py`` measures that drift beside the drift of Pyro's
loop itself when the target is moved by one float32 ulp.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from xscale import testing
from xscale.evaluate.cv import scheme_for
from xscale.evaluate.genesets import gene_universe
from xscale.fitting import fit_many, fit_model
from xscale.interfaces import ModelSpec

TOL = 1e-9  # see the module docstring
SPEC = ModelSpec(prior="gp", decoder="linear", backend="svi", encoder_params={"latent_dim": 4},
                 backend_params={"steps": 30, "num_samples": 100})


def _spec(**backend):
    return replace(SPEC, backend_params={**SPEC.backend_params, **backend})


@pytest.fixture(scope="module")
def jobs():
    """The real map and one spatially permuted map x two blocked folds of different sizes."""
    data = testing.real_data()
    sch = scheme_for(data, "blocked", 5, 0)
    folds = sorted(sch.splits, key=lambda s: s.train.sum())
    assert folds[0].train.sum() != folds[-1].train.sum()
    perm = torch.as_tensor(np.random.default_rng(1).permutation(data.target.numpy()))
    datas = [replace(data, target=m) for m in (data.target, perm) for _ in range(2)]
    masks = [f.train for _ in range(2) for f in (folds[0], folds[-1])]
    return datas, masks


def _same(loop, batched):
    for a, b in zip(loop, batched, strict=True):
        np.testing.assert_allclose(b.prediction, a.prediction, rtol=0, atol=TOL)
        np.testing.assert_allclose(b.prediction_scale, a.prediction_scale, rtol=0, atol=TOL)
        np.testing.assert_allclose(b.interval_95, a.interval_95, rtol=0, atol=TOL)
        np.testing.assert_allclose(b.latent, a.latent, rtol=0, atol=TOL)
        np.testing.assert_allclose(b.history["elbo_loss"], a.history["elbo_loss"], rtol=TOL)
        for k in ("lengthscale", "variance", "sigma"):
            assert b.info[k] == pytest.approx(a.info[k], rel=TOL)


@pytest.mark.parametrize("weight", [1.0, 0.0])
def test_batched_equals_pyro_loop(jobs, weight):
    datas, masks = jobs
    spec = _spec(expression_weight=weight)
    seeds = [0, 1, 0, 2]
    loop = [fit_model(d, spec, m, s) for d, m, s in zip(datas, masks, seeds)]
    _same(loop, fit_many(datas, spec, masks, seeds))
    _same(loop[:1], fit_many(datas[:1], spec, masks[:1], seeds[:1]))  # a batch of one


def test_batched_with_one_expression_matrix_per_fit(jobs):
    """The gene-set null: each fit sees another random landmark-sized gene set, real target."""
    datas, masks = jobs
    data = datas[0]
    universe = gene_universe(data.regions, "copy-homologue", "region")  # the defaults of load_brain_data
    per_set = universe.data_for(data, universe.draw(data.n_genes, 2, seed=3))
    assert not torch.equal(per_set[0].expression, per_set[1].expression)
    spec = _spec(steps=20)
    loop = [fit_model(d, spec, masks[0], 0) for d in per_set]
    _same(loop, fit_many(per_set, spec, [masks[0]] * 2, 0))


@pytest.mark.parametrize("params", [{"guide": "autonormal"}, {"prior": {"kernel": "diffusion"}}])
def test_other_guides_and_kernels_fall_back_to_the_loop(jobs, params):
    datas, masks = jobs
    spec = _spec(steps=10, **{k: v for k, v in params.items() if k != "prior"})
    if "prior" in params:
        spec = replace(spec, prior_params=params["prior"])
    loop = [fit_model(d, spec, m, 0) for d, m in zip(datas[:2], masks[:2])]
    for a, b in zip(loop, fit_many(datas[:2], spec, masks[:2], 0)):
        np.testing.assert_array_equal(a.prediction, b.prediction)


def test_the_batched_path_runs_and_a_wrong_term_is_caught(jobs, monkeypatch):
    """The comparisons above compare the batch with the loop only if the batch ran; and dropping
    one term of the ELBO (the log-Jacobians of the positive sites) must break them."""
    import xscale_pyro.svi_batched as sb

    datas, masks = jobs
    spec = _spec(steps=10)
    loop = [fit_model(d, spec, m, 0) for d, m in zip(datas[:2], masks[:2])]
    calls = []
    real = sb.fit_batched
    monkeypatch.setattr(sb, "fit_batched", lambda *a: calls.append(1) or real(*a))
    _same(loop, fit_many(datas[:2], spec, masks[:2], 0))
    assert calls == [1]
    real_biject_to = sb.biject_to
    monkeypatch.setattr(sb, "biject_to", lambda constraint: _DropJacobian(real_biject_to(constraint)))
    with pytest.raises(AssertionError):
        _same(loop, fit_many(datas[:2], spec, masks[:2], 0))


class _DropJacobian:
    """A transform to a site's support whose log-Jacobian is left out."""

    def __init__(self, transform):
        self.transform, self.inv = transform, self

    def __call__(self, x):
        return self.transform(x)

    def log_abs_det_jacobian(self, y, x):
        return torch.zeros_like(y)


def test_fits_on_other_centroids_fall_back_to_the_loop(jobs):
    datas, masks = jobs
    moved = [datas[0], replace(datas[1], centroids=datas[1].centroids * 1.5)]
    spec = _spec(steps=10)
    loop = [fit_model(d, spec, m, 0) for d, m in zip(moved, masks[:2])]
    for a, b in zip(loop, fit_many(moved, spec, masks[:2], 0)):
        np.testing.assert_array_equal(a.prediction, b.prediction)
