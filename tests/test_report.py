"""The report pipeline's checks before anything runs."""

from pathlib import Path

import pytest

from supermask_lib import engine
from supermask_lib.report import run_notebooks

ROOT = Path(__file__).resolve().parents[1]


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


def test_the_full_report_stops_on_a_cpu_before_any_notebook(data_dir, tmp_path, monkeypatch):
    monkeypatch.delenv(engine.ALLOW_SLOW_ENV, raising=False)
    with pytest.raises(engine.TooSlowForThisMachine, match=r"model='wrn-28-8' on \d+ mnist images .* days"):
        run_notebooks("full", params_dir=ROOT / "params", results_dir=tmp_path / "results",
                      runs_dir=tmp_path / "runs", data_dir=data_dir)
    assert not (tmp_path / "runs").exists() and not any((tmp_path / "results").iterdir())
