"""The cost appendix's step-level readers: the GPU session's epochs, where an epoch's time goes, shared traces.

Called by :func:`supermask_lib.report.chapters.cost.chapter`; each returns a table and its glue values.
"""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from supermask_lib.experiment import arms as arms_lib
from supermask_lib.experiment import arms
from supermask_lib.experiment.batches import steps_per_epoch
from supermask_lib.experiment.datasets import DATASETS
from supermask_lib.experiment.storage import RunFolder
from supermask_lib.report import records
from supermask_lib.report.chapters.values import glue_key, plain


# The post's full study: 3 phases x 30 epochs over full MNIST and CIFAR-10, batch 128.
FULL_STUDY_STEPS = 3 * 30 * sum(steps_per_epoch(DATASETS[name].train_images, 128) for name in ("mnist", "cifar10"))


# An epoch's log line; since runs report the time left, it may end with "  about N min left (K epochs)".
EPOCH_LINE = re.compile(r"^\[(?P<phase>[\w.]+)\] epoch (?P<epoch>\d+)/\d+ .*? (?P<seconds>[\d.]+)s(?:  [a-z].*)?$", re.M)


def gpu_summary(gpu_dir):
    """The numbers of the stored GPU session (``results/gpu``): epoch times, accuracy, the input's share.

    Epoch seconds are medians over the epochs after each call's first (which
    compiles); ``noaug`` is the same mask phase with augmentation off, read
    from its log (its second epoch: the first compiles).
    """
    gpu_dir = Path(gpu_dir)
    run = RunFolder(gpu_dir / "full-mnist")
    config = json.loads(run.config.read_text())
    history = pd.read_csv(run.history(arms_lib.MASK))
    first_of_call = {0, _resumed_at(gpu_dir)}
    steady = history[~history["epoch"].isin(first_of_call)]
    noaug = [float(m["seconds"]) for m in EPOCH_LINE.finditer((gpu_dir / "logs" / "noaug.log").read_text())]
    best = history.loc[history["val_accuracy"].idxmax()]
    epoch_seconds = float(steady["seconds"].median())
    return {
        "gpu_device": config["environment"]["device"],
        "gpu_backend": f"{config['environment']['backend']} {config['environment']['backend_version']}",
        "gpu_epochs_done": len(history), "gpu_epochs_planned": config["config"]["epochs"],
        "gpu_epoch_seconds": epoch_seconds, "gpu_first_epoch_seconds": float(history["seconds"].iloc[0]),
        "gpu_noaug_epoch_seconds": noaug[-1], "gpu_input_share": 1 - noaug[-1] / epoch_seconds,
        "gpu_best_val": float(best["val_accuracy"]), "gpu_best_epoch": int(best["epoch"]) + 1,
        "gpu_kept": float(history["fraction_kept"].iloc[-1]),
    }


def _resumed_at(gpu_dir):
    """The first epoch (0-based) the resumed call trained."""
    text = (gpu_dir / "logs" / "full-mnist-resume.log").read_text()
    return int(re.search(r"resuming after epoch (\d+)/", text).group(1))


def input_path(input_dir):
    """The newest ``benchmarks/bench_input_path.py`` record of each device class (CPU, GPU): per backend and path,
    the epoch, the step and the input path's share of the epoch.

    Glue values, the CPU's ``input_<backend>_<path>_share``, ``input_<backend>_speed_up`` (the host path's
    epoch over the step path's), ``input_device``, ``input_profile`` and ``input_file``; a GPU's the same
    with ``input_gpu_`` in front; for each, ``..._<backend>_epoch_over_steps`` (the step path's epoch over
    steps x the bare step's time: what the input path adds), and ``..._<backend>_step_ms`` (the post's whole
    experiment's one total per device is :func:`.compute.training_totals`'s).
    """
    newest = records.newest_per_device_class(input_dir, "input", "bench_input_path.py")
    rows, numbers = [], {}
    for kind, record in sorted(newest.items()):
        prefix = "input_" if kind == "cpu" else "input_gpu_"
        numbers[f"{prefix}file"] = record.path.name
        for result in record.payload["results"]:
            environment, backend = result["environment"], result["environment"]["backend"]
            numbers[f"{prefix}device"] = environment["device"]
            numbers[f"{prefix}profile"] = (f"{result['profile']} {result['dataset']} ({result['model']}, batch "
                                           f"{result['batch_size']}, {result['steps']} steps)")
            for path, row in result["paths"].items():
                rows.append({"device": environment["device"], "backend": f"{backend} {environment['backend_version']}",
                             "augmented": path, "network": f"{result['model']}, {result['dataset']}",
                             "epoch (s)": row["epoch_seconds"], "step alone (ms)": row["step_seconds"] * 1000,
                             "input path's share": row["input_share"]})
                numbers[f"{prefix}{glue_key(backend)}_{path}_share"] = row["input_share"]
            step = result["paths"]["step"]
            numbers[f"{prefix}{glue_key(backend)}_speed_up"] = result["paths"]["host"]["epoch_seconds"] / step["epoch_seconds"]
            numbers[f"{prefix}{glue_key(backend)}_epoch_over_steps"] = step["epoch_seconds"] / (
                result["steps"] * step["step_seconds"])
            numbers[f"{prefix}{glue_key(backend)}_step_ms"] = step["step_seconds"] * 1000
    table = pd.DataFrame(rows).set_index(["device", "backend", "augmented"])
    return table, plain(numbers)


