"""The BatchNorm control read off a finished run: its checkpoints give back the run's own test accuracy, and
recomputing the statistics changes only what the statistics decide."""

import shutil

import pytest

from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.experiment.controls import batchnorm_control
from supermask_lib.experiment.runner import run_experiment
from supermask_lib.experiment.storage import RunFolder


@pytest.fixture(scope="module")
def finished(tmp_path_factory, data_dir):
    config = ExperimentConfig(dataset="mnist", model="wrn-10-1", epochs=1, mix_epochs=1, batch_size=50,
                              train_size=200, val_size=100, test_size=100, data_dir=str(data_dir),
                              phases=("mask", "weights", "mix"), augment_flip=False, augment_rotation=0.0,
                              augment_shift=0.0)
    return run_experiment(config, tmp_path_factory.mktemp("runs"))


def test_the_checkpoints_give_back_the_runs_accuracy_and_the_recomputed_statistics_another(finished):
    table = batchnorm_control(finished)
    assert list(table.index) == ["mask", "mix"]
    for arm in table.index:  # the selected checkpoint, loaded again, is the network the run tested
        assert table.loc[arm, "as trained"] == pytest.approx(finished.metrics[arm].test_accuracy, abs=1e-6)
        assert 0.0 <= table.loc[arm, "statistics recomputed"] <= 1.0
    assert (table["change"] == table["statistics recomputed"] - table["as trained"]).all()


def test_a_folder_without_its_checkpoints_is_refused_with_the_reason(finished, tmp_path):
    copy = tmp_path / "stored"
    shutil.copytree(finished.run_dir, copy)
    RunFolder(copy).checkpoint("mix", "best").unlink()
    with pytest.raises(FileNotFoundError, match=r"keeps no selected checkpoint of \['mix'\]: the control needs"):
        batchnorm_control(finished.__class__(**{**finished.__dict__, "run_dir": copy}))
