"""One definition of every hyperparameter: the dataclass, its defaults, values, run names and arms.

(The profiles and the notebooks' parameters that must agree with it: test_profiles.)"""

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest

from supermask_lib.experiment.config import ExperimentConfig


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


def test_every_field_has_a_dataclass_default():
    # A field without a default could not be left out of a profile.
    assert all(f.default is not dataclasses.MISSING for f in dataclasses.fields(ExperimentConfig))


def test_every_image_has_one_normal_form():
    """train_size=1.0 and None (and test_size) mean the same computation: one run name, not two."""
    for field in ("train_size", "test_size"):
        assert getattr(ExperimentConfig(**{field: 1.0}), field) is None
        assert ExperimentConfig(**{field: 1.0}).run_name("d") == ExperimentConfig(**{field: None}).run_name("d")
    assert ExperimentConfig(train_size=1).train_size == 1  # one image is a count, not a fraction
