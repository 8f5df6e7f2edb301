"""Early stopping of B GNN-VAE fits trained as one batch, and their per-epoch history.

Each fit stops as :meth:`xscale_gnn.backend.AdamBackend.fit` does: when the Pearson r of its
validation regions has not improved for ``patience`` epochs, keeping the prediction and latent
means of its best epoch. The batch's rows are the fits still in it (stopped fits stay until
:mod:`xscale_gnn.batched` drops them once they are an eighth of the rows); the state is kept per row while
the rows stay, with few tensor operations per epoch, and written back to the fits when rows leave.
"""

from __future__ import annotations

import torch


class ValidationR:
    """Pearson r over each row's validation regions; the target's side is computed once.

    Parameters
    ----------
    y : (B, R) Tensor
        Standardised targets (any finite value outside ``mask``).
    mask : (B, R) bool Tensor
        Validation regions of each row.
    """

    def __init__(self, y: torch.Tensor, mask: torch.Tensor):
        self.mask = mask
        self.n = mask.sum(1).clamp(min=1)[:, None]
        self.b = torch.where(mask, y - torch.where(mask, y, 0.0).sum(1, keepdim=True) / self.n, 0.0)
        self.bb = (self.b * self.b).sum(1)

    def __call__(self, pred: torch.Tensor) -> torch.Tensor:
        """r of (B, R) ``pred`` per row; NaN where either side is flat (or no validation region)."""
        a = torch.where(self.mask, pred - (pred * self.mask).sum(1, keepdim=True) / self.n, 0.0)
        den = torch.sqrt((a * a).sum(1) * self.bb)
        return torch.where(den > 0, (a * self.b).sum(1) / den, torch.nan)


class EpochLog:
    """Values of the batch's rows, epoch by epoch, assembled into an (epochs, B) history at the end.

    Rows that stopped earlier log values too: a fit's history is read only up to its stopping epoch.
    """

    def __init__(self):
        self.entries: list[tuple[int, torch.Tensor, torch.Tensor]] = []

    def add(self, epoch: int, fits: torch.Tensor, values: torch.Tensor) -> None:
        """``values`` (B',) of the rows whose fits are ``fits`` (B',), at ``epoch``."""
        self.entries.append((epoch, fits, values))

    def history(self, epochs: int, n_fits: int) -> torch.Tensor:
        """(epochs, n_fits) float Tensor on the CPU, NaN where nothing was logged."""
        out = torch.full((epochs, n_fits), torch.nan, device=self.entries[0][2].device if self.entries else "cpu")
        log, i = self.entries, 0
        while i < len(log):  # one write per run of consecutive epochs with the same rows
            j = i
            while j + 1 < len(log) and log[j + 1][1] is log[i][1]:
                j += 1
            out[log[i][0]:log[j][0] + 1, log[i][1]] = torch.stack([v for _, _, v in log[i:j + 1]])
            i = j + 1
        return out.cpu()


class EarlyStopping:
    """Early-stopping state of B fits and of the batch's rows.

    Parameters
    ----------
    y : (B, R) Tensor
        Standardised targets, held-out regions set to 0; the state is kept on its device.
    val : (B, R) bool Tensor
        Validation regions of each fit (none: the fit never stops early and keeps its last epoch).
    pred, loc : (B, R) and (B, K, R) Tensor
        Prediction and latent means with the initial weights: kept if r never improves, as in the loop.
    patience, max_epochs : int
    """

    def __init__(self, y: torch.Tensor, val: torch.Tensor, pred: torch.Tensor, loc: torch.Tensor,
                 patience: int, max_epochs: int):
        n, dev = len(y), y.device
        self.y, self.val, self.has_val, self.patience = y, val, val.any(1), patience
        self.best_r = torch.full((n,), -torch.inf, device=dev)
        self.best_epoch = torch.zeros(n, dtype=torch.long, device=dev)
        self.stopped_at = torch.full((n,), max_epochs - 1, device=dev)
        self.best_pred, self.best_loc = pred, loc
        self.val_r_log = EpochLog()
        self._gather(torch.arange(n, device=dev))

    def _gather(self, fits: torch.Tensor) -> None:
        """Make ``fits`` the batch's rows (their state copied out of the fits' state)."""
        self.fits = fits  # (B',) fit of each row
        self.live = torch.ones(len(fits), dtype=torch.bool, device=fits.device)  # not yet stopped
        self._has_val = self.has_val[fits]
        self._r = ValidationR(self.y[fits], self.val[fits])
        self._best_r, self._best_epoch = self.best_r[fits], self.best_epoch[fits]
        self._stopped_at = self.stopped_at[fits]
        self._best_pred, self._best_loc = self.best_pred[fits], self.best_loc[fits]

    def write_back(self) -> None:
        """Copy the rows' state into the fits' state (:attr:`best_r`, :attr:`best_pred`, ...)."""
        f = self.fits
        self.best_r[f], self.best_epoch[f], self.stopped_at[f] = self._best_r, self._best_epoch, self._stopped_at
        self.best_pred[f], self.best_loc[f] = self._best_pred, self._best_loc

    def keep_live(self) -> torch.Tensor:
        """Drop the stopped rows; returns the (B',) bool mask of the rows kept."""
        live = self.live
        self.write_back()
        self._gather(self.fits[live])
        return live

    def validate(self, epoch: int, pred: torch.Tensor, loc: torch.Tensor) -> None:
        """Update after ``epoch``'s step, from the rows' prediction (B', R) and latent means (B', K, R)."""
        r = self._r(pred)
        self.val_r_log.add(epoch, self.fits, r)
        improved = self.live & self._has_val & torch.isfinite(r) & (r > self._best_r)
        self._best_r = torch.where(improved, r, self._best_r)
        self._best_epoch = torch.where(improved, epoch, self._best_epoch)
        keep = improved | (self.live & ~self._has_val)
        if keep.any():
            at = keep.nonzero().squeeze(1)
            self._best_pred[at], self._best_loc[at] = pred[at], loc[at]
        stop = self.live & self._has_val & ~improved & (epoch - self._best_epoch >= self.patience)
        self._stopped_at = torch.where(stop, epoch, self._stopped_at)
        self.live &= ~stop
