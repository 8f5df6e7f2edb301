"""A seeded SYNTHETIC cohort in ADNI's exact file formats, with a known Alzheimer's thinning effect.

ADNI data are restricted and cannot exist here; this generator writes files with ADNI's columns
and codes so that the whole ADNI path (:mod:`xscale.data.adni`, ``xscale reproduce --adni``) can
be tested end to end:

* ``UCSFFSX51_SYNTHETIC.csv``: UCSF FreeSurfer layout (``RID``, ``VISCODE``, ``VISCODE2``,
  ``EXAMDATE``, ``OVERALLQC`` and the regional QC columns, ``ST<n>CV/SA/TA/TS`` with ADNIMERGE-style
  suffixes such as ``ST24TA_UCSFFSX_11_02_15_UCSFFSX51_08_01_16``);
* ``ADNIMERGE_SYNTHETIC.csv``: ``RID``, ``PTID``, ``VISCODE``, ``DX_bl`` (CN/SMC/EMCI/LMCI/AD),
  ``AGE``, ``PTGENDER`` (Male/Female), ``ICV``, ... one row per visit;
* optionally ``DXSUM_PDXCONV_ADNIALL_SYNTHETIC.csv`` (``DXCURREN`` / ``DIAGNOSIS`` 1/2/3) and
  ``PTDEMOG_SYNTHETIC.csv`` (``PTGENDER`` 1/2, ``PTDOBYY``, ``PTDOBMM``);
* ``SYNTHETIC_ADNI.json``: the label, seed, group sizes and the true effect.

Default sizes give the paper's cohort after exclusions (CN 926, AD 426), plus subjects that must
be left out: MCI and SMC, failed QC, no scan, missing age or diagnosis, no clinical row. Some
included scans fail one regional QC (temporal) and some thickness cells are blank.

The true thinning (mm) per DK region is ``0.10 + 0.05 * z``, where ``z`` mixes (80 % / 20 % of
variance) the first principal component of the embedded AHBA landmark-gene expression
(normalised per region) with spatially correlated noise (exponential kernel, 30 mm, on the DK
centroids). Every output made from these files is labelled SYNTHETIC.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from xscale.data.adni import SYNTHETIC_MARKER
from xscale.data.ahba import load_expression, normalise
from xscale.data.atlas import lobe_of, load_atlas
from xscale.data.manifest import read_verified

LABEL = "SYNTHETIC ADNI-format cohort written by xscale.data.synthetic; not ADNI data"
SUFFIX = "_UCSFFSX_11_02_15_UCSFFSX51_08_01_16"
QC_COLUMNS = ("OVERALLQC", "TEMPQC", "FRONTQC", "PARQC", "INSULAQC", "OCCQC", "BGQC", "CWMQC", "VENTQC", "LHIPQC",
              "RHIPQC")
#: Subjects written besides the compared ones: (what should exclude them, DX_bl, how many).
EXTRAS = (("not compared", "EMCI", 120), ("not compared", "LMCI", 130), ("not compared", "SMC", 30),
          ("qc_fail", "CN", 25), ("qc_fail", "AD", 15), ("qc_partial", "CN", 5), ("no_scan", "CN", 8),
          ("no_scan", "AD", 4), ("no_age", "CN", 3), ("no_dx", "CN", 2), ("no_clinical", "CN", 3))
N_TEMPORAL_QC_FAIL = 15
BLANK_FRACTION = 0.003


@dataclass(frozen=True)
class SyntheticCohort:
    """What :func:`write_synthetic_adni` wrote.

    Attributes
    ----------
    directory : Path
        Pass to ``xscale reproduce --adni``.
    true_thinning_mm : (68,) ndarray
        The effect built in, DK order (NC minus AD, mm).
    program : (68,) ndarray
        The expression program (standardised) it was built from.
    n_cn, n_ad : int
        Subjects that should remain after exclusions.
    files : dict of str to Path
    """

    directory: Path
    true_thinning_mm: np.ndarray
    program: np.ndarray
    n_cn: int
    n_ad: int
    files: dict[str, Path]


def true_effect(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The built-in thinning (mm) and the expression program, both (68,) in DK order.

    The program is the first principal component of the embedded landmark-gene expression
    (normalised per region; homologue-filled), oriented to be positive on average in the
    temporal lobe, standardised.
    """
    x = normalise(load_expression("l1000", "copy-homologue").frame.to_numpy(), "region")
    u, s, _ = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    prog = u[:, 0] * s[0]
    atlas = load_atlas()
    if prog[lobe_of(atlas.regions) == "temporal"].mean() < prog.mean():
        prog = -prog
    prog = (prog - prog.mean()) / prog.std()
    rng = np.random.default_rng([seed, 1])
    cov = np.exp(-atlas.distances / 30.0)
    noise = np.linalg.cholesky(cov + 1e-9 * np.eye(len(cov))) @ rng.normal(size=len(cov))
    noise = (noise - noise.mean()) / noise.std()
    z = np.sqrt(0.8) * prog + np.sqrt(0.2) * noise
    return 0.10 + 0.05 * z, prog


