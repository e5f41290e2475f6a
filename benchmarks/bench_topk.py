"""Edge-popup's mask selection: the backend's ``top_k`` against ``largest_k``, side by side.

For every backend installed here (each in a subprocess of its own, with
``KERAS_BACKEND`` set) and each of edge-popup's networks in the literature
profiles (LeNet 300-100 on MNIST-shaped input, Conv-6 on CIFAR-shaped input):

    select   the selection alone on the network's largest layer, compiled,
             forward and backward: ms per call
    step     a mask-phase training step (SGD, batch 128) of the whole network
             with each selection: ms per step, and the losses of the two
             over the same steps from the same initialisation (the same
             masks, so the same numbers)

``top_k`` is the estimator as it was before ``largest_k`` (the indices of
``top_k``, scattered), which ``topk`` still uses on an accelerator
(``estimators.topk_selection``); both run in one process, interleaved. Prints a
table and writes ``topk-<time>.json`` (one file for all backends).

    python benchmarks/bench_topk.py                      # about three minutes on 2 CPU cores
    python benchmarks/bench_topk.py --backends jax --steps 50 --repeats 7
"""

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_backends import installed_backends

HERE = Path(__file__).resolve().parent
NETWORKS = {"fc": (28, 28, 1), "conv6": (32, 32, 3)}
SELECTIONS = {"top_k": "topk_by_top_k", "largest_k": "topk_by_largest_k"}  # estimators.TOPK_SELECTIONS: the estimator it trains with


def _forced(selection, scores, **arguments):
    """The library's topk estimator with ``selection`` whatever the device (it is read as the step is traced)."""
    from supermask_lib import estimators

    previous, estimators.TOPK_SELECTION = estimators.TOPK_SELECTION, selection
    try:
        return estimators.ESTIMATORS["topk"](scores, **arguments)
    finally:
        estimators.TOPK_SELECTION = previous


def _register_selections():
    from supermask_lib.estimators import register_estimator

    for selection, estimator in SELECTIONS.items():
        register_estimator(estimator)(functools.partial(_forced, selection))


def _value_and_gradient(loss):
    """``s -> (loss(s), dloss/ds)`` on this backend."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.value_and_grad(loss)
    if backend == "tensorflow":
        import tensorflow as tf

        def tensorflow_value_and_gradient(s):
            with tf.GradientTape() as tape:
                tape.watch(s)
                value = loss(s)
            return value, tape.gradient(value, s)

        return tensorflow_value_and_gradient
    import torch

    def torch_value_and_gradient(s):
        s = s.detach().requires_grad_(True)
        value = loss(s)
        return value, torch.autograd.grad(value, s)[0]

    return torch_value_and_gradient


def _compiled(fn):
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(fn)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.function(fn)
    return fn


def _timed(fn, calls, sync):
    started = time.perf_counter()
    for _ in range(calls):
        result = fn()
    sync(result)
    return (time.perf_counter() - started) / calls


def _selection_ms(shape, keep_fraction, repeats, calls):
    """Forward and backward of each estimator on one layer's scores, compiled."""
    import keras
    import numpy as np
    from keras import ops

    from supermask_lib.estimators import ESTIMATORS

    scores = ops.convert_to_tensor(np.random.default_rng(0).uniform(-1, 1, shape).astype("float32"))
    upstream = ops.convert_to_tensor(np.random.default_rng(1).normal(size=shape).astype("float32"))
    options = {"keep_fraction": keep_fraction}
    functions, masks = {}, {}
    for name, estimator in SELECTIONS.items():
        loss = lambda s, estimator=estimator: ops.sum(  # noqa: E731
            ESTIMATORS[estimator](s, training=True, options=options) * upstream)
        functions[name] = _compiled(_value_and_gradient(loss))
        masks[name] = keras.ops.convert_to_numpy(ESTIMATORS[estimator](scores, training=True, options=options))
    sync = lambda result: keras.ops.convert_to_numpy(result[1])  # noqa: E731
    times = {name: [] for name in SELECTIONS}
    for name, fn in functions.items():
        sync(fn(scores))  # trace and compile
    for _ in range(repeats):
        for name, fn in functions.items():
            times[name].append(_timed(lambda fn=fn: fn(scores), calls, sync))
    return {"shape": list(shape), "same_mask": bool(np.array_equal(masks["top_k"], masks["largest_k"])),
            "ms": {name: 1000 * statistics.median(values) for name, values in times.items()}}


