"""Null-model refits of the Pyro GP latent model (gp-svi): Pyro's SVI loop vs the batched ELBO.

One refit = one fit on one surrogate map (spin test, Vasa) and one spatially blocked CV fold, as
``xscale evaluate`` makes them, with the default settings (K = 4, 1,500 steps, low-rank guide).
Measured in one run: seconds per refit of Pyro's loop and of ``xscale_pyro.svi_batched`` (their
ratio), the projected time of 1,000 refits, and how far the batched predictions are from the
loop's next to how far the loop's own predictions move when the target map is nudged by one
float32 ulp (SVI over 1,500 steps amplifies rounding: see plugins/xscale-pyro/tests/test_svi_batched.py).

    python benchmarks/bench_svi_batched.py [--target enigma:scz] [--batch 60] [--sequential 3]

Writes ``benchmarks/results/svi_batched.json`` and prints a Markdown table.
"""

from __future__ import annotations

import platform
import time
from dataclasses import replace

import numpy as np
import torch

from bench_batched import loop_vs_batch_setup
from xscale.fitting import fit_many, fit_model
from xscale.provenance import now, package_versions
from xscale.rundir import write_json


def nudged(data):
    """``data`` with every target value moved up by one float32 ulp."""
    y = data.target.numpy()
    return replace(data, target=torch.as_tensor(np.nextafter(y, np.float32(np.inf))))


def main() -> None:
    # 60 = xscale evaluate's default chunk (12 surrogates x 5 folds)
    args, spec, datas, masks = loop_vs_batch_setup(__doc__, "gp-svi", 60, 3, "svi_batched.json")
    n = args.sequential

    t = time.perf_counter()
    loop = [fit_model(d, spec, m, seed=0) for d, m in zip(datas[:n], masks[:n])]
    loop_s = (time.perf_counter() - t) / n
    t = time.perf_counter()
    batch = fit_many(datas[:args.batch], spec, masks[:args.batch], seeds=0)
    batch_s = (time.perf_counter() - t) / args.batch
    nudge = [fit_model(nudged(d), spec, m, seed=0) for d, m in zip(datas[:n], masks[:n])]

    def gap(other):  # largest prediction difference, and relative to the loop's posterior SD
        d = [np.abs(a.prediction - b.prediction) for a, b in zip(loop, other)]
        return max(float(x.max()) for x in d), max(float((x / a.prediction_scale).max()) for x, a in zip(d, loop))

    (b_abs, b_rel), (u_abs, u_rel) = gap(batch), gap(nudge)
    result = {
        "when": now(), "target": args.target, "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(), "packages": package_versions(),
        "refits_sequential": n, "refits_batched": args.batch,
        "seconds_per_refit_sequential": loop_s, "seconds_per_refit_batched": batch_s, "speedup": loop_s / batch_s,
        "projected_1000_refits_minutes": 1000 * batch_s / 60,
        "batched_vs_loop_max_abs": b_abs, "batched_vs_loop_max_per_posterior_sd": b_rel,
        "loop_vs_loop_one_ulp_max_abs": u_abs, "loop_vs_loop_one_ulp_max_per_posterior_sd": u_rel,
    }
    write_json(args.out, result)
    print("| measure | value |\n|---|---|")
    print(f"| seconds per refit, Pyro loop | {loop_s:.2f} |")
    print(f"| seconds per refit, batched ({args.batch} at once) | {batch_s:.3f} |")
    print(f"| speed-up | {loop_s / batch_s:.1f}x |")
    print(f"| projected 1,000 refits | {1000 * batch_s / 60:.1f} min |")
    print(f"| batched vs loop, largest prediction difference | {b_abs:.1e} ({b_rel:.1%} of the posterior SD) |")
    print(f"| loop vs loop on the map nudged by 1 float32 ulp | {u_abs:.1e} ({u_rel:.1%} of the posterior SD) |")


if __name__ == "__main__":
    main()
