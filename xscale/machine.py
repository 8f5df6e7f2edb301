"""Whether other busy processes share the CPU cores that torch's OpenMP threads run on.

torch's CPU operations run on OpenMP threads (libgomp), which by default spin-wait for each other
at the end of every parallel operation. On cores that no other process needs this is the fastest
setting; when another busy process holds one of them, every one of the thousands of small
operations of a batched fit (68 x 68 kernels, Cholesky factors) waits for a descheduled thread.
Measured on the 2-core machine (``benchmarks/bench_omp_wait.py``; ``benchmarks/README.md``): beside
a running ``xscale evaluate`` a batch of null refits took 11 to 34 times longer with torch's 2
threads than with one (GCN-VAE, spatial GP, gp-svi), and ``OMP_WAIT_POLICY=PASSIVE`` (threads sleep
instead of spinning) nearly as little as one thread; on the idle machine the default was the
fastest (one thread 1.3-1.7 times slower, PASSIVE 1.3-1.8). Neither is therefore made a default,
and the thread count is not changed behind the user's back (it moves float rounding, so null refits
are reproducible for a given thread count); the commands warn instead.
"""

from __future__ import annotations

import os

#: Load above the cores left free by torch's threads at which the warning is given.
MARGIN = 0.5


def contention_warning(threads: int, load: float | None = None, cores: int | None = None,
                       environ: dict | None = None) -> str | None:
    """A warning when torch's threads would compete with other busy processes, else None.

    Parameters
    ----------
    threads : int
        torch's intra-op threads (``torch.get_num_threads()``).
    load : float, optional
        One-minute load average (default ``os.getloadavg()``; None where the system has none).
    cores : int, optional
        CPU cores this process may run on (default its affinity mask).
    environ : mapping, optional
        Environment (default ``os.environ``): no warning when ``OMP_WAIT_POLICY`` is set.

    Returns
    -------
    str or None
        The warning: the load, the cores, the measured cost and what to set.
    """
    environ = os.environ if environ is None else environ
    if threads < 2 or "OMP_WAIT_POLICY" in environ:
        return None
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # no load average on this system
            return None
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if load <= max(cores - threads, 0) + MARGIN:
        return None
    return (f"the load average is {load:.1f} on {cores} core{'s' if cores != 1 else ''}: other busy processes "
            f"share them, and torch's {threads} OpenMP threads spin-wait for each other at every operation "
            "(measured: batched refits 11 to 34 times slower beside a running evaluation). Set "
            "OMP_NUM_THREADS=1 or OMP_WAIT_POLICY=PASSIVE for this command.")