def _step_ms(network, keep_fraction, batch_size, steps, repeats, seed):
    """ms per mask-phase step of the whole network with each selection; the losses of both."""
    import keras
    import numpy as np

    from supermask_lib.models import get_model
    from supermask_lib.trainable import set_trainable

    shape = NETWORKS[network]
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (batch_size * steps, *shape)).astype("float32")
    y = rng.integers(0, 10, batch_size * steps)
    models, losses = {}, {}
    for name, estimator in SELECTIONS.items():
        keras.utils.set_random_seed(seed)  # the same weights and scores for both
        model = get_model(network, input_shape=shape, estimator=estimator, keep_fraction=keep_fraction,
                          score_init="he_uniform")
        set_trainable(model, "scores")
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile="auto")
        history = model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)  # also the warm-up
        losses[name] = float(history.history["loss"][0])
        models[name] = model
    times = {name: [] for name in SELECTIONS}
    for _ in range(repeats):
        for name, model in models.items():
            started = time.perf_counter()
            model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
            times[name].append((time.perf_counter() - started) / steps)
    largest = max((layer.kernel_scores for layer in models["largest_k"].layers if hasattr(layer, "kernel_scores")),
                  key=lambda v: int(np.prod(v.shape)))
    return {"network": network, "input_shape": list(shape), "batch_size": batch_size, "steps": steps,
            "largest_layer": list(largest.shape), "first_epoch_loss": losses,
            "ms": {name: 1000 * statistics.median(values) for name, values in times.items()}}


def child(args):
    """One backend (set by the parent): every network, print one JSON line."""
    import keras

    from supermask_lib.experiment.provenance import environment

    _register_selections()
    rows = []
    for network in args.networks:
        print(f"   {keras.backend.backend():<11} {network:<6} ...", file=sys.stderr, flush=True)
        step = _step_ms(network, args.keep_fraction, args.batch_size, args.steps, args.repeats, args.seed)
        select = _selection_ms(tuple(step["largest_layer"]), args.keep_fraction, args.repeats, args.calls)
        rows.append({**step, "select": select})
        print(f"   {keras.backend.backend():<11} {network:<6} step {step['ms']['top_k']:8.2f} -> "
              f"{step['ms']['largest_k']:8.2f} ms   select {select['ms']['top_k']:7.3f} -> "
              f"{select['ms']['largest_k']:7.3f} ms", file=sys.stderr, flush=True)
    print(json.dumps({"environment": environment(), "rows": rows}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=None, help="default: every one installed")
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--keep-fraction", type=float, default=0.5, help="edge-popup's k (the quick profile's 0.5)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed epoch")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20, help="selection calls per timed block")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=HERE / "results" / "topk")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    from supermask_lib.report.records import write_record

    out = None
    arguments = {k: v for k, v in vars(args).items() if k not in ("child", "out_dir")}
    results = {}
    for backend in args.backends or installed_backends():
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
               "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
        passed = list(argv if argv is not None else sys.argv[1:])
        print(f"== {backend}", flush=True)
        done = subprocess.run([sys.executable, __file__, *passed, "--child"], env=env, stdout=subprocess.PIPE, text=True)
        if done.returncode != 0:
            print(f"   {backend} failed (exit {done.returncode}); its rows are left out", flush=True)
            continue
        results[backend] = json.loads(done.stdout.strip().splitlines()[-1])
        out = write_record(args.out_dir, "topk", {"arguments": arguments, "backends": results}, path=out)  # each kept
    print(f"\nms per call, top_k -> largest_k (keep {args.keep_fraction}, batch {args.batch_size})")
    print(f"{'backend':<12} {'network':<8} {'step top_k':>11} {'largest_k':>10} {'x':>6} "
          f"{'select top_k':>13} {'largest_k':>10} {'x':>6}  same losses")
    for backend, report in results.items():
        for row in report["rows"]:
            step, select = row["ms"], row["select"]["ms"]
            same = row["first_epoch_loss"]["top_k"] == row["first_epoch_loss"]["largest_k"]
            print(f"{backend:<12} {row['network']:<8} {step['top_k']:>11.2f} {step['largest_k']:>10.2f} "
                  f"{step['top_k'] / step['largest_k']:>6.2f} {select['top_k']:>13.3f} {select['largest_k']:>10.3f} "
                  f"{select['top_k'] / select['largest_k']:>6.2f}  {same}")
    print(f"\nwrote {out}" if out else "\nno backend finished; nothing written")


if __name__ == "__main__":
    main()
