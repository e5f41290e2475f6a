"""TensorBoard logs (supermask_lib/experiment/tensorboard.py, ``ExperimentConfig.tensorboard``): off by default,
outside the run's identity and manifest, read back from the event files equal to the history CSVs, each
epoch exactly once after kills and resumes, written by Keras's callback or the tensorboard package alike."""

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("tensorboard", reason="the tensorboard extra (pip install 'supermask-lib[tensorboard]')")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader  # noqa: E402
from tensorboard.util.tensor_util import make_ndarray  # noqa: E402

from supermask_lib.experiment import results, storage  # noqa: E402
from supermask_lib.experiment import tensorboard as tensorboard_lib  # noqa: E402
from supermask_lib.experiment.config import ExperimentConfig  # noqa: E402
from supermask_lib.experiment.runner import run_experiment  # noqa: E402
from supermask_lib.experiment.storage import RunFolder  # noqa: E402
from tests.helpers import StopAfterEpochs, killed_during_commit  # noqa: E402
from tests.test_experiment import tiny  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = {"loss": ("train", "epoch_loss"), "accuracy": ("train", "epoch_accuracy"),
           "learning_rate": ("train", "epoch_learning_rate"), "fraction_kept": ("train", "epoch_fraction_kept"),
           "val_loss": ("validation", "epoch_loss"), "val_accuracy": ("validation", "epoch_accuracy")}


def _events(arm_dir):
    """``{(subfolder, tag): [(step, value), ...]}`` over every event file, read with TensorFlow's own iterator
    (the library reads them with the tensorboard package's), or without TensorFlow with the package's."""
    try:
        import tensorflow as tf
        read, to_array = tf.compat.v1.train.summary_iterator, tf.make_ndarray
    except ImportError:
        read, to_array = (lambda path: EventFileLoader(path).Load()), make_ndarray
    found = {}
    for path in sorted(Path(arm_dir).glob("*/events.out.tfevents.*")):
        for event in read(str(path)):
            for value in event.summary.value:
                number = float(to_array(value.tensor)) if value.HasField("tensor") else value.simple_value
                found.setdefault((path.parent.name, value.tag), []).append((event.step, number))
    return found


def assert_logs_are_the_history(run_dir, columns=COLUMNS, layers=True):
    """Each arm's event files hold each epoch of each column exactly once, equal (as float32) to its CSV."""
    result = results.load_run(run_dir)
    for arm, history in result.histories.items():
        events = _events(Path(run_dir) / "tensorboard" / arm)
        for column, key in columns.items():
            steps = [step for step, _ in events[key]]
            assert sorted(steps) == list(history["epoch"]) and len(set(steps)) == len(steps), (arm, column, steps)
            logged = dict(events[key])
            np.testing.assert_array_equal([logged[e] for e in history["epoch"]],
                                          history[column].to_numpy(dtype=np.float32), err_msg=f"{arm} {column}")
        per_layer = {tag for _, tag in events if tag.startswith("epoch_fraction_kept/")}
        assert not {tag for _, tag in events if "vs_iterations" in tag}  # Keras's pre-commit validation scalars
        if layers and arm in result.utilization:  # the layers' fractions, weighted by their sizes, are the overall one
            sizes = dict(zip(result.utilization[arm]["name"], result.utilization[arm]["n_weights"]))
            assert per_layer == {f"epoch_fraction_kept/{name}" for name in sizes}
            for epoch in history["epoch"]:
                kept = sum(dict(events["train", f"epoch_fraction_kept/{name}"])[epoch] * n for name, n in sizes.items())
                assert kept / sum(sizes.values()) == pytest.approx(history["fraction_kept"][epoch], abs=1e-6)
    return result


def test_the_setting_is_off_by_default_checked_and_not_part_of_the_identity():
    assert ExperimentConfig().tensorboard is False
    on = ExperimentConfig(tensorboard=True)
    assert on.identity() == ExperimentConfig().identity() and on.run_name("data") == ExperimentConfig().run_name("data")
    for bad in ("yes", 1, "true"):
        with pytest.raises(ValueError, match=rf"ExperimentConfig\.tensorboard={bad!r} is not allowed.*True or False"):
            ExperimentConfig(tensorboard=bad)


