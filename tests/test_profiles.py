"""Profiles (params/*.yaml) and notebook parameters: every file builds valid configurations, names agree,
and the notebooks receive exactly the validated fields."""

import json
from pathlib import Path

import pytest
import yaml

from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.recipes import recipe_fields
from supermask_lib.experiment.profiles import Profile, check_parameters, notebook_config, profile_configs

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_EXTRAS = {"profile", "out_dir", "progress_bar"}


def _parameters_cell(notebook):
    cells = json.loads((ROOT / "notebooks" / notebook).read_text())["cells"]
    (cell,) = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    values = {}
    exec("".join(cell["source"]), {}, values)
    return values


@pytest.mark.parametrize("path", sorted((ROOT / "params").glob("*.yaml")), ids=lambda p: p.name)
def test_every_profile_file_builds_valid_configurations(path):
    name, dataset = path.stem.rsplit("-", 1)
    if dataset == "queue":  # a queue's cells (the GPU's, the CPU's), not a profile: each cell checked on load
        from supermask_lib.study.queue import load_queue

        assert load_queue(path, ROOT / "params").cells
        return
    if name == "tuning":  # a tuning plan, not a profile: the axis it tunes, its seed and grids
        from supermask_lib.study.tuning import TuningPlan

        assert TuningPlan.load(ROOT / "params", dataset).axis == "tuned"
        return
    profile = Profile.load(ROOT / "params", name, dataset)
    if name == "study":  # a study profile adds its seeds
        assert profile.config.dataset == dataset and len(profile.seeds) >= 5
        assert {"equal_cost", "bn_only", "pure_mask", "random_mask"} <= set(profile.config.phases)
        assert len(profile.config.finetune_lrs) == 3
    elif name == "literature":  # a comparison profile with the published numbers to compare with
        assert all(config.dataset == dataset and config.phases == ("mask",) for config in profile.configs.values())
        assert set(profile.compare_with.values()) <= {"zhou", "zhou-no-dwr", "edge-popup"} and profile.compare_with
    elif name in ("scale", "tuned"):  # the width axes: a study of each width, only the width changing
        from supermask_lib.study.scale import load_axis

        axis, seeds = load_axis(ROOT / "params", dataset, name=name)
        assert len(axis) >= 3 and len(seeds) >= 3 and all(config.test_each_epoch for config in axis.values())
    elif dataset == "estimators":
        assert len(profile.configs) >= 3 and all(config.phases == ("mask",) for config in profile.configs.values())
    else:
        assert profile.config.dataset == dataset  # a profile says everything it means


def test_profile_with_an_unknown_name_is_an_error(tmp_path):
    (tmp_path / "mine-mnist.yaml").write_text("dataset: mnist\nepoch: 2\n")
    with pytest.raises(ValueError, match=r"mine-mnist.yaml: unknown ExperimentConfig fields \['epoch'\]"):
        Profile.load(tmp_path, "mine", "mnist")
    bad_variant = {"base": {"model": "fc"}, "variants": {"a": {"estimator": "threshold"}, "b": {"estmator": "topk"}}}
    with pytest.raises(ValueError, match=r"variant 'b'.*\['estmator'\]"):
        profile_configs(bad_variant, "cmp.yaml")


def test_a_profile_trains_the_dataset_it_is_named_after(tmp_path):
    (tmp_path / "mine-mnist.yaml").write_text("dataset: cifar10\nmodel: fc\n")
    with pytest.raises(ValueError, match=r"mine-mnist.yaml says dataset='cifar10', but its name says 'mnist'"):
        Profile.load(tmp_path, "mine", "mnist")
    (tmp_path / "mine-cifar10.yaml").write_text("dataset: cifar10\nmodel: fc\nseeds: [3, 4]\n")
    study = Profile.load(tmp_path, "mine", "cifar10", overrides={"epochs": 2})
    assert study.seeds == (3, 4) and study.config.seed == 3 and study.config.epochs == 2
    assert Profile.load(tmp_path, "mine", "cifar10", overrides={"seed": 9}).config.seed == 9


