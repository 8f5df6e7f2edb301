"""Plugin discovery through ``importlib.metadata`` entry points.

Groups: ``xscale.encoders``, ``xscale.priors``, ``xscale.decoders``, ``xscale.backends``.
A plugin distribution declares, e.g. in its ``pyproject.toml``::

    [project.entry-points."xscale.encoders"]
    gnn = "xscale_gnn.encoder:GCNEncoder"

The core only ever reaches a plugin through this module.
"""

from __future__ import annotations

import difflib

import functools
import inspect
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Mapping

from xscale.errors import ConfigError, PluginNotFoundError

GROUPS: dict[str, str] = {
    "encoder": "xscale.encoders",
    "prior": "xscale.priors",
    "decoder": "xscale.decoders",
    "backend": "xscale.backends",
}


def available(kind: str) -> dict[str, EntryPoint]:
    """Installed plugins of one kind.

    Parameters
    ----------
    kind : {'encoder', 'prior', 'decoder', 'backend'}

    Returns
    -------
    dict of str to EntryPoint, sorted by name

    Raises
    ------
    ValueError
        If ``kind`` is not one of the four kinds.
    """
    if kind not in GROUPS:
        raise ValueError(f"unknown plugin kind {kind!r}; expected one of {sorted(GROUPS)}")
    return {ep.name: ep for ep in _group(GROUPS[kind])}


@functools.lru_cache(maxsize=None)
def _group(group: str) -> tuple[EntryPoint, ...]:
    """One entry-point group's entries, sorted by name; read once per process (scanning every
    installed distribution's metadata takes milliseconds, and null refits build components
    thousands of times). ``_group.cache_clear()`` after installing a plugin at run time."""
    return tuple(sorted(entry_points(group=group), key=lambda e: e.name))


def load(kind: str, name: str) -> type:
    """The class registered as ``name`` in ``kind``'s entry-point group.

    Raises
    ------
    PluginNotFoundError
        If no installed distribution registers ``name``; the message lists the available ones.
    ConfigError
        If two distributions (or two classes) register ``name``: which one runs would depend on
        the order of ``sys.path``.
    """
    eps = available(kind)
    twins = [ep for ep in _group(GROUPS[kind]) if ep.name == name]
    if len({(ep.dist.name if ep.dist else None, ep.value) for ep in twins}) > 1:
        found = "; ".join(f"{ep.value} from {ep.dist.name if ep.dist else 'an unknown distribution'}" for ep in twins)
        raise ConfigError(f"{kind} plugin name {name!r} (entry-point group {GROUPS[kind]}) is registered more than "
                          f"once: {found}. Uninstall one of them, or rename its entry point.")
    if name not in eps:
        choices = ", ".join(eps) or "none installed"
        close = difflib.get_close_matches(str(name), list(eps), n=1)
        hint = (f"Did you mean {close[0]!r}?" if close else
                "If it comes from a plugin distribution, install it, e.g. `pip install -e plugins/xscale-gnn`.")
        raise PluginNotFoundError(
            f"no {kind} plugin named {name!r} (entry-point group {GROUPS[kind]}); available: {choices}. {hint}"
        )
    return eps[name].load()


def describe(kind: str, name: str) -> dict[str, str | None]:
    """Where plugin ``name`` of ``kind`` comes from: ``{'name', 'implementation' ('module:Class'),
    'distribution', 'version'}`` (distribution and version None when its metadata lacks them).

    Raises
    ------
    PluginNotFoundError
        As :func:`load`.
    """
    load(kind, name)  # the same error for a missing plugin
    ep = available(kind)[name]
    return {"name": name, "implementation": ep.value, "distribution": ep.dist.name if ep.dist else None,
            "version": ep.dist.version if ep.dist else None}


def plugin_distributions() -> dict[str, str | None]:
    """``{distribution: version}`` of every installed distribution that registers an xscale plugin
    (first-party or not), sorted by name: provenance and cache keys record them."""
    found = {ep.dist.name: ep.dist.version for group in GROUPS.values() for ep in _group(group) if ep.dist}
    return dict(sorted(found.items()))


def default_params(cls: type) -> dict[str, Any]:
    """Keyword hyperparameters of a plugin class with their defaults, from its ``__init__``.

    Positional-only structural arguments (``in_features``, ``latent_dim``) are left out.
    """
    out: dict[str, Any] = {}
    for p in inspect.signature(cls.__init__).parameters.values():
        if p.kind is p.KEYWORD_ONLY and p.default is not p.empty:
            out[p.name] = p.default
    return out


def resolve_params(kind: str, name: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Plugin defaults overlaid with ``params``.

    Parameters
    ----------
    kind : {'encoder', 'prior', 'decoder', 'backend'}
    name : str
        Entry-point name.
    params : mapping, optional
        Values that differ from the defaults.

    Raises
    ------
    ConfigError
        If ``params`` holds a key the plugin does not accept (the message lists the valid
        keys), or a value whose type differs from the default's (an int is accepted for a float,
        a list for a tuple).
    """
    cls = load(kind, name)
    defaults = default_params(cls)
    unknown = sorted(set(params or {}) - set(defaults))
    if unknown:
        signature = inspect.signature(cls.__init__).parameters
        positional = [k for k in unknown if k in signature and signature[k].kind is not signature[k].KEYWORD_ONLY]
        hint = (f" {cls.__name__}.__init__ takes {positional} positionally: hyperparameters are its keyword-only "
                "arguments with defaults, declared after `*` (e.g. `def __init__(self, latent_dim, /, *, "
                f"{positional[0]}=...)`)." if positional else "")
        raise ConfigError(f"{kind} {name!r} has no hyperparameter(s) {unknown}; valid: {sorted(defaults)}.{hint}")
    out = {**defaults, **dict(params or {})}
    for key, value in (params or {}).items():
        default = defaults[key]
        if default is None or value is None:
            continue
        want = type(default)
        ok = isinstance(value, want) and not (want is not bool and isinstance(value, bool))
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            out[key], ok = float(value), True
        if want is tuple and isinstance(value, list):  # YAML and JSON (config.json) have lists, not tuples
            out[key], ok = tuple(value), True
        if not ok:
            raise ConfigError(f"{kind}.{key}={value!r}: expected {want.__name__} (default {default!r})")
    return out


def build(kind: str, name: str, params: Mapping[str, Any] | None = None, *args: Any) -> Any:
    """Instantiate plugin ``name`` of ``kind``.

    Parameters
    ----------
    kind, name : str
    params : mapping, optional
        Hyperparameters (validated by :func:`resolve_params`).
    *args
        Structural positional arguments, e.g. ``in_features`` (G) for an encoder.

    Raises
    ------
    PluginNotFoundError, ConfigError
        As :func:`load` and :func:`resolve_params`; ValueError from the plugin on a bad value.
    """
    cls = load(kind, name)
    return cls(*args, **resolve_params(kind, name, params))
