"""The book's table formats: each chapter's numbers rendered to the places its page promises."""

import pandas as pd

from supermask_lib.report.chapters import tables


def test_differences_are_signed_and_intervals_are_half_widths():
    frame = pd.DataFrame({"question": ["q"], "difference": [0.01234], "ci95": [0.005], "low": [-0.0003],
                          "high": [0.02], "seeds where arm is higher": ["4 of 5"], "seeds": [5]}, index=["mix − weights"])
    html = tables.styled_differences(frame).to_html()
    assert "+0.0123" in html and "± 0.0050" in html and "-0.0003" in html and "+0.0200" in html


def test_the_summary_shows_counts_as_integers_and_missing_values_as_a_dash():
    frame = pd.DataFrame({"epochs": [20, 5], "selected epoch": [17.0, None], "val accuracy": [0.61234, 0.6],
                          "test accuracy": [0.6, 0.61], "train seconds": [312.4, 80.6]}, index=["weights", "mix"])
    html = tables.styled_summary(frame).to_html()
    assert ">17<" in html and ">–<" in html and "0.6123" in html and ">312<" in html


def test_shares_are_percentages():
    assert "12.5%" in tables.styled_profile(pd.DataFrame({"tensorflow": [0.125]})).to_html()
