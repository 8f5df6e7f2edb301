"""Fit time of each backend on one real map, as a ratio to the paper's GCN-VAE fit in the same run.

Targets (issue 3): the SVI fit of the default ``gp-svi`` configuration (68 regions x 787 landmark
genes) under 60 s on 2 CPU cores; NUTS with K <= 4 under 5 minutes. Absolute seconds depend on the
machine; the ratio to the reference fit measured in the same process is what compares across
machines. Writes ``benchmarks/results/backends.json`` and prints a Markdown table.

    python benchmarks/bench_backends.py [--target enigma:scz] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from xscale import config
from xscale.data.brain import load_brain_data
from xscale.fitting import fit_model
from xscale.provenance import now, package_versions

CASES = {
    "gnn-vae / adam (reference)": ("gnn-vae", [], None),
    "gp-svi / svi (default, K=4)": ("gp-svi", [], 60.0),
    "gp / nuts (K=2, 1 chain, 300+300)": ("gp-svi", ["model.backend=nuts", "encoder.latent_dim=2"], 300.0),
    "gp / nuts (K=4, 1 chain, 300+300)": ("gp-svi", ["model.backend=nuts", "encoder.latent_dim=4"], 300.0),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="enigma:scz")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "backends.json"))
    args = ap.parse_args()
    data, _ = load_brain_data(args.target)
    rows = []
    for label, (preset, sets, target_s) in CASES.items():
        cfg = config.resolve(config.build(preset=preset, sets=sets))
        spec = config.model_spec(cfg)
        times = []
        for r in range(args.repeat):
            t0 = time.perf_counter()
            fit_model(data, spec, data.target_mask, seed=r)
            times.append(time.perf_counter() - t0)
        rows.append({"case": label, "seconds": min(times), "target_seconds": target_s})
    ref = rows[0]["seconds"]
    for r in rows:
        r["ratio_to_reference"] = r["seconds"] / ref
        r["meets_target"] = None if r["target_seconds"] is None else r["seconds"] < r["target_seconds"]
    result = {"when": now(), "target": args.target, "n_genes": data.n_genes, "n_regions": data.n_regions,
              "torch_threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
              "packages": package_versions(), "rows": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("| case | seconds | x reference | target (s) | met |\n|---|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['case']} | {r['seconds']:.1f} | {r['ratio_to_reference']:.1f} | "
              f"{r['target_seconds'] or '-'} | {'-' if r['meets_target'] is None else r['meets_target']} |")


if __name__ == "__main__":
    main()
