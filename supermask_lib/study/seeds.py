"""Seeds and paired comparisons: the study's answer, with its uncertainty.

A study runs one configuration over several seeds (:func:`run_study`).
Within a seed every arm starts from the same initialisation and sees the
same batches, so arms are compared *within* seeds: each comparison is the
mean of the per-seed differences with a 95% confidence interval from
Student's t distribution (:func:`paired_differences`). Single arms are
summarised the same way (:func:`arm_summary`), and curves get bands
(:func:`epoch_bands`).
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from supermask_lib.experiment import arms
from supermask_lib.experiment.runner import run_experiment
from supermask_lib.experiment.profiles import Profile, check_seeds  # noqa: F401 (check_seeds: the study's rule)
from supermask_lib.experiment.storage import MANIFEST, RunFileError, RunFolder
from supermask_lib.experiment.results import load_run, store_small_files


def run_study(config, seeds, out_dir="runs", at_least=2, after_each=None, **kwargs):
    """``run_experiment`` for each seed (reused, resumed or trained); returns ``{seed: RunResult}``.

    ``at_least=1`` recomputes a subset of a study (one stored run, say). ``after_each(seed, result)``
    runs as each seed finishes (the CLI stores it then, so a stop loses no finished seed).
    """
    results = {}
    for seed in check_seeds(seeds, at_least=at_least):
        results[seed] = run_experiment(config.replace(seed=seed), out_dir, **kwargs)
        if after_each is not None:
            after_each(seed, results[seed])
    return results


def comparisons(results):
    """The paired comparisons among the arms of a study's runs (:func:`supermask_lib.experiment.arms.comparisons`)."""
    return arms.comparisons(next(iter(results.values())).config.arm_records())


def seed_table(results, metric="test_accuracy"):
    """One row per seed, one column per arm (``initial`` first)."""
    rows = {seed: {arm: getattr(values, metric) for arm, values in result.metrics.items()}
            for seed, result in results.items()}
    table = pd.DataFrame(rows).T
    table.index.name = "seed"
    first = next(iter(results.values()))
    return table[["initial", *[arm for arm in first.config.arms() if arm in table]]]


def mean_ci(values, confidence=0.95):
    """Mean and the half-width of its two-sided t interval (NaN for fewer than two values)."""
    values = np.asarray(values, dtype="float64")
    mean = float(values.mean())
    if len(values) < 2:
        return mean, float("nan")
    half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return mean, float(half)


def arm_summary(table, confidence=0.95):
    """Per arm: mean, 95% half-width, the interval's ends and the number of seeds."""
    rows = {}
    for arm in table.columns:
        mean, half = mean_ci(table[arm].dropna(), confidence)
        rows[arm] = {"mean": mean, "ci95": half, "low": mean - half, "high": mean + half,
                     "seeds": int(table[arm].notna().sum())}
    return pd.DataFrame(rows).T


def paired_differences(table, comparisons, confidence=0.95):
    """Per comparison present in ``table``: mean per-seed difference, its interval, and how many seeds agree.

    ``comparisons``: ``(arm, baseline, question)`` rows, as :func:`comparisons` gives them for a study.
    """
    rows = []
    for arm, baseline, question in comparisons:
        if arm not in table or baseline not in table:
            continue
        difference = (table[arm] - table[baseline]).dropna()
        mean, half = mean_ci(difference, confidence)
        rows.append({"comparison": f"{arm} − {baseline}", "question": question, "difference": mean,
                     "ci95": half, "low": mean - half, "high": mean + half, "seeds": len(difference),
                     "seeds where arm is higher": int((difference > 0).sum())})
    return pd.DataFrame(rows).set_index("comparison")


def epoch_bands(results, arm, column="val_accuracy", confidence=0.95):
    """Per epoch of ``arm``: mean over seeds and the interval's ends (for curves with bands)."""
    curves = pd.DataFrame({seed: result.histories[arm].set_index("epoch")[column]
                           for seed, result in results.items() if arm in result.histories})
    rows = {epoch: mean_ci(values.dropna(), confidence) for epoch, values in curves.iterrows()}
    frame = pd.DataFrame(rows, index=["mean", "ci95"]).T
    frame["low"], frame["high"] = frame["mean"] - frame["ci95"], frame["mean"] + frame["ci95"]
    frame.index.name = "epoch"
    return frame


# ------------------------------------------------------------ profiles, storage


def load_study(params_dir, profile, dataset, data_dir=None):
    """A study profile's configuration and seeds, ``(config, seeds)``; an error unless it lists its seeds."""
    loaded = Profile.load(params_dir, profile, dataset, data_dir=data_dir)
    if loaded.seeds is None:
        raise ValueError(f"{loaded.path}: a study profile lists its seeds (seeds: [0, 1, 2, 3, 4]).")
    return loaded.config, loaded.seeds  # the config at the first seed; run_study sets each


