"""Whether other busy processes share the CPU cores that torch's OpenMP threads run on.

torch's CPU operations run on OpenMP threads (libgomp), which by default spin-wait for each other
at the end of each parallel operation. On cores that no other process needs this is the fastest
setting; when another busy process holds one of them, every one of the thousands of small
operations of a batched fit (68 x 68 kernels, Cholesky factors) waits for a descheduled thread.
Measured on the 2-core machine (``benchmarks/bench_omp_wait.py``; ``benchmarks/README.md``): beside
an ``xscale evaluate`` whose two one-thread dask workers kept both cores busy, a batch of null
refits took 12 to 34 times longer with torch's 2 threads than with one (GCN-VAE, spatial GP,
gp-svi), and 11 to 30 times longer than with ``OMP_WAIT_POLICY=PASSIVE`` (threads sleep instead of
spinning); on the idle machine the default was the fastest (one thread 1.3-1.7 times slower,
PASSIVE 1.3-1.8). Neither is made a default, and the thread count is never changed behind the
user's back (it moves float rounding); the commands warn instead.
"""

from __future__ import annotations

import os
from typing import Mapping

import psutil

#: Busy cores beyond those torch's threads leave free at which the warning is given.
MARGIN = 0.5
#: Seconds over which the other processes' CPU use is sampled.
INTERVAL = 0.5


def busy_cores(interval: float = INTERVAL) -> float | None:
    """Cores kept busy by other work, averaged over ``interval`` seconds (call it while idle).

    Parameters
    ----------
    interval : float
        Seconds; the call sleeps that long.

    Returns
    -------
    float or None
        The sum of the busy fractions (user, system, steal; not I/O wait) of the cores this process
        may run on, from the kernel's per-CPU counters (``psutil.cpu_percent``); None where they
        cannot be read.
    """
    try:
        allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        percent = psutil.cpu_percent(interval=interval, percpu=True)
    except (OSError, RuntimeError, NotImplementedError):
        return None
    cpus = [percent[i] for i in allowed if i < len(percent)] if allowed else percent
    return sum(cpus) / 100


def contention_warning(threads: int, busy: float | None = None, cores: int | None = None,
                       environ: Mapping[str, str] | None = None) -> str | None:
    """A warning when torch's threads would compete with other busy processes, else None.

    Parameters
    ----------
    threads : int
        torch's intra-op threads (``torch.get_num_threads()``).
    busy : float, optional
        Cores busy with other work (default :func:`busy_cores`, measured now; no warning when
        it cannot be measured).
    cores : int, optional
        CPU cores this process may run on (default its affinity mask).
    environ : mapping of str to str, optional
        Environment (default ``os.environ``): no warning under ``OMP_WAIT_POLICY=PASSIVE``.

    Returns
    -------
    str or None
        The warning: what was measured, the measured cost and what to set.
    """
    environ = os.environ if environ is None else environ
    if threads < 2 or environ.get("OMP_WAIT_POLICY", "").strip().upper() == "PASSIVE":
        return None
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    advice = ("Re-run with OMP_WAIT_POLICY=PASSIVE (threads sleep while they wait; the thread count stays) or "
              "OMP_NUM_THREADS=1 (fewer threads move float rounding: the last digits of some fits change).")
    if threads > cores:
        return f"torch runs {threads} threads on {cores} core{'s' if cores != 1 else ''}: they spin-wait for each " \
               f"other at the end of each parallel operation. {advice}"
    busy = busy_cores() if busy is None else busy
    if busy is None or busy <= cores - threads + MARGIN:
        return None
    return (f"other processes keep {busy:.1f} of the {cores} cores busy, and torch's {threads} threads spin-wait for "
            "each other at the end of each parallel operation (measured on 2 cores beside a running evaluation: "
            f"batched refits 11-34 times slower). {advice}")
