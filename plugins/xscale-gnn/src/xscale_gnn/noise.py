"""Reparameterisation noise of the GNN-VAE fits: one seeded stream per fit, drawn in blocks of epochs.

A fit draws ``eps ~ N(0, I)`` of shape (R, K) every epoch from its own generator (seeded with
the fit's seed). The draws are made ``BLOCK`` epochs at a time, one (BLOCK, R, K) draw per fit,
so that the sequential loop (:meth:`xscale_gnn.backend.AdamBackend.fit`) and the batched fits
(:mod:`xscale_gnn.batched`) use the very same numbers by construction; the batched path draws
the blocks of its fits on as many threads as torch uses (the generator releases the GIL), kept for
the process: a new thread's first torch call costs milliseconds, as much as drawing a few blocks.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import torch

BLOCK = 16  # epochs of noise per draw


_POOLS: dict[tuple[int, int], ThreadPoolExecutor] = {}


def _pool(threads: int) -> ThreadPoolExecutor:
    """Threads that draw blocks, started once per process and thread count (a forked child, whose
    copy of the parent's pool has no threads, starts its own)."""
    key = (os.getpid(), threads)
    if key not in _POOLS:
        _POOLS[key] = ThreadPoolExecutor(threads, thread_name_prefix="xscale-gnn-noise")
    return _POOLS[key]


class NoiseBlocks:
    """Standard-normal (R, K) draws, one stream per fit, the same epoch for every fit.

    Parameters
    ----------
    seeds : sequence of F int
        One generator per fit.
    shape : (R, K)
    threads : int
        Threads drawing the blocks of different fits at once (1: in the calling thread).
    """

    def __init__(self, seeds: Sequence[int], shape: tuple[int, int], threads: int = 1):
        self.generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
        self.blocks = torch.empty(len(self.generators), BLOCK, *shape)
        self.epoch = 0
        self.threads = max(1, threads)

    def next(self, fits: torch.Tensor | None = None) -> torch.Tensor:
        """This epoch's noise of the fits ``fits`` (indices on any device, default all): (len(fits), R, K),
        on the CPU.

        Every call advances every fit by one epoch, so a fit left out of a call (a stopped
        one) must not ask again.
        """
        fits = torch.arange(len(self.generators)) if fits is None else fits.cpu()
        at = self.epoch % BLOCK
        if at == 0:
            self._draw(fits.tolist())
        self.epoch += 1
        return self.blocks[fits, at]

    def _draw(self, fits: list[int]) -> None:
        parts = min(self.threads, len(fits))

        def fill(part: int) -> None:
            for f in fits[part::parts]:
                torch.randn(self.blocks.shape[1:], generator=self.generators[f], out=self.blocks[f])

        if parts == 1:
            fill(0)
            return
        list(_pool(parts).map(fill, range(parts)))
