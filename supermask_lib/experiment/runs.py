"""A run's commit protocol: a file counts once the manifest lists it, verified when read.

The files and their names are :mod:`~supermask_lib.experiment.storage`'s. The atomic
rewrite of ``manifest.json`` is the commit: a file counts
only once the manifest lists it with its sha256, so a crash at any moment
leaves the previous consistent state, and a file changed, truncated or
deleted later is found before it is reused. On resume the library deletes
only what it can prove it wrote and never committed (its temporaries, epoch
states the manifest neither lists nor keeps); anything else out of place is
an error that says how to recover.
"""

import fnmatch
import shutil
from pathlib import Path

from supermask_lib.experiment.provenance import environment, sha256_file
from supermask_lib.experiment.storage import EPOCH_STATE, RUN_FILES, RunFileError, is_temporary, read_json, write_json


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
    """Whether ``path``, in the run folder or ``state/``, is a file (or ``state/``, ``tensorboard/``) the library writes."""
    if path in (folder.state_dir, folder.tensorboard):
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
        if path in (folder.state_dir, folder.tensorboard):  # tensorboard/: its logs of the run being replaced
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


def __getattr__(name):
    """The file names and atomic writes this module held in 0.2 are :mod:`.storage`'s: kept for one version."""
    from supermask_lib import _moved

    return _moved.forward(__name__, name, "supermask_lib.experiment.storage", _moved.TO_STORAGE)
