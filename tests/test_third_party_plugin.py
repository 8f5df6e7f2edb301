"""A plugin from another distribution, as a user writes one: found through its entry point, held to
the contract checks, usable from `fit` and `evaluate`, and recorded in provenance with its version.

The distribution is made here as installed metadata (a ``.dist-info`` folder with
``entry_points.txt``) on ``sys.path``, which is what ``pip install`` leaves behind.
"""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

from xscale import registry, testing
from xscale.cli import main
from xscale.errors import ConfigError

MODULE = '''
import torch
from xscale.interfaces import Decoder


class QuadraticDecoder(Decoder):
    """y_r = w . z_r + quad_scale * v . z_r**2 + b."""

    def __init__(self, latent_dim, /, *, quad_scale: float = 0.1):
        super().__init__()
        self.latent_dim, self.quad_scale = latent_dim, quad_scale
        self.linear = torch.nn.Linear(latent_dim, 1)
        self.square = torch.nn.Linear(latent_dim, 1, bias=False)

    def forward(self, z):
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"QuadraticDecoder: expected z of shape (R, {self.latent_dim}), got {tuple(z.shape)}")
        return (self.linear(z) + self.quad_scale * self.square(z * z)).squeeze(-1)


class GuardedDecoder(QuadraticDecoder):
    """Branches on tensor values: fine in a plain call, not under torch.func.vmap."""

    def forward(self, z):
        if not torch.isfinite(z).all():
            raise ValueError("non-finite latent values")
        return super().forward(z)


class PositionalDecoder(QuadraticDecoder):
    def __init__(self, latent_dim, quad_scale=0.1):
        super().__init__(latent_dim, quad_scale=quad_scale)
'''

DIST, VERSION = "xscale-quadtest", "9.8.7"


@pytest.fixture
def quad_plugin(tmp_path, monkeypatch):
    (tmp_path / "xscale_quadtest.py").write_text(MODULE)
    info = tmp_path / "xscale_quadtest-9.8.7.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {DIST}\nVersion: {VERSION}\n")
    (info / "entry_points.txt").write_text(textwrap.dedent("""\
        [xscale.decoders]
        quad-test = xscale_quadtest:QuadraticDecoder
        guarded-test = xscale_quadtest:GuardedDecoder
        positional-test = xscale_quadtest:PositionalDecoder
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    registry._group.cache_clear()
    yield tmp_path
    registry._group.cache_clear()  # the folder goes with tmp_path


def test_contract_checks_pass_a_good_decoder_and_catch_value_branching(quad_plugin):
    testing.check_decoder("quad-test", params={"quad_scale": 0.5})
    with pytest.raises(AssertionError, match="torch.func.vmap, as the Pyro backends"):
        testing.check_decoder("guarded-test")


def test_a_positional_hyperparameter_is_explained_and_fails_the_contract(quad_plugin):
    with pytest.raises(ConfigError, match=r"keyword-only arguments with defaults, declared after `\*`"):
        registry.resolve_params("decoder", "positional-test", {"quad_scale": 0.5})
    with pytest.raises(AssertionError, match=r"defaulted argument\(s\) \['quad_scale'\] before `\*`"):
        testing.check_decoder("positional-test")  # without params: it would run, never configurable


def test_fit_and_evaluate_record_the_plugin_and_its_version(quad_plugin, tmp_path):
    run = tmp_path / "run"
    res = CliRunner().invoke(main, ["fit", "--decoder", "quad-test", "--set", "decoder.quad_scale=0.2", "--quick",
                                    "--set", "backend.max_epochs=20", "--folds", "2", "--out", str(run)])
    assert res.exit_code == 0, res.output
    prov = json.loads((run / "provenance.json").read_text())
    assert prov["plugins"]["decoder"] == {"name": "quad-test", "implementation": "xscale_quadtest:QuadraticDecoder",
                                          "distribution": DIST, "version": VERSION}
    assert prov["plugins"]["backend"]["distribution"] == "xscale-gnn" and prov["packages"][DIST] == VERSION
    assert json.loads((run / "config.json").read_text())["decoder"] == {"quad_scale": 0.2}

    model = "gnn/laplacian/quad-test/adam"
    ev = tmp_path / "ev"
    res = CliRunner().invoke(main, ["evaluate", "--models", f"ridge,{model}", "--cv", "in-sample", "--n-null", "0",
                                    "--quick", "--set", "backend.max_epochs=20", "--out", str(ev)])
    assert res.exit_code == 0, res.output
    result = json.loads((ev / "results.json").read_text())
    assert [r["model"] for r in result["rows"]] == ["ridge", model]
    assert result["plugins"][model]["decoder"]["version"] == VERSION and result["packages"][DIST] == VERSION
    assert result["plugins"]["ridge"]["backend"]["distribution"] == "xscale-baselines"
