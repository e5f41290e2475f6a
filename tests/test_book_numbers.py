"""The book's numbers from a hand-made run: every value checked against arithmetic done here."""

import json
from pathlib import Path

import pandas as pd
import pytest

from supermask_lib import book_numbers
from supermask_lib.config import ExperimentConfig
from supermask_lib.report import run_notebooks
from supermask_lib.runs import RunResult


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
        "initial": {"test_accuracy": 0.1},
        "mask": {"test_accuracy": 0.8, "best_val_accuracy": 0.79, "epochs": 3, "seconds": 120.0, "best_epoch": 2},
        "weights": {"test_accuracy": 0.9, "best_val_accuracy": 0.88, "epochs": 3, "seconds": 60.0, "best_epoch": 1},
        "mix": {"test_accuracy": 0.85, "best_val_accuracy": 0.84, "epochs": 2, "seconds": 30.0, "best_epoch": 0},
    }
    config = ExperimentConfig(dataset="cifar10", model="wrn-10-1", epochs=3, mix_epochs=2, batch_size=128)
    data = {"name": "cifar10", "train_size": 1000, "test_size": 500, "canonical_train": 10_000}
    histories = {"mask": _history([0.5, 0.6, 0.7], [0.7, 0.75, 0.79]),
                 "weights": _history([0.6, 0.8, 0.95], [0.8, 0.88, 0.87]),
                 "mix": _history([0.9, 0.91], [0.84, 0.83])}
    return RunResult(Path("run"), config, data, {"device": "CPU (x86_64)"}, metrics, histories,
                     {"mask": utilization})


def test_key_numbers(result):
    numbers = book_numbers.key_numbers(result)
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
    note = book_numbers.scale_note(result, "quick")
    assert note.startswith("quick profile: wrn-10-1, 1,000 training images, 3 epochs (mask, weights) and 2 (mix)")
    assert "partial offline CIFAR-10 copy" in note and "10,000 of 50,000" in note


def test_summary_table_counts_epochs_from_one(result):
    table = book_numbers.summary_table(result)
    assert list(table.index) == ["initial", "mask", "weights", "mix"]
    assert list(table["selected epoch"].iloc[1:]) == [3, 2, 1]
    assert table.loc["mix", "test accuracy"] == 0.85


