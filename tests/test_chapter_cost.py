"""The cost appendix's numbers from hand-made benchmark records and a hand-made GPU session."""

import json
from pathlib import Path

import pandas as pd
import pytest

from supermask_lib.report.chapters import cost, cost_steps


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
    numbers = cost_steps.gpu_summary(tmp_path)
    # Epochs 0 and 2 opened a call (they compiled): the steady epochs are 20, 22 and 24 s.
    assert numbers["gpu_epoch_seconds"] == 22.0 and numbers["gpu_first_epoch_seconds"] == 60.0
    assert numbers["gpu_noaug_epoch_seconds"] == 4.4 and numbers["gpu_input_share"] == pytest.approx(1 - 4.4 / 22)
    assert (numbers["gpu_best_val"], numbers["gpu_best_epoch"], numbers["gpu_kept"]) == (0.95, 4, 0.96)
    assert (numbers["gpu_epochs_done"], numbers["gpu_epochs_planned"]) == (5, 30)
    assert "gpu_study_hours" not in numbers  # the one total per device is compute.training_totals'
    assert (numbers["gpu_device"], numbers["gpu_backend"]) == ("Some GPU", "jax 9.9")


def test_backend_comparison_reads_the_newest_summary(tmp_path):
    row = {"model": "wrn-10-1", "batch": 128, "plain_train": 1.0, "weights_train": 1.0, "plain_infer": 1.0,
           "collapsed_infer": 1.0}
    # The newest by its recorded time is the first by name.
    (tmp_path / "backends-20260101T0000.json").write_text(json.dumps({"recorded": "2026-01-03T00:00:00+00:00", "rows": [
        {**row, "backend": "tensorflow 2", "mask_train": 3000.0}, {**row, "backend": "jax 1", "mask_train": 1200.0}]}))
    (tmp_path / "backends-20260102T0000.json").write_text(json.dumps({"recorded": "2026-01-02T00:00:00+00:00", "rows": [
        {**row, "backend": "tensorflow 1", "mask_train": 100.0}]}))
    table, numbers = cost.backend_comparison(tmp_path)
    assert numbers == {"backends_fastest": "tensorflow 2", "backends_slowest": "jax 1", "backends_ratio": 2.5,
                       "backends_file": "backends-20260101T0000.json"}
    assert list(table.index.get_level_values("backend")) == ["tensorflow 2", "jax 1"]
    with pytest.raises(FileNotFoundError, match="bench_backends.py"):
        cost.backend_comparison(tmp_path / "nothing")


def test_step_profile_turns_op_time_into_shares(tmp_path):
    record = {"environment": {"device": "CPU (x86_64, 2 cores)", "started": "2026-01-02T00:00:00+00:00"}, "results": [
        {"backend": "tensorflow", "ms_per_step": 40.0,
         "op_microseconds": {"convolutions and matmuls": 300.0, "mask arithmetic": 100.0, "idle threads": 600.0}},
        {"backend": "jax", "ms_per_step": 90.0, "op_microseconds": {"convolutions and matmuls": 50.0,
                                                                     "other XLA ops": 150.0}}]}
    (tmp_path / "profile-mnist-20260101T0000.json").write_text(json.dumps(record))
    older = {"environment": {"device": "an older machine", "started": "2026-01-01T00:00:00+00:00"},
             "results": [{"backend": "tensorflow", "ms_per_step": 1.0, "op_microseconds": {"idle threads": 1.0}}]}
    (tmp_path / "profile-mnist-20260102T0000.json").write_text(json.dumps(older))  # a later name, an earlier time
    table, numbers = cost.step_profile(tmp_path)
    assert table.loc["mask arithmetic", "tensorflow"] == pytest.approx(0.1)
    assert table.loc["mask arithmetic", "jax"] == 0.0 and table.loc["other XLA ops", "jax"] == pytest.approx(0.75)
    assert numbers["profile_tensorflow_mask_arithmetic"] == pytest.approx(0.1)
    assert numbers["profile_tensorflow_idle_threads"] == pytest.approx(0.6) and numbers["profile_jax_ms"] == 90.0
    assert numbers["profile_file"] == "profile-mnist-20260101T0000.json"
    assert numbers["profile_device"] == "CPU (x86_64, 2 cores)"


