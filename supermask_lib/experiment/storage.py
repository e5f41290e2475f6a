"""A run folder's storage: every file named once (:class:`RunFolder`), written atomically, one writer at a time.

Files of a run (``out_dir/<dataset>-<model>-<estimator>-<hash>/``)::

    config.json            configuration, identity, data (file, hash, sizes), environment
    initial.weights.h5     the random initialisation every phase starts from
    manifest.json          the commit record: sha256 of every committed file, the phases' states
    state/<phase>-epochNNN.npz   model + optimizer variables of the last and the best epoch
    history_<phase>.csv    per epoch: loss, accuracy, val_loss, val_accuracy, learning_rate,
                           fraction_kept, seconds
    <phase>_best.keras     the epoch with the best validation accuracy
    <phase>_last.keras     the last epoch
    mask_utilization_<phase>.csv
    metrics.json           test accuracy of each phase's selected checkpoint
    .lock                  held by the one process that writes the run
    tensorboard/<phase>/   with ExperimentConfig.tensorboard: TensorBoard's event files, a view of the
                           committed history outside the manifest (never stored in results/)

Every write goes to a temporary name (``.tmp-<name>…``) and is moved into
place, so a reader never sees half a file; :mod:`~supermask_lib.experiment.runs`
builds the commit protocol on top of these writes.
"""

import contextlib
import errno
import json
import os
import re
import socket
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


class RunFileError(RuntimeError):
    """A run's file is missing, unreadable or not the one its manifest recorded."""


class RunLockedError(RuntimeError):
    """Another process is writing this run."""


# ------------------------------------------------------------------- names

TEMP_PREFIX = ".tmp-"
# atomic_write_text's names before they began with TEMP_PREFIX (tempfile's tmp<8 characters>.tmp).
LEGACY_TEMP = re.compile(r"^tmp[a-z0-9_]{8}\.tmp$")
EPOCH_STATE = re.compile(r"^(?P<phase>.+)-epoch(?P<epoch>\d{3,})\.npz$")
CONFIG, MANIFEST, METRICS = "config.json", "manifest.json", "metrics.json"
INITIAL_WEIGHTS, LOCK = "initial.weights.h5", ".lock"
TENSORBOARD = "tensorboard"  # a folder, not a file: the manifest does not list it (experiment/tensorboard.py)
HISTORY, UTILIZATION, CHECKPOINT = "history_{}.csv", "mask_utilization_{}.csv", "{}_{}.keras"  # per arm (phase)
# What the library writes at the top of a run folder (besides state/ and its temporaries).
RUN_FILES = (CONFIG, MANIFEST, METRICS, INITIAL_WEIGHTS, LOCK, HISTORY.format("*"), UTILIZATION.format("*"),
             CHECKPOINT.format("*", "best"), CHECKPOINT.format("*", "last"))
# What a repository stores of a finished run (results.store_small_files): no weights.
SMALL_FILES = (CONFIG, MANIFEST, METRICS, HISTORY.format("*"), UTILIZATION.format("*"))


def is_temporary(name):
    """Whether ``name`` is one the library gives a file before moving it into place."""
    return name.startswith(TEMP_PREFIX) or bool(LEGACY_TEMP.match(name))


class RunFolder:
    """The path of every file of a run (one place, like open_lth's ``paths``)."""

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self):
        return f"RunFolder({str(self.path)!r})"

    config = property(lambda self: self.path / CONFIG)
    initial_weights = property(lambda self: self.path / INITIAL_WEIGHTS)
    manifest = property(lambda self: self.path / MANIFEST)
    metrics = property(lambda self: self.path / METRICS)
    lock = property(lambda self: self.path / LOCK)
    state_dir = property(lambda self: self.path / "state")
    tensorboard = property(lambda self: self.path / TENSORBOARD)

    @classmethod
    def finished_in(cls, directory, *, marker=METRICS, missing_ok=True):
        """The run folders directly under ``directory`` that hold ``marker`` (finished: a metrics file), by name.

        ``marker=MANIFEST`` lists every run that committed anything. A missing ``directory`` holds none,
        or with ``missing_ok=False`` raises FileNotFoundError.
        """
        directory = Path(directory)
        if not directory.is_dir() and not missing_ok:
            raise FileNotFoundError(f"{directory} is not a folder of runs.")
        return [cls(path.parent) for path in sorted(directory.glob(f"*/{marker}"))]

    def history(self, phase):
        return self.path / HISTORY.format(phase)

    def checkpoint(self, phase, which):
        """``which``: ``"best"`` (selected on validation accuracy) or ``"last"``."""
        return self.path / CHECKPOINT.format(phase, which)

    def utilization(self, phase):
        return self.path / UTILIZATION.format(phase)

    def epoch_state(self, phase, epoch):
        return self.state_dir / f"{phase}-epoch{epoch:03d}.npz"

    def relative(self, path):
        return Path(path).relative_to(self.path).as_posix()