def _subjects(rng: np.random.Generator, n_cn: int, n_ad: int) -> pd.DataFrame:
    kinds = [("ok", "CN")] * n_cn + [("ok", "AD")] * n_ad
    for kind, dx, n in EXTRAS:
        kinds += [(kind, dx)] * n
    s = pd.DataFrame(kinds, columns=["kind", "dx_bl"])
    n = len(s)
    s["RID"] = rng.choice(np.arange(2, 7000), n, replace=False)
    s["adni1"] = s["RID"] < 1500
    ad = (s["dx_bl"] == "AD").to_numpy()
    s["AGE"] = np.clip(np.where(ad, rng.normal(75.5, 7.5, n), rng.normal(73.5, 6.0, n)), 55, 91).round(1)
    s["male"] = rng.random(n) < np.where(ad, 0.55, 0.48)
    s["ICV"] = rng.normal(1.50e6 + 0.12e6 * s["male"], 0.13e6).round(0)
    s["site"] = rng.integers(2, 142, n)
    s["exam"] = pd.Timestamp("2005-09-01") + pd.to_timedelta(rng.integers(0, 3000, n), unit="D")
    s["offset"] = rng.normal(0.0, 0.07, n)
    return s


def _thickness_rows(rng: np.random.Generator, subj: pd.DataFrame, delta: np.ndarray, mu: np.ndarray,
                    sd: np.ndarray) -> pd.DataFrame:
    scanned = subj[subj["kind"] != "no_scan"]
    rows = []
    for r in scanned.itertuples():
        visit, visit2 = ("sc", "sc") if r.adni1 else ("v03", "bl")
        qc = {"qc_fail": "Fail", "qc_partial": "Partial"}.get(r.kind, "Pass")
        rows.append((r.RID, visit, visit2, r.exam, qc, 0.0))
        if qc == "Pass" and rng.random() < 0.3:  # follow-up scan, a year later and slightly thinner
            rows.append((r.RID, "m12", "m12", r.exam + pd.Timedelta(days=365), "Pass", 0.02))
        if qc == "Pass" and rng.random() < 0.01:  # a repeat baseline scan that failed QC
            rows.append((r.RID, visit, visit2, r.exam, "Fail", 0.0))
    scans = pd.DataFrame(rows, columns=["RID", "VISCODE", "VISCODE2", "EXAMDATE", "OVERALLQC", "decline"])
    s = subj.set_index("RID").loc[scans["RID"]]
    ad = (s["dx_bl"] == "AD").to_numpy(float) + 0.4 * (s["dx_bl"] == "LMCI").to_numpy(float)
    age = s["AGE"].to_numpy()
    thick = (mu[None, :] - 0.015 * (age - 74.0)[:, None] + 0.03 * s["male"].to_numpy(float)[:, None]
             + 0.05 * ((s["ICV"].to_numpy() - 1.5e6) / 0.15e6)[:, None] + s["offset"].to_numpy()[:, None]
             - ad[:, None] * delta[None, :] - scans["decline"].to_numpy()[:, None]
             + rng.normal(0.0, 1.0, (len(scans), len(mu))) * sd[None, :])
    return scans, np.round(thick, 3)


