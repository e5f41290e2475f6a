"""End-to-end suite: a catalogue of bad inputs across entry points, each refused early, by type,
with a message that names the culprit.

Three families: configuration values (refused at construction), data files
(refused when loaded, before any folder exists) and run files that were
corrupted, edited or deleted (refused before they are reused or resumed). Bad YAML files are
in test_yamlfiles.
"""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from supermask_lib.experiment import runs, storage
from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.experiment.profiles import profile_configs
from supermask_lib.experiment.data import load_dataset
from supermask_lib.experiment.datasets import DataError
from supermask_lib.experiment.runner import run_experiment
from supermask_lib.experiment.storage import RunFolder
from tests.helpers import StopAfterEpochs
from tests.test_experiment import tiny

ROOT = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------- config values

CONFIG_VALUES = [
    ("dataset", "svhn", "one of"),
    ("model", "vgg16", "'wrn-<depth>-<width>"),
    ("model", "wrn-0-0", "depth = 6n \\+ 4"),
    ("model", "wrn-16-0", "width >= 1"),
    ("epochs", 0, "a positive integer"),
    ("epochs", 2.5, "a positive integer"),
    ("mix_epochs", -1, "an integer >= 0"),
    ("batch_size", True, "a positive integer"),
    ("learning_rate", 0.0, r"\(0, 1000\)"),
    ("learning_rate", np.float32("nan"), r"\(0, 1000\)"),
    ("learning_rate", 1001.0, r"\(0, 1000\)"),
    ("lr_schedule", "step", r"one of \['plateau', 'cosine', 'constant'\]"),
    ("eval_samples", 0, "a positive integer"),
    ("eval_samples", 10, r"1 unless estimator is one of \['bernoulli', 'ils'\] with bernoulli_eval='sample'"),
    ("score_decay", -1e-4, r"in \[0, 1\), the scores' L2 weight decay"),
    ("weight_init", "signed_constnat", r"one of \['signed_constant', 'signed_kaiming_constant'\]"),
    ("weight_init", 0.5, "Glorot uniform, the study's"),
    ("use_bias", "no", "True or False"),
    ("dynamic_rescaling", 1, "True or False"),
    ("augment_crop", 17, r"\[0, 16\]"),
    ("pixel_range", "[0, 1]", r"'signed' \(\[-1, 1\], the study's\) or 'unit'"),
    ("finetune_lr", float("nan"), r"\(0, 10\)"),
    ("optimizer", "rmsprop", "'adam'"),
    ("optimizer", "SGD", "'adam'"),
    ("lr_patience", -1, "an integer >= 0"),
    ("lr_factor", 1.0, r"\(0, 1\)"),
    ("estimator", "gumbel", "one of"),
    ("threshold", 1.5, r"\(0, 1\)"),
    ("keep_fraction", 0, r"\(0, 1\]"),
    ("score_init", "no_such_init", "Keras initializer"),
    ("score_init", None, "Keras initializer"),
    ("mask_bias", "yes", "True or False"),
    ("tensorboard", "yes", "True or False"),
    ("train_batchnorm", 1, "True or False"),
    ("phases", ("mix",), "'mix' needs 'mask'"),
    ("phases", ("weights", "mask"), "ordered subset"),
    ("phases", (), "ordered subset"),
    ("phases", "mask", "ordered subset"),
    ("phases", ("weights", "random_mask"), "'random_mask' needs 'mask'"),
    ("phases", ("mask", "bn_only"), "no 'bn_only' for model='fc'"),
    ("finetune_lrs", (1e-3, 1e-3), "distinct learning rates"),
    ("finetune_lrs", 0.001, "a list of learning rates"),
    ("augment_rotation", -5, r"\[0, 180\]"),
    ("augment_shift", 1.0, r"\[0, 1\)"),
    ("validation", "train", "one of"),
    ("train_size", 0, "a count >= 1"),
    ("test_size", 1.5, r"a fraction in \(0, 1\]"),
    ("val_size", None, "a count >= 1"),
    ("seed", -1, r"an integer in \[0, 4294967295\]"),
    ("seed", 2**32, r"an integer in \[0, 4294967295\]"),
    ("data_dir", 123, "a folder path"),
    ("mixed_precision", "float8", "one of"),
    ("jit_compile", "yes", "True, False or 'auto'"),
    ("jit_compile", 1, "True, False or 'auto'"),
    ("distribute", "horovod", "one of"),
    ("bn_momentum", 0.9, "no BatchNorm"),
    ("max_steps_per_epoch", 0, "None or a positive integer"),
    ("ils_step", 0.0, r"a number in \(0, 1\), the SGD step c of Intermediate Loss Sampling"),
    ("bernoulli_eval", "mean", "the inference mask of the sampled estimators"),
    ("max_steps_per_epoch", 2.5, "None or a positive integer"),
]


