"""End-to-end suite: one run of the experiment from configuration to files.

Its files, what each arm learns, determinism, resume after an interruption, sampled test masks,
and the guard that refuses days of CPU training before any work. Also the mirror of
supermask_lib/experiment/runner.py; ``tiny`` is the small run other test files reuse."""

import dataclasses
import io
import json

import keras
import numpy as np
import pandas as pd
import pytest

import supermask_lib as sm
from supermask_lib.experiment import data as data_lib
from supermask_lib import recipes
from supermask_lib.experiment import engine
from supermask_lib.experiment import storage
from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.experiment.callbacks import HISTORY_COLUMNS
from supermask_lib.experiment.runner import check_affordable, run_experiment
from supermask_lib.experiment.storage import RunFolder
from tests.helpers import StopAfterEpochs, killed_during_commit


def tiny(data_dir, **overrides):
    values = dict(
        dataset="mnist", model="fc", epochs=2, mix_epochs=2, batch_size=50, train_size=300,
        val_size=100, test_size=200, data_dir=str(data_dir), learning_rate=0.01, augment_rotation=10.0,
    )
    values.update(overrides)
    return ExperimentConfig(**values)


def mask_config(data_dir, **fields):
    """A short mask-only run without the study's augmentation (the recipes' options set the rest)."""
    small = dict(dataset="mnist", model="fc", epochs=3, batch_size=50, train_size=300, val_size=100, test_size=200,
                 data_dir=str(data_dir), phases=("mask",), augment_flip=False, augment_rotation=0.0, augment_shift=0.0)
    return ExperimentConfig(**{**small, **fields})


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


def assert_same_files(a, b):
    """Two run folders hold the same results (wall times aside)."""
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
    folder = RunFolder(result.run_dir)
    assert folder.path.parent == tmp_path and folder.path.name.startswith("mnist-fc-threshold-")
    expected = [folder.config, folder.initial_weights, folder.metrics, folder.manifest,
                folder.utilization("mask"), folder.utilization("mix")] + [
                folder.checkpoint(p, k) for p in ("mask", "weights", "mix") for k in ("best", "last")]
    for path in expected:
        assert path.is_file(), path
    manifest = json.loads(folder.manifest.read_text())
    assert manifest["finished"] and {folder.relative(p) for p in expected if p != folder.manifest} <= set(manifest["files"])
    # The typed result: the configuration as given, the data and the machine it ran on.
    assert result.config == config
    assert result.data["file_sha256"] and result.data["train_size"] == 300
    assert result.data["arrays_sha256"] in json.dumps(json.loads(folder.config.read_text())["data"])
    for key in ("keras", "backend", "backend_version", "device", "supermask_lib", "python"):
        assert result.environment[key]
    test_split = data_lib.load_dataset("mnist", data_dir, train_size=300, val_size=100, test_size=200, seed=0)
    for phase in ("mask", "weights", "mix"):
        history = result.histories[phase]
        assert list(history.columns) == HISTORY_COLUMNS and list(history["epoch"]) == [0, 1]
        best = int(history["val_accuracy"].idxmax())
        assert result.metrics[phase].best_epoch == best
        # The reported test accuracy is that of the selected checkpoint, evaluated again here.
        model = keras.models.load_model(folder.checkpoint(phase, "best"))
        predicted = model.predict(test_split.x_test, verbose=0).argmax(axis=1)
        assert result.metrics[phase].test_accuracy == pytest.approx((predicted == test_split.y_test).mean(), abs=1e-6)
    np.testing.assert_allclose(result.histories["mix"]["learning_rate"], 1e-5)
    assert (result.histories["weights"]["fraction_kept"] == 1.0).all()
    # The mix phase keeps the mask of the best masked network frozen.
    pd.testing.assert_frame_equal(result.utilization["mask"], result.utilization["mix"])
    out = capsys.readouterr().out
    assert "[mask] epoch 2/2" in out and "300 train / 100 val (holdout) / 200 test" in out
    # Same call again: verified and reused, not retrained.
    before = folder.metrics.stat().st_mtime_ns
    again = run_experiment(config, tmp_path)
    assert "finished run found and verified, reusing it" in capsys.readouterr().out
    assert folder.metrics.stat().st_mtime_ns == before and again.metrics == result.metrics
    # overwrite=True retrains the same configuration from scratch, to the same numbers.
    retrained = run_experiment(config, tmp_path, overwrite=True)
    assert folder.metrics.stat().st_mtime_ns != before
    assert retrained.metrics["mask"].test_accuracy == result.metrics["mask"].test_accuracy


