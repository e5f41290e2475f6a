"""The three-phase experiment: validation, files, determinism, resume."""

import dataclasses
import re
import json

import keras
import numpy as np
import pandas as pd
import pytest

import supermask_lib as sm
from supermask_lib import experiment as exp
from supermask_lib.experiment import ExperimentConfig, StopAfterEpochs, load_run, run_experiment


def tiny(data_dir, **overrides):
    values = dict(
        dataset="mnist", model="fc", epochs=2, mix_epochs=2, batch_size=50, train_size=300,
        val_size=100, test_size=200, data_dir=str(data_dir), learning_rate=0.01, augment_rotation=10.0,
    )
    values.update(overrides)
    return ExperimentConfig(**values)


@pytest.mark.parametrize("field,value,allowed", [
    ("dataset", "svhn", "one of"),
    ("model", "vgg16", "'wrn-<depth>-<width>"),
    ("epochs", 0, "a positive integer"),
    ("epochs", 2.5, "a positive integer"),
    ("mix_epochs", -1, "an integer >= 0"),
    ("batch_size", True, "a positive integer"),
    ("learning_rate", 0.0, r"\(0, 10\)"),
    ("finetune_lr", float("nan"), r"\(0, 10\)"),
    ("optimizer", "rmsprop", "'adam'"),
    ("lr_factor", 1.0, r"\(0, 1\)"),
    ("estimator", "gumbel", "one of"),
    ("threshold", 1.5, r"\(0, 1\)"),
    ("keep_fraction", 0, r"\(0, 1\]"),
    ("bernoulli_eval", "mean", "one of"),
    ("train_batchnorm", "yes", "True or False"),
    ("phases", ("mix",), "'mix' needs 'mask'"),
    ("phases", ("weights", "mask"), "ordered subset"),
    ("phases", (), "ordered subset"),
    ("augment_rotation", -5, r"\[0, 180\]"),
    ("validation", "train", "one of"),
    ("train_size", 0, "a count >= 1"),
    ("val_size", None, "a count >= 1"),
    ("seed", -1, "an integer >= 0"),
    ("mixed_precision", "float8", "one of"),
    ("jit_compile", "yes", "True, False or 'auto'"),
    ("distribute", "horovod", "one of"),
    ("bn_momentum", 0.9, "no BatchNorm"),
])
def test_config_validation_names_field_value_and_allowed(field, value, allowed):
    with pytest.raises(ValueError, match=rf"ExperimentConfig\.{field}={re.escape(repr(value))} is not allowed: .*{allowed}"):
        ExperimentConfig(**{"model": "fc", field: value})


def test_score_init_takes_numbers_and_keras_initializers():
    assert ExperimentConfig(score_init="he_uniform").score_init == "he_uniform"
    uniform = {"class_name": "RandomUniform", "config": {"minval": 0.0, "maxval": 1.0}}
    assert ExperimentConfig(score_init=uniform).run_name != ExperimentConfig().run_name
    for bad in ("no_such_init", None, True):
        with pytest.raises(ValueError, match=r"ExperimentConfig\.score_init=.*Keras initializer"):
            ExperimentConfig(score_init=bad)


def test_config_defaults_are_the_study():
    config = ExperimentConfig()
    assert (config.learning_rate, config.finetune_lr, config.batch_size, config.epochs) == (0.01, 1e-5, 128, 30)
    assert (config.lr_patience, config.lr_factor, config.estimator, config.score_init) == (2, 0.1, "threshold", 1.0)
    assert config.train_batchnorm and config.mask_bias and config.phases == ("mask", "weights", "mix")
    assert ExperimentConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match=r"Unknown ExperimentConfig fields \['epoch'\]"):
        ExperimentConfig.from_dict({"epoch": 3})


def test_run_name_depends_on_hyperparameters_not_on_data_location(tmp_path):
    a = ExperimentConfig(model="fc", data_dir="/a")
    assert a.run_name == dataclasses.replace(a, data_dir="/b").run_name
    assert a.run_name != dataclasses.replace(a, seed=1).run_name
    assert a.run_name.startswith("cifar10-fc-threshold-")


