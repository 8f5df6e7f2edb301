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
import difflib
import json
import logging
from pathlib import Path
from typing import Any, Mapping

import yaml

from xscale import registry
from xscale.data.ahba import MISSING_POLICIES, NORMALISATIONS, PANELS
from xscale.errors import ConfigError
from xscale.interfaces import ModelSpec

log = logging.getLogger(__name__)

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
    "quick": False,
    "preset": None,
}

#: Named model configurations (``xscale reproduce --models``, ``xscale fit --model``): the
#: paper's GCN-VAE and the GP latent-program model. Plugins are named, never imported.
PRESETS: dict[str, dict[str, Any]] = {
    "gnn-vae": {"model": {"encoder": "gnn", "prior": "laplacian", "decoder": "mlp", "backend": "adam"}},
    "gp-svi": {"model": {"encoder": "gnn", "prior": "gp", "decoder": "linear", "backend": "svi"},
               "encoder": {"latent_dim": 4}},
}

#: Baselines (issue: honest validation): self-contained backends, no encoder / prior / decoder.
BASELINES: dict[str, dict[str, Any]] = {
    "ridge": {"backend": "ridge"},
    "pls1": {"backend": "pls", "params": {"components": 1}},
    "pls": {"backend": "pls", "params": {"components": 0}},
    "pcr": {"backend": "pcr"},
    "spatial-gp": {"backend": "spatial-gp"},
}
for _name, _b in BASELINES.items():
    PRESETS[_name] = {"model": {"encoder": None, "prior": None, "decoder": None, "backend": _b["backend"]},
                      "backend": dict(_b.get("params", {}))}
DEFAULT_REPRODUCE_MODELS = ("gnn-vae", "gp-svi")
#: Other names of presets, accepted wherever a preset is (the issue's ``gnn`` and ``pyro-gp``).
PRESET_ALIASES = {"gnn": "gnn-vae", "pyro-gp": "gp-svi"}


#: The four plugin kinds of a model, in the order of a combination's name (``gnn/laplacian/mlp/adam``).
COMPONENT_KINDS = ("encoder", "prior", "decoder", "backend")


def combination(name: str) -> dict[str, str] | None:
    """The model section a combination name ``encoder/prior/decoder/backend`` stands for, or None
    for any other name (a preset, an alias).

    ``--models`` of ``xscale evaluate`` and ``xscale reproduce`` take these beside presets, so that
    any installed plugins (one's own decoder, say) are validated the same way as the paper's
    models: e.g. ``gnn/laplacian/quadratic/adam``.

    The directory name :func:`model_slug` gives a combination, ``gnn+laplacian+mlp+adam``, is
    read the same way.

    Raises
    ------
    ConfigError
        If a name with ``/`` (or ``+``) does not have four non-empty parts.
    """
    sep = "/" if "/" in name else "+" if "+" in name else None
    if sep is None:
        return None
    parts = [p.strip() for p in name.split(sep)]
    if len(parts) != len(COMPONENT_KINDS) or not all(parts):
        raise ConfigError(f"model {name!r}: a combination is named encoder/prior/decoder/backend, four plugin names "
                          "(see `xscale plugins`), e.g. gnn/laplacian/mlp/adam")
    return dict(zip(COMPONENT_KINDS, parts))


def preset_name(name: str) -> str:
    """The preset ``name`` stands for (itself, or the target of an alias); a combination
    ``encoder/prior/decoder/backend`` (see :func:`combination`) stands for itself.

    Raises
    ------
    ConfigError
        On an unknown name; the message lists the presets and suggests the closest one.
    """
    if (combo := combination(name)) is not None:
        return "/".join(combo.values())
    name = PRESET_ALIASES.get(name, name)
    if name not in PRESETS:
        close = difflib.get_close_matches(str(name), [*PRESETS, *PRESET_ALIASES], n=1)
        raise ConfigError(f"unknown model preset {name!r}; available: {', '.join(PRESETS)} (aliases: "
                          f"{', '.join(f'{a} = {p}' for a, p in PRESET_ALIASES.items())})"
                          + (f". Did you mean {close[0]!r}?" if close else ""))
    return name


