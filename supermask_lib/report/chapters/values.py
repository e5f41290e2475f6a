"""What a glue value and a glue key are: plain Python values, lower-case names; and how roughly a number is said."""

import math
import re

import numpy as np
import pandas as pd


def plain(numbers):
    """Plain Python values: their repr is what the book's glue roles parse."""
    return {k: v if isinstance(v, str) else (int(v) if isinstance(v, (int, np.integer)) else float(v))
            for k, v in numbers.items()}


def glue_key(name):
    """A name as a glue key's part: lower case, every run of other characters one underscore."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")


def about(value, figures=2):
    """A rough count said as roughly as it is known: ``about(6719.3)`` is ``"6,700"``, ``about(98.4)`` ``"98"``
    (compute ratios from multiply-adds, images and epochs carry two significant figures, not four)."""
    if value == 0 or not math.isfinite(value):
        return f"{value:,.0f}"
    digits = figures - 1 - math.floor(math.log10(abs(value)))
    rounded = round(value, digits)
    return f"{rounded:,.{max(digits, 0)}f}"


def signed(value):
    """``+0.012``, ``−0.013``, and ``0.000`` for what rounds to zero (no sign a reader must puzzle over)."""
    said = f"{value:+.3f}"
    return said[1:] if float(said) == 0 else said.replace("-", "−")


def with_interval(value, ci):
    """``−0.013 ± 0.006``; one seed gives no interval, and says so rather than ``± nan``."""
    return f"{signed(value)} without an interval" if pd.isna(ci) else f"{signed(value)} ± {ci:.3f}"
