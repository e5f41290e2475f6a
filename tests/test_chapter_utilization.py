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
    assert "the post's first claim is not seen" in utilization.claim("cifar10", results)  # +0 ± a wide interval


def test_the_pattern_holds_only_when_the_interval_is_above_zero_and_the_maximum_is_compared():
    results = _study({0: [0.01, 0.03, 0.04, 0.20, 0.02], 1: [0.01, 0.02, 0.05, 0.18, 0.03],
                      2: [0.02, 0.03, 0.04, 0.19, 0.01]})
    sentence = utilization.claim("cifar10", results)
    assert "so the post's first claim holds: larger layers mask more" in sentence
    assert "does not hold here: 1 of 5 layers mask more, the most masked (layer3) 0.190 of its weights" in sentence
    numbers = utilization.claim_numbers({"cifar10": results})
    assert numbers["cifar10_utilization_max"] == pytest.approx(0.19) and numbers["cifar10_utilization_layers"] == 5


def test_claim_parts_say_what_holds_and_what_does_not():
    # sizes 432 < 640 < 2304 < 4608 < 9216; every seed orders the four convolutions exactly by size
    results = _study({0: [0.01, 0.02, 0.03, 0.04, 0.005], 1: [0.01, 0.03, 0.04, 0.05, 0.005],
                      2: [0.02, 0.03, 0.05, 0.04, 0.01]})
    parts = utilization.claim_parts("cifar10", results)  # seeds' correlations 0.9, 0.9, 0.8; within a kind 1, 1, 0.8
    assert parts["within_kind"].startswith("Among the 3x3 convolutions alone (4 layers) it is +0.93 ± 0.29")
    assert parts["within_kind"].endswith("there the order holds.")
    # the dense layer (640) masks least, so the smallest layer (432) masks more than one larger layer
    assert parts["smallest"] == ("The smallest layer (layer0, 432 weights) masks 0.013, more than 1 of the 4 larger "
                                 "layers, against the post's pattern.")
    assert parts["ceiling"] == ("The post's second claim, no layer masked beyond about 0.16 (read off its figure), "
                                "holds here: the most masked layer (layer3) masks 0.043.")
    assert "(single seeds from +0.80 to +0.90)" in parts["order"]


def test_claim_parts_when_size_orders_nothing_within_a_kind_and_the_smallest_masks_least():
    results = _study({0: [0.001, 0.05, 0.02, 0.04, 0.03], 1: [0.002, 0.02, 0.05, 0.03, 0.04],
                      2: [0.001, 0.04, 0.03, 0.02, 0.05]})
    parts = utilization.claim_parts("mnist", results)
    assert parts["smallest"].endswith("less than every larger layer, as the post saw.")
    assert parts["within_kind"].endswith("the order is not seen, so the correlation over all layers comes from the "
                                         "kinds of layer differing.")
    assert "does not hold here: 5 of 5 layers mask more" not in parts["ceiling"]
    assert parts["ceiling"].startswith("The post's second claim, no layer masked beyond about 0.12")
    numbers = utilization.claim_numbers({"mnist": results})
    assert numbers["mnist_utilization_smallest"] == parts["smallest"]


def test_holds_and_fails_sort_each_part_by_its_own_verdict():
    results = _study({0: [0.001, 0.05, 0.02, 0.04, 0.03], 1: [0.002, 0.02, 0.05, 0.03, 0.04],
                      2: [0.001, 0.04, 0.03, 0.02, 0.05]})
    parts = utilization.claim_parts("mnist", results)
    holds, fails = utilization.holds_and_fails("mnist", results)
    assert parts["smallest"] in holds and parts["ceiling"] in holds  # the smallest masks least; all under 0.12
    assert parts["within_kind"] in fails  # size orders nothing among the convolutions


def test_an_order_over_all_layers_that_is_only_the_kinds_differing_is_not_the_posts_claim():
    """Three small shortcuts mask least, four large convolutions more, in no order of their size."""
    sizes, kinds = [100, 200, 300, 1000, 2000, 3000, 4000], ["shortcut"] * 3 + ["conv"] * 4
    results = {}
    for seed, convs in {0: [0.05, 0.03, 0.04, 0.035], 1: [0.03, 0.05, 0.035, 0.04], 2: [0.04, 0.035, 0.05, 0.03]}.items():
        table = pd.DataFrame({"name": [f"layer{i}" for i in range(7)], "kind": kinds, "n_weights": sizes,
                              "fraction_masked": [0.010, 0.012, 0.011] + convs})
        config = ExperimentConfig(model="fc", dataset="cifar10", seed=seed)
        results[seed] = RunResult(Path(f"r{seed}"), config, {}, {}, {}, {}, {"mask": table}, "holdout")
    parts = utilization.claim_parts("cifar10", results)
    assert parts["order"].endswith("so larger layers mask more over all layers, but the post's first claim holds "
                                   "only as far as the kinds of layer differ (next).")
    assert "comes from the kinds of layer differing" in parts["within_kind"]
    _, fails = utilization.holds_and_fails("cifar10", results)
    assert parts["order"] in fails and parts["within_kind"] in fails
