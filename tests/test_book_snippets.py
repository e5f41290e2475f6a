"""Every Python snippet in the book runs as written, each in a fresh namespace (the README's: test_readme.py)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "book").glob("*.md"))
SNIPPETS = [(page, number, code) for page in PAGES
            for number, code in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S))]


def test_the_book_has_snippets_to_check():
    assert "reproduce.md" in {page.name for page, _, _ in SNIPPETS}


@pytest.mark.parametrize("page, number, code", SNIPPETS, ids=[f"{p.name}-{n}" for p, n, _ in SNIPPETS])
def test_snippet_runs(page, number, code, capsys):
    exec(compile(code, f"{page.name} (snippet {number})", "exec"), {"__name__": "__snippet__"})
    assert "mask_utilization" not in code or "fraction_masked" in capsys.readouterr().out
