"""Mask estimators: the 0/1 masks they draw, their straight-through and ILS gradients, top-k's selections."""

import keras
import numpy as np
import pytest
from keras import ops

import supermask_lib as sm
from supermask_lib import estimators
from supermask_lib.estimators import largest_k, largest_k_by_top_k
from tests.helpers import gradients, random_scores, reference_mask, sigmoid


def test_threshold_gradient_is_straight_through_sigmoid(rng):
    """∂L/∂s = ∂L/∂W_eff · W · σ'(s), with ∂L/∂W_eff = xᵀc for L = Σ c ⊙ (x W_eff)."""
    layer = sm.MaskedDense(5, mask_bias=False, use_bias=False)
    x = rng.normal(size=(6, 4)).astype("float32")
    c = rng.normal(size=(6, 5)).astype("float32")
    layer.build(x.shape)
    random_scores(layer, rng)
    (grad,) = gradients(lambda: ops.sum(ops.multiply(layer(x, training=True), c)), [layer.kernel_scores])
    s = keras.ops.convert_to_numpy(layer.kernel_scores).astype("float64")
    w = keras.ops.convert_to_numpy(layer.kernel).astype("float64")
    d_weff = x.astype("float64").T @ c.astype("float64")
    expected = d_weff * w * sigmoid(s) * (1 - sigmoid(s))
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-6)


def test_topk_gradient_passes_straight_through_to_the_absolute_scores(rng):
    """Edge-popup ranks |s| and its gradient flows through the |.|: ∂L/∂s = ∂L/∂mask · sign(s).

    With scores of both signs (edge-popup's Kaiming-uniform ones) a gradient
    to s itself would push every negative score the wrong way.
    """
    layer = sm.MaskedDense(5, estimator="topk", keep_fraction=0.4, use_bias=False)
    x = rng.normal(size=(6, 4)).astype("float32")
    c = rng.normal(size=(6, 5)).astype("float32")
    layer.build(x.shape)
    layer.kernel_scores.assign(rng.normal(size=(4, 5)).astype("float32"))
    (grad,) = gradients(lambda: ops.sum(ops.multiply(layer(x, training=True), c)), [layer.kernel_scores])
    w = keras.ops.convert_to_numpy(layer.kernel).astype("float64")
    sign = np.sign(keras.ops.convert_to_numpy(layer.kernel_scores))
    assert (sign < 0).any() and (sign > 0).any()
    np.testing.assert_allclose(grad, (x.T.astype("float64") @ c) * w * sign, rtol=1e-4, atol=1e-6)


def test_bernoulli_sample_mean_is_sigmoid(rng):
    layer = sm.MaskedDense(50, estimator="bernoulli", seed=7)
    layer.build((None, 40))
    scores = rng.normal(0, 1.5, (40, 50)).astype("float32")
    layer.kernel_scores.assign(scores)
    draws = 400
    total = np.zeros((40, 50))
    for _ in range(draws):
        mask = keras.ops.convert_to_numpy(layer.compute_mask_of(layer.kernel_scores, training=True))
        assert set(np.unique(mask)) <= {0.0, 1.0}
        total += mask
    p = sigmoid(scores)
    mean = total / draws
    # Per element: |mean - p| < 5 binomial standard errors; overall: the
    # average error is tiny (2000 elements, each independent).
    assert np.all(np.abs(mean - p) < 5 * np.sqrt(p * (1 - p) / draws) + 1e-9)
    assert abs((mean - p).mean()) < 3 * np.sqrt(0.25 / (draws * p.size))


def test_bernoulli_inference_modes(rng):
    scores = rng.normal(0, 1.0, (30, 20)).astype("float32")
    det = sm.MaskedDense(20, estimator="bernoulli")
    det.build((None, 30))
    det.kernel_scores.assign(scores)
    a = keras.ops.convert_to_numpy(det.compute_mask_of(det.kernel_scores, training=False))
    np.testing.assert_array_equal(a, (sigmoid(scores) > 0.5).astype("float32"))
    sampled = sm.MaskedDense(20, estimator="bernoulli", bernoulli_eval="sample", seed=1)
    sampled.build((None, 30))
    sampled.kernel_scores.assign(scores)
    first = keras.ops.convert_to_numpy(sampled.compute_mask_of(sampled.kernel_scores))
    second = keras.ops.convert_to_numpy(sampled.compute_mask_of(sampled.kernel_scores))
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("shape,keep,expected", [((10, 10), 0.3, 30), ((3, 3, 4, 5), 0.25, 45), ((7,), 1.0, 7), ((9,), 0.05, 1)])
@pytest.mark.parametrize("constant", [False, True], ids=["random", "ties"])
def test_topk_keeps_exact_count(shape, keep, expected, constant, rng):
    scores = np.ones(shape, "float32") if constant else rng.normal(size=shape).astype("float32")
    mask = sm.ESTIMATORS["topk"](
        keras.ops.convert_to_tensor(scores), training=True,
        options={"keep_fraction": keep}, seed_generator=None,
    )
    mask = keras.ops.convert_to_numpy(mask)
    assert mask.sum() == expected
    if not constant:  # the kept ones are the largest |s|
        assert np.abs(scores[mask == 1]).min() >= np.abs(scores[mask == 0]).max(initial=0)


