"""``paper/claims.yaml`` and ``xscale paper verify``: the paper's numbers and xscale's own
reference numbers, recomputed and compared within stated tolerances (Table 1).

A claim names a statistic (R^2 or r) of a model under an evaluation (the paper's in-sample fit
or spatially blocked CV) on a map: either the embedded data (a regression test of the science)
or the restricted ADNI map (the paper's own claims, checked only when ADNI input is given). The
reproduced value is the mean over the claim's seeds; it passes when it lies within the
tolerance of the claimed value. Quick mode (CI) checks the claims that carry a ``quick`` block,
against values measured under the quick settings: regression values, not the paper's protocol.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from xscale import config as config_mod
from xscale.data.manifest import project_root
from xscale.errors import ConfigError, DataFormatError, XscaleError
from xscale.paper.runs import SECTIONS, Run, ensure_run, load_run
from xscale.paper.settings import PaperParams
from xscale.rundir import write_json, write_text_atomic

CLAIMS_FILE = "paper/claims.yaml"
STATISTICS = {"r2": "R^2", "r": "r"}
DATA = ("embedded", "adni")
REQUIRED = ("name", "statement", "source", "value", "statistic", "evaluation", "model", "data", "seeds", "tolerance",
            "tolerance_note", "computed")

PASS, FAIL, NEEDS_ADNI, FULL_ONLY, ERROR = "pass", "FAIL", "needs ADNI", "full mode only", "ERROR"


@dataclass(frozen=True)
class Expectation:
    """A claimed value with its tolerance and the seeds whose mean is compared with it."""

    value: float
    tolerance: float
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class Claim:
    """One entry of ``paper/claims.yaml`` (see the file's header for the fields)."""

    name: str
    statement: str
    source: str
    statistic: str
    evaluation: str
    model: str
    data: str
    target: str | None
    folds: int
    full: Expectation
    quick: Expectation | None
    tolerance_note: str
    computed: str

    def expectation(self, quick: bool) -> Expectation | None:
        """The full-mode expectation, or the quick one (None when the claim has none)."""
        return self.quick if quick else self.full


def _need(raw: dict, key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if key not in raw:
        raise DataFormatError(f"{where}: field {key!r} is missing")
    v = raw[key]
    if not isinstance(v, kind) or isinstance(v, bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise DataFormatError(f"{where}: field {key!r} = {v!r}; expected {names}")
    return v


def _expectation(raw: dict, where: str) -> Expectation:
    value = float(_need(raw, "value", where, (int, float)))
    tol = float(_need(raw, "tolerance", where, (int, float)))
    seeds = _need(raw, "seeds", where, list)
    if tol <= 0 or not math.isfinite(tol):
        raise DataFormatError(f"{where}: field 'tolerance' = {tol!r}; expected a positive number")
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise DataFormatError(f"{where}: field 'seeds' = {seeds!r}; expected a non-empty list of non-negative integers")
    return Expectation(value, tol, tuple(seeds))


def parse_claim(raw: Any, where: str, defaults: dict) -> Claim:
    """Validate one claim mapping.

    Raises
    ------
    DataFormatError
        Naming ``where`` (file and claim), the field and what was expected.
    """
    if not isinstance(raw, dict):
        raise DataFormatError(f"{where}: expected a mapping of claim fields, got {type(raw).__name__}")
    raw = {**defaults, **raw}
    for key in REQUIRED:
        if key not in raw:
            raise DataFormatError(f"{where}: field {key!r} is missing (required: {', '.join(REQUIRED)})")
    where = f"{where} ({raw['name']})"
    choices = {"statistic": tuple(STATISTICS), "evaluation": tuple(SECTIONS), "data": DATA,
               "model": tuple(config_mod.PRESETS)}
    for key, allowed in choices.items():
        if raw[key] not in allowed:
            raise DataFormatError(f"{where}: field {key!r} = {raw[key]!r}; expected one of {list(allowed)}")
    target = raw.get("target")
    if raw["data"] == "embedded" and not (isinstance(target, str) and target.startswith("enigma:")):
        raise DataFormatError(f"{where}: field 'target' = {target!r}; an embedded-data claim needs enigma:<name>")
    quick = raw.get("quick")
    if quick is not None and not isinstance(quick, dict):
        raise DataFormatError(f"{where}: field 'quick' must be a mapping with value, tolerance, seeds")
    folds = _need(raw, "folds", where, int) if "folds" in raw else 5
    return Claim(str(raw["name"]), str(raw["statement"]), str(raw["source"]), raw["statistic"], raw["evaluation"],
                 raw["model"], raw["data"], target if raw["data"] == "embedded" else None, folds,
                 _expectation(raw, where), _expectation(quick, f"{where} quick") if quick else None,
                 str(raw["tolerance_note"]), str(raw["computed"]))


def load_claims(path: str | Path | None = None) -> list[Claim]:
    """Read and validate ``paper/claims.yaml``.

    Parameters
    ----------
    path : path, optional
        Default: ``paper/claims.yaml`` of the xscale checkout.

    Returns
    -------
    list of Claim

    Raises
    ------
    DataFormatError
        On unreadable YAML, a missing or invalid field (file, claim and field named), or a
        duplicated claim name.
    FileNotFoundError
        If the file does not exist.
    """
    p = Path(path) if path else project_root() / CLAIMS_FILE
    if not p.is_file():
        raise FileNotFoundError(f"claims file {p} does not exist")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise DataFormatError(f"{p}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("claims"), list):
        raise DataFormatError(f"{p}: expected a mapping with a list under 'claims'")
    defaults = raw.get("defaults") or {}
    claims = [parse_claim(c, f"{p}: claims[{i}]", defaults) for i, c in enumerate(raw["claims"])]
    names = [c.name for c in claims]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise DataFormatError(f"{p}: duplicated claim names {dup}")
    return claims


def judge(reproduced: float | None, expected: float, tolerance: float) -> str:
    """``'pass'`` when ``|reproduced - expected| <= tolerance``, else ``'FAIL'`` (also for NaN or None)."""
    if reproduced is None or not math.isfinite(reproduced):
        return FAIL
    return PASS if abs(reproduced - expected) <= tolerance + 1e-12 else FAIL


@dataclass
class ClaimResult:
    """One row of Table 1.

    Attributes
    ----------
    claim : str
    statement, source, data, model, evaluation, statistic : str
    expected : float
        Paper value (ADNI claims) or xscale reference value (embedded claims) for this mode.
    tolerance : float or None
    seeds : list of int
    per_seed : list of float
        The statistic of each seed's run.
    reproduced : float or None
        Mean over the seeds.
    verdict : str
        ``pass``, ``FAIL``, ``needs ADNI``, ``full mode only`` or ``ERROR``.
    note : str
    """

    claim: str
    statement: str
    source: str
    data: str
    model: str
    evaluation: str
    statistic: str
    expected: float
    tolerance: float | None
    seeds: list[int] = field(default_factory=list)
    per_seed: list[float] = field(default_factory=list)
    reproduced: float | None = None
    verdict: str = ""
    note: str = ""

    @property
    def delta(self) -> float | None:
        return None if self.reproduced is None else self.reproduced - self.expected


@dataclass
class Verification:
    """All claim results of one ``xscale paper verify``."""

    quick: bool
    rows: list[ClaimResult]
    adni: bool

    @property
    def failed(self) -> list[ClaimResult]:
        """Rows that drifted outside their tolerance or could not be computed."""
        return [r for r in self.rows if r.verdict in (FAIL, ERROR)]

    def as_dict(self) -> dict:
        return {"quick": self.quick, "adni_given": self.adni, "n_failed": len(self.failed),
                "rows": [{**asdict(r), "delta": r.delta} for r in self.rows]}


def _adni_run(spec: str, model: str) -> Run | None:
    """A finished run of ``model`` in ``spec`` (a run directory or a ``reproduce`` output), else None."""
    p = Path(spec)
    if not p.is_dir():
        return None
    if (p / "metrics.json").is_file():
        return load_run(p)
    found = [d for d in sorted((p / "runs" / config_mod.model_slug(model)).glob("*")) if (d / "metrics.json").is_file()]
    found = [d for d in found if not str(load_run(d).config.get("target", "")).startswith("enigma:")]
    if len(found) != 1:
        raise DataFormatError(f"{p}: expected a run directory (metrics.json) or one non-ENIGMA run under "
                              f"runs/{config_mod.model_slug(model)}/; found {len(found)}")
    return load_run(found[0])


def _values(claim: Claim, exp: Expectation, quick: bool, adni: str | None, root: Path) -> list[float]:
    stat, scheme = claim.statistic, claim.evaluation
    if claim.data == "adni":
        run = _adni_run(adni, claim.model)
        if run is not None:
            if run.model != claim.model:
                raise ConfigError(f"{run.path}: a {run.model} run; claim {claim.name} is about {claim.model}")
            if bool(run.config.get("quick")) != quick:
                raise ConfigError(f"{run.path}: a {'quick' if run.config.get('quick') else 'full'} run; "
                                  f"verify {'--quick' if quick else 'in full mode'} needs the other")
            return [float(run.score(scheme)[stat])]
    target = adni if claim.data == "adni" else claim.target
    out = []
    for seed in exp.seeds:
        params = PaperParams(quick=quick, target=target, models=(claim.model,), seed=seed, folds=claim.folds,
                             out=str(root))
        out.append(float(ensure_run(params, claim.model, seed, root=root).score(scheme)[stat]))
    return out


def verify(claims: list[Claim] | None = None, quick: bool = False, adni: str | None = None,
           runs: str | Path | None = None) -> Verification:
    """Recompute every claim that applies and judge it against its tolerance.

    Parameters
    ----------
    claims : list of Claim, optional
        Default: :func:`load_claims`.
    quick : bool
        Check only claims with a ``quick`` block, under quick settings, against their quick values.
    adni : str, optional
        For the claims that need ADNI: a run directory of the claim's model on the ADNI map (as
        ``xscale fit`` writes it), a ``reproduce`` output holding one, or a thinning-map CSV
        derived from ADNI (``region,value``) to fit here. Without it those claims read "needs ADNI"
        and do not fail.
    runs : path, optional
        Directory to keep (and reuse) the run directories in; default a temporary one.

    Returns
    -------
    Verification
        ``failed`` lists the rows outside tolerance or in error.
    """
    claims = load_claims() if claims is None else claims
    rows = []
    with tempfile.TemporaryDirectory(prefix="xscale-verify-") as tmp:
        root = Path(runs) if runs else Path(tmp)
        for c in claims:
            exp = c.expectation(quick)
            base = c.full if exp is None else exp
            row = ClaimResult(c.name, c.statement, c.source, c.data, c.model, c.evaluation, c.statistic, base.value,
                              base.tolerance, list(base.seeds))
            if exp is None:
                row.verdict, row.note = FULL_ONLY, "no quick-mode value; checked by `xscale paper verify` (full)"
            elif c.data == "adni" and not adni:
                row.verdict, row.note = NEEDS_ADNI, "restricted data; pass --adni (see README)"
            else:
                try:
                    row.per_seed = _values(c, exp, quick, adni, root)
                    row.reproduced = sum(row.per_seed) / len(row.per_seed)
                    row.verdict = judge(row.reproduced, exp.value, exp.tolerance)
                except (XscaleError, FileNotFoundError, ValueError) as exc:
                    row.verdict, row.note = ERROR, f"{type(exc).__name__}: {exc}"
            rows.append(row)
    return Verification(quick, rows, bool(adni))


def _fmt(v: float | None) -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.4f}"


TABLE_COLUMNS = ("claim", "data", "model", "evaluation", "statistic", "paper / reference", "reproduced (mean of seeds)",
                 "difference", "tolerance", "verdict")


def table_rows(v: Verification) -> list[list[str]]:
    """Table 1 as strings, one list per claim in :data:`TABLE_COLUMNS` order."""
    return [[r.claim, r.data, r.model, r.evaluation, STATISTICS[r.statistic], _fmt(r.expected),
             _fmt(r.reproduced) + (f" (n={len(r.per_seed)})" if r.per_seed else ""), _fmt(r.delta),
             "-" if r.tolerance is None else f"±{r.tolerance:g}", r.verdict] for r in v.rows]


def markdown(v: Verification) -> str:
    """Table 1 as Markdown, with the mode stated above it and notes below."""
    mode = ("**QUICK MODE: smoke-test settings, checked against quick-mode regression values (not the paper's "
            "protocol).**" if v.quick else "Full mode: the default (paper-protocol) settings.")
    lines = ["# Table 1: claims, paper / reference value vs reproduced value", "", mode, "",
             "In-sample rows are goodness of fit (the paper's protocol), not predictions; blocked rows are "
             "out-of-sample (spatially blocked CV, homologues held out together). Reproduced = mean over the "
             "claim's seeds.", "",
             "| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(v)]
    notes = [f"- {r.claim}: {r.note}" for r in v.rows if r.note]
    if notes:
        lines += ["", "Notes:", *notes]
    lines += ["", f"{len(v.failed)} of {len(v.rows)} claims failed."]
    return "\n".join(lines) + "\n"


def write(v: Verification, out: str | Path) -> tuple[Path, Path]:
    """Write ``claims.md`` and ``claims.json`` into ``out`` atomically; return both paths."""
    out = Path(out)
    return (write_text_atomic(out / "claims.md", markdown(v)),
            write_json(out / "claims.json", json.loads(json.dumps(v.as_dict(), default=str))))


def rich_table(v: Verification):
    """Table 1 as a compact :class:`rich.table.Table` for the terminal (verdicts coloured)."""
    from rich import box
    from rich.table import Table

    title = "Table 1: claims" + (" [QUICK MODE: quick-mode regression values, not the paper's protocol]" if v.quick
                                 else "")
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    for col in ("claim", "model", "evaluation", "stat", "expected", "reproduced", "seeds", "diff", "tol", "verdict"):
        table.add_column(col, no_wrap=True, justify="right" if col in ("expected", "reproduced", "diff") else "left")
    style = {PASS: "green", FAIL: "bold red", ERROR: "bold red", NEEDS_ADNI: "yellow", FULL_ONLY: "dim"}
    for r in v.rows:
        table.add_row(r.claim, r.model, r.evaluation, STATISTICS[r.statistic], _fmt(r.expected), _fmt(r.reproduced),
                      str(len(r.per_seed) or "-"), _fmt(r.delta), "-" if r.tolerance is None else f"{r.tolerance:g}",
                      f"[{style[r.verdict]}]{r.verdict}[/]")
    return table
