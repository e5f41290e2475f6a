"""Networks of the study and of the supermask literature, masked or plain.

Every builder takes ``masked`` (masked layers, or their plain Keras twins
with identical names, so weights transfer by name) and passes
``mask_arguments`` (estimator, threshold, ...) to every masked layer. Outputs
are logits: the study's softmax is folded into the loss.

``get_model(name, ...)`` looks a builder up by name: ``"fc"``, ``"conv2"``,
``"conv4"``, ``"conv6"`` and ``"wrn-<depth>-<width>"`` (the study's layout)
or ``"wrn-<depth>-<width>-standard"`` (the Wide ResNet paper's).
"""

import functools
import re

import keras
import numpy as np
from keras import layers

from supermask_lib import checks
from supermask_lib.initializers import check_weight_init, get_weight_initializer
from supermask_lib.layers import MaskedConv2D, MaskedDense

MODELS = {}  #: name -> builder (filled by :func:`register_model`)
WRN_PATTERN = re.compile(r"^wrn-(\d+)-(\d+)(-standard)?$")  #: the Wide ResNets' names
VARIANTS = ("blog", "standard")  #: the Wide ResNet layouts (:func:`wide_resnet`)


def register_model(name):
    """Register a builder under ``name`` for :func:`get_model` and ``ExperimentConfig.model``."""
    def decorator(fn):
        MODELS[name] = fn
        return fn

    return decorator


def get_model(name, *, input_shape, num_classes=10, masked=True, bn_momentum=None, bn_affine=True,
              **arguments):
    """Build the registered network ``name`` (see the module docstring).

    ``bn_momentum`` and ``bn_affine`` apply to the networks with BatchNorm
    (the Wide ResNets; elsewhere ``bn_affine`` has nothing to act on).
    ``arguments`` are the layer options every builder takes (see
    the layer factory ``_Factory``: ``weight_init``, ``use_bias``, and the mask arguments).
    """
    name = check_model_name(name)
    match = WRN_PATTERN.match(name)
    if match:
        depth, width, standard = match.groups()
        return wide_resnet(
            depth=int(depth), width=int(width), input_shape=input_shape,
            num_classes=num_classes, masked=masked,
            variant="standard" if standard else "blog",
            bn_momentum=0.99 if bn_momentum is None else bn_momentum, bn_affine=bn_affine, **arguments,
        )
    check_bn_momentum(bn_momentum, name)
    return MODELS[name](input_shape=input_shape, num_classes=num_classes, masked=masked, **arguments)


def forward_macs(model):
    """Multiply-accumulates of one image's forward pass through the convolutions and dense layers.

    A rough cost model (BatchNorm, activations and the mask's arithmetic are
    left out): a kernel of shape (kh, kw, c_in, c_out) costs its size at every
    output position, a dense kernel its size once.
    """
    macs = 0
    for layer in model.layers:
        for variable in layer.weights:
            if variable.path.rsplit("/", 1)[-1] != "kernel":
                continue
            size = int(np.prod(variable.shape))
            positions = int(np.prod(layer.output.shape[1:-1])) if len(variable.shape) == 4 else 1
            macs += size * positions
    return macs


def check_model_name(name, label="model"):
    """A registered network or a Wide ResNet whose depth and width can be built."""
    allowed = (f"one of {sorted(MODELS)} or 'wrn-<depth>-<width>[-standard]' with depth = 6n + 4 "
               "(10, 16, 22, 28, ...) and width >= 1 (e.g. 'wrn-28-8', 'wrn-16-2')")
    if isinstance(name, str) and name in MODELS:
        return name
    match = WRN_PATTERN.match(name) if isinstance(name, str) else None
    if not match or _bad_depth(int(match.group(1))) or int(match.group(2)) < 1:
        checks.fail(label, name, allowed)
    return name


def has_batchnorm(name):
    """Whether the network ``name`` has BatchNorm (the Wide ResNets), so ``bn_momentum`` and ``bn_only`` apply."""
    return bool(WRN_PATTERN.match(name))


def check_bn_momentum(bn_momentum, model, label="bn_momentum"):
    """``None`` (Keras's 0.99) or a momentum in [0, 1); only networks with BatchNorm take one."""
    if bn_momentum is None:
        return None
    if not has_batchnorm(model):
        checks.fail(label, bn_momentum, f"None for model={model!r}, which has no BatchNorm")
    return checks.number(label, bn_momentum, 0.0, 1.0, low_open=False, allowed="None or a number in [0, 1)")


def _bad_depth(depth):
    return depth < 10 or (depth - 4) % 6 != 0


