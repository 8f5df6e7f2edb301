"""`xscale evaluate`: models x schemes x nulls, with a resumable cache."""

from __future__ import annotations

import io
import json
import math
import sys

import pytest
import torch
from click.testing import CliRunner
from rich.console import Console

from xscale import cli
from xscale.cli import main
from xscale.evaluate import nullruns, study
from xscale.progress import Progress

ARGS = ["evaluate", "--target", "enigma:bd", "--models", "pls1,pcr", "--cv", "in-sample,hemisphere",
        "--nulls", "spin-vasa,brainsmash,permutation", "--n-null", "6", "--batch-size", "4"]


def test_evaluate_table_and_resume(tmp_path, monkeypatch):
    out = tmp_path / "ev"
    monkeypatch.setattr(sys, "argv", ["xscale", *ARGS, "--out", str(out)])  # as the shell gives it
    monkeypatch.setattr(cli, "stdout", Console(width=400))  # headers unwrapped
    res = CliRunner().invoke(main, [*ARGS, "--out", str(out)])
    assert res.exit_code == 0, res.output
    result = json.loads((out / "results.json").read_text())
    assert [(r["model"], r["scheme"]) for r in result["rows"]] == [
        ("pls1", "in-sample"), ("pls1", "hemisphere"), ("pcr", "in-sample"), ("pcr", "hemisphere")]
    assert result["seed"] == 0 and result["packages"]["xscale"] and result["packages"]["xscale-baselines"]
    row = result["rows"][1]
    assert set(row["p"]) == {"spin-vasa", "brainsmash", "permutation"} and row["p"]["brainsmash"]["n"] == 6
    assert row["consensus_p_r"] == max(row["p"][f]["p_r"] for f in ("spin-vasa", "brainsmash"))
    assert all(1 / 7 - 1e-9 <= row["p"][f]["p_r"] <= 1 for f in row["p"])
    md = (out / "results.md").read_text()
    assert "| pcr | hemisphere |" in md and "not predictions" in md
    assert "evaluate: 114 fits planned" in " ".join(res.output.split()), "the job's size, before any fit"
    head = md.split("\n| model |")[1].split("\n")[0]
    for column in ["CV scheme", "p(r) brainsmash", "consensus p(r)", "consensus p(R^2)"]:
        assert column in head and column in res.output, f"{column!r}: in results.md and in the terminal's table"
    from xscale.evaluate import report

    head, rows = report.table(result)
    for width in (60, 80):  # a narrow terminal: the columns are dealt into several tables, nothing cut
        narrow = Console(width=width, file=io.StringIO())
        report.print_table(narrow, head, rows, "title")
        shown = narrow.file.getvalue()
        assert "…" not in shown and max(len(line) for line in shown.splitlines()) <= width, shown
        assert all(f" {v} " in shown for r in rows for v in r), shown
        assert all(word in shown.split() for h in head for word in h.split()), shown
    prov = result["provenance"]  # when, where and how it ran, beside the versions, data hashes and seed
    assert prov["command"] == ["xscale", *ARGS, "--out", str(out)]
    assert prov["started"] <= prov["finished"] and set(prov["git"]) == {"commit", "dirty"}

    calls = []
    real = study.cross_validate
    monkeypatch.setattr(study, "cross_validate", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = CliRunner().invoke(main, [*ARGS, "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert len(calls) == 4, "only the real fits are redone; every null refit comes from the cache"
    assert "resumed: 108 of 114 fits read back" in again.output and "resumed" not in res.output
    assert json.loads((out / "results.json").read_text())["rows"] == result["rows"]

    # an interrupted run: one chunk (2 surrogates x 2 hemisphere splits = batch of 4) is missing
    cache = sorted((out / ".cache").glob("*.json"))
    assert len(cache) == 2 * 2 * 3  # models x schemes x families
    partial = next(f for f in cache if "2:4" in json.loads(f.read_text()))
    chunks = json.loads(partial.read_text())
    assert sorted(chunks) == ["0:2", "2:4", "4:6"], "6 surrogates in chunks of batch 4 // 2 splits"
    del chunks["2:4"]
    partial.write_text(json.dumps(chunks))
    refits = []
    real_refit = nullruns.refit_scores
    monkeypatch.setattr(nullruns, "refit_scores", lambda **k: refits.append(len(k["maps"])) or real_refit(**k))
    advanced = []  # the progress bar's advances: True for a refit read back from the cache
    real_advance = Progress.advance
    monkeypatch.setattr(Progress, "advance", lambda self, t, n=1, cached=False, timed=True: advanced.append(cached)
                        or real_advance(self, t, n, cached=cached, timed=timed))
    third = CliRunner().invoke(main, [*ARGS, "--out", str(out)])
    assert third.exit_code == 0, third.output
    assert refits == [2], "only the missing chunk is refitted"
    # 2 models x (1 in-sample + 2 hemisphere splits) x 3 families x 6 surrogates = 108 null refits, 4 redone;
    # computed: the 6 real fits (untimed, see xscale.progress.UNTIMED) and the 4 refits
    assert advanced.count(True) == 104 and advanced.count(False) == 6 + 4
    assert json.loads((out / "results.json").read_text())["rows"] == result["rows"]


def test_output_folder_of_another_evaluation_is_refused_before_any_fit(tmp_path, monkeypatch):
    out = tmp_path / "ev"
    out.mkdir()
    study_fields = {"target": "enigma:bd", "models": ["pls1"], "schemes": ["blocked"], "nulls": [], "n_null": 0,
                    "seed": 0, "quick": False}
    (out / "results.json").write_text(json.dumps({**study_fields, "target": "enigma:scz", "rows": []}))
    monkeypatch.setattr(study, "load_brain_data", lambda *a, **k: pytest.fail("data was loaded"))
    args = ["evaluate", "--target", "enigma:bd", "--models", "pls1", "--cv", "blocked", "--nulls", "",
            "--n-null", "0", "--out", str(out)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1 and "holds the results of another evaluation" in res.output, res.output
    assert "target 'enigma:scz' (now 'enigma:bd')" in res.output and "--overwrite" in res.output
    study.check_output_dir(out, {**study_fields, "target": "enigma:scz"}, overwrite=False)  # the same: resumes
    study.check_output_dir(out, study_fields, overwrite=True)
    (out / "results.json").unlink()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not an xscale evaluate output.*notes.txt"):
        study.check_output_dir(out, study_fields, overwrite=False)
    (out / "notes.txt").unlink()
    (out / ".cache").mkdir()  # an interrupted run: resumes
    study.check_output_dir(out, study_fields, overwrite=False)
    assert (out / ".cache").is_dir()


def test_dask_executor_gives_identical_results(tmp_path):
    """The same batches give the same numbers on a LocalCluster as in this process, at the same thread
    count: the cluster's workers run one thread, so this process does too. (At 2 threads against 1 the
    GNN-VAE's refits differed by 6e-8 on a 16-core Xeon, while the 2-core CI machine gave equal bits:
    ``benchmarks/measured/2026-11-23/gpu-h200/dask-vs-local-threads.txt``.)"""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _dask_and_local_agree(tmp_path)
    finally:
        torch.set_num_threads(threads)


def _dask_and_local_agree(tmp_path):
    args = ["evaluate", "--target", "enigma:bd", "--models", "gnn-vae,ridge", "--cv", "blocked", "--nulls",
            "spin-vasa", "--n-null", "4", "--quick", "--batch-size", "10"]
    local = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output
    dask = CliRunner().invoke(main, [*args, "--executor", "dask", "--out", str(tmp_path / "dask")])
    assert dask.exit_code == 0, dask.output
    a, b = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("local", "dask"))
    assert b["execution"]["executor"] == "dask" and b["execution"]["workers"] >= 1
    assert a["execution"]["executor"] == "local"
    # The same chunks give the same numbers wherever they run, up to BLAS summation order: dask sets
    # OMP/OPENBLAS_NUM_THREADS=1 in its workers, while this process's BLAS keeps its own threads,
    # and the batched ridge's Gram products then differ in the last bit (measured 1e-16).
    assert _close(a["rows"], b["rows"])
    assert all(r["p"]["spin-vasa"]["n"] == 4 for r in a["rows"])
    assert [r["p"]["spin-vasa"]["p_r"] for r in a["rows"]] == [r["p"]["spin-vasa"]["p_r"] for r in b["rows"]]


def _close(a, b, tol: float = 1e-12) -> bool:
    """Equal structure and values, floats to ``tol`` (relative and absolute)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k], tol) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_close(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=tol, abs_tol=tol)
    return a == b


def test_no_null_draws_gives_the_real_scores_only(tmp_path):
    out = tmp_path / "ev"
    res = CliRunner().invoke(main, ["evaluate", "--target", "enigma:bd", "--models", "pls1", "--cv", "blocked",
                                    "--n-null", "0", "--out", str(out)])  # default families: spin, brainsmash
    assert res.exit_code == 0, res.output
    result = json.loads((out / "results.json").read_text())
    assert set(result["rows"][0]["p"]) == {"spin-vasa", "spin-hungarian", "spin-ab", "brainsmash"}
    assert all(v["p_r"] is None and v["n"] == 0 for v in result["rows"][0]["p"].values())
    assert result["rows"][0]["r2"] is not None and result["rows"][0]["consensus_p_r"] is None
    assert "No null p-values in this table." in (out / "results.md").read_text()


def test_scheduler_needs_dask_and_says_so_before_reading_data(tmp_path, monkeypatch):
    monkeypatch.setattr(study, "load_brain_data", lambda *a, **k: pytest.fail("data was loaded"))
    res = CliRunner().invoke(main, [*ARGS, "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "--scheduler needs --executor dask" in res.output, res.output
    assert "planned" not in res.output


def test_an_interrupt_says_how_to_resume(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        kwargs["on_total"](10)
        raise KeyboardInterrupt

    monkeypatch.setattr(study, "run_study", interrupted)
    out = tmp_path / "ev"
    res = CliRunner().invoke(main, [*ARGS, "--out", str(out)])
    assert res.exit_code == 130, res.output  # the shell's status for Ctrl-C
    said = " ".join(res.output.split())
    assert "interrupted: no batch of null refits had finished, so there is nothing to resume from" in said, said
    (out / ".cache").mkdir(parents=True)
    (out / ".cache" / "0123.json").write_text("{}")  # a finished batch
    res = CliRunner().invoke(main, [*ARGS, "--out", str(out)])
    assert res.exit_code == 130, res.output
    assert f"interrupted: every finished batch of null refits is kept in {out / '.cache'}" in " ".join(res.output.split())
    assert "run the same command again to resume" in " ".join(res.output.split()) and "Aborted!" not in res.output

    monkeypatch.setattr(cli, "_cfg", lambda **kw: (_ for _ in ()).throw(KeyboardInterrupt))  # while loading
    res = CliRunner().invoke(main, [*ARGS, "--out", str(out)])
    assert res.exit_code == 130 and "interrupted: every finished batch" in " ".join(res.output.split()), res.output


def test_aliases_and_unknown_names():
    assert study.expand(["gnn", "pyro-gp"], study.MODEL_ALIASES, ["gnn-vae", "gp-svi"], "model") == ["gnn-vae", "gp-svi"]
    assert study.expand(["spin"], study.NULL_ALIASES, list(study.NULLS), "null family") == [
        "spin-vasa", "spin-hungarian", "spin-ab"]
    with pytest.raises(study.config_mod.ConfigError, match="unknown null family 'variogram'"):
        study.expand(["variogram"], study.NULL_ALIASES, list(study.NULLS), "null family")
    with pytest.raises(study.config_mod.ConfigError, match="no CV scheme given"):  # e.g. --cv ''
        study.expand([""], {}, study.SCHEMES, "CV scheme")
    assert study.expand([], study.NULL_ALIASES, list(study.NULLS), "null family", allow_empty=True) == []


def test_a_plugin_combination_is_evaluated_by_name_and_a_model_override_is_refused(tmp_path):
    """Any installed plugins can be validated: --models takes encoder/prior/decoder/backend beside
    presets. A model given by --set model.* (or a config file), which --models would silently
    replace, is refused, and the message names the --models entry to use instead."""
    base = ["evaluate", "--target", "enigma:bd", "--cv", "in-sample", "--n-null", "0", "--quick"]
    res = CliRunner().invoke(main, [*base, "--models", "gnn-vae, gnn/laplacian/linear/adam,gnn/laplacian/mlp/adam",
                                    "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    result = json.loads((tmp_path / "a" / "results.json").read_text())
    preset, combo = result["rows"]  # gnn/laplacian/mlp/adam is gnn-vae: fitted once (test below)
    assert combo["model"] == "gnn/laplacian/linear/adam" and result["configs"][combo["model"]]["preset"] is None
    assert result["configs"][combo["model"]]["model"]["decoder"] == "linear"
    assert "model gnn/laplacian/mlp/adam is gnn-vae" in " ".join(res.output.split())

    refused = CliRunner().invoke(main, [*base, "--models", "gnn-vae", "--set", "model.decoder=linear",
                                        "--out", str(tmp_path / "b")])
    assert refused.exit_code == 1 and not (tmp_path / "b").exists()
    assert "model.decoder=linear" in refused.output and "--models gnn/laplacian/linear/adam" in refused.output

    for bad, message in (("gnn/laplacian/adam", "four plugin names"), ("gnn/laplacian/mlpp/adam", "Did you mean")):
        res = CliRunner().invoke(main, [*base, "--models", bad, "--out", str(tmp_path / "c")])
        assert res.exit_code == 1 and message in " ".join(res.output.split()), res.output


@pytest.mark.parametrize("args, warned", [
    (["--n-null", "0", "--nulls", "spin"], "--n-null 0: no null maps are drawn, so --nulls spin gives no p-values"),
    (["--n-null", "0"], None),  # the default families: the documented way to fit the real map only
    (["--n-null", "3", "--nulls", "spin-vasa"], "--n-null 3: the smallest p-value 3 null maps can give is 1/4 = 0.250"),
    (["--n-null", "20", "--nulls", "spin-vasa"], None),
])
def test_null_settings_that_cannot_give_a_small_p_are_warned_about(tmp_path, monkeypatch, args, warned):
    monkeypatch.setattr(study, "run_study", lambda *a, **k: {"stopped": "before any fit"}[None])
    res = CliRunner().invoke(main, ["evaluate", "--models", "pls1", *args, "--out", str(tmp_path / "x")])
    assert isinstance(res.exception, KeyError), res.output  # the stand-in's end: after the warnings
    said = " ".join(res.output.split())
    assert (warned is None and "warning" not in said) or (warned is not None and f"warning: {warned}" in said), said


def _timed_evaluation(tmp_path, monkeypatch, cost: dict[str, float], n_null: int, batch_size: int):
    """A quick evaluation of ``cost``'s models on enigma:bd (blocked CV, 5 folds; spin-vasa) whose
    null refits cost ``cost[model]`` (clock) seconds a fit, with the time left wired as in the CLI.

    Returns the run's end and, after every fit, ``(clock, time left shown, time left at the
    recent rate alone)``."""
    from xscale.config import build
    from xscale.progress import PlannedWork

    clock = {"now": 0.0}
    real_refit = nullruns.refit_scores
    backend = {"pls1": "pls", "ridge": "ridge", "pcr": "pcr"}

    def timed_refit(**k):
        model = next(m for m in cost if backend[m] == k["spec"].backend)
        clock["now"] += len(k["maps"]) * len(k["sch"].splits) * cost[model]
        return real_refit(**k)

    monkeypatch.setattr(nullruns, "refit_scores", timed_refit)
    monkeypatch.setattr(nullruns, "perf_counter", lambda: clock["now"])  # a batch's own time
    kw = dict(console=Console(file=io.StringIO(), force_terminal=False), every=3600, get_time=lambda: clock["now"],
              auto_refresh=False, min_window=10.0)
    with Progress(**kw) as bar, Progress(**kw) as by_rate:
        task, rate_task = bar.add_task("evaluate", total=None), by_rate.add_task("evaluate", total=None)
        work = PlannedWork(bar.get_time)
        bar.estimate_with(task, work.seconds_left)
        seen = []
        fit, rate_fit = bar.callback(task), by_rate.callback(rate_task)

        def on_fit(label):
            fit(label)
            rate_fit(label)
            seen.append((clock["now"], bar.time_left(task), by_rate.time_left(rate_task)))

        study.run_study(build(quick=True, target="enigma:bd"), tmp_path / "ev", list(cost), ["blocked"],
                        ["spin-vasa"], n_null, batch_size=batch_size, work=work, on_fit=on_fit,
                        on_total=lambda n: bar.update(task, total=n) or by_rate.update(rate_task, total=n))
    end = clock["now"]
    assert end == pytest.approx(n_null * 5 * sum(cost.values())), "every null map x 5 folds, at each model's cost"
    return end, seen


def test_null_refits_of_all_models_run_interleaved_so_the_time_left_holds_from_the_start(tmp_path, monkeypatch):
    """Models differ in cost by 10x or more (a batch of GNN-VAE refits against one of ridge). Run
    one model after the other, the time left (from the recent rate) was wrong by that factor until
    the last model started: 3 times too long in a walkthrough. Here pls1's refits are made to cost
    0.1 (clock) seconds a fit and ridge's 0.01, 100 null maps in batches of 4 maps x 5 folds.
    Run one after the other, the estimate at the recent rate from 20% to 80% of the run was
    2.0-2.4 times the time left (checked by sorting the chunks by stream); interleaved, within 25%
    (0.98-1.20). With each model's own batch cost (PlannedWork, as the CLI), exact once both
    models' first batches are done (a batch's cost here is exactly proportional to its fits)."""
    end, seen = _timed_evaluation(tmp_path, monkeypatch, {"pls1": 0.1, "ridge": 0.01}, n_null=100, batch_size=20)
    after_batch = {t: (shown, rate) for t, shown, rate in seen}  # once a batch's fits have all been counted
    judged = [(t, shown / (end - t), rate / (end - t)) for t, (shown, rate) in after_batch.items()
              if 0.2 * end <= t <= 0.8 * end]
    assert judged and all(abs(shown - 1) <= 1e-6 for _, shown, _ in judged), judged
    assert all(abs(rate - 1) <= 0.25 for *_, rate in judged), judged  # measured: 0.98-1.20


def test_the_time_left_of_a_short_run_is_right_after_one_round_of_batches(tmp_path, monkeypatch):
    """A walkthrough (3 models, --quick --n-null 4: 2 rounds of batches) showed 3:17 left with 14 s
    to go: the recent rate was that of an expensive batch while cheap ones were left. Here 3 models
    at 0.1, 0.01 and 0.03 s a fit, 8 null maps in batches of 4: 2 rounds. From the end of the first
    round, the time shown is the time left; the recent rate alone is off by half or more."""
    end, seen = _timed_evaluation(tmp_path, monkeypatch, {"pls1": 0.1, "ridge": 0.01, "pcr": 0.03}, n_null=8,
                                  batch_size=20)
    first_round = 4 * 5 * (0.1 + 0.01 + 0.03)
    after_batch = {t: (shown, rate) for t, shown, rate in seen}
    judged = [(t, shown, rate) for t, (shown, rate) in after_batch.items() if first_round - 1e-9 <= t < end]
    assert len(judged) == 3, judged  # the first round's end and the second round's first two batches
    assert all(shown == pytest.approx(end - t) for t, shown, _ in judged), judged
    assert max(abs(rate / (end - t) - 1) for t, _, rate in judged) >= 0.5, judged


def test_unused_settings_an_output_under_a_file_and_edited_target_data_are_refused_before_any_fit(tmp_path,
                                                                                                  monkeypatch):
    """A walkthrough's findings: ``--set backend.foo=1`` that no model takes only warned; an --out
    under a file failed with a traceback after the first fits; an evaluation of a target CSV
    edited in place replaced the earlier results without --overwrite."""
    base = ["evaluate", "--models", "ridge,pls1", "--cv", "blocked", "--n-null", "0"]
    res = CliRunner().invoke(main, [*base, "--set", "backend.foo=1", "--out", str(tmp_path / "a")])
    assert res.exit_code == 1 and "backend.foo: no model of this run (ridge, pls1) has such a hyperparameter; " \
        "valid: backend.alphas, backend.components" in " ".join(res.output.split()), res.output
    assert not (tmp_path / "a").exists()

    (tmp_path / "afile").write_text("x")
    res = CliRunner().invoke(main, [*base, "--out", str(tmp_path / "afile" / "sub")])
    assert res.exit_code == 1 and f"{tmp_path / 'afile'} is a file" in " ".join(res.output.split()), res.output
    assert "Traceback" not in res.output
    with pytest.raises(FileExistsError, match="afile is a file"):  # --overwrite replaces results, never a file
        study.check_output_dir(tmp_path / "afile", {}, overwrite=True)

    from xscale import testing

    csv = tmp_path / "map.csv"  # a user's map: region,value for the 68 DK regions
    csv.write_text("region,value\n" + "".join(f"{r},{0.01 * i}\n" for i, r in enumerate(testing.real_data().regions)))
    args = [*base, "--target", str(csv), "--out", str(tmp_path / "ev")]
    assert CliRunner().invoke(main, args).exit_code == 0
    csv.write_text(csv.read_text().replace(",0.0\n", ",0.9\n", 1))  # one region's value edited in place
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1 and "holds the results of an evaluation of other data" in " ".join(res.output.split())
    assert CliRunner().invoke(main, [*args, "--overwrite"]).exit_code == 0


def test_a_model_given_twice_under_two_names_is_evaluated_once(caplog):
    """A walkthrough: ``--models gnn,gnn/laplacian/mlp/adam`` fitted the same model twice (two
    identical rows). gp-svi is not gnn/gp/linear/svi: the preset sets latent_dim=4."""
    from xscale import config

    names = ["gnn", "gnn/laplacian/mlp/adam", "ridge", "gp-svi", "gnn/gp/linear/svi"]
    configs = {n: config.resolve(config.with_preset(config.build(quick=True), n)) for n in names}
    with caplog.at_level("WARNING", logger="xscale"):
        kept = study.distinct_models(configs)
    assert list(kept) == ["gnn", "ridge", "gp-svi", "gnn/gp/linear/svi"]
    assert "model gnn/laplacian/mlp/adam is gnn (the same plugins and settings): evaluated once" in caplog.text


def test_a_release_of_a_plugin_the_model_does_not_use_keeps_its_cached_refits(tmp_path, monkeypatch):
    """The cache key holds the versions of xscale, the numerical libraries and the model's own plugin
    distributions (provenance.model_versions), not those of every installed plugin."""
    from xscale import provenance

    args = ["evaluate", "--target", "enigma:bd", "--models", "pls1,spatial-gp", "--cv", "in-sample",
            "--nulls", "spin-vasa", "--n-null", "3", "--out", str(tmp_path / "ev")]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    installed = provenance.package_versions()
    assert all(installed[d] for d in provenance.FIRST_PARTY_PLUGINS), "make install installs every plugin"
    for bumped, resumed in [("xscale-gnn", 6), ("xscale-baselines", 3), ("xscale", 0), ("numpy", 0)]:
        monkeypatch.setattr(study, "package_versions", lambda b=bumped: {**installed, b: "99.0"})
        again = CliRunner().invoke(main, [*args, "--overwrite"])
        assert again.exit_code == 0, again.output
        said = " ".join(again.output.split())
        # pls1 from xscale-baselines, spatial-gp from xscale-pyro: 3 surrogates each, in-sample
        assert (f"resumed: {resumed} of 8 fits read back" in said) if resumed else "resumed" not in said, \
            (bumped, said)


def test_model_versions_keep_the_plugins_a_model_is_built_from():
    from xscale import config
    from xscale.provenance import model_versions

    versions = {"xscale": "1", "numpy": "2", "xscale-gnn": "3", "xscale_pyro": "4", "xscale-baselines": "5"}
    kept = {p: set(model_versions(config.resolve(config.build(preset=p))["model"], versions))
            for p in ("gp-svi", "ridge", "gnn-vae")}
    assert kept["gp-svi"] == {"xscale", "numpy", "xscale-gnn", "xscale_pyro"}, "its encoder is xscale-gnn's"
    assert kept["ridge"] == {"xscale", "numpy", "xscale-baselines"}
    assert kept["gnn-vae"] == {"xscale", "numpy", "xscale-gnn"}


def test_model_versions_follow_declared_requirements_through_any_distribution(monkeypatch):
    from xscale import config, provenance

    real = provenance.requires  # a third-party plugin may build on another, through a helper library
    extra = {"xscale-baselines": ["helper-lib>=1; python_version >= '3'"], "helper-lib": ["xscale_gnn>=0.3"]}
    monkeypatch.setattr(provenance, "requires", lambda d: extra[d] if d == "helper-lib" else (real(d) or []) +
                        extra.get(d, []))
    versions = {"xscale": "1", "xscale-gnn": "3", "xscale-pyro": "4", "xscale-baselines": "5", "numpy": "2"}
    model = config.resolve(config.build(preset="ridge"))["model"]
    assert set(provenance.model_versions(model, versions)) == {"xscale", "numpy", "xscale-gnn", "xscale-baselines"}


def test_model_versions_drop_an_unused_first_party_plugin_installed_or_not():
    from xscale import config
    from xscale.provenance import model_versions

    model = config.resolve(config.build(preset="ridge"))["model"]
    absent = {"xscale": "1", "xscale-gnn": None, "xscale-baselines": "5"}  # before and after installing xscale-gnn
    assert model_versions(model, absent) == model_versions(model, {**absent, "xscale-gnn": "3"}) == \
        {"xscale": "1", "xscale-baselines": "5"}
