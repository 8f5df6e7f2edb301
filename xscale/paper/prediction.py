"""Fig 5: prediction performance, in-sample (the paper's protocol) beside out-of-sample, with
spatial-null distributions and p-values, and the observed and predicted maps on the surface."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from xscale.evaluate.nulls import consensus_p
from xscale.evaluate.nulls import SPATIAL_NULLS
from xscale.paper import surface
from xscale.paper.figio import panel_label
from xscale.paper.runs import NullDistribution, Run, ensure_nulls, ensure_run
from xscale.paper.settings import PaperParams
from xscale.plotting import prediction_panel, shared_limits
from xscale.rundir import write_csv

#: The two evaluations always shown side by side.
SCHEMES = {"in-sample": "in-sample fit (paper protocol; not a prediction)",
           "blocked": "out-of-sample: spatially blocked CV (homologues together)"}
FAMILY_COLOURS = {"spin-vasa": "tab:purple", "spin-hungarian": "tab:pink", "spin-ab": "tab:olive",
                  "brainsmash": "tab:orange", "permutation": "tab:gray"}


@dataclass(frozen=True)
class ModelPrediction:
    """One model's run on the target and its null distributions.

    Attributes
    ----------
    run : Run
    nulls : dict of (scheme, family) to NullDistribution
    """

    run: Run
    nulls: dict[tuple[str, str], NullDistribution] = field(default_factory=dict)

    def consensus_p(self, scheme: str, stat: str = "r") -> float | None:
        """Largest p over the null families of ``scheme`` (the most conservative), None without nulls."""
        return consensus_p([getattr(n, f"p_{stat}") for (s, _), n in self.nulls.items()
                            if s == scheme and n.family in SPATIAL_NULLS])


def model_prediction(params: PaperParams, model: str) -> ModelPrediction:
    """Fit (or reuse) ``model`` on the target and refit it on ``params.n_null`` surrogates per family and scheme.

    Returns
    -------
    ModelPrediction
        Without nulls when ``params.n_null`` is 0.
    """
    run = ensure_run(params, model)
    nulls = {}
    if params.n_null > 0:
        for scheme in SCHEMES:
            for family in params.nulls:
                nulls[(scheme, family)] = ensure_nulls(params, run, scheme, family)
    return ModelPrediction(run, nulls)


def results_table(preds: list[ModelPrediction]) -> pd.DataFrame:
    """One row per model and scheme: R^2, r, null p-values per family and their consensus.

    Returns
    -------
    DataFrame
        Columns ``model``, ``evaluation``, ``R^2``, ``r``, ``p(r) <family>`` ..., ``consensus p(r)``,
        ``consensus p(R^2)``.
    """
    rows = []
    for mp in preds:
        for scheme, label in SCHEMES.items():
            s = mp.run.score(scheme)
            row = {"model": mp.run.model, "evaluation": label, "R^2": s["r2"], "r": s["r"]}
            for (sch, fam), n in mp.nulls.items():
                if sch == scheme:
                    row[f"p(r) {fam}"] = n.p_r
            row["consensus p(r)"] = mp.consensus_p(scheme, "r")
            row["consensus p(R^2)"] = mp.consensus_p(scheme, "r2")
            rows.append(row)
    return pd.DataFrame(rows)


def write_results(preds: list[ModelPrediction], stem: str | Path) -> Path:
    """Write :func:`results_table` as ``<stem>.csv`` atomically; return its path."""
    path = Path(f"{stem}.csv")
    return write_csv(path, results_table(preds))


def _null_panel(ax, mp: ModelPrediction, scheme: str, n_null: int) -> None:
    """Null distributions of r per family (histograms; a strip of points below 20 surrogates)."""
    observed = mp.run.score(scheme)["r"]
    nulls = [n for (s, _), n in mp.nulls.items() if s == scheme]
    if not nulls:
        ax.text(0.5, 0.5, "no nulls (n_null = 0)", ha="center", va="center", transform=ax.transAxes)
    for i, n in enumerate(nulls):
        vals = n.null_r[np.isfinite(n.null_r)]
        label = f"{n.family}: p(r) = {n.p_r:.3f}, p($R^2$) = {n.p_r2:.3f}"
        colour = FAMILY_COLOURS.get(n.family, "k")
        if n_null >= 20:
            ax.hist(vals, bins=min(20, n_null // 3), histtype="step", lw=1.5, color=colour, label=label)
        else:
            ax.plot(vals, np.full(len(vals), i + 1.0), "o", color=colour, ms=5, alpha=0.7, label=label)
    if nulls:  # the observed value is always in view
        lo, hi = ax.get_xlim()
        pad = 0.05 * (hi - lo)
        ax.set_xlim(min(lo, observed - pad), max(hi, observed + pad))
    if nulls and n_null < 20:
        ax.set_ylim(0, len(nulls) + 1.8)
        ax.set_yticks(range(1, len(nulls) + 1))
        ax.set_yticklabels([n.family for n in nulls], fontsize=7)
    else:
        ax.set_ylim(0, ax.get_ylim()[1] * 1.5)  # room for the legend
        ax.set_ylabel("surrogate maps", fontsize=8)
    ax.axvline(observed, color="tab:red", lw=1.5, label=f"observed r = {observed:.3f}")
    ax.set_xlabel("Pearson r of the model refitted on a surrogate map", fontsize=8)
    ax.legend(fontsize=6.5, loc="upper left")
    ax.set_title(f"null distributions, {scheme}\n({n_null} per family; one-sided p >= {1 / (n_null + 1):.3f})",
                 fontsize=9)


def figure(params: PaperParams, mp: ModelPrediction):
    """Fig 5 for one model: scatters (in-sample | blocked CV), nulls for both, and the observed,
    fitted and out-of-fold predicted maps on the surface.

    Returns
    -------
    matplotlib Figure
    """
    pred = mp.run.predictions
    regions = tuple(pred["region"])
    hemi = np.array([r[0] for r in regions])
    y = pred["observed"].to_numpy(dtype=float)
    fitted = pred["fitted_in_sample"].to_numpy(dtype=float)
    oof = pred["predicted_out_of_fold"].to_numpy(dtype=float)
    ok = np.isfinite(y) & np.isfinite(oof)
    fig = plt.figure(figsize=(15, 14), layout="constrained")
    gs = fig.add_gridspec(5, 4, height_ratios=[1.35, 1, 1, 1, 0.22])
    top = [fig.add_subplot(gs[0, i]) for i in range(4)]
    ivs = [pred[[f"{k}_lower_95", f"{k}_upper_95"]].to_numpy(dtype=float).T for k in ("fitted", "out_of_fold")]
    lims = shared_limits(y[ok], [fitted[ok], oof[ok]] + [iv[:, ok] for iv in ivs if np.isfinite(iv[:, ok]).all()])
    folds = mp.run.metrics["blocked_cv"].get("folds", "")
    prediction_panel(top[0], y, fitted, hemi, mp.run.score("in-sample"),
                     "in-sample fit (paper protocol)\nnot a prediction", "tab:gray", "fitted", params.units, lims,
                     ivs[0])
    prediction_panel(top[1], y, oof, hemi, mp.run.score("blocked"),
                     f"out-of-sample: blocked {folds}-fold CV\n(homologues held out together)", "tab:blue",
                     "predicted", params.units, lims, ivs[1])
    _null_panel(top[2], mp, "in-sample", params.n_null)
    _null_panel(top[3], mp, "blocked", params.n_null)
    norm = surface.symmetric_norm(y[np.isfinite(y)], fitted[ok], oof[ok])
    rows = [(y, "observed"), (fitted, "fitted in-sample\n(paper protocol)"),
            (np.where(ok, oof, np.nan), "predicted\nout-of-sample\n(blocked CV)")]
    surf_axes = []
    for i, (vals, label) in enumerate(rows):
        axes = surface.surface_axes(fig, gs[i + 1, :])
        surface.draw(axes, vals, regions, norm)
        axes[0].text2D(0.0, 0.5, label, transform=axes[0].transAxes, ha="right", va="center", fontsize=9)
        surf_axes += axes
    surface.colorbar(fig, gs[4, :], norm, "RdBu_r", f"thinning ({params.units}); positive = thinner in patients")
    for ax, letter in zip(top + [surf_axes[0], surf_axes[4], surf_axes[8]], "abcdefg"):
        panel_label(ax, letter)
    fig.suptitle(params.title(f"Fig 5. Prediction performance of {mp.run.model}: in-sample fit beside "
                              "out-of-sample prediction, spatial nulls"), fontsize=11)
    return fig


def summary_figure(params: PaperParams, preds: list[ModelPrediction]):
    """Fig 5 summary: every model's R^2 and r, in-sample beside blocked CV, consensus null p on the bars.

    Returns
    -------
    matplotlib Figure
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    models = [mp.run.model for mp in preds]
    x = np.arange(len(models))
    for ax, stat, label in zip(axes, ("r2", "r"), ("$R^2$", "Pearson r")):
        for j, (scheme, colour) in enumerate((("in-sample", "tab:gray"), ("blocked", "tab:blue"))):
            vals = [mp.run.score(scheme)[stat] for mp in preds]
            bars = ax.bar(x + (j - 0.5) * 0.38, vals, 0.38, color=colour,
                          label="in-sample fit (paper)" if scheme == "in-sample" else "blocked CV (out-of-sample)")
            for b, mp in zip(bars, preds):
                p = mp.consensus_p(scheme, "r2" if stat == "r2" else "r")
                if p is not None:
                    ax.annotate(f"p={p:.2f}", (b.get_x() + b.get_width() / 2, max(b.get_height(), 0)),
                                ha="center", va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")
        ax.axhline(0, color="k", lw=0.6)
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi + 0.1 * (hi - lo))  # room for the p labels
        ax.set_xticks(x)
        ax.set_xticklabels(models, fontsize=8)
        ax.set_ylabel(f"{label} (observed vs predicted thinning)", fontsize=8)
        ax.set_title(f"{label} per model\np = consensus spatial-null p ({', '.join(params.nulls)}; "
                     f"{params.n_null} surrogates each)", fontsize=9)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=2, fontsize=8)
    fig.suptitle(params.title("Fig 5 (summary). In-sample fit vs out-of-sample prediction, all models"), fontsize=11)
    return fig
