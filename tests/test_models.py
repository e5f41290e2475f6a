"""The study's network layout, the registry, non-affine BatchNorm and the forward pass's multiply-adds."""

import keras
import numpy as np
import pytest

import supermask_lib as sm
from supermask_lib.models import forward_macs, get_model, wide_resnet

# REFERENCE.md: per-layer kernel sizes of the study's WRN-28-8 on CIFAR-10,
# in the order of its mask-utilisation figure (1x1 shortcuts at 3, 12, 21).
CIFAR_WRN_28_8 = (
    [432, 18_432, 147_456, 2_048] + [147_456] * 6
    + [294_912, 589_824, 32_768] + [589_824] * 6
    + [1_179_648, 2_359_296, 131_072] + [2_359_296] * 6
    + [5_120]
)


def test_blog_wrn_28_8_cifar_matches_reference_layer_sizes():
    table = sm.mask_utilization(wide_resnet(28, 8, input_shape=(32, 32, 3)))
    assert len(table) == 29
    assert list(table["n_weights"]) == CIFAR_WRN_28_8
    # The reference lists the sizes group by group: same multiset.
    reference_listing = ([432, 18_432] + [147_456] * 7 + [2_048, 294_912] + [589_824] * 7
                         + [32_768, 1_179_648] + [2_359_296] * 7 + [131_072, 5_120])
    assert sorted(table["n_weights"]) == sorted(reference_listing)
    assert list(table.index[table["kind"] == "conv_1x1"]) == [3, 12, 21]
    assert list(table["kind"]).count("dense") == 1
    assert (table["n_bias"] > 0).all()  # conv and dense carry (masked) biases


def test_blog_wrn_28_8_mnist_first_layer_sees_one_channel():
    table = sm.mask_utilization(wide_resnet(28, 8, input_shape=(28, 28, 1)))
    assert table["n_weights"].iloc[0] == 3 * 3 * 1 * 16
    assert list(table["n_weights"].iloc[1:]) == CIFAR_WRN_28_8[1:]


def test_blog_layout_pools_between_groups_and_standard_strides():
    blog = wide_resnet(16, 2, input_shape=(32, 32, 3))
    pools = [layer for layer in blog.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    assert len(pools) == 2
    assert all(tuple(layer.strides) == (1, 1) for layer in sm.masked_layers(blog) if hasattr(layer, "strides"))
    standard = wide_resnet(16, 2, input_shape=(32, 32, 3), variant="standard")
    assert not [layer for layer in standard.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    strided = [layer.name for layer in sm.masked_layers(standard) if getattr(layer, "strides", (1, 1)) == (2, 2)]
    assert sorted(strided) == sorted([
        "group2_block0_conv_a", "group2_block0_shortcut", "group3_block0_conv_a", "group3_block0_shortcut"])
    assert all(layer.bias is None for layer in sm.masked_layers(standard)[:-1])


def test_plain_and_masked_twins_share_names_and_shapes():
    masked = get_model("wrn-10-1", input_shape=(28, 28, 1))
    plain = get_model("wrn-10-1", input_shape=(28, 28, 1), masked=False)
    assert not sm.masked_layers(plain)
    shapes = {w.path: tuple(w.shape) for w in plain.weights}
    for w in masked.weights:
        if "scores" not in w.path:
            assert shapes.pop(w.path) == tuple(w.shape)
    assert not shapes
    # The masked model holds exactly one score per maskable weight more.
    extra = masked.count_params() - plain.count_params()
    assert extra == sum(int(np.prod(w.shape)) for w in masked.weights if "scores" not in w.path
                        and ("kernel" in w.path or "bias" in w.path))


@pytest.mark.parametrize("name,shape,units", [
    ("fc", (28, 28, 1), [300, 100, 10]),
    ("conv2", (32, 32, 3), [64, 64, 256, 256, 10]),
    ("conv4", (32, 32, 3), [64, 64, 128, 128, 256, 256, 10]),
    ("conv6", (32, 32, 3), [64, 64, 128, 128, 256, 256, 256, 256, 10]),
])
def test_literature_networks(name, shape, units):
    model = get_model(name, input_shape=shape)
    assert [int(layer.kernel.shape[-1]) for layer in sm.masked_layers(model)] == units
    assert model.output_shape == (None, 10)


def test_mask_arguments_reach_every_layer():
    model = get_model("conv2", input_shape=(32, 32, 3), estimator="topk", keep_fraction=0.3)
    assert {(layer.estimator, layer.keep_fraction) for layer in sm.masked_layers(model)} == {("topk", 0.3)}


@pytest.mark.parametrize("call,match", [
    (lambda: wide_resnet(27, 2), r"depth=27 .*6n \+ 4"),
    (lambda: wide_resnet(16, 0), r"width=0 .*integer >= 1"),
    (lambda: wide_resnet(16, 2, variant="preact"), r"variant='preact'.*\['blog', 'standard'\]"),
    (lambda: wide_resnet(16, 2, input_shape=(32, 32)), r"input_shape=\(32, 32\)"),
    (lambda: wide_resnet(16, 2, input_shape=(2, 2, 3)), r"input_shape=\(2, 2, 3\)"),
    (lambda: get_model("resnet50", input_shape=(32, 32, 3)), r"model='resnet50'.*'wrn-<depth>-<width>"),
    (lambda: get_model("fc", input_shape=(28, 28, 1), masked=False, estimator="topk"), r"masked=False"),
    (lambda: get_model("fc", input_shape=(28, 28, 1), bn_momentum=0.9), r"bn_momentum=0.9 .*no BatchNorm"),
    (lambda: get_model("fc", input_shape=(28, 28, 1), num_classes=1), r"num_classes=1"),
])
def test_bad_model_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_non_affine_batchnorm_has_no_gamma_or_beta():
    model = get_model("wrn-10-1", input_shape=(8, 8, 1), bn_affine=False)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(layer.gamma is None and layer.beta is None for layer in norms)


def test_forward_macs_by_hand():
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="c")(inputs)        # 8*8 positions x 3*3*3*4
    x = keras.layers.Conv2D(5, 1, strides=2, name="d")(x)                  # 4*4 positions x 1*1*4*5
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(x))             # 80 x 2
    assert forward_macs(keras.Model(inputs, outputs)) == 64 * 108 + 16 * 20 + 160
    masked = get_model("wrn-10-1", input_shape=(28, 28, 1))
    assert forward_macs(masked) == forward_macs(get_model("wrn-10-1", input_shape=(28, 28, 1), masked=False))
