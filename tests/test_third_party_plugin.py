"""A plugin from another distribution, as a user writes one: the README's own example ("Writing a
plugin"), found through its entry point, held to the contract checks, usable from `fit` and
`evaluate`, and recorded in provenance with its version.

The files are the README's code blocks. The distribution is made here as installed metadata (a
``.dist-info`` folder with the README's entry points) on ``sys.path``, which is what ``pip
install`` leaves behind.
"""

from __future__ import annotations

import json
import re
import tomllib

import pytest
from click.testing import CliRunner

from xscale import registry, testing
from xscale.cli import main
from xscale.data.manifest import project_root
from xscale.errors import ConfigError

VARIANTS = '''
import torch
from xscale_quadratic import QuadraticDecoder


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


def readme_file(name: str) -> str:
    """The README code block that starts with the comment ``# my-decoder/<name>``."""
    found = re.search(rf"```\w*\n# my-decoder/{re.escape(name)}\n(.*?)```", (project_root() / "README.md").read_text(),
                      re.S)
    assert found, f"README.md has no code block for my-decoder/{name}"
    return found.group(1)


@pytest.fixture
def quad_plugin(tmp_path, monkeypatch):
    project = tomllib.loads(readme_file("pyproject.toml"))
    (tmp_path / "xscale_quadratic.py").write_text(readme_file("xscale_quadratic.py"))
    (tmp_path / "xscale_quadtest_variants.py").write_text(VARIANTS)
    name, version = project["project"]["name"], project["project"]["version"]
    info = tmp_path / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    points = {**project["project"]["entry-points"]["xscale.decoders"],
              "guarded-test": "xscale_quadtest_variants:GuardedDecoder",
              "positional-test": "xscale_quadtest_variants:PositionalDecoder"}
    (info / "entry_points.txt").write_text("[xscale.decoders]\n" + "".join(f"{k} = {v}\n" for k, v in points.items()))
    monkeypatch.syspath_prepend(str(tmp_path))
    registry._group.cache_clear()
    yield name, version
    registry._group.cache_clear()  # the folder goes with tmp_path


def test_the_readme_contract_test_passes(quad_plugin):
    namespace: dict = {}
    exec(readme_file("test_contract.py"), namespace)
    namespace["test_contract"]()


def test_contract_checks_catch_value_branching(quad_plugin):
    with pytest.raises(AssertionError, match="torch.func.vmap, as the Pyro backends"):
        testing.check_decoder("guarded-test")


def test_a_positional_hyperparameter_is_explained_and_fails_the_contract(quad_plugin):
    with pytest.raises(ConfigError, match=r"keyword-only arguments with defaults, declared after `\*`"):
        registry.resolve_params("decoder", "positional-test", {"quad_scale": 0.5})
    with pytest.raises(AssertionError, match=r"defaulted argument\(s\) \['quad_scale'\] before `\*`"):
        testing.check_decoder("positional-test")  # without params: it would run, never configurable


def test_fit_and_evaluate_record_the_plugin_and_its_version(quad_plugin, tmp_path):
    dist, version = quad_plugin
    run = tmp_path / "run"
    res = CliRunner().invoke(main, ["fit", "--decoder", "quadratic", "--set", "decoder.quad_scale=0.2", "--quick",
                                    "--set", "backend.max_epochs=20", "--folds", "2", "--out", str(run)])
    assert res.exit_code == 0, res.output
    prov = json.loads((run / "provenance.json").read_text())
    assert prov["plugins"]["decoder"] == {"name": "quadratic", "implementation": "xscale_quadratic:QuadraticDecoder",
                                          "distribution": dist, "version": version}
    assert prov["plugins"]["backend"]["distribution"] == "xscale-gnn" and prov["packages"][dist] == version
    assert json.loads((run / "config.json").read_text())["decoder"] == {"quad_scale": 0.2}

    model = "gnn/laplacian/quadratic/adam"
    ev = tmp_path / "ev"
    res = CliRunner().invoke(main, ["evaluate", "--models", f"ridge,{model}", "--cv", "in-sample", "--n-null", "0",
                                    "--quick", "--set", "backend.max_epochs=20", "--out", str(ev)])
    assert res.exit_code == 0, res.output
    result = json.loads((ev / "results.json").read_text())
    assert [r["model"] for r in result["rows"]] == ["ridge", model]
    assert result["plugins"][model]["decoder"]["version"] == version and result["packages"][dist] == version
    assert result["plugins"]["ridge"]["backend"]["distribution"] == "xscale-baselines"
