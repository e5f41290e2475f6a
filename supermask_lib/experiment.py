"""The study as one call: mask → weights → mix from one seeded initialisation.

``run_experiment(config, out_dir)`` loads and checks the data, claims the
run's folder (:mod:`supermask_lib.runs`) and trains the phases the
configuration names:

1. **mask**: only the mask's scores train (and BatchNorm, as in the study);
2. **weights**: a plain network (no mask) trains from the same weights;
3. **mix**: the best masked network, mask frozen, trains its weights at
   ``finetune_lr``.

After each epoch a phase saves its state and commits it, so killing the
process at any moment and calling ``run_experiment`` again continues from
the last committed epoch and ends with the files an uninterrupted run writes.
"""

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from supermask_lib import data as data_lib
from supermask_lib import engine, runs
from supermask_lib import models as models_lib
from supermask_lib.callbacks import EpochRecord, ResumableReduceLROnPlateau
from supermask_lib.config import ExperimentConfig, mix_arm
from supermask_lib.export import unmasked_copy
from supermask_lib.runs import RunFolder, load_run
from supermask_lib.statistics import mask_utilization
from supermask_lib.layers import masked_layers
from supermask_lib.provenance import device_description
from supermask_lib.trainable import set_batchnorm_only, set_trainable

# Arms that are compared see the same batches: an epoch's order and augmentation
# depend on (seed, this number, epoch) only. Extra mix arms use the mix's order.
BATCH_ORDER = {"mask": 0, "pure_mask": 0, "weights": 1, "equal_cost": 1, "bn_only": 1, "mix": 2, "random_mask": 2}
HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy",
                   "learning_rate", "fraction_kept", "seconds"]


@dataclasses.dataclass
class PhaseState:
    """Where a phase stands: its history and the epochs it keeps (last, best)."""

    phase: str
    epochs_done: int = 0
    history: list = dataclasses.field(default_factory=list)
    complete: bool = False
    best_val_accuracy: float | None = None
    best_epoch: int | None = None
    best_file: str | None = None      # run-relative paths of epoch states
    last_file: str | None = None
    plateau: dict | None = None

    @classmethod
    def load(cls, run, phase):
        return cls(**run.phase_states[phase]) if phase in run.phase_states else cls(phase)

    def commit(self, run, add=(), remove=()):
        run.commit(add=add, remove=remove, phase_state=dataclasses.asdict(self))

    def record(self, row, state_file):
        """Take a finished epoch; returns the epoch states no longer needed."""
        before = {self.last_file, self.best_file}
        self.history.append(row)
        self.epochs_done = row["epoch"] + 1
        self.last_file = state_file
        if self.best_val_accuracy is None or row["val_accuracy"] > self.best_val_accuracy:
            self.best_val_accuracy, self.best_epoch, self.best_file = row["val_accuracy"], row["epoch"], state_file
        return before - {self.last_file, self.best_file, None}


