"""End to end through the command line on real embedded maps (quick settings)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from xscale import pipeline
from xscale.cli import main
from xscale.data.manifest import entry

QUICK = ["--quick", "--set", "backend.max_epochs=120", "--folds", "3"]


def _fit(out, *extra):
    return CliRunner().invoke(main, ["fit", "--target", "enigma:scz", "--out", str(out), *QUICK, *extra])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("fit") / "scz"
    res = _fit(out)
    assert res.exit_code == 0, res.output
    assert "blocked 3-fold CV (out-of-sample)" in res.output
    return out


def test_run_directory_layout(run_dir):
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "config.json", "history.json", "latent.csv", "metrics.json", "prediction.png", "predictions.csv",
        "provenance.json"]
    pred = pd.read_csv(run_dir / "predictions.csv")
    assert list(pred.columns) == ["region", "observed", "predicted_in_sample", "predicted_out_of_fold", "cv_fold"]
    assert len(pred) == 68 and pred["region"].iloc[0] == "L_bankssts"
    assert sorted(pred["cv_fold"].unique()) == [0, 1, 2]
    assert pred["predicted_out_of_fold"].notna().all()
    latent = pd.read_csv(run_dir / "latent.csv")
    assert latent.shape == (68, 65)


def test_metrics_put_in_sample_beside_out_of_sample(run_dir):
    m = json.loads((run_dir / "metrics.json").read_text())
    assert "not a prediction" in m["in_sample"]["label"]
    assert m["blocked_cv"]["folds"] == 3 and len(m["blocked_cv"]["per_fold"]) == 3
    assert sum(f["n_test"] for f in m["blocked_cv"]["per_fold"]) == 68
    assert m["data"]["landmarks_found"] == 787 and m["data"]["landmarks_total"] == 978
    assert m["data"]["filled_regions"] == {"R_frontalpole": "L_frontalpole", "R_temporalpole": "L_temporalpole"}
    assert -1 <= m["in_sample"]["r"] <= 1 and m["in_sample"]["r2"] <= 1


def test_provenance_and_resolved_config(run_dir):
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["seed"] == 0
    assert prov["data_sha256"]["data/enigma/scz_case-controls_CortThick.csv"] == entry("enigma:scz").sha256
    assert prov["data_sha256"]["data/ahba/desikan_r0.2.csv.bz2"] == entry("ahba").sha256
    assert prov["packages"]["torch"].startswith("2.13.0") and prov["packages"]["xscale-gnn"]
    assert prov["started"] <= prov["finished"]
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["backend"]["max_epochs"] == 120 and cfg["prior"]["smoothness"] == 0.1


def test_same_seed_same_metrics(run_dir, tmp_path):
    res = _fit(tmp_path / "again")
    assert res.exit_code == 0, res.output
    a = json.loads((run_dir / "metrics.json").read_text())
    b = json.loads((tmp_path / "again" / "metrics.json").read_text())
    assert a["in_sample"] == b["in_sample"] and a["blocked_cv"] == b["blocked_cv"]
    assert (run_dir / "predictions.csv").read_bytes() == (tmp_path / "again" / "predictions.csv").read_bytes()


def test_existing_output_is_not_clobbered(run_dir):
    res = _fit(run_dir)
    assert res.exit_code != 0 and "already exists" in res.output


def test_bad_target_and_unknown_plugin_fail_clearly(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("region,value\nL_bankssts,0.1\nL_nowhere,0.2\n")
    res = CliRunner().invoke(main, ["fit", "--target", str(bad), "--out", str(tmp_path / "o"), *QUICK])
    assert res.exit_code == 1 and "unknown regions ['L_nowhere']" in res.output and "missing regions" in res.output
    assert not (tmp_path / "o").exists()
    res = CliRunner().invoke(main, ["fit", "--encoder", "transformer", "--out", str(tmp_path / "p")])
    assert res.exit_code == 1 and "available: gnn" in res.output


def test_interrupted_run_leaves_no_directory(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "evaluate", boom)
    with pytest.raises(KeyboardInterrupt):
        pipeline.fit({**__import__("xscale.config").config.build(quick=True)}, tmp_path / "run")
    assert list(tmp_path.iterdir()) == []


def test_reproduce_two_maps(tmp_path):
    out = tmp_path / "rep"
    res = CliRunner().invoke(main, ["reproduce", "--out", str(out), "--targets", "enigma:scz,enigma:asd", *QUICK])
    assert res.exit_code == 0, res.output
    md = (out / "results.md").read_text()
    assert "| enigma:scz |" in md and "| enigma:asd | autism spectrum disorder | 66 |" in md
    assert "blocked-CV R^2" in md and "ADNI" in md and "adni.loni.usc.edu" in md
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert [r["target"] for r in rows] == ["enigma:scz", "enigma:asd"]
    assert (out / "figures" / "scz.png").stat().st_size > 10_000
    assert (out / "runs" / "asd" / "metrics.json").exists()


def test_help_is_useful_on_every_command():
    for cmd in (["--help"], ["fit", "--help"], ["reproduce", "--help"], ["data", "verify", "--help"], ["plugins", "--help"]):
        res = CliRunner().invoke(main, cmd)
        assert res.exit_code == 0 and len(res.output) > 120, cmd
    assert "--set KEY=VALUE" in CliRunner().invoke(main, ["fit", "--help"]).output
