"""Masked Conv2D and Dense layers: frozen random weights times a learned 0/1 mask.

Each layer is a drop-in subclass of its Keras twin (same constructor
arguments) that also holds one real-valued *score* per weight. The forward
pass uses ``kernel * mask(kernel_scores)`` (and ``bias * mask(bias_scores)``
when ``mask_bias``), where ``mask`` is one of the estimators of
:mod:`supermask_lib.estimators`. Which variables train is decided by
:func:`supermask_lib.trainable.set_trainable`, not here.
"""

import random
import warnings

import keras
from keras import ops

from supermask_lib import checks
from supermask_lib.estimators import ESTIMATORS, SAMPLED_ESTIMATORS, check_estimator, check_estimator_options

# The constructor arguments a masked layer adds to its Keras twin.
MASK_ARGUMENTS = ("estimator", "threshold", "keep_fraction", "score_init", "mask_bias",
                  "bernoulli_eval", "ils_step", "dynamic_rescaling", "score_decay", "seed")


def check_score_init(score_init, name="score_init"):
    """A number (the constant initial score) or a Keras initializer (name or config dict).

    Checked without touching any random state: building an unseeded Keras
    initializer draws its seed from Python's ``random``, and a check must not
    shift the draws of the initialisation that follows it.
    """
    given, score_init = score_init, checks.plain(score_init)
    if checks.is_number(score_init):
        return float(score_init)
    if isinstance(score_init, (str, dict, keras.initializers.Initializer)):
        state = random.getstate()
        try:
            keras.initializers.get(score_init)
            return score_init
        except (ValueError, TypeError):
            pass
        finally:
            random.setstate(state)
    checks.fail(name, given, "a number (the study uses 1.0) or a Keras initializer name or config dict")


def check_score_decay(score_decay, name="score_decay"):
    """A non-negative L2 coefficient on the scores (0: none)."""
    return checks.number(name, score_decay, 0.0, 1.0, low_open=False,
                         allowed="a number in [0, 1), the scores' L2 weight decay (0: none)")


def _score_initializer(score_init):
    if isinstance(score_init, float):
        return keras.initializers.Constant(score_init)
    return keras.initializers.get(score_init)


def _rescaling(mask):
    """Zhou et al.'s dynamic weight rescaling: weights ÷ weights kept in this mask, a constant for the gradient."""
    kept = ops.maximum(ops.sum(ops.stop_gradient(mask)), 1.0)
    return ops.cast(ops.size(mask), mask.dtype) / kept