def model_section(name: str) -> dict[str, str | None]:
    """The four plugin names (``encoder``, ``prior``, ``decoder``, ``backend``; None where a
    baseline has none) of preset ``name`` (or an alias) or of a combination.

    Raises
    ------
    ConfigError
        On an unknown preset or a malformed combination (:func:`preset_name`).
    """
    name = preset_name(name)
    return dict(combination(name) or PRESETS[name]["model"])


def model_slug(name: str) -> str:
    """The directory name of a model's outputs (``runs/<slug>/``, ``figures/<slug>-<map>.png``):
    a preset's own name, or a combination's parts joined by ``+`` (``gnn/laplacian/mlp/adam`` ->
    ``gnn+laplacian+mlp+adam``), so that a combination is one directory, not four nested ones.

    Raises
    ------
    ConfigError
        If a name with ``/`` or ``+`` does not have four non-empty parts (:func:`combination`).
    """
    combo = combination(name)
    return "+".join(combo.values()) if combo else name


def default_models() -> list[str]:
    """The presets ``xscale reproduce`` runs by default: those of :data:`DEFAULT_REPRODUCE_MODELS` installed."""
    return [m for m in DEFAULT_REPRODUCE_MODELS if preset_available(m)]

#: Most blocked-CV folds: the 34 DK homologue pairs (a pair always shares a fold).
MAX_FOLDS = 34

#: Backend hyperparameters that ``--quick`` lowers, where the backend has them.
QUICK = {"max_epochs": 300, "patience": 60, "steps": 300, "num_samples": 100, "warmup_steps": 50}

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
          preset: str | None = None, **cli: Any) -> dict[str, Any]:
    """Configuration from defaults <- file <- command-line options <- ``--set`` items.

    Parameters
    ----------
    file : path, optional
        YAML or JSON configuration.
    sets : sequence of str
        ``KEY=VALUE`` overrides (see :func:`parse_set`).
    quick : bool
        Mark the run as a smoke test (:data:`QUICK` lowers the backend's epochs).
    preset : str, optional
        A :data:`PRESETS` name, applied before the command-line plugin names.
    **cli
        Command-line options: ``target``, ``seed``, ``encoder``/``prior``/``decoder``/``backend``,
        ``folds``, ``data`` (mapping); None values are ignored.

    Raises
    ------
    ConfigError
        On unknown keys or unreadable files.
    """
    cfg = merge(DEFAULTS, load_file(file)) if file else copy.deepcopy(DEFAULTS)
    if preset:
        cfg = with_preset(cfg, preset)
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


def with_preset(cfg: Mapping[str, Any], name: str) -> dict[str, Any]:
    """``cfg`` with the model section (and preset hyperparameters) of preset ``name``, or of the
    combination ``encoder/prior/decoder/backend`` (:func:`combination`; no preset hyperparameters).

    Hyperparameters in ``cfg`` win over the preset's; those the preset's plugin does not
    accept (e.g. ``backend.max_epochs`` for the ``svi`` backend) are left out, with a warning.

    Raises
    ------
    ConfigError
        On an unknown preset; the message lists them.
    PluginNotFoundError
        If a combination names a plugin that is not installed.
    """
    name = preset_name(name)
    combo = combination(name)
    preset = {"model": combo} if combo else PRESETS[name]
    out = copy.deepcopy(dict(cfg))
    out["model"] = dict(preset["model"])
    for kind, (plugin, accepted) in _accepted(out["model"]).items():
        given = out.get(kind, {})
        dropped = sorted(set(given) - set(accepted))
        if dropped:
            log.warning("preset %s: %s %r has no hyperparameter(s) %s; ignored for this preset",
                        name, kind, plugin, dropped)
        out[kind] = {**preset.get(kind, {}), **{k: v for k, v in given.items() if k in accepted}}
    out["preset"] = None if combo else name
    return out


def _accepted(model: Mapping[str, str | None]) -> dict[str, tuple[str | None, dict[str, Any]]]:
    """``{kind: (plugin, its hyperparameters with their defaults)}`` of a model section."""
    return {kind: (model[kind], registry.default_params(registry.load(kind, model[kind])) if model[kind] else {})
            for kind in ("encoder", "prior", "decoder", "backend")}


