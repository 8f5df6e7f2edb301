"""Gene-specificity null: random landmark-sized gene sets from the whole embedded AHBA transcriptome."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from xscale import testing
from xscale.cli import main
from xscale.errors import ConfigError
from xscale.evaluate.cv import cross_validate, scheme_for
from xscale.evaluate.genesets import gene_universe
from xscale.evaluate.refits import refit_scores
from xscale.interfaces import ModelSpec


@pytest.fixture(scope="module")
def universe():
    data = testing.real_data()
    return data, gene_universe(data.regions, "copy-homologue", "region")


def test_universe_is_the_whole_transcriptome_and_holds_the_panel(universe):
    data, u = universe
    assert u.expression.shape == (data.n_regions, len(u.genes)) and len(u.genes) > 10 * data.n_genes
    idx = np.array([u.genes.index(g) for g in data.genes])
    # the panel is one gene set of the universe, normalised the same way
    torch.testing.assert_close(u.expressions(idx)[0], data.expression, atol=1e-6, rtol=1e-6)


def test_draws_are_seeded_landmark_sized_sets_without_repeats(universe):
    data, u = universe
    sets = u.draw(data.n_genes, 5, seed=3)
    assert sets.shape == (5, data.n_genes) and sets.min() >= 0 and sets.max() < len(u.genes)
    assert all(len(np.unique(s)) == data.n_genes for s in sets)
    np.testing.assert_array_equal(sets, u.draw(data.n_genes, 5, seed=3))
    assert not np.array_equal(sets, u.draw(data.n_genes, 5, seed=4))
    assert len({tuple(s) for s in sets}) == 5
    landmarks = {u.genes.index(g) for g in data.genes}
    overlap = np.mean([len(landmarks & set(s)) / data.n_genes for s in sets])
    assert overlap < 0.2, "drawn from the whole transcriptome, not from the panel"
    with pytest.raises(ConfigError, match="geneset.*strict subset"):
        u.draw(len(u.genes), 1, seed=0)


def test_refit_on_gene_sets_is_the_fit_with_those_genes(universe):
    data, u = universe
    spec = ModelSpec(backend="ridge")
    sch = scheme_for(data, "blocked", 5, 0)
    sets = u.draw(data.n_genes, 2, seed=0)
    scores = refit_scores(data, spec, sch, seed=0, gene_sets=sets, universe=u)
    for s, d in zip(scores, u.data_for(data, sets)):
        direct = cross_validate(d, spec, sch, 0).score
        np.testing.assert_allclose(s, [direct["r"], direct["r2"]], rtol=1e-12)
    with pytest.raises(ValueError, match="either maps, or gene_sets"):
        refit_scores(data, spec, sch, seed=0)


def _evaluate(out, scheme: str, n_null: int) -> tuple[dict, str]:
    """``xscale evaluate`` of pls1 with spin-vasa and gene-set nulls: (first results row, results.md)."""
    res = CliRunner().invoke(main, ["evaluate", "--target", "enigma:scz", "--models", "pls1", "--cv", scheme,
                                    "--nulls", "spin-vasa,geneset", "--n-null", str(n_null), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return json.loads((out / "results.json").read_text())["rows"][0], (out / "results.md").read_text()


def test_evaluate_reports_gene_specificity_beside_the_spatial_consensus(tmp_path):
    row, md = _evaluate(tmp_path / "ev", "blocked", 5)
    g = row["p"]["geneset"]
    assert g["n"] == 5 and np.isfinite(g["null_median_r2"])
    assert min(abs(g["p_r"] - k / 6) for k in range(1, 7)) < 1e-12, "p = (1 + #{null >= observed}) / (1 + 5)"
    assert row["consensus_p_r"] == row["p"]["spin-vasa"]["p_r"], "the gene-set null is not a spatial null"
    assert "p(r) random gene sets" in md and "R^2 random gene sets (median)" in md


def test_models_without_genes_have_no_gene_set_null(tmp_path):
    from xscale.config import build
    from xscale.evaluate.study import run_study

    res = run_study(build(quick=True, target="enigma:scz"), tmp_path / "ev", ["spatial-gp"], ["in-sample"],
                    ["geneset"], 3)
    g = res["rows"][0]["p"]["geneset"]
    assert g["n"] == 0 and g["p_r"] is None, "spatial-gp ignores expression: its score cannot depend on genes"
    assert "| spatial-gp | in-sample |" in (tmp_path / "ev" / "results.md").read_text()


def test_no_draws_means_no_p_values(tmp_path):
    row, md = _evaluate(tmp_path / "ev0", "in-sample", 0)
    assert row["p"]["geneset"]["p_r"] is None and row["p"]["spin-vasa"]["p_r"] is None
    assert row["consensus_p_r"] is None
    assert "No null p-values in this table." in md and "p(r)" not in md
