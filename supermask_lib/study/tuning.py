"""The tuning stage: every arm's learning rate swept on held-out data before the axis is measured.

The field's rule for comparing a pruned or masked start with a dense one
(Wang et al. 2023; Zimmer et al. 2023): every arm gets a grid of rates of the
same size, trained on a seed that is not an evaluation seed, chosen on the
validation split only, and extended where its best rate sits at an edge.
``params/tuning-<dataset>.yaml`` names the axis it tunes (a width-axis
profile, :func:`supermask_lib.study.scale.load_axis`), the tuning seed and each
arm's grid.

Two stages per width, because the fine-tuning arms start from other arms:

1. ``mask``, ``weights`` and ``equal_cost`` at each rate of their grids, one
   run per (arm, rate);
2. ``mix``, ``random_mask`` and ``weights_anneal`` at each rate of their
   (shared) grid, in one run whose mask and weights arms train at the rates
   stage 1 chose (``finetune_lrs`` and the every-rate controls).

Each run is stored like any other (``results/tuning/<dataset>/``), and
:func:`chosen_rates` reads them back into the fields an evaluation cell sets.
"""

import argparse
import dataclasses
import os
from pathlib import Path

import pandas as pd

from supermask_lib import checks
from supermask_lib.experiment import arms
from supermask_lib.study import seeds as study
from supermask_lib.experiment import yamlfiles
from supermask_lib.experiment.runner import run_experiment
from supermask_lib.experiment.results import load_run
from supermask_lib.experiment.storage import RunFolder

# The arms a grid tunes, the stage each trains in, and the field its rate sets.
FIRST_STAGE = (arms.MASK, arms.WEIGHTS, arms.EQUAL_COST)
FINE_TUNING = (arms.MIX, arms.RANDOM_MASK, arms.WEIGHTS_ANNEAL)  # one run trains all three at every rate of their grid
RATE_FIELDS = {arm: arms.ARMS[arm].rate for arm in (*FIRST_STAGE, *FINE_TUNING)}  # the arm table's rate fields
MIN_RATES, MIN_SPACING = 3, 3.0
MAX_EXTENSIONS = 3  # rates added beyond an edge, per arm, before the stage gives up and says so


@dataclasses.dataclass(frozen=True)
class TuningPlan:
    """``params/tuning-<dataset>.yaml`` read and checked: the axis it tunes, its seed and its grids."""

    path: Path
    axis: str          # the width-axis profile's name (params/<axis>-<dataset>.yaml)
    seed: int
    grids: dict        # arm -> tuple of rates, ascending

    @classmethod
    def load(cls, params_dir, dataset):
        path = Path(params_dir) / f"tuning-{dataset}.yaml"
        values = yamlfiles.read_yaml(path)
        label = lambda key: f"{path}: {key}"  # noqa: E731
        unknown = sorted(set(values) - {"axis", "seed", "grids"})
        if unknown or not {"axis", "seed", "grids"} <= set(values):
            raise ValueError(f"{path}: a tuning plan holds axis, seed and grids (found {sorted(values)}).")
        grids = values["grids"]
        if not isinstance(grids, dict) or set(grids) != set(RATE_FIELDS):
            checks.fail(label("grids"), sorted(grids) if isinstance(grids, dict) else grids,
                        f"a grid for each of {list(RATE_FIELDS)}")
        return cls(path, str(values["axis"]), check_seed(values["seed"], label("seed")),
                   {arm: check_grid(grids[arm], label(f"grids.{arm}")) for arm in RATE_FIELDS})

    def check_against(self, seeds, grid_sizes=True):
        """The tuning seed is not an evaluation seed, every grid has one size, the fine-tuning arms share one."""
        if self.seed in seeds:
            checks.fail(f"{self.path}: seed", self.seed, f"a seed that is not one of the axis's evaluation seeds {list(seeds)}")
        sizes = {len(grid) for grid in self.grids.values()}
        if grid_sizes and len(sizes) != 1:
            checks.fail(f"{self.path}: grids", {a: len(g) for a, g in self.grids.items()},
                        "grids of one size for every arm (every arm is tuned as hard as any other)")
        if len({self.grids[arm] for arm in FINE_TUNING}) != 1:
            checks.fail(f"{self.path}: grids", {arm: list(self.grids[arm]) for arm in FINE_TUNING},
                        f"one grid for {list(FINE_TUNING)} (one run fine-tunes all three at each rate)")


def check_seed(seed, label):
    from supermask_lib.experiment.data import check_seed as data_check_seed

    return data_check_seed(seed, label)


