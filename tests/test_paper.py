"""paper/: every notebook executed in quick mode on the embedded data; claims verification
(tolerances, drift -> non-zero exit, ADNI handling); the figure helpers' numbers."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from xscale.cli import main
from xscale.data.atlas import load_atlas, lobe_of
from xscale.data.brain import load_brain_data
from xscale.data.manifest import entry, project_root, sha256_file
from xscale.errors import DataFormatError
from xscale.paper import claims, notebooks, surface, transcriptome, vulnerability, workflow
from xscale.paper.latent import gene_modules, gene_program_r, latent_view, programs
from xscale.paper.report import build_report
from xscale.paper.runs import ensure_run, load_run, run_path
from xscale.paper.settings import PaperParams

ROOT = project_root()
FIGURES = ("fig1_workflow", "fig2_vulnerability", "fig3_transcriptome", "fig4_latent", "fig5_prediction_gnn-vae",
           "fig5_prediction_ridge", "fig5_summary")


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """One quick build of every notebook (1 surrogate per null family keeps it to a few minutes)."""
    out = tmp_path_factory.mktemp("paper") / "build"
    result = build_report(out, quick=True, models="gnn-vae,ridge", n_null=1)
    return out, result


# --- the notebooks, executed ----------------------------------------------------------------


@pytest.mark.slow
def test_every_notebook_runs_and_writes_png_and_pdf(build):
    out, result = build
    assert list(result["timings_s"]) == list(notebooks.NOTEBOOKS)
    for stem in FIGURES:
        png, pdf = (out / "figures" / f"{stem}.png").read_bytes(), (out / "figures" / f"{stem}.pdf").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 50_000, stem
        assert pdf.startswith(b"%PDF") and len(pdf) > 10_000, stem
    for name in notebooks.NOTEBOOKS:
        nb = json.loads((out / "notebooks" / f"{name}.ipynb").read_text())
        outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
        assert not [o for o in outputs if o["output_type"] == "error"], name
        injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
        assert len(injected) == 1 and "out = '.'" in "".join(injected[0]["source"]), name


def test_report_has_provenance_and_every_hash(build):
    out, _ = build
    prov = json.loads((out / "provenance.json").read_text())
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    assert prov["git"]["commit"] == (head.stdout.strip() if head.returncode == 0 else None)
    assert prov["parameters"]["quick"] is True and prov["seed"] == 0
    assert prov["packages"]["nilearn"] == "0.14.1" and prov["packages"]["jupytext"]
    assert prov["data_sha256"]["data/enigma/scz_case-controls_CortThick.csv"] == entry("enigma:scz").sha256
    assert set(prov["timings_s"]) == set(notebooks.NOTEBOOKS) and prov["machine"]["cpu_count"] >= 1
    for rel, digest in prov["artifacts_sha256"].items():
        assert sha256_file(out / rel) == digest, rel
    assert {f"figures/{s}.{e}" for s in FIGURES for e in ("png", "pdf")} <= set(prov["artifacts_sha256"])
    sums = dict(line.split("  ")[::-1] for line in (out / "SHA256SUMS").read_text().splitlines())
    assert "report.html" in sums and "provenance.json" in sums
    for rel, digest in sums.items():
        assert sha256_file(out / rel) == digest, rel
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64") >= len(FIGURES)
    assert "QUICK SMOKE-TEST BUILD" in html and prov["git"]["commit"] in html
    assert "Table 1: claims" in html
    assert "AHBA: 2 unsampled regions" not in html, "logs stay in the notebooks, not in the report"
    external = re.findall(r"<script[^>]*\bsrc=|<link[^>]*\bhref=[\"']?https?:|\bimport\b[^;]*https?://|url\(\s*[\"']?https?:",
                          html)
    assert not external, f"report.html loads from the network: {external}"


def test_table1_of_the_build_checks_the_quick_claims(build):
    out, _ = build
    t = json.loads((out / "tables" / "claims.json").read_text())
    assert t["quick"] is True and t["n_failed"] == 0
    verdicts = {r["claim"]: r["verdict"] for r in t["rows"]}
    assert verdicts["paper-adni-gnn-vae-in-sample-r2"] == claims.FULL_ONLY
    assert verdicts["scz-ridge-blocked-r"] == claims.PASS and verdicts["scz-gnn-vae-blocked-r2"] == claims.PASS
    dataset = pd.read_csv(out / "tables" / "table1_dataset.csv")
    assert list(dataset["model"]) == ["gnn-vae", "gnn-vae", "ridge", "ridge"]
    assert dataset["consensus p(r)"].isin([0.5, 1.0]).all(), "1 surrogate: p = (1 + k) / 2"


def test_notebook_kernels_talk_over_private_sockets_without_warnings(capfd):
    """ipykernel >= 7 warns on every kernel started over TCP (unencrypted); the build's kernels use
    Unix sockets in a private temporary folder, and are shut down when their notebook is done."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(
        "import os\nfrom ipykernel.kernelapp import IPKernelApp\n"
        "print(os.getpid(), os.getppid(), IPKernelApp.instance().transport, IPKernelApp.instance().ip)"))
    with notebooks._kernel_channels() as channels:
        NotebookClient(nb, kernel_name="python3", config=channels, timeout=120).execute()
        kernel, parent, transport, ip = nb.cells[0].outputs[0]["text"].split()
        assert (int(parent), transport, ip) == (os.getpid(), "ipc", channels.KernelManager.ip)
        assert Path(ip).parent.stat().st_mode & 0o077 == 0, "the sockets' folder is private"
    with pytest.raises(ProcessLookupError):  # shut down with its notebook, not at interpreter exit
        os.kill(int(kernel), 0)
    assert not Path(ip).parent.exists()
    err = capfd.readouterr().err
    assert "WARNING" not in err and "encryption" not in err, err


