"""The cost appendix (notebooks/cost.ipynb): what masking costs, from the benchmark records and the GPU session.

Every benchmark file is read through :mod:`supermask_lib.records`, so "the
newest" is the newest by the time a record holds. :func:`chapter` reads them
all: the appendix's tables and glue values in one call.
"""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from supermask_lib import arms, records
from supermask_lib.chapters.values import glue_key, plain
from supermask_lib.batches import steps_per_epoch
from supermask_lib.data import DATASETS

# The post's full study: 3 phases x 30 epochs over full MNIST and CIFAR-10, batch 128.
FULL_STUDY_STEPS = 3 * 30 * sum(steps_per_epoch(DATASETS[name].train_images, 128) for name in ("mnist", "cifar10"))


def chapter(benchmark_dir, gpu_dir):
    """The appendix's tables (by name) and every glue value, from ``benchmark_dir`` and the GPU session."""
    benchmark_dir = Path(benchmark_dir)
    machines, numbers = benchmark_summary(benchmark_dir)
    numbers.update(gpu_summary(gpu_dir))
    frames = {"machines": machines}
    for name, reader, folder in (("backends", backend_comparison, "backends"), ("profile", step_profile, "profile"),
                                 ("quick", quick_profile_speed, "quick"), ("topk", topk_selection_speed, "topk"),
                                 ("cpu_classes", machine_classes, "machines"), ("input", input_path, "input"),
                                 ("traces", arm_traces, "traces")):
        frames[name], more = reader(benchmark_dir / folder)
        numbers.update(more)
    return frames, numbers


def _newest(directory, kind, script):
    try:
        return records.newest_record(directory, kind)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{error}; run benchmarks/{script}") from None


def _newest_per_device_class(directory, kind, script):
    """``{"cpu" | "gpu": record}``: the newest record of ``kind`` whose runs were on a CPU, and on a GPU."""
    newest = {}
    for record in records.records(directory, kind):  # oldest first: the newest of each class wins
        device = record.payload["results"][0]["environment"]["device"]
        newest["cpu" if device.startswith("CPU") else "gpu"] = record
    if not newest:
        _newest(directory, kind, script)  # raises, naming the script to run
    return newest


def benchmark_summary(benchmark_dir):
    """The ``bench_masking.py`` records as one table (newest first), and the numbers the cost page cites."""
    rows = []
    for record in records.records(benchmark_dir):
        bench = record.payload
        env = bench["environment"]
        for r in bench["results"]:
            q = r["ratios"]
            rows.append({
                "measured": env["started"][:10],
                "machine": f"{env['device']}, {env['backend']} {env['backend_version']}",
                "model": r["model"], "batch": r["batch_size"],
                "plain train s/step": r["seconds_per_step"]["plain_train"],
                "mask / plain": q["mask_train/plain_train"], "frozen mask / plain": q["weights_train/plain_train"],
                "masked infer / plain": q["masked_infer/plain_infer"],
                "collapsed infer / plain": q["collapsed_infer/plain_infer"],
                "scores per weight": r["extra_values_per_maskable_weight"],
                "peak RSS MB": r["peak_rss_mb_after"],
                "device": env["device"], "backend": f"{env['backend']} {env['backend_version']}",
                "started": env["started"],
            })
    if not rows:
        raise FileNotFoundError(f"no benchmark JSON in {benchmark_dir}; run benchmarks/bench_masking.py")
    table = pd.DataFrame(rows).sort_values("started", ascending=False, kind="stable")  # newest first
    small = table[table["model"] == "wrn-16-2"].iloc[0]
    numbers = {
        "device_small": small["device"], "backend_small": small["backend"],
        "mask_ratio_small": float(small["mask / plain"]), "weights_ratio_small": float(small["frozen mask / plain"]),
        "collapsed_ratio_small": float(small["collapsed infer / plain"]), "full_steps": FULL_STUDY_STEPS,
        "full_study_note": _full_study_note(table[table["model"] == "wrn-28-8"]),
    }
    shown = table.drop(columns=["device", "backend", "started"]).set_index(["machine", "measured", "model"])
    return shown.round(3), numbers


