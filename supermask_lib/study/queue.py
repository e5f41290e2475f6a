"""A GPU queue: a prioritised list of cells run inside one lease's budget, resumable across leases.

``params/gpu-queue.yaml`` lists the cells in priority order. Each expands into
units (one run, or one width's whole tuning stage); a unit already stored is
skipped, an interrupted one resumes from its run folder (``run_experiment``
reuses ``runs_dir``), and a unit whose estimated time exceeds what is left of
the budget is skipped with its reason while later, smaller ones may still run.
A unit's estimate is the time its cell's previous unit took in this lease, else
the cell's stated ``prior_minutes``. Each finished unit's small files are stored
at once, in the layout of ``results/<store>/<dataset>/``.

Cell kinds: ``tuned`` (a width of the tuned axis at evaluation seeds, at the
rates its stored tuning runs chose), ``tuning`` (a width's tuning grids, every
arm, validation only) and ``profile`` (any profile, e.g. ``full``, at seeds).
"""

import dataclasses
import json
import time
from pathlib import Path

import pandas as pd

from supermask_lib import checks
from supermask_lib.experiment import yamlfiles
from supermask_lib.experiment.profiles import Profile
from supermask_lib.experiment.results import load_run
from supermask_lib.experiment.runner import run_experiment
from supermask_lib.experiment.storage import RunFolder
from supermask_lib.study import seeds as study
from supermask_lib.study import tuning
from supermask_lib.study.scale import cell_identity, load_axis

KINDS = ("tuned", "tuning", "profile")
CELL_KEYS = {"name", "kind", "dataset", "width", "seeds", "store", "prior_minutes", "profile", "axis", "set"}
MAX_BUDGET_MINUTES = 600.0


@dataclasses.dataclass(frozen=True)
class Cell:
    """One entry of the queue, checked: what it trains and where its finished runs are stored."""

    name: str
    kind: str
    dataset: str
    store: str                 # results/<store>/<dataset>/ layout
    prior_minutes: float       # per unit, until a unit of this cell has been measured
    configs: tuple             # ((seed or None, ExperimentConfig), ...), one per unit
    plan: object = None        # the TuningPlan of a tuning or tuned cell
    tuned_at: object = None    # a tuned cell's width as its axis sets it: the configuration its rates were tuned on


@dataclasses.dataclass(frozen=True)
class Queue:
    path: Path
    budget_minutes: float
    cells: tuple


def load_queue(path, params_dir="params", data_dir=None):
    """Read and check the queue file: every key, kind, width and budget, before anything trains."""
    path = Path(path)
    values = yamlfiles.read_yaml(path)
    unknown = sorted(set(values) - {"budget_minutes", "cells"})
    if unknown:
        checks.fail(f"{path}: {unknown[0]}", values[unknown[0]], "only the keys budget_minutes and cells")
    budget = check_budget(values.get("budget_minutes"), f"{path}: budget_minutes")
    entries = values.get("cells")
    if not isinstance(entries, list) or not entries:
        checks.fail(f"{path}: cells", entries, "a non-empty list of cells")
    cells = [load_cell(entry, f"{path}: cells[{i}]", params_dir, data_dir)
             for i, entry in enumerate(entries)]
    names = [cell.name for cell in cells]
    if len(set(names)) != len(names):
        checks.fail(f"{path}: cells", names, "cells with distinct names")
    return Queue(path, budget, tuple(cells))


