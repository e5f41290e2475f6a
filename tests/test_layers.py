"""Masked layers against float64 references and hand-derived gradients: forward passes, options
(dynamic weight rescaling, score decay), saving, argument checks."""

import warnings

import keras
import numpy as np
import pytest
from keras import ops

import supermask_lib as sm
from tests.helpers import conv2d_reference, gradients, random_scores, reference_mask, sigmoid


ESTIMATOR_OPTIONS = [
    {"estimator": "threshold"},
    {"estimator": "threshold", "threshold": 0.3},
    {"estimator": "bernoulli"},
    {"estimator": "ils"},
    {"estimator": "topk", "keep_fraction": 0.3},
]


@pytest.mark.parametrize("options", ESTIMATOR_OPTIONS, ids=lambda o: "-".join(map(str, o.values())))
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv_forward_matches_float64_reference(options, padding, rng):
    layer = sm.MaskedConv2D(5, 3, padding=padding, **options)
    x = rng.normal(size=(2, 7, 6, 4)).astype("float32")
    layer.build(x.shape)
    random_scores(layer, rng)
    kernel_mask = reference_mask(layer, layer.kernel_scores)
    bias_mask = reference_mask(layer, layer.bias_scores)
    assert 0 < kernel_mask.mean() < 1, "the test needs a mixed mask"
    expected = conv2d_reference(
        x,
        keras.ops.convert_to_numpy(layer.kernel) * kernel_mask,
        keras.ops.convert_to_numpy(layer.bias) * bias_mask,
        padding=padding,
    )
    got = keras.ops.convert_to_numpy(layer(x, training=False))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("options", ESTIMATOR_OPTIONS, ids=lambda o: "-".join(map(str, o.values())))
def test_dense_forward_matches_float64_reference(options, rng):
    layer = sm.MaskedDense(6, activation="relu", **options)
    x = rng.normal(size=(8, 10)).astype("float32")
    layer.build(x.shape)
    random_scores(layer, rng)
    kernel = keras.ops.convert_to_numpy(layer.kernel).astype("float64")
    bias = keras.ops.convert_to_numpy(layer.bias).astype("float64")
    effective = kernel * reference_mask(layer, layer.kernel_scores)
    expected = np.maximum(x.astype("float64") @ effective + bias * reference_mask(layer, layer.bias_scores), 0)
    got = keras.ops.convert_to_numpy(layer(x, training=False))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_mask_is_exactly_binary_and_scores_start_at_one():
    layer = sm.MaskedDense(4)
    layer.build((None, 3))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.kernel_scores), np.ones((3, 4)))
    mask = keras.ops.convert_to_numpy(layer.compute_mask_of(layer.kernel_scores))
    # σ(1) = 0.73 > 0.5: every weight starts kept, as in the study.
    np.testing.assert_array_equal(mask, np.ones((3, 4)))


def test_mask_bias_false_keeps_bias_unmasked(rng):
    layer = sm.MaskedDense(4, mask_bias=False)
    layer.build((None, 3))
    assert layer.bias_scores is None
    layer.kernel_scores.assign(-np.ones((3, 4), "float32"))  # mask everything
    layer.bias.assign(np.arange(4, dtype="float32"))
    out = keras.ops.convert_to_numpy(layer(np.ones((2, 3), "float32")))
    np.testing.assert_array_equal(out, np.tile(np.arange(4, dtype="float32"), (2, 1)))


