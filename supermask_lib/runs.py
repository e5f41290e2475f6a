"""A run's folder: every file named in one place, written atomically, verified when read.

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

Every write goes to a temporary name (``.tmp-<name>…``) and is moved into
place. The atomic rewrite of ``manifest.json`` is the commit: a file counts
only once the manifest lists it with its sha256, so a crash at any moment
leaves the previous consistent state, and a file changed, truncated or
deleted later is found before it is reused. On resume the library deletes
only what it can prove it wrote and never committed (its temporaries, epoch
states the manifest neither lists nor keeps); anything else out of place is
an error that says how to recover.
"""

import contextlib
import errno
import fnmatch
import json
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from supermask_lib.provenance import environment, sha256_file

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
# What the library writes at the top of a run folder (besides state/ and its temporaries).
RUN_FILES = ("config.json", "manifest.json", "metrics.json", "initial.weights.h5", ".lock",
             "history_*.csv", "mask_utilization_*.csv", "*_best.keras", "*_last.keras")


def is_temporary(name):
    """Whether ``name`` is one the library gives a file before moving it into place."""
    return name.startswith(TEMP_PREFIX) or bool(LEGACY_TEMP.match(name))


class RunFolder:
    """The path of every file of a run (one place, like open_lth's ``paths``)."""

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self):
        return f"RunFolder({str(self.path)!r})"

    config = property(lambda self: self.path / "config.json")
    initial_weights = property(lambda self: self.path / "initial.weights.h5")
    manifest = property(lambda self: self.path / "manifest.json")
    metrics = property(lambda self: self.path / "metrics.json")
    lock = property(lambda self: self.path / ".lock")
    state_dir = property(lambda self: self.path / "state")

    def history(self, phase):
        return self.path / f"history_{phase}.csv"

    def checkpoint(self, phase, which):
        """``which``: ``"best"`` (selected on validation accuracy) or ``"last"``."""
        return self.path / f"{phase}_{which}.keras"

    def utilization(self, phase):
        return self.path / f"mask_utilization_{phase}.csv"

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


# --------------------------------------------------------------- manifest


