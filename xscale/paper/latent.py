"""Fig 4: the learned latent programs: low-dimensional views, region clusters, gene modules.

A model's latent space (``latent.csv``: the in-sample fit's posterior mean per region, R x K) has
no preferred axes (the GCN-VAE's 64 dimensions can be rotated freely), so "programs" here are
its principal components, each oriented to correlate positively with the thinning map. A
program's gene module is the set of landmark genes whose expression (as the model saw it,
z-scored per region) correlates most strongly with the program across regions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import AgglomerativeClustering
from sklearn.manifold import TSNE
from sklearn.metrics import adjusted_rand_score, silhouette_score

from xscale.data.atlas import lobe_of
from xscale.data.brain import load_brain_data
from xscale.paper.runs import Run

#: Programs (principal components of the latent space) shown and given gene modules.
N_PROGRAMS = 4
#: Genes per module.
MODULE_SIZE = 6


def _corr_columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(Ka, Kb) Pearson r between the columns of ``a`` (n, Ka) and ``b`` (n, Kb)."""
    za = (a - a.mean(axis=0)) / a.std(axis=0)
    zb = (b - b.mean(axis=0)) / b.std(axis=0)
    return za.T @ zb / len(a)


def programs(latent: np.ndarray, thinning: np.ndarray, n: int = N_PROGRAMS) -> tuple[np.ndarray, np.ndarray]:
    """Principal components of a latent space, oriented to correlate positively with thinning.

    Parameters
    ----------
    latent : (R, K) ndarray
    thinning : (R,) ndarray
        NaN regions are ignored for the orientation.
    n : int
        At most K.

    Returns
    -------
    scores : (R, n) ndarray
        Program score of each region.
    explained : (n,) ndarray
        Share of the latent variance on each program.

    Raises
    ------
    ValueError
        If the latent space has no variance.
    """
    z = np.asarray(latent, dtype=float)
    z = z - z.mean(axis=0)
    u, s, _ = np.linalg.svd(z, full_matrices=False)
    if s.sum() == 0:
        raise ValueError("programs: the latent space is constant across regions")
    n = min(n, z.shape[1])
    scores = u[:, :n] * s[:n]
    ok = np.isfinite(thinning)
    sign = np.sign([np.corrcoef(scores[ok, i], thinning[ok])[0, 1] for i in range(n)])
    return scores * np.where(sign == 0, 1, sign), (s[:n] ** 2) / (s ** 2).sum()


def tsne(latent: np.ndarray, seed: int = 0) -> np.ndarray:
    """(R, 2) t-SNE embedding of the regions' latent vectors (perplexity 15, PCA start, seeded)."""
    z = np.asarray(latent, dtype=float)
    return TSNE(n_components=2, perplexity=min(15.0, (len(z) - 1) / 3), init="pca", random_state=seed,
                max_iter=1000).fit_transform(z - z.mean(axis=0))


def clusters(latent: np.ndarray, k_range: range = range(2, 9)) -> tuple[np.ndarray, int, float]:
    """Ward clustering of regions by latent similarity; the number of clusters by silhouette.

    Returns
    -------
    labels : (R,) int ndarray
    k : int
    silhouette : float
        Mean silhouette width of the chosen clustering (-1 to 1).
    """
    z = np.asarray(latent, dtype=float)
    z = z - z.mean(axis=0)
    best = None
    for k in k_range:
        labels = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(z)
        s = float(silhouette_score(z, labels))
        if best is None or s > best[2]:
            best = (labels, k, s)
    return best


def gene_program_r(scores: np.ndarray, expression: pd.DataFrame) -> pd.DataFrame:
    """Pearson r across regions between each gene's expression and each program's score.

    Parameters
    ----------
    scores : (R, P) ndarray
    expression : (R, G) DataFrame
        Columns are gene symbols.

    Returns
    -------
    (G, P) DataFrame
        Indexed by gene, columns ``1 .. P``.
    """
    r = _corr_columns(expression.to_numpy(dtype=float), scores)
    return pd.DataFrame(r, index=expression.columns, columns=range(1, scores.shape[1] + 1))


def gene_modules(gene_r: pd.DataFrame, size: int = MODULE_SIZE) -> pd.DataFrame:
    """The ``size`` genes with the largest |r| for each program: its gene module.

    Parameters
    ----------
    gene_r : (G, P) DataFrame
        :func:`gene_program_r`.
    size : int

    Returns
    -------
    (P * size, 3) DataFrame
        ``program``, ``gene``, ``r``; within a program by decreasing |r|.
    """
    rows = []
    for p in gene_r.columns:
        top = gene_r[p].abs().sort_values(ascending=False).index[:size]
        rows += [{"program": int(p), "gene": g, "r": float(gene_r.loc[g, p])} for g in top]
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class LatentView:
    """Everything Fig 4 draws for one model's latent space.

    Attributes
    ----------
    model : str
    regions : tuple of str, length R
    thinning : (R,) ndarray
    scores : (R, P) ndarray
    explained : (P,) ndarray
    embedding : (R, 2) ndarray
        t-SNE.
    labels : (R,) int ndarray
        Cluster of each region.
    k : int
    silhouette : float
    ari_lobes : float
        Adjusted Rand index between the clusters and the lobes (0 = unrelated, 1 = identical).
    gene_r : (G, P) DataFrame
        :func:`gene_program_r`.
    modules : DataFrame
        :func:`gene_modules`.
    program_r : (P,) ndarray
        Pearson r of each program with the thinning map.
    latent_dim : int
    """

    model: str
    regions: tuple[str, ...]
    thinning: np.ndarray
    scores: np.ndarray
    explained: np.ndarray
    embedding: np.ndarray
    labels: np.ndarray
    k: int
    silhouette: float
    ari_lobes: float
    gene_r: pd.DataFrame
    modules: pd.DataFrame
    program_r: np.ndarray
    latent_dim: int


def latent_view(run: Run, seed: int = 0) -> LatentView:
    """Programs, t-SNE, clusters and gene modules of a run's latent space.

    Parameters
    ----------
    run : Run
        A latent-variable model's run (``latent.csv`` with K >= 2).
    seed : int
        For t-SNE.

    Returns
    -------
    LatentView

    Raises
    ------
    ValueError
        If the latent has fewer than 2 dimensions.
    """
    lat = run.latent
    if lat.shape[1] < 2:
        raise ValueError(f"{run.path / 'latent.csv'}: {lat.shape[1]} latent dimension(s); Fig 4 needs at least 2")
    regions = tuple(lat.index)
    z = lat.to_numpy(dtype=float)
    y = run.predictions.set_index("region").loc[list(regions), "observed"].to_numpy(dtype=float)
    scores, explained = programs(z, y)
    labels, k, sil = clusters(z)
    d = run.config["data"]
    data, _ = load_brain_data(None, d["panel"], d["missing_regions"], d["normalise"])
    expr = pd.DataFrame(data.expression.numpy(), index=data.regions, columns=data.genes).loc[list(regions)]
    ok = np.isfinite(y)
    program_r = np.array([np.corrcoef(scores[ok, i], y[ok])[0, 1] for i in range(scores.shape[1])])
    gene_r = gene_program_r(scores, expr)
    return LatentView(run.model, regions, y, scores, explained, tsne(z, seed), labels, k, sil,
                      float(adjusted_rand_score(lobe_of(regions), labels)), gene_r, gene_modules(gene_r), program_r,
                      z.shape[1])
