"""``xscale reproduce --adni PATH``: the paper's own result on the user's ADNI files.

:func:`prepare` finds the files, builds the cohort and the thinning map before any model is
fitted (bad input fails fast); :func:`run` fits every model of the reproduce run on the map
through the same fit / evaluate / write path as the ENIGMA maps and writes, under ``adni/``:

* ``thinning_map.csv`` (``region,value``; usable as ``--target`` for ``xscale fit`` / ``evaluate``),
* ``thinning_table.csv`` (per region: mean, SD and n per group, adjusted difference in mm,
  SE, t, p, FDR, Cohen's d),
* ``exclusions.csv`` (RID, diagnosis code, reason: subject-level, share only under the ADNI
  Data Use Agreement),
* ``cohort.json`` (N per group, exclusion counts, configuration, the input files' name, size and
  sha256 only),
* ``claims.md`` / ``claims.json``: the paper's in-sample R^2 and r beside the reproduced
  in-sample and blocked-CV (out-of-sample) numbers.

The ADNI files themselves are only read, never copied. Without them, :func:`prepare` returns a
job whose note says which files are needed and where to request access; the rest runs.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from xscale import config as config_mod
from xscale.data import adni
from xscale.data.adni_cohort import Cohort, load_cohort
from xscale.data.adni_thinning import SYNTHETIC_LABEL, ThinningMap, thinning_map
from xscale.data.brain import load_brain_data
from xscale.evaluate.cv import evaluate
from xscale.rundir import write_csv, write_json, write_text_atomic

log = logging.getLogger(__name__)

PAPER_MODEL = "gnn-vae"
PAPER_COHORT = {"CN": 926, "AD": 426}
PAPER_LANDMARKS = 910


@dataclass(frozen=True)
class AdniJob:
    """The ADNI part of a reproduce run, prepared before any fit.

    Attributes
    ----------
    cfg : dict
        ADNI configuration (:func:`xscale.data.adni.load_config`).
    cohort : Cohort or None
        None when no ADNI file was found.
    tmap : ThinningMap or None
    note : str
        What is needed (no files) or a one-line cohort summary.
    """

    cfg: dict
    cohort: Cohort | None
    tmap: ThinningMap | None
    note: str

    @property
    def ready(self) -> bool:
        return self.tmap is not None


def prepare(paths: list[str] | tuple[str, ...], config_file: str | Path | None = None) -> AdniJob:
    """Find the ADNI files, build the cohort and compute the thinning map.

    Parameters
    ----------
    paths : sequence of path
        ``--adni`` values: a directory and/or file paths.
    config_file : path, optional
        Overrides of ``xscale/configs/adni.yaml``.

    Returns
    -------
    AdniJob
        Not ready (with the required-files note) when no ADNI file is found.

    Raises
    ------
    FileNotFoundError, DataFormatError, ConfigError
        On a missing path, unrecognised / incomplete / malformed files, or a bad configuration.
    """
    cfg = adni.load_config(config_file)
    files = adni.find_files(list(paths), cfg)
    if files is None:
        missing = "No ADNI file found in " + ", ".join(Path(p).name or str(p) for p in paths)
        log.warning("%s: the Alzheimer's map and its claims are skipped (the summary names the files needed)",
                    missing)
        return AdniJob(cfg, None, None, f"{missing}. {adni.required_files_note()}")
    cohort = load_cohort(files, cfg)
    log.info("%s", cohort.summary())
    return AdniJob(cfg, cohort, thinning_map(cohort, cfg), cohort.summary())


def write_cohort(job: AdniJob, directory: Path) -> dict[str, Any]:
    """Write the map, per-region table, exclusions and ``cohort.json`` into ``directory``; return the record."""
    coh, tm = job.cohort, job.tmap
    write_text_atomic(directory / "thinning_map.csv", tm.region_value_csv())
    write_csv(directory / "thinning_table.csv", tm.table)
    write_csv(directory / "exclusions.csv", coh.exclusions.assign(
        dataset=SYNTHETIC_LABEL if tm.synthetic else "ADNI"))
    record = {
        "dataset": SYNTHETIC_LABEL if tm.synthetic else "ADNI",
        "n": coh.n, "paper_n": PAPER_COHORT, "excluded": len(coh.exclusions),
        "exclusion_counts": coh.exclusion_counts(), "target": tm.name, "target_column": tm.target,
        "method": tm.method, "inputs": coh.files.records(), "config": job.cfg,
    }
    write_json(directory / "cohort.json", record)
    return record


def _fit(cfg: Mapping[str, Any], tm: ThinningMap, run_dir: Path, started: str, inputs: list[dict],
         on_fit: Callable[[str], None] | None) -> dict:
    from xscale import pipeline

    d = cfg["data"]
    data, report = load_brain_data(tm.target_map(), d["panel"], d["missing_regions"], d["normalise"])
    ev = evaluate(data, config_mod.model_spec(cfg), cfg["seed"], cfg["cv"]["folds"], on_fit)
    metrics = pipeline.write_run(run_dir, cfg, data, report, ev, started)
    prov = json.loads((run_dir / "provenance.json").read_text())
    prov.update({"adni_inputs": inputs, "dataset": SYNTHETIC_LABEL if tm.synthetic else "ADNI"})
    write_json(run_dir / "provenance.json", prov)
    return metrics


def run(job: AdniJob, configs: Mapping[str, Mapping[str, Any]], stage: Path, started: str,
        on_run: Callable[[str, str], None] | None = None, on_fit: Callable[[str], None] | None = None) -> dict:
    """Fit every model on the ADNI map and write ``adni/`` and ``runs/<model>/adni/`` into ``stage``.

    Parameters
    ----------
    job : AdniJob
        Must be ready.
    configs : mapping
        Model preset -> resolved configuration (as in :func:`xscale.pipeline.reproduce`).
    stage : Path
        The reproduce staging directory.
    started : str
    on_run, on_fit : callable, optional

    Returns
    -------
    dict
        ``rows`` (same keys as the reproduce table), ``cohort`` (the ``cohort.json`` record) and
        ``claims`` (paper beside reproduced numbers).
    """
    tm = job.tmap
    record = write_cohort(job, stage / "adni")
    rows = []
    for m, cfg in configs.items():
        if on_run:
            on_run(m, tm.name)
        run_dir = stage / "runs" / config_mod.model_slug(m) / "adni"
        metrics = _fit({**cfg, "target": tm.name}, tm, run_dir, started, record["inputs"], on_fit)
        if (stage / "figures").is_dir():
            shutil.copyfile(run_dir / "prediction.png", stage / "figures" / f"{config_mod.model_slug(m)}-adni.png")
        rows.append({"target": tm.name, "disorder": "Alzheimer's disease, " + ("SYNTHETIC cohort" if tm.synthetic else "ADNI"), "model": m,
                     "n_regions": metrics["n_regions_scored"],
                     "in_sample_r2": metrics["in_sample"]["r2"], "in_sample_r": metrics["in_sample"]["r"],
                     "cv_r2": metrics["blocked_cv"]["r2"], "cv_r": metrics["blocked_cv"]["r"],
                     "cv_coverage_95": metrics["blocked_cv"].get("coverage_95"),
                     "landmarks": metrics["data"]["landmarks_found"]})
    quick = any(c.get("quick") for c in configs.values())
    folds = next(iter(configs.values()))["cv"]["folds"]
    claims = {"paper": {"model": PAPER_MODEL, "r2": 0.8604, "r": 0.9439, "protocol": "in-sample",
                        "n": PAPER_COHORT, "landmarks": PAPER_LANDMARKS},
              "dataset": record["dataset"], "n": record["n"], "quick": quick, "folds": folds, "rows": rows,
              "null_models": "spin-test and surrogate-map p-values: xscale evaluate --target adni/thinning_map.csv "
                             "--nulls spin,brainsmash (run on this directory's map)"}
    write_json(stage / "adni" / "claims.json", claims)
    write_text_atomic(stage / "adni" / "claims.md", claims_markdown(claims))
    return {"rows": rows, "cohort": record, "claims": claims}


def claims_markdown(claims: Mapping[str, Any]) -> str:
    """The paper's in-sample numbers beside the reproduced in-sample and out-of-sample ones (Markdown)."""
    p, n = claims["paper"], claims["n"]
    synthetic = claims["dataset"] != "ADNI"
    head = f"## The paper's claim: Alzheimer's disease thinning map ({'SYNTHETIC cohort' if synthetic else 'ADNI'})\n\n"
    if synthetic:
        head += f"**{claims['dataset']}: these numbers test the pipeline, they are not the paper's data.**\n\n"
    if claims["quick"]:
        head += "**QUICK SMOKE-TEST SETTINGS (--quick): not the paper's protocol; do not report.**\n\n"
    lines = [head + f"Cohort: CN {n['CN']} (paper {p['n']['CN']}), AD {n['AD']} (paper {p['n']['AD']}); "
             f"the paper used {p['landmarks']} landmark genes (raw AHBA, `xscale data build-ahba`).\n",
             f"| model | landmark genes | paper R^2 (in-sample) | reproduced R^2 in-sample | reproduced R^2 blocked "
             f"{claims['folds']}-fold CV (out-of-sample) | paper r (in-sample) | reproduced r in-sample | "
             "reproduced r blocked CV (out-of-sample) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in claims["rows"]:
        paper = r["model"] == p["model"]
        lines.append(f"| {r['model']}{' (the paper' + chr(39) + 's model)' if paper else ''} | {r['landmarks']} | "
                     f"{p['r2'] if paper else '-'} | {r['in_sample_r2']:.4f} | {r['cv_r2']:.4f} | "
                     f"{p['r'] if paper else '-'} | {r['in_sample_r']:.4f} | {r['cv_r']:.4f} |")
    lines.append("\nIn-sample numbers are goodness of fit on the same 68 regions (the paper's protocol), not "
                 "predictions; the blocked-CV columns are the out-of-sample estimate. Null models: "
                 f"{claims['null_models']}.\n")
    return "\n".join(lines)


def summary_lines(result: Mapping[str, Any] | None, job: AdniJob | None) -> str:
    """Console text for the end of ``xscale reproduce``: the claims, or what is needed."""
    if job is None:
        return ""
    if result is None:
        return job.note
    c = result["claims"]
    out = [f"{job.note}. Paper ({c['paper']['model']}, in-sample): R^2 = {c['paper']['r2']}, r = {c['paper']['r']}."]
    for r in c["rows"]:
        out.append(f"  {r['model']} on {r['target']}: in-sample R^2 = {r['in_sample_r2']:.3f}, r = "
                   f"{r['in_sample_r']:.3f}; blocked-CV (out-of-sample) R^2 = {r['cv_r2']:.3f}, r = {r['cv_r']:.3f}")
    return "\n".join(out)
