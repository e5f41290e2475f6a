"""The loader on the shared offline files and on missing ones; splits, pixel ranges, offline copies."""

import dataclasses

import numpy as np
import pytest

from supermask_lib.experiment import data as data_lib, datasets
from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.experiment.data import PIXEL_RANGES, load_dataset, scale_pixels, stratified_indices

MNIST_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"


def test_mnist_from_the_data_dir(data_dir):
    ds = load_dataset("mnist", data_dir, train_size=1000, val_size=500, test_size=300, seed=3)
    assert ds.x_train.shape == (1000, 28, 28, 1) and ds.x_train.dtype == np.float32
    assert ds.x_val.shape == (500, 28, 28, 1) and ds.x_test.shape == (300, 28, 28, 1)
    assert ds.x_train.min() == -1.0 and ds.x_train.max() == 1.0
    info = ds.info
    assert info["file_sha256"] == MNIST_SHA256
    assert (info["train_size"], info["val_size"], info["test_size"], info["canonical_train"]) == (1000, 500, 300, 60000)
    assert np.bincount(ds.y_train).min() >= 90  # stratified: ~100 per class
    assert "1000 train / 500 val (holdout) / 300 test" in data_lib.describe(ds)


def test_scaling_is_exact(data_dir):
    with np.load(data_dir / "mnist.npz") as raw:
        first = raw["x_test"][:5]
    ds = load_dataset("mnist", data_dir, test_size=None, train_size=10, val_size=10)
    np.testing.assert_array_equal(ds.x_test[:5, ..., 0], first.astype("float32") / 127.5 - 1)


def test_splits_are_disjoint_seeded_and_validation_choice_is_recorded(data_dir):
    a = load_dataset("mnist", data_dir, train_size=2000, val_size=1000, seed=1)
    b = load_dataset("mnist", data_dir, train_size=2000, val_size=1000, seed=1)
    c = load_dataset("mnist", data_dir, train_size=2000, val_size=1000, seed=2)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)
    train_keys = {x.tobytes() for x in a.x_train}
    assert not any(x.tobytes() in train_keys for x in a.x_val)
    test_mode = load_dataset("mnist", data_dir, train_size=100, validation="test", test_size=400)
    assert test_mode.info["validation"] == "test"
    np.testing.assert_array_equal(test_mode.x_val, test_mode.x_test)


def test_partial_cifar10_copy_reports_sizes(data_dir):
    ds = load_dataset("cifar10", data_dir, val_size=1000, test_size=500)
    assert ds.info["canonical_train"] == 10000  # the offline copy is partial
    assert ds.info["train_size"] == 9000 and ds.y_train.ndim == 1
    assert ds.input_shape == (32, 32, 3) and ds.num_classes == 10


def test_missing_file_says_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"looked for {tmp_path}/cifar10.npz.*SUPERMASK_DATA_DIR"):
        load_dataset("cifar10", tmp_path)


def test_environment_variable_is_the_default(data_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("SUPERMASK_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_dataset("mnist")
    monkeypatch.setenv("SUPERMASK_DATA_DIR", str(data_dir))
    assert load_dataset("mnist", train_size=10, val_size=10, test_size=10).info["file_sha256"] == MNIST_SHA256


@pytest.mark.parametrize("kwargs,match", [
    ({"name": "imagenet"}, r"name='imagenet'.*\['cifar10', 'fashion_mnist', 'mnist'\]"),
    ({"validation": "val"}, r"validation='val'.*\['holdout', 'test'\]"),
    ({"train_size": 0}, r"train_size=0"),
    ({"train_size": 1.5}, r"train_size=1.5 .*\(0, 1\]"),
    ({"val_size": "10%"}, r"val_size='10%'"),
])
def test_bad_loader_arguments(kwargs, match, data_dir):
    kwargs = {"name": "mnist", "data_dir": data_dir, **kwargs}
    with pytest.raises(ValueError, match=match):
        load_dataset(**kwargs)


def test_stratified_indices_keep_class_proportions(rng):
    labels = np.repeat(np.arange(4), [100, 200, 300, 400])
    idx = stratified_indices(labels, 100, rng)
    assert len(set(idx)) == 100
    np.testing.assert_array_equal(np.bincount(labels[idx]), [10, 20, 30, 40])


def test_unit_pixels_are_x_over_255_and_signed_ones_the_studys(rng):
    x = rng.integers(0, 256, (3, 4, 4), dtype=np.uint8)
    np.testing.assert_array_equal(scale_pixels(x, "unit")[..., 0], x.astype("float32") / np.float32(255))
    np.testing.assert_array_equal(scale_pixels(x)[..., 0], x.astype("float32") / np.float32(127.5) - np.float32(1))


def test_unit_pixel_runs_load_unit_data_and_pad_crops_with_black(data_dir):
    config = ExperimentConfig.from_recipe("zhou", model="fc", pixel_range="unit", train_size=100, val_size=50,
                                          test_size=50, data_dir=str(data_dir))
    dataset = load_dataset("mnist", data_dir, train_size=100, val_size=50, test_size=50, pixel_range="unit")
    assert dataset.x_train.min() == 0.0 and dataset.x_train.max() == 1.0
    assert dataset.info["scaling"] == "x / 255 (range [0, 1])"
    assert PIXEL_RANGES[config.pixel_range][0] == 0.0  # the crop's fill, black in this range


def test_a_dataset_saved_for_offline_use_loads_as_the_download_did(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    x_train, x_test = rng.integers(0, 256, (60, 28, 28), dtype="uint8"), rng.integers(0, 256, (20, 28, 28), dtype="uint8")
    y_train, y_test = np.tile(np.arange(10, dtype="uint8"), 6), np.tile(np.arange(10, dtype="uint8"), 2)

    class Loader:
        @staticmethod
        def load_data():
            return (x_train, y_train.reshape(-1, 1)), (x_test, y_test.reshape(-1, 1))  # CIFAR-10's label shape

    spec = datasets.DATASETS["mnist"]
    monkeypatch.setitem(datasets.DATASETS, "mnist", dataclasses.replace(spec, loader=Loader))
    monkeypatch.delenv(datasets.DATA_DIR_ENV, raising=False)  # no directory: the (stand-in) download
    path = datasets.save_dataset("mnist", tmp_path / "offline")
    assert path == tmp_path / "offline" / "mnist.npz" and [p.name for p in path.parent.iterdir()] == ["mnist.npz"]
    downloaded, _ = datasets.read_arrays("mnist", None)
    offline, source = datasets.read_arrays("mnist", path.parent)
    for a, b in zip(downloaded, offline):
        np.testing.assert_array_equal(a, b)
    assert source["path"] == str(path.resolve())
    assert datasets.save_dataset("mnist", path.parent) == path  # the same arrays again: nothing to do
    monkeypatch.setattr(Loader, "load_data", staticmethod(lambda: ((x_train[::-1], y_train), (x_test, y_test))))
    with pytest.raises(FileExistsError, match=r"mnist.npz already holds other mnist arrays; move it away"):
        datasets.save_dataset("mnist", path.parent)
