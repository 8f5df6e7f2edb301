"""What a run needs to be re-run: code version, packages, data hashes, seed, machine, times."""

from __future__ import annotations

import platform
import re
import subprocess
import sys
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path
from typing import Any, Mapping

import torch

from xscale import registry

#: xscale's own plugin distributions (``plugins/``).
FIRST_PARTY_PLUGINS = ("xscale-gnn", "xscale-pyro", "xscale-baselines")
PACKAGES = ("xscale", *FIRST_PARTY_PLUGINS, "torch", "torch_geometric", "pyro-ppl",
            "scikit-learn", "numpy", "pandas", "scipy", "abagen", "nibabel", "click", "matplotlib")


def now() -> str:
    """Current UTC time, ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def git_commit(path: Path | None = None) -> dict[str, Any]:
    """``{'commit': sha or None, 'dirty': bool or None}`` of the checkout holding ``path``."""
    cwd = path or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    if sha.returncode != 0:
        return {"commit": None, "dirty": None}
    return {"commit": sha.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def package_versions(names: tuple[str, ...] | None = None) -> dict[str, str | None]:
    """Installed versions of ``names``; by default of :data:`PACKAGES` (xscale, its first-party
    plugins and its scientific dependencies) and of every installed distribution that registers an
    xscale plugin (:func:`xscale.registry.plugin_distributions`: one's own plugins too)."""
    out: dict[str, str | None] = {}
    for name in PACKAGES if names is None else names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    if names is None:
        out.update({d: v for d, v in registry.plugin_distributions().items() if d not in out})
    return out


def model_versions(model: Mapping[str, str | None], versions: Mapping[str, str | None]) -> dict[str, str | None]:
    """The package versions one model's numbers depend on, for cache keys.

    ``versions`` without the plugin distributions (installed ones, and xscale's first-party plugins
    whether installed or not) that neither provide one of the model's components nor are among the
    declared requirements (``Requires-Dist``, followed through every distribution, plugin or not)
    of one that does. So a release or installation of an unrelated plugin keeps the model's cached
    refits; a release of xscale, of the model's plugins or of a library in ``versions`` does not.
    A plugin that imports another plugin's package, or loads another plugin's component other than
    through the model's configuration, must declare that distribution among its dependencies.

    Parameters
    ----------
    model : mapping
        A configuration's ``model`` section: ``{kind: plugin name or None}``.
    versions : mapping of str to str or None
        ``{distribution: version}``, as :func:`package_versions` gives them.

    Returns
    -------
    dict of str to str or None
        All of ``versions`` when a component's distribution is unknown (no package metadata).

    Raises
    ------
    ValueError
        On an unknown plugin kind (:func:`xscale.registry.available`).
    PluginNotFoundError
        On a plugin that is not installed (:func:`xscale.registry.describe`).
    """
    used = [p["distribution"] for p in plugins_used(model).values()]
    if None in used:
        return dict(versions)
    needed, todo = set(), [_canonical(d) for d in used]
    while todo:
        d = todo.pop()
        if d in needed:
            continue
        needed.add(d)
        try:
            todo += [_canonical(re.match(r"[A-Za-z0-9._-]+", r).group()) for r in requires(d) or []]
        except PackageNotFoundError:  # an extra's requirement that is not installed
            continue
    plugins = {_canonical(d) for d in [*registry.plugin_distributions(), *FIRST_PARTY_PLUGINS]}
    unused = plugins - needed - {"xscale"}
    return {k: v for k, v in versions.items() if _canonical(k) not in unused}


def _canonical(name: str) -> str:
    """A distribution name normalised as PEP 503 does (``xscale_gnn`` and ``xscale-gnn`` match)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def plugins_used(model: Mapping[str, str | None]) -> dict[str, dict[str, str | None]]:
    """``{kind: registry.describe(kind, name)}`` for each plugin a model section names (None skipped):
    which distribution, version and class each component of a run came from."""
    return {kind: registry.describe(kind, name) for kind, name in model.items() if name is not None}


def run_record(started: str, argv: list[str] | None = None) -> dict[str, Any]:
    """Where, when and how a run ran: git checkout, Python, platform, torch threads, command, times.

    Parameters
    ----------
    started : str
        ISO time the run began (:func:`now`); the end time is taken now.
    argv : list of str, optional
        Command line; defaults to ``sys.argv``.
    """
    return {
        "git": git_commit(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "command": list(argv if argv is not None else sys.argv),
        "started": started,
        "finished": now(),
    }


def collect(seed: int, data_hashes: dict[str, str], started: str, argv: list[str] | None = None,
            model: Mapping[str, str | None] | None = None) -> dict[str, Any]:
    """Provenance record of a run (written as ``provenance.json``): :func:`run_record` with the
    package versions, seed, data hashes and plugins.

    Parameters
    ----------
    seed : int
    data_hashes : dict of str to str
        sha256 of every input file read.
    started : str
        ISO time the run began; the end time is taken now.
    argv : list of str, optional
        Command line; defaults to ``sys.argv``.
    model : mapping, optional
        The run's model section (``{'encoder': 'gnn', ...}``): adds ``plugins``, see :func:`plugins_used`.
    """
    return {
        **({"plugins": plugins_used(model)} if model is not None else {}),
        "packages": package_versions(),
        "seed": seed,
        "data_sha256": data_hashes,
        **run_record(started, argv),
    }
