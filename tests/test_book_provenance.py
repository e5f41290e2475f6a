"""The book's footer names the date and the git revision it was built from (book/_ext/provenance.py).

Builds nothing: imports the extension and compares what it computes with git itself.
"""

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("provenance", ROOT / "book" / "_ext" / "provenance.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


provenance = _load()
needs_git = pytest.mark.skipif(
    shutil.which("git") is None
    or subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True).returncode != 0,
    reason="not a git checkout")


def _git(*args, cwd=ROOT):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


@needs_git
def test_revision_is_this_checkouts_short_head_marked_dirty_when_changed():
    expected = _git("rev-parse", "--short", "HEAD").strip()
    if _git("status", "--porcelain").strip():
        expected += "+dirty"
    assert provenance.revision(ROOT) == expected
    assert provenance.revision(ROOT / "book") == expected  # the book's own folder finds the same checkout
    assert provenance.book_revision(ROOT / "book", ROOT) == expected


@needs_git
def test_dirty_and_clean_checkouts(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git("init", "-q", cwd=repo)
    (repo / "a.txt").write_text("a\n")
    _git("add", "a.txt", cwd=repo)
    _git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "a", cwd=repo)
    head = _git("rev-parse", "--short", "HEAD", cwd=repo).strip()
    assert provenance.revision(repo) == head
    (repo / "a.txt").write_text("b\n")
    assert provenance.revision(repo) == head + "+dirty"


def test_outside_a_checkout_it_says_unknown(tmp_path):
    outside = tmp_path / "copy-of-the-book"
    outside.mkdir()
    assert provenance.revision(tmp_path / "missing") is None
    if provenance.revision(outside) is None:  # unless the temporary folder itself lies in a checkout
        assert provenance.book_revision(outside) == "unknown revision"


def test_footer_shows_date_and_revision():
    footer = provenance.footer_html("2026-11-30", "abc1234+dirty")
    assert "2026-11-30" in footer and "abc1234+dirty" in footer
    assert footer.startswith("<p") and footer.endswith("</p>")
    assert "&lt;b&gt;" in provenance.footer_html("2026-11-30", "<b>")  # escaped, never raw HTML


@needs_git
def test_footer_for_this_checkout_names_its_revision():
    footer = provenance.footer_html(provenance.build_date(), provenance.book_revision(ROOT / "book"))
    assert _git("rev-parse", "--short", "HEAD").strip() in footer
    assert provenance.build_date() in footer


def test_build_date_follows_source_date_epoch():
    assert provenance.build_date({"SOURCE_DATE_EPOCH": "1796083200"}) == "2026-12-01"
    assert len(provenance.build_date({})) == 10


def test_repository_links_only_with_a_base_url():
    assert provenance.repo_link("", "results/study/") is None
    assert provenance.repo_link("https://example.org/repo/tree/main/", "results/study/") == \
        "https://example.org/repo/tree/main/results/study/"


def test_config_inited_sets_the_footer_and_context():
    class Config:
        html_theme_options = {"navigation_with_keys": False}
        html_context = {}

    class App:
        srcdir = ROOT / "book"

    config = Config()
    provenance._config_inited(App(), config)
    footer = config.html_theme_options["extra_footer"]
    assert config.html_context["build_revision"] in footer and config.html_context["build_date"] in footer
    assert config.html_theme_options["navigation_with_keys"] is False


def test_citation_record_names_this_version_and_the_post():
    import re

    import yaml

    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert citation["cff-version"] == "1.2.0" and citation["version"] == version
    assert citation["license"] == "MIT" and (ROOT / "LICENSE").is_file()
    (post,) = citation["references"]
    assert post["url"] == "https://mshlis.github.io/SuperMasks/"
    bib = (ROOT / "book" / "references.bib").read_text()
    assert post["url"] in bib  # the book cites the post at the same address
