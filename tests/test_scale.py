"""The width axis: its profile's rule, its cells, and the trend, checked against arithmetic done by hand."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from supermask_lib.study import scale
from supermask_lib.experiment.arms import ArmMetrics
from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.experiment.results import RunResult

BASE = """seeds: [0, 1, 2]
base:
  dataset: cifar10
  phases: [mask, weights, mix, equal_cost]
  epochs: 2
variants:
"""


def _axis(tmp_path, variants):
    (tmp_path / "scale-cifar10.yaml").write_text(BASE + "".join(f"  {line}\n" for line in variants))
    return scale.load_axis(tmp_path, "cifar10")


def test_the_axis_is_the_widths_narrowest_first_and_only_the_width_changes(tmp_path):
    axis, seeds = _axis(tmp_path, ["w4: {model: wrn-10-4}", "w1: {model: wrn-10-1}", "w2: {model: wrn-10-2}"])
    assert list(axis) == [1, 2, 4] and seeds == (0, 1, 2)
    assert axis[4].model == "wrn-10-4" and axis[4].seed == 0 and axis[4].epochs == 2
    assert scale.cells(axis, seeds, widths=[1, 4], only_seeds=[2, 0]) == [(1, 0), (1, 2), (4, 0), (4, 2)]
    with pytest.raises(ValueError, match=r"--widths \[8\] are not in the axis's \[1, 2, 4\]"):
        scale.cells(axis, seeds, widths=[8])
    with pytest.raises(ValueError, match=r"variant 'w2'\) differs from variant 'w1' in \['epochs'\]; only the width"):
        _axis(tmp_path, ["w1: {model: wrn-10-1}", "w2: {model: wrn-10-2, epochs: 3}"])
    with pytest.raises(ValueError, match=r"differs from variant 'w1' in \['model'\]"):  # another depth
        _axis(tmp_path, ["w1: {model: wrn-10-1}", "w2: {model: wrn-16-2}"])
    with pytest.raises(ValueError, match=r"model='fc'; the width axis holds"):
        _axis(tmp_path, ["w1: {model: fc}"])


def _results(seed_accuracies):
    config = ExperimentConfig(dataset="cifar10", phases=("mask", "weights", "mix", "equal_cost"))
    return {seed: RunResult(Path(f"r{seed}"), config.replace(seed=seed), {"train_size": 100}, {},
                            {arm: ArmMetrics(1.0, accuracy) for arm, accuracy in accuracies.items()}, {}, {}, "holdout")
            for seed, accuracies in seed_accuracies.items()}


def test_width_table_pairs_within_each_widths_seeds():
    stored = {1: _results({0: {"initial": 0.1, "mask": 0.4, "weights": 0.5, "mix": 0.42, "equal_cost": 0.52},
                           1: {"initial": 0.1, "mask": 0.5, "weights": 0.6, "mix": 0.56, "equal_cost": 0.6}})}
    table = scale.width_table(stored)
    assert table.loc[("mix − weights", 1), "difference"] == pytest.approx((-0.08 - 0.04) / 2)
    assert table.loc[("mix − mask", 1), "difference"] == pytest.approx((0.02 + 0.06) / 2)
    assert table.loc[("mask − weights", 1), "seeds where arm is higher"] == 0


def _seeds(points, spread=0.01):
    """Per width, two seeds at ``value ∓ spread``: the per-seed differences :func:`scale.trend` reads."""
    rows = [{"comparison": "mix − weights", "width": width, "seed": seed, "difference": value + sign * spread}
            for width, value in points.items() for seed, sign in ((0, -1), (1, 1))]
    return pd.DataFrame(rows).set_index(["comparison", "width", "seed"])


def test_a_trend_toward_zero_crosses_where_the_line_does():
    # -0.06, -0.04, -0.02 (each ± 0.01 over two seeds) at log2(width) 0, 1, 2: slope +0.02 a doubling, zero at
    # log2 = 3. Residuals ±0.01: s² = 6e-4 / (6 - 2); sum of (x - mean x)² = 2 * (1 + 0 + 1) = 4.
    result = scale.trend(_seeds({1: -0.06, 2: -0.04, 4: -0.02}))["mix − weights"]
    assert result["slope"] == pytest.approx(0.02) and (result["widths"], result["seeds"]) == (3, 6)
    assert result["slope_ci95"] == pytest.approx(2.7764451 * np.sqrt(6e-4 / 4 / 4), rel=1e-6)  # t(0.975, 4)
    width, low, high = result["crossing"]
    assert width == pytest.approx(8.0) and low < 8.0 < high and result["extrapolated"]
    sentence = scale.trend_sentence("mix − weights", result)
    assert "rises with width (+0.020 ± 0.017 per doubling of the width; 6 seeds over 3 widths)" in sentence
    assert "cross zero near width 8 (95% interval" in sentence


def test_no_trend_no_extrapolation_and_away_from_zero_no_crossing():
    flat = scale.trend(_seeds({1: -0.05, 2: -0.04, 4: -0.05}, spread=0.05))["mix − weights"]
    assert flat["crossing"] is None
    assert scale.trend_sentence("mix − weights", flat).endswith("the data do not support an extrapolation.")
    away = scale.trend(_seeds({1: -0.02, 2: -0.04, 4: -0.06}))["mix − weights"]
    assert away["slope"] == pytest.approx(-0.02) and away["crossing"] is None
    assert scale.trend_sentence("mix − weights", away).endswith("moving away from zero: the line does not cross it.")
    within = scale.trend(_seeds({1: -0.02, 2: 0.0, 4: 0.02}))["mix − weights"]
    assert within["crossing"][0] == pytest.approx(2.0) and not within["extrapolated"]
    assert "crosses zero within the widths measured, near width 2.0" in scale.trend_sentence("mix − weights", within)
    one = scale.trend(_seeds({1: -0.02}))["mix − weights"]
    assert scale.trend_sentence("mix − weights", one) == (
        "mix − weights: too few cells for a trend (a line needs two widths and three seeds in all; 2 seeds over "
        "1 width so far).")


def _engine_seeds(cells, spread=0.01):
    """Per (width, engine), two seeds at ``value ∓ spread``, each row naming its engine."""
    rows = [{"comparison": "mix − weights", "width": width, "seed": seed, "difference": value + sign * spread,
             "engine": engine} for (width, engine), value in cells.items() for seed, sign in ((0, -1), (1, 1))]
    return pd.DataFrame(rows).set_index(["comparison", "width", "seed"])


def test_an_engine_term_separates_the_engines_shift_from_the_widths_slope():
    # The line -0.06 + 0.02 log2(width) on the CPU engine, and the same line 0.05 higher on the GPU engine, width 2
    # run on both. A line without an engine term would take the GPU's widths 4 and 8 for a steeper slope.
    cells = {(1, "CPU"): -0.06, (2, "CPU"): -0.04, (2, "GPU"): 0.01, (4, "GPU"): 0.03, (8, "GPU"): 0.05}
    result = scale.trend(_engine_seeds(cells))["mix − weights"]
    assert result["slope"] == pytest.approx(0.02) and result["reference"] == "CPU" and result["bridged"]
    shift, ci = result["engines"]["GPU"]
    assert shift == pytest.approx(0.05)
    x = np.log2([1, 1, 2, 2, 2, 2, 4, 4, 8, 8])
    gpu = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1.0])
    design = np.column_stack([np.ones(10), x, gpu])
    s2 = 10 * 0.01 ** 2 / (10 - 3)  # every residual ±0.01: each cell's two seeds straddle its mean
    assert ci == pytest.approx(stats.t.ppf(0.975, 7) * np.sqrt(s2 * np.linalg.inv(design.T @ design)[2, 2]))
    assert result["crossing"][0] == pytest.approx(8.0)  # on the reference engine: -0.06 + 0.02 * 3 = 0
    without = scale.trend(_engine_seeds(cells).drop(columns="engine"))["mix − weights"]
    assert without["slope"] > 0.03 and without["engines"] == {}
    sentence = scale.trend_sentence("mix − weights", result)
    assert "per doubling of the width with the engine held fixed" in sentence
    assert sentence.endswith("engine term against CPU (GPU +0.050 ± {:.3f}), measured where one width ran on both."
                             .format(ci))


def test_an_engine_term_without_a_shared_width_says_it_rests_on_the_line_and_one_per_width_has_none():
    apart = scale.trend(_engine_seeds({(1, "CPU"): -0.06, (2, "CPU"): -0.04, (4, "GPU"): 0.03, (8, "GPU"): 0.05},
                                      spread=0.001))
    assert not apart["mix − weights"]["bridged"]
    assert apart["mix − weights"]["engines"]["GPU"][0] == pytest.approx(0.05)
    assert apart["mix − weights"]["crossing"] is None  # it would hang on the unmeasured engine term
    sentence = scale.trend_sentence("mix − weights", apart["mix − weights"])
    assert "where it would cross zero is not given, since that rests on an engine term no shared width" in sentence
    assert "resting on the straight line alone, since no width ran on both engines" in sentence
    confounded = scale.trend(_engine_seeds({(1, "CPU"): -0.06, (2, "GPU"): 0.01}))["mix − weights"]
    assert not np.isfinite(confounded["slope"]) and confounded["crossing"] is None
    assert scale.trend_sentence("mix − weights", confounded) == (
        "mix − weights: no trend. No engine term: the seeds' engines (CPU, GPU) ran widths that a line cannot tell "
        "from the engine; one width run on both would separate them.")


def test_the_cli_stores_each_cell_as_it_finishes(tmp_path, monkeypatch):
    (tmp_path / "scale-cifar10.yaml").write_text(BASE + "  w1: {model: wrn-10-1}\n  w2: {model: wrn-10-2}\n")
    stored = []

    def run_experiment(config, out_dir, **kwargs):
        if config.model == "wrn-10-2" and config.seed == 1:
            raise KeyboardInterrupt  # stopped during a cell: the cells before it are stored
        return _results({config.seed: {"initial": 0.1}})[config.seed]

    monkeypatch.setattr(scale, "run_experiment", run_experiment)
    monkeypatch.setattr(scale.study, "store_and_check",
                        lambda result, dataset, store, check, label: stored.append((result.config.seed, label)))
    with pytest.raises(KeyboardInterrupt):
        scale.main(["--params-dir", str(tmp_path), "--seeds", "0", "1"])
    assert stored == [(0, "width 1, seed 0"), (1, "width 1, seed 1"), (0, "width 2, seed 0")]


def test_the_cli_skips_a_cell_stored_already_on_any_engine(tmp_path, monkeypatch, capsys):
    """A GPU-stored wide cell is not trained again on a CPU (it would be the same cell stored twice)."""
    (tmp_path / "scale-cifar10.yaml").write_text(BASE + "  w1: {model: wrn-10-1}\n  w2: {model: wrn-10-2}\n")
    ran = []
    gpu = _results({0: {"initial": 0.1}})[0]
    gpu.environment["device"] = "NVIDIA H200"
    monkeypatch.setattr(scale, "load_stored_axis", lambda folder, axis, seeds: {2: {0: gpu}})
    monkeypatch.setattr(scale, "run_experiment", lambda config, out_dir, **kwargs: ran.append(
        (config.model, config.seed)))
    monkeypatch.setattr(scale.study, "store_and_check", lambda *args, **kwargs: None)
    scale.main(["--params-dir", str(tmp_path), "--seeds", "0", "--store", str(tmp_path / "stored")])
    assert ran == [("wrn-10-1", 0)]
    assert "== width 2, seed 0: stored (NVIDIA H200), skipped" in capsys.readouterr().out
    scale.main(["--params-dir", str(tmp_path), "--seeds", "0", "--store", ""])  # no store: every cell trains
    assert ran[1:] == [("wrn-10-1", 0), ("wrn-10-2", 0)]


def test_the_cli_runs_the_same_cells_with_xla_when_asked(tmp_path, monkeypatch):
    """--jit-compile changes how the steps run (a GPU's setting), not which cell a run is."""
    (tmp_path / "scale-cifar10.yaml").write_text(BASE + "  w1: {model: wrn-10-1}\n")
    ran = []
    monkeypatch.setattr(scale, "run_experiment", lambda config, out_dir, **kwargs: ran.append(config))
    monkeypatch.setattr(scale.study, "store_and_check", lambda *args, **kwargs: None)
    scale.main(["--params-dir", str(tmp_path), "--seeds", "1", "--jit-compile", "true"])
    axis, _ = scale.load_axis(tmp_path, "cifar10")
    assert [config.jit_compile for config in ran] == [True] and axis[1].jit_compile != True  # noqa: E712
    assert scale.cell_identity(ran[0]) == scale.cell_identity(axis[1].replace(seed=1))
    assert scale.cell_identity(ran[0]) != scale.cell_identity(axis[1].replace(seed=1, learning_rate=0.02))
    with pytest.raises(SystemExit):
        scale.main(["--params-dir", str(tmp_path), "--jit-compile", "yes"])


def test_a_cell_stored_twice_is_refused(tmp_path, monkeypatch):
    """A cell run on the CPU and again with XLA on a GPU is one cell: the book must not count it twice."""
    axis, seeds = _axis(tmp_path, ["w1: {model: wrn-10-1}"])
    for name, jit in (("cpu", False), ("gpu", True)):
        (tmp_path / "stored" / name).mkdir(parents=True)
        (tmp_path / "stored" / name / "metrics.json").write_text("{}")
    monkeypatch.setattr(scale, "load_run", lambda path, verify: RunResult(
        path, axis[1].replace(jit_compile=path.name == "gpu"), {}, {}, {}, {}, {}, "holdout"))
    with pytest.raises(ValueError, match=r"width 1, seed 0 is stored twice \(cpu and gpu\); keep one"):
        scale.load_stored_axis(tmp_path / "stored", axis, seeds)


def test_training_flops_grow_about_as_the_square_of_the_width():
    # A Wide ResNet's convolutions hold width^2 times the weights (the stem and the classifier do not).
    run = _results({0: {"initial": 0.1}})[0]
    narrow, wide = (RunResult(run.run_dir, run.config.replace(model=model), run.data, {}, run.metrics, {}, {},
                              "holdout") for model in ("wrn-10-1", "wrn-10-2"))
    ratio = scale.training_flops(wide) / scale.training_flops(narrow)
    assert 3.5 < ratio < 4.0
    epochs = sum(arm.epoch_count(narrow.config) for arm in narrow.config.arm_records())
    assert scale.training_flops(narrow) % (6 * 100 * epochs) == 0  # 6 x MACs x 100 images x every arm's epochs


def test_every_seed_is_a_point_so_a_width_whose_few_seeds_agree_is_not_taken_for_a_precise_one():
    """Two seeds that happen to agree at one width must not pin the line there (as weighing each width by its
    own interval did): the scatter is pooled over every width."""
    points = _seeds({1: -0.06, 4: 0.0, 8: 0.06}, spread=0.04)
    lucky = pd.DataFrame({"difference": [0.0, 0.0]}, index=pd.MultiIndex.from_tuples(
        [("mix − weights", 2, 0), ("mix − weights", 2, 1)], names=["comparison", "width", "seed"]))
    result = scale.trend(pd.concat([points, lucky]))["mix − weights"]
    x = np.log2([1, 1, 4, 4, 8, 8, 2, 2])
    y = np.array([-0.10, -0.02, -0.04, 0.04, 0.02, 0.10, 0.0, 0.0])
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (intercept + slope * x)
    se = np.sqrt(residual @ residual / (len(y) - 2) / ((x - x.mean()) ** 2).sum())
    assert result["slope"] == pytest.approx(slope) and result["slope_ci95"] == pytest.approx(
        stats.t.ppf(0.975, len(y) - 2) * se)
    assert result["seeds"] == 8 and result["widths"] == 4
    single = pd.DataFrame({"difference": [0.3]}, index=pd.MultiIndex.from_tuples(
        [("mix − weights", 16, 0)], names=["comparison", "width", "seed"]))
    assert scale.trend(pd.concat([points, single]))["mix − weights"]["seeds"] == 7  # a one-seed width is a point too


def test_seed_differences_are_each_seeds_arm_minus_baseline():
    stored = {1: _results({0: {"initial": 0.1, "mask": 0.4, "weights": 0.5, "mix": 0.42, "equal_cost": 0.52},
                           1: {"initial": 0.1, "mask": 0.5, "weights": 0.6, "mix": 0.56, "equal_cost": 0.6}})}
    differences = scale.seed_differences(stored)
    assert differences.loc[("mix − weights", 1, 0), "difference"] == pytest.approx(-0.08)
    assert differences.loc[("mix − mask", 1, 1), "difference"] == pytest.approx(0.06)
    assert len(differences) == 4 * 2  # the trend's four comparisons, two seeds each
