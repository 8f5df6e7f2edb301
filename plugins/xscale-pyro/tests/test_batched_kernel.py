"""Batched GP kernels and the GP log density with closed-form gradients (xscale_pyro.batched_kernel)
against pyro's kernels, torch's autograd and finite differences, on the real DK centroids."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import MultivariateNormal

from xscale import testing
from xscale_pyro.batched_kernel import GPLogDensity, batched_kernel, sq_dist
from xscale_pyro.prior import GPPrior

JITTER = 1e-4


@pytest.fixture(scope="module")
def centroids():
    return testing.real_data().centroids.double()  # (68, 3) mm


@pytest.mark.parametrize("kernel", ["matern52", "rbf"])
def test_batched_kernel_equals_pyro_kernel(kernel, centroids):
    ls, var = torch.tensor([12.0, 40.0, 95.0], dtype=torch.float64), torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    got = batched_kernel(kernel, centroids, ls, var)
    for b in range(3):
        want = GPPrior(kernel=kernel).covariance(centroids, ls[b], var[b]) - JITTER * torch.eye(68, dtype=torch.float64)
        torch.testing.assert_close(got[b], want, rtol=1e-12, atol=1e-12)


def _inputs(n_regions, seed=0):
    g = torch.Generator().manual_seed(seed)
    ls = torch.tensor([15.0, 40.0, 90.0], dtype=torch.float64).requires_grad_()
    var = torch.tensor([0.4, 1.0, 2.5], dtype=torch.float64).requires_grad_()
    z = torch.randn(3, n_regions, 4, generator=g, dtype=torch.float64).requires_grad_()  # (B, R, K)
    return ls, var, z


@pytest.mark.parametrize("kernel", ["matern52", "rbf"])
def test_gp_log_density_and_gradients_equal_autograd_through_the_kernel(kernel, centroids):
    """Value and gradients against K MultivariateNormal log densities of :func:`batched_kernel`'s
    covariance (pyro's kernel, above), differentiated by autograd through the Cholesky factor."""
    ls, var, z = _inputs(68)
    got = GPLogDensity.apply(ls, var, z, sq_dist(centroids), kernel, JITTER)
    cov = batched_kernel(kernel, centroids, ls, var) + JITTER * torch.eye(68, dtype=torch.float64)
    want = MultivariateNormal(torch.zeros(68, dtype=torch.float64), cov[:, None]).log_prob(z.mT).sum(-1)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=0)
    weights = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)  # a different upstream gradient per GP
    for a, b in zip(torch.autograd.grad((got * weights).sum(), (ls, var, z)),
                    torch.autograd.grad((want * weights).sum(), (ls, var, z))):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("kernel", ["matern52", "rbf"])
def test_gp_log_density_gradients_match_finite_differences(kernel, centroids):
    ls, var, z = _inputs(12, seed=1)
    d2 = sq_dist(centroids[:12])
    assert torch.autograd.gradcheck(lambda a, b, c: GPLogDensity.apply(a, b, c, d2, kernel, JITTER), (ls, var, z))


def test_sq_dist_is_symmetric_with_a_zero_diagonal(centroids):
    d2 = sq_dist(centroids)
    assert torch.equal(d2, d2.T) and torch.equal(d2.diagonal(), torch.zeros(68, dtype=torch.float64))
    torch.testing.assert_close(d2, torch.cdist(centroids, centroids) ** 2, rtol=1e-10, atol=1e-9)
