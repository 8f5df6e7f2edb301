"""Parameters shared by the paper notebooks (the cell tagged ``parameters`` in each of them)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from xscale import config as config_mod
from xscale.data.targets import ENIGMA_MAPS
from xscale.errors import ConfigError
from xscale.evaluate.nulls import NULLS

#: Surrogate maps per null family when ``n_null`` is not given: a smoke test in quick mode,
#: p-values resolved down to 1/101 otherwise.
N_NULL = {True: 5, False: 100}
#: Null families drawn in Fig 5: a spin test and variogram-matched surrogates.
NULL_FAMILIES = ("spin-vasa", "brainsmash")
QUICK_LABEL = "[QUICK SMOKE TEST: not the paper's protocol]"


def _split(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(x.strip() for x in items if x and x.strip())


@dataclass(frozen=True)
class PaperParams:
    """What one build of the paper's figures runs on.

    Attributes
    ----------
    quick : bool
        Smoke-test settings (:data:`xscale.config.QUICK`); every figure says so in its title.
    target : str
        The thinning map: ``enigma:<name>`` (embedded), a CSV path (ENIGMA format or
        ``region,value``, e.g. a map derived from ADNI), or a run directory written by
        ``xscale fit`` (its ``config.json`` names the target and its results are used as they are).
    models : tuple of str
        Model presets (:data:`xscale.config.PRESETS`) or plugin combinations
        ``encoder/prior/decoder/backend`` (:func:`xscale.config.combination`); the first one
        with a latent space (``gnn-vae``, ``gp-svi``, a combination with an encoder) is drawn in Fig 4.
    seed : int
        Seeds every fit, the fold layout, the nulls and t-SNE.
    folds : int
        Spatially blocked CV folds.
    n_null : int
        Surrogate maps per null family (each one a full refit).
    nulls : tuple of str
        Null families for Fig 5 (:data:`xscale.evaluate.nulls.NULLS`).
    out : str
        Build directory: ``figures/``, ``tables/``, ``runs/``, ``nulls/``.
    adni : str or None
        ADNI input for the claims that need it (see :func:`xscale.paper.claims.verify`).
    """

    quick: bool = True
    target: str = "enigma:scz"
    models: tuple[str, ...] = ("gnn-vae", "ridge")
    seed: int = 0
    folds: int = 5
    n_null: int = N_NULL[True]
    nulls: tuple[str, ...] = NULL_FAMILIES
    out: str = "results/paper"
    adni: str | None = None

    @classmethod
    def from_notebook(cls, quick: bool = True, target: str = "enigma:scz", models: Any = "gnn-vae,ridge",
                      seed: int = 0, folds: int = 5, n_null: int | None = None, nulls: Any = NULL_FAMILIES,
                      out: str = "results/paper", adni: str | None = None) -> PaperParams:
        """Parameters from a notebook's parameter cell (comma-separated strings allowed).

        Raises
        ------
        ConfigError
            On an unknown model preset, a malformed combination, an unknown null family, no
            model, or a negative ``n_null``.
        """
        mlist = tuple(config_mod.preset_name(m) for m in _split(models))  # aliases resolved, combinations checked
        if not mlist:
            raise ConfigError("models: expected at least one model preset, e.g. 'gnn-vae,ridge'")
        n = N_NULL[bool(quick)] if n_null is None else int(n_null)
        if n < 0:
            raise ConfigError(f"n_null={n_null!r}; expected a non-negative integer")
        families = _split(nulls)
        bad = [f for f in families if f not in NULLS]
        if bad:
            raise ConfigError(f"nulls: unknown null famil(ies) {bad}; available: {', '.join(NULLS)}")
        return cls(bool(quick), str(target), mlist, int(seed), int(folds), n, families, str(out), adni or None)

    @property
    def run_dir(self) -> Path | None:
        """The given run directory, when ``target`` is one (it holds ``config.json`` and ``metrics.json``)."""
        p = Path(self.target)
        return p if not self.target.startswith("enigma:") and (p / "metrics.json").is_file() else None

    @property
    def target_spec(self) -> str:
        """The map itself: ``target``, or the target recorded in the run directory's ``config.json``.

        Raises
        ------
        ConfigError
            If the run directory's ``config.json`` names no target.
        """
        rd = self.run_dir
        if rd is None:
            return self.target
        cfg_file = rd / "config.json"
        try:
            return str(json.loads(cfg_file.read_text())["target"])
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"{cfg_file}: expected the run's resolved configuration with a 'target' field "
                              f"({exc})") from exc

    @property
    def target_label(self) -> str:
        """``enigma:scz (schizophrenia, ENIGMA)`` or the file name, for figure titles."""
        t = self.target_spec
        if t.startswith("enigma:"):
            return f"{t} ({ENIGMA_MAPS.get(t.split(':', 1)[1], '?')}, ENIGMA)"
        return Path(t).name

    @property
    def units(self) -> str:
        """Units of the thinning map: ENIGMA maps are -Cohen's d."""
        return "-Cohen's d" if self.target_spec.startswith("enigma:") else "map units"

    def title(self, what: str, data: str | None = None, fitted: bool = True) -> str:
        """A figure title saying what, on which data (default: the target and seed), with which settings.

        ``fitted=False`` for figures without a model fit, which quick mode does not change.
        """
        mode = f"\n{QUICK_LABEL}" if self.quick and fitted else ""
        return f"{what}\n{data or f'{self.target_label}, seed {self.seed}'}{mode}"

    def config(self, model: str, seed: int | None = None) -> dict[str, Any]:
        """The run configuration of ``model`` on this target (not yet resolved).

        Raises
        ------
        ConfigError
            On an unknown preset or a malformed combination.
        """
        return config_mod.build(None, (), self.quick, model, target=self.target_spec,
                                seed=self.seed if seed is None else seed, folds=self.folds)

    def latent_model(self) -> str:
        """The first model with a learned latent space (not a self-contained baseline).

        Raises
        ------
        ConfigError
            If every model is a baseline (ridge, PLS, ...): Fig 4 needs latent programs.
        """
        for m in self.models:
            if config_mod.model_section(m)["encoder"] is not None:
                return m
        raise ConfigError(f"models {list(self.models)}: Fig 4 needs a latent-variable model (gnn-vae or gp-svi)")

    def as_dict(self) -> dict[str, Any]:
        """Plain values, as injected into a notebook's parameter cell."""
        return {**asdict(self), "models": ",".join(self.models), "nulls": ",".join(self.nulls)}

    @property
    def figures(self) -> Path:
        return Path(self.out) / "figures"

    @property
    def tables(self) -> Path:
        return Path(self.out) / "tables"
