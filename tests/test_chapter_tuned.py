"""The tuned axis's chapter: its answer per width, its grids and its training checks, from the stored runs."""

from pathlib import Path

import pandas as pd
import pytest

from supermask_lib.experiment.storage import RunFolder, read_json
from supermask_lib.report.chapters import tuned

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cifar10():
    return tuned.load(ROOT / "params", ROOT / "results" / "tuning", ROOT / "results" / "tuned", "cifar10")


def _table(difference, low, high):
    rows = {("mix − weights", difference, low, high), ("mix − weights_anneal", 0.0, -0.01, 0.01)}
    frame = pd.DataFrame([{"width": 2, "comparison": c, "difference": d, "ci95": (h - lo) / 2, "low": lo, "high": h,
                           "seeds where arm is higher": 3, "seeds": 5} for c, d, lo, h in rows])
    return frame.set_index(["width", "comparison"])


@pytest.mark.parametrize("difference, low, high, said", [
    (0.02, 0.01, 0.03, "a better starting point"), (-0.02, -0.03, -0.01, "a worse starting point"),
    (0.01, -0.005, 0.025, "neither better nor worse"),
])
def test_a_direction_is_stated_only_where_the_interval_excludes_zero(difference, low, high, said):
    sentence = tuned.verdict("CIFAR-10", 2, _table(difference, low, high))
    assert said in sentence and f"{difference:+.3f}" in sentence and "3 of 5 seeds higher" in sentence


def test_one_seed_states_no_direction():
    table = _table(0.05, float("nan"), float("nan"))
    table["seeds"] = 1
    sentence = tuned.verdict("CIFAR-10", 2, table)
    assert "one evaluation seed so far" in sentence and "better" not in sentence and "worse" not in sentence


def test_the_grids_mark_the_rate_with_the_best_validation_accuracy(cifar10):
    _, points, _ = cifar10
    grid = tuned.grid_table(points)
    for arm in grid.index.get_level_values("arm").unique():
        column = grid.loc[arm, "width 1"]
        values = column.str.rstrip("*!").astype(float)
        assert column[column.str.contains(r"\*")].index.tolist() == [values.idxmax()]
    assert set(grid.index.get_level_values("rate")) >= {"0.001", "0.00316", "0.01"}  # rates as written, not 0.001000


def test_late_selections_and_the_long_enough_rule_recount_from_the_run_files(cifar10):
    _, _, stored = cifar10
    late, cells = {}, {}
    for results in stored.values():
        for result in results.values():
            for arm, metrics in read_json(RunFolder(result.run_dir).metrics).items():
                if isinstance(metrics, dict) and "best_epoch" in metrics:
                    late[arm] = late.get(arm, 0) + (metrics["best_epoch"] >= 0.9 * metrics["epochs"])
                    cells[arm] = cells.get(arm, 0) + 1
    table = tuned.late_selections(stored)
    assert table["late"].to_dict() == late and table["cells"].to_dict() == cells
    enough = tuned.long_enough(stored)
    for (width, seed), row in enough.iterrows():
        history = stored[width][seed].histories["weights"]["val_accuracy"].tolist()  # 20 epochs: the last 4
        assert row["gain over the last fifth"] == pytest.approx(max(history) - max(history[:-4]))
        assert row["long enough"] == (max(history) - max(history[:-4]) < 0.005)


def test_the_answer_at_width_one_is_the_paired_seed_differences(cifar10):
    _, _, stored = cifar10
    table = tuned.differences(stored)
    by_seed = [r.metrics["mix"].test_accuracy - r.metrics["weights"].test_accuracy for r in stored[1].values()]
    assert table.loc[(1, "mix − weights"), "difference"] == pytest.approx(sum(by_seed) / len(by_seed))
    assert table.loc[(1, "mix − weights"), "seeds"] == len(by_seed) == 5


