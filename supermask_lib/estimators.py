"""Mask estimators: functions from real-valued scores to a 0/1 mask.

Every estimator returns a tensor whose *forward value* is an exact 0/1 mask and
whose *gradient* with respect to the scores is a surrogate (straight-through).
The trick used throughout is ``hard + (soft - stop_gradient(soft))``: the
bracket is exactly zero in the forward pass, so the mask is exactly binary,
and its derivative is the derivative of ``soft``.

An estimator has the signature ``fn(scores, *, training, options, seed_generator)``
and is registered with :func:`register_estimator`: adding one is one function
and one decorator. The post's "Intermediate Loss Sampling" (``"ils"``) has no
``soft`` twin; its backward pass is a custom gradient.
"""

import functools
import math

import keras
from keras import ops
from keras import random

from supermask_lib import checks
from supermask_lib.devices import accelerators

ESTIMATORS = {}  #: name -> estimator function (filled by :func:`register_estimator`)
BERNOULLI_EVAL_MODES = ("threshold", "sample")  #: inference masks of the sampled estimators
SAMPLED_ESTIMATORS = ("bernoulli", "ils")  #: a fresh draw at every training step
TOPK_SELECTIONS = ("largest_k", "top_k")  #: the two ways ``topk`` selects (:func:`topk_selection`)
TOPK_SELECTION = None  #: None: by device (see topk_selection); or one of TOPK_SELECTIONS


def register_estimator(name):
    """Register ``fn`` under ``name`` so layers can select it by string."""

    def decorator(fn):
        ESTIMATORS[name] = fn
        return fn

    return decorator


def check_estimator(name, label="estimator"):
    """A registered estimator's name (``label`` is how the caller calls the parameter)."""
    return checks.choice(label, name, sorted(ESTIMATORS))


def check_estimator_options(threshold, keep_fraction, bernoulli_eval, ils_step=0.01, prefix=""):
    """The options the estimators read, normalised; ``prefix`` qualifies the names in errors."""
    return {
        "ils_step": checks.number(
            f"{prefix}ils_step", ils_step, 0.0, 1.0,
            allowed="a number in (0, 1), the SGD step c of Intermediate Loss Sampling"),
        "threshold": checks.number(
            f"{prefix}threshold", threshold, 0.0, 1.0,
            allowed="a number in the open interval (0, 1), compared against sigmoid(score)"),
        "keep_fraction": checks.number(
            f"{prefix}keep_fraction", keep_fraction, 0.0, 1.0, high_open=False,
            allowed="a number in (0, 1], the fraction of weights the topk estimator keeps"),
        "bernoulli_eval": checks.choice(f"{prefix}bernoulli_eval", bernoulli_eval, BERNOULLI_EVAL_MODES,
                                        allowed=f"one of {list(BERNOULLI_EVAL_MODES)} (the inference mask "
                                                "of the sampled estimators, bernoulli and ils)"),
    }


def _straight_through(hard, soft):
    """Forward ``hard`` exactly, backward the gradient of ``soft``."""
    hard = ops.cast(hard, soft.dtype)
    return hard + (soft - ops.stop_gradient(soft))


@register_estimator("threshold")
def threshold_mask(scores, *, training, options, seed_generator=None):
    """The post's estimator: forward ``1[σ(s) > τ]``, backward ``σ'(s)``."""
    prob = ops.sigmoid(scores)
    return _straight_through(prob > options["threshold"], prob)


@register_estimator("bernoulli")
def bernoulli_mask(scores, *, training, options, seed_generator=None):
    """Zhou et al.: forward a Bernoulli(σ(s)) draw, backward ``σ'(s)``.

    At inference ``options["bernoulli_eval"]`` chooses between the
    deterministic ``σ(s) > 0.5`` mask (``"threshold"``) and a fresh draw
    (``"sample"``).
    """
    prob = ops.sigmoid(scores)
    if training or options["bernoulli_eval"] == "sample":
        uniform = random.uniform(ops.shape(prob), seed=seed_generator, dtype=prob.dtype)
        hard = uniform < prob
    else:
        hard = prob > 0.5
    return _straight_through(hard, prob)


@register_estimator("ils")
def ils_mask(scores, *, training, options, seed_generator=None):
    """Intermediate Loss Sampling (the post's author): forward a Bernoulli(σ(s)) draw itself.

    Backward, per weight, with categories (keep, drop), ``π_keep = σ(s)``, the
    draw ``d`` and the upstream gradient ``g = ∂L/∂mask``: project
    ``(g, 0)`` onto the simplex's tangent at the draw, take one SGD step of
    size ``c = options["ils_step"]`` from ``d`` and normalise, which gives
    ``π_D,keep = 1 / (1 + c·g)`` after a keep and ``-c·g / (1 - c·g)`` after
    a drop; the gradient of the intermediate loss ``KL(π_D ‖ π)`` with
    respect to the score is ``σ(s) - π_D,keep``. (This is the logits'
    gradient; the author's code returns ``-π_D / (π + 1e-7)`` instead.) Its
    expectation over the draw is ``c·g`` to first order in ``c``: the
    straight-through gradient scaled by ``c``. Inference as ``bernoulli``.
    """
    prob = ops.sigmoid(scores)
    if not training and options["bernoulli_eval"] == "threshold":
        return ops.cast(prob > 0.5, scores.dtype)
    uniform = random.uniform(ops.shape(prob), seed=seed_generator, dtype=prob.dtype)
    return _ils_draw(scores, ops.cast(uniform < prob, scores.dtype), options["ils_step"])


