"""Backend-neutral helpers shared by several test files (gradients need each backend's autodiff)."""

import contextlib

import keras
import numpy as np

import supermask_lib as sm
from supermask_lib.estimators import topk_count


def gradients(loss_fn, variables):
    """Gradients of the scalar ``loss_fn()`` with respect to Keras ``variables``, as NumPy."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn()
        grads = tape.gradient(loss, [v.value for v in variables])
    elif backend == "jax":
        import jax

        values = [v.value for v in variables]

        def pure(vals):
            with keras.StatelessScope(state_mapping=list(zip(variables, vals))):
                return loss_fn()

        grads = jax.grad(pure)(values)
    elif backend == "torch":
        import torch

        loss = loss_fn()
        grads = torch.autograd.grad(loss, [v.value for v in variables])
    else:  # pragma: no cover
        raise NotImplementedError(backend)
    return [np.asarray(keras.ops.convert_to_numpy(g), dtype="float64") for g in grads]


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype="float64")))


def conv2d_reference(x, kernel, bias=None, padding="valid"):
    """Direct float64 convolution (stride 1, channels-last), the textbook sum."""
    x = np.asarray(x, dtype="float64")
    kernel = np.asarray(kernel, dtype="float64")
    kh, kw, _, _ = kernel.shape
    if padding == "same":
        ph, pw = (kh - 1) // 2, (kw - 1) // 2
        x = np.pad(x, ((0, 0), (ph, kh - 1 - ph), (pw, kw - 1 - pw), (0, 0)))
    n, h, w, _ = x.shape
    oh, ow = h - kh + 1, w - kw + 1
    out = np.zeros((n, oh, ow, kernel.shape[-1]))
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("nhwc,cf->nhwf", x[:, i:i + oh, j:j + ow, :], kernel[i, j])
    if bias is not None:
        out += np.asarray(bias, dtype="float64")
    return out


class StopAfterEpochs(keras.callbacks.Callback):
    """Raises after ``n`` epochs of this process: a crash between two commits."""

    class Interrupted(RuntimeError):
        pass

    def __init__(self, n):
        super().__init__()
        self.n, self.seen = n, 0

    def on_epoch_end(self, epoch, logs=None):
        self.seen += 1
        if self.seen >= self.n:
            raise self.Interrupted(f"interrupted after epoch {epoch + 1}")


def random_scores(layer, rng, scale=1.0):
    """Replace the constant initial scores by random ones so the mask is mixed."""
    layer.kernel_scores.assign(rng.normal(0, scale, layer.kernel_scores.shape).astype("float32"))
    if layer.bias_scores is not None:
        layer.bias_scores.assign(rng.normal(0, scale, layer.bias_scores.shape).astype("float32"))
    if layer.bias is not None:
        layer.bias.assign(rng.normal(0, 1, layer.bias.shape).astype("float32"))


def reference_mask(layer, scores):
    scores = np.asarray(keras.ops.convert_to_numpy(scores), dtype="float64")
    if layer.estimator == "threshold":
        return (sigmoid(scores) > layer.threshold).astype("float64")
    if layer.estimator in ("bernoulli", "ils"):  # inference, bernoulli_eval="threshold"
        return (sigmoid(scores) > 0.5).astype("float64")
    flat = np.abs(scores).ravel()
    keep = np.argsort(-flat, kind="stable")[: topk_count(flat.size, layer.keep_fraction)]
    mask = np.zeros(flat.size)
    mask[keep] = 1.0
    return mask.reshape(scores.shape)


def small_masked_model(estimator="threshold"):
    """A 3x3 conv, BatchNorm, a 1x1 conv and a dense layer: one masked layer of each kind."""
    inputs = keras.Input((8, 8, 3))
    x = sm.MaskedConv2D(4, 3, estimator=estimator, padding="same", name="c3")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = sm.MaskedConv2D(5, 1, estimator=estimator, name="c1")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = sm.MaskedDense(3, estimator=estimator, mask_bias=False, name="fc")(x)
    return keras.Model(inputs, outputs)


@contextlib.contextmanager
def killed_during_commit(monkeypatch, when):
    """Inside the block, the first manifest commit for which ``when(manifest)`` holds raises KeyboardInterrupt, as
    a kill between an epoch's saved state and its commit would; every other write goes through, and the real
    writer is back after the block."""
    from supermask_lib.experiment import runs, storage

    real_write, fired = storage.write_json, []

    def flaky(path, values):
        if path.name == "manifest.json" and not fired and when(values):
            fired.append(path)
            raise KeyboardInterrupt("killed during the commit")
        return real_write(path, values)

    monkeypatch.setattr(runs, "write_json", flaky)
    try:
        yield
    finally:
        monkeypatch.setattr(runs, "write_json", real_write)