def _ucsffsx(rng: np.random.Generator, scans: pd.DataFrame, thick: np.ndarray, subj: pd.DataFrame) -> pd.DataFrame:
    mapping = pd.read_csv(io.BytesIO(read_verified("adni-dk-map")))
    dk_pos = {r: i for i, r in enumerate(load_atlas().regions)}
    n = len(scans)
    out = pd.DataFrame({
        "RID": scans["RID"], "VISCODE": scans["VISCODE"], "VISCODE2": scans["VISCODE2"],
        "EXAMDATE": scans["EXAMDATE"].dt.strftime("%Y-%m-%d"), "VERSION": "5.1",
        "LONIUID": [f"S{k}" for k in rng.integers(10000, 99999, n)],
        "IMAGEUID": rng.choice(np.arange(10000, 999999), n, replace=False),
        "RUNDATE": "2016-08-01", "STATUS": "complete", "OVERALLQC": scans["OVERALLQC"]})
    for qc in QC_COLUMNS[1:]:
        out[qc] = np.where(out["OVERALLQC"] == "Pass", "Pass", np.where(rng.random(n) < 0.5, "Fail", "Pass"))
    compared = subj.loc[subj["kind"] == "ok", "RID"].to_numpy()
    base = out.index[out["VISCODE2"].isin(["sc", "bl"]) & out["RID"].isin(compared) & (out["OVERALLQC"] == "Pass")]
    out.loc[rng.choice(base, N_TEMPORAL_QC_FAIL, replace=False), "TEMPQC"] = "Fail"
    st = {f"ST{k}SV{SUFFIX}": rng.normal(2000.0, 300.0, n).round(0) for k in range(1, 12)}  # subcortical volumes
    for row in mapping.itertuples():
        n_code = row.code[2:-2]
        ta = thick[:, dk_pos[row.dk]].astype(object)
        ta[rng.random(n) < BLANK_FRACTION] = ""
        st[f"ST{n_code}CV{SUFFIX}"] = rng.normal(6000.0, 900.0, n).round(0)
        st[f"ST{n_code}SA{SUFFIX}"] = rng.normal(2200.0, 300.0, n).round(0)
        st[f"ST{n_code}TA{SUFFIX}"] = ta
        st[f"ST{n_code}TS{SUFFIX}"] = rng.normal(0.6, 0.05, n).round(3)
    return pd.concat([out, pd.DataFrame(st, index=out.index)], axis=1)


def _adnimerge(rng: np.random.Generator, subj: pd.DataFrame) -> pd.DataFrame:
    rows = []
    dx_now = {"CN": "CN", "SMC": "CN", "EMCI": "MCI", "LMCI": "MCI", "AD": "Dementia"}
    for r in subj[subj["kind"] != "no_clinical"].itertuples():
        visits = ["bl"] + (["m06", "m12"] if rng.random() < 0.5 else [])
        for m, v in enumerate(visits):
            rows.append({
                "RID": r.RID, "COLPROT": "ADNI1" if r.adni1 else "ADNI2", "ORIGPROT": "ADNI1" if r.adni1 else "ADNI2",
                "PTID": f"{r.site:03d}_S_{r.RID:04d}", "SITE": r.site, "VISCODE": v,
                "EXAMDATE": (r.exam + pd.Timedelta(days=182 * m)).strftime("%Y-%m-%d"),
                "DX_bl": "" if r.kind == "no_dx" else r.dx_bl,
                "AGE": "" if r.kind == "no_age" else r.AGE, "PTGENDER": "Male" if r.male else "Female",
                "PTEDUCAT": int(rng.integers(8, 21)), "PTETHCAT": "Not Hisp/Latino", "PTRACCAT": "White",
                "PTMARRY": "Married", "APOE4": int(rng.integers(0, 3)), "MMSE": int(rng.integers(18, 31)),
                "DX": dx_now.get(r.dx_bl, ""), "ICV": r.ICV, "EXAMDATE_bl": r.exam.strftime("%Y-%m-%d"),
                "ICV_bl": r.ICV, "Month": 6 * m})
    return pd.DataFrame(rows)