def test_engine_bridge_is_the_paired_shift_of_each_comparison_between_engines():
    from types import SimpleNamespace

    def run(seed, mix, weights):
        metrics = {"initial": 0.1, "mix": mix, "weights": weights}
        return SimpleNamespace(metrics={arm: SimpleNamespace(test_accuracy=value) for arm, value in metrics.items()},
                               config=SimpleNamespace(arms=lambda: ["mix", "weights"]))
    here = {1: {0: run(0, 0.50, 0.60), 1: run(1, 0.52, 0.60), 2: run(2, 0.51, 0.61)}}
    there = {1: {0: run(0, 0.52, 0.60), 1: run(1, 0.55, 0.61), 3: run(3, 0.9, 0.1)}}  # seed 3 has no twin
    table = tuned.engine_bridge(here, there, comparisons=(("mix", "weights", ""),))
    row = table.loc[(1, "mix − weights")]
    assert row["seeds"] == 2
    assert row["engine shift"] == pytest.approx(((0.52 - 0.60) - (0.50 - 0.60) + (0.55 - 0.61) - (0.52 - 0.60)) / 2)
    assert tuned.engine_bridge(here, {2: there[1]}).empty  # no width on both engines: nothing to say


def _engine_run(mix, weights, backend, device, seed=0):
    """A finished run of two arms on one engine, as :func:`load_run` would give it back."""
    from supermask_lib.experiment.arms import ArmMetrics
    from supermask_lib.experiment.config import ExperimentConfig
    from supermask_lib.experiment.results import RunResult

    config = ExperimentConfig(dataset="cifar10", phases=("mask", "weights", "mix"), seed=seed)
    metrics = {arm: ArmMetrics(1.0, value) for arm, value in {"initial": 0.1, "mix": mix, "weights": weights}.items()}
    return RunResult(Path("r"), config, {}, {"backend": backend, "device": device}, metrics, {}, {}, "holdout")


def test_bridge_note_says_one_engine_until_a_width_runs_on_two():
    cpu = {1: {seed: _engine_run(0.50 + seed / 100, 0.60, "tensorflow", "CPU (x86_64, 2 cores)", seed)
               for seed in range(3)}}
    assert "no width has run on a second engine yet" in tuned.bridge_note(cpu)
    gpu = {1: {seed: _engine_run(0.53 + seed / 100, 0.60, "jax", "NVIDIA H100", seed) for seed in range(3)}}
    note = tuned.bridge_note(cpu, gpu, {})
    assert "JAX on GPU at width 1 (3 seeds) +0.030 ± 0.000" in note and "than TensorFlow on CPU" in note


def test_trend_note_puts_the_bridge_cells_into_the_line_as_an_engine_term():
    # mix − weights is -0.10 + 0.04 log2(width) on TensorFlow, each width's seeds at ∓0.002; JAX shifts it by +0.02.
    def cpu(width, seed, sign):
        return _engine_run(0.50 - 0.10 + 0.04 * (width == 2) + sign * 0.002, 0.50, "tensorflow", "CPU", seed)
    stored = {width: {seed: cpu(width, seed, sign) for seed, sign in ((0, -1), (1, 1))} for width in (1, 2)}
    bridge = {1: {seed: _engine_run(0.40 + 0.02 + sign * 0.002, 0.50, "jax", "CPU", seed)
                  for seed, sign in ((0, -1), (1, 1))}}
    note = tuned.trend_note(stored, bridge, {})
    assert note.startswith("mix − weights rises with width (+0.040 ± ")
    assert "engine term against TensorFlow on CPU (JAX on CPU +0.020 ± " in note and "measured where" in note
    alone = tuned.trend_note(stored)
    assert "engine term" not in alone and alone.startswith("mix − weights rises with width (+0.040 ± ")
    assert tuned.trend_note({}) == "mix − weights: no tuned cell is stored yet."

