"""The study chapter's numbers: verdicts in words, the kernels' variation and its pairing with the seeds."""

from pathlib import Path

import pandas as pd
import pytest

from supermask_lib.experiment.arms import ArmMetrics
from supermask_lib.report.chapters import study as chapter
from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.experiment.results import RunResult
from supermask_lib.experiment.storage import RunFileError


def _metrics(**accuracies):
    return {arm: ArmMetrics(test_loss=1.0, test_accuracy=accuracy) for arm, accuracy in accuracies.items()}


@pytest.mark.parametrize("low,high,word", [(0.01, 0.03, "is higher than"), (-0.03, -0.01, "is lower than"),
                                           (-0.01, 0.03, "cannot be told apart")])
def test_verdicts_state_a_direction_only_when_the_interval_excludes_zero(low, high, word):
    row = {"difference": (low + high) / 2, "ci95": (high - low) / 2, "low": low, "high": high,
           "seeds where arm is higher": 4, "seeds": 5}
    sentence = chapter.verdict("mix", "equal_cost", row)
    assert sentence.startswith("mix ") and word in sentence and "4 of 5 seeds" in sentence
    assert f"{(low + high) / 2:+.3f} ± {(high - low) / 2:.3f}" in sentence


def test_kernel_variation_is_the_per_arm_difference_from_the_stored_run():
    config = ExperimentConfig(model="fc", dataset="mnist", seed=3)
    stored = RunResult(Path("a"), config, {}, {}, _metrics(initial=0.1, mask=0.9, mix=0.95), {}, {}, "holdout")
    other = RunResult(Path("b"), config, {}, {"numerics_env": {"ONEDNN_MAX_CPU_ISA": "AVX2"}},
                      _metrics(initial=0.1, mask=0.88, mix=0.955), {}, {}, "holdout")
    seeds = pd.DataFrame({"mask": [0.90, 0.92], "mix": [0.95, 0.95]})  # standard deviations 0.0141 and 0
    numbers = chapter.kernel_variation_numbers(stored, other, seeds)
    assert numbers["kernel_seed_sd_mean"] == pytest.approx(0.01414214 / 2)  # the mean of the two
    assert numbers["kernels"] == "ONEDNN_MAX_CPU_ISA=AVX2" and numbers["kernel_arms"] == 2
    assert numbers["kernel_max_difference"] == pytest.approx(0.02)
    assert numbers["kernel_mean_difference"] == pytest.approx(0.0125)
    assert numbers["kernel_initial_difference"] == 0.0 and numbers["kernel_seed"] == 3


def _run(seed, name="a", numerics=None, epochs=3, **accuracies):
    config = ExperimentConfig(model="fc", dataset="mnist", seed=seed, epochs=epochs)
    data = {"name": "mnist", "train_size": 100, "test_size": 50, "canonical_train": 60_000}
    environment = {"device": "CPU (x86_64)", "backend": "tensorflow", "numerics_env": numerics or {}}
    return RunResult(Path(name), config, data, environment, _metrics(**accuracies), {}, {}, "holdout")


