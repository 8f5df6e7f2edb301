"""B GNN-VAEs of the paper as stacked tensors: dense graph layers in a feature-major layout.

For the batched refits of :mod:`xscale_gnn.batched`. The weights of B models (the encoder's
GCNConv layers and the MLP decoder, see :class:`xscale_gnn.encoder.GCNEncoder` and
:class:`xscale_gnn.decoder.MLPDecoder`) are stacked along a leading model axis, and the
activations are kept feature-major, (B, features, R), so that every step of the forward pass
is one large product rather than B small ones:

- the first layer, where almost all the work is, is one (B*H, G) x (G, R) product with the
  shared propagated expression ``A_hat @ X`` (a batched product when each model has its own);
- the graph propagation of the hidden layer is one (B*H, R) x (R, R) product (the dense
  ``A_hat`` is exact for the 68-node DK graph, :func:`xscale_gnn.encoder.gcn_adjacency`);
- the mean and log-variance heads are one weight matrix of 2K rows per model (their rows
  are the two heads' rows: Adam's update is elementwise, so training the joined matrix is
  training the two);
- the decoder is two batched products over the models.

Parameters, by name, with their shapes (H: encoder hidden width, K: latent dimensions,
D: decoder hidden width):

``w1`` (B, H, G), ``b1`` (B, H, 1): the shared GCNConv layer;
``wh`` (B, 2K, H), ``bh`` (B, 2K, 1): the loc (first K) and log-variance (last K) heads;
``wd1`` (B, D, K), ``bd1`` (B, D, 1), ``wd2`` (B, 1, D), ``bd2`` (B, 1, 1): the decoder.
"""

from __future__ import annotations

from typing import Mapping, NamedTuple, Sequence

import torch

from xscale.interfaces import Components

Params = Mapping[str, torch.Tensor]


def stack_parameters(components: Sequence[Components]) -> dict[str, torch.Tensor]:
    """The encoder and decoder weights of B models, stacked (copies, one model per row).

    Parameters
    ----------
    components : sequence of B Components
        Each with a :class:`~xscale_gnn.encoder.GCNEncoder` and a
        :class:`~xscale_gnn.decoder.MLPDecoder` of one shape.

    Returns
    -------
    dict of str to Tensor
        The parameters named in the module docstring; each model's values are its own
        modules' (copied, not shared).
    """
    def stack(get) -> torch.Tensor:
        return torch.stack([get(c).detach() for c in components])

    def column(t: torch.Tensor) -> torch.Tensor:
        return t.unsqueeze(-1)

    params = {
        "w1": stack(lambda c: c.encoder.conv.lin.weight),
        "b1": column(stack(lambda c: c.encoder.conv.bias)),
        "wh": stack(lambda c: torch.cat([c.encoder.conv_loc.lin.weight, c.encoder.conv_log_var.lin.weight])),
        "bh": column(stack(lambda c: torch.cat([c.encoder.conv_loc.bias, c.encoder.conv_log_var.bias]))),
        "wd1": stack(lambda c: c.decoder.net[0].weight),
        "bd1": column(stack(lambda c: c.decoder.net[0].bias)),
        "wd2": stack(lambda c: c.decoder.net[2].weight),
        "bd2": column(stack(lambda c: c.decoder.net[2].bias)),
    }
    return {k: v.contiguous() for k, v in params.items()}


def first_layer(w1: torch.Tensor, b1: torch.Tensor, propagated: torch.Tensor,
                out: torch.Tensor | None = None) -> torch.Tensor:
    """The shared GCNConv layer of B models before its ReLU: ``b1 + W1 (A_hat X)^T``, (B, H, R).

    Parameters
    ----------
    w1 : (B, H, G) Tensor
    b1 : (B, H, 1) Tensor
    propagated : (R, G) or (B, R, G) Tensor
        ``adjacency @ expression``, shared by every model (one (B*H, G) x (G, R) product) or
        one per model (a batched product).
    out : (B, H, R) Tensor, optional
        Contiguous; written in place and returned.
    """
    if propagated.ndim == 3:
        return torch.baddbmm(b1, w1, propagated.mT, **({} if out is None else {"out": out}))
    n_models, hidden, genes = w1.shape
    flat = (n_models * hidden, -1)
    if out is None:  # (differentiable, for tests against autograd)
        return torch.addmm(b1.reshape(*flat), w1.reshape(*flat), propagated.T).view(n_models, hidden, -1)
    torch.addmm(b1.view(*flat), w1.view(*flat), propagated.T, out=out.view(*flat))
    return out


class Encoded(NamedTuple):
    """The encoder's forward pass, (B, features, R) each: what its gradient needs."""

    pre: torch.Tensor  # (B, H, R) first layer before the ReLU
    propagated_hidden: torch.Tensor  # (B, H, R) ReLU output propagated over the graph
    log_var: torch.Tensor  # (B, K, R) before clamping
    loc: torch.Tensor  # (B, K, R)
    scale: torch.Tensor  # (B, K, R) exp(log_scale)
    log_scale: torch.Tensor  # (B, K, R) clamp(log_var, -10, 10) / 2


