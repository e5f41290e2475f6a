"""A finished run, read back: the typed :class:`RunResult`, ``load_run`` and the small files a repository keeps.

:mod:`supermask_lib.experiment.runs` writes a run's folder; this module reads a
finished one (verifying every file against the manifest) and copies its
small files for publication (``store_small_files``).
"""

import dataclasses
import fnmatch
from pathlib import Path

import pandas as pd

from supermask_lib import checks
from supermask_lib.experiment.arms import ArmMetrics
from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.experiment.runs import Run, _way_out
from supermask_lib.experiment.storage import SMALL_FILES, RunFileError, RunFolder, atomic_write_text, read_json


@dataclasses.dataclass
class RunResult:
    """What a finished run holds, read back from its folder."""

    run_dir: Path
    config: ExperimentConfig
    data: dict            # the data file, its hashes and the sizes used
    environment: dict     # versions, backend, device, git revision, start time
    metrics: dict         # "initial" and each arm -> ArmMetrics (its selected epoch's test numbers)
    histories: dict       # arm -> DataFrame, one row per epoch
    utilization: dict     # arm -> DataFrame, one row per masked layer
    validation: str       # what selected each arm's epoch: "holdout" or "test" (the post's choice)

    @property
    def engine(self):
        """``"TensorFlow on CPU"``, ``"JAX on GPU"``: the backend and the class of device the run trained on, what
        a comparison across runs must hold fixed or model (another backend rounds otherwise)."""
        backend = self.environment.get("backend", "an unrecorded backend")
        backend = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}.get(backend, backend)
        device = self.environment.get("device", "")
        return f"{backend} on {'GPU' if any(name in device for name in ('GPU', 'NVIDIA', 'cuda')) else 'CPU'}"


def metrics_record(metrics, validation):
    """``metrics.json``'s content: each arm's :class:`~supermask_lib.experiment.arms.ArmMetrics` and the selection split."""
    return {**{arm: values.to_dict() for arm, values in metrics.items()}, "validation": validation}


def read_metrics(path):
    """``metrics.json`` as ``({arm: ArmMetrics}, validation)``, or :class:`RunFileError` naming the file."""
    record = read_json(path)
    validation = record.pop("validation", None)
    try:
        return {arm: ArmMetrics.from_dict(values, f"{path} ({arm})") for arm, values in record.items()}, validation
    except (TypeError, ValueError) as err:
        raise RunFileError(f"{path} is not a run's metrics record: {err}") from err


def load_run(run_dir, *, verify="all"):
    """Read a finished run's files (what the notebooks and the book use).

    ``verify``: ``"all"`` checks every committed file against the manifest;
    ``"stored"`` only those present (published results keep the small files
    and leave the checkpoints out); ``"none"`` skips the check.
    """
    verify = checks.choice("verify", verify, ("all", "stored", "none"))
    folder = RunFolder(run_dir)
    if not folder.metrics.exists():
        raise FileNotFoundError(f"{folder.path} holds no finished run (no metrics.json): run_experiment resumes an "
                                "unfinished run; if it was finished and its metrics.json was lost, rerun it with "
                                "overwrite=True.")
    manifest = read_json(folder.manifest)
    if verify != "none":
        if not manifest.get("finished"):
            raise RunFileError(f"{folder.manifest} does not record a finished run. {_way_out(folder)}")
        if verify == "stored":  # a stored copy keeps every small file the run committed
            missing = [name for name in sorted(manifest["files"]) if _is_small_file(name)
                       and not (folder.path / name).is_file()]
            if missing:
                raise RunFileError(f"{folder.path} is a stored run without {missing}, which it committed; "
                                   "store it again from the finished run (store_small_files) or recompute it.")
        Run(folder, manifest).verify(only_present=verify == "stored")
    recorded = read_json(folder.config)
    config = ExperimentConfig.from_dict(recorded["config"], source=str(folder.config))
    histories, utilization = {}, {}
    for arm in config.arms():
        if folder.history(arm).exists():
            histories[arm] = _read_csv(folder.history(arm))
        if folder.utilization(arm).exists():
            utilization[arm] = _read_csv(folder.utilization(arm), index_col="index")
    metrics, validation = read_metrics(folder.metrics)
    return RunResult(folder.path, config, recorded["data"], recorded["environment"], metrics, histories,
                     utilization, validation or config.validation)


def _is_small_file(name):
    return "/" not in name and any(fnmatch.fnmatchcase(name, pattern) for pattern in SMALL_FILES)


def store_small_files(run_dir, target_dir):
    """Copy a finished, verified run's small files, untouched, into ``target_dir/<run name>``.

    What a repository keeps of a run: configuration with provenance, the
    manifest (so the copies can still be verified), metrics, histories and
    utilisation; no checkpoints. Refuses to replace stored files that differ.
    """
    source = RunFolder(run_dir)
    load_run(source.path)  # finished and verified
    target = Path(target_dir) / source.path.name
    target.mkdir(parents=True, exist_ok=True)
    for pattern in SMALL_FILES:
        for path in sorted(source.path.glob(pattern)):
            stored = target / path.name
            if stored.exists() and stored.read_bytes() != path.read_bytes():
                raise RunFileError(f"{stored} already holds a different {path.name}; move it away to store "
                                   f"{path} instead (results are never silently overwritten).")
            atomic_write_text(stored, path.read_text())
    return target


def _read_csv(path, **kwargs):
    try:
        return pd.read_csv(path, **kwargs)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise RunFileError(f"{path} is not a readable CSV table ({err}).") from err
