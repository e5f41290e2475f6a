"""Export the found subnetwork as an ordinary Keras model."""

import keras

from supermask_lib.layers import MASK_ARGUMENTS, MASKED_LAYER_TYPES, MaskedConv2D, masked_layers, walk_layers


def plain_layer_config(layer):
    """The layer's config without the mask arguments (valid for its Keras twin)."""
    config = layer.get_config()
    for key in MASK_ARGUMENTS:
        config.pop(key, None)
    return config


def collapse_masks(model):
    """An ordinary Keras model with ``kernel * mask`` (and ``bias * mask``) baked in.

    Masked layers become plain ``Conv2D``/``Dense`` layers of the same name
    holding the inference-time effective weights; every other layer is cloned
    with its weights. The result predicts what ``model`` predicts at inference
    and loads without this library.

    >>> import keras, numpy as np
    >>> from supermask_lib import MaskedDense, collapse_masks
    >>> model = keras.Sequential([keras.Input((4,)), MaskedDense(3)])
    >>> plain = collapse_masks(model)
    >>> [type(layer).__name__ for layer in plain.layers]
    ['Dense']
    >>> x = np.ones((1, 4), "float32")
    >>> bool(np.allclose(keras.ops.convert_to_numpy(plain(x)), keras.ops.convert_to_numpy(model(x))))
    True
    """
    return _plain_copy(model, apply_mask=True)


def unmasked_copy(model):
    """The same network with plain layers and the *raw* (unmasked) weights.

    The experiment's weights phase starts from exactly the initial weights of
    the masked network, with no mask at all.
    """
    return _plain_copy(model, apply_mask=False)


def _plain_copy(model, apply_mask):
    if not masked_layers(model):
        raise ValueError(f"model={model.name!r} has no masked layers; nothing to collapse.")

    def clone(layer):
        if isinstance(layer, MASKED_LAYER_TYPES):
            cls = keras.layers.Conv2D if isinstance(layer, MaskedConv2D) else keras.layers.Dense
            return cls.from_config(plain_layer_config(layer))
        return layer.__class__.from_config(layer.get_config())

    plain = keras.models.clone_model(model, clone_function=clone)
    for source, target in zip(walk_layers(model), walk_layers(plain)):
        if isinstance(source, MASKED_LAYER_TYPES):
            target.set_weights(source.weight_arrays(apply_mask))
        elif source.weights:
            target.set_weights(source.get_weights())
    return plain