@pytest.mark.slow
def test_each_phase_learns_a_separable_problem(data_dir, tmp_path):
    """Well above chance (0.1): a mask alone at a large score rate, and plain weights at the study's rate."""
    clean = dict(train_size=2000, val_size=200, test_size=500, batch_size=100, epochs=3,
                 augment_rotation=0.0, augment_shift=0.0, augment_flip=False)
    masked = run_experiment(tiny(data_dir, **clean, learning_rate=0.1, phases=("mask",)), tmp_path)
    plain = run_experiment(tiny(data_dir, **clean, learning_rate=0.01, phases=("weights",)), tmp_path)
    assert masked.metrics["initial"].test_accuracy < 0.2
    assert masked.metrics["mask"].test_accuracy > 0.5
    assert plain.metrics["weights"].test_accuracy > 0.6


@pytest.mark.slow
def test_a_folder_with_another_configuration_is_never_overwritten(data_dir, tmp_path):
    config = tiny(data_dir, phases=("mask",), epochs=1)
    folder = RunFolder(run_experiment(config, tmp_path).run_dir)
    recorded = json.loads(folder.config.read_text())
    recorded["identity"]["seed"] = 99  # as if another configuration lived here
    folder.config.write_text(json.dumps(recorded))
    for overwrite in (False, True):  # not even when asked to overwrite
        with pytest.raises(storage.RunFileError, match="holds a different configuration"):
            run_experiment(config, tmp_path, overwrite=overwrite)
    assert folder.checkpoint("mask", "best").exists()


@pytest.mark.slow
def test_same_seed_same_initialisation_and_mask(data_dir, tmp_path):
    config = tiny(data_dir, phases=("mask",), epochs=2, learning_rate=0.5)
    results = [run_experiment(config, tmp_path / name) for name in ("a", "b")]
    other = run_experiment(config.replace(seed=1), tmp_path / "c")

    def initial(result):
        model = keras.models.load_model(RunFolder(result.run_dir).checkpoint("mask", "best"))
        model.load_weights(RunFolder(result.run_dir).initial_weights)
        return [keras.ops.convert_to_numpy(v) for v in model.weights]

    def masks(result):
        model = keras.models.load_model(RunFolder(result.run_dir).checkpoint("mask", "best"))
        return [m for layer in sm.masked_layers(model) for m in layer.hard_masks() if m is not None]

    for x, y in zip(initial(results[0]), initial(results[1])):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(initial(results[0])[0], initial(other)[0])
    for x, y in zip(masks(results[0]), masks(results[1])):
        np.testing.assert_array_equal(x, y)
    assert results[0].utilization["mask"]["n_masked"].sum() > 0  # the mask really changed
    pd.testing.assert_frame_equal(results[0].utilization["mask"], results[1].utilization["mask"])
    assert not results[0].utilization["mask"].equals(other.utilization["mask"])


@pytest.mark.slow
def test_interrupted_run_resumes_to_the_same_files(data_dir, tmp_path, monkeypatch):
    config = tiny(data_dir, epochs=3, mix_epochs=2)
    reference = run_experiment(config, tmp_path / "reference")
    # Interrupt after 2 epochs (mid mask phase), then after 2 more (mid weights phase).
    for _ in range(2):
        with pytest.raises(StopAfterEpochs.Interrupted):
            run_experiment(config, tmp_path / "resumed", callbacks=[StopAfterEpochs(2)])
    # Then crash inside a commit: the mix phase's first epoch state is written, its commit is not.
    with killed_during_commit(monkeypatch, lambda manifest: "mix" in manifest["phases"]):
        with pytest.raises(KeyboardInterrupt):
            run_experiment(config, tmp_path / "resumed")
    resumed = run_experiment(config, tmp_path / "resumed")
    assert_same_files(reference.run_dir, resumed.run_dir)
    # No lost or duplicated epochs, and no stale state left behind.
    assert [len(resumed.histories[p]) for p in ("mask", "weights", "mix")] == [3, 3, 2]
    assert len(list(RunFolder(resumed.run_dir).state_dir.glob("*.npz"))) <= 6


