"""The literature runs: profiles, the summary table, and the stored runs, verified and recomputable."""

from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from supermask_lib import literature
from supermask_lib.arms import ArmMetrics
from supermask_lib.config import ExperimentConfig
from supermask_lib.experiment import run_experiment
from supermask_lib.runs import RunFolder, RunResult
from tests.test_stored_study import assert_first_epoch_recomputes

ROOT = Path(__file__).resolve().parents[1]
STORED = ROOT / "results" / "literature"


def test_a_comparison_must_have_a_published_number(tmp_path):
    (tmp_path / "literature-mnist.yaml").write_text(
        "base: {dataset: mnist, model: fc}\nvariants:\n  a: {recipe: edge-popup, compare_with: edge-popup}\n")
    with pytest.raises(ValueError, match=r"variant 'a'\): compare_with='edge-popup' has no published number "
                                         r"for model='fc'"):
        literature.load_literature_profile(tmp_path, "mnist")


def test_summary_reads_ours_at_the_best_epoch_beside_the_published_number():
    profile = {"zhou": (ExperimentConfig.from_recipe("zhou", model="fc", epochs=3), "zhou"),
               "mine": (ExperimentConfig.from_recipe("post-ils", model="fc", epochs=3), None)}
    history = pd.DataFrame({"epoch": [0, 1, 2], "fraction_kept": [0.5, 0.4, 0.3], "val_accuracy": [0.1, 0.9, 0.8],
                            "accuracy": [0.2, 0.6, 0.95]})
    result = RunResult(Path("zhou"), profile["zhou"][0], {}, {},
                       {"mask": ArmMetrics(0.1, 0.97, best_epoch=1, seconds=120.0)}, {"mask": history}, {}, "holdout")
    table = literature.summary_table({"zhou": result}, profile)
    row = table.loc["zhou"]
    assert (row["ours"], row["published"], row["kept"], row["train accuracy"], row["best epoch"], row["minutes"]) == (
        0.97, 0.98, 0.4, 0.6, 2, 2.0)
    assert table.loc["mine"].isna()[["ours", "published", "kept"]].all()


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_stored_runs_are_verified_and_each_is_a_profile_variant(dataset):
    profile = literature.load_literature_profile(ROOT / "params", dataset)
    folders = [path for path in (STORED / dataset).iterdir() if (path / "metrics.json").exists()]
    results = literature.load_stored(STORED / dataset, profile)  # checks each stored file against its manifest
    assert len(results) == len(folders), "every stored run is a variant of the profile"
    if dataset == "mnist":
        assert set(results) == set(profile), "the MNIST runs are all stored"
    for result in results.values():
        assert result.environment["git_revision"] and not result.environment["git_revision"].endswith("+dirty")
        assert not list(RunFolder(result.run_dir).path.glob("*.keras"))  # small files only


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="the MNIST runs ran on TensorFlow; another backend draws another initialisation")
def test_the_first_epoch_of_a_stored_mnist_run_recomputes(data_dir, tmp_path):
    """Zhou et al.'s recipe, first epoch, against the stored history (tolerances: see test_stored_study)."""
    profile = literature.load_literature_profile(ROOT / "params", "mnist", data_dir)
    stored = literature.load_stored(STORED / "mnist", profile)["zhou"]
    result = run_experiment(stored.config.replace(epochs=1, data_dir=str(data_dir)), tmp_path)
    assert_first_epoch_recomputes(result.histories["mask"].iloc[0], stored.histories["mask"].iloc[0])


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "jax", reason="the CIFAR-10 runs ran on JAX (on a GPU)")
def test_a_stored_gpu_run_starts_from_the_same_network_on_this_cpu(data_dir, tmp_path):
    """Edge-popup's Conv-2: the initial network's test accuracy (no training) recomputed here on JAX's CPU.

    JAX draws the same numbers on every platform, so the signed-constant
    weights, the scores and the first top-k mask are those the GPU drew;
    only rounding differs, which may flip a handful of the 10,000 test predictions.
    """
    profile = literature.load_literature_profile(ROOT / "params", "cifar10", data_dir)
    stored = literature.load_stored(STORED / "cifar10", profile)
    if "edge_popup_conv2" not in stored:
        pytest.skip("edge_popup_conv2 is not stored (GPU work)")
    run = stored["edge_popup_conv2"]
    result = run_experiment(run.config.replace(epochs=1, max_steps_per_epoch=1, data_dir=str(data_dir)), tmp_path)
    assert result.metrics["initial"].test_accuracy == pytest.approx(
        run.metrics["initial"].test_accuracy, abs=0.002)
    assert np.isfinite(result.histories["mask"]["loss"]).all()


def test_a_copied_tree_names_its_commit(monkeypatch):
    """A device machine's copy of the tree has no .git of its own: the copier names the commit."""
    from supermask_lib.provenance import git_revision

    monkeypatch.delenv("SUPERMASK_GIT_REVISION", raising=False)
    here = git_revision()
    monkeypatch.setenv("SUPERMASK_GIT_REVISION", "0123abc")
    assert git_revision() == "0123abc" != here


def test_settings_that_change_the_kernels_are_recorded(monkeypatch):
    from supermask_lib.provenance import environment

    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    assert environment()["numerics_env"]["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    assert "TF_ENABLE_ONEDNN_OPTS" not in environment()["numerics_env"]