@pytest.mark.parametrize("field,value,allowed", CONFIG_VALUES, ids=lambda v: repr(v)[:20])
def test_bad_config_value(field, value, allowed):
    base = {"model": "fc"} if field != "model" else {}
    with pytest.raises(ValueError, match=rf"ExperimentConfig\.{field}={re.escape(repr(value))} is not allowed: .*{allowed}"):
        ExperimentConfig(**base, **{field: value})


def test_rules_that_join_two_fields():
    with pytest.raises(ValueError, match=r"ExperimentConfig\.finetune_lrs\[1\]=0 is not allowed: a number in \(0, 10\)"):
        ExperimentConfig(model="fc", finetune_lrs=[1e-3, 0])
    with pytest.raises(ValueError, match=r"ExperimentConfig\.finetune_lrs=\(0\.001,\) is not allowed: an empty list unless phases has 'mask'"):
        ExperimentConfig(model="fc", phases=("weights",), finetune_lrs=(1e-3,))
    with pytest.raises(ValueError, match=r"ExperimentConfig\.phases=.* no 'random_mask' with the bernoulli estimator"):
        ExperimentConfig(model="fc", estimator="bernoulli", phases=("mask", "random_mask"))
    with pytest.raises(ValueError, match=r"ExperimentConfig\.phases=.* no 'bn_only' with bn_affine=False"):
        ExperimentConfig(model="wrn-10-1", bn_affine=False, phases=("mask", "bn_only"))


def test_unknown_recipe_names_the_recipes(tmp_path):
    with pytest.raises(ValueError, match=r"recipe='zhuo' is not allowed: one of \['edge-popup', 'post-ils', "
                                         r"'post-threshold', 'zhou'\]"):
        ExperimentConfig.from_recipe("zhuo")
    with pytest.raises(ValueError, match=r"p\.yaml \(variant 'a'\): recipe='edge_popup' is not allowed"):
        profile_configs({"base": {"model": "fc"}, "variants": {"a": {"recipe": "edge_popup"}}}, "p.yaml")


def test_wide_resnet_momentum_bound():
    with pytest.raises(ValueError, match=r"ExperimentConfig\.bn_momentum=1\.0 is not allowed: None or a number in \[0, 1\)"):
        ExperimentConfig(model="wrn-16-1", bn_momentum=1.0)


# ------------------------------------------------------------------ data files


def _mnist_like(rng, n_train=200, n_test=100):
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": np.arange(n_train, dtype=np.uint8) % 10,
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": np.arange(n_test, dtype=np.uint8) % 10,
    }


def _with(key, transform):
    def edit(arrays):
        arrays[key] = transform(arrays[key])
        return arrays
    return edit


def _nan_pixel(x):
    x = x.astype("float32") / 255
    x[3, 4, 5] = np.nan
    return x


def _one_label(value, dtype=np.uint8):
    def transform(y):
        y = y.astype(dtype)
        y[7] = value
        return y
    return transform


