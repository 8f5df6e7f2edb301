"""Figures written by runs: predicted versus observed thinning, in-sample beside out-of-sample."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from xscale.rundir import as_created  # noqa: E402


def shared_limits(observed: np.ndarray, others: list[np.ndarray]) -> tuple[float, float]:
    """Axis limits covering ``observed`` and every array in ``others``, with an 8% margin."""
    allv = np.concatenate([np.ravel(observed)] + [np.ravel(o) for o in others])
    pad = 0.08 * (allv.max() - allv.min() or 1.0)
    return float(allv.min() - pad), float(allv.max() + pad)


def prediction_panel(ax, observed: np.ndarray, predicted: np.ndarray, hemisphere: np.ndarray, score: dict,
                     label: str, colour: str, kind: str, units: str, lims: tuple[float, float],
                     interval: np.ndarray | None = None) -> None:
    """One predicted-vs-observed scatter with its identity line, R^2, r and n in the title.

    Parameters
    ----------
    ax : Axes
    observed, predicted : (R,) ndarray
        NaN regions are skipped.
    hemisphere : (R,) array of 'L' / 'R'
    score : dict
        ``r2``, ``r`` (and ``coverage_95``) of this comparison.
    label : str
        What the panel shows, e.g. ``"in-sample fit (paper protocol)"``.
    colour : str
    kind : str
        ``"fitted"`` or ``"predicted"`` (y-axis label).
    units : str
    lims : (float, float)
        Shared axis limits.
    interval : (2, R) ndarray, optional
        95 % intervals, drawn as error bars when finite.
    """
    ok = np.isfinite(observed) & np.isfinite(predicted)
    lo, hi = lims
    if interval is not None and np.isfinite(interval[:, ok]).all():
        ax.errorbar(observed[ok], predicted[ok], yerr=np.abs(interval[:, ok] - predicted[ok]), fmt="none",
                    ecolor=colour, alpha=0.35, lw=0.8, label="95% interval")
    for hemi, marker in (("L", "o"), ("R", "^")):
        sel = ok & (hemisphere == hemi)
        ax.scatter(observed[sel], predicted[sel], s=22, marker=marker, color=colour, alpha=0.8,
                   label=f"{'left' if hemi == 'L' else 'right'} hemisphere")
    ax.plot([lo, hi], [lo, hi], color="k", lw=0.8, ls="--", label="identity")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    cov = score.get("coverage_95")
    extra = "" if cov is None else f"\n95% interval coverage {cov:.2f}"
    ax.set_title(f"{label}\n$R^2$ = {score['r2']:.3f}, r = {score['r']:.3f}, n = {int(ok.sum())} regions{extra}",
                 fontsize=9)
    ax.set_xlabel(f"observed thinning ({units})\npositive = thinner in patients", fontsize=9)
    ax.set_ylabel(f"{kind} thinning ({units})", fontsize=9)
    ax.yaxis.set_tick_params(labelleft=True)
    ax.legend(fontsize=7, loc="upper left")


def predicted_vs_observed(observed: np.ndarray, in_sample: np.ndarray, out_of_fold: np.ndarray,
                          hemisphere: np.ndarray, scores: dict, title: str, path: str | Path,
                          units: str = "-Cohen's d", intervals: tuple[np.ndarray, np.ndarray] | None = None) -> Path:
    """Two scatter panels: the paper-style in-sample fit and the blocked-CV prediction.

    Parameters
    ----------
    observed, in_sample, out_of_fold : (R,) ndarray
        Thinning (positive = thinner in patients); NaN regions are skipped.
    hemisphere : (R,) array of 'L' / 'R'
    scores : dict
        ``{'in_sample': {'r2', 'r'}, 'blocked_cv': {'r2', 'r', 'folds'}}``.
    title : str
        What and on which data, e.g. ``"enigma:scz - schizophrenia (ENIGMA), gnn/laplacian/mlp/adam"``.
    path : str or Path
        PNG destination, written atomically.
    units : str
        Units of the map for the axis labels (ENIGMA maps: ``-Cohen's d``).
    intervals : pair of (2, R) ndarray, optional
        In-sample and out-of-fold 95 % intervals, drawn as error bars (probabilistic backends).
    """
    ok = np.isfinite(observed) & np.isfinite(out_of_fold)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.8), sharex=True, sharey=True, constrained_layout=True)
    ivs = intervals if intervals is not None else (None, None)
    panels = [
        (in_sample, "in-sample fit (paper protocol)\nnot a prediction", scores["in_sample"], "tab:gray",
         "fitted", ivs[0]),
        (out_of_fold, f"out-of-sample: spatially blocked {scores['blocked_cv'].get('folds', '')}-fold CV\n"
                      "(homologues held out together)", scores["blocked_cv"], "tab:blue", "predicted", ivs[1]),
    ]
    lims = shared_limits(observed[ok], [in_sample[ok], out_of_fold[ok]] +
                         [iv[:, ok] for iv in ivs if iv is not None and np.isfinite(iv[:, ok]).all()])
    for ax, (pred, label, sc, colour, kind, iv) in zip(axes, panels):
        prediction_panel(ax, observed, pred, hemisphere, sc, label, colour, kind, units, lims, iv)
    fig.suptitle(title, fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120)
        as_created(tmp)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        Path(tmp).unlink(missing_ok=True)
    return path