def _files(run_dir):
    history = {p.name: pd.read_csv(p).drop(columns="seconds") for p in sorted(run_dir.glob("history_*.csv"))}
    utilization = {p.name: pd.read_csv(p) for p in sorted(run_dir.glob("mask_utilization_*.csv"))}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for phase in metrics.values():
        if isinstance(phase, dict):
            phase.pop("seconds", None)
    weights = {}
    for path in sorted(run_dir.glob("*.keras")):
        model = keras.models.load_model(path)
        weights[path.name] = [keras.ops.convert_to_numpy(v) for v in model.weights]
    return history, utilization, metrics, weights


def _assert_same_files(a, b):
    history_a, util_a, metrics_a, weights_a = _files(a)
    history_b, util_b, metrics_b, weights_b = _files(b)
    assert history_a.keys() == history_b.keys() and weights_a.keys() == weights_b.keys()
    for name in history_a:
        pd.testing.assert_frame_equal(history_a[name], history_b[name])
    for name in util_a:
        pd.testing.assert_frame_equal(util_a[name], util_b[name])
    assert metrics_a == metrics_b
    for name in weights_a:
        for x, y in zip(weights_a[name], weights_b[name]):
            np.testing.assert_array_equal(x, y)


@pytest.mark.slow
def test_end_to_end_files_and_reuse(data_dir, tmp_path, capsys):
    config = tiny(data_dir)
    result = run_experiment(config, tmp_path)
    run_dir = tmp_path / config.run_name
    assert result.run_dir == run_dir
    for name in ["config.json", "initial.weights.h5", "metrics.json",
                 "mask_utilization_mask.csv", "mask_utilization_mix.csv"] + [
                 f"{p}_{k}.keras" for p in ("mask", "weights", "mix") for k in ("best", "last")]:
        assert (run_dir / name).is_file(), name
    recorded = json.loads((run_dir / "config.json").read_text())
    assert recorded["config"] == config.to_dict()
    assert recorded["data"]["file_sha256"] and recorded["data"]["train_size"] == 300
    for key in ("keras", "backend", "backend_version", "device", "supermask_lib", "python"):
        assert recorded["environment"][key]
    for phase in ("mask", "weights", "mix"):
        history = result.histories[phase]
        assert list(history.columns) == exp.HISTORY_COLUMNS and list(history["epoch"]) == [0, 1]
        best = history["val_accuracy"].idxmax()
        assert result.metrics[phase]["best_epoch"] == best
        assert 0 <= result.metrics[phase]["test_accuracy"] <= 1
    np.testing.assert_allclose(result.histories["mix"]["learning_rate"], 1e-5)
    assert (result.histories["weights"]["fraction_kept"] == 1.0).all()
    # The mix phase keeps the mask of the best masked network frozen.
    pd.testing.assert_frame_equal(result.utilization["mask"], result.utilization["mix"])
    out = capsys.readouterr().out
    assert "[mask] epoch 2/2" in out and "300 train / 100 val (holdout) / 200 test" in out
    # Same call again: reused, not retrained.
    before = (run_dir / "metrics.json").stat().st_mtime_ns
    again = run_experiment(config, tmp_path)
    assert "reusing it" in capsys.readouterr().out
    assert (run_dir / "metrics.json").stat().st_mtime_ns == before and again.metrics == result.metrics
    # overwrite=True retrains the same configuration from scratch, to the same numbers.
    retrained = run_experiment(config, tmp_path, overwrite=True)
    assert (run_dir / "metrics.json").stat().st_mtime_ns != before
    assert retrained.metrics["mask"]["test_accuracy"] == result.metrics["mask"]["test_accuracy"]


@pytest.mark.slow
def test_a_folder_with_another_configuration_is_never_overwritten(data_dir, tmp_path):
    config = tiny(data_dir, phases=("mask",), epochs=1)
    run_experiment(config, tmp_path)
    run_dir = tmp_path / config.run_name
    recorded = json.loads((run_dir / "config.json").read_text())
    recorded["identity"]["seed"] = 99  # as if another configuration lived here
    (run_dir / "config.json").write_text(json.dumps(recorded))
    (run_dir / "metrics.json").unlink()
    with pytest.raises(ValueError, match="holds a different configuration"):
        run_experiment(config, tmp_path)
    with pytest.raises(ValueError, match="holds a different configuration"):
        run_experiment(config, tmp_path, overwrite=True)  # not even when asked to overwrite
    assert (run_dir / "mask_best.keras").exists()


