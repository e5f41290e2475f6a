"""What the mask did: per-layer utilisation as a pandas DataFrame."""

import numpy as np
import pandas as pd

from supermask_lib.layers import MaskedConv2D, masked_layers


def layer_kind(layer):
    """``"conv"``, ``"conv_1x1"`` (e.g. a projection shortcut) or ``"dense"``."""
    if isinstance(layer, MaskedConv2D):
        return "conv_1x1" if tuple(layer.kernel_size) == (1, 1) else "conv"
    return "dense"


def mask_utilization(model):
    """One row per masked layer, in model order.

    Columns: ``index, name, kind, kernel_shape, n_weights, n_masked,
    fraction_masked`` for the kernel, then ``n_bias, n_bias_masked,
    bias_fraction_masked`` for the bias mask (zeros/NaN where the bias is
    not masked). "Masked" means zero in the current inference mask.

    >>> import keras, numpy as np
    >>> from supermask_lib import MaskedDense, fraction_kept, mask_utilization
    >>> model = keras.Sequential([keras.Input((4,)), MaskedDense(3, name="fc")])
    >>> _ = model.layers[0].kernel_scores.assign(np.tile([[1.0], [-1.0]], (2, 3)))  # rows 1 and 3 below 0.5
    >>> row = mask_utilization(model).loc[0]
    >>> row["name"], row["kind"], int(row["n_weights"]), int(row["n_masked"]), fraction_kept(model)
    ('fc', 'dense', 12, 6, 0.5)
    """
    layers = masked_layers(model)
    if not layers:
        raise ValueError(
            f"model={getattr(model, 'name', model)!r} has no masked layers "
            "(MaskedConv2D or MaskedDense); mask_utilization needs at least one."
        )
    rows = []
    for index, layer in enumerate(layers):
        kernel_mask, bias_mask = layer.hard_masks()
        n_weights = int(kernel_mask.size)
        n_masked = int(n_weights - np.count_nonzero(kernel_mask))
        n_bias = 0 if bias_mask is None else int(bias_mask.size)
        n_bias_masked = 0 if bias_mask is None else int(n_bias - np.count_nonzero(bias_mask))
        rows.append({
            "index": index,
            "name": layer.name,
            "kind": layer_kind(layer),
            "kernel_shape": tuple(int(d) for d in kernel_mask.shape),
            "n_weights": n_weights,
            "n_masked": n_masked,
            "fraction_masked": n_masked / n_weights,
            "n_bias": n_bias,
            "n_bias_masked": n_bias_masked,
            "bias_fraction_masked": n_bias_masked / n_bias if n_bias else float("nan"),
        })
    return pd.DataFrame(rows).set_index("index")


def fraction_kept(model_or_table):
    """Fraction of all masked kernel weights that the mask keeps.

    Takes a model or a :func:`mask_utilization` table (e.g. a run's CSV).
    """
    table = model_or_table if isinstance(model_or_table, pd.DataFrame) else mask_utilization(model_or_table)
    return float(1.0 - table["n_masked"].sum() / table["n_weights"].sum())
