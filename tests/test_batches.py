"""Training batches: each epoch's order, crop and augmentation from (seed, epoch, batch), compiled and prefetched."""

import keras
import numpy as np
import pytest

from supermask_lib.experiment import batches as batches_lib
from supermask_lib.experiment.batches import EpochBatches, make_augmentation, random_crop
from supermask_lib.experiment.callbacks import SetEpoch


def test_augmentation_switches_and_epoch_batches_are_reproducible(rng):
    assert make_augmentation(flip=False, rotation=0, shift=0) is None
    assert [type(l).__name__ for l in make_augmentation(rotation=0).layers] == ["RandomFlip", "RandomTranslation"]
    x = rng.uniform(-1, 1, (50, 12, 12, 1)).astype("float32")
    y = np.arange(50)
    batches = EpochBatches(x, y, 16, seed=5, augmentation=make_augmentation())
    assert len(batches) == 4
    first, labels = batches[1]
    assert first.shape == (16, 12, 12, 1)
    np.testing.assert_array_equal(batches[1][0], first)  # same (epoch, batch): same draw
    assert not np.array_equal(first, x[labels])           # but augmented
    batches.epoch = 1
    assert not np.array_equal(batches[1][1], labels)      # another epoch: another order
    plain = EpochBatches(x, y, 16, seed=5)
    xb, yb = plain[3]
    np.testing.assert_array_equal(xb, x[yb])              # no augmentation: untouched images
    assert sorted(np.concatenate([plain[i][1] for i in range(4)])) == list(range(50))


def _eager_augmentation(augmentation, images, seed_states):
    """The augmentation as the library ran it before compiling it: assign the seed states, call the layers."""
    for variable, state in zip(augmentation.non_trainable_variables, seed_states):
        variable.assign(state)
    return keras.ops.convert_to_numpy(augmentation(images, training=True))


def test_the_compiled_augmentation_draws_what_the_eager_layers_draw(rng):
    """TensorFlow's compiled graph gives the very numbers of the eager layers (stored runs depend on it);
    JAX's fused jit rounds the interpolation differently, by ~1e-5 on pixels in [-1, 1]."""
    x = rng.uniform(-1, 1, (64, 12, 12, 3)).astype("float32")
    batches = EpochBatches(x, np.arange(64), 16, seed=7, augmentation=make_augmentation())
    for epoch, index in ((0, 0), (0, 3), (5, 1)):
        batches.epoch = epoch
        images, labels = batches[index]
        expected = _eager_augmentation(batches.augmentation, x[labels], batches.seed_states(epoch, index))
        if keras.backend.backend() == "tensorflow":
            np.testing.assert_array_equal(images, expected)
        else:
            np.testing.assert_allclose(images, expected, atol=1e-4)
        assert not np.array_equal(images, x[labels])


