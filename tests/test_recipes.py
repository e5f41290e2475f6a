"""The literature's recipes: each is its fields, given fields override it, and each builds every kind of network.

What the recipes need is tested beside the code that does it: signed-constant weights in
test_initializers, non-affine BatchNorm in test_models, dynamic weight rescaling and score decay
in test_layers, pad-and-crop and pixel ranges in test_data, the cosine schedule in test_engine,
sampled test masks in test_experiment."""

import pytest

import supermask_lib as sm
from supermask_lib import recipes
from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.models import get_model
from supermask_lib.experiment.profiles import profile_configs


def test_a_recipe_is_its_fields_and_given_fields_override_it():
    config = ExperimentConfig.from_recipe("zhou", model="fc", epochs=50)
    expected = recipes.RECIPES["zhou"].fields
    assert config.epochs == 50
    for name, value in expected.items():
        if name != "epochs":
            assert getattr(config, name) == (tuple(value) if isinstance(value, list) else value), name
    (from_profile,) = profile_configs({"recipe": "zhou", "model": "fc", "epochs": 50}, "p.yaml").values()
    assert from_profile == config
    variants = profile_configs({"base": {"model": "fc", "epochs": 3},
                                "variants": {"a": {"recipe": "edge-popup"}, "b": {"recipe": "zhou", "epochs": 4}}},
                               "p.yaml")
    assert (variants["a"].epochs, variants["a"].lr_schedule, variants["b"].epochs) == (3, "cosine", 4)


@pytest.mark.parametrize("name", sorted(recipes.RECIPES))
@pytest.mark.parametrize("model", ["fc", "conv2", "wrn-10-1"])
def test_every_recipe_builds_every_kind_of_network(name, model):
    config = ExperimentConfig.from_recipe(name, model=model, dataset="cifar10")
    network = get_model(model, input_shape=(32, 32, 3), **config.model_arguments(), **config.mask_arguments())
    assert len(sm.masked_layers(network)) >= 3
