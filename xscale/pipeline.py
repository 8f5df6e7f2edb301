"""Runs: ``fit`` (one model, one map -> run directory) and ``reproduce`` (models x embedded maps)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from xscale import adni_run
from xscale import config as config_mod
from xscale import provenance
from xscale.data.atlas import load_atlas
from xscale.data.brain import DataReport, load_brain_data
from xscale.data.targets import ENIGMA_MAPS, load_target
from xscale.errors import ConfigError
from xscale.evaluate.cv import Evaluation, evaluate
from xscale.evaluation_table import evaluate_maps
from xscale.fitting import check_compatible
from xscale.interfaces import BrainData
from xscale.plotting import predicted_vs_observed
from xscale.rundir import staged_directory, write_csv, write_json, write_text_atomic

IN_SAMPLE_LABEL = ("in-sample fit on the regions with a target (the paper's protocol; a backend may set aside "
                   "part of them for early stopping, see training): goodness of fit, not a prediction")
CV_LABEL = "out-of-sample: spatially blocked k-fold CV, contiguous blocks, homologues held out together"
QUICK_BANNER = ("QUICK SMOKE-TEST SETTINGS (--quick): few training steps; these numbers are not the "
                "paper's protocol and must not be reported.")

PAPER = {"target": "ADNI Alzheimer's disease thinning map (NC 926, AD 426)", "r2": 0.8604, "r": 0.9439,
         "protocol": "in-sample"}
ADNI_NOTE = (
    "The paper's own numbers (ADNI Alzheimer's disease map, R^2 = 0.8604, r = 0.9439, both in-sample) "
    "need restricted ADNI files that xscale never ships: the UCSF FreeSurfer thickness table (UCSFFSX51) "
    "and ADNIMERGE. Request access at https://adni.loni.usc.edu/data-samples/access-data/ "
    "(see data_manifest.json, 'restricted'), put them in one directory and run `xscale reproduce --adni DIR`."
)

Progress = Callable[[str], None]


#: Surrogates per null family in the report's Fig 5 when ``reproduce`` is run without ``--n-null``.
REPORT_N_NULL = 20


def target_slug(target: str) -> str:
    """File-system-safe short name of a target: ``enigma:scz`` -> ``scz``, ``/a/b/my map.csv`` -> ``my_map``."""
    base = target.split(":", 1)[1] if target.startswith("enigma:") else Path(target).stem
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", base).strip("._") or "target"


def describe_target(target: str) -> str:
    """Disorder name for an embedded map or the ADNI map, the file name for a user map."""
    if target.startswith("adni:"):
        return "Alzheimer's disease, " + ("SYNTHETIC cohort" if "SYNTHETIC" in target else "ADNI")
    return ENIGMA_MAPS.get(target.split(":", 1)[1], "") if target.startswith("enigma:") else Path(target).name


def target_units(target: str) -> str:
    """Units of a map for figure axes: ENIGMA maps are -Cohen's d, the ADNI map mm (or Cohen's d)."""
    if target.startswith("adni:"):
        return "mm" if target.endswith("_mm") else "Cohen's d"
    return "-Cohen's d" if target.startswith("enigma:") else "map units"


def preflight_targets(targets: list[str]) -> list[str]:
    """Check every target (checksum, format, region names) before any model is fitted.

    Returns
    -------
    list of str
        The targets, empty names removed.

    Raises
    ------
    ConfigError
        If no target remains.
    DataIntegrityError, DataFormatError, FileNotFoundError
        As :func:`xscale.data.targets.load_target`, for the first bad target.
    """
    names = [t.strip() for t in targets if t and t.strip()]
    if not names:
        raise ConfigError("no target given; expected enigma:<name> or CSV paths")
    for t in names:
        load_target(t, load_atlas().regions, log_missing=False)
    return names


def _metrics(cfg: Mapping[str, Any], data: BrainData, report: DataReport, ev: Evaluation) -> dict:
    return {
        "target": cfg["target"],
        "model": dict(cfg["model"]),
        "preset": cfg.get("preset"),
        "quick": bool(cfg.get("quick")),
        "n_regions_scored": int(data.target_mask.sum()),
        "in_sample": {**ev.in_sample_score, "label": IN_SAMPLE_LABEL},
        "blocked_cv": {**ev.cv_score, "folds": int(cfg["cv"]["folds"]), "label": CV_LABEL, "per_fold": ev.folds},
        "p_value_note": "p is the parametric Pearson p-value assuming independent regions (optimistic "
                        "under spatial autocorrelation); `xscale evaluate` gives spin-test and surrogate-map p-values.",
        "training": ev.in_sample.info,
        "data": {k: v for k, v in report.as_dict().items() if k != "hashes"},
    }


def write_run(directory: Path, cfg: Mapping[str, Any], data: BrainData, report: DataReport, ev: Evaluation,
              started: str) -> dict:
    """Write one run's files into ``directory`` (inside a staging directory) and return its metrics.

    Parameters
    ----------
    directory : Path
    cfg : mapping
        Resolved configuration.
    data : BrainData
    report : DataReport
    ev : Evaluation
    started : str
        ISO start time, for provenance.
    """
    y = data.target.numpy().astype(float)
    metrics = _metrics(cfg, data, report, ev)
    write_text_atomic(directory / "config.json", config_mod.dumps(cfg))
    write_json(directory / "metrics.json", metrics)
    nan = np.full((2, data.n_regions), np.nan)
    ins_iv = ev.in_sample.interval_95 if ev.in_sample.interval_95 is not None else nan
    oof_iv = ev.oof_interval if ev.oof_interval is not None else nan
    write_csv(directory / "predictions.csv", pd.DataFrame({
        "region": data.regions, "observed": y, "fitted_in_sample": ev.in_sample.prediction,
        "predicted_out_of_fold": ev.oof_prediction, "cv_fold": ev.fold_of,
        "fitted_lower_95": ins_iv[0], "fitted_upper_95": ins_iv[1],
        "out_of_fold_lower_95": oof_iv[0], "out_of_fold_upper_95": oof_iv[1]}))
    lat = ev.in_sample.latent
    cols = [f"z{k}" for k in range(lat.shape[1])]
    write_csv(directory / "latent.csv", pd.DataFrame(lat, columns=cols).assign(region=list(data.regions))[["region"] + cols])
    write_json(directory / "history.json", ev.in_sample.history)
    m, name = cfg["model"], cfg["target"]
    units = target_units(name)
    title = f"{name} - {describe_target(name)} - {m['encoder']}/{m['prior']}/{m['decoder']}/{m['backend']}"
    predicted_vs_observed(y, ev.in_sample.prediction, ev.oof_prediction, np.array([r[0] for r in data.regions]),
                          metrics, ("[QUICK SMOKE TEST] " if cfg.get("quick") else "") + title,
                          directory / "prediction.png", units=units, intervals=(ins_iv, oof_iv))
    write_json(directory / "provenance.json", provenance.collect(cfg["seed"], report.hashes, started,
                                                                 model=cfg["model"]))
    return metrics


def _run(cfg: Mapping[str, Any], directory: Path, started: str, on_fit: Progress | None) -> tuple[dict, dict]:
    d = cfg["data"]
    data, report = load_brain_data(cfg["target"], d["panel"], d["missing_regions"], d["normalise"])
    ev = evaluate(data, config_mod.model_spec(cfg), cfg["seed"], cfg["cv"]["folds"], on_fit)
    return write_run(directory, cfg, data, report, ev, started), report.hashes


def fit(cfg: Mapping[str, Any], out: str | Path, overwrite: bool = False, on_fit: Progress | None = None) -> dict:
    """Fit one model on one map, in-sample and under blocked CV, and write a run directory.

    The directory holds ``metrics.json``, ``predictions.csv`` (region, observed, fitted
    in-sample, predicted out-of-fold, fold, 95 % intervals where the backend gives them),
    ``latent.csv`` (R x K), ``history.json``, ``prediction.png``, the resolved
    ``config.json`` and ``provenance.json``. It appears only when complete.

    Parameters
    ----------
    cfg : mapping
        Configuration as built by :func:`xscale.config.build` (resolved here).
    out : path
        Run directory to create.
    overwrite : bool
        Replace an existing directory (only once the new one is complete).
    on_fit : callable, optional
        Called after each of the ``folds + 1`` fits.

    Returns
    -------
    dict
        The run's metrics.

    Raises
    ------
    FileExistsError
        If ``out`` exists and ``overwrite`` is False.
    ConfigError, PluginNotFoundError, IncompatibleModelError, DataIntegrityError, DataFormatError
        Before any training.
    """
    started = provenance.now()
    resolved = config_mod.resolve(cfg)
    check_compatible(config_mod.model_spec(resolved))
    preflight_targets([resolved["target"]])
    with staged_directory(out, overwrite) as stage:
        return _run(resolved, stage, started, on_fit)[0]


def results_table(rows: list[dict]) -> str:
    """Markdown table: per map and model, in-sample fit beside blocked-CV prediction."""
    lines = [
        "| target | disorder | model | n regions | in-sample R^2 | in-sample r | blocked-CV R^2 | blocked-CV r "
        "| blocked-CV 95% coverage |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cov = "-" if r.get("cv_coverage_95") is None else f"{r['cv_coverage_95']:.2f}"
        lines.append(f"| {r['target']} | {r['disorder']} | {r['model']} | {r['n_regions']} | {r['in_sample_r2']:.3f} | "
                     f"{r['in_sample_r']:.3f} | {r['cv_r2']:.3f} | {r['cv_r']:.3f} | {cov} |")
    return "\n".join(lines) + "\n"


def _model_note(name: str, model: Mapping[str, Any]) -> str:
    """``gnn-vae = gnn/laplacian/mlp/adam``; a baseline's backend; a combination is its own description."""
    if config_mod.combination(name):
        return name
    if model["encoder"] is None:
        return f"{name} = baseline ({model['backend']} backend)"
    return f"{name} = " + "/".join(str(model[k]) for k in config_mod.COMPONENT_KINDS)


