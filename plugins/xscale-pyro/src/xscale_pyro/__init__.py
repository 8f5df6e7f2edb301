"""Pyro probabilistic backend for xscale.

A Gaussian-process spatial prior over cortex (``gp``: Matern-5/2 or RBF kernel on DK
region-centroid distances in mm, learnable lengthscale and variance with log-normal
hyperpriors), a ``linear`` decoder, and two inference backends: ``svi`` (stochastic
variational inference, Trace_ELBO + Adam) and ``nuts`` (Hamiltonian Monte Carlo, for small K).
"""

__version__ = "0.2.1"
