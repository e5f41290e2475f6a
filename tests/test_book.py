"""End-to-end suite: build the whole report from the tiny profile and read the HTML back (``built_book``:
tests/conftest.py)."""

import re
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup

from supermask_lib.experiment.results import load_run

ROOT = Path(__file__).resolve().parents[1]


def _page(html_dir, name):
    return BeautifulSoup((html_dir / name).read_text(), "html.parser")


def _metrics(runs, dataset):
    model = yaml.safe_load((ROOT / "params" / f"tiny-{dataset}.yaml").read_text())["model"]
    (run_dir,) = [p for p in runs.iterdir() if p.name.startswith(f"{dataset}-{model}-")]
    return load_run(run_dir).metrics


@pytest.mark.book
@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_results_pages_show_both_figures_and_the_table(built_book, dataset):
    html_dir, runs = built_book
    page = _page(html_dir, f"results/{dataset}.html")
    figures = page.find_all("figure")
    captions = [figure.find("figcaption").get_text().strip() for figure in figures]
    assert [re.sub(r"^Fig\.\s*\d+\s*", "", c).split(" (")[0] for c in captions] == [
        "Accuracy per epoch", "Fraction of weights masked per layer after the mask phase"]
    for figure in figures:
        image = figure.find("img")
        assert image is not None and (html_dir / "results" / image["src"]).is_file()
    text = page.get_text()
    assert "tiny profile" in text
    metrics = _metrics(runs, dataset)
    assert f"{metrics['mask'].test_accuracy:.4f}" in text  # the summary table


@pytest.mark.book
def test_every_glued_number_is_rendered(built_book):
    html_dir, runs = built_book
    intro = _page(html_dir, "intro.html")
    pasted = [span.get_text() for span in intro.select("span.pasted-text")]
    # the answer box (one paragraph per dataset, from the answer per scale), 5 rows x 2 datasets, 2 notes
    assert len(pasted) == 14 and all(pasted)
    boxes = [p for p in pasted if "mix − weights in test accuracy" in p.lower()]
    assert [p.split(",")[0].split(":")[0] for p in boxes] == ["MNIST", "CIFAR-10"]
    for dataset in ("mnist", "cifar10"):
        metrics = _metrics(runs, dataset)
        for phase in ("initial", "mask", "weights", "mix"):
            assert f"{metrics[phase].test_accuracy:.3f}" in pasted
    assert any("approximate, partial offline CIFAR-10 copy" in p for p in pasted)
    for page in ("setup.html", "mask_utilization.html", "discussion.html", "reproduce.html", "beyond.html",
                 "results/cost.html", "answer.html", "results/literature.html"):
        spans = _page(html_dir, page).select("span.pasted-text")
        assert spans and all(s.get_text().strip() for s in spans), page
    cost = _page(html_dir, "results/cost.html").get_text()
    assert "On a GPU" in cost and "NVIDIA H200" in cost  # the stored GPU session (results/gpu)
    assert "after-one-worker" in cost and "quick-tensorflow-" in cost  # the quick profile's speed (benchmarks/results/quick)
    assert "topk-" in cost and "NVIDIA H100" in cost  # edge-popup's selection per device (benchmarks/results/topk)
    setup = _page(html_dir, "setup.html")
    assert len(setup.find_all("table")) >= 2 and "wrn-10-1" in setup.get_text()
    figures = _page(html_dir, "mask_utilization.html").find_all("img")
    assert len(figures) >= 2
    estimators = _page(html_dir, "results/estimators.html")
    assert estimators.find("figure").find("img") is not None
    assert all(name in estimators.get_text() for name in ("threshold", "bernoulli", "topk"))


@pytest.mark.book
def test_the_answer_is_read_from_the_stored_study(built_book):
    from supermask_lib.study import seeds as study

    html_dir, _ = built_book
    answer = _page(html_dir, "answer.html")
    pasted = [span.get_text() for span in answer.select("span.pasted-text")]
    for dataset in ("mnist", "cifar10"):
        results = study.load_stored_study(ROOT / "results" / "study" / dataset)
        differences = study.paired_differences(study.seed_table(results), study.comparisons(results))
        row = differences.loc["mix − equal_cost"]
        assert f"{row['difference']:+.3f}" in pasted and f"{row['ci95']:.3f}" in pasted
    assert any("study profile: WRN-10-1" in p and "seeds" in p for p in pasted)
    curves = _page(html_dir, "results/study.html")
    assert len(curves.find_all("figure")) == 5 and len(curves.find_all("table")) >= 4  # answer, 2 curves, 2 utilisation