@pytest.mark.slow
def test_mixed_precision_is_applied_for_the_run_only(data_dir, tmp_path):
    config = tiny(data_dir, phases=("mask",), epochs=1, mixed_precision="bfloat16")
    result = run_experiment(config, tmp_path)
    assert keras.config.dtype_policy().name == "float32"  # restored
    model = keras.models.load_model(RunFolder(result.run_dir).checkpoint("mask", "best"))
    assert model.get_layer("dense_0").dtype_policy.name == "mixed_bfloat16"
    assert model.get_layer("logits").dtype_policy.name == "float32"
    assert model.get_layer("logits").compute_dtype == "float32"
    assert result.config.mixed_precision == "bfloat16"


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="MirroredStrategy is TensorFlow's")
def test_mirrored_strategy_runs_on_one_device(data_dir, tmp_path):
    result = run_experiment(tiny(data_dir, epochs=1, mix_epochs=1, distribute="mirrored"), tmp_path)
    assert [len(result.histories[p]) for p in ("mask", "weights", "mix")] == [1, 1, 1]


@pytest.mark.slow
def test_controls_start_from_the_same_initialisation_and_train_what_they_say(data_dir, tmp_path, monkeypatch):
    config = tiny(data_dir, model="wrn-10-1", bn_momentum=0.9, epochs=2, mix_epochs=1, learning_rate=0.3,
                  phases=("mask", "weights", "mix", "pure_mask", "equal_cost", "bn_only", "random_mask"),
                  finetune_lrs=(1e-3,), random_mask_every_rate=True)
    traces = []
    train_step = keras.Model.train_step
    monkeypatch.setattr(keras.Model, "train_step", lambda self, *a, **k: traces.append(1) or train_step(self, *a, **k))
    counter, log = TracesPerFit(traces), io.StringIO()
    result = run_experiment(config, tmp_path, callbacks=[counter], stream=log)
    folder = RunFolder(result.run_dir)
    # Five kinds of step among the nine arms: each traced by its first arm, trained by the rest as it is.
    reused = {arm: f"[{arm}] trains the step traced for " in log.getvalue() for arm in config.arms()}
    assert reused == {"mask": False, "weights": False, "mix": False, "pure_mask": False, "equal_cost": True,
                      "bn_only": False, "random_mask": True, "mix_lr0.001": True, "random_mask_lr0.001": True}
    if TRACED_STEPS:
        traced = {arm: count > 0 for arm, count in zip(config.arms(), counter.per_fit, strict=True)}
        assert traced == {arm: not again for arm, again in reused.items()}
    lengths = {arm: len(history) for arm, history in result.histories.items()}
    assert lengths == {"mask": 2, "weights": 2, "mix": 1, "pure_mask": 2, "equal_cost": 3, "bn_only": 2,
                       "random_mask": 1, "mix_lr0.001": 1, "random_mask_lr0.001": 1}
    assert set(config.arms()) <= set(result.metrics)
    np.testing.assert_allclose(result.histories["mix_lr0.001"]["learning_rate"], 1e-3)
    np.testing.assert_allclose(result.histories["random_mask_lr0.001"]["learning_rate"], 1e-3)
    # Every random-mask arm fine-tunes the same random mask: the same per-layer masks, at another rate.
    pd.testing.assert_frame_equal(result.utilization["random_mask"], result.utilization["random_mask_lr0.001"])
    # Equal cost is the weights arm trained longer: same start, same batches, so the same first epochs.
    columns = ["loss", "accuracy", "val_loss", "val_accuracy"]
    pd.testing.assert_frame_equal(result.histories["equal_cost"][columns].iloc[:2], result.histories["weights"][columns])

    def variables(arm):
        model = keras.models.load_model(folder.checkpoint(arm, "best"))
        return {v.path: keras.ops.convert_to_numpy(v) for v in model.weights}

    initial = keras.models.load_model(folder.checkpoint("mask", "best"))
    initial.load_weights(folder.initial_weights)
    start = {v.path: keras.ops.convert_to_numpy(v) for v in initial.weights}
    bn_only, pure = variables("bn_only"), variables("pure_mask")
    for path, value in bn_only.items():  # only BatchNorm moved (its moving statistics too)
        moved = not np.array_equal(value, start[path])
        assert moved == ("_bn/" in path), path
    for path, value in pure.items():  # the scores and BatchNorm's statistics moved, γ and β did not
        if path.endswith(("gamma", "beta", "kernel", "bias")):
            np.testing.assert_array_equal(value, start[path], err_msg=path)
    assert any(not np.array_equal(pure[p], start[p]) for p in pure if p.endswith("kernel_scores"))
    # The random mask keeps each layer's learned fraction, at other positions.
    learned, shuffled = result.utilization["mask"], result.utilization["random_mask"]
    pd.testing.assert_series_equal(learned["n_masked"], shuffled["n_masked"])
    assert learned["n_masked"].sum() > 0
    masks = {arm: [m for layer in sm.masked_layers(keras.models.load_model(folder.checkpoint(arm, "best")))
                   for m in layer.hard_masks() if m is not None] for arm in ("mix", "random_mask")}
    assert any(not np.array_equal(a, b) for a, b in zip(masks["mix"], masks["random_mask"]))