def test_variations_pair_each_recomputation_with_the_study_run_of_its_seed(tmp_path, monkeypatch):
    for folder in ("mnist/r1-seed3", "mnist/r2-seed1", "cifar10/no-metrics-yet"):
        (tmp_path / folder).mkdir(parents=True)
    for folder in ("mnist/r1-seed3", "mnist/r2-seed1"):
        (tmp_path / folder / "metrics.json").write_text("{}")
    recomputed = {"r1-seed3": _run(3, "r1", {"XLA_FLAGS": "x"}, initial=0.1, mask=0.5),
                  "r2-seed1": _run(1, "r2", {"XLA_FLAGS": "y"}, initial=0.1, mask=0.7, mix=0.8, weights=0.6)}
    read = []
    monkeypatch.setattr(chapter, "load_run", lambda path, verify: read.append(verify) or recomputed[path.name])
    studies = {"mnist": {seed: _run(seed, f"s{seed}", initial=0.1, mask=0.6 + seed / 100, mix=0.8, weights=0.7)
                         for seed in (1, 2, 3)},
               "cifar10": {0: _run(0, "c0", initial=0.1, mask=0.4, mix=0.5, weights=0.45),
                           1: _run(1, "c1", initial=0.1, mask=0.42, mix=0.52, weights=0.46)}}
    variations = chapter.load_variations(tmp_path, studies)
    assert read == ["stored", "stored"]  # every stored recomputation is verified against its manifest
    assert list(variations) == ["mnist"]  # cifar10's folder holds no finished run
    stored, other = variations["mnist"]  # the last folder by name is the one shown
    assert other is recomputed["r2-seed1"] and stored is studies["mnist"][1]
    numbers = chapter.chapter_numbers(studies, variations)
    assert numbers["mnist_kernels"] == "XLA_FLAGS=y" and numbers["mnist_kernel_seed"] == 1
    # seed 1 stored: mask 0.61, mix 0.8, weights 0.7; recomputed: 0.70, 0.8, 0.6
    assert numbers["mnist_kernel_max_difference"] == pytest.approx(0.1)
    assert numbers["mnist_kernel_mean_difference"] == pytest.approx((0.09 + 0 + 0.1) / 3)
    assert numbers["mnist_seeds"] == 3 and numbers["cifar10_seeds"] == 2
    assert numbers["mnist_study_note"].startswith("study profile: LeNet 300-100, 100 MNIST training images, 3 seeds, "
                                                  "TensorFlow on CPU, 50 test images, 3 epochs per arm")
    assert "the mask's scores at rate 0.01 (1 times the post's 0.01)" in numbers["mnist_study_note"]
    assert numbers["mnist_scale"] == "LeNet 300-100, 100 MNIST training images, 3 seeds, TensorFlow on CPU"
    # the kernels moved mask by 0.09 and weights by 0.1: mean 0.063 over the three trained arms
    assert numbers["mnist_kernel_headline"].startswith("another CPU's kernels moved one run's trained arms by 0.063")
    assert not any(key.startswith("cifar10_kernel") for key in numbers)
    assert chapter.kernel_caption("mnist", stored, other) == "mnist, seed 1: XLA_FLAGS=y"
    assert chapter.load_variations(tmp_path / "none", studies) == {}


def test_a_recomputation_pairs_with_its_own_configuration_never_with_another(tmp_path, monkeypatch):
    # The study moved on to another configuration (epochs 4): the twin is the earlier run kept beside it.
    for folder in ("mnist/r-seed0", "mnist-stored/r-seed0"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "metrics.json").write_text("{}")
    runs = {"mnist": _run(0, "recomputed", {"ONEDNN_MAX_CPU_ISA": "AVX2"}, initial=0.1, mask=0.5),
            "mnist-stored": _run(0, "earlier", initial=0.1, mask=0.6)}
    monkeypatch.setattr(chapter, "load_run", lambda path, verify: runs[path.parent.name])
    studies = {"mnist": {0: _run(0, "now", epochs=4, initial=0.1, mask=0.7), 1: _run(1, "now1", epochs=4)}}
    twin, recomputed = chapter.load_variations(tmp_path, studies)["mnist"]
    assert twin is runs["mnist-stored"] and recomputed is runs["mnist"]
    (tmp_path / "mnist-stored" / "r-seed0" / "metrics.json").unlink()
    with pytest.raises(RunFileError, match="neither the study nor .*mnist-stored holds a run of"):
        chapter.load_variations(tmp_path, studies)


# ------------------------------------------------------------ the mask phase's settling, in words


def _mask_history(rates, val):
    import pandas as pd
    return pd.DataFrame({"epoch": range(len(rates)), "learning_rate": rates, "val_accuracy": val})


def test_never_lowered_rate_says_never_not_the_last_epoch():
    from supermask_lib.report.chapters.study import lowered_epochs, lowered_sentence
    epochs = lowered_epochs([_mask_history([0.05] * 6, [0.5] * 6), _mask_history([0.05] * 6, [0.5] * 6)])
    assert epochs == [None, None]
    assert lowered_sentence(epochs) == "the plateau schedule never lowered the mask phase's rate, in any of the 2 seeds"


def test_lowered_rate_gives_its_epoch_from_one_and_the_seeds_that_did():
    from supermask_lib.report.chapters.study import lowered_epochs, lowered_sentence
    epochs = lowered_epochs([_mask_history([0.05, 0.05, 0.005, 0.005], [0.5] * 4),
                             _mask_history([0.05, 0.05, 0.05, 0.005], [0.5] * 4),
                             _mask_history([0.05] * 4, [0.5] * 4)])
    assert epochs == [3, 4, None]
    assert lowered_sentence(epochs) == ("the plateau schedule first lowered the mask phase's rate at epoch 4 "
                                        "(median over the 2 of 3 seeds where it did; in the other 1 it never did)")
    assert lowered_sentence([3, 5]).endswith("epoch 4 (median over the 2 of 2 seeds where it did)")


