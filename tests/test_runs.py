"""End-to-end suite: a run's folder under stress: other data, two writers, SIGKILLs, file modes,
leftovers of a kill; reading a run back. Also the mirror of supermask_lib/experiment/runs.py."""

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from supermask_lib.experiment import runs, storage
from supermask_lib.experiment.data import load_dataset
from supermask_lib.experiment.runner import run_experiment
from supermask_lib.experiment.storage import RunFolder
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
    epoch to be printed (the line comes right after its commit), one drawn
    from each phase's epochs and one from all, then for a random fraction of
    a second, so kills land mid-epoch, mid-commit, between phases and during
    exports (where exactly depends on the machine: on JAX an epoch of this
    run is shorter than the fraction).
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
    within = [(0, 1, 2), (3, 4, 5), (6, 7)]  # the global epochs after which each phase trains
    for target in sorted([rng.choice(epochs) for epochs in within] + [rng.randrange(0, 8)]):
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
    assert {p for state in tally for p in state} == {"mask", "weights", "mix"}  # every phase was reached


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
    with pytest.raises(storage.RunFileError, match="exists but holds no config.json"):
        run_experiment(config, occupied)
    assert (target / "notes.txt").read_text() == "somebody's file"


# ------------------------------------------- what a kill or a hand leaves behind

INFO = {"arrays_sha256": "a" * 64, "path": None, "source": "test"}


def _claimed(tmp_path, data_dir):
    """A run folder as a kill leaves it after the lock and state/, before config.json."""
    config = tiny(data_dir)
    folder = RunFolder(tmp_path / config.run_name(INFO["arrays_sha256"]))
    folder.state_dir.mkdir(parents=True)
    folder.lock.write_text("pid 1 on elsewhere\n")
    return config, folder


