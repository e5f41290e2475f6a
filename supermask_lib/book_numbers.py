"""The book's numbers: pure functions from finished runs to glue values and tables.

Every number the book states comes from here, computed from a run's files
(:class:`supermask_lib.runs.RunResult`) or the benchmark's JSON; nothing is
typed by hand. The functions build no book and run nothing, so they are
tested on their own.
"""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from supermask_lib import study
from supermask_lib.arms import ARMS
from supermask_lib.statistics import fraction_kept

CANONICAL_TRAIN = {"mnist": 60_000, "cifar10": 50_000, "fashion_mnist": 60_000}


def partial_cifar10(data):
    """Whether a run's data record is the partial offline CIFAR-10 copy (fewer than 50,000 training images)."""
    return data["name"] == "cifar10" and data["canonical_train"] < CANONICAL_TRAIN["cifar10"]


def scale_note(result, profile):
    """The sentence that says what scale a number comes from (shown beside it)."""
    config, data = result.config, result.data
    parts = [
        f"{profile} profile: {config.model}, {data['train_size']:,} training images, "
        f"{config.epochs} epochs (mask, weights) and {config.mix_epochs} (mix), "
        f"run on {result.environment['device']}"
    ]
    if partial_cifar10(data):
        parts.append(
            "on the approximate, partial offline CIFAR-10 copy (JPEG-decoded, "
            f"{data['canonical_train']:,} of 50,000 training images): a CPU-scale check, "
            "not a reproduction of published CIFAR-10 accuracies"
        )
    elif profile != "full":
        parts.append("a small CPU check, not the study's full setup")
    return "; ".join(parts) + "."


