"""The MNIST and CIFAR-10 pages (notebooks/supermask_experiment.ipynb): one run's numbers, its scale, its setup."""

import pandas as pd

from supermask_lib.experiment import arms as arms_lib
from supermask_lib.report.chapters import scales
from supermask_lib.report.chapters.values import plain
from supermask_lib.experiment.batches import steps_per_epoch
from supermask_lib.experiment.datasets import PARTIAL_CIFAR10, partial_cifar10
from supermask_lib.utilization import fraction_kept


def scale_note(result, profile):
    """The sentence that says what scale a number comes from (shown beside it): :func:`.scales.scale`'s phrase."""
    config, data = result.config, result.data
    phrase, _ = scales.scale(result, profile=profile)
    parts = [
        f"{profile} profile: {phrase} (seed {config.seed}), {data['test_size']:,} test images, "
        f"{config.epochs} epochs (mask, weights) and {config.mix_epochs} (mix), run on {result.environment['device']}"
    ]
    if partial_cifar10(data):
        parts.append(
            f"on {PARTIAL_CIFAR10} (JPEG-decoded, "
            f"{data['canonical_train']:,} of 50,000 training images): a CPU-scale check, "
            "not a reproduction of published CIFAR-10 accuracies"
        )
    elif profile != "full":
        parts.append("a small CPU check, not the post's full setup")
    return "; ".join(parts) + "."


def mix_first_sentence(mix_first_val, mask_best_val):
    """What the first mix epoch's validation accuracy against the mask's best can say about BatchNorm, in words
    sized to the evidence: no run here trains the mix arm with BatchNorm frozen, so nothing isolates it."""
    if mix_first_val > mask_best_val:
        return (f"the first mix epoch's validation accuracy ({mix_first_val:.3f}) is above the mask phase's best "
                f"({mask_best_val:.3f}) with the weights barely moved, which fits BatchNorm (its trained γ and β, "
                "its re-estimated statistics) doing the work; no run here isolates it (a mix arm with BatchNorm "
                "frozen would), so it stays a reading, not a finding")
    return (f"the first mix epoch's validation accuracy ({mix_first_val:.3f}) is not above the mask phase's best "
            f"({mask_best_val:.3f}), so here fine-tuning shows no gain for BatchNorm, or anything else, to explain")


TINY_RATE = 1e-4  # at or below this fine-tuning rate, a few epochs barely move the weights
BIG_STEP = 0.01  # a change of test accuracy this large is more than such a rate explains


def mix_against_mask_sentence(mix_test, mask_test, mix_first_val, mask_best_val, rate=None):
    """Where the mix arm ends against the masked network it starts from, in words: fine-tuning at a tiny rate
    should neither lose accuracy nor gain much, so a loss, or a large gain at a ``rate`` that barely moves the
    weights, is stated with what this run can and cannot say about it."""
    gap = round(mix_test, 3) - round(mask_test, 3)  # of the numbers as shown, so every sentence agrees
    if gap >= 0:
        said = f"the mix arm ends {gap:.3f} above the masked network it starts from on the test set"
        if rate is not None and rate <= TINY_RATE and gap > BIG_STEP:
            return (f"{said}, more than fine-tuning at {rate:g} moves the weights in a few epochs; BatchNorm's "
                    "moving statistics, re-estimated as it trains, are the candidate that the BatchNorm control "
                    "tests")
        return f"{said}, a small gain, as fine-tuning at a low rate gives" if gap <= BIG_STEP else (
            f"{said}, as fine-tuning should")
    start = ("already below" if mix_first_val < mask_best_val else "not below")
    return (f"the mix arm ends {-gap:.3f} below the masked network it starts from on the test set, and its first "
            f"epoch's validation accuracy ({mix_first_val:.3f}) is {start} the mask's best ({mask_best_val:.3f}); "
            "BatchNorm's moving statistics, which fine-tuning re-estimates, are one candidate, which the BatchNorm "
            "control tests; selection on the small validation split is another")


def _shown_gap(a, b):
    """``a − b`` of the two as shown (3 places), so a sentence's difference agrees with its numbers."""
    return f"{round(a, 3) - round(b, 3):+.3f}"