@dataclasses.dataclass
class _Session:
    """One call of ``run_experiment``: what every phase needs."""

    config: ExperimentConfig
    dataset: data_lib.Dataset
    run: runs.Run
    log: Callable[[str], None]
    verbose: int
    callbacks: tuple

    @property
    def folder(self):
        return self.run.folder

    def build(self, masked=True, weights=None):
        model = models_lib.get_model(
            self.config.model, input_shape=self.dataset.input_shape, num_classes=self.dataset.num_classes,
            masked=masked, **self.config.model_arguments(), **(self.config.mask_arguments() if masked else {}),
        )
        if weights is not None:
            model.load_weights(weights)
        return model

    def initial_model(self):
        """The run's one random initialisation: drawn once, committed, reloaded on resume."""
        path = self.folder.initial_weights
        if self.folder.relative(path) in self.run.manifest["files"]:
            return self.build(weights=path)
        model = self.build()
        runs.atomic_save(path, model.save_weights)
        self.run.commit(add=[self.folder.config, path])
        return model

    def evaluate(self, model):
        """Test loss and accuracy; for a sampled test mask (``eval_samples``), their means over the draws."""
        draws = self.config.eval_samples if masked_layers(model) else 1
        scores = np.array([model.evaluate(self.dataset.x_test, self.dataset.y_test, batch_size=256, verbose=0)
                           for _ in range(draws)])
        metrics = {"test_loss": float(scores[:, 0].mean()), "test_accuracy": float(scores[:, 1].mean())}
        if draws > 1:
            metrics["test_accuracy_draws"] = [float(value) for value in scores[:, 1]]
        return metrics

    def total_steps(self, epochs):
        """Training steps of an arm of ``epochs`` epochs (what a cosine schedule decays over)."""
        steps = -(-len(self.dataset.y_train) // self.config.batch_size)
        if self.config.max_steps_per_epoch is not None:
            steps = min(steps, self.config.max_steps_per_epoch)
        return steps * epochs

    def record_utilization(self, phase, model):
        path = self.folder.utilization(phase)
        runs.atomic_write_text(path, mask_utilization(model).to_csv())
        self.run.commit(add=[path])

    def train(self, phase, model, learning_rate, epochs):
        """Train ``phase`` to its last epoch (resuming from its commit); the model ends at its best epoch."""
        state = PhaseState.load(self.run, phase)
        engine.compile_model(model, self.config, learning_rate, self.total_steps(epochs))
        if state.last_file and not state.complete:
            runs.load_training_state(self.folder.path / state.last_file, model)
            self.log(f"[{phase}] resuming after epoch {state.epochs_done}/{epochs}")
        if not state.complete and state.epochs_done < epochs:
            self._fit(phase, model, state, epochs)
        if not state.complete:
            self._export(phase, model, state)
        runs.load_training_state(self.folder.path / state.best_file, model)
        return model, state

    def _fit(self, phase, model, state, epochs):
        config = self.config
        batches = data_lib.EpochBatches(
            self.dataset.x_train, self.dataset.y_train, config.batch_size,
            seed=config.seed * 1000 + BATCH_ORDER.get(phase, BATCH_ORDER["mix"]),
            augmentation=data_lib.make_augmentation(config.augment_flip, config.augment_rotation,
                                                    config.augment_shift),
            max_batches=config.max_steps_per_epoch, crop=config.augment_crop,
            crop_fill=data_lib.PIXEL_RANGES[config.pixel_range][0],
        )
        plateau = ResumableReduceLROnPlateau(state=state.plateau, monitor="accuracy", factor=config.lr_factor,
                                             patience=config.lr_patience, verbose=0)
        schedule = [plateau] if config.lr_schedule == "plateau" else []  # else the optimizer's own schedule

        def commit_epoch(epoch, row):
            path = self.folder.epoch_state(phase, epoch)
            runs.save_training_state(path, model)
            stale = state.record(row, self.folder.relative(path))
            if schedule:
                state.plateau = plateau.state()
            runs.write_history(self.folder.history(phase), state.history, HISTORY_COLUMNS)  # a view for readers
            state.commit(self.run, add=[path], remove=[self.folder.path / name for name in stale])
            self.log(f"[{phase}] epoch {epoch + 1}/{epochs}  loss {row['loss']:.4f}  acc {row['accuracy']:.4f}  "
                     f"val_loss {row['val_loss']:.4f}  val_acc {row['val_accuracy']:.4f}  "
                     f"lr {row['learning_rate']:.2g}  kept {row['fraction_kept']:.4f}  {row['seconds']:.1f}s")

        model.fit(
            batches, epochs=epochs, initial_epoch=state.epochs_done, shuffle=False,  # order is seeded per epoch
            validation_data=(self.dataset.x_val, self.dataset.y_val), validation_batch_size=256,
            callbacks=[data_lib.SetEpoch(batches), *schedule, EpochRecord(commit_epoch), *self.callbacks],
            verbose=self.verbose,
        )

    def _export(self, phase, model, state):
        """The selected and the last epoch as ``.keras`` files of the model alone (an uncompiled twin)."""
        export = self.build(masked=bool(masked_layers(model)))
        written = [self.folder.history(phase)]
        runs.write_history(written[0], state.history, HISTORY_COLUMNS)
        for which, name in (("last", state.last_file), ("best", state.best_file)):
            runs.load_training_state(self.folder.path / name, model)
            export.set_weights(model.get_weights())
            written.append(self.folder.checkpoint(phase, which))
            runs.atomic_save(written[-1], export.save)
        state.complete = True
        state.commit(self.run, add=written)


def _study(session):
    """Every arm from the run's one initialisation; returns the test metrics.

    mask → weights → mix as in the post, then the controls and the extra
    fine-tuning rates the configuration asks for.
    """
    config = session.config
    masked = session.initial_model()
    engine.compile_model(masked, config, config.score_learning_rate, session.total_steps(config.epochs))
    metrics = {"initial": session.evaluate(masked)}
    states, best_mask = {}, None
    for arm in config.arms():
        if config.arm_epochs(arm) == 0:
            continue
        model, learning_rate = _start_arm(session, arm, masked, best_mask)
        model, states[arm] = session.train(arm, model, learning_rate, config.arm_epochs(arm))
        metrics[arm] = session.evaluate(model)
        if masked_layers(model):
            session.record_utilization(arm, model)
        if arm == "mask":
            best_mask = model
    for arm, state in states.items():
        metrics[arm].update({
            "best_epoch": state.best_epoch, "best_val_accuracy": state.best_val_accuracy,
            "epochs": state.epochs_done, "seconds": float(sum(row["seconds"] for row in state.history)),
        })
    metrics["validation"] = config.validation
    return metrics


def _start_arm(session, arm, initial, best_mask):
    """The model an arm starts from, with what trains in it set, and its learning rate."""
    config = session.config
    if arm in ("mask", "pure_mask"):  # only the scores; BatchNorm too in the study's mask phase
        model = initial if arm == "mask" else session.build(weights=session.folder.initial_weights)
        set_trainable(model, "scores", train_batchnorm=config.train_batchnorm and arm == "mask")
        return model, config.score_learning_rate
    if arm in ("weights", "equal_cost", "bn_only"):  # a plain network from the same weights
        model = unmasked_copy(session.build(weights=session.folder.initial_weights))
        if arm == "bn_only":  # at the mask phase's rate: it isolates what BatchNorm did there
            set_batchnorm_only(model)
            return model, config.score_learning_rate
        return model, config.learning_rate
    model = session.build()  # mix and its variants: the best masked network, mask frozen
    model.set_weights(best_mask.get_weights())
    if arm == "random_mask":
        rng = np.random.default_rng([config.seed, BATCH_ORDER["random_mask"]])
        for layer in masked_layers(model):
            layer.shuffle_scores(rng)
    set_trainable(model, "weights")
    rates = {mix_arm(rate): rate for rate in config.finetune_lrs}
    return model, rates.get(arm, config.finetune_lr)


def _load_data(config):
    return data_lib.load_dataset(
        config.dataset, config.data_dir, train_size=config.train_size, val_size=config.val_size,
        test_size=config.test_size, validation=config.validation, seed=config.seed, pixel_range=config.pixel_range,
    )


def check_affordable(config, dataset=None, allow_slow=None, out_dir=None):
    """Refuse, before any work, a run that would take days without an accelerator (``engine.check_affordable``).

    Returns the estimated training seconds on this CPU, or None where an
    accelerator is present or the run is already finished in ``out_dir``
    (reading a finished run costs nothing). ``dataset`` is loaded from the
    config if not given.
    """
    dataset = dataset if dataset is not None else _load_data(config)
    folder = None if out_dir is None else RunFolder(Path(out_dir) / config.run_name(dataset.info["arrays_sha256"]))
    if folder is not None and runs.is_finished(folder):
        return None
    count_macs = lambda: models_lib.forward_macs(models_lib.get_model(  # noqa: E731
        config.model, input_shape=dataset.input_shape, num_classes=dataset.num_classes, masked=False))
    return engine.check_affordable(config, count_macs, len(dataset.y_train), allow_slow)


def run_experiment(config, out_dir="runs", *, overwrite=False, progress_bar=None, stream=None, callbacks=(),
                   allow_slow=None):
    """Run (or resume, or reuse) the three-phase experiment of ``config``.

    Args:
        config: an :class:`ExperimentConfig`.
        out_dir: parent folder; the run lives in ``out_dir/<name>``, named
            by the configuration and the data's hash.
        overwrite: retrain a finished configuration from scratch.
        progress_bar: Keras's progress bar; ``None`` shows it on a terminal
            and in a notebook front end. One summary line per epoch is
            always printed (papermill logs those; pass ``False`` there).
        stream: where the per-epoch lines go (default stdout).
        callbacks: extra Keras callbacks for every phase.
        allow_slow: start even where no accelerator is present and the
            training would take more than a day (default: the environment
            variable SUPERMASK_ALLOW_SLOW_RUN=1); see ``engine.check_affordable``.
    Returns a :class:`supermask_lib.runs.RunResult`. Raises
    :class:`supermask_lib.runs.RunLockedError` while another process writes
    the same run, and :class:`supermask_lib.runs.RunFileError` when the
    run's files differ from what it committed.
    """
    if not isinstance(config, ExperimentConfig):
        raise ValueError(f"config={config!r} is not allowed: give an ExperimentConfig.")
    engine.check_engine(config)
    stream = stream or sys.stdout
    log = lambda line: print(line, file=stream, flush=True)  # noqa: E731
    if progress_bar is None:
        progress_bar = sys.stdout.isatty() or "ipykernel" in sys.modules

    dataset = _load_data(config)
    log(data_lib.describe(dataset))
    estimate = check_affordable(config, dataset, allow_slow, out_dir=None if overwrite else out_dir)
    log(f"device: {device_description()}" + ("" if estimate is None else
                                              f", training estimated at {estimate / 60:.0f} min or more"))
    folder = RunFolder(Path(out_dir) / config.run_name(dataset.info["arrays_sha256"]))
    with runs.exclusive(folder):
        if not overwrite and runs.is_finished(folder):
            runs.check_same_run(runs.read_json(folder.config), config, dataset.info, folder)
            result = load_run(folder.path)
            log(f"{folder.path}: finished run found and verified, reusing it (overwrite=True retrains)")
            return result
        run = runs.open_run(config, folder, dataset.info, overwrite=overwrite)
        log(f"run folder: {folder.path}")
        engine.set_determinism(config)
        session = _Session(config, dataset, run, log, 1 if progress_bar else 0, tuple(callbacks))
        with engine.precision(config), engine.distribution(config) as devices:
            if devices:
                log(f"{config.distribute} over {len(devices)} devices: {', '.join(devices)}")
            metrics = _study(session)
        runs.write_json(folder.metrics, metrics)
        run.commit(add=[folder.metrics], finished=True)
    log("test accuracy: " + ", ".join(f"{arm} {metrics[arm]['test_accuracy']:.4f}"
                                      for arm in ("initial", *config.arms()) if arm in metrics))
    return load_run(folder.path, verify="none")  # every file was hashed as it was committed, moments ago
