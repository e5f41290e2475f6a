"""What trains: one optimizer step changes exactly the intended variables."""

import keras
import numpy as np
import pytest

import supermask_lib as sm


def _small_model():
    inputs = keras.Input((6, 6, 2))
    # Non-zero biases: with Keras's zero bias init the straight-through
    # gradient of a bias score (∂L/∂b_eff · b · σ') is exactly zero.
    x = sm.MaskedConv2D(4, 3, padding="same", name="conv", bias_initializer="random_normal")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = sm.MaskedDense(3, name="dense", bias_initializer="random_normal")(x)
    return keras.Model(inputs, outputs)


def _snapshot(model):
    return {v.path: keras.ops.convert_to_numpy(v).copy() for v in model.weights}


def _changed(before, after):
    return {path for path in before if not np.array_equal(before[path], after[path])}


def _one_step(model, rng):
    x = rng.normal(size=(16, 6, 6, 2)).astype("float32")
    y = rng.integers(0, 3, 16)
    before = _snapshot(model)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    return _changed(before, _snapshot(model))


SCORES = {"conv/kernel_scores", "conv/bias_scores", "dense/kernel_scores", "dense/bias_scores"}
WEIGHTS = {"conv/kernel", "conv/bias", "dense/kernel", "dense/bias"}
BN_AFFINE = {"bn/gamma", "bn/beta"}
BN_STATS = {"bn/moving_mean", "bn/moving_variance"}


def _compiled(model):
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


@pytest.mark.parametrize("which,train_bn,expected", [
    ("scores", True, SCORES | BN_AFFINE | BN_STATS),
    ("scores", False, SCORES | BN_STATS),
    ("weights", True, WEIGHTS | BN_AFFINE | BN_STATS),
    ("weights", False, WEIGHTS | BN_AFFINE | BN_STATS),  # the flag only matters when scores train
    ("all", True, SCORES | WEIGHTS | BN_AFFINE | BN_STATS),
])
def test_one_step_updates_exactly_the_chosen_variables(which, train_bn, expected, rng):
    model = _compiled(_small_model())
    sm.set_trainable(model, which, train_batchnorm=train_bn)
    assert _one_step(model, rng) == expected
    assert sm.trainable_set_of(model) == which


def test_switching_on_a_trained_compiled_model_recompiles(rng):
    model = _compiled(_small_model())
    sm.set_trainable(model, "scores")
    assert _one_step(model, rng) == SCORES | BN_AFFINE | BN_STATS
    # No explicit compile here: set_trainable must rebuild the train step.
    sm.set_trainable(model, "weights")
    assert _one_step(model, rng) == WEIGHTS | BN_AFFINE | BN_STATS
    sm.set_trainable(model, "scores", train_batchnorm=False)
    assert _one_step(model, rng) == SCORES | BN_STATS


def test_training_scores_keeps_the_mask_binary_but_changes_it(rng):
    model = _compiled(_small_model())
    model.optimizer.learning_rate.assign(1.0)
    sm.set_trainable(model, "scores")
    before = [keras.ops.convert_to_numpy(v).copy() for layer in sm.masked_layers(model) for v in layer.weight_variables]
    for _ in range(5):
        _one_step(model, rng)
    switched_off = 0
    for layer in sm.masked_layers(model):
        kernel = keras.ops.convert_to_numpy(layer.kernel)
        effective = keras.ops.convert_to_numpy(layer.effective_kernel(training=True))
        mask = keras.ops.convert_to_numpy(layer.compute_mask_of(layer.kernel_scores, training=True))
        assert set(np.unique(mask)) <= {0.0, 1.0}           # exactly binary, not merely close
        np.testing.assert_array_equal(effective, kernel * mask)  # the weights are only switched on or off
        switched_off += int((mask == 0).sum())
    assert switched_off > 0                                   # and some were switched off
    after = [keras.ops.convert_to_numpy(v) for layer in sm.masked_layers(model) for v in layer.weight_variables]
    for x, y in zip(before, after):
        np.testing.assert_array_equal(x, y)                   # the weights themselves never moved


def test_zero_biases_give_bias_scores_no_gradient(rng):
    """Why the study's bias masks never move: its biases start at zero."""
    inputs = keras.Input((4,))
    outputs = sm.MaskedDense(3, name="dense")(inputs)  # Keras default: zero bias
    model = _compiled(keras.Model(inputs, outputs))
    sm.set_trainable(model, "scores")
    before = _snapshot(model)
    model.fit(rng.normal(size=(8, 4)), rng.integers(0, 3, 8), verbose=0)
    assert _changed(before, _snapshot(model)) == {"dense/kernel_scores"}


def test_bad_arguments():
    model = _small_model()
    with pytest.raises(ValueError, match=r"which='mask' is not allowed: one of \['scores', 'weights', 'all'\]"):
        sm.set_trainable(model, "mask")
    with pytest.raises(ValueError, match=r"train_batchnorm='yes'"):
        sm.set_trainable(model, "scores", train_batchnorm="yes")
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no masked layers"):
        sm.set_trainable(plain, "scores")
