"""Phase control: which variables the next ``fit`` may change.

The study trains in three phases: the mask alone (weights frozen), the
weights alone, and the weights under a frozen mask. ``set_phase`` flips the
``trainable`` flag of individual variables (scores vs kernels and biases)
rather than of whole layers, so a layer stays in training mode for
BatchNorm-style behaviour while only some of its variables move.

Keras builds a model's train step and optimizer for the trainable variables
it sees when compiled, so changing flags needs a recompile. ``set_phase``
does that itself when the model is already compiled (same loss, metrics and
optimizer settings; fresh optimizer state), so the library's own helper
cannot leave a stale train step behind.
"""

from supermask_lib.layers import MASKED_LAYER_TYPES, walk_layers

PHASES = ("mask", "weights", "both")


def set_phase(model, phase, *, train_batchnorm=True):
    """Make ``model`` train its masks, its weights, or both.

    Args:
        model: a Keras model holding masked layers.
        phase: ``"mask"`` (scores trainable; kernels and biases frozen),
            ``"weights"`` (kernels and biases trainable; scores frozen) or
            ``"both"``.
        train_batchnorm: in the ``"mask"`` phase, whether the other layers
            with trainable weights (BatchNorm's γ and β) keep training. The
            study kept them training (True). With False their variables are
            frozen but BatchNorm still normalises with batch statistics and
            updates its moving averages, exactly as in the other phases.

    Returns the model, recompiled if it had been compiled.
    """
    if phase not in PHASES:
        raise ValueError(f"Unknown phase={phase!r}; allowed: {list(PHASES)}.")
    if not isinstance(train_batchnorm, bool):
        raise ValueError(
            f"train_batchnorm={train_batchnorm!r} is not allowed: give True or False."
        )
    train_scores = phase in ("mask", "both")
    train_weights = phase in ("weights", "both")
    train_others = train_weights or train_batchnorm
    if not any(isinstance(layer, MASKED_LAYER_TYPES) for layer in walk_layers(model)):
        raise ValueError(
            "model has no masked layers (MaskedConv2D or MaskedDense), so "
            f"phase={phase!r} cannot be applied."
        )
    model.trainable = True  # resets every variable flag; refined below
    for layer in walk_layers(model):
        if isinstance(layer, MASKED_LAYER_TYPES):
            for variable in (layer.kernel_scores, layer.bias_scores):
                if variable is not None:
                    variable.trainable = train_scores
            for variable in (layer._kernel, layer.bias):
                if variable is not None:
                    variable.trainable = train_weights
        elif not getattr(layer, "layers", None):
            for variable in layer._trainable_variables:
                variable.trainable = train_others
    if model.compiled:
        config = model.get_compile_config()
        if config is None:
            raise ValueError(
                "model was compiled without a serializable compile config, so "
                "set_phase cannot recompile it; call model.compile(...) again "
                "after set_phase."
            )
        model.compile_from_config(config)
    return model


def phase_of(model):
    """Infer the current phase from the flags (``None`` when mixed by hand)."""
    scores, weights = set(), set()
    for layer in walk_layers(model):
        if isinstance(layer, MASKED_LAYER_TYPES):
            scores.add(layer.kernel_scores.trainable)
            weights.add(layer._kernel.trainable)
    if len(scores) != 1 or len(weights) != 1:
        return None
    return {(True, False): "mask", (False, True): "weights", (True, True): "both"}.get(
        (scores.pop(), weights.pop())
    )