def test_conv_score_gradient_uses_plain_conv_gradient(rng):
    """For convolution, ∂L/∂W_eff comes from the plain Keras conv at W_eff."""
    layer = sm.MaskedConv2D(3, 3, padding="same")
    x = rng.normal(size=(2, 5, 5, 2)).astype("float32")
    c = rng.normal(size=(2, 5, 5, 3)).astype("float32")
    layer.build(x.shape)
    random_scores(layer, rng)
    grad_scores, grad_bias_scores = gradients(
        lambda: ops.sum(ops.multiply(layer(x, training=True), c)), [layer.kernel_scores, layer.bias_scores]
    )
    mask = keras.ops.convert_to_numpy(layer.compute_mask_of(layer.kernel_scores))
    w_eff = keras.Variable(keras.ops.convert_to_numpy(layer.kernel) * mask)
    (d_weff,) = gradients(lambda: ops.sum(ops.multiply(ops.conv(x, w_eff, padding="same"), c)), [w_eff])
    s = keras.ops.convert_to_numpy(layer.kernel_scores).astype("float64")
    w = keras.ops.convert_to_numpy(layer.kernel).astype("float64")
    np.testing.assert_allclose(grad_scores, d_weff * w * sigmoid(s) * (1 - sigmoid(s)), rtol=1e-4, atol=1e-5)
    sb = keras.ops.convert_to_numpy(layer.bias_scores).astype("float64")
    b = keras.ops.convert_to_numpy(layer.bias).astype("float64")
    d_b = c.astype("float64").sum(axis=(0, 1, 2))
    np.testing.assert_allclose(grad_bias_scores, d_b * b * sigmoid(sb) * (1 - sigmoid(sb)), rtol=1e-4, atol=1e-5)


def test_ils_layer_is_deterministic_at_inference_and_reloads(tmp_path, rng):
    layer = sm.MaskedDense(20, estimator="ils", ils_step=0.05, seed=2)
    layer.build((None, 30))
    scores = rng.normal(0, 1.0, (30, 20)).astype("float32")
    layer.kernel_scores.assign(scores)
    inference = keras.ops.convert_to_numpy(layer.compute_mask_of(layer.kernel_scores, training=False))
    np.testing.assert_array_equal(inference, (sigmoid(scores) > 0.5).astype("float32"))
    np.testing.assert_array_equal(layer.hard_masks()[0], inference)
    first = keras.ops.convert_to_numpy(layer.compute_mask_of(layer.kernel_scores, training=True))
    second = keras.ops.convert_to_numpy(layer.compute_mask_of(layer.kernel_scores, training=True))
    assert not np.array_equal(first, second)  # a fresh draw every training step
    config = layer.get_config()
    assert config["ils_step"] == 0.05 and sm.MaskedDense.from_config(config).ils_step == 0.05


@pytest.mark.parametrize("estimator", ["threshold", "bernoulli", "ils", "topk"])
def test_save_and_reload_roundtrip(estimator, tmp_path, rng):
    inputs = keras.Input((6, 6, 2))
    x = sm.MaskedConv2D(3, 3, estimator=estimator, keep_fraction=0.5, seed=3)(inputs)
    x = keras.layers.Flatten()(x)
    outputs = sm.MaskedDense(4, estimator=estimator, score_init="he_uniform", seed=4)(x)
    model = keras.Model(inputs, outputs)
    for layer in sm.masked_layers(model):
        random_scores(layer, rng)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    for a, b in zip(sm.masked_layers(model), sm.masked_layers(loaded)):
        assert type(a) is type(b) and a.get_config() == b.get_config()
        for va, vb in zip(a.weights, b.weights):
            np.testing.assert_array_equal(keras.ops.convert_to_numpy(va), keras.ops.convert_to_numpy(vb))
        for ma, mb in zip(a.hard_masks(), b.hard_masks()):
            np.testing.assert_array_equal(ma, mb)
    x = rng.normal(size=(5, 6, 6, 2)).astype("float32")
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_topk_with_constant_scores_warns():
    with pytest.warns(UserWarning, match=r"estimator='topk' with a constant score_init=1.0"):
        sm.MaskedDense(3, estimator="topk")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sm.MaskedDense(3, estimator="topk", score_init="random_uniform")
        sm.MaskedDense(3, estimator="threshold", score_init=1.0)


