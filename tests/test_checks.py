"""The one voice of every value rule: the error names the parameter, the value and what is allowed."""

import math
import pathlib

import numpy as np
import pytest

from supermask_lib import checks


def test_an_error_names_parameter_value_and_what_is_allowed():
    with pytest.raises(ValueError, match=r"^threshold=1\.5 is not allowed: a number in \(0, 1\)\.$"):
        checks.number("threshold", 1.5, 0.0, 1.0)


@pytest.mark.parametrize("value, low_open, high_open, ok", [
    (0.0, True, True, False), (0.0, False, True, True), (1.0, True, True, False), (1.0, True, False, True),
    (0.5, True, True, True), (math.nan, False, False, False), (math.inf, False, False, False), (True, False, False, False),
])
def test_number_intervals_are_open_or_closed_as_asked(value, low_open, high_open, ok):
    if ok:
        assert checks.number("x", value, 0.0, 1.0, low_open=low_open, high_open=high_open) == value
    else:
        with pytest.raises(ValueError, match=r"^x="):
            checks.number("x", value, 0.0, 1.0, low_open=low_open, high_open=high_open)


def test_numpy_scalars_come_back_as_python_scalars():
    """What passes a check writes to JSON and hashes as the Python value would."""
    assert type(checks.number("x", np.float32(0.25), 0.0, 1.0)) is float
    assert type(checks.integer("n", np.int64(3))) is int
    assert type(checks.boolean("b", np.bool_(True))) is bool
    assert checks.choice("c", np.str_("adam"), ("adam", "sgd")) == "adam"


@pytest.mark.parametrize("value", [True, 2.0, -1, "3"])
def test_integers_refuse_bools_floats_strings_and_values_below_the_minimum(value):
    with pytest.raises(ValueError, match=r"an integer >= 0"):
        checks.integer("epochs", value)
    with pytest.raises(ValueError, match=r"an integer in \[0, 5\]"):
        checks.integer("epochs", 6, 0, 5)


def test_a_choice_matches_type_as_well_as_value():
    """``1`` is not ``True`` and ``0.5`` is not ``"0.5"``: a YAML typo is not silently read as another option."""
    assert checks.choice("jit", True, (True, False, "auto")) is True
    with pytest.raises(ValueError, match=r"^jit=1 is not allowed: one of \[True, False, 'auto'\]\.$"):
        checks.choice("jit", 1, (True, False, "auto"))
    with pytest.raises(ValueError, match="only these"):
        checks.choice("x", "0.5", (0.5,), allowed="only these")


def test_an_optional_path_is_none_or_a_non_empty_path():
    assert checks.optional_path("data_dir", None) is None
    assert checks.optional_path("data_dir", pathlib.Path("/tmp/x")) == "/tmp/x"
    for bad in ("", 3, ["/tmp"]):
        with pytest.raises(ValueError, match=r"^data_dir=.* None or a folder path"):
            checks.optional_path("data_dir", bad)