def _full_study_note(big):
    """What the WRN-28-8 step times (newest first) say the full study would take."""
    gpu = big[~big["device"].str.startswith("CPU")]
    if len(gpu):
        row = gpu.iloc[0]
        hours = FULL_STUDY_STEPS * row["plain train s/step"] * 128 / row["batch"] / 3600
        return (
            f"Measured on {row['device']} ({row['backend']}): {row['plain train s/step']:.3f} s per "
            f"training step at batch {row['batch']}, so about {hours:.1f} GPU hours of training for the "
            "post's whole experiment if the input kept up with the steps (an estimate from measured step times; validation "
            "passes add to it, and on a GPU the input does not keep up: see below).")
    if len(big):
        row = big.iloc[0]
        days = FULL_STUDY_STEPS * row["plain train s/step"] * 128 / row["batch"] / 86400
        return (
            "No GPU was available to the machine that built this page, so the post's full setup was not "
            f"timed on one. On {row['device']} ({row['backend']}) a WRN-28-8 training step at batch "
            f"{row['batch']} took {row['plain train s/step']:.2f} s; scaled linearly to batch 128 the "
            f"post's whole experiment would take about {days:.0f} days there (an estimate from measured step "
            "times): it is GPU work.")
    return "No WRN-28-8 benchmark is recorded yet."


def backend_comparison(backends_dir):
    """The newest ``bench_backends.py`` summary: images per second per backend, and the ratio to name."""
    record = _newest(backends_dir, "backends", "bench_backends.py")
    table = pd.DataFrame(record.payload["rows"]).set_index(["backend", "model", "batch"])
    rates = table["mask_train"].groupby(level="backend").first()
    numbers = {"backends_fastest": rates.idxmax(), "backends_slowest": rates.idxmin(),
               "backends_ratio": float(rates.max() / rates.min()), "backends_file": record.path.name}
    return table.round(0), numbers


# An epoch's log line; since runs report the time left, it may end with "  about N min left (K epochs)".
EPOCH_LINE = re.compile(r"^\[(?P<phase>[\w.]+)\] epoch (?P<epoch>\d+)/\d+ .*? (?P<seconds>[\d.]+)s(?:  [a-z].*)?$", re.M)


def gpu_summary(gpu_dir):
    """The numbers of the stored GPU session (``results/gpu``): epoch times, accuracy, the input's share.

    Epoch seconds are medians over the epochs after each call's first (which
    compiles); ``noaug`` is the same mask phase with augmentation off, read
    from its log (its second epoch: the first compiles).
    """
    gpu_dir = Path(gpu_dir)
    run = gpu_dir / "full-mnist"
    config = json.loads((run / "config.json").read_text())
    history = pd.read_csv(run / "history_mask.csv")
    first_of_call = {0, _resumed_at(gpu_dir)}
    steady = history[~history["epoch"].isin(first_of_call)]
    noaug = [float(m["seconds"]) for m in EPOCH_LINE.finditer((gpu_dir / "logs" / "noaug.log").read_text())]
    best = history.loc[history["val_accuracy"].idxmax()]
    epoch_seconds = float(steady["seconds"].median())
    steps = steps_per_epoch(config["data"]["train_size"], config["config"]["batch_size"])
    return {
        "gpu_device": config["environment"]["device"],
        "gpu_backend": f"{config['environment']['backend']} {config['environment']['backend_version']}",
        "gpu_epochs_done": len(history), "gpu_epochs_planned": config["config"]["epochs"],
        "gpu_epoch_seconds": epoch_seconds, "gpu_first_epoch_seconds": float(history["seconds"].iloc[0]),
        "gpu_noaug_epoch_seconds": noaug[-1], "gpu_input_share": 1 - noaug[-1] / epoch_seconds,
        "gpu_best_val": float(best["val_accuracy"]), "gpu_best_epoch": int(best["epoch"]) + 1,
        "gpu_kept": float(history["fraction_kept"].iloc[-1]),
        "gpu_study_hours": epoch_seconds * FULL_STUDY_STEPS / steps / 3600,
    }


def _resumed_at(gpu_dir):
    """The first epoch (0-based) the resumed call trained."""
    text = (gpu_dir / "logs" / "full-mnist-resume.log").read_text()
    return int(re.search(r"resuming after epoch (\d+)/", text).group(1))


