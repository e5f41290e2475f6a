"""A finished run read back (load_run, RunResult) and the small files a repository keeps."""

import json

import pytest

from supermask_lib.experiment.arms import ArmMetrics
from supermask_lib.experiment.runner import run_experiment
from supermask_lib.experiment.results import load_run, metrics_record, read_metrics, store_small_files
from supermask_lib.experiment.storage import RunFileError
from tests.test_experiment import tiny


def test_load_run_needs_a_finished_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="no metrics.json.*rerun it with overwrite=True"):
        load_run(tmp_path)


def test_metrics_round_trip_with_the_selection_split_apart(tmp_path):
    metrics = {"initial": ArmMetrics(2.3, 0.1), "mask": ArmMetrics(0.4, 0.9, best_epoch=2, best_val_accuracy=0.88,
                                                                   epochs=3, seconds=1.5)}
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(metrics_record(metrics, "holdout")))
    assert read_metrics(path) == (metrics, "holdout")
    path.write_text(json.dumps({"mask": {"test_acc": 0.9}}))
    with pytest.raises(RunFileError, match=r"metrics.json is not a run's metrics record"):
        read_metrics(path)


@pytest.mark.slow
def test_stored_small_files_read_back_as_the_run_and_are_never_overwritten(data_dir, tmp_path):
    result = run_experiment(tiny(data_dir, epochs=1, mix_epochs=1), tmp_path / "runs")
    stored_dir = store_small_files(result.run_dir, tmp_path / "stored")
    assert sorted(p.name for p in stored_dir.iterdir()) == sorted(
        ["config.json", "manifest.json", "metrics.json", "history_mask.csv", "history_weights.csv", "history_mix.csv",
         "mask_utilization_mask.csv", "mask_utilization_mix.csv"])
    stored = load_run(stored_dir, verify="stored")
    assert stored.metrics == result.metrics and stored.validation == result.validation == "holdout"
    with pytest.raises(RunFileError, match=r"initial.weights.h5 is missing, but the run committed it"):  # a checkpoint
        load_run(stored_dir, verify="all")
    (stored_dir / "history_mix.csv").write_text("epoch\n0\n")
    with pytest.raises(RunFileError, match=r"already holds a different history_mix.csv"):
        store_small_files(result.run_dir, tmp_path / "stored")