class _Factory:
    """Creates masked or plain conv/dense layers with the same names and options.

    Layer options of every conv and dense layer: ``weight_init`` (the kernel's
    initializer; None keeps Keras's Glorot uniform, the study's, see
    :mod:`supermask_lib.initializers`) and ``use_bias`` (False drops every
    bias, as the supermask papers' small networks do). The rest are mask
    arguments, for masked layers only.
    """

    def __init__(self, masked, arguments):
        arguments = dict(arguments)
        self.weight_init = check_weight_init(arguments.pop("weight_init", None))
        self.use_bias = checks.boolean("use_bias", arguments.pop("use_bias", True))
        if not masked and arguments:
            raise ValueError(
                f"mask arguments {sorted(arguments)} were given with masked=False; "
                "plain networks take no mask options."
            )
        self.masked = masked
        self.mask_arguments = arguments

    def _options(self, kwargs):
        options = {**kwargs, "use_bias": kwargs.get("use_bias", True) and self.use_bias}
        if self.weight_init is not None:  # a fresh initializer per layer: an unseeded one repeats its draw
            options["kernel_initializer"] = get_weight_initializer(self.weight_init)
        return options

    def conv(self, filters, kernel_size, name, **kwargs):
        if self.masked:
            return MaskedConv2D(filters, kernel_size, name=name, **self.mask_arguments, **self._options(kwargs))
        return layers.Conv2D(filters, kernel_size, name=name, **self._options(kwargs))

    def dense(self, units, name, **kwargs):
        if self.masked:
            return MaskedDense(units, name=name, **self.mask_arguments, **self._options(kwargs))
        return layers.Dense(units, name=name, **self._options(kwargs))


def _check_shape(input_shape, min_side=1):
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if (
        shape is None or len(shape) != 3
        or not all(isinstance(d, int) and d > 0 for d in shape)
        or min(shape[:2]) < min_side
    ):
        raise ValueError(
            f"input_shape={input_shape!r} is not allowed: give (height, width, "
            f"channels) with positive integers and height, width >= {min_side}."
        )
    return shape


def _check_classes(num_classes):
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes={num_classes!r} is not allowed: give an integer >= 2.")


def wide_resnet(depth=28, width=8, *, input_shape=(32, 32, 3), num_classes=10,
                masked=True, variant="blog", bn_momentum=0.99, bn_affine=True, **mask_arguments):
    """Wide ResNet ``depth``-``width``.

    ``variant="blog"`` is the study's keras-contrib layout: a 3x3 conv with 16
    filters, three groups of ``(depth - 4) / 6`` post-activation blocks
    (conv-BN-ReLU twice, then the residual add) of 16k, 32k, 64k filters,
    2x2 max-pooling between groups, a 1x1 projection conv (linear, no BN)
    on the shortcut where the channel count changes, global average pooling
    and a dense layer; every conv and dense has a bias. In each block the
    layers are created conv a, conv b, shortcut, so for depth 28 the
    shortcuts are masked layers 3, 12 and 21, as in the study's figures.

    ``variant="standard"`` follows Zagoruyko & Komodakis (2016): pre-activation
    blocks (BN-ReLU-conv), strided 3x3 convs (1, 2, 2) instead of pooling,
    a strided 1x1 shortcut where the shape changes, no conv biases, and a
    final BN-ReLU before pooling.

    ``bn_momentum`` is BatchNorm's moving-average momentum (Keras's 0.99, as
    in the study); short CPU runs of a few hundred steps need a smaller one
    (0.9) for the moving statistics to catch up with the changing mask.
    ``bn_affine=False`` drops BatchNorm's γ and β (edge-popup's non-affine BatchNorm).
    """
    if not isinstance(depth, int) or _bad_depth(depth):
        raise ValueError(
            f"depth={depth!r} is not allowed: a Wide ResNet needs depth = 6n + 4 "
            "with n >= 1 (10, 16, 22, 28, 40, ...)."
        )
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width={width!r} is not allowed: give an integer >= 1.")
    if variant not in VARIANTS:
        raise ValueError(f"Unknown variant={variant!r}; allowed: {list(VARIANTS)}.")
    bn_momentum = checks.number("bn_momentum", bn_momentum, 0.0, 1.0, low_open=False)
    shape = _check_shape(input_shape, min_side=4)
    _check_classes(num_classes)
    make = _Factory(masked, mask_arguments)
    blocks = (depth - 4) // 6
    inputs = keras.Input(shape)
    bn_relu = functools.partial(_bn_relu, momentum=bn_momentum, affine=checks.boolean("bn_affine", bn_affine))
    body = _blog_body if variant == "blog" else _standard_body
    x = body(inputs, make, blocks, width, bn_relu)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = _logits(make.dense(num_classes, name="dense")(x))
    suffix = "" if variant == "blog" else "-standard"
    return keras.Model(inputs, outputs, name=f"wrn-{depth}-{width}{suffix}")


