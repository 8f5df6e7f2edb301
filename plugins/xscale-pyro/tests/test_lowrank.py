"""The low-rank guide's log density at its own draw, from the noise (xscale_pyro.lowrank), against
torch's LowRankMultivariateNormal and autograd."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import LowRankMultivariateNormal

from xscale_pyro.lowrank import lowrank_log_density, lowrank_sample


def _guide(seed, B=4, D=275, rank=8):  # D, rank: the gp-svi guide on 68 regions (K = 4) and its rank
    g = torch.Generator().manual_seed(seed)
    loc = torch.randn(B, D, generator=g, dtype=torch.float64).requires_grad_()
    scale = (0.05 + torch.rand(B, D, generator=g, dtype=torch.float64)).requires_grad_()
    factor = (0.3 * torch.randn(B, D, rank, generator=g, dtype=torch.float64)).requires_grad_()
    eps_w = torch.randn(B, rank, generator=g, dtype=torch.float64)
    eps_d = torch.randn(B, D, generator=g, dtype=torch.float64)
    return loc, scale, factor, eps_w, eps_d


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_density_from_the_noise_equals_log_prob_of_the_draw(seed):
    loc, scale, factor, eps_w, eps_d = _guide(seed)
    u = lowrank_sample(loc, scale, factor, eps_w[:, None], eps_d[:, None])[:, 0]
    want = LowRankMultivariateNormal(loc, factor * scale[..., None], scale**2).log_prob(u)
    got = lowrank_log_density(scale, factor, eps_w, eps_d)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-10)
    weights = torch.arange(1.0, 5.0, dtype=torch.float64)
    want_loc, *want_grads = torch.autograd.grad((want * weights).sum(), (loc, scale, factor))
    for a, b in zip(torch.autograd.grad((got * weights).sum(), (scale, factor)), want_grads):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)
    # the draw's density does not depend on loc (its gradients through u and through the mean cancel)
    assert want_loc.abs().max() < 1e-9


def test_a_wrong_noise_gives_another_density():
    loc, scale, factor, eps_w, eps_d = _guide(3)
    u = lowrank_sample(loc, scale, factor, eps_w[:, None], eps_d[:, None])[:, 0]
    want = LowRankMultivariateNormal(loc, factor * scale[..., None], scale**2).log_prob(u)
    assert not torch.allclose(lowrank_log_density(scale, factor, eps_w, -eps_d), want, rtol=1e-6)
