"""Training batches: each epoch's order and augmentation drawn from (seed, epoch, batch) alone.

:class:`EpochBatches` hands the training loop its batches: a seeded
permutation per epoch and pad-and-crop, in NumPy. The post's flips, rotations
and shifts are Keras preprocessing layers called statelessly with seeds
derived from (seed, epoch, batch): inside the compiled training step
(:class:`StepAugmentation`, through :class:`AugmentingTrainer`), so that the
host hands over raw batches and an accelerator is not kept waiting; or, as the
reference they are checked against, on the host (``EpochBatches(augmentation=...)``).
A resumed run therefore sees the batches an uninterrupted one would have seen,
and arms compared within a seed see the same ones.
"""

import keras
import numpy as np

from supermask_lib import checks
from supermask_lib.experiment.engine import METRICS

# Threads preparing training batches ahead of the step; None: prefetch_workers() decides.
PREFETCH_WORKERS = None

def make_augmentation(flip=True, rotation=20.0, shift=0.2, seed=None):
    """The study's augmentation as Keras preprocessing layers, each switchable.

    Args:
        flip: random horizontal flips.
        rotation: maximum rotation in degrees (0 switches it off).
        shift: maximum shift as a fraction of height and width (0 switches it off).
    Returns a ``keras.Sequential`` or None when everything is off.
    """
    steps = []
    if flip:
        steps.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if rotation:
        steps.append(keras.layers.RandomRotation(rotation / 360.0, fill_mode="nearest", seed=seed))
    if shift:
        steps.append(keras.layers.RandomTranslation(shift, shift, fill_mode="nearest", seed=seed))
    return keras.Sequential(steps, name="augmentation") if steps else None


def random_crop(x, padding, rng, fill=-1.0):
    """Pad each image by ``padding`` pixels of ``fill`` (black: the low end of the pixel range), then crop it back at random.

    The usual CIFAR augmentation (edge-popup's ``RandomCrop(32, padding=4)``),
    in NumPy: cheap enough not to hold up an accelerator.
    """
    n, height, width = x.shape[:3]
    padded = np.pad(x, [(0, 0), (padding, padding), (padding, padding)] + [(0, 0)] * (x.ndim - 3),
                    constant_values=fill)
    top, left = rng.integers(0, 2 * padding + 1, size=(2, n))
    rows = top[:, None] + np.arange(height)[None, :]
    cols = left[:, None] + np.arange(width)[None, :]
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def prefetch_workers():
    """Threads that prepare training batches ahead of the step (``PREFETCH_WORKERS`` overrides).

    Two on TensorFlow, through Keras's own enqueuer: with one, Keras hands the
    batches to ``tf.data``'s autotuned prefetch instead, which on a 2-core CPU
    sits idle for about 4 s at every other epoch boundary of the quick profile
    (``benchmarks/bench_quick_profile.py``). One elsewhere: JAX's trainer
    prefetches on its own, and Keras's enqueuer there (Keras 3.15) serves an
    epoch's first batch last, after the trainer has peeked at it.
    """
    if PREFETCH_WORKERS is not None:
        return PREFETCH_WORKERS
    return 2 if keras.backend.backend() == "tensorflow" else 1


def compiled_augmentation(augmentation):
    """``augment(images, seed_states)``: a built augmentation as a pure function, compiled.

    Pure (``stateless_call``), so the prefetch threads share it without a
    lock; compiled, so a batch costs one call instead of a few dozen eager
    ops: ``tf.function`` on TensorFlow (the same numbers as the eager layers,
    at 0.4 of their time on a 2-core CPU), ``jax.jit`` on JAX (whose fused
    arithmetic rounds the interpolation differently from eager JAX, by up to
    1e-5), eager elsewhere.
    """
    def augment(images, seed_states):
        return augmentation.stateless_call([], seed_states, images, training=True)[0]

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(augment, reduce_retracing=True)
    if backend == "jax":
        import jax

        return jax.jit(augment)
    return augment


def steps_per_epoch(train_images, batch_size, max_steps=None):
    """Training steps in an epoch: every image once (the last batch may be short), capped at ``max_steps``."""
    steps = -(-int(train_images) // int(batch_size))
    return steps if max_steps is None else min(steps, int(max_steps))


class EpochBatches(keras.utils.PyDataset):
    """Training batches whose order and augmentation depend only on (seed, epoch, batch).

    A resumed run therefore sees exactly the batches an uninterrupted run
    would have seen. ``epoch`` is set by :class:`~supermask_lib.experiment.callbacks.SetEpoch` at each epoch start.

    ``workers`` threads (default :func:`prefetch_workers`) prepare them
    ahead of the training step; the batches are the same whatever their number.
    """

    def __init__(self, x, y, batch_size, seed, augmentation=None, max_batches=None, crop=0, crop_fill=-1.0,
                 workers=None):
        workers = prefetch_workers() if workers is None else workers
        super().__init__(workers=checks.integer("workers", workers, 1, 64), use_multiprocessing=False)
        self.crop = int(crop)  # pad-and-crop pixels, done in NumPy before ``augmentation``
        self.crop_fill = float(crop_fill)
        self.x, self.y = x, y
        self.batch_size = int(batch_size)
        self.max_batches = max_batches  # smoke tests: the first batches of each epoch only
        self.seed = checks.integer("seed", seed, 0)  # any size: config.seed * 1000 + the arm's order
        self.augmentation = augmentation
        self.epoch = 0
        if augmentation is not None:
            augmentation.build((None,) + x.shape[1:])
            self._augment = compiled_augmentation(augmentation)

    def __len__(self):
        return steps_per_epoch(len(self.y), self.batch_size, self.max_batches)

    def __getitem__(self, index):
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.y))
        batch = order[index * self.batch_size:(index + 1) * self.batch_size]
        x = self.x[batch]
        if self.crop:
            x = random_crop(x, self.crop, np.random.default_rng([self.seed, self.epoch, index]), self.crop_fill)
        if self.augmentation is not None:
            x = keras.ops.convert_to_numpy(self._augment(x, self.seed_states(self.epoch, index)))
        return x, self.y[batch]

    def seed_states(self, epoch, index):
        """The augmentation's seed generators' states for batch ``index`` of ``epoch``.

        They are the augmentation's only state: drawn from (seed, epoch,
        batch), the draw does not depend on history.
        """
        return [augmentation_seed_state(self.seed, epoch, index, k)
                for k in range(len(self.augmentation.non_trainable_variables))]


