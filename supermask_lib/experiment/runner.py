"""The experiment as one call: every arm of a configuration from one seeded initialisation.

``run_experiment(config, out_dir)`` loads and checks the data, claims the run's folder
(:mod:`~supermask_lib.experiment.runs`) and trains the arms the configuration names
(:mod:`~supermask_lib.experiment.arms`: the post's mask, weights and mix first), sharing
compiled steps between arms of one kind (:mod:`~supermask_lib.experiment.programs`).
After each epoch an arm commits its state, so killing the process at any moment and
calling ``run_experiment`` again continues from the last committed epoch and ends with
the files an uninterrupted run writes.
"""

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from supermask_lib import models as models_lib
from supermask_lib.experiment import batches as batches_lib, data as data_lib, engine, results, runs, storage, tensorboard
from supermask_lib.experiment.arms import ARMS, MASK, ArmMetrics
from supermask_lib.experiment.callbacks import ArmCheckpoint, ArmProgress, RunClock, SetEpoch, history_columns, resuming_line
from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.experiment.programs import Programs
from supermask_lib.export import unmasked_copy
from supermask_lib.layers import masked_layers
from supermask_lib.experiment.provenance import device_description, engine_description
from supermask_lib.experiment.storage import RunFolder
from supermask_lib.utilization import mask_utilization
from supermask_lib.trainable import set_batchnorm_only, set_trainable


