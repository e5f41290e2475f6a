"""Which variables the next ``fit`` may change: the scores, the weights, or all.

The names say what trains, so they cannot be confused with the study's
phases (the experiment's "weights" phase trains a plain network; its "mix"
phase is ``set_trainable(model, "weights")`` on the masked one).
``set_trainable`` flips the ``trainable`` flag of individual variables
rather than of whole layers, so a layer stays in training mode for
BatchNorm-style behaviour while only some of its variables move.

Keras builds a model's train step and optimizer for the trainable variables
it sees when compiled, so changing flags needs a recompile.
``set_trainable`` does that itself when the model is already compiled (same
loss, metrics and optimizer settings; fresh optimizer state), so the
library's own helper cannot leave a stale train step behind.
"""

import keras

from supermask_lib import checks
from supermask_lib.layers import MASKED_LAYER_TYPES, masked_layers, walk_layers

TRAINABLE_SETS = ("scores", "weights", "all")  #: what :func:`set_trainable` accepts as ``which``


def set_trainable(model, which, *, train_batchnorm=True):
    """Make ``model`` train its mask scores, its weights, or both.

    Args:
        model: a Keras model holding masked layers.
        which: ``"scores"`` (the mask's scores; kernels and biases frozen),
            ``"weights"`` (kernels and biases; scores, hence the mask, frozen)
            or ``"all"``.
        train_batchnorm: with ``"scores"``, whether the other layers with
            trainable weights (BatchNorm's γ and β) keep training. The study
            kept them training (True). With False their variables are frozen
            but BatchNorm still normalises with batch statistics and updates
            its moving averages, exactly as otherwise.

    Returns the model, recompiled if it had been compiled.

    >>> import keras
    >>> from supermask_lib import MaskedDense, set_trainable, trainable_set_of
    >>> model = keras.Sequential([keras.Input((4,)), MaskedDense(3)])
    >>> sorted(v.name for v in set_trainable(model, "scores").trainable_variables)
    ['bias_scores', 'kernel_scores']
    >>> trainable_set_of(model)
    'scores'
    >>> set_trainable(model, "everything")
    Traceback (most recent call last):
    ValueError: which='everything' is not allowed: one of ['scores', 'weights', 'all'].
    """
    which = checks.choice("which", which, TRAINABLE_SETS)
    train_batchnorm = checks.boolean("train_batchnorm", train_batchnorm)
    if not masked_layers(model):
        raise ValueError(
            "model has no masked layers (MaskedConv2D or MaskedDense), so "
            f"which={which!r} cannot be applied."
        )
    train_scores = which in ("scores", "all")
    train_weights = which in ("weights", "all")
    train_others = train_weights or train_batchnorm
    model.trainable = True  # resets every variable flag; refined below
    for layer in walk_layers(model):
        if isinstance(layer, MASKED_LAYER_TYPES):
            for variable in layer.score_variables:
                variable.trainable = train_scores
            for variable in layer.weight_variables:
                variable.trainable = train_weights
        elif not getattr(layer, "layers", None):
            for variable in layer.trainable_weights:
                variable.trainable = train_others
    return _recompiled(model)


def set_batchnorm_only(model):
    """Only BatchNorm's γ and β train; every kernel, bias and score is frozen.

    The control of Frankle, Schwab & Morcos (2021): how far do the affine
    parameters of BatchNorm alone take a network with frozen random weights?
    Works on masked and plain networks; recompiles a compiled model.
    """
    batchnorms = [layer for layer in walk_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]
    if not batchnorms:
        raise ValueError(f"model={model.name!r} has no BatchNormalization layer, so nothing would train.")
    model.trainable = True
    for layer in walk_layers(model):
        if not getattr(layer, "layers", None):
            for variable in layer.trainable_weights:
                variable.trainable = layer in batchnorms
    return _recompiled(model)


def _recompiled(model):
    if model.compiled:
        config = model.get_compile_config()
        if config is None:
            raise ValueError(
                "model was compiled without a serializable compile config, so "
                "its trainable variables cannot change; call model.compile(...) again "
                "after changing them."
            )
        model.compile_from_config(config)
    return model


def trainable_set_of(model):
    """Which set trains now, read from the flags (``None`` when mixed by hand)."""
    scores, weights = set(), set()
    for layer in masked_layers(model):
        scores.update(v.trainable for v in layer.score_variables)
        weights.update(v.trainable for v in layer.weight_variables)
    if len(scores) != 1 or len(weights) != 1:
        return None
    return {(True, False): "scores", (False, True): "weights", (True, True): "all"}.get(
        (scores.pop(), weights.pop())
    )
