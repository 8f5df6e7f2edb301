"""Null-model refits of the paper's GNN-VAE: sequential loop vs batched (stacked weights, written-out gradients).

Measured in one run on one machine (issue 4): seconds per refit for the loop and for the
batched path (their ratio), the batched path's achieved float32 GFLOP/s (FLOPs counted by
``torch.utils.flop_counter`` on the same fits) against this machine's own float32 matmul
GFLOP/s measured in the same run (target: at least half), and the projected time of 1,000
refits (target: under 10 minutes on 2 CPU cores; under 30 s on a GPU).

``--device cuda`` runs the loop, the batch and the reference products on the GPU (the noise is
still drawn on the CPU, as always); GPU timings wait for the device (``torch.cuda.synchronize``).
Measured once on an NVIDIA H200 (2026-11-23, ``benchmarks/measured/2026-11-23/gpu-h200/``): with
``--batch 1000``, 0.0095 s per refit, so 1,000 refits in 9.5 s (target: under 30 s).

The reference matmul is the best of 10 products, measured before and after the fits (the better
of the two: a neighbour's burst at either moment would otherwise flatter the ratio); the batch is
timed ``--repeat`` times and its best run is compared with it (the median run is reported too). On a shared cloud machine the
batch, which streams its Adam state through the memory and cache that neighbours share, varies
by 20% from run to run while the compute-bound reference varies by 3%.

A refit is one fit of the model on one surrogate map (spin test, Vasa) and one spatially
blocked CV fold, with the default settings (2,000 epochs at most, early stopping).

    python benchmarks/bench_batched.py [--target enigma:scz] [--batch 128] [--sequential 10] [--repeat 3]
                                       [--device cpu|cuda]

Writes ``benchmarks/results/batched.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from xscale import config
from xscale.data.brain import load_brain_data
from xscale.evaluate import BATCH_SIZE
from xscale.evaluate.cv import scheme_for
from xscale.evaluate.nulls import null_maps
from xscale.fitting import fit_many, fit_model
from xscale.provenance import now, package_versions


def wait(device: str) -> None:
    """Wait for the device's queued work (GPU kernels run asynchronously; the CPU's do not)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def best_seconds(work, repeat: int, device: str) -> float:
    """Shortest of ``repeat`` timed calls of ``work()`` (after one untimed call), waiting for the device."""
    work()
    wait(device)
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        work()
        wait(device)
        best = min(best, time.perf_counter() - t)
    return best


def matmul_gflops(n: int | None = None, repeat: int = 10, device: str = "cpu") -> float:
    """The device's float32 matmul throughput: best of ``repeat`` n x n products (n: 2048 on the
    CPU, 8192 on a GPU, which a smaller product does not fill)."""
    n = n or (2048 if torch.device(device).type == "cpu" else 8192)
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    return 2 * n**3 / best_seconds(lambda: a @ b, repeat, device) / 1e9


def layer_gflops(batch: int, hidden: int, genes: int, regions: int, repeat: int = 20, device: str = "cpu") -> float:
    """float32 GFLOP/s of the batched first layer's own products at this shape, forward and weight
    gradient, each done for the whole batch at once: (B*H, G) @ (G, R) and (B*H, R) @ (R, G). With
    R = 68 these skinny products stream the stacked weights (26-52 MB) from memory. The batched
    path does them chunk by chunk in cache (:mod:`xscale_gnn.update`), which is why its products,
    and since xscale-gnn 0.2 the whole path, run faster than this."""
    w = torch.randn(batch * hidden, genes, device=device)
    x, g = torch.randn(regions, genes, device=device), torch.randn(batch * hidden, regions, device=device)

    def products():
        w @ x.T
        g @ x

    return 2 * 2 * batch * hidden * genes * regions / best_seconds(products, repeat, device) / 1e9


def flops_per_model_epoch(datas, masks) -> float:
    """FLOPs of one model's training epoch in the batch (counted, two fits run 1 and 3 epochs
    without early stopping): executed FLOPs minus this x the fits' own epochs are those spent on
    rows that had stopped but not yet left the batch (they leave once they are an eighth of its rows)."""
    cfg = config.resolve(config.build(preset="gnn-vae"))
    counts = []
    for epochs in (1, 3):
        cfg["backend"].update(max_epochs=epochs, val_fraction=0.0)
        with FlopCounterMode(display=False) as counter:
            fit_many(datas[:2], config.model_spec(cfg), masks[:2], seeds=0)
        counts.append(counter.get_total_flops())
    return (counts[1] - counts[0]) / (2 * 2)