def step_profile(profile_dir):
    """The newest ``benchmarks/profile_step.py`` record: a table of op-time shares per backend, and glue values."""
    record = _newest(profile_dir, "profile", "profile_step.py")
    payload = record.payload
    columns, numbers = {}, {"profile_file": record.path.name, "profile_device": payload["environment"]["device"]}
    for result in payload["results"]:
        backend, micros = result["backend"], result["op_microseconds"]
        total = sum(micros.values())
        columns[backend] = {category: value / total for category, value in micros.items()}
        numbers[f"profile_{backend}_ms"] = result["ms_per_step"]
        for category, share in columns[backend].items():
            numbers[f"profile_{backend}_{glue_key(category.split(' (')[0])}"] = share
    table = pd.DataFrame(columns).fillna(0.0).sort_values(list(columns)[0], ascending=False)
    table.index.name = "share of op time"
    return table, plain(numbers)


def quick_profile_speed(quick_dir):
    """The newest ``benchmarks/bench_quick_profile.py`` record: a table of its variants, and glue values.

    Training is the sum of every epoch's seconds over every arm of every
    configuration; wall adds loading, the first epochs' tracing, tests and exports.
    """
    record = _newest(quick_dir, "quick", "bench_quick_profile.py")
    payload = record.payload
    summary = payload["summary"]
    table = pd.DataFrame({
        "training (min)": {name: row["training_seconds"] / 60 for name, row in summary.items()},
        "wall (min)": {name: row["wall_seconds"] / 60 for name, row in summary.items()},
        "median epoch (s)": {name: row["median_epoch_seconds"] for name, row in summary.items()},
        "training speed-up": {name: row["speed_up_training"] for name, row in summary.items()},
        "wall speed-up": {name: row["speed_up_wall"] for name, row in summary.items()},
    })
    table.index.name = "variant"
    environment = payload["runs"][-1]["environment"]
    numbers = {"quick_file": record.path.name, "quick_device": environment["device"],
               "quick_backend": environment["backend"], "quick_before_revision": payload["before_revision"],
               "quick_repeats": payload["arguments"]["repeats"],
               "quick_same_numbers": ("trained to the same losses and accuracies, epoch by epoch"
                                      if payload["same_numbers"] else "did NOT train to the same numbers")}
    for run in payload["runs"]:  # each configuration's median epoch (quick_after_cifar10_median_epoch)
        for label, config in run["configs"].items():
            numbers[f"quick_{glue_key(run['variant'])}_{glue_key(label)}_median_epoch"] = float(
                np.median(config["epoch_seconds"]))
    for name, row in summary.items():
        key = glue_key(name)
        numbers[f"quick_{key}_training_minutes"] = row["training_seconds"] / 60
        numbers[f"quick_{key}_wall_minutes"] = row["wall_seconds"] / 60
        numbers[f"quick_{key}_speed_up"] = row["speed_up_training"]
        numbers[f"quick_{key}_wall_speed_up"] = row["speed_up_wall"]
    return table, plain(numbers)


def input_path(input_dir):
    """The newest ``benchmarks/bench_input_path.py`` record of each device class (CPU, GPU): per backend and path,
    the epoch, the step and the input path's share of the epoch.

    Glue values, the CPU's ``input_<backend>_<path>_share``, ``input_<backend>_speed_up`` (the host path's
    epoch over the step path's), ``input_device``, ``input_profile`` and ``input_file``; a GPU's the same
    with ``input_gpu_`` in front; for each, ``..._<backend>_epoch_over_steps`` (the step path's epoch over
    steps x the bare step's time: what the input path adds), ``..._<backend>_step_ms`` and, for a record of
    the full profile, ``..._<backend>_full_study_minutes`` (the post's whole experiment in steps of that time).
    """
    newest = _newest_per_device_class(input_dir, "input", "bench_input_path.py")
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
            if result["profile"] == "full":  # the post's whole experiment at this step's time, in steps alone
                numbers[f"{prefix}{glue_key(backend)}_full_study_minutes"] = FULL_STUDY_STEPS * step["step_seconds"] / 60
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
    newest = _newest_per_device_class(traces_dir, "traces", "bench_arm_traces.py")
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


