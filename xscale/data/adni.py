"""ADNI cohort from the user's own restricted files: baseline cortical thickness, CN versus AD.

Inputs (never shipped, never copied; only their name, size and sha256 reach provenance):

* the UCSF FreeSurfer table: ``UCSFFSX51_*.csv`` / ``UCSFFSX_*.csv`` (cross-sectional) or
  ``UCSFFSL_*.csv`` (longitudinal); one row per scan with ``RID``, ``VISCODE`` (and ``VISCODE2``),
  ``OVERALLQC``, regional QC columns (``TEMPQC``, ``FRONTQC``, ``PARQC``, ``OCCQC``, ``INSULAQC``)
  and the cortical thickness averages ``ST<n>TA`` (mm), possibly with a suffix such as
  ``ST24TA_UCSFFSX_11_02_15_UCSFFSX51_08_01_16``;
* ``ADNIMERGE.csv`` (``RID``, ``VISCODE``, ``DX_bl``, ``AGE``, ``PTGENDER``, ``ICV``), or
  ``DXSUM_PDXCONV_ADNIALL.csv`` plus ``PTDEMOG.csv``.

``ST<n>TA`` codes map to the 68 DK regions through the embedded ``data/adni/ucsffs_st_ta_to_dk68.csv``
(from the ADNI/TADPOLE data dictionary). Every choice (visit codes, QC values, diagnosis codes,
covariates) comes from ``xscale/configs/adni.yaml``; the cohort keeps one baseline scan per
subject that passed QC, and reports why every other subject was left out.
"""

from __future__ import annotations

import copy
import io
import json
import re
from dataclasses import dataclass
from importlib.resources import files as package_files
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from xscale.config import load_file
from xscale.data.manifest import MANIFEST_NAME, project_root, read_verified, sha256_file
from xscale.errors import ConfigError, DataFormatError

CONFIG_NAME = "adni.yaml"
MAP_KEY = "adni-dk-map"
TA_COLUMN = re.compile(r"^(ST\d+TA)(?:_.+)?$")
#: Regional QC column of each lobe (UCSF FreeSurfer QC); cingulate regions follow the adjacent lobe.
LOBE_QC = {"frontal": "FRONTQC", "parietal": "PARQC", "temporal": "TEMPQC", "occipital": "OCCQC", "insula": "INSULAQC"}
CINGULATE_LOBE = {"caudalanteriorcingulate": "frontal", "rostralanteriorcingulate": "frontal",
                  "posteriorcingulate": "parietal", "isthmuscingulate": "parietal"}
#: File written beside a SYNTHETIC cohort by :mod:`xscale.data.synthetic`.
SYNTHETIC_MARKER = "SYNTHETIC_ADNI.json"
GROUPS = ("CN", "AD")
_FREE_MAPPINGS = {"sex_codes"}


def default_config_path() -> Path:
    """The shipped cohort configuration, ``xscale/configs/adni.yaml``."""
    return Path(str(package_files("xscale") / "configs" / CONFIG_NAME))


def _merge_known(base: dict, override: dict, where: str, source: str) -> dict:
    out = copy.deepcopy(base)
    for k, v in override.items():
        if k not in out:
            raise ConfigError(f"{source}: unknown key {where + str(k)!r}; valid here: {sorted(out)}")
        if isinstance(out[k], dict) and isinstance(v, dict) and k not in _FREE_MAPPINGS:
            out[k] = _merge_known(out[k], v, f"{where}{k}.", source)
        else:
            out[k] = v
    return out


def load_config(path: str | Path | None = None) -> dict[str, Any]:
    """The cohort configuration: the shipped defaults, overridden by ``path`` if given.

    Raises
    ------
    ConfigError
        On an unreadable file, an unknown key, or an invalid choice.
    """
    cfg = yaml.safe_load(default_config_path().read_text())
    if path is not None:
        cfg = _merge_known(cfg, load_file(path), "", str(path))
    choices = {("thickness", "regional_qc"): ("mask", "exclude", "ignore"),
               ("clinical", "source"): ("auto", "adnimerge", "dxsum"),
               ("map", "balance"): ("inverse-frequency", "resample", "none"),
               ("map", "target"): ("thinning_mm", "cohens_d")}
    for (sec, key), allowed in choices.items():
        if cfg[sec][key] not in allowed:
            raise ConfigError(f"ADNI configuration {sec}.{key}={cfg[sec][key]!r}; expected one of {list(allowed)}")
    bad = sorted(set(cfg["map"]["covariates"]) - {"age", "sex", "icv"})
    if bad:
        raise ConfigError(f"ADNI configuration map.covariates: unknown {bad}; expected a subset of [age, sex, icv]")
    return cfg