def _logits(x):
    """Logits in float32 whatever the compute dtype (mixed precision)."""
    return layers.Activation("linear", dtype="float32", name="logits")(x)


def _bn_relu(x, name, momentum=0.99, affine=True):
    x = layers.BatchNormalization(momentum=momentum, center=affine, scale=affine, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _blog_body(inputs, make, blocks, width, _bn_relu):
    x = make.conv(16, 3, padding="same", name="conv_0")(inputs)
    x = _bn_relu(x, "conv_0")
    for group, base in enumerate((16, 32, 64), start=1):
        if group > 1:
            x = layers.MaxPooling2D(2, name=f"group{group}_pool")(x)
        filters = base * width
        for block in range(blocks):
            name = f"group{group}_block{block}"
            shortcut = x
            y = make.conv(filters, 3, padding="same", name=f"{name}_conv_a")(x)
            y = _bn_relu(y, f"{name}_conv_a")
            y = make.conv(filters, 3, padding="same", name=f"{name}_conv_b")(y)
            y = _bn_relu(y, f"{name}_conv_b")
            if x.shape[-1] != filters:
                shortcut = make.conv(filters, 1, padding="same", name=f"{name}_shortcut")(x)
            x = layers.Add(name=f"{name}_add")([shortcut, y])
    return x


def _standard_body(inputs, make, blocks, width, _bn_relu):
    x = make.conv(16, 3, padding="same", use_bias=False, name="conv_0")(inputs)
    for group, (base, stride) in enumerate(((16, 1), (32, 2), (64, 2)), start=1):
        filters = base * width
        for block in range(blocks):
            name = f"group{group}_block{block}"
            strides = stride if block == 0 else 1
            pre = _bn_relu(x, f"{name}_pre")
            y = make.conv(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv_a")(pre)
            y = _bn_relu(y, f"{name}_conv_a")
            y = make.conv(filters, 3, padding="same", use_bias=False, name=f"{name}_conv_b")(y)
            shortcut = x
            if x.shape[-1] != filters or strides != 1:
                shortcut = make.conv(filters, 1, strides=strides, use_bias=False, name=f"{name}_shortcut")(pre)
            x = layers.Add(name=f"{name}_add")([shortcut, y])
    return _bn_relu(x, "final")


@register_model("fc")
def fc(*, input_shape=(28, 28, 1), num_classes=10, masked=True, **mask_arguments):
    """LeNet 300-100 (the lottery-ticket and supermask papers' MNIST network)."""
    _check_classes(num_classes)
    make = _Factory(masked, mask_arguments)
    inputs = keras.Input(_check_shape(input_shape))
    x = layers.Flatten(name="flatten")(inputs)
    x = make.dense(300, activation="relu", name="dense_0")(x)
    x = make.dense(100, activation="relu", name="dense_1")(x)
    outputs = _logits(make.dense(num_classes, name="dense")(x))
    return keras.Model(inputs, outputs, name="fc")


def _conv_net(pairs, name, input_shape, num_classes, masked, mask_arguments):
    """Conv-2/4/6 of Frankle & Carbin (2019): pairs of 3x3 convs, max-pool, FC 256-256."""
    _check_classes(num_classes)
    shape = _check_shape(input_shape, min_side=2 ** pairs)
    make = _Factory(masked, mask_arguments)
    inputs = keras.Input(shape)
    x = inputs
    for pair, filters in enumerate((64, 128, 256)[:pairs]):
        for i in range(2):
            x = make.conv(filters, 3, padding="same", activation="relu", name=f"conv_{2 * pair + i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool_{pair}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = make.dense(256, activation="relu", name="dense_0")(x)
    x = make.dense(256, activation="relu", name="dense_1")(x)
    outputs = _logits(make.dense(num_classes, name="dense")(x))
    return keras.Model(inputs, outputs, name=name)


for _pairs in (1, 2, 3):
    def _builder(*, input_shape=(32, 32, 3), num_classes=10, masked=True, _pairs=_pairs, **mask_arguments):
        return _conv_net(_pairs, f"conv{2 * _pairs}", input_shape, num_classes, masked, mask_arguments)

    _builder.__doc__ = f"Conv-{2 * _pairs} (Frankle & Carbin 2019; Zhou et al. 2019)."
    register_model(f"conv{2 * _pairs}")(_builder)
