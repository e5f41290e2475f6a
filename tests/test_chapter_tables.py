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


def test_a_table_of_words_keeps_every_cell_whole():
    long = "weights still improving at the end in 4 of 5 seeds; 3 seeds, fewer than the 5 of the tuned axis"
    frame = pd.DataFrame({"caveats": [long]}, index=["WRN-10-1"])
    assert long in tables.styled_text(frame).to_html()
    assert long not in frame._repr_html_()  # a bare DataFrame as a notebook shows it cuts it at 50 characters


def test_the_utilization_table_names_its_columns_in_words_and_rounds_the_fraction():
    frame = pd.DataFrame({"name": ["conv_0"], "kind": ["conv"], "n_weights": [432], "n_masked": [6],
                          "fraction_masked": [0.013889], "n_bias": [16], "n_bias_masked": [0]})
    html = tables.styled_utilization(frame).to_html()
    assert ">fraction masked<" in html and ">0.014<" in html and "0.013889" not in html and ">biases masked<" in html
