"""``xscale paper build``: execute every paper notebook and assemble one HTML report with provenance.

The build directory holds ``report.html`` (every figure and table, inputs hidden),
``figures/*.png|pdf``, ``tables/``, ``notebooks/*.ipynb`` (executed, with outputs),
``runs/`` and ``nulls/`` (the fits behind the figures), ``provenance.json`` (git commit,
package versions, data sha256, seeds, machine, per-notebook timings, sha256 of every artifact)
and ``SHA256SUMS`` (every file, the report included). It appears only when complete.
"""

from __future__ import annotations

import copy
import html
import os
import platform
import time
from pathlib import Path
from typing import Callable, Sequence

from xscale import provenance
from xscale.data.manifest import data_hashes, sha256_file
from xscale.paper.notebooks import NOTEBOOKS, Executed, execute
from xscale.paper.settings import PaperParams
from xscale.rundir import staged_directory, write_json, write_text_atomic

#: Versions recorded beside :data:`xscale.provenance.PACKAGES`.
EXTRA_PACKAGES = ("xscale-baselines", "nilearn", "neuromaps", "brainsmash", "scikit-learn", "jupytext", "nbclient",
                  "nbconvert", "ipykernel")
#: nbconvert's classic template less the scripts it loads from CDNs: the report opens offline.
OFFLINE_TEMPLATE = Path(__file__).parent / "templates" / "offline.html.j2"


def artifact_hashes(root: Path, exclude: Sequence[str] = ()) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``root`` (sorted), except ``exclude``."""
    return {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*"))
            if p.is_file() and str(p.relative_to(root)) not in exclude}


def _machine() -> dict:
    return {"platform": platform.platform(), "machine": platform.machine(), "processor": platform.processor(),
            "cpu_count": os.cpu_count(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}


def _table(rows: list[tuple], head: tuple[str, ...]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(html.escape(str(c)) for c in r) + " |" for r in rows]
    return "\n".join(out)


def provenance_markdown(prov: dict) -> str:
    """The report's opening section: what was run, on what, by which code, and every hash."""
    p, git = prov["parameters"], prov["git"]
    mode = ("**QUICK SMOKE-TEST BUILD: few training steps and few null surrogates; numbers are not the paper's "
            "protocol.**" if p["quick"] else "Full build: the paper's protocol settings.")
    parts = [
        "# xscale: reproduction report for arXiv 2606.05870", "", mode, "",
        "In-sample numbers are goodness of fit (the paper's protocol), not predictions; out-of-sample numbers "
        "(spatially blocked cross-validation) always stand beside them.", "",
        "## Provenance", "",
        _table([("git commit", f"{git['commit']}{' (uncommitted changes)' if git['dirty'] else ''}"),
                ("parameters", ", ".join(f"{k}={v}" for k, v in p.items())),
                ("seeds", f"{p['seed']} (fits, fold layout, surrogates, t-SNE); claims use the seeds in "
                          "paper/claims.yaml"),
                ("python", prov["python"]), ("machine", ", ".join(f"{k}={v}" for k, v in prov["machine"].items())),
                ("started / finished", f"{prov['started']} / {prov['finished']}"),
                ("total time", f"{prov['seconds_total']:.0f} s")], ("what", "value")), "",
        "### Notebook timings", "", _table([(k, f"{v:.1f} s") for k, v in prov["timings_s"].items()],
                                         ("notebook", "wall time")), "",
        "### Package versions", "", _table(sorted(prov["packages"].items()), ("package", "version")), "",
        "### Input data (sha256, verified before every read)", "",
        _table(sorted(prov["data_sha256"].items()), ("file", "sha256")), "",
        "### Artifacts (sha256)", "",
        "Every file of this build except `report.html`, `provenance.json` and `SHA256SUMS`, which `SHA256SUMS` "
        "covers.", "", _table(sorted(prov["artifacts_sha256"].items()), ("file", "sha256")),
    ]
    return "\n".join(parts) + "\n"


