"""The MNIST and CIFAR-10 pages' numbers from a hand-made run: every value checked against arithmetic done here."""

from pathlib import Path

import pandas as pd
import pytest

from supermask_lib.experiment.arms import ArmMetrics
from supermask_lib.report.chapters import experiment as chapter, tables
from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.experiment.results import RunResult


def _history(accuracies, val_accuracies):
    return pd.DataFrame({"epoch": range(len(accuracies)), "accuracy": accuracies, "val_accuracy": val_accuracies})


@pytest.fixture
def result():
    utilization = pd.DataFrame({
        "name": ["conv_0", "group1_block0_shortcut", "dense"],
        "kind": ["conv", "conv_1x1", "dense"],
        "n_weights": [400, 100, 500],
        "n_masked": [40, 1, 9],
        "fraction_masked": [0.1, 0.01, 0.018],
        "n_bias": [16, 16, 10],
        "n_bias_masked": [0, 2, 0],
    }, index=pd.Index([0, 1, 2], name="index"))
    metrics = {
        "initial": ArmMetrics(test_loss=2.3, test_accuracy=0.1),
        "mask": ArmMetrics(0.6, 0.8, best_val_accuracy=0.79, epochs=3, seconds=120.0, best_epoch=2),
        "weights": ArmMetrics(0.3, 0.9, best_val_accuracy=0.88, epochs=3, seconds=60.0, best_epoch=1),
        "mix": ArmMetrics(0.4, 0.85, best_val_accuracy=0.84, epochs=2, seconds=30.0, best_epoch=0),
    }
    config = ExperimentConfig(dataset="cifar10", model="wrn-10-1", epochs=3, mix_epochs=2, batch_size=128)
    data = {"name": "cifar10", "train_size": 1000, "test_size": 500, "canonical_train": 10_000}
    histories = {"mask": _history([0.5, 0.6, 0.7], [0.7, 0.75, 0.79]),
                 "weights": _history([0.6, 0.8, 0.95], [0.8, 0.88, 0.87]),
                 "mix": _history([0.9, 0.91], [0.84, 0.83])}
    return RunResult(Path("run"), config, data, {"device": "CPU (x86_64)", "backend": "tensorflow"}, metrics, histories,
                     {"mask": utilization}, "holdout")


def test_key_numbers(result):
    numbers = chapter.key_numbers(result)
    assert numbers["mix_minus_weights"] == pytest.approx(0.85 - 0.9)
    assert numbers["mix_minus_mask"] == pytest.approx(0.85 - 0.8)
    assert numbers["fraction_kept"] == pytest.approx(1 - 50 / 1000)
    assert numbers["steps_mask"] == 3 * 8  # ceil(1000 / 128) = 8 steps per epoch
    assert numbers["minutes_mask"] == 2.0 and numbers["train_acc_weights_last"] == 0.95
    assert (numbers["max_layer_masked"], numbers["max_layer_masked_index"]) == (0.1, 0)
    assert numbers["shortcut_masked_mean"] == 0.01 and numbers["dense_masked"] == 0.018
    assert numbers["bias_masked_total"] == 2 and numbers["val_acc_mix_first"] == 0.84
    assert all(type(v) in (int, float, str) for v in numbers.values())  # glue parses their repr


def test_scale_note_says_where_a_number_comes_from(result):
    note = chapter.scale_note(result, "quick")
    assert note.startswith(f"quick profile: WRN-10-1, 1,000 CIFAR-10 training images, 1 seed, TensorFlow on CPU "
                           f"(seed {result.config.seed}), {result.data['test_size']:,} test images, 3 epochs "
                           "(mask, weights) and 2 (mix)")
    assert "partial offline CIFAR-10 copy" in note and "10,000 of 50,000" in note


def test_summary_table_counts_epochs_from_one(result):
    table = chapter.summary_table(result)
    assert list(table.index) == ["initial", "mask", "weights", "mix"]
    assert list(table["selected epoch"].iloc[1:]) == [3, 2, 1]
    assert table.loc["mix", "test accuracy"] == 0.85


def test_a_full_size_run_gets_no_partial_copy_note(result):
    result.data.update(canonical_train=50_000, train_size=50_000)
    assert chapter.scale_note(result, "full").endswith("run on CPU (x86_64).")
    assert chapter.scale_note(result, "quick").endswith("; a small CPU check, not the post's full setup.")
    assert chapter.key_numbers(result)["steps_weights"] == 3 * 391  # ceil(50,000 / 128)


def test_the_summary_table_is_shown_with_its_formats(result):
    html = tables.styled_summary(chapter.summary_table(result)).to_html()
    assert ">0.8500<" in html and ">120<" in html and ">–<" in html  # mix accuracy, mask seconds, no epoch for initial