def check_grid(rates, label):
    """At least three rates, each at least 3x the one below it; returned ascending as floats."""
    allowed = f"a list of at least {MIN_RATES} rates in (0, 1000), each at least {MIN_SPACING:g}x the next smaller"
    if not isinstance(rates, (list, tuple)) or len(rates) < MIN_RATES:
        checks.fail(label, rates, allowed)
    values = sorted(checks.number(f"{label}[{i}]", rate, 0.0, 1000.0) for i, rate in enumerate(rates))
    if any(high < MIN_SPACING * low * (1 - 1e-6) for low, high in zip(values, values[1:])):
        checks.fail(label, rates, allowed)
    return tuple(values)


def first_stage_config(base, arm, rate, seed):
    """One arm alone at one rate: what a stage-1 tuning run trains (validation decides, so no test each epoch)."""
    return base.replace(phases=(arm,), finetune_lrs=(), random_mask_every_rate=False, anneal_every_rate=False,
                        test_each_epoch=False, seed=seed, **{RATE_FIELDS[arm]: rate})


def fine_tuning_config(base, rates, chosen, seed):
    """The fine-tuning arms at every rate of ``rates``, from a mask and weights trained at the ``chosen`` rates."""
    return base.replace(phases=(*arms.POST_ARMS, arms.RANDOM_MASK, arms.WEIGHTS_ANNEAL), seed=seed,
                        mask_lr=chosen[arms.MASK], learning_rate=chosen[arms.WEIGHTS], finetune_lr=rates[0],
                        finetune_lrs=tuple(rates[1:]), random_mask_every_rate=len(rates) > 1,
                        anneal_every_rate=len(rates) > 1, test_each_epoch=False, equal_cost_lr=None,
                        random_mask_lr=None, anneal_lr=None)


def grid_points(results, arms):
    """``[(arm family, rate, validation accuracy at its selected epoch), ...]`` from tuning runs' ``results``."""
    points = []
    for result in results:
        config = result.config
        for record in config.arm_records():
            if record.kind in arms and record.name in result.metrics:
                points.append((record.kind, record.learning_rate(config),
                               float(result.metrics[record.name].best_val_accuracy)))
    return points


def choose(points, arm):
    """The rate of ``arm`` with the highest validation accuracy (the smaller rate on a tie), and whether it is an edge."""
    rows = sorted((rate, accuracy) for kind, rate, accuracy in points if kind == arm)
    if not rows:
        raise ValueError(f"no tuning run has the arm {arm!r} yet.")
    best = max(range(len(rows)), key=lambda i: (rows[i][1], -i))
    return rows[best][0], best in (0, len(rows) - 1)


def extension(points, arm, grid):
    """The rate to add beyond the edge ``arm``'s best sits at (the grid's spacing once more), or None if interior."""
    rate, at_edge = choose(points, arm)
    rates = sorted({r for kind, r, _ in points if kind == arm})
    if not at_edge or len(rates) - len(grid) >= MAX_EXTENSIONS:
        return None
    step = grid[1] / grid[0]
    return rate * step if rate == rates[-1] else rate / step


def table(points):
    """The grids as a frame: one row per (arm, rate), its validation accuracy, whether it was chosen and at an edge."""
    rows = []
    for arm in RATE_FIELDS:
        if any(kind == arm for kind, _, _ in points):
            best, edge = choose(points, arm)
            for kind, rate, accuracy in sorted(points, key=lambda p: p[1]):
                if kind == arm:
                    rows.append({"arm": arm, "rate": rate, "val_accuracy": accuracy, "chosen": rate == best,
                                 "edge": edge and rate == best})
    return pd.DataFrame(rows)


def chosen_rates(points):
    """The fields an evaluation cell sets from the tuning points: ``{"mask_lr": ..., "learning_rate": ..., ...}``."""
    missing = [arm for arm in RATE_FIELDS if not any(kind == arm for kind, _, _ in points)]
    if missing:
        raise ValueError(f"the tuning runs hold no rates for {missing}; run `python -m supermask_lib.study.tuning` first.")
    return {RATE_FIELDS[arm]: choose(points, arm)[0] for arm in RATE_FIELDS}


def tuned_config(config, points):
    """``config`` at the rates its tuning ``points`` chose (an error names what is not tuned yet)."""
    return config.replace(**chosen_rates(points))


