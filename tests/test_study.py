"""Seeds and paired comparisons, checked against arithmetic done by hand."""

import matplotlib

matplotlib.use("Agg")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from supermask_lib.experiment import arms  # noqa: E402
from supermask_lib.report import plots  # noqa: E402
from supermask_lib.study import seeds as study  # noqa: E402
from supermask_lib.experiment.arms import ArmMetrics  # noqa: E402
from supermask_lib.experiment.config import ExperimentConfig  # noqa: E402
from supermask_lib.experiment.storage import RunFileError# noqa: E402
from supermask_lib.experiment.results import RunResult  # noqa: E402
from tests.test_experiment import tiny  # noqa: E402


def test_mean_ci_is_students_t_interval():
    mean, half = study.mean_ci([1, 2, 3, 4, 5])
    # sd = sqrt(2.5), se = sd / sqrt(5) = 0.7071068; t(0.975, 4) = 2.7764451
    assert mean == 3.0 and half == pytest.approx(2.7764451 * 0.7071068, rel=1e-6)
    assert np.isnan(study.mean_ci([0.5])[1])


def _result(seed, metrics, histories=None):
    config = ExperimentConfig(model="fc", dataset="mnist", seed=seed, phases=("mask", "weights", "mix"))
    return RunResult(Path(f"run{seed}"), config, {}, {}, metrics, histories or {}, {}, "holdout")


def test_paired_differences_are_within_seed():
    # The seeds differ a lot, the arms by exactly 0.01, 0.02, 0.03: the paired interval ignores the seeds' spread.
    table = pd.DataFrame({"initial": [0.1, 0.1, 0.1], "mix": [0.51, 0.72, 0.93], "weights": [0.5, 0.7, 0.9]},
                         index=pd.Index([0, 1, 2], name="seed"))
    differences = study.paired_differences(table, arms.comparisons(ExperimentConfig().arm_records()))
    row = differences.loc["mix − weights"]
    # mean 0.02, sd 0.01, se 0.01 / sqrt(3); t(0.975, 2) = 4.3026527
    assert row["difference"] == pytest.approx(0.02)
    assert row["ci95"] == pytest.approx(4.3026527 * 0.01 / np.sqrt(3), rel=1e-6)
    assert row["seeds where arm is higher"] == 3 and row["seeds"] == 3
    assert list(differences.index) == ["mix − weights"]  # absent arms are skipped
    summary = study.arm_summary(table)
    assert summary.loc["weights", "ci95"] > 10 * row["ci95"]  # unpaired, the seeds' spread dominates
    assert summary.loc["mix", "seeds"] == 3


def test_seed_table_and_bands_from_results():
    def history(values):
        return pd.DataFrame({"epoch": range(len(values)), "val_accuracy": values})

    results = {seed: _result(seed, {"initial": ArmMetrics(2.3, 0.1), "mask": ArmMetrics(1.0, 0.5 + seed),
                                    "weights": ArmMetrics(0.9, 0.6)},
                             {"mask": history([0.2 + seed, 0.4 + seed])})
               for seed in (0, 1)}
    table = study.seed_table(results)
    assert list(table.columns) == ["initial", "mask", "weights"] and list(table.index) == [0, 1]
    assert table.loc[1, "mask"] == 1.5
    bands = study.epoch_bands(results, "mask")
    np.testing.assert_allclose(bands["mean"], [0.7, 0.9])
    # two values a and a+1: sd = 1/sqrt(2), se = 0.5, t(0.975, 1) = 12.7062047
    np.testing.assert_allclose(bands["ci95"], 12.7062047 * 0.5, rtol=1e-6)
    fig = plots.plot_study_curves(results, title="mnist")
    (line,) = fig.axes[0].get_lines()  # mask, on the frozen weights' panel, from epoch 1
    np.testing.assert_allclose(line.get_xdata(), [1, 2])
    np.testing.assert_allclose(line.get_ydata(), [0.7, 0.9])
    assert len(fig.axes[0].collections) == 1 and len(fig.axes) == 1  # the band; weights has no history, no panel
    plots.close(fig)


@pytest.mark.parametrize("seeds, allowed", [([0], "at least 2 distinct seeds"), ([1, 1], "at least 2 distinct seeds"),
                                            ("0,1", "at least 2 distinct seeds"), ([0, -1], r"an integer in \[0, ")])
def test_bad_seeds(seeds, allowed):
    with pytest.raises(ValueError, match=rf"seeds.* is not allowed: .*{allowed}"):
        study.check_seeds(seeds)


def test_one_seed_is_enough_to_recompute_a_stored_run():
    assert study.check_seeds([3], at_least=1) == (3,)


@pytest.mark.slow
def test_a_study_runs_each_seed_from_its_own_initialisation(data_dir, tmp_path):
    config = tiny(data_dir, epochs=1, mix_epochs=1, phases=("mask", "weights", "mix", "random_mask"))
    results = study.run_study(config, [0, 1], tmp_path)
    assert sorted(results) == [0, 1] and len({r.run_dir for r in results.values()}) == 2
    table = study.seed_table(results)
    assert list(table.columns) == ["initial", "mask", "weights", "mix", "random_mask"]
    differences = study.paired_differences(table, study.comparisons(results))
    assert list(differences.index) == ["mix − weights", "mix − random_mask"]
    expected = (table["mix"] - table["weights"]).mean()
    assert differences.loc["mix − weights", "difference"] == pytest.approx(expected)


@pytest.mark.parametrize("damage, message", [
    ("metrics.json", r"holds no finished run \(no metrics.json\)"),
    ("history_mix.csv", r"is a stored run without \['history_mix.csv'\], which it committed"),
    ("mask_utilization_mask.csv", r"is a stored run without \['mask_utilization_mask.csv'\]"),
    ("the whole folder", r"has no stored run for seeds \[2\] of the profile's \[0, 1, 2, 3, 4\]"),
])
def test_a_stored_study_with_anything_missing_is_refused_by_name(tmp_path, damage, message):
    import shutil

    stored = Path(__file__).resolve().parents[1] / "results" / "study" / "mnist"
    shutil.copytree(stored, tmp_path / "mnist")
    config, seeds = study.load_study(Path(__file__).resolve().parents[1] / "params", "study", "mnist")
    assert len(study.load_stored_study(tmp_path / "mnist", seeds)) == 5  # whole, it loads
    (folder,) = [path for path in (tmp_path / "mnist").iterdir() if '"seed": 2' in (path / "config.json").read_text()]
    if damage == "the whole folder":
        shutil.rmtree(folder)
    else:
        (folder / damage).unlink()
    with pytest.raises((RunFileError, FileNotFoundError), match=message):
        study.load_stored_study(tmp_path / "mnist", seeds)


def test_study_stores_each_seed_as_it_finishes(monkeypatch, tmp_path):
    # A stop during the second seed keeps the first seed's stored files: the CLI stores a seed when it finishes.
    stored = []

    def run_experiment(config, out_dir, **kwargs):
        if config.seed == 1:
            raise KeyboardInterrupt
        return _result(config.seed, {"mask": ArmMetrics(0.5, 0.5, 1, 1)})

    monkeypatch.setattr(study, "run_experiment", run_experiment)
    monkeypatch.setattr(study, "store_and_check", lambda result, dataset, *args, **kwargs:
                        stored.append((dataset, result.config.seed)))
    with pytest.raises(KeyboardInterrupt):
        study.main(["--profile", "study", "--datasets", "mnist", "--seeds", "0", "1", "--store", str(tmp_path)])
    assert stored == [("mnist", 0)]