def _trained_weights(workers, x, y):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(x.shape[1:]), keras.layers.Flatten(), keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.SGD(0.1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    batches = EpochBatches(x, y, 8, seed=3, augmentation=make_augmentation(), workers=workers)
    model.fit(batches, epochs=3, shuffle=False, callbacks=[SetEpoch(batches)], verbose=0)
    return model.get_weights()


@pytest.mark.parametrize("workers", [None, 2])
def test_prefetch_threads_train_on_exactly_the_batches_of_one_worker(rng, workers):
    """Batches prepared ahead by threads carry their own epoch's order and draw, in order."""
    if workers == 2 and keras.backend.backend() != "tensorflow":
        pytest.skip("Keras's enqueuer serves an epoch's first batch last on this backend (prefetch_workers)")
    x = rng.uniform(-1, 1, (40, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, 40)
    for one, ahead in zip(_trained_weights(1, x, y), _trained_weights(workers, x, y)):
        np.testing.assert_array_equal(one, ahead)


def test_two_prefetch_threads_on_tensorflow_one_elsewhere(monkeypatch):
    expected = 2 if keras.backend.backend() == "tensorflow" else 1
    assert batches_lib.prefetch_workers() == expected
    monkeypatch.setattr(batches_lib, "PREFETCH_WORKERS", 3)
    assert EpochBatches(np.zeros((4, 2, 2, 1), "float32"), np.arange(4), 2, seed=0).workers == 3


def test_prefetch_workers_must_be_a_positive_count(rng):
    x = rng.uniform(-1, 1, (10, 4, 4, 1)).astype("float32")
    with pytest.raises(ValueError, match=r"workers.*0.*an integer in \[1, 64\]"):
        EpochBatches(x, np.arange(10), 4, seed=0, workers=0)


def _stored_rule(seed, epoch, index, k):
    """The seed state every stored run drew its augmentation from (before seeds of any size)."""
    return np.array([seed * 100_003 + epoch, index * 97 + k], dtype="uint32")


@pytest.mark.parametrize("seed,epoch,index", [(4004, 29, 70), (0, 0, 0), (42_002, 99, 3), (42_948, 0, 400)])
def test_seed_states_are_the_stored_runs_wherever_the_old_rule_fits(seed, epoch, index):
    for k in range(3):
        np.testing.assert_array_equal(batches_lib.augmentation_seed_state(seed, epoch, index, k),
                                      _stored_rule(seed, epoch, index, k))


def _epoch_batch(seed, epoch=3, index=1):
    x = np.linspace(-1, 1, 24 * 10 * 10).astype("float32").reshape(24, 10, 10, 1)
    batches = EpochBatches(x, np.arange(24), 8, seed=seed, augmentation=make_augmentation(), crop=2)
    batches.epoch = epoch
    return batches[index]


@pytest.mark.parametrize("config_seed", [0, 43, 2**32 - 1])
def test_every_config_seed_draws_augmented_cropped_batches(config_seed):
    """The experiment's seed is config.seed * 1000 + the arm's order: beyond 2**32 for the largest seeds."""
    for order in (0, 2):
        seed = config_seed * 1000 + order
        images, labels = _epoch_batch(seed)
        assert images.shape == (8, 10, 10, 1) and np.isfinite(images).all()
        again_images, again_labels = _epoch_batch(seed)  # a fresh EpochBatches: the same draw
        np.testing.assert_array_equal(images, again_images)
        np.testing.assert_array_equal(labels, again_labels)
        states = EpochBatches(np.zeros((4, 2, 2, 1), "float32"), np.arange(4), 2, seed=seed,
                              augmentation=make_augmentation()).seed_states(3, 1)
        assert all(state.dtype == np.uint32 and state.shape == (2,) for state in states)


def test_other_seeds_draw_other_batches():
    seeds = [config_seed * 1000 + order for config_seed in (0, 43, 2**29, 2**32 - 1) for order in (0, 2)]
    draws = [_epoch_batch(seed)[0].tobytes() for seed in seeds]
    assert len(set(draws)) == len(seeds)
    states = [batches_lib.augmentation_seed_state(seed, 3, 1, 0).tobytes() for seed in seeds]
    assert len(set(states)) == len(seeds)  # the augmentation itself differs, not only the order


def test_epoch_batches_refuse_a_negative_seed():
    with pytest.raises(ValueError, match=r"seed=-1 is not allowed: an integer >= 0"):
        EpochBatches(np.zeros((4, 2, 2, 1), "float32"), np.arange(4), 2, seed=-1)


def test_random_crop_takes_a_window_of_the_padded_image(rng):
    x = rng.normal(size=(5, 6, 7, 2)).astype("float32")
    out = random_crop(x, 2, np.random.default_rng(1))
    assert out.shape == x.shape
    padded = np.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)], constant_values=-1.0)
    for image, source in zip(out, padded):
        windows = [(i, j) for i in range(5) for j in range(5) if np.array_equal(source[i:i + 6, j:j + 7], image)]
        assert windows, "each crop is one window of its padded image"
    np.testing.assert_array_equal(out, random_crop(x, 2, np.random.default_rng(1)))