def test_a_comparison_profile_is_not_one_experiment():
    profile = Profile.load(ROOT / "params", "tiny", "estimators")
    with pytest.raises(ValueError, match=r"tiny-estimators.yaml is a comparison profile with variants \["):
        profile.config
    parameters = profile.notebook_parameters()  # what the estimators notebook receives, validated
    assert parameters["base"] == {} and set(parameters["variants"]) == set(profile.configs)
    assert profile_configs(parameters, "notebook parameters") == profile.configs


def test_the_notebook_receives_the_validated_configuration_with_recipes_expanded(tmp_path):
    (tmp_path / "mine-mnist.yaml").write_text("recipe: zhou\nmodel: fc\ndataset: mnist\nepochs: 3\n")
    profile = Profile.load(tmp_path, "mine", "mnist")
    namespace = {**profile.notebook_parameters(), "profile": "mine", "out_dir": "runs", "progress_bar": False}
    assert notebook_config(namespace, extras=NOTEBOOK_EXTRAS) == profile.config
    assert profile.config.dynamic_rescaling and profile.config.epochs == 3  # the recipe, then the file's fields


def test_notebook_parameters_are_exactly_the_config_fields():
    cell = _parameters_cell("supermask_experiment.ipynb")
    assert set(cell) - NOTEBOOK_EXTRAS == {*ExperimentConfig.field_names(), "recipe"} and cell["recipe"] is None
    # The defaults are the quick MNIST profile, else the dataclass's own.
    profile = yaml.safe_load((ROOT / "params" / "quick-mnist.yaml").read_text())
    defaults = ExperimentConfig(**profile)
    config = notebook_config(cell, extras=NOTEBOOK_EXTRAS)
    assert config == defaults and cell["profile"] == "quick"


def test_the_notebook_reads_a_recipe_as_a_profile_file_does():
    """papermill -f with `recipe: zhou`, a model and `epochs: 3`: the recipe replaces the cell's defaults and the
    injected parameters override the recipe, as in Profile.load."""
    injected = "# Parameters\nrecipe = \"zhou\"\nmodel = \"fc\"\nbn_momentum = None\nepochs = 3\n"
    cell = {**_parameters_cell("supermask_experiment.ipynb"), "recipe": "zhou", "model": "fc", "bn_momentum": None,
            "epochs": 3, "In": ["", "profile = 'quick'", injected]}
    config = notebook_config(cell, extras=NOTEBOOK_EXTRAS)
    recipe = recipe_fields("zhou")
    assert recipe["epochs"] != 3 and recipe["optimizer"] != cell["optimizer"]  # what the test tells apart
    assert config.epochs == 3 and config.model == "fc"  # injected beside the recipe: they win
    expected = ExperimentConfig(**{**recipe, "model": "fc", "epochs": 3})  # the recipe's fields, normalised
    assert {name: getattr(config, name) for name in recipe} == {name: getattr(expected, name) for name in recipe}
    with pytest.raises(ValueError, match=r"recipe='zhoo' is not allowed"):
        notebook_config({**cell, "recipe": "zhoo"}, extras=NOTEBOOK_EXTRAS)


def test_estimator_notebook_parameters_are_the_quick_profile():
    cell = _parameters_cell("estimators.ipynb")
    profile = yaml.safe_load((ROOT / "params" / "quick-estimators.yaml").read_text())
    assert {"base": cell["base"], "variants": cell["variants"]} == profile


def test_injected_parameters_that_are_not_fields_stop_the_notebook():
    namespace = {**_parameters_cell("supermask_experiment.ipynb"), "epoch": 2, "json": json, "_private": 1}
    with pytest.raises(ValueError, match=r"Unknown notebook parameters \['epoch'\]"):
        notebook_config(namespace, extras=NOTEBOOK_EXTRAS)
    with pytest.raises(ValueError, match=r"Unknown notebook parameters \['optimiser'\]"):
        check_parameters({"base": {}, "optimiser": "sgd"}, ("base",))
