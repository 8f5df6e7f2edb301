"""Compare two ``xscale reproduce`` output directories: the host's and the container's.

Usage: ``python compare.py HOST_DIR CONTAINER_DIR [--tol 1e-12]``. Exit status 0 when

- both have the same runs, and each run's fitted outputs (``predictions.csv``, ``latent.csv``,
  ``history.json``) are byte-identical: the same wheels and seed must give the same fits;
- ``results.md`` (the reported table, 3 decimals) is identical;
- every number in ``results.json`` rows agrees within ``--tol`` (relative, with the same
  absolute floor), and both read the same input data (sha256).

The tolerance is not zero because Pearson's r is recomputed from identical predictions and can
differ in its last bit between Python builds (measured: at most 1.1e-16, r only); 1e-12 is four
orders of magnitude above that and far below any change a different library, seed, thread
count or data file makes. ``--tol 0`` demands bit-identical numbers.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

NUMBERS = ("n_regions", "in_sample_r2", "in_sample_r", "cv_r2", "cv_r", "cv_coverage_95")
FITTED = ("predictions.csv", "latent.csv", "history.json")


def load(out: Path) -> dict:
    """Rows and provenance of ``out/results.json``; exits naming the file if it is unreadable."""
    path = out / "results.json"
    try:
        result = json.loads(path.read_text())
        rows = {(r["target"], r["model"]): r for r in result["rows"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        sys.exit(f"{path}: not a readable xscale reproduce results.json ({type(exc).__name__}: {exc})")
    return {"rows": rows, "provenance": result.get("provenance", {})}


def close(x: float | None, y: float | None, tol: float) -> bool:
    """Equal, both NaN, or within ``tol`` (relative, with ``tol`` as absolute floor)."""
    if x is None or y is None:
        return x is y
    return x == y or (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=tol, abs_tol=tol)


def number_differences(host: dict, container: dict, tol: float) -> list[str]:
    """One line per results.json disagreement (rows, numbers, input data hashes)."""
    out = [f"{t} / {m}: row only in {'host' if (t, m) in host['rows'] else 'container'}"
           for t, m in sorted(host["rows"].keys() ^ container["rows"].keys())]
    for key in sorted(host["rows"].keys() & container["rows"].keys()):
        a, b = host["rows"][key], container["rows"][key]
        out += [f"{key[0]} / {key[1]}: {f} host {a.get(f)!r} container {b.get(f)!r}"
                for f in NUMBERS if not close(a.get(f), b.get(f), tol)]
    if host["provenance"].get("data_sha256") != container["provenance"].get("data_sha256"):
        out.append("input data sha256 differ between host and container")
    return out


def file_differences(host_dir: Path, container_dir: Path) -> list[str]:
    """One line per fitted-output file that is missing on one side or not byte-identical."""
    names = {p.relative_to(d).as_posix() for d in (host_dir, container_dir)
             for f in FITTED for p in d.glob(f"runs/*/*/{f}")} | {"results.md"}
    out = []
    for name in sorted(names):
        a, b = host_dir / name, container_dir / name
        if not (a.is_file() and b.is_file()):
            out.append(f"{name}: only in {'host' if a.is_file() else 'container'}")
        elif a.read_bytes() != b.read_bytes():
            out.append(f"{name}: contents differ")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host", type=Path, help="host reproduce output directory")
    parser.add_argument("container", type=Path, help="container reproduce output directory")
    parser.add_argument("--tol", type=float, default=1e-12, help="tolerance for results.json numbers (default 1e-12)")
    args = parser.parse_args(argv)
    host, container = load(args.host), load(args.container)
    for name in ("python", "packages", "torch_threads"):
        h, c = host["provenance"].get(name), container["provenance"].get(name)
        print(f"{name}: {'same' if h == c else f'host {h} / container {c}'}")
    files = file_differences(args.host, args.container)
    numbers = number_differences(host, container, args.tol)
    for line in files + numbers:
        print("DIFFERENT:", line)
    pairs = [(a.get(f), container["rows"][k].get(f)) for k, a in host["rows"].items() if k in container["rows"]
             for f in NUMBERS if isinstance(a.get(f), float) and isinstance(container["rows"][k].get(f), float)]
    worst = max((abs(x - y) for x, y in pairs), default=0.0)
    n_files = len(list(args.host.glob("runs/*/*/predictions.csv"))) * len(FITTED) + 1
    print(f"{n_files} fitted-output files: {'identical' if not files else f'{len(files)} differ'}; "
          f"{len(host['rows'])} rows x {len(NUMBERS)} numbers: largest difference {worst:.3g}, "
          f"{len(numbers)} beyond tol {args.tol:g}")
    return 1 if files or numbers or not host["rows"] else 0


if __name__ == "__main__":
    sys.exit(main())
