"""CONTRIBUTING.md's recipes, each followed for a toy and run through the tiny profile, so the guide cannot go stale.

Every test adds its toy the way the guide says (a registry entry, a record, a field, a file), and
removes it afterwards (``monkeypatch``), then asserts what only the toy can have caused.
"""

import dataclasses
import math
import re
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from supermask_lib import estimators, models
from supermask_lib.experiment import arms, config as config_lib, datasets
from supermask_lib.experiment.profiles import Profile
from supermask_lib.experiment.runner import run_experiment
from supermask_lib.experiment.storage import RunFolder
from supermask_lib.layers import MaskedDense
from supermask_lib.utilization import fraction_kept

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "CONTRIBUTING.md").read_text()


@pytest.fixture
def tiny(data_dir):
    """The tiny profile's configuration (MNIST, WRN-10-1, one epoch a phase), as the guide's recipes start from."""
    (config,) = Profile.load(ROOT / "params", "tiny", "mnist", data_dir=data_dir).configs.values()
    return config


def guide_files(recipe):
    """The files the guide's recipe says it touches (the backticked paths of its 'Files:' line)."""
    section = re.search(rf"^## {re.escape(recipe)}\n(.*?)(?=^## |\Z)", GUIDE, re.M | re.S)
    assert section, f"CONTRIBUTING.md has no section '## {recipe}'"
    files = re.search(r"^Files: (.*)$", section.group(1), re.M)
    assert files, f"the recipe '{recipe}' names no files"
    return re.findall(r"`([^`]+)`", files.group(1))


@pytest.mark.parametrize("recipe", ["An estimator", "An arm", "A hyperparameter", "A dataset", "A model family",
                                    "A scale axis"])
def test_every_recipe_names_files_that_exist(recipe):
    for name in guide_files(recipe):
        if "<" not in name:  # a pattern such as params/<axis>-<dataset>.yaml names a file the recipe creates
            assert (ROOT / name).exists(), f"'{recipe}' names {name}, which is not in the repository"


def test_an_estimator(tiny, tmp_path, monkeypatch):
    """A toy estimator that keeps every other weight: registered by name, trained through the mask arm."""

    def every_other(scores, *, training, options, seed_generator=None):
        prob = ops.sigmoid(scores)
        keep = ops.reshape(ops.arange(math.prod(scores.shape)) % 2 == 0, ops.shape(scores))
        return estimators._straight_through(keep, prob)

    monkeypatch.setitem(estimators.ESTIMATORS, "toy_every_other", every_other)
    result = run_experiment(tiny.replace(estimator="toy_every_other", phases=("mask",)), tmp_path, progress_bar=False)
    table = result.utilization["mask"]
    kept = (table["n_weights"] - table["n_masked"]) / table["n_weights"]
    # every other weight of each layer, whatever its scores learned: exactly ceil(n / 2) of n
    assert np.allclose(kept, np.ceil(table["n_weights"] / 2) / table["n_weights"])


def test_an_arm(tiny, tmp_path, monkeypatch):
    """A toy arm: the mask phase's selected network trains its scores further, at mix's epochs."""
    toy = arms.Arm("toy_mask_more", start="best_mask", masked=True, trains="scores", rate="mask_lr",
                   epochs=("mix_epochs",), batch_order=0, panel="frozen", about="the mask phase, trained further")
    monkeypatch.setitem(arms.ARMS, toy.name, toy)
    config = tiny.replace(phases=("mask", "weights", "mix", toy.name), mix_epochs=2)
    result = run_experiment(config, tmp_path, progress_bar=False)
    assert set(result.metrics) == {"initial", "mask", "weights", "mix", toy.name}
    assert len(result.histories[toy.name]) == 2 and toy.name in result.utilization
    # it starts from the mask phase's selected network: its first epoch is not the untrained network's
    assert result.histories[toy.name]["loss"].iloc[0] != pytest.approx(result.histories["mask"]["loss"].iloc[0])


