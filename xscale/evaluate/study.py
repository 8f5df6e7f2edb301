"""``xscale evaluate``: models x cross-validation schemes x spatial nulls on one map.

Every cell (model, scheme) is fitted on the real map, then refitted on every surrogate map of
every null family; p-values are one-sided (is the real r / R^2 larger than under the null?).
The consensus p of a cell is the largest p over the spatial families (the most conservative);
the naive permutation p is shown beside it but never enters the consensus. The gene-set null
(``geneset``: random landmark-sized gene sets from the whole transcriptome, real target) asks
a different question, gene specificity, and is reported beside the consensus, not in it.
When a model without genes (``spatial-gp``) is among the models, each gene model's gain over it
on the same folds is reported too, with p-values from the same surrogates refitted by both
(:mod:`xscale.evaluate.versus`): a spatial-null p alone does not show that genes matter.

The real map's fits run first, then the null refits of every model, scheme and family,
interleaved (:mod:`xscale.evaluate.nullruns`). Results are cached per (resolved model
configuration, data hashes (target, AHBA, atlas), scheme, null family, seed, batch size, package
versions) under ``<out>/.cache``: an interrupted evaluation resumes where it stopped, and a new
release of xscale, of a plugin the model uses or of a numerical library recomputes rather than
mixing results (:func:`xscale.provenance.model_versions`; another plugin's release keeps them).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch

from xscale import config as config_mod
from xscale import registry
from xscale.data.brain import load_brain_data
from xscale.evaluate import BATCH_SIZE
from xscale.evaluate.cv import cross_validate, scheme_for
from xscale.evaluate.nulls import NULLS, SPATIAL_NULLS, consensus_p, null_maps, p_value
from xscale.evaluate.executor import make_executor
from xscale.evaluate.genesets import FAMILY as GENESET, gene_universe
from xscale.evaluate.nullruns import NullStream, run_streams
from xscale.evaluate.report import results_markdown
from xscale.evaluate.splits import SCHEMES
from xscale.evaluate.versus import gain_over_space
from xscale.fitting import check_compatible
from xscale.progress import FROM_CACHE, UNTIMED, PlannedWork
from xscale.provenance import model_versions, now, package_versions, plugins_used, run_record
from xscale.rundir import write_json, write_text_atomic

log = logging.getLogger(__name__)

#: Command-line aliases: the issue's names and shorthands.
MODEL_ALIASES = config_mod.PRESET_ALIASES
NULL_ALIASES = {"spin": ("spin-vasa", "spin-hungarian", "spin-ab")}
#: Every family ``--nulls`` accepts: the surrogate-map families and the gene-set null.
ALL_NULLS = (*NULLS, GENESET)


def expand(names: list[str], aliases: Mapping[str, Any], valid: tuple[str, ...] | list[str], what: str,
           allow_empty: bool = False, hint: str = "") -> list[str]:
    """Resolve aliases and check names (``hint``: appended to the message on an unknown one).

    Raises
    ------
    ConfigError
        On an unknown name, or none at all unless ``allow_empty``; the message lists the valid ones.
    """
    names = [n for n in names if n]
    if not names and not allow_empty:
        raise config_mod.ConfigError(f"no {what} given; expected one or more of {sorted(set(valid) | set(aliases))}")
    out: list[str] = []
    for n in names:
        a = aliases.get(n, n)
        for x in (a if isinstance(a, tuple) else (a,)):
            if x not in valid:
                raise config_mod.ConfigError(f"unknown {what} {n!r}; expected one of {sorted(set(valid) | set(aliases))}"
                                             + hint)
            if x not in out:
                out.append(x)
    return out


def model_identity(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """A resolved configuration without the preset's name, which no fit reads: what makes two
    models the same (:func:`distinct_models`) and their cached refits shared."""
    return {k: v for k, v in cfg.items() if k != "preset"}


def distinct_models(configs: Mapping[str, dict]) -> dict[str, dict]:
    """``configs`` (name -> resolved configuration) without the models given twice under two names
    (``gnn`` and ``gnn/laplacian/mlp/adam``: the same plugins and settings), kept under the first
    name, with a warning: they would be fitted twice and give two identical rows."""
    out: dict[str, dict] = {}
    first: dict[str, str] = {}
    for name, cfg in configs.items():
        same = json.dumps(model_identity(cfg), sort_keys=True, default=str)
        if same in first:
            log.warning("model %s is %s (the same plugins and settings): evaluated once, as %s",
                        name, first[same], first[same])
            continue
        first[same] = name
        out[name] = cfg
    return out


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]


@dataclass
class Cell:
    """One (model, scheme) result with its null p-values."""

    model: str
    scheme: str
    score: dict
    p: dict  # family -> {"p_r": float, "p_r2": float, "n": int}

    def consensus(self, stat: str) -> float | None:
        return consensus_p([v[stat] for f, v in self.p.items() if f in SPATIAL_NULLS and v[stat] is not None])


STUDY_FIELDS = ("target", "models", "schemes", "nulls", "n_null", "seed", "quick")


def check_output_dir(out: Path, study: Mapping[str, Any], overwrite: bool) -> None:
    """Refuse an ``out`` that holds something other than this evaluation, unless ``overwrite``.

    ``out`` may be absent, empty, an interrupted run (only ``.cache``), or an earlier run of the
    same evaluation (its ``results.json`` has the same :data:`STUDY_FIELDS`): both resume, reusing
    cached refits. With ``overwrite`` another evaluation's results are replaced (the cache, whose
    entries are keyed by configuration, data, seed and versions, is kept and reused where it matches).

    Raises
    ------
    FileExistsError
        If ``out`` holds another evaluation's results, or files that are not an evaluation's, or
        lies under a file.
    """
    existing = next((p for p in (out, *out.parents) if p.exists()), None)  # --overwrite cannot mend a file
    if existing is not None and not existing.is_dir():
        raise FileExistsError(f"--out {out}: {existing} is a file; expected a directory for results.md / "
                              "results.json (or nothing) there")
    if overwrite or not out.exists():
        return
    found = out / "results.json"
    if found.exists():
        try:
            old = json.loads(found.read_text())
        except (OSError, ValueError):
            old = {}
        differ = [k for k in STUDY_FIELDS if old.get(k) != study.get(k)]
        if differ:
            shown = ", ".join(f"{k} {old.get(k)!r} (now {study.get(k)!r})" for k in differ)
            raise FileExistsError(f"{out} holds the results of another evaluation ({shown}); choose another --out, "
                                  "or pass --overwrite to replace them")
        return
    others = sorted(p.name for p in out.iterdir() if p.name not in (".cache", "results.md"))
    if others:
        raise FileExistsError(f"{out} exists and is not an xscale evaluate output (no results.json; it holds "
                              f"{', '.join(others[:5])}{', ...' if len(others) > 5 else ''}); choose another "
                              "--out, or pass --overwrite to write into it")


def check_same_data(out: Path, hashes: Mapping[str, str], overwrite: bool) -> None:
    """Refuse to replace the results of an evaluation of other data under the same names (a target
    CSV edited in place), unless ``overwrite``; before any fit.

    Raises
    ------
    FileExistsError
        If ``out/results.json`` records other sha256 hashes for an input file of the same name.
    """
    found = out / "results.json"
    if overwrite or not found.exists():
        return
    try:
        old = json.loads(found.read_text()).get("data_sha256", {})
    except (OSError, ValueError, AttributeError):
        return  # unreadable: check_output_dir has judged the folder already
    changed = sorted(k for k in hashes if k in old and old[k] != hashes[k])
    if changed:
        raise FileExistsError(f"{out} holds the results of an evaluation of other data: {', '.join(changed)} "
                              f"changed since (sha256 {old[changed[0]][:12]}... then, {hashes[changed[0]][:12]}... "
                              "now); choose another --out, or pass --overwrite to replace them")


def run_study(cfg: Mapping[str, Any], out: str | Path, models: list[str], schemes: list[str], nulls: list[str],
              n_null: int, on_total: Callable[[int], None] | None = None,
              on_fit: Callable[[str], None] | None = None, batch_size: int = BATCH_SIZE, executor: str = "local",
              scheduler: str | None = None, overwrite: bool = False, work: PlannedWork | None = None) -> dict:
    """Evaluate models under CV schemes with spatial-null p-values; write ``results.md`` / ``.json``.

    Parameters
    ----------
    cfg : mapping
        Base configuration (target, data options, seed, folds, quick, ``--set`` values).
    out : path
        Output directory (created; ``.cache`` inside holds resumable partial results).
    models : list of str
        Presets (:data:`xscale.config.PRESETS`) or aliases (``gnn``, ``pyro-gp``).
    schemes : list of str
        From :data:`xscale.evaluate.splits.SCHEMES`.
    nulls : list of str
        From :data:`ALL_NULLS` (:data:`xscale.evaluate.nulls.NULLS` and ``geneset``) or ``spin``
        (all three spin variants).
    n_null : int
        Surrogates (or random gene sets) per family; 0 fits the real map only (p-values None).
    on_total : callable, optional
        Called once with the total number of fits.
    on_fit : callable, optional
        Called after each fit with a label: :data:`xscale.progress.UNTIMED` for a fit of the real map
        when null refits follow, :data:`xscale.progress.FROM_CACHE` for a null refit read back from
        the cache of an interrupted run.
    batch_size : int
        Fits per batched refit (surrogate maps x CV splits); backends that train many models at
        once (the GNN-VAE, the Pyro GP models, the linear baselines) do so over a batch. Also
        the unit of caching and of distribution.
    executor : {'local', 'dask'}
        Where the null refits run: this process, or a dask.distributed cluster: the same results at
        the same thread count. The cluster's workers run one thread each; with more threads here,
        products sum in another order and the last digits can differ.
    scheduler : str, optional
        Address of a running dask scheduler (with ``executor='dask'``; default a LocalCluster).
    overwrite : bool
        Replace another evaluation's results in ``out`` (see :func:`check_output_dir`).
    work : PlannedWork, optional
        Given the batches of null refits left and told as each finishes, for the time left (see
        :func:`xscale.evaluate.nullruns.run_streams`).

    Returns
    -------
    dict
        ``{'target', 'rows': [...], 'configs': {...}, 'seed', 'packages', 'execution', 'data_sha256',
        'provenance', ...}``; a row per (model, scheme): ``r2``, ``r``, ``n``, ``aggregate``, ``p``
        (per family: ``p_r``, ``p_r2``, ``n`` finite null draws, null medians), ``consensus_p_r``,
        ``consensus_p_r2`` and ``gain_over_space`` (a gene model against the spatial-only model,
        :func:`xscale.evaluate.versus.gain_over_space`; None for the others): the results with their provenance (package versions, data hashes, where
        the refits ran, and :func:`xscale.provenance.run_record`: git commit, command line, times).

    Raises
    ------
    ConfigError, PluginNotFoundError, IncompatibleModelError, DataIntegrityError, DataFormatError
        Before any fit.
    FileExistsError
        Before any fit, if ``out`` holds something other than this evaluation (:func:`check_output_dir`,
        :func:`check_same_data`).
    """
    started = now()
    config_mod.refuse_model_override(cfg, "xscale evaluate")
    models = [config_mod.preset_name(m) if config_mod.combination(m) else m for m in models]
    models = expand(models, MODEL_ALIASES, [*config_mod.PRESETS, *filter(config_mod.combination, models)], "model",
                    hint=", or installed plugins named encoder/prior/decoder/backend (see `xscale plugins`), "
                         "e.g. gnn/laplacian/mlp/adam")
    config_mod.refuse_unused_settings(cfg, models)  # a typo would otherwise only warn, once per model
    schemes = expand(schemes, {}, SCHEMES, "CV scheme")
    nulls = expand(nulls, NULL_ALIASES, ALL_NULLS, "null family", allow_empty=True)
    configs = distinct_models({m: config_mod.resolve(config_mod.with_preset(cfg, m)) for m in models})
    models = list(configs)
    for c in configs.values():
        check_compatible(config_mod.model_spec(c))
    base = next(iter(configs.values()))
    check_output_dir(Path(out), {"target": base["target"], "models": models, "schemes": schemes, "nulls": nulls,
                                 "n_null": n_null, "seed": base["seed"], "quick": base["quick"]}, overwrite)
    d = base["data"]
    data, report = load_brain_data(base["target"], d["panel"], d["missing_regions"], d["normalise"])
    check_same_data(Path(out), report.hashes, overwrite)
    seed, folds = base["seed"], base["cv"]["folds"]
    schs = {s: scheme_for(data, s, folds, seed) for s in schemes}
    dist = np.linalg.norm(data.centroids.numpy()[:, None] - data.centroids.numpy()[None], axis=-1)
    draws = {f: ("maps", null_maps(data.target.numpy(), data.regions, dist, f, n_null, seed) if n_null
                  else np.empty((0, len(data.regions))))  # --n-null 0: the real fits only, no p-values
             for f in nulls if f != GENESET}
    universe = None
    if GENESET in nulls:
        universe = gene_universe(data.regions, d["missing_regions"], d["normalise"])
        draws[GENESET] = ("gene_sets", universe.draw(data.n_genes, n_null, seed))
    uses_genes = {m: registry.load("backend", config_mod.model_spec(c).backend).uses_expression
                  for m, c in configs.items()}
    if on_total:
        per_model = [1 + n_null * (len(nulls) - (GENESET in nulls and not uses_genes[m])) for m in models]
        on_total(sum(len(schs[s].splits) for s in schemes) * sum(per_model))
    if batch_size < 1:
        raise config_mod.ConfigError(f"batch_size={batch_size}; expected an integer >= 1")
    if executor != "dask" and scheduler:
        raise config_mod.ConfigError("--scheduler needs --executor dask")

    def tick(n: int = 1, cached: bool = False, timed: bool = True) -> None:
        for _ in range(n if on_fit else 0):
            on_fit(FROM_CACHE if cached else "" if timed else UNTIMED)

    out = Path(out)
    cache_dir = out / ".cache"
    data_hashes = report.hashes  # target, AHBA (whose whole transcriptome the gene-set null draws from), atlas
    versions = package_versions()  # xscale, its plugins and the numerical libraries: a new release recomputes
    runner = make_executor(executor, scheduler)
    try:
        specs = {m: config_mod.model_spec(configs[m]) for m in models}
        # the real map's fits, one by one: with null refits to come (in batches, far cheaper each)
        # they are left out of the rate the time left is estimated from
        real = {(m, s): cross_validate(data, specs[m], schs[s], seed, lambda _n: tick(timed=not (n_null and nulls)))
                for m in models for s in schemes}
        streams: dict[tuple[str, str, str], NullStream] = {}  # (model, scheme, family): its null refits
        for m in models:
            used = model_versions(configs[m]["model"], versions)  # not the plugins the model does not use
            for s in schemes:
                per_chunk = max(1, batch_size // len(schs[s].splits))
                shared = {"data": data, "spec": specs[m], "sch": schs[s], "seed": seed,
                          **({"universe": universe} if universe is not None else {})}
                for f in nulls:
                    if f == GENESET and not uses_genes[m]:  # a model without genes has no gene-set null
                        continue
                    drawn = hashlib.sha256(np.ascontiguousarray(draws[f][1]).tobytes()).hexdigest()
                    key = _key(model_identity(configs[m]), data_hashes, d, s, folds, f, n_null, seed, per_chunk,
                               drawn, used)
                    streams[m, s, f] = NullStream(cache_dir / f"{key}.json", shared, draws[f], per_chunk,
                                                  len(schs[s].splits))
        nulled = dict(zip(streams, run_streams(list(streams.values()), runner, tick, work)))
        run_info = runner.describe()
    finally:
        runner.close()
    cells = []
    for m in models:
        for s in schemes:
            p = {}
            for f in nulls:
                nr, nr2 = nulled.get((m, s, f), (np.empty(0), np.empty(0)))
                p[f] = {"p_r": p_value(real[m, s].score["r"], nr) if len(nr) else None,
                        "p_r2": p_value(real[m, s].score["r2"], nr2) if len(nr2) else None,
                        "n": int(np.isfinite(nr).sum()), "null_median_r": _median(nr), "null_median_r2": _median(nr2)}
            cells.append(Cell(m, s, real[m, s].score, p))
    # the gene models against the first model without genes (spatial-gp), on the same folds and surrogates
    reference = next((m for m in models if not uses_genes[m]), None)
    maps = [f for f in nulls if f != GENESET]

    def gain(m: str, s: str) -> dict | None:
        if reference is None or not uses_genes[m]:
            return None
        return gain_over_space(real[m, s].score, real[reference, s].score,
                               {f: nulled[m, s, f] for f in maps if (m, s, f) in nulled},
                               {f: nulled[reference, s, f] for f in maps if (reference, s, f) in nulled}, reference)

    rows = [{"model": c.model, "scheme": c.scheme, **{k: c.score.get(k) for k in ("r2", "r", "n", "coverage_95")},
             "aggregate": c.score.get("aggregate", "pooled out-of-fold" if c.scheme != "in-sample" else "in-sample fit"),
             "p": c.p, "consensus_p_r": c.consensus("p_r"), "consensus_p_r2": c.consensus("p_r2"),
             "gain_over_space": gain(c.model, c.scheme)} for c in cells]
    result = {"target": base["target"], "n_null": n_null, "nulls": nulls, "schemes": schemes, "models": models,
              "quick": base["quick"], "seed": seed, "rows": rows, "configs": configs,
              "plugins": {m: plugins_used(c["model"]) for m, c in configs.items()}, "packages": versions,
              "execution": {**run_info, "batch_size": batch_size, "torch_threads": torch.get_num_threads()},
              "data": {k: v for k, v in report.as_dict().items() if k != "hashes"}, "data_sha256": report.hashes,
              "provenance": run_record(started)}  # git commit, command line, start and end times, platform
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", result)
    write_text_atomic(out / "results.md", results_markdown(result))
    return result


def _median(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else None
