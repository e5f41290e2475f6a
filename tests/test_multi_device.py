"""End-to-end suite: the multi-device engines on two virtual CPU devices, each in a process of its own.

Devices are fixed when a backend starts, so every run here is a subprocess
(``tests/multi_device_run.py``). Each test runs in the pass of its backend.
"""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.experiment.results import load_run

ROOT = Path(__file__).resolve().parents[1]
HISTORY = ["loss", "accuracy", "val_loss", "val_accuracy"]


def _run(out_dir, data_dir, distribute=None, xla_devices=None):
    env = {**os.environ, "KERAS_BACKEND": keras.backend.backend()}
    if xla_devices:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={xla_devices}"
    args = [sys.executable, str(ROOT / "tests" / "multi_device_run.py"), str(out_dir), str(data_dir)]
    done = subprocess.run(args + ([distribute] if distribute else []), env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run_dir = next(line.split(" ", 1)[1] for line in done.stdout.splitlines() if line.startswith("RUN_DIR "))
    return load_run(run_dir), done.stdout


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "jax", reason="DataParallel runs on JAX")
def test_data_parallel_on_two_devices_matches_one_device(data_dir, tmp_path):
    two, log = _run(tmp_path / "two", data_dir, "data_parallel", xla_devices=2)
    assert "data_parallel over 2 devices" in log
    one, _ = _run(tmp_path / "one", data_dir)
    # The same global batches on one or two devices: only the order of the
    # sharded sums differs (float32 rounding), and one epoch keeps it small.
    for phase in ("mask", "weights", "mix"):
        a, b = one.histories[phase][HISTORY], two.histories[phase][HISTORY]
        np.testing.assert_allclose(a[["loss", "val_loss"]], b[["loss", "val_loss"]], rtol=1e-3)
        np.testing.assert_allclose(a[["accuracy", "val_accuracy"]], b[["accuracy", "val_accuracy"]],
                                   atol=1 / 128 + 1e-9)  # at most one image of 128 flips


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="MirroredStrategy is TensorFlow's")
def test_mirrored_on_two_logical_cpus(data_dir, tmp_path):
    result, log = _run(tmp_path, data_dir, "mirrored")
    assert "mirrored over 2 devices" in log and "CPU:1" in log
    assert [len(result.histories[p]) for p in ("mask", "weights", "mix")] == [1, 1, 1]
    for phase in ("mask", "weights", "mix"):
        assert np.isfinite(result.histories[phase][HISTORY].to_numpy()).all()
    assert result.config.distribute == "mirrored"


def test_data_parallel_needs_compiled_steps():
    with pytest.raises(ValueError, match=r"jit_compile=False is not allowed.*data_parallel"):
        ExperimentConfig(distribute="data_parallel", jit_compile=False)
