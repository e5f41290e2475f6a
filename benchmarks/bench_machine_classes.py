"""Each profile's expected training time per class of CPU, measured side by side in one run.

TensorFlow picks its kernels by CPU: oneDNN with AVX-512 VNNI/BF16 or AMX,
its slower Eigen fallback elsewhere unless told otherwise (the library tells
it: ``supermask_lib/__init__.py``). One CPU with AVX-512 stands in for the
other classes through oneDNN's own switches, each class in a fresh process:

    this-cpu                   the library's default on this CPU
    avx2                       oneDNN capped at AVX2 kernels (ONEDNN_MAX_CPU_ISA=AVX2): a CPU without
                               AVX-512 (most laptops, hosted CI runners) under the library's default
    avx2-tensorflow-default    oneDNN off (TF_ENABLE_ONEDNN_OPTS=0): TensorFlow's own default there

Every configuration of each profile trains with its arms capped at
``--epochs`` epochs. A configuration's expected training time is, per arm,
its first epoch (tracing included) plus its planned further epochs at the
median of the later epochs measured for that configuration; a study's is per
seed, times its seeds. Training only: loading, tests and exports add a little.

    python benchmarks/bench_machine_classes.py                 # ~15 min on 2 cores
    python benchmarks/bench_machine_classes.py --classes this-cpu avx2 --profiles quick
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
CLASSES = {  # added to the child's environment
    "this-cpu": {},
    "avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
    "avx2-tensorflow-default": {"TF_ENABLE_ONEDNN_OPTS": "0"},
}
PROFILES = {"quick": ("mnist", "cifar10", "estimators"), "study": ("mnist", "cifar10"),
            "tiny": ("mnist", "cifar10", "estimators")}  # tiny: a check of this script


def planned(config):
    """Every arm's planned epochs, in training order."""
    return {arm.name: arm.epoch_count(config) for arm in config.arm_records() if arm.epoch_count(config) > 0}


def expected_seconds(plan, histories):
    """A configuration's training seconds at its planned epochs, from the capped epochs that were measured."""
    later = [s for h in histories.values() for s in h[1:]]
    if not later and any(epochs > 1 for epochs in plan.values()):
        raise ValueError("no arm trained a second epoch: the later epochs' median is what the estimate scales")
    steady = statistics.median(later) if later else 0.0
    return sum(histories[arm][0] + (epochs - 1) * steady for arm, epochs in plan.items())


def child(args):
    """One class in this process: train every configuration capped, print one JSON line."""
    from supermask_lib.experiment.runner import run_experiment
    from supermask_lib.experiment.profiles import Profile
    from supermask_lib.experiment.provenance import environment

    rows = {}
    with tempfile.TemporaryDirectory(prefix="bench-machines-") as out_dir:
        for profile in args.profiles:
            for job in PROFILES[profile]:
                loaded = Profile.load(args.params_dir, profile, job)
                for name, config in loaded.configs.items():
                    label = "/".join(part for part in (profile, job, name) if part)
                    plan = planned(config)
                    capped = config.replace(epochs=min(config.epochs, args.epochs),
                                            mix_epochs=min(config.mix_epochs, args.epochs))
                    started = time.perf_counter()
                    with open(os.devnull, "w") as quiet:
                        result = run_experiment(capped, out_dir, progress_bar=False, stream=quiet)
                    histories = {arm: [float(s) for s in h["seconds"]] for arm, h in result.histories.items()}
                    rows[label] = {"wall_seconds": time.perf_counter() - started, "planned_epochs": plan,
                                   "epoch_seconds": histories, "seeds": len(loaded.seeds or (None,)),
                                   "expected_seconds": expected_seconds(plan, histories)}
                    print(f"   {args.child:<24} {label:<28} expected {rows[label]['expected_seconds'] / 60:6.1f} min "
                          f"per seed ({sum(plan.values())} epochs)", file=sys.stderr, flush=True)
    print("RESULT " + json.dumps({"class": args.child, "environment": environment(), "configs": rows}), flush=True)


def _run_class(name, args):
    command = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--params-dir", args.params_dir,
               "--epochs", str(args.epochs), "--profiles", *args.profiles]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **CLASSES[name]}
    for variable in set().union(*CLASSES.values()) - set(CLASSES[name]):
        env.pop(variable, None)  # each class sets only its own switches
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"class {name!r} failed (exit {done.returncode})")
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def summarize(runs):
    """Per class and profile: expected training minutes (a study's over all its seeds) and the ratio to this CPU."""
    summary = {}
    for run in runs:
        minutes = {}
        for label, row in run["configs"].items():
            profile, job = label.split("/")[:2]
            minutes[f"{profile}/{job}"] = minutes.get(f"{profile}/{job}", 0.0) + row["expected_seconds"] * row["seeds"] / 60
        summary[run["class"]] = {"minutes": minutes, "onednn": run["environment"]["onednn"],
                                 "numerics_env": run["environment"]["numerics_env"]}
    if "this-cpu" in summary:
        base = summary["this-cpu"]["minutes"]
        for row in summary.values():
            row["ratio_to_this_cpu"] = {job: minutes / base[job] for job, minutes in row["minutes"].items()}
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", nargs="+", default=list(CLASSES), choices=list(CLASSES))
    parser.add_argument("--profiles", nargs="+", default=["quick", "study"], choices=list(PROFILES))  # default: all but tiny
    parser.add_argument("--epochs", type=int, default=2, help="every arm's epochs are capped at this (2 or more)")
    parser.add_argument("--params-dir", default=str(ROOT / "params"))
    parser.add_argument("--out-dir", type=Path, default=HERE / "results" / "machines")
    parser.add_argument("--child", choices=list(CLASSES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error(f"--epochs {args.epochs}: give at least 2 (the estimate scales the later epochs' median)")
    if args.child:
        return child(args)

    runs = []
    for name in args.classes:
        print(f"== {name}", flush=True)
        runs.append(_run_class(name, args))
    summary = summarize(runs)
    jobs = list(next(iter(summary.values()))["minutes"])
    print(f"\nexpected training minutes (every arm's epochs capped at {args.epochs}, scaled to the profile's)")
    print(f"{'class':<25}" + "".join(f"{job:>17}" for job in jobs))
    for name, row in summary.items():
        print(f"{name:<25}" + "".join(f"{row['minutes'][job]:>17.1f}" for job in jobs))
    from supermask_lib.report.records import write_record

    out = write_record(args.out_dir, "machines", {
        "arguments": {k: v for k, v in vars(args).items() if k not in ("child", "out_dir")},
        "classes": {name: CLASSES[name] for name in args.classes},
        "summary": summary, "runs": runs,
    })
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
