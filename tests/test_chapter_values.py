"""Glue values and keys: what myst-nb's glue roles can parse, under names the book can type."""

import numpy as np

from supermask_lib.report.chapters.values import glue_key, plain


def test_plain_values_are_python_ints_floats_and_strings():
    numbers = plain({"a": np.int64(3), "b": np.float32(0.5), "c": "text", "d": 2, "e": np.float64(1e-3)})
    assert numbers == {"a": 3, "b": 0.5, "c": "text", "d": 2, "e": 1e-3}
    assert [type(v) for v in numbers.values()] == [int, float, str, int, float]
    assert repr(numbers["b"]) == "0.5"  # not np.float32(0.5): the glue role parses the repr


def test_a_glue_key_is_lower_case_with_one_underscore_per_run_of_other_characters():
    assert glue_key("mix_lr0.001 − weights") == "mix_lr0_001_weights"
    assert glue_key("  WRN-10-1 (CPU) ") == "wrn_10_1_cpu"
    assert glue_key(8) == "8"