# --------------------------------------------------------------------------------------- input files


@dataclass(frozen=True)
class AdniFiles:
    """The user's ADNI files (paths are used for reading only, never copied or logged).

    Attributes
    ----------
    thickness : Path
        UCSF FreeSurfer table.
    clinical : dict of str to Path
        ``{'adnimerge': path}`` or ``{'dxsum': path, 'ptdemog': path}``.
    synthetic : bool
        True for a cohort written by :mod:`xscale.data.synthetic` (a ``SYNTHETIC_ADNI.json`` beside it).
    """

    thickness: Path
    clinical: dict[str, Path]
    synthetic: bool

    @property
    def source(self) -> str:
        """``'adnimerge'`` or ``'dxsum'``."""
        return "adnimerge" if "adnimerge" in self.clinical else "dxsum"

    def records(self) -> list[dict[str, Any]]:
        """``[{'role', 'file' (name only), 'size' (bytes), 'sha256'}]`` for provenance."""
        items = [("thickness", self.thickness), *self.clinical.items()]
        return [{"role": role, "file": p.name, "size": p.stat().st_size, "sha256": sha256_file(p)} for role, p in items]


def required_files_note() -> str:
    """Which ADNI files ``--adni`` needs and where to request access (from the manifest's ``restricted``)."""
    try:
        restricted = json.loads((project_root() / MANIFEST_NAME).read_text()).get("restricted", [])
    except (OSError, json.JSONDecodeError):
        restricted = []
    how, applied = [], set()
    for r in restricted:
        if "how_to_obtain" not in r:
            continue
        apply, sep, download = r["how_to_obtain"].partition("After approval, ")
        if sep and apply in applied:  # the same application covers every file: say it once
            how.append(f"[{r['key']}] After approval, {download}")
        else:
            how.append(f"[{r['key']}] {r['how_to_obtain']}")
            applied.add(apply)
    how = " ".join(how)
    return ("The paper's Alzheimer's disease result needs two restricted ADNI files that xscale never ships: "
            "(1) the UCSF FreeSurfer cortical thickness table, UCSFFSX51_<date>.csv (or UCSFFSX_<date>.csv / "
            "UCSFFSL_<date>.csv), and (2) ADNIMERGE.csv (or DXSUM_PDXCONV_ADNIALL.csv together with PTDEMOG.csv). "
            "Put them in one directory and run `xscale reproduce --adni DIR`. " + how)


def _classify(path: Path, patterns: dict[str, list[str]]) -> str | None:
    for role, pats in patterns.items():
        if any(path.match(p) for p in pats):
            return role
    return None


def find_files(paths: list[str | Path], cfg: dict[str, Any]) -> AdniFiles | None:
    """Recognise the user's ADNI files among directories and file paths, by file name.

    Parameters
    ----------
    paths : list of path
        Directories (searched, not recursively) and/or files.
    cfg : dict
        From :func:`load_config` (``files`` patterns, ``clinical.source``).

    Returns
    -------
    AdniFiles or None
        None when no ADNI file is found at all (the caller explains what is needed).

    Raises
    ------
    FileNotFoundError
        If a given path does not exist.
    DataFormatError
        If a file name matches no pattern, a role is matched by several files, or the set is
        incomplete (the message lists what was found and what is missing).
    """
    found: dict[str, list[Path]] = {}
    patterns = cfg["files"]
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise FileNotFoundError(f"--adni {p}: no such file or directory")
        if p.is_dir():
            for f in sorted(p.iterdir()):
                role = _classify(f, patterns) if f.is_file() else None
                if role:
                    found.setdefault(role, []).append(f)
        else:
            role = _classify(p, patterns)
            if role is None:
                raise DataFormatError(f"{p}: file name matches none of the ADNI patterns {patterns}")
            found.setdefault(role, []).append(p)
    if not found:
        return None
    many = {r: [f.name for f in fs] for r, fs in found.items() if len(fs) > 1}
    if many:
        raise DataFormatError(f"several files for the same ADNI table: {many}; give the one to use as a file path")
    one = {r: fs[0] for r, fs in found.items()}
    source = cfg["clinical"]["source"]
    if source == "auto":
        source = "adnimerge" if "adnimerge" in one else "dxsum"
    need = ["thickness"] + (["adnimerge"] if source == "adnimerge" else ["dxsum", "ptdemog"])
    missing = [r for r in need if r not in one]
    if missing:
        wanted = " and ".join(f"{r} {patterns[r]}" for r in missing)
        if cfg["clinical"]["source"] == "auto" and not {"dxsum", "ptdemog"} & set(one):
            wanted = " and ".join(f"{r} {patterns[r]}" for r in missing if r == "thickness") or ""
            wanted += (" and " if wanted else "") + (f"adnimerge {patterns['adnimerge']} (or dxsum {patterns['dxsum']} "
                                                     f"with ptdemog {patterns['ptdemog']})")
        raise DataFormatError(f"ADNI files incomplete: found {[f.name for f in one.values()]}, missing {wanted}. "
                              + required_files_note())
    synthetic = any((f.parent / SYNTHETIC_MARKER).is_file() for f in one.values())
    return AdniFiles(one["thickness"], {r: one[r] for r in need[1:]}, synthetic)


