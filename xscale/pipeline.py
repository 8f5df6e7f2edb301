"""Runs: ``fit`` (one model, one map -> run directory) and ``reproduce`` (every embedded map)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from xscale import config as config_mod
from xscale import provenance
from xscale.data.brain import DataReport, load_brain_data
from xscale.data.targets import ENIGMA_MAPS
from xscale.evaluate.cv import Evaluation, evaluate
from xscale.fitting import check_compatible
from xscale.interfaces import BrainData
from xscale.plotting import predicted_vs_observed
from xscale.rundir import staged_directory, write_csv, write_json, write_text_atomic

IN_SAMPLE_LABEL = "in-sample fit on every region (the paper's protocol): goodness of fit, not a prediction"
CV_LABEL = "out-of-sample: spatially blocked k-fold CV, contiguous blocks, homologues held out together"

PAPER = {"target": "ADNI Alzheimer's disease thinning map (NC 926, AD 426)", "r2": 0.8604, "r": 0.9439,
         "protocol": "in-sample"}
ADNI_NOTE = (
    "The paper's own numbers (ADNI Alzheimer's disease map, R^2 = 0.8604, r = 0.9439, both in-sample) "
    "need restricted ADNI files that xscale never ships: the UCSF FreeSurfer thickness table (UCSFFSX51) "
    "and ADNIMERGE. Request access at https://adni.loni.usc.edu/data-samples/access-data/ "
    "(see data_manifest.json, 'restricted'). Support for running them is a planned feature."
)


def _metrics(cfg: Mapping[str, Any], data: BrainData, report: DataReport, ev: Evaluation) -> dict:
    return {
        "target": cfg["target"],
        "model": dict(cfg["model"]),
        "n_regions_scored": int(data.target_mask.sum()),
        "in_sample": {**ev.in_sample_score, "label": IN_SAMPLE_LABEL},
        "blocked_cv": {**ev.cv_score, "folds": int(cfg["cv"]["folds"]), "label": CV_LABEL, "per_fold": ev.folds},
        "p_value_note": "p is the parametric Pearson p-value assuming independent regions (optimistic "
                        "under spatial autocorrelation); spin-test p-values are planned.",
        "training": ev.in_sample.info,
        "data": {k: v for k, v in report.as_dict().items() if k != "hashes"},
    }


def write_run(directory: Path, cfg: Mapping[str, Any], data: BrainData, report: DataReport, ev: Evaluation,
              started: str, seed: int) -> dict:
    """Write one run's files into ``directory`` (already a staging directory); return metrics."""
    y = data.target.numpy().astype(float)
    metrics = _metrics(cfg, data, report, ev)
    write_text_atomic(directory / "config.json", config_mod.dumps(cfg))
    write_json(directory / "metrics.json", metrics)
    write_csv(directory / "predictions.csv", pd.DataFrame({
        "region": data.regions, "observed": y, "predicted_in_sample": ev.in_sample.prediction,
        "predicted_out_of_fold": ev.oof_prediction, "cv_fold": ev.fold_of}))
    lat = ev.in_sample.latent
    write_csv(directory / "latent.csv", pd.DataFrame(lat, columns=[f"z{k}" for k in range(lat.shape[1])])
              .assign(region=list(data.regions))[["region"] + [f"z{k}" for k in range(lat.shape[1])]])
    write_json(directory / "history.json", ev.in_sample.history)
    m = cfg["model"]
    name = cfg["target"]
    disorder = ENIGMA_MAPS.get(name.split(":", 1)[1], "") if name.startswith("enigma:") else Path(name).name
    predicted_vs_observed(y, ev.in_sample.prediction, ev.oof_prediction, np.array([r[0] for r in data.regions]),
                          metrics, f"{name} ({disorder}): {m['encoder']}/{m['prior']}/{m['decoder']}/{m['backend']}",
                          directory / "prediction.png")
    write_json(directory / "provenance.json", provenance.collect(seed, report.hashes, started))
    return metrics


