"""Null-model refits of the spatial-only GP baseline: sequential loop vs batched (one run).

A refit is one MAP fit of ``SpatialGPBackend`` (Matern-5/2 kernel on DK centroids, 500 Adam
steps) on one spin-test surrogate (Vasa) of the schizophrenia map and one spatially blocked CV
fold. The same refits run through the loop (``fit_model`` each: pyro GPRegression) and through
``fit_many`` (``SpatialGPBackend.fit_batch``: all at once in batched torch), in the same
process; reported: seconds per refit of each, their ratio, the projected time of the 20,000
refits of ``xscale evaluate`` (1,000 surrogates x 4 null families x 5 folds) on one core, and
the largest differences between the two paths (they should agree up to float rounding).

    OMP_NUM_THREADS=1 python benchmarks/bench_spatial_gp.py [--maps 12] [--kernel matern52]

Writes ``benchmarks/results/spatial_gp.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from bench_batched import jobs
from xscale import config
from xscale.fitting import fit_many, fit_model
from xscale.provenance import now, package_versions

REFITS_PER_MODEL = 1000 * 4 * 5  # surrogates x null families x blocked folds


def largest_differences(batched, loop) -> dict[str, float]:
    """Max relative difference of the hyperparameters and max absolute one of the predictions."""
    rel = {k: max(abs(b.info[k] / s.info[k] - 1) for b, s in zip(batched, loop)) for k in ("lengthscale", "variance", "sigma")}
    absolute = {k: max(float(np.max(np.abs(getattr(b, k) - getattr(s, k)))) for b, s in zip(batched, loop))
                for k in ("prediction", "prediction_scale", "interval_95")}
    loss = max(float(np.max(np.abs(np.subtract(b.history["loss"], s.history["loss"])) / np.abs(s.history["loss"])))
               for b, s in zip(batched, loop))
    return {**{f"{k}_rel": v for k, v in rel.items()}, **{f"{k}_abs": v for k, v in absolute.items()}, "loss_rel": loss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="enigma:scz")
    ap.add_argument("--maps", type=int, default=12, help="surrogate maps; x 5 blocked folds = refits")
    ap.add_argument("--kernel", default="matern52", choices=["matern52", "rbf"])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "spatial_gp.json"))
    args = ap.parse_args()
    cfg = config.resolve(config.build(preset="spatial-gp", sets=[f"backend.kernel={args.kernel}"]))
    spec = config.model_spec(cfg)
    datas, masks = jobs(args.target, 5 * args.maps)
    n = len(datas)

    t = time.perf_counter()
    loop = [fit_model(d, spec, m, seed=0) for d, m in zip(datas, masks)]
    loop_s = (time.perf_counter() - t) / n
    t = time.perf_counter()
    batched = fit_many(datas, spec, masks, seeds=0)
    batched_s = (time.perf_counter() - t) / n
    diff = largest_differences(batched, loop)
    result = {
        "when": now(), "target": args.target, "kernel": args.kernel, "steps": spec.backend_params["steps"],
        "device": "cpu", "torch_threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
        "packages": package_versions(), "refits": n, "training_regions": sorted({int(m.sum()) for m in masks}),
        "seconds_per_refit_loop": loop_s, "seconds_per_refit_batched": batched_s, "speedup": loop_s / batched_s,
        "projected_hours_20000_refits_loop": REFITS_PER_MODEL * loop_s / 3600,
        "projected_hours_20000_refits_batched": REFITS_PER_MODEL * batched_s / 3600,
        "largest_differences": diff,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"| measure ({n} refits, {args.kernel}, {torch.get_num_threads()} thread(s)) | value |\n|---|---:|")
    print(f"| seconds per refit, loop | {loop_s:.3f} |")
    print(f"| seconds per refit, batched ({n} at once) | {batched_s:.3f} |")
    print(f"| speed-up | {loop_s / batched_s:.1f}x |")
    print(f"| projected 20,000 refits, loop / batched (one process) | "
          f"{result['projected_hours_20000_refits_loop']:.2f} h / {result['projected_hours_20000_refits_batched']:.2f} h |")
    for k, v in diff.items():
        print(f"| largest difference batched vs loop: {k} | {v:.1e} |")


if __name__ == "__main__":
    main()
