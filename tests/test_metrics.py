"""R^2 and Pearson r on the real maps."""

from __future__ import annotations

import numpy as np
import pytest

from xscale.data.atlas import load_atlas
from xscale.data.targets import load_target
from xscale.evaluate.metrics import pearson, r2_score, score

Y = load_target("enigma:scz", load_atlas().regions).values
Z = load_target("enigma:bd", load_atlas().regions).values


def test_r2_reference_points():
    assert r2_score(Y, Y) == 1.0
    assert r2_score(Y, np.full_like(Y, Y.mean())) == pytest.approx(0.0, abs=1e-12)
    assert r2_score(Y, Y + 10) < 0


def test_r2_and_r_against_numpy():
    r, p = pearson(Y, Z)
    assert r == pytest.approx(np.corrcoef(Y, Z)[0, 1])
    assert 0 <= p < 0.05
    lin = np.polyval(np.polyfit(Z, Y, 1), Z)
    assert r2_score(Y, lin) == pytest.approx(r**2)
    assert score(Y, Z)["n"] == 68


def test_bad_inputs():
    with pytest.raises(ValueError, match="finite"):
        r2_score(np.array([1.0, np.nan]), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="68 values, predicted 3"):
        r2_score(Y, Y[:3])
    assert np.isnan(pearson(Y, np.ones_like(Y))[0])
