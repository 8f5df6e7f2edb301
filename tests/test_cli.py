"""End to end through the command line on real embedded maps (quick settings)."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from click.testing import CliRunner

from xscale import config, pipeline
from xscale.cli import main
from xscale.data.manifest import entry, project_root

ROOT = project_root()

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
    assert list(pred.columns) == ["region", "observed", "fitted_in_sample", "predicted_out_of_fold", "cv_fold",
                                  "fitted_lower_95", "fitted_upper_95", "out_of_fold_lower_95", "out_of_fold_upper_95"]
    assert pred["out_of_fold_lower_95"].isna().all(), "the adam backend gives no intervals"
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
    assert m["quick"] is True and m["preset"] is None
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


def test_existing_output_is_not_clobbered(run_dir, monkeypatch):
    before = sorted(p.name for p in run_dir.iterdir())
    monkeypatch.setattr(pipeline, "load_brain_data", lambda *a, **k: pytest.fail("data was loaded"))
    for command in (["fit", *QUICK], ["reproduce", "--quick"]):
        res = CliRunner().invoke(main, [*command, "--out", str(run_dir)])
        assert res.exit_code == 1 and "already exists" in res.output and "--overwrite" in res.output, res.output
    assert sorted(p.name for p in run_dir.iterdir()) == before


def test_default_run_directories_differ_between_models_and_quick_runs():
    """`xscale fit --model gp-svi` (linear decoder) and `--backend svi --prior gp` (mlp decoder) are
    different models; a quick and a full run are different runs: none may share a default directory."""
    from xscale.cli import default_run_dir

    names = {default_run_dir(config.resolve(config.build(**kw)))
             for kw in ({"preset": "gp-svi"}, {"backend": "svi", "prior": "gp"}, {"preset": "gp-svi", "quick": True},
                        {}, {"preset": "ridge"}, {"preset": "gp-svi", "seed": 3})}
    assert len(names) == 6, names
    assert default_run_dir(config.resolve(config.build())) == "runs/scz-gnn-laplacian-mlp-adam-seed0"
    assert default_run_dir(config.resolve(config.build(preset="ridge", quick=True))) == "runs/scz-ridge-seed0-quick"


def test_bad_target_and_unknown_plugin_fail_clearly(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("region,value\nL_bankssts,0.1\nL_nowhere,0.2\n")
    res = CliRunner().invoke(main, ["fit", "--target", str(bad), "--out", str(tmp_path / "o"), *QUICK])
    assert res.exit_code == 1 and "unknown regions ['L_nowhere']" in res.output and "missing regions" in res.output
    assert not (tmp_path / "o").exists()
    res = CliRunner().invoke(main, ["fit", "--encoder", "transformer", "--out", str(tmp_path / "p")])
    assert res.exit_code == 1 and "available: gnn" in res.output


@pytest.mark.parametrize("args, message", [
    (["--set", "seed=abc"], "seed='abc'; expected a non-negative integer"),
    (["--set", "backend.lr=abc"], "backend.lr='abc': expected float"),
    (["--set", "backend.val_fraction=1.0"], "val_fraction=1.0 is outside [0, 0.5]"),
    (["--set", "backend.max_epochs=0"], "max_epochs=0 is outside [1, inf)"),
    (["--set", "encoder.latent_dim=0"], "latent_dim=0 is outside [1, inf)"),
    (["--set", "cv.folds=40"], "cv.folds=40; expected an integer from 2 to 34"),
    (["--backend", "svi"], "backend 'svi' cannot fit prior 'laplacian'"),
])
def test_bad_settings_fail_before_any_work(tmp_path, monkeypatch, args, message):
    monkeypatch.setattr(pipeline, "load_brain_data", lambda *a, **k: pytest.fail("data was loaded"))
    res = CliRunner().invoke(main, ["fit", "--out", str(tmp_path / "o"), *args])
    assert res.exit_code != 0 and message in res.output, res.output
    assert "Traceback" not in res.output and not (tmp_path / "o").exists()


def test_interrupted_run_leaves_no_directory(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "evaluate", boom)
    with pytest.raises(KeyboardInterrupt):
        pipeline.fit({**__import__("xscale.config").config.build(quick=True)}, tmp_path / "run")
    assert list(tmp_path.iterdir()) == []
    res = CliRunner().invoke(main, ["fit", "--quick", "--out", str(tmp_path / "run")])
    assert res.exit_code == 130 and "interrupted: outputs appear only once complete" in " ".join(res.output.split())
    assert list(tmp_path.iterdir()) == [] and "Aborted" not in res.output


def test_the_command_starts_without_torch():
    """``import xscale.cli`` took 1.5 s, nearly all of it torch (through ``xscale.Backend`` & co.);
    a Ctrl-C then gave a traceback. The commands that fit import it themselves."""
    code = "import sys, xscale.cli; print('torch' in sys.modules); from xscale import Backend; print(Backend.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "Backend"]


def test_reproduce_two_maps(tmp_path):
    out = tmp_path / "rep"
    res = CliRunner().invoke(main, ["reproduce", "--out", str(out), "--targets", "enigma:scz,enigma:asd,",
                                    "--models", "gnn-vae", "--no-report", "--n-null", "2", *QUICK])
    assert res.exit_code == 0, res.output
    md = (out / "results.md").read_text()
    assert "| enigma:scz | schizophrenia | gnn-vae |" in md
    assert "| enigma:asd | autism spectrum disorder | gnn-vae | 66 |" in md
    assert "blocked-CV R^2" in md and "ADNI" in md and "adni.loni.usc.edu" in md
    assert "with spatial-null p-values: see evaluation.md" in md and "No null p-values" not in md
    assert "QUICK SMOKE-TEST SETTINGS" in md
    result = json.loads((out / "results.json").read_text())
    assert [r["target"] for r in result["rows"]] == ["enigma:scz", "enigma:asd"] and result["quick"] is True
    assert set(result["provenance"]["data_sha256"]) >= {"data/enigma/scz_case-controls_CortThick.csv",
                                                       "data/ahba/desikan_r0.2.csv.bz2"}
    assert (out / "figures" / "gnn-vae-scz.png").stat().st_size > 10_000
    assert (out / "runs" / "gnn-vae" / "asd" / "metrics.json").exists()
    # models beside the baselines, in-sample and blocked CV, with spin, brainsmash and gene-set p-values, every map
    ev = result["evaluation"]
    assert {(r["target"], r["model"], r["scheme"]) for r in ev} == {
        (t, m, s) for t in ("enigma:scz", "enigma:asd") for m in ("gnn-vae", "ridge", "pls1", "pcr", "spatial-gp")
        for s in ("in-sample", "blocked")}
    assert all(set(r["p"]) == {"spin-vasa", "brainsmash", "geneset"} and r["p"]["spin-vasa"]["n"] == 2 for r in ev)
    assert {r["model"] for r in ev if r["p"]["geneset"]["n"] == 2} == {"gnn-vae", "ridge", "pls1", "pcr"}
    table = (out / "evaluation.md").read_text()
    assert "## Map: enigma:asd" in table and "| spatial-gp | blocked |" in table
    assert "R^2 random gene sets (median)" in table
    gnn_cv = next(r for r in result["rows"] if r["target"] == "enigma:scz")["cv_r2"]
    assert next(r for r in ev if r["target"] == "enigma:scz" and r["model"] == "gnn-vae"
                and r["scheme"] == "blocked")["r2"] == pytest.approx(gnn_cv, abs=1e-6), "same fit, same numbers"


def test_reproduce_runs_a_plugin_combination_in_a_directory_of_its_own(tmp_path):
    """--models takes encoder/prior/decoder/backend: its outputs go to one directory named with '+'
    (not four nested ones), and the combination of the paper's plugins gives the preset's numbers."""
    out = tmp_path / "rep"
    res = CliRunner().invoke(main, ["reproduce", "--out", str(out), "--targets", "enigma:bd", "--models",
                                    "gnn-vae,gnn/laplacian/mlp/adam", "--no-report", "--no-evaluation", *QUICK])
    assert res.exit_code == 0, res.output
    assert (out / "runs" / "gnn+laplacian+mlp+adam" / "bd" / "metrics.json").is_file()
    assert (out / "figures" / "gnn+laplacian+mlp+adam-bd.png").stat().st_size > 10_000
    preset, combo = json.loads((out / "results.json").read_text())["rows"]
    assert (preset["model"], combo["model"]) == ("gnn-vae", "gnn/laplacian/mlp/adam")
    assert (preset["in_sample_r2"], preset["cv_r2"]) == (combo["in_sample_r2"], combo["cv_r2"]), "same model"
    assert "Models: gnn-vae = gnn/laplacian/mlp/adam; gnn/laplacian/mlp/adam." in (out / "results.md").read_text()


def test_reproduce_announces_the_evaluation_fits_it_will_report_to_the_progress_bar(tmp_path):
    fits, more = [], []
    cfg = config.build(sets=["backend.max_epochs=60"], quick=True, folds=3)
    pipeline.reproduce(cfg, tmp_path / "rep", ["enigma:bd"], ["gnn-vae"], n_null=2,
                       on_fit=lambda label="": fits.append(label), on_more_fits=more.append)
    model_fits = 1 * 1 * (3 + 1)  # one model on one map: in-sample and 3 blocked folds
    assert more and len(fits) == model_fits + sum(more), (len(fits), model_fits, more)


def test_reproduce_checks_every_target_before_fitting(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(pipeline, "evaluate", lambda *a, **k: calls.append(a))
    res = CliRunner().invoke(main, ["reproduce", "--out", str(tmp_path / "rep"), "--models", "gnn-vae",
                                    "--targets", f"enigma:scz,{tmp_path / 'missing.csv'}"])
    assert res.exit_code == 1 and "missing.csv" in res.output and "does not exist" in res.output
    assert calls == [] and not (tmp_path / "rep").exists()


def test_user_csv_target_gets_a_safe_run_name(tmp_path):
    src = tmp_path / "sub dir"
    src.mkdir()
    (src / "my map.csv").write_bytes((ROOT / "data/enigma/bd_case-controls_CortThick_adult.csv").read_bytes())
    out = tmp_path / "rep"
    res = CliRunner().invoke(main, ["reproduce", "--out", str(out), "--models", "gnn-vae",
                                    "--targets", str(src / "my map.csv"), "--no-report", "--no-evaluation", *QUICK])
    assert res.exit_code == 0, res.output
    assert (out / "runs" / "gnn-vae" / "my_map" / "metrics.json").exists()
    assert (out / "figures" / "gnn-vae-my_map.png").exists()
    assert sorted(p.name for p in src.iterdir()) == ["my map.csv"]


def test_help_is_useful_on_every_command():
    for cmd in (["--help"], ["fit", "--help"], ["reproduce", "--help"], ["data", "verify", "--help"], ["plugins", "--help"]):
        res = CliRunner().invoke(main, cmd)
        assert res.exit_code == 0 and len(res.output) > 120, cmd
    assert "--set KEY=VALUE" in CliRunner().invoke(main, ["fit", "--help"]).output


def test_reproduce_builds_the_paper_report_inside_its_output(tmp_path, monkeypatch):
    import xscale.paper.report as report

    calls = []

    def fake_build(out, **kw):  # the real build is tested in test_paper.py; here: the wiring
        calls.append(kw)
        out.mkdir()
        (out / "report.html").write_text("report")
        return {"timings_s": {"fig1_workflow": 1.0}}

    monkeypatch.setattr(report, "build_report", fake_build)
    out = tmp_path / "rep"
    res = CliRunner().invoke(main, ["reproduce", "--out", str(out), "--models", "ridge", "--targets", "enigma:bd",
                                    "--quick"])
    assert res.exit_code == 0, res.output
    # the report: the paper's model and ridge, and those named by --models
    assert calls == [{"quick": True, "target": "enigma:bd", "models": ["gnn-vae", "ridge"], "seed": 0, "n_null": None}]
    assert (out / "report" / "report.html").read_text() == "report"
    assert f"report: {out / 'report' / 'report.html'}" in res.output and "baselines: " in res.output
    assert "No null p-values: `--n-null N` adds" in (out / "results.md").read_text()
    result = json.loads((out / "results.json").read_text())
    assert result["report"]["path"] == "report/report.html"
    # without --n-null only the baselines not already reproduced are fitted, without p-values
    assert {(r["model"], r["scheme"]) for r in result["evaluation"]} == {
        (m, s) for m in ("pls1", "pcr", "spatial-gp") for s in ("in-sample", "blocked")}
    assert all(r["p"] == {} for r in result["evaluation"])
