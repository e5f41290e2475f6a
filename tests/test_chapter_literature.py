"""The literature chapter's numbers: the recipes' table, ours against published."""

import pandas as pd
import pytest

from supermask_lib.report.chapters import literature as chapter


def test_recipe_table_shows_each_recipes_fields_and_blanks_the_rest():
    from supermask_lib.recipes import RECIPES

    table = chapter.recipe_table(RECIPES)
    assert list(table.columns) == list(RECIPES)
    assert table.loc["learning_rate", "zhou"] == "100.0" and table.loc["lr_schedule", "edge-popup"] == "cosine"
    assert table.loc["dynamic_rescaling", "edge-popup"] == "–"  # edge-popup leaves it at the default
    assert table.loc["score_init", "edge-popup"] == "VarianceScaling(scale=0.333, mode=fan_in, distribution=uniform)"


def test_literature_numbers_glue_ours_published_and_their_gap():
    table = pd.DataFrame({"ours": [0.97, None], "published": [0.98, None], "kept": [0.45, None],
                          "train accuracy": [0.99, None], "minutes": [3.0, None], "epochs": [200, 30],
                          "best epoch": [150, None]}, index=pd.Index(["zhou", "post"], name="variant"))
    numbers = chapter.literature_numbers({"mnist": table}, {"mnist": {}})
    assert numbers["lit_mnist_zhou_gap"] == pytest.approx(-0.01)
    assert (numbers["lit_mnist_zhou_train"], numbers["lit_mnist_post_epochs"]) == (0.99, 30)
    assert "lit_mnist_post_ours" not in numbers and numbers["lit_mnist_machine"] == "no stored runs"
