"""Evaluation: metrics, cross-validation schemes, spatial null models and multi-model studies."""
