"""A run's folder under stress: other data, two writers, SIGKILLs, file modes."""

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from supermask_lib import runs
from supermask_lib.data import load_dataset
from supermask_lib.experiment import run_experiment
from supermask_lib.runs import RunFolder
from tests.helpers import StopAfterEpochs
from tests.test_experiment import assert_same_files, tiny

ROOT = Path(__file__).resolve().parents[1]
TINY_RUN = ROOT / "tests" / "tiny_run.py"


def _swapped_copy(data_dir, target):
    """The same MNIST file with one training label changed: other data, same shapes."""
    target.mkdir()
    with np.load(data_dir / "mnist.npz") as arrays:
        values = dict(arrays)
    values["y_train"] = values["y_train"].copy()
    values["y_train"][0] = (values["y_train"][0] + 1) % 10
    np.savez(target / "mnist.npz", **values)
    return target


@pytest.mark.slow
def test_other_data_is_another_run_finished_or_partial(data_dir, tmp_path):
    other_dir = _swapped_copy(data_dir, tmp_path / "other-data")
    config = tiny(data_dir, phases=("mask",), epochs=2)
    finished = run_experiment(config, tmp_path / "runs")
    swapped = run_experiment(config.replace(data_dir=str(other_dir)), tmp_path / "runs")
    assert swapped.run_dir != finished.run_dir  # not reused
    assert swapped.data["arrays_sha256"] != finished.data["arrays_sha256"]
    assert swapped.data["path"].startswith(str(other_dir))
    # A partial run is not resumed on other data either: the other data start their own run.
    partial_config = tiny(data_dir, phases=("mask",), epochs=3)
    with pytest.raises(StopAfterEpochs.Interrupted):
        run_experiment(partial_config, tmp_path / "partial", callbacks=[StopAfterEpochs(1)])
    (partial_dir,) = (tmp_path / "partial").iterdir()
    before = json.loads(RunFolder(partial_dir).manifest.read_text())
    other = run_experiment(partial_config.replace(data_dir=str(other_dir)), tmp_path / "partial")
    assert other.run_dir != partial_dir and len(other.histories["mask"]) == 3
    assert json.loads(RunFolder(partial_dir).manifest.read_text()) == before  # untouched
    resumed = run_experiment(partial_config, tmp_path / "partial")
    assert resumed.run_dir == partial_dir and resumed.data["arrays_sha256"] == finished.data["arrays_sha256"]


def _start(out_dir, data_dir, *extra):
    return subprocess.Popen([sys.executable, str(TINY_RUN), str(out_dir), str(data_dir), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def _wait_for(path, process, timeout=120):
    deadline = time.monotonic() + timeout
    while not Path(path).exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.mark.slow
def test_two_processes_on_one_run_one_writes_the_other_is_refused(data_dir, tmp_path):
    release = tmp_path / "release"
    first = _start(tmp_path / "runs", data_dir, "--hold-after-epoch", str(release))
    _wait_for(f"{release}.started", first)  # the first process holds the lock, mid-run
    second = _start(tmp_path / "runs", data_dir)
    _, err = second.communicate(timeout=300)
    assert second.returncode != 0
    assert "RunLockedError" in err and f"is being written by pid {first.pid} on " in err
    release.touch()
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    run_dir = Path(out.split("RUN_DIR ")[1].strip())
    assert runs.is_finished(RunFolder(run_dir))
    third = _start(tmp_path / "runs", data_dir)  # the lock died with its holder: reuse works
    out, err = third.communicate(timeout=300)
    assert third.returncode == 0 and "reusing it" in out, err


EPOCH_LINE = re.compile(r"^\[(mask|weights|mix)\] epoch (\d+)/")


def _kill_after_epoch(process, target, offsets, delay):
    """SIGKILL once the run has printed global epoch ``target`` (0: once training starts), after ``delay`` s."""
    for line in process.stdout:
        match = EPOCH_LINE.match(line)
        done = offsets[match.group(1)] + int(match.group(2)) if match else None
        if (target == 0 and line.startswith("run folder:")) or (done is not None and done >= target):
            break
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.communicate()


@pytest.mark.slow
def test_random_sigkills_resume_to_the_files_of_an_uninterrupted_run(data_dir, tmp_path):
    """SIGKILL a run at random moments in every phase (and once while loading), resume, compare.

    The tiny run has 3 + 3 + 2 epochs. Each kill waits for a randomly drawn
    epoch to be printed (the line comes right after its commit), then for a
    random fraction of a second, so kills land mid-epoch, mid-commit, between
    phases and during exports.
    """
    reference = _start(tmp_path / "reference", data_dir)
    out, err = reference.communicate(timeout=300)
    assert reference.returncode == 0, err
    reference_dir = Path(out.split("RUN_DIR ")[1].strip())
    offsets = {"mask": 0, "weights": 3, "mix": 6}
    rng = random.Random(20261125)
    process = _start(tmp_path / "killed", data_dir)
    time.sleep(rng.uniform(1.0, 4.0))  # while importing or loading the data
    process.send_signal(signal.SIGKILL)
    process.communicate()
    tally = []
    for target in sorted(rng.sample(range(0, 8), 6)):
        process = _start(tmp_path / "killed", data_dir)
        _kill_after_epoch(process, target, offsets, rng.uniform(0.0, 0.6))
        manifests = list((tmp_path / "killed").glob("*/manifest.json"))
        phases = json.loads(manifests[0].read_text())["phases"] if manifests else {}
        tally.append({p: (s["epochs_done"], s["complete"]) for p, s in phases.items()})
    print("committed (epochs, complete) after each kill:", tally)
    resumed = _start(tmp_path / "killed", data_dir)
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert_same_files(reference_dir, Path(out.split("RUN_DIR ")[1].strip()))
    assert {p for state in tally for p in state} == {"mask", "weights", "mix"}  # kills in every phase


@pytest.mark.slow
def test_output_files_respect_the_umask_all_alike(data_dir, tmp_path):
    previous = os.umask(0o027)
    try:
        result = run_experiment(tiny(data_dir, epochs=1, mix_epochs=1), tmp_path)
    finally:
        os.umask(previous)
    modes = {path.relative_to(result.run_dir).as_posix(): path.stat().st_mode & 0o777
             for path in result.run_dir.rglob("*") if path.is_file()}
    assert {"config.json", "manifest.json", "metrics.json", "history_mask.csv", "mask_best.keras",
            "initial.weights.h5"} <= set(modes)
    assert set(modes.values()) == {0o640}, modes


def test_a_folder_without_a_record_is_never_written_into(data_dir, tmp_path):
    config = tiny(data_dir)
    occupied = tmp_path / "runs"
    info = load_dataset("mnist", data_dir, train_size=300, val_size=100, test_size=200).info
    target = occupied / config.run_name(info["arrays_sha256"])
    target.mkdir(parents=True)
    (target / "notes.txt").write_text("somebody's file")
    with pytest.raises(runs.RunFileError, match="exists but holds no config.json"):
        run_experiment(config, occupied)
    assert (target / "notes.txt").read_text() == "somebody's file"
