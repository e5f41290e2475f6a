"""Mask statistics and the collapsed (plain Keras) export."""

import keras
import numpy as np
import pytest

import supermask_lib as sm


def _model(estimator="threshold"):
    inputs = keras.Input((8, 8, 3))
    x = sm.MaskedConv2D(4, 3, estimator=estimator, padding="same", name="c3")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = sm.MaskedConv2D(5, 1, estimator=estimator, name="c1")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = sm.MaskedDense(3, estimator=estimator, mask_bias=False, name="fc")(x)
    return keras.Model(inputs, outputs)


def test_mask_utilization_counts_by_hand():
    model = _model()
    c3, c1, fc = sm.masked_layers(model)
    scores = np.ones((3, 3, 3, 4), "float32")
    scores[0, 0, 0, :] = -1.0        # 4 masked of 108
    scores[1, 1, :, 0] = -2.0        # 3 more, 7 in all
    c3.kernel_scores.assign(scores)
    c3.bias_scores.assign(np.array([1, -1, 1, 1], "float32"))
    fc_scores = np.ones((5, 3), "float32")
    fc_scores[:, 2] = -1.0           # 5 masked of 15
    fc.kernel_scores.assign(fc_scores)

    table = sm.mask_utilization(model)
    assert list(table.index) == [0, 1, 2]
    assert list(table["name"]) == ["c3", "c1", "fc"]
    assert list(table["kind"]) == ["conv", "conv_1x1", "dense"]
    assert list(table["kernel_shape"]) == [(3, 3, 3, 4), (1, 1, 4, 5), (5, 3)]
    assert list(table["n_weights"]) == [108, 20, 15]
    assert list(table["n_masked"]) == [7, 0, 5]
    np.testing.assert_allclose(table["fraction_masked"], [7 / 108, 0, 5 / 15])
    assert list(table["n_bias"]) == [4, 5, 0]
    assert list(table["n_bias_masked"]) == [1, 0, 0]
    assert np.isnan(table.loc[2, "bias_fraction_masked"])
    assert sm.fraction_kept(model) == pytest.approx(1 - 12 / 143)
    assert sm.fraction_kept(table) == pytest.approx(1 - 12 / 143)


def test_mask_utilization_rejects_plain_models():
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="plain_dense")], name="plainnet")
    with pytest.raises(ValueError, match="model='plainnet' has no masked layers"):
        sm.mask_utilization(plain)


@pytest.mark.parametrize("estimator", ["threshold", "bernoulli", "topk"])
def test_collapse_masks_predicts_the_same(estimator, rng, tmp_path):
    model = _model(estimator)
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
