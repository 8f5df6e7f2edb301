"""Model runs and spatial-null distributions, cached in the build directory.

The notebooks run one after another in separate kernels; Fig 4, Fig 5 and Table 1 need the
same fits. Each fit is a normal run directory (:func:`xscale.pipeline.fit`) under
``<runs>/<model>/<map>-seed<seed>[-quick]``; it is reused only when its ``config.json`` equals
the resolved configuration asked for, so a changed setting always refits.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xscale import config as config_mod
from xscale import pipeline
from xscale.data.brain import load_brain_data
from xscale.errors import DataFormatError
from xscale.evaluate.cv import CVResult, scheme_for
from xscale.evaluate.nulls import NullTest, null_test
from xscale.interfaces import BrainData
from xscale.paper.settings import PaperParams
from xscale.rundir import write_json

log = logging.getLogger(__name__)

#: Evaluation schemes a claim or a figure can name, and their section in ``metrics.json``.
SECTIONS = {"in-sample": "in_sample", "blocked": "blocked_cv"}


@dataclass(frozen=True)
class Run:
    """One model on one map: a run directory's content.

    Attributes
    ----------
    path : Path
    config : dict
        Resolved configuration (``config.json``).
    metrics : dict
        ``metrics.json``: ``in_sample`` and ``blocked_cv`` scores (``r2``, ``r``, ``p``, ``n``).
    predictions : (R, 9) DataFrame
        ``predictions.csv``: region, observed, fitted_in_sample, predicted_out_of_fold, cv_fold, intervals.
    latent : (R, K) DataFrame
        ``latent.csv``, indexed by region: posterior mean of each latent dimension (in-sample fit).
    """

    path: Path
    config: dict
    metrics: dict
    predictions: pd.DataFrame
    latent: pd.DataFrame

    @property
    def model(self) -> str:
        """Preset name, or ``encoder/prior/decoder/backend`` for a run made without one."""
        m = self.config.get("model", {})
        return self.config.get("preset") or "/".join(str(m.get(k)) for k in ("encoder", "prior", "decoder", "backend"))

    def score(self, scheme: str) -> dict:
        """``{'r2', 'r', 'p', 'n', ...}`` of ``'in-sample'`` or ``'blocked'``.

        Raises
        ------
        KeyError
            On another scheme name.
        """
        return self.metrics[SECTIONS[scheme]]


def load_run(path: str | Path) -> Run:
    """Read a run directory written by ``xscale fit`` / :func:`xscale.pipeline.fit`.

    Raises
    ------
    DataFormatError
        If ``metrics.json``, ``config.json``, ``predictions.csv`` or ``latent.csv`` is missing or
        unreadable (the message names the file).
    """
    p = Path(path)
    try:
        cfg = json.loads((p / "config.json").read_text())
        metrics = json.loads((p / "metrics.json").read_text())
        pred = pd.read_csv(p / "predictions.csv")
        latent = pd.read_csv(p / "latent.csv").set_index("region")
    except (OSError, ValueError, KeyError) as exc:
        raise DataFormatError(f"{p}: not a complete run directory (config.json, metrics.json, predictions.csv, "
                              f"latent.csv expected): {exc}") from exc
    for sec in SECTIONS.values():
        if not {"r2", "r"} <= set(metrics.get(sec, {})):
            raise DataFormatError(f"{p / 'metrics.json'}: section {sec!r} lacks 'r2' / 'r'")
    return Run(p, cfg, metrics, pred, latent)


def run_path(root: str | Path, model: str, target: str, seed: int, quick: bool) -> Path:
    """``<root>/<model>/<map>-seed<seed>[-quick]`` (``<model>``: :func:`xscale.config.model_slug`)."""
    return Path(root) / config_mod.model_slug(model) / f"{pipeline.target_slug(target)}-seed{seed}{'-quick' if quick else ''}"


def ensure_run(params: PaperParams, model: str, seed: int | None = None, root: str | Path | None = None) -> Run:
    """The run of ``model`` on the params' target: reused when its configuration matches, else fitted.

    When ``params.target`` is a run directory of ``model`` (e.g. a restricted-data run made
    elsewhere), that directory is returned as it is.

    Parameters
    ----------
    params : PaperParams
    model : str
        Preset name, or a plugin combination ``encoder/prior/decoder/backend``.
    seed : int, optional
        Default ``params.seed``.
    root : path, optional
        Cache directory; default ``<params.out>/runs``.

    Returns
    -------
    Run

    Raises
    ------
    ConfigError, PluginNotFoundError, IncompatibleModelError, DataIntegrityError, DataFormatError
        As :func:`xscale.pipeline.fit`.
    """
    rd = params.run_dir
    if rd is not None:
        given = load_run(rd)
        if given.model == model and (seed is None or seed == given.config.get("seed")):
            return given
    seed = params.seed if seed is None else seed
    cfg = params.config(model, seed)
    resolved = config_mod.dumps(config_mod.resolve(cfg))
    path = run_path(root or Path(params.out) / "runs", model, params.target_spec, seed, params.quick)
    cached = path / "config.json"
    if cached.is_file() and cached.read_text() == resolved and (path / "metrics.json").is_file():
        log.debug("reusing run %s", path)
        return load_run(path)
    pipeline.fit(cfg, path, overwrite=True)
    return load_run(path)


@dataclass
class NullDistribution(NullTest):
    """A :class:`~xscale.evaluate.nulls.NullTest` (``family``, ``observed`` r2 and r, ``null_r``,
    ``null_r2`` (n,) arrays, one-sided ``p_r`` and ``p_r2``) with the model and scheme it belongs to."""

    model: str = ""
    scheme: str = ""


def _observed(run: Run, data: BrainData, scheme: str) -> CVResult:
    pred = run.predictions
    col = "fitted_in_sample" if scheme == "in-sample" else "predicted_out_of_fold"
    fold = np.zeros(data.n_regions, dtype=int) if scheme == "in-sample" else pred["cv_fold"].to_numpy(dtype=int)
    return CVResult(scheme, run.score(scheme), [], pred[col].to_numpy(dtype=float),
                    np.full((2, data.n_regions), np.nan), fold)


def ensure_nulls(params: PaperParams, run: Run, scheme: str, family: str) -> NullDistribution:
    """Refit ``run``'s model under ``scheme`` on ``params.n_null`` surrogate maps of ``family``.

    Cached in ``<out>/nulls/<model>/<map>-<scheme>-<family>-n<n>-seed<seed>[-quick].json`` with
    the configuration; reused only when it matches. The refits use the preset's configuration
    under ``params`` (the overrides of a run directory made elsewhere are not replayed).

    Parameters
    ----------
    params : PaperParams
    run : Run
        The model's run on the real map (its score is the observed statistic).
    scheme : {'in-sample', 'blocked'}
    family : str
        One of :data:`xscale.evaluate.nulls.NULLS`.

    Returns
    -------
    NullDistribution

    Raises
    ------
    KeyError
        On an unknown scheme.
    ValueError
        On an unknown null family.
    ConfigError
        If the run's ``config.json`` is not a configuration this xscale accepts.
    """
    model = run.model
    cfg = config_mod.resolve(run.config)  # the run's own settings: the nulls refit the very model that was scored
    slug = pipeline.target_slug(cfg["target"])
    path = (Path(params.out) / "nulls" / config_mod.model_slug(model) /
            f"{slug}-{scheme}-{family}-n{params.n_null}-seed{cfg['seed']}{'-quick' if cfg['quick'] else ''}.json")
    key: dict[str, Any] = {"config": config_mod.dumps(cfg), "scheme": scheme, "family": family, "n": params.n_null}
    if path.is_file():
        stored = json.loads(path.read_text())
        if stored.get("key") == key:
            return NullDistribution(family, stored["observed"], np.array(stored["null_r"], dtype=float),
                                    np.array(stored["null_r2"], dtype=float), model, scheme)
    d = cfg["data"]
    data, _ = load_brain_data(cfg["target"], d["panel"], d["missing_regions"], d["normalise"])
    sch = scheme_for(data, scheme, cfg["cv"]["folds"], cfg["seed"])
    test = null_test(data, config_mod.model_spec(cfg), sch, _observed(run, data, scheme), family, params.n_null,
                     cfg["seed"])
    observed = {k: run.score(scheme)[k] for k in ("r2", "r")}
    write_json(path, {"key": key, "observed": observed, "null_r": test.null_r.tolist(),
                      "null_r2": test.null_r2.tolist()})
    return NullDistribution(family, observed, test.null_r, test.null_r2, model, scheme)
