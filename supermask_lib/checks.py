"""Value checks shared by every module that owns a parameter.

Each rule lives in the module that owns the concept (the estimator's
threshold in ``estimators``, a model name in ``models``, a split size in
``data``); this module only gives them one voice. A check takes the value
and the *name* to report, so the same rule reads ``threshold=1.5 is not
allowed`` from a layer and ``ExperimentConfig.threshold=1.5 is not allowed``
from the configuration. Checks return the value normalised to a plain
Python type (a NumPy scalar becomes ``int``/``float``/``bool``), so that
what passes a check also writes to JSON and hashes the same way.
"""

import math
import numbers
import os

import numpy as np


def fail(name, value, allowed):
    """Raise the library's one error shape: parameter, value, what is allowed."""
    raise ValueError(f"{name}={value!r} is not allowed: {allowed}.")


def plain(value):
    """A NumPy scalar as the Python scalar it stands for; anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def is_number(value):
    value = plain(value)
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def number(name, value, low=-math.inf, high=math.inf, *, low_open=True, high_open=True, allowed=None):
    """A finite real number in the interval; returned as ``float``."""
    given, value = value, plain(value)
    ok = is_number(value) and (low < value if low_open else low <= value) and (
        value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        fail(name, given, allowed or f"a number in {interval}")
    return float(value)


def integer(name, value, minimum=0, maximum=None, *, allowed=None):
    """An integer (not a bool) in ``[minimum, maximum]``; returned as ``int``."""
    given, value = value, plain(value)
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= minimum and (
        maximum is None or value <= maximum)
    if not ok:
        fail(name, given, allowed or (f"an integer >= {minimum}" if maximum is None
                                      else f"an integer in [{minimum}, {maximum}]"))
    return int(value)


def boolean(name, value):
    if not isinstance(plain(value), bool):
        fail(name, value, "True or False")
    return plain(value)


def choice(name, value, choices, *, allowed=None):
    """One of ``choices``, of the same type too (so ``1`` is not ``True`` and ``0.5`` not ``"0.5"``)."""
    for option in choices:
        if type(plain(value)) is type(option) and plain(value) == option:
            return option
    fail(name, value, allowed or f"one of {list(choices)}")


def optional_path(name, value):
    """``None`` or a path given as ``str``/``os.PathLike``; returned as ``str``."""
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or str(value) == "":
        fail(name, value, "None or a folder path (str or pathlib.Path)")
    return str(value)
