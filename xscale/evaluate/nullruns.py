"""The null refits of an evaluation: one stream of batches per (model, CV scheme, null family).

Every stream's draws (surrogate maps or random gene sets) are cut into chunks, one batched refit
each (:func:`xscale.evaluate.refits.refit_scores`). The chunks of all streams run interleaved,
each stream advancing by the same share of its chunks, rather than stream after stream. The
models of an evaluation differ in cost by a factor of 10 or more (a batch of GNN-VAE refits
against one of ridge): run one model after the other, the time left, measured from the recent
rate, was wrong by that factor until the last model started (3 times too long in a walkthrough).
Interleaved, every minute of the run has the mix of the whole. A chunk of every stream runs first,
so that the time left (:class:`xscale.progress.PlannedWork`) knows every stream's cost after one
round. A chunk's result depends only on its inputs and seed, so the order changes no number.

Finished chunks are saved as they complete, one cache file per stream, so an interrupted
evaluation redoes only unfinished chunks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any, Callable, Sequence

import numpy as np

from xscale.evaluate.refits import refit_scores
from xscale.progress import PlannedWork
from xscale.rundir import write_json


@dataclass
class NullStream:
    """The null refits of one model under one CV scheme for one null family.

    Attributes
    ----------
    cache : Path
        JSON file of the finished chunks (``"a:b"`` -> their (b - a, 2) scores), read back on resume.
    shared : dict
        :func:`refit_scores` arguments common to the stream's chunks (data, spec, sch, seed, ...).
    draws : tuple of (str, ndarray)
        ``('maps', (N, R) surrogate maps)`` or ``('gene_sets', (N, G) gene indices)``.
    per_chunk : int
        Draws per chunk (one batched refit of ``per_chunk`` x ``n_splits`` fits).
    n_splits : int
        CV splits per draw: fits per draw, for progress.
    """

    cache: Path
    shared: dict[str, Any]
    draws: tuple[str, np.ndarray]
    per_chunk: int
    n_splits: int

    def bounds(self) -> list[tuple[int, int]]:
        """``(first, end)`` draw of each chunk."""
        n = len(self.draws[1])
        return [(a, min(a + self.per_chunk, n)) for a in range(0, n, self.per_chunk)]


def timed_refit_scores(**kwargs) -> tuple[np.ndarray, float]:
    """:func:`refit_scores` of one chunk, and the seconds it took where it ran (on a dask worker:
    the order chunks finish in says little about what each cost)."""
    start = perf_counter()
    scores = refit_scores(**kwargs)
    return scores, perf_counter() - start


def run_streams(streams: Sequence[NullStream], executor, tick: Callable[..., None],
                work: PlannedWork | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Null r and R^2 of every draw of every stream, chunks interleaved, resuming from the caches.

    Parameters
    ----------
    streams : sequence of NullStream
    executor : LocalExecutor or DaskExecutor
        Runs the chunks (:mod:`xscale.evaluate.executor`), given in the interleaved order.
    tick : callable
        ``tick(n_fits, cached=False)``, once per chunk: first for each chunk read back from a
        cache (``cached=True``), then for each chunk as it finishes.
    work : PlannedWork, optional
        Given the chunks left (kind: the stream; units: fits; as many at once as the executor
        runs) and told as each finishes with the seconds it took where it ran, for the time left
        (:class:`xscale.progress.PlannedWork`).

    Returns
    -------
    list of ((N,) ndarray, (N,) ndarray)
        Per stream: r and R^2 of each draw, in draw order.
    """
    done: list[dict[str, list]] = [json.loads(s.cache.read_text()) if s.cache.exists() else {} for s in streams]
    order = []  # (later than the stream's first chunk left, share of the stream done once the chunk is,
    # stream, chunk): one chunk of every stream first (so that each one's cost is known), then each keeps pace
    for i, s in enumerate(streams):
        bounds, first = s.bounds(), True
        for c, (a, b) in enumerate(bounds):
            if f"{a}:{b}" in done[i]:
                tick((b - a) * s.n_splits, cached=True)
            else:
                order.append((not first, (c + 1) / len(bounds), i, (a, b)))
                first = False
    order.sort(key=lambda o: o[:3])
    tasks = [({streams[i].draws[0]: streams[i].draws[1][a:b]}, streams[i].shared) for *_, i, (a, b) in order]
    if work is not None:
        work.plan([(i, (b - a) * streams[i].n_splits) for *_, i, (a, b) in order], executor.slots())
    for k, (scores, seconds) in executor.run(timed_refit_scores, tasks):
        *_, i, (a, b) = order[k]
        done[i][f"{a}:{b}"] = scores.tolist()
        write_json(streams[i].cache, done[i])
        if work is not None:
            work.done(k, seconds)
        tick((b - a) * streams[i].n_splits)
    out = []
    for i, s in enumerate(streams):
        scores = np.concatenate([np.empty((0, 2))] + [np.asarray(done[i][f"{a}:{b}"], dtype=float).reshape(-1, 2)
                                                      for a, b in s.bounds()])
        out.append((scores[:, 0], scores[:, 1]))
    return out