@dataclasses.dataclass
class Runner:
    """One call of ``run_experiment``: trains the run's arms in order from its one initialisation.

    Each arm reads as its record (:mod:`supermask_lib.experiment.arms`) says: :meth:`start`
    builds what it starts from and sets what trains, :meth:`Programs.compiled` compiles
    it (or hands it an earlier arm's compiled step of the same kind), :meth:`train` fits it
    (an :class:`~supermask_lib.experiment.callbacks.ArmCheckpoint` commits every epoch)
    and :meth:`finish` exports and tests its selected epoch. An arm whose
    result is committed skips itself, unless a later arm starts from it.
    """

    config: ExperimentConfig
    dataset: data_lib.Dataset
    run: runs.Run
    log: Callable[[str], None]
    verbose: int
    callbacks: tuple
    _selected: dict = dataclasses.field(default_factory=dict)  # arm -> its weights at the selected epoch, if needed later
    clock: RunClock | None = None  # the time left, over every epoch this call trains
    programs: Programs | None = None  # the compiled steps, shared by arms of one kind

    def __post_init__(self):
        steps = batches_lib.steps_per_epoch(len(self.dataset.y_train), self.config.batch_size,
                                            self.config.max_steps_per_epoch)
        self.programs = self.programs or Programs(self.config, steps, self.log)

    @property
    def folder(self):
        return self.run.folder

    def run_arms(self):
        """Every arm of the configuration; returns ``{"initial" and each arm: ArmMetrics}``."""
        config = self.config
        # The untrained network is tested as the mask arm's, compiled once: the mask arm's steps reuse the trace.
        initial = self.programs.compiled(ARMS[MASK], *self.start(ARMS[MASK], self.initial_model()))
        metrics = {"initial": self.evaluate(initial)}
        records = [arm for arm in config.arm_records() if arm.epoch_count(config) > 0]
        progresses = {arm.name: ArmProgress.load(self.run, arm.name) for arm in records}
        tensorboard.continue_logs(config, self.folder, {name: p.history for name, p in progresses.items()}, self.log)
        epochs_left = {arm.name: max(0, arm.epoch_count(config) - progresses[arm.name].epochs_done)
                       for arm in records if not progresses[arm.name].complete}
        tracing = {self.programs.key(arm, arm.learning_rate(config)) for arm in records if epochs_left.get(arm.name)}
        self.clock = RunClock(sum(epochs_left.values()), len(tracing))  # an arm per kind of step traces it
        for index, arm in enumerate(records):
            progress = progresses[arm.name]
            needed_later = arm.name in {later.parent for later in records[index + 1:]}
            if progress.complete and progress.metrics is not None and not needed_later:
                self.log(f"[{arm.name}] committed, skipping it")
                metrics[arm.name] = ArmMetrics.from_dict(progress.metrics, f"{self.folder.manifest} ({arm.name})")
                continue
            model = initial if arm.name == MASK else self.programs.compiled(arm, *self.start(arm, initial))
            self.train(arm, model, progress)
            metrics[arm.name] = self.finish(arm, model, progress)
            if needed_later:  # the model may go on to train another arm of its kind
                self._selected[arm.name] = model.get_weights()
        return metrics

    # ------------------------------------------------------------ the arm

    def start(self, arm, initial):
        """The model ``arm`` starts from, with what trains in it set, and its learning rate."""
        config = self.config
        if arm.start == "initial":
            # The mask phase trains the very model the initial test used; other arms rebuild it from its file.
            model = initial if arm.name == MASK else self.build(weights=self.folder.initial_weights)
        else:  # an earlier arm's selected network (the mask phase's: its mask frozen)
            model = self.build(masked=arm.parent == MASK)
            model.set_weights(self._selected[arm.parent])
            if arm.start == "shuffled_mask":
                rng = np.random.default_rng([config.seed, arm.batch_order])
                for layer in masked_layers(model):
                    layer.shuffle_scores(rng)
        if not arm.masked and masked_layers(model):
            model = unmasked_copy(model)
        if arm.trains == "batchnorm":
            set_batchnorm_only(model)
        elif arm.trains != "everything":  # "scores", "scores_without_batchnorm" or "weights" (BatchNorm trains with them)
            set_trainable(model, arm.trains.split("_")[0], train_batchnorm=arm.trains == "scores" and config.train_batchnorm)
        return model, arm.learning_rate(config)

    def train(self, arm, model, progress):
        """Fit ``arm`` to its last epoch, resuming after its last committed one."""
        config, epochs = self.config, arm.epoch_count(self.config)
        if progress.complete:
            return
        if progress.epochs_done >= epochs:  # killed between its last epoch's commit and its export
            self.log(resuming_line(progress, epochs))
            return
        augmentation = batches_lib.make_augmentation(config.augment_flip, config.augment_rotation,
                                                     config.augment_shift)
        in_step = augmentation is not None and batches_lib.augments_in_step(model.jit_compile)
        batches = batches_lib.EpochBatches(
            self.dataset.x_train, self.dataset.y_train, config.batch_size,
            seed=config.seed * 1000 + arm.batch_order, augmentation=None if in_step else augmentation,
            max_batches=config.max_steps_per_epoch, crop=config.augment_crop,
            crop_fill=data_lib.PIXEL_RANGES[config.pixel_range][0],
        )
        # The host hands over raw batches; the compiled step augments them (batches.StepAugmentation).
        trainer = self.programs.augmenting_trainer(model, augmentation, len(batches), batches.seed) if in_step else model
        plateau = None
        if config.lr_schedule == "plateau":  # else the optimizer's own schedule
            plateau = keras.callbacks.ReduceLROnPlateau(monitor="accuracy", factor=config.lr_factor,
                                                        patience=config.lr_patience, verbose=0)
        test_data = (self.dataset.x_test, self.dataset.y_test) if config.test_each_epoch else None
        program = self.programs.of(model)
        checkpoint = ArmCheckpoint(self.run, progress, plateau, self.log, epochs, test_data, self.clock, network=model,
                                   traces=not program.trained)
        program.trained = True
        trainer.fit(
            batches, epochs=epochs, initial_epoch=progress.epochs_done, shuffle=False,  # order is seeded per epoch
            validation_data=(self.dataset.x_val, self.dataset.y_val), validation_batch_size=256,
            callbacks=[SetEpoch(batches, trainer.augmentation if in_step else None), *([plateau] if plateau else []),
                       checkpoint, *tensorboard.callbacks(config, self.run, progress, model), *self.callbacks],
            verbose=self.verbose,
        )

    def finish(self, arm, model, progress):
        """Export the arm's selected and last epochs once, leave ``model`` at the selected one, test it."""
        if not progress.complete:
            self._export(arm, model, progress)
        storage.load_training_state(self.folder.path / progress.best_file, model)
        metrics = self.evaluate(model)
        metrics = dataclasses.replace(metrics, best_epoch=progress.best_epoch,
                                      best_val_accuracy=progress.best_val_accuracy, epochs=progress.epochs_done,
                                      seconds=float(sum(row["seconds"] for row in progress.history)))
        written = []
        if masked_layers(model):
            written.append(self.folder.utilization(arm.name))
            storage.atomic_write_text(written[0], mask_utilization(model).to_csv())
        progress.metrics = metrics.to_dict()
        progress.commit(self.run, add=written)
        return metrics

    def _export(self, arm, model, progress):
        """The selected and the last epoch as ``.keras`` files of the model alone (an uncompiled twin)."""
        export = self.build(masked=arm.masked)
        written = [self.folder.history(arm.name)]
        storage.write_history(written[0], progress.history, history_columns(self.config))
        for which, name in (("last", progress.last_file), ("best", progress.best_file)):
            storage.load_training_state(self.folder.path / name, model)
            export.set_weights(model.get_weights())
            written.append(self.folder.checkpoint(arm.name, which))
            storage.atomic_save(written[-1], export.save)
        progress.complete = True
        progress.commit(self.run, add=written)

    # ---------------------------------------------------------- the network

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
        storage.atomic_save(path, model.save_weights)
        self.run.commit(add=[self.folder.config, path])
        return model

    def evaluate(self, model):
        """Test loss and accuracy; for a sampled test mask (``eval_samples``), their means over the draws."""
        draws = self.config.eval_samples if masked_layers(model) else 1
        scores = np.array([model.evaluate(self.dataset.x_test, self.dataset.y_test, batch_size=256, verbose=0)
                           for _ in range(draws)])
        return ArmMetrics(test_loss=float(scores[:, 0].mean()), test_accuracy=float(scores[:, 1].mean()),
                          test_accuracy_draws=tuple(float(v) for v in scores[:, 1]) if draws > 1 else None)