def encode(params: Params, pre: torch.Tensor, adjacency: torch.Tensor) -> Encoded:
    """The GCN encoder of B models (no dropout), from the first layer's output before its ReLU.

    Parameters
    ----------
    params : mapping of str to Tensor
        From :func:`stack_parameters` (or rows of it).
    pre : (B, H, R) Tensor
        :func:`first_layer` of ``params["w1"]`` and ``params["b1"]``.
    adjacency : (R, R) Tensor
        :func:`xscale_gnn.encoder.gcn_adjacency` of the DK graph.

    Returns
    -------
    Encoded
        ``loc`` and ``scale`` are those of :meth:`GCNEncoder.forward`, transposed.
    """
    n_models, hidden, regions = pre.shape
    ah = (torch.relu(pre).view(n_models * hidden, regions) @ adjacency.T).view(n_models, hidden, regions)
    loc, log_var = torch.baddbmm(params["bh"], params["wh"], ah).chunk(2, dim=1)
    log_scale = log_var.clamp(-10.0, 10.0).mul_(0.5)
    return Encoded(pre, ah, log_var, loc, torch.exp(log_scale), log_scale)


def decode(params: Params, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The MLP decoder of B models: (B, K, R) latent maps -> (B, R) predictions.

    Returns
    -------
    prediction : (B, R) Tensor
    hidden : (B, D, R) Tensor
        The hidden layer before its ReLU (for :func:`gradients`).
    """
    hidden = torch.baddbmm(params["bd1"], params["wd1"], z)
    return torch.baddbmm(params["bd2"], params["wd2"], torch.relu(hidden)).squeeze(1), hidden


def _relu_backward(grad: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:
    """``grad`` where ``pre > 0``, else 0: autograd's own ReLU backward kernel (one pass; a
    boolean mask costs ten times as much on CPU)."""
    return torch.ops.aten.threshold_backward(grad, pre, 0.0)


def gradients(params: Params, enc: Encoded, adjacency: torch.Tensor, z: torch.Tensor, eps: torch.Tensor,
              hidden: torch.Tensor, d_pred: torch.Tensor, d_z: torch.Tensor, d_loc: torch.Tensor,
              d_scale: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Back-propagation through decoder and encoder of B models, written out (no autograd).

    The loss of model b is any function of its prediction and of its latent sample, mean and
    scale, with ``z = loc + scale * eps``; the caller gives the loss's partial derivatives.
    ReLU and clamp pass the gradient where their input is above zero and within [-10, 10], as
    autograd's rules do.

    Parameters
    ----------
    params : mapping of str to Tensor
    enc : Encoded
        The forward pass that produced ``loc`` and ``scale``.
    adjacency : (R, R) Tensor
    z, eps : (B, K, R) Tensor
        The latent sample and its standard-normal noise.
    hidden : (B, D, R) Tensor
        From :func:`decode` of ``z``.
    d_pred : (B, R) Tensor
        d loss / d prediction.
    d_z, d_loc, d_scale : (B, K, R) Tensor
        The loss's direct partials with respect to z, loc and scale (e.g. the prior's).

    Returns
    -------
    grads : dict of str to Tensor
        d loss / d parameter for every parameter except ``w1``, shaped like it.
    d_pre : (B, H, R) Tensor
        d loss / d :func:`first_layer`: ``d w1 = d_pre @ propagated`` (per model).
    """
    n_models, latent, regions = z.shape
    d_pred = d_pred.unsqueeze(1)  # (B, 1, R)
    grads = {"wd2": d_pred @ torch.relu(hidden).mT, "bd2": d_pred.sum(-1, keepdim=True)}
    d_hidden = _relu_backward(params["wd2"].mT * d_pred, hidden)  # (B, D, R)
    grads["wd1"], grads["bd1"] = d_hidden @ z.mT, d_hidden.sum(-1, keepdim=True)
    d_z = torch.baddbmm(d_z, params["wd1"].mT, d_hidden)  # z = loc + scale * eps
    d_heads = torch.empty(n_models, 2 * latent, regions, device=z.device)  # (B, 2K, R): loc rows, then log-variance rows
    torch.add(d_loc, d_z, out=d_heads[:, :latent])
    d_log_var = torch.addcmul(d_scale, d_z, eps, out=d_heads[:, latent:]).mul_(0.5 * enc.scale)
    d_log_var.mul_(enc.log_var.abs() <= 10.0)
    grads["wh"], grads["bh"] = d_heads @ enc.propagated_hidden.mT, d_heads.sum(-1, keepdim=True)
    d_ah = params["wh"].mT @ d_heads  # (B, H, R)
    hidden_w = d_ah.shape[1]
    d_pre = _relu_backward((d_ah.view(n_models * hidden_w, regions) @ adjacency).view(n_models, hidden_w, regions),
                           enc.pre)
    grads["b1"] = d_pre.sum(-1, keepdim=True)
    return grads, d_pre
