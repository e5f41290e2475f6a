"""The width axis: the study's comparisons for Wide ResNets of growing width, and their trend.

``params/scale-<dataset>.yaml`` is a comparison profile with seeds: ``base``
holds the settings, each variant a network ``wrn-<depth>-<width>`` of one
depth and nothing else. That is the rule that keeps the cells comparable:
every setting is chosen once, for all widths, never tuned per cell
(:func:`load_axis` refuses a variant that changes anything but the width).

``python -m supermask_lib.study.scale`` trains the cells narrowest first, seed by
seed, and stores each finished cell's small files in
``results/scale/<dataset>/`` as it finishes, so the axis grows across
sessions; a cell stored already, on any engine, is skipped. The book reads
them without retraining (:func:`load_stored_axis`).
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from supermask_lib.study import seeds as study
from supermask_lib.study.trend import engine_sentence, trend, trend_sentence  # noqa: F401 (the axis's API)
from supermask_lib.experiment import arms
from supermask_lib.experiment.datasets import DATASETS
from supermask_lib.experiment.runner import run_experiment
from supermask_lib.models import WRN_PATTERN, forward_macs, get_model
from supermask_lib.experiment.profiles import Profile
from supermask_lib.experiment.results import load_run
from supermask_lib.experiment.storage import RunFolder

TREND = arms.TREND  # what the trend follows: the arm table's comparisons
TRAINING_FLOPS_PER_MAC = 6  # forward and backward: about 3 passes of 2 FLOPs per multiply-accumulate
# How a cell's steps run, not what they compute: a cell run with XLA on a GPU is the same cell as one run
# without it on a CPU (the rounding differs, as between any two machines; provenance records both).
EXECUTION_FIELDS = ("jit_compile", "deterministic")


def load_axis(params_dir, dataset, data_dir=None, name="scale"):
    """``params/<name>-<dataset>.yaml`` as ``({width: config at the first seed}, seeds)``, narrowest first.

    ``scale`` is the post's single rate for every arm; ``tuned`` the axis whose
    rates :mod:`supermask_lib.study.tuning` chooses per width (:func:`tuned_axis`).
    """
    profile = Profile.load(params_dir, name, dataset, data_dir=data_dir)
    if profile.seeds is None:
        raise ValueError(f"{profile.path}: the width axis lists its seeds (seeds: [0, 1, 2]).")
    axis, first = {}, None
    for name, config in profile.configs.items():
        match = WRN_PATTERN.match(config.model)
        if not match or match.group(3):
            raise ValueError(f"{profile.path} (variant {name!r}): model={config.model!r}; the width axis holds "
                             "the study's Wide ResNets, 'wrn-<depth>-<width>'.")
        depth, width = int(match.group(1)), int(match.group(2))
        rest = {**config.identity(), "model": depth}
        if first is None:
            first = (name, rest)
        elif rest != first[1]:
            differ = sorted(key for key in set(rest) | set(first[1]) if rest.get(key) != first[1].get(key))
            raise ValueError(f"{profile.path} (variant {name!r}) differs from variant {first[0]!r} in {differ}; "
                             "only the width may change along the axis (every setting is chosen once for all "
                             "widths).")
        if width in axis:
            raise ValueError(f"{profile.path} (variant {name!r}): width {width} appears twice.")
        axis[width] = config
    return dict(sorted(axis.items())), profile.seeds


def tuned_axis(axis, tuning_dir, seed, widths=None):
    """Each width's configuration at the rates its stored tuning runs chose (an error names a width not tuned yet)."""
    from supermask_lib.study import tuning

    tuned = {}
    for width, config in axis.items():
        if widths is not None and width not in widths:
            continue
        points = tuning.load_points(tuning_dir, config, seed)
        try:
            tuned[width] = tuning.tuned_config(config, points)
        except ValueError as err:
            raise ValueError(f"width {width}: {err}") from err
    return tuned


def cells(axis, seeds, widths=None, only_seeds=None):
    """The (width, seed) cells to train, narrowest first and every seed of a width before the next width."""
    for name, chosen, allowed in (("--widths", widths, list(axis)), ("--seeds", only_seeds, list(seeds))):
        missing = sorted(set(chosen or ()) - set(allowed))
        if missing:
            raise ValueError(f"{name} {missing} are not in the axis's {allowed}.")
    return [(width, seed) for width in axis if widths is None or width in widths
            for seed in seeds if only_seeds is None or seed in only_seeds]


def load_stored_axis(results_dir, axis, seeds):
    """The stored cells, verified file by file: ``{width: {seed: RunResult}}`` (a width with none is left out).

    A cell is matched by its configuration's identity, so a stored run of
    other settings is never counted as a cell of this axis.
    """
    wanted = {cell_identity(config.replace(seed=seed)): (width, seed) for width, config in axis.items()
              for seed in seeds}
    stored = {}
    for run in RunFolder.finished_in(results_dir):
        result = load_run(run.path, verify="stored")
        if cell_identity(result.config) in wanted:
            width, seed = wanted[cell_identity(result.config)]
            cell = stored.setdefault(width, {})
            if seed in cell:
                raise ValueError(f"{results_dir}: width {width}, seed {seed} is stored twice "
                                 f"({cell[seed].run_dir.name} and {run.path.name}); keep one.")
            cell[seed] = result
    return {width: dict(sorted(stored[width].items())) for width in axis if width in stored}


