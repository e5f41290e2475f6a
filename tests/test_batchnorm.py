"""BatchNorm's statistics recomputed: against the batch statistics computed by hand, nothing else changed."""

import keras
import numpy as np
import pytest

from supermask_lib.batchnorm import batchnorm_layers, recompute_statistics
from supermask_lib.layers import MaskedDense


def _net(trainable_bn=True):
    inputs = keras.Input((3,))
    hidden = MaskedDense(4, use_bias=False, kernel_initializer=keras.initializers.RandomNormal(seed=1))(inputs)
    norm = keras.layers.BatchNormalization(momentum=0.9)
    norm.trainable = trainable_bn
    return keras.Model(inputs, keras.layers.Dense(2)(norm(hidden)))


@pytest.mark.parametrize("trainable_bn", [True, False])
def test_the_statistics_are_the_average_of_each_batchs_and_nothing_else_moves(trainable_bn):
    model = _net(trainable_bn)
    images = np.random.default_rng(0).normal(size=(10, 3)).astype("float32")
    masked = model.layers[1]
    hidden = keras.ops.convert_to_numpy(masked(images))  # the masked layer's output: what BatchNorm sees
    batches = [hidden[0:4], hidden[4:8], hidden[8:10]]  # batch_size 4: the last batch holds two images
    mean = np.mean([batch.mean(axis=0) for batch in batches], axis=0)
    variance = np.mean([batch.var(axis=0) for batch in batches], axis=0)  # biased, as Keras's moments
    before = [keras.ops.convert_to_numpy(w).copy() for w in model.trainable_weights + masked.non_trainable_weights]
    recompute_statistics(model, images, batch_size=4)
    (norm,) = batchnorm_layers(model)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(norm.moving_mean), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(norm.moving_variance), variance, rtol=1e-5, atol=1e-6)
    after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights + masked.non_trainable_weights]
    for old, new in zip(before, after):
        np.testing.assert_array_equal(old, new)  # weights, scores, γ and β as they were
    assert (norm.momentum, norm.trainable) == (0.9, trainable_bn)


def test_bad_input_is_refused_before_any_work():
    model = _net()
    with pytest.raises(ValueError, match=r"batch_size=0 is not allowed: give a positive number"):
        recompute_statistics(model, np.zeros((2, 3), "float32"), batch_size=0)
    with pytest.raises(ValueError, match="images has no image"):
        recompute_statistics(model, np.zeros((0, 3), "float32"))
