"""One trace per kind of step against one per arm: a width-axis cell run both ways, side by side.

The library compiles a training step once per kind of step and lets the
later arms of that kind train it (``experiment.programs.Program``): of a width-axis
cell's seven arms, ``mix``, ``random_mask`` and the extra fine-tuning rate's
two share one step and ``equal_cost`` shares ``weights``'s, so three steps
are traced instead of seven. Each backend, in a fresh process per run, trains
the cell (shortened by ``--epochs`` and ``--train-size``) twice per round,
interleaved:

    shared    the library as it is
    per-arm   every arm compiles its own step (``Programs.key`` made unique per arm), as before

and reports each way's wall time for the whole run, the arms' first epochs
(where the tracing shows), and whether both wrote the same histories.

    python benchmarks/bench_arm_traces.py                                     # width 1, shortened, every backend
    python benchmarks/bench_arm_traces.py --width 4 --epochs 3 --train-size 9000 --backends jax   # on a GPU
"""

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WAYS = ("shared", "per-arm")


def child(args):
    from supermask_lib.experiment import programs, runner as experiment
    from supermask_lib.study import scale
    from supermask_lib.experiment.provenance import environment

    axis, _ = scale.load_axis(args.params_dir, "cifar10", data_dir=args.data_dir)
    if args.width not in axis:
        raise SystemExit(f"--width {args.width} is not in the axis's {list(axis)}")
    config = axis[args.width].replace(epochs=args.epochs, mix_epochs=args.epochs, train_size=args.train_size,
                                      val_size=min(1000, args.train_size // 9), test_size=1000)
    if args.way == "per-arm":  # every arm its own step, as before steps were shared
        step_key = programs.Programs.key
        programs.Programs.key = lambda self, arm, rate: (arm.name, *step_key(self, arm, rate))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out_dir:
        result = experiment.run_experiment(config, out_dir, progress_bar=False)
        seconds = time.perf_counter() - started
        histories = {arm: history.drop(columns="seconds").to_dict(orient="list")
                     for arm, history in result.histories.items()}
        first = {arm: float(history["seconds"].iloc[0]) for arm, history in result.histories.items()}
        later = [float(s) for history in result.histories.values() for s in history["seconds"].iloc[1:]]
    print("RESULT " + json.dumps({"way": args.way, "model": config.model, "arms": list(histories),
                                  "run_seconds": seconds, "first_epoch_seconds": first,
                                  "later_epoch_median": statistics.median(later) if later else None,
                                  "histories": histories, "environment": environment()}, default=float), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1, help="the axis's width to train (params/scale-cifar10.yaml)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs of every arm (the axis trains 20 and 5)")
    parser.add_argument("--train-size", type=int, default=1000, help="training images (the axis trains 9,000)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each way, interleaved")
    parser.add_argument("--backends", nargs="+", default=None, help="default: TensorFlow and JAX, where installed")
    parser.add_argument("--data-dir", default=os.environ.get("SUPERMASK_DATA_DIR") or None)
    parser.add_argument("--params-dir", default=str(ROOT / "params"))
    parser.add_argument("--out-dir", type=Path, default=HERE / "results" / "traces")
    parser.add_argument("--way", choices=WAYS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name, value, least in (("--epochs", args.epochs, 1), ("--train-size", args.train_size, 100),
                               ("--rounds", args.rounds, 1)):
        if value < least:
            parser.error(f"{name} {value}: give at least {least}")
    if args.way:
        return child(args)
    backends = args.backends or [b for b in ("tensorflow", "jax") if importlib.util.find_spec(b) is not None]
    results = []
    for backend in backends:
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        runs = {way: [] for way in WAYS}
        for round_ in range(args.rounds):
            for way in WAYS:
                # JAX's compilation cache as a user has it (on), but empty at each run's start: within a run, the
                # per-arm way loads the programs an earlier arm compiled, and pays only their tracing again
                env["SUPERMASK_JAX_CACHE"] = tempfile.mkdtemp(prefix="bench-arm-traces-jax-")
                command = [sys.executable, str(Path(__file__).resolve()), "--way", way, "--width", str(args.width),
                           "--epochs", str(args.epochs), "--train-size", str(args.train_size),
                           "--params-dir", args.params_dir] + (["--data-dir", args.data_dir] if args.data_dir else [])
                done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT)
                shutil.rmtree(env["SUPERMASK_JAX_CACHE"], ignore_errors=True)
                if done.returncode != 0:
                    raise SystemExit(f"{backend} {way} failed (exit {done.returncode})")
                run = json.loads([x for x in done.stdout.splitlines() if x.startswith("RESULT ")][-1][7:])
                runs[way].append(run)
                print(f"== {backend} {way} round {round_}: {run['run_seconds']:.1f}s", flush=True)
        same = all(run["histories"] == runs["shared"][0]["histories"] for way in WAYS for run in runs[way])
        results.append({"backend": backend, "environment": runs["shared"][0]["environment"],
                        "same_histories": same, "runs": {way: [{k: v for k, v in run.items() if k != "histories"}
                                                               for run in runs[way]] for way in WAYS}})
    print(f"\nwidth {args.width}, {args.epochs} epoch(s) an arm, {args.train_size} images: median of {args.rounds} runs")
    print(f"{'backend':<12} {'device':<28} {'shared s':>9} {'per-arm s':>10} {'ratio':>6}  same histories")
    for result in results:
        shared, per_arm = (statistics.median(run["run_seconds"] for run in result["runs"][way]) for way in WAYS)
        result["median_run_seconds"] = {"shared": shared, "per-arm": per_arm}
        print(f"{result['backend']:<12} {result['environment']['device'][:28]:<28} {shared:>9.1f} {per_arm:>10.1f} "
              f"{per_arm / shared:>6.2f}  {result['same_histories']}")
    from supermask_lib.report.records import write_record

    out = write_record(args.out_dir, "traces", {"arguments": {k: (str(v) if isinstance(v, Path) else v)
                                                              for k, v in vars(args).items()
                                                              if k not in ("way", "out_dir")},
                                                "results": results})
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
