"""The GPU queue (supermask_lib/study/queue.py, benchmarks/gpu_queue.py) on CPU with a tiny queue file.

The clock is the test's: each unit "takes" one minute, so the budget rules are checked exactly.
"""

import json
import sys
from pathlib import Path

import pytest

from supermask_lib.study import queue

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "gpu-queue-tiny.yaml"
pytestmark = pytest.mark.slow


class Clock:
    """Minutes that pass only when a unit finishes (``minutes_per_unit`` each)."""

    def __init__(self, monkeypatch, minutes_per_unit=1.0):
        self.now = 0.0
        real = queue.run_unit

        def timed(*args, **kwargs):
            stored = real(*args, **kwargs)
            self.now += minutes_per_unit * 60.0
            return stored
        monkeypatch.setattr(queue, "run_unit", timed)

    def __call__(self):
        return self.now


def run(tmp_path, monkeypatch, data_dir, budget, text=None):
    path = TINY
    if text is not None:
        path = tmp_path / "queue.yaml"
        path.write_text(text)
    plan = queue.load_queue(path, ROOT / "params", data_dir)
    return queue.run_queue(plan, tmp_path / "runs", tmp_path / "store", stored_dirs=(), budget_minutes=budget,
                           clock=Clock(monkeypatch), log=lambda *_: None)


def statuses(rows):
    return [(row["cell"], row["seed"], row["status"]) for row in rows]


def test_priority_order_storing_and_skipping_on_a_second_call(tmp_path, monkeypatch, data_dir):
    rows = run(tmp_path, monkeypatch, data_dir, budget=10)
    assert statuses(rows) == [("first", 0, "ran"), ("first", 1, "ran"), ("second", 2, "ran")]
    assert [row["minutes"] for row in rows] == [1.0, 1.0, 1.0]
    for row in rows:  # the stored small files are the run folder's, byte for byte
        (stored,) = row["stored"]
        stored = Path(stored)
        assert stored.parent == tmp_path / "store" / "tiny" / "mnist"
        names = sorted(p.name for p in stored.iterdir())
        assert "metrics.json" in names and "config.json" in names and not any(n.endswith(".keras") for n in names)
        for name in names:
            assert (stored / name).read_bytes() == (tmp_path / "runs" / stored.name / name).read_bytes()
    again = run(tmp_path, monkeypatch, data_dir, budget=10)
    assert [(r["status"], r["reason"]) for r in again] == [("skipped", "stored already")] * 3
    queue.write_summary(rows + again, tmp_path / "summary.json")
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert [r["status"] for r in saved] == ["ran"] * 3 + ["skipped"] * 3


def test_a_spent_budget_skips_what_does_not_fit_runs_what_does_and_a_second_call_resumes(
        tmp_path, monkeypatch, data_dir):
    text = TINY.read_text().replace("seeds: [2], prior_minutes: 1.0", "seeds: [2], prior_minutes: 0.4")
    rows = run(tmp_path, monkeypatch, data_dir, budget=1.5, text=text)
    # seed 0 runs (1 min); seed 1 is estimated at seed 0's measured minute with 0.5 left; the smaller cell fits
    assert statuses(rows) == [("first", 0, "ran"), ("first", 1, "skipped"), ("second", 2, "ran")]
    assert rows[1]["reason"] == "needs about 1.0 min, 0.5 min left"
    resumed = run(tmp_path, monkeypatch, data_dir, budget=1.5, text=text)
    assert statuses(resumed) == [("first", 0, "skipped"), ("first", 1, "ran"), ("second", 2, "skipped")]
    assert resumed[0]["reason"] == resumed[2]["reason"] == "stored already"


def test_a_budget_spent_before_the_list_ends_stops_before_the_next_cell(tmp_path, monkeypatch, data_dir):
    rows = run(tmp_path, monkeypatch, data_dir, budget=2.0)
    assert statuses(rows) == [("first", 0, "ran"), ("first", 1, "ran"), ("second", 2, "skipped")]
    assert rows[2]["reason"] == "needs about 1.0 min, 0.0 min left"
    assert len(list((tmp_path / "runs").iterdir())) == 2  # the skipped cell left no run folder


