"""The cost appendix (notebooks/cost.ipynb): what masking costs, from the benchmark records and the GPU session.

Every benchmark file is read through :mod:`supermask_lib.report.records`, so "the
newest" is the newest by the time a record holds. :func:`chapter` reads them
all: the appendix's tables and glue values in one call; the step-level readers
(the GPU session, the input path, shared traces) are :mod:`.cost_steps`'s.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from supermask_lib.report import records
from supermask_lib.report.chapters import compute
from supermask_lib.report.chapters.cost_steps import FULL_STUDY_STEPS, arm_traces, gpu_summary, input_path
from supermask_lib.report.chapters.values import glue_key, plain


def chapter(benchmark_dir, gpu_dir, params_dir=None, study_dir=None):
    """The appendix's tables (by name) and every glue value, from ``benchmark_dir`` and the GPU session.

    With ``params_dir`` (and ``study_dir``, the stored study), also the compute of each profile against
    the post's (``compute``) and one training time per profile and device (``totals``), from
    :mod:`.compute`.
    """
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
    if params_dir is not None:
        frames["compute"], more = compute.compute_table(params_dir, gpu_dir)
        numbers.update(more)
        frames["totals"], more = compute.training_totals(
            params_dir, gpu_dir, benchmark_dir, study_dir or Path(gpu_dir).parent / "study",
            numbers["quick_after_training_minutes"], numbers["quick_device"])
        numbers.update(more)
    return frames, numbers


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
    """What the newest WRN-28-8 step times say (the one total per device is :func:`.compute.training_totals`'s)."""
    gpu = big[~big["device"].str.startswith("CPU")]
    if len(gpu):
        row = gpu.iloc[0]
        return (f"The masking benchmark measured a plain WRN-28-8 training step at batch {row['batch']} in "
                f"{row['plain train s/step']:.3f} s on {row['device']} ({row['backend']}), a mask-phase step at "
                f"{row['mask / plain']:.2f}× that: a few steps, not whole epochs.")
    if len(big):
        row = big.iloc[0]
        return ("No GPU was available to the machine that built this page, so the post's full setup was not "
                f"timed on one. On {row['device']} ({row['backend']}) a WRN-28-8 training step at batch "
                f"{row['batch']} took {row['plain train s/step']:.2f} s: it is GPU work.")
    return "No WRN-28-8 benchmark is recorded yet."


def backend_comparison(backends_dir):
    """The newest ``bench_backends.py`` summary: images per second per backend, and the ratio to name."""
    record = records.newest_or_say(backends_dir, "backends", "bench_backends.py")
    table = pd.DataFrame(record.payload["rows"]).set_index(["backend", "model", "batch"])
    rates = table["mask_train"].groupby(level="backend").first()
    numbers = {"backends_fastest": rates.idxmax(), "backends_slowest": rates.idxmin(),
               "backends_ratio": float(rates.max() / rates.min()), "backends_file": record.path.name}
    return table.round(0), numbers


def step_profile(profile_dir):
    """The newest ``benchmarks/profile_step.py`` record: a table of op-time shares per backend, and glue values."""
    record = records.newest_or_say(profile_dir, "profile", "profile_step.py")
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
    record = records.newest_or_say(quick_dir, "quick", "bench_quick_profile.py")
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
    record = records.newest_or_say(machines_dir, "machines", "bench_machine_classes.py")
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
