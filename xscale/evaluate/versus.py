"""Gain of a gene model over the spatial-only model, with its null p-value from the same surrogates.

A spatial-null p below 0.05 does not by itself show that genes matter. A model of the region
centroids alone, with no genes (the ``spatial-gp`` baseline), also beats most surrogate maps of a
real cortical map: the surrogates keep the map's short-range autocorrelation, not all of its
large-scale layout, which smoothing over centroids exploits (the done-when run in the README:
spatial-gp consensus p(r) 0.048 on the schizophrenia map). What the genes must show is that they
predict unseen cortex better than space does.

So, for each gene model and CV scheme, on the same folds as the spatial-only model:

* the gain ``delta_r = r(model) - r(spatial-only)`` and ``delta_r2`` (R^2 likewise);
* per surrogate family, its null: the same gain on every surrogate map, both models refitted on
  that surrogate (an evaluation refits every model on the same surrogates, so surrogate i's gain
  pairs the two models' fits to surrogate i), and the one-sided
  ``p = (1 + #{null gain >= gain}) / (1 + n)`` (:func:`xscale.evaluate.nulls.p_value`);
* the consensus: the largest p over the spatial families, as for the scores themselves.

How to read it: a small p says that the gain exceeds what maps related to the genes by nothing
but spatial autocorrelation give the gene model over the spatial-only one; it is evidence for the
genes only when the gain is positive (if the spatial-only model usually wins on surrogates, a
negative gain can still get a small p). A large p is inconclusive, not proof that the genes add
nothing: with 68 regions a modest gain cannot be told apart from the surrogates' spread. The p
inherits the calibration of each surrogate family (``tests/test_nulls.py``); it was not
calibrated separately.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from xscale.evaluate.nulls import SPATIAL_NULLS, consensus_p, p_value

#: Null draws of one (model, scheme, family): out-of-sample r and R^2, (N,) each, in draw order.
Nulls = tuple[np.ndarray, np.ndarray]


def gain_over_space(score: Mapping[str, float], reference_score: Mapping[str, float],
                    nulls: Mapping[str, Nulls], reference_nulls: Mapping[str, Nulls], reference: str) -> dict:
    """A gene model's gain over the spatial-only model under one CV scheme, with null p-values.

    Parameters
    ----------
    score, reference_score : mapping
        ``r`` and ``r2`` of the gene model and of the spatial-only model on the real map (same
        scheme, same folds).
    nulls, reference_nulls : mapping of str to (r (N,) ndarray, R^2 (N,) ndarray)
        Per surrogate family, the two models' scores on the same N surrogate maps, in draw order.
        Families missing from either side are left out.
    reference : str
        The spatial-only model's name (recorded).

    Returns
    -------
    dict
        ``reference``, ``delta_r``, ``delta_r2``; ``p``: per family ``p_r``, ``p_r2``, ``n`` and
        ``n_r2`` (the surrogates with a finite gain in r, in R^2); ``consensus_p_r`` and
        ``consensus_p_r2`` (largest p over the spatial families; None without one).

    Raises
    ------
    ValueError
        If the two models' null draws of a family differ in number (not the same surrogates).
    """
    delta_r = float(score["r"]) - float(reference_score["r"])
    delta_r2 = float(score["r2"]) - float(reference_score["r2"])
    p = {}
    for family in nulls:
        if family not in reference_nulls:
            continue
        (r, r2), (ref_r, ref_r2) = nulls[family], reference_nulls[family]
        if len(r) != len(ref_r) or len(r2) != len(ref_r2):
            raise ValueError(f"gain_over_space: family {family!r} has {len(r)} null draws for the model and "
                             f"{len(ref_r)} for {reference}; expected the same surrogates for both")
        if not len(r):
            continue
        null_r, null_r2 = np.asarray(r) - np.asarray(ref_r), np.asarray(r2) - np.asarray(ref_r2)
        p[family] = {"p_r": p_value(delta_r, null_r), "p_r2": p_value(delta_r2, null_r2),
                     "n": int(np.isfinite(null_r).sum()), "n_r2": int(np.isfinite(null_r2).sum())}
    spatial = [f for f in p if f in SPATIAL_NULLS]
    return {"reference": reference, "delta_r": delta_r, "delta_r2": delta_r2, "p": p,
            "consensus_p_r": consensus_p([p[f]["p_r"] for f in spatial]),
            "consensus_p_r2": consensus_p([p[f]["p_r2"] for f in spatial])}