def tune_width(plan, base, runs_dir="runs", store=None, dataset=None, log=print):
    """Both stages for one width's ``base`` configuration, extending grids at their edges; returns the points.

    A run whose twin is stored in ``store/<dataset>/`` already (on any engine or machine) is read back, not
    trained again, so a tuning interrupted on one machine goes on from its stored runs on another.
    """
    from supermask_lib.study.scale import cell_identity

    first, fine = [], []  # the stages' finished runs
    folder = Path(store) / (dataset or base.dataset) if store else None
    stored = {cell_identity(result.config): result for result in
              (load_run(run.path, verify="stored") for run in RunFolder.finished_in(folder))} if folder else {}

    def run(config, stage, label):
        if (result := stored.get(cell_identity(config))) is not None:
            log(f"== {label}: stored ({result.environment['device']}), skipped")
        else:
            result = run_experiment(config, runs_dir, progress_bar=False)
            study.store_and_check(result, dataset or config.dataset, store, None, label=label)
        stage.append(result)

    for arm in FIRST_STAGE:
        for rate in plan.grids[arm]:
            run(first_stage_config(base, arm, rate, plan.seed), first, f"{arm} at {rate:g}")
        while (rate := extension(grid_points(first, (arm,)), arm, plan.grids[arm])) is not None:
            log(f"== {arm}: the best rate is at the grid's edge, adding {rate:g}")
            run(first_stage_config(base, arm, rate, plan.seed), first, f"{arm} at {rate:g}")
    points = grid_points(first, FIRST_STAGE)
    chosen = {arm: choose(points, arm)[0] for arm in FIRST_STAGE}
    grid = plan.grids[arms.MIX]
    run(fine_tuning_config(base, grid, chosen, plan.seed), fine, "fine-tuning arms")
    while extra := sorted({rate for arm in FINE_TUNING
                           if (rate := extension(grid_points(fine, FINE_TUNING), arm, grid)) is not None}):
        log(f"== fine-tuning: a best rate is at the grid's edge, adding {', '.join(f'{r:g}' for r in extra)}")
        run(fine_tuning_config(base, extra, chosen, plan.seed), fine, "fine-tuning arms")
    return points + grid_points(fine, FINE_TUNING)


def load_points(results_dir, base, seed):
    """The stored tuning runs of one width (``base`` at the tuning ``seed``): their grid points, verified."""
    from supermask_lib.study.scale import cell_identity

    points = []
    for run in RunFolder.finished_in(results_dir):
        result = load_run(run.path, verify="stored")
        config = result.config
        if config.seed != seed or config.model != base.model:
            continue
        if config.phases == (*arms.POST_ARMS, arms.RANDOM_MASK, arms.WEIGHTS_ANNEAL):
            rates = (config.finetune_lr, *config.finetune_lrs)
            chosen = {arms.MASK: config.mask_lr, arms.WEIGHTS: config.learning_rate}
            if cell_identity(config) == cell_identity(fine_tuning_config(base, rates, chosen, seed)):
                points += grid_points([result], FINE_TUNING)
        elif len(config.phases) == 1 and config.phases[0] in FIRST_STAGE:
            arm = config.phases[0]
            rate = config.arm(arm).learning_rate(config)
            if cell_identity(config) == cell_identity(first_stage_config(base, arm, rate, seed)):
                points += grid_points([result], (arm,))
    return points


def main(argv=None):
    from supermask_lib.study.scale import cells, load_axis

    parser = argparse.ArgumentParser(description="Tune every arm's rate on validation data, width by width.")
    parser.add_argument("--dataset", default="cifar10")
    parser.add_argument("--widths", nargs="+", type=int, default=None)
    parser.add_argument("--params-dir", default="params")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--data-dir", default=os.environ.get("SUPERMASK_DATA_DIR") or None)
    parser.add_argument("--store", default="results/tuning", help="copy each finished run to STORE/<dataset>/")
    parser.add_argument("--jit-compile", default=None, choices=("true", "false", "auto"))
    args = parser.parse_args(argv)
    plan = TuningPlan.load(args.params_dir, args.dataset)
    axis, seeds = load_axis(args.params_dir, args.dataset, args.data_dir, name=plan.axis)
    plan.check_against(seeds)
    if args.jit_compile is not None:
        jit = {"true": True, "false": False}.get(args.jit_compile, args.jit_compile)
        axis = {width: config.replace(jit_compile=jit) for width, config in axis.items()}
    widths = sorted({width for width, _ in cells(axis, seeds, args.widths)})
    for width in widths:
        points = tune_width(plan, axis[width], args.runs_dir, args.store, args.dataset)
        print(f"== width {width}: " + ", ".join(f"{k}={v:g}" for k, v in chosen_rates(points).items()), flush=True)
        print(table(points).to_string(index=False), flush=True)


if __name__ == "__main__":
    main()