def test_quick_profile_speed_reads_the_newest_benchmark(tmp_path):
    def record(training_after, same, started):
        return {"before_revision": "abc1234", "arguments": {"repeats": 1}, "same_numbers": same,
                "runs": [{"variant": "before", "configs": {"cifar10": {"epoch_seconds": [5.0, 10.0, 9.0]}}},
                         {"variant": "after-inter-op-1", "configs": {"cifar10": {"epoch_seconds": [5.0, 4.0]}},
                          "environment": {"device": "CPU (x86_64, 2 cores)", "backend": "tensorflow",
                                          "started": started}}],
                "summary": {"before": {"training_seconds": 600.0, "wall_seconds": 660.0, "median_epoch_seconds": 8.0,
                                       "speed_up_training": 1.0, "speed_up_wall": 1.0},
                            "after-inter-op-1": {"training_seconds": training_after, "wall_seconds": 330.0,
                                                 "median_epoch_seconds": 4.0, "speed_up_training": 600.0 / training_after,
                                                 "speed_up_wall": 2.0}}}
    # Stored as the benchmark once wrote them: no time but their runs' environments; the names disagree.
    (tmp_path / "quick-tensorflow-20260102T0000.json").write_text(
        json.dumps(record(300.0, False, "2026-01-01T10:00:00+00:00")))
    (tmp_path / "quick-tensorflow-20260101T0000.json").write_text(
        json.dumps(record(240.0, True, "2026-01-02T10:00:00+00:00")))
    table, numbers = cost.quick_profile_speed(tmp_path)
    assert table.loc["before", "training (min)"] == pytest.approx(10.0)
    assert table.loc["after-inter-op-1", "training speed-up"] == pytest.approx(2.5)
    assert numbers["quick_after_inter_op_1_training_minutes"] == pytest.approx(4.0)
    assert numbers["quick_after_inter_op_1_wall_speed_up"] == pytest.approx(2.0)
    assert numbers["quick_before_cifar10_median_epoch"] == 9.0
    assert numbers["quick_after_inter_op_1_cifar10_median_epoch"] == 4.5
    assert numbers["quick_file"] == "quick-tensorflow-20260101T0000.json"
    assert numbers["quick_same_numbers"].startswith("trained to the same")


def test_topk_selection_speed_takes_the_newest_file_of_each_place(tmp_path):
    def report(device, step_top_k, same_loss=True, day=1):
        return {"environment": {"device": device, "started": f"2026-01-{day:02d}T00:00:00+00:00"}, "rows": [{
            "network": "fc", "ms": {"top_k": step_top_k, "largest_k": 10.0},
            "first_epoch_loss": {"top_k": 2.3, "largest_k": 2.3 if same_loss else 2.4},
            "select": {"shape": [784, 300], "same_mask": True, "ms": {"top_k": 8.0, "largest_k": 2.0}}}]}
    files = {"topk-20260101T000000.json": {"jax": report("CPU (x86_64, 2 cores)", 40.0, day=4)},  # the newest
             "topk-20260102T000000.json": {"jax": report("NVIDIA H100 80GB HBM3", 5.0, same_loss=False, day=2)},
             "topk-20260103T000000.json": {"tensorflow": report("CPU (x86_64, 2 cores)", 20.0, day=3),
                                           "jax": report("CPU (x86_64, 2 cores)", 30.0, day=3)}}
    for name, backends in files.items():
        (tmp_path / name).write_text(json.dumps({"arguments": {}, "backends": backends}))
    table, numbers = cost.topk_selection_speed(tmp_path)
    assert numbers["topk_cpu_jax_fc_step_speed_up"] == pytest.approx(4.0)          # the newest CPU record
    assert numbers["topk_cpu_tensorflow_fc_step_speed_up"] == pytest.approx(2.0)
    assert numbers["topk_accelerator_jax_fc_step_speed_up"] == pytest.approx(0.5)  # top_k faster there
    assert numbers["topk_cpu_jax_fc_selection_speed_up"] == pytest.approx(4.0)
    assert numbers["topk_accelerator_file"] == "topk-20260102T000000.json"
    assert numbers["topk_accelerator_device"] == "NVIDIA H100 80GB HBM3"
    assert len(table) == 3 and numbers["topk_same"].startswith("did NOT")
    assert table.loc[("NVIDIA H100 80GB HBM3", "jax", "fc"), "layer selected"] == "784 x 300"
    with pytest.raises(FileNotFoundError, match="bench_topk.py"):
        cost.topk_selection_speed(tmp_path / "empty")


def test_full_study_steps_are_three_arms_of_thirty_full_epochs():
    assert cost.FULL_STUDY_STEPS == 3 * 30 * (469 + 391)  # ceil(60,000 / 128) and ceil(50,000 / 128)