def test_build_refuses_an_existing_directory_before_running(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError):
        build_report(tmp_path / "out")


# --- claims: tolerance logic and `xscale paper verify` --------------------------------------


def test_tolerance_boundaries():
    assert claims.judge(0.50, 0.45, 0.05) == claims.PASS
    assert claims.judge(0.40, 0.45, 0.05) == claims.PASS
    assert claims.judge(0.5001, 0.45, 0.05) == claims.FAIL
    assert claims.judge(float("nan"), 0.45, 0.05) == claims.FAIL
    assert claims.judge(None, 0.45, 0.05) == claims.FAIL


def _claims_file(tmp_path, edit=None):
    raw = yaml.safe_load((ROOT / "paper/claims.yaml").read_text())
    raw["claims"] = [c for c in raw["claims"] if c["model"] == "ridge" or c["data"] == "adni"]
    if edit:
        edit(raw["claims"])
    p = tmp_path / "claims.yaml"
    p.write_text(yaml.safe_dump(raw))
    return p


def test_verify_quick_passes_and_reports_adni_claims_without_failing(build, tmp_path):
    out, _ = build
    res = CliRunner().invoke(main, ["paper", "verify", "--quick", "--claims", str(_claims_file(tmp_path)),
                                    "--runs", str(out / "runs"), "--out", str(tmp_path / "v")])
    assert res.exit_code == 0, res.output
    assert "QUICK MODE" in res.output and "full mode only" in res.output
    t = json.loads((tmp_path / "v" / "claims.json").read_text())
    ridge = [r for r in t["rows"] if r["model"] == "ridge"]
    assert len(ridge) == 4 and all(r["verdict"] == "pass" and len(r["per_seed"]) == 5 for r in ridge)
    assert (tmp_path / "v" / "claims.md").read_text().count("| pass |") == 4


def test_drift_outside_tolerance_exits_non_zero(build, tmp_path):
    out, _ = build

    def shift(cs):  # pretend the science moved: the blocked-CV r claim expects 3 tolerances more
        c = next(c for c in cs if c["name"] == "scz-ridge-blocked-r")
        c["quick"]["value"] += 3 * c["quick"]["tolerance"]

    res = CliRunner().invoke(main, ["paper", "verify", "--quick", "--claims", str(_claims_file(tmp_path, shift)),
                                    "--runs", str(out / "runs"), "--out", str(tmp_path / "v")])
    assert res.exit_code == 1, res.output
    t = json.loads((tmp_path / "v" / "claims.json").read_text())
    bad = [r for r in t["rows"] if r["verdict"] == "FAIL"]
    assert [r["claim"] for r in bad] == ["scz-ridge-blocked-r"] and t["n_failed"] == 1
    assert abs(bad[0]["delta"]) > bad[0]["tolerance"]


def test_adni_claims_need_adni_in_full_mode():
    adni_only = [c for c in claims.load_claims() if c.data == "adni"]
    v = claims.verify(adni_only, quick=False)
    assert [r.verdict for r in v.rows] == [claims.NEEDS_ADNI] * 2 and not v.failed


