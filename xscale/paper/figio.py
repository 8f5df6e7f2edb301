"""Saving the paper's figures: PNG and PDF side by side, written atomically."""

from __future__ import annotations

import base64
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from xscale.rundir import as_created

#: Raster resolution of the PNG files (dots per inch).
DPI = 150
#: Categorical colours of the DK lobes (Desikan et al. 2006 grouping, insula apart).
LOBE_COLOURS = {"frontal": "#4477AA", "parietal": "#66CCEE", "temporal": "#228833", "occipital": "#CCBB44",
                "cingulate": "#EE6677", "insula": "#AA3377"}


@dataclass(frozen=True)
class FigureFiles:
    """The PNG and PDF of one figure; shows the PNG (with its title as alternative text) in a notebook."""

    png: Path
    pdf: Path
    alt: str = ""

    def _repr_mimebundle_(self, include=None, exclude=None) -> tuple[dict, dict]:
        data = {"image/png": base64.b64encode(self.png.read_bytes()).decode("ascii"),
                "text/plain": f"{self.png} / {self.pdf}"}
        return data, {"image/png": {"alt": self.alt or self.png.stem}}


def _atomic_savefig(fig: Figure, path: Path, **kw) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, **kw)
        as_created(tmp)  # mkstemp creates 0600; figures are meant to be shared
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def save_figure(fig: Figure, directory: str | Path, name: str) -> FigureFiles:
    """Write ``fig`` as ``<directory>/<name>.png`` (150 dpi) and ``.pdf``, then close it.

    Parameters
    ----------
    fig : matplotlib Figure
    directory : path
        Created if needed.
    name : str
        File stem, e.g. ``fig2_vulnerability``.

    Returns
    -------
    FigureFiles
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    png, pdf = d / f"{name}.png", d / f"{name}.pdf"
    alt = " ".join(fig._suptitle.get_text().split()) if fig._suptitle is not None else name
    try:
        _atomic_savefig(fig, png, dpi=DPI)
        _atomic_savefig(fig, pdf)
    finally:
        plt.close(fig)
    return FigureFiles(png, pdf, alt)


def panel_label(ax, letter: str) -> None:
    """Bold panel letter in the top-left corner, outside the axes."""
    text = getattr(ax, "text2D", ax.text)  # 3-D axes (surfaces) place 2-D text with text2D
    text(-0.02, 1.02, letter, transform=ax.transAxes, fontsize=12, fontweight="bold", ha="right", va="bottom")
