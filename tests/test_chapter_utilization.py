"""The post's utilisation pattern tested over seeds: rank correlations and the words they allow."""

from pathlib import Path

import pandas as pd
import pytest

from supermask_lib.report.chapters import utilization
from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.experiment.results import RunResult

SIZES = [432, 2304, 4608, 9216, 640]


def _study(fractions_by_seed):
    results = {}
    for seed, fractions in fractions_by_seed.items():
        table = pd.DataFrame({"name": [f"layer{i}" for i in range(len(SIZES))],
                              "kind": ["conv"] * 4 + ["dense"], "n_weights": SIZES, "fraction_masked": fractions})
        config = ExperimentConfig(model="fc", dataset="cifar10", seed=seed)
        results[seed] = RunResult(Path(f"r{seed}"), config, {}, {}, {}, {}, {"mask": table}, "holdout")
    return results


def test_each_seed_gives_a_spearman_correlation_of_size_against_fraction_masked():
    # Seed 0 orders the fractions exactly as the sizes (rho = 1); seed 1 exactly against them (rho = -1).
    ordered = [0.01, 0.03, 0.04, 0.05, 0.02]
    results = _study({0: ordered, 1: [0.05, 0.03, 0.02, 0.01, 0.04]})
    assert utilization.rank_correlations(results).to_dict() == {0: pytest.approx(1.0), 1: pytest.approx(-1.0)}
    assert "the post's pattern is not seen" in utilization.claim("cifar10", results)  # +0 ± a wide interval


def test_the_pattern_holds_only_when_the_interval_is_above_zero_and_the_maximum_is_compared():
    results = _study({0: [0.01, 0.03, 0.04, 0.20, 0.02], 1: [0.01, 0.02, 0.05, 0.18, 0.03],
                      2: [0.02, 0.03, 0.04, 0.19, 0.01]})
    sentence = utilization.claim("cifar10", results)
    assert "so the post's pattern holds: larger layers mask more" in sentence
    assert "The most masked layer (layer3) masks 0.190 of its weights on average, above the post's largest of " \
           "about 0.16" in sentence
    numbers = utilization.claim_numbers({"cifar10": results})
    assert numbers["cifar10_utilization_max"] == pytest.approx(0.19) and numbers["cifar10_utilization_layers"] == 5
