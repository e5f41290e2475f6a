"""End-to-end suite: a kill at every kind of file-system step: each resume ends with the files of an uninterrupted run.

Each child counts the file-system operations on the run's folder (rename,
replace, unlink, mkdir, rmdir, opening for writing, flock) and, asked to,
ends itself with ``os._exit`` at the N-th: a SIGKILL at that exact step. The
test then resumes the run in its own process.

The children are forked from one parent process (this file run as a script)
that has imported the library but run nothing on the backend, so each starts
as a fresh process would, without paying the import again:

    python tests/test_crash_consistency.py DATA_DIR     then, per line on stdin: OUT_DIR CRASH_AT   (0: never)

It answers each line with one line, ``<exit status> <child's stdout file>``.
"""

import builtins
import io
import json
import os
import signal
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Two arms, one that a later arm starts from: every kind of file the protocol commits (the claim, epoch
# states replacing each other, exports, an arm reloaded for the next, the finished run) at the least
# training. The plain-weights arm writes the same kinds of files, and the augmentation is host-free
# arithmetic that resumes by (seed, epoch, batch): both are under kills in test_runs.py and test_experiment.py.
CONFIG = dict(dataset="mnist", model="fc", phases=("mask", "mix"), epochs=2, mix_epochs=1,
              batch_size=50, train_size=200, val_size=100, test_size=100, learning_rate=0.01,
              augment_flip=False, augment_rotation=0.0, augment_shift=0.0, max_steps_per_epoch=2)
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


def _config(data_dir):
    from supermask_lib.experiment.config import ExperimentConfig

    return ExperimentConfig(**CONFIG, data_dir=str(data_dir))


def _parent(data_dir):
    """Import the library once (no backend work: no threads of its own yet), then fork a child per request."""
    sys.path.insert(0, str(ROOT))
    from supermask_lib.experiment.runner import run_experiment

    for line in sys.stdin:
        out_dir, crash_at = line.split()
        log = Path(out_dir).parent / f"output-of-{Path(out_dir).name}.txt"  # outside the folder counted
        pid = os.fork()
        if pid == 0:  # the child: a run that may end itself at the crash_at-th file operation
            signal.alarm(300)  # a child that hangs is ended (status -14) and the test shows its output
            status = 1
            with open(log, "w") as out:  # opened before the counting starts
                os.dup2(out.fileno(), 1)
                os.dup2(out.fileno(), 2)
                try:
                    counted = _count_operations(out_dir, int(crash_at))
                    result = run_experiment(_config(data_dir), out_dir, progress_bar=False)
                    print(f"RUN_DIR {result.run_dir}\nOPERATIONS {counted[0]}", flush=True)
                    status = 0
                except BaseException:
                    traceback.print_exc()
                    sys.stderr.flush()
            os._exit(status)  # never back into the parent's loop
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status), log, flush=True)


class Children:
    """The forking parent, and the runs asked of it: ``run(out_dir, crash_at)`` is ``(exit status, output)``."""

    def __init__(self, data_dir):
        self.process = subprocess.Popen([sys.executable, __file__, str(data_dir)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True,
                                        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})

    def run(self, out_dir, crash_at=0):
        self.process.stdin.write(f"{out_dir} {crash_at}\n")
        self.process.stdin.flush()
        status, log = self.process.stdout.readline().split(" ", 1)
        return int(status), Path(log.strip()).read_text()

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=60)


def _finished(status, out):
    assert status == 0, out[-3000:]
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

    from supermask_lib.experiment.runner import run_experiment
    from supermask_lib.experiment.storage import is_temporary
    from supermask_lib.experiment.results import load_run
    from tests.test_experiment import assert_same_files

    children = Children(data_dir)
    reference_dir, total = _finished(*children.run(tmp_path / "reference"))
    assert total > 20
    # every step of claiming the folder (lock, config.json, state/), then a spread over training and exports;
    # SUPERMASK_CRASH_EVERY_OPERATION=1 crashes at each one in turn (a process per step: too long for CI)
    crash_points = sorted({*range(1, 11), *range(12, total + 1, max(1, total // 5)), total})
    if os.environ.get("SUPERMASK_CRASH_EVERY_OPERATION") == "1":
        crash_points = list(range(1, total + 1))
    print(f"{total} file operations; crashing at {len(crash_points)} of them")
    for crash_at in crash_points:
        out_dir = tmp_path / f"crash-{crash_at:03d}"
        status, out = children.run(out_dir, crash_at)
        assert status == 137, (crash_at, out[-3000:])
        keras.backend.clear_session(free_memory=False)
        run_dir = run_experiment(_config(data_dir), out_dir, progress_bar=False).run_dir
        assert _files(run_dir) == _files(reference_dir), crash_at
        assert not [p for p in run_dir.rglob("*") if is_temporary(p.name)], crash_at
        load_run(run_dir)  # every committed file verifies
        assert_same_files(reference_dir, run_dir)
    children.close()


if __name__ == "__main__":
    _parent(sys.argv[1])