# --------------------------------------------------------------------------------------- reading


def _read(path: Path) -> pd.DataFrame:
    """All cells as stripped strings; only blank / NA cells are missing. Row i is CSV line i + 2."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=["", "NA", "NaN", "nan"])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path.name}: not a readable CSV ({exc})") from exc
    table.columns = [str(c).strip() for c in table.columns]
    return table.apply(lambda col: col.str.strip()).reset_index(drop=True)


def _require(table: pd.DataFrame, cols: list[str], path: Path, what: str) -> None:
    missing = [c for c in cols if c not in table.columns]
    if missing:
        raise DataFormatError(f"{path.name}: missing column(s) {missing} ({what}); the file has "
                              f"{len(table.columns)} columns starting {list(table.columns[:8])}")


def _rows(index: pd.Index | np.ndarray, limit: int = 8) -> str:
    lines = [int(i) + 2 for i in index]
    more = f" and {len(lines) - limit} more" if len(lines) > limit else ""
    return ", ".join(map(str, lines[:limit])) + more


def _numeric(table: pd.DataFrame, col: str, path: Path, what: str) -> pd.Series:
    """Column as float (blank -> NaN); raises on any non-numeric cell, naming file, column and rows."""
    values = pd.to_numeric(table[col], errors="coerce")
    bad = table[col].notna() & values.isna()
    if bad.any():
        first = table.loc[bad, col].iloc[0]
        raise DataFormatError(f"{path.name}: column {col!r} ({what}) must be numeric; non-numeric value "
                              f"{first!r} at CSV line(s) {_rows(table.index[bad])}")
    return values.astype(float)


def _code(value: Any) -> str | None:
    """A diagnosis / sex code as text: '1.0' -> '1'; missing -> None."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or pd.isna(value):
        return None
    s = str(value).strip()
    return re.sub(r"^(-?\d+)\.0+$", r"\1", s) or None


def region_columns(table: pd.DataFrame, path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """DK region -> the table's ``ST<n>TA`` column, through the embedded code map.

    Returns
    -------
    columns : dict
        Region (``L_bankssts`` ...) -> column name as in the file (suffix included).
    codes : dict
        Region -> ``ST<n>TA`` code.

    Raises
    ------
    DataFormatError
        If a code is missing or matched by several columns.
    """
    mapping = pd.read_csv(io.BytesIO(read_verified(MAP_KEY)))
    by_code: dict[str, list[str]] = {}
    for c in table.columns:
        m = TA_COLUMN.match(c)
        if m:
            by_code.setdefault(m.group(1), []).append(c)
    missing = [f"{r.code} ({r.dk})" for r in mapping.itertuples() if r.code not in by_code]
    dup = {r.code: by_code[r.code] for r in mapping.itertuples() if len(by_code.get(r.code, [])) > 1}
    if missing or dup:
        raise DataFormatError(f"{path.name}: cortical thickness columns ST<n>TA (mm) " +
                              (f"missing for {missing}" if missing else "") + ("; " if missing and dup else "") +
                              (f"ambiguous (several columns per code) {dup}" if dup else ""))
    return ({r.dk: by_code[r.code][0] for r in mapping.itertuples()}, {r.dk: r.code for r in mapping.itertuples()})
