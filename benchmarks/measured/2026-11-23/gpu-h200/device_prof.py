"""Where a batch of 1,000 GNN-VAE refits spends its time on the GPU (torch.profiler)."""
import sys, time, torch
sys.path.insert(0, "benchmarks")
from bench_batched import jobs
from xscale import config
from xscale.fitting import fit_many
from torch.profiler import profile, ProfilerActivity
spec = config.model_spec(config.resolve(config.build(preset="gnn-vae", sets=["backend.device=cuda"])))
datas, masks = jobs("enigma:scz", 1000)
fit_many(datas[:64], spec, masks[:64], seeds=0); torch.cuda.synchronize()
t = time.perf_counter(); res = fit_many(datas, spec, masks, seeds=0); torch.cuda.synchronize()
wall = time.perf_counter() - t
print("wall", round(wall, 2), "max epochs", max(r.info["epochs"] for r in res), "mean", sum(r.info["epochs"] for r in res) / len(res))
with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as p:
    fit_many(datas, spec, masks, seeds=0); torch.cuda.synchronize()
ka = p.key_averages()
print(ka.table(sort_by="self_cpu_time_total", row_limit=25, max_name_column_width=45))
print(ka.table(sort_by="self_device_time_total", row_limit=15, max_name_column_width=45))
gpu_busy = sum(e.self_device_time_total for e in ka) / 1e6
print("gpu kernel seconds", round(gpu_busy, 2))
