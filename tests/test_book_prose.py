"""The book's prose types no result by hand: every number in it is glued from a run, or is a setting.

A number in the prose of ``book/*.md`` and of the notebooks' markdown cells
passes when it is one of the settings the runs were made with (any value in
a profile under ``params/``, a recipe, an ``ExperimentConfig`` default, or
its percentage), a published number the book cites (the post's levels read
off its figures, the papers' accuracies, the datasets' sizes), a count
below ten, a year, or one of the few documented facts below. Anything else
is a result typed by hand and fails the test, naming the page and the line:
glue it from a run instead.
"""

import functools
import json
import re
from pathlib import Path

import pytest
import yaml

from supermask_lib import recipes
from supermask_lib.report.chapters import answer, utilization
from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.experiment.datasets import DATASETS
from supermask_lib.study.literature import PUBLISHED

ROOT = Path(__file__).resolve().parents[1]

# Facts that are neither settings nor results, each with where it comes from.
FACTS = {
    "28": "Wide ResNet 28, the post's network",
    "29": "the post's WRN-28-8 has 29 maskable layers (setup)",
    "12": "the post's utilisation figure: shortcut layers 3, 12 and 21; at most about 12% masked on MNIST",
    "21": "the post's utilisation figure: shortcut layers 3, 12 and 21",
    "16": "WRN's first convolution has 16 filters; the post's CIFAR-10 maximum of about 16%",
    "255": "the post's code did not divide MNIST's pixels by 255",
    "509": "so its MNIST inputs reached 509 (the post's code)",
    "95": "the study's intervals are 95% intervals",
    "512": "VGG-style widths 128, 256, 512 in the setup's description of WRN-28-8",
    "3.10": "the Python version the package requires",
    "1.00": "a cost ratio of 1.00 means no cost (the definition)",
    "31": "largest_k counts the 31 bits of a float32 above its sign",
}


def _values(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _values(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _values(item)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value


def _forms(number):
    """The ways prose writes a setting: 0.01, 1e-2 as 0.01, 4000 as 4,000, 0.5 as 50 (per cent)."""
    forms = {f"{number:g}", f"{number:,}", str(number)}
    if isinstance(number, float):
        forms |= {f"{number:.1f}", f"{number:.2f}"}
        if 0 < number <= 1:
            forms |= {f"{number * 100:g}"}
    return forms


@functools.lru_cache(maxsize=None)
def allowed_numbers():
    settings = []
    for path in (ROOT / "params").glob("*.yaml"):
        settings += _values(yaml.safe_load(path.read_text()))
    settings += _values(ExperimentConfig().to_dict())
    settings += _values({name: recipe.fields for name, recipe in recipes.RECIPES.items()})
    settings += _values({**answer.POST_LEVELS, **utilization.POST_MAX_MASKED})
    settings += [accuracy for accuracy, _ in PUBLISHED.values()]
    settings += [spec.train_images for spec in DATASETS.values()] + [10_000]  # and the test sets
    settings += [0.99, 0.9, 1e-5]  # Keras's BatchNorm momentum; the post's fine-tuning rate
    return {form for number in settings for form in _forms(number)} | set(FACTS)


def prose():
    """(place, text) of every page's prose."""
    for path in sorted((ROOT / "book").glob("*.md")):
        yield path.name, path.read_text()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for index, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] == "markdown":
                yield f"{path.name} (cell {index})", "".join(cell["source"])


def strip(text):
    """The prose alone: no code, roles (glue, cite), math, link targets, directives' option lines."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"\{[\w:-]+\}`[^`]*`", " ", text)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\$[^$\n]*\$", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"^\s*(:::.*|:\w+:.*)$", " ", text, flags=re.M)
    return re.sub(r"^\s*(\d+\.|[-*])\s", " ", text, flags=re.M)  # list markers


# A number standing alone: not part of a name (WRN-10-1, Conv-6, 3x3, 1e-5, LeNet 300-100, CIFAR-10).
NUMBER = re.compile(r"(?<![\w.\-/×−])(\d+(?:,\d{3})*(?:\.\d+)?)(?![\w\-/×]|\.\d)")


def hand_typed(text, allowed):
    found = []
    for line in strip(text).splitlines():
        for match in NUMBER.finditer(line):
            number = match.group(1)
            if number in allowed or re.fullmatch(r"[0-9]|(19|20)\d\d", number):
                continue
            found.append((number, line.strip()))
    return found


def test_the_checker_finds_a_typed_result_and_passes_glue_and_settings():
    allowed = allowed_numbers()
    assert hand_typed("mix reached 0.8731 on CIFAR-10 after 17 epochs", allowed) == [
        ("0.8731", "mix reached 0.8731 on CIFAR-10 after 17 epochs"),
        ("17", "mix reached 0.8731 on CIFAR-10 after 17 epochs")]
    assert hand_typed("mix reached {glue:text}`mix_acc:.3f` with Adam at 0.01, batch 128, on WRN-10-1 "
                      "(`finetune_lr=1e-3`, $\\sigma = 0.73$), 50% kept, in 2019", allowed) == []


@pytest.mark.parametrize("place, text", list(prose()), ids=[place for place, _ in prose()])
def test_no_result_is_typed_by_hand(place, text):
    typed = hand_typed(text, allowed_numbers())
    assert not typed, f"{place}: numbers typed by hand (glue them from a run, or name the setting): {typed}"
