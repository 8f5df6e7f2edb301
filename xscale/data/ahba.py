"""AHBA expression on the 68 DK regions, with an explicit policy for unsampled regions.

Source: ``data/ahba/desikan_r0.2.csv.bz2`` (abagen-processed Allen Human Brain Atlas
microarray data, genes with differential stability r > 0.2; values of the ENIGMA Toolbox).
R_frontalpole and R_temporalpole hold no values: only 2 of the 6 AHBA donors were sampled
in the right hemisphere.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from xscale.data.atlas import homologue_index, load_atlas
from xscale.data.lincs import PanelMatch, match_landmarks
from xscale.data.manifest import project_root, read_verified
from xscale.errors import DataFormatError

log = logging.getLogger(__name__)

PANELS = ("l1000", "all")
MISSING_POLICIES = ("copy-homologue", "drop", "fail")
NORMALISATIONS = ("region", "gene", "none")
FILE = "data/ahba/desikan_r0.2.csv.bz2"


@dataclass(frozen=True)
class Expression:
    """A parcellated expression matrix and how it was made.

    Attributes
    ----------
    frame : (R, G) DataFrame
        Rows DK regions in canonical order (index ``Region``), columns HGNC symbols, values
        abagen's scaled-robust-sigmoid expression in [0, 1] (before normalisation).
    panel : str
        ``'l1000'`` or ``'all'``.
    match : PanelMatch or None
        Landmark matching report for ``panel='l1000'``.
    filled : dict of str to str
        Region -> homologue it was copied from (policy ``copy-homologue``).
    dropped : tuple of str
        Regions removed (policy ``drop``).
    """

    frame: pd.DataFrame
    panel: str
    match: PanelMatch | None = None
    filled: dict[str, str] = field(default_factory=dict)
    dropped: tuple[str, ...] = ()


def _read_matrix() -> pd.DataFrame:
    frame = pd.read_csv(io.BytesIO(read_verified("ahba")), compression="bz2", index_col=0)
    regions = load_atlas().regions
    if tuple(frame.index) != regions:
        raise DataFormatError(f"{FILE}: rows must be the 68 DK regions in order {regions[0]} ... {regions[-1]}; "
                              f"got {list(frame.index[:3])} ... ({len(frame)} rows)")
    return frame


def _apply_missing_policy(frame: pd.DataFrame, policy: str) -> tuple[pd.DataFrame, dict[str, str], tuple[str, ...]]:
    empty = frame.index[frame.isna().all(axis=1)].tolist()
    partial = frame.index[frame.isna().any(axis=1) & ~frame.isna().all(axis=1)].tolist()
    if partial:
        raise DataFormatError(f"{FILE}: regions {partial} have some but not all genes missing; "
                              "expected each region complete or entirely unsampled")
    if not empty:
        return frame, {}, ()
    if policy == "fail":
        raise DataFormatError(f"{FILE}: regions {empty} have no AHBA samples and missing_regions='fail'; "
                              f"choose one of {MISSING_POLICIES}")
    if policy == "drop":
        log.warning("AHBA: dropping %d unsampled regions %s (missing_regions='drop')", len(empty), empty)
        return frame.drop(index=empty), {}, tuple(empty)
    if policy != "copy-homologue":
        raise ValueError(f"missing_regions={policy!r}; expected one of {MISSING_POLICIES}")
    hom = homologue_index(tuple(frame.index))
    out, filled = frame.copy(), {}
    for r in empty:
        src = frame.index[hom[frame.index.get_loc(r)]]
        if src in empty:
            raise DataFormatError(f"{FILE}: {r} and its homologue {src} are both unsampled; cannot copy")
        out.loc[r] = frame.loc[src]
        filled[r] = src
    log.warning("AHBA: %d unsampled regions filled from their other-hemisphere homologue: %s "
                "(missing_regions='copy-homologue'; only 2 of 6 AHBA donors sampled the right hemisphere)",
                len(filled), ", ".join(f"{k} <- {v}" for k, v in filled.items()))
    return out, filled, ()


def load_expression(panel: str = "l1000", missing_regions: str = "copy-homologue") -> Expression:
    """Load the embedded AHBA DK expression matrix.

    Parameters
    ----------
    panel : {'l1000', 'all'}
        ``'l1000'``: the LINCS L1000 landmark genes found in the matrix (matched by Entrez ID;
        about 780-790 of 978, logged with the unmatched ones). ``'all'``: all 12,668 genes.
    missing_regions : {'copy-homologue', 'drop', 'fail'}
        What to do with regions without samples (R_frontalpole, R_temporalpole):
        copy the left-hemisphere homologue (default, the usual practice), drop them, or raise.

    Returns
    -------
    Expression
        (R, G) matrix with R = 68 (66 with ``'drop'``). The result is cached per process:
        treat ``frame`` as read-only.

    Raises
    ------
    DataIntegrityError
        If the file differs from its manifest checksum.
    DataFormatError
        If rows are not the DK regions in order, or missing_regions='fail' meets a gap.
    ValueError
        On an unknown ``panel`` or ``missing_regions``.
    """
    if panel not in PANELS:
        raise ValueError(f"panel={panel!r}; expected one of {PANELS}")
    if missing_regions not in MISSING_POLICIES:
        raise ValueError(f"missing_regions={missing_regions!r}; expected one of {MISSING_POLICIES}")
    return _load_expression(project_root(), panel, missing_regions)


@lru_cache(maxsize=4)
def _whole_transcriptome(root: Path, missing_regions: str) -> tuple[pd.DataFrame, dict[str, str], tuple[str, ...]]:
    """Cached per (project root, policy): verified, parsed, gaps filled and logged once per process,
    whichever panels are then taken from it (an evaluation with the gene-set null takes both)."""
    return _apply_missing_policy(_read_matrix(), missing_regions)


@lru_cache(maxsize=8)
def _load_expression(root: Path, panel: str, missing_regions: str) -> Expression:
    """Cached per (project root, options)."""
    frame, filled, dropped = _whole_transcriptome(root, missing_regions)
    match = None
    if panel == "l1000":
        match = match_landmarks(tuple(frame.columns))
        log.info("%s", match.summary())
        frame = frame[list(match.genes)]
    return Expression(frame, panel, match, dict(filled), dropped)  # each panel's own report


def normalise(values: np.ndarray, how: str = "region") -> np.ndarray:
    """Z-score an (R, G) expression array.

    Parameters
    ----------
    values : (R, G) ndarray
    how : {'region', 'gene', 'none'}
        ``'region'``: each region's profile across genes (the paper: "expression
        normalised per region"); ``'gene'``: each gene across regions; ``'none'``.

    Returns
    -------
    (R, G) ndarray, float64

    Raises
    ------
    ValueError
        On an unknown ``how`` or a constant row/column.
    """
    if how not in NORMALISATIONS:
        raise ValueError(f"normalise={how!r}; expected one of {NORMALISATIONS}")
    x = np.asarray(values, dtype=float)
    if how == "none":
        return x
    axis = 1 if how == "region" else 0
    sd = x.std(axis=axis, keepdims=True)
    if np.any(sd == 0):
        raise ValueError(f"normalise={how!r}: a constant {'region' if axis == 1 else 'gene'} cannot be z-scored")
    return (x - x.mean(axis=axis, keepdims=True)) / sd