@pytest.mark.slow
def test_same_seed_same_initialisation_and_mask(data_dir, tmp_path):
    config = tiny(data_dir, phases=("mask",), epochs=2, learning_rate=0.5)
    runs = [run_experiment(config, tmp_path / name) for name in ("a", "b")]
    other = run_experiment(dataclasses.replace(config, seed=1), tmp_path / "c")

    def initial(result):
        model = keras.models.load_model(result.run_dir / "mask_best.keras")
        model.load_weights(result.run_dir / "initial.weights.h5")
        return [keras.ops.convert_to_numpy(v) for v in model.weights]

    def masks(result):
        model = keras.models.load_model(result.run_dir / "mask_best.keras")
        return [m for layer in sm.masked_layers(model) for m in layer.hard_masks() if m is not None]

    for x, y in zip(initial(runs[0]), initial(runs[1])):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(initial(runs[0])[0], initial(other)[0])
    for x, y in zip(masks(runs[0]), masks(runs[1])):
        np.testing.assert_array_equal(x, y)
    assert runs[0].utilization["mask"]["n_masked"].sum() > 0  # the mask really changed
    pd.testing.assert_frame_equal(runs[0].utilization["mask"], runs[1].utilization["mask"])
    assert not runs[0].utilization["mask"].equals(other.utilization["mask"])


@pytest.mark.slow
def test_interrupted_run_resumes_to_the_same_files(data_dir, tmp_path, monkeypatch):
    config = tiny(data_dir, epochs=3, mix_epochs=2)
    reference = run_experiment(config, tmp_path / "reference")
    # Interrupt after 2 epochs (mid mask phase), then after 2 more (mid weights phase).
    for _ in range(2):
        with pytest.raises(StopAfterEpochs.Interrupted):
            run_experiment(config, tmp_path / "resumed", callbacks=[StopAfterEpochs(2)])
    # Then crash inside a commit: the epoch's state file is written, its commit is not.
    real_write = exp._write_json
    calls = {"n": 0}

    def flaky(path, values):
        if str(path).endswith("state_mix.json"):
            calls["n"] += 1
            if calls["n"] == 1:
                raise KeyboardInterrupt("killed during the commit")
        return real_write(path, values)

    monkeypatch.setattr(exp, "_write_json", flaky)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(config, tmp_path / "resumed")
    monkeypatch.setattr(exp, "_write_json", real_write)
    resumed = run_experiment(config, tmp_path / "resumed")
    _assert_same_files(reference.run_dir, resumed.run_dir)
    # No lost or duplicated epochs, and no stale state left behind.
    assert [len(resumed.histories[p]) for p in ("mask", "weights", "mix")] == [3, 3, 2]
    assert len(list((resumed.run_dir / "state").glob("*.npz"))) <= 6


@pytest.mark.slow
def test_mixed_precision_is_applied_for_the_run_only(data_dir, tmp_path):
    config = tiny(data_dir, phases=("mask",), epochs=1, mixed_precision="bfloat16", jit_compile=False)
    result = run_experiment(config, tmp_path)
    assert keras.config.dtype_policy().name == "float32"  # restored
    model = keras.models.load_model(result.run_dir / "mask_best.keras")
    assert model.get_layer("dense_0").dtype_policy.name == "mixed_bfloat16"
    assert model.get_layer("logits").dtype_policy.name == "float32"
    assert result.config["config"]["mixed_precision"] == "bfloat16"
    assert 0 <= result.metrics["mask"]["test_accuracy"] <= 1


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="MirroredStrategy is TensorFlow's")
def test_mirrored_strategy_runs_on_one_device(data_dir, tmp_path):
    result = run_experiment(tiny(data_dir, epochs=1, mix_epochs=1, distribute="mirrored"), tmp_path)
    assert [len(result.histories[p]) for p in ("mask", "weights", "mix")] == [1, 1, 1]


def test_multi_gpu_engine_must_exist_on_the_backend(data_dir, tmp_path):
    other = {"tensorflow": "data_parallel", "jax": "mirrored"}.get(keras.backend.backend(), "mirrored")
    with pytest.raises(ValueError, match=rf"distribute='{other}'"):
        run_experiment(tiny(data_dir, distribute=other), tmp_path)
    assert not any(tmp_path.iterdir())  # refused before any work


def test_load_run_needs_a_finished_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="no metrics.json"):
        load_run(tmp_path)
