"""Thinning targets: embedded ENIGMA maps and user CSVs, with clear errors."""

from __future__ import annotations

import io
import logging

import numpy as np
import pandas as pd
import pytest

from xscale.data.atlas import load_atlas
from xscale.data.manifest import read_verified
from xscale.data.targets import ENIGMA_MAPS, load_target
from xscale.errors import DataFormatError

REGIONS = load_atlas().regions


def _enigma(name: str) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(read_verified(f"enigma:{name}")))


@pytest.mark.parametrize("name", sorted(ENIGMA_MAPS))
def test_embedded_maps_are_minus_d_icv(name):
    t = load_target(f"enigma:{name}", REGIONS)
    raw = _enigma(name)
    assert t.values.shape == (68,)
    np.testing.assert_array_equal(t.values, -raw["d_icv"].to_numpy())


def test_schizophrenia_map_is_mostly_thinning():
    t = load_target("enigma:scz", REGIONS)
    assert (t.values > 0).mean() > 0.9


def test_autism_nan_regions_are_kept_and_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="xscale"):
        t = load_target("enigma:asd", REGIONS)
    assert [REGIONS[i] for i in t.missing] == ["L_fusiform", "R_fusiform"]
    assert "excluded from fitting and scoring" in caplog.text


def test_user_enigma_csv_is_aligned_by_name(tmp_path):
    shuffled = _enigma("bd").sample(frac=1.0, random_state=0)
    p = tmp_path / "mine.csv"
    shuffled.to_csv(p, index=False)
    t = load_target(str(p), REGIONS)
    np.testing.assert_array_equal(t.values, -_enigma("bd")["d_icv"].to_numpy())


def test_two_column_csv_keeps_sign(tmp_path):
    raw = _enigma("mdd")
    p = tmp_path / "two.csv"
    pd.DataFrame({"region": raw["Structure"], "value": raw["d_icv"]}).to_csv(p, index=False)
    np.testing.assert_array_equal(load_target(str(p), REGIONS).values, raw["d_icv"].to_numpy())


def test_region_subset_after_drop():
    sub = tuple(r for r in REGIONS if r not in ("R_frontalpole", "R_temporalpole"))
    assert load_target("enigma:scz", sub).values.shape == (66,)


def _write(tmp_path, frame):
    p = tmp_path / "bad.csv"
    frame.to_csv(p, index=False)
    return str(p)


def test_unknown_missing_and_duplicate_regions_are_listed(tmp_path):
    raw = _enigma("scz")
    frame = raw.copy()
    frame.loc[0, "Structure"] = "L_bankstts"
    frame.loc[1, "Structure"] = frame.loc[2, "Structure"]
    with pytest.raises(DataFormatError) as err:
        load_target(_write(tmp_path, frame), REGIONS)
    msg = str(err.value)
    assert "bad.csv" in msg
    assert "unknown regions ['L_bankstts']" in msg
    assert "duplicated regions ['L_caudalmiddlefrontal']" in msg
    assert "missing regions ['L_bankssts', 'L_caudalanteriorcingulate']" in msg


def test_freesurfer_names_get_a_short_message_that_says_what_to_rename(tmp_path):
    frame = _enigma("scz")
    frame["Structure"] = frame["Structure"].str.replace("^L_", "lh_", regex=True).str.replace("^R_", "rh_", regex=True)
    with pytest.raises(DataFormatError) as err:
        load_target(_write(tmp_path, frame), REGIONS)
    msg = str(err.value)
    assert msg.count("and 60 more (68 in all)") == 2, "unknown and missing lists are cut after 8 names"
    assert "FreeSurfer-style names such as 'lh_bankssts' must be renamed" in msg
    assert len(msg) < 1000


def test_non_numeric_value_names_file_field_and_row(tmp_path):
    frame = _enigma("scz").astype({"d_icv": object})
    frame.loc[4, "d_icv"] = "n/a?"
    with pytest.raises(DataFormatError, match=r"bad.csv: field 'd_icv' must be numeric; non-numeric at row 6 \(L_entorhinal"):
        load_target(_write(tmp_path, frame), REGIONS)


def test_unrecognised_columns_and_missing_file(tmp_path):
    with pytest.raises(DataFormatError, match="unrecognised columns"):
        load_target(_write(tmp_path, pd.DataFrame({"area": ["L_bankssts"], "d": [0.1]}).assign(x=1)), REGIONS)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_target(str(tmp_path / "nope.csv"), REGIONS)
    with pytest.raises(DataFormatError, match="unknown embedded target 'enigma:ad'"):
        load_target("enigma:ad", REGIONS)


def test_constant_nearly_empty_and_directory_targets_are_refused_naming_the_file(tmp_path):
    constant = _enigma("scz").assign(d_icv=0.25)
    with pytest.raises(DataFormatError, match=r"bad.csv: every region has the value -0.25"):
        load_target(_write(tmp_path, constant), REGIONS)
    sparse = _enigma("scz").astype({"d_icv": float})
    sparse.loc[5:, "d_icv"] = np.nan
    with pytest.raises(DataFormatError, match=r"bad.csv: 5 of 68 regions have a finite value; at least 10"):
        load_target(_write(tmp_path, sparse), REGIONS)
    with pytest.raises(DataFormatError, match="is a directory"):
        load_target(str(tmp_path), REGIONS)
