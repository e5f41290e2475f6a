"""TensorBoard logs of a run, one setting away: ``ExperimentConfig.tensorboard=True`` (off by default).

Per arm, ``<run>/tensorboard/<arm>/train`` holds each epoch's training loss and accuracy, the learning rate
the epoch trained with and the fraction of masked weights kept, overall (``epoch_fraction_kept``) and per
masked layer (``epoch_fraction_kept/<layer>``), with ``test_each_epoch`` the test loss and accuracy
(``epoch_test_*``); ``<arm>/validation`` holds the validation loss and accuracy. The step is the epoch
(from 0, as in the history CSV). ``make tensorboard`` serves a folder of runs.

On the TensorFlow backend Keras's own ``keras.callbacks.TensorBoard`` writes them. On JAX and torch the
``tensorboard`` package's writer writes the same tags: Keras's callback works there too where TensorFlow is
installed (tested on JAX), but its summary ops start TensorFlow's runtime beside the backend's, which on a
GPU claims the memory the backend needs, and a JAX or torch host often has no TensorFlow at all. The
``tensorboard`` package is needed on every backend (it also reads the logs back when a run resumes):
:func:`check_available` stops ``run_experiment`` before any work, with an error naming the setting, where
it is missing.

The logs are a view of the committed history, never ahead of it. The callbacks come after the epoch's
commit (:class:`~supermask_lib.experiment.callbacks.ArmCheckpoint`) and write the committed row, so a kill
before a commit leaves nothing of that epoch in the logs and the epoch retrained on resume is logged once.
A kill between a commit and the write leaves that epoch out: when a run starts or resumes (or a finished
run is reused with the setting on) :func:`continue_logs` writes every committed epoch the logs lack from the
history (without the per-layer fractions, which only the live run knows). The logs are outside the
manifest: not part of the run's results or identity, not verified, not stored in ``results/``.
"""

import errno
import importlib.util
import shutil
from collections import Counter
from pathlib import Path

import keras

from supermask_lib.experiment import storage
from supermask_lib.layers import masked_layers
from supermask_lib.utilization import mask_utilization

TRAIN, VALIDATION = "train", "validation"  # Keras's callback's subfolders
LOGGED = ("loss", "accuracy", "learning_rate", "fraction_kept", "val_loss", "val_accuracy",
          "test_loss", "test_accuracy")  # the history columns in the logs
LAYER_KEY = "fraction_kept/{}"  # a masked layer's kept fraction, logged as epoch_fraction_kept/<layer>
INSTALL = "pip install 'supermask-lib[tensorboard]' (or pip install tensorboard)"


def _installed(name):
    return importlib.util.find_spec(name) is not None


def _keras_writes():
    """Whether Keras's callback writes (the TensorFlow backend) or the ``tensorboard`` package does (JAX, torch)."""
    return keras.backend.backend() == "tensorflow"


def check_available(config):
    """Before any work: ``tensorboard=True`` needs the ``tensorboard`` package, or a clear error naming the setting."""
    if config.tensorboard and not _installed("tensorboard"):
        raise ModuleNotFoundError(
            f"ExperimentConfig.tensorboard=True writes TensorBoard logs with the tensorboard package, which is not "
            f"installed: {INSTALL}, or set tensorboard=False. Nothing was trained.", name="tensorboard")


def tag(key):
    """``(subfolder, tag)`` of a logged key, as Keras's callback names it (``val_*`` in validation)."""
    return (VALIDATION, f"epoch_{key[4:]}") if key.startswith("val_") else (TRAIN, f"epoch_{key}")


def callbacks(config, run, progress, network):
    """What logs ``progress``'s arm after each commit (none with the setting off): place it after the ArmCheckpoint."""
    if not config.tensorboard:
        return []
    log_dir = run.folder.tensorboard / progress.phase
    return [(KerasEpochLogs if _keras_writes() else EpochLogs)(log_dir, progress, network)]


def epoch_logs(progress, epoch, network):
    """The committed row of ``epoch`` as Keras's logs, with each masked layer's kept fraction; None if not committed."""
    if not progress.history or progress.history[-1]["epoch"] != epoch:
        return None  # placed before the commit, or the commit failed: nothing of the epoch is logged
    row = progress.history[-1]
    logs = {key: row[key] for key in LOGGED if key in row}
    if masked_layers(network):
        table = mask_utilization(network)
        logs.update({LAYER_KEY.format(name): 1.0 - masked
                     for name, masked in zip(table["name"], table["fraction_masked"])})
    return logs


