"""torch's OpenMP threads on a busy machine: spin-waiting (the default) vs sleeping vs one thread.

One batch of null refits per model (spin-test surrogates of the schizophrenia map x blocked folds,
as ``xscale evaluate`` makes them; fewer steps than the defaults), each timed in a fresh process
under three settings, because libgomp reads its settings once, at start:
``default`` (torch's threads, OMP_WAIT_POLICY unset: threads spin at the end of each parallel
operation), ``passive`` (OMP_WAIT_POLICY=PASSIVE: they sleep) and ``one-thread`` (OMP_NUM_THREADS=1).
Run it once on an idle machine and once next to another busy process (e.g. a running
``xscale evaluate``): the ratios say what ``xscale.machine`` warns about.

    python benchmarks/bench_omp_wait.py [--label idle] [--out benchmarks/results/omp_wait-idle.json]

Writes the JSON (times, ratios to ``default``, the load average before and after, threads,
package versions) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

#: (preset, its length setting, value, refits in the batch)
MODELS = [("gnn-vae", "backend.max_epochs", 100, 125), ("spatial-gp", "backend.steps", 100, 125),
          ("gp-svi", "backend.steps", 40, 60)]
SETTINGS = {"default": {}, "passive": {"OMP_WAIT_POLICY": "PASSIVE"}, "one-thread": {"OMP_NUM_THREADS": "1"}}


def one(preset: str, key: str, value: int, batch: int) -> None:
    """Time one batch (after a small warm-up batch) and print ``{"seconds", "threads"}`` as JSON."""
    import torch

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_batched import jobs
    from xscale import config
    from xscale.fitting import fit_many

    spec = config.model_spec(config.resolve(config.build(preset=preset, sets=[f"{key}={value}"])))
    datas, masks = jobs("enigma:scz", batch)
    fit_many(datas[:4], spec, masks[:4], seeds=0)
    t = time.perf_counter()
    fit_many(datas, spec, masks, seeds=0)
    print(json.dumps({"seconds": time.perf_counter() - t, "threads": torch.get_num_threads()}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", default="idle", help="what else ran on the machine (recorded)")
    ap.add_argument("--out", default=None, help="JSON path (default benchmarks/results/omp_wait-<label>.json)")
    ap.add_argument("--one", nargs=4, metavar=("PRESET", "KEY", "VALUE", "BATCH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        p, k, v, b = args.one
        return one(p, k, int(v), int(b))
    from xscale.provenance import now, package_versions
    from xscale.rundir import write_json

    rows, load_before = [], os.getloadavg()
    for preset, key, value, batch in MODELS:
        times = {}
        for name, env in SETTINGS.items():
            clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
            res = subprocess.run([sys.executable, __file__, "--one", preset, key, str(value), str(batch)],
                                 env={**clean, **env}, capture_output=True, text=True, check=True)
            times[name] = json.loads(res.stdout.strip().splitlines()[-1])
        rows.append({"model": preset, "refits": batch, key: value, **{n: t["seconds"] for n, t in times.items()},
                     "threads": {n: t["threads"] for n, t in times.items()},
                     "ratio_to_default": {n: times[n]["seconds"] / times["default"]["seconds"] for n in times}})
    result = {"when": now(), "label": args.label, "load_average_before": load_before,
              "load_average_after": os.getloadavg(), "cores": len(os.sched_getaffinity(0)),
              "cpu": platform.processor() or platform.machine(), "packages": package_versions(), "rows": rows}
    out = Path(args.out or Path(__file__).parent / "results" / f"omp_wait-{args.label}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, result)
    print(f"{args.label}: load average {load_before[0]:.1f} before, {result['load_average_after'][0]:.1f} after, "
          f"{result['cores']} cores\n")
    print("| model | refits | default, s | passive, s | one thread, s | passive / default | one thread / default |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        q = r["ratio_to_default"]
        print(f"| {r['model']} | {r['refits']} | {r['default']:.2f} | {r['passive']:.2f} | {r['one-thread']:.2f} | "
              f"{q['passive']:.2f} | {q['one-thread']:.2f} |")


if __name__ == "__main__":
    main()
