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


@pytest.mark.parametrize("ours, head", [(0.982, "reaches their number (0.982 against 0.980)"),
                                        (0.976, "comes within 0.004 of their number (0.976 against 0.980)"),
                                        (0.950, "falls 0.030 short of their number (0.950 against 0.980)")])
def test_reach_sentence_follows_the_gap(ours, head):
    assert chapter.reach_sentence(ours, 0.980, seeds=3, epochs=30).startswith(head + ": 3 seeds")


def test_reach_sentence_names_one_seed_and_the_epochs_not_run():
    text = chapter.reach_sentence(0.976, 0.980, seeds=1, epochs=200, planned_epochs=2000)
    assert text == ("comes within 0.004 of their number (0.976 against 0.980): one seed, so the gap has no spread "
                    "to be judged against, after 200 of their 2,000 epochs, so the rest of their training is untried")
    assert "epochs" not in chapter.reach_sentence(0.976, 0.980, seeds=1, epochs=2000, planned_epochs=2000)


def test_literature_numbers_glue_the_reach_with_the_planned_epochs():
    table = pd.DataFrame({"ours": [0.976], "published": [0.98], "kept": [0.45], "train accuracy": [0.99],
                          "minutes": [3.0], "epochs": [200], "best epoch": [150]},
                         index=pd.Index(["zhou"], name="variant"))
    numbers = chapter.literature_numbers({"mnist": table}, {"mnist": {}}, planned_epochs={"zhou": 2000})
    assert numbers["lit_mnist_zhou_reach"].startswith("comes within 0.004")
    assert "200 of their 2,000 epochs" in numbers["lit_mnist_zhou_reach"]
