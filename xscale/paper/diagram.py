"""Fig 1 drawn: the data-flow diagram with real counts, and the quality-control panels."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from xscale.data.atlas import lobe_of
from xscale.paper import workflow
from xscale.paper.figio import LOBE_COLOURS, panel_label
from xscale.paper.settings import PaperParams

_BOX_W, _BOX_H = 0.175, 0.24
_COLS = (0.09, 0.29, 0.49, 0.69, 0.895)
_LANES = (0.82, 0.5, 0.18)
_LANE_COLOURS = ("#DDEEFF", "#E8F5E0", "#FDEBD3")


def _box(ax, col: int, y: float, text: str, colour: str) -> tuple[float, float]:
    x = _COLS[col]
    ax.add_patch(FancyBboxPatch((x - _BOX_W / 2, y - _BOX_H / 2), _BOX_W, _BOX_H, boxstyle="round,pad=0.008",
                                facecolor=colour, edgecolor="0.35", lw=0.8, transform=ax.transAxes))
    ax.text(x, y, text, ha="center", va="center", fontsize=7.2, transform=ax.transAxes, wrap=True)
    return x, y


def _arrow(ax, a: tuple[float, float], b: tuple[float, float]) -> None:
    dx = _BOX_W / 2 if abs(b[0] - a[0]) > 1e-6 else 0
    dy = _BOX_H / 2 if dx == 0 else 0
    sx = np.sign(b[0] - a[0]) if dx else 0
    sy = np.sign(b[1] - a[1]) if dy else 0
    ax.add_patch(FancyArrowPatch((a[0] + sx * dx, a[1] + sy * dy), (b[0] - sx * dx, b[1] - sy * dy),
                                 arrowstyle="-|>", mutation_scale=10, color="0.3", lw=1, transform=ax.transAxes))


def _fmt_range(lo: int, hi: int) -> str:
    return f"{lo:,}" if lo == hi else f"{lo:,}-{hi:,}"


def draw_workflow(ax, c: workflow.WorkflowCounts, params: PaperParams) -> None:
    """The pipeline as three lanes (expression, graph, target) converging on the models.

    Parameters
    ----------
    ax : Axes
        Drawn in axes coordinates; the axis frame is hidden.
    c : WorkflowCounts
    params : PaperParams
        Models, folds and null families named in the last two boxes.
    """
    ax.set_axis_off()
    sex = ", ".join(f"{n} {s}" for s, n in sorted(c.donor_sex.items(), reverse=True))
    filled = ", ".join(c.filled) or "none"
    ages = f"{c.donor_age[0]}-{c.donor_age[1]} years"
    e0 = _box(ax, 0, _LANES[0], f"AHBA microarray\n{c.donors} donors ({sex};\n{ages})\n"
              f"right hemisphere: {workflow.RIGHT_HEMISPHERE_DONORS} of {c.donors}", _LANE_COLOURS[0])
    e1 = _box(ax, 1, _LANES[0], f"abagen DK parcellation\n{c.regions} regions x {c.genes_matrix:,} genes\n"
              "(differential stability r > 0.2)", _LANE_COLOURS[0])
    e2 = _box(ax, 2, _LANES[0], f"LINCS L1000 landmarks\n{c.landmarks} genes; matched by\nEntrez ID: "
              f"{c.landmarks_found} kept,\n{c.landmarks - c.landmarks_found} not in the matrix", _LANE_COLOURS[0])
    e3 = _box(ax, 3, _LANES[0], f"expression X: {c.regions} x {c.landmarks_found}\nunsampled, copied from\n"
              f"homologue: {filled}\nz-scored per region", _LANE_COLOURS[0])
    g0 = _box(ax, 0, _LANES[1], f"DK atlas (abagen,\nfsaverage5 labels)\n{c.regions} cortical regions",
              _LANE_COLOURS[1])
    g1 = _box(ax, 1, _LANES[1], f"surface adjacency:\n{c.edges} edges ({c.edges_by_hemisphere['L']} left, "
              f"{c.edges_by_hemisphere['R']} right)\ncentroids (MNI152, mm)", _LANE_COLOURS[1])
    groups = ("subjects per region:\n" + "\n".join(f"{g} {_fmt_range(*v)}" for g, v in c.groups.items())
              if c.groups else "subjects per group:\nnot in the file")
    t0 = _box(ax, 0, _LANES[2], f"{params.target_label}\n{groups}", _LANE_COLOURS[2])
    t1 = _box(ax, 1, _LANES[2], f"thinning map y\n(positive = thinner in patients)\n{c.target_regions} of "
              f"{c.regions} regions with a value", _LANE_COLOURS[2])
    model = _box(ax, 3, (_LANES[1] + _LANES[2]) / 2, "models:\n" + "\n".join(params.models), "#EEEEEE")
    ev = _box(ax, 4, (_LANES[1] + _LANES[2]) / 2,
              f"in-sample fit (paper)\nblocked {params.folds}-fold CV\n(homologues together)\nnulls: "
              f"{', '.join(params.nulls)}\n({params.n_null} surrogates each)", "#EEEEEE")
    for a, b in ((e0, e1), (e1, e2), (e2, e3), (g0, g1), (t0, t1), (model, ev)):
        _arrow(ax, a, b)
    for src in (g1, t1):
        ax.add_patch(FancyArrowPatch((src[0] + _BOX_W / 2, src[1]), (model[0] - _BOX_W / 2, model[1]),
                                     arrowstyle="-|>", mutation_scale=10, color="0.3", lw=1, transform=ax.transAxes))
    ax.add_patch(FancyArrowPatch((e3[0], e3[1] - _BOX_H / 2), (model[0], model[1] + _BOX_H / 2), arrowstyle="-|>",
                                 mutation_scale=10, color="0.3", lw=1, transform=ax.transAxes))
    for y, name in zip(_LANES, ("expression", "graph", "target")):
        ax.text(-0.005, y, name, rotation=90, ha="right", va="center", fontsize=8, color="0.3", transform=ax.transAxes)


def _region_axis(ax, regions) -> None:
    ax.set_xticks(range(len(regions)))
    ax.set_xticklabels(regions, rotation=90, fontsize=5)
    ax.set_xlim(-0.7, len(regions) - 0.3)
    ax.axvline(33.5, color="0.6", lw=0.6, ls=":")


def draw_expression_qc(ax, summary) -> None:
    """Median and interquartile range of landmark-gene expression per region, coloured by lobe."""
    x = np.arange(len(summary))
    colours = [LOBE_COLOURS[lo] for lo in lobe_of(list(summary.index))]
    ax.vlines(x, summary["q25"], summary["q75"], colors=colours, lw=2, alpha=0.6)
    ax.scatter(x, summary["median"], c=colours, s=14, zorder=3, edgecolors=np.where(summary["copied"], "k", "none"))
    ax.set_ylabel("expression\n(scaled robust sigmoid, 0-1)", fontsize=8)
    ax.set_title("expression per region: median and IQR over the landmark genes (black edge: copied from homologue)",
                 fontsize=9)
    ax.tick_params(axis="x", labelbottom=False)
    ax.set_xlim(-0.7, len(summary) - 0.3)
    ax.axvline(33.5, color="0.6", lw=0.6, ls=":")


def draw_target_qc(ax, table: workflow.TargetTable, units: str) -> None:
    """The thinning map per region with its 95% confidence interval where the file gives an SE."""
    f = table.frame
    x = np.arange(len(f))
    colours = [LOBE_COLOURS[lo] for lo in lobe_of(list(f.index))]
    if f["se"].notna().any():
        ax.errorbar(x, f["thinning"], yerr=1.96 * f["se"].abs(), fmt="none", ecolor="0.6", lw=0.8)
    ax.scatter(x, f["thinning"], c=colours, s=14, zorder=3)
    missing = f.index[f["thinning"].isna()].tolist()
    ax.axhline(0, color="k", lw=0.6)
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi + 0.3 * (hi - lo))  # room for the lobe legend
    ax.set_ylabel(f"thinning ({units})\npositive = thinner", fontsize=8)
    ci = "95% CI = 1.96 |SE|" if f["se"].notna().any() else "no SE in the file"
    miss = f"; no value: {', '.join(missing)}" if missing else ""
    ax.set_title(f"target map per region ({ci}){miss}", fontsize=9)
    _region_axis(ax, list(f.index))


def draw_homologue_qc(ax, agreement) -> None:
    """Histogram of left-right homologue profile correlations; copied pairs marked."""
    real = agreement.loc[~agreement["copied"], "r"]
    ax.hist(real, bins=12, color="tab:gray", edgecolor="white")
    for lab in agreement.index[agreement["copied"]]:
        ax.axvline(agreement.loc[lab, "r"], color="tab:red", lw=1)
    ax.set_xlabel("Pearson r, left vs right region\n(landmark-gene profiles)", fontsize=8)
    ax.set_ylabel("homologue pairs", fontsize=8)
    ax.set_title(f"hemispheric agreement: median r = {real.median():.2f}\n"
                 f"(red: {int(agreement['copied'].sum())} copied pairs, r = 1)", fontsize=9)


def draw_groups_qc(ax, table: workflow.TargetTable) -> None:
    """Subjects per group in each region's estimate, where the file gives them."""
    f = table.frame
    if f["n_controls"].notna().any():
        x = np.arange(len(f))
        ax.plot(x, f["n_controls"], ".", ms=4, label="controls")
        ax.plot(x, f["n_patients"], ".", ms=4, label="patients")
        ax.set_ylabel("subjects", fontsize=8)
        ax.set_xlabel("DK region index (0-33 left, 34-67 right)", fontsize=8)
        ax.legend(fontsize=7)
        ax.set_ylim(0, None)
    else:
        ax.set_axis_off()
        ax.text(0.5, 0.5, f"{table.source}:\nno subject counts in the file", ha="center", va="center", fontsize=8)
    ax.set_title("subjects per group in each region's effect size", fontsize=9)


