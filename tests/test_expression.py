"""AHBA expression loading: landmark panel, missing-region policies, normalisation."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from xscale.data.ahba import _load_expression, _whole_transcriptome, load_expression, normalise
from xscale.data.lincs import landmark_genes
from xscale.errors import DataFormatError


def test_l1000_panel_matches_about_787_of_978_landmarks():
    expr = load_expression("l1000")
    assert len(landmark_genes()) == 978
    m = expr.match
    assert 780 <= m.n_found <= 790
    assert m.n_found + len(m.unmatched) == 978
    assert expr.frame.shape == (68, m.n_found)
    assert not set(m.unmatched["symbol"]) & set(expr.frame.columns)
    assert m.summary().startswith(f"{m.n_found} of 978 L1000 landmark genes found")


def test_all_panel_has_every_gene():
    assert load_expression("all").frame.shape == (68, 12668)


def _parse_afresh() -> None:
    """Forget the parsed file: its report is logged when it is first parsed."""
    _load_expression.cache_clear()
    _whole_transcriptome.cache_clear()


def test_copy_homologue_is_default_and_logged_once_for_both_panels(caplog):
    """An evaluation with the gene-set null loads the landmark panel and the whole transcriptome:
    the warning about the filled regions was printed twice."""
    _parse_afresh()
    with caplog.at_level(logging.WARNING, logger="xscale"):
        expr = load_expression()
        load_expression("all")
    assert caplog.text.count("R_frontalpole <- L_frontalpole") == 1, caplog.text
    f = expr.frame
    assert expr.filled == {"R_frontalpole": "L_frontalpole", "R_temporalpole": "L_temporalpole"}
    assert np.array_equal(f.loc["R_frontalpole"].to_numpy(), f.loc["L_frontalpole"].to_numpy())
    assert not f.isna().any().any()
    assert "R_frontalpole <- L_frontalpole" in caplog.text


def test_drop_and_fail_policies(caplog):
    _parse_afresh()
    with caplog.at_level(logging.WARNING, logger="xscale"):
        dropped = load_expression("l1000", "drop")
    assert dropped.frame.shape[0] == 66 and dropped.dropped == ("R_frontalpole", "R_temporalpole")
    assert "dropping 2 unsampled regions" in caplog.text
    with pytest.raises(DataFormatError, match="R_frontalpole.*missing_regions='fail'"):
        load_expression("l1000", "fail")


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="panel"):
        load_expression("l2000")
    with pytest.raises(ValueError, match="missing_regions"):
        load_expression("l1000", "interpolate")


def test_normalise_per_region_and_per_gene():
    x = load_expression().frame.to_numpy()
    r = normalise(x, "region")
    assert np.allclose(r.mean(axis=1), 0, atol=1e-9) and np.allclose(r.std(axis=1), 1)
    g = normalise(x, "gene")
    assert np.allclose(g.mean(axis=0), 0, atol=1e-9) and np.allclose(g.std(axis=0), 1)
    assert np.array_equal(normalise(x, "none"), x)
    with pytest.raises(ValueError, match="constant"):
        normalise(np.ones((3, 4)), "region")
