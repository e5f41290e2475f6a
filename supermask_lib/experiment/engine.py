"""How a run computes: optimizer and compile, seeds, precision, and the multi-GPU engine.

Everything here depends on the backend (TensorFlow, JAX); the orchestration
in :mod:`supermask_lib.experiment.runner` does not.
"""

import contextlib
import os

import keras

from supermask_lib.devices import accelerators

# A rough, optimistic rate of a CPU core on these convolutions (the quick
# profile reaches about this on 2 cores), so the estimate is a lower bound.
CPU_GFLOPS_PER_CORE = 50.0
MAX_CPU_HOURS = 24.0
ALLOW_SLOW_ENV = "SUPERMASK_ALLOW_SLOW_RUN"


class TooSlowForThisMachine(RuntimeError):
    """A configuration that would train for days on a machine without an accelerator."""


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


def training_flops(config, forward_macs, train_images):
    """FLOPs of every arm's training: 2 per multiply-accumulate, x3 for the backward pass."""
    epochs = sum(arm.epoch_count(config) for arm in config.arm_records())
    steps_images = train_images if config.max_steps_per_epoch is None else min(
        train_images, config.max_steps_per_epoch * config.batch_size)
    return 6.0 * forward_macs * steps_images * epochs


def check_cpu_time(config, count_macs, train_images, allow_slow=None):
    """Stop before any work when no accelerator is present and training would take days.

    ``count_macs()`` gives the network's forward multiply-accumulates per
    image (asked only on a CPU-only machine). ``allow_slow`` (default: the
    environment variable SUPERMASK_ALLOW_SLOW_RUN=1) starts it anyway.
    Returns the estimated seconds on this CPU, or None when an accelerator
    is present.
    """
    if accelerators():
        return None
    cores = os.cpu_count() or 1
    forward_macs = count_macs()
    seconds = training_flops(config, forward_macs, train_images) / (CPU_GFLOPS_PER_CORE * 1e9 * cores)
    if allow_slow is None:
        allow_slow = os.environ.get(ALLOW_SLOW_ENV, "") == "1"
    if seconds > MAX_CPU_HOURS * 3600 and not allow_slow:
        raise TooSlowForThisMachine(
            f"model={config.model!r} on {train_images} {config.dataset} images would train for at least "
            f"{seconds / 86400:.1f} days on this machine's {cores} CPU cores and no accelerator "
            f"({forward_macs / 1e9:.2f} GMAC per image, {CPU_GFLOPS_PER_CORE:g} GFLOP/s per core assumed). "
            f"Run it on a GPU (README: 'On a GPU'), use a smaller profile, or set {ALLOW_SLOW_ENV}=1 "
            "(or allow_slow=True) to start it anyway."
        )
    return seconds


def make_optimizer(config, learning_rate, total_steps=None):
    """Adam or SGD with momentum 0.9 at ``learning_rate``; with ``lr_schedule="cosine"``, decayed to 0 over ``total_steps``.

    The schedule counts the optimizer's own iterations, which a resumed run
    restores with the optimizer's variables.
    """
    if config.lr_schedule == "cosine":
        if not total_steps:
            raise ValueError("lr_schedule='cosine' needs the arm's total_steps to decay over.")
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=int(total_steps))
    if config.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate)
    return keras.optimizers.SGD(learning_rate, momentum=0.9)


METRICS = ["accuracy"]  # what every arm's training reports, whichever trainer compiles it


def compile_model(model, config, learning_rate, total_steps=None):
    """The study's loss and metric, a fresh optimizer at ``learning_rate`` (see :func:`make_optimizer`)."""
    model.compile(
        optimizer=make_optimizer(config, learning_rate, total_steps),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=list(METRICS),
        jit_compile=config.jit_compile,
    )
    return model


COMPILATION_CACHE_ENV = "SUPERMASK_JAX_CACHE"


def use_compilation_cache():
    """On JAX, keep compiled programs on disk, unless the user has chosen where (or chosen none).

    Each arm compiles its step anew, and the arms and seeds after the first
    compile the same programs: on the lent H200, a width-4 cell of the width
    axis took 1.6 min with an empty cache and 0.9 min with the first cell's
    entries. The folder is ``$SUPERMASK_JAX_CACHE``, else
    ``~/.cache/supermask/jax``; an empty ``SUPERMASK_JAX_CACHE`` turns it off.
    Returns the folder, or None where nothing was set.
    """
    if keras.backend.backend() != "jax":
        return None
    import jax

    if jax.config.jax_compilation_cache_dir or os.environ.get(COMPILATION_CACHE_ENV) == "":
        return None
    folder = os.environ.get(COMPILATION_CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "supermask", "jax")
    jax.config.update("jax_compilation_cache_dir", folder)
    return folder


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
    """The multi-device engine the config asks for; yields the devices a step runs on.

    ``mirrored``: TensorFlow's MirroredStrategy over the GPUs, or over the
    logical CPU devices where there is no GPU (CI splits the CPU in two).
    ``data_parallel``: Keras's DataParallel over JAX's devices (on a CPU,
    ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` makes N).
    """
    if config.distribute is None:
        yield []
    elif config.distribute == "mirrored":
        import tensorflow as tf

        devices = [d.name for d in tf.config.list_logical_devices("GPU")] or \
            [d.name for d in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(devices=devices)
        with strategy.scope():
            yield list(strategy.extended.worker_devices)
    else:
        previous = keras.distribution.distribution()
        devices = keras.distribution.list_devices()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        try:
            yield devices
        finally:
            keras.distribution.set_distribution(previous)