def fit(cfg: Mapping[str, Any], out: str | Path, overwrite: bool = False,
        on_fit: Callable[[str], None] | None = None) -> dict:
    """Fit one model on one map, in-sample and under blocked CV, and write a run directory.

    The directory holds ``metrics.json``, ``predictions.csv`` (region, observed, predicted
    in-sample, predicted out-of-fold, fold), ``latent.csv`` (R x K), ``history.json``,
    ``prediction.png``, the resolved ``config.json`` and ``provenance.json``. It appears only
    when complete.

    Parameters
    ----------
    cfg : mapping
        Configuration as built by :func:`xscale.config.build` (resolved here).
    out : path
        Run directory to create.
    overwrite : bool
        Replace an existing directory (only once the new one is complete).

    Returns
    -------
    dict
        The run's metrics.

    Raises
    ------
    FileExistsError
        If ``out`` exists and ``overwrite`` is False.
    ConfigError, PluginNotFoundError, IncompatibleModelError
        Before any training.
    """
    started = provenance.now()
    resolved = config_mod.resolve(cfg)
    spec = config_mod.model_spec(resolved)
    check_compatible(spec)
    with staged_directory(out, overwrite) as stage:
        d = resolved["data"]
        data, report = load_brain_data(resolved["target"], d["panel"], d["missing_regions"], d["normalise"])
        ev = evaluate(data, spec, resolved["seed"], resolved["cv"]["folds"], on_fit)
        return write_run(stage, resolved, data, report, ev, started, resolved["seed"])


def results_table(rows: list[dict]) -> str:
    """Markdown table of reproduce results: in-sample beside blocked-CV numbers."""
    lines = [
        "| target | disorder | n regions | in-sample R^2 | in-sample r | blocked-CV R^2 | blocked-CV r |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['target']} | {r['disorder']} | {r['n_regions']} | {r['in_sample_r2']:.3f} | "
                     f"{r['in_sample_r']:.3f} | {r['cv_r2']:.3f} | {r['cv_r']:.3f} |")
    return "\n".join(lines) + "\n"


def reproduce(cfg: Mapping[str, Any], out: str | Path, targets: list[str] | None = None, overwrite: bool = False,
              on_target: Callable[[str], None] | None = None, on_fit: Callable[[str], None] | None = None) -> dict:
    """Run the configured model on every embedded ENIGMA map and tabulate the results.

    Writes ``results.md``, ``results.json``, ``runs/<map>/`` (one run directory each, see
    :func:`fit`) and ``figures/<map>.png`` under ``out``, which appears only when complete.

    Returns
    -------
    dict
        ``{'rows': [...], 'paper': {...}, 'adni_note': str}``.
    """
    started = provenance.now()
    targets = targets or [f"enigma:{k}" for k in ENIGMA_MAPS]
    resolved0 = config_mod.resolve(cfg)
    check_compatible(config_mod.model_spec(resolved0))
    rows = []
    with staged_directory(out, overwrite) as stage:
        for t in targets:
            if on_target:
                on_target(t)
            resolved = {**resolved0, "target": t}
            d = resolved["data"]
            data, report = load_brain_data(t, d["panel"], d["missing_regions"], d["normalise"])
            ev = evaluate(data, config_mod.model_spec(resolved), resolved["seed"], resolved["cv"]["folds"], on_fit)
            name = t.split(":", 1)[-1]
            m = write_run(stage / "runs" / name, resolved, data, report, ev, started, resolved["seed"])
            (stage / "figures").mkdir(exist_ok=True)
            shutil.copyfile(stage / "runs" / name / "prediction.png", stage / "figures" / f"{name}.png")
            rows.append({"target": t, "disorder": ENIGMA_MAPS.get(name, name), "n_regions": m["n_regions_scored"],
                         "in_sample_r2": m["in_sample"]["r2"], "in_sample_r": m["in_sample"]["r"],
                         "cv_r2": m["blocked_cv"]["r2"], "cv_r": m["blocked_cv"]["r"]})
        model = resolved0["model"]
        md = (f"# xscale reproduce: {model['encoder']}/{model['prior']}/{model['decoder']}/{model['backend']}\n\n"
              f"In-sample numbers are goodness of fit on every region (the paper's protocol), not predictions. "
              f"Out-of-sample numbers come from spatially blocked {resolved0['cv']['folds']}-fold CV with "
              f"homologous regions held out together.\n\n" + results_table(rows) +
              f"\nPaper (in-sample, {PAPER['target']}): R^2 = {PAPER['r2']}, r = {PAPER['r']}.\n\n{ADNI_NOTE}\n")
        result = {"rows": rows, "paper": PAPER, "adni_note": ADNI_NOTE, "config": resolved0,
                  "provenance": provenance.collect(resolved0["seed"], {}, started)}
        write_text_atomic(stage / "results.md", md)
        write_json(stage / "results.json", result)
    return result