def figure(params: PaperParams):
    """Fig 1: workflow diagram (a) and QC panels (b-e) for ``params.target``.

    Returns
    -------
    matplotlib Figure
    """
    target = params.target_spec
    counts = workflow.workflow_counts(target)
    table = workflow.target_table(target)
    fig = plt.figure(figsize=(13, 13), layout="constrained")
    gs = fig.add_gridspec(4, 2, height_ratios=[3.2, 2.2, 1.5, 2.6])
    axd = fig.add_subplot(gs[0, :])
    draw_workflow(axd, counts, params)
    axc, axe = fig.add_subplot(gs[1, 0]), fig.add_subplot(gs[1, 1])
    draw_homologue_qc(axc, workflow.homologue_agreement())
    draw_groups_qc(axe, table)
    axb = fig.add_subplot(gs[2, :])
    draw_expression_qc(axb, workflow.region_expression_summary())
    axt = fig.add_subplot(gs[3, :], sharex=axb)
    draw_target_qc(axt, table, params.units)
    for ax, letter in zip((axd, axc, axe, axb, axt), "abcde"):
        panel_label(ax, letter)
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=lo) for lo, c in LOBE_COLOURS.items()]
    axt.legend(handles=handles, fontsize=7, ncol=6, loc="upper right", title="lobe", title_fontsize=7)
    fig.suptitle(params.title("Fig 1. Preprocessing workflow with real counts, and quality control"), fontsize=11)
    return fig