def load_stored_study(results_dir, seeds=None):
    """The stored runs of one study (one folder per seed), verified file by file: ``{seed: RunResult}``.

    ``seeds`` (the profile's) must all be there: a study missing a seed is
    refused, never averaged over fewer seeds. Each run must hold every small
    file it committed (``load_run(verify="stored")``) and a history for every arm.
    """
    folders = [run.path for run in RunFolder.finished_in(results_dir, marker=MANIFEST, missing_ok=False)]
    if not folders:
        raise FileNotFoundError(f"{results_dir} holds no stored runs; `make study` computes and stores them.")
    results = {}
    for folder in folders:
        result = load_run(folder, verify="stored")
        missing = [arm for arm in result.metrics if arm != "initial" and arm not in result.histories]
        if missing:
            raise RunFileError(f"{folder} has no history for the arms {missing}; store the run again.")
        results[result.config.seed] = result
    configs = {result.config.replace(seed=0) for result in results.values()}
    if len(configs) != 1:
        raise ValueError(f"{results_dir} mixes runs of {len(configs)} configurations; one study per folder.")
    if seeds is not None and set(seeds) - set(results):
        raise RunFileError(f"{results_dir} has no stored run for seeds {sorted(set(seeds) - set(results))} of "
                           f"the profile's {list(seeds)}; `make study` computes them (a study is never averaged "
                           "over fewer seeds than it names).")
    return dict(sorted(results.items()))


def compare_with_stored(result, stored_dir):
    """Largest absolute differences between a run and its stored twin (same name): test accuracy and histories."""
    stored = load_run(Path(stored_dir) / result.run_dir.name, verify="stored")
    worst = {"test_accuracy": max(abs(result.metrics[arm].test_accuracy - stored.metrics[arm].test_accuracy)
                                  for arm in stored.metrics)}
    for column in ("loss", "accuracy", "val_loss", "val_accuracy"):
        worst[column] = max(float((result.histories[arm][column] - stored.histories[arm][column]).abs().max())
                            for arm in stored.histories)
    return worst


def store_and_check(result, dataset, store=None, check=None, label="run"):
    """What ``--store`` and ``--check`` do with a finished run: copy its small files to ``store/<dataset>/``;
    print its largest differences from its twin in ``check/<dataset>/``."""
    if store:
        store_small_files(result.run_dir, Path(store) / dataset)
    if check:
        differences = compare_with_stored(result, Path(check) / dataset)
        print(f"{label}: largest difference from the stored run: "
              + ", ".join(f"{k} {v:.2g}" for k, v in differences.items()), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run a study profile over its seeds and store its small files.")
    parser.add_argument("--profile", default="study", help="params/<profile>-<dataset>.yaml with a seeds list")
    parser.add_argument("--datasets", nargs="+", default=["mnist", "cifar10"])
    parser.add_argument("--seeds", nargs="+", type=int, default=None,
                        help="only these of the profile's seeds (e.g. to recompute one stored run)")
    parser.add_argument("--params-dir", default="params")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--data-dir", default=os.environ.get("SUPERMASK_DATA_DIR") or None)
    parser.add_argument("--store", default=None, help="copy each finished run's small files to STORE/<dataset>/")
    parser.add_argument("--check", default=None,
                        help="compare each run with its stored twin in CHECK/<dataset>/ and print the differences")
    args = parser.parse_args(argv)
    # Every profile is read and checked before the first run starts.
    studies = {dataset: load_study(args.params_dir, args.profile, dataset, args.data_dir) for dataset in args.datasets}
    for dataset, (config, seeds) in studies.items():
        if args.seeds:
            missing = sorted(set(args.seeds) - set(seeds))
            if missing:
                raise ValueError(f"--seeds {missing} are not in the {dataset} profile's seeds {list(seeds)}.")
            seeds = tuple(args.seeds)
        started = time.perf_counter()
        results = run_study(config, seeds, args.runs_dir, at_least=1, progress_bar=False,
                            after_each=lambda seed, result: store_and_check(result, dataset, args.store, args.check,
                                                                            label=f"seed {seed}"))
        print(f"== {dataset}: {len(seeds)} seeds in {(time.perf_counter() - started) / 60:.1f} min", flush=True)
        table = seed_table(results)
        print(arm_summary(table).round(4).to_string())
        if len(seeds) > 1:
            print(paired_differences(table, comparisons(results)).drop(columns="question").round(4).to_string(),
                  flush=True)


if __name__ == "__main__":
    main()
