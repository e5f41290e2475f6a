"""The built book in a real browser: nothing cut off at the right edge, at a laptop's and a phone's width.

Headless Chromium (tests/chromium.py) loads every page of the book that
``built_book`` (tests/conftest.py) builds, at 1280×900 and 390×844, and
measures each table, image, formula and code block of the article: an
element reaching past the article's visible right edge must sit in a box of
its own that scrolls sideways and shows its scrollbar (Chromium runs with
overlay scrollbars, as on macOS and phones, where a box that scrolls without
one looks cut off); the page itself never scrolls sideways; every table cell
has at least ``chromium.MIN_PADDING_PX`` of padding left and right. The pages that were cut off before are photographed
at 1280 px into the built book (``_build/html/_screenshots/*.png``).
"""

import os

import pytest

from tests import chromium

# Pages a reader found cut at the right edge at 1280 px (and the top-k formula's).
SCREENSHOTS = ("answer.html", "results/study.html", "mask_utilization.html", "results/estimators.html",
               "results/literature.html", "results/cost.html", "learning_a_mask.html", "results/scale.html")


@pytest.fixture(scope="module")
def measured(built_book):
    if chromium.find_chromium() is None:
        message = "Chromium is not installed: apt-get install -y chromium (the book's legibility check needs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    html_dir, _ = built_book
    return html_dir, chromium.measure_book(html_dir, screenshots=SCREENSHOTS,
                                           screenshot_dir=html_dir / "_screenshots")


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
