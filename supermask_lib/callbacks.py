"""Keras callbacks of the experiment's training loop (one ``fit`` per phase, extended by these)."""

import time

import keras

from supermask_lib.layers import masked_layers
from supermask_lib.statistics import fraction_kept


class ResumableReduceLROnPlateau(keras.callbacks.ReduceLROnPlateau):
    """ReduceLROnPlateau whose counters can be read and restored, so they survive a restart."""

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


class EpochRecord(keras.callbacks.Callback):
    """Measures each epoch's history row and hands it to ``on_record(epoch, row)``.

    The row holds Keras's logs, the learning rate the epoch *trained* with
    (a plateau callback may lower it at the epoch's end), the fraction of
    weights the mask keeps and the epoch's wall time. Place it after the
    plateau callback, so that ``on_record`` sees the plateau's updated state.
    """

    def __init__(self, on_record):
        super().__init__()
        self.on_record = on_record

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()
        self._learning_rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.on_record(epoch, {
            "epoch": epoch,
            "loss": float(logs["loss"]),
            "accuracy": float(logs["accuracy"]),
            "val_loss": float(logs["val_loss"]),
            "val_accuracy": float(logs["val_accuracy"]),
            "learning_rate": self._learning_rate,
            "fraction_kept": float(fraction_kept(self.model)) if masked_layers(self.model) else 1.0,
            "seconds": time.perf_counter() - self._started,
        })