@pytest.mark.book
def test_the_literature_chapter_sets_ours_beside_the_published_numbers(built_book):
    from supermask_lib.study import literature

    html_dir, _ = built_book
    text = _page(html_dir, "results/literature.html").get_text()
    profile = literature.load_literature_profile(ROOT / "params", "mnist")
    zhou = literature.load_stored(ROOT / "results" / "literature" / "mnist", profile)["zhou"]
    assert f"{zhou.metrics['mask'].test_accuracy:.4f}" in text and "0.980" in text  # ours, and Zhou et al.'s 98.0%
    assert "partial offline CIFAR-10 copy" in text


@pytest.mark.book
def test_the_study_chapter_shows_the_run_on_other_kernels(built_book):
    html_dir, _ = built_book
    text = _page(html_dir, "results/study.html").get_text()
    assert "ONEDNN_MAX_CPU_ISA=AVX2" in text


@pytest.mark.book
def test_the_scale_chapter_reads_the_stored_width_cells(built_book):
    from supermask_lib.study import scale
    from supermask_lib.report.chapters import scale as chapter

    html_dir, _ = built_book
    axis, seeds = scale.load_axis(ROOT / "params", "cifar10")
    stored = scale.load_stored_axis(ROOT / "results" / "scale" / "cifar10", axis, seeds)
    page = _page(html_dir, "results/scale.html")
    text = page.get_text().replace("’", "'")  # Sphinx's smart quotes, undone
    summary = chapter.summary(chapter.axis_table(stored))
    for width in stored:
        assert summary.loc["mix − weights", f"width {width}"] in text
    assert len(page.find_all("figure")) == 1 and page.find("figure").find("img") is not None
    numbers = chapter.scale_numbers(stored)
    assert numbers["scale_trend_mix_minus_weights"] in text
    assert numbers["scale_status"] in _page(html_dir, "discussion.html").get_text().replace("’", "'")
    assert "width axis: wrn-10-w" in text and "WRN-28-8 on all the data" in text
    assert numbers["scale_engines"] in text and numbers["scale_baseline"] in text  # which engine, which levels
    assert "One seed of the post's setup (WRN-28-8, 30 epochs a phase" in text  # the GPU's sighting of it


@pytest.mark.book
def test_the_tuned_chapter_states_each_width_s_answer_from_the_stored_runs(built_book):
    from supermask_lib.experiment.datasets import DATASETS
    from supermask_lib.report.chapters import tuned, values, verdicts
    from supermask_lib.study import queue

    html_dir, _ = built_book
    page = _page(html_dir, "results/tuned.html").get_text().replace("’", "'")
    intro, answer = (_page(html_dir, name).get_text().replace("’", "'") for name in ("intro.html", "answer.html"))
    stored_dir = ROOT / "results"  # every scale, as the answer notebook reads them
    longer = (stored_dir / "tuned-long", queue.store_overrides(ROOT / "params" / "gpu-queue.yaml", "tuned-long"))
    folders = (stored_dir / name for name in ("study", "scale", "tuning", "tuned"))
    every_scale = verdicts.stored_rows(ROOT / "params", *folders, [stored_dir / "bridge", stored_dir / "tuned-jax"],
                                       longer)
    for dataset in ("cifar10", "mnist"):
        plan, points, stored = tuned.load(ROOT / "params", ROOT / "results" / "tuning", ROOT / "results" / "tuned",
                                          dataset)
        numbers = tuned.numbers(dataset, DATASETS[dataset].title, plan, points, stored)
        assert stored and numbers[f"tuned_{dataset}_verdicts"] in page
        box = verdicts.box(dataset, every_scale)
        lead = box.split("). ")[0]  # the box's first sentence: the tuned scales' lead and numbers
        table = tuned.differences(stored)
        assert all(values.signed(table.loc[(width, "mix − weights"), "difference"]) in lead for width in stored)
        assert lead in intro and lead in answer
        assert numbers[f"tuned_{dataset}_late_selections"] in page


@pytest.mark.book
def test_every_sidebar_entry_is_its_pages_own_title(built_book):
    """A reader who follows the sidebar lands on a page of the same name (a title set in _toc.yml would not)."""
    html_dir, _ = built_book
    entries = _page(html_dir, "intro.html").select("nav.bd-docs-nav a.reference.internal")
    assert len(entries) >= 18
    for entry in entries:
        target = entry["href"].split("#")[0]
        title = _page(html_dir, target).find("h1").get_text().strip().rstrip("#").strip()
        assert entry.get_text().strip().replace("’", "'") == title.replace("’", "'"), target