def _fake_adni_run(path, r2, r, quick=False, preset="gnn-vae"):
    """A made-up run directory of an ADNI map: real ADNI data cannot exist in this repository."""
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"target": "adni_ad_thinning.csv", "preset": preset, "seed": 0,
                                                  "quick": quick, "model": {}}))
    metrics = {"in_sample": {"r2": r2, "r": r}, "blocked_cv": {"r2": 0.1, "r": 0.3}}
    (path / "metrics.json").write_text(json.dumps(metrics))
    (path / "predictions.csv").write_text("region,observed\nL_bankssts,0.1\n")
    (path / "latent.csv").write_text("region,z0\nL_bankssts,0.0\n")
    return path


def test_adni_claims_against_a_run_directory(tmp_path):
    adni_only = [c for c in claims.load_claims() if c.data == "adni"]
    good = claims.verify(adni_only, adni=str(_fake_adni_run(tmp_path / "good", 0.85, 0.95)))
    assert [r.verdict for r in good.rows] == [claims.PASS, claims.PASS]
    drift = claims.verify(adni_only, adni=str(_fake_adni_run(tmp_path / "drift", 0.70, 0.90)))
    assert [r.verdict for r in drift.rows] == [claims.FAIL, claims.FAIL] and len(drift.failed) == 2
    quick = claims.verify(adni_only, adni=str(_fake_adni_run(tmp_path / "quick", 0.86, 0.94, quick=True)))
    assert all(r.verdict == claims.ERROR and "quick" in r.note for r in quick.rows)
    other = claims.verify(adni_only, adni=str(_fake_adni_run(tmp_path / "ridge", 0.86, 0.94, preset="ridge")))
    assert all(r.verdict == claims.ERROR and "ridge run" in r.note for r in other.rows)


def test_claims_file_errors_name_file_claim_and_field(tmp_path):
    def check(edit, *expected):
        p = _claims_file(tmp_path, edit)
        with pytest.raises(DataFormatError) as err:
            claims.load_claims(p)
        for text in (str(p), *expected):
            assert text in str(err.value)

    check(lambda cs: cs[2].pop("tolerance"), "claims[2]", "'tolerance'")
    check(lambda cs: cs[2].update(statistic="rmse"), "scz-ridge", "'statistic'", "'r2'")
    check(lambda cs: cs[2].update(target="my.csv"), "'target'", "enigma:")
    check(lambda cs: cs[3]["quick"].update(tolerance=0), "quick", "positive")
    check(lambda cs: cs[3]["quick"].update(seeds=[]), "'seeds'")
    check(lambda cs: cs.append(dict(cs[2])), "duplicated claim names")


def test_claimed_values_and_tolerances_match_the_measured_seed_spread():
    spread = pd.read_csv(ROOT / "paper/seed_spread.csv")
    cols = {("in-sample", "r2"): "in_sample_r2", ("in-sample", "r"): "in_sample_r",
            ("blocked", "r2"): "blocked_cv_r2", ("blocked", "r"): "blocked_cv_r"}
    for c in claims.load_claims():
        if c.data != "embedded":
            continue
        for mode, exp in (("full", c.full), ("quick", c.quick)):
            s = spread[(spread["model"] == c.model) & (spread["mode"] == mode)].set_index("seed")
            col = s[cols[(c.evaluation, c.statistic)]]
            assert math.isclose(col.loc[list(exp.seeds)].mean(), exp.value, abs_tol=6e-5), (c.name, mode)
            se3 = 3 * col.std() / math.sqrt(len(exp.seeds))
            assert se3 <= exp.tolerance <= se3 + 0.011, (c.name, mode, se3, exp.tolerance)


# --- notebooks: storage and parameters ------------------------------------------------------


def test_notebooks_are_stored_as_percent_scripts_without_outputs():
    git = subprocess.run(["git", "ls-files", "paper"], cwd=ROOT, capture_output=True, text=True)
    files = git.stdout.split() if git.returncode == 0 else [p.name for p in (ROOT / "paper").iterdir()]
    assert files and not [f for f in files if f.endswith(".ipynb")]
    for name in notebooks.NOTEBOOKS:
        nb = notebooks.read_notebook(notebooks.notebook_path(name))
        _, names = notebooks.parameter_names(nb, name)
        assert "out" in names and not any(c.get("outputs") for c in nb.cells), name


def test_parameter_injection():
    nb = notebooks.read_notebook(notebooks.notebook_path("fig5_prediction"))
    index, names = notebooks.parameter_names(nb)
    assert names == ["quick", "target", "models", "seed", "n_null", "nulls", "out"]
    notebooks.inject_parameters(nb, {"quick": False, "models": "gp-svi"})
    cell = nb.cells[index + 1]
    assert cell.metadata["tags"] == ["injected-parameters"] and "quick = False\nmodels = 'gp-svi'" in cell.source
    with pytest.raises(notebooks.NotebookError, match=r"unknown parameter\(s\) \['adni'\].*'quick'"):
        notebooks.inject_parameters(nb, {"adni": "x"}, "fig5_prediction")
    notebooks.inject_parameters(nb, {"adni": "x", "seed": 3}, strict=False)
    assert nb.cells[index + 1].source.endswith("seed = 3")
    with pytest.raises(notebooks.NotebookError, match="unknown notebook"):
        notebooks.notebook_path("fig9")


