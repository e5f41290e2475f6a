"""What the backend computes on: the accelerators it sees (the estimators and the engine ask)."""

import keras


def accelerators():
    """Names of the accelerators the backend sees (empty on a CPU-only machine)."""
    backend = keras.backend.backend()
    devices = []
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            devices = [
                tf.config.experimental.get_device_details(d).get("device_name", d.name)
                for d in tf.config.list_physical_devices("GPU")
            ]
        elif backend == "jax":
            import jax

            devices = [d.device_kind for d in jax.devices() if d.platform != "cpu"]
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                devices = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # a description must never stop a run
        devices = []
    return devices