DATA_FILES = [
    ("nan pixels", _with("x_train", _nan_pixel), r"x_train holds 1 non-finite"),
    ("labels 1..10", _with("y_train", lambda y: y + 1), r"y_train has labels in \[1, 10\]; this dataset's classes are 0..9"),
    ("one label 255", _with("y_test", _one_label(255)), r"y_test has labels in \[0, 255\]"),
    ("label -1", _with("y_train", _one_label(-1, np.int8)), r"y_train has labels in \[-1, 9\]"),
    ("float labels", _with("y_train", lambda y: y.astype("float32") + 0.5), r"y_train has dtype float32; labels must be integers"),
    ("one-hot labels", _with("y_train", lambda y: np.eye(10, dtype=np.uint8)[y]), r"y_train has shape \(200, 10\): one-hot"),
    ("labels of shape (n, 2)", _with("y_test", lambda y: np.stack([y, y], 1)), r"y_test has shape \(100, 2\)"),
    ("more labels than images", _with("y_train", lambda y: np.concatenate([y, y[:1]])), r"y_train holds 201 labels for 200 images"),
    ("more images than labels", _with("y_test", lambda y: y[:-1]), r"y_test holds 99 labels for 100 images"),
    ("uint16 pixels to 65535", _with("x_train", lambda x: x.astype(np.uint16) * 257), r"x_train \(uint16\) has pixel values in \[0, 65535\]"),
    ("float pixels 0..255", _with("x_test", lambda x: x.astype("float32")), r"x_test \(float32\) has pixel values in \[0, 255\]; float pixels must lie in \[0, 1\]"),
    ("bool pixels", _with("x_train", lambda x: x > 127), r"x_train has dtype bool"),
    ("x_test of another shape", _with("x_test", lambda x: x[:, :27, :27]), r"x_test has images of shape \(27, 27\)"),
    ("CIFAR-shaped images", _with("x_train", lambda x: np.zeros((len(x), 32, 32, 3), np.uint8)), r"x_train has images of shape \(32, 32, 3\); this dataset's are \(28, 28, 1\)"),
    ("empty test split", lambda a: {**a, "x_test": a["x_test"][:0], "y_test": a["y_test"][:0]}, r"x_test is empty"),
    ("missing array", lambda a: {k: v for k, v in a.items() if k != "y_test"}, r"arrays \['y_test'\] are missing"),
    ("0-d x_train", _with("x_train", lambda x: np.array(7, np.uint8)),
     r"x_train is a 0-d uint8 array \(the single value 7\); x_train must be images stacked as \(n, 28, 28, 1\) or \(n, 28, 28\)"),
    ("flat x_train", _with("x_train", lambda x: x.reshape(-1)),
     r"x_train has shape \(156800,\); this dataset's images are stacked as \(n, 28, 28, 1\) or \(n, 28, 28\)"),
    ("0-d y_test", _with("y_test", lambda y: np.array(3, np.uint8)),
     r"y_test is a 0-d uint8 array \(the single value 3\); y_test must be labels shaped \(n,\) or \(n, 1\)"),
    ("pickled labels", _with("y_train", lambda y: y.astype(object)),
     r"y_train cannot be read \(Object arrays cannot be loaded when allow_pickle=False\); a dataset file holds plain numeric arrays"),
]


