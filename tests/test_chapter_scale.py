"""The width-axis chapter's numbers, from cells whose accuracies are set by hand."""

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from supermask_lib import plots, scale
from supermask_lib.arms import ArmMetrics
from supermask_lib.chapters import scale as chapter
from supermask_lib.config import ExperimentConfig
from supermask_lib.results import RunResult

matplotlib.use("Agg")

PHASES = ("mask", "weights", "mix", "equal_cost", "random_mask")


def _cell(width, seed, offsets, seconds=60.0, histories=None):
    """One stored cell: every arm at 0.5 + seed/100 + its offset, each arm ``seconds`` of training."""
    config = ExperimentConfig(model=f"wrn-10-{width}", dataset="cifar10", phases=PHASES, finetune_lrs=(1e-3,),
                              random_mask_every_rate=True, seed=seed)
    metrics = {"initial": ArmMetrics(2.3, 0.1)}
    for arm in config.arms():
        metrics[arm] = ArmMetrics(1.0, 0.5 + seed / 100 + offsets.get(arm, 0.0), best_epoch=1, seconds=seconds)
    data = {"name": "cifar10", "train_size": 100, "test_size": 50, "canonical_train": 50_000}
    return RunResult(Path(f"w{width}s{seed}"), config, data, {"device": "CPU (x86_64, 2 cores)"}, metrics,
                     histories or {}, {}, "holdout")


def _axis():
    # width 1: mix − weights -0.06 and -0.04 (mean -0.05, interval t(0.975, 1) * 0.01 / sqrt(2) * sqrt(2));
    # width 2: one seed, mix − weights -0.01.
    return {1: {0: _cell(1, 0, {"weights": 0.06}), 1: _cell(1, 1, {"weights": 0.04})},
            2: {0: _cell(2, 0, {"weights": 0.01}, seconds=240.0)}}


def test_the_comparisons_are_the_trends_then_each_rate_against_weights_then_the_studys_others_once_each():
    pairs = [(arm, baseline) for arm, baseline, _ in chapter.axis_comparisons(_axis())]
    assert pairs[:5] == [("mix", "weights"), ("mix", "equal_cost"), ("mask", "weights"), ("mix", "mask"),
                         ("mix_lr0.001", "weights")]
    assert ("mix", "random_mask") in pairs and ("mix_lr0.001", "random_mask_lr0.001") in pairs
    assert len(pairs) == len(set(pairs))  # mix − weights is the study's too, listed once


def test_each_widths_difference_is_paired_within_its_seeds_and_named_by_width():
    numbers = chapter.scale_numbers(_axis())
    assert numbers["scale_w1_mix_minus_weights"] == pytest.approx(-0.05)
    # seeds differ by ±0.01 around -0.05: sd 0.01 * sqrt(2), half-width t(0.975, 1) * sd / sqrt(2)
    assert numbers["scale_w1_mix_minus_weights_ci"] == pytest.approx(12.706205 * 0.01, rel=1e-6)
    assert numbers["scale_w2_mix_minus_weights"] == pytest.approx(-0.01)
    assert np.isnan(numbers["scale_w2_mix_minus_weights_ci"])
    assert numbers["scale_w1_mix_lr0_001_minus_weights"] == pytest.approx(-0.05)  # mix_lr0.001 has no offset either
    assert numbers["scale_w1_seeds"] == 2 and numbers["scale_w2_seeds"] == 1 and numbers["scale_cells"] == 3
    arms = len(_axis()[1][0].config.arms())
    assert numbers["scale_w2_minutes"] == pytest.approx(arms * 240 / 60)
    assert numbers["scale_minutes_total"] == pytest.approx(arms * (60 + 60 + 240) / 60)
    assert numbers["scale_w2_pflops"] == pytest.approx(scale.training_flops(_axis()[2][0]) / 1e15)


def test_widths_with_few_seeds_are_named_and_a_single_seed_width_gives_no_trend():
    numbers = chapter.scale_numbers(_axis())
    assert numbers["scale_fewer_seeds"] == ("Fewer than 3 seeds: width 1 (2 seeds), width 2 (1 seed); "
                                            "their numbers are the least certain.")
    assert numbers["scale_trend_mix_minus_weights"] == (
        "mix − weights: too few widths for a trend (a line needs two widths of two or more seeds; "
        "1 of the 2 widths measured has them).")
    assert "width axis: wrn-10-w on 100 training and 50 test cifar10 images, seeds 2 at width 1, 1 at width 2" \
        in numbers["scale_note"]
    assert numbers["scale_status"] == ("The width axis holds 3 cells so far (seeds: 2 at width 1, 1 at width 2); a "
                                       "trend needs two widths of two or more seeds, so it cannot yet say whether "
                                       "the gap closes with width.")
    full = {width: {seed: _cell(width, seed, {"weights": 0.04 / width + seed / 1000}) for seed in range(3)}
            for width in (1, 2)}
    assert chapter.fewer_seeds(full) == ""
    # mix − weights: -0.04 - seed/1000 at width 1, -0.02 - seed/1000 at width 2: it rises toward zero
    sentence = chapter.scale_numbers(full)["scale_status"]
    assert sentence.startswith("mix − weights rises with width (+0.020 ± ") and "mask − weights rises" in sentence


def test_the_summary_table_writes_each_difference_with_its_interval_and_seeds():
    frame = chapter.summary(chapter.axis_table(_axis()))
    assert list(frame.columns) == ["width 1", "width 2"]
    assert frame.loc["mix − weights", "width 1"] == "-0.050 ± 0.127 (2)"
    assert frame.loc["mix − weights", "width 2"] == "-0.010 (1)"  # one seed: no interval


def test_the_optimism_per_width_is_the_best_test_epoch_above_the_validation_choice():
    def history(test):
        return pd.DataFrame({"epoch": range(len(test)), "test_accuracy": test})

    stored = {1: {seed: _cell(1, seed, {}, histories={arm: history([0.3, 0.5 + seed / 100 + 0.03])
                                                      for arm in ("mask", "weights", "mix")})
                  for seed in range(2)}}
    table, pairs = chapter.optimism_table(stored)
    assert table.loc[(1, "mix"), "optimism"] == pytest.approx(0.03) and table.loc[(1, "mix"), "seeds"] == 2
    assert pairs[1]["selection_mix_minus_weights_test"] == pytest.approx(0.0)
    assert chapter.scale_numbers(stored)["scale_w1_optimism_mask"] == pytest.approx(0.03)


def test_the_trend_figure_has_a_panel_per_comparison_and_draws_a_single_seed_width_hollow():
    fig = plots.plot_width_trend(chapter.trend_points(chapter.axis_table(_axis())))
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["mix − weights", "mix − equal_cost", "mask − weights", "mix − mask"]
    hollow = [line for line in visible[0].get_lines() if line.get_markerfacecolor() == "white"]
    assert len(hollow) == 1 and list(hollow[0].get_ydata()) == pytest.approx([-0.01])
    assert visible[0].get_xscale() == "log"
    plots.close(fig)