def test_fit_sentence_reads_the_training_accuracy_at_each_selected_epoch():
    from supermask_lib.experiment.arms import ArmMetrics
    from supermask_lib.experiment.config import ExperimentConfig
    from supermask_lib.experiment.results import RunResult

    config = ExperimentConfig(dataset="cifar10", phases=("mask", "weights", "mix"))

    def run(seed, weights_train):
        metrics = {"initial": ArmMetrics(2.3, 0.1), "mask": ArmMetrics(1.0, 0.45, best_epoch=1),
                   "weights": ArmMetrics(1.0, 0.60, best_epoch=0), "mix": ArmMetrics(1.0, 0.50, best_epoch=1)}
        histories = {"mask": pd.DataFrame({"accuracy": [0.3, 0.5]}),
                     "weights": pd.DataFrame({"accuracy": [weights_train, 0.9]}),
                     "mix": pd.DataFrame({"accuracy": [0.5, 0.55]})}
        return RunResult(Path("r"), config.replace(seed=seed), {}, {}, metrics, histories, {}, "holdout")
    # weights selected epoch 0 (not the 0.9 of epoch 1): train 0.7 and 0.8, mean 0.75, the highest of the arms
    stored = {1: {0: run(0, 0.7), 1: run(1, 0.8)}}
    assert tuned.fit_sentence(stored) == ("the highest mean training accuracy at a selected epoch is 0.750 (weights "
                                          "at width 1), against test accuracies of 0.450 to 0.600")
    assert tuned.fit_sentence({}) == "no tuned cell is stored yet"


def _trained_run(mix, weights, seed, epochs, late_gain):
    """A run whose weights arm's best validation accuracy rises by ``late_gain`` over its last fifth of epochs."""
    from dataclasses import replace

    run = _engine_run(mix, weights, "tensorflow", "CPU", seed)
    curve = [0.5] * (epochs - epochs // 5) + [0.5 + late_gain] * (epochs // 5)
    return replace(run, config=run.config.replace(epochs=epochs, mix_epochs=epochs // 4),
                   histories={"weights": pd.DataFrame({"val_accuracy": curve})})


def test_longer_note_pairs_the_seeds_of_both_lengths_and_recounts_the_rule():
    # mix − weights per seed: −0.06, −0.04 at 20 epochs; −0.03, −0.01 at 40: +0.03 each, so the shift is exact.
    short = {1: {0: _trained_run(0.54, 0.60, 0, 20, 0.02), 1: _trained_run(0.56, 0.60, 1, 20, 0.001),
                 4: _trained_run(0.10, 0.90, 4, 20, 0.0)}}  # seed 4 was not trained longer: left out
    longer = {1: {0: _trained_run(0.59, 0.62, 0, 40, 0.001), 1: _trained_run(0.60, 0.61, 1, 40, 0.0)}}
    note = tuned.longer_note(short, longer)
    assert "at width 1, 2 seeds, 40 epochs an arm and 10 for fine-tuning against 20 and 5" in note
    assert "meets the rule in 2 of 2 cells against 1" in note
    assert "mix − weights is −0.020 ± " in note and "against −0.050 ± " in note
    assert "a paired shift of +0.030 ± 0.000" in note
    assert tuned.longer_note(short, {}) == "No width has been trained at the longer schedule yet."


def test_cells_stored_trained_longer_are_read_at_the_queues_schedule_and_the_tuned_rates():
    from supermask_lib.study import queue, tuning

    overrides = queue.store_overrides(ROOT / "params" / "gpu-queue.yaml", "tuned-long")
    _, points, longer = tuned.load(ROOT / "params", ROOT / "results" / "tuning", ROOT / "results" / "tuned-long",
                                   "cifar10", overrides)
    if not longer:
        pytest.skip("no cell trained longer is stored")
    for width, results in longer.items():
        for result in results.values():
            assert (result.config.epochs, result.config.mix_epochs) == (overrides["epochs"], overrides["mix_epochs"])
            for field, rate in tuning.chosen_rates(points[width]).items():
                assert getattr(result.config, field) == rate, field


def test_the_rules_resolution_is_its_threshold_in_validation_images_beside_a_binomial_standard_error():
    from dataclasses import replace

    runs = {1: {seed: replace(_trained_run(0.5, 0.6, seed, 20, 0.0), data={"val_size": 400},
                              histories={"weights": pd.DataFrame({"val_accuracy": [0.5, best]})})
                for seed, best in ((0, 0.7), (1, 0.9))}}  # mean best 0.8: sqrt(0.8 * 0.2 / 400) = 0.02
    assert tuned.rule_resolution(runs) == ("2 of its 400 validation images, where one standard error of an "
                                           "accuracy near 0.80 is 2.0 points")
    assert tuned.rule_resolution({}) == "no stored run to measure it on"