def _kind_of_step(name):
    """What makes an arm's training step (its network and what trains), by the arm's name."""
    for prefix, make in (("random_mask_lr", arms.random_mask_arm), ("mix_lr", arms.finetuning_arm)):
        if name not in arms.ARMS and name.startswith(prefix):
            arm = make(float(name[len(prefix):]))
            break
    else:
        arm = arms.ARMS[name]
    return arm.masked, arm.trains


def arm_traces(traces_dir):
    """The newest ``benchmarks/bench_arm_traces.py`` record of each device class: one trace per kind of step
    against one per arm, per backend.

    Glue values ``traces_<backend>_shared_seconds`` and ``..._per_arm_seconds`` (the median whole run),
    ``..._ratio`` (per arm over shared), ``..._first_traced_seconds`` and ``..._first_reused_seconds`` (the
    median first epoch, in the shared runs, of the arms that trace their kind's step and of those that reuse
    it), ``traces_same``, ``traces_cell``, ``traces_device`` and ``traces_file``; a GPU's with ``traces_gpu_``.
    """
    newest = records.newest_per_device_class(traces_dir, "traces", "bench_arm_traces.py")
    rows, numbers = [], {}
    for kind, record in sorted(newest.items()):
        prefix = "traces_" if kind == "cpu" else "traces_gpu_"
        arguments = record.payload["arguments"]
        numbers[f"{prefix}file"] = record.path.name
        numbers[f"{prefix}cell"] = (f"width {arguments['width']}, {arguments['epochs']} epoch(s) an arm, "
                                    f"{arguments['train_size']:,} training images")
        numbers[f"{prefix}same"] = all(result["same_histories"] for result in record.payload["results"])
        for result in record.payload["results"]:
            environment, backend = result["environment"], result["backend"]
            numbers[f"{prefix}device"] = environment["device"]
            shared, per_arm = result["median_run_seconds"]["shared"], result["median_run_seconds"]["per-arm"]
            first = {"traced": [], "reused": []}
            for run in result["runs"]["shared"]:
                seen = set()
                for arm in run["arms"]:
                    step = _kind_of_step(arm)
                    first["reused" if step in seen else "traced"].append(run["first_epoch_seconds"][arm])
                    seen.add(step)
            rows.append({"device": environment["device"], "backend": f"{backend} {environment['backend_version']}",
                         "a step per kind (s)": shared, "a step per arm (s)": per_arm, "per arm / per kind": per_arm / shared,
                         "first epoch, tracing (s)": float(np.median(first["traced"])),
                         "first epoch, reusing (s)": float(np.median(first["reused"])),
                         "same histories": result["same_histories"]})
            key = f"{prefix}{glue_key(backend)}"
            numbers.update({f"{key}_shared_seconds": shared, f"{key}_per_arm_seconds": per_arm,
                            f"{key}_ratio": per_arm / shared,
                            f"{key}_first_traced_seconds": rows[-1]["first epoch, tracing (s)"],
                            f"{key}_first_reused_seconds": rows[-1]["first epoch, reusing (s)"]})
        numbers[f"{prefix}same"] = ("wrote the same histories both ways" if numbers[f"{prefix}same"]
                                    else "did NOT write the same histories both ways")
    table = pd.DataFrame(rows).set_index(["device", "backend"])
    return table, plain(numbers)
