"""Mask statistics: the utilisation table and the fraction kept."""

import keras
import numpy as np
import pytest

import supermask_lib as sm
from tests.helpers import small_masked_model


def test_mask_utilization_counts_by_hand():
    model = small_masked_model()
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
