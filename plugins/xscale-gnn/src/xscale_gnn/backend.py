"""Deterministic full-batch training of the GNN-VAE loss with Adam and early stopping."""

from __future__ import annotations

import copy
from typing import NamedTuple

import numpy as np
import torch

from xscale.checks import require
from xscale.fitting import check_train_mask
from xscale.interfaces import Backend, BrainData, Components, FitResult
from xscale_gnn.noise import NoiseBlocks


def training_device(device: str) -> torch.device:
    """``device`` as a torch device, checked: the CPU, or a CUDA device this process can use.

    Raises
    ------
    ValueError
        If ``device`` is not a device name, is neither ``cpu`` nor ``cuda``, or names a CUDA
        device that is absent (``torch.cuda.is_available()`` False, or an index out of range).
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"AdamBackend: device={device!r} is not a device name; expected 'cpu' or 'cuda[:N]'") from err
    if dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise ValueError(f"AdamBackend: device={device!r}; expected 'cpu' or 'cuda[:N]'")
    if not torch.cuda.is_available():
        raise ValueError(f"AdamBackend: device={device!r}, but this PyTorch ({torch.__version__}) sees no CUDA "
                         "device (torch.cuda.is_available() is False); use device='cpu'")
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"AdamBackend: device={device!r}, but only {torch.cuda.device_count()} CUDA device(s) "
                         "are visible")
    return dev


def _corr(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = float(torch.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum()) / den if den > 0 else float("nan")


class AdamBackend(Backend):
    """The paper's optimisation: Adam on ``MSE + prior regulariser``, full batch (all regions).

    Each epoch draws ``z = loc + scale * eps`` (reparameterisation), decodes it and takes one
    Adam step on the training regions' squared error plus the prior term (which sees every
    region, as the graph does; held-out targets are never used). A validation subset of the
    training regions is excluded from the loss; training stops when its Pearson r has not
    improved for ``patience`` epochs, and the best epoch's weights are kept. Predictions use
    ``z = loc``.

    Parameters
    ----------
    lr : float
        Adam learning rate (the paper: 1e-3).
    max_epochs : int
    patience : int
        Early-stopping patience in epochs.
    val_fraction : float
        Share of training regions used for early stopping (0 disables early stopping).
    weight_decay : float
    standardise_target : bool
        Fit the z-scored target (mean and SD of the training regions) and map predictions
        back, so the loss terms have comparable scale whatever the map's units.
    device : str
        Where the fits train: ``'cpu'`` (default) or a CUDA device (``'cuda'``, ``'cuda:1'``).
        The noise draws stay on the CPU (one seeded stream per fit, the same numbers on every
        device); results are returned on the CPU. Identical numbers for one seed are guaranteed
        on the CPU only: on a GPU the products sum in another order.

    Raises
    ------
    ValueError
        On a setting out of range, an unknown device, or a CUDA device this PyTorch cannot use.
    """

    compatible_priors = ("laplacian",)

    def __init__(self, *, lr: float = 1e-3, max_epochs: int = 2000, patience: int = 200,
                 val_fraction: float = 0.15, weight_decay: float = 0.0, standardise_target: bool = True,
                 device: str = "cpu"):
        require("AdamBackend", "lr", lr, 0, low_open=True)
        require("AdamBackend", "max_epochs", max_epochs, 1)
        require("AdamBackend", "patience", patience, 1)
        require("AdamBackend", "val_fraction", val_fraction, 0, 0.5)
        require("AdamBackend", "weight_decay", weight_decay, 0)
        self.lr = lr
        self.max_epochs = max_epochs
        self.patience = patience
        self.val_fraction = val_fraction
        self.weight_decay = weight_decay
        self.standardise_target = standardise_target
        self.device = training_device(device)

    def _split(self, train: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        idx = np.flatnonzero(train)
        n_val = int(round(self.val_fraction * idx.size))
        if n_val == 0:
            return idx, np.array([], dtype=int)
        n_val = max(n_val, 3)
        val = np.sort(np.random.default_rng(seed).choice(idx, size=n_val, replace=False))
        return np.setdiff1d(idx, val), val

    def setup(self, data: BrainData, train_mask: np.ndarray, seed: int) -> Job:
        """Validation split and standardised target of one fit (shared by the loop and the batch)."""
        mask = check_train_mask(data, train_mask)
        fit_idx, val_idx = self._split(mask, seed)
        y = data.target.clone()
        mu, sd = (float(y[fit_idx].mean()), float(y[fit_idx].std())) if self.standardise_target else (0.0, 1.0)
        sd = sd if sd > 0 else 1.0
        return Job(fit_idx, val_idx, (y - mu) / sd, mu, sd)

    def fit_batch(self, datas, components, train_masks, seeds) -> list[FitResult]:
        """B fits at once with dense batched graph layers (:mod:`xscale_gnn.batched`) when the
        components are the paper's (``gnn`` without dropout, ``laplacian``, ``mlp``); otherwise
        the loop. Same results as the loop up to float summation order."""
        from xscale_gnn.batched import batchable, fit_dense_batch

        if len(datas) > 1 and batchable(datas, components):
            return fit_dense_batch(self, datas, components, train_masks, seeds)
        return super().fit_batch(datas, components, train_masks, seeds)

    def fit(self, data: BrainData, components: Components, train_mask: np.ndarray, seed: int) -> FitResult:
        """Train on ``train_mask`` (R,) regions (minus the validation subset); predict all R.

        Returns
        -------
        FitResult
            ``prediction`` (R,) from ``z = loc`` at the best validation epoch, ``latent`` (R, K),
            ``history`` with ``loss``, ``mse``, ``val_r`` per epoch, ``info`` with epochs,
            best epoch and the validation regions.

        Raises
        ------
        ValueError
            On a bad ``train_mask`` (see :func:`xscale.fitting.check_train_mask`).
        """
        torch.manual_seed(seed)  # dropout draws
        fit_idx, val_idx, y, mu, sd = self.setup(data, train_mask, seed)
        # reparameterisation draws: one stream per fit, the batched path's too (xscale_gnn.noise)
        noise = NoiseBlocks([seed], (data.n_regions, components.encoder.latent_dim))
        dev = self.device
        x, ei, y = data.expression.to(dev), data.edge_index.to(dev), y.to(dev)
        enc, prior, dec = components
        modules = torch.nn.ModuleList([enc, prior, dec]).to(dev)
        opt = torch.optim.Adam(modules.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        fit_t, val_t = torch.as_tensor(fit_idx, device=dev), torch.as_tensor(val_idx, device=dev)
        history: dict[str, list[float]] = {"loss": [], "mse": [], "val_r": []}
        best = (-np.inf, 0, copy.deepcopy(modules.state_dict()))
        for epoch in range(self.max_epochs):
            modules.train()
            opt.zero_grad()
            loc, scale = enc(x, ei)
            z = loc if scale is None else loc + scale * noise.next()[0].to(dev)
            mse = ((dec(z)[fit_t] - y[fit_t]) ** 2).mean()
            loss = mse + prior.regulariser(z, loc, scale, data)
            loss.backward()
            opt.step()
            history["loss"].append(float(loss.detach()))
            history["mse"].append(float(mse.detach()))
            if val_idx.size:
                modules.eval()
                with torch.no_grad():
                    r = _corr(dec(enc(x, ei)[0])[val_t], y[val_t])
                history["val_r"].append(r)
                if np.isfinite(r) and r > best[0]:
                    best = (r, epoch, copy.deepcopy(modules.state_dict()))
                elif epoch - best[1] >= self.patience:
                    break
        if val_idx.size:
            modules.load_state_dict(best[2])
        modules.eval()
        with torch.no_grad():
            loc, _ = enc(x, ei)
            pred = dec(loc) * sd + mu
        return result(data, Job(fit_idx, val_idx, y, mu, sd), pred, loc, history, float(best[0]), int(best[1]))


class Job(NamedTuple):
    """One fit's training regions, early-stopping regions and standardised target."""

    fit_idx: np.ndarray
    val_idx: np.ndarray
    target: torch.Tensor  # (R,) z-scored with the training regions' mean and SD (NaN held out)
    mean: float
    sd: float


def result(data: BrainData, job: Job, pred: torch.Tensor, loc: torch.Tensor, history: dict,
           best_r: float, best_epoch: int) -> FitResult:
    """FitResult of one fit: ``pred`` (R,) already in the target's units, ``loc`` (R, K), on any device."""
    has_val = job.val_idx.size > 0
    return FitResult(
        prediction=pred.detach().cpu().numpy().astype(float), latent=loc.detach().cpu().numpy().astype(float),
        history=history,
        info={"epochs": len(history["loss"]), "best_epoch": best_epoch if has_val else len(history["loss"]) - 1,
              "best_val_r": best_r if has_val else None,
              "validation_regions": [data.regions[i] for i in job.val_idx],
              "target_mean": job.mean, "target_sd": job.sd},
    )