def test_the_stored_records_are_read_as_they_are():
    """The files in benchmarks/results, as real runs left them: one call reads every table and number."""
    root = Path(__file__).resolve().parents[1]
    shown, numbers = cost.chapter(root / "benchmarks" / "results", root / "results" / "gpu")
    assert set(shown) == {"machines", "backends", "profile", "quick", "topk", "cpu_classes", "input", "traces"}
    assert numbers["traces_file"] == "traces-20261130T235456Z.json" and len(shown["traces"]) == 2
    assert numbers["machines_file"] == "machines-20261130T070253Z.json" and len(shown["cpu_classes"]) == 3
    assert numbers["input_file"] == "input-20261130T070759Z.json"  # the newest CPU record, beside the GPU's
    assert numbers["input_gpu_file"] == "input-20261130T165721Z.json" and len(shown["input"]) == 6
    assert numbers["quick_file"] == "quick-tensorflow-20261126T1258.json"  # its runs started after the other's
    assert numbers["backends_file"] == "backends-20261126T0334.json"  # timed by the records it names
    assert numbers["topk_accelerator_device"].startswith("NVIDIA") and numbers["topk_cpu_device"].startswith("CPU")
    assert numbers["full_steps"] == cost.FULL_STUDY_STEPS and "NVIDIA H200" in numbers["full_study_note"]
    assert len(shown["machines"]) == sum(len(json.loads(p.read_text())["results"])
                                         for p in (root / "benchmarks" / "results").glob("*.json"))
    assert "hours" not in numbers["full_study_note"]  # the one total per device is the totals table's


def test_the_chapter_adds_the_compute_and_one_total_per_profile_and_device():
    root = Path(__file__).resolve().parents[1]
    shown, numbers = cost.chapter(root / "benchmarks" / "results", root / "results" / "gpu", root / "params",
                                  root / "results" / "study")
    totals = shown["totals"]
    assert not totals.index.duplicated().any()  # one total per (profile, device)
    assert numbers["total_quick_cpu"] == pytest.approx(numbers["quick_after_training_minutes"] / 60)
    assert numbers["total_full_gpu_device"].startswith("NVIDIA") and 0 < numbers["total_full_gpu"] < numbers["total_full_cpu"]
    assert numbers["compute_ratio_study_cifar10"] > numbers["compute_ratio_scale_cifar10_wrn_10_8"] > 1


def test_epoch_lines_are_read_with_or_without_the_time_left():
    lines = ("[mask] epoch 3/30  loss 0.1  acc 0.2  val_loss 1.0  val_acc 0.3  lr 0.01  kept 0.9  22.4s\n"
             "[mix_lr0.001] epoch 3/5  loss 0.1  acc 0.9  val_loss 0.2  val_acc 0.9  lr 0.001  kept 0.7  5.1s"
             "  about 8–16 min left (8 epochs)\n")
    assert [m.group("phase", "epoch", "seconds") for m in cost_steps.EPOCH_LINE.finditer(lines)] == [
        ("mask", "3", "22.4"), ("mix_lr0.001", "3", "5.1")]


def test_machine_classes_add_each_profile_and_divide_by_this_cpu(tmp_path):
    def row(minutes):
        return {"minutes": minutes, "onednn": True, "numerics_env": {}}

    record = {"recorded": "2026-01-01T00:00:00+00:00", "arguments": {"epochs": 2},
              "runs": [{"environment": {"device": "CPU (x86_64, 2 cores)"}}],
              "summary": {"this-cpu": row({"quick/mnist": 2.0, "quick/cifar10": 6.0, "study/mnist": 50.0}),
                          "avx2": row({"quick/mnist": 5.0, "quick/cifar10": 15.0, "study/mnist": 120.0})}}
    (tmp_path / "machines-20260101T0000.json").write_text(json.dumps(record))
    table, numbers = cost.machine_classes(tmp_path)
    assert numbers["machines_avx2_quick_minutes"] == 20.0 and numbers["machines_this_cpu_quick_minutes"] == 8.0
    assert numbers["machines_avx2_quick_ratio"] == 2.5 and numbers["machines_avx2_study_ratio"] == 2.4
    assert numbers["machines_avx2_quick_cifar10_minutes"] == 15.0 and numbers["machines_epochs"] == 2
    assert list(table.index) == [cost.MACHINE_CLASSES["this-cpu"], cost.MACHINE_CLASSES["avx2"]]
    assert table.loc[cost.MACHINE_CLASSES["avx2"], "study/mnist (min)"] == 120.0
    with pytest.raises(FileNotFoundError, match="bench_machine_classes.py"):
        cost.machine_classes(tmp_path / "nothing")


