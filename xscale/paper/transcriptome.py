"""Fig 3: transcriptomic organisation of the landmark genes across the DK regions.

Computed on the regions with AHBA samples only (66: R_frontalpole and R_temporalpole, copied
from their homologue for modelling, would add two duplicated rows here) and on abagen's
expression values before the per-region z-scoring the models use.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from scipy.cluster.hierarchy import leaves_list, linkage

from xscale.data.ahba import load_expression
from xscale.data.atlas import lobe_of
from xscale.paper.figio import LOBE_COLOURS, panel_label
from xscale.paper.settings import PaperParams


def sampled_expression() -> pd.DataFrame:
    """(66, G) landmark-gene expression of the regions with AHBA samples (scaled robust sigmoid, 0-1)."""
    return load_expression("l1000", "drop").frame


def pca_variance(frame: pd.DataFrame, k: int = 10) -> np.ndarray:
    """Share of across-region expression variance on each of the first ``k`` principal components.

    Parameters
    ----------
    frame : (R, G) DataFrame
        Regions as observations, genes as variables (each gene centred, not scaled).
    k : int

    Returns
    -------
    (k,) ndarray
        Explained-variance ratios, decreasing, summing to at most 1.
    """
    x = frame.to_numpy(dtype=float)
    x = x - x.mean(axis=0)
    s = np.linalg.svd(x, compute_uv=False)
    var = s ** 2
    return var[:k] / var.sum()


def _r2(y: np.ndarray, design: np.ndarray) -> np.ndarray:
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    res = y - design @ beta
    tot = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    return 1.0 - (res ** 2).sum(axis=0) / tot


def variance_partition(frame: pd.DataFrame) -> pd.DataFrame:
    """Split each gene's across-region variance into lobe, hemisphere and residual shares.

    Ordinary least squares per gene: lobe (6 levels) first, then hemisphere added
    (sequential sums of squares, so the three shares add up to 1).

    Parameters
    ----------
    frame : (R, G) DataFrame indexed by DK region

    Returns
    -------
    (G, 3) DataFrame indexed by gene
        ``lobe``, ``hemisphere``, ``residual``.

    Raises
    ------
    KeyError
        If an index entry is not a DK region.
    """
    regions = list(frame.index)
    lobes = lobe_of(regions)
    lobe_dummies = (lobes[:, None] == np.unique(lobes)[None, :]).astype(float)  # includes the intercept
    hemi = np.array([r.startswith("R_") for r in regions], dtype=float)[:, None]
    y = frame.to_numpy(dtype=float)
    r2_lobe = _r2(y, lobe_dummies)
    r2_full = _r2(y, np.hstack([lobe_dummies, hemi]))
    return pd.DataFrame({"lobe": r2_lobe, "hemisphere": r2_full - r2_lobe, "residual": 1.0 - r2_full},
                        index=frame.columns)


def cluster_order(matrix: np.ndarray) -> np.ndarray:
    """Row order of ``matrix`` (n, m) by average-linkage clustering on correlation distance."""
    return leaves_list(linkage(np.asarray(matrix, dtype=float), method="average", metric="correlation",
                               optimal_ordering=True))


def top_variance_genes(frame: pd.DataFrame, k: int = 20) -> pd.Series:
    """The ``k`` genes whose expression varies most across regions: standard deviation, decreasing."""
    return frame.std(axis=0).sort_values(ascending=False).iloc[:k]


def _heatmap(fig, spec, frame: pd.DataFrame) -> tuple:
    z = (frame - frame.mean()) / frame.std()
    rows, cols = cluster_order(z.to_numpy()), cluster_order(z.to_numpy().T)
    zz = z.iloc[rows, cols]
    sub = spec.subgridspec(1, 2, width_ratios=[0.035, 1], wspace=0.01)
    strip, ax = fig.add_subplot(sub[0, 0]), fig.add_subplot(sub[0, 1])
    lobes = lobe_of(list(zz.index))
    names = list(LOBE_COLOURS)
    strip.imshow(np.array([names.index(lo) for lo in lobes])[:, None], aspect="auto",
                 cmap=ListedColormap(list(LOBE_COLOURS.values())), vmin=-0.5, vmax=len(names) - 0.5,
                 interpolation="nearest")
    strip.set_xticks([0])
    strip.set_xticklabels(["lobe"], fontsize=7, rotation=90)
    strip.set_yticks(range(len(zz)))
    strip.set_yticklabels(zz.index, fontsize=5.5)
    im = ax.imshow(zz.to_numpy(), aspect="auto", cmap="RdBu_r", vmin=-3, vmax=3, interpolation="nearest")
    ax.set_yticks([])
    ax.set_xlabel(f"{zz.shape[1]} landmark genes, ordered by clustering (average linkage, correlation)", fontsize=8)
    ax.set_xticks([])
    ax.set_title(f"region x gene expression, {zz.shape[0]} sampled regions (rows clustered)", fontsize=9)
    cb = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.01)
    cb.set_label("expression z-score (per gene, across regions)", fontsize=8)
    handles = [plt.Line2D([], [], marker="s", ls="", color=c, label=lo) for lo, c in LOBE_COLOURS.items()]
    ax.legend(handles=handles, fontsize=7, ncol=6, loc="upper center", bbox_to_anchor=(0.5, -0.03),
              title="lobe", title_fontsize=7, frameon=False)
    return strip, ax


def figure(params: PaperParams):
    """Fig 3: clustered region x gene heatmap, variance decomposition, top-variance genes.

    Returns
    -------
    matplotlib Figure
    """
    frame = sampled_expression()
    fig = plt.figure(figsize=(14, 11), layout="constrained")
    gs = fig.add_gridspec(3, 2, width_ratios=[2.1, 1])
    strip, axh = _heatmap(fig, gs[:, 0], frame)
    axp, axv, axt = (fig.add_subplot(gs[i, 1]) for i in range(3))
    ratios = pca_variance(frame)
    k = np.arange(1, len(ratios) + 1)
    axp.bar(k, 100 * ratios, color="tab:blue", label="component")
    axp.plot(k, 100 * np.cumsum(ratios), "o-", color="k", ms=3, label="cumulative")
    axp.set_xlabel("principal component of the regions x genes matrix", fontsize=8)
    axp.set_ylabel("variance explained (%)", fontsize=8)
    axp.set_xticks(k)
    axp.legend(fontsize=7)
    axp.set_title("variance decomposition: principal components", fontsize=9)
    part = variance_partition(frame)
    axv.boxplot([100 * part[c] for c in part.columns], tick_labels=[f"{c}\n(mean {100 * part[c].mean():.0f}%)"
                                                                    for c in part.columns], showfliers=False)
    axv.set_ylabel("share of a gene's variance\nacross regions (%)", fontsize=8)
    axv.tick_params(axis="x", labelsize=8)
    axv.set_title(f"variance decomposition per gene ({len(part)} genes)\nlobe first, then hemisphere (OLS)",
                  fontsize=9)
    top = top_variance_genes(frame)[::-1]
    axt.barh(range(len(top)), top.to_numpy(), color="tab:gray")
    axt.set_yticks(range(len(top)))
    axt.set_yticklabels(top.index, fontsize=7)
    axt.set_xlabel("SD across regions (scaled robust sigmoid units, 0-1)", fontsize=8)
    axt.set_title(f"the {len(top)} highest-variance landmark genes", fontsize=9)
    for ax, letter in zip((strip, axp, axv, axt), "abcd"):
        panel_label(ax, letter)
    data = f"AHBA (abagen, 6 donors): {frame.shape[1]} L1000 landmark genes x {frame.shape[0]} sampled DK regions"
    fig.suptitle(params.title("Fig 3. Transcriptomic organisation of the landmark genes across regions", data,
                              fitted=False),
                 fontsize=11)
    return fig