def check_affordable(config, dataset=None, allow_slow=None, out_dir=None):
    """Refuse, before any work, a run that would take days without an accelerator (``engine.check_cpu_time``).

    Returns the estimated training seconds on this CPU, or None where an
    accelerator is present or the run is already finished in ``out_dir``
    (reading a finished run costs nothing). ``dataset`` is loaded from the
    config if not given.
    """
    dataset = dataset if dataset is not None else data_lib.load_for(config)
    folder = None if out_dir is None else RunFolder(Path(out_dir) / config.run_name(dataset.info["arrays_sha256"]))
    if folder is not None and runs.is_finished(folder):
        return None
    count_macs = lambda: models_lib.forward_macs(models_lib.get_model(  # noqa: E731
        config.model, input_shape=dataset.input_shape, num_classes=dataset.num_classes, masked=False))
    return engine.check_cpu_time(config, count_macs, len(dataset.y_train), allow_slow)


def run_experiment(config, out_dir="runs", *, overwrite=False, progress_bar=None, stream=None, callbacks=(),
                   allow_slow=None):
    """Run (or resume, or reuse) the three-phase experiment of ``config``.

    Args:
        config: an :class:`~supermask_lib.experiment.config.ExperimentConfig`.
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
            variable SUPERMASK_ALLOW_SLOW_RUN=1); see ``engine.check_cpu_time``.
    Returns a :class:`supermask_lib.experiment.results.RunResult`. Raises
    :class:`supermask_lib.experiment.storage.RunLockedError` while another process writes
    the same run, and :class:`supermask_lib.experiment.storage.RunFileError` when the
    run's files differ from what it committed.
    """
    if not isinstance(config, ExperimentConfig):
        raise ValueError(f"config={config!r} is not allowed: give an ExperimentConfig.")
    engine.check_engine(config)
    tensorboard.check_available(config)
    stream = stream or sys.stdout
    log = lambda line: print(line, file=stream, flush=True)  # noqa: E731
    if progress_bar is None:
        progress_bar = sys.stdout.isatty() or "ipykernel" in sys.modules

    dataset = data_lib.load_for(config)
    log(data_lib.describe(dataset))
    estimate = check_affordable(config, dataset, allow_slow, out_dir=None if overwrite else out_dir)
    log(f"engine: {engine_description()}")
    engine.use_compilation_cache()
    at_least = "under a minute" if estimate is not None and estimate < 60 else f"at least {(estimate or 0) / 60:.0f} min"
    lower_bound = "" if estimate is None else (f", {at_least} of training by its arithmetic alone (each epoch's "
                                               "line gives the time left, measured)")
    log(f"device: {device_description()}{lower_bound}")
    folder = RunFolder(Path(out_dir) / config.run_name(dataset.info["arrays_sha256"]))
    if not overwrite and runs.is_finished(folder):  # reading needs no lock: a published, read-only run is reused
        return _reuse(folder, config, dataset, log)
    with storage.exclusive(folder):
        if not overwrite and runs.is_finished(folder):  # finished between the check and the lock
            return _reuse(folder, config, dataset, log)
        run = runs.open_run(config, folder, dataset.info, overwrite=overwrite)
        log(f"run folder: {folder.path}")
        engine.set_determinism(config)
        runner = Runner(config, dataset, run, log, 1 if progress_bar else 0, tuple(callbacks))
        with engine.precision(config), engine.distribution(config) as devices:
            if devices:
                log(f"{config.distribute} over {len(devices)} devices: {', '.join(devices)}")
            metrics = runner.run_arms()
        storage.write_json(folder.metrics, results.metrics_record(metrics, config.validation))
        run.commit(add=[folder.metrics], finished=True)
    log("test accuracy: " + ", ".join(f"{arm} {values.test_accuracy:.4f}" for arm, values in metrics.items()))
    return results.load_run(folder.path, verify="none")  # every file was hashed as it was committed, moments ago


def _reuse(folder, config, dataset, log):
    runs.check_same_run(storage.read_json(folder.config), config, dataset.info, folder)
    result = results.load_run(folder.path)
    log(f"{folder.path}: finished run found and verified, reusing it (overwrite=True retrains)")
    tensorboard.log_finished(config, folder, result, log)
    return result
