"""`xscale evaluate`: models x schemes x nulls, with a resumable cache."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from xscale.cli import main
from xscale.evaluate import study

ARGS = ["evaluate", "--target", "enigma:bd", "--models", "pls1,pcr", "--cv", "in-sample,hemisphere",
        "--nulls", "spin-vasa,brainsmash,permutation", "--n-null", "6"]


def test_evaluate_table_and_resume(tmp_path, monkeypatch):
    out = tmp_path / "ev"
    res = CliRunner().invoke(main, [*ARGS, "--out", str(out)])
    assert res.exit_code == 0, res.output
    result = json.loads((out / "results.json").read_text())
    assert [(r["model"], r["scheme"]) for r in result["rows"]] == [
        ("pls1", "in-sample"), ("pls1", "hemisphere"), ("pcr", "in-sample"), ("pcr", "hemisphere")]
    row = result["rows"][1]
    assert set(row["p"]) == {"spin-vasa", "brainsmash", "permutation"} and row["p"]["brainsmash"]["n"] == 6
    assert row["consensus_p_r"] == max(row["p"][f]["p_r"] for f in ("spin-vasa", "brainsmash"))
    assert all(1 / 7 - 1e-9 <= row["p"][f]["p_r"] <= 1 for f in row["p"])
    md = (out / "results.md").read_text()
    assert "| pcr | hemisphere |" in md and "not predictions" in md

    calls = []
    real = study.cross_validate
    monkeypatch.setattr(study, "cross_validate", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = CliRunner().invoke(main, [*ARGS, "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert len(calls) == 4, "only the real fits are redone; every null refit comes from the cache"
    assert json.loads((out / "results.json").read_text())["rows"] == result["rows"]


def test_aliases_and_unknown_names():
    assert study.expand(["gnn", "pyro-gp"], study.MODEL_ALIASES, ["gnn-vae", "gp-svi"], "model") == ["gnn-vae", "gp-svi"]
    assert study.expand(["spin"], study.NULL_ALIASES, list(study.NULLS), "null family") == [
        "spin-vasa", "spin-hungarian", "spin-ab"]
    with pytest.raises(study.config_mod.ConfigError, match="unknown null family 'moran'"):
        study.expand(["moran"], study.NULL_ALIASES, list(study.NULLS), "null family")
