"""The results table of ``xscale evaluate``: one row per model and CV scheme, p columns per null.

The same columns go to the terminal (``xscale evaluate``'s table) and to ``results.md``, so
what a user sees is what the file keeps.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from rich import box
from rich.console import Console
from rich.table import Table

from xscale.evaluate.genesets import FAMILY as GENESET
from xscale.evaluate.nulls import SPATIAL_NULLS


def _fmt(v: Any) -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.3f}"


def table(result: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows (numbers to 3 decimals, ``-`` where none) of an evaluation's results.

    Parameters
    ----------
    result : mapping
        As returned by :func:`xscale.evaluate.study.run_study` (or read from its ``results.json``).

    Returns
    -------
    head : list of str
        ``model``, ``CV scheme``, ``R^2``, ``r``, ``regions`` (scored; for a median over
        splits, the median test-set size), ``aggregate`` (how the score was formed: in-sample
        fit, pooled out-of-fold predictions, or median over splits); ``p(r) <family>`` for each surrogate-map family;
        ``consensus p(r)`` and ``consensus p(R^2)`` when a spatial family is among them; with the
        gene-set null, its p(r) and the median R^2 of random landmark-sized gene sets. No p
        columns without null draws (``n_null`` 0).
    rows : list of list of str
        One per ``result['rows']`` entry, in order.
    """
    n = result["n_null"]
    fams = [f for f in result["nulls"] if f != GENESET] if n else []
    genes = GENESET in result["nulls"] and bool(n)
    spatial = any(f in SPATIAL_NULLS for f in fams)
    head = ["model", "CV scheme", "R^2", "r", "regions", "aggregate"] + [f"p(r) {f}" for f in fams]
    head += ["consensus p(r)", "consensus p(R^2)"] if spatial else []
    head += ["p(r) random gene sets", "R^2 random gene sets (median)"] if genes else []
    rows = []
    for r in result["rows"]:
        cells = [r["model"], r["scheme"], _fmt(r["r2"]), _fmt(r["r"]), "-" if r.get("n") is None else str(r["n"]),
                 r.get("aggregate") or "-"] + [_fmt(r["p"][f]["p_r"]) for f in fams]
        cells += [_fmt(r["consensus_p_r"]), _fmt(r["consensus_p_r2"])] if spatial else []
        if genes:
            cells += [_fmt(r["p"][GENESET]["p_r"]), _fmt(r["p"][GENESET].get("null_median_r2"))]
        rows.append(cells)
    return head, rows


