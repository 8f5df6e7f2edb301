"""Why test_dask_executor_gives_identical_results fails on the 16-core GPU machine: local vs dask rows."""
import json, math, os, subprocess, sys, tempfile
args = ["evaluate", "--target", "enigma:bd", "--models", "gnn-vae,ridge", "--cv", "blocked", "--nulls",
        "spin-vasa", "--n-null", "4", "--quick", "--batch-size", "10"]
def run(out, extra, env):
    cmd = [sys.executable, "-c", "from xscale.cli import main; main()", *args, *extra, "--out", out]
    r = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return json.load(open(os.path.join(out, "results.json")))
def diffs(a, b, path=""):
    if isinstance(a, dict):
        for k in a: yield from diffs(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b)): yield from diffs(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float) and not math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12):
        yield path, a, b
d = tempfile.mkdtemp()
dask = run(f"{d}/dask", ["--executor", "dask"], {})
for threads in ("2", "1", "16"):
    loc = run(f"{d}/local{threads}", [], {"OMP_NUM_THREADS": threads})
    found = list(diffs(loc["rows"], dask["rows"]))
    print(f"local with OMP_NUM_THREADS={threads} vs dask: {len(found)} values differ beyond 1e-12")
    for p, a, b in found[:8]:
        print(f"  {p}: {a!r} vs {b!r} (diff {abs(a-b):.2e})")
