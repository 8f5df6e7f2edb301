"""Baselines for xscale: what a simple linear model on the same genes achieves.

If a baseline predicts unseen cortex as well as a deep model, the deep model's extra
machinery buys nothing; if a spatial-only model (``spatial-gp`` in xscale-pyro) does as well,
the genes explain nothing beyond spatial smoothness.
"""

__version__ = "0.2.0"