@pytest.mark.parametrize("name,edit,match", DATA_FILES, ids=[case[0] for case in DATA_FILES])
def test_bad_data_file(name, edit, match, tmp_path, rng):
    np.savez(tmp_path / "mnist.npz", **edit(_mnist_like(rng)))
    with pytest.raises(DataError, match=rf"^{re.escape(str(tmp_path / 'mnist.npz'))}: {match}"):
        load_dataset("mnist", tmp_path, val_size=20)
    with pytest.raises(DataError):  # and the experiment refuses before making any folder
        run_experiment(ExperimentConfig(dataset="mnist", model="fc", val_size=20, data_dir=str(tmp_path)), tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("content", [b"this is not an archive", b"PK\x03\x04truncated"], ids=["garbage", "truncated zip"])
def test_unreadable_data_file_names_the_file(content, tmp_path):
    (tmp_path / "mnist.npz").write_bytes(content)
    with pytest.raises(DataError, match=rf"{re.escape(str(tmp_path / 'mnist.npz'))} is not a readable .npz archive"):
        load_dataset("mnist", tmp_path)


@pytest.mark.parametrize("sizes,match", [
    ({"val_size": 200}, r"val_size=200 is not allowed: a count in 1..199 \(the file holds 200 training images"),
    ({"val_size": 150, "train_size": 60}, r"train_size=60 is not allowed: a count in 1..50 \(the 50 training images left after holding out val_size=150\)"),
    ({"val_size": 10, "test_size": 101}, r"test_size=101 is not allowed: a count in 1..100 \(the file holds 100 test images\)"),
    ({"seed": -1}, r"seed=-1 is not allowed: an integer in \[0, 4294967295\]"),
], ids=["val_size", "train_size after val", "test_size", "seed"])
def test_sizes_name_the_field_that_does_not_fit(sizes, match, tmp_path, rng):
    np.savez(tmp_path / "mnist.npz", **_mnist_like(rng))
    with pytest.raises(ValueError, match=match):
        load_dataset("mnist", tmp_path, **sizes)


def test_float_pixels_in_the_unit_interval_are_the_documented_alternative(tmp_path, rng):
    arrays = _mnist_like(rng)
    arrays["x_test"] = arrays["x_test"].astype("float32") / 255
    np.savez(tmp_path / "mnist.npz", **arrays)
    ds = load_dataset("mnist", tmp_path, val_size=20, test_size=None)
    np.testing.assert_allclose(ds.x_test[..., 0], arrays["x_test"] * 2 - 1, atol=1e-6)
    assert ds.x_test.min() >= -1 and ds.x_test.max() <= 1


# ------------------------------------------------------------------- run files


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("finished")
    config = tiny(data_dir)
    return config, run_experiment(config, out).run_dir


@pytest.fixture(scope="module")
def partial_run(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("partial")
    config = tiny(data_dir, epochs=3)
    with pytest.raises(StopAfterEpochs.Interrupted):
        run_experiment(config, out, callbacks=[StopAfterEpochs(2)])
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return config, run_dir


def _truncate(path):
    path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 2)])


def _edit_metrics(path):
    metrics = json.loads(path.read_text())
    metrics["mix"]["test_accuracy"] = 0.99
    path.write_text(json.dumps(metrics))


def _edit_data_hash(path):
    record = json.loads(path.read_text())
    record["data"]["arrays_sha256"] = "0" * 64
    path.write_text(json.dumps(record))


def _edit_identity(path):
    record = json.loads(path.read_text())
    record["identity"]["epochs"] = 99
    path.write_text(json.dumps(record))


def _state_file(run_dir):
    return sorted((run_dir / "state").glob("*.npz"))[0].relative_to(run_dir).as_posix()


RUN_FILES = [
    ("finished", "config.json", _truncate, r"config.json is not readable JSON"),
    ("finished", "manifest.json", _truncate, r"manifest.json is not readable JSON"),
    ("finished", "metrics.json", _truncate, r"metrics.json differs from the file the run committed"),
    ("finished", "metrics.json", _edit_metrics, r"metrics.json differs from the file the run committed"),
    ("finished", "history_mix.csv", lambda p: p.unlink(), r"history_mix.csv is missing, but the run committed it"),
    ("finished", "mask_utilization_mask.csv", lambda p: p.unlink(), r"mask_utilization_mask.csv is missing"),
    ("finished", "mask_best.keras", _truncate, r"mask_best.keras differs from the file the run committed"),
    ("finished", "initial.weights.h5", _truncate, r"initial.weights.h5 differs"),
    ("finished", "config.json", _edit_data_hash, r"was trained on data with sha256 0000000000.*refusing to mix them"),
    ("finished", "config.json", _edit_identity, r"holds a different configuration"),
    ("partial", "manifest.json", _truncate, r"manifest.json is not readable JSON"),
    ("partial", "state", _truncate, r"state/mask-epoch\d+\.npz differs from the file the run committed"),
    ("partial", "initial.weights.h5", lambda p: p.unlink(), r"initial.weights.h5 is missing"),
    ("partial", "config.json", _truncate, r"config.json is not readable JSON"),
]


