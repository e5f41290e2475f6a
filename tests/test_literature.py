"""The literature comparison: its profiles and the summary table (the stored runs: test_stored_results)."""

from pathlib import Path

import pandas as pd
import pytest

from supermask_lib.study import literature
from supermask_lib.experiment.arms import ArmMetrics
from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.experiment.results import RunResult


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