def _dxsum_ptdemog(subj: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    code = {"CN": 1, "SMC": 1, "EMCI": 2, "LMCI": 2, "AD": 3}
    have = subj[subj["kind"] != "no_clinical"]
    dx = pd.DataFrame({
        "Phase": np.where(have["adni1"], "ADNI1", "ADNI2"), "ID": np.arange(len(have)) + 1, "RID": have["RID"],
        "SITEID": have["site"], "VISCODE": np.where(have["adni1"], "bl", "v03"), "VISCODE2": "bl",
        "USERDATE": have["exam"].dt.strftime("%Y-%m-%d"), "EXAMDATE": have["exam"].dt.strftime("%Y-%m-%d"),
        "DXCHANGE": "", "DXCURREN": "", "DIAGNOSIS": ""})
    codes = [("" if k == "no_dx" else str(code[d])) for d, k in zip(have["dx_bl"], have["kind"])]
    dx["DXCURREN"] = np.where(have["adni1"], codes, "")
    dx["DIAGNOSIS"] = np.where(have["adni1"], "", codes)
    dob = have["exam"] - pd.to_timedelta((have["AGE"] * 365.25).round(), unit="D")
    demo = pd.DataFrame({"RID": have["RID"], "VISCODE": "sc", "VISCODE2": "sc",
                         "PTGENDER": np.where(have["male"], 1, 2), "PTDOBMM": dob.dt.month,
                         "PTDOBYY": np.where(have["kind"] == "no_age", "", dob.dt.year.astype(str)), "PTEDUCAT": 16})
    return dx, demo


def write_synthetic_adni(directory: str | Path, seed: int = 0, n_cn: int = 926, n_ad: int = 426,
                         clinical: str = "adnimerge") -> SyntheticCohort:
    """Write a SYNTHETIC ADNI-format cohort (see the module docstring).

    Parameters
    ----------
    directory : path
        Created if needed.
    seed : int
        Same seed, same bytes.
    n_cn, n_ad : int
        Subjects that pass every check (the paper: 926 and 426).
    clinical : {'adnimerge', 'dxsum', 'both'}
        Which clinical tables to write.

    Returns
    -------
    SyntheticCohort
    """
    if clinical not in ("adnimerge", "dxsum", "both"):
        raise ValueError(f"clinical={clinical!r}; expected 'adnimerge', 'dxsum' or 'both'")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    delta, prog = true_effect(seed)
    R = len(delta)
    mu, sd = rng.uniform(2.0, 3.4, R), rng.uniform(0.12, 0.22, R)
    subj = _subjects(rng, n_cn, n_ad)
    scans, thick = _thickness_rows(rng, subj, delta, mu, sd)
    files = {"thickness": out / "UCSFFSX51_SYNTHETIC.csv"}
    _ucsffsx(rng, scans, thick, subj).to_csv(files["thickness"], index=False)
    if clinical in ("adnimerge", "both"):
        files["adnimerge"] = out / "ADNIMERGE_SYNTHETIC.csv"
        _adnimerge(rng, subj).to_csv(files["adnimerge"], index=False)
    if clinical in ("dxsum", "both"):
        dx, demo = _dxsum_ptdemog(subj)
        files["dxsum"], files["ptdemog"] = out / "DXSUM_PDXCONV_ADNIALL_SYNTHETIC.csv", out / "PTDEMOG_SYNTHETIC.csv"
        dx.to_csv(files["dxsum"], index=False)
        demo.to_csv(files["ptdemog"], index=False)
    regions = load_atlas().regions
    meta = {"label": LABEL, "generator": "xscale.data.synthetic.write_synthetic_adni", "seed": seed,
            "n_cn": n_cn, "n_ad": n_ad, "extras": [{"kind": k, "DX_bl": d, "n": n} for k, d, n in EXTRAS], "temporal_qc_fail": N_TEMPORAL_QC_FAIL,
            "true_thinning_mm": dict(zip(regions, delta.round(6).tolist())),
            "program": dict(zip(regions, prog.round(6).tolist())), "files": [p.name for p in files.values()]}
    (out / SYNTHETIC_MARKER).write_text(json.dumps(meta, indent=2) + "\n")
    return SyntheticCohort(out, delta, prog, n_cn, n_ad, files)
