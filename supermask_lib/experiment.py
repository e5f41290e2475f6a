"""The study as one call: mask → weights → mix from one seeded initialisation.

``run_experiment(config, out_dir)`` writes into ``out_dir/<name>`` where the
name comes from the configuration (dataset, model, estimator and a hash of
every hyperparameter, as open_lth names its runs). Every file is written
atomically; after each epoch a phase commits its state, so killing the
process at any moment and calling ``run_experiment`` again continues from
the last finished epoch and ends with the files an uninterrupted run writes.

Files of a run::

    config.json            configuration + provenance (versions, device, data file and hash, sizes)
    initial.weights.h5     the random initialisation every phase starts from
    history_<phase>.csv    per epoch: loss, accuracy, val_loss, val_accuracy, learning_rate,
                           fraction_kept, seconds
    <phase>_best.keras     the epoch with the best validation accuracy
    <phase>_last.keras     the last epoch
    mask_utilization_mask.csv, mask_utilization_mix.csv
    metrics.json           test accuracy of each phase's selected checkpoint
"""

import contextlib
import dataclasses
import hashlib
import json
import math
import numbers
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from supermask_lib import data as data_lib
from supermask_lib import models as models_lib
from supermask_lib.estimators import ESTIMATORS
from supermask_lib.export import unmasked_copy
from supermask_lib.layers import BERNOULLI_EVAL_MODES, MASK_OPTIONS, masked_layers
from supermask_lib.phases import set_phase
from supermask_lib.provenance import environment
from supermask_lib.statistics import fraction_kept, mask_utilization

EXPERIMENT_PHASES = ("mask", "weights", "mix")
MIXED_PRECISION = (None, "float16", "bfloat16")
DISTRIBUTE = (None, "mirrored", "data_parallel")
HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy",
                   "learning_rate", "fraction_kept", "seconds"]
# Fields that say where things are, not what is computed: not part of the run's name.
_LOCATION_FIELDS = ("data_dir",)


