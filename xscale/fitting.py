"""One seeded fit of a model described by a :class:`~xscale.interfaces.ModelSpec`."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Sequence

import numpy as np
import torch

from xscale import registry
from xscale.errors import ConfigError, IncompatibleModelError
from xscale.interfaces import Backend, BrainData, Components, FitResult, ModelSpec


def check_train_mask(data: BrainData, train_mask: np.ndarray, min_regions: int = 4) -> np.ndarray:
    """Validate a training mask and return it as an (R,) bool ndarray.

    Parameters
    ----------
    data : BrainData
        Must have a target.
    train_mask : (R,) bool ndarray
        True for regions whose target may be used in fitting.
    min_regions : int
        Smallest allowed number of training regions.

    Raises
    ------
    ValueError
        If the data has no target, the mask is not (R,) bool, selects a region whose target is
        NaN, or selects fewer than ``min_regions`` regions.
    """
    mask = np.asarray(train_mask)
    if mask.dtype != bool or mask.shape != (data.n_regions,):
        raise ValueError(f"train_mask: expected a ({data.n_regions},) bool array, got {mask.dtype} {mask.shape}")
    finite = data.target_mask
    if (mask & ~finite).any():
        bad = [data.regions[i] for i in np.flatnonzero(mask & ~finite)]
        raise ValueError(f"train_mask selects regions without a target value: {bad}")
    if mask.sum() < min_regions:
        raise ValueError(f"train_mask selects {int(mask.sum())} regions; at least {min_regions} are needed")
    return mask


def fits_prior(backend_cls: type[Backend], prior: str) -> bool:
    """Whether a backend class declares it can fit ``prior`` (self-contained baselines fit none)."""
    if not backend_cls.needs_components:
        return False
    ok = backend_cls.compatible_priors
    return ok is None or prior in ok


def check_compatible(spec: ModelSpec) -> None:
    """Fail before any data is read or model trained if the spec cannot be fitted.

    Raises
    ------
    PluginNotFoundError
        If a named plugin is not installed (the message lists the installed ones).
    IncompatibleModelError
        If the backend does not support the prior; the message lists those it does.
    ConfigError
        If a hyperparameter has the wrong type or lies outside its range.
    """
    backend_cls = registry.load("backend", spec.backend)
    if not backend_cls.needs_components:
        try:
            registry.build("backend", spec.backend, spec.backend_params)
        except ValueError as exc:
            raise exc if isinstance(exc, ConfigError) else ConfigError(str(exc)) from exc
        return
    for kind in ("encoder", "prior", "decoder"):
        if getattr(spec, kind) is None:
            raise ConfigError(f"backend {spec.backend!r} needs an {kind}; none was given")
        registry.load(kind, getattr(spec, kind))
    ok = backend_cls.compatible_priors
    if not fits_prior(backend_cls, spec.prior):
        able = [name for name in registry.available("backend") if fits_prior(registry.load("backend", name), spec.prior)]
        raise IncompatibleModelError(
            f"backend {spec.backend!r} cannot fit prior {spec.prior!r}; it works with priors {list(ok)}. "
            f"Backends that fit prior {spec.prior!r}: {', '.join(able) or 'none installed'}"
        )
    backend_cls.validate(spec)
    try:  # constructors check their hyperparameters' ranges; structural sizes are placeholders
        encoder = registry.build("encoder", spec.encoder, spec.encoder_params, 1)
        registry.build("decoder", spec.decoder, spec.decoder_params, encoder.latent_dim)
        registry.build("prior", spec.prior, spec.prior_params)
        registry.build("backend", spec.backend, spec.backend_params)
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(str(exc)) from exc


def build_components(spec: ModelSpec, data: BrainData) -> Components:
    """Instantiate encoder, prior and decoder for ``data`` (G genes in, K latent dims)."""
    encoder = registry.build("encoder", spec.encoder, spec.encoder_params, data.n_genes)
    prior = registry.build("prior", spec.prior, spec.prior_params)
    decoder = registry.build("decoder", spec.decoder, spec.decoder_params, encoder.latent_dim)
    return Components(encoder, prior, decoder)


def hide_held_out(data: BrainData, train_mask: np.ndarray) -> BrainData:
    """``data`` with the target set to NaN outside ``train_mask``: what a backend may see."""
    target = data.target.clone()
    target[torch.as_tensor(~train_mask)] = float("nan")
    return replace(data, target=target)


def _prepared(data: BrainData, spec: ModelSpec, backend: Backend, train_mask: np.ndarray,
              seed: int) -> tuple[BrainData, Components | None, np.ndarray]:
    """What a backend receives for one job: masked data, components built under ``seed``, mask."""
    mask = check_train_mask(data, train_mask)
    visible = hide_held_out(data, mask)
    torch.manual_seed(seed)
    components = build_components(spec, visible) if backend.needs_components else None
    return visible, components, mask


def fit_model(data: BrainData, spec: ModelSpec, train_mask: np.ndarray, seed: int) -> FitResult:
    """Build fresh components under ``seed`` and fit them on the ``train_mask`` regions.

    The backend receives the data with every held-out target replaced by NaN, so no plugin
    can use a held-out region's value, by design rather than by convention. The same data,
    spec, mask and seed give identical results on CPU.

    Parameters
    ----------
    data : BrainData
    spec : ModelSpec
    train_mask : (R,) bool ndarray
    seed : int

    Returns
    -------
    FitResult
        Predictions for all R regions.
    """
    check_compatible(spec)
    backend: Backend = registry.build("backend", spec.backend, spec.backend_params)
    visible, components, mask = _prepared(data, spec, backend, train_mask, seed)
    return backend.fit(visible, components, mask, seed)


def fit_many(datas: Sequence[BrainData], spec: ModelSpec, train_masks: Sequence[np.ndarray],
             seeds: int | Sequence[int], on_fit: Callable[[int], None] | None = None) -> list[FitResult]:
    """Fit B independent jobs of one model at once (:meth:`Backend.fit_batch`).

    Each job is prepared exactly as by :func:`fit_model` (held-out targets hidden, components
    built under its seed), so a backend's batched path can be checked against the loop.

    Parameters
    ----------
    datas : sequence of B BrainData
        Same expression and graph, e.g. one surrogate map per job.
    spec : ModelSpec
    train_masks : sequence of B (R,) bool ndarray
    seeds : int or sequence of B int
    on_fit : callable, optional
        Called with each job's index once its fit is done (for progress bars): after each fit
        where the backend fits one model at a time (the default :meth:`Backend.fit_batch`), at
        the end where it trains the batch at once.

    Returns
    -------
    list of B FitResult

    Raises
    ------
    ValueError
        If the lengths differ, or a mask is bad (see :func:`check_train_mask`).
    """
    seeds = [seeds] * len(datas) if isinstance(seeds, (int, np.integer)) else list(seeds)
    if not len(datas) == len(train_masks) == len(seeds):
        raise ValueError(f"fit_many: {len(datas)} data, {len(train_masks)} masks and {len(seeds)} seeds; expected equal counts")
    check_compatible(spec)
    backend: Backend = registry.build("backend", spec.backend, spec.backend_params)
    jobs = [_prepared(d, spec, backend, m, int(s)) for d, m, s in zip(datas, train_masks, seeds)]
    if on_fit is not None and type(backend).fit_batch is Backend.fit_batch:  # the loop: report each fit as it ends
        results = []
        for i, ((d, c, m), s) in enumerate(zip(jobs, seeds)):
            results.append(backend.fit(d, c, m, s))
            on_fit(i)
        return results
    results = backend.fit_batch([j[0] for j in jobs], [j[1] for j in jobs], [j[2] for j in jobs], seeds)
    for i in range(len(results) if on_fit else 0):
        on_fit(i)
    return results
