"""Reparameterisation noise in blocks: every fit's stream is its own, however fits are grouped."""

from __future__ import annotations

import torch

from xscale_gnn.noise import BLOCK, NoiseBlocks


def _stream(seed: int, shape: tuple[int, int], epochs: int) -> torch.Tensor:
    one = NoiseBlocks([seed], shape)
    return torch.stack([one.next()[0] for _ in range(epochs)])


def test_each_fit_draws_its_own_stream_in_any_group():
    shape, seeds, epochs = (5, 3), [11, 12, 13, 14], 2 * BLOCK + 3  # (5, 3): not a multiple of 16
    alone = {s: _stream(s, shape, epochs) for s in seeds}
    group = NoiseBlocks(seeds, shape, threads=2)
    fits = torch.arange(4)
    for epoch in range(epochs):
        if epoch == BLOCK - 2:
            fits = torch.tensor([1, 3])  # fits 0 and 2 stopped: the others go on across block boundaries
        got = group.next(fits)
        assert got.shape == (len(fits), *shape)
        for row, f in enumerate(fits.tolist()):
            assert torch.equal(got[row], alone[seeds[f]][epoch]), (epoch, f)
    assert not torch.equal(alone[11], alone[12]), "different seeds, different streams"
    assert torch.equal(_stream(11, shape, epochs), alone[11]), "a seed gives the same stream again"
    assert abs(float(alone[11].mean())) < 0.2 and 0.8 < float(alone[11].std()) < 1.2  # standard normal


def _first_epoch(seeds: list[int]) -> torch.Tensor:
    return NoiseBlocks(seeds, (5, 3), threads=2).next().clone()


def test_a_forked_child_draws_on_threads_of_its_own():
    """The drawing threads are kept for the process; a forked child's copy of the pool has none
    (reusing it would wait forever), so the child starts its own."""
    import multiprocessing

    parent = _first_epoch([21, 22])  # the parent's pool is started
    with multiprocessing.get_context("fork").Pool(1) as pool:
        child = pool.apply_async(_first_epoch, ([21, 22],)).get(timeout=120)
    assert torch.equal(child, parent)
