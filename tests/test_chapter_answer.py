"""The answer's verdict and its numbers, from seeds whose differences are set by hand."""

from pathlib import Path

import pandas as pd
import pytest

from supermask_lib.experiment.arms import ArmMetrics
from supermask_lib.report.chapters import answer
from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.experiment.results import RunResult

PHASES = ("mask", "weights", "mix", "equal_cost", "random_mask")


def _study(offsets, rates=(1e-3,), histories=None):
    """Five seeds; each arm's accuracy is 0.5 + seed/100 + its offset, plus ``spread`` noise where given."""
    config = ExperimentConfig(model="fc", dataset="cifar10", phases=PHASES, finetune_lrs=rates,
                              random_mask_every_rate=True)
    results = {}
    for seed in range(5):
        metrics = {"initial": ArmMetrics(2.3, 0.1)}
        for arm in config.arms():
            offset = offsets.get(arm, 0.0)
            offset = offset[seed] if isinstance(offset, list) else offset
            metrics[arm] = ArmMetrics(1.0, 0.5 + seed / 100 + offset, best_epoch=1)
        data = {"name": "cifar10", "train_size": 4000, "canonical_train": 50_000}
        results[seed] = RunResult(Path(f"r{seed}"), config.replace(seed=seed), data, {"device": "CPU"}, metrics,
                                  (histories or {}).get(seed, {}), {}, "holdout")
    return results


def test_the_answer_compares_every_fine_tuning_at_equal_cost_and_with_its_random_mask():
    config = ExperimentConfig(phases=PHASES, finetune_lrs=(1e-4, 1e-2), random_mask_every_rate=True)
    assert [(arm, baseline) for arm, baseline, _ in answer.answer_comparisons(config)] == [
        ("mix", "weights"), ("mix", "equal_cost"), ("mix", "random_mask"),
        ("mix_lr0.0001", "equal_cost"), ("mix_lr0.0001", "random_mask_lr0.0001"),
        ("mix_lr0.01", "equal_cost"), ("mix_lr0.01", "random_mask_lr0.01"), ("mix", "mask")]


def test_lower_at_every_rate_is_said_plainly_with_the_scale_and_the_posts_comparison():
    results = _study({"equal_cost": 0.05, "weights": 0.05})  # both fine-tunings 0.05 below, in every seed
    sentence = answer.verdict("cifar10", results)
    assert sentence.startswith("CIFAR-10, fc on 4,000 training images, 5 seeds: the masked network is not a better "
                               "starting point: fine-tuned at every rate tried (1e-5 and 1e-3) it ends lower")
    assert "mix − weights: -0.050 ± 0.000, mix higher in 0 of 5 seeds" in sentence


def test_a_rate_whose_interval_holds_zero_is_not_given_a_direction():
    # mix_lr0.001 − equal_cost: +0.02, -0.02, +0.01, -0.01, 0: mean 0, an interval around it.
    results = _study({"equal_cost": 0.05, "weights": 0.05, "mix_lr0.001": [0.07, 0.03, 0.06, 0.04, 0.05]})
    sentence = answer.verdict("cifar10", results)
    assert "is not shown to be a better starting point" in sentence
    assert "ends lower at 1e-5; not distinguishable at 1e-3" in sentence
    numbers = answer.answer_numbers({"cifar10": results})
    assert numbers["cifar10_answer_mix_lr0_001_minus_equal_cost_direction"] == "undecided"
    assert numbers["cifar10_answer_mix_minus_equal_cost"] == pytest.approx(-0.05)


def test_higher_is_said_only_when_every_decided_rate_is_higher():
    results = _study({"equal_cost": -0.03, "weights": -0.03})
    assert "the masked network is the better starting point: fine-tuned at 1e-5 and 1e-3" in answer.verdict(
        "cifar10", results)


def test_test_selection_optimism_is_the_best_test_epoch_above_the_validation_choice():
    def history(test):
        return pd.DataFrame({"epoch": range(len(test)), "test_accuracy": test})

    histories = {seed: {"mix": history([0.4, 0.5 + seed / 100 + 0.02, 0.45]),
                        "weights": history([0.5 + seed / 100 + 0.01, 0.3])} for seed in range(5)}
    table, numbers = answer.selection_optimism(_study({}, histories=histories))
    assert list(table.index) == ["weights", "mix"]  # the arms whose every run tested every epoch
    assert table.loc["mix", "optimism"] == pytest.approx(0.02) and table.loc["weights", "optimism"] == pytest.approx(0.01)
    assert numbers["selection_mix_minus_weights_validation"] == pytest.approx(0.0)
    assert numbers["selection_mix_minus_weights_test"] == pytest.approx(0.01)
    assert answer.selection_optimism(_study({}))[0].empty  # runs without per-epoch tests: nothing to say


def test_rates_are_written_as_powers_of_ten():
    assert [answer.rate_text(rate) for rate in (1e-5, 1e-4, 0.01, 3e-4)] == ["1e-5", "1e-4", "1e-2", "3e-4"]


def test_random_mask_recovered_is_the_fraction_of_the_way_from_untrained_to_learned():
    from pathlib import Path

    from supermask_lib.experiment.arms import ArmMetrics
    from supermask_lib.experiment.config import ExperimentConfig
    from supermask_lib.experiment.results import RunResult

    def run(seed, random_mask):
        metrics = {arm: ArmMetrics(1.0, accuracy) for arm, accuracy in
                   {"initial": 0.1, "mix": 0.9, "random_mask": random_mask}.items()}
        config = ExperimentConfig(seed=seed, phases=("mask", "weights", "mix", "random_mask"))
        return RunResult(Path(f"r{seed}"), config, {}, {}, metrics, {}, {}, "holdout")

    # means: initial 0.1, mix 0.9, random 0.3 -> (0.3 - 0.1) / (0.9 - 0.1) = 0.25
    assert answer.random_mask_recovered({0: run(0, 0.2), 1: run(1, 0.4)}) == pytest.approx(0.25)


def test_the_learned_mask_sentence_gives_each_rates_direction_and_the_advantage_at_both_ends():
    rates = (1e-4, 1e-2)
    offsets = {"random_mask": -0.3, "random_mask_lr0.0001": -0.1, "mix_lr0.01": [0.02, -0.03, 0.01, -0.02, 0.03]}
    text = answer.learned_mask(_study(offsets, rates))
    assert text == ("Against a random mask of the same per-layer fractions, fine-tuned alike, the learned mask ends "
                    "higher at 1e-5 and 1e-4; cannot be told apart from it at 1e-2: its advantage goes from "
                    "+0.300 ± 0.000 at 1e-5 to +0.002 ± 0.032 at 1e-2.")
    without = _study({}, rates)
    for result in without.values():
        result.config = result.config.replace(phases=("mask", "weights", "mix", "equal_cost"),
                                              random_mask_every_rate=False)
    assert answer.learned_mask(without) == "these runs hold no random-mask control"


@pytest.mark.parametrize("value, said", [(6719.29, "6,700"), (98.4, "98"), (269.1, "270"), (1.0, "1.0"),
                                         (0.2142, "0.21"), (12_534_000, "13,000,000")])
def test_about_says_a_rough_count_to_two_significant_figures(value, said):
    from supermask_lib.report.chapters.values import about

    assert about(value) == said
