"""End-to-end suite: a kill at every kind of file-system step: each resume ends with the files of an uninterrupted run.

The child (this file run as a script) counts the file-system operations on
the run's folder (rename, replace, unlink, mkdir, rmdir, opening for
writing, flock) and, asked to, ends itself with ``os._exit`` at the N-th:
a SIGKILL at that exact step. A fresh child then resumes the run.

    python tests/test_crash_consistency.py OUT_DIR DATA_DIR CRASH_AT   (0: never)
"""

import builtins
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = dict(dataset="mnist", model="fc", phases=("mask", "weights", "mix"), epochs=2, mix_epochs=1,
              batch_size=50, train_size=200, val_size=100, test_size=100, learning_rate=0.01,
              augment_rotation=10.0, max_steps_per_epoch=2)
WRITE_MODES = set("wax+")


def _count_operations(out_dir, crash_at):
    """Wrap the file-system calls that touch ``out_dir``; exit at the ``crash_at``-th (0: count only)."""
    import fcntl

    counted = [0]
    out_dir = os.path.abspath(out_dir)

    def step():
        counted[0] += 1
        if counted[0] == crash_at:
            os._exit(137)

    def ours(path):
        return isinstance(path, (str, bytes, os.PathLike)) and os.path.abspath(os.fsdecode(path)).startswith(out_dir)

    def wrap(module, name, is_step):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            if is_step(*args, **kwargs):
                step()
            return original(*args, **kwargs)
        setattr(module, name, wrapper)

    for name in ("replace", "rename", "unlink", "mkdir", "rmdir", "remove"):
        wrap(os, name, lambda path, *rest, **kw: ours(path))
    wrap(os, "open", lambda path, flags, *rest, **kw: ours(path) and bool(flags & (os.O_WRONLY | os.O_RDWR)))
    writing = lambda path, mode="r", *rest, **kw: ours(path) and bool(WRITE_MODES & set(mode))  # noqa: E731
    wrap(builtins, "open", writing)
    wrap(io, "open", writing)
    wrap(fcntl, "flock", lambda *args, **kw: True)
    return counted


def _child(out_dir, data_dir, crash_at):
    sys.path.insert(0, str(ROOT))
    from supermask_lib.config import ExperimentConfig
    from supermask_lib.experiment import run_experiment

    config = ExperimentConfig(**CONFIG, data_dir=str(data_dir))
    counted = _count_operations(out_dir, crash_at)
    result = run_experiment(config, out_dir, progress_bar=False)
    print(f"RUN_DIR {result.run_dir}\nOPERATIONS {counted[0]}")


def _run(out_dir, data_dir, crash_at=0):
    return subprocess.run([sys.executable, __file__, str(out_dir), str(data_dir), str(crash_at)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


def _finished(process):
    assert process.returncode == 0, process.stderr[-3000:]
    out = process.stdout
    return Path(out.split("RUN_DIR ")[1].split("\n")[0]), int(out.split("OPERATIONS ")[1].split()[0])


def _files(run_dir):
    """What must be identical: every file's name, the manifest's names and phases, the results (wall times aside)."""
    manifest = json.loads((run_dir / "manifest.json").read_text())
    for state in manifest["phases"].values():
        for row in state["history"]:
            row.pop("seconds", None)
        (state.get("metrics") or {}).pop("seconds", None)  # the arm's summed wall time
    return {"names": sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*")),
            "listed": sorted(manifest["files"]), "phases": manifest["phases"], "finished": manifest["finished"]}


@pytest.mark.slow
def test_a_kill_at_any_file_operation_resumes_to_the_uninterrupted_files(data_dir, tmp_path):
    import keras

    from supermask_lib.config import ExperimentConfig
    from supermask_lib.experiment import run_experiment
    from supermask_lib.runs import is_temporary
    from supermask_lib.results import load_run
    from tests.test_experiment import assert_same_files

    config = ExperimentConfig(**CONFIG, data_dir=str(data_dir))

    reference_dir, total = _finished(_run(tmp_path / "reference", data_dir))
    assert total > 20
    # every step of claiming the folder (lock, config.json, state/), then a spread over training and exports;
    # SUPERMASK_CRASH_EVERY_OPERATION=1 crashes at each one in turn (a process per step: too long for CI)
    crash_points = sorted({*range(1, 11), *range(12, total + 1, max(1, total // 5)), total})
    if os.environ.get("SUPERMASK_CRASH_EVERY_OPERATION") == "1":
        crash_points = list(range(1, total + 1))
    print(f"{total} file operations; crashing at {len(crash_points)} of them")
    for crash_at in crash_points:
        out_dir = tmp_path / f"crash-{crash_at:03d}"
        crashed = _run(out_dir, data_dir, crash_at)
        assert crashed.returncode == 137, (crash_at, crashed.stderr[-3000:])
        keras.backend.clear_session(free_memory=False)
        run_dir = run_experiment(config, out_dir, progress_bar=False).run_dir
        assert _files(run_dir) == _files(reference_dir), crash_at
        assert not [p for p in run_dir.rglob("*") if is_temporary(p.name)], crash_at
        load_run(run_dir)  # every committed file verifies
        assert_same_files(reference_dir, run_dir)


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], int(sys.argv[3]))