# Keras on torch runs train_step eagerly (its "auto" jit_compile is off there): every batch calls it, so
# torch has no trace to count; the run's log still says which arms train a step another arm made.
TRACED_STEPS = keras.backend.backend() != "torch"


class TracesPerFit(keras.callbacks.Callback):
    """How many times each ``fit`` traced a training step (``traces`` counts the Python calls of ``train_step``)."""

    def __init__(self, traces):
        super().__init__()
        self.traces, self.per_fit = traces, []

    def on_train_begin(self, logs=None):
        self.per_fit.append(len(self.traces))

    def on_train_end(self, logs=None):
        self.per_fit[-1] = len(self.traces) - self.per_fit[-1]


@pytest.mark.slow
def test_an_arm_of_a_traced_kind_reuses_the_step_and_trains_as_if_compiled_alone(data_dir, tmp_path, monkeypatch):
    """random_mask trains the step mix traced (no trace of its own), to the files of a run where it compiles its own."""
    traces = []
    train_step = keras.Model.train_step

    def counted(self, *args, **kwargs):  # runs in Python only while a step is traced
        traces.append(type(self).__name__)
        return train_step(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "train_step", counted)
    shared, alone = TracesPerFit(traces), TracesPerFit(traces)
    small = dict(epochs=2, mix_epochs=2)
    logs = io.StringIO(), io.StringIO()
    both = run_experiment(tiny(data_dir, **small, phases=("mask", "mix", "random_mask")), tmp_path / "both",
                          callbacks=[shared], stream=logs[0])
    single = run_experiment(tiny(data_dir, **small, phases=("mask", "random_mask")), tmp_path / "alone",
                            callbacks=[alone], stream=logs[1])
    assert "[random_mask] trains the step traced for mix" in logs[0].getvalue()
    assert "[random_mask] trains the step traced" not in logs[1].getvalue()
    if TRACED_STEPS:
        assert shared.per_fit[0] > 0 and shared.per_fit[1] > 0 and shared.per_fit[2] == 0, shared.per_fit  # mask, mix, random_mask
        assert alone.per_fit[1] > 0, alone.per_fit  # random_mask, first of its kind there, traces its own
    columns = [c for c in both.histories["random_mask"].columns if c != "seconds"]
    pd.testing.assert_frame_equal(both.histories["random_mask"][columns], single.histories["random_mask"][columns])
    pd.testing.assert_frame_equal(both.utilization["random_mask"], single.utilization["random_mask"])
    assert dataclasses.replace(both.metrics["random_mask"], seconds=None) == \
        dataclasses.replace(single.metrics["random_mask"], seconds=None)
    for which in ("best", "last"):
        for x, y in zip(*(keras.models.load_model(RunFolder(r.run_dir).checkpoint("random_mask", which)).weights
                          for r in (both, single))):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(x), keras.ops.convert_to_numpy(y))


@pytest.mark.slow
def test_a_finished_run_is_reused_without_its_lock(data_dir, tmp_path, monkeypatch):
    """A published results folder may be read-only: reusing a finished run writes nothing, the lock included."""
    config = tiny(data_dir, epochs=1, mix_epochs=1)
    first = run_experiment(config, tmp_path)
    before = {path: path.stat().st_mtime_ns for path in first.run_dir.rglob("*")}

    def no_lock(folder):
        raise PermissionError(f"{folder.lock}: read-only")

    monkeypatch.setattr(storage, "exclusive", no_lock)
    again = run_experiment(config, tmp_path)
    assert again.metrics == first.metrics
    assert {path: path.stat().st_mtime_ns for path in first.run_dir.rglob("*")} == before
    with pytest.raises(PermissionError, match="read-only"):
        run_experiment(config, tmp_path, overwrite=True)  # retraining does need the lock


