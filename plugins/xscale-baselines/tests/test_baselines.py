"""Baselines honour the backend contract and fit the real map the way linear models should."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from xscale import config, testing
from xscale.data.atlas import homologue_index
from xscale.evaluate.cv import evaluate, scheme_for
from xscale.fitting import fit_model
from xscale_baselines.linear import PLSBackend, RidgeBackend


def _spec(preset, **sets):
    return config.model_spec(config.resolve(config.build(preset=preset, sets=[f"{k}={v}" for k, v in sets.items()])))


@pytest.mark.parametrize("preset", ["ridge", "pls1", "pls", "pcr"])
def test_contract(preset):
    res = testing.check_backend(_spec(preset))
    assert res.interval_95 is None


def test_ridge_chooses_alpha_inside_the_training_regions():
    """The penalty is RidgeCV's choice on the training regions alone, with the backend's inner folds:
    the held-out regions' values cannot move it (they are scrambled here), and it is not at the
    grid's edge on the real map."""
    data = testing.real_data()
    train = scheme_for(data, "blocked", 5, 0).splits[0].train
    spec = _spec("ridge")
    res = fit_model(data, spec, train, seed=0)
    scrambled = data.target.clone()
    scrambled[~train] = 10.0 * scrambled[~train].flip(0) + 3.0
    other = fit_model(replace(data, target=scrambled), spec, train, seed=0)
    assert other.info["alpha"] == res.info["alpha"]
    np.testing.assert_array_equal(other.prediction, res.prediction)

    alphas = config.resolve(config.build(preset="ridge"))["backend"]["alphas"]
    x, y = data.expression.numpy().astype(float)[train], data.target.numpy().astype(float)[train]
    inner = KFold(5, shuffle=True, random_state=0)
    alone = make_pipeline(StandardScaler(), RidgeCV(alphas=alphas, cv=inner)).fit(x, y)[-1].alpha_
    assert res.info["alpha"] == pytest.approx(alone)
    assert alone not in (alphas[0], alphas[-1])
    # with the held-out regions in the inner CV the choice would differ: the test can tell
    everything = make_pipeline(StandardScaler(), RidgeCV(alphas=alphas, cv=inner)).fit(
        data.expression.numpy().astype(float), scrambled.numpy().astype(float))[-1].alpha_
    assert everything != pytest.approx(alone)


def test_inner_cv_by_homologues_keeps_pairs_together_and_changes_only_the_inner_folds():
    data = testing.real_data()
    train = scheme_for(data, "blocked", 5, 0).splits[0].train
    names = tuple(r for r, m in zip(data.regions, train) if m)
    grouped = RidgeBackend(inner_cv="homologues")._inner_splits(names, seed=0)
    plain = RidgeBackend()._inner_splits(names, seed=0)
    assert len(grouped) == len(plain) == 5
    hom = homologue_index(names)
    for _, test in grouped:
        held = set(test.tolist())
        assert all(hom[i] < 0 or hom[i] in held for i in held), "a homologue pair was split"
    assert sorted(np.concatenate([t for _, t in grouped]).tolist()) == list(range(len(names)))
    assert any(hom[i] >= 0 and hom[i] not in set(te.tolist()) for _, te in plain for i in te), \
        "shuffled region folds do split pairs on this mask (the test can tell)"

    res = fit_model(data, _spec("ridge", **{"backend.inner_cv": "homologues"}), train, seed=0)
    alphas = config.resolve(config.build(preset="ridge"))["backend"]["alphas"]
    x, y = data.expression.numpy().astype(float)[train], data.target.numpy().astype(float)[train]
    alone = make_pipeline(StandardScaler(), RidgeCV(alphas=alphas, cv=grouped)).fit(x, y)[-1].alpha_
    assert res.info["alpha"] == pytest.approx(alone)
    with pytest.raises(ValueError, match="inner_cv='pairs'.*expected one of"):
        RidgeBackend(inner_cv="pairs")
    with pytest.raises(ValueError, match="PLSBackend: inner_cv"):
        PLSBackend(inner_cv="")


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
