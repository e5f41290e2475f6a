"""The built book in a real browser: nothing cut off at the right edge, at a laptop's and a phone's width.

Headless Chromium (tests/chromium.py) loads every page of the book that
``built_book`` (tests/conftest.py) builds, at 1280×900 and 390×844, and
measures each table, image, formula and code block of the article: an
element reaching past the article's visible right edge must sit in a box of
its own that scrolls sideways and shows its scrollbar (Chromium runs with
overlay scrollbars, as on macOS and phones, where a box that scrolls without
one looks cut off); the page itself never scrolls sideways; every table cell
has at least ``chromium.MIN_PADDING_PX`` of padding left and right; every figure is shown at its own size (its type
sizes, checked on the figure objects by tests/test_plots.py at ``plots.COLUMN_PX``, are then what the reader sees).
The pages with figures or once cut off are photographed at 1280 px into the built book (``_build/html/_screenshots``)
and kept in ``$SUPERMASK_SCREENSHOT_DIR`` (default ``<tmp>/supermask-book-screenshots``) after the build is gone.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from supermask_lib.report import plots
from tests import chromium

# Pages a reader found cut at the right edge at 1280 px (and the top-k formula's).
SCREENSHOTS = ("answer.html", "results/study.html", "mask_utilization.html", "results/estimators.html",
               "results/literature.html", "results/cost.html", "learning_a_mask.html", "results/scale.html",
               "results/mnist.html", "results/cifar10.html")
KEPT = Path(os.environ.get("SUPERMASK_SCREENSHOT_DIR", Path(tempfile.gettempdir()) / "supermask-book-screenshots"))


@pytest.fixture(scope="module")
def measured(built_book):
    if chromium.find_chromium() is None:
        message = "Chromium is not installed: apt-get install -y chromium (the book's legibility check needs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    html_dir, _ = built_book
    found = chromium.measure_book(html_dir, screenshots=SCREENSHOTS, screenshot_dir=html_dir / "_screenshots")
    shutil.copytree(html_dir / "_screenshots", KEPT, dirs_exist_ok=True)  # the build is a temporary folder
    return html_dir, found


@pytest.mark.book
def test_every_page_was_measured(measured):
    html_dir, found = measured
    pages = chromium.pages(html_dir)
    assert set(SCREENSHOTS) <= set(pages)
    assert {key for key in found} == {(page, width) for page in pages for width in chromium.WIDTHS}
    assert sum(m["checked"] for m in found.values()) > 0 and sum(m["cells"] for m in found.values()) > 0
    for page in SCREENSHOTS:
        shot = html_dir / "_screenshots" / (page.replace("/", "_").removesuffix(".html") + ".png")
        assert shot.stat().st_size > 10_000, shot


@pytest.mark.book
@pytest.mark.parametrize("width", list(chromium.WIDTHS))
def test_nothing_is_cut_off_at_the_right_edge(measured, width):
    _, found = measured
    at_width = {key: m for key, m in found.items() if key[1] == width}
    cut = {key: m for key, m in at_width.items() if m["cut"]}
    assert not cut, chromium.summary(cut)
    sideways = {key: m for key, m in at_width.items() if m["scroll_width"] > m["inner_width"]}
    assert not sideways, chromium.summary(sideways)


@pytest.mark.book
def test_table_cells_have_padding(measured):
    _, found = measured
    unpadded = {key: m for key, m in found.items() if m["unpadded"]}
    assert not unpadded, chromium.summary(unpadded) + "\n" + "\n".join(
        f"{key}: {m['unpadded'][:5]}" for key, m in unpadded.items())


@pytest.mark.book
def test_every_figure_is_shown_at_its_own_size(measured):
    _, found = measured
    desktop = {key: m for key, m in found.items() if key[1] == "desktop"}
    assert sum(len(m["figures"]) for m in desktop.values()) >= 10  # the book's figures were found
    assert not chromium.shrunk_figures(desktop, plots.COLUMN_PX), chromium.shrunk_figures(desktop, plots.COLUMN_PX)
    for (page, _), m in desktop.items():
        for figure in m["figures"]:  # drawn no wider than the column, so shown at their own size
            assert figure["natural"] <= plots.COLUMN_PX + 4, (page, figure)


def test_the_figure_width_check_catches_a_figure_the_page_shrinks(tmp_path):
    """In a real browser: an 800 px image in a 500 px column is shown shrunk, a 400 px one at its own size."""
    if chromium.find_chromium() is None:
        pytest.skip("Chromium is not installed")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for name, width in (("wide", 8), ("narrow", 4)):
        fig = plt.figure(figsize=(width, 2), dpi=100)
        fig.savefig(tmp_path / f"{name}.png", dpi=100)
        plt.close(fig)
    (tmp_path / "page.html").write_text(
        '<html><head><style>img { max-width: 100%; height: auto; }</style></head><body>'
        '<article class="bd-article" style="width: 500px"><img src="wide.png"><img src="narrow.png"></article>'
        '</body></html>')
    found = chromium.measure_book(tmp_path)
    assert [(src, shown, natural) for _, src, shown, natural in chromium.shrunk_figures(found, 660)] == [
        ("wide.png", 500, 800)] * len(chromium.WIDTHS)
    assert not chromium.shrunk_figures(found, 400)  # a column of 400 px: 500 px shown is enough
