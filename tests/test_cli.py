"""The command line (``python -m supermask_lib``, supermask_lib/__main__.py): one run of a profile, with overrides."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]


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