@pytest.mark.slow
@pytest.mark.parametrize("which,name,damage,match", RUN_FILES,
                         ids=[f"{w}-{n}-{d.__name__.strip('_<>')}" for w, n, d, _ in RUN_FILES])
def test_damaged_run_file(which, name, damage, match, finished_run, partial_run, tmp_path):
    config, source = finished_run if which == "finished" else partial_run
    run_dir = tmp_path / source.name
    shutil.copytree(source, run_dir)
    if name == "state":
        name = _state_file(run_dir)
    damage(run_dir / name)
    with pytest.raises(storage.RunFileError, match=match) as error:
        run_experiment(config, tmp_path)
    assert str(run_dir) in str(error.value)  # the message names the run's file or folder


@pytest.mark.slow
def test_uncommitted_epoch_states_are_cleaned_up_on_resume(partial_run, tmp_path):
    config, source = partial_run
    run_dir = tmp_path / source.name
    shutil.copytree(source, run_dir)
    stray = run_dir / "state" / "mask-epoch007.npz"  # written, then killed before its commit
    stray.write_bytes(b"half a file")
    result = run_experiment(config, tmp_path)
    assert not stray.exists() and len(result.histories["mask"]) == 3
    assert RunFolder(run_dir).manifest.exists() and runs.is_finished(RunFolder(run_dir))


# ------------------------------------------------------------- the command line


CLI_CASES = [
    (["--profile", "tiny", "--dataset", "estimators"], r"tiny-estimators.yaml is a comparison profile with variants"),
    (["--profile", "literature", "--dataset", "mnist"], r"literature-mnist.yaml is a comparison profile"),
    (["--profile", "tiny", "--set", "epochs=0"], r"tiny-mnist.yaml with \{'epochs': 0\}: ExperimentConfig.epochs=0 "
                                                  r"is not allowed: a positive integer"),
    (["--profile", "tiny", "--set", "finetune_lrs=[1e-3, 1.0000001e-3]"], r"distinct learning rates \(their arms "
                                                                          r"\['mix_lr0.001', 'mix_lr0.001'\]"),
    (["--profile", "tiny", "--set", "learning_rate=[1e-3"], r"--set learning_rate=\[1e-3"),
    (["--profile", "tiny", "--set", "epochs"], r"write NAME=VALUE"),
    (["--profile", "nosuch"], r"profile 'nosuch' has no file .*; available profiles: \["),
]


@pytest.mark.parametrize("argv, message", CLI_CASES, ids=[" ".join(argv) for argv, _ in CLI_CASES])
def test_bad_command_line(argv, message, tmp_path, capsys):
    from supermask_lib.__main__ import main

    with pytest.raises(SystemExit) as stop:
        main([*argv, "--out-dir", str(tmp_path / "runs")])
    assert stop.value.code == 2 and not (tmp_path / "runs").exists()
    assert re.search(message, capsys.readouterr().err), capsys.readouterr()


def test_a_profile_that_contradicts_its_name_is_refused_on_the_command_line(tmp_path, capsys):
    from supermask_lib.__main__ import main

    (tmp_path / "mine-mnist.yaml").write_text("dataset: cifar10\nmodel: fc\n")
    with pytest.raises(SystemExit):
        main(["--profile", "mine", "--dataset", "mnist", "--params-dir", str(tmp_path), "--out-dir", str(tmp_path)])
    assert "says dataset='cifar10', but its name says 'mnist'" in capsys.readouterr().err


@pytest.mark.parametrize("text, value", [("1e-3", 0.001), ("1e3", 1000.0), (".5e-2", 0.005)])
def test_numbers_like_1e_3_are_numbers_on_the_command_line(text, value):
    from supermask_lib.experiment.profiles import Profile
    from supermask_lib.experiment.yamlfiles import parse_value

    assert parse_value(text, "--set") == value
    config = Profile.load(ROOT / "params", "tiny", "mnist", overrides={"learning_rate": parse_value("1e-3", "--set"),
                                                                      "train_size": parse_value("1e3", "--set")}).config
    assert config.learning_rate == 0.001 and config.train_size == 1000  # the count, as 1000 would be
