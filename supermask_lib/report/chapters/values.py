"""What a glue value and a glue key are: plain Python values, lower-case names."""

import re

import numpy as np


def plain(numbers):
    """Plain Python values: their repr is what the book's glue roles parse."""
    return {k: v if isinstance(v, str) else (int(v) if isinstance(v, (int, np.integer)) else float(v))
            for k, v in numbers.items()}


def glue_key(name):
    """A name as a glue key's part: lower case, every run of other characters one underscore."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")