class Run:
    """A run folder opened for writing, with its manifest (files and phase states).

    ``commit`` is the one way a file becomes part of the run.
    """

    def __init__(self, folder, manifest):
        self.folder = folder
        self.manifest = manifest

    @property
    def phase_states(self):
        return self.manifest["phases"]

    def commit(self, *, add=(), remove=(), phase_state=None, finished=False):
        """Record ``add`` with their sha256 (and a phase's state), write the manifest, then delete ``remove``."""
        files = self.manifest["files"]
        for path in remove:
            files.pop(self.folder.relative(path), None)
        for path in add:
            files[self.folder.relative(path)] = sha256_file(path)
        if phase_state is not None:
            self.manifest["phases"][phase_state["phase"]] = phase_state
        self.manifest["finished"] = finished
        write_json(self.folder.manifest, self.manifest)  # the commit
        for path in remove:
            Path(path).unlink(missing_ok=True)

    def verify(self, only_present=False):
        """Every committed file is there with the bytes it was committed with."""
        for name, expected in self.manifest["files"].items():
            path = self.folder.path / name
            if only_present and not path.exists():
                continue
            if not path.is_file():
                raise RunFileError(f"{path} is missing, but the run committed it. {_way_out(self.folder)}")
            if sha256_file(path) != expected:
                raise RunFileError(f"{path} differs from the file the run committed (sha256 {expected[:12]}…): "
                                   f"it was changed, truncated or replaced. {_way_out(self.folder)}")

    def check_consistent(self):
        """Every file a phase state keeps is one the manifest lists (an edited manifest is refused as it is)."""
        files = self.manifest["files"]
        for phase, state in self.manifest["phases"].items():
            for role, name in self._kept(phase, state):
                if name not in files:
                    raise RunFileError(
                        f"{self.folder.manifest} is inconsistent: phase {phase!r} keeps {name} as its {role}, "
                        "but the manifest's files do not list it (the manifest was edited or damaged); nothing "
                        f"was deleted. {_way_out(self.folder)}")

    def _kept(self, phase, state):
        """(role, run-relative name) of each file the committed ``state`` of ``phase`` relies on."""
        kept = [("last epoch's state", state.get("last_file")), ("best epoch's state", state.get("best_file"))]
        if state.get("complete"):
            kept += [("history", self.folder.relative(self.folder.history(phase)))]
            kept += [(f"{which} checkpoint", self.folder.relative(self.folder.checkpoint(phase, which)))
                     for which in ("best", "last")]
        return [(role, name) for role, name in kept if name is not None]

    def remove_uncommitted(self, arms):
        """Delete what a crash left between a write and its commit; refuse anything else in ``state/``.

        Provably the library's and never (or no longer) counted: its
        temporaries, and epoch states of the run's ``arms`` that the manifest
        does not list; with :meth:`check_consistent` passed, such a state is
        either newer than its phase's committed ``epochs_done`` (written, not
        committed) or an older one the phase no longer keeps (its removal was
        committed, its deletion was not done).
        """
        committed, leftovers, unknown = set(self.manifest["files"]), [], []
        for path in sorted(self.folder.state_dir.iterdir()):
            name = self.folder.relative(path)
            match = EPOCH_STATE.match(path.name)
            if name in committed:
                continue
            if _plain_file(path) and (is_temporary(path.name) or (match and match["phase"] in arms)):
                leftovers.append(path)
            else:
                unknown.append(name)
        if unknown:
            raise RunFileError(
                f"{self.folder.state_dir} holds {unknown}, which the manifest does not list and the run never "
                f"writes (epoch states of {list(arms)}); nothing was deleted. Move them away to resume the run. "
                f"{_way_out(self.folder)}")
        leftovers += [path for path in self.folder.path.iterdir() if _plain_file(path) and is_temporary(path.name)]
        for path in leftovers:
            path.unlink()


def _plain_file(path):
    return path.is_file() and not path.is_symlink()


def is_finished(folder):
    """Whether the folder's manifest records a finished run (its files are verified on load)."""
    return folder.manifest.exists() and bool(read_json(folder.manifest).get("finished"))


def _way_out(folder):
    return ("Rerun with overwrite=True to retrain it from scratch, or delete the folder "
            f"{folder.path} by hand.")


def open_run(config, folder, dataset_info, *, overwrite=False):
    """Claim ``folder`` for ``config`` (new, resumed or retrained) and return the :class:`Run`.

    A folder holding only what the library makes before ``config.json``
    (``.lock``, an empty ``state/``, temporaries: a kill while claiming) is
    a new run. ``overwrite`` retrains a folder of the library's own run files
    in whatever state they are, but never touches one that holds another
    configuration, other data or files the library does not write; nor is a
    run resumed from files that differ from what it committed. The caller
    holds :func:`exclusive`.
    """
    if folder.config.exists():
        if not overwrite:
            check_same_run(read_json(folder.config), config, dataset_info, folder)
            return _resume(folder, config.arms())
        _check_replaceable(folder, config, dataset_info)
    else:
        _check_claimable(folder, overwrite)
    _clear(folder)
    write_json(folder.config, {  # before state/: a kill in between leaves a run that resumes
        "name": folder.path.name,
        "identity": config.identity(),
        "config": config.to_dict(),
        "data": dataset_info,
        "environment": environment(),
    })
    folder.state_dir.mkdir(exist_ok=True)
    return Run(folder, _empty_manifest())


def _empty_manifest():
    return {"files": {}, "phases": {}, "finished": False}


