"""The estimator comparison's numbers and words from hand-made mask-phase runs."""

from pathlib import Path

import pandas as pd
import pytest

from supermask_lib.experiment.arms import ArmMetrics
from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.experiment.results import RunResult
from supermask_lib.report.chapters import estimators


def _run(estimator, n_masked):
    utilization = pd.DataFrame({"name": ["fc1"], "kind": ["dense"], "n_weights": [1000], "n_masked": [n_masked],
                                "fraction_masked": [n_masked / 1000], "n_bias": [10], "n_bias_masked": [0]})
    config = ExperimentConfig(model="fc", dataset="mnist", estimator=estimator, epochs=4, phases=("mask",))
    metrics = {"mask": ArmMetrics(0.5, 0.9, best_val_accuracy=0.88, epochs=4, seconds=10.0)}
    return RunResult(Path(estimator), config, {"train_size": 2000}, {"device": "CPU (x86_64)", "backend": "jax"},
                     metrics, {}, {"mask": utilization}, "holdout")


def test_comparison_names_its_scale_and_says_whether_ils_moved():
    table, numbers = estimators.estimator_comparison({"threshold": _run("threshold", 400), "ils": _run("ils", 2)})
    assert numbers["estimator_scale"] == "LeNet 300-100, 2,000 MNIST training images, 1 seed, JAX on CPU"
    assert numbers["kept_ils"] == pytest.approx(1 - 2 / 1000)
    assert numbers["ils_moved"].startswith("its scores barely moved: its mask still keeps 0.998 of the weights")
    assert list(table.index) == ["threshold", "ils"]


def test_moved_sentence_says_the_opposite_when_the_mask_moved():
    assert estimators.moved_sentence(0.6).startswith("its scores moved: its mask keeps 0.600 of the weights")
    assert estimators.moved_sentence(0.995).startswith("its scores barely moved")


def test_no_ils_variant_gives_no_ils_sentence():
    _, numbers = estimators.estimator_comparison({"threshold": _run("threshold", 400)})
    assert "ils_moved" not in numbers
