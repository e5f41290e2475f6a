"""The compute of each profile against the post's, and the training time per profile and device, by hand."""

import json
from pathlib import Path

import keras
import pandas as pd
import pytest

from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.experiment.profiles import Profile
from supermask_lib.models import forward_macs
from supermask_lib.report.chapters import compute

ROOT = Path(__file__).resolve().parents[1]


def two_layer_net():
    """A 3x3 conv (1 -> 4 channels, 'valid') on 6x6x1 images, global pooling, dense 4 -> 3."""
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(4, 3, padding="valid")(inputs)  # a 4x4 output, 3*3*1*4 = 36 weights at each of 16 places
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3)(x))  # 4*3 = 12 weights once


def test_a_two_layer_net_is_counted_by_hand_and_its_training_is_images_times_epochs():
    macs = forward_macs(two_layer_net())
    assert macs == 36 * 16 + 12
    assert compute.training_macs(macs, 100, 7) == (36 * 16 + 12) * 100 * 7
    with pytest.raises(ValueError, match=r"images=-1 is not allowed: give a non-negative integer"):
        compute.training_macs(macs, -1, 7)
    with pytest.raises(ValueError, match=r"epochs=2.5 is not allowed"):
        compute.training_macs(macs, 1, 2.5)


def test_a_ratio_is_network_times_images_times_epochs():
    """A post of 3 phases x 30 epochs on 1,000 images of a 10-MAC net, against 2 + 2 + 1 epochs on 100 images
    of a 2-MAC net (and equal_cost's 2 + 1 more)."""
    post = ExperimentConfig(dataset="mnist", model="wrn-28-8", epochs=30, mix_epochs=30, train_size=1000)
    ours = ExperimentConfig(dataset="mnist", model="wrn-10-1", epochs=2, mix_epochs=1, train_size=100,
                            phases=("mask", "weights", "mix", "equal_cost"))
    macs = {"wrn-28-8": 10, "wrn-10-1": 2}
    row = compute.compute_row(ours, 100, post, 1000, macs=lambda model, dataset: macs[model])
    assert (row["network ratio"], row["images ratio"]) == (5.0, 10.0)
    assert row["epochs, the post's phases"] == 5 and row["epochs, every arm"] == 5 + 3  # equal_cost: 2 + 1
    assert row["post / ours, the post's phases"] == pytest.approx(10 * 1000 * 90 / (2 * 100 * 5))
    assert row["post / ours, every arm"] == pytest.approx(10 * 1000 * 90 / (2 * 100 * 8))


def test_train_images_are_the_setting_or_the_published_set_when_validating_on_test():
    assert compute.train_images(ExperimentConfig(dataset="cifar10", train_size=4000)) == 4000
    assert compute.train_images(ExperimentConfig(dataset="cifar10", train_size=None, validation="test")) == 50_000
    with pytest.raises(ValueError, match="train_size=None with validation='holdout'"):
        compute.train_images(ExperimentConfig(dataset="cifar10", train_size=None, validation="holdout"))


def test_the_post_against_the_study_on_cifar10_is_counted_from_the_built_networks():
    """WRN-28-8 against WRN-10-1 on 32x32x3, WRN-10-1 counted layer by layer."""
    # WRN-10-1: conv 3x3x3x16 at 32x32; group 1 (16 ch, 32x32) two 3x3x16x16; group 2 (16x16) 3x3x16x32,
    # 3x3x32x32 and a 1x1 16x32 shortcut; group 3 (8x8) 3x3x32x64, 3x3x64x64, 1x1 32x64; dense 64x10.
    wrn_10_1 = (432 * 1024 + 2 * 2304 * 1024 + (4608 + 9216 + 512) * 256 + (18432 + 36864 + 2048) * 64 + 640)
    assert compute.network_macs("wrn-10-1", "cifar10") == wrn_10_1
    table, numbers = compute.compute_table(ROOT / "params", ROOT / "results" / "gpu")
    post = numbers["compute_post_macs_cifar10"]
    assert numbers["compute_network_ratio_study_cifar10"] == pytest.approx(post / wrn_10_1)
    study = table.loc[("study", "cifar10", "wrn-10-1")]
    assert study["training images"] == 4000 and study["epochs, the post's phases"] == 20 + 20 + 5
    assert numbers["compute_ratio_study_cifar10"] == pytest.approx(post * 50_000 * 90 / (wrn_10_1 * 4000 * 45))
    assert compute.ratio_to_post(_study_config(), 4000, ROOT / "params") == pytest.approx(
        numbers["compute_ratio_study_cifar10"])
    assert numbers["compute_images_ratio_gpu_cifar10"] == 5.0  # the GPU run had the offline copy's 10,000
    assert numbers["compute_ratio_gpu_mnist"] == 1.0  # the full profile on all of MNIST is the post's