def key_numbers(result):
    """Every number the book cites about one run, by glue key."""
    metrics, histories = result.metrics, result.histories
    numbers = {"dataset": result.data["name"], "model": result.config.model,
               "train_size": result.data["train_size"],
               "test_size": result.data["test_size"],
               "canonical_train": result.data["canonical_train"],
               "epochs": result.config.epochs,
               "mix_epochs": result.config.mix_epochs,
               "validation": result.config.validation,
               "test_acc_initial": metrics["initial"].test_accuracy}
    for phase in ("mask", "weights", "mix"):
        if phase in metrics:
            numbers[f"test_acc_{phase}"] = metrics[phase].test_accuracy
            numbers[f"val_acc_{phase}"] = metrics[phase].best_val_accuracy
            numbers[f"train_acc_{phase}_last"] = float(histories[phase]["accuracy"].iloc[-1])
            numbers[f"minutes_{phase}"] = metrics[phase].seconds / 60
            batch = result.config.batch_size
            numbers[f"steps_{phase}"] = metrics[phase].epochs * -(-numbers["train_size"] // batch)
    if "mix" in metrics and "weights" in metrics:
        numbers["mix_minus_weights"] = metrics["mix"].test_accuracy - metrics["weights"].test_accuracy
        numbers["mix_minus_mask"] = metrics["mix"].test_accuracy - metrics["mask"].test_accuracy
        numbers["val_acc_mix_first"] = float(histories["mix"]["val_accuracy"].iloc[0])
        numbers["val_acc_weights_first"] = float(histories["weights"]["val_accuracy"].iloc[0])
    if "mask" in result.utilization:
        table = result.utilization["mask"]
        numbers["fraction_kept"] = fraction_kept(table)
        numbers["max_layer_masked"] = float(table["fraction_masked"].max())
        numbers["max_layer_masked_index"] = int(table["fraction_masked"].idxmax())
        numbers["n_masked_layers"] = len(table)
        shortcuts = table[table["kind"] == "conv_1x1"]
        others = table[table["kind"] == "conv"]
        numbers["shortcut_masked_mean"] = float(shortcuts["fraction_masked"].mean()) if len(shortcuts) else float("nan")
        numbers["conv_masked_mean"] = float(others["fraction_masked"].mean())
        numbers["dense_masked"] = float(table[table["kind"] == "dense"]["fraction_masked"].iloc[-1])
        numbers["bias_masked_total"] = int(table["n_bias_masked"].sum())
    return _plain(numbers)


def _plain(numbers):
    """Plain Python values: their repr is what the book's glue roles parse."""
    return {k: v if isinstance(v, str) else (int(v) if isinstance(v, (int, np.integer)) else float(v))
            for k, v in numbers.items()}


def estimator_comparison(results):
    """Mask-phase runs that differ in their estimator (or score init): a table and the numbers to glue.

    ``results`` maps a variant name (an identifier) to a ``RunResult``.
    """
    rows, numbers = {}, {}
    for name, result in results.items():
        kept = fraction_kept(result.utilization["mask"])
        mask, config = result.metrics["mask"], result.config
        init = config.score_init
        if isinstance(init, dict):
            init = f"{init['class_name']}({', '.join(f'{k}={v}' for k, v in init.get('config', {}).items())})"
        rows[name] = {"estimator": config.estimator, "score init": init,
                      "test accuracy": mask.test_accuracy, "best val accuracy": mask.best_val_accuracy,
                      "fraction of weights kept": kept, "train seconds": mask.seconds}
        numbers[f"test_acc_{name}"] = float(mask.test_accuracy)
        numbers[f"kept_{name}"] = kept
    first = next(iter(results.values()))
    numbers["estimator_train_size"] = int(first.data["train_size"])
    numbers["estimator_epochs"] = int(first.config.epochs)
    frame = pd.DataFrame(rows).T
    frame.index.name = "variant"
    return frame, numbers


def styled_summary(table):
    """The per-phase summary as the book shows it: accuracies to 4 places, counts as integers."""
    return table.style.format(
        {"epochs": "{:d}", "selected epoch": "{:.0f}", "val accuracy": "{:.4f}",
         "test accuracy": "{:.4f}", "train seconds": "{:.0f}"},
        na_rep="–",
    )


def setup_table(results):
    """The hyperparameters actually used, one column per dataset run."""
    columns = {}
    for result in results:
        config, data = result.config, result.data
        columns[data["name"]] = {
            "model": config.model, "estimator": config.estimator,
            "score init": config.score_init, "masked biases": config.mask_bias,
            "BatchNorm trains in mask phase": config.train_batchnorm,
            "BatchNorm momentum": config.bn_momentum or 0.99,
            "optimizer": f"{config.optimizer} lr {config.learning_rate:g}, mix lr {config.finetune_lr:g}",
            "batch size": config.batch_size,
            "epochs (mask, weights / mix)": f"{config.epochs} / {config.mix_epochs}",
            "LR schedule": f"x{config.lr_factor:g} after {config.lr_patience} epochs without a gain in train accuracy",
            "augmentation": f"flip {config.augment_flip}, rotate {config.augment_rotation:g}°, shift {config.augment_shift:g}",
            "train / val / test images": f"{data['train_size']:,} / {data['val_size']:,} / {data['test_size']:,}",
            "validation": config.validation, "seed": config.seed,
            "data file sha256": (data["file_sha256"] or data["arrays_sha256"])[:16] + "…",
            "device": result.environment["device"],
            "backend": f"{result.environment['backend']} {result.environment['backend_version']}",
        }
    return pd.DataFrame(columns)


FULL_STUDY_STEPS = 3 * 30 * sum(-(-n // 128) for n in (60_000, 50_000))  # 3 phases x 30 epochs, batch 128


def benchmark_summary(benchmark_dir):
    """The benchmark JSON files as one table, and the numbers the cost page cites."""
    rows = []
    for path in sorted(Path(benchmark_dir).glob("*.json")):
        bench = json.loads(path.read_text())
        env = bench["environment"]
        for r in bench["results"]:
            q = r["ratios"]
            rows.append({
                "measured": env["started"][:10],
                "machine": f"{env['device']}, {env['backend']} {env['backend_version']}",
                "model": r["model"], "batch": r["batch_size"],
                "plain train s/step": r["seconds_per_step"]["plain_train"],
                "mask / plain": q["mask_train/plain_train"], "weights / plain": q["weights_train/plain_train"],
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
        "mask_ratio_small": float(small["mask / plain"]), "weights_ratio_small": float(small["weights / plain"]),
        "collapsed_ratio_small": float(small["collapsed infer / plain"]), "full_steps": FULL_STUDY_STEPS,
    }
    big = table[table["model"] == "wrn-28-8"]
    gpu = big[~big["device"].str.startswith("CPU")]
    if len(gpu):
        row = gpu.iloc[0]
        hours = FULL_STUDY_STEPS * row["plain train s/step"] * 128 / row["batch"] / 3600
        numbers["full_study_note"] = (
            f"Measured on {row['device']} ({row['backend']}): {row['plain train s/step']:.3f} s per "
            f"training step at batch {row['batch']}, so about {hours:.1f} GPU hours of training for the "
            "whole study if the input kept up with the steps (an estimate from measured step times; validation "
            "passes add to it, and on a GPU the input does not keep up: see below).")
    elif len(big):
        row = big.iloc[0]
        days = FULL_STUDY_STEPS * row["plain train s/step"] * 128 / row["batch"] / 86400
        numbers["full_study_note"] = (
            "No GPU was available to the session that built this page, so the full study was not "
            f"timed on one. On {row['device']} ({row['backend']}) a WRN-28-8 training step at batch "
            f"{row['batch']} took {row['plain train s/step']:.2f} s; scaled linearly to batch 128 the "
            f"whole study would take about {days:.0f} days there (an estimate from measured step "
            "times): it is GPU work.")
    else:
        numbers["full_study_note"] = "No WRN-28-8 benchmark is recorded yet."
    shown = table.drop(columns=["device", "backend", "started"]).set_index(["machine", "measured", "model"])
    return shown.round(3), numbers


def backend_comparison(backends_dir):
    """The newest ``bench_backends.py`` summary: images per second per backend, and the ratio to name."""
    paths = sorted(Path(backends_dir).glob("backends-*.json"))
    if not paths:
        raise FileNotFoundError(f"no backends-*.json in {backends_dir}; run benchmarks/bench_backends.py")
    summary = json.loads(paths[-1].read_text())
    table = pd.DataFrame(summary["rows"]).set_index(["backend", "model", "batch"])
    rates = table["mask_train"].groupby(level="backend").first()
    numbers = {"backends_fastest": rates.idxmax(), "backends_slowest": rates.idxmin(),
               "backends_ratio": float(rates.max() / rates.min()), "backends_file": paths[-1].name}
    return table.round(0), numbers


EPOCH_LINE = re.compile(r"^\[(?P<phase>\w+)\] epoch (?P<epoch>\d+)/\d+ .* (?P<seconds>[\d.]+)s$", re.M)


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
    return {
        "gpu_device": config["environment"]["device"],
        "gpu_backend": f"{config['environment']['backend']} {config['environment']['backend_version']}",
        "gpu_epochs_done": len(history), "gpu_epochs_planned": config["config"]["epochs"],
        "gpu_epoch_seconds": epoch_seconds, "gpu_first_epoch_seconds": float(history["seconds"].iloc[0]),
        "gpu_noaug_epoch_seconds": noaug[-1], "gpu_input_share": 1 - noaug[-1] / epoch_seconds,
        "gpu_best_val": float(best["val_accuracy"]), "gpu_best_epoch": int(best["epoch"]) + 1,
        "gpu_kept": float(history["fraction_kept"].iloc[-1]),
        "gpu_study_hours": epoch_seconds * FULL_STUDY_STEPS / _steps_per_epoch(config) / 3600,
    }


def _resumed_at(gpu_dir):
    """The first epoch (0-based) the resumed call trained."""
    text = (gpu_dir / "logs" / "full-mnist-resume.log").read_text()
    return int(re.search(r"resuming after epoch (\d+)/", text).group(1))


def _steps_per_epoch(config):
    return -(-config["data"]["train_size"] // config["config"]["batch_size"])


def summary_table(result):
    """One row per phase: the selected epoch and its validation and test accuracy."""
    rows = []
    for phase in ("initial", *result.config.arms()):
        if phase not in result.metrics:
            continue
        values = result.metrics[phase]
        rows.append({
            "phase": phase,
            "epochs": values.epochs or 0,
            "selected epoch": None if values.best_epoch is None else values.best_epoch + 1,
            "val accuracy": values.best_val_accuracy,
            "test accuracy": values.test_accuracy,
            "train seconds": values.seconds or 0.0,
        })
    return pd.DataFrame(rows).set_index("phase")


# ------------------------------------------------------------------ the study


def _key(arm):
    return arm.replace(".", "_").replace("-", "_")


def study_numbers(results):
    """What the study chapter cites about one dataset's seeds, by glue key (without the dataset prefix)."""
    table = study.seed_table(results)
    first = next(iter(results.values()))
    config = first.config
    numbers = {"seeds": len(results), "model": config.model, "train_size": first.data["train_size"],
               "epochs": config.epochs, "mix_epochs": config.mix_epochs, "mask_lr": ARMS["mask"].learning_rate(config),
               "learning_rate": config.learning_rate, "finetune_lr": config.finetune_lr,
               "train_minutes": sum(m.seconds or 0.0 for r in results.values() for m in r.metrics.values()) / 60}
    for arm, row in study.arm_summary(table).iterrows():
        numbers[f"acc_{_key(arm)}"] = row["mean"]
        numbers[f"acc_{_key(arm)}_ci"] = row["ci95"]
    for comparison, row in study.paired_differences(table, study.comparisons(results)).iterrows():
        arm, baseline = comparison.split(" − ")
        key = f"{_key(arm)}_minus_{_key(baseline)}"
        numbers[key] = row["difference"]
        numbers[f"{key}_ci"] = row["ci95"]
        numbers[f"{key}_higher"] = row["seeds where arm is higher"]
        numbers[f"{key}_verdict"] = verdict(arm, baseline, row)
    kept = [fraction_kept(r.utilization["mask"]) for r in results.values() if "mask" in r.utilization]
    if kept:
        numbers["fraction_kept"] = float(np.mean(kept))
    return _plain(numbers)


def verdict(arm, baseline, row):
    """One sentence from a paired difference: direction, size with its interval, and the seeds' agreement.

    The direction is stated only when the 95% interval excludes zero; the
    sentence is computed, so the book's wording follows the runs.
    """
    size = f"{row['difference']:+.3f} ± {row['ci95']:.3f}"
    agree = f"{int(row['seeds where arm is higher'])} of {int(row['seeds'])} seeds"
    if row["low"] > 0:
        return f"{arm} is higher than {baseline} ({size}; {arm} higher in {agree})"
    if row["high"] < 0:
        return f"{arm} is lower than {baseline} ({size}; {arm} higher in {agree})"
    return f"{arm} and {baseline} cannot be told apart ({size}, an interval that holds zero; {arm} higher in {agree})"


def study_note(results):
    """The scale of a study's numbers, shown beside them."""
    first = next(iter(results.values()))
    config, data = first.config, first.data
    note = (f"study profile: {config.model}, {data['train_size']:,} training images, {len(results)} seeds, "
            f"{config.epochs} epochs per arm and {config.mix_epochs} for fine-tuning, "
            f"run on {first.environment['device']}; a CPU-scale study, not the post's WRN-28-8 at full size")
    if partial_cifar10(data):
        note += ", on the approximate, partial offline CIFAR-10 copy"
    return note + "."


def styled_arm_summary(summary):
    """Arm means as the book shows them: mean ± half-width, and the interval."""
    return summary[["mean", "ci95", "low", "high", "seeds"]].style.format(
        {"mean": "{:.4f}", "ci95": "± {:.4f}", "low": "{:.4f}", "high": "{:.4f}", "seeds": "{:.0f}"})


def styled_differences(differences):
    return differences[["question", "difference", "ci95", "low", "high", "seeds where arm is higher", "seeds"]].style.format(
        {"difference": "{:+.4f}", "ci95": "± {:.4f}", "low": "{:+.4f}", "high": "{:+.4f}"})


# ------------------------------------------------------------ the literature's recipes


def recipe_table(recipes):
    """The recipes side by side: one column per recipe, one row per field it sets ("–": the library's default)."""
    rows = {name: {**{field: _short(value) for field, value in recipe.fields.items()}, "source": recipe.source}
            for name, recipe in recipes.items()}
    return pd.DataFrame(rows).fillna("–")


def _short(value):
    if isinstance(value, dict):  # a Keras initializer config
        options = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in value["config"].items())
        return f"{value['class_name']}({options})"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def literature_machine(results):
    """Where a dataset's literature runs trained and on how much data (shown under its table)."""
    if not results:
        return "no stored runs"
    first = next(iter(results.values()))
    env, data = first.environment, first.data
    text = (f"{data['train_size']:,} training images, {data['val_size']:,} validation, {data['test_size']:,} test; "
            f"trained on {env['device']} with {env['backend']} {env['backend_version']}")
    if partial_cifar10(data):
        text += (f" (the approximate, partial offline CIFAR-10 copy: {data['canonical_train']:,} of 50,000 "
                 "training images, so below the published numbers by construction)")
    return text


def literature_numbers(tables, stored):
    """Glue values of the literature chapter: per dataset and variant, ours, published, kept, minutes, epochs."""
    numbers = {}
    for dataset, table in tables.items():
        numbers[f"lit_{dataset}_machine"] = literature_machine(stored[dataset])
        numbers[f"lit_{dataset}_stored"] = len(stored[dataset])
        numbers[f"lit_{dataset}_variants"] = len(table)
        for variant, row in table.iterrows():
            for column, key in (("ours", "ours"), ("published", "published"), ("kept", "kept"),
                                ("train accuracy", "train"),
                                ("minutes", "minutes"), ("epochs", "epochs"), ("best epoch", "best_epoch")):
                if pd.notna(row[column]):
                    numbers[f"lit_{dataset}_{variant}_{key}"] = row[column]
            if pd.notna(row["ours"]) and pd.notna(row["published"]):
                numbers[f"lit_{dataset}_{variant}_gap"] = row["ours"] - row["published"]
    return _plain(numbers)


def styled_literature(table):
    return table.style.format(
        {"published": "{:.3f}", "ours": "{:.4f}", "train accuracy": "{:.4f}", "kept": "{:.3f}",
         "best epoch": "{:.0f}", "epochs": "{:d}",
         "minutes": "{:.1f}"}, na_rep="–")


# ------------------------------------------------------------ other floating-point kernels


def kernel_variation(stored, recomputed):
    """Per arm, the test accuracy of a stored run and of its recomputation under other kernels, and their difference."""
    rows = {arm: {"stored": metrics.test_accuracy, "recomputed": recomputed.metrics[arm].test_accuracy}
            for arm, metrics in stored.metrics.items() if arm in recomputed.metrics}
    frame = pd.DataFrame(rows).T
    frame["difference"] = frame["recomputed"] - frame["stored"]
    frame.index.name = "arm"
    return frame


def kernel_variation_numbers(stored, recomputed, seed_table=None):
    """Glue values: the kernels' setting, the largest and mean |difference| over the trained arms, the
    post's comparison (mix − weights) in both runs and, given the study's ``seed_table``, the mean
    standard deviation of the same arms across seeds."""
    frame = kernel_variation(stored, recomputed)
    settings = recomputed.environment.get("numerics_env") or {}
    trained = frame.drop(index="initial", errors="ignore")
    extra = {}
    if seed_table is not None:
        extra["kernel_seed_sd_mean"] = float(seed_table[list(trained.index)].std(ddof=1).mean())
    if {"mix", "weights"} <= set(frame.index):
        for column in ("stored", "recomputed"):
            extra[f"kernel_mix_minus_weights_{column}"] = float(frame.loc["mix", column] - frame.loc["weights", column])
    if "initial" in frame.index:
        extra["kernel_initial_difference"] = float(abs(frame.loc["initial", "difference"]))
    return _plain({**extra,
        "kernels": ", ".join(f"{name}={value}" for name, value in sorted(settings.items())) or "the same kernels",
        "kernel_seed": stored.config.seed,
        "kernel_arms": len(trained),
        "kernel_max_difference": float(trained["difference"].abs().max()),
        "kernel_mean_difference": float(trained["difference"].abs().mean()),
    })


def _glue_key(name):
    """A name as a glue key's part: lower case, every run of other characters one underscore."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")


def step_profile(profile_dir):
    """The newest ``benchmarks/profile_step.py`` file: a table of op-time shares per backend, and glue values."""
    path = sorted(Path(profile_dir).glob("profile-*.json"))[-1]
    record = json.loads(path.read_text())
    columns, numbers = {}, {"profile_file": path.name, "profile_device": record["environment"]["device"]}
    for result in record["results"]:
        backend, micros = result["backend"], result["op_microseconds"]
        total = sum(micros.values())
        columns[backend] = {category: value / total for category, value in micros.items()}
        numbers[f"profile_{backend}_ms"] = result["ms_per_step"]
        for category, share in columns[backend].items():
            numbers[f"profile_{backend}_{_glue_key(category.split(' (')[0])}"] = share
    table = pd.DataFrame(columns).fillna(0.0).sort_values(list(columns)[0], ascending=False)
    table.index.name = "share of op time"
    return table, _plain(numbers)


def quick_profile_speed(quick_dir):
    """The newest ``benchmarks/bench_quick_profile.py`` file: a table of its variants, and glue values.

    Training is the sum of every epoch's seconds over every arm of every
    configuration; wall adds loading, the first epochs' tracing, tests and exports.
    """
    path = sorted(Path(quick_dir).glob("quick-*.json"))[-1]
    record = json.loads(path.read_text())
    summary = record["summary"]
    table = pd.DataFrame({
        "training (min)": {name: row["training_seconds"] / 60 for name, row in summary.items()},
        "wall (min)": {name: row["wall_seconds"] / 60 for name, row in summary.items()},
        "median epoch (s)": {name: row["median_epoch_seconds"] for name, row in summary.items()},
        "training speed-up": {name: row["speed_up_training"] for name, row in summary.items()},
        "wall speed-up": {name: row["speed_up_wall"] for name, row in summary.items()},
    })
    table.index.name = "variant"
    environment = record["runs"][-1]["environment"]
    numbers = {"quick_file": path.name, "quick_device": environment["device"],
               "quick_backend": environment["backend"], "quick_before_revision": record["before_revision"],
               "quick_repeats": record["arguments"]["repeats"],
               "quick_same_numbers": ("trained to the same losses and accuracies, epoch by epoch"
                                      if record["same_numbers"] else "did NOT train to the same numbers")}
    for run in record["runs"]:  # each configuration's median epoch (quick_after_cifar10_median_epoch)
        for label, config in run["configs"].items():
            numbers[f"quick_{_glue_key(run['variant'])}_{_glue_key(label)}_median_epoch"] = float(
                np.median(config["epoch_seconds"]))
    for name, row in summary.items():
        key = _glue_key(name)
        numbers[f"quick_{key}_training_minutes"] = row["training_seconds"] / 60
        numbers[f"quick_{key}_wall_minutes"] = row["wall_seconds"] / 60
        numbers[f"quick_{key}_speed_up"] = row["speed_up_training"]
        numbers[f"quick_{key}_wall_speed_up"] = row["speed_up_wall"]
    return table, _plain(numbers)


def topk_selection_speed(topk_dir):
    """The newest ``benchmarks/bench_topk.py`` file of each place (CPU, accelerator): a table and glue values.

    Speed-ups are ``top_k``'s milliseconds over ``largest_k``'s, so below 1
    where ``top_k`` is the faster (``topk_<place>_<backend>_<network>_step_speed_up``).
    """
    newest = {}
    for path in sorted(Path(topk_dir).glob("topk-*.json")):
        record = json.loads(path.read_text())
        for backend, report in record["backends"].items():
            place = "cpu" if report["environment"]["device"].startswith("CPU") else "accelerator"
            newest[place, backend] = (path.name, report)
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
            key = f"topk_{place}_{_glue_key(backend)}_{_glue_key(row['network'])}"
            numbers[f"{key}_step_speed_up"] = rows[-1]["step speed-up"]
            numbers[f"{key}_selection_speed_up"] = rows[-1]["selection speed-up"]
    table = pd.DataFrame(rows).set_index(["device", "backend", "network"])
    numbers["topk_same"] = ("selected the same mask and trained to the same loss with both"
                            if table["same mask and loss"].all()
                            else "did NOT select the same mask and train to the same loss with both")
    return table, _plain(numbers)
