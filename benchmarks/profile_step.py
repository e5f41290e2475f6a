"""Where a mask-phase training step's time goes, by each backend's own profiler.

    python benchmarks/profile_step.py [--profile quick] [--dataset mnist] [--steps 10] [--out DIR]

The quick profile's network, batch and optimiser, one mask-phase step at a time
(``train_on_batch`` on a fixed batch, after warm-up steps), traced by the
TensorFlow profiler and by JAX's, each backend in its own process. Each op's self
time is put in one category: convolutions and matmuls, the mask's arithmetic
(sigmoid, compare, multiply in the masked layers), BatchNorm, the optimizer, the
rest; on TensorFlow also the threads' idle time. XLA on the CPU fuses the mask,
BatchNorm and optimizer arithmetic into one kernel per fusion, so on JAX those
three are one category. Prints a table and writes ``profile-<time>.json``.
"""

import argparse
import collections
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MASKED_SCOPE = re.compile(r"/(conv_\d+|group\d+_block\d+_(conv_[ab]|shortcut)|dense)(_\d+)?/")


def tensorflow_category(op_type, name):
    if op_type == "IDLE":
        return "idle threads"
    if "Conv2D" in op_type or "MatMul" in op_type:
        return "convolutions and matmuls"
    if "_bn" in name:
        return "BatchNorm"
    if re.match(r"(gradient_tape/)?(adam|sgd)/", name) or "/adam/" in name:
        return "optimizer"
    if MASKED_SCOPE.search(name):
        return "mask arithmetic"
    return "other ops (ReLU, pooling, loss, gradient sums)"


def jax_category(name):
    if name.startswith("$") or "::" in name or name.startswith(("Pjit", "Common", "Thunk")):
        return None  # Python frames and the runtime's own spans, which contain the ops
    if "ynn" in name or "convolution" in name or name.startswith("dot"):
        return "convolutions and matmuls"
    if "transpose" in name or "copy" in name:
        return "layout copies (transpose, copy)"
    if "fusion" in name:
        return "fused elementwise (mask, BatchNorm, optimizer)"
    return "other XLA ops"


def _xspace(log_dir):
    return glob.glob(os.path.join(log_dir, "**", "*.xplane.pb"), recursive=True)[-1]


def _tensorflow_split(log_dir):
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin

    data, _ = plugin.xspace_to_tools_data([_xspace(log_dir)], "framework_op_stats", {})
    table = json.loads(data)[0]
    columns = [c["id"] for c in table["cols"]]
    split = collections.Counter()
    for row in table["rows"]:
        values = dict(zip(columns, [cell.get("v") if cell else None for cell in row["c"]]))
        split[tensorflow_category(values["type"], values["operation"])] += values["total_self_time"]
    return split


def _jax_split(log_dir):
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin

    data, _ = plugin.xspace_to_tools_data([_xspace(log_dir)], "trace_viewer@", {})
    split = collections.Counter()
    for event in json.loads(data)["traceEvents"]:
        if event.get("ph") == "X":
            category = jax_category(event["name"])
            if category:
                split[category] += event.get("dur", 0.0)
    return split


def child(args):
    """One backend (KERAS_BACKEND is set by the parent): trace ``args.steps`` steps, print JSON."""
    import keras
    import numpy as np

    from supermask_lib.experiment.profiles import Profile
    from supermask_lib.experiment.engine import compile_model, set_determinism
    from supermask_lib.experiment.arms import ARMS
    from supermask_lib.models import get_model
    from supermask_lib.trainable import set_trainable

    config = Profile.load(ROOT / "params", args.profile, args.dataset).config
    # JAX always compiles; TensorFlow runs ops, not one XLA cluster (the same speed here), so they can be named.
    config = config.replace(jit_compile=keras.backend.backend() == "jax")
    set_determinism(config)
    shape = {"mnist": (28, 28, 1), "cifar10": (32, 32, 3)}[args.dataset]
    model = get_model(config.model, input_shape=shape, **config.model_arguments(), **config.mask_arguments())
    set_trainable(model, "scores", train_batchnorm=config.train_batchnorm)
    compile_model(model, config, ARMS["mask"].learning_rate(config))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(config.batch_size, *shape)).astype("float32")
    y = rng.integers(0, 10, config.batch_size)
    for _ in range(5):
        model.train_on_batch(x, y)
    log_dir = tempfile.mkdtemp()
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        start, stop, split = (lambda: tf.profiler.experimental.start(log_dir)), tf.profiler.experimental.stop, \
            _tensorflow_split
    else:
        import jax

        start, stop, split = (lambda: jax.profiler.start_trace(log_dir)), jax.profiler.stop_trace, _jax_split
    started = time.perf_counter()
    for _ in range(args.steps):
        model.train_on_batch(x, y)
    plain_seconds = time.perf_counter() - started
    start()
    for _ in range(args.steps):
        model.train_on_batch(x, y)
    stop()
    shares = split(log_dir)
    print(json.dumps({"backend": keras.backend.backend(), "model": config.model, "batch_size": config.batch_size,
                      "steps": args.steps, "ms_per_step": 1000 * plain_seconds / args.steps,
                      "op_microseconds": dict(shares)}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "cifar10"])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax"])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "profile"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    results = []
    for backend in args.backends:
        command = [sys.executable, __file__, "--child", "--profile", args.profile, "--dataset", args.dataset,
                   "--steps", str(args.steps)]
        done = subprocess.run(command, env={**os.environ, "KERAS_BACKEND": backend}, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{backend}: failed\n{done.stderr[-2000:]}")
            continue
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    from supermask_lib.experiment.provenance import environment

    for result in results:
        total = sum(result["op_microseconds"].values())
        print(f"\n{result['backend']}: {result['model']}, batch {result['batch_size']}, "
              f"{result['ms_per_step']:.1f} ms per step (untraced)")
        for category, micros in sorted(result["op_microseconds"].items(), key=lambda kv: -kv[1]):
            print(f"  {micros / total:6.1%}  {category}")
    from supermask_lib.report.records import write_record

    path = write_record(Path(args.out), f"profile-{args.dataset}", {
        "profile": args.profile, "dataset": args.dataset, "environment": environment(), "results": results})
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