def test_an_axis_says_its_narrowest_and_widest_cells_ratio_to_the_post():
    from types import SimpleNamespace

    macs = {"wrn-28-8": 100, "wrn-10-1": 1, "wrn-10-2": 4}

    def cell(model):
        config = _study_config().replace(model=model)
        return {0: SimpleNamespace(config=config, data={"train_size": 5000})}
    stored = {1: cell("wrn-10-1"), 2: cell("wrn-10-2")}
    # the post's CIFAR-10: WRN-28-8 on 50,000 images for 3 x 30 epochs; ours 20 + 20 + 5 epochs on 5,000
    # = 2,000 (wrn-10-1) and 500 (wrn-10-2)
    assert compute.axis_ratio_phrase(stored, ROOT / "params", macs=lambda model, dataset: macs[model]) == (
        "about 2,000× (wrn-10-1) to 500× (wrn-10-2) less compute than the post's three phases")
    assert compute.axis_ratio_phrase({}, ROOT / "params").startswith("less compute than the post (no cell")


def _study_config():
    return Profile.load(ROOT / "params", "study", "cifar10").config


def test_post_seconds_scale_each_dataset_by_its_multiply_adds():
    per_image = {"mask": 1.0, "weights": 2.0, "mix": 3.0}
    macs = {"mnist": 1, "cifar10": 2}
    seconds = compute.post_seconds(per_image, ROOT / "params", macs=lambda model, dataset: macs[dataset])
    assert seconds == pytest.approx(30 * (1 + 2 + 3) * (60_000 * 0.5 + 50_000 * 1.0))


def test_training_totals_from_a_hand_made_gpu_run_and_study(tmp_path):
    run = tmp_path / "gpu" / "day" / "full-cifar10"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"data": {"train_size": 1000}, "environment": {"device": "Some GPU"}}))
    for arm, seconds in (("mask", [9.0, 1.0, 3.0, 2.0]), ("weights", [9.0, 1.0, 1.0, 1.0]), ("mix", [9.0, 2.0])):
        pd.DataFrame({"epoch": range(len(seconds)), "seconds": seconds}).to_csv(run / f"history_{arm}.csv", index=False)
    assert compute.gpu_epoch_seconds(run) == {"mask": 2.0, "weights": 1.0, "mix": 2.0}  # the first epoch compiles
    (tmp_path / "bench").mkdir()
    table, numbers = compute.training_totals(ROOT / "params", tmp_path / "gpu", tmp_path / "bench", tmp_path / "none",
                                             30.0, "CPU (x86_64, 2 cores)")
    per_image = {"mask": 2.0 / 1000, "weights": 1.0 / 1000, "mix": 2.0 / 1000}
    assert numbers["total_full_gpu"] == pytest.approx(compute.post_seconds(per_image, ROOT / "params") / 3600)
    assert numbers["total_quick_cpu"] == 0.5 and len(table) == 3
    mean = {arm: (2.0 + 1.0 + 2.0) / 3 / 1000 for arm in per_image}
    assert numbers["total_study_at_post_scale_gpu"] == pytest.approx(
        compute.study_at_post_scale_seconds(mean, ROOT / "params") / 3600)


def test_the_study_at_the_posts_scale_is_its_seeds_times_its_arms_epochs_on_the_posts_images():
    macs = {"mnist": 1, "cifar10": 2}
    seconds = compute.study_at_post_scale_seconds({"mask": 1.0, "weights": 3.0}, ROOT / "params",
                                                  macs=lambda model, dataset: macs[dataset])
    # study-mnist: 5 seeds x 195 epochs (every arm) on 60,000 images at half CIFAR-10's multiply-adds;
    # study-cifar10: 5 seeds x 145 epochs on 50,000; 2 s per CIFAR-10 image (the mean of 1 and 3).
    assert seconds == pytest.approx(2.0 * (5 * 195 * 60_000 * 0.5 + 5 * 145 * 50_000))