# --- the figures' numbers, on the embedded data ---------------------------------------------


def test_workflow_counts_come_from_the_files():
    c = workflow.workflow_counts("enigma:scz")
    assert (c.donors, c.donor_sex, c.donor_age) == (6, {"M": 5, "F": 1}, (24, 57))
    assert (c.genes_matrix, c.landmarks, c.landmarks_found) == (12668, 978, 787)
    assert (c.regions, c.edges, c.edges_by_hemisphere) == (68, 175, {"L": 87, "R": 88})
    assert c.filled == {"R_frontalpole": "L_frontalpole", "R_temporalpole": "L_temporalpole"}
    raw = pd.read_csv(ROOT / "data/enigma/scz_case-controls_CortThick.csv")
    assert c.groups == {"controls": (raw["n_controls"].min(), raw["n_controls"].max()),
                        "patients": (raw["n_patients"].min(), raw["n_patients"].max())}
    assert workflow.workflow_counts("enigma:22q").groups is None, "the 22q file has no group sizes"
    assert workflow.target_table("enigma:asd").frame["thinning"].notna().sum() == 66


def test_target_table_reads_user_maps_and_names_bad_columns(tmp_path):
    regions = load_atlas().regions
    good = tmp_path / "map.csv"
    pd.DataFrame({"region": regions, "value": np.arange(68.0)}).to_csv(good, index=False)
    t = workflow.target_table(str(good))
    assert t.frame["thinning"].tolist() == list(range(68)) and t.group_sizes() is None
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"roi": regions, "d": 0.0}).to_csv(bad, index=False)
    with pytest.raises(DataFormatError, match=r"bad.csv: columns \['roi', 'd'\]"):
        workflow.target_table(str(bad))


def test_surface_values_cover_every_region_and_leave_the_medial_wall_empty():
    atlas = load_atlas()
    values = np.arange(68, dtype=float)
    for hemi in ("L", "R"):
        v = surface.vertex_values(values, atlas.regions, hemi)
        assert v.shape == (10242,) and np.isnan(v).sum() > 500, "medial wall"
        expected = set(range(34)) if hemi == "L" else set(range(34, 68))
        assert set(np.unique(v[np.isfinite(v)]).astype(int)) == expected
        coords, faces = surface.mesh(hemi)
        assert coords.shape == (10242, 3) and faces.max() == 10241
    with pytest.raises(ValueError, match="not DK cortical regions"):
        surface.vertex_values(np.zeros(1), ("L_hippocampus",), "L")


def test_morans_i_separates_smooth_from_shuffled_maps():
    atlas = load_atlas()
    smooth = atlas.centroids[:, 1]  # anterior-posterior position: smooth along the surface
    sa = vulnerability.spatial_autocorrelation(smooth, n=200)
    assert sa.observed > 0.6 and sa.p < 0.01
    shuffled = np.random.default_rng(0).permutation(smooth)
    assert abs(vulnerability.morans_i(shuffled, atlas.edges)) < 0.2
    with pytest.raises(ValueError, match="constant"):
        vulnerability.morans_i(np.ones(68), atlas.edges)


def test_variance_decomposition():
    frame = transcriptome.sampled_expression()
    assert frame.shape == (66, 787)
    part = transcriptome.variance_partition(frame)
    assert np.allclose(part.sum(axis=1), 1) and (part.to_numpy() > -1e-9).all()
    gene = frame.columns[0]  # lobe share = between-lobe sum of squares / total (one-way ANOVA)
    y = pd.Series(frame[gene].to_numpy())
    group_means = y.groupby(lobe_of(list(frame.index))).transform("mean")
    between, total = ((group_means - y.mean()) ** 2).sum(), ((y - y.mean()) ** 2).sum()
    assert math.isclose(part.loc[gene, "lobe"], between / total, rel_tol=1e-9)
    ratios = transcriptome.pca_variance(frame)
    assert np.all(np.diff(ratios) <= 1e-12) and 0.3 < ratios[0] < 1 and ratios.sum() <= 1
    order = transcriptome.cluster_order(frame.to_numpy())
    assert sorted(order) == list(range(66))