def refuse_unused_settings(cfg: Mapping[str, Any], names: list[str]) -> None:
    """Refuse hyperparameters of ``cfg`` (``kind.key``) that no model in ``names`` accepts: a typo,
    or a setting for a model that is not among them. :func:`with_preset` leaves a setting out of
    each model that does not take it, with a warning; a command that runs several models
    (``xscale evaluate``) refuses those that none of them takes.

    Raises
    ------
    ConfigError
        Naming the unused settings and listing those the models accept.
    PluginNotFoundError
        As :func:`with_preset`, for a name.
    """
    given = {f"{kind}.{key}" for kind in ("encoder", "prior", "decoder", "backend") for key in cfg.get(kind, {})}
    valid = {f"{kind}.{key}" for name in names for kind, (_, accepted) in _accepted(model_section(name)).items()
             for key in accepted}
    if given - valid:
        raise ConfigError(f"{', '.join(sorted(given - valid))}: no model of this run ({', '.join(names)}) has such a "
                          f"hyperparameter; valid: {', '.join(sorted(valid)) or 'none'}")


def refuse_model_override(cfg: Mapping[str, Any], command: str) -> None:
    """Refuse a model section that ``--models`` would silently replace (``xscale evaluate`` and
    ``xscale reproduce`` run the models that ``--models`` names).

    Raises
    ------
    ConfigError
        If ``cfg``'s model (from a configuration file or ``--set model.*``) is not the default;
        the message gives the ``--models`` name of the model asked for.
    """
    model = dict(cfg.get("model", {}))
    if model == DEFAULTS["model"]:
        return
    changed = ", ".join(f"model.{k}={v}" for k, v in model.items() if DEFAULTS["model"].get(k) != v)
    wanted = "/".join(str(model.get(k)) for k in COMPONENT_KINDS)
    raise ConfigError(f"{command} runs the models named by --models, and {changed} (from --set or the configuration "
                      f"file) would be ignored. To include this model, name it: --models {wanted} (add presets "
                      "after a comma, e.g. --models gnn-vae,ridge," + wanted + ")")


def preset_available(name: str) -> bool:
    """Whether every plugin preset ``name`` names is installed."""
    return all(v is None or v in registry.available(k) for k, v in PRESETS[name]["model"].items())


def resolve(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``cfg`` and fill every plugin hyperparameter with its default.

    The result records ``quick: true|false``, so smoke-test runs are marked as such.

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
    folds = out["cv"]["folds"]
    if not isinstance(folds, int) or isinstance(folds, bool) or not 2 <= folds <= MAX_FOLDS:
        raise ConfigError(f"cv.folds={folds!r}; expected an integer from 2 to {MAX_FOLDS} "
                          "(the number of homologue pairs, which share a fold)")
    if not isinstance(out["seed"], int) or isinstance(out["seed"], bool) or out["seed"] < 0:
        raise ConfigError(f"seed={out['seed']!r}; expected a non-negative integer")
    if not isinstance(out["target"], str) or not out["target"].strip():
        raise ConfigError(f"target={out['target']!r}; expected enigma:<name> or a CSV path")
    out["quick"] = bool(out.get("quick", False))
    if out["quick"]:
        accepted = registry.default_params(registry.load("backend", out["model"]["backend"]))
        out["backend"] = {**{k: v for k, v in QUICK.items() if k in accepted}, **out["backend"]}
    for kind in ("encoder", "prior", "decoder", "backend"):
        name = out["model"][kind]
        if name is None:
            if out[kind]:
                raise ConfigError(f"{kind} hyperparameters {sorted(out[kind])} given, but the model has no {kind}")
            continue
        out[kind] = registry.resolve_params(kind, name, out[kind])
    return out


def model_spec(cfg: Mapping[str, Any]) -> ModelSpec:
    """The :class:`ModelSpec` of a resolved configuration."""
    m = cfg["model"]
    return ModelSpec(m["encoder"], m["prior"], m["decoder"], m["backend"],
                     cfg["encoder"], cfg["prior"], cfg["decoder"], cfg["backend"])


def dumps(cfg: Mapping[str, Any]) -> str:
    """JSON text of a configuration (stable key order)."""
    return json.dumps(cfg, indent=2, sort_keys=True) + "\n"