def test_a_hyperparameter(tiny, tmp_path, monkeypatch):
    """A toy field added as the guide says: at its default, a stored run keeps its name; set, it is another run."""
    toy_config = dataclasses.make_dataclass("ToyConfig", [("toy_scale", float, 1.0)],
                                            bases=(config_lib.ExperimentConfig,), frozen=True)
    monkeypatch.setitem(config_lib.LATER_FIELDS, "toy_scale", 1.0)
    plain, toy = tiny.replace(phases=("mask",)), toy_config(**tiny.replace(phases=("mask",)).to_dict())
    assert toy.identity() == plain.identity() and toy.replace(toy_scale=2.0).identity() != plain.identity()
    first = run_experiment(plain, tmp_path, progress_bar=False)
    again = run_experiment(toy, tmp_path, progress_bar=False)  # the same run: found, verified and reused
    assert again.run_dir == first.run_dir
    assert toy.replace(toy_scale=2.0).run_name("data") != toy.run_name("data")


def test_a_dataset(tiny, tmp_path, monkeypatch):
    """A toy dataset: one DatasetSpec and an offline file in the layout of Keras's mnist.npz."""
    rng = np.random.default_rng(0)
    labels = np.arange(600) % 10
    images = (rng.uniform(0, 60, (600, 12, 12, 1)) + labels[:, None, None, None] * 19).astype("uint8")
    np.savez(tmp_path / "toy.npz", x_train=images[:500], y_train=labels[:500], x_test=images[500:],
             y_test=labels[500:])
    monkeypatch.setitem(datasets.DATASETS, "toy", datasets.DatasetSpec(None, (12, 12, 1), "Toy", 500))
    config = tiny.replace(dataset="toy", data_dir=str(tmp_path), train_size=256, val_size=100, test_size=100)
    result = run_experiment(config, tmp_path / "runs", progress_bar=False)
    assert result.data["name"] == "toy" and result.data["canonical_train"] == 500
    assert result.data["file_sha256"] and result.run_dir.name.startswith("toy-wrn-10-1-")


def test_a_model_family(tiny, tmp_path, monkeypatch):
    """A toy network registered by name: two masked dense layers; every phase builds it, masked and plain."""

    def toy_mlp(*, input_shape, num_classes=10, masked=True, **arguments):
        dense = (lambda units, **kw: MaskedDense(units, **kw, **arguments)) if masked else keras.layers.Dense
        inputs = keras.Input(input_shape)
        x = dense(32, activation="relu", name="hidden")(keras.layers.Flatten()(inputs))
        return keras.Model(inputs, dense(num_classes, name="logits")(x), name="toy_mlp")

    monkeypatch.setitem(models.MODELS, "toy_mlp", toy_mlp)
    result = run_experiment(tiny.replace(model="toy_mlp", bn_momentum=None), tmp_path, progress_bar=False)
    assert list(result.utilization["mask"]["name"]) == ["hidden", "logits"]
    assert result.metrics["mix"].test_accuracy > 0 and 0 < fraction_kept(result.utilization["mask"]) <= 1


def test_a_scale_axis(tiny, tmp_path, data_dir):
    """A toy axis: one profile of widths; the axis's command trains and stores its cells, and its trend reads them."""
    from supermask_lib.study import scale

    params = tmp_path / "params"
    params.mkdir()
    base = {k: v for k, v in tiny.to_dict().items() if k not in ("model", "data_dir", "phases")}
    base["phases"] = list(arms.TREND_ARMS)
    lines = ["seeds: [0, 1]", "base:"] + [f"  {key}: {value!r}".replace("'", '"') for key, value in base.items()
                                          if value is not None and not isinstance(value, (list, tuple, dict))]
    lines += [f"  phases: [{', '.join(base['phases'])}]", "variants:", "  w1:", "    model: wrn-10-1", "  w2:",
              "    model: wrn-10-2"]
    (params / "toy-mnist.yaml").write_text("\n".join(lines) + "\n")
    store = tmp_path / "store"
    scale.main(["--axis", "toy", "--dataset", "mnist", "--params-dir", str(params), "--runs-dir",
                str(tmp_path / "runs"), "--data-dir", str(data_dir), "--store", str(store)])
    axis, seeds = scale.load_axis(params, "mnist", data_dir, name="toy")
    stored = scale.load_stored_axis(store / "mnist", axis, seeds)
    assert {width: sorted(cells) for width, cells in stored.items()} == {1: [0, 1], 2: [0, 1]}
    differences = scale.seed_differences(stored)
    assert set(differences.index.get_level_values("comparison")) == {f"{a} − {b}" for a, b, _ in arms.TREND}
    lines = scale.trend(differences)
    assert len(lines) == len(arms.TREND) and len(RunFolder.finished_in(store / "mnist")) == 4
