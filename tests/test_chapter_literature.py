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


def test_chance_sentence_says_at_near_or_above_chance_and_checks_the_loss_against_ln10():
    import math

    flat = pd.DataFrame({"loss": [math.log(10) + 0.01, math.log(10) - 0.02]})
    assert chapter.chance_sentence(0.105, flat) == (
        "stays at chance (0.105, chance 0.10), its training loss within 0.020 of ln 10 = 2.303 throughout")
    moving = pd.DataFrame({"loss": [2.5, 2.0]})
    assert chapter.chance_sentence(0.15, moving) == (
        "stays near chance (0.150, under twice chance's 0.10), though its training loss moved up to 0.30 from ln 10")
    assert chapter.chance_sentence(0.45, flat) == "rises well above chance (0.450, chance 0.10)"


@pytest.mark.parametrize("ours, published, said", [
    ([0.47, 0.45, 0.17], [0.65, 0.74, 0.77], "accuracy falls with depth (0.470, 0.450, 0.170), where the published "
                                             "numbers rise"),
    ([0.58, 0.63, 0.69], [0.65, 0.74, 0.77], "deeper is better (0.580, 0.630, 0.690), as published"),
    ([0.545, 0.508, 0.504], [0.66, 0.72, 0.76], "accuracy does not move one way with depth (0.545, 0.508, 0.504), "
                                                "where the published numbers rise"),  # a step under WITHIN is no step
    ([0.65, 0.70], [None, None], "deeper is better (0.650, 0.700)")])
def test_depth_sentence_orders_the_networks_and_compares_with_the_published_order(ours, published, said):
    assert chapter.depth_sentence(ours, pd.Series(published, dtype=float)) == said


def test_depth_groups_collect_the_variants_that_differ_only_in_depth_and_fit_sentence_counts_the_gaps():
    index = ["zhou_conv6", "zhou_conv2", "zhou_conv4", "edge_popup_conv2_keep50", "edge_popup_conv4_keep50", "fc"]
    table = pd.DataFrame({"ours": [0.50, 0.54, 0.51, 0.65, 0.70, 0.9], "train accuracy": [0.99, 0.60, 0.98, 0.7, 0.9,
                                                                                         0.9]}, index=index)
    groups = chapter.depth_groups(table)
    assert list(groups) == ["zhou", "edge_popup_keep50"]
    assert list(groups["zhou"].index) == ["zhou_conv2", "zhou_conv4", "zhou_conv6"]  # shallowest first
    rows = groups["zhou"]
    assert chapter.fit_sentence(rows["train accuracy"], rows["ours"]) == (
        "overfits in 2 of 3 networks: training accuracy above test accuracy by 0.060, 0.470, 0.490")
    assert chapter.fit_sentence([0.99, 0.98], [0.5, 0.6]).startswith("overfits: ")
    assert chapter.fit_sentence([0.52], [0.5]) == "does not overfit: training accuracy above test accuracy by only 0.020"


def test_model_groups_give_a_panel_per_network_only_where_there_are_several():
    from types import SimpleNamespace

    def run(model):
        return SimpleNamespace(config=SimpleNamespace(model=model))
    assert chapter.model_groups({"a": run("fc"), "b": run("fc")}) is None
    assert chapter.model_groups({"a": run("conv2"), "b": run("conv4"), "c": run("conv2")}) == {
        "conv2": ["a", "c"], "conv4": ["b"]}