def test_tuned_cells_read_their_rates_from_the_stored_tuning_and_skip_the_stored_cpu_cells(tmp_path):
    """Width 1's CPU cells are stored (results/tuned/); the bridge's store (tuned-jax) is another folder."""
    text = ("budget_minutes: 5\ncells:\n"
            "  - {name: cpu, kind: tuned, dataset: cifar10, width: 1, seeds: [0, 1], prior_minutes: 1}\n"
            "  - {name: bridge, kind: tuned, dataset: cifar10, width: 1, seeds: [0], store: tuned-jax,"
            " prior_minutes: 1, set: {jit_compile: true}}\n")
    path = tmp_path / "queue.yaml"
    path.write_text(text)
    plan = queue.load_queue(path, ROOT / "params")
    rows = queue.run_queue(plan, tmp_path / "runs", tmp_path / "store", stored_dirs=(ROOT / "results",),
                           budget_minutes=0.5, log=lambda *_: None)
    assert statuses(rows) == [("cpu", 0, "skipped"), ("cpu", 1, "skipped"), ("bridge", 0, "skipped")]
    assert [row["reason"] for row in rows] == ["stored already"] * 2 + ["needs about 1.0 min, 0.5 min left"]


def test_a_tuned_cell_trained_longer_reads_the_rates_tuned_on_the_axis_schedule(tmp_path):
    """The long cells set epochs 40; their tuning ran at the axis's 20, and its rates are the ones they train with."""
    from supermask_lib.experiment.results import load_run
    from supermask_lib.study import tuning

    path = tmp_path / "queue.yaml"
    path.write_text("budget_minutes: 5\ncells:\n  - {name: long, kind: tuned, dataset: cifar10, width: 1,"
                    " seeds: [0], prior_minutes: 1, set: {epochs: 40, mix_epochs: 10}}\n")
    cell = queue.load_queue(path, ROOT / "params").cells[0]
    config = cell.configs[0][1]
    tuned = tuning.tuned_config(config, queue.tuning_points(cell, config, [ROOT / "results" / "tuning"]))
    stored = [load_run(p, verify="stored").config for p in sorted((ROOT / "results" / "tuned" / "cifar10").iterdir())]
    twenty = next(c for c in stored if c.seed == 0 and c.model == config.model)
    assert (tuned.epochs, tuned.mix_epochs) == (40, 10) and (twenty.epochs, twenty.mix_epochs) != (40, 10)
    for field in tuning.RATE_FIELDS.values():
        assert getattr(tuned, field) == getattr(twenty, field), field


BASE = "budget_minutes: 5\ncells:\n  - {name: a, kind: tuned, dataset: cifar10, width: 1, prior_minutes: 1}\n"


@pytest.mark.parametrize("text, message", [
    (BASE.replace("kind: tuned", "kind: tuner"),
     "cells[0].kind='tuner' is not allowed: one of ['tuned', 'tuning', 'profile']"),
    (BASE.replace("width: 1", "width: 3"),
     "cells[0].width=3 is not allowed: a width of the tuned axis [1, 2, 4, 8]"),
    (BASE.replace("budget_minutes: 5", "budget_minutes: -1"),
     "budget_minutes=-1 is not allowed: a number of minutes in (0, 600]"),
    (BASE.replace("budget_minutes: 5", "budget_minutes: soon"), "budget_minutes='soon' is not allowed"),
    (BASE.replace("prior_minutes: 1", "prior_minutes: 1, widht: 2"),
     "cells[0].widht=2 is not allowed: one of the keys"),
    (BASE.replace("prior_minutes: 1", "prior_minutes: 0"), "cells[0].prior_minutes=0 is not allowed"),
    (BASE.replace("width: 1,", "width: 1, seeds: [100],"), "cells[0].seeds=[100] is not allowed: evaluation seeds"),
])
def test_bad_queue_files_name_the_key_the_value_and_what_is_allowed(tmp_path, text, message):
    path = tmp_path / "queue.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        queue.load_queue(path, ROOT / "params")
    assert message in str(err.value) and str(path) in str(err.value)


def test_the_default_queue_loads_in_priority_order():
    plan = queue.load_queue(ROOT / "params" / "gpu-queue.yaml", ROOT / "params")
    assert [cell.name for cell in plan.cells] == ["bridge-w1", "bridge-w2", "long-w1", "long-w2",
                                                   "tuning-w4", "tuned-w4", "tuning-w8", "tuned-w8", "full-mnist"]
    assert all(config.jit_compile is True for cell in plan.cells[:8] for _, config in cell.configs)
    long = dict(plan.cells[2].configs)
    assert {(config.epochs, config.mix_epochs) for config in long.values()} == {(40, 10)}
    assert plan.cells[0].store == "tuned-jax" and plan.budget_minutes == 11


