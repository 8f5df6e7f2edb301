"""`xscale data build-ahba` offline: abagen on a tiny SYNTHETIC donor folder in AHBA's real file
format, checked against the expression computed by hand from the values written."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy.stats import norm

from xscale.cli import main
from xscale.data.ahba_build import DONORS, FILES, donor_files, load_build_config
from xscale.data.atlas import load_atlas
from xscale.data.lincs import landmark_genes
from xscale.data.manifest import sha256_file
from xscale.data.synthetic_ahba import write_tiny_ahba
from xscale.errors import ConfigError

REGIONS = load_atlas().regions


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("ahba")
    tiny = write_tiny_ahba(root / "raw", seed=0)
    res = CliRunner().invoke(main, ["data", "build-ahba", "--data-dir", str(root / "raw"), "--out", str(root / "out")])
    assert res.exit_code == 0, res.output
    return tiny, root / "out", res.output


def _srs(x: np.ndarray, axis: int) -> np.ndarray:
    """Scaled robust sigmoid (Fulcher et al. 2013): sigmoid of (x - median) / (IQR / 1.349), rescaled to [0, 1]."""
    med = np.median(x, axis=axis, keepdims=True)
    q1, q3 = np.percentile(x, [25, 75], axis=axis, keepdims=True)
    s = 1.0 / (1.0 + np.exp(-(x - med) / ((q3 - q1) / (2 * norm.ppf(0.75)))))
    lo, hi = s.min(axis=axis, keepdims=True), s.max(axis=axis, keepdims=True)
    return (s - lo) / (hi - lo)


def _by_hand(tiny) -> pd.DataFrame:
    """Regions x genes: per donor, SRS across genes within each sample, then across samples within each
    gene; mean over a region's samples per donor, then over donors."""
    kept = tiny.probes[tiny.probes["role"].isin(["single", "stable"])]
    per_donor = []
    for donor in DONORS:
        x = tiny.expression[donor].loc[kept["probe_id"]].to_numpy()  # genes x samples
        x = _srs(_srs(x, axis=0), axis=1)
        frame = pd.DataFrame(x.T, columns=kept["gene_symbol"].to_numpy())
        per_donor.append(frame.groupby(tiny.samples[donor]["region"].to_numpy()).mean())
    return pd.concat(per_donor).groupby(level=0).mean()


def test_tiny_folder_has_ahba_layout(built):
    tiny, _, _ = built
    files = donor_files(tiny.root)
    assert sorted(files) == sorted(DONORS) and all(sorted(f) == sorted(FILES) for f in files.values())
    f = files["9861"]
    assert pd.read_csv(f["Probes.csv"], nrows=1).columns.tolist() == [
        "probe_id", "probe_name", "gene_id", "gene_symbol", "gene_name", "entrez_id", "chromosome"]
    assert pd.read_csv(f["SampleAnnot.csv"], nrows=1).columns.tolist()[:3] == ["structure_id", "slab_num", "well_id"]
    assert pd.read_csv(f["Ontology.csv"], nrows=1).columns.tolist()[-2:] == ["structure_id_path", "color_hex_triplet"]
    micro = pd.read_csv(f["MicroarrayExpression.csv"], header=None, nrows=2)
    assert micro.shape[1] == 1 + len(tiny.samples["9861"])


def test_matrix_matches_hand_computation(built):
    tiny, out, _ = built
    got = pd.read_csv(out / "ahba_dk68_l1000.csv", index_col="Region")
    assert tuple(got.index) == REGIONS
    lm = set(landmark_genes()["entrez_gene_id"])
    expected_genes = tiny.probes[(tiny.probes["role"] == "single") & tiny.probes["entrez_id"].isin(lm)]
    assert sorted(got.columns) == sorted(expected_genes["gene_symbol"])
    hand = _by_hand(tiny)
    assert np.isnan(got.loc[list(tiny.empty_regions)].to_numpy()).all()
    sampled = [r for r in REGIONS if r in hand.index]
    np.testing.assert_allclose(got.loc[sampled].to_numpy(), hand.loc[sampled, got.columns].to_numpy(), atol=1e-8)
    right = [r for r in sampled if r.startswith("R_")]
    assert right, "right-hemisphere regions come from donors 9861 and 10021 only"
    cell = got.loc[right[0], got.columns[0]]
    assert 0.0 <= cell <= 1.0 and abs(cell - hand.loc[right[0], got.columns[0]]) < 1e-8