def gain_table(result: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the gene models' gain over the model without genes (:mod:`xscale.evaluate.versus`).

    Parameters
    ----------
    result : mapping
        As for :func:`table`.

    Returns
    -------
    head : list of str
        ``model``, ``CV scheme``, ``vs`` (the reference, a model without genes), ``Δr``, ``ΔR^2``; ``p(Δr) <family>``
        for each surrogate-map family; ``consensus p(Δr)`` and ``consensus p(ΔR^2)`` when a spatial
        family is among them.
    rows : list of list of str
        One per row of ``result['rows']`` that has a gain (gene models, with a model without genes
        in the evaluation); none otherwise.
    """
    n = result["n_null"]
    fams = [f for f in result["nulls"] if f != GENESET] if n else []
    spatial = any(f in SPATIAL_NULLS for f in fams)
    head = ["model", "CV scheme", "vs", "Δr", "ΔR^2"] + [f"p(Δr) {f}" for f in fams]
    head += ["consensus p(Δr)", "consensus p(ΔR^2)"] if spatial else []
    rows = []
    for r in result["rows"]:
        g = r.get("gain_over_space")
        if g is None:
            continue
        cells = [r["model"], r["scheme"], g["reference"], _fmt(g["delta_r"]), _fmt(g["delta_r2"])]
        cells += [_fmt(g["p"].get(f, {}).get("p_r")) for f in fams]
        cells += [_fmt(g["consensus_p_r"]), _fmt(g["consensus_p_r2"])] if spatial else []
        rows.append(cells)
    return head, rows


def results_markdown(result: Mapping[str, Any]) -> str:
    """``results.md``: what the table's rows are and how its p-values were made, then :func:`table`."""
    n = result["n_null"]
    fams = [f for f in result["nulls"] if f != GENESET] if n else []
    genes = GENESET in result["nulls"] and bool(n)
    lines = [f"# xscale evaluate: {result['target']}", ""]
    if result["quick"]:
        lines += ["**QUICK SMOKE-TEST SETTINGS: not for reporting.**", ""]
    text = ("`in-sample` rows are goodness of fit (the paper's protocol), not predictions. `regions`: the regions "
            "scored (for a median over splits, the median test-set size).")
    if fams:
        text += f" Null p-values refit the whole pipeline on {n} surrogate maps per family."
    if any(f in SPATIAL_NULLS for f in fams):
        text += " The consensus is the largest p over the spatial families (spins, brainsmash, Moran)."
    if "permutation" in fams:
        text += " Naive permutation ignores spatial autocorrelation; it is shown for comparison only."
    if not fams and not genes:
        text += " No null p-values in this table."
    lines.append(text)
    if genes:
        lines += ["", f"Random gene sets: the same model refitted with the real map on {n} sets of as many genes as "
                  "the panel, drawn from the whole AHBA transcriptome; p(r) small means the panel's genes beat "
                  "arbitrary genes (gene specificity)."]
    lines += _md_table(*table(result))
    head, rows = gain_table(result)
    if rows:
        ref = rows[0][head.index("vs")]
        text = (f"Δr = r(model) - r({ref}) on the same folds (in-sample rows: of the fits), ΔR^2 likewise: the genes "
                f"against {ref}, which uses no genes. A spatial-null p below 0.05 does not by itself show that genes "
                "matter: a model without genes can beat the surrogate maps too (its own row above).")
        if len(head) > 5:
            text += (" p(Δr): how often a surrogate map, with both models refitted on it, gives at least the gain the "
                     "real map gives. A small p with a positive gain says the lead is larger than on maps that share "
                     "the real map's spatial autocorrelation but have nothing to do with the genes; a large p is "
                     "inconclusive, not proof that the genes add nothing.")
        lines += ["", f"## Gain over the model without genes ({ref})", "", text] + _md_table(head, rows)
    return "\n".join(lines) + "\n"


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    """Lines of a Markdown table (after a blank line) with header ``head`` and ``rows`` of cells."""
    return ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(c) + " |" for c in rows]


def print_table(console: Console, head: list[str], rows: list[list[str]], title: str) -> None:
    """Print :func:`table`'s ``head`` and ``rows`` under ``title``, every number and header word whole.

    Where the console is too narrow for one table, the columns are dealt into several, each
    with the model and CV scheme: the scores and consensus p-values first, then the p-values
    per null family.
    """
    width = {i: max([len(r[i]) for r in rows] + [len(h)]) for i, h in enumerate(head)}  # headers on one line
    if sum(w + 3 for w in width.values()) + 1 > console.width:  # + padding and rule: headers wrap at spaces
        width = {i: max([len(r[i]) for r in rows] + [len(w) for w in h.split()]) for i, h in enumerate(head)}
    per_family = [i for i, h in enumerate(head) if h.startswith(("p(r) ", "p(Δr) ")) and h != "p(r) random gene sets"]
    parts: list[list[int]] = [[0, 1]]
    for i in [i for i in range(2, len(head)) if i not in per_family] + per_family:
        if len(parts[-1]) > 2 and sum(width[c] + 3 for c in parts[-1] + [i]) + 1 > console.width:  # padding, rule
            parts.append([0, 1])
        parts[-1].append(i)
    console.print(title)
    for n, cols in enumerate(parts):
        t = Table(title="(continued)" if n else None, box=box.SIMPLE_HEAD, title_justify="left")
        for c in cols:  # headers wrap at spaces; numbers never
            t.add_column(head[c], width=width[c], overflow="fold")
        for r in rows:
            t.add_row(*(r[c] for c in cols))
        console.print(t)
