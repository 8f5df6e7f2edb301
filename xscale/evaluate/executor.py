"""Where the null refits run: in this process, or spread over a dask.distributed cluster.

Each task is one chunk of surrogate maps (:func:`xscale.evaluate.refits.refit_scores`); a
chunk's result depends only on its inputs and seed, never on where or in which order it ran,
so both executors give the same numbers for the same chunking, up to the last bit of BLAS
products (a LocalCluster's workers run BLAS single-threaded).

dask's nannies start workers with ``MALLOC_TRIM_THRESHOLD_=65536`` by default (to return freed
memory to the system). That also switches off glibc's adaptive mmap threshold, so every tensor
over 128 kB is mapped and page-faulted afresh: the batched refits, which allocate megabyte
tensors at every step, then ran 4 times slower (measured: gp-svi 70 vs 17 ms per SVI step of 60
fits). The LocalCluster is started without it; a remote cluster's workers are checked and a
warning says how to start them.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Callable, Iterator, Sequence

from xscale.errors import ConfigError

log = logging.getLogger(__name__)

EXECUTORS = ("local", "dask")

#: A task: its own keyword arguments (a chunk of surrogate maps), and those it shares with other
#: tasks (data, model spec, CV scheme: sent to a cluster's workers once per object).
Task = tuple[dict[str, Any], dict[str, Any]]

#: Seconds to wait for a scheduler at ``--scheduler ADDRESS`` before giving up.
CONNECT_TIMEOUT = 20

#: Set by dask's nanny before spawning a worker (``distributed.nanny.pre-spawn-environ``); see above.
MALLOC_TRIM = "MALLOC_TRIM_THRESHOLD_"


class LocalExecutor:
    """Run tasks one after the other in this process (the default)."""

    name = "local"

    def describe(self) -> dict:
        return {"executor": "local"}

    def slots(self) -> int:
        """Tasks run at once: one."""
        return 1

    def run(self, fn: Callable[..., Any], tasks: Sequence[Task]) -> Iterator[tuple[int, Any]]:
        """Yield ``(task index, fn(**own, **shared))`` for each ``(own, shared)`` task, in order."""
        for i, (own, shared) in enumerate(tasks):
            yield i, fn(**own, **shared)

    def close(self) -> None:
        """Nothing to release."""


class DaskExecutor:
    """Run tasks on a dask.distributed cluster: a new LocalCluster, or the scheduler at ``address``.

    Parameters
    ----------
    address : str, optional
        Scheduler address (``tcp://host:8786``) of a running cluster whose workers have xscale
        and the model plugins installed. Default: start a LocalCluster on this machine.
    n_workers : int, optional
        LocalCluster worker processes (default: dask's choice for this machine); each worker
        runs one task at a time with one thread, so workers do not oversubscribe the cores.

    Raises
    ------
    ConfigError
        If dask.distributed is not installed, or the scheduler cannot be reached.
    """

    name = "dask"

    def __init__(self, address: str | None = None, n_workers: int | None = None):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - dask is a core dependency
            raise ConfigError("--executor dask needs dask.distributed: pip install 'dask[distributed]'") from exc
        self.address = address
        # distributed sets its loggers to INFO when imported: a LocalCluster's start and shutdown
        # would print some 30 lines. They follow the root logger's level instead (the CLI: WARNING,
        # INFO with `xscale -v`), unless a more verbose level was chosen for them.
        quiet = max(logging.getLogger().getEffectiveLevel(), logging.INFO)
        for name in ["distributed", *logging.root.manager.loggerDict]:
            if name.startswith("distributed") and logging.getLogger(name).level == logging.INFO:
                logging.getLogger(name).setLevel(quiet)
        try:
            if address:
                log.info("connecting to the dask scheduler at %s (giving up after %d s)", address, CONNECT_TIMEOUT)
                self.client = Client(address, timeout=f"{CONNECT_TIMEOUT}s")
            else:
                import dask

                with dask.config.set({f"distributed.nanny.pre-spawn-environ.{MALLOC_TRIM}": None}):
                    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
                self.client = Client(cluster)
        except OSError as exc:
            raise ConfigError(f"cannot reach the dask scheduler at {address!r} ({exc}); is a scheduler running "
                              "there (`dask scheduler` prints its address, tcp://host:8786 by default), and can "
                              "this machine reach that host and port? Without --scheduler, --executor dask "
                              "starts a LocalCluster on this machine") from exc
        log.info("dask cluster: %s", self.client)
        trimmed = sorted(w for w, v in self.client.run(os.environ.get, MALLOC_TRIM).items() if v is not None)
        if trimmed:
            log.warning("%d dask worker(s) run with %s set (dask's default), which makes batched refits about "
                        "4x slower; start them with the dask config distributed.nanny.pre-spawn-environ.%s: null",
                        len(trimmed), MALLOC_TRIM, MALLOC_TRIM)
        # id(object) -> (object, future): each shared object is sent once and its future kept for
        # later runs. Scattering the same content again would reuse its content-hashed key while
        # the previous run's future on that key is being released, and the workers would lose the
        # data under the new tasks ("lost dependencies"; dask scatter with hash=True).
        self._scattered: dict[int, tuple[Any, Any]] = {}

    def describe(self) -> dict:
        workers = self.client.scheduler_info().get("workers", {})
        return {"executor": "dask", "scheduler": self.address or "LocalCluster", "workers": len(workers)}

    def slots(self) -> int:
        """Tasks run at once: the workers' threads (one per worker in a LocalCluster), at least one."""
        workers = self.client.scheduler_info().get("workers", {})
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))

    def run(self, fn: Callable[..., Any], tasks: Sequence[Task]) -> Iterator[tuple[int, Any]]:
        """Submit every ``(own, shared)`` task, in order; yield ``(task index, result)`` as they complete.

        Each object among the tasks' ``shared`` values (data, model spec, scheme) is sent to every
        worker once, and reused by every task and later run that passes the same object.
        """
        from dask.distributed import as_completed

        futures = {self.client.submit(fn, **own, **{k: self._scatter(v) for k, v in shared.items()}, pure=False): i
                   for i, (own, shared) in enumerate(tasks)}
        for future in as_completed(futures):
            yield futures[future], future.result()

    def _scatter(self, value: Any) -> Any:
        if id(value) not in self._scattered:
            self._scattered[id(value)] = (value, self.client.scatter(value, broadcast=True, hash=False))
        return self._scattered[id(value)][1]

    def close(self) -> None:
        """Close the client, and the LocalCluster it started."""
        self._scattered.clear()
        cluster = None if self.address else self.client.cluster
        self.client.close()
        if cluster is not None:
            cluster.close()


def make_executor(name: str, scheduler: str | None = None, n_workers: int | None = None):
    """The executor called ``name`` (:data:`EXECUTORS`).

    Raises
    ------
    ConfigError
        On an unknown name, or ``scheduler`` given without ``dask``.
    """
    if name not in EXECUTORS:
        raise ConfigError(f"unknown executor {name!r}; expected one of {list(EXECUTORS)}")
    if name == "local":
        if scheduler:
            raise ConfigError("--scheduler needs --executor dask")
        return LocalExecutor()
    return DaskExecutor(scheduler, n_workers)