def test_the_report_checks_every_profile_before_running_anything(tmp_path):
    for name in ("mnist", "cifar10", "estimators"):
        (tmp_path / f"bad-{name}.yaml").write_text(
            {"mnist": "dataset: mnist\nmodel: fc\n",
             "cifar10": "dataset: cifar10\nmodel: fc\nepoch: 2\n",  # misspelt
             "estimators": "base: {model: fc}\nvariants: {a: {}}\n"}[name])
    with pytest.raises(ValueError, match=r"bad-cifar10.yaml: unknown ExperimentConfig fields \['epoch'\]"):
        run_notebooks("bad", params_dir=tmp_path, results_dir=tmp_path / "results", runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists() and not any((tmp_path / "results").iterdir())
    (tmp_path / "bad-cifar10.yaml").write_text("dataset: mnist\nmodel: fc\n")
    with pytest.raises(ValueError, match=r"bad-cifar10.yaml says dataset='mnist', but its name says 'cifar10'"):
        run_notebooks("bad", params_dir=tmp_path, results_dir=tmp_path / "results", runs_dir=tmp_path / "runs")


@pytest.mark.parametrize("low,high,word", [(0.01, 0.03, "is higher than"), (-0.03, -0.01, "is lower than"),
                                           (-0.01, 0.03, "cannot be told apart")])
def test_verdicts_state_a_direction_only_when_the_interval_excludes_zero(low, high, word):
    row = {"difference": (low + high) / 2, "ci95": (high - low) / 2, "low": low, "high": high,
           "seeds where arm is higher": 4, "seeds": 5}
    sentence = book_numbers.verdict("mix", "equal_cost", row)
    assert sentence.startswith("mix ") and word in sentence and "4 of 5 seeds" in sentence
    assert f"{(low + high) / 2:+.3f} ± {(high - low) / 2:.3f}" in sentence


def test_gpu_summary_by_hand(tmp_path):
    run, logs = tmp_path / "full-mnist", tmp_path / "logs"
    run.mkdir(), logs.mkdir()
    (run / "config.json").write_text(json.dumps({
        "environment": {"device": "Some GPU", "backend": "jax", "backend_version": "9.9"},
        "config": {"epochs": 30, "batch_size": 100}, "data": {"train_size": 1000}}))
    pd.DataFrame({"epoch": range(5), "val_accuracy": [0.5, 0.9, 0.8, 0.95, 0.7],
                  "fraction_kept": [1.0, 0.99, 0.98, 0.97, 0.96],
                  "seconds": [60.0, 20.0, 50.0, 22.0, 24.0]}).to_csv(run / "history_mask.csv", index=False)
    (logs / "full-mnist-resume.log").write_text("run folder: x\n[mask] resuming after epoch 2/30\n")
    (logs / "noaug.log").write_text("[mask] epoch 1/2  loss 0.4  acc 0.8  val_loss 1.0  val_acc 0.6  lr 0.01  "
                                    "kept 0.99  36.8s\n[mask] epoch 2/2  loss 0.04  acc 0.98  val_loss 0.1  "
                                    "val_acc 0.96  lr 0.01  kept 0.99  4.4s\ntest accuracy: mask 0.96\n")
    numbers = book_numbers.gpu_summary(tmp_path)
    # Epochs 0 and 2 opened a call (they compiled): the steady epochs are 20, 22 and 24 s.
    assert numbers["gpu_epoch_seconds"] == 22.0 and numbers["gpu_first_epoch_seconds"] == 60.0
    assert numbers["gpu_noaug_epoch_seconds"] == 4.4 and numbers["gpu_input_share"] == pytest.approx(1 - 4.4 / 22)
    assert (numbers["gpu_best_val"], numbers["gpu_best_epoch"], numbers["gpu_kept"]) == (0.95, 4, 0.96)
    assert (numbers["gpu_epochs_done"], numbers["gpu_epochs_planned"]) == (5, 30)
    assert numbers["gpu_study_hours"] == pytest.approx(22.0 * book_numbers.FULL_STUDY_STEPS / 10 / 3600)
    assert (numbers["gpu_device"], numbers["gpu_backend"]) == ("Some GPU", "jax 9.9")


def test_backend_comparison_reads_the_newest_summary(tmp_path):
    row = {"model": "wrn-10-1", "batch": 128, "plain_train": 1.0, "weights_train": 1.0, "plain_infer": 1.0,
           "collapsed_infer": 1.0}
    (tmp_path / "backends-20260101T0000.json").write_text(json.dumps({"rows": [
        {**row, "backend": "tensorflow 1", "mask_train": 100.0}]}))
    (tmp_path / "backends-20260102T0000.json").write_text(json.dumps({"rows": [
        {**row, "backend": "tensorflow 2", "mask_train": 3000.0}, {**row, "backend": "jax 1", "mask_train": 1200.0}]}))
    table, numbers = book_numbers.backend_comparison(tmp_path)
    assert numbers == {"backends_fastest": "tensorflow 2", "backends_slowest": "jax 1", "backends_ratio": 2.5,
                       "backends_file": "backends-20260102T0000.json"}
    assert list(table.index.get_level_values("backend")) == ["tensorflow 2", "jax 1"]
    with pytest.raises(FileNotFoundError, match="bench_backends.py"):
        book_numbers.backend_comparison(tmp_path / "nothing")


def test_recipe_table_shows_each_recipes_fields_and_blanks_the_rest():
    from supermask_lib.recipes import RECIPES

    table = book_numbers.recipe_table(RECIPES)
    assert list(table.columns) == list(RECIPES)
    assert table.loc["learning_rate", "zhou"] == "100.0" and table.loc["lr_schedule", "edge-popup"] == "cosine"
    assert table.loc["dynamic_rescaling", "edge-popup"] == "–"  # edge-popup leaves it at the default
    assert table.loc["score_init", "edge-popup"] == "VarianceScaling(scale=0.333, mode=fan_in, distribution=uniform)"


def test_literature_numbers_glue_ours_published_and_their_gap():
    table = pd.DataFrame({"ours": [0.97, None], "published": [0.98, None], "kept": [0.45, None],
                          "train accuracy": [0.99, None], "minutes": [3.0, None], "epochs": [200, 30],
                          "best epoch": [150, None]}, index=pd.Index(["zhou", "post"], name="variant"))
    numbers = book_numbers.literature_numbers({"mnist": table}, {"mnist": {}})
    assert numbers["lit_mnist_zhou_gap"] == pytest.approx(-0.01)
    assert (numbers["lit_mnist_zhou_train"], numbers["lit_mnist_post_epochs"]) == (0.99, 30)
    assert "lit_mnist_post_ours" not in numbers and numbers["lit_mnist_machine"] == "no stored runs"


def test_kernel_variation_is_the_per_arm_difference_from_the_stored_run():
    config = ExperimentConfig(model="fc", dataset="mnist", seed=3)
    stored = RunResult(Path("a"), config, {}, {}, {"initial": {"test_accuracy": 0.1}, "mask": {"test_accuracy": 0.9},
                                                   "mix": {"test_accuracy": 0.95}, "validation": "holdout"}, {}, {})
    other = RunResult(Path("b"), config, {}, {"numerics_env": {"ONEDNN_MAX_CPU_ISA": "AVX2"}},
                      {"initial": {"test_accuracy": 0.1}, "mask": {"test_accuracy": 0.88},
                       "mix": {"test_accuracy": 0.955}, "validation": "holdout"}, {}, {})
    seeds = pd.DataFrame({"mask": [0.90, 0.92], "mix": [0.95, 0.95]})  # standard deviations 0.0141 and 0
    numbers = book_numbers.kernel_variation_numbers(stored, other, seeds)
    assert numbers["kernel_seed_sd_mean"] == pytest.approx(0.01414214 / 2)  # the mean of the two
    assert numbers["kernels"] == "ONEDNN_MAX_CPU_ISA=AVX2" and numbers["kernel_arms"] == 2
    assert numbers["kernel_max_difference"] == pytest.approx(0.02)
    assert numbers["kernel_mean_difference"] == pytest.approx(0.0125)
    assert numbers["kernel_initial_difference"] == 0.0 and numbers["kernel_seed"] == 3


def test_step_profile_turns_op_time_into_shares(tmp_path):
    record = {"environment": {"device": "CPU (x86_64, 2 cores)"}, "results": [
        {"backend": "tensorflow", "ms_per_step": 40.0,
         "op_microseconds": {"convolutions and matmuls": 300.0, "mask arithmetic": 100.0, "idle threads": 600.0}},
        {"backend": "jax", "ms_per_step": 90.0, "op_microseconds": {"convolutions and matmuls": 50.0,
                                                                     "other XLA ops": 150.0}}]}
    (tmp_path / "profile-mnist-20260101T0000.json").write_text(json.dumps(record))
    table, numbers = book_numbers.step_profile(tmp_path)
    assert table.loc["mask arithmetic", "tensorflow"] == pytest.approx(0.1)
    assert table.loc["mask arithmetic", "jax"] == 0.0 and table.loc["other XLA ops", "jax"] == pytest.approx(0.75)
    assert numbers["profile_tensorflow_mask_arithmetic"] == pytest.approx(0.1)
    assert numbers["profile_tensorflow_idle_threads"] == pytest.approx(0.6) and numbers["profile_jax_ms"] == 90.0


def test_quick_profile_speed_reads_the_newest_benchmark(tmp_path):
    def record(training_after, same):
        return {"before_revision": "abc1234", "arguments": {"repeats": 1}, "same_numbers": same,
                "runs": [{"variant": "before", "configs": {"cifar10": {"epoch_seconds": [5.0, 10.0, 9.0]}}},
                         {"variant": "after-inter-op-1", "configs": {"cifar10": {"epoch_seconds": [5.0, 4.0]}},
                          "environment": {"device": "CPU (x86_64, 2 cores)", "backend": "tensorflow"}}],
                "summary": {"before": {"training_seconds": 600.0, "wall_seconds": 660.0, "median_epoch_seconds": 8.0,
                                       "speed_up_training": 1.0, "speed_up_wall": 1.0},
                            "after-inter-op-1": {"training_seconds": training_after, "wall_seconds": 330.0,
                                                 "median_epoch_seconds": 4.0, "speed_up_training": 600.0 / training_after,
                                                 "speed_up_wall": 2.0}}}
    (tmp_path / "quick-tensorflow-20260101T0000.json").write_text(json.dumps(record(300.0, False)))
    (tmp_path / "quick-tensorflow-20260102T0000.json").write_text(json.dumps(record(240.0, True)))
    table, numbers = book_numbers.quick_profile_speed(tmp_path)
    assert table.loc["before", "training (min)"] == pytest.approx(10.0)
    assert table.loc["after-inter-op-1", "training speed-up"] == pytest.approx(2.5)
    assert numbers["quick_after_inter_op_1_training_minutes"] == pytest.approx(4.0)
    assert numbers["quick_after_inter_op_1_wall_speed_up"] == pytest.approx(2.0)
    assert numbers["quick_before_cifar10_median_epoch"] == 9.0
    assert numbers["quick_after_inter_op_1_cifar10_median_epoch"] == 4.5
    assert numbers["quick_file"] == "quick-tensorflow-20260102T0000.json"
    assert numbers["quick_same_numbers"].startswith("trained to the same")


def test_topk_selection_speed_takes_the_newest_file_of_each_place(tmp_path):
    def report(device, step_top_k, same_loss=True):
        return {"environment": {"device": device}, "rows": [{
            "network": "fc", "ms": {"top_k": step_top_k, "largest_k": 10.0},
            "first_epoch_loss": {"top_k": 2.3, "largest_k": 2.3 if same_loss else 2.4},
            "select": {"shape": [784, 300], "same_mask": True, "ms": {"top_k": 8.0, "largest_k": 2.0}}}]}
    files = {"topk-20260101T000000.json": {"jax": report("CPU (x86_64, 2 cores)", 40.0)},
             "topk-20260102T000000.json": {"jax": report("NVIDIA H100 80GB HBM3", 5.0, same_loss=False)},
             "topk-20260103T000000.json": {"tensorflow": report("CPU (x86_64, 2 cores)", 20.0),
                                           "jax": report("CPU (x86_64, 2 cores)", 30.0)}}
    for name, backends in files.items():
        (tmp_path / name).write_text(json.dumps({"arguments": {}, "backends": backends}))
    table, numbers = book_numbers.topk_selection_speed(tmp_path)
    assert numbers["topk_cpu_jax_fc_step_speed_up"] == pytest.approx(3.0)          # the newer CPU file
    assert numbers["topk_cpu_tensorflow_fc_step_speed_up"] == pytest.approx(2.0)
    assert numbers["topk_accelerator_jax_fc_step_speed_up"] == pytest.approx(0.5)  # top_k faster there
    assert numbers["topk_cpu_jax_fc_selection_speed_up"] == pytest.approx(4.0)
    assert numbers["topk_accelerator_file"] == "topk-20260102T000000.json"
    assert numbers["topk_accelerator_device"] == "NVIDIA H100 80GB HBM3"
    assert len(table) == 3 and numbers["topk_same"].startswith("did NOT")
    assert table.loc[("NVIDIA H100 80GB HBM3", "jax", "fc"), "layer selected"] == "784 x 300"
    with pytest.raises(FileNotFoundError, match="bench_topk.py"):
        book_numbers.topk_selection_speed(tmp_path / "empty")
