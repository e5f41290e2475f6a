"""BatchNorm's moving statistics recomputed on given images, weights and masks untouched ("precise BN").

The control for a fine-tuning phase at a rate too small to move the weights: if recomputing the masked
network's statistics alone gives the accuracy that fine-tuning gave, fine-tuning bought the statistics.
"""

import keras


def batchnorm_layers(model):
    """Every BatchNormalization layer of ``model``, nested models included."""
    return [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]


def recompute_statistics(model, images, batch_size=256):
    """Set each BatchNorm layer's moving mean and variance to the average, over ``images``' batches, of the batch
    statistics it sees in a training-mode forward pass, and return ``model``.

    Only the moving statistics change: no gradient is taken, and each layer's ``momentum`` and ``trainable``
    are restored afterwards (a frozen BatchNorm is recomputed too). Masked layers run in training mode as
    during training: a sampled estimator (Bernoulli) samples its masks.

    >>> import numpy as np
    >>> inputs = keras.Input((2,))
    >>> model = keras.Model(inputs, keras.layers.BatchNormalization()(inputs))
    >>> x = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0]], dtype="float32")
    >>> _ = recompute_statistics(model, x, batch_size=2)  # batch means (1, 2) and (5, 6): their average
    >>> keras.ops.convert_to_numpy(model.layers[1].moving_mean).tolist()
    [3.0, 4.0]
    """
    if int(batch_size) < 1:
        raise ValueError(f"batch_size={batch_size!r} is not allowed: give a positive number of images per batch")
    if len(images) == 0:
        raise ValueError("images has no image: the statistics need at least one batch")
    layers = batchnorm_layers(model)
    saved = [(layer.momentum, layer.trainable) for layer in layers]
    try:
        for layer in layers:
            layer.trainable = True  # Keras updates the moving statistics only of a trainable layer
        for count, start in enumerate(range(0, len(images), int(batch_size)), start=1):
            for layer in layers:
                layer.momentum = (count - 1) / count  # a running mean: every batch weighs the same
            model(images[start:start + int(batch_size)], training=True)
    finally:
        for layer, (momentum, trainable) in zip(layers, saved):
            layer.momentum, layer.trainable = momentum, trainable
    return model
