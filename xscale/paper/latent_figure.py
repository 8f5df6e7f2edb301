"""Fig 4 drawn: latent programs (PCA, t-SNE) by lobe and by vulnerability, clusters, gene modules."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap, Normalize

from xscale.data.atlas import lobe_of
from xscale.paper import surface
from xscale.paper.figio import LOBE_COLOURS, panel_label
from xscale.paper.latent import LatentView, latent_view
from xscale.paper.runs import ensure_run
from xscale.paper.settings import PaperParams

CLUSTER_COLOURS = plt.get_cmap("tab10").colors


def _by_lobe(ax, xy: np.ndarray, regions) -> None:
    lobes = lobe_of(regions)
    for lo, c in LOBE_COLOURS.items():
        sel = lobes == lo
        ax.scatter(xy[sel, 0], xy[sel, 1], s=22, color=c, label=lo, edgecolors="white", linewidths=0.4)
    ax.legend(fontsize=6.5, loc="best", title="lobe", title_fontsize=7, markerscale=0.8)


def _by_value(fig, ax, xy: np.ndarray, values: np.ndarray, units: str) -> None:
    norm = surface.symmetric_norm(values)
    ok = np.isfinite(values)
    ax.scatter(xy[~ok, 0], xy[~ok, 1], s=22, facecolors="none", edgecolors="0.5", label="no value")
    sc = ax.scatter(xy[ok, 0], xy[ok, 1], s=22, c=values[ok], cmap="RdBu_r", norm=norm, edgecolors="0.3",
                    linewidths=0.3)
    cb = fig.colorbar(sc, ax=ax, fraction=0.05, pad=0.01)
    cb.set_label(f"thinning ({units})", fontsize=7)
    cb.ax.tick_params(labelsize=6)


def _axes_labels(ax, kind: str, v: LatentView) -> None:
    if kind == "pca":
        ax.set_xlabel(f"program 1 ({100 * v.explained[0]:.0f}% of latent variance)", fontsize=8)
        ax.set_ylabel(f"program 2 ({100 * v.explained[1]:.0f}%)", fontsize=8)
    else:
        ax.set_xlabel("t-SNE 1 (arbitrary units)", fontsize=8)
        ax.set_ylabel("t-SNE 2 (arbitrary units)", fontsize=8)
    ax.tick_params(labelsize=7)


def _modules(fig, ax, v: LatentView) -> None:
    genes = list(dict.fromkeys(v.modules["gene"]))
    mat = v.gene_r.loc[genes].to_numpy().T  # (P, genes)
    im = ax.imshow(mat, cmap="PuOr_r", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(len(genes)))
    ax.set_xticklabels(genes, rotation=90, fontsize=7)
    ax.set_yticks(range(len(mat)))
    ax.set_yticklabels([f"program {i + 1}\nr(thinning) = {v.program_r[i]:.2f}" for i in range(len(mat))], fontsize=7)
    for p, group in v.modules.groupby("program"):  # box each program's module
        cols = [genes.index(g) for g in group["gene"]]
        ax.add_patch(plt.Rectangle((min(cols) - 0.5, p - 1.5), max(cols) - min(cols) + 1, 1, fill=False, lw=1.5))
    cb = fig.colorbar(im, ax=ax, fraction=0.03, pad=0.01)
    cb.set_label("Pearson r, gene expression\nvs program score (regions)", fontsize=7)
    size = int(v.modules.groupby("program").size().iloc[0])
    ax.set_title(f"gene modules: the {size} genes most associated with each program (boxed), and their r with "
                 "every program", fontsize=9)


def figure(params: PaperParams):
    """Fig 4 for the first latent-variable model of ``params.models`` (fitted or reused).

    Returns
    -------
    matplotlib Figure
    """
    model = params.latent_model()
    v = latent_view(ensure_run(params, model), params.seed)
    fig = plt.figure(figsize=(15, 13), layout="constrained")
    gs = fig.add_gridspec(4, 4, height_ratios=[1, 1, 0.9, 0.2])
    axes = [fig.add_subplot(gs[0, i]) for i in range(4)]
    for ax, (kind, colour) in zip(axes, [("pca", "lobe"), ("pca", "value"), ("tsne", "lobe"), ("tsne", "value")]):
        xy = v.scores[:, :2] if kind == "pca" else v.embedding
        if colour == "lobe":
            _by_lobe(ax, xy, v.regions)
        else:
            _by_value(fig, ax, xy, v.thinning, params.units)
        _axes_labels(ax, kind, v)
        ax.set_title(f"{'PCA' if kind == 'pca' else 't-SNE'} of the latent,\nregions by "
                     f"{'lobe' if colour == 'lobe' else 'vulnerability (thinning)'}", fontsize=9)
    axc = fig.add_subplot(gs[1, 0])
    for c in range(v.k):
        sel = v.labels == c
        axc.scatter(v.embedding[sel, 0], v.embedding[sel, 1], s=22, color=CLUSTER_COLOURS[c], label=f"cluster {c + 1}")
    axc.legend(fontsize=6.5)
    _axes_labels(axc, "tsne", v)
    axc.set_title(f"{v.k} clusters by latent similarity (Ward;\nsilhouette {v.silhouette:.2f}, "
                  f"ARI with lobes {v.ari_lobes:.2f})", fontsize=9)
    axm = fig.add_subplot(gs[1, 1:])
    _modules(fig, axm, v)
    sax = surface.surface_axes(fig, gs[2, :])
    cmap = ListedColormap(CLUSTER_COLOURS[:v.k])
    norm = Normalize(0.5, v.k + 0.5)
    surface.draw(sax, v.labels.astype(float) + 1, v.regions, norm, cmap)
    cb = surface.colorbar(fig, gs[3, :], norm, cmap, "cluster of each region (as in e)")
    cb.set_ticks(range(1, v.k + 1))
    for ax, letter in zip(axes + [axc, axm, sax[0]], "abcdefg"):
        panel_label(ax, letter)
    fig.suptitle(params.title(f"Fig 4. Latent transcriptomic programs of {model} ({v.latent_dim}-dim latent, "
                              "in-sample fit)"), fontsize=11)
    return fig