# benchmarks/bench_machine_classes.py's classes, as the reader knows them
MACHINE_CLASSES = {
    "this-cpu": "with AVX-512 (oneDNN)",
    "avx2": "without AVX-512 (oneDNN's AVX2 kernels, the library's default)",
    "avx2-tensorflow-default": "without AVX-512, TensorFlow's own default (oneDNN off)",
}


def machine_classes(machines_dir):
    """The newest ``benchmarks/bench_machine_classes.py`` record: expected training minutes per CPU class and profile.

    Glue values ``machines_<class>_<profile>_<job>_minutes`` (a study's over all
    its seeds), ``machines_<class>_<profile>_minutes`` (the profile's total),
    ``machines_<class>_<profile>_ratio`` (that total against this CPU's),
    ``machines_device``, ``machines_epochs`` and ``machines_file``.
    """
    record = _newest(machines_dir, "machines", "bench_machine_classes.py")
    summary = record.payload["summary"]
    table = pd.DataFrame({MACHINE_CLASSES[name]: row["minutes"] for name, row in summary.items()}).T
    table.index.name = "CPU class"
    table.columns = [f"{job} (min)" for job in table.columns]
    numbers = {"machines_file": record.path.name, "machines_device": record.payload["runs"][0]["environment"]["device"],
               "machines_epochs": record.payload["arguments"]["epochs"]}
    for name, row in summary.items():
        for job, minutes in row["minutes"].items():
            numbers[f"machines_{glue_key(name)}_{glue_key(job)}_minutes"] = minutes
        for profile in {job.split("/")[0] for job in row["minutes"]}:
            mine = {job: m for job, m in row["minutes"].items() if job.startswith(profile + "/")}
            base = {job: summary["this-cpu"]["minutes"][job] for job in mine} if "this-cpu" in summary else None
            numbers[f"machines_{glue_key(name)}_{profile}_minutes"] = sum(mine.values())
            if base:
                numbers[f"machines_{glue_key(name)}_{profile}_ratio"] = sum(mine.values()) / sum(base.values())
    return table, plain(numbers)


def topk_selection_speed(topk_dir):
    """The newest ``benchmarks/bench_topk.py`` record of each place (CPU, accelerator): a table and glue values.

    Speed-ups are ``top_k``'s milliseconds over ``largest_k``'s, so below 1
    where ``top_k`` is the faster (``topk_<place>_<backend>_<network>_step_speed_up``).
    """
    newest = {}
    for record in records.records(topk_dir, "topk"):  # oldest first: a newer record of a place replaces an older
        for backend, report in record.payload["backends"].items():
            place = "cpu" if report["environment"]["device"].startswith("CPU") else "accelerator"
            newest[place, backend] = (record.path.name, report)
    if not newest:
        raise FileNotFoundError(f"no topk-*.json in {topk_dir}; run benchmarks/bench_topk.py")
    rows, numbers = [], {}
    for (place, backend), (name, report) in sorted(newest.items()):
        numbers[f"topk_{place}_device"] = report["environment"]["device"]
        numbers[f"topk_{place}_file"] = name
        for row in report["rows"]:
            step, select = row["ms"], row["select"]["ms"]
            rows.append({"device": report["environment"]["device"], "backend": backend, "network": row["network"],
                         "layer selected": " x ".join(map(str, row["select"]["shape"])),
                         "step, top_k (ms)": step["top_k"], "step, largest_k (ms)": step["largest_k"],
                         "step speed-up": step["top_k"] / step["largest_k"],
                         "selection speed-up": select["top_k"] / select["largest_k"],
                         "same mask and loss": row["select"]["same_mask"]
                         and row["first_epoch_loss"]["top_k"] == row["first_epoch_loss"]["largest_k"]})
            key = f"topk_{place}_{glue_key(backend)}_{glue_key(row['network'])}"
            numbers[f"{key}_step_speed_up"] = rows[-1]["step speed-up"]
            numbers[f"{key}_selection_speed_up"] = rows[-1]["selection speed-up"]
    table = pd.DataFrame(rows).set_index(["device", "backend", "network"])
    numbers["topk_same"] = ("selected the same mask and trained to the same loss with both"
                            if table["same mask and loss"].all()
                            else "did NOT select the same mask and train to the same loss with both")
    return table, plain(numbers)