def test_sampled_test_masks_report_the_mean_of_their_draws(data_dir, tmp_path):
    zhou = {**recipes.recipe_fields("zhou"), "epochs": 3, "batch_size": 50, "eval_samples": 4}
    result = run_experiment(mask_config(data_dir, **zhou), tmp_path)
    metrics = result.metrics["mask"]
    draws = metrics.test_accuracy_draws
    assert len(draws) == 4 and len(set(draws)) > 1  # each pass draws its own mask
    assert metrics.test_accuracy == pytest.approx(np.mean(draws))
    np.testing.assert_allclose(result.histories["mask"]["learning_rate"], 100.0)


def test_days_of_cpu_training_stop_before_any_work(data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv(engine.ALLOW_SLOW_ENV, raising=False)
    config = ExperimentConfig(dataset="mnist", model="wrn-28-8", data_dir=str(data_dir))  # the full profile's size
    assert engine.training_flops(config, 2.5e9, 54_000) / 100e9 / 86400 > 5  # days on 2 cores: it must stop
    with pytest.raises(engine.TooSlowForThisMachine, match=r"model='wrn-28-8' on 54000 mnist images would train "
                                                           r"for at least [\d.]+ days .* SUPERMASK_ALLOW_SLOW_RUN=1"):
        run_experiment(config, tmp_path)
    assert not any(tmp_path.iterdir())
    monkeypatch.setenv(engine.ALLOW_SLOW_ENV, "1")
    assert check_affordable(config) > engine.MAX_CPU_HOURS * 3600  # allowed, and the estimate is returned
    small = ExperimentConfig(dataset="mnist", model="wrn-10-1", train_size=5000, epochs=16, mix_epochs=4,
                             data_dir=str(data_dir))
    assert check_affordable(small, allow_slow=False) < 3600  # the quick profile passes


@pytest.mark.slow
def test_a_finished_run_is_read_back_whatever_its_cost(data_dir, tmp_path, monkeypatch):
    """The guard is about training: rendering runs trained elsewhere (on a GPU, say) must still work."""
    monkeypatch.delenv(engine.ALLOW_SLOW_ENV, raising=False)
    monkeypatch.setattr(engine, "MAX_CPU_HOURS", 0.0)  # everything is "too slow" now
    config = ExperimentConfig(dataset="mnist", model="fc", epochs=1, phases=("mask",), train_size=200, val_size=50,
                              test_size=100, data_dir=str(data_dir))  # one arm: the guard is about the run, not its arms
    with pytest.raises(engine.TooSlowForThisMachine):
        run_experiment(config, tmp_path)
    trained = run_experiment(config, tmp_path, allow_slow=True)
    assert run_experiment(config, tmp_path).metrics == trained.metrics  # finished: reused, no refusal
    assert check_affordable(config, out_dir=tmp_path) is None
    with pytest.raises(engine.TooSlowForThisMachine):
        run_experiment(config, tmp_path, overwrite=True)  # retraining is training


@pytest.mark.slow
def test_the_annealing_control_starts_from_the_weights_arms_selected_network(data_dir, tmp_path):
    """weights_anneal fine-tunes weights' selected epoch (not its last, not the initialisation), with no mask."""
    config = tiny(data_dir, epochs=3, mix_epochs=1, phases=("weights", "weights_anneal"), anneal_lr=1e-9,
                  lr_schedule="cosine")
    result = run_experiment(config, tmp_path)
    folder = RunFolder(result.run_dir)
    weights_best = keras.models.load_model(folder.checkpoint("weights", "best"))
    weights_last = keras.models.load_model(folder.checkpoint("weights", "last"))
    annealed = keras.models.load_model(folder.checkpoint("weights_anneal", "last"))
    assert not sm.masked_layers(annealed)
    kernels = lambda model: [keras.ops.convert_to_numpy(v) for v in model.weights if v.path.endswith("kernel")]  # noqa: E731
    for start, end in zip(kernels(weights_best), kernels(annealed), strict=True):
        np.testing.assert_allclose(end, start, atol=1e-6)  # a rate of 1e-9 leaves it where it started
    if result.metrics["weights"].best_epoch != 2:  # the selected epoch is not the last: the start is the selected one
        assert any(not np.allclose(a, b, atol=1e-6) for a, b in zip(kernels(weights_last), kernels(annealed)))
    assert result.histories["weights_anneal"]["learning_rate"].iloc[0] <= 1e-9