# Longer than 60 lines because each kind's keys are checked here, one error per key, before any training.
def load_cell(entry, label, params_dir, data_dir):
    """One queue entry as a :class:`Cell` (errors name the key, the value and what is allowed)."""
    if not isinstance(entry, dict):
        checks.fail(label, entry, "a mapping with kind, dataset and the kind's keys")
    unknown = sorted(set(entry) - CELL_KEYS)
    if unknown:
        checks.fail(f"{label}.{unknown[0]}", entry[unknown[0]], f"one of the keys {sorted(CELL_KEYS)}")
    kind = entry.get("kind")
    if kind not in KINDS:
        checks.fail(f"{label}.kind", kind, f"one of {list(KINDS)}")
    dataset = entry.get("dataset")
    if not isinstance(dataset, str):
        checks.fail(f"{label}.dataset", dataset, "a dataset name (mnist, cifar10)")
    prior = checks.number(f"{label}.prior_minutes", entry.get("prior_minutes"), 0.0, MAX_BUDGET_MINUTES,
                          allowed="a positive number of minutes per unit (the estimate before one is measured)")
    overrides = entry.get("set") or {}
    if not isinstance(overrides, dict):
        checks.fail(f"{label}.set", overrides, "a mapping of ExperimentConfig fields")
    name = str(entry.get("name") or f"{kind}-{dataset}-{entry.get('width', entry.get('profile'))}")
    plan = None
    if kind == "profile":
        profile = Profile.load(params_dir, entry.get("profile", "full"), dataset, data_dir=data_dir,
                               overrides=overrides or None)
        if len(profile.configs) != 1:
            checks.fail(f"{label}.profile", entry.get("profile"), "a profile of one configuration")
        base = next(iter(profile.configs.values()))
        seeds = check_seeds(entry.get("seeds", [base.seed]), f"{label}.seeds")
        configs = tuple((seed, base.replace(seed=seed)) for seed in seeds)
        store = entry.get("store", f"{entry.get('profile', 'full')}")
    else:
        axis_name = entry.get("axis", "tuned")
        axis_as_set, axis_seeds = load_axis(params_dir, dataset, data_dir, name=axis_name)
        axis = {w: c.replace(**overrides) for w, c in axis_as_set.items()}
        width = entry.get("width")
        if width not in axis:
            checks.fail(f"{label}.width", width, f"a width of the {axis_name} axis {list(axis)}")
        tuned_at = axis_as_set[width]
        plan = tuning.TuningPlan.load(params_dir, dataset)
        plan.check_against(axis_seeds)
        if kind == "tuning":
            configs = ((None, axis[width]),)
            store = entry.get("store", "tuning")
        else:
            seeds = check_seeds(entry.get("seeds", list(axis_seeds)), f"{label}.seeds")
            bad = sorted(set(seeds) - set(axis_seeds))
            if bad:
                checks.fail(f"{label}.seeds", seeds, f"evaluation seeds of the axis {list(axis_seeds)}")
            configs = tuple((seed, axis[width].replace(seed=seed)) for seed in seeds)  # rates set when it runs
            store = entry.get("store", axis_name)
    return Cell(name, kind, dataset, str(store), prior, configs, plan, tuned_at if kind == "tuned" else None)


def store_overrides(path, store):
    """The ``set`` that every cell of the queue file storing into ``store`` shares: how the runs stored there
    differ from their axis (``results/tuned-long/``: twice the epochs), for a reader of those runs."""
    values = yamlfiles.read_yaml(path)
    found = {json.dumps(entry.get("set") or {}, sort_keys=True) for entry in values.get("cells") or []
             if isinstance(entry, dict) and entry.get("store") == store}
    if len(found) != 1:
        checks.fail(f"{path}: the set of the cells with store {store}", sorted(found),
                    "one mapping, shared by every cell that stores there")
    return json.loads(found.pop())


def check_budget(minutes, label):
    return checks.number(label, minutes, 0.0, MAX_BUDGET_MINUTES, high_open=False,
                         allowed=f"a number of minutes in (0, {MAX_BUDGET_MINUTES:g}]")


def check_seeds(seeds, label):
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
        checks.fail(label, seeds, "a non-empty list of seeds (integers >= 0)")
    return seeds


def tuning_points(cell, config, dirs):
    """The grid points stored for ``config``'s width in any of ``dirs`` (``<dir>/<dataset>``).

    A tuned cell reads the tuning of its width as the axis sets it, so a cell whose ``set`` trains the
    evaluation seeds differently (twice the epochs, say) keeps the rates tuned on the axis's own schedule.
    """
    base = cell.tuned_at if cell.tuned_at is not None else config
    return [p for d in dirs for p in tuning.load_points(Path(d) / cell.dataset, base, cell.plan.seed)]


def tuning_finished(cell, config, dirs):
    """Every arm has its grid and no best rate sits at an edge that the stage would still extend."""
    points = tuning_points(cell, config, dirs)
    return all(any(k == arm for k, _, _ in points) for arm in tuning.RATE_FIELDS) and all(
        tuning.extension(points, arm, cell.plan.grids[arm]) is None for arm in tuning.RATE_FIELDS)


