"""The quick profile's training, before and after a speed change, side by side in one run.

Trains every configuration of the quick profile (the experiment on each
dataset, then the estimator comparison: what ``make report`` trains) once per
variant, each variant in a fresh process of its own, alternating the order in
every repeat, into a temporary folder. For each it records the wall time of
every ``run_experiment`` and the sum of its epochs' seconds, checks that every
variant trained to the same numbers, and prints the ratios against ``before``.

    python benchmarks/bench_quick_profile.py                      # the whole quick profile, ~15 min on 2 cores
    python benchmarks/bench_quick_profile.py --epochs 3 --repeats 2 --variants before after

Variants:
    before            the library at --before-revision (default c03081c, the
                      last commit before the speed work): batches handed to Keras
                      with one worker, augmented by eager layers, topk by top_k
    after-one-worker  the library here with one worker: every change but the prefetch threads
    after             the library here: compiled augmentation, two prefetch threads,
                      topk by largest_k on a CPU
    after-inter-op-1  as after, and TensorFlow's inter-op thread pool at one thread
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BEFORE_REVISION = "c03081c"
VARIANTS = {  # workers: batches.PREFETCH_WORKERS (None: the library's choice); env: added to the child's
    "before": {"workers": None, "env": {}, "library": "--before-revision"},
    "after-one-worker": {"workers": 1, "env": {}},
    "after": {"workers": None, "env": {}},
    "after-inter-op-1": {"workers": None, "env": {"TF_NUM_INTEROP_THREADS": "1"}},
}
JOBS = ("mnist", "cifar10", "estimators")  # report.run_notebooks's order


def _profile_configs(params_dir, profile, job):
    """A profile's configurations through the library being measured: the 'before' variant imports a
    revision from before supermask_lib.profiles, which loaded profiles with config.load_profile."""
    try:
        from supermask_lib.experiment.profiles import Profile  # 0.3: the harness is its own package
    except ImportError:
        try:
            from supermask_lib.profiles import Profile  # the flat 0.2 package
        except ImportError:
            from supermask_lib.config import load_profile, profile_configs

            return profile_configs(load_profile(params_dir, profile, job), Path(params_dir) / f"{profile}-{job}.yaml")

        return profile_configs(load_profile(params_dir, profile, job), Path(params_dir) / f"{profile}-{job}.yaml")
    return Profile.load(params_dir, profile, job).configs


def _configs(profile, jobs, params_dir, epochs):
    configs = {}
    for job in jobs:
        for name, config in _profile_configs(params_dir, profile, job).items():
            if epochs is not None:
                config = config.replace(epochs=min(config.epochs, epochs),
                                        mix_epochs=min(config.mix_epochs, epochs))
            configs[job if name is None else f"{job}/{name}"] = config
    return configs


def child(args):
    """One variant in this process: train every configuration, print one JSON line."""
    import supermask_lib
    try:  # 0.3: the harness is its own package
        from supermask_lib.experiment import batches, data
        from supermask_lib.experiment.provenance import environment
        from supermask_lib.experiment.runner import run_experiment
    except ImportError:  # an older revision: the flat package
        from supermask_lib import data
        from supermask_lib.experiment import run_experiment
        from supermask_lib.provenance import environment
        try:
            from supermask_lib import batches
        except ImportError:
            batches = None

    # Where the batches live: supermask_lib.experiment.batches now, supermask_lib.data at older revisions.
    (batches if batches is not None else data).PREFETCH_WORKERS = VARIANTS[args.child]["workers"]
    rows = {}
    with tempfile.TemporaryDirectory(prefix="bench-quick-") as out_dir:
        for label, config in _configs(args.profile, args.jobs, args.params_dir, args.epochs).items():
            started = time.perf_counter()
            with open(os.devnull, "w") as quiet:
                result = run_experiment(config, out_dir, progress_bar=False, stream=quiet)
            wall = time.perf_counter() - started
            histories = result.histories
            rows[label] = {
                "wall_seconds": wall,
                "epoch_seconds": [float(s) for h in histories.values() for s in h["seconds"]],
                "numbers": {arm: [round(float(v), 6) for v in h["loss"]] + [round(float(v), 6) for v in h["val_accuracy"]]
                            for arm, h in histories.items()},
            }
            print(f"   {args.child:<17} {label:<22} {wall:7.1f}s wall, "
                  f"{sum(rows[label]['epoch_seconds']):7.1f}s in {len(rows[label]['epoch_seconds'])} epochs "
                  f"(median {statistics.median(rows[label]['epoch_seconds']):.2f}s)",
                  file=sys.stderr, flush=True)
    print("RESULT " + json.dumps({"variant": args.child, "library": str(Path(supermask_lib.__file__).parent),
                                  "environment": environment(), "configs": rows}), flush=True)


def _library_at(revision, folder):
    """``supermask_lib`` as it was at ``revision``, unpacked into ``folder`` (for PYTHONPATH)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "supermask_lib"],
                             stdout=subprocess.PIPE, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def _run_variant(variant, args, old_library):
    command = [sys.executable, str(Path(__file__).resolve()), "--child", variant, "--profile", args.profile,
               "--params-dir", args.params_dir, "--jobs", *args.jobs]
    if args.epochs is not None:
        command += ["--epochs", str(args.epochs)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **VARIANTS[variant]["env"]}
    library = old_library if VARIANTS[variant].get("library") else ROOT  # not whichever one is installed
    env["PYTHONPATH"] = os.pathsep.join([str(library), env.get("PYTHONPATH", "")])
    if library == old_library:
        env["SUPERMASK_GIT_REVISION"] = args.before_revision
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"variant {variant!r} failed (exit {done.returncode})")
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=["before", "after"], choices=sorted(VARIANTS))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--params-dir", default=str(ROOT / "params"))
    parser.add_argument("--jobs", nargs="+", default=list(JOBS), help="profile files: datasets and 'estimators'")
    parser.add_argument("--epochs", type=int, default=None, help="cap every arm's epochs (a shorter check)")
    parser.add_argument("--before-revision", default=BEFORE_REVISION, help="the library of the 'before' variant")
    parser.add_argument("--out-dir", type=Path, default=HERE / "results" / "quick")
    parser.add_argument("--child", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    if "before" not in args.variants:
        parser.error("--variants must include 'before', the baseline of the ratios")
    if args.repeats < 1:
        parser.error(f"--repeats {args.repeats}: give at least 1")

    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-before-") as folder:
        old_library = _library_at(args.before_revision, folder)
        for repeat in range(args.repeats):
            order = args.variants if repeat % 2 == 0 else args.variants[::-1]
            for variant in order:
                print(f"== repeat {repeat + 1}/{args.repeats}: {variant}", flush=True)
                runs.append(_run_variant(variant, args, old_library))

    reference = runs[0]["configs"]
    same = all(run["configs"][label]["numbers"] == reference[label]["numbers"] for run in runs for label in reference)
    summary = {}
    for variant in args.variants:
        mine = [run["configs"] for run in runs if run["variant"] == variant]
        summary[variant] = {
            "training_seconds": statistics.median(sum(sum(r["epoch_seconds"]) for r in c.values()) for c in mine),
            "wall_seconds": statistics.median(sum(r["wall_seconds"] for r in c.values()) for c in mine),
            "median_epoch_seconds": statistics.median(s for c in mine for r in c.values() for s in r["epoch_seconds"]),
        }
    base = summary["before"]
    print(f"\nquick profile's training ({', '.join(args.jobs)}; epochs capped at {args.epochs}; "
          f"median of {args.repeats} repeat(s)); every variant trained to the same numbers: {same}")
    print(f"{'variant':<18} {'training s':>10} {'wall s':>8} {'median epoch s':>15} {'training x':>11} {'wall x':>7}")
    for variant, row in summary.items():
        row["speed_up_training"] = base["training_seconds"] / row["training_seconds"]
        row["speed_up_wall"] = base["wall_seconds"] / row["wall_seconds"]
        print(f"{variant:<18} {row['training_seconds']:>10.1f} {row['wall_seconds']:>8.1f} "
              f"{row['median_epoch_seconds']:>15.2f} {row['speed_up_training']:>11.2f} {row['speed_up_wall']:>7.2f}")
    from supermask_lib.report.records import write_record

    out = write_record(args.out_dir, f"quick-{runs[0]['environment']['backend']}", {
        "arguments": {k: v for k, v in vars(args).items() if k not in ("child", "out_dir")},
        "variants": {name: VARIANTS[name] for name in args.variants},
        "before_revision": args.before_revision,
        "same_numbers": same, "summary": summary, "runs": runs,
    })
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