def test_a_kill_in_atomic_write_text_leaves_a_temporary_the_library_recognises(tmp_path, monkeypatch):
    def killed(*args):
        raise KeyboardInterrupt("killed before the rename")
    monkeypatch.setattr(storage.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        storage.atomic_write_text(tmp_path / "config.json", "{}")
    (left,) = tmp_path.iterdir()
    assert left.name.startswith(".tmp-config.json") and storage.is_temporary(left.name)
    assert storage.is_temporary("tmpab_3x9z0.tmp")  # the names atomic_write_text gave before
    assert not storage.is_temporary("notes.tmp") and not storage.is_temporary("tmp.txt")


@pytest.mark.parametrize("leftovers", [(), (".tmp-config.json.k3j9x0ab", "state/.tmp-mask-epoch000.npz",
                                            "tmpab_3x9z0.tmp")], ids=["empty", "temporaries"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_a_folder_killed_before_its_config_is_a_new_run(leftovers, overwrite, tmp_path, data_dir):
    config, folder = _claimed(tmp_path, data_dir)
    for name in leftovers:
        (folder.path / name).write_text("half")
    run = runs.open_run(config, folder, INFO, overwrite=overwrite)
    assert run.manifest == {"files": {}, "phases": {}, "finished": False}
    assert sorted(path.name for path in folder.path.rglob("*")) == [".lock", "config.json", "state"]
    assert json.loads(folder.config.read_text())["identity"] == config.identity()


def test_run_files_without_a_record_resume_only_with_overwrite(tmp_path, data_dir):
    config, folder = _claimed(tmp_path, data_dir)
    storage.write_json(folder.manifest, {"files": {}, "phases": {}, "finished": False})
    (folder.state_dir / "mask-epoch000.npz").write_bytes(b"state")
    (folder.path / "history_mask.csv").write_text("epoch\n0\n")
    with pytest.raises(storage.RunFileError, match=r"exists but holds no config\.json, only run files "
                                                r"\['history_mask\.csv', 'manifest\.json', 'state/mask-epoch000\.npz'\].*"
                                                r"Rerun with overwrite=True"):
        runs.open_run(config, folder, INFO)
    assert (folder.state_dir / "mask-epoch000.npz").exists()  # nothing deleted
    runs.open_run(config, folder, INFO, overwrite=True)
    assert sorted(path.name for path in folder.path.rglob("*")) == [".lock", "config.json", "state"]


def test_overwrite_refuses_files_the_library_never_writes(tmp_path, data_dir):
    config, folder = _claimed(tmp_path, data_dir)
    runs.open_run(config, folder, INFO)
    (folder.path / "notes.txt").write_text("somebody's notes")
    (folder.state_dir / "plot.png").write_bytes(b"png")
    with pytest.raises(storage.RunFileError, match=r"holds \['notes\.txt', 'state/plot\.png'\], which the library "
                                                r"never writes; overwrite=True deletes only a run's own files"):
        runs.open_run(config, folder, INFO, overwrite=True)
    assert (folder.path / "notes.txt").read_text() == "somebody's notes" and (folder.state_dir / "plot.png").exists()
    other = config.replace(epochs=5)
    with pytest.raises(storage.RunFileError, match="holds a different configuration"):
        runs.open_run(other, folder, INFO, overwrite=True)


def test_overwrite_recovers_a_damaged_record(tmp_path, data_dir):
    config, folder = _claimed(tmp_path, data_dir)
    runs.open_run(config, folder, INFO)
    folder.config.write_text('{"identity": ')  # truncated
    (folder.state_dir / "mask-epoch003.npz").write_bytes(b"state")
    with pytest.raises(storage.RunFileError, match="config.json is not readable JSON"):
        runs.open_run(config, folder, INFO)
    runs.open_run(config, folder, INFO, overwrite=True)
    assert json.loads(folder.config.read_text())["identity"] == config.identity()
    assert not list(folder.state_dir.iterdir())


@pytest.mark.parametrize("where", ["run folder", "out_dir"])
def test_a_dangling_symlink_says_what_it_points_to(where, tmp_path, data_dir):
    config = tiny(data_dir)
    out_dir = tmp_path / "runs"
    link = out_dir / config.run_name(INFO["arrays_sha256"]) if where == "run folder" else out_dir
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(tmp_path / "gone")
    folder = RunFolder(out_dir / config.run_name(INFO["arrays_sha256"]))
    with pytest.raises(storage.RunFileError, match=rf"^{re.escape(str(link))} is a symbolic link to "
                                                rf"{re.escape(str(tmp_path / 'gone'))}, which does not exist.*"
                                                r"Create the folder it points to, or remove the link"):
        with storage.exclusive(folder):
            pass


@pytest.fixture(scope="module")
def partial_run(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("partial")
    config = tiny(data_dir, phases=("mask",), epochs=3)
    with pytest.raises(StopAfterEpochs.Interrupted):
        run_experiment(config, out, callbacks=[StopAfterEpochs(2)])
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return config, run_dir


def _copy(partial_run, tmp_path):
    config, source = partial_run
    run_dir = tmp_path / source.name
    shutil.copytree(source, run_dir)
    return config, run_dir, json.loads((run_dir / "manifest.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("kept", ["best_file", "last_file"])
def test_a_manifest_that_lost_a_kept_state_is_refused_and_nothing_deleted(kept, partial_run, tmp_path):
    config, run_dir, manifest = _copy(partial_run, tmp_path)
    name = manifest["phases"]["mask"][kept]
    del manifest["files"][name]  # edited by hand
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    before = sorted(path.name for path in run_dir.rglob("*"))
    with pytest.raises(storage.RunFileError, match=rf"manifest\.json is inconsistent: phase 'mask' keeps {name} as its "
                                                r"(best|last) epoch's state, but the manifest's files do not list it.*"
                                                r"nothing was deleted\. Rerun with overwrite=True"):
        run_experiment(config, tmp_path)
    assert sorted(path.name for path in run_dir.rglob("*")) == before
    assert len(run_experiment(config, tmp_path, overwrite=True).histories["mask"]) == 3


@pytest.mark.slow
def test_resume_deletes_only_the_librarys_leftovers(partial_run, tmp_path):
    config, run_dir, manifest = _copy(partial_run, tmp_path)
    phase = manifest["phases"]["mask"]
    dropped = [f"state/mask-epoch{epoch:03d}.npz" for epoch in range(phase["epochs_done"])
               if f"state/mask-epoch{epoch:03d}.npz" not in manifest["files"]]  # removal committed, file kept
    leftovers = [*dropped, "state/mask-epoch002.npz", "state/.tmp-mask-epoch002.npz", ".tmp-manifest.json.x1y2z3ab",
                 ".tmp-mask_best.keras", "tmpab_3x9z0.tmp"]
    for name in leftovers:
        (run_dir / name).write_bytes(b"half a file")
    (run_dir / "state" / "notes.txt").write_text("mine")
    with pytest.raises(storage.RunFileError, match=r"state holds \['state/notes\.txt'\], which the manifest does not "
                                                r"list and the run never writes.*nothing was deleted"):
        run_experiment(config, tmp_path)
    assert all((run_dir / name).exists() for name in leftovers)
    (run_dir / "state" / "notes.txt").unlink()
    result = run_experiment(config, tmp_path)
    assert len(result.histories["mask"]) == 3
    left = {path.relative_to(run_dir).as_posix() for path in run_dir.rglob("*") if path.is_file()}
    assert not [name for name in left if storage.is_temporary(Path(name).name)]
    assert {name for name in left if name.startswith("state/")} == {
        name for name in json.loads((run_dir / "manifest.json").read_text())["files"] if name.startswith("state/")}
