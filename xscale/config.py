"""Run configuration: defaults (the paper's), files, ``--set`` overrides, resolution.

A configuration is a nested mapping (YAML or JSON on disk)::

    target: enigma:scz
    seed: 0
    data:    {panel: l1000, missing_regions: copy-homologue, normalise: region}
    model:   {encoder: gnn, prior: laplacian, decoder: mlp, backend: adam}
    encoder: {}   # hyperparameters overriding the plugins' own defaults
    prior:   {}
    decoder: {}
    backend: {}
    cv:      {folds: 5}

:func:`resolve` fills every plugin hyperparameter with its default, so a run's
``config.json`` states every value that was used.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Mapping

import yaml

from xscale import registry
from xscale.data.ahba import MISSING_POLICIES, NORMALISATIONS, PANELS
from xscale.errors import ConfigError
from xscale.interfaces import ModelSpec

DEFAULTS: dict[str, Any] = {
    "target": "enigma:scz",
    "seed": 0,
    "data": {"panel": "l1000", "missing_regions": "copy-homologue", "normalise": "region"},
    "model": {"encoder": "gnn", "prior": "laplacian", "decoder": "mlp", "backend": "adam"},
    "encoder": {},
    "prior": {},
    "decoder": {},
    "backend": {},
    "cv": {"folds": 5},
}

#: Backend hyperparameters that ``--quick`` lowers, where the backend has them.
QUICK = {"max_epochs": 300, "patience": 60}

_CHOICES = {("data", "panel"): PANELS, ("data", "missing_regions"): MISSING_POLICIES,
            ("data", "normalise"): NORMALISATIONS}


def load_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON configuration file.

    Raises
    ------
    ConfigError
        If the file cannot be parsed or is not a mapping.
    """
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{p}: cannot read configuration: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: expected a mapping at top level, got {type(raw).__name__}")
    return raw


def merge(base: Mapping[str, Any], override: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """Deep-merge ``override`` into ``base``; unknown top-level sections are errors.

    Raises
    ------
    ConfigError
        On a key that ``base`` does not have at the top level or in ``data``/``model``/``cv``.
    """
    out = copy.deepcopy(dict(base))
    for k, v in override.items():
        path = f"{where}{k}"
        if k not in out and where in ("", "data.", "model.", "cv."):
            raise ConfigError(f"unknown configuration key {path!r}; valid here: {sorted(out)}")
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v, f"{path}.") if where == "" and k in ("data", "model", "cv") else {**out[k], **v}
        else:
            out[k] = v
    return out


def parse_set(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``["backend.lr=0.01", "seed=3"]`` -> nested mapping (values parsed as YAML scalars).

    Raises
    ------
    ConfigError
        If an item lacks ``=``.
    """
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. backend.lr=0.01")
        key, value = item.split("=", 1)
        node = out
        *parents, leaf = key.strip().split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(value)
    return out


def build(file: str | Path | None = None, sets: list[str] | tuple[str, ...] = (), quick: bool = False,
          **cli: Any) -> dict[str, Any]:
    """Defaults <- file <- command-line options (``cli``, None ignored) <- ``--set`` items."""
    cfg = merge(DEFAULTS, load_file(file)) if file else copy.deepcopy(DEFAULTS)
    for k, v in cli.items():
        if v is None:
            continue
        if k in ("encoder", "prior", "decoder", "backend"):
            cfg["model"][k] = v
        elif k == "folds":
            cfg["cv"]["folds"] = v
        else:
            cfg = merge(cfg, {k: v})
    cfg = merge(cfg, parse_set(sets))
    if quick:
        cfg["quick"] = True
    return cfg


def resolve(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``cfg`` and fill every plugin hyperparameter with its default.

    Raises
    ------
    ConfigError
        On an invalid choice or unknown hyperparameter.
    PluginNotFoundError
        On a plugin name that is not installed.
    """
    out = copy.deepcopy(dict(cfg))
    for (sec, key), choices in _CHOICES.items():
        if out[sec][key] not in choices:
            raise ConfigError(f"{sec}.{key}={out[sec][key]!r}; expected one of {list(choices)}")
    if not isinstance(out["cv"]["folds"], int) or out["cv"]["folds"] < 2:
        raise ConfigError(f"cv.folds={out['cv']['folds']!r}; expected an integer >= 2")
    if out.pop("quick", False):
        accepted = registry.default_params(registry.load("backend", out["model"]["backend"]))
        out["backend"] = {**{k: v for k, v in QUICK.items() if k in accepted}, **out["backend"]}
    for kind in ("encoder", "prior", "decoder", "backend"):
        out[kind] = registry.resolve_params(kind, out["model"][kind], out[kind])
    return out


def model_spec(cfg: Mapping[str, Any]) -> ModelSpec:
    """The :class:`ModelSpec` of a resolved configuration."""
    m = cfg["model"]
    return ModelSpec(m["encoder"], m["prior"], m["decoder"], m["backend"],
                     cfg["encoder"], cfg["prior"], cfg["decoder"], cfg["backend"])


def dumps(cfg: Mapping[str, Any]) -> str:
    """JSON text of a configuration (stable key order)."""
    return json.dumps(cfg, indent=2, sort_keys=True) + "\n"
