"""Cortical thinning target maps on the 68 DK regions.

Three formats are read, all aligned to the DK order by region name:

* an embedded ENIGMA map, ``enigma:<name>`` (see :data:`ENIGMA_MAPS`);
* a user CSV in ENIGMA's summary-statistics format (columns ``Structure`` and ``d_icv``);
* a user CSV with exactly two columns ``region,value``, value already oriented so that
  positive = thinner in patients.

ENIGMA's ``d_icv`` is Cohen's d (patients minus controls, adjusted for intracranial
volume), negative where patients' cortex is thinner, so the thinning map is ``-d_icv``.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from xscale.data.atlas import load_atlas
from xscale.data.manifest import entries, read_verified, sha256_bytes
from xscale.errors import DataFormatError

log = logging.getLogger(__name__)

#: Embedded ENIGMA maps: short name -> disorder.
ENIGMA_MAPS = {
    "22q": "22q11.2 deletion syndrome",
    "adhd": "ADHD (adults)",
    "asd": "autism spectrum disorder",
    "bd": "bipolar disorder (adults)",
    "epilepsy": "epilepsy (all)",
    "mdd": "major depressive disorder (adults)",
    "ocd": "obsessive-compulsive disorder (adults)",
    "scz": "schizophrenia",
}


@dataclass(frozen=True)
class TargetMap:
    """A thinning map aligned to a region list.

    Attributes
    ----------
    name : str
        ``enigma:scz`` or the user file's path.
    values : (R,) float ndarray
        Thinning (positive = thinner in patients; Cohen's d units for ENIGMA maps), NaN where
        the source has no value.
    source : str
        File the values came from.
    sha256 : str
        Hash of the bytes that were parsed.
    regions : tuple of str
        Regions of ``values``, in order (empty when only the caller knows them).
    """

    name: str
    values: np.ndarray
    source: str
    sha256: str
    regions: tuple[str, ...] = ()

    @property
    def missing(self) -> list[int]:
        """Indices of regions with a NaN value."""
        return np.flatnonzero(~np.isfinite(self.values)).tolist()

    def aligned(self, regions: tuple[str, ...]) -> TargetMap:
        """The map on ``regions`` (a subset of :attr:`regions`, e.g. 66 after dropping unsampled ones).

        Used for maps computed in memory, such as the ADNI thinning map
        (:func:`xscale.data.adni_thinning.thinning_map`).

        Raises
        ------
        ValueError
            If a region is not in :attr:`regions`.
        """
        unknown = [r for r in regions if r not in self.regions]
        if unknown:
            raise ValueError(f"target {self.name!r} has no value for regions {unknown}")
        pos = {r: i for i, r in enumerate(self.regions)}
        return TargetMap(self.name, self.values[[pos[r] for r in regions]], self.source, self.sha256, tuple(regions))


def _parse(raw: bytes, source: str) -> pd.Series:
    try:
        table = pd.read_csv(io.BytesIO(raw))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{source}: not a readable CSV ({exc})") from exc
    cols = list(table.columns)
    if {"Structure", "d_icv"} <= set(cols):
        regions, raw_values, field, sign = table["Structure"], table["d_icv"], "d_icv", -1.0
    elif [c.strip().lower() for c in cols] == ["region", "value"]:
        regions, raw_values, field, sign = table.iloc[:, 0], table.iloc[:, 1], cols[1], 1.0
    else:
        raise DataFormatError(
            f"{source}: unrecognised columns {cols}; expected ENIGMA summary statistics "
            "(columns 'Structure' and 'd_icv') or exactly two columns 'region,value'"
        )
    values = pd.to_numeric(raw_values, errors="coerce")
    bad = raw_values.notna() & values.isna()
    if bad.any():
        rows = [f"row {i + 2} ({regions.iloc[i]}: {raw_values.iloc[i]!r})" for i in np.flatnonzero(bad)]
        raise DataFormatError(f"{source}: field {field!r} must be numeric; non-numeric at {', '.join(rows)}")
    return pd.Series(sign * values.to_numpy(dtype=float), index=regions.astype(str).str.strip())


def _few(names: list[str], shown: int = 8) -> str:
    """``names`` as a list, cut after ``shown`` with the count of the rest."""
    if len(names) <= shown:
        return str(names)
    return f"{names[:shown]} and {len(names) - shown} more ({len(names)} in all)"


def _align(series: pd.Series, regions: tuple[str, ...], source: str) -> np.ndarray:
    dup = sorted(series.index[series.index.duplicated()].unique())
    unknown = sorted(set(series.index) - set(regions))
    missing = [r for r in regions if r not in set(series.index)]
    problems = []
    if dup:
        problems.append(f"duplicated regions {_few(dup)}")
    if unknown:
        problems.append(f"unknown regions {_few(unknown)} (expected DK names such as 'L_bankssts', 'R_insula'"
                        + ("; none of the file's names is one: FreeSurfer-style names such as 'lh_bankssts' "
                           "must be renamed" if len(missing) == len(regions) else "") + ")")
    if missing:
        problems.append(f"missing regions {_few(missing)} (a region without a value keeps its row, value empty)")
    if problems:
        raise DataFormatError(f"{source}: " + "; ".join(problems))
    return series.reindex(list(regions)).to_numpy(dtype=float)


MIN_REGIONS = 10  # regions with a value a map needs to be fitted and scored under cross-validation


def load_target(spec: str, regions: tuple[str, ...], log_missing: bool = True) -> TargetMap:
    """Load a thinning map and align it to ``regions``.

    Parameters
    ----------
    spec : str
        ``enigma:<name>`` for an embedded map (names in :data:`ENIGMA_MAPS`), or the path
        of a user CSV (ENIGMA format or ``region,value``).
    regions : tuple of str, length R
        Region order to align to (a file may list more regions, e.g. all 68 when R = 66
        after dropping unsampled regions; it may not list fewer or unknown ones).
    log_missing : bool
        Log the regions without a value (False for a pre-flight check).

    Returns
    -------
    TargetMap
        NaN values are kept (and logged); models exclude them from fitting and scoring.

    Raises
    ------
    DataIntegrityError
        If an embedded file differs from its manifest checksum.
    DataFormatError
        On unreadable files, unknown columns, non-numeric values, or unknown, missing or
        duplicated region names (all of them listed); on a map with fewer than
        :data:`MIN_REGIONS` finite values, or the same value everywhere; on a directory.
    FileNotFoundError
        If a user file does not exist.
    """
    if spec.startswith("enigma:"):
        if spec not in entries():
            raise DataFormatError(f"unknown embedded target {spec!r}; available: "
                                  + ", ".join(f"enigma:{k}" for k in ENIGMA_MAPS))
        raw, source = read_verified(spec), str(entries()[spec].display)
    else:
        path = Path(spec)
        if path.is_dir():
            raise DataFormatError(f"target {spec!r} is a directory; expected a CSV file or one of "
                                  + ", ".join(f"enigma:{k}" for k in ENIGMA_MAPS))
        if not path.is_file():
            raise FileNotFoundError(f"target file {spec!r} does not exist; give a CSV path or one of "
                                    + ", ".join(f"enigma:{k}" for k in ENIGMA_MAPS))
        raw, source = path.read_bytes(), str(path)
    series = _parse(raw, source)
    dk = load_atlas().regions  # a file covers all 68 regions, even those dropped later
    full = _align(series, dk, source)
    values = full[[dk.index(r) for r in regions]]
    finite = np.isfinite(values)
    if finite.sum() < MIN_REGIONS:
        raise DataFormatError(f"{source}: {int(finite.sum())} of {len(regions)} regions have a finite value; "
                              f"at least {MIN_REGIONS} are needed to fit and score a model under cross-validation")
    if np.ptp(values[finite]) == 0:
        raise DataFormatError(f"{source}: every region has the value {values[finite][0]:g}; a constant map "
                              "has nothing to predict (expected values that differ between regions)")
    nan = [regions[i] for i in np.flatnonzero(~finite)]
    if nan and log_missing:
        log.warning("%s: %d region(s) have no finite value (empty, NaN or infinite) and are excluded from "
                    "fitting and scoring: %s", source, len(nan), ", ".join(nan))
    return TargetMap(spec, values, source, sha256_bytes(raw), tuple(regions))
