"""Each estimator with its authors' recipe on the literature's networks, beside the published numbers.

``params/literature-<dataset>.yaml`` is a comparison profile (``base`` and
``variants``, each variant naming a :mod:`~supermask_lib.recipes` recipe and
stating every departure from it). ``python -m supermask_lib.study.literature``
trains its runs and stores their small files in ``results/literature/``, as
the study does; the book reads them from there without retraining.
"""

import argparse
import json
import os
import time

import pandas as pd

from supermask_lib.experiment import arms as arms_lib
from supermask_lib.experiment.runner import run_experiment
from supermask_lib.experiment.profiles import Profile
from supermask_lib.experiment.results import load_run
from supermask_lib.experiment.storage import RunFolder
from supermask_lib.study.seeds import store_and_check

# Published test accuracies (%), from the papers the book cites (book/references.bib):
# (recipe, model) -> (accuracy, what the number is).
PUBLISHED = {
    ("zhou", "fc"): (98.0, "Zhou et al. 2019, learned Bernoulli supermask with DWR, 55k MNIST images"),
    ("zhou", "conv2"): (66.0, "Zhou et al. 2019, with DWR, 50k CIFAR-10 images"),
    ("zhou", "conv4"): (72.5, "Zhou et al. 2019, with DWR, 50k CIFAR-10 images"),
    ("zhou", "conv6"): (76.5, "Zhou et al. 2019, with DWR, 50k CIFAR-10 images"),
    ("zhou-no-dwr", "fc"): (95.3, "Zhou et al. 2019 without DWR (source unconfirmed)"),
    ("edge-popup", "conv2"): (65.0, "Ramanujan et al. 2020 at 10% kept, as quoted by later work"),
    ("edge-popup", "conv4"): (74.0, "Ramanujan et al. 2020 at 10% kept, as quoted by later work"),
    ("edge-popup", "conv6"): (77.0, "Ramanujan et al. 2020 at 10% kept, as quoted by later work"),
}


def load_literature_profile(params_dir, dataset, data_dir=None):
    """``params/literature-<dataset>.yaml`` as ``{variant: (config, published key)}``.

    A variant's published key is its ``compare_with`` entry (a key of
    :data:`PUBLISHED`'s recipe names) or None.
    """
    profile = Profile.load(params_dir, "literature", dataset, data_dir=data_dir)
    for name, key in profile.compare_with.items():
        if (key, profile.configs[name].model) not in PUBLISHED:
            raise ValueError(f"{profile.path} (variant {name!r}): compare_with={key!r} has no published number "
                             f"for model={profile.configs[name].model!r}; known: {sorted(PUBLISHED)}.")
    return {name: (config, profile.compare_with.get(name)) for name, config in profile.configs.items()}


def load_stored(results_dir, profile):
    """The stored run of each profile variant, verified file by file: ``{variant: RunResult}``.

    A run is matched to its variant by its configuration's identity; a
    variant without a stored run is left out (the book says which).
    """
    stored = [load_run(folder.path, verify="stored") for folder in RunFolder.finished_in(results_dir, missing_ok=False)]
    by_identity = {_key(result.config): result for result in stored}
    return {name: by_identity[_key(config)] for name, (config, _) in profile.items() if _key(config) in by_identity}


def _key(config):
    return json.dumps(config.identity(), sort_keys=True)  # nested dicts (initializers) in any key order


def summary_table(results, profile):
    """One row per variant: network, estimator, published and our test accuracy, and at the best
    epoch the training accuracy and the fraction kept; epochs and training minutes."""
    rows = []
    for name, (config, published_key) in profile.items():
        result = results.get(name)
        published = PUBLISHED.get((published_key, config.model))
        row = {"variant": name, "network": config.model, "estimator": config.estimator,
               "published": None if published is None else published[0] / 100,
               "ours": None, "train accuracy": None, "kept": None, "best epoch": None, "epochs": config.epochs,
               "minutes": None}
        if result is not None:
            metrics, history = result.metrics[arms_lib.MASK], result.histories[arms_lib.MASK]
            best = history.iloc[metrics.best_epoch]
            row.update({"ours": metrics.test_accuracy, "best epoch": metrics.best_epoch + 1,
                        "train accuracy": float(best["accuracy"]), "kept": float(best["fraction_kept"]),
                        "minutes": metrics.seconds / 60})
        rows.append(row)
    return pd.DataFrame(rows).set_index("variant")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train the literature profiles' runs and store their small files.")
    parser.add_argument("--datasets", nargs="+", default=["mnist", "cifar10"])
    parser.add_argument("--variants", nargs="+", default=None, help="only these variants (default: all)")
    parser.add_argument("--params-dir", default="params")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--data-dir", default=os.environ.get("SUPERMASK_DATA_DIR") or None)
    parser.add_argument("--store", default=None, help="copy each finished run's small files to STORE/<dataset>/")
    parser.add_argument("--check", default=None, help="compare each run with its stored twin in CHECK/<dataset>/")
    args = parser.parse_args(argv)
    profiles = {dataset: load_literature_profile(args.params_dir, dataset, args.data_dir) for dataset in args.datasets}
    known = {name for profile in profiles.values() for name in profile}
    unknown = sorted(set(args.variants or ()) - known)
    if unknown:
        parser.error(f"--variants {unknown} are in no literature profile of {args.datasets}: {sorted(known)}")
    for dataset, profile in profiles.items():
        for name, (config, _) in profile.items():
            if args.variants and name not in args.variants:
                continue
            started = time.perf_counter()
            result = run_experiment(config, args.runs_dir, progress_bar=False)
            print(f"== {dataset} {name}: test accuracy {result.metrics[arms_lib.MASK].test_accuracy:.4f} "
                  f"({(time.perf_counter() - started) / 60:.1f} min)", flush=True)
            store_and_check(result, dataset, args.store, args.check, label=name)


if __name__ == "__main__":
    main()
