"""The model x CV scheme x spatial-null table of ``xscale reproduce``, for every map it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from xscale import config as config_mod
from xscale.evaluate import BATCH_SIZE
from xscale.evaluate.report import results_markdown
from xscale.evaluate.study import run_study

#: Baselines tabulated beside the paper's model (those whose plugins are installed).
BASELINES = ("ridge", "pls1", "pcr", "spatial-gp")
#: Null families of the table (``xscale evaluate`` offers more): two spatial, and random gene sets.
TABLE_NULLS = ("spin-vasa", "brainsmash", "geneset")


def evaluate_maps(cfg: Mapping[str, Any], out: Path, targets: list[str], models: list[str], n_null: int,
                  target_slug: Callable[[str], str], on_fit: Callable[[str], None] | None = None,
                  batch_size: int = BATCH_SIZE, on_more_fits: Callable[[int], None] | None = None
                  ) -> tuple[list[dict], str]:
    """:func:`xscale.evaluate.study.run_study` on each map: models and baselines, in-sample and blocked CV.

    Parameters
    ----------
    cfg : mapping
        Base configuration (seed, folds, quick, data options).
    out : path
        ``evaluation/<map>/`` directories are written here (results.md, results.json).
    targets : list of str
    models : list of str
        The reproduced models; the installed :data:`BASELINES` are added.
    n_null : int
        Surrogate maps (random gene sets) per null family (:data:`TABLE_NULLS`). 0: no null p-values, and only the
        baselines are fitted (the reproduced models' scores are already in ``results.md``).
    target_slug : callable
        Directory name of a target.
    on_fit : callable, optional
    batch_size : int
        See :func:`run_study`.
    on_more_fits : callable, optional
        Called with each map's number of fits before they start (for a progress total).

    Returns
    -------
    rows : list of dict
        One per (map, model, scheme): the rows of each map's ``results.json`` with ``target``.
    markdown : str
        One table per map.
    """
    baselines = [b for b in BASELINES if config_mod.preset_available(b) and b not in models]
    # without nulls the reproduced models' rows would repeat results.md: fit only the baselines then
    all_models = [*models, *baselines] if n_null else baselines
    nulls = list(TABLE_NULLS) if n_null else []
    rows, parts = [], []
    for t in targets:
        result = run_study({**cfg, "target": t}, out / target_slug(t), all_models, ["in-sample", "blocked"], nulls,
                           n_null, on_total=on_more_fits, on_fit=on_fit, batch_size=batch_size)
        rows += [{"target": t, **r} for r in result["rows"]]
        parts.append(results_markdown(result).replace("# xscale evaluate:", "## Map:", 1))
    head = (f"# Models x CV schemes x null p-values ({n_null} surrogate maps or random gene sets per family)\n\n"
            if n_null else
            "# Baselines x CV schemes (the reproduced models are in results.md; null p-values for all of them: "
            "`xscale reproduce --n-null N` or `xscale evaluate`)\n\n")
    return rows, head + "\n".join(parts)
