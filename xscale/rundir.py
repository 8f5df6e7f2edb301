"""Atomic output: a run directory appears complete or not at all.

Files are written into a hidden staging directory beside the destination; only when every
file is written is the staging directory renamed into place (``os.replace``, atomic on one
file system). An interrupted run leaves at most a ``.<name>.partial-<pid>`` directory, never
a directory that looks complete. Temporary files and directories are created private (``mkstemp``
and ``mkdtemp`` make them 0600 and 0700); before they are renamed into place they get the
permissions any new file gets in this process (0644 and 0755 under the usual umask 022), so
colleagues on a shared server can read results as they can read anything else the user writes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pandas as pd


def umask() -> int:
    """This process's umask (from ``/proc/self/status`` on Linux, else set and restored at once)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def as_created(path: str | Path, directory: bool = False) -> None:
    """Give ``path`` the permissions a file (or directory) created by ``open`` (``mkdir``) would get:
    0o666 (0o777) minus the umask, instead of the 0600 (0700) of ``mkstemp`` (``mkdtemp``)."""
    os.chmod(path, (0o777 if directory else 0o666) & ~umask())


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same directory and rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        as_created(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, obj: Any) -> Path:
    """Atomically write ``obj`` as indented JSON (NaN written as null)."""
    return write_text_atomic(path, json.dumps(_clean(obj), indent=2) + "\n")


def write_csv(path: str | Path, frame: pd.DataFrame) -> Path:
    """Atomically write a DataFrame as CSV without its index."""
    return write_text_atomic(path, frame.to_csv(index=False, float_format="%.8g"))


def _clean(obj: Any) -> Any:
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        return _clean(obj.item())
    return obj


@contextmanager
def staged_directory(dest: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a staging directory that becomes ``dest`` when the block ends without error.

    Raises
    ------
    FileExistsError
        If ``dest`` exists and ``overwrite`` is False (checked before any work is done).
    """
    dest = Path(dest).resolve()
    if dest.exists() and not overwrite:
        raise FileExistsError(f"{dest} already exists; choose another --out or pass --overwrite")
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-{os.getpid()}-", dir=dest.parent))
    try:
        as_created(stage, directory=True)
        yield stage
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
        os.replace(stage, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(stage, dest)
