"""The input path's share of a training epoch, with the augmentation on the host and in the step, per backend.

For a profile's configuration (its network, data, batch size and
augmentation), each backend in a fresh process times mask-phase epochs
three ways, interleaved, after a warm-up epoch of each:

    host   the batches augmented on the host (EpochBatches' reference path) and handed to a plain step
    step   raw batches handed to a step that augments them (what the library trains with)
    bare   one fixed, already-made batch for every step: the step alone, no input path

and reports each path's epoch against the step alone: the input path's share
of an epoch is ``1 - steps x step time / epoch time``, with the step time
measured by ``bare`` on the same step (plain for ``host``, augmenting for ``step``),
and 0 where the epoch came out no slower than the bare step (timing noise).

    python benchmarks/bench_input_path.py                           # quick MNIST, every installed backend
    python benchmarks/bench_input_path.py --profile full --dataset mnist --backends jax   # on a GPU
"""

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PATHS = ("host", "step")


def child(args):
    import keras
    import numpy as np

    from supermask_lib.experiment import batches as batches_lib
    from supermask_lib.experiment.arms import ARMS
    from supermask_lib.experiment import engine
    from supermask_lib.experiment.callbacks import SetEpoch
    from supermask_lib.experiment.runner import _load_data
    from supermask_lib.models import get_model
    from supermask_lib.experiment.profiles import Profile
    from supermask_lib.experiment.provenance import environment
    from supermask_lib.trainable import set_trainable

    config = next(iter(Profile.load(args.params_dir, args.profile, args.dataset).configs.values()))
    dataset = _load_data(config)
    engine.set_determinism(config)

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._started)

    class Fixed(keras.utils.PyDataset):
        """One made batch for every step: the step's own time, nothing before it."""

        def __init__(self, x, y, steps):
            super().__init__()
            self.batch, self.steps = (x, y), steps

        def __len__(self):
            return self.steps

        def __getitem__(self, index):
            return self.batch

    with engine.precision(config):
        network = get_model(config.model, input_shape=dataset.input_shape, num_classes=dataset.num_classes,
                            **config.model_arguments(), **config.mask_arguments())
        set_trainable(network, "scores", train_batchnorm=config.train_batchnorm)
        engine.compile_model(network, config, ARMS["mask"].learning_rate(config))

        def augmentation():
            return batches_lib.make_augmentation(config.augment_flip, config.augment_rotation, config.augment_shift)

        raw = batches_lib.EpochBatches(dataset.x_train, dataset.y_train, config.batch_size, seed=config.seed,
                                       max_batches=config.max_steps_per_epoch)
        host = batches_lib.EpochBatches(dataset.x_train, dataset.y_train, config.batch_size, seed=config.seed,
                                        augmentation=augmentation(), max_batches=config.max_steps_per_epoch)
        trainer = batches_lib.augmenting_trainer(network, augmentation(), len(raw), raw.seed)
        steps = len(raw)
        x0, y0 = raw[0]
        if keras.backend.backend() == "jax":  # already on the device: the bare step moves nothing
            x0 = keras.ops.convert_to_tensor(x0)
        setups = {  # path -> (model fitted, batches, SetEpoch's arguments)
            "host": (network, host, (host,)),
            "step": (trainer, raw, (raw, trainer.augmentation)),
            "bare host": (network, Fixed(x0, y0, steps), (raw,)),
            "bare step": (trainer, Fixed(x0, y0, steps), (raw, trainer.augmentation)),
        }
        seconds = {name: [] for name in setups}
        for repeat in range(args.epochs + 1):  # the first round traces and warms up: left out
            for name, (model, batches, set_epoch) in setups.items():
                clock = Clock()
                model.fit(batches, epochs=repeat + 1, initial_epoch=repeat, shuffle=False, verbose=0,
                          callbacks=[SetEpoch(*set_epoch), clock])
                if repeat:
                    seconds[name].extend(clock.seconds)
                print(f"   {keras.backend.backend():<10} {name:<10} round {repeat}: {clock.seconds[-1]:.2f}s",
                      file=sys.stderr, flush=True)
    result = {"profile": args.profile, "dataset": args.dataset, "model": config.model, "steps": steps,
              "batch_size": config.batch_size, "environment": environment(), "epoch_seconds": seconds, "paths": {}}
    for path in PATHS:
        epoch, bare = statistics.median(seconds[path]), statistics.median(seconds[f"bare {path}"])
        result["paths"][path] = {"epoch_seconds": epoch, "step_seconds": bare / steps,
                                 "input_share": max(0.0, 1.0 - bare / epoch)}
    print("RESULT " + json.dumps(result), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per path, after one warm-up round")
    parser.add_argument("--backends", nargs="+", default=None, help="default: TensorFlow and JAX, where installed")
    parser.add_argument("--params-dir", default=str(ROOT / "params"))
    parser.add_argument("--out-dir", type=Path, default=HERE / "results" / "input")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs {args.epochs}: give at least 1")
    if args.child:
        return child(args)
    backends = args.backends or [b for b in ("tensorflow", "jax") if importlib.util.find_spec(b) is not None]
    results = []
    for backend in backends:
        print(f"== {backend}", flush=True)
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        command = [sys.executable, str(Path(__file__).resolve()), "--child", "--profile", args.profile,
                   "--dataset", args.dataset, "--epochs", str(args.epochs), "--params-dir", args.params_dir]
        done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        if done.returncode != 0:
            raise SystemExit(f"{backend} failed (exit {done.returncode})")
        results.append(json.loads([x for x in done.stdout.splitlines() if x.startswith("RESULT ")][-1][7:]))
    print(f"\n{args.profile} {args.dataset}: median of {args.epochs} epochs per path")
    print(f"{'backend':<12} {'device':<28} {'path':<6} {'epoch s':>8} {'step ms':>8} {'input share':>12}")
    for result in results:
        for path, row in result["paths"].items():
            print(f"{result['environment']['backend']:<12} {result['environment']['device'][:28]:<28} {path:<6} "
                  f"{row['epoch_seconds']:>8.2f} {row['step_seconds'] * 1000:>8.1f} {row['input_share']:>12.1%}")
    from supermask_lib.report.records import write_record

    out = write_record(args.out_dir, "input", {"arguments": {k: v for k, v in vars(args).items()
                                                             if k not in ("child", "out_dir")},
                                               "results": results})
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