@pytest.mark.parametrize("bad,match", [
    ({"estimator": "gumbel"}, r"estimator='gumbel' is not allowed: one of \['bernoulli', 'ils', 'threshold', 'topk'\]"),
    ({"threshold": 1.0}, r"threshold=1.0 .*open interval \(0, 1\)"),
    ({"threshold": 0}, r"threshold=0 .*open interval \(0, 1\)"),
    ({"keep_fraction": 0.0}, r"keep_fraction=0.0 .*\(0, 1\]"),
    ({"keep_fraction": 1.5}, r"keep_fraction=1.5 .*\(0, 1\]"),
    ({"bernoulli_eval": "mean"}, r"bernoulli_eval='mean'.*\['threshold', 'sample'\]"),
    ({"ils_step": 1.0}, r"ils_step=1.0 .*SGD step c of Intermediate Loss Sampling"),
    ({"score_init": "no-such-initializer"}, r"score_init='no-such-initializer'"),
    ({"lora_rank": 4}, r"lora_rank=4"),
])
@pytest.mark.parametrize("cls", ["conv", "dense"])
def test_bad_mask_arguments_raise_clear_errors(bad, match, cls):
    with pytest.raises(ValueError, match=match):
        if cls == "conv":
            sm.MaskedConv2D(2, 3, **bad)
        else:
            sm.MaskedDense(2, **bad)


@pytest.mark.parametrize("score_init", ["he_uniform", {"class_name": "RandomUniform", "config": {"minval": 0.0, "maxval": 1.0}}])
def test_checking_a_score_initializer_leaves_the_random_state_alone(score_init):
    """An unseeded Keras initializer draws its seed from Python's random when built; a check must not."""
    import random

    from supermask_lib.experiment.config import ExperimentConfig
    from supermask_lib.layers import check_score_init

    random.seed(7)
    expected = random.random()
    random.seed(7)
    check_score_init(score_init)
    ExperimentConfig(model="fc", estimator="topk", score_init=score_init)
    assert random.random() == expected


def _dense(rng, **options):
    layer = sm.MaskedDense(6, use_bias=False, **options)
    layer.build((None, 5))
    layer.kernel_scores.assign(rng.normal(size=(5, 6)).astype("float32"))
    return layer


def test_dynamic_rescaling_scales_by_weights_over_kept_and_stops_its_gradient(rng):
    layer = _dense(rng, dynamic_rescaling=True)
    x = rng.normal(size=(4, 5)).astype("float32")
    c = rng.normal(size=(4, 6)).astype("float32")
    s = ops.convert_to_numpy(layer.kernel_scores).astype("float64")
    w = ops.convert_to_numpy(layer.kernel).astype("float64")
    mask = (sigmoid(s) > 0.5).astype("float64")
    factor = mask.size / mask.sum()
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), x @ (w * mask * factor), rtol=1e-5, atol=1e-6)
    (grad,) = gradients(lambda: ops.sum(ops.multiply(layer(x, training=True), c)), [layer.kernel_scores])
    np.testing.assert_allclose(grad, (x.T.astype("float64") @ c) * w * factor * sigmoid(s) * (1 - sigmoid(s)),
                               rtol=1e-4, atol=1e-6)
    collapsed = sm.collapse_masks(keras.Sequential([keras.Input((5,)), layer]))
    np.testing.assert_allclose(collapsed.predict(x, verbose=0), ops.convert_to_numpy(layer(x)), rtol=1e-5, atol=1e-6)


def test_score_decay_adds_lambda_times_the_score_to_its_gradient(rng):
    decayed, plain = _dense(rng, score_decay=0.3), _dense(rng)
    plain.kernel.assign(decayed.kernel)
    plain.kernel_scores.assign(decayed.kernel_scores)
    x = rng.normal(size=(4, 5)).astype("float32")

    def loss(layer):
        return lambda: ops.sum(layer(x, training=True)) + sum(layer.losses)  # ops.sum([]) fails on torch

    (with_decay,) = gradients(loss(decayed), [decayed.kernel_scores])
    (without,) = gradients(loss(plain), [plain.kernel_scores])
    np.testing.assert_allclose(with_decay - without, 0.3 * ops.convert_to_numpy(decayed.kernel_scores),
                               rtol=1e-4, atol=1e-6)
