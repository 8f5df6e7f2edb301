"""The plugin contract: data container, model components and fitting backends.

Shapes used throughout:

* ``R`` regions (68 Desikan-Killiany cortical parcels: 34 left then 34 right),
* ``G`` genes, ``K`` latent dimensions,
* ``E`` directed edges (each undirected DK surface adjacency appears twice).

A model is three components, an :class:`Encoder` ``q(z | expression, graph)``, a
:class:`Prior` ``p(z)`` and a :class:`Decoder` ``p(y | z)``, fitted by a :class:`Backend`.
Plugins provide them through entry points (see :mod:`xscale.registry`); the core never
imports a plugin.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, NamedTuple, Sequence

import numpy as np
import torch

__all__ = ["BrainData", "Components", "Encoder", "Prior", "Decoder", "Backend", "FitResult", "ModelSpec"]


@dataclass(frozen=True)
class BrainData:
    """Everything a model sees about one cortex and one target map.

    Parameters
    ----------
    expression : (R, G) torch.float32 tensor
        AHBA expression, normalised as configured (per region by default, as in the paper).
    edge_index : (2, E) torch.int64 tensor
        Symmetric DK surface adjacency, indices into ``regions``.
    centroids : (R, 3) torch.float32 tensor
        Region centroids in MNI152 space, mm.
    target : (R,) torch.float32 tensor or None
        Thinning map (positive = thinner in patients, e.g. ``-d_icv``). NaN marks a region
        without a value; such regions are never fitted or scored.
    regions : tuple of str, length R
        DK region names, e.g. ``"L_entorhinal"``.
    genes : tuple of str, length G
        HGNC gene symbols.
    target_name : str
        Label of the target map, e.g. ``"enigma:scz"``.

    Raises
    ------
    ValueError
        If any shape disagrees with the others.
    """

    expression: torch.Tensor
    edge_index: torch.Tensor
    centroids: torch.Tensor
    target: torch.Tensor | None
    regions: tuple[str, ...]
    genes: tuple[str, ...]
    target_name: str = ""

    def __post_init__(self) -> None:
        R = len(self.regions)
        if self.expression.ndim != 2 or self.expression.shape != (R, len(self.genes)):
            raise ValueError(
                f"BrainData.expression: expected shape (R={R}, G={len(self.genes)}), "
                f"got {tuple(self.expression.shape)}"
            )
        if self.edge_index.ndim != 2 or self.edge_index.shape[0] != 2:
            raise ValueError(f"BrainData.edge_index: expected shape (2, E), got {tuple(self.edge_index.shape)}")
        if self.edge_index.numel() and (int(self.edge_index.min()) < 0 or int(self.edge_index.max()) >= R):
            raise ValueError(f"BrainData.edge_index: indices must lie in [0, {R}); got "
                             f"[{int(self.edge_index.min())}, {int(self.edge_index.max())}]")
        if self.centroids.shape != (R, 3):
            raise ValueError(f"BrainData.centroids: expected shape ({R}, 3), got {tuple(self.centroids.shape)}")
        if self.target is not None and self.target.shape != (R,):
            raise ValueError(f"BrainData.target: expected shape ({R},), got {tuple(self.target.shape)}")

    @property
    def n_regions(self) -> int:
        """Number of regions R."""
        return len(self.regions)

    @property
    def n_genes(self) -> int:
        """Number of genes G."""
        return len(self.genes)

    @property
    def target_mask(self) -> np.ndarray:
        """(R,) bool array: True where the target has a finite value.

        Raises
        ------
        ValueError
            If the data has no target.
        """
        if self.target is None:
            raise ValueError(f"BrainData has no target map (target_name={self.target_name!r})")
        return np.isfinite(self.target.numpy())


class Encoder(torch.nn.Module, ABC):
    """Amortised posterior ``q(z | expression, graph)``.

    Subclasses take ``in_features`` (G) as their first constructor argument, then their own
    hyperparameters as keyword-only arguments with defaults (after ``*``), and set ``latent_dim`` (K).
    A deterministic encoder returns ``scale=None`` (``adam`` then uses z = loc).

    Shapes:
        - input: expression (R, G), edge_index (2, E)
        - output: loc (R, K), scale (R, K) positive, or None for a deterministic encoder
    """

    latent_dim: int

    @abstractmethod
    def forward(self, expression: torch.Tensor, edge_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return ``(loc, scale)`` of the latent per region; raise ValueError on wrong shapes."""


class Prior(torch.nn.Module, ABC):
    """Prior ``p(z)`` over the latent maps, expressed as a loss term.

    A graph-Laplacian smoothness penalty (improper Gaussian) and a Gaussian process over
    region centroids (proper Gaussian) are both priors.

    Shapes:
        - input: z (R, K) sample, loc (R, K), scale (R, K) or None, data BrainData
        - output: scalar tensor, the negative log prior (up to a constant) or KL term that
          the backend adds to the data-fit loss
    """

    @abstractmethod
    def regulariser(self, z: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor | None,
                    data: BrainData) -> torch.Tensor:
        """Return the prior's scalar loss term; raise ValueError on wrong shapes."""