class _MaskMixin:
    """State, arithmetic and (de)serialisation shared by the masked layers.

    Placed before the Keras layer in the bases: it takes the mask arguments
    and passes everything else to ``Conv2D`` or ``Dense``.
    """

    def __init__(self, *args, estimator="threshold", threshold=0.5, keep_fraction=0.5,
                 score_init=1.0, mask_bias=True, bernoulli_eval="threshold", ils_step=0.01,
                 dynamic_rescaling=False, score_decay=0.0, seed=None, **kwargs):
        if kwargs.get("lora_rank"):
            raise ValueError(
                f"lora_rank={kwargs['lora_rank']!r} is not supported by masked "
                "layers: the mask applies to the kernel itself. Use lora_rank=None."
            )
        self.estimator = check_estimator(estimator)
        options = check_estimator_options(threshold, keep_fraction, bernoulli_eval, ils_step)
        score_init = check_score_init(score_init)
        if estimator == "topk" and isinstance(score_init, float):
            warnings.warn(
                f"estimator='topk' with a constant score_init={score_init!r}: every |score| ties, "
                "so the first mask keeps the first weights in memory order. Start from random "
                "scores on a scale well above the learning rate, e.g. "
                "score_init=keras.initializers.RandomUniform(0.0, 1.0).",
                stacklevel=3,
            )
        self.threshold = options["threshold"]
        self.keep_fraction = options["keep_fraction"]
        self.bernoulli_eval = options["bernoulli_eval"]
        self.ils_step = options["ils_step"]
        self.score_init = score_init
        self.score_initializer = _score_initializer(score_init)
        self.mask_bias = checks.boolean("mask_bias", mask_bias)
        self.dynamic_rescaling = checks.boolean("dynamic_rescaling", dynamic_rescaling)
        self.score_decay = check_score_decay(score_decay)
        self.seed = seed
        self.seed_generator = (
            keras.random.SeedGenerator(seed) if estimator in SAMPLED_ESTIMATORS else None
        )
        super().__init__(*args, **kwargs)

    def build(self, input_shape):
        super().build(input_shape)
        # PyTorch's SGD weight_decay (edge-popup's): λ·s added to the scores' gradient.
        decay = keras.regularizers.L2(self.score_decay / 2) if self.score_decay else None
        self.kernel_scores = self.add_weight(
            name="kernel_scores",
            shape=tuple(self._kernel.shape),
            initializer=self.score_initializer,
            regularizer=decay,
            trainable=True,
        )
        self.bias_scores = None
        if self.mask_bias and self.bias is not None:
            self.bias_scores = self.add_weight(
                name="bias_scores",
                shape=tuple(self.bias.shape),
                initializer=self.score_initializer,
                regularizer=decay,
                trainable=True,
            )

    @property
    def estimator_options(self):
        """What the estimator function reads (see :mod:`supermask_lib.estimators`)."""
        return {
            "threshold": self.threshold,
            "keep_fraction": self.keep_fraction,
            "bernoulli_eval": self.bernoulli_eval,
            "ils_step": self.ils_step,
        }

    @property
    def weight_variables(self):
        """The frozen-at-init weights the mask multiplies, ``[kernel]`` or ``[kernel, bias]``."""
        return [v for v in (self._kernel, self.bias) if v is not None]

    @property
    def score_variables(self):
        """The mask's scores, ``[kernel_scores]`` or ``[kernel_scores, bias_scores]``."""
        return [v for v in (self.kernel_scores, self.bias_scores) if v is not None]

    def compute_mask_of(self, scores, training=False):
        """The 0/1 mask of ``scores`` (straight-through gradient when differentiated)."""
        return ESTIMATORS[self.estimator](
            scores,
            training=training,
            options=self.estimator_options,
            seed_generator=self.seed_generator,
        )

    def effective_kernel(self, training=False):
        mask = self.compute_mask_of(self.kernel_scores, training)
        if self.dynamic_rescaling:
            return self._kernel * (mask * _rescaling(mask))
        return self._kernel * mask

    def effective_bias(self, training=False):
        if self.bias is None:
            return None
        if self.bias_scores is None:
            return self.bias
        return self.bias * self.compute_mask_of(self.bias_scores, training)

    def hard_masks(self):
        """The inference-time masks as NumPy arrays: ``(kernel_mask, bias_mask or None)``.

        Sampled estimators (bernoulli, ils) report their deterministic ``σ(s) > 0.5`` mask here,
        whatever ``bernoulli_eval`` says, so statistics and exports are
        reproducible.
        """
        def one(scores):
            if self.estimator in SAMPLED_ESTIMATORS:
                return (ops.convert_to_numpy(ops.sigmoid(scores)) > 0.5).astype("float32")
            return ops.convert_to_numpy(self.compute_mask_of(scores, training=False))

        bias_mask = None if self.bias_scores is None else one(self.bias_scores)
        return one(self.kernel_scores), bias_mask

    def shuffle_scores(self, rng):
        """Permute each score tensor at random (a NumPy ``Generator``): for the deterministic
        estimators the mask keeps the same fraction of this layer, at random positions."""
        for variable in self.score_variables:
            values = ops.convert_to_numpy(variable)
            variable.assign(rng.permutation(values.reshape(-1)).reshape(values.shape))

    def weight_arrays(self, apply_mask):
        """``[kernel]`` or ``[kernel, bias]`` as NumPy: raw, or times the inference mask (export)."""
        arrays = [ops.convert_to_numpy(v) for v in self.weight_variables]
        if apply_mask:
            masks = self.hard_masks()
            arrays = [a if m is None else a * m for a, m in zip(arrays, masks)]
            if self.dynamic_rescaling:
                arrays[0] = arrays[0] * float(ops.convert_to_numpy(_rescaling(ops.convert_to_tensor(masks[0]))))
        return arrays

    def get_config(self):
        config = {**super().get_config(), **{name: getattr(self, name) for name in MASK_ARGUMENTS}}
        if not isinstance(self.score_init, float):
            config["score_init"] = keras.initializers.serialize(self.score_initializer)
        return config

    # Conv2D and Dense save only kernel and bias; the generic Layer methods
    # save every variable the layer created, scores included.
    def save_own_variables(self, store):
        keras.layers.Layer.save_own_variables(self, store)

    def load_own_variables(self, store):
        keras.layers.Layer.load_own_variables(self, store)