def _fail(field, value, allowed):
    raise ValueError(f"ExperimentConfig.{field}={value!r} is not allowed: {allowed}.")


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """Hyperparameters of one three-phase run; the defaults are the study's.

    Validated at construction: a bad field raises ``ValueError`` naming the
    field, the value and what is allowed, before any data is read.
    """

    dataset: str = "cifar10"
    model: str = "wrn-28-8"
    epochs: int = 30                       # mask and weights phases
    mix_epochs: int = 30                   # the fine-tuning of the masked network
    learning_rate: float = 0.01
    finetune_lr: float = 1e-5
    batch_size: int = 128
    optimizer: str = "adam"
    lr_patience: int = 2                   # ReduceLROnPlateau on *training* accuracy
    lr_factor: float = 0.1
    estimator: str = "threshold"
    threshold: float = 0.5
    keep_fraction: float = 0.5
    score_init: float | str | dict = 1.0   # or a Keras initializer (name or config dict)
    mask_bias: bool = True
    bernoulli_eval: str = "threshold"
    train_batchnorm: bool = True           # BatchNorm keeps training in the mask phase
    bn_momentum: float | None = None       # Wide ResNets: None = Keras's 0.99 (the study)
    phases: tuple = EXPERIMENT_PHASES
    augment_flip: bool = True
    augment_rotation: float = 20.0         # degrees
    augment_shift: float = 0.2             # fraction of height and width
    validation: str = "holdout"            # the study used "test"
    val_size: float = 0.1
    train_size: int | float | None = None
    test_size: int | float | None = None
    seed: int = 0
    data_dir: str | None = None
    mixed_precision: str | None = None     # GPU: "float16" or "bfloat16"
    jit_compile: bool | str = "auto"       # XLA / jit: True, False or Keras's "auto"
    distribute: str | None = None          # several GPUs: "mirrored" (TF) or "data_parallel" (JAX)
    deterministic: bool = True             # TensorFlow: deterministic ops (slower on GPU)

    def __post_init__(self):
        if self.dataset not in data_lib.DATASETS:
            _fail("dataset", self.dataset, f"one of {sorted(data_lib.DATASETS)}")
        if not models_lib.is_known_model(self.model):
            _fail("model", self.model, f"one of {sorted(models_lib.MODELS)} or 'wrn-<depth>-<width>[-standard]'")
        for name in ("epochs", "mix_epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "mix_epochs" else 1):
                _fail(name, value, "a positive integer" if name != "mix_epochs" else "an integer >= 0")
        for name in ("learning_rate", "finetune_lr"):
            value = getattr(self, name)
            if not _is_number(value) or not 0 < value < 10:
                _fail(name, value, "a number in (0, 10)")
        if self.optimizer not in ("adam", "sgd"):
            _fail("optimizer", self.optimizer, "'adam' (the study) or 'sgd'")
        if isinstance(self.lr_patience, bool) or not isinstance(self.lr_patience, int) or self.lr_patience < 0:
            _fail("lr_patience", self.lr_patience, "an integer >= 0")
        if not _is_number(self.lr_factor) or not 0 < self.lr_factor < 1:
            _fail("lr_factor", self.lr_factor, "a number in (0, 1)")
        if self.estimator not in ESTIMATORS:
            _fail("estimator", self.estimator, f"one of {sorted(ESTIMATORS)}")
        if not _is_number(self.threshold) or not 0 < self.threshold < 1:
            _fail("threshold", self.threshold, "a number in (0, 1)")
        if not _is_number(self.keep_fraction) or not 0 < self.keep_fraction <= 1:
            _fail("keep_fraction", self.keep_fraction, "a number in (0, 1]")
        if not _is_number(self.score_init) and not _is_initializer_name(self.score_init):
            _fail("score_init", self.score_init, "a number (the study uses 1.0) or a Keras initializer name or config dict")
        if self.bn_momentum is not None:
            if not models_lib.WRN_PATTERN.match(self.model):
                _fail("bn_momentum", self.bn_momentum, f"None for model={self.model!r}, which has no BatchNorm")
            if not _is_number(self.bn_momentum) or not 0 <= self.bn_momentum < 1:
                _fail("bn_momentum", self.bn_momentum, "None or a number in [0, 1)")
        if self.bernoulli_eval not in BERNOULLI_EVAL_MODES:
            _fail("bernoulli_eval", self.bernoulli_eval, f"one of {list(BERNOULLI_EVAL_MODES)}")
        for name in ("mask_bias", "train_batchnorm", "augment_flip", "deterministic"):
            if not isinstance(getattr(self, name), bool):
                _fail(name, getattr(self, name), "True or False")
        phases = tuple(self.phases) if isinstance(self.phases, (list, tuple)) else None
        if (not phases or any(p not in EXPERIMENT_PHASES for p in phases)
                or len(set(phases)) != len(phases) or list(phases) != sorted(phases, key=EXPERIMENT_PHASES.index)):
            _fail("phases", self.phases, f"a non-empty ordered subset of {list(EXPERIMENT_PHASES)}")
        if "mix" in phases and "mask" not in phases:
            _fail("phases", self.phases, "'mix' needs 'mask' (it starts from the best masked network)")
        object.__setattr__(self, "phases", phases)
        if not _is_number(self.augment_rotation) or not 0 <= self.augment_rotation <= 180:
            _fail("augment_rotation", self.augment_rotation, "degrees in [0, 180]")
        if not _is_number(self.augment_shift) or not 0 <= self.augment_shift < 1:
            _fail("augment_shift", self.augment_shift, "a fraction in [0, 1)")
        if self.validation not in data_lib.VALIDATION_MODES:
            _fail("validation", self.validation, f"one of {list(data_lib.VALIDATION_MODES)}")
        for name in ("val_size", "train_size", "test_size"):
            value = getattr(self, name)
            if value is None and name != "val_size":
                continue
            if not _is_number(value) or value <= 0 or (isinstance(value, float) and value > 1):
                _fail(name, value, "a count >= 1, a fraction in (0, 1]" + (" or None" if name != "val_size" else ""))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            _fail("seed", self.seed, "an integer >= 0")
        if self.mixed_precision not in MIXED_PRECISION:
            _fail("mixed_precision", self.mixed_precision, f"one of {list(MIXED_PRECISION)}")
        if self.jit_compile not in (True, False, "auto"):
            _fail("jit_compile", self.jit_compile, "True, False or 'auto'")
        if self.distribute not in DISTRIBUTE:
            _fail("distribute", self.distribute, f"one of {list(DISTRIBUTE)}")

    @classmethod
    def from_dict(cls, values):
        """Build from a dict (e.g. a YAML profile); unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"Unknown ExperimentConfig fields {unknown}; allowed: {sorted(known)}.")
        return cls(**values)

    def to_dict(self):
        values = dataclasses.asdict(self)
        values["phases"] = list(self.phases)
        return values

    def mask_options(self):
        """The fields passed to every masked layer (they share the layers' argument names)."""
        return {name: getattr(self, name) for name in MASK_OPTIONS}

    def model_options(self):
        return {} if self.bn_momentum is None else {"bn_momentum": self.bn_momentum}

    def identity(self):
        """The hyperparameters that define the computation (not where files are)."""
        values = self.to_dict()
        for name in _LOCATION_FIELDS:
            values.pop(name)
        return values

    @property
    def run_name(self):
        digest = hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()
        return f"{self.dataset}-{self.model}-{self.estimator}-{digest[:10]}"


def _is_initializer_name(value):
    """A Keras initializer given by name or by its config dict (JSON-friendly)."""
    if not isinstance(value, (str, dict)):
        return False
    try:
        keras.initializers.get(value)
    except (ValueError, TypeError):
        return False
    return True


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


# --------------------------------------------------------------------- files


def atomic_write_text(path, text):
    path = Path(path)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(handle.name, path)


def _write_json(path, values):
    atomic_write_text(path, json.dumps(values, indent=2, sort_keys=True, default=str) + "\n")


def _read_json(path):
    return json.loads(Path(path).read_text())


def _atomic_save(path, save):
    """Call ``save(tmp_path)`` then move the result into place."""
    path = Path(path)
    tmp = path.with_name(f".tmp-{path.name}")  # keeps the suffix Keras checks
    save(tmp)
    os.replace(tmp, path)


def _save_state(path, model):
    """Model and optimizer variables as one .npz (the resume point of an epoch)."""
    arrays = {f"m{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(model.variables)}
    arrays.update({f"o{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(model.optimizer.variables)})
    _atomic_save(path, lambda tmp: np.savez(tmp, **arrays))


def _load_state(path, model):
    with np.load(path) as arrays:
        for i, variable in enumerate(model.variables):
            variable.assign(arrays[f"m{i}"])
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        for i, variable in enumerate(model.optimizer.variables):
            variable.assign(arrays[f"o{i}"])


# ------------------------------------------------------------------ training


class ResumableReduceLROnPlateau(keras.callbacks.ReduceLROnPlateau):
    """ReduceLROnPlateau whose counters survive a restart."""

    def __init__(self, state=None, **kwargs):
        super().__init__(**kwargs)
        self._restored = state

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self._restored:
            self.wait = self._restored["wait"]
            self.best = self._restored["best"]
            self.cooldown_counter = self._restored["cooldown_counter"]

    def state(self):
        return {"wait": int(self.wait), "best": float(self.best), "cooldown_counter": int(self.cooldown_counter)}


class EpochCommit(keras.callbacks.Callback):
    """After each epoch: record the history row, save the state, then commit.

    The commit is the atomic write of ``state_<phase>.json``; everything it
    points to is written before it, under an epoch-specific name, so a crash
    at any point leaves either the previous or the new consistent state.
    """

    def __init__(self, phase, run_dir, state, plateau, log):
        super().__init__()
        self.phase, self.run_dir, self.state, self.plateau, self.log = phase, run_dir, state, plateau, log

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()
        # The rate this epoch trains with (the plateau callback may lower it at its end).
        self._learning_rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        row = {
            "epoch": epoch,
            "loss": float(logs["loss"]),
            "accuracy": float(logs["accuracy"]),
            "val_loss": float(logs["val_loss"]),
            "val_accuracy": float(logs["val_accuracy"]),
            "learning_rate": self._learning_rate,
            "fraction_kept": float(fraction_kept(self.model)) if masked_layers(self.model) else 1.0,
            "seconds": time.perf_counter() - self._started,
        }
        state = self.state
        state_dir = self.run_dir / "state"
        state_file = f"{self.phase}-epoch{epoch:03d}.npz"
        _save_state(state_dir / state_file, self.model)
        previous = {state.get("last_file"), state.get("best_file")}
        state["history"].append(row)
        state["epochs_done"] = epoch + 1
        state["last_file"] = state_file
        if state.get("best_val_accuracy") is None or row["val_accuracy"] > state["best_val_accuracy"]:
            state["best_val_accuracy"] = row["val_accuracy"]
            state["best_epoch"] = epoch
            state["best_file"] = state_file
        state["plateau"] = self.plateau.state()
        _write_history(self.run_dir / f"history_{self.phase}.csv", state["history"])
        _write_json(self.run_dir / f"state_{self.phase}.json", state)  # the commit
        for stale in previous - {state["last_file"], state["best_file"], None}:
            (state_dir / stale).unlink(missing_ok=True)
        self.log(
            f"[{self.phase}] epoch {epoch + 1}/{self.params['epochs']}  loss {row['loss']:.4f}  "
            f"acc {row['accuracy']:.4f}  val_loss {row['val_loss']:.4f}  val_acc {row['val_accuracy']:.4f}  "
            f"lr {row['learning_rate']:.2g}  kept {row['fraction_kept']:.4f}  {row['seconds']:.1f}s"
        )


class StopAfterEpochs(keras.callbacks.Callback):
    """Raises after ``n`` epochs of this process: simulates a crash (tests, demos)."""

    class Interrupted(RuntimeError):
        pass

    def __init__(self, n):
        super().__init__()
        self.n, self.seen = n, 0

    def on_epoch_end(self, epoch, logs=None):
        self.seen += 1
        if self.seen >= self.n:
            raise self.Interrupted(f"interrupted after epoch {epoch + 1}")


def _write_history(path, rows):
    atomic_write_text(path, pd.DataFrame(rows, columns=HISTORY_COLUMNS).to_csv(index=False))


def _make_optimizer(config, learning_rate):
    if config.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate)
    return keras.optimizers.SGD(learning_rate, momentum=0.9)


def _compile(model, config, learning_rate):
    model.compile(
        optimizer=_make_optimizer(config, learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=config.jit_compile,
    )


def _check_engine(config):
    """The multi-GPU engine must exist on this backend: say so before any work."""
    backend = keras.backend.backend()
    if config.distribute == "mirrored" and backend != "tensorflow":
        raise ValueError(
            f"ExperimentConfig.distribute='mirrored' needs the TensorFlow backend, not "
            f"{backend!r}; use 'data_parallel' on JAX."
        )
    if config.distribute == "data_parallel" and backend != "jax":
        raise ValueError(
            "ExperimentConfig.distribute='data_parallel' uses keras.distribution, which "
            f"needs the JAX backend, not {backend!r}; use 'mirrored' on TensorFlow."
        )


@contextlib.contextmanager
def _distribution(config):
    """The multi-GPU engine the config asks for: TensorFlow's MirroredStrategy or Keras's DataParallel."""
    if config.distribute is None:
        yield
    elif config.distribute == "mirrored":
        import tensorflow as tf

        with tf.distribute.MirroredStrategy().scope():
            yield
    else:
        previous = keras.distribution.distribution()
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        try:
            yield
        finally:
            keras.distribution.set_distribution(previous)


def _set_determinism(config):
    keras.utils.set_random_seed(config.seed)
    if config.deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def _printer(stream):
    def log(line):
        print(line, file=stream, flush=True)

    return log


def _train_phase(phase, model, config, dataset, run_dir, log, learning_rate, epochs,
                 progress_bar, extra_callbacks):
    """Train one phase to completion, resuming from its committed state."""
    state_path = run_dir / f"state_{phase}.json"
    state = _read_json(state_path) if state_path.exists() else {
        "phase": phase, "epochs_done": 0, "history": [], "complete": False,
        "best_val_accuracy": None, "best_epoch": None, "best_file": None, "last_file": None,
        "plateau": None,
    }
    _compile(model, config, learning_rate)
    if state["last_file"] and not state["complete"]:  # a finished phase only needs its best epoch
        _load_state(run_dir / "state" / state["last_file"], model)
        log(f"[{phase}] resuming after epoch {state['epochs_done']}/{epochs}")
    if not state["complete"] and state["epochs_done"] < epochs:
        batches = data_lib.EpochBatches(
            dataset.x_train, dataset.y_train, config.batch_size, seed=config.seed * 1000 + EXPERIMENT_PHASES.index(phase),
            augmentation=data_lib.make_augmentation(config.augment_flip, config.augment_rotation, config.augment_shift),
        )
        plateau = ResumableReduceLROnPlateau(
            state=state["plateau"], monitor="accuracy", factor=config.lr_factor,
            patience=config.lr_patience, verbose=0,
        )
        commit = EpochCommit(phase, run_dir, state, plateau, log)
        model.fit(
            batches, epochs=epochs, initial_epoch=state["epochs_done"], shuffle=False,  # order is seeded per epoch
            validation_data=(dataset.x_val, dataset.y_val), validation_batch_size=256,
            callbacks=[data_lib.SetEpoch(batches), plateau, commit, *extra_callbacks],
            verbose=1 if progress_bar else 0,
        )
    if not state["complete"]:
        # Export the selected and the last epoch as .keras files of the model
        # alone (an uncompiled twin: the optimizer state lives in state/).
        export = _build_model(config, dataset, masked=bool(masked_layers(model)))
        for kind, key in (("last", "last_file"), ("best", "best_file")):
            _load_state(run_dir / "state" / state[key], model)
            export.set_weights(model.get_weights())
            _atomic_save(run_dir / f"{phase}_{kind}.keras", export.save)
        state["complete"] = True
        _write_json(state_path, state)
    _load_state(run_dir / "state" / state["best_file"], model)
    return model, state  # the model now holds the best epoch


def _evaluate(model, dataset):
    loss, accuracy = model.evaluate(dataset.x_test, dataset.y_test, batch_size=256, verbose=0)
    return {"test_loss": float(loss), "test_accuracy": float(accuracy)}


@dataclasses.dataclass
class ExperimentResult:
    """What a finished run holds, read back from its folder."""

    run_dir: Path
    config: dict
    metrics: dict
    histories: dict
    utilization: dict


def load_run(run_dir):
    """Read a finished run's files (what the notebooks and the book use)."""
    run_dir = Path(run_dir)
    if not (run_dir / "metrics.json").exists():
        raise FileNotFoundError(f"{run_dir} holds no finished run (no metrics.json); run it with run_experiment.")
    histories = {phase: pd.read_csv(run_dir / f"history_{phase}.csv")
                 for phase in EXPERIMENT_PHASES if (run_dir / f"history_{phase}.csv").exists()}
    utilization = {phase: pd.read_csv(run_dir / f"mask_utilization_{phase}.csv", index_col="index")
                   for phase in EXPERIMENT_PHASES if (run_dir / f"mask_utilization_{phase}.csv").exists()}
    return ExperimentResult(run_dir, _read_json(run_dir / "config.json"), _read_json(run_dir / "metrics.json"),
                            histories, utilization)


def _claim_run_dir(config, out_dir, overwrite, dataset_info):
    """Create or reuse the run's folder; never clobber another configuration."""
    run_dir = Path(out_dir) / config.run_name
    config_path = run_dir / "config.json"
    if config_path.exists():
        recorded = _read_json(config_path)
        if recorded.get("identity") != config.identity():  # checked before overwrite, too
            raise ValueError(
                f"{run_dir} holds a different configuration; refusing to touch it. "
                "Choose another out_dir or remove that folder by hand."
            )
        if not overwrite:
            return run_dir
        shutil.rmtree(run_dir)
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ValueError(f"{run_dir} exists but holds no config.json; refusing to write into it.")
    (run_dir / "state").mkdir(parents=True, exist_ok=True)
    _write_json(config_path, {
        "name": config.run_name,
        "identity": config.identity(),
        "config": config.to_dict(),
        "data": dataset_info,
        "environment": environment(),
    })
    return run_dir


def run_experiment(config, out_dir="runs", *, overwrite=False, progress_bar=None,
                   stream=None, callbacks=()):
    """Run (or resume, or reuse) the three-phase experiment of ``config``.

    Args:
        config: an :class:`ExperimentConfig`.
        out_dir: parent folder; the run lives in ``out_dir/config.run_name``.
        overwrite: retrain a finished configuration from scratch.
        progress_bar: Keras's progress bar (default: only on a terminal);
            one summary line per epoch is always printed.
        stream: where the per-epoch lines go (default stdout).
        callbacks: extra Keras callbacks for every phase.
    Returns an :class:`ExperimentResult`.
    """
    if not isinstance(config, ExperimentConfig):
        raise ValueError(f"config={config!r} is not allowed: give an ExperimentConfig.")
    _check_engine(config)
    log = _printer(stream or sys.stdout)
    progress_bar = sys.stdout.isatty() if progress_bar is None else progress_bar
    run_dir = Path(out_dir) / config.run_name
    if (run_dir / "metrics.json").exists() and not overwrite:
        recorded = _read_json(run_dir / "config.json")
        if recorded.get("identity") == config.identity():
            log(f"{run_dir}: finished run found, reusing it (overwrite=True retrains)")
            return load_run(run_dir)

    dataset = data_lib.load_dataset(
        config.dataset, config.data_dir, train_size=config.train_size, val_size=config.val_size,
        test_size=config.test_size, validation=config.validation, seed=config.seed,
    )
    log(data_lib.describe(dataset))
    run_dir = _claim_run_dir(config, out_dir, overwrite, dataset.info)
    log(f"run folder: {run_dir}")
    _set_determinism(config)
    with _precision(config), _distribution(config):
        states, metrics = _run_phases(config, dataset, run_dir, log, progress_bar, callbacks)
    for phase, state in states.items():
        metrics[phase].update({
            "best_epoch": state["best_epoch"],
            "best_val_accuracy": state["best_val_accuracy"],
            "epochs": state["epochs_done"],
            "seconds": float(sum(row["seconds"] for row in state["history"])),
        })
    metrics["validation"] = config.validation
    _write_json(run_dir / "metrics.json", metrics)
    log("test accuracy: " + ", ".join(
        f"{phase} {metrics[phase]['test_accuracy']:.4f}" for phase in ("initial", *states)))
    return load_run(run_dir)


@contextlib.contextmanager
def _precision(config):
    """The config's dtype policy for the duration of the run, then the previous one."""
    previous = keras.config.dtype_policy()
    if config.mixed_precision:
        keras.config.set_dtype_policy(f"mixed_{config.mixed_precision}")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _run_phases(config, dataset, run_dir, log, progress_bar, callbacks):
    """mask → weights → mix from the run's one initialisation; returns (states, metrics)."""
    initial_path = run_dir / "initial.weights.h5"
    if initial_path.exists():  # a resumed run: the recorded initialisation, not a new draw
        masked = _build_model(config, dataset, weights=initial_path)
    else:
        masked = _build_model(config, dataset)
        _atomic_save(initial_path, masked.save_weights)
    _compile(masked, config, config.learning_rate)
    metrics = {"initial": _evaluate(masked, dataset)}
    states = {}
    if "mask" in config.phases:
        set_phase(masked, "mask", train_batchnorm=config.train_batchnorm)
        masked, states["mask"] = _train_phase(
            "mask", masked, config, dataset, run_dir, log, config.learning_rate,
            config.epochs, progress_bar, callbacks)
        metrics["mask"] = _evaluate(masked, dataset)
        _write_utilization(run_dir, "mask", masked)
    if "weights" in config.phases:
        plain = unmasked_copy(_build_model(config, dataset, weights=initial_path))
        plain, states["weights"] = _train_phase(
            "weights", plain, config, dataset, run_dir, log, config.learning_rate,
            config.epochs, progress_bar, callbacks)
        metrics["weights"] = _evaluate(plain, dataset)
    if "mix" in config.phases and config.mix_epochs > 0:
        mix = _build_model(config, dataset)
        mix.set_weights(masked.get_weights())  # the best masked network
        set_phase(mix, "weights")  # mask frozen, weights (and BatchNorm) train
        mix, states["mix"] = _train_phase(
            "mix", mix, config, dataset, run_dir, log, config.finetune_lr,
            config.mix_epochs, progress_bar, callbacks)
        metrics["mix"] = _evaluate(mix, dataset)
        _write_utilization(run_dir, "mix", mix)
    return states, metrics


def _build_model(config, dataset, masked=True, weights=None):
    model = models_lib.get_model(
        config.model, input_shape=dataset.input_shape, num_classes=dataset.num_classes,
        masked=masked, **config.model_options(), **(config.mask_options() if masked else {}),
    )
    if weights is not None:
        model.load_weights(weights)
    return model


def _write_utilization(run_dir, phase, model):
    table = mask_utilization(model)
    atomic_write_text(run_dir / f"mask_utilization_{phase}.csv", table.to_csv())


def summary_table(result):
    """One row per phase: the selected epoch and its validation and test accuracy."""
    rows = []
    for phase in ("initial", *EXPERIMENT_PHASES):
        if phase not in result.metrics:
            continue
        values = result.metrics[phase]
        rows.append({
            "phase": phase,
            "epochs": values.get("epochs", 0),
            "selected epoch": None if values.get("best_epoch") is None else values["best_epoch"] + 1,
            "val accuracy": values.get("best_val_accuracy"),
            "test accuracy": values["test_accuracy"],
            "train seconds": values.get("seconds", 0.0),
        })
    return pd.DataFrame(rows).set_index("phase")
