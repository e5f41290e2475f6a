"""A tiny run on two virtual CPU devices, in its own process (devices are fixed at start-up).

    python tests/multi_device_run.py OUT_DIR DATA_DIR [distribute]

On JAX the caller sets XLA_FLAGS=--xla_force_host_platform_device_count=2;
on TensorFlow this script splits the CPU into two logical devices.
"""

import sys
from pathlib import Path

import keras

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from supermask_lib.experiment.config import ExperimentConfig  # noqa: E402
from supermask_lib.experiment.runner import run_experiment  # noqa: E402

CONFIG = dict(dataset="mnist", model="wrn-10-1", bn_momentum=0.9, epochs=1, mix_epochs=1, batch_size=64,
              train_size=256, val_size=128, test_size=128)


def main():
    out_dir, data_dir = sys.argv[1:3]
    distribute = sys.argv[3] if len(sys.argv) > 3 else None
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        (cpu,) = tf.config.list_physical_devices("CPU")
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    result = run_experiment(ExperimentConfig(**CONFIG, data_dir=data_dir, distribute=distribute), out_dir)
    print(f"RUN_DIR {result.run_dir}")


if __name__ == "__main__":
    main()