class Decoder(torch.nn.Module, ABC):
    """Likelihood mean ``E[y | z]``: one value per region.

    Subclasses take ``latent_dim`` (K) as their first constructor argument, then their own
    hyperparameters as keyword-only arguments with defaults (after ``*``). ``forward`` must also
    work in float64 and as a function of the weights under ``torch.func.vmap`` (the Pyro backends
    call it so): it may check shapes but not branch on tensor values
    (:func:`xscale.testing.check_decoder` tests this).

    Shapes:
        - input: z (R, K)
        - output: predicted target (R,)
    """

    @abstractmethod
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Return the (R,) predicted target; raise ValueError on wrong shapes."""


class Components(NamedTuple):
    """The three freshly built, seeded model components a backend fits."""

    encoder: Encoder
    prior: Prior
    decoder: Decoder


@dataclass(frozen=True)
class ModelSpec:
    """Names (entry points) and hyperparameters of a model's components and backend.

    ``*_params`` may hold every hyperparameter (as :func:`xscale.config.resolve` gives them)
    or only those that differ from the plugin's defaults; missing ones take the defaults.
    """

    encoder: str | None = "gnn"
    prior: str | None = "laplacian"
    decoder: str | None = "mlp"
    backend: str = "adam"
    encoder_params: Mapping[str, Any] = field(default_factory=dict)
    prior_params: Mapping[str, Any] = field(default_factory=dict)
    decoder_params: Mapping[str, Any] = field(default_factory=dict)
    backend_params: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class FitResult:
    """What one fit returns.

    Attributes
    ----------
    prediction : (R,) ndarray
        Predicted target for every region, training and held-out alike (held-out regions
        are predicted from their expression and the graph, never from their target).
    latent : (R, K) ndarray
        Posterior mean of the latent per region.
    history : dict of str to list of float
        Per-epoch (or per-step) training curves, e.g. ``loss``, ``val_r``.
    prediction_scale : (R,) ndarray or None
        Posterior-predictive standard deviation, for probabilistic backends.
    interval_95 : (2, R) ndarray or None
        2.5 % and 97.5 % posterior-predictive quantiles, for probabilistic backends.
    info : dict
        Backend-specific facts (epochs run, best epoch, ...), JSON-serialisable.
    """

    prediction: np.ndarray
    latent: np.ndarray
    history: dict[str, list[float]] = field(default_factory=dict)
    prediction_scale: np.ndarray | None = None
    interval_95: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)


class Backend(ABC):
    """How the components are fitted: ``adam`` (deterministic VAE loss), ``svi``, ``nuts`` ...

    Subclasses take their hyperparameters as keyword arguments with defaults.
    ``compatible_priors`` lists the prior names the backend can fit (None: any).
    ``needs_components`` is False for self-contained models (baselines such as ridge or PLS):
    they receive ``components=None`` and the spec's encoder, prior and decoder may be None.
    ``uses_expression`` is False for models that ignore the expression (the spatial-only GP):
    the gene-set null (:mod:`xscale.evaluate.genesets`) is then not defined and not run.
    """

    compatible_priors: ClassVar[tuple[str, ...] | None] = None
    needs_components: ClassVar[bool] = True
    uses_expression: ClassVar[bool] = True

    @classmethod
    def validate(cls, spec: ModelSpec) -> None:
        """Raise IncompatibleModelError before any training if ``spec`` cannot be fitted.

        The default accepts any spec whose prior is in ``compatible_priors`` (checked by the
        core); backends override this for further limits (e.g. NUTS and the latent dimension).
        """

    def fit_batch(self, datas: Sequence[BrainData], components: Sequence[Components | None],
                  train_masks: Sequence[np.ndarray], seeds: Sequence[int]) -> list[FitResult]:
        """Fit B independent models; the default is a loop over :meth:`fit`.

        Null distributions refit the same model on many surrogate maps and folds: backends that
        can train several models at once (e.g. the GNN-VAE's dense batched graph layers)
        override this. Overrides must give the same results as the loop, up to float
        summation order, for the same seeds.

        Parameters
        ----------
        datas : sequence of B BrainData
            Share expression and graph; differ in the (held-out-masked) target.
        components : sequence of B Components (or None for self-contained backends)
            Freshly built under each job's seed.
        train_masks : sequence of B (R,) bool ndarray
        seeds : sequence of B int

        Returns
        -------
        list of B FitResult
        """
        return [self.fit(d, c, m, s) for d, c, m, s in zip(datas, components, train_masks, seeds, strict=True)]

    @abstractmethod
    def fit(self, data: BrainData, components: Components | None, train_mask: np.ndarray, seed: int) -> FitResult:
        """Fit on the regions where ``train_mask`` (R,) is True and predict every region.

        Raises
        ------
        ValueError
            If ``train_mask`` is not an (R,) bool array, selects a region whose target is NaN,
            or the data has no target.
        """