def test_a_store_names_the_schedule_its_cells_share_and_a_store_of_two_schedules_is_refused(tmp_path):
    """A reader of results/tuned-long/ takes its schedule from the cells that store there: one mapping or none."""
    path = tmp_path / "queue.yaml"
    cell = "  - {{name: {}, kind: tuned, dataset: cifar10, width: {}, store: long, prior_minutes: 1, set: {}}}\n"
    path.write_text("budget_minutes: 5\ncells:\n" + cell.format("a", 1, "{epochs: 40, mix_epochs: 10}")
                    + cell.format("b", 2, "{mix_epochs: 10, epochs: 40}"))
    assert queue.store_overrides(path, "long") == {"epochs": 40, "mix_epochs": 10}
    path.write_text(path.read_text() + cell.format("c", 1, "{epochs: 80}"))
    with pytest.raises(ValueError, match="the set of the cells with store long=.*one mapping, shared by every cell"):
        queue.store_overrides(path, "long")
    with pytest.raises(ValueError, match=r"store elsewhere=\[\] is not allowed"):
        queue.store_overrides(path, "elsewhere")


def test_the_cpu_queue_trains_the_gpu_queues_long_cells_as_the_same_cells():
    """Either machine's long runs are cells of results/tuned-long/: the same identities, XLA aside."""
    from supermask_lib.study.scale import cell_identity

    cpu, gpu = (queue.load_queue(ROOT / "params" / f"{name}-queue.yaml", ROOT / "params") for name in ("cpu", "gpu"))
    long = {cell.name: cell for cell in gpu.cells if cell.store == "tuned-long"}
    assert [cell.name for cell in cpu.cells] == list(long) and {cell.store for cell in cpu.cells} == {"tuned-long"}
    for cell in cpu.cells:
        assert [cell_identity(c) for _, c in cell.configs] == [cell_identity(c) for _, c in long[cell.name].configs]
        assert not any(c.jit_compile for _, c in cell.configs)


def test_the_script_runs_the_tiny_queue(tmp_path, data_dir):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import gpu_queue

    args = ["--queue", str(TINY), "--params-dir", str(ROOT / "params"), "--runs-dir", str(tmp_path / "runs"),
            "--store-dir", str(tmp_path / "store"), "--stored", "--data-dir", str(data_dir),
            "--budget-minutes", "0.001"]
    rows = gpu_queue.main(args)
    assert [row["status"] for row in rows] == ["skipped"] * 3
    assert json.loads((tmp_path / "store" / "queue-summary.json").read_text())[0]["reason"].startswith("needs about")


def test_an_interrupted_unit_resumes_from_its_run_folder(tmp_path, monkeypatch, data_dir):
    from supermask_lib.experiment.runner import run_experiment
    from tests.helpers import StopAfterEpochs

    text = TINY.read_text().replace("seeds: [0, 1], prior_minutes: 1.0,", "seeds: [0], prior_minutes: 1.0,").replace(
        "phases: [mask]}}", "phases: [mask], epochs: 2}}", 1)
    path = tmp_path / "queue.yaml"
    path.write_text(text)
    (cell, _) = queue.load_queue(path, ROOT / "params", data_dir).cells
    with pytest.raises(StopAfterEpochs.Interrupted):  # a lease that ended after the first of two epochs
        run_experiment(cell.configs[0][1], tmp_path / "runs", progress_bar=False, callbacks=[StopAfterEpochs(1)])
    (partial,) = (tmp_path / "runs").iterdir()
    first_epoch = (partial / "history_mask.csv").read_text()
    rows = run(tmp_path, monkeypatch, data_dir, budget=10, text=text)
    assert statuses(rows)[0] == ("first", 0, "ran")
    assert partial.name in [p.name for p in (tmp_path / "runs").iterdir()]  # the same folder, carried on
    history = (partial / "history_mask.csv").read_text().splitlines()
    assert len(history) == 3 and history[:2] == first_epoch.splitlines()  # header, the kept epoch, the new one
