"""How a run computes: optimizer and compile, seeds, precision, and the multi-GPU engine.

Everything here depends on the backend (TensorFlow, JAX); the orchestration
in :mod:`supermask_lib.experiment` does not.
"""

import contextlib

import keras


def check_engine(config):
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


def make_optimizer(config, learning_rate):
    if config.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate)
    return keras.optimizers.SGD(learning_rate, momentum=0.9)


def compile_model(model, config, learning_rate):
    """The study's loss and metric, a fresh optimizer at ``learning_rate``."""
    model.compile(
        optimizer=make_optimizer(config, learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=config.jit_compile,
    )
    return model


def set_determinism(config):
    """Seed Python, NumPy and the backend; on TensorFlow, deterministic ops if asked."""
    keras.utils.set_random_seed(config.seed)
    if config.deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


@contextlib.contextmanager
def precision(config):
    """The config's dtype policy for the duration of the run, then the previous one."""
    previous = keras.config.dtype_policy()
    if config.mixed_precision:
        keras.config.set_dtype_policy(f"mixed_{config.mixed_precision}")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@contextlib.contextmanager
def distribution(config):
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
