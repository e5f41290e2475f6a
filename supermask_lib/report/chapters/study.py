"""The study chapter (notebooks/study.ipynb): seeds per arm, paired differences in words, the kernels' variation."""

from pathlib import Path

import numpy as np
import pandas as pd

from supermask_lib.experiment import arms as arms_lib
from supermask_lib.study import seeds as study
from supermask_lib.experiment.arms import ARMS
from supermask_lib.report.chapters import scales
from supermask_lib.report.chapters.values import plain
from supermask_lib.experiment.datasets import PARTIAL_CIFAR10, partial_cifar10
from supermask_lib.experiment.results import load_run
from supermask_lib.experiment.storage import RunFileError, RunFolder
from supermask_lib.utilization import fraction_kept


def _key(arm):
    return arm.replace(".", "_").replace("-", "_")


def study_numbers(results):
    """What the study chapter cites about one dataset's seeds, by glue key (without the dataset prefix)."""
    table = study.seed_table(results)
    first = next(iter(results.values()))
    config = first.config
    numbers = {"seeds": len(results), "model": config.model, "train_size": first.data["train_size"],
               "epochs": config.epochs, "mix_epochs": config.mix_epochs, "mask_lr": ARMS[arms_lib.MASK].learning_rate(config),
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
    if all(arms_lib.MASK in r.histories for r in results.values()):
        numbers.update(mask_phase_settling(results))
    kept = [fraction_kept(r.utilization[arms_lib.MASK]) for r in results.values() if arms_lib.MASK in r.utilization]
    if kept:
        numbers["fraction_kept"] = float(np.mean(kept))
    return plain(numbers)


#: a mask phase whose validation accuracy moves within this over its last epochs (highest minus lowest, mean over
#: seeds) has levelled off; the study's smallest paired differences are about this size
LEVELLED_RANGE = 0.02


def lowered_epochs(histories):
    """Per history, the epoch (from 1) at which the rate first fell below its starting value, or None where the
    schedule never lowered it."""
    epochs = []
    for history in histories:
        below = history.index[history["learning_rate"] < history["learning_rate"].iloc[0]]
        epochs.append(int(history.loc[below[0], "epoch"]) + 1 if len(below) else None)
    return epochs


def lowered_sentence(epochs):
    """What the plateau schedule did to the mask phase's rate over seeds, in words ("never" where it never did)."""
    done = [e for e in epochs if e is not None]
    if not done:
        return f"the plateau schedule never lowered the mask phase's rate, in any of the {len(epochs)} seeds"
    text = (f"the plateau schedule first lowered the mask phase's rate at epoch {np.median(done):.0f} "
            f"(median over the {len(done)} of {len(epochs)} seeds where it did")
    return text + (")" if len(done) == len(epochs) else f"; in the other {len(epochs) - len(done)} it never did)")


def levelled_sentence(mean_range, last, tolerance=LEVELLED_RANGE):
    """Whether the mask phase has levelled off, from its validation range over the last epochs, in words."""
    if mean_range <= tolerance:
        return (f"has levelled off: over its last {last} epochs its validation accuracy moved within "
                f"{mean_range:.3f} on average, no more than {tolerance:g}")
    return (f"has not levelled off: over its last {last} epochs its validation accuracy still moved within "
            f"{mean_range:.3f} on average (highest minus lowest epoch), more than the {tolerance:g} "
            "a levelled phase would move")


def mask_phase_settling(results, last=8):
    """How finished the mask phases are: when the plateau schedule first lowered the rate (median over the seeds
    where it did; ``mask_lr_lowered_seeds`` counts them), the range of validation accuracy over the ``last``
    epochs averaged over seeds, and both in words."""
    histories = [result.histories[arms_lib.MASK] for result in results.values()]
    lowered = lowered_epochs(histories)
    ranges = [float(h["val_accuracy"].iloc[-last:].max() - h["val_accuracy"].iloc[-last:].min()) for h in histories]
    numbers = {"mask_lr_lowered_seeds": sum(e is not None for e in lowered), "mask_val_last_epochs": last,
               "mask_val_last_range": float(np.mean(ranges)), "mask_lr_lowered_sentence": lowered_sentence(lowered),
               "mask_levelled_sentence": levelled_sentence(float(np.mean(ranges)), last)}
    if numbers["mask_lr_lowered_seeds"]:
        numbers["mask_lr_lowered_epoch"] = float(np.median([e for e in lowered if e is not None]))
    return numbers


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
    mask_rate = ARMS[arms_lib.MASK].learning_rate(config)
    phrase, _ = scales.scale(list(results.values()), profile="study")
    note = (f"study profile: {phrase}, {data['test_size']:,} test images, {config.epochs} epochs per arm and "
            f"{config.mix_epochs} for fine-tuning, "
            f"the mask's scores at rate {mask_rate:g} ({mask_rate / config.learning_rate:g} times the post's "
            f"{config.learning_rate:g}), run on {first.environment['device']}; a CPU-scale study, not the post's "
            "WRN-28-8 at full size")
    if partial_cifar10(data):
        note += f", on {PARTIAL_CIFAR10}"
    return note + "."


# ------------------------------------------------------------ other floating-point kernels


def load_variations(variation_dir, studies):
    """Each dataset's stored recomputation under other kernels, paired with its twin: the run of the same
    configuration and seed.

    ``variation_dir/<dataset>/<run>/`` holds the recomputations (``make study-kernels``);
    ``studies`` maps a dataset to its seeds' runs (seed -> ``RunResult``). The
    twin is the study's run where its configuration is the recomputation's, or
    else a copy kept in ``variation_dir/<dataset>-stored/`` (a run of an earlier
    configuration of the study). Returns dataset -> (twin, recomputation); where
    a dataset has more than one, the last by folder name is the one shown.
    """
    variations = {}
    for dataset, results in studies.items():
        twins = [*results.values(), *(load_run(folder.path, verify="stored") for folder in
                                      RunFolder.finished_in(Path(variation_dir, f"{dataset}-stored")))]
        for folder in RunFolder.finished_in(Path(variation_dir, dataset)):
            recomputed = load_run(folder.path, verify="stored")
            same = [run for run in twins if run.config.identity() == recomputed.config.identity()]
            if not same:
                raise RunFileError(f"{folder.path} recomputes a configuration that neither the study nor "
                                   f"{Path(variation_dir, f'{dataset}-stored')} holds a run of.")
            variations[dataset] = (same[0], recomputed)
    return variations


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
    if {arms_lib.MIX, arms_lib.WEIGHTS} <= set(frame.index):
        for column in ("stored", "recomputed"):
            extra[f"kernel_mix_minus_weights_{column}"] = float(frame.loc[arms_lib.MIX, column] - frame.loc[arms_lib.WEIGHTS, column])
    if "initial" in frame.index:
        extra["kernel_initial_difference"] = float(abs(frame.loc["initial", "difference"]))
    return plain({**extra,
        "kernels": ", ".join(f"{name}={value}" for name, value in sorted(settings.items())) or "the same kernels",
        "kernel_seed": stored.config.seed,
        "kernel_arms": len(trained),
        "kernel_max_difference": float(trained["difference"].abs().max()),
        "kernel_mean_difference": float(trained["difference"].abs().mean()),
    })


def kernel_headline_sentence(kernels, headline, comparison="mix − weights"):
    """What the kernels' spread means for the headline paired difference, in words.

    ``kernels`` is :func:`kernel_variation_numbers`'s dict; ``headline`` a paired-difference row (``difference``,
    ``ci95``, ``seeds``) of ``comparison``. A recomputation that moves arms by more than the headline's size can
    put one run on either side of it; the paired difference over seeds is what speaks to it.
    """
    size, ci, seeds = abs(headline["difference"]), headline["ci95"], int(headline["seeds"])
    moved = (f"another CPU's kernels moved one run's trained arms by {kernels['kernel_mean_difference']:.3f} on "
             f"average and {kernels['kernel_max_difference']:.3f} at most")
    stated = f"the headline {comparison} ({headline['difference']:+.3f} ± {ci:.3f} over {seeds} seeds)"
    if kernels["kernel_max_difference"] > size:
        text = (f"{moved}, more than the size of {stated}: one run on another machine can land on either side of "
                "the headline, so only the paired difference over seeds speaks to it")
    else:
        text = f"{moved}, less than the size of {stated}: one run on another machine moves by less than the headline"
    key = "kernel_mix_minus_weights_"
    if comparison == "mix − weights" and f"{key}stored" in kernels:
        shift = kernels[f"{key}recomputed"] - kernels[f"{key}stored"]
        text += (f"; within the recomputed run {comparison} itself moved by {shift:+.3f} "
                 f"({kernels[key + 'stored']:+.3f} to {kernels[key + 'recomputed']:+.3f}), "
                 f"{'inside' if abs(shift) <= ci else 'outside'} the headline's interval")
    return text


def kernel_caption(dataset, stored, recomputed):
    """The caption of a dataset's kernel table: which seed, under which kernels."""
    return f"{dataset}, seed {stored.config.seed}: {kernel_variation_numbers(stored, recomputed)['kernels']}"


def equal_cost_sentence(results):
    """When ``equal_cost`` is the weights arm itself: it trains from the same start on the same batches for the
    weights arm's epochs and then ``mix_epochs`` more, so where its selected epoch is one of the shared ones
    (and the test accuracies agree, as deterministic steps make them) mix − equal_cost is mix − weights."""
    arms = [(r.metrics[arms_lib.WEIGHTS], r.metrics[arms_lib.EQUAL_COST], r.config) for r in results.values()
            if {arms_lib.WEIGHTS, arms_lib.EQUAL_COST} <= set(r.metrics)]
    if not arms:
        return "No seed trained both weights and equal_cost."
    config = arms[0][2]
    same = sum(cost.best_epoch < c.epochs and cost.test_accuracy == weights.test_accuracy
               for weights, cost, c in arms)
    return (f"equal_cost trains as the weights arm does for its first {config.epochs} epochs (same start, same "
            f"batches) and then {config.mix_epochs} more; in {same} of {len(arms)} seeds it selected one of those "
            "shared epochs and matches the weights arm's test accuracy, so there it is the weights arm's network "
            "and mix − equal_cost is mix − weights.")


def chapter_numbers(studies, variations):
    """Every glue value of the chapter, keyed ``<dataset>_<key>``: the seeds' numbers, the note, the kernels'."""
    numbers = {}
    for dataset, results in studies.items():
        numbers.update({f"{dataset}_{key}": value for key, value in study_numbers(results).items()})
        numbers[f"{dataset}_study_note"] = study_note(results)
        numbers[f"{dataset}_equal_cost_same"] = equal_cost_sentence(results)
        numbers[f"{dataset}_scale"] = scales.scale(list(results.values()), profile="study")[0]
    for dataset, (stored, recomputed) in variations.items():
        table = study.seed_table(studies[dataset])
        kernels = kernel_variation_numbers(stored, recomputed, table)
        numbers.update({f"{dataset}_{key}": value for key, value in kernels.items()})
        differences = study.paired_differences(table, study.comparisons(studies[dataset]))
        if "mix − weights" in differences.index:
            numbers[f"{dataset}_kernel_headline"] = kernel_headline_sentence(kernels, differences.loc["mix − weights"])
    return numbers