def batchnorm_sentence(control, images, within=BIG_STEP):
    """:func:`~supermask_lib.experiment.controls.batchnorm_control`'s table in words: where recomputing the
    statistics takes the mask phase's and the mix phase's networks, mix − mask with both recomputed, and what
    that says: the statistics alone give mix's gain, or mix's own statistics moved its number, or neither."""
    mask, mix = control.loc["mask"], control.loc["mix"]
    said = (f"recomputing BatchNorm's moving statistics on the {images:,} training images, weights and mask as "
            f"they were, moves the mask phase's selected network from {mask['as trained']:.3f} to "
            f"{mask['statistics recomputed']:.3f} on test, and mix's from {mix['as trained']:.3f} to "
            f"{mix['statistics recomputed']:.3f}; with both recomputed, mix − mask is "
            f"{_shown_gap(mix['statistics recomputed'], mask['statistics recomputed'])} "
            f"(as trained {_shown_gap(mix['as trained'], mask['as trained'])})")
    if abs(mask["statistics recomputed"] - mix["as trained"]) <= within:
        verdict = (f"the statistics alone take the masked network within {within:g} of where fine-tuning took it, "
                   "so here what the mix phase changed is its BatchNorm statistics")
    elif abs(mix["change"]) > within:
        moved = "cost" if mix["change"] > 0 else "gave"
        verdict = (f"mix's own moving statistics {moved} it {abs(mix['change']):.3f}, "
                   "so its number as trained is its statistics' as much as its weights'")
    else:
        verdict = "the statistics are not all that fine-tuning changed"
    return f"{said}: {verdict} (one run, one seed)"


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
               "test_acc_initial": metrics["initial"].test_accuracy,
               "scale": scales.scale(result)[0]}
    for phase in (arms_lib.MASK, arms_lib.WEIGHTS, arms_lib.MIX):
        if phase in metrics:
            numbers[f"test_acc_{phase}"] = metrics[phase].test_accuracy
            numbers[f"val_acc_{phase}"] = metrics[phase].best_val_accuracy
            numbers[f"train_acc_{phase}_last"] = float(histories[phase]["accuracy"].iloc[-1])
            numbers[f"minutes_{phase}"] = metrics[phase].seconds / 60
            numbers[f"steps_{phase}"] = metrics[phase].epochs * steps_per_epoch(numbers["train_size"],
                                                                               result.config.batch_size)
    numbers["minutes_total"] = sum(m.seconds or 0.0 for m in metrics.values()) / 60  # every arm's training
    if arms_lib.MIX in metrics and arms_lib.WEIGHTS in metrics:
        numbers["mix_minus_weights"] = metrics[arms_lib.MIX].test_accuracy - metrics[arms_lib.WEIGHTS].test_accuracy
        numbers["mix_minus_mask"] = metrics[arms_lib.MIX].test_accuracy - metrics[arms_lib.MASK].test_accuracy
        numbers["val_acc_mix_first"] = float(histories[arms_lib.MIX]["val_accuracy"].iloc[0])
        gap = numbers["val_acc_mix_first"] - metrics[arms_lib.MASK].best_val_accuracy
        numbers["mix_first_against_mask"] = "above" if gap > 0 else "below" if gap < 0 else "level with"
        numbers["mix_first_sentence"] = mix_first_sentence(numbers["val_acc_mix_first"],
                                                           metrics[arms_lib.MASK].best_val_accuracy)
        numbers["val_acc_weights_first"] = float(histories[arms_lib.WEIGHTS]["val_accuracy"].iloc[0])
        numbers["mix_against_mask"] = mix_against_mask_sentence(
            metrics[arms_lib.MIX].test_accuracy, metrics[arms_lib.MASK].test_accuracy, numbers["val_acc_mix_first"],
            metrics[arms_lib.MASK].best_val_accuracy, rate=result.config.finetune_lr)
    if arms_lib.MASK in result.utilization:
        numbers.update(_utilization_numbers(result.utilization[arms_lib.MASK]))
    return plain(numbers)


def _utilization_numbers(table):
    """What the mask phase left per layer: kept overall, the most masked layer, per kind of layer."""
    shortcuts = table[table["kind"] == "conv_1x1"]
    others = table[table["kind"] == "conv"]
    return {
        "fraction_kept": fraction_kept(table),
        "max_layer_masked": float(table["fraction_masked"].max()),
        "max_layer_masked_index": int(table["fraction_masked"].idxmax()),
        "max_layer_masked_name": str(table.loc[table["fraction_masked"].idxmax(), "name"]),
        "max_layer_sentence": most_masked_sentence(table),
        "n_masked_layers": len(table),
        "shortcut_masked_mean": float(shortcuts["fraction_masked"].mean()) if len(shortcuts) else float("nan"),
        "conv_masked_mean": float(others["fraction_masked"].mean()),
        "dense_masked": float(table[table["kind"] == "dense"]["fraction_masked"].iloc[-1]),
        "bias_masked_total": int(table["n_bias_masked"].sum()),
    }


def most_masked_sentence(table):
    """Where the most masked layer stands by size among the masked layers, in words (the post saw the smallest
    layers masked least)."""
    top = table["fraction_masked"].idxmax()
    rank = int((table["n_weights"] > table.loc[top, "n_weights"]).sum())  # layers larger than it
    name, size = table.loc[top, "name"], int(table.loc[top, "n_weights"])
    if (table["n_weights"] < size).sum() == 0:
        where = f"the smallest of the {len(table)} masked layers, against the post's pattern"
    elif rank == 0:
        where = f"the largest of the {len(table)} masked layers, as the post's pattern has it"
    else:
        where = f"{rank} of the {len(table)} masked layers are larger"
    return f"the most masked layer is {name} ({size:,} weights; {where})"


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
            "mask scores' lr": f"{arms_lib.ARMS[arms_lib.MASK].learning_rate(config):g}",
            "batch size": config.batch_size,
            "epochs (mask, weights / mix)": f"{config.epochs} / {config.mix_epochs}",
            "LR schedule (on train accuracy)": f"×{config.lr_factor:g} after {config.lr_patience} epochs with no gain",
            "augmentation": f"flip {config.augment_flip}, rotate {config.augment_rotation:g}°, shift {config.augment_shift:g}",
            "train / val / test images": f"{data['train_size']:,} / {data['val_size']:,} / {data['test_size']:,}",
            "validation": config.validation, "seed": config.seed,
            "data file sha256": (data["file_sha256"] or data["arrays_sha256"])[:16] + "…",
            "device": result.environment["device"],
            "backend": f"{result.environment['backend']} {result.environment['backend_version']}",
        }
    return pd.DataFrame(columns)


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
