"""Signed-constant weights: plus or minus each layer's standard deviation, a fresh draw per layer, saved with the model."""

import keras
import numpy as np
import pytest
from keras import ops

import supermask_lib as sm
from supermask_lib.initializers import SignedConstant
from supermask_lib.models import get_model


@pytest.mark.parametrize("shape, scale, std", [
    ((30, 20), "glorot", np.sqrt(2 / 50)),             # Dense: fan_in 30, fan_out 20
    ((3, 3, 8, 16), "glorot", np.sqrt(2 / (72 + 144))),  # conv: fans times the 3x3 window
    ((3, 3, 8, 16), "kaiming", np.sqrt(2 / 72)),
    ((3, 3, 8, 16), ("kaiming", 0.1), np.sqrt(2 / (72 * 0.1))),  # the fan over the 10% kept
])
def test_signed_constant_is_plus_or_minus_the_layers_std(shape, scale, std):
    scale, density = scale if isinstance(scale, tuple) else (scale, 1.0)
    values = ops.convert_to_numpy(SignedConstant(scale, density=density, seed=3)(shape))
    np.testing.assert_allclose(np.abs(values), std, rtol=1e-6)
    assert 0.35 < (values > 0).mean() < 0.65  # both signs, about half each
    again = ops.convert_to_numpy(SignedConstant.from_config(SignedConstant(scale, density, seed=3).get_config())(shape))
    np.testing.assert_array_equal(values, again)


def test_signed_constant_layers_differ_and_survive_a_save(tmp_path):
    model = get_model("fc", input_shape=(28, 28, 1), weight_init="signed_constant", use_bias=False)
    first, second = (ops.convert_to_numpy(model.get_layer(n).kernel) for n in ("dense_0", "dense_1"))
    assert not np.array_equal(np.sign(first[:100, :100]), np.sign(second[:100, :100]))  # a fresh draw per layer
    assert all(layer.bias is None for layer in sm.masked_layers(model))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(ops.convert_to_numpy(a), ops.convert_to_numpy(b))
    assert isinstance(loaded.get_layer("dense_0").kernel_initializer, SignedConstant)