def test_mix_below_its_mask_is_stated_as_unexplained_and_above_as_expected():
    below = chapter.mix_against_mask_sentence(0.432, 0.4645, 0.41, 0.45)
    assert below.startswith("the mix arm ends 0.033 below the masked network it starts from on the test set, and "
                            "its first epoch's validation accuracy (0.410) is already below the mask's best (0.450)")
    assert below.endswith("which the BatchNorm control tests; selection on the small validation split is another")
    assert "is not below the mask's best" in chapter.mix_against_mask_sentence(0.43, 0.46, 0.46, 0.45)
    assert chapter.mix_against_mask_sentence(0.85, 0.8, 0.84, 0.79, rate=1e-3) == (
        "the mix arm ends 0.050 above the masked network it starts from on the test set, as fine-tuning should")
    assert chapter.mix_against_mask_sentence(0.805, 0.8, 0.84, 0.79, rate=1e-5).endswith(
        "0.005 above the masked network it starts from on the test set, a small gain, as fine-tuning at a low rate gives")
    tiny = chapter.mix_against_mask_sentence(0.851, 0.8, 0.84, 0.79, rate=1e-5)
    assert tiny == ("the mix arm ends 0.051 above the masked network it starts from on the test set, more than "
                    "fine-tuning at 1e-05 moves the weights in a few epochs; BatchNorm's moving statistics, "
                    "re-estimated as it trains, are the candidate that the BatchNorm control tests")


def test_key_numbers_carry_the_mix_against_mask_sentence(result):
    assert chapter.key_numbers(result)["mix_against_mask"].startswith("the mix arm ends 0.050 above")


@pytest.mark.parametrize("fractions, where", [
    ([0.1, 0.01, 0.018], "conv_0 (400 weights; 1 of the 3 masked layers are larger)"),
    ([0.01, 0.1, 0.018], "group1_block0_shortcut (100 weights; the smallest of the 3 masked layers, against the "
                         "post's pattern)"),
    ([0.01, 0.02, 0.3], "dense (500 weights; the largest of the 3 masked layers, as the post's pattern has it)")])
def test_most_masked_sentence_places_the_layer_by_size(result, fractions, where):
    table = result.utilization["mask"].assign(fraction_masked=fractions)
    assert chapter.most_masked_sentence(table) == f"the most masked layer is {where}"


def test_mix_first_sentence_reads_above_as_fitting_batchnorm_but_unisolated():
    above = chapter.mix_first_sentence(0.46, 0.45)
    assert above.startswith("the first mix epoch's validation accuracy (0.460) is above the mask phase's best (0.450)")
    assert above.endswith("no run here isolates it (a mix arm with BatchNorm frozen would), so it stays a reading, "
                          "not a finding")
    assert "is not above the mask phase's best (0.450)" in chapter.mix_first_sentence(0.41, 0.45)


def test_key_numbers_name_their_scale(result):
    assert chapter.key_numbers(result)["scale"] == "WRN-10-1, 1,000 CIFAR-10 training images, 1 seed, TensorFlow on CPU"


def test_batchnorm_sentence_says_whether_the_statistics_alone_give_what_fine_tuning_gave():
    def control(mask, mask_recomputed, mix, mix_recomputed):
        table = pd.DataFrame({"as trained": [mask, mix], "statistics recomputed": [mask_recomputed, mix_recomputed]},
                             index=["mask", "mix"])
        return table.assign(change=table["statistics recomputed"] - table["as trained"])
    # mix 0.05 above the mask; the statistics alone take the mask to 0.845, within 0.01 of mix's 0.85
    same = chapter.batchnorm_sentence(control(0.80, 0.845, 0.85, 0.851), 5000)
    assert same == ("recomputing BatchNorm's moving statistics on the 5,000 training images, weights and mask as they "
                    "were, moves the mask phase's selected network from 0.800 to 0.845 on test, and mix's from 0.850 "
                    "to 0.851; with both recomputed, mix − mask is +0.006 (as trained +0.050): the statistics alone "
                    "take the masked network within 0.01 of where fine-tuning took it, so here what the mix phase "
                    "changed is its BatchNorm statistics (one run, one seed)")
    # mix below the mask as trained, above it once its own statistics are recomputed
    stale = chapter.batchnorm_sentence(control(0.465, 0.476, 0.432, 0.489), 9000)
    assert "with both recomputed, mix − mask is +0.013 (as trained -0.033)" in stale
    assert stale.endswith("mix's own moving statistics cost it 0.057, so its number as trained is its statistics' as "
                          "much as its weights' (one run, one seed)")
    other = chapter.batchnorm_sentence(control(0.80, 0.81, 0.85, 0.85), 5000)
    assert other.endswith("the statistics are not all that fine-tuning changed (one run, one seed)")