def reproduce(cfg: Mapping[str, Any], out: str | Path, targets: list[str] | None = None,
              models: list[str] | None = None, overwrite: bool = False,
              on_run: Callable[[str, str], None] | None = None, on_fit: Progress | None = None,
              adni: list[str] | tuple[str, ...] | None = None, adni_config: str | Path | None = None,
              n_null: int = 0, evaluation: bool = True, report: bool = False,
              on_more_fits: Callable[[int], None] | None = None) -> dict:
    """Run each model preset on each map and tabulate in-sample beside out-of-sample numbers.

    Writes ``results.md``, ``results.json``, ``runs/<model>/<map>/`` (see :func:`fit`) and
    ``figures/<model>-<map>.png`` under ``out`` (``<model>``: :func:`xscale.config.model_slug`),
    which appears only when complete.

    Parameters
    ----------
    cfg : mapping
        Base configuration (:func:`xscale.config.build`); each preset sets the model section.
    out : path
    targets : list of str, optional
        Default: the 8 embedded ENIGMA maps.
    models : list of str, optional
        Presets from :data:`xscale.config.PRESETS` or plugin combinations
        ``encoder/prior/decoder/backend`` (outputs under :func:`xscale.config.model_slug`);
        default: :func:`xscale.config.default_models`.
    overwrite : bool
    on_run : callable, optional
        Called with (model, target) before each run, and with ("evaluation table", targets) and
        ("paper report (notebooks)", target) before those.
    on_fit : callable, optional
        Called after each fit.
    adni : sequence of path, optional
        ``--adni``: the user's ADNI files (a directory and/or paths). The AD thinning map is
        computed before any fit and every model is fitted on it too (:mod:`xscale.adni_run`);
        ``adni/claims.md`` puts the paper's numbers beside the reproduced ones. Without ADNI
        files there, the note says which are needed and the rest runs.
    adni_config : path, optional
        Overrides of ``xscale/configs/adni.yaml``.
    n_null : int
        Surrogate maps per spatial null family (spin test, brainsmash), and random landmark-sized
        gene sets, for the evaluation table; 0: the table without null p-values.
    evaluation : bool
        Write ``evaluation.md`` / ``evaluation/<map>/``: every model and the baselines (ridge,
        PLS1, PCR, spatial-only GP), in-sample and blocked CV, with null p-values when ``n_null``.
    report : bool
        Execute the paper notebooks into ``report/`` (:func:`xscale.paper.report.build_report`:
        the paper's model beside ridge, and the ``models`` when given) on the first map, with the same quick setting and
        ``n_null`` surrogates per family (when 0: :data:`REPORT_N_NULL`, or the quick default).
    on_more_fits : callable, optional
        Called with the number of the evaluation table's fits of each map before they start:
        ``on_fit`` is called for those too, beyond the (models x maps x (folds + 1)) model fits.

    Returns
    -------
    dict
        ``{'rows': [...], 'paper': {...}, 'adni_note': str, 'adni': {...} or None, 'configs': {...},
        'provenance': {...}}``.

    Raises
    ------
    ConfigError, PluginNotFoundError, IncompatibleModelError, DataIntegrityError, DataFormatError,
    FileNotFoundError
        Before the first fit, for any bad model or target.
    FileExistsError
        If ``out`` exists and ``overwrite`` is False.
    """
    started = provenance.now()
    targets = preflight_targets(targets or [f"enigma:{k}" for k in ENIGMA_MAPS])
    config_mod.refuse_model_override(cfg, "xscale reproduce")
    given_models = bool(models)
    models = [config_mod.preset_name(m) for m in models] if models else config_mod.default_models()
    # the report shows the paper's model and ridge, and the models asked for by name
    report_models = list(dict.fromkeys(["gnn-vae", *models, "ridge"])) if given_models else None
    configs = {m: config_mod.resolve(config_mod.with_preset(cfg, m)) for m in models}
    for m in models:
        check_compatible(config_mod.model_spec(configs[m]))
    adni_job = adni_run.prepare(adni, adni_config) if adni is not None else None
    rows, hashes = [], {}
    with staged_directory(out, overwrite) as stage:
        (stage / "figures").mkdir()
        for t in targets:
            for m in models:
                if on_run:
                    on_run(m, t)
                run_dir = stage / "runs" / config_mod.model_slug(m) / target_slug(t)
                metrics, h = _run({**configs[m], "target": t}, run_dir, started, on_fit)
                hashes.update(h)
                shutil.copyfile(run_dir / "prediction.png",
                                stage / "figures" / f"{config_mod.model_slug(m)}-{target_slug(t)}.png")
                rows.append({"target": t, "disorder": describe_target(t), "model": m,
                             "n_regions": metrics["n_regions_scored"],
                             "in_sample_r2": metrics["in_sample"]["r2"], "in_sample_r": metrics["in_sample"]["r"],
                             "cv_r2": metrics["blocked_cv"]["r2"], "cv_r": metrics["blocked_cv"]["r"],
                             "cv_coverage_95": metrics["blocked_cv"].get("coverage_95")})
        adni_result = adni_run.run(adni_job, configs, stage, started, on_run, on_fit) if adni_job and adni_job.ready \
            else None
        rows += adni_result["rows"] if adni_result else []
        quick = any(c["quick"] for c in configs.values())
        folds = next(iter(configs.values()))["cv"]["folds"]
        md = ("# xscale reproduce\n\n" + (f"**{QUICK_BANNER}**\n\n" if quick else "") +
              "In-sample numbers are goodness of fit (the paper's protocol), not predictions. Out-of-sample "
              f"numbers come from spatially blocked {folds}-fold CV with homologous regions held out together. "
              "Models: " + "; ".join(_model_note(m, c["model"]) for m, c in configs.items()) + ".\n\n" +
              results_table(rows) +
              f"\nPaper (in-sample, {PAPER['target']}): R^2 = {PAPER['r2']}, r = {PAPER['r']}.\n\n" +
              (adni_run.claims_markdown(adni_result["claims"]) if adni_result else
               f"{adni_job.note if adni_job else ADNI_NOTE}\n"))
        note = adni_run.summary_lines(adni_result, adni_job) or ADNI_NOTE
        result = {"rows": rows, "quick": quick, "paper": PAPER, "adni_note": note, "adni": adni_result,
                  "configs": configs,
                  "provenance": provenance.collect(next(iter(configs.values()))["seed"], hashes, started)}
        if evaluation:
            if on_run:
                on_run("evaluation table", ", ".join(targets))
            cfg_eval = next(iter(configs.values()))
            result["evaluation"], table = evaluate_maps(
                {**cfg, "seed": cfg_eval["seed"]}, stage / "evaluation", targets, models, n_null, target_slug,
                on_fit=on_fit, on_more_fits=on_more_fits)
            write_text_atomic(stage / "evaluation.md", table)
            md += ("\nModels beside baselines, with spatial-null p-values: see evaluation.md.\n" if n_null else
                   "\nBaselines (ridge, PLS1, PCR, spatial-only GP) on the same maps, in-sample and blocked CV: see "
                   "evaluation.md. No null p-values: `--n-null N` adds spin-test, brainsmash and random gene-set "
                   "p-values of every model.\n")
        if report:
            from xscale.paper.report import build_report  # notebooks need the optional 'paper' extra

            if on_run:
                on_run("paper report (notebooks)", targets[0])
            built = build_report(stage / "report", quick=quick, target=targets[0], models=report_models or "gnn-vae,ridge",
                                 seed=next(iter(configs.values()))["seed"], n_null=n_null or (None if quick else REPORT_N_NULL))
            result["report"] = {"path": "report/report.html", "timings_s": built.get("timings_s")}
        write_text_atomic(stage / "results.md", md)
        write_json(stage / "results.json", result)
    return result
