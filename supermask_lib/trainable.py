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

from supermask_lib import checks
from supermask_lib.layers import MASKED_LAYER_TYPES, masked_layers, walk_layers

TRAINABLE_SETS = ("scores", "weights", "all")


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
    if model.compiled:
        config = model.get_compile_config()
        if config is None:
            raise ValueError(
                "model was compiled without a serializable compile config, so "
                "set_trainable cannot recompile it; call model.compile(...) again "
                "after set_trainable."
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