# ------------------------------------------------------------ atomic files


def _file_mode():
    """The mode a plain ``open`` gives a new file: 0o666 less the umask (read only at call time)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_text(path, text):
    path = Path(path)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, prefix=f"{TEMP_PREFIX}{path.name}.",
                                     suffix="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(handle.name, _file_mode())  # mkstemp makes 0600; every output respects the umask alike
    os.replace(handle.name, path)


def atomic_save(path, save):
    """Call ``save(tmp_path)`` (Keras, NumPy) then move the result into place."""
    path = Path(path)
    tmp = path.with_name(f"{TEMP_PREFIX}{path.name}")  # keeps the suffix Keras checks
    save(tmp)
    os.chmod(tmp, _file_mode())
    os.replace(tmp, path)


def write_json(path, values):
    atomic_write_text(path, json.dumps(values, indent=2, sort_keys=True) + "\n")


def read_json(path):
    """A JSON file, or :class:`RunFileError` naming it."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError as err:
        raise RunFileError(f"{path} is missing.") from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunFileError(f"{path} is not readable JSON ({err}); the file is damaged.") from err


def write_history(path, rows, columns):
    atomic_write_text(path, pd.DataFrame(rows, columns=columns).to_csv(index=False))


def save_training_state(path, model):
    """Model and optimizer variables as one .npz: the resume point of an epoch."""
    arrays = {f"m{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(model.variables)}
    arrays.update({f"o{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(model.optimizer.variables)})
    atomic_save(path, lambda tmp: np.savez(tmp, **arrays))


def load_training_state(path, model):
    """Restore what :func:`save_training_state` wrote into the same (compiled) model."""
    with np.load(path) as arrays:
        for i, variable in enumerate(model.variables):
            variable.assign(arrays[f"m{i}"])
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        for i, variable in enumerate(model.optimizer.variables):
            variable.assign(arrays[f"o{i}"])


# ------------------------------------------------------------------- lock


@contextlib.contextmanager
def exclusive(folder):
    """Hold the run's ``.lock`` (``fcntl.flock``); a second writer gets :class:`RunLockedError` at once.

    The lock dies with its process, so a killed run never leaves a stale
    lock behind; the file only records who held it last.
    """
    _make_folder(folder.path)
    if fcntl is None:  # pragma: no cover
        raise RunLockedError("run folders need fcntl (Linux, macOS) for their one-writer lock.")
    fd = os.open(folder.lock, os.O_RDWR | os.O_CREAT, _file_mode())
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "an unknown process"
            raise RunLockedError(
                f"{folder.path} is being written by {holder}; one process writes a run at a time. "
                "Wait for it to finish (then this call reuses or resumes the run), or stop it."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since "
                      f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _make_folder(path):
    """Create ``path`` and its parents, or say which of them stands in the way and what to do."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:
        for part in (path, *path.parents):
            if part.is_symlink() and not part.exists():
                raise RunFileError(
                    f"{part} is a symbolic link to {os.readlink(part)}, which does not exist; a run needs a "
                    f"folder there. Create the folder it points to, or remove the link {part}."
                ) from err
            if part.exists() and not part.is_dir():
                raise RunFileError(f"{part} is a file, not a folder; a run needs a folder there. Move the file "
                                   "away, or choose another out_dir.") from err
        raise