def jobs(target: str, n: int, seed: int = 0):
    """``n`` refit jobs: spin-test surrogates of ``target`` x the 5 blocked folds, in that order."""
    data, _ = load_brain_data(target)
    sch = scheme_for(data, "blocked", 5, seed)
    dist = np.linalg.norm(data.centroids.numpy()[:, None] - data.centroids.numpy()[None], axis=-1)
    maps = null_maps(data.target.numpy(), data.regions, dist, "spin-vasa", -(-n // len(sch.splits)), seed)
    per_map = [replace(data, target=torch.as_tensor(m, dtype=torch.float32)) for m in maps]
    pairs = [(d, split.train) for d in per_map for split in sch.splits][:n]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def loop_vs_batch_setup(doc: str, preset: str, batch: int, sequential: int, out: str, repeat: int | None = None,
                        device: bool = False):
    """Command line of a loop-vs-batch benchmark, the preset's model spec and its refit jobs.

    Returns ``(args, spec, datas, masks)``: parsed ``--target --batch --sequential --out`` (and
    ``--repeat`` when ``repeat`` is given, ``--device`` when ``device`` is, which sets the
    backend's ``device``), and ``max(batch, sequential)`` jobs from :func:`jobs`.
    """
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--target", default="enigma:scz")
    ap.add_argument("--batch", type=int, default=batch, help="refits trained at once")
    ap.add_argument("--sequential", type=int, default=sequential, help="refits timed with the loop")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / out))
    if repeat is not None:
        ap.add_argument("--repeat", type=int, default=repeat, help="timed runs of the batch (best and median reported)")
    if device:
        ap.add_argument("--device", default="cpu", help="where the fits train: cpu or cuda[:N]")
    args = ap.parse_args()
    if device and torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: this PyTorch ({torch.__version__}) sees no CUDA device")
    sets = [f"backend.device={args.device}"] if device else []
    spec = config.model_spec(config.resolve(config.build(preset=preset, sets=sets)))
    datas, masks = jobs(args.target, max(args.batch, args.sequential))
    return args, spec, datas, masks


def main() -> None:
    args, spec, datas, masks = loop_vs_batch_setup(__doc__, "gnn-vae", BATCH_SIZE, 10, "batched.json", repeat=3,
                                                   device=True)
    dev = args.device
    gpu = torch.device(dev).type == "cuda"
    target_minutes = 0.5 if gpu else 10.0
    peaks = [matmul_gflops(device=dev)]  # measured again after the fits: the better of the two
    enc = config.resolve(config.build(preset="gnn-vae"))["encoder"]
    layer = layer_gflops(args.batch, enc.get("hidden", 128), datas[0].n_genes, datas[0].n_regions, device=dev)

    t = time.perf_counter()
    seq = [fit_model(d, spec, m, seed=0) for d, m in zip(datas[:args.sequential], masks[:args.sequential])]
    seq_s = (time.perf_counter() - t) / args.sequential

    runs = []  # the same batch timed args.repeat times: its best, like the reference's best of 10
    for _ in range(args.repeat):
        t = time.perf_counter()
        bat = fit_many(datas[:args.batch], spec, masks[:args.batch], seeds=0)
        runs.append(time.perf_counter() - t)
    bat_total, bat_median = min(runs), float(np.median(runs))
    with FlopCounterMode(display=False) as counter:  # same fits again, counting what was executed
        fit_many(datas[:args.batch], spec, masks[:args.batch], seeds=0)
    flops = counter.get_total_flops()
    useful = flops_per_model_epoch(datas, masks) * sum(r.info["epochs"] for r in bat)
    peaks.append(matmul_gflops(device=dev))
    peak = max(peaks)
    bat_s = bat_total / args.batch
    achieved = flops / bat_total / 1e9
    agree = [abs(a.info["epochs"] - b.info["epochs"]) for a, b in zip(seq, bat)]
    result = {
        "when": now(), "target": args.target, "device": dev, "torch_threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(), "gpu": torch.cuda.get_device_name(dev) if gpu else None, "packages": package_versions(),
        "refits_sequential": args.sequential, "refits_batched": args.batch,
        "mean_epochs": float(np.mean([r.info["epochs"] for r in bat])),
        "seconds_per_refit_sequential": seq_s, "seconds_per_refit_batched": bat_s,
        "batched_runs_seconds": runs, "speedup": seq_s / bat_s, "batched_gflops": achieved, "matmul_gflops": peak, "matmul_gflops_before_after": peaks,
        "fraction_of_matmul": achieved / peak, "target_fraction_of_matmul": 0.5,
        "fraction_of_matmul_median_run": flops / bat_median / 1e9 / peak,
        "useful_gflops": useful / bat_total / 1e9, "flops_on_stopped_rows_fraction": 1 - useful / flops,
        "first_layer_products_gflops": layer, "fraction_of_first_layer_products": achieved / layer,
        "projected_1000_refits_minutes": 1000 * bat_s / 60, "target_minutes": target_minutes,
        "epochs_differ_from_loop": int(sum(a > 0 for a in agree)),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("| measure | value | target |\n|---|---|---|")
    print(f"| seconds per refit, loop | {seq_s:.2f} | |")
    print(f"| seconds per refit, batched ({args.batch} at once) | {bat_s:.3f} | |")
    print(f"| speed-up | {seq_s / bat_s:.1f}x | |")
    print(f"| batched GFLOP/s (float32), best of {args.repeat} runs | {achieved:.1f} | >= {0.5 * peak:.1f} |")
    print(f"| the same, median run | {flops / bat_median / 1e9:.1f} | |")
    print(f"| of the best run's, on fits still training (not on stopped rows awaiting removal) | "
          f"{useful / bat_total / 1e9:.1f} ({useful / flops:.0%}) | |")
    print(f"| this machine's matmul GFLOP/s (best of before / after: {peaks[0]:.0f} / {peaks[1]:.0f}) | {peak:.1f} | |")
    print(f"| the first layer's own products at this shape, GFLOP/s | {layer:.1f} | |")
    print(f"| projected 1,000 refits ({dev}) | {1000 * bat_s / 60:.2f} min | < {target_minutes:g} min |")


if __name__ == "__main__":
    main()