def assemble_html(executed: list[Executed], prov: dict) -> str:
    """One HTML page: the provenance section, then each executed notebook's outputs (inputs hidden)."""
    import nbformat
    from nbconvert import HTMLExporter

    merged = nbformat.v4.new_notebook()
    merged.cells.append(nbformat.v4.new_markdown_cell(provenance_markdown(prov)))
    for ex in executed:
        merged.cells.append(nbformat.v4.new_markdown_cell(f"---\n*Notebook `paper/{ex.name}.py` "
                                                          f"({ex.seconds:.0f} s)*"))
        for cell in ex.notebook.cells:
            if {"parameters", "injected-parameters"} & set(cell.get("metadata", {}).get("tags", [])):
                continue
            cell = copy.deepcopy(cell)
            if cell.cell_type == "code":  # logs and warnings stay in notebooks/*.ipynb, not in the report
                cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
            merged.cells.append(cell)
    exporter = HTMLExporter(template_name="classic", template_file=str(OFFLINE_TEMPLATE), exclude_input=True,
                            exclude_input_prompt=True, exclude_output_prompt=True)  # classic writes images' alt text
    body, _ = exporter.from_notebook_node(merged, resources={"metadata": {"name": "xscale reproduction report"}})
    return body


def build_report(out: str | Path, quick: bool = False, target: str = "enigma:scz", models: str | Sequence[str] =
                 "gnn-vae,ridge", seed: int = 0, n_null: int | None = None, adni: str | None = None,
                 overwrite: bool = False, notebooks: Sequence[str] = NOTEBOOKS,
                 on_notebook: Callable[[str], None] | None = None, timeout: int = 7200) -> dict:
    """Execute the paper notebooks and write the report directory (the single entry point).

    Parameters
    ----------
    out : path
        Build directory; it appears only when the build is complete.
    quick : bool
        Smoke-test settings (CI); False for the paper's protocol.
    target : str
        ``enigma:<name>``, a thinning-map CSV (e.g. derived from ADNI) or a run directory.
    models : str or sequence of str
        Model presets (comma-separated string allowed).
    seed : int
    n_null : int, optional
        Surrogates per null family (default 5 quick, 100 full).
    adni : str, optional
        ADNI input for the claims that need it (see :func:`xscale.paper.claims.verify`).
    overwrite : bool
        Replace an existing ``out`` once the new build is complete.
    notebooks : sequence of str
        Subset of :data:`~xscale.paper.notebooks.NOTEBOOKS`, in order.
    on_notebook : callable, optional
        Called with each notebook's name before it runs.
    timeout : int
        Seconds allowed per notebook cell.

    Returns
    -------
    dict
        ``out``, ``report`` (path of report.html), ``timings_s``, ``seconds_total``, ``n_artifacts``.

    Raises
    ------
    ConfigError
        On bad parameters, before anything runs.
    FileExistsError
        If ``out`` exists and ``overwrite`` is False.
    NotebookError
        If a notebook fails (nothing is left at ``out``).
    """
    params = PaperParams.from_notebook(quick=quick, target=target, models=models, seed=seed, n_null=n_null,
                                       adni=adni, out=".")
    inject = {**params.as_dict(), "adni": _absolute(adni), "target": _absolute(params.target)}  # kernels run in out/
    started, t0 = provenance.now(), time.perf_counter()
    with staged_directory(out, overwrite) as stage:
        executed, timings = [], {}
        for name in notebooks:
            if on_notebook:
                on_notebook(name)
            ex = execute(name, inject, stage, timeout=timeout, strict=False)
            write_text_atomic(stage / "notebooks" / f"{name}.ipynb", _ipynb(ex.notebook))
            executed.append(ex)
            timings[name] = round(ex.seconds, 1)
        inputs = {**data_hashes(), **{p: sha256_file(p) for p in (inject["target"], inject["adni"])
                                      if p and Path(p).is_file()}}
        prov = provenance.collect(params.seed, inputs, started)
        prov.update({"packages": {**prov["packages"], **provenance.package_versions(EXTRA_PACKAGES)},
                     "parameters": {k: v for k, v in inject.items() if k != "out"}, "machine": _machine(),
                     "timings_s": timings, "seconds_total": round(time.perf_counter() - t0, 1),
                     "artifacts_sha256": artifact_hashes(stage)})
        write_json(stage / "provenance.json", prov)
        write_text_atomic(stage / "report.html", assemble_html(executed, prov))
        sums = artifact_hashes(stage, exclude=("SHA256SUMS",))
        write_text_atomic(stage / "SHA256SUMS", "".join(f"{h}  {p}\n" for p, h in sums.items()))
        n = len(sums) + 1
    out = Path(out).resolve()
    return {"out": str(out), "report": str(out / "report.html"), "timings_s": timings,
            "seconds_total": prov["seconds_total"], "n_artifacts": n}


def _ipynb(nb) -> str:
    import nbformat

    return nbformat.writes(nb)


def _absolute(spec: str | None) -> str | None:
    """An existing path made absolute (the notebooks run inside the build directory); other specs as given."""
    return str(Path(spec).resolve()) if spec and not spec.startswith("enigma:") and Path(spec).exists() else spec
