"""Contract checks that every plugin's test-suite runs (in the spirit of GPyTorch's test cases).

Each ``check_*`` function builds a plugin through the registry, exercises it on the real
embedded data (the schizophrenia map, landmark genes) and raises AssertionError with a
message when the plugin breaks the contract of :mod:`xscale.interfaces`:

* output shapes as documented,
* the same seed gives identical outputs, a different seed different ones where randomness
  is involved,
* wrong input shapes raise ValueError,
* hyperparameters are keyword-only arguments with defaults (so configurable and recorded),
* decoders also work in float64 and under ``torch.func.vmap``, as the Pyro backends call them.

Example, in a plugin's tests::

    from xscale import testing

    def test_contract():
        testing.check_encoder("gnn")
        testing.check_backend(ModelSpec(backend="adam", backend_params={"max_epochs": 30}))
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import replace
from functools import lru_cache
from typing import Any, Callable, Mapping

import numpy as np
import torch

from xscale import registry
from xscale.data.brain import load_brain_data
from xscale.fitting import fit_model
from xscale.interfaces import BrainData, Decoder, Encoder, FitResult, ModelSpec, Prior


@lru_cache(maxsize=1)
def real_data() -> BrainData:
    """The embedded schizophrenia map with landmark-gene expression (68 regions)."""
    return load_brain_data("enigma:scz")[0]


def _raises_value_error(fn: Callable[[], Any], what: str) -> None:
    try:
        fn()
    except ValueError:
        return
    raise AssertionError(f"{what}: expected ValueError on a wrong input shape, nothing was raised")


def _hyperparameters_keyword_only(kind: str, name: str) -> None:
    """Every defaulted ``__init__`` argument is keyword-only: the configuration sees only those
    (:func:`xscale.registry.default_params`), so one before ``*`` could be neither set nor recorded."""
    cls = registry.load(kind, name)
    hidden = [p.name for p in inspect.signature(cls.__init__).parameters.values()
              if p.default is not p.empty and p.kind is not p.KEYWORD_ONLY]
    assert not hidden, (f"{kind} {name!r}: {cls.__name__}.__init__ has defaulted argument(s) {hidden} before `*`; "
                        "hyperparameters must be keyword-only (after `*`) to be configurable and recorded")


def _seeded(seed: int, fn: Callable[[], Any]) -> Any:
    torch.manual_seed(seed)
    return fn()


def check_encoder(name: str, params: Mapping[str, Any] | None = None) -> Encoder:
    """Encoder contract: (R, G), (2, E) -> loc (R, K), scale (R, K) > 0 or None; seeded init."""
    _hyperparameters_keyword_only("encoder", name)
    data = real_data()
    enc = _seeded(0, lambda: registry.build("encoder", name, params, data.n_genes))
    assert isinstance(enc, Encoder), f"encoder {name!r} is not an xscale.interfaces.Encoder"
    assert isinstance(enc.latent_dim, int) and enc.latent_dim > 0, f"encoder {name!r}: latent_dim must be a positive int"
    enc.eval()
    with torch.no_grad():
        loc, scale = enc(data.expression, data.edge_index)
    R, K = data.n_regions, enc.latent_dim
    assert loc.shape == (R, K), f"encoder {name!r}: loc shape {tuple(loc.shape)}, expected {(R, K)}"
    if scale is not None:
        assert scale.shape == (R, K), f"encoder {name!r}: scale shape {tuple(scale.shape)}, expected {(R, K)}"
        assert bool((scale > 0).all()), f"encoder {name!r}: scale must be positive"
    assert torch.isfinite(loc).all(), f"encoder {name!r}: non-finite loc on real data"
    twin = _seeded(0, lambda: registry.build("encoder", name, params, data.n_genes)).eval()
    with torch.no_grad():
        assert torch.equal(twin(data.expression, data.edge_index)[0], loc), \
            f"encoder {name!r}: the same seed gave different initial outputs"
    _raises_value_error(lambda: enc(data.expression[:, :-1], data.edge_index), f"encoder {name!r} (G-1 genes)")
    _raises_value_error(lambda: enc(data.expression[0], data.edge_index), f"encoder {name!r} (1-D expression)")
    return enc


def check_decoder(name: str, latent_dim: int = 8, params: Mapping[str, Any] | None = None) -> Decoder:
    """Decoder contract: (R, K) -> (R,); wrong K raises ValueError; it works in float64 and as a
    function of its weights under ``torch.func.vmap`` (one set of weights per fit).

    The last two are how the Pyro backends use every decoder: ``svi`` and ``nuts`` fit in
    float64, ``nuts`` samples the weights (``functional_call``), and the batched refits decode
    many fits' weights at once with ``vmap``. So ``forward`` may check shapes but must not branch
    on tensor values (``if not torch.isfinite(z).all(): ...`` fails under ``vmap``).
    """
    _hyperparameters_keyword_only("decoder", name)
    dec = _seeded(0, lambda: registry.build("decoder", name, params, latent_dim))
    assert isinstance(dec, Decoder), f"decoder {name!r} is not an xscale.interfaces.Decoder"
    z = torch.randn(real_data().n_regions, latent_dim, generator=torch.Generator().manual_seed(1))
    y = dec(z)
    assert y.shape == (z.shape[0],), f"decoder {name!r}: output shape {tuple(y.shape)}, expected {(z.shape[0],)}"
    _raises_value_error(lambda: dec(z[:, :-1]), f"decoder {name!r} (K-1 latent dims)")
    weights = {k: v.detach() for k, v in dec.named_parameters()}
    twice = {k: torch.stack([v, 2 * v]).double() for k, v in weights.items()}  # two fits' weights, float64
    try:
        as_64 = copy.deepcopy(dec).double()  # buffers too, as the backends' .double()
        call = torch.func.vmap(lambda p, zz: torch.func.functional_call(as_64, p, (zz,)))
        both = call(twice, torch.stack([z, z]).double())
    except RuntimeError as exc:  # e.g. "vmap: ... data-dependent control flow"
        raise AssertionError(f"decoder {name!r} fails as a function of its weights under torch.func.vmap, as the "
                             f"Pyro backends (svi, nuts) call it: {str(exc).rstrip('. ')}. Check shapes in "
                             "forward(), but do not branch on tensor values (no `if` on a tensor, .item(), .all()).") \
            from exc
    for i, scale in enumerate((1, 2)):
        one = torch.func.functional_call(dec, {k: scale * v for k, v in weights.items()}, (z,))
        assert both.dtype == torch.float64 and torch.allclose(both[i].float(), one, rtol=1e-4, atol=1e-5), (
            f"decoder {name!r}: under vmap in float64 it gives other predictions than fit by fit in float32 "
            f"(largest difference {float((both[i].float() - one).abs().max()):.3g})")
    return dec


def check_prior(name: str, latent_dim: int = 8, params: Mapping[str, Any] | None = None) -> Prior:
    """Prior contract: scalar finite regulariser, larger for rougher maps; wrong shapes raise."""
    data = real_data()
    _hyperparameters_keyword_only("prior", name)
    prior = registry.build("prior", name, params)
    assert isinstance(prior, Prior), f"prior {name!r} is not an xscale.interfaces.Prior"
    g = torch.Generator().manual_seed(2)
    z = torch.randn(data.n_regions, latent_dim, generator=g)
    scale = torch.ones_like(z)
    val = prior.regulariser(z, z, scale, data)
    assert val.ndim == 0 and torch.isfinite(val), f"prior {name!r}: regulariser must be a finite scalar, got {val}"
    smooth = z.mean(dim=0, keepdim=True).expand_as(z).contiguous()
    assert prior.regulariser(smooth, smooth, scale, data) <= val, \
        f"prior {name!r}: a constant map should not be penalised more than a random one"
    _raises_value_error(lambda: prior.regulariser(z[:-1], z[:-1], scale[:-1], data), f"prior {name!r} (R-1 regions)")
    return prior


def check_backend(spec: ModelSpec) -> FitResult:
    """Backend contract on real data: shapes, seeded determinism, held-out regions predicted from
    nothing but the training targets (changing held-out values changes nothing), bad masks raise."""
    _hyperparameters_keyword_only("backend", spec.backend)
    data = real_data()
    mask = data.target_mask.copy()
    mask[:5] = False
    a = fit_model(data, spec, mask, seed=0)
    R = data.n_regions
    assert a.prediction.shape == (R,), f"backend {spec.backend!r}: prediction shape {a.prediction.shape}, expected ({R},)"
    assert np.isfinite(a.prediction).all(), f"backend {spec.backend!r}: non-finite predictions (held-out regions too)"
    assert a.latent.ndim == 2 and a.latent.shape[0] == R, f"backend {spec.backend!r}: latent shape {a.latent.shape}"
    b = fit_model(data, spec, mask, seed=0)
    assert np.array_equal(a.prediction, b.prediction), f"backend {spec.backend!r}: same seed, different predictions"
    poisoned = data.target.clone()
    poisoned[:5] = 100.0
    c = fit_model(replace(data, target=poisoned), spec, mask, seed=0)
    assert np.array_equal(a.prediction, c.prediction), \
        f"backend {spec.backend!r}: held-out targets changed the predictions (leakage)"
    _raises_value_error(lambda: fit_model(data, spec, mask[:-1], seed=0), f"backend {spec.backend!r} ((R-1,) mask)")
    _raises_value_error(lambda: fit_model(data, spec, mask.astype(int), seed=0), f"backend {spec.backend!r} (int mask)")
    return a
