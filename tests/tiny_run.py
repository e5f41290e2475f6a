"""A tiny experiment in its own process, for the tests that kill or race processes.

    python tests/tiny_run.py OUT_DIR DATA_DIR [--hold-after-epoch FILE]

``--hold-after-epoch FILE`` writes ``FILE.started`` after the first epoch and
then waits until ``FILE`` exists, so a test can act while this process holds
the run's lock.
"""

import argparse
import sys
import time
from pathlib import Path

import keras

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from supermask_lib.experiment.config import ExperimentConfig  # noqa: E402
from supermask_lib.experiment.runner import run_experiment  # noqa: E402

CONFIG = dict(dataset="mnist", model="fc", epochs=3, mix_epochs=2, batch_size=50, train_size=300,
              val_size=100, test_size=200, learning_rate=0.01, augment_rotation=10.0)


class Hold(keras.callbacks.Callback):
    def __init__(self, release):
        super().__init__()
        self.release = Path(release)

    def on_epoch_end(self, epoch, logs=None):
        Path(f"{self.release}.started").touch()
        while not self.release.exists():
            time.sleep(0.05)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("data_dir")
    parser.add_argument("--hold-after-epoch")
    args = parser.parse_args()
    callbacks = [Hold(args.hold_after_epoch)] if args.hold_after_epoch else []
    config = ExperimentConfig(**CONFIG, data_dir=args.data_dir)
    result = run_experiment(config, args.out_dir, callbacks=callbacks)
    print(f"RUN_DIR {result.run_dir}")


if __name__ == "__main__":
    main()