UINT32_LIMIT = 2**32


def augmentation_seed_state(seed, epoch, index, k):
    """One seed generator's state (two uint32 words) for batch ``index`` of ``epoch``.

    The words are ``(seed * 100_003 + epoch, index * 97 + k)`` wherever both
    fit in 32 bits (EpochBatches seeds up to 42,948: config seeds 0..42);
    the stored runs drew their augmentation from them. Beyond, they come
    from ``SeedSequence([seed, epoch, index, k])``, which takes integers of
    any size; wrapping the product modulo 2**32 instead would give config
    seeds 2**29 apart the same draws.
    """
    words = (seed * 100_003 + epoch, index * 97 + k)
    if max(words) >= UINT32_LIMIT:
        words = np.random.SeedSequence([seed, epoch, index, k]).generate_state(2, dtype=np.uint32)
    return np.array(words, dtype="uint32")


def epoch_seed_states(seed, epoch, steps, generators):
    """Every batch's seed states for one epoch, ``(steps, generators, 2)`` uint32 (:func:`augmentation_seed_state`)."""
    return np.array([[augmentation_seed_state(seed, epoch, index, k) for k in range(generators)]
                     for index in range(steps)], dtype="uint32").reshape(steps, generators, 2)


class StepAugmentation(keras.layers.Layer):
    """The study's augmentation as the first operation of the compiled training step; the identity otherwise.

    It draws what the host path draws: the host writes an epoch's seed
    states into ``seed_table`` at the epoch's start (:meth:`start_epoch`),
    and a counter in the step picks the batch's row and moves on. So a
    resumed run, which restarts at an epoch's start, sees the same batches.
    Computed in float32 whatever the dtype policy, as the host path is.
    """

    def __init__(self, augmentation, steps, seed, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.augmentation = augmentation  # make_augmentation's layers
        if keras.backend.backend() == "jax":  # plain jax.numpy there (compiled_augmentation jits them too); Keras
            for layer in augmentation._flatten_layers():  # marks them unfit for XLA for TensorFlow's sake, and
                layer.supports_jit = True  # one such layer would leave the whole training step uncompiled
        self.steps = checks.integer("steps", steps, 1)
        self.seed = checks.integer("seed", seed, 0)

    def build(self, input_shape):
        self.augmentation.build(input_shape)
        generators = len(self.augmentation.non_trainable_variables)
        self.seed_table = self.add_weight(name="seed_table", shape=(self.steps, generators, 2), dtype="uint32",
                                          initializer="zeros", trainable=False)
        self.batch = self.add_weight(name="batch", shape=(), dtype="int32", initializer="zeros", trainable=False)

    def reseed(self, seed):
        """Draw from ``seed`` from the next epoch on: another arm trains the same compiled step."""
        self.seed = checks.integer("seed", seed, 0)

    def start_epoch(self, epoch):
        self.seed_table.assign(epoch_seed_states(self.seed, epoch, *self.seed_table.shape[:2]))
        self.batch.assign(0)

    def call(self, images, training=False):
        if not training:
            return images
        states = keras.ops.take(self.seed_table, self.batch, axis=0)
        images = self.augmentation.stateless_call(
            [], [states[k] for k in range(self.seed_table.shape[1])], images, training=True)[0]
        self.batch.assign(self.batch + 1)
        return images


class AugmentingTrainer(keras.Model):
    """What ``fit`` trains when the step augments: ``network`` after a :class:`StepAugmentation`.

    It holds ``network``'s own variables, so training it trains ``network``;
    compile it with ``network``'s optimizer (:func:`augmenting_trainer`) and
    the two share every state that a checkpoint saves.
    """

    def __init__(self, network, augmentation, **kwargs):
        super().__init__(**kwargs)
        self.network = network  # first: the trainer's trainable variables are the network's, in its order
        self.augmentation = augmentation

    def call(self, images, training=False):
        return self.network(self.augmentation(images, training=training), training=training)


def augments_in_step(jit_compile):
    """Whether the training step can hold the augmentation without losing compilation: always on JAX; on
    TensorFlow where the step is not XLA-compiled (Keras turns XLA off for a step holding its image layers)."""
    return keras.backend.backend() == "jax" or not jit_compile


def augmenting_trainer(network, augmentation, steps, seed):
    """A compiled :class:`AugmentingTrainer` of a compiled ``network``, sharing its optimizer, loss and metric."""
    step = StepAugmentation(augmentation, steps, seed)
    step.build(network.input_shape)  # its seed table exists before the first epoch starts
    trainer = AugmentingTrainer(network, step)
    trainer.compile(optimizer=network.optimizer, loss=network.loss, metrics=list(METRICS),
                    jit_compile=network.jit_compile)
    return trainer