def test_latent_programs_and_gene_modules(build):
    out, _ = build
    run = load_run(out / "runs" / "gnn-vae" / "scz-seed0-quick")
    v = latent_view(run, seed=0)
    assert v.scores.shape == (68, 4) and v.latent_dim == 64 and np.all(np.diff(v.explained) <= 1e-12)
    assert np.all(v.program_r >= 0), "programs are oriented to correlate positively with thinning"
    assert 2 <= v.k <= 8 and len(v.labels) == 68 and v.embedding.shape == (68, 2)
    data, _ = load_brain_data(None)  # the expression the model saw (z-scored per region)
    expr = pd.DataFrame(data.expression.numpy(), index=data.regions, columns=data.genes).loc[list(v.regions)]
    top = v.modules[v.modules["program"] == 1].iloc[0]
    direct = np.corrcoef(expr[top["gene"]], v.scores[:, 0])[0, 1]
    assert math.isclose(top["r"], direct, abs_tol=1e-6) and abs(top["r"]) == v.gene_r[1].abs().max()
    scores, explained = programs(np.eye(4)[:, :3] * [3.0, 2.0, 1.0], np.arange(4.0))
    assert explained[0] > explained[1] > explained[2]
    x = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [4.0, 1, 3, 2], "c": [1.0, 3, 2, 4]})
    mods = gene_modules(gene_program_r(np.array([[1.0], [2], [3], [4]]), x), size=2)
    assert list(mods["gene"]) == ["a", "c"] and math.isclose(mods["r"].iloc[0], 1.0)


def test_runs_are_reused_only_when_the_configuration_matches(tmp_path):
    params = PaperParams.from_notebook(quick=True, models="ridge", out=str(tmp_path))
    first = ensure_run(params, "ridge")
    stamp = (first.path / "metrics.json").stat().st_mtime_ns
    again = ensure_run(params, "ridge")
    assert again.path == first.path and (again.path / "metrics.json").stat().st_mtime_ns == stamp
    other = ensure_run(PaperParams.from_notebook(quick=True, models="ridge", out=str(tmp_path), seed=1), "ridge")
    assert other.path == run_path(tmp_path / "runs", "ridge", "enigma:scz", 1, True) != first.path
    assert other.metrics["blocked_cv"]["r"] != first.metrics["blocked_cv"]["r"]


def test_paper_models_may_be_plugin_combinations(tmp_path):
    """--models of `xscale paper build` takes aliases and encoder/prior/decoder/backend beside presets;
    a combination's runs and nulls live in one directory named with '+'."""
    from xscale.errors import ConfigError
    from xscale.paper.settings import PaperParams

    params = PaperParams.from_notebook(quick=True, models="ridge, gnn, gnn/laplacian/linear/adam", out=str(tmp_path))
    assert params.models == ("ridge", "gnn-vae", "gnn/laplacian/linear/adam")
    assert PaperParams.from_notebook(models="ridge,gnn/laplacian/linear/adam").latent_model() == \
        "gnn/laplacian/linear/adam", "a combination with an encoder has a latent space"
    assert run_path(tmp_path, "gnn/laplacian/linear/adam", "enigma:scz", 0, True) == \
        tmp_path / "gnn+laplacian+linear+adam" / "scz-seed0-quick"
    for bad, message in (("gnn/laplacian/adam", "four plugin names"), ("gnn-vea", "Did you mean 'gnn-vae'")):
        with pytest.raises(ConfigError, match=message):
            PaperParams.from_notebook(models=bad)


def test_nulls_of_a_given_run_refit_its_own_settings(tmp_path):
    """A run directory given as the target keeps its own numbers, and its spatial nulls refit the
    model with the run's settings (not the build's defaults, which would test another model)."""
    from xscale import config, pipeline
    from xscale.paper.runs import ensure_nulls
    from xscale.paper.settings import PaperParams

    run_dir = tmp_path / "run"
    pipeline.fit(config.build(sets=["backend.inner_folds=3"], quick=True, preset="ridge", target="enigma:bd"), run_dir)
    params = PaperParams.from_notebook(quick=True, target=str(run_dir), models="ridge", n_null=2, out=str(tmp_path / "b"))
    run = ensure_run(params, "ridge")
    assert run.path == run_dir, "the given run is used as it is"
    nulls = ensure_nulls(params, run, "in-sample", "spin-vasa")
    assert len(nulls.null_r) == 2 and nulls.observed["r"] == pytest.approx(run.score("in-sample")["r"])
    stored = [json.loads(f.read_text()) for f in (tmp_path / "b" / "nulls").rglob("*.json")]
    assert [json.loads(x["key"]["config"])["backend"]["inner_folds"] for x in stored] == [3]
