"""The width-axis chapter's numbers, from cells whose accuracies are set by hand."""

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from supermask_lib.report import plots
from supermask_lib.study import scale
from supermask_lib.experiment.arms import ArmMetrics
from supermask_lib.report.chapters import scale as chapter
from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.experiment.results import RunResult

matplotlib.use("Agg")

PHASES = ("mask", "weights", "mix", "equal_cost", "random_mask")


CPU = {"device": "CPU (x86_64, 2 cores)", "backend": "tensorflow", "backend_version": "2.21.0"}
GPU = {"device": "NVIDIA H200", "backend": "jax", "backend_version": "0.11.2"}


def _cell(width, seed, offsets, seconds=60.0, histories=None, environment=CPU):
    """One stored cell: every arm at 0.5 + seed/100 + its offset, each arm ``seconds`` of training."""
    config = ExperimentConfig(model=f"wrn-10-{width}", dataset="cifar10", phases=PHASES, finetune_lrs=(1e-3,),
                              random_mask_every_rate=True, seed=seed)
    metrics = {"initial": ArmMetrics(2.3, 0.1)}
    for arm in config.arms():
        metrics[arm] = ArmMetrics(1.0, 0.5 + seed / 100 + offsets.get(arm, 0.0), best_epoch=1, seconds=seconds)
    data = {"name": "cifar10", "train_size": 100, "test_size": 50, "canonical_train": 50_000}
    return RunResult(Path(f"w{width}s{seed}"), config, data, dict(environment), metrics,
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


def test_widths_with_few_seeds_are_named_and_three_seeds_over_two_widths_make_a_line():
    numbers = chapter.scale_numbers(_axis())
    assert numbers["scale_fewer_seeds"] == ("Fewer than 3 seeds: width 1 (2 seeds), width 2 (1 seed); "
                                            "their numbers are the least certain.")
    # -0.06 and -0.04 at log2(width) 0, -0.01 at 1: slope 0.04; s² = 2e-4 / 1, sum of (x - 1/3)² = 2/3
    assert numbers["scale_trend_mix_minus_weights"] == (
        f"mix − weights does not change detectably with width (+0.040 ± {12.706205 * (2e-4 * 1.5) ** 0.5:.3f} per "
        "doubling of the width; 3 seeds over 2 widths): the data do not support an extrapolation.")
    assert "width axis: wrn-10-w on 100 training and 50 test cifar10 images, seeds 2 at width 1, 1 at width 2" \
        in numbers["scale_note"]
    one_width = {1: _axis()[1]}
    assert chapter.scale_numbers(one_width)["scale_status"] == (
        "The width axis holds 2 cells so far (seeds: 2 at width 1); a trend needs two widths and three seeds in "
        "all, so it cannot yet say whether the gap closes with width.")
    assert chapter.scale_numbers(one_width)["scale_trend_mix_minus_weights"].startswith("mix − weights: too few cells")
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


def _two_engines():
    """Widths 1 and 2 on the CPU, width 4 on the GPU; weights peaks at width 2 (offsets are below mix)."""
    return {width: {seed: _cell(width, seed, {"weights": offset + seed / 1000}, environment=environment)
                    for seed in range(3)}
            for width, offset, environment in ((1, -0.04, CPU), (2, 0.02, CPU), (4, -0.03, GPU))}


def test_the_chapter_says_which_width_ran_on_which_engine_and_that_a_trend_across_engines_mixes_them():
    stored = _two_engines()
    numbers = chapter.scale_numbers(stored)
    assert chapter.engines(stored) == {1: "CPU (x86_64, 2 cores), tensorflow 2.21.0",
                                       2: "CPU (x86_64, 2 cores), tensorflow 2.21.0", 4: "NVIDIA H200, jax 0.11.2"}
    assert numbers["scale_engines"].startswith(
        "The widths ran on 2 engines (widths 1 and 2 on CPU (x86_64, 2 cores), tensorflow 2.21.0; width 4 on "
        "NVIDIA H200, jax 0.11.2), all in float32.")
    assert "(widths 1 and 2 on CPU (x86_64, 2 cores); width 4 on NVIDIA H200)" in numbers["scale_note"]
    # mix − weights: -0.04 - s/1000 at width 1, +0.02 - s/1000 at width 2, -0.03 - s/1000 at width 4 (offsets
    # are weights' own): the line does not change sign between widths 2 and 4, so the general caveat
    assert numbers["scale_status"].startswith(
        "Widths up to 2 ran on CPU (x86_64, 2 cores), tensorflow 2.21.0, the wider ones on NVIDIA H200, jax 0.11.2")
    crossing = {width: {seed: _cell(width, seed, {"weights": offset + seed / 1000}, environment=environment)
                        for seed in range(3)}
                for width, offset, environment in ((1, 0.04, CPU), (2, 0.02, CPU), (4, -0.02, GPU))}
    # mix − weights (and mask − weights) -0.04, -0.02, +0.02 and so on: zero between widths 2 and 4;
    # mix − equal_cost stays at zero, with no slope and no crossing
    assert ("mix − weights and mask − weights change sign between width 2 and width 4, where the "
            "engine changes too, so the crossing cannot be credited to width alone until one width is measured on "
            "both: each line's engine term rests on the straight line's shape alone.") in chapter.scale_numbers(crossing)["scale_status"]
    one = chapter.scale_numbers(_axis())
    assert one["scale_engines"] == "Every width ran on CPU (x86_64, 2 cores), tensorflow 2.21.0 in float32."
    assert list(chapter.axis_table(stored)["device"].unique()) == ["CPU (x86_64, 2 cores)", "NVIDIA H200"]


def test_the_levels_table_is_each_arms_mean_and_the_baseline_note_says_where_weights_falls():
    stored = _two_engines()
    levels = chapter.accuracy_table(stored)
    # weights at width 2: 0.5 + seed/100 + 0.02 + seed/1000 over seeds 0, 1, 2: 0.5 + 0.01 + 0.02 + 0.001
    assert levels.loc["weights", 2] == pytest.approx(0.531) and levels.loc["mix", 4] == pytest.approx(0.51)
    assert list(levels.columns) == [1, 2, 4] and levels.index[0] == "initial"
    note = chapter.baseline_note(stored)
    # weights peaks at width 2 (0.531) and falls 0.050 to width 4 (0.481) while mix stays at 0.51: all of the
    # rise in mix − weights between them is the baseline falling
    assert note == ("Weight training, the baseline of mix − weights and mask − weights, reaches 0.471 at width 1, "
                    "0.531 at width 2 and 0.481 at width 4: it peaks at width 2, at the one learning rate the rule "
                    "fixes for all widths, and falls by 0.050 to width 4, while mix rises by 0.000. So 100% of the "
                    "rise in mix − weights from width 2 to width 4 is the baseline falling, not fine-tuning gaining; "
                    "a rate tuned per width, which the rule forbids, might have kept weight training up.")
    rising = {width: {0: _cell(width, 0, {"weights": 0.01 * width})} for width in (1, 2)}
    assert chapter.baseline_note(rising) == ("Weight training, the baseline of mix − weights and mask − weights, "
                                             "reaches 0.510 at width 1 and 0.520 at width 2.")


def test_the_post_setup_reads_each_phases_best_test_epoch_and_says_which_phase_stopped_early(tmp_path):
    import json

    config = {"model": "wrn-28-8", "dataset": "cifar10", "epochs": 3, "mix_epochs": 3, "learning_rate": 0.01,
              "mixed_precision": "bfloat16", "phases": ["mask", "weights", "mix"]}
    data = {"train_size": 10000, "name": "cifar10", "canonical_train": 10000}  # the partial copy
    (tmp_path / "config.json").write_text(json.dumps({"config": config, "data": data, "environment": GPU}))
    for phase, accuracies in (("mask", [0.2, 0.6, 0.5]), ("weights", [0.3, 0.4, 0.7]), ("mix", [0.65, 0.64])):
        pd.DataFrame({"epoch": range(len(accuracies)), "val_accuracy": accuracies}).to_csv(
            tmp_path / f"history_{phase}.csv", index=False)
    table, numbers = chapter.post_setup(tmp_path)
    assert table.loc["mask", "best test accuracy"] == 0.6 and table.loc["mask", "at epoch"] == 2
    assert table.loc["mix", "epochs"] == "2 of 3"
    assert numbers["weights_best"] == 0.7
    assert numbers["sentence"].startswith("One seed of the post's setup (WRN-28-8, 3 epochs a phase, Adam 0.01, "
                                          "bfloat16, on NVIDIA H200 with jax 0.11.2) on the 10,000 training images of "
                                          "the approximate, partial offline CIFAR-10 copy")
    assert ("is mask 0.600, weights 0.700 (best at its last epoch, still improving), "
            "mix 0.650 (after 2 of its 3 epochs).") in numbers["sentence"]
    # and sized as what it is: one test-selected seed, with its phases unfinished
    assert numbers["sentence"].endswith("So mix ends 0.050 below weights (0.650 against 0.700): a sighting, not a "
                                        "comparison (1 seed; each phase's epoch chosen on the test set; weights still "
                                        "rising at its last epoch; mix stopped at 2 of 3 epochs), so the comparison is "
                                        "left to the width axis.")


def test_the_trend_figure_marks_each_device_and_names_them_in_a_legend():
    fig = plots.plot_width_trend(chapter.trend_points(chapter.axis_table(_two_engines())))
    markers = {line.get_marker(): len(line.get_xdata()) for line in fig.axes[0].get_lines()
               if line.get_marker() in ("o", "s", "D") and len(line.get_xdata())}
    assert markers == {"o": 2, "s": 1}  # widths 1 and 2 on the CPU, width 4 on the GPU
    assert [text.get_text() for text in fig.legends[0].get_texts()] == ["CPU (x86_64, 2 cores)", "NVIDIA H200"]
    plots.close(fig)


def test_a_single_seed_widths_optimism_shows_no_interval_rather_than_nan():
    from supermask_lib.report.chapters import tables

    history = pd.DataFrame({"epoch": [0, 1], "test_accuracy": [0.3, 0.55]})
    stored = {2: {0: _cell(2, 0, {}, histories={arm: history for arm in ("mask", "weights", "mix")})}}
    table, _ = chapter.optimism_table(stored)
    assert np.isnan(table.loc[(2, "mix"), "ci95"])
    html = tables.styled_optimism(table).to_html()
    assert "nan" not in html and "+0.0500" in html  # the best test epoch, 0.55, above the chosen 0.5


def test_the_selection_table_gives_the_posts_comparison_under_either_choice_per_width():
    pairs = {1: {"selection_mix_minus_weights_validation": -0.06, "selection_mix_minus_weights_test": -0.07},
             8: {"selection_mix_minus_weights_validation": 0.12, "selection_mix_minus_weights_test": 0.125}}
    table = chapter.selection_table(pairs)
    assert list(table.index) == [1, 8] and table.loc[8, "mix − weights, chosen on test"] == 0.125
    assert table.loc[1, "mix − weights, chosen on validation"] == -0.06
