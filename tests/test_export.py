"""The collapsed (plain Keras) export: the same predictions from ordinary layers."""

import keras
import numpy as np
import pytest

import supermask_lib as sm
from tests.helpers import small_masked_model


@pytest.mark.parametrize("estimator", ["threshold", "bernoulli", "topk"])
def test_collapse_masks_predicts_the_same(estimator, rng, tmp_path):
    model = small_masked_model(estimator)
    for layer in sm.masked_layers(model):
        layer.kernel_scores.assign(rng.normal(size=layer.kernel_scores.shape).astype("float32"))
        if layer.bias_scores is not None:
            layer.bias_scores.assign(rng.normal(size=layer.bias_scores.shape).astype("float32"))
    x = rng.normal(size=(6, 8, 8, 3)).astype("float32")
    plain = sm.collapse_masks(model)
    assert not sm.masked_layers(plain)
    assert {type(layer) for layer in plain.layers} >= {keras.layers.Conv2D, keras.layers.Dense}
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(plain.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    # Shareable without this library: a plain .keras file of ordinary layers.
    path = tmp_path / "plain.keras"
    plain.save(path)
    assert "supermask" not in (path.read_bytes().decode("latin-1"))
    reloaded = keras.models.load_model(path)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    # The kernels hold exactly the masked weights.
    c3 = sm.masked_layers(model)[0]
    kernel_mask, _ = c3.hard_masks()
    np.testing.assert_array_equal(
        plain.get_layer("c3").get_weights()[0], keras.ops.convert_to_numpy(c3.kernel) * kernel_mask
    )