def _resume(folder, arms):
    folder.state_dir.mkdir(exist_ok=True)  # a kill between config.json and state/
    if folder.manifest.exists():
        manifest = read_json(folder.manifest)
    else:  # a kill before the first commit: nothing counts yet
        manifest = _empty_manifest()
    if not (isinstance(manifest, dict) and {"files", "phases", "finished"} <= set(manifest)
            and isinstance(manifest["files"], dict) and isinstance(manifest["phases"], dict)
            and all(isinstance(state, dict) for state in manifest["phases"].values())):
        raise RunFileError(f"{folder.manifest} is not a run manifest. {_way_out(folder)}")
    run = Run(folder, manifest)
    run.check_consistent()
    run.verify()
    run.remove_uncommitted(arms)
    return run


def _own_entry(path, folder):
    """Whether ``path``, in the run folder or its ``state/``, is a file (or ``state/``) the library writes."""
    if path == folder.state_dir:
        return path.is_dir() and not path.is_symlink()
    if not _plain_file(path):
        return False
    if path.parent == folder.state_dir:
        return is_temporary(path.name) or bool(EPOCH_STATE.match(path.name))
    return is_temporary(path.name) or any(fnmatch.fnmatchcase(path.name, pattern) for pattern in RUN_FILES)


def _entries(folder):
    """Every entry of the folder and of its ``state/``, sorted."""
    entries = sorted(folder.path.iterdir())
    if folder.state_dir in entries and _own_entry(folder.state_dir, folder):
        entries += sorted(folder.state_dir.iterdir())
    return entries


def _foreign(folder):
    return [folder.relative(path) for path in _entries(folder) if not _own_entry(path, folder)]


def _check_claimable(folder, overwrite):
    """A folder without config.json is claimed only if it holds the library's files (and more only with ``overwrite``)."""
    foreign = _foreign(folder)
    if foreign:
        raise RunFileError(f"{folder.path} exists but holds no config.json, and holds {foreign}, which the library "
                           "never writes; refusing to write into it. Move them away, or choose another out_dir.")
    claiming = {folder.lock, folder.state_dir}  # what exclusive and open_run make before config.json
    records = [folder.relative(path) for path in _entries(folder)
               if path not in claiming and not is_temporary(path.name)]
    if records and not overwrite:
        raise RunFileError(f"{folder.path} exists but holds no config.json, only run files {records}: its record "
                           f"was deleted, so nothing can be resumed. {_way_out(folder)}")


def _check_replaceable(folder, config, dataset_info):
    """What ``overwrite`` may delete: this configuration's run on these data, of the library's own files."""
    try:
        recorded = read_json(folder.config)
    except RunFileError:
        recorded = None  # damaged: the folder's name still says whose run it is
    if recorded is not None:
        check_same_run(recorded, config, dataset_info, folder)
    foreign = _foreign(folder)
    if foreign:
        raise RunFileError(f"{folder.path} holds {foreign}, which the library never writes; overwrite=True "
                           "deletes only a run's own files. Move them away, or delete the folder by hand.")


def _clear(folder):
    """Delete the run's files: the manifest first and config.json last, so a kill midway leaves a run that restarts."""
    folder.manifest.unlink(missing_ok=True)
    for path in sorted(folder.path.iterdir()):
        if path == folder.state_dir:
            shutil.rmtree(path)
        elif path not in (folder.lock, folder.config):
            path.unlink()
    folder.config.unlink(missing_ok=True)


def check_same_run(recorded, config, dataset_info, folder):
    """The folder's record names this configuration and these data, or a clear error."""
    recorded = recorded if isinstance(recorded, dict) else {}
    if recorded.get("identity") != config.identity():
        raise RunFileError(
            f"{folder.path} holds a different configuration; refusing to touch it. "
            "Choose another out_dir or remove that folder by hand."
        )
    recorded_data = (recorded.get("data") or {}).get("arrays_sha256")
    if recorded_data != dataset_info["arrays_sha256"]:
        raise RunFileError(
            f"{folder.path} was trained on data with sha256 {recorded_data}, but the data loaded now "
            f"({dataset_info.get('path') or dataset_info.get('source')}) has sha256 "
            f"{dataset_info['arrays_sha256']}; refusing to mix them. Point data_dir at the run's data, "
            "or remove that folder by hand."
        )
