"""xscale: reproducible cross-scale modelling of brain transcriptomics and cortical thinning.

Reproduces arXiv 2606.05870 (AHBA landmark-gene expression on the 68 Desikan-Killiany
regions -> a disorder's cortical thinning map) and always reports out-of-sample
(spatially blocked cross-validation) numbers beside the paper's in-sample fit.
"""

from xscale.interfaces import Backend, BrainData, Decoder, Encoder, FitResult, ModelSpec, Prior

__version__ = "0.3.3"

__all__ = ["Backend", "BrainData", "Decoder", "Encoder", "FitResult", "ModelSpec", "Prior", "__version__"]
