"""ADNI loader end to end on the SYNTHETIC ADNI-format cohort: cohort selection, exclusions, the
thinning map, clear errors on bad input, hygiene, and `xscale reproduce --adni`."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from xscale.cli import main
from xscale.data.adni import find_files, load_config, required_files_note
from xscale.data.adni_cohort import load_cohort
from xscale.data.adni_thinning import thinning_map
from xscale.data.atlas import lobe_of, load_atlas
from xscale.data.manifest import project_root, sha256_file
from xscale.data.synthetic import N_TEMPORAL_QC_FAIL
from xscale.data.targets import load_target
from xscale.errors import ConfigError, DataFormatError

REGIONS = load_atlas().regions
TEMPORAL = [r for r, lobe in zip(REGIONS, lobe_of(REGIONS)) if lobe == "temporal"]


def _load(paths, **overrides):
    cfg = load_config()
    for key, value in overrides.items():
        sec, *rest = key.split("__")
        node = cfg[sec]
        for k in rest[:-1]:
            node = node[k]
        node[rest[-1]] = value
    return load_cohort(find_files(paths, cfg), cfg), cfg


@pytest.fixture(scope="module")
def cohort(synthetic_adni):
    return _load([synthetic_adni.directory])[0]


@pytest.fixture(scope="module")
def raw(synthetic_adni):
    read = lambda p: pd.read_csv(p, dtype=str, keep_default_na=False)  # noqa: E731
    return read(synthetic_adni.files["thickness"]), read(synthetic_adni.files["adnimerge"])


def _copy(tmp_path, raw, synthetic_adni, thickness=None, clinical=None):
    """Edited copies of the thickness table and ADNIMERGE (no SYNTHETIC marker: labelled ADNI)."""
    d = tmp_path / "edited"
    d.mkdir()
    fs, merge = (t.copy() for t in raw)
    (thickness or (lambda t: t))(fs).to_csv(d / synthetic_adni.files["thickness"].name, index=False)
    (clinical or (lambda t: t))(merge).to_csv(d / synthetic_adni.files["adnimerge"].name, index=False)
    return d


def _set(row: int, col: str, value: str):
    """An editor for :func:`_copy` that writes ``value`` into one cell."""
    def edit(t: pd.DataFrame) -> pd.DataFrame:
        t.loc[row, col] = value
        return t

    return edit


def _baseline_row(fs: pd.DataFrame, rid: int) -> int:
    sel = (fs["RID"] == str(rid)) & fs["VISCODE2"].isin(["bl", "sc"]) & (fs["OVERALLQC"] == "Pass")
    return int(np.flatnonzero(sel)[0])


def test_cohort_sizes_and_every_exclusion_explained(cohort):
    assert cohort.n == {"CN": 926, "AD": 426}
    assert cohort.exclusion_counts() == {
        "diagnosis LMCI is not compared (listed as excluded)": 130,
        "diagnosis EMCI is not compared (listed as excluded)": 120,
        "baseline scan failed QC (OVERALLQC=Fail)": 40,
        "diagnosis SMC is not compared (listed as excluded)": 30,
        "no scan in UCSFFSX51_SYNTHETIC.csv": 12,
        "baseline scan failed QC (OVERALLQC=Partial)": 5,
        "no baseline clinical row in ADNIMERGE_SYNTHETIC.csv": 3,
        "missing age": 3,
        "no baseline diagnosis": 2,
    }
    assert cohort.exclusions["RID"].is_unique
    assert not set(cohort.exclusions["RID"]) & set(cohort.subjects.index)
    assert "SYNTHETIC" in cohort.summary()


def test_baseline_visit_and_regional_qc_mask(cohort):
    s = cohort.subjects
    assert set(s["visit"]) == {"sc", "bl"}, "follow-up (m12) scans are never used"
    assert (s.loc[s.index < 1500, "visit"] == "sc").all()
    masked = s[TEMPORAL].isna().all(axis=1)
    assert masked.sum() == N_TEMPORAL_QC_FAIL
    assert s.loc[masked, ["L_superiorfrontal", "R_precuneus"]].notna().all().all()


def test_regional_qc_exclude(synthetic_adni):
    coh, _ = _load([synthetic_adni.directory], thickness__regional_qc="exclude")
    assert coh.exclusion_counts()["baseline scan failed regional QC (TEMPQC)"] == N_TEMPORAL_QC_FAIL
    assert sum(coh.n.values()) == 926 + 426 - N_TEMPORAL_QC_FAIL


def test_dxsum_and_ptdemog_give_the_same_subjects_and_ages(cohort, synthetic_adni):
    coh, _ = _load([synthetic_adni.directory], clinical__source="dxsum")
    assert coh.n == {"CN": 926 + 30, "AD": 426}, "DXSUM codes SMC subjects as cognitively normal (1)"
    common = cohort.subjects.index.intersection(coh.subjects.index)
    assert len(common) == 926 + 426
    np.testing.assert_allclose(coh.subjects.loc[common, "age"], cohort.subjects.loc[common, "age"], atol=0.1)
    assert (coh.subjects.loc[common, "sex"] == cohort.subjects.loc[common, "sex"]).all()


def test_table_and_balance_options(cohort):
    cfg = load_config()
    base = thinning_map(cohort, cfg)
    cols = ["region", "adni_column", "st_code", "n_cn", "n_ad", "mean_cn_mm", "sd_cn_mm", "mean_ad_mm", "sd_ad_mm",
            "thinning_mm", "se_mm", "t", "df", "p", "p_fdr", "cohens_d", "dataset"]
    assert list(base.table.columns) == cols and list(base.table["region"]) == list(REGIONS)
    assert (base.table["p_fdr"] >= base.table["p"]).all()
    assert (np.sign(base.table["cohens_d"]) == np.sign(base.table["thinning_mm"])).all()
    assert (base.table.loc[base.table["region"].isin(TEMPORAL), "n_cn"] < base.table["n_cn"].max()).all()
    maps = {}
    for balance in ("none", "resample"):
        cfg_b = load_config()
        cfg_b["map"].update(balance=balance, resamples=40)
        maps[balance] = thinning_map(cohort, cfg_b).values
        assert np.corrcoef(maps[balance], base.values)[0, 1] > 0.99
    cfg_b["map"]["seed"] = 1
    assert not np.array_equal(thinning_map(cohort, cfg_b).values, maps["resample"])
    cfg_b["map"]["seed"] = 0
    np.testing.assert_array_equal(thinning_map(cohort, cfg_b).values, maps["resample"])
    cfg_d = load_config()
    cfg_d["map"]["target"] = "cohens_d"
    assert thinning_map(cohort, cfg_d).name.endswith("_cohens_d")


def test_icv_covariate(synthetic_adni):
    coh, cfg = _load([synthetic_adni.directory], map__covariates=["age", "sex", "icv"])
    assert coh.subjects["icv"].notna().all()
    assert thinning_map(coh, cfg).method["covariates"] == ["age", "sex", "icv"]
    with pytest.raises(ConfigError, match="icv"):
        _load([synthetic_adni.directory], clinical__source="dxsum", map__covariates=["age", "icv"])


def test_missing_column(tmp_path, raw, synthetic_adni):
    d = _copy(tmp_path, raw, synthetic_adni, thickness=lambda t: t.drop(columns="OVERALLQC"))
    with pytest.raises(DataFormatError, match=r"UCSFFSX51_SYNTHETIC\.csv: missing column\(s\) \['OVERALLQC'\]"):
        _load([d])


def test_missing_thickness_code(tmp_path, raw, synthetic_adni):
    d = _copy(tmp_path, raw, synthetic_adni, thickness=lambda t: t.drop(columns=[c for c in t if c.startswith("ST24TA")]))
    with pytest.raises(DataFormatError, match=r"missing for \['ST24TA \(L_entorhinal\)'\]"):
        _load([d])


def test_unknown_diagnosis_code(tmp_path, raw, synthetic_adni):
    merge = raw[1]
    row = int(np.flatnonzero((merge["VISCODE"] == "bl") & (merge["DX_bl"] == "CN"))[3])
    d = _copy(tmp_path, raw, synthetic_adni, clinical=_set(row, "DX_bl", "Dementia?"))
    with pytest.raises(DataFormatError, match=rf"ADNIMERGE_SYNTHETIC\.csv: column 'DX_bl' has diagnosis code\(s\) "
                                              rf"\['Dementia\?'\] at CSV line\(s\) {row + 2},"):
        _load([d])


def test_duplicated_subjects(tmp_path, raw, synthetic_adni, cohort):
    rid = int(cohort.subjects.index[5])
    row = _baseline_row(raw[0], rid)
    d = _copy(tmp_path, raw, synthetic_adni, thickness=lambda t: pd.concat([t, t.iloc[[row]]], ignore_index=True))
    with pytest.raises(DataFormatError, match=rf"subject RID={rid} has 2 QC-passing scans .* lines {row + 2}, "
                                              rf"{len(raw[0]) + 2}\)"):
        _load([d])
    merge = raw[1]
    first = int(np.flatnonzero(merge["VISCODE"] == "bl")[0])
    (tmp_path / "edited").rename(tmp_path / "first")
    d = _copy(tmp_path, raw, synthetic_adni, clinical=lambda t: pd.concat([t, t.iloc[[first]]], ignore_index=True))
    with pytest.raises(DataFormatError, match=r"ADNIMERGE_SYNTHETIC\.csv: subject RID=\d+ has several baseline rows"):
        _load([d])


@pytest.mark.parametrize("value, message", [("2.3x", r"must be numeric; non-numeric value '2\.3x'"),
                                            ("-1.2", r"must be positive; value -1\.2")])
def test_bad_thickness_value(tmp_path, raw, synthetic_adni, cohort, value, message):
    row = _baseline_row(raw[0], int(cohort.subjects.index[0]))
    col = next(c for c in raw[0] if c.startswith("ST40TA"))
    d = _copy(tmp_path, raw, synthetic_adni, thickness=_set(row, col, value))
    with pytest.raises(DataFormatError, match=rf"UCSFFSX51_SYNTHETIC\.csv: column '{col}' .*{message} at CSV "
                                              rf"line\(s\) {row + 2}"):
        _load([d])


def test_missing_value_code_is_not_an_error(tmp_path, raw, synthetic_adni, cohort):
    rid = int(cohort.subjects["L_precuneus"].dropna().index[0])
    row = _baseline_row(raw[0], rid)
    col = cohort.columns["L_precuneus"]
    coh, _ = _load([_copy(tmp_path, raw, synthetic_adni, thickness=_set(row, col, "-4"))], thickness__missing_values=[-4])
    assert np.isnan(coh.subjects.at[rid, "L_precuneus"]) and not coh.files.synthetic


def test_region_without_values(tmp_path, raw, synthetic_adni):
    col = next(c for c in raw[0] if c.startswith("ST130TA"))

    def edit(t):
        t[col] = ""
        return t

    d = _copy(tmp_path, raw, synthetic_adni, thickness=edit)
    with pytest.raises(DataFormatError, match=rf"column '{col}' \(R_insula\) has 0 valid thickness value"):
        _load([d])


def test_finding_files(tmp_path, synthetic_adni):
    cfg = load_config()
    assert find_files([tmp_path], cfg) is None
    with pytest.raises(DataFormatError, match=r"missing adnimerge \['ADNIMERGE\*\.csv'\] \(or dxsum .*adni\.loni\.usc\.edu"):
        find_files([synthetic_adni.files["thickness"]], cfg)
    with pytest.raises(FileNotFoundError, match="no such file"):
        find_files([tmp_path / "nope"], cfg)
    other = tmp_path / "notes.csv"
    other.write_text("a\n1\n")
    with pytest.raises(DataFormatError, match="notes.csv: file name matches none"):
        find_files([other], cfg)
    files = find_files([synthetic_adni.files["thickness"], synthetic_adni.files["adnimerge"]], cfg)
    assert files.source == "adnimerge" and files.synthetic
    note = required_files_note()
    assert all(s in note for s in ("UCSFFSX51_", "ADNIMERGE.csv", "PTDEMOG", "https://adni.loni.usc.edu"))


def test_config_errors(tmp_path):
    bad = tmp_path / "adni.yaml"
    bad.write_text("map: {balanse: none}\n")
    with pytest.raises(ConfigError, match="unknown key 'map.balanse'"):
        load_config(bad)
    bad.write_text("map: {balance: smote}\n")
    with pytest.raises(ConfigError, match="map.balance='smote'"):
        load_config(bad)
    good = tmp_path / "ok.yaml"
    good.write_text("clinical: {adnimerge: {cn: [CN, SMC], excluded: [EMCI, LMCI]}}\n")
    assert load_config(good)["clinical"]["adnimerge"]["cn"] == ["CN", "SMC"]


def test_ignore_files_cover_conventional_locations():
    root = project_root()
    for path in ("adni/UCSFFSX51_11_08_19.csv", "ADNI/ADNIMERGE.csv", "data/restricted/x.csv",
                 "results/ADNIMERGE.csv", "DXSUM_PDXCONV_ADNIALL.csv", "downloads/PTDEMOG.csv", "UCSFFSL_02_01_16.csv"):
        assert subprocess.run(["git", "check-ignore", "-q", path], cwd=root).returncode == 0, path
    assert subprocess.run(["git", "check-ignore", "-q", "data/adni/ucsffs_st_ta_to_dk68.csv"], cwd=root).returncode == 1
    lines = set((root / ".dockerignore").read_text().split())
    assert {"/adni", "/ADNI", "**/restricted", "**/*ADNIMERGE*", "**/*UCSFFS*", "**/*DXSUM*", "**/*PTDEMOG*"} <= lines


QUICK = ["--quick", "--set", "backend.max_epochs=120", "--folds", "3", "--targets", "enigma:scz", "--no-report",
         "--no-evaluation"]


@pytest.mark.slow
def test_reproduce_adni_on_the_synthetic_cohort(tmp_path, synthetic_adni):
    out = tmp_path / "rep"
    res = CliRunner().invoke(main, ["reproduce", "--out", str(out), "--models", "gnn-vae", "--adni",
                                    str(synthetic_adni.directory), *QUICK])
    assert res.exit_code == 0, res.output
    assert "SYNTHETIC ADNI-format cohort: CN 926, AD 426" in res.output and "R^2 = 0.8604" in res.output
    result = json.loads((out / "results.json").read_text())
    assert [r["target"] for r in result["rows"]] == ["enigma:scz", "adni:SYNTHETIC_ad_thinning_mm"]
    claims = (out / "adni" / "claims.md").read_text()
    assert "SYNTHETIC" in claims and "| gnn-vae (the paper's model) | 787 | 0.8604 |" in claims
    assert "blocked 3-fold CV (out-of-sample)" in claims and claims in (out / "results.md").read_text()
    metrics = json.loads((out / "runs" / "gnn-vae" / "adni" / "metrics.json").read_text())
    assert metrics["target"] == "adni:SYNTHETIC_ad_thinning_mm" and "blocked_cv" in metrics
    tmap = load_target(str(out / "adni" / "thinning_map.csv"), REGIONS)
    table = pd.read_csv(out / "adni" / "thinning_table.csv")
    np.testing.assert_allclose(tmap.values, table["thinning_mm"], rtol=1e-7)
    assert np.corrcoef(tmap.values, synthetic_adni.true_thinning_mm)[0, 1] > 0.97
    # hygiene: the ADNI files are read, never copied; only name, size and sha256 are recorded
    prov = json.loads((out / "runs" / "gnn-vae" / "adni" / "provenance.json").read_text())
    inputs = {r["file"]: r for r in prov["adni_inputs"]}
    for p in (synthetic_adni.files["thickness"], synthetic_adni.files["adnimerge"]):
        assert inputs[p.name]["sha256"] == sha256_file(p) and inputs[p.name]["size"] == p.stat().st_size
    assert "SYNTHETIC" in prov["dataset"]
    digests = {sha256_file(p) for p in synthetic_adni.files.values()}
    first_rows = [p.read_text().splitlines()[1] for p in synthetic_adni.files.values()]
    for f in out.rglob("*"):
        if f.is_file():
            assert sha256_file(f) not in digests, f
            if f.suffix in (".csv", ".json", ".md"):
                text = f.read_text()
                assert str(synthetic_adni.directory) not in text, f"{f} records the ADNI directory"
                assert not any(row in text for row in first_rows), f"{f} holds a row of an ADNI file"


def test_reproduce_without_adni_files_says_what_is_needed(tmp_path):
    empty = tmp_path / "my_adni"
    empty.mkdir()
    out = tmp_path / "rep"
    res = CliRunner().invoke(main, ["reproduce", "--out", str(out), "--models", "ridge", "--adni", str(empty), *QUICK])
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert "No ADNI file found in my_adni" in flat and "UCSFFSX51_<date>.csv" in flat and "ADNIMERGE.csv" in flat
    assert flat.count("https://adni.loni.usc.edu") == 1, "the files-needed note is printed once, in the summary"
    assert "[adni:ucsffsx]" in flat and "[adni:adnimerge]" in flat, "the manifest's keys are printed, not eaten as markup"
    assert not (out / "adni").exists() and (out / "runs" / "ridge" / "scz").is_dir()
    assert "UCSFFSX51_<date>.csv" in (out / "results.md").read_text()
