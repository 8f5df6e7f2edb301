"""Evaluation: metrics, cross-validation schemes, spatial null models and multi-model studies."""

#: Fits per batched null refit (surrogate maps x CV splits), the default of ``xscale evaluate
#: --batch-size`` and of ``xscale reproduce``'s evaluation. 128 rather than 64 because the
#: GCN-VAE's batch ends in a tail of few long-training fits (early stopping), which a larger batch
#: shares among more fits: measured 1.0-1.2 times faster per refit on the 2-core CI machine
#: (2026-11-22; benchmarks/README.md).
BATCH_SIZE = 128