class KerasEpochLogs(keras.callbacks.TensorBoard):
    """Keras's TensorBoard callback, handed each committed epoch's row after the commit and flushed at once.

    It logs the row's learning rate (the one the epoch trained with: Keras reads the optimizer's at the
    epoch's end, after a plateau cut it) and leaves out ``evaluation_*_vs_iterations``, which Keras writes
    when validation ends, before the epoch commits (a kill there would log it twice).
    """

    async_safe = True  # its batch hooks do nothing, so fit keeps dispatching steps asynchronously

    def __init__(self, log_dir, progress, network):
        super().__init__(log_dir=str(log_dir), write_graph=False, update_freq="epoch", profile_batch=0)
        self.progress, self.network = progress, network

    def on_epoch_end(self, epoch, logs=None):
        logs = epoch_logs(self.progress, epoch, self.network)
        if logs is not None:
            super().on_epoch_end(epoch, logs)
            for writer in self._writers.values():
                writer.flush()  # a live view, and the least left to a kill between the commit and the file

    def _collect_learning_rate(self, logs):
        return logs  # the row's rate, already in logs

    def on_test_end(self, logs=None):
        self._pop_writer()

    def on_train_batch_begin(self, batch, logs=None):
        pass

    def on_train_batch_end(self, batch, logs=None):
        pass

    def on_test_batch_begin(self, batch, logs=None):
        pass


class _Writers:
    """The ``tensorboard`` package's writer (no TensorFlow needed), one per subfolder of an arm's logs."""

    def __init__(self, log_dir):
        self.log_dir, self._open = Path(log_dir), {}

    def write(self, logs, step):
        """Every key of ``logs`` at ``step``, named as :func:`tag` says, then flushed."""
        from tensorboard.summary import Writer

        for key, value in logs.items():
            subfolder, name = tag(key)
            if subfolder not in self._open:
                self._open[subfolder] = Writer(str(self.log_dir / subfolder))
            self._open[subfolder].add_scalar(name, float(value), step=int(step))
        for writer in self._open.values():
            writer.flush()

    def close(self):
        for writer in self._open.values():
            writer.close()
        self._open = {}


class EpochLogs(keras.callbacks.Callback):
    """On JAX and torch: the tags :class:`KerasEpochLogs` writes, through the ``tensorboard`` package."""

    async_safe = True

    def __init__(self, log_dir, progress, network):
        super().__init__()
        self.progress, self.network, self.writers = progress, network, _Writers(log_dir)

    def on_epoch_end(self, epoch, logs=None):
        logs = epoch_logs(self.progress, epoch, self.network)
        if logs is not None:
            self.writers.write(logs, epoch)

    def on_train_end(self, logs=None):
        self.writers.close()


def logged(log_dir):
    """How often each ``(subfolder, tag, step)`` occurs over the event files under ``log_dir``."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    counts = Counter()
    for path in sorted(Path(log_dir).glob("*/events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                counts[path.parent.name, value.tag, int(event.step)] += 1
    return counts


def _missing(log_dir, rows):
    """The logs ``rows`` (committed history rows) need beyond what ``log_dir`` holds, by epoch; None where the
    logs hold a step twice or one the history lacks (the arm's logs are then to be written anew)."""
    counts, committed = logged(log_dir), {int(row["epoch"]) for row in rows}
    if any(count > 1 or step not in committed for (_, _, step), count in counts.items()):
        return None
    missing = {}
    for row in rows:
        epoch = int(row["epoch"])
        logs = {key: row[key] for key in LOGGED if key in row and (*tag(key), epoch) not in counts}
        if logs:
            missing[epoch] = logs
    return missing


def continue_logs(config, folder, histories, log):
    """Bring each arm's logs up to its committed history (``{arm: rows}``); the caller holds the run's lock."""
    if not config.tensorboard:
        return
    for arm, rows in histories.items():
        log_dir = folder.tensorboard / arm
        missing = _missing(log_dir, rows)
        if missing is None:
            log(f"[{arm}] TensorBoard logs hold epochs the run never committed (or some twice): written anew "
                "from its history")
            shutil.rmtree(log_dir)
            missing = _missing(log_dir, rows)
        if missing:
            writers = _Writers(log_dir)
            for epoch, logs in missing.items():
                writers.write(logs, epoch)
            writers.close()
            log(f"[{arm}] TensorBoard: {len(missing)} committed epoch{'s' if len(missing) > 1 else ''} "
                f"written from the history into {log_dir}")


def log_finished(config, folder, result, log):
    """A finished run reused with the setting on: its logs completed from its histories, where it can be written."""
    if not config.tensorboard:
        return
    histories = {arm: frame.to_dict("records") for arm, frame in result.histories.items()}
    if all(_missing(folder.tensorboard / arm, rows) == {} for arm, rows in histories.items()):
        return
    try:
        with storage.exclusive(folder):
            continue_logs(config, folder, histories, log)
    except (OSError, storage.RunLockedError) as error:
        if not isinstance(error, (PermissionError, storage.RunLockedError)) and error.errno != errno.EROFS:
            raise  # only a folder that cannot be written (read-only, or another writer's) is no error
        log(f"{folder.path}: a finished run without TensorBoard logs of every epoch, and they cannot be written "
            f"there ({error}); copy the run elsewhere to log it")
