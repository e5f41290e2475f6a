"""Keras callbacks of the experiment's training loop: one ``fit`` per arm, extended by these.

:class:`ArmCheckpoint` owns everything that makes an arm resumable, in the
spirit of Keras's ``BackupAndRestore``: at the start of ``fit`` it restores
the last committed epoch (model, optimizer, the plateau's counters); at each
epoch's end it measures the history row, saves the epoch's state and commits
it with the history to the run's manifest. :class:`SetEpoch` tells the
batches which epoch is starting.
"""

import dataclasses
import math
import time

import keras

from supermask_lib.experiment import storage
from supermask_lib.layers import masked_layers
from supermask_lib.utilization import fraction_kept

HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy",
                   "learning_rate", "fraction_kept", "seconds"]
TEST_COLUMNS = ["test_loss", "test_accuracy"]  # with test_each_epoch: what selecting on the test set would see


def history_columns(config):
    return HISTORY_COLUMNS + (TEST_COLUMNS if config.test_each_epoch else [])
PLATEAU_COUNTERS = ("wait", "best", "cooldown_counter")  # ReduceLROnPlateau's state between epochs


class NonFiniteLossError(FloatingPointError):
    """An arm's training loss became NaN or infinite; nothing of that epoch was committed."""


@dataclasses.dataclass
class ArmProgress:
    """Where an arm stands in its run's manifest: its history, the epochs it keeps, its result.

    Stored as the manifest's ``phases[<arm>]`` entry (the key ``phase`` is
    the arm's name; runs published before the arm table use it too).
    """

    phase: str
    epochs_done: int = 0
    history: list = dataclasses.field(default_factory=list)
    complete: bool = False
    best_val_accuracy: float | None = None
    best_epoch: int | None = None
    best_file: str | None = None      # run-relative paths of epoch states
    last_file: str | None = None
    plateau: dict | None = None
    metrics: dict | None = None       # the arm's ArmMetrics, once its selected epoch is tested

    @classmethod
    def load(cls, run, arm):
        return cls(**run.phase_states[arm]) if arm in run.phase_states else cls(arm)

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


class RunClock:
    """The time a run has left, calibrated on the epochs it has trained (no estimate before the first).

    ``epochs_left`` is every epoch the call still has to train, over
    ``arms_left`` arms that trace a step of their own (arms of one kind of step
    share its trace: :class:`supermask_lib.experiment.programs.Program`). Such an arm's
    first epoch in a call also traces (and, with XLA, compiles) its step: on a
    GPU that epoch took 8 s where the next took 0.9 s. So the range is the
    fastest to the slowest of the other epochs times the epochs left, plus what
    a first epoch added over them, the least to the most, for each tracing arm
    still to start; until a second epoch is measured, the first epochs stand
    for every epoch.
    """

    def __init__(self, epochs_left, arms_left=1):
        self.epochs_left = int(epochs_left)
        self.arms_left = int(arms_left)
        self.seconds, self.first_seconds = [], []

    def tick(self, seconds, first=False):
        """One finished epoch; ``first``: the first of an arm that traced its step in this call."""
        (self.first_seconds if first else self.seconds).append(float(seconds))
        self.epochs_left = max(0, self.epochs_left - 1)
        if first:
            self.arms_left = max(0, self.arms_left - 1)

    def left(self):
        """``(low, high)`` seconds left; None before the first epoch."""
        if not self.seconds:
            if not self.first_seconds:
                return None
            return min(self.first_seconds) * self.epochs_left, max(self.first_seconds) * self.epochs_left
        fastest, slowest = min(self.seconds), max(self.seconds)
        added = [max(0.0, first - fastest) for first in self.first_seconds] or [0.0]
        return (fastest * self.epochs_left + min(added) * self.arms_left,
                slowest * self.epochs_left + max(added) * self.arms_left)

    def text(self):
        left = self.left()
        if left is None or not self.epochs_left:
            return ""
        low, high = (value / 60 for value in left)
        span = f"{low:.0f} min" if round(low) == round(high) else f"{low:.0f}–{high:.0f} min"
        epochs = f"{self.epochs_left} epoch{'' if self.epochs_left == 1 else 's'}"
        return f"  about {span} left ({epochs})" if high >= 1 else f"  under a minute left ({epochs})"


def resuming_line(progress, epochs):
    return f"[{progress.phase}] resuming after epoch {progress.epochs_done}/{epochs}"


