"""What masking costs: training and inference steps of plain vs masked networks.

For each model, in one process and interleaved (the order of the variants is
shuffled in every repeat), the median over repeats of the time per step of

    (a) training the plain network (masked=False)
    (b) training the masked network in the mask phase
    (c) training the masked network's weights with its mask frozen (the mix arm's step;
        recorded as ``weights_train``, the name stored records carry)
    (d) inference of the plain, the masked and the collapsed (collapse_masks) network

plus the bytes of parameters and scores and the process's peak memory. Prints
a table of ratios against (a) (and against plain inference) and writes JSON.

    python benchmarks/bench_masking.py                         # defaults, a few minutes on a CPU
    python benchmarks/bench_masking.py --models wrn-16-2 --batch-sizes 128 --jit-compile true
"""

import argparse
import platform
import random
import resource
import statistics
import sys
import time
from pathlib import Path

import keras
import numpy as np

import supermask_lib as sm
from supermask_lib.models import get_model
from supermask_lib.experiment.provenance import environment
from supermask_lib.report.records import write_record

TARGETS = {"mask_train/plain_train": 1.15, "weights_train/plain_train": 1.15,
           "collapsed_infer/plain_infer": 1.05}


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _compiled(model, jit_compile):
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=jit_compile)
    return model


def _bytes(model):
    return int(sum(np.prod(v.shape) * np.dtype(v.dtype).itemsize for v in model.weights))


def bench_model(name, batch_size, steps, repeats, input_shape, jit_compile, seed):
    keras.utils.set_random_seed(seed)
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (batch_size, *input_shape)).astype("float32")
    y = rng.integers(0, 10, batch_size)
    plain = _compiled(get_model(name, input_shape=input_shape, masked=False), jit_compile)
    masked = get_model(name, input_shape=input_shape, masked=True)
    mask_phase = _compiled(keras.models.clone_model(masked), jit_compile)
    mask_phase.set_weights(masked.get_weights())
    sm.set_trainable(mask_phase, "scores")
    frozen_mask = _compiled(keras.models.clone_model(masked), jit_compile)
    frozen_mask.set_weights(masked.get_weights())
    sm.set_trainable(frozen_mask, "weights")
    collapsed = _compiled(sm.collapse_masks(mask_phase), jit_compile)

    variants = {
        "plain_train": lambda: plain.train_on_batch(x, y),
        "mask_train": lambda: mask_phase.train_on_batch(x, y),
        "weights_train": lambda: frozen_mask.train_on_batch(x, y),  # the mix arm's step
        "plain_infer": lambda: plain.predict_on_batch(x),
        "masked_infer": lambda: mask_phase.predict_on_batch(x),
        "collapsed_infer": lambda: collapsed.predict_on_batch(x),
    }
    for run in variants.values():  # compile and warm up
        run(), run()
    warmup_seconds = time.perf_counter() - started
    times = {k: [] for k in variants}
    order = list(variants)
    for _ in range(repeats):
        random.shuffle(order)
        for key in order:
            started = time.perf_counter()
            for _ in range(steps):
                out = variants[key]()
            keras.ops.convert_to_numpy(out if not isinstance(out, (list, tuple)) else out[0])
            times[key].append((time.perf_counter() - started) / steps)
    median = {k: statistics.median(v) for k, v in times.items()}
    maskable = sum(int(np.prod(v.shape)) for layer in sm.masked_layers(masked) for v in layer.weight_variables)
    return {
        "model": name, "batch_size": batch_size, "steps": steps, "repeats": repeats,
        "seconds_per_step": median, "all_seconds_per_step": times,
        "images_per_second": {k: batch_size / v for k, v in median.items()},
        "build_compile_warmup_seconds": warmup_seconds,
        "ratios": {
            "mask_train/plain_train": median["mask_train"] / median["plain_train"],
            "weights_train/plain_train": median["weights_train"] / median["plain_train"],
            "masked_infer/plain_infer": median["masked_infer"] / median["plain_infer"],
            "collapsed_infer/plain_infer": median["collapsed_infer"] / median["plain_infer"],
        },
        "bytes": {"plain_parameters": _bytes(plain), "masked_parameters_and_scores": _bytes(masked),
                  "maskable_weights": maskable, "score_bytes": _bytes(masked) - _bytes(plain)},
        "extra_values_per_maskable_weight": (masked.count_params() - plain.count_params()) / maskable,
        "peak_rss_mb_after": _peak_rss_mb(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["wrn-16-2", "wrn-28-8"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[64, 8],
                        help="one per model (WRN-28-8 is heavy on a CPU)")
    parser.add_argument("--steps", type=int, default=3, help="steps per timed block")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--input-shape", type=int, nargs=3, default=[32, 32, 3])
    parser.add_argument("--jit-compile", choices=["auto", "true", "false"], default="auto")
    parser.add_argument("--mixed-precision", choices=["none", "bfloat16", "float16"], default="none",
                        help="Keras dtype policy mixed_<this> (the full profile uses bfloat16)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results",
                        help="where the record goes (a new <kind>-<UTC time>.json; never one that exists)")
    parser.add_argument("--kind", default=None, help="the record's kind (default <backend>-<machine>)")
    args = parser.parse_args(argv)
    if len(args.batch_sizes) not in (1, len(args.models)):
        parser.error(f"--batch-sizes needs 1 or {len(args.models)} values, got {args.batch_sizes}")
    batch_sizes = args.batch_sizes * (len(args.models) if len(args.batch_sizes) == 1 else 1)
    jit = {"auto": "auto", "true": True, "false": False}[args.jit_compile]
    if args.mixed_precision != "none":
        keras.config.set_dtype_policy(f"mixed_{args.mixed_precision}")
    env = environment()
    results = []
    started = time.perf_counter()
    for name, batch_size in zip(args.models, batch_sizes):
        print(f"benchmarking {name} (batch {batch_size}) ...", flush=True)
        results.append(bench_model(name, batch_size, args.steps, args.repeats, tuple(args.input_shape), jit, args.seed))
    report = {"environment": env, "jit_compile": args.jit_compile, "mixed_precision": args.mixed_precision,
              "targets": TARGETS, "results": results,
              "wall_seconds": time.perf_counter() - started, "command": " ".join(sys.argv)}

    header = f"{'model':<10} {'batch':>5} {'plain train s':>13} {'mask img/s':>10} {'mask/plain':>10} {'weights/plain':>13} " \
             f"{'masked inf/plain':>16} {'collapsed inf/plain':>19} {'scores/weight':>13} {'peak RSS MB':>11}"
    print(f"\n{env['backend']} {env['backend_version']} on {env['device']}, jit_compile={args.jit_compile}, "
          f"mixed_precision={args.mixed_precision}")
    print(header)
    for r in results:
        q = r["ratios"]
        print(f"{r['model']:<10} {r['batch_size']:>5} {r['seconds_per_step']['plain_train']:>13.4f} "
              f"{r['images_per_second']['mask_train']:>10.1f} "
              f"{q['mask_train/plain_train']:>10.3f} {q['weights_train/plain_train']:>13.3f} "
              f"{q['masked_infer/plain_infer']:>16.3f} {q['collapsed_infer/plain_infer']:>19.3f} "
              f"{r['extra_values_per_maskable_weight']:>13.3f} {r['peak_rss_mb_after']:>11.0f}")
    out = write_record(args.out_dir, args.kind or f"{env['backend']}-{platform.machine()}", report)
    print(f"\nwrote {out} ({report['wall_seconds']:.0f}s)")


if __name__ == "__main__":
    main()