def cell_identity(config):
    """What makes a run a cell of the axis: its identity less :data:`EXECUTION_FIELDS`, hashable."""
    return tuple(sorted((name, repr(value)) for name, value in config.identity().items()
                        if name not in EXECUTION_FIELDS))


def training_flops(result):
    """A cell's training compute: forward multiply-accumulates per image x images x epochs over its arms x 6."""
    config, spec = result.config, DATASETS[result.config.dataset]
    model = get_model(config.model, input_shape=spec.image_shape, num_classes=spec.num_classes, masked=False,
                      **config.model_arguments())
    epochs = sum(arm.epoch_count(config) for arm in config.arm_records())
    return TRAINING_FLOPS_PER_MAC * forward_macs(model) * result.data["train_size"] * epochs


def width_table(stored, comparisons=TREND):
    """One row per (width, comparison): the paired difference over that width's seeds and its interval."""
    rows = []
    for width, results in stored.items():
        differences = study.paired_differences(study.seed_table(results), comparisons)
        for comparison, row in differences.iterrows():
            rows.append({"width": width, "comparison": comparison, **row.drop("question").to_dict()})
    return pd.DataFrame(rows).set_index(["comparison", "width"]) if rows else pd.DataFrame()


def seed_differences(stored, comparisons=TREND):
    """Every seed's paired difference: a frame indexed by (comparison, width, seed) with ``difference`` and the
    ``engine`` the seed ran on (``RunResult.engine``). Concatenate the frames of two axes (a bridge width run
    on a second engine) and :func:`~supermask_lib.study.trend.trend` estimates the engine's effect beside the
    width's."""
    rows = []
    for width, results in stored.items():
        table = study.seed_table(results)
        for arm, baseline, _ in comparisons:
            if arm in table and baseline in table:
                for seed, value in (table[arm] - table[baseline]).dropna().items():
                    rows.append({"comparison": f"{arm} − {baseline}", "width": width, "seed": seed,
                                 "difference": float(value), "engine": results[seed].engine})
    return pd.DataFrame(rows).set_index(["comparison", "width", "seed"]) if rows else pd.DataFrame()


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train the width axis's cells, narrowest first, storing each.")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--axis", default="scale",
                        help="the axis's profile, params/<axis>-<dataset>.yaml: scale, the post's single rate for "
                             "every arm; tuned, each arm's rate as its tuning runs chose (python -m "
                             "supermask_lib.study.tuning first); or any other axis profile")
    parser.add_argument("--tuning-store", default="results/tuning", help="where the tuning runs are stored")
    parser.add_argument("--widths", nargs="+", type=int, default=None, help="only these widths of the axis")
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help="only these seeds of the axis")
    parser.add_argument("--params-dir", default="params")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--data-dir", default=os.environ.get("SUPERMASK_DATA_DIR") or None)
    parser.add_argument("--store", default=None,
                        help="copy each finished cell to STORE/<dataset>/ (default results/<axis>; '' to store nothing)")
    parser.add_argument("--jit-compile", default=None, choices=("true", "false", "auto"),
                        help="run the steps with XLA or not (default: the axis's setting; on a GPU, true); "
                             "the cells are the same cells either way")
    parser.add_argument("--check", default=None,
                        help="compare each cell with its stored twin in CHECK/<dataset>/ and print the differences")
    args = parser.parse_args(argv)
    args.store = f"results/{args.axis}" if args.store is None else args.store
    axis, seeds = load_axis(args.params_dir, args.dataset, args.data_dir, name=args.axis)
    if args.axis == "tuned":
        from supermask_lib.study.tuning import TuningPlan

        plan = TuningPlan.load(args.params_dir, args.dataset)
        plan.check_against(seeds)
        axis = tuned_axis(axis, Path(args.tuning_store) / args.dataset, plan.seed, args.widths)
    if args.jit_compile is not None:
        jit = {"true": True, "false": False}.get(args.jit_compile, args.jit_compile)
        axis = {width: config.replace(jit_compile=jit) for width, config in axis.items()}
    todo = cells(axis, seeds, args.widths, args.seeds)  # every choice checked before the first cell trains
    stored = load_stored_axis(Path(args.store) / args.dataset, axis, seeds) if args.store else {}
    for width, seed in todo:
        if seed in stored.get(width, {}):  # on whatever engine: a cell is stored once (load_stored_axis)
            print(f"== width {width}, seed {seed}: stored ({stored[width][seed].environment['device']}), skipped",
                  flush=True)
            continue
        started = time.perf_counter()
        result = run_experiment(axis[width].replace(seed=seed), args.runs_dir, progress_bar=False)
        study.store_and_check(result, args.dataset, args.store, args.check, label=f"width {width}, seed {seed}")
        print(f"== width {width}, seed {seed}: {(time.perf_counter() - started) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
