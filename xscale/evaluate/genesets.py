"""Gene-specificity null: the same model refitted on random landmark-sized gene sets.

The spatial nulls ask whether the model's fit beats maps with the same spatial
autocorrelation; they do not ask whether it needs *these* genes. Brain maps share a few
dominant cortical gradients, and almost any few hundred genes carry them, so a fit with the
L1000 landmark genes may be matched by a fit with arbitrary genes (Fulcher et al. 2021, Nat
Commun 12:2669; Wei et al. 2022, Hum Brain Mapp 43:885). Family ``geneset`` refits the whole
pipeline with the real target and, in place of the landmark panel, G genes drawn at random
(without replacement within a set) from the whole embedded AHBA transcriptome (12,668 genes
with differential stability > 0.2), each set normalised exactly as the panel is. The score
of the landmark fit is then ranked among the random sets' scores: p = P(random set >= panel).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from xscale.data.ahba import load_expression, normalise
from xscale.errors import ConfigError
from xscale.interfaces import BrainData

FAMILY = "geneset"


@dataclass(frozen=True, eq=False)
class GeneUniverse:
    """The whole transcriptome random gene sets are drawn from, aligned to the data's regions.

    Attributes
    ----------
    expression : (R, N_all) ndarray, float64
        Un-normalised AHBA expression (abagen's scaled robust sigmoid, in [0, 1]).
    genes : tuple of str, length N_all
        HGNC symbols.
    normalise : str
        How each drawn set is z-scored (:func:`xscale.data.ahba.normalise`), as the panel was.
    """

    expression: np.ndarray
    genes: tuple[str, ...]
    normalise: str

    def draw(self, size: int, n: int, seed: int) -> np.ndarray:
        """``n`` random gene sets of ``size`` genes, as column indices.

        Parameters
        ----------
        size : int
            G, the panel's gene count.
        n : int
            Number of sets.
        seed : int

        Returns
        -------
        (n, size) int64 ndarray
            Each row sorted, without repeats; rows drawn independently (a set may include
            landmark genes: about 6% of the transcriptome is in the panel).

        Raises
        ------
        ConfigError
            If ``size`` is not smaller than the transcriptome (with ``data.panel='all'`` there
            is nothing to draw from).
        """
        total = len(self.genes)
        if not 0 < size < total:
            raise ConfigError(f"null family {FAMILY!r}: sets of {size} genes from {total}; the panel must be a "
                              f"strict subset of the transcriptome (data.panel='l1000', not 'all')")
        rng = np.random.default_rng(seed)
        sets = [np.sort(rng.choice(total, size, replace=False)) for _ in range(n)]
        return np.array(sets, dtype=np.int64).reshape(n, size)

    def expressions(self, sets: np.ndarray) -> torch.Tensor:
        """(N, R, G) float32 tensor: each set's expression, normalised as the panel was."""
        sets = np.atleast_2d(np.asarray(sets, dtype=np.int64))
        out = np.empty((len(sets), self.expression.shape[0], sets.shape[1]))
        for i, s in enumerate(sets):
            out[i] = normalise(self.expression[:, s], self.normalise)
        return torch.as_tensor(out, dtype=torch.float32)

    def data_for(self, data: BrainData, sets: np.ndarray) -> list[BrainData]:
        """``data`` with its expression and genes replaced by each set's (target, graph unchanged)."""
        sets = np.atleast_2d(np.asarray(sets, dtype=np.int64))
        return [BrainData(expression=x, edge_index=data.edge_index, centroids=data.centroids, target=data.target,
                          regions=data.regions, genes=tuple(self.genes[i] for i in s), target_name=data.target_name)
                for x, s in zip(self.expressions(sets), sets)]


def gene_universe(regions: tuple[str, ...], missing_regions: str, how: str) -> GeneUniverse:
    """The whole embedded transcriptome on ``regions`` (same missing-region policy as the panel).

    Parameters
    ----------
    regions : tuple of str
        The data's DK regions, in order.
    missing_regions : str
        The policy the panel was loaded with (:func:`xscale.data.ahba.load_expression`).
    how : {'region', 'gene', 'none'}
        The panel's normalisation.

    Raises
    ------
    DataIntegrityError
        If the embedded AHBA file differs from its checksum.
    ValueError
        If the transcriptome's regions differ from ``regions``.
    """
    return _universe(tuple(regions), missing_regions, how)


@lru_cache(maxsize=2)
def _universe(regions: tuple[str, ...], missing_regions: str, how: str) -> GeneUniverse:
    frame = load_expression("all", missing_regions).frame
    if tuple(frame.index) != regions:
        raise ValueError(f"null family {FAMILY!r}: the AHBA transcriptome's regions {len(frame.index)} differ from "
                         f"the data's {len(regions)} (missing_regions={missing_regions!r})")
    return GeneUniverse(frame.to_numpy(dtype=float), tuple(frame.columns), how)