class ArmCheckpoint(keras.callbacks.Callback):
    """Restores an arm's last committed epoch at ``fit``'s start and commits every finished epoch.

    Place it after the plateau callback (``plateau``, or None for the
    optimizer's own schedule), so that an epoch's row and commit see the
    plateau's updated counters; the row's learning rate is the one the epoch
    *trained* with. A non-finite loss raises :class:`NonFiniteLossError`
    before anything of that epoch is written.
    """

    def __init__(self, run, progress, plateau=None, log=None, epochs=None, test_data=None, clock=None, network=None,
                 traces=True):
        super().__init__()
        self._network = network  # the network whose state is committed; None: the model being fitted
        self.clock = clock  # a RunClock shared by the run's arms: the time left, in each epoch's line
        self.traces = traces  # whether this fit traces its step (False: an earlier arm's trace is reused)
        self.run, self.progress, self.plateau = run, progress, plateau
        self.log = log or (lambda line: None)
        self.epochs = epochs
        self.test_data = test_data  # (x, y): test every epoch too, after the epoch's own numbers are taken
        self.columns = HISTORY_COLUMNS + (TEST_COLUMNS if test_data is not None else [])

    @property
    def folder(self):
        return self.run.folder

    @property
    def network(self):
        """What is saved and restored: the network itself, also when ``fit`` trains it inside a trainer that
        augments in its step (:class:`~supermask_lib.experiment.batches.AugmentingTrainer`, which shares its optimizer)."""
        return self._network if self._network is not None else self.model

    def on_train_begin(self, logs=None):
        self._first_of_call = self.traces  # this call's first epoch of the arm also traces (and compiles) the step
        progress = self.progress
        if progress.last_file is None:
            return
        storage.load_training_state(self.folder.path / progress.last_file, self.network)
        if self.plateau is not None and progress.plateau:
            for name in PLATEAU_COUNTERS:
                setattr(self.plateau, name, progress.plateau[name])
        self.log(resuming_line(progress, self.epochs))

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()
        self._learning_rate = float(keras.ops.convert_to_numpy(self.network.optimizer.learning_rate))

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        arm = self.progress.phase
        if not math.isfinite(float(logs["loss"])):
            raise NonFiniteLossError(
                f"arm {arm!r}, epoch {epoch + 1}: the training loss is {float(logs['loss'])}; nothing of this "
                "epoch was committed. A diverging rate or an initializer that yields NaN or inf is the usual cause.")
        row = {
            "epoch": epoch,
            "loss": float(logs["loss"]),
            "accuracy": float(logs["accuracy"]),
            "val_loss": float(logs["val_loss"]),
            "val_accuracy": float(logs["val_accuracy"]),
            "learning_rate": self._learning_rate,
            "fraction_kept": float(fraction_kept(self.network)) if masked_layers(self.network) else 1.0,
            "seconds": time.perf_counter() - self._started,
        }
        if self.test_data is not None:  # before the state is saved: a sampled mask's draw is part of it
            x, y = self.test_data
            row["test_loss"], row["test_accuracy"] = map(float, self.network.evaluate(x, y, batch_size=256, verbose=0))
        path = self.folder.epoch_state(arm, epoch)
        storage.save_training_state(path, self.network)
        stale = self.progress.record(row, self.folder.relative(path))
        if self.plateau is not None:
            self.progress.plateau = {"wait": int(self.plateau.wait), "best": float(self.plateau.best),
                                     "cooldown_counter": int(self.plateau.cooldown_counter)}
        storage.write_history(self.folder.history(arm), self.progress.history, self.columns)  # a view for readers
        self.progress.commit(self.run, add=[path], remove=[self.folder.path / name for name in stale])
        if self.clock is not None:
            self.clock.tick(row["seconds"], first=getattr(self, "_first_of_call", False))
        self._first_of_call = False
        self.log(f"[{arm}] epoch {epoch + 1}/{self.epochs}  loss {row['loss']:.4f}  acc {row['accuracy']:.4f}  "
                 f"val_loss {row['val_loss']:.4f}  val_acc {row['val_accuracy']:.4f}  "
                 f"lr {row['learning_rate']:.2g}  kept {row['fraction_kept']:.4f}  {row['seconds']:.1f}s"
                 + (self.clock.text() if self.clock is not None else ""))


class SetEpoch(keras.callbacks.Callback):
    """Tells an :class:`~supermask_lib.experiment.batches.EpochBatches`, and a
    :class:`~supermask_lib.experiment.batches.StepAugmentation` if the step augments, which epoch is starting."""

    def __init__(self, batches, augmentation=None):
        super().__init__()
        self.batches, self.augmentation = batches, augmentation

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.epoch = epoch
        if self.augmentation is not None:
            self.augmentation.start_epoch(epoch)
