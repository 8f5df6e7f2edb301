"""xscale: reproducible cross-scale modelling of brain transcriptomics and cortical thinning.

Reproduces arXiv 2606.05870 (AHBA landmark-gene expression on the 68 Desikan-Killiany
regions -> a disorder's cortical thinning map) and always reports out-of-sample
(spatially blocked cross-validation) numbers beside the paper's in-sample fit.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for type checkers; at run time imported on first use (__getattr__)
    from xscale.interfaces import Backend, BrainData, Decoder, Encoder, FitResult, ModelSpec, Prior

__version__ = "0.3.7"

__all__ = ["Backend", "BrainData", "Decoder", "Encoder", "FitResult", "ModelSpec", "Prior", "__version__"]


def __getattr__(name: str):
    """The plugin interfaces (:mod:`xscale.interfaces`), imported on first use: they need torch
    (about 1 s to import), which the ``xscale`` command loads only in the commands that fit, so
    that it starts at once and a Ctrl-C while it starts is handled like any other."""
    if name in __all__:
        from xscale import interfaces

        return getattr(interfaces, name)
    raise AttributeError(f"module 'xscale' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