def test_probe_filtering_and_selection(built):
    tiny, out, _ = built
    full = pd.read_csv(out / "ahba_dk68_all_genes.csv.gz", index_col="Region")
    p = tiny.probes
    assert not set(p.loc[p["role"] == "ibf-fail", "gene_symbol"]) & set(full.columns), "intensity filter"
    assert set(p.loc[p["role"] == "stable", "gene_symbol"]) <= set(full.columns)
    hand = _by_hand(tiny)
    sampled = list(hand.index)
    np.testing.assert_allclose(full.loc[sampled, hand.columns].to_numpy(), hand.loc[sampled].to_numpy(), atol=1e-8,
                               err_msg="the stable probe of each two-probe gene is chosen (differential stability)")


def test_written_provenance(built):
    tiny, out, output = built
    entry = json.loads((out / "manifest_entry.json").read_text())
    n_lm = int(((tiny.probes["role"] == "single") & tiny.probes["entrez_id"].isin(
        set(landmark_genes()["entrez_gene_id"]))).sum())
    assert entry["synthetic"] and entry["landmarks"]["found"] == n_lm
    for f in entry["files"]:
        assert f["sha256"] == sha256_file(out / f["path"]) and f["size"] == (out / f["path"]).stat().st_size
        assert f["options"]["abagen"] == load_build_config()["abagen"] and f["options"]["abagen_version"] == "0.1.3"
        assert f["description"].startswith("SYNTHETIC")
    assert entry["inputs_sha256"]["9861/Probes.csv"] == sha256_file(donor_files(tiny.root)["9861"]["Probes.csv"])
    report = (out / "methods_report.md").read_text()
    assert report.startswith("**SYNTHETIC") and "abagen toolbox (version 0.1.3" in report
    counts = pd.read_csv(out / "sample_counts.csv", index_col="Region")
    for donor in DONORS:
        want = tiny.samples[donor]["region"].value_counts()
        assert counts[donor].loc[want.index].tolist() == want.tolist() and counts[donor].sum() == want.sum()
    assert f"{n_lm} of 978 L1000 landmark genes found" in " ".join(output.split())
    assert "unmatched landmark genes (" in output
    with gzip.open(out / "ahba_dk68_all_genes.csv.gz", "rt") as fh:
        assert fh.readline().startswith("Region,")


def test_missing_donor_files_are_named(tmp_path, built):
    tiny, _, _ = built
    with pytest.raises(FileNotFoundError, match=r"normalized_microarray_donor9861/MicroarrayExpression\.csv.*"
                                                r"human\.brain-map\.org"):
        donor_files(tmp_path)
    res = CliRunner().invoke(main, ["data", "build-ahba", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1 and "raw AHBA files missing" in res.output and not (tmp_path / "o").exists()


def test_config_pins_every_option(tmp_path):
    cfg = load_build_config()
    assert cfg["abagen"]["probe_selection"] == "diff_stability" and cfg["abagen"]["lr_mirror"] is None
    bad = tmp_path / "b.yaml"
    bad.write_text("atlas: desikan-killiany-volumetric\ncortex_only: false\npanel: l1000\n"
                   "abagen: {donors: all, tolerance: 2}\n")
    with pytest.raises(ConfigError, match=r"missing keys \['abagen.reannotated'"):
        load_build_config(bad)


def test_pandas_shims_are_scoped_to_the_abagen_call():
    from xscale.data.abagen_compat import pandas_compat

    df = pd.DataFrame(np.arange(12.0).reshape(3, 4), columns=list("abcd"))
    with pandas_compat():
        by_column = df.groupby(pd.Series([0, 0, 1, 1], index=list("abcd")), axis=1).mean()
        assert by_column.to_numpy().tolist() == [[0.5, 2.5], [4.5, 6.5], [8.5, 10.5]]
        assert len(df.append(df.iloc[[0]])) == 4
        assert list(df.set_axis(list("wxyz"), axis=1, inplace=False).columns) == list("wxyz")
    assert not hasattr(pd.DataFrame, "append")
    with pytest.raises(TypeError):
        df.set_axis(list("wxyz"), axis=1, inplace=False)
