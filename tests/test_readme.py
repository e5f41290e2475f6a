"""The README's example runs as written, and the notebook's defaults are the quick profile."""

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_readme_library_example_runs(capsys):
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks, "the README lost its example"
    exec(compile(blocks[0], "README.md", "exec"), {})
    printed = capsys.readouterr().out
    for column in ("name", "kind", "n_weights", "n_masked", "fraction_masked"):
        assert column in printed
    assert "masked_conv2d" in printed and "masked_dense" in printed


def test_notebook_defaults_are_the_quick_mnist_profile():
    notebook = json.loads((ROOT / "notebooks" / "supermask_experiment.ipynb").read_text())
    (cell,) = [c for c in notebook["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    defaults = {}
    exec("".join(cell["source"]), {}, defaults)
    profile = yaml.safe_load((ROOT / "params" / "quick-mnist.yaml").read_text())
    assert defaults["dataset"] == "mnist" and defaults["profile"] == "quick"
    assert {k: defaults[k] for k in profile} == profile
    # Every profile names only fields the notebook (and ExperimentConfig) knows.
    for path in [*(ROOT / "params").glob("*-mnist.yaml"), *(ROOT / "params").glob("*-cifar10.yaml")]:
        assert set(yaml.safe_load(path.read_text())) <= set(defaults), path.name
