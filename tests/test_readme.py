"""The README's example runs as written."""

import re
from pathlib import Path


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
