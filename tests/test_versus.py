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
    assert "## Gain over the spatial-only model (spatial-gp" in md
    assert f"| ridge | blocked | spatial-gp | {rows['ridge']['gain_over_space']['delta_r']:.3f} |" in md
    assert "gain over the spatial-only model" in " ".join(res.output.split()), "the terminal shows it too"


def test_without_a_spatial_only_model_there_is_no_gain_table(tmp_path):
    out = tmp_path / "ev"
    res = CliRunner().invoke(main, ["evaluate", "--target", "enigma:scz", "--models", "ridge", "--cv", "blocked",
                                    "--nulls", "spin-vasa", "--n-null", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "results.json").read_text())["rows"][0]["gain_over_space"] is None
    assert "Gain over" not in (out / "results.md").read_text() and "gain over" not in res.output


def test_the_gain_needs_the_same_surrogates_for_both_models():
    score, ref = {"r": 0.6, "r2": 0.3}, {"r": 0.5, "r2": 0.2}
    with pytest.raises(ValueError, match="'spin-vasa' has 3 null draws for the model and 2 for spatial-gp"):
        gain_over_space(score, ref, {"spin-vasa": (np.zeros(3), np.zeros(3))},
                        {"spin-vasa": (np.zeros(2), np.zeros(2))}, "spatial-gp")