@keras.saving.register_keras_serializable(package="supermask")
class MaskedConv2D(_MaskMixin, keras.layers.Conv2D):
    """``keras.layers.Conv2D`` whose kernel (and bias) is multiplied by a learned mask.

    Keyword Args:
        estimator: ``"threshold"`` (default), ``"bernoulli"``, ``"ils"`` or ``"topk"``.
        threshold: τ in ``1[σ(s) > τ]`` for the threshold estimator.
        keep_fraction: fraction of weights kept by ``"topk"``.
        score_init: initial score (number) or Keras initializer; 1.0 keeps
            every weight at the start, as in the study.
        mask_bias: also mask the bias (the study did).
        bernoulli_eval: inference mask of ``"bernoulli"`` and ``"ils"``: ``"threshold"`` or ``"sample"``.
        ils_step: the SGD step c of Intermediate Loss Sampling (``"ils"``).
        dynamic_rescaling: multiply the masked kernel by (weights ÷ weights kept),
            Zhou et al.'s DWR, so the layer's output scale does not shrink with the mask.
        score_decay: L2 on the scores, as PyTorch's SGD ``weight_decay``
            (edge-popup's 1e-4); 0 switches it off.
        seed: seed of the Bernoulli (and ILS) draws.
    """

    def call(self, inputs, training=None):
        outputs = self.convolution_op(inputs, self.effective_kernel(training))
        bias = self.effective_bias(training)
        if bias is not None:
            if self.data_format == "channels_last":
                bias_shape = (1,) * (self.rank + 1) + (self.filters,)
            else:
                bias_shape = (1, self.filters) + (1,) * self.rank
            outputs = ops.add(outputs, ops.reshape(bias, bias_shape))
        if self.activation is not None:
            return self.activation(outputs)
        return outputs


@keras.saving.register_keras_serializable(package="supermask")
class MaskedDense(_MaskMixin, keras.layers.Dense):
    """``keras.layers.Dense`` whose kernel (and bias) is multiplied by a learned mask.

    Takes ``Dense``'s arguments plus the mask arguments of :class:`MaskedConv2D`.
    Scores start at ``score_init``; at -1, σ(-1) < 0.5 masks every weight:

    >>> import keras, numpy as np
    >>> from supermask_lib import MaskedDense
    >>> layer = MaskedDense(2, score_init=-1.0)
    >>> keras.ops.convert_to_numpy(layer(np.ones((1, 3), "float32"))).tolist()
    [[0.0, 0.0]]
    """

    def call(self, inputs, training=None):
        outputs = ops.matmul(inputs, self.effective_kernel(training))
        bias = self.effective_bias(training)
        if bias is not None:
            outputs = ops.add(outputs, bias)
        if self.activation is not None:
            return self.activation(outputs)
        return outputs


MASKED_LAYER_TYPES = (MaskedConv2D, MaskedDense)


def masked_layers(model):
    """Every masked layer of ``model`` (nested models included), in model order."""
    return [layer for layer in walk_layers(model) if isinstance(layer, MASKED_LAYER_TYPES)]


def walk_layers(model):
    for layer in getattr(model, "layers", ()):
        yield layer
        yield from walk_layers(layer)