def test_crop_depends_only_on_seed_epoch_and_batch(rng):
    x = rng.normal(size=(40, 8, 8, 1)).astype("float32")
    y = np.arange(40) % 10
    batches = EpochBatches(x, y, 10, seed=4, crop=3)
    batches.epoch = 2
    later = batches[3][0]
    fresh = EpochBatches(x, y, 10, seed=4, crop=3)
    fresh.epoch = 2
    np.testing.assert_array_equal(fresh[3][0], later)
    fresh.epoch = 1
    assert not np.array_equal(fresh[3][0], later)


def _step_trained(x, y, epochs, in_step, initial_epoch=0, weights=None):
    """A small conv network fitted with the study's augmentation on the host or in the step:
    its initial and final weights and its losses."""
    keras.utils.set_random_seed(0)
    network = keras.Sequential([keras.Input(x.shape[1:]), keras.layers.Conv2D(4, 3), keras.layers.Flatten(),
                                keras.layers.Dense(3)])
    initial = network.get_weights()
    if weights is not None:
        network.set_weights(weights)
    network.compile(optimizer=keras.optimizers.SGD(0.05),  # stateless: a resumed run needs only the weights
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    augmentation = make_augmentation()
    batches = EpochBatches(x, y, 8, seed=3, augmentation=None if in_step else augmentation)
    trainer, step = network, None
    if in_step:
        trainer = batches_lib.augmenting_trainer(network, augmentation, steps=len(batches), seed=batches.seed)
        step = trainer.augmentation
    history = trainer.fit(batches, epochs=epochs, initial_epoch=initial_epoch, shuffle=False, verbose=0,
                          callbacks=[SetEpoch(batches, step)])
    return initial, network.get_weights(), history.history["loss"]


def test_the_step_augmentation_draws_the_host_augmentations_batches(rng):
    """The same seed states give the same images: exactly on TensorFlow, to rounding on JAX (fused in the step)."""
    x = rng.uniform(-1, 1, (40, 12, 12, 3)).astype("float32")
    host = EpochBatches(x, np.arange(40), 16, seed=11, augmentation=make_augmentation())
    step = batches_lib.StepAugmentation(make_augmentation(), steps=len(host), seed=11)
    step.build((None, 12, 12, 3))
    for epoch in (0, 4):
        host.epoch = epoch
        step.start_epoch(epoch)
        for index in range(len(host)):
            images, labels = host[index]
            drawn = keras.ops.convert_to_numpy(step(x[labels], training=True))
            np.testing.assert_allclose(drawn, images, atol=1e-5)
            assert not np.array_equal(drawn, x[labels])
        assert int(keras.ops.convert_to_numpy(step.batch)) == len(host)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(step(x[:4], training=False)), x[:4])  # inference: as is


def test_training_with_the_step_augmentation_is_training_with_the_host_one(rng):
    """Three epochs of a small conv network: the same losses and weights with the augmentation on the host or in
    the step (to rounding), and a run resumed after its second epoch ends where the uninterrupted one does."""
    x = rng.uniform(-1, 1, (24, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 3, 24)
    initial, host_weights, host_losses = _step_trained(x, y, 3, in_step=False)
    _, step_weights, step_losses = _step_trained(x, y, 3, in_step=True)
    assert not np.allclose(initial[0], step_weights[0])  # it trained
    np.testing.assert_allclose(step_losses, host_losses, rtol=1e-4)
    for mine, theirs in zip(step_weights, host_weights):
        np.testing.assert_allclose(mine, theirs, atol=1e-4)
    _, halfway, _ = _step_trained(x, y, 2, in_step=True)
    _, resumed, resumed_losses = _step_trained(x, y, 3, in_step=True, initial_epoch=2, weights=halfway)
    np.testing.assert_allclose(resumed_losses, step_losses[2:], rtol=1e-6)
    for mine, theirs in zip(resumed, step_weights):
        np.testing.assert_allclose(mine, theirs, atol=1e-6)
