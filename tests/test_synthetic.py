"""The SYNTHETIC ADNI-format cohort: ADNI's columns and codes, seeded, and a known effect that the
thinning computation and a model recover."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from xscale import config
from xscale.data.adni import SYNTHETIC_MARKER, find_files, load_config
from xscale.data.adni_cohort import load_cohort
from xscale.data.adni_thinning import thinning_map
from xscale.data.atlas import lobe_of, load_atlas
from xscale.data.brain import load_brain_data
from xscale.data.manifest import sha256_file
from xscale.data.synthetic import EXTRAS, true_effect, write_synthetic_adni
from xscale.evaluate.cv import evaluate
from xscale.evaluate.metrics import pearson

REGIONS = load_atlas().regions


@pytest.fixture(scope="module")
def tables(synthetic_adni):
    read = lambda key: pd.read_csv(synthetic_adni.files[key], dtype=str, keep_default_na=False)  # noqa: E731
    return {k: read(k) for k in synthetic_adni.files}


@pytest.fixture(scope="module")
def tmap(synthetic_adni):
    cfg = load_config()
    return thinning_map(load_cohort(find_files([synthetic_adni.directory], cfg), cfg), cfg)


def test_files_have_adni_columns_and_codes(tables):
    fs, merge = tables["thickness"], tables["adnimerge"]
    for col in ("RID", "VISCODE", "VISCODE2", "EXAMDATE", "OVERALLQC", "TEMPQC", "FRONTQC", "PARQC", "OCCQC",
                "INSULAQC", "ST24TA_UCSFFSX_11_02_15_UCSFFSX51_08_01_16", "ST24TS_UCSFFSX_11_02_15_UCSFFSX51_08_01_16"):
        assert col in fs.columns
    assert len([c for c in fs.columns if re.match(r"^ST\d+TA_", c)]) == 68
    assert set(fs["OVERALLQC"]) == {"Pass", "Fail", "Partial"}
    assert {"sc", "bl", "m12"} <= set(fs["VISCODE2"])
    assert (fs.filter(regex=r"^ST\d+TA_") == "").to_numpy().sum() > 0, "some thickness cells are blank"
    for col in ("RID", "PTID", "VISCODE", "DX_bl", "AGE", "PTGENDER", "ICV", "EXAMDATE"):
        assert col in merge.columns
    assert set(merge["DX_bl"]) == {"CN", "SMC", "EMCI", "LMCI", "AD", ""}
    assert set(merge["PTGENDER"]) == {"Male", "Female"}
    assert merge["PTID"].str.fullmatch(r"\d{3}_S_\d{4}").all()
    assert set(tables["dxsum"]["DIAGNOSIS"]) <= {"1", "2", "3", ""} and set(tables["ptdemog"]["PTGENDER"]) == {"1", "2"}


def test_marked_synthetic_with_its_true_effect(synthetic_adni):
    meta = json.loads((synthetic_adni.directory / SYNTHETIC_MARKER).read_text())
    assert "SYNTHETIC" in meta["label"] and meta["n_cn"] == 926 and meta["n_ad"] == 426
    assert np.allclose([meta["true_thinning_mm"][r] for r in REGIONS], synthetic_adni.true_thinning_mm, atol=1e-6)
    assert [e["n"] for e in meta["extras"]] == [n for _, _, n in EXTRAS]


def test_same_seed_same_bytes(tmp_path):
    a = write_synthetic_adni(tmp_path / "a", seed=3, n_cn=30, n_ad=15)
    b = write_synthetic_adni(tmp_path / "b", seed=3, n_cn=30, n_ad=15)
    c = write_synthetic_adni(tmp_path / "c", seed=4, n_cn=30, n_ad=15)
    assert [sha256_file(p) for p in a.files.values()] == [sha256_file(p) for p in b.files.values()]
    assert sha256_file(a.files["thickness"]) != sha256_file(c.files["thickness"])


def test_effect_is_built_from_expression():
    delta, prog = true_effect(0)
    assert delta.shape == (68,) and prog.shape == (68,)
    assert 0.85 < np.corrcoef(delta, prog)[0, 1] < 0.99, "80 % program, 20 % spatially correlated noise"
    assert prog[lobe_of(REGIONS) == "temporal"].mean() > 0


def test_thinning_recovers_the_known_effect(tmap, synthetic_adni):
    true = synthetic_adni.true_thinning_mm
    est = tmap.table["thinning_mm"].to_numpy()
    assert np.corrcoef(est, true)[0, 1] > 0.97
    assert abs(np.mean(est - true)) < 0.012 and np.max(np.abs(est - true)) < 0.05  # SE of a difference ~0.012
    raw = (tmap.table["mean_cn_mm"] - tmap.table["mean_ad_mm"]).to_numpy()
    assert np.mean(raw - true) > np.mean(est - true) + 0.01, "AD subjects are older: unadjusted means overstate"
    assert (tmap.table["p_fdr"] < 0.05).sum() > 55


def test_outputs_are_labelled_synthetic(tmap):
    assert tmap.synthetic and "SYNTHETIC" in tmap.name
    assert tmap.table["dataset"].str.startswith("SYNTHETIC").all()
    assert "SYNTHETIC" in tmap.target_map().source


def test_ridge_recovers_the_signal_out_of_sample(tmap, synthetic_adni):
    data, report = load_brain_data(tmap.target_map())
    assert report.target == tmap.name and data.target_name == tmap.name
    np.testing.assert_allclose(data.target.numpy(), tmap.values, rtol=1e-6)
    spec = config.model_spec(config.resolve(config.with_preset(config.build(), "ridge")))
    ev = evaluate(data, spec, seed=0, n_folds=5)
    assert ev.in_sample_score["r"] > 0.8
    assert ev.cv_score["r"] > 0.5, "blocked-CV prediction of held-out regions tracks the built-in effect"
    r_true, _ = pearson(synthetic_adni.true_thinning_mm, ev.oof_prediction)
    assert r_true > 0.5