@pytest.mark.parametrize("draw", ["continuous", "few-values", "all-equal", "zero-and-smallest", "wide-range"])
@pytest.mark.parametrize("k_of", [lambda n: 1, lambda n: n // 2, lambda n: n - 1, lambda n: n],
                         ids=["k=1", "k=n/2", "k=n-1", "k=n"])
def test_both_topk_selections_keep_the_k_largest_ties_in_index_order(draw, k_of, rng):
    """``largest_k`` (CPU) and ``top_k`` (accelerators) select the same set as a stable sort."""
    n = 1001
    values = {
        "continuous": rng.uniform(0, 1, n),
        "few-values": rng.integers(0, 4, n) * 0.25,                       # ties at every cut
        "all-equal": np.ones(n),                                          # edge-popup's constant start
        # the bottom of float32's normal range (TensorFlow's top_k flushes subnormals to zero; largest_k does not)
        "zero-and-smallest": rng.choice([0.0, 1.2e-38, 1.3e-38, 1e-30], n),
        "wide-range": np.abs(rng.normal(size=n)) * 10.0 ** rng.integers(-30, 30, n),
    }[draw].astype("float32")
    k = k_of(n)
    stable = np.zeros(n)
    stable[np.argsort(-values, kind="stable")[:k]] = 1.0
    for select in (largest_k, largest_k_by_top_k):
        got = keras.ops.convert_to_numpy(select(ops.convert_to_tensor(values), k)).astype("float64")
        np.testing.assert_array_equal(got, stable, err_msg=select.__name__)


def test_topk_selection_by_device_and_its_override(monkeypatch):
    monkeypatch.setattr(estimators, "_has_accelerator", lambda: False)
    assert estimators.topk_selection() == "largest_k"
    monkeypatch.setattr(estimators, "_has_accelerator", lambda: True)
    assert estimators.topk_selection() == "top_k"
    monkeypatch.setattr(estimators, "TOPK_SELECTION", "largest_k")
    assert estimators.topk_selection() == "largest_k"
    monkeypatch.setattr(estimators, "TOPK_SELECTION", "sort")
    with pytest.raises(ValueError, match=r"estimators.TOPK_SELECTION='sort' is not allowed: .*'largest_k', 'top_k'"):
        estimators.topk_selection()


@pytest.mark.parametrize("selection", estimators.TOPK_SELECTIONS)
def test_topk_is_exact_inside_a_compiled_step(selection, rng, monkeypatch):
    """Traced (tf.function / jax.jit through Keras), each selection gives the eager float64 reference's mask."""
    monkeypatch.setattr(estimators, "TOPK_SELECTION", selection)
    layer = sm.MaskedDense(40, estimator="topk", keep_fraction=0.5, use_bias=False)
    model = keras.Sequential([keras.Input((30,)), layer])
    layer.kernel_scores.assign(rng.normal(size=(30, 40)).astype("float32"))
    x = rng.normal(size=(8, 30)).astype("float32")
    model.compile(jit_compile=keras.backend.backend() == "jax")
    w = keras.ops.convert_to_numpy(layer.kernel).astype("float64")
    expected = x.astype("float64") @ (w * reference_mask(layer, layer.kernel_scores))
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)


def _ils_draw(scores, step, seed):
    options = {"ils_step": step, "bernoulli_eval": "threshold"}
    return sm.ESTIMATORS["ils"](scores, training=True, options=options, seed_generator=keras.random.SeedGenerator(seed))


@pytest.mark.parametrize("step", [0.1, 0.01])
def test_ils_gradient_is_the_intermediate_kl_gradient_by_hand(step, rng):
    """∂L/∂s = σ(s) − π_D,keep with π_D from one SGD step off the draw (REFERENCE.md), in float64."""
    scores = keras.Variable(rng.normal(0, 1.5, (20, 30)).astype("float32"))
    upstream = rng.normal(0, 2.0, (20, 30)).astype("float32")  # L = Σ upstream · mask, so ∂L/∂mask = upstream
    (grad,) = gradients(lambda: ops.sum(ops.multiply(_ils_draw(scores, step, seed=5), upstream)), [scores])
    draw = keras.ops.convert_to_numpy(_ils_draw(scores, step, seed=5)).astype("float64")  # the same draw
    assert set(np.unique(draw)) == {0.0, 1.0}
    g, c = upstream.astype("float64"), step
    target = np.where(draw == 1, 1 / (1 + c * g), -c * g / (1 - c * g))
    np.testing.assert_allclose(grad, sigmoid(scores.numpy()) - target, rtol=1e-5, atol=1e-6)


def test_ils_gradient_expectation_over_draws():
    """Averaged over draws the ILS gradient is E = σ·cg/(1+cg) + (1−σ)·cg/(1−cg) ≈ c·g: the noise cancels."""
    s, g, c, n = 0.3, 0.5, 0.1, 200_000
    scores = keras.Variable(np.full((n,), s, "float32"))
    (grad,) = gradients(lambda: ops.sum(_ils_draw(scores, c, seed=11) * g), [scores])
    p = float(sigmoid(s))
    keep, drop = p - 1 / (1 + c * g), p + c * g / (1 - c * g)  # the two values a gradient can take
    expected = p * keep + (1 - p) * drop
    assert expected == pytest.approx(p * c * g / (1 + c * g) + (1 - p) * c * g / (1 - c * g))
    assert set(np.round(np.unique(grad), 5)) == {round(keep, 5), round(drop, 5)}
    standard_error = abs(keep - drop) * np.sqrt(p * (1 - p) / n)
    assert abs(grad.mean() - expected) < 4 * standard_error
    assert grad.mean() == pytest.approx(c * g, rel=0.1)  # first order in c
