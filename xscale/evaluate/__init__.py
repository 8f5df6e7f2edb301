"""Evaluation: metrics, cross-validation schemes and (later) spatial nulls and baselines."""
