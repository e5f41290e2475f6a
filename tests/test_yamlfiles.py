"""The strict YAML reader: bad files named by file and line, exponent numbers read as floats, --set values
read like a profile, and every stored profile read as PyYAML reads it."""

import re
from pathlib import Path

import pytest
import yaml

from supermask_lib.experiment import yamlfiles

ROOT = Path(__file__).resolve().parents[1]


YAML_FILES = [
    ("duplicate key", "epochs: 3\nmodel: fc\nepochs: 5\n", r": key 'epochs' appears twice, on line 1 and on line 3"),
    ("duplicate nested key", "base:\n  model: fc\nvariants:\n  a: {seed: 1}\n  a: {seed: 2}\n",
     r": key 'a' appears twice, on line 4 and on line 5"),
    ("tab", "epochs: 3\n\tmodel: fc\n", r", line 2, column 1: not valid YAML .*tabs"),
    ("unclosed list", "finetune_lrs: [1e-3, 1e-4\nepochs: 3\n", r", line 2, column \d+: not valid YAML \(.*from line 1"),
    ("two documents", "epochs: 3\n---\nepochs: 4\n", r", line 2, column 1: not valid YAML \(.*single document"),
    ("a list", "- epochs: 3\n", r" holds a list at the top level; it must be a mapping of NAME: VALUE lines"),
    ("a string", "epochs 3\n", r" holds a str at the top level; it must be a mapping"),
    ("a number", "3\n", r" holds a int at the top level; it must be a mapping"),
]


@pytest.mark.parametrize("name,text,match", YAML_FILES, ids=[case[0] for case in YAML_FILES])
def test_bad_yaml_file_names_the_file_and_the_line(name, text, match, tmp_path):
    path = tmp_path / "quick-mnist.yaml"
    path.write_text(text)
    with pytest.raises(yamlfiles.YamlError, match=rf"^{re.escape(str(path))}{match}"):
        yamlfiles.read_yaml(path)


def test_yaml_exponent_numbers_are_floats(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("learning_rate: 1e-3\nfinetune_lrs: [1E5, 1e3, .5e-2, -2e-4, +3e+2, 1.0e-5]\n"
                    "seed: 7\nquoted: '1e-3'\nname: 1e3x\nempty_file_is: {}\n")
    values = yamlfiles.read_yaml(path)
    assert values["learning_rate"] == 0.001 and type(values["learning_rate"]) is float
    assert values["finetune_lrs"] == [1e5, 1e3, 0.005, -2e-4, 300.0, 1e-5]
    assert all(type(value) is float for value in values["finetune_lrs"])
    assert values["seed"] == 7 and type(values["seed"]) is int
    assert values["quoted"] == "1e-3" and values["name"] == "1e3x"
    (tmp_path / "empty.yaml").write_text("# nothing set\n")
    assert yamlfiles.read_yaml(tmp_path / "empty.yaml") == {}


def test_a_set_value_is_read_like_a_profile_and_named_in_errors():
    assert yamlfiles.parse_value("1e-3", "--set learning_rate=1e-3") == 0.001
    assert yamlfiles.parse_value("[1e-4, 2e-3]", "--set finetune_lrs=[1e-4, 2e-3]") == [1e-4, 2e-3]
    assert yamlfiles.parse_value("fc", "--set model=fc") == "fc"
    with pytest.raises(yamlfiles.YamlError, match=r"^--set finetune_lrs=\[1, 2, line 1, column \d+: not valid YAML"):
        yamlfiles.parse_value("[1, 2", "--set finetune_lrs=[1, 2")
    with pytest.raises(yamlfiles.YamlError, match=r"^--set x: key 'a' appears twice, on line 1 \(columns 2 and 8\)"):
        yamlfiles.parse_value("{a: 1, a: 2}", "--set x")


def test_every_stored_profile_reads_as_before():
    """Strict reading changes no stored profile: the same values PyYAML's safe_load gives."""
    for path in sorted((ROOT / "params").glob("*.yaml")):
        assert yamlfiles.read_yaml(path) == yaml.safe_load(path.read_text()), path