def stored_identities(cell, dirs):
    """The cell identities of the finished runs stored for ``cell`` in any of ``dirs``."""
    found = set()
    for d in dirs:
        for run in RunFolder.finished_in(Path(d) / cell.store / cell.dataset):
            found.add(cell_identity(load_run(run.path, verify="stored").config))
    return found


def run_unit(cell, config, runs_dir, store_dir, stored_dirs, log):
    """Train one unit and store its small files; returns the stored run folders."""
    target = Path(store_dir) / cell.store
    if cell.kind == "tuning":
        tuning.tune_width(cell.plan, config, runs_dir, str(target), cell.dataset, log=log)
        return [p.path for p in RunFolder.finished_in(target / cell.dataset)]
    if cell.kind == "tuned":
        dirs = [Path(d) / "tuning" for d in (store_dir, *stored_dirs)]
        config = tuning.tuned_config(config, tuning_points(cell, config, dirs))
    result = run_experiment(config, runs_dir, progress_bar=False)
    study.store_and_check(result, cell.dataset, str(target))
    return [target / cell.dataset / result.run_dir.name]


# Longer than 60 lines because the skip, fit and measure rules are one loop that the summary mirrors.
def run_queue(queue, runs_dir, store_dir, stored_dirs=("results",), budget_minutes=None, clock=time.monotonic,
              log=print):
    """Run the queue's units in order within the budget; returns the summary rows (one per unit)."""
    budget = (queue.budget_minutes if budget_minutes is None else budget_minutes) * 60.0
    start, rows = clock(), []
    dirs = (store_dir, *stored_dirs)
    for cell in queue.cells:
        measured = None
        stored = stored_identities(cell, dirs) if cell.kind != "tuning" else set()
        for seed, config in cell.configs:
            unit = f"{cell.name}" + ("" if seed is None else f" seed {seed}")
            row = {"cell": cell.name, "kind": cell.kind, "seed": seed, "status": "", "reason": "",
                   "estimate_min": measured or cell.prior_minutes, "minutes": 0.0}
            rows.append(row)
            if _finished(cell, config, dirs, stored):
                row.update(status="skipped", reason="stored already")
                continue
            left = (budget - (clock() - start)) / 60.0
            if row["estimate_min"] > left:
                reason = f"needs about {row['estimate_min']:.1f} min, {max(left, 0.0):.1f} min left"
                row.update(status="skipped", reason=reason)
                log(f"== {unit}: {row['reason']}, skipped")
                continue
            began = clock()
            try:
                row["stored"] = [str(p) for p in run_unit(cell, config, runs_dir, store_dir, stored_dirs, log)]
            except ValueError as err:  # e.g. a tuned cell whose tuning is not stored yet
                row.update(status="failed", reason=str(err), minutes=(clock() - began) / 60.0)
                log(f"== {unit}: failed: {err}")
                continue
            measured = (clock() - began) / 60.0
            row.update(status="ran", minutes=measured)
            log(f"== {unit}: {measured:.1f} min")
    return rows


def _finished(cell, config, dirs, stored):
    """Whether the unit's results are stored in any of ``dirs`` already (on whatever engine stored them)."""
    if cell.kind == "tuning":
        return tuning_finished(cell, config, [Path(d) / cell.store for d in dirs])
    if cell.kind == "tuned":
        return _tuned_stored(cell, config, dirs, stored)
    return cell_identity(config) in stored


def _tuned_stored(cell, config, dirs, stored):
    """A tuned unit is stored when a run of its identity at its tuned rates is (the rates need the tuning)."""
    try:
        tuned = tuning.tuned_config(config, tuning_points(cell, config, [Path(d) / "tuning" for d in dirs]))
    except ValueError:
        return False
    return cell_identity(tuned) in stored


def write_summary(rows, path):
    """The summary as a printed table and a JSON file; returns the table."""
    frame = pd.DataFrame(rows).astype({"seed": "Int64"})
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(rows, indent=1, default=str))
    columns = ["cell", "kind", "seed", "status", "estimate_min", "minutes", "reason"]
    print(frame[columns].to_string(index=False, float_format=lambda v: f"{v:.2f}"), flush=True)
    return frame
