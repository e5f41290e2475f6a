"""The report pipeline's checks before anything runs, and the notebook it trains through on the backend under test."""

from pathlib import Path

import keras
import nbformat
import pytest

from supermask_lib.experiment import engine
from supermask_lib.report.pipeline import run_notebooks
from supermask_lib.experiment.results import load_run

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


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() == "tensorflow",
                    reason="on TensorFlow, test_book.py runs this notebook within the whole report")
def test_the_experiment_notebook_trains_and_draws_on_this_backend(data_dir, tmp_path):
    """The report's share that depends on the backend (``make report BACKEND=jax``, the GPU's path): the
    experiment notebook, tiny profile, through papermill; the pages that only read stored runs, and the book
    built from them, are the same on every backend and are built on TensorFlow (test_book.py)."""
    run_notebooks("tiny", params_dir=ROOT / "params", notebook=ROOT / "notebooks" / "supermask_experiment.ipynb",
                  results_dir=tmp_path / "results", runs_dir=tmp_path / "runs", data_dir=data_dir,
                  datasets=("mnist",), estimators=False)
    executed = nbformat.read(tmp_path / "results" / "mnist.ipynb", as_version=4)
    prefix = "application/papermill.record/"
    glued = {output.metadata["scrapbook"]["name"]: {kind[len(prefix):]: value for kind, value in output.data.items()}
             for cell in executed.cells for output in cell.get("outputs", []) if "scrapbook" in output.get("metadata", {})}
    assert "image/png" in glued["accuracy_figure"] and "image/png" in glued["utilization_figure"]
    (run_dir,) = (tmp_path / "runs").iterdir()
    result = load_run(run_dir)
    assert result.environment["backend"] == keras.backend.backend()
    for arm in ("mask", "weights", "mix"):
        assert f"{result.metrics[arm].test_accuracy:.4f}" in glued["summary_table"]["text/html"], arm
