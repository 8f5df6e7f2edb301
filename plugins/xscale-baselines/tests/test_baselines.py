"""Baselines honour the backend contract and fit the real map the way linear models should."""

from __future__ import annotations

import numpy as np
import pytest

from xscale import config, testing
from xscale.evaluate.cv import evaluate
from xscale.fitting import fit_model


def _spec(preset, **sets):
    return config.model_spec(config.resolve(config.build(preset=preset, sets=[f"{k}={v}" for k, v in sets.items()])))


@pytest.mark.parametrize("preset", ["ridge", "pls1", "pls", "pcr"])
def test_contract(preset):
    res = testing.check_backend(_spec(preset))
    assert res.interval_95 is None


def test_ridge_chooses_alpha_inside_the_training_regions():
    data = testing.real_data()
    res = fit_model(data, _spec("ridge"), data.target_mask, seed=0)
    alphas = config.resolve(config.build(preset="ridge"))["backend"]["alphas"]
    assert res.info["alpha"] in alphas and res.info["alpha"] not in (alphas[0], alphas[-1])


def test_pls_k_is_chosen_by_inner_cv_and_pls1_has_one_component():
    data = testing.real_data()
    k = fit_model(data, _spec("pls"), data.target_mask, seed=0)
    assert 1 <= k.info["pls__n_components"] <= 10
    one = fit_model(data, _spec("pls1"), data.target_mask, seed=0)
    assert one.latent.shape == (68, 1)


def test_more_components_fit_better_in_sample_not_always_out_of_sample():
    data = testing.real_data()
    few = evaluate(data, _spec("pcr", **{"backend.components": 2}), 0, 5)
    many = evaluate(data, _spec("pcr", **{"backend.components": 40}), 0, 5)
    assert many.in_sample_score["r2"] > few.in_sample_score["r2"] + 0.2
    assert many.cv_score["r2"] < many.in_sample_score["r2"] - 0.2
    assert np.isfinite(few.cv_score["r2"])
