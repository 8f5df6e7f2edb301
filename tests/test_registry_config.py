"""Plugin registry and configuration resolution."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from xscale import config, registry
from xscale.errors import ConfigError, IncompatibleModelError, PluginNotFoundError
from xscale.fitting import check_compatible
from xscale.interfaces import Backend, ModelSpec


def test_installed_plugins_are_found():
    assert "gnn" in registry.available("encoder")
    assert "adam" in registry.available("backend")
    with pytest.raises(ValueError, match="unknown plugin kind"):
        registry.available("sampler")


def test_unknown_plugin_lists_available():
    with pytest.raises(PluginNotFoundError, match=r"no encoder plugin named 'transformer'.*available: .*gnn"):
        registry.load("encoder", "transformer")


def test_a_misspelt_plugin_or_preset_gets_the_closest_name_not_an_install_hint():
    with pytest.raises(PluginNotFoundError, match=r"'adamw'.*Did you mean 'adam'\?") as err:
        registry.load("backend", "adamw")
    assert "pip install" not in str(err.value)
    with pytest.raises(PluginNotFoundError, match="install it, e.g. `pip install"):
        registry.load("backend", "transformer")
    with pytest.raises(ConfigError, match=r"unknown model preset 'gnnvae'.*Did you mean 'gnn-vae'\?"):
        config.build(preset="gnnvae")


def test_preset_aliases_work_wherever_a_preset_does():
    """The issue's names (``gnn``, ``pyro-gp``) for fit and reproduce as for evaluate, recorded as the preset."""
    for alias, name in config.PRESET_ALIASES.items():
        assert config.resolve(config.build(preset=alias)) == config.resolve(config.build(preset=name))
        assert config.preset_name(alias) == name


def test_unknown_hyperparameter_lists_valid_ones():
    with pytest.raises(ConfigError, match=r"prior 'laplacian' has no hyperparameter\(s\) \['lambda'\].*smoothness"):
        registry.resolve_params("prior", "laplacian", {"lambda": 0.2})


def test_resolved_config_states_every_default():
    cfg = config.resolve(config.build(sets=["prior.smoothness=0.5", "seed=3"]))
    assert cfg["seed"] == 3
    assert cfg["prior"] == {"smoothness": 0.5, "kl_weight": 1.0, "edge_reduction": "mean", "kl_reduction": "mean"}
    assert cfg["backend"]["lr"] == 1e-3 and cfg["encoder"]["latent_dim"] == 64
    spec = config.model_spec(cfg)
    assert spec.prior_params["smoothness"] == 0.5


def test_quick_lowers_epochs_unless_set_explicitly():
    assert config.resolve(config.build(quick=True))["backend"]["max_epochs"] == 300
    cfg = config.resolve(config.build(quick=True, sets=["backend.max_epochs=50"]))
    assert cfg["backend"]["max_epochs"] == 50


def test_config_file_and_errors(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("target: enigma:bd\ndata: {panel: all}\ncv: {folds: 3}\n")
    cfg = config.resolve(config.build(f))
    assert (cfg["target"], cfg["data"]["panel"], cfg["cv"]["folds"]) == ("enigma:bd", "all", 3)
    f.write_text("data: {pannel: all}\n")
    with pytest.raises(ConfigError, match="unknown configuration key 'data.pannel'"):
        config.build(f)
    with pytest.raises(ConfigError, match="data.missing_regions='guess'"):
        config.resolve(config.build(sets=["data.missing_regions=guess"]))
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        config.parse_set(["seed"])


def test_incompatible_prior_fails_before_training(monkeypatch):
    class GPOnly(Backend):
        compatible_priors = ("gp",)

        def fit(self, data, components, train_mask, seed):
            raise AssertionError("never reached")

    real = registry.load
    monkeypatch.setattr(registry, "load", lambda kind, name: GPOnly if kind == "backend" else real(kind, name))
    with pytest.raises(IncompatibleModelError, match=r"cannot fit prior 'laplacian'; it works with priors \['gp'\]"):
        check_compatible(ModelSpec())


def test_model_section_and_slug_of_presets_aliases_and_combinations():
    assert config.model_section("gnn") == {"encoder": "gnn", "prior": "laplacian", "decoder": "mlp", "backend": "adam"}
    assert config.model_section("ridge") == {"encoder": None, "prior": None, "decoder": None, "backend": "ridge"}
    assert config.model_section(" gnn / gp / linear / svi ")["prior"] == "gp"
    assert (config.model_slug("gnn-vae"), config.model_slug("gnn/laplacian/mlp/adam")) == \
        ("gnn-vae", "gnn+laplacian+mlp+adam")
    with pytest.raises(ConfigError, match="unknown model preset"):
        config.model_section("gnn-vea")


def test_a_combination_may_be_given_in_its_folder_form():
    assert config.combination("gnn+laplacian+mlp+adam") == config.combination("gnn/laplacian/mlp/adam")
    assert config.preset_name("gnn+laplacian+mlp+adam") == "gnn/laplacian/mlp/adam"
    with pytest.raises(ConfigError, match="four plugin names"):
        config.combination("gnn+mlp")


def test_a_list_is_accepted_for_a_tuple_hyperparameter_and_resolving_is_idempotent():
    """YAML, JSON and --set have lists, not tuples: config.json read back resolves to the same configuration."""
    import json

    cfg = config.resolve(config.build(sets=["backend.alphas=[1.0, 10.0]"], preset="ridge"))
    assert cfg["backend"]["alphas"] == (1.0, 10.0)
    assert config.resolve(json.loads(config.dumps(cfg))) == cfg
    with pytest.raises(ConfigError, match="expected tuple"):
        config.resolve(config.build(sets=["backend.alphas=3"], preset="ridge"))


def test_a_plugin_name_two_distributions_register_is_refused_naming_both(monkeypatch):
    original, real = registry._group, registry._group("xscale.decoders")
    ours = next(ep for ep in real if ep.name == "mlp")

    class Dist:  # what importlib.metadata gives an entry point: its distribution's name
        name = "xscale-other"

    twin = EntryPoint(ours.name, ours.value, ours.group)._for(Dist())  # same name and class, another distribution
    monkeypatch.setattr(registry, "_group", lambda group: real + (twin,) if group == "xscale.decoders"
                        else original(group))
    both = r"xscale_gnn\.decoder:\w+ from xscale-gnn; xscale_gnn\.decoder:\w+ from xscale-other"
    with pytest.raises(ConfigError, match=r"decoder plugin name 'mlp' .* registered more than once: " + both):
        registry.load("decoder", "mlp")
    assert registry.load("decoder", "linear").__name__ == "LinearDecoder", "other names still load"
