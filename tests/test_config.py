"""One definition of every hyperparameter: the dataclass, the profiles and the notebooks agree."""

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from supermask_lib import literature
from supermask_lib.config import ExperimentConfig
from supermask_lib.profiles import Profile, check_parameters, notebook_config, profile_configs

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_EXTRAS = {"profile", "out_dir", "progress_bar"}


def _parameters_cell(notebook):
    cells = json.loads((ROOT / "notebooks" / notebook).read_text())["cells"]
    (cell,) = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    values = {}
    exec("".join(cell["source"]), {}, values)
    return values


def test_config_defaults_are_the_study():
    config = ExperimentConfig()
    assert (config.learning_rate, config.finetune_lr, config.batch_size, config.epochs) == (0.01, 1e-5, 128, 30)
    assert (config.lr_patience, config.lr_factor, config.estimator, config.score_init) == (2, 0.1, "threshold", 1.0)
    assert config.train_batchnorm and config.mask_bias and config.phases == ("mask", "weights", "mix")
    assert ExperimentConfig.from_dict(config.to_dict()) == config


def test_values_are_normalised_to_plain_python():
    config = ExperimentConfig(model="fc", learning_rate=np.float32(0.5), train_size=np.int64(300),
                              seed=np.uint32(7), mask_bias=np.bool_(False), phases=["mask", "weights"],
                              data_dir=Path("/data"), score_init=np.float64(2))
    assert type(config.learning_rate) is float and config.learning_rate == 0.5
    assert type(config.train_size) is int and type(config.seed) is int and config.mask_bias is False
    assert config.phases == ("mask", "weights") and config.data_dir == "/data" and config.score_init == 2.0
    json.dumps(config.to_dict())  # what passes the constructor always writes to JSON
    assert config.identity() == ExperimentConfig.from_dict(json.loads(json.dumps(config.to_dict()))).identity()


def test_run_name_depends_on_hyperparameters_and_data_not_on_data_location():
    a = ExperimentConfig(model="fc", data_dir="/a")
    assert a.run_name("d1") == a.replace(data_dir="/b").run_name("d1")
    assert a.run_name("d1") != a.replace(seed=1).run_name("d1")
    assert a.run_name("d1") != a.run_name("d2")  # other data: another run
    assert re.fullmatch(r"cifar10-fc-threshold-[0-9a-f]{10}", a.run_name("d1"))


def test_fields_added_later_keep_older_run_names_at_their_default():
    config = ExperimentConfig(model="fc")
    assert "max_steps_per_epoch" not in config.identity()  # runs stored before the field keep their names
    capped = config.replace(max_steps_per_epoch=2)
    assert capped.identity()["max_steps_per_epoch"] == 2 and capped.run_name("d") != config.run_name("d")


def test_each_arm_trains_its_epochs_at_its_rate():
    config = ExperimentConfig(model="wrn-10-1", epochs=7, mix_epochs=3, finetune_lrs=(1e-3,), mask_lr=0.05,
                              phases=("mask", "weights", "mix", "equal_cost", "bn_only", "random_mask"))
    assert {arm.name: arm.epoch_count(config) for arm in config.arm_records()} == {
        "mask": 7, "weights": 7, "mix": 3, "equal_cost": 10, "bn_only": 7, "random_mask": 3, "mix_lr0.001": 3}
    assert {arm.name: arm.learning_rate(config) for arm in config.arm_records()} == {
        "mask": 0.05, "weights": 0.01, "mix": 1e-5, "equal_cost": 0.01, "bn_only": 0.05, "random_mask": 1e-5,
        "mix_lr0.001": 1e-3}
    assert config.replace(mask_lr=None).arm("mask").learning_rate(config.replace(mask_lr=None)) == 0.01
    with pytest.raises(ValueError, match=r"arm='pure_mask' is not an arm of this configuration; it has \['mask'"):
        config.arm("pure_mask")


def test_fine_tuning_rates_that_name_the_same_arm_are_an_error():
    with pytest.raises(ValueError, match=r"finetune_lrs=.* distinct learning rates \(their arms \['mix_lr0.001', "
                                         r"'mix_lr0.001'\] must differ"):
        ExperimentConfig(finetune_lrs=(1e-3, 1.0000001e-3))


def test_unknown_fields_are_errors_naming_the_source():
    with pytest.raises(ValueError, match=r"profile.yaml: unknown ExperimentConfig fields \['epoch'\]"):
        ExperimentConfig.from_dict({"epoch": 3}, source="profile.yaml")


@pytest.mark.parametrize("path", sorted((ROOT / "params").glob("*.yaml")), ids=lambda p: p.name)
def test_every_profile_file_builds_valid_configurations(path):
    name, dataset = path.stem.rsplit("-", 1)
    profile = Profile.load(ROOT / "params", name, dataset)
    if name == "study":  # a study profile adds its seeds
        assert profile.config.dataset == dataset and len(profile.seeds) >= 5
        assert {"equal_cost", "bn_only", "pure_mask", "random_mask"} <= set(profile.config.phases)
        assert len(profile.config.finetune_lrs) == 3
    elif name == "literature":  # a comparison profile with the published numbers to compare with
        assert all(config.dataset == dataset and config.phases == ("mask",) for config in profile.configs.values())
        assert set(profile.compare_with.values()) <= {"zhou", "zhou-no-dwr", "edge-popup"} and profile.compare_with
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
    assert set(cell) - NOTEBOOK_EXTRAS == set(ExperimentConfig.field_names())
    # The defaults are the quick MNIST profile, else the dataclass's own.
    profile = yaml.safe_load((ROOT / "params" / "quick-mnist.yaml").read_text())
    defaults = ExperimentConfig(**profile)
    config = notebook_config(cell, extras=NOTEBOOK_EXTRAS)
    assert config == defaults and cell["profile"] == "quick"


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


def test_every_field_has_a_dataclass_default():
    # A field without a default could not be left out of a profile.
    assert all(f.default is not dataclasses.MISSING for f in dataclasses.fields(ExperimentConfig))
