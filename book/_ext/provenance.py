"""Where a page of this book comes from: the build date and git revision in every footer,
and links to the repository's stored runs.

A tiny local Sphinx extension (``sphinx: local_extensions`` in ``_config.yml``), offline:

- On ``config-inited`` it asks git for the revision (``git rev-parse --short HEAD``, with
  ``+dirty`` when ``git status --porcelain`` lists anything) and puts "Built on DATE from
  revision REV." into sphinx-book-theme's ``extra_footer``, shown at the foot of every page;
  ``html_context`` carries ``build_date`` and ``build_revision`` for templates too.
  The book's own folder is asked first; a copy of the book outside a checkout (the report
  command's ``--book-dir``) is asked through the directory the build was started from, which
  is the checkout that ran the notebooks. Outside any checkout it says "unknown revision".
  ``SOURCE_DATE_EPOCH`` fixes the date, as for any reproducible build.
- The role ``{repo-path}`results/study/``` shows a repository path in code font and, when
  ``supermask_repository_url`` is set (a base URL such as
  ``https://github.com/OWNER/REPO/tree/main``), links it to ``BASE/PATH``.
"""

from __future__ import annotations

import datetime as _dt
import html
import os
import subprocess
from pathlib import Path

from docutils import nodes

UNKNOWN_REVISION = "unknown revision"


def _git(args, cwd):
    try:
        done = subprocess.run(["git", *args], cwd=str(cwd), capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def revision(directory) -> str | None:
    """``git rev-parse --short HEAD`` of the checkout holding ``directory``, ``+dirty`` if it has changes.

    None when ``directory`` is not inside a git checkout (or git is missing).
    """
    if not Path(directory).is_dir():
        return None
    head = _git(["rev-parse", "--short", "HEAD"], directory)
    if not head or not head.strip():
        return None
    status = _git(["status", "--porcelain"], directory)
    dirty = status is None or bool(status.strip())  # a status git cannot give is not a clean one
    return head.strip() + ("+dirty" if dirty else "")


def book_revision(*directories) -> str:
    """The first revision found among ``directories``, else "unknown revision"."""
    for directory in directories:
        if directory is not None:
            found = revision(directory)
            if found:
                return found
    return UNKNOWN_REVISION


def build_date(environ=os.environ) -> str:
    """Today's date (UTC, ISO), or the one ``SOURCE_DATE_EPOCH`` fixes."""
    epoch = environ.get("SOURCE_DATE_EPOCH")
    moment = (_dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc) if epoch
              else _dt.datetime.now(_dt.timezone.utc))
    return moment.date().isoformat()


def footer_html(date: str, rev: str) -> str:
    """The footer line every page shows."""
    return ('<p class="provenance">Built on <time datetime="{0}">{0}</time> from revision '
            '<code>{1}</code>.</p>').format(html.escape(date), html.escape(rev))


def repo_link(base: str, path: str) -> str | None:
    """``BASE/PATH`` for a configured base URL, None when none is configured."""
    base = (base or "").strip()
    return f"{base.rstrip('/')}/{path.lstrip('/')}" if base else None


def _config_inited(app, config):
    rev = book_revision(app.srcdir, os.getcwd())
    date = build_date()
    options = dict(config.html_theme_options or {})
    extra = options.get("extra_footer") or ""
    options["extra_footer"] = footer_html(date, rev) + extra
    config.html_theme_options = options
    context = dict(config.html_context or {})
    context.update(build_date=date, build_revision=rev)
    config.html_context = context


def repo_path_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{repo-path}`PATH```: PATH in code font, linked when ``supermask_repository_url`` is set."""
    path = text.strip()
    literal = nodes.literal(rawtext, path)
    url = repo_link(inliner.document.settings.env.config.supermask_repository_url, path)
    if url is None:
        return [literal], []
    return [nodes.reference(rawtext, "", literal, refuri=url)], []


def setup(app):
    app.add_config_value("supermask_repository_url", "", "html")
    app.add_role("repo-path", repo_path_role)
    app.connect("config-inited", _config_inited)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
