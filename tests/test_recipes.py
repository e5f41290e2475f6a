"""The literature's recipes and what they need: signed-constant weights, no biases, non-affine
BatchNorm, dynamic weight rescaling, score decay, cosine and constant schedules, sampled test
masks, pad-and-crop augmentation."""

import keras
import numpy as np
import pytest
from keras import ops

import supermask_lib as sm
from supermask_lib import recipes
from supermask_lib.config import ExperimentConfig
from supermask_lib.profiles import profile_configs
from supermask_lib.data import PIXEL_RANGES, EpochBatches, load_dataset, random_crop, scale_pixels
from supermask_lib.experiment import run_experiment
from supermask_lib.initializers import SignedConstant
from supermask_lib.models import get_model
from tests.helpers import StopAfterEpochs, gradients, sigmoid


# ------------------------------------------------------------ initialisation


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


def test_non_affine_batchnorm_has_no_gamma_or_beta():
    model = get_model("wrn-10-1", input_shape=(8, 8, 1), bn_affine=False)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(layer.gamma is None and layer.beta is None for layer in norms)


# ------------------------------------------------------------ estimator options


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
    (grad,) = gradients(lambda: ops.sum(layer(x, training=True) * c), [layer.kernel_scores])
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
        return lambda: ops.sum(layer(x, training=True)) + ops.sum(layer.losses)

    (with_decay,) = gradients(loss(decayed), [decayed.kernel_scores])
    (without,) = gradients(loss(plain), [plain.kernel_scores])
    np.testing.assert_allclose(with_decay - without, 0.3 * ops.convert_to_numpy(decayed.kernel_scores),
                               rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------ data


def test_random_crop_takes_a_window_of_the_padded_image(rng):
    x = rng.normal(size=(5, 6, 7, 2)).astype("float32")
    out = random_crop(x, 2, np.random.default_rng(1))
    assert out.shape == x.shape
    padded = np.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)], constant_values=-1.0)
    for image, source in zip(out, padded):
        windows = [(i, j) for i in range(5) for j in range(5) if np.array_equal(source[i:i + 6, j:j + 7], image)]
        assert windows, "each crop is one window of its padded image"
    np.testing.assert_array_equal(out, random_crop(x, 2, np.random.default_rng(1)))


def test_unit_pixels_are_x_over_255_and_signed_ones_the_studys(rng):
    x = rng.integers(0, 256, (3, 4, 4), dtype=np.uint8)
    np.testing.assert_array_equal(scale_pixels(x, "unit")[..., 0], x.astype("float32") / np.float32(255))
    np.testing.assert_array_equal(scale_pixels(x)[..., 0], x.astype("float32") / np.float32(127.5) - np.float32(1))


def test_unit_pixel_runs_load_unit_data_and_pad_crops_with_black(data_dir):
    config = ExperimentConfig.from_recipe("zhou", model="fc", pixel_range="unit", train_size=100, val_size=50,
                                          test_size=50, data_dir=str(data_dir))
    dataset = load_dataset("mnist", data_dir, train_size=100, val_size=50, test_size=50, pixel_range="unit")
    assert dataset.x_train.min() == 0.0 and dataset.x_train.max() == 1.0
    assert dataset.info["scaling"] == "x / 255 (range [0, 1])"
    assert PIXEL_RANGES[config.pixel_range][0] == 0.0  # the crop's fill, black in this range


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


# ------------------------------------------------------------ recipes


def test_a_recipe_is_its_fields_and_given_fields_override_it():
    config = ExperimentConfig.from_recipe("zhou", model="fc", epochs=50)
    expected = recipes.RECIPES["zhou"].fields
    assert config.epochs == 50
    for name, value in expected.items():
        if name != "epochs":
            assert getattr(config, name) == (tuple(value) if isinstance(value, list) else value), name
    (from_profile,) = profile_configs({"recipe": "zhou", "model": "fc", "epochs": 50}, "p.yaml").values()
    assert from_profile == config
    variants = profile_configs({"base": {"model": "fc", "epochs": 3},
                                "variants": {"a": {"recipe": "edge-popup"}, "b": {"recipe": "zhou", "epochs": 4}}},
                               "p.yaml")
    assert (variants["a"].epochs, variants["a"].lr_schedule, variants["b"].epochs) == (3, "cosine", 4)


@pytest.mark.parametrize("name", sorted(recipes.RECIPES))
@pytest.mark.parametrize("model", ["fc", "conv2", "wrn-10-1"])
def test_every_recipe_builds_every_kind_of_network(name, model):
    config = ExperimentConfig.from_recipe(name, model=model, dataset="cifar10")
    network = get_model(model, input_shape=(32, 32, 3), **config.model_arguments(), **config.mask_arguments())
    assert len(sm.masked_layers(network)) >= 3


# ------------------------------------------------------------ schedules and sampled tests, end to end


def _config(data_dir, **fields):
    small = dict(dataset="mnist", model="fc", epochs=3, batch_size=50, train_size=300, val_size=100, test_size=200,
                 data_dir=str(data_dir), phases=("mask",), augment_flip=False, augment_rotation=0.0, augment_shift=0.0)
    return ExperimentConfig(**{**small, **fields})


def test_cosine_schedule_decays_to_zero_and_resumes(data_dir, tmp_path):
    fields = dict(optimizer="sgd", learning_rate=0.2, lr_schedule="cosine", estimator="topk",
                  score_init="he_uniform", augment_crop=2)
    config = _config(data_dir, **fields)
    with pytest.raises(StopAfterEpochs.Interrupted):
        run_experiment(config, tmp_path / "resumed", callbacks=[StopAfterEpochs(1)])
    resumed = run_experiment(config, tmp_path / "resumed")
    straight = run_experiment(config, tmp_path / "straight")
    steps = 6  # 270 training images in batches of 50
    epochs = np.arange(3)
    expected = 0.5 * 0.2 * (1 + np.cos(np.pi * epochs * steps / (3 * steps)))  # the rate each epoch starts at
    np.testing.assert_allclose(straight.histories["mask"]["learning_rate"], expected, rtol=1e-5)
    for column in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"):
        np.testing.assert_allclose(resumed.histories["mask"][column], straight.histories["mask"][column], rtol=1e-6)


def test_sampled_test_masks_report_the_mean_of_their_draws(data_dir, tmp_path):
    zhou = {**recipes.recipe_fields("zhou"), "epochs": 3, "batch_size": 50, "eval_samples": 4}
    result = run_experiment(_config(data_dir, **zhou), tmp_path)
    metrics = result.metrics["mask"]
    draws = metrics.test_accuracy_draws
    assert len(draws) == 4 and len(set(draws)) > 1  # each pass draws its own mask
    assert metrics.test_accuracy == pytest.approx(np.mean(draws))
    np.testing.assert_allclose(result.histories["mask"]["learning_rate"], 100.0)
