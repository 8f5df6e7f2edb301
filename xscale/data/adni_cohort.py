"""The ADNI analysis cohort: one QC-passing baseline scan per CN or AD subject, and why others were left out.

Reads the files found by :func:`xscale.data.adni.find_files` with the choices of
``xscale/configs/adni.yaml``. Subjects are left out, with the first applicable reason, when they
have no baseline clinical row, no or a non-compared diagnosis (e.g. MCI), no baseline scan, a
baseline scan that failed QC, a missing covariate, or no thickness value at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xscale.data.adni import (CINGULATE_LOBE, GROUPS, LOBE_QC, AdniFiles, _code, _numeric, _read, _require, _rows,
                              region_columns)
from xscale.data.atlas import LOBES, load_atlas
from xscale.errors import ConfigError, DataFormatError


@dataclass(frozen=True)
class Cohort:
    """Baseline cortical thickness of the compared subjects.

    Attributes
    ----------
    subjects : DataFrame, one row per included subject (index ``RID``)
        ``group`` ('CN' or 'AD'), ``age`` (years), ``sex`` (1 male, 0 female), ``icv`` (mm^3, NaN
        if unavailable), ``visit`` (visit code of the scan used), then the 68 DK regions' cortical
        thickness (mm; NaN where missing or masked by regional QC).
    exclusions : DataFrame
        ``RID``, ``diagnosis`` (code as in the file), ``reason``: every other subject.
    columns : dict of str to str
        DK region -> thickness column of the file (``ST<n>TA`` with any suffix).
    codes : dict of str to str
        DK region -> ``ST<n>TA`` code.
    files : AdniFiles
    """

    subjects: pd.DataFrame
    exclusions: pd.DataFrame
    columns: dict[str, str]
    codes: dict[str, str]
    files: AdniFiles

    @property
    def regions(self) -> tuple[str, ...]:
        """The 68 DK regions, canonical order."""
        return load_atlas().regions

    @property
    def n(self) -> dict[str, int]:
        """Subjects per group, ``{'CN': ..., 'AD': ...}``."""
        return {g: int((self.subjects["group"] == g).sum()) for g in GROUPS}

    def exclusion_counts(self) -> dict[str, int]:
        """Subjects left out per reason."""
        return {str(k): int(v) for k, v in self.exclusions["reason"].value_counts().items()}

    def summary(self) -> str:
        """One line for logs, e.g. ``ADNI cohort: CN 926, AD 426 (1,012 subjects left out)``."""
        tag = "SYNTHETIC ADNI-format cohort" if self.files.synthetic else "ADNI cohort"
        return f"{tag}: CN {self.n['CN']}, AD {self.n['AD']} ({len(self.exclusions):,} subjects left out)"


def _region_lobe_qc(regions: tuple[str, ...]) -> dict[str, str]:
    """DK region -> regional QC column name."""
    out = {}
    for r in regions:
        label = r.split("_", 1)[1]
        out[r] = LOBE_QC[CINGULATE_LOBE.get(label, LOBES[label])]
    return out


def _baseline_scans(table: pd.DataFrame, path: Path, cfg: dict[str, Any]) -> tuple[pd.DataFrame, dict[int, str]]:
    """One QC-passing baseline row per RID (index: RID, value: row position), and reasons for the others."""
    tc = cfg["thickness"]
    visit_col = next((c for c in tc["visit_columns"] if c in table.columns), None)
    if visit_col is None:
        raise DataFormatError(f"{path.name}: no visit column; expected one of {tc['visit_columns']}")
    need = [tc["subject_column"]] + ([tc["overall_qc_column"]] if tc["overall_qc_column"] else [])
    _require(table, need, path, "subject ID and overall QC")
    rid = _numeric(table, tc["subject_column"], path, "ADNI subject ID")
    if rid.isna().any():
        raise DataFormatError(f"{path.name}: column {tc['subject_column']!r} is blank at CSV line(s) "
                              f"{_rows(table.index[rid.isna()])}")
    visits = list(tc["baseline_visits"])
    rank = table[visit_col].map({v: i for i, v in enumerate(visits)})
    qc_ok = table[tc["overall_qc_column"]].isin(tc["overall_qc_pass"]) if tc["overall_qc_column"] else True
    cand = pd.DataFrame({"rid": rid.astype(int), "rank": rank, "ok": qc_ok, "visit": table[visit_col]})
    cand = cand[cand["rank"].notna()]
    reasons: dict[int, str] = {}
    for r, g in cand[~cand["ok"]].groupby("rid"):
        if not cand.loc[cand["rid"] == r, "ok"].any():
            vals = sorted({str(v) for v in table.loc[g.index, tc["overall_qc_column"]].fillna("blank")})
            reasons[int(r)] = f"baseline scan failed QC ({tc['overall_qc_column']}={'/'.join(vals)})"
    good = cand[cand["ok"]]
    best = good[good["rank"] == good.groupby("rid")["rank"].transform("min")]
    dup = best[best["rid"].duplicated(keep=False)]
    if len(dup):
        r = int(dup["rid"].iloc[0])
        rows = dup.index[dup["rid"] == r]
        raise DataFormatError(f"{path.name}: subject {tc['subject_column']}={r} has {len(rows)} QC-passing scans at "
                              f"baseline visit {dup.loc[rows[0], 'visit']!r} (CSV lines {_rows(rows)}); "
                              f"{dup['rid'].nunique()} subjects are duplicated. Keep one row per subject and visit.")
    for r in set(rid.astype(int)) - set(cand["rid"]):
        reasons[int(r)] = f"no baseline scan (visit codes {'/'.join(visits)} in {visit_col})"
    return best.set_index("rid")[["visit"]].assign(row=best.index.to_numpy()), reasons


def _check_codes(codes: pd.Series, table: pd.DataFrame, col: str, path: Path, dx: dict[str, Any], where: str) -> None:
    known = {_code(c) for c in list(dx["cn"]) + list(dx["ad"]) + list(dx["excluded"])}
    unknown = codes.notna() & ~codes.isin(known)
    if unknown.any():
        vals = sorted(set(codes[unknown]))
        raise DataFormatError(f"{path.name}: column {col!r} has diagnosis code(s) {vals} at CSV line(s) "
                              f"{_rows(table.index[unknown])}, which the configuration does not list; add them to "
                              f"{where}.cn, .ad or .excluded (known: {sorted(known)})")


def _unique_baseline(table: pd.DataFrame, path: Path, visit_col: str, visit: str) -> pd.DataFrame:
    _require(table, ["RID", visit_col], path, "subject ID and visit")
    base = table[table[visit_col] == visit].copy()
    base["RID"] = _numeric(base, "RID", path, "ADNI subject ID")
    dup = base[base["RID"].duplicated(keep=False)]
    if len(dup):
        r = int(dup["RID"].iloc[0])
        raise DataFormatError(f"{path.name}: subject RID={r} has several baseline rows ({visit_col}={visit!r}) at CSV "
                              f"lines {_rows(dup.index[dup['RID'] == r])}; {dup['RID'].nunique()} subjects duplicated")
    return base


def _sex(values: pd.Series, table: pd.DataFrame, col: str, path: Path, codes: dict) -> pd.Series:
    mapping = {_code(k): v for k, v in codes.items()}
    raw = values.map(_code)
    bad = raw.notna() & ~raw.isin(mapping)
    if bad.any():
        raise DataFormatError(f"{path.name}: column {col!r} has unknown sex code(s) {sorted(set(raw[bad]))} at CSV "
                              f"line(s) {_rows(table.index[bad])}; expected one of {sorted(mapping)} "
                              "(clinical.sex_codes)")
    return raw.map(lambda c: float(mapping[c] == "male") if isinstance(c, str) else np.nan).astype(float)


def _clinical_adnimerge(path: Path, cfg: dict[str, Any], use_icv: bool) -> pd.DataFrame:
    c = cfg["clinical"]["adnimerge"]
    table = _read(path)
    cols = [c["diagnosis_column"], c["age_column"], c["sex_column"]] + ([c["icv_column"]] if use_icv else [])
    _require(table, cols, path, "diagnosis, age, sex" + (", intracranial volume" if use_icv else ""))
    base = _unique_baseline(table, path, c["visit_column"], cfg["clinical"]["baseline_visit"])
    dx = base[c["diagnosis_column"]].map(_code)
    _check_codes(dx, base, c["diagnosis_column"], path, c, "clinical.adnimerge")
    return pd.DataFrame({
        "diagnosis": dx, "age": _numeric(base, c["age_column"], path, "age, years"),
        "sex": _sex(base[c["sex_column"]], base, c["sex_column"], path, cfg["clinical"]["sex_codes"]),
        "icv": _numeric(base, c["icv_column"], path, "intracranial volume, mm^3") if use_icv else np.nan,
    }).set_index(base["RID"].astype(int).to_numpy())


def _clinical_dxsum(dxsum: Path, ptdemog: Path, cfg: dict[str, Any], use_icv: bool) -> pd.DataFrame:
    c = cfg["clinical"]["dxsum"]
    if use_icv:
        raise ConfigError("map.covariates includes icv, which DXSUM + PTDEMOG do not have; give ADNIMERGE "
                          "(column ICV) or drop icv from map.covariates")
    table = _read(dxsum)
    dx_cols = [col for col in c["diagnosis_columns"] if col in table.columns]
    if not dx_cols:
        raise DataFormatError(f"{dxsum.name}: none of the diagnosis columns {c['diagnosis_columns']} is present")
    _require(table, [c["exam_date_column"]], dxsum, "exam date, for age")
    base = _unique_baseline(table, dxsum, c["visit_column"], cfg["clinical"]["baseline_visit"])
    dx = base[dx_cols].apply(lambda col: col.map(_code)).bfill(axis=1).iloc[:, 0]
    for col in dx_cols:
        _check_codes(base[col].map(_code), base, col, dxsum, c, "clinical.dxsum")
    exam = pd.to_datetime(base[c["exam_date_column"]], errors="coerce", format="mixed")
    bad = base[c["exam_date_column"]].notna() & exam.isna()
    if bad.any():
        raise DataFormatError(f"{dxsum.name}: column {c['exam_date_column']!r} must be a date; unreadable at CSV "
                              f"line(s) {_rows(base.index[bad])}")
    demo = _read(ptdemog)
    _require(demo, ["RID", c["sex_column"], "PTDOBYY", "PTDOBMM"], ptdemog, "sex and date of birth")
    demo["RID"] = _numeric(demo, "RID", ptdemog, "ADNI subject ID")
    year = _numeric(demo, "PTDOBYY", ptdemog, "year of birth")
    month = _numeric(demo, "PTDOBMM", ptdemog, "month of birth")
    demo = demo.assign(dob=pd.to_datetime(dict(year=year, month=month, day=15), errors="coerce"),
                       sex=_sex(demo[c["sex_column"]], demo, c["sex_column"], ptdemog, cfg["clinical"]["sex_codes"]))
    for col in ("dob", "sex"):
        conflict = demo.dropna(subset=[col]).groupby("RID")[col].nunique()
        if (conflict > 1).any():
            r = int(conflict.index[conflict > 1][0])
            raise DataFormatError(f"{ptdemog.name}: subject RID={r} has conflicting {col} values at CSV lines "
                                  f"{_rows(demo.index[demo['RID'] == r])}")
    per_rid = demo.groupby("RID")[["dob", "sex"]].first()
    rid = base["RID"].astype(int).to_numpy()
    dob = per_rid["dob"].reindex(rid).to_numpy()
    age = (exam.to_numpy() - dob) / np.timedelta64(1, "D") / 365.25
    return pd.DataFrame({"diagnosis": dx.to_numpy(), "age": age, "sex": per_rid["sex"].reindex(rid).to_numpy(),
                         "icv": np.nan}, index=rid)


def _thickness(table: pd.DataFrame, rows: np.ndarray, columns: dict[str, str], path: Path,
               missing_values: list[float]) -> pd.DataFrame:
    sub = table.loc[rows, list(columns.values())]
    out = {}
    for region, col in columns.items():
        v = _numeric(sub, col, path, f"cortical thickness of {region}, mm")
        v = v.mask(v.isin([float(m) for m in missing_values]))
        bad = v <= 0
        if bad.any():
            raise DataFormatError(f"{path.name}: column {col!r} (cortical thickness of {region}, mm) must be "
                                  f"positive; value {float(v[bad].iloc[0]):g} at CSV line(s) {_rows(sub.index[bad])}. "
                                  "If it codes a missing value, list it in thickness.missing_values.")
        out[region] = v.to_numpy()
    return pd.DataFrame(out, index=sub.index)


def load_cohort(files: AdniFiles, cfg: dict[str, Any]) -> Cohort:
    """Baseline cortical thickness of CN and AD subjects, with every exclusion explained.

    Parameters
    ----------
    files : AdniFiles
    cfg : dict
        From :func:`xscale.data.adni.load_config`.

    Returns
    -------
    Cohort

    Raises
    ------
    DataFormatError
        Naming the file, column and CSV line(s): missing columns, unknown diagnosis or sex codes,
        subjects with several baseline rows / scans, non-numeric or non-positive thickness, a
        region without any valid value in a group.
    ConfigError
        If the covariates need a column the clinical source lacks.
    """
    use_icv = "icv" in cfg["map"]["covariates"]
    table = _read(files.thickness)
    columns, codes = region_columns(table, files.thickness)
    scans, reasons = _baseline_scans(table, files.thickness, cfg)
    if files.source == "adnimerge":
        clin_name, clin = files.clinical["adnimerge"].name, _clinical_adnimerge(files.clinical["adnimerge"], cfg, use_icv)
        dx_cfg = cfg["clinical"]["adnimerge"]
    else:
        clin_name = files.clinical["dxsum"].name
        clin = _clinical_dxsum(files.clinical["dxsum"], files.clinical["ptdemog"], cfg, use_icv)
        dx_cfg = cfg["clinical"]["dxsum"]
    group = {**{_code(c): "CN" for c in dx_cfg["cn"]}, **{_code(c): "AD" for c in dx_cfg["ad"]}}
    covs = [c for c in ("age", "sex", "icv") if c in cfg["map"]["covariates"]]
    excluded, keep = [], []
    for rid in sorted(set(clin.index) | set(reasons) | set(scans.index)):
        dx = clin.at[rid, "diagnosis"] if rid in clin.index else None
        dx = None if dx is None or pd.isna(dx) else str(dx)
        if rid not in clin.index:
            why = f"no baseline clinical row in {clin_name}"
        elif dx is None:
            why = "no baseline diagnosis"
        elif dx not in group:
            why = f"diagnosis {dx} is not compared (listed as excluded)"
        elif rid in reasons or rid not in scans.index:
            why = reasons.get(rid, f"no scan in {files.thickness.name}")
        else:
            gaps = [c for c in covs if not np.isfinite(clin.at[rid, c])]
            why = f"missing {', '.join(gaps)}" if gaps else None
        if why:
            excluded.append((rid, dx, why))
        else:
            keep.append(rid)
    regional = cfg["thickness"]["regional_qc"]
    thick = _thickness(table, scans.loc[keep, "row"].to_numpy(), columns, files.thickness,
                       cfg["thickness"]["missing_values"])
    thick.index = keep
    if regional != "ignore":
        fail = set(cfg["thickness"]["regional_qc_fail"])
        lobe_qc = _region_lobe_qc(tuple(columns))
        for qc in sorted(set(lobe_qc.values()) & set(table.columns)):
            failed = table.loc[scans.loc[keep, "row"].to_numpy(), qc].isin(fail).to_numpy()
            if regional == "mask":
                thick.loc[failed, [r for r, q in lobe_qc.items() if q == qc]] = np.nan
            else:
                done = {e[0] for e in excluded}
                excluded += [(rid, clin.at[rid, "diagnosis"], f"baseline scan failed regional QC ({qc})")
                             for rid in np.asarray(keep)[failed] if rid not in done]
    drop = {e[0] for e in excluded}
    empty = [r for r in thick.index if r not in drop and thick.loc[r].isna().all()]
    excluded += [(r, clin.at[r, "diagnosis"], "no thickness value in any region") for r in empty]
    drop |= set(empty)
    kept = [r for r in keep if r not in drop]
    subjects = pd.concat([pd.DataFrame({"group": clin.loc[kept, "diagnosis"].map(group), "age": clin.loc[kept, "age"],
                                        "sex": clin.loc[kept, "sex"], "icv": clin.loc[kept, "icv"],
                                        "visit": scans.loc[kept, "visit"]}), thick.loc[kept]], axis=1)
    subjects.index.name = "RID"
    exclusions = pd.DataFrame(excluded, columns=["RID", "diagnosis", "reason"]).sort_values("RID", kind="stable")
    _check_regions(subjects, columns, files.thickness)
    return Cohort(subjects, exclusions.reset_index(drop=True), columns, codes, files)


def _check_regions(subjects: pd.DataFrame, columns: dict[str, str], path: Path) -> None:
    for g in GROUPS:
        n = subjects.loc[subjects["group"] == g, list(columns)].notna().sum()
        if (n < 2).any():
            region = n.index[n < 2][0]
            raise DataFormatError(f"{path.name}: column {columns[region]!r} ({region}) has {int(n[region])} valid "
                                  f"thickness value(s) among the {g} subjects; at least 2 are needed")