def test_levelled_only_within_the_tolerance_and_cites_the_range():
    from supermask_lib.report.chapters.study import levelled_sentence
    assert levelled_sentence(0.011, 8).startswith("has levelled off: over its last 8 epochs")
    assert "0.011" in levelled_sentence(0.011, 8)
    assert levelled_sentence(0.143, 8) == ("has not levelled off: over its last 8 epochs its validation accuracy "
                                           "still moved within 0.143 on average (highest minus lowest epoch), more "
                                           "than the 0.02 a levelled phase would move")


def test_settling_averages_ranges_and_leaves_out_an_epoch_never_reached():
    from types import SimpleNamespace
    from supermask_lib.report.chapters.study import mask_phase_settling
    flat = SimpleNamespace(histories={"mask": _mask_history([0.05] * 4, [0.1, 0.5, 0.4, 0.45])})
    swinging = SimpleNamespace(histories={"mask": _mask_history([0.05] * 4, [0.1, 0.3, 0.5, 0.3])})
    numbers = mask_phase_settling({0: flat, 1: swinging}, last=3)
    assert numbers["mask_val_last_range"] == pytest.approx((0.1 + 0.2) / 2)
    assert numbers["mask_lr_lowered_seeds"] == 0 and "mask_lr_lowered_epoch" not in numbers
    assert numbers["mask_levelled_sentence"].startswith("has not levelled off: over its last 3 epochs")


def _kernels(mean, largest, stored=-0.018, recomputed=-0.013):
    return {"kernel_mean_difference": mean, "kernel_max_difference": largest,
            "kernel_mix_minus_weights_stored": stored, "kernel_mix_minus_weights_recomputed": recomputed}


def test_kernel_spread_larger_than_the_headline_says_one_run_cannot_speak_to_it():
    text = chapter.kernel_headline_sentence(_kernels(0.016, 0.051), {"difference": -0.013, "ci95": 0.011, "seeds": 5})
    assert text == ("another CPU's kernels moved one run's trained arms by 0.016 on average and 0.051 at most, more "
                    "than the size of the headline mix − weights (-0.013 ± 0.011 over 5 seeds): one run on another "
                    "machine can land on either side of the headline, so only the paired difference over seeds "
                    "speaks to it; within the recomputed run mix − weights itself moved by +0.005 (-0.018 to "
                    "-0.013), inside the headline's interval")


def test_kernel_spread_smaller_than_the_headline_and_a_twin_moved_outside_its_interval():
    text = chapter.kernel_headline_sentence(_kernels(0.002, 0.004, stored=-0.06, recomputed=-0.02),
                                            {"difference": -0.057, "ci95": 0.031, "seeds": 5})
    assert "0.004 at most, less than the size of the headline" in text
    assert text.endswith("moved by +0.040 (-0.060 to -0.020), outside the headline's interval")


def test_equal_cost_is_counted_as_the_weights_arm_only_where_its_epoch_is_shared_and_the_accuracy_agrees():
    config = ExperimentConfig(dataset="mnist", phases=("mask", "weights", "mix", "equal_cost"), epochs=30,
                              mix_epochs=5)

    def run(seed, cost_epoch, cost_accuracy):
        metrics = {"weights": ArmMetrics(0.1, 0.97, best_epoch=28), "equal_cost": ArmMetrics(0.1, cost_accuracy,
                                                                                            best_epoch=cost_epoch)}
        return RunResult(Path(f"r{seed}"), config.replace(seed=seed), {}, {}, metrics, {}, {}, "holdout")
    # seed 0 shares epoch 28 and its accuracy; seed 1 picked epoch 32, past the shared 30; seed 2 shares an
    # epoch but not the accuracy (not the same network), so only seed 0 counts
    results = {0: run(0, 28, 0.97), 1: run(1, 32, 0.975), 2: run(2, 29, 0.971)}
    assert chapter.equal_cost_sentence(results) == (
        "equal_cost trains as the weights arm does for its first 30 epochs (same start, same batches) and then 5 "
        "more; in 1 of 3 seeds it selected one of those shared epochs and matches the weights arm's test "
        "accuracy, so there it is the weights arm's network and mix − equal_cost is mix − weights.")
