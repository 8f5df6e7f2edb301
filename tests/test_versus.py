"""Gain of the gene models over the spatial-only model (spatial-gp), with paired null p-values."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from xscale.cli import main
from xscale.evaluate import nullruns, study
from xscale.evaluate.versus import gain_over_space


def test_gene_models_are_reported_against_the_spatial_only_model_on_the_same_surrogates(tmp_path, monkeypatch):
    """ridge and pls1 against spatial-gp on the schizophrenia map, blocked CV, 6 spin and 6
    brainsmash surrogates: the gain is the difference of the rows' r, and its p pairs surrogate
    i's refits of both models."""
    seen = {}
    real = nullruns.run_streams

    def keep(streams, *a, **k):  # the null draws of every stream, as the study receives them
        out = real(streams, *a, **k)
        seen.update({id(s): o for s, o in zip(streams, out)})
        seen["order"] = [id(s) for s in streams]
        return out

    monkeypatch.setattr(study, "run_streams", keep)
    out = tmp_path / "ev"
    res = CliRunner().invoke(main, ["evaluate", "--target", "enigma:scz", "--models", "ridge,pls1,spatial-gp",
                                    "--cv", "blocked", "--nulls", "spin-vasa,brainsmash", "--n-null", "6",
                                    "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = {r["model"]: r for r in json.loads((out / "results.json").read_text())["rows"]}
    assert rows["spatial-gp"]["gain_over_space"] is None, "the reference has no gain over itself"
    # streams in study order: (model, scheme, family) for ridge, pls1, spatial-gp x spin-vasa, brainsmash
    draws = [seen[i] for i in seen["order"]]
    by = {(m, f): draws[2 * k + j] for k, m in enumerate(["ridge", "pls1", "spatial-gp"])
          for j, f in enumerate(["spin-vasa", "brainsmash"])}
    for m in ("ridge", "pls1"):
        g = rows[m]["gain_over_space"]
        assert g["reference"] == "spatial-gp"
        assert g["delta_r"] == pytest.approx(rows[m]["r"] - rows["spatial-gp"]["r"])
        assert g["delta_r2"] == pytest.approx(rows[m]["r2"] - rows["spatial-gp"]["r2"])
        for f in ("spin-vasa", "brainsmash"):
            null = by[m, f][0] - by["spatial-gp", f][0]  # surrogate i: both models' refits to it
            assert g["p"][f]["n"] == 6
            assert g["p"][f]["p_r"] == pytest.approx((1 + np.sum(null >= g["delta_r"])) / 7)
        assert g["consensus_p_r"] == max(g["p"][f]["p_r"] for f in ("spin-vasa", "brainsmash"))
    md = (out / "results.md").read_text()
    assert "## Gain over the model without genes (spatial-gp)" in md
    assert f"| ridge | blocked | spatial-gp | {rows['ridge']['gain_over_space']['delta_r']:.3f} |" in md
    assert "gain over the model without genes (spatial-gp), same folds and surrogates" in " ".join(res.output.split())


def test_without_a_spatial_only_model_there_is_no_gain_table(tmp_path):
    out = tmp_path / "ev"
    res = CliRunner().invoke(main, ["evaluate", "--target", "enigma:scz", "--models", "ridge", "--cv", "blocked",
                                    "--nulls", "spin-vasa", "--n-null", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "results.json").read_text())["rows"][0]["gain_over_space"] is None
    assert "Gain over" not in (out / "results.md").read_text() and "gain over" not in res.output


def test_without_null_draws_the_gain_has_no_p_values_and_says_none(tmp_path):
    out = tmp_path / "ev"
    res = CliRunner().invoke(main, ["evaluate", "--target", "enigma:scz", "--models", "ridge,spatial-gp", "--cv",
                                    "blocked", "--nulls", "spin-vasa", "--n-null", "0", "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = json.loads((out / "results.json").read_text())["rows"]
    g = rows[0]["gain_over_space"]
    assert g["delta_r"] == pytest.approx(rows[0]["r"] - rows[1]["r"]) and g["p"] == {}
    assert g["consensus_p_r"] is None
    gain = (out / "results.md").read_text().split("## Gain over the model without genes (spatial-gp)")[1]
    assert "p(Δr)" not in gain and "how often a surrogate" not in gain, "no null draws: no p explained"


def test_the_gain_needs_the_same_surrogates_for_both_models():
    score, ref = {"r": 0.6, "r2": 0.3}, {"r": 0.5, "r2": 0.2}
    with pytest.raises(ValueError, match="'spin-vasa' has 3 null draws for the model and 2 for spatial-gp"):
        gain_over_space(score, ref, {"spin-vasa": (np.zeros(3), np.zeros(3))},
                        {"spin-vasa": (np.zeros(2), np.zeros(2))}, "spatial-gp")


def test_the_gain_pairs_each_surrogate_of_the_model_with_the_same_surrogate_of_the_reference():
    """Made-up null scores where pairing matters: on every surrogate the gene model leads the
    reference by 0.1 in r, though both spread widely over the surrogates. Paired, a real gain of
    0.15 beats every null gain (p = 1/6); compared unpaired (e.g. after sorting, or shifted by
    one surrogate) it would not."""
    ref_r = np.array([0.5, -0.2, 0.3, 0.0, 0.4])
    ref_r2 = np.array([0.2, -0.5, 0.05, -0.1, 0.1])
    nulls = {"spin-vasa": (ref_r + 0.1, ref_r2 + 0.3), "brainsmash": (ref_r + 0.1, ref_r2 - 0.2),
             "permutation": (ref_r + 0.5, ref_r2 + 0.5)}
    ref_nulls = {f: (ref_r, ref_r2) for f in nulls}
    g = gain_over_space({"r": 0.65, "r2": 0.35}, {"r": 0.5, "r2": 0.2}, nulls, ref_nulls, "spatial-gp")
    assert g["delta_r"] == pytest.approx(0.15) and g["delta_r2"] == pytest.approx(0.15)
    assert g["p"]["spin-vasa"]["p_r"] == pytest.approx(1 / 6), "paired: every null gain is 0.1 < 0.15"
    unpaired = (ref_r + 0.1) - np.roll(ref_r, 1)
    assert (1 + np.sum(unpaired >= 0.15)) / 6 > 1 / 6, "the example tells pairing apart"
    assert g["p"]["spin-vasa"]["p_r2"] == pytest.approx(1.0), "every null gain in R^2 (0.3) >= 0.15"
    assert g["p"]["brainsmash"]["p_r2"] == pytest.approx(1 / 6)
    assert g["p"]["permutation"]["p_r"] == pytest.approx(1.0)
    assert g["consensus_p_r"] == pytest.approx(1 / 6), "naive permutation is not in the consensus"
    assert g["consensus_p_r2"] == pytest.approx(1.0), "the largest p over the spatial families"
    assert g["p"]["spin-vasa"]["n"] == 5 and g["p"]["spin-vasa"]["n_r2"] == 5
