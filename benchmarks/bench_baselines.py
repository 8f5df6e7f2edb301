"""Null-model refits of the linear baselines: loop over scikit-learn fits vs the batched closed forms.

One refit = one fit on one surrogate map (spin test, Vasa) and one spatially blocked CV fold, as
``xscale evaluate`` makes them; the default batch is 12 maps x 5 folds = 60 refits. Both paths run
on the same refits in one process; the ratio is what compares across machines. The batched
predictions are checked against the loop's (largest difference relative to the map's scale,
chosen hyperparameters equal).

    python benchmarks/bench_baselines.py [--target enigma:scz] [--maps 12] [--models ridge,pls1]

Writes ``benchmarks/results/baselines.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from bench_batched import jobs
from xscale import config
from xscale.fitting import fit_many, fit_model
from xscale.provenance import now, package_versions
from xscale.rundir import write_json


def measure(preset: str, datas: list, masks: list) -> dict:
    """Seconds per refit of the loop and of the batch on the same refits, and how far they differ."""
    spec = config.model_spec(config.resolve(config.build(preset=preset)))
    t = time.perf_counter()
    loop = [fit_model(d, spec, m, seed=0) for d, m in zip(datas, masks)]
    loop_s = (time.perf_counter() - t) / len(datas)
    t = time.perf_counter()
    batch = fit_many(datas, spec, masks, seeds=0)
    batch_s = (time.perf_counter() - t) / len(datas)
    diff = max(float(np.abs(a.prediction - b.prediction).max() / np.abs(a.prediction).max()) for a, b in zip(loop, batch))
    return {"refits": len(datas), "seconds_per_refit_loop": loop_s, "seconds_per_refit_batched": batch_s,
            "speedup": loop_s / batch_s, "max_relative_prediction_difference": diff,
            "hyperparameters_differ": int(sum(a.info != b.info for a, b in zip(loop, batch)))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="enigma:scz")
    ap.add_argument("--maps", type=int, default=12, help="surrogate maps (each refitted on 5 blocked folds)")
    ap.add_argument("--models", default="ridge,pls1", help="comma-separated baseline presets")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "baselines.json"))
    args = ap.parse_args()
    datas, masks = jobs(args.target, 5 * args.maps)
    models = {p: measure(p, datas, masks) for p in args.models.split(",")}
    write_json(args.out, {"when": now(), "target": args.target, "cpu": platform.processor() or platform.machine(),
                          "packages": package_versions(), "models": models})
    print("| model | refits | s per refit, loop | s per refit, batched | speed-up | max rel. difference | "
          "hyperparameters differ |\n|---|---:|---:|---:|---:|---:|---:|")
    for name, m in models.items():
        print(f"| {name} | {m['refits']} | {m['seconds_per_refit_loop']:.4f} | {m['seconds_per_refit_batched']:.5f} | "
              f"{m['speedup']:.0f}x | {m['max_relative_prediction_difference']:.1e} | {m['hyperparameters_differ']} |")


if __name__ == "__main__":
    main()