def test_without_the_tensorboard_package_it_stops_before_any_work(tmp_path, monkeypatch, data_dir):
    monkeypatch.setattr(tensorboard_lib, "_installed", lambda name: name != "tensorboard")
    with pytest.raises(ModuleNotFoundError, match=r"ExperimentConfig\.tensorboard=True .* not installed: pip install"):
        run_experiment(tiny(data_dir, tensorboard=True), tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def _write(log_dir, epochs, subfolders=("train", "validation")):
    writers = tensorboard_lib._Writers(log_dir)
    for epoch in epochs:
        writers.write({key: float(epoch) for key in COLUMNS if (tensorboard_lib.tag(key)[0] in subfolders)}, epoch)
    writers.close()


def test_continuing_writes_what_the_logs_lack_and_rewrites_logs_ahead_of_the_history(tmp_path):
    folder, config, lines = RunFolder(tmp_path), ExperimentConfig(tensorboard=True), []
    history = [{"epoch": e, **{key: float(e) for key in COLUMNS}} for e in range(3)]
    _write(folder.tensorboard / "mask", [0])
    _write(folder.tensorboard / "mask", [1], subfolders=("train",))  # killed between its two writers' flushes
    _write(folder.tensorboard / "weights", [0, 1, 2, 3])  # ahead of its history: epoch 3 was never committed
    tensorboard_lib.continue_logs(config, folder, {"mask": history, "weights": history[:2]}, lines.append)
    for arm, epochs in (("mask", [0, 1, 2]), ("weights", [0, 1])):
        counts = Counter((key, step) for key, values in _events(folder.tensorboard / arm).items() for step, _ in values)
        assert counts == {(key, e): 1 for key in COLUMNS.values() for e in epochs}, arm
    assert lines[0] == "[mask] TensorBoard: 2 committed epochs written from the history into " \
                       f"{folder.tensorboard / 'mask'}"
    assert "[weights] TensorBoard logs hold epochs the run never committed" in lines[1]
    before = sorted(folder.tensorboard.rglob("events.*"))
    tensorboard_lib.continue_logs(config, folder, {"mask": history, "weights": history[:2]}, lines.append)
    assert sorted(folder.tensorboard.rglob("events.*")) == before and len(lines) == 3  # complete: nothing written


@pytest.mark.slow
@pytest.mark.parametrize("writer", ["keras", "tensorboard_package"])
def test_the_event_files_read_back_equal_the_history(writer, data_dir, tmp_path, monkeypatch):
    """A cosine schedule changes the rate every epoch: the rate logged is the one the epoch trained with."""
    if writer == "keras":  # the library's choice on TensorFlow; on JAX it works as well where TensorFlow is installed
        pytest.importorskip("tensorflow", reason="Keras's TensorBoard callback writes with TensorFlow's summary ops")
    monkeypatch.setattr(tensorboard_lib, "_keras_writes", lambda: writer == "keras")
    config = tiny(data_dir, tensorboard=True, lr_schedule="cosine", test_each_epoch=True)
    result = run_experiment(config, tmp_path / "runs")
    test_columns = {"test_loss": ("train", "epoch_test_loss"), "test_accuracy": ("train", "epoch_test_accuracy")}
    assert_logs_are_the_history(result.run_dir, {**COLUMNS, **test_columns})
    assert result.histories["mask"]["learning_rate"].nunique() == 2
    # TensorBoard's own reader sees every arm's train and validation runs.
    accumulator = EventAccumulator(str(result.run_dir / "tensorboard" / "mix" / "validation"))
    accumulator.Reload()
    assert [event.step for event in accumulator.Tensors("epoch_accuracy")] == [0, 1]
    # Outside the manifest, the verified files and what results/ stores.
    manifest = json.loads(RunFolder(result.run_dir).manifest.read_text())
    assert not [name for name in manifest["files"] if "tensorboard" in name]
    results.load_run(result.run_dir)  # verified
    stored = results.store_small_files(result.run_dir, tmp_path / "stored")
    assert not list(stored.rglob("events.*")) and not (stored / "tensorboard").exists()


@pytest.mark.slow
def test_turning_it_on_for_a_finished_run_adds_its_logs_and_changes_no_number(data_dir, tmp_path, monkeypatch):
    off = run_experiment(tiny(data_dir), tmp_path / "runs")
    assert not (off.run_dir / "tensorboard").exists()
    live = run_experiment(tiny(data_dir, tensorboard=True), tmp_path / "live")
    for arm, history in off.histories.items():
        pd.testing.assert_frame_equal(history.drop(columns="seconds"), live.histories[arm].drop(columns="seconds"))
    # The same run (the setting is not its identity), reused: its logs come from its histories.
    lines = []
    again = run_experiment(tiny(data_dir, tensorboard=True), tmp_path / "runs", stream=_Lines(lines))
    assert again.run_dir == off.run_dir and any("finished run found and verified" in line for line in lines)
    assert sum("committed epochs written from the history" in line for line in lines) == 3
    assert_logs_are_the_history(off.run_dir, layers=False)
    before = sorted(off.run_dir.rglob("events.*"))
    monkeypatch.setattr(storage, "exclusive", lambda folder: pytest.fail("complete logs need no writing"))
    run_experiment(tiny(data_dir, tensorboard=True), tmp_path / "runs")
    assert sorted(off.run_dir.rglob("events.*")) == before
    # A read-only copy says what it lacks rather than failing.
    (off.run_dir / "tensorboard" / "mix").rename(tmp_path / "moved")

    def read_only(folder):
        raise PermissionError(f"{folder.lock}: read-only")

    monkeypatch.setattr(storage, "exclusive", read_only)
    lines.clear()
    run_experiment(tiny(data_dir, tensorboard=True), tmp_path / "runs", stream=_Lines(lines))
    assert any("a finished run without TensorBoard logs of every epoch, and they cannot be written" in line
               and "read-only" in line for line in lines)
    monkeypatch.undo()
    # Retraining replaces the logs with the new run's (the folder is the library's own, not a foreign file).
    replaced = run_experiment(tiny(data_dir, tensorboard=True), tmp_path / "runs", overwrite=True)
    assert_logs_are_the_history(replaced.run_dir)


class _Lines:
    def __init__(self, lines):
        self.lines = lines

    def write(self, text):
        self.lines.extend(line for line in text.splitlines() if line)

    def flush(self):
        pass


def _cli(out_dir, data_dir):
    """The tiny profile's run of tests/tiny_run.py through the command line, with the logs on."""
    command = [sys.executable, "-m", "supermask_lib", "--profile", "tiny", "--dataset", "mnist", "--out-dir",
               str(out_dir), "--data-dir", str(data_dir), "--set", "tensorboard=true", "model=fc", "bn_momentum=null",
               "epochs=3", "mix_epochs=2", "batch_size=50", "train_size=300", "val_size=100", "test_size=200",
               "augment_rotation=10.0"]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


@pytest.mark.slow
def test_a_killed_and_resumed_run_logs_each_epoch_once(data_dir, tmp_path, monkeypatch):
    """SIGKILL right after an epoch's line (its commit done, its logs maybe not), a crash inside a commit (nothing
    of that epoch may be logged), a crash between a commit and its logs; resumed, every epoch is logged once."""
    process = _cli(tmp_path / "runs", data_dir)
    for line in process.stdout:
        if line.startswith("[mask] epoch 2/3"):
            break
    process.send_signal(signal.SIGKILL)
    process.communicate()
    (run_dir,) = (tmp_path / "runs").iterdir()
    config = ExperimentConfig.from_dict(json.loads((run_dir / "config.json").read_text())["config"])
    assert config.tensorboard and json.loads((run_dir / "manifest.json").read_text())["phases"]["mask"]["epochs_done"] >= 2
    # the weights arm's second epoch: its state written, its commit not
    def second_weights_epoch(manifest):
        return manifest["phases"].get("weights", {}).get("epochs_done") == 2

    with killed_during_commit(monkeypatch, second_weights_epoch):
        with pytest.raises(KeyboardInterrupt):
            run_experiment(config, tmp_path / "runs")
    assert [step for step, _ in _events(run_dir / "tensorboard" / "weights")["train", "epoch_loss"]] == [0]
    epoch_logs = tensorboard_lib.epoch_logs

    def killed_before_logging(progress, epoch, network):  # the mix arm's first epoch: committed, never logged
        if progress.phase == "mix":
            raise StopAfterEpochs.Interrupted("killed between the commit and the logs")
        return epoch_logs(progress, epoch, network)

    monkeypatch.setattr(tensorboard_lib, "epoch_logs", killed_before_logging)
    with pytest.raises(StopAfterEpochs.Interrupted):
        run_experiment(config, tmp_path / "runs")
    monkeypatch.undo()
    assert _events(run_dir / "tensorboard" / "mix") == {}  # nothing of the committed epoch in its logs
    result = run_experiment(config, tmp_path / "runs")
    assert [len(result.histories[arm]) for arm in ("mask", "weights", "mix")] == [3, 3, 2]
    assert_logs_are_the_history(result.run_dir, layers=False)
    mix = _events(run_dir / "tensorboard" / "mix")  # epoch 0 from the history, epoch 1 live with its layers
    assert [step for step, _ in mix["train", "epoch_fraction_kept/dense"]] == [1]