def test_input_path_reads_each_backends_paths_on_the_newest_record_of_each_device_class(tmp_path):
    def result(backend, host, step, device="CPU (x86_64, 2 cores)"):
        return {"profile": "quick", "dataset": "mnist", "model": "wrn-10-1", "batch_size": 128, "steps": 32,
                "environment": {"backend": backend, "backend_version": "1", "device": device},
                "paths": {"host": {"epoch_seconds": host, "step_seconds": 0.05, "input_share": 0.2},
                          "step": {"epoch_seconds": step, "step_seconds": 0.06, "input_share": 0.01}}}

    record = {"recorded": "2026-01-01T00:00:00+00:00", "results": [result("tensorflow", 3.0, 2.0), result("jax", 5.0, 4.0)]}
    (tmp_path / "input-20260101T0000.json").write_text(json.dumps(record))
    table, numbers = cost_steps.input_path(tmp_path)
    assert numbers["input_tensorflow_speed_up"] == 1.5 and numbers["input_jax_speed_up"] == 1.25
    assert numbers["input_jax_step_share"] == 0.01 and numbers["input_tensorflow_host_share"] == 0.2
    assert numbers["input_profile"] == "quick mnist (wrn-10-1, batch 128, 32 steps)"
    assert table.loc[("CPU (x86_64, 2 cores)", "jax 1", "step"), "step alone (ms)"] == pytest.approx(60.0)
    assert table.loc[("CPU (x86_64, 2 cores)", "jax 1", "step"), "network"] == "wrn-10-1, mnist"
    # 32 steps of 60 ms make 1.92 s; the step path's epoch took 2.0 s
    assert numbers["input_tensorflow_epoch_over_steps"] == pytest.approx(2.0 / 1.92)
    gpu = {"recorded": "2026-01-03T00:00:00+00:00", "results": [result("jax", 0.9, 0.7, device="NVIDIA H200")]}
    (tmp_path / "input-20260103T0000.json").write_text(json.dumps(gpu))
    older = {"recorded": "2025-12-01T00:00:00+00:00", "results": [result("jax", 9.0, 9.0)]}
    (tmp_path / "input-20251201T0000.json").write_text(json.dumps(older))
    table, numbers = cost_steps.input_path(tmp_path)
    assert numbers["input_file"] == "input-20260101T0000.json" and numbers["input_gpu_file"] == "input-20260103T0000.json"
    assert numbers["input_gpu_jax_speed_up"] == pytest.approx(0.9 / 0.7) and numbers["input_jax_speed_up"] == 1.25
    assert numbers["input_gpu_device"] == "NVIDIA H200" and len(table) == 6


def test_arm_traces_split_each_runs_first_epochs_into_the_arms_that_trace_and_those_that_reuse(tmp_path):
    def run(seconds, first):
        return {"run_seconds": seconds, "arms": list(first), "first_epoch_seconds": first}

    arms = {"mask": 5.0, "weights": 4.0, "mix": 6.0, "equal_cost": 1.0, "random_mask": 1.5,
            "mix_lr0.001": 2.0, "random_mask_lr0.001": 1.2}  # the last four reuse weights' and mix's steps
    result = {"backend": "tensorflow", "same_histories": True,
              "environment": {"device": "CPU (x86_64, 2 cores)", "backend_version": "2.21.0"},
              "median_run_seconds": {"shared": 30.0, "per-arm": 45.0},
              "runs": {"shared": [run(30.0, arms)], "per-arm": [run(45.0, arms)]}}
    record = {"recorded": "2026-01-01T00:00:00+00:00", "results": [result],
              "arguments": {"width": 1, "epochs": 1, "train_size": 1000}}
    (tmp_path / "traces-20260101T0000.json").write_text(json.dumps(record))
    table, numbers = cost_steps.arm_traces(tmp_path)
    assert numbers["traces_tensorflow_ratio"] == 1.5
    assert numbers["traces_tensorflow_first_traced_seconds"] == 5.0  # median of mask, weights, mix
    assert numbers["traces_tensorflow_first_reused_seconds"] == pytest.approx(1.35)  # of the other four
    assert numbers["traces_same"] == "wrote the same histories both ways" and len(table) == 1
    assert numbers["traces_cell"] == "width 1, 1 epoch(s) an arm, 1,000 training images"
    with pytest.raises(FileNotFoundError, match="bench_arm_traces.py"):
        cost_steps.arm_traces(tmp_path / "empty")