def ils_target(draw, upstream, step):
    """``π_D,keep``: where one SGD step of size ``step`` on the upstream gradient moves the draw."""
    move = step * upstream
    return ops.where(draw > 0.5, 1.0 / _away_from_zero(1.0 + move), -move / _away_from_zero(1.0 - move))


def _away_from_zero(x, eps=1e-6):
    return ops.where(ops.abs(x) < eps, ops.where(x < 0, -eps, eps), x)


@ops.custom_gradient
def _ils_draw_op(scores, draw, step):
    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        return ops.sigmoid(scores) - ils_target(draw, upstream, step), ops.zeros_like(draw), ops.zeros_like(step)

    return draw, grad


def _ils_draw(scores, draw, step):
    # A tensor, not the layer's Variable: PyTorch's autograd.Function (Keras's custom_gradient there) tracks
    # only tensor arguments, and with the Variable itself the scores got no gradient at all.
    scores = ops.convert_to_tensor(scores)
    return _ils_draw_op(scores, draw, ops.convert_to_tensor(step, dtype=scores.dtype))


def topk_count(size, keep_fraction):
    """Number of weights edge-popup keeps: ``round(keep_fraction * size)``, at least 1.

    Rounds half up (not Python's banker's rounding) so the count is what a
    reader computes by hand.
    """
    return max(1, min(size, math.floor(keep_fraction * size + 0.5)))


def largest_k(values, k):
    """0/1 over a 1-D tensor of values >= 0: its ``k`` largest, ties kept in index order.

    The same selection as ``top_k(values, k)`` (whose ties go to the lower
    index) without its partial sort, which on a CPU, for edge-popup's
    k = n/2, costs more than the rest of a small network's step: the k-th
    largest value is found bit by bit from the top of its float32 pattern
    (order-preserving for values >= 0), 31 counts over the tensor; the ties
    at that value are then filled in index order. Exact for every float32,
    subnormals included (TensorFlow's ``top_k`` flushes those to zero).
    """
    bits = ops.view(ops.cast(values, "float32"), "int32")
    kth = ops.zeros((), "int32")
    for bit in range(30, -1, -1):
        candidate = kth | (1 << bit)
        kth = ops.where(ops.sum(ops.cast(bits >= candidate, "int32")) >= k, candidate, kth)
    above, tied = bits > kth, bits == kth
    room = k - ops.sum(ops.cast(above, "int32"))
    return ops.logical_or(above, ops.logical_and(tied, ops.cumsum(ops.cast(tied, "int32")) <= room))


def largest_k_by_top_k(values, k):
    """The same 0/1 selection as :func:`largest_k`, by the backend's ``top_k`` indices, scattered.

    On PyTorch by a stable sort instead: ``torch.topk`` leaves the order of ties open (on a CPU it keeps
    others than the lower indices), and Keras's ``argsort`` there is stable.
    """
    if keras.backend.backend() == "torch":
        indices = ops.argsort(ops.negative(values))[:k]
    else:
        _, indices = ops.top_k(values, k=k, sorted=False)
    return ops.scatter(ops.expand_dims(indices, -1), ops.ones((k,), dtype=values.dtype), ops.shape(values)) > 0


@functools.cache
def _has_accelerator():
    return bool(accelerators())


def topk_selection():
    """How ``topk`` picks its k largest: ``TOPK_SELECTION``, or by where the step runs.

    ``largest_k`` on a CPU (3.6x faster than ``top_k`` on TensorFlow, 17x on
    JAX, for LeNet's 784x300 layer); ``top_k`` on an accelerator, where its
    sort is one kernel and largest_k's 31 counts are 31 launches (1.5x to 2x
    slower on an H100 with JAX). ``benchmarks/bench_topk.py`` measures both.
    """
    if TOPK_SELECTION is not None:
        return checks.choice("estimators.TOPK_SELECTION", TOPK_SELECTION, TOPK_SELECTIONS)
    return "top_k" if _has_accelerator() else "largest_k"


@register_estimator("topk")
def topk_mask(scores, *, training, options, seed_generator=None):
    """Edge-popup: keep the ``keep_fraction`` largest ``|s|`` of the layer; backward straight through to ``|s|``.

    As in edge-popup's code (``GetSubnet.apply(scores.abs(), k)``), the
    gradient passes through the absolute value, ``∂L/∂s = ∂L/∂mask · sign(s)``:
    with scores of both signs, a gradient to ``s`` itself would move every
    negative score the wrong way. Ties at the k-th value keep the lower
    index; the two ways of selecting (:func:`topk_selection`) give the same mask.
    """
    magnitude = ops.abs(scores)
    flat = ops.reshape(magnitude, (-1,))
    select = {"largest_k": largest_k, "top_k": largest_k_by_top_k}[topk_selection()]
    hard = select(flat, topk_count(int(flat.shape[0]), options["keep_fraction"]))
    return _straight_through(ops.reshape(hard, ops.shape(scores)), magnitude)
