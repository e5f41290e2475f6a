"""One run from the command line, and the guard that stops days of CPU training before it starts."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from supermask_lib import engine
from supermask_lib.config import ExperimentConfig
from supermask_lib.experiment import check_affordable, run_experiment
from supermask_lib.models import forward_macs, get_model

ROOT = Path(__file__).resolve().parents[1]


def test_forward_macs_by_hand():
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="c")(inputs)        # 8*8 positions x 3*3*3*4
    x = keras.layers.Conv2D(5, 1, strides=2, name="d")(x)                  # 4*4 positions x 1*1*4*5
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(x))             # 80 x 2
    assert forward_macs(keras.Model(inputs, outputs)) == 64 * 108 + 16 * 20 + 160
    masked = get_model("wrn-10-1", input_shape=(28, 28, 1))
    assert forward_macs(masked) == forward_macs(get_model("wrn-10-1", input_shape=(28, 28, 1), masked=False))


def test_training_flops_count_every_arm_and_the_step_cap():
    config = ExperimentConfig(model="fc", epochs=4, mix_epochs=2, phases=("mask", "weights", "mix", "equal_cost"))
    assert engine.training_flops(config, 10, 100) == 6 * 10 * 100 * (4 + 4 + 2 + 6)
    assert engine.training_flops(config.replace(max_steps_per_epoch=1, batch_size=20), 10, 100) == 6 * 10 * 20 * 16


def test_days_of_cpu_training_stop_before_any_work(data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv(engine.ALLOW_SLOW_ENV, raising=False)
    config = ExperimentConfig(dataset="mnist", model="wrn-28-8", data_dir=str(data_dir))  # the full profile's size
    assert engine.training_flops(config, 2.5e9, 54_000) / 100e9 / 86400 > 5  # days on 2 cores: it must stop
    with pytest.raises(engine.TooSlowForThisMachine, match=r"model='wrn-28-8' on 54000 mnist images would train "
                                                           r"for at least [\d.]+ days .* SUPERMASK_ALLOW_SLOW_RUN=1"):
        run_experiment(config, tmp_path)
    assert not any(tmp_path.iterdir())
    monkeypatch.setenv(engine.ALLOW_SLOW_ENV, "1")
    assert check_affordable(config) > engine.MAX_CPU_HOURS * 3600  # allowed, and the estimate is returned
    small = ExperimentConfig(dataset="mnist", model="wrn-10-1", train_size=5000, epochs=16, mix_epochs=4,
                             data_dir=str(data_dir))
    assert check_affordable(small, allow_slow=False) < 3600  # the quick profile passes


def _cli(*args, cwd=ROOT):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "supermask_lib", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_cli_rejects_a_bad_override_before_any_work(tmp_path):
    done = _cli("--profile", "tiny", "--set", "epochs=0", "--out-dir", str(tmp_path))
    assert done.returncode == 2
    assert "params/tiny-mnist.yaml with {'epochs': 0}: " in done.stderr
    assert "ExperimentConfig.epochs=0 is not allowed" in done.stderr and not any(tmp_path.iterdir())
    done = _cli("--profile", "tiny", "--set", "epochs", "--out-dir", str(tmp_path))
    assert done.returncode == 2 and "write NAME=VALUE" in done.stderr


@pytest.mark.parametrize("profile, dataset", [("tiny", "estimators"), ("literature", "mnist")])
def test_the_cli_says_a_comparison_profile_is_not_one_run(tmp_path, profile, dataset):
    done = _cli("--profile", profile, "--dataset", dataset, "--out-dir", str(tmp_path))
    assert done.returncode == 2 and not any(tmp_path.iterdir())
    assert f"params/{profile}-{dataset}.yaml is a comparison profile with variants [" in done.stderr


@pytest.mark.slow
def test_cli_runs_a_profile_with_overrides(data_dir, tmp_path):
    done = _cli("--profile", "tiny", "--dataset", "mnist", "--data-dir", str(data_dir), "--out-dir", str(tmp_path),
                "--set", "phases=[mask]", "model=fc", "bn_momentum=null")
    assert done.returncode == 0, done.stderr[-2000:]
    (run_dir,) = tmp_path.iterdir()
    config = json.loads((run_dir / "config.json").read_text())["config"]
    assert (config["phases"], config["model"], config["epochs"]) == (["mask"], "fc", 1)
    assert "test accuracy: initial" in done.stdout


def test_the_full_report_stops_on_a_cpu_before_any_notebook(data_dir, tmp_path, monkeypatch):
    from supermask_lib.report import run_notebooks

    monkeypatch.delenv(engine.ALLOW_SLOW_ENV, raising=False)
    with pytest.raises(engine.TooSlowForThisMachine, match=r"model='wrn-28-8' on \d+ mnist images .* days"):
        run_notebooks("full", params_dir=ROOT / "params", results_dir=tmp_path / "results",
                      runs_dir=tmp_path / "runs", data_dir=data_dir)
    assert not (tmp_path / "runs").exists() and not any((tmp_path / "results").iterdir())


@pytest.mark.slow
def test_a_finished_run_is_read_back_whatever_its_cost(data_dir, tmp_path, monkeypatch):
    """The guard is about training: rendering runs trained elsewhere (on a GPU, say) must still work."""
    monkeypatch.delenv(engine.ALLOW_SLOW_ENV, raising=False)
    monkeypatch.setattr(engine, "MAX_CPU_HOURS", 0.0)  # everything is "too slow" now
    config = ExperimentConfig(dataset="mnist", model="fc", epochs=1, mix_epochs=1, train_size=200, val_size=50,
                              test_size=100, data_dir=str(data_dir))
    with pytest.raises(engine.TooSlowForThisMachine):
        run_experiment(config, tmp_path)
    trained = run_experiment(config, tmp_path, allow_slow=True)
    assert run_experiment(config, tmp_path).metrics == trained.metrics  # finished: reused, no refusal
    assert check_affordable(config, out_dir=tmp_path) is None
    with pytest.raises(engine.TooSlowForThisMachine):
        run_experiment(config, tmp_path, overwrite=True)  # retraining is training
