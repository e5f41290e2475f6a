"""The API reference (book/api/): every public name has a docstring and one entry; its examples run.

Public: the core's lazy export table and ``__all__`` (a module named there: every name it defines
without a leading underscore) and each package's ``__all__``. An entry is an autodoc directive on a
page of ``book/api/``, naming the object where it is defined, so nothing is documented twice. The
docstring examples run here as doctests on the current backend.
"""

import doctest
import importlib
import inspect
import re
import types
from pathlib import Path

import pytest
from sphinx.pycode import ModuleAnalyzer

import supermask_lib

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "book" / "api"
PACKAGES = ("supermask_lib", "supermask_lib.experiment", "supermask_lib.study", "supermask_lib.report")
DIRECTIVE = re.compile(r"^\.\. (auto(?:module|class|function|data|exception)|currentmodule|py:currentmodule)::\s*(\S+)", re.M)
# The modules whose docstrings hold examples (each must have at least one).
DOCTEST_MODULES = ("supermask_lib.layers", "supermask_lib.trainable", "supermask_lib.utilization",
                   "supermask_lib.export", "supermask_lib.batchnorm", "supermask_lib.experiment")


def page_entries(pages):
    """``{qualified name: page}`` of every autodoc directive in ``pages`` (``(name, text)``); repeats raise."""
    entries = {}
    for page, text in pages:
        module = None
        for kind, target in DIRECTIVE.findall(text):
            if kind.endswith("currentmodule") or kind == "automodule":
                module = target
                name = target if kind == "automodule" else None
            else:
                name = target if "." in target else f"{module}.{target}"
            if name is None:
                continue
            if name in entries:
                raise AssertionError(f"{name} is documented twice: {entries[name]} and {page}")
            entries[name] = page
    return entries


def _defined_names(module):
    """What a module defines itself without a leading underscore: functions, classes and documented-or-not constants."""
    names = {name for name, value in vars(module).items()
             if not name.startswith("_") and callable(value) and getattr(value, "__module__", None) == module.__name__}
    assigned = ModuleAnalyzer.for_module(module.__name__)
    assigned.analyze()
    names |= {name for name in assigned.tagorder if "." not in name and name.isupper()}
    return names


def public_names():
    """Qualified names at their defining module: the export table, every package's ``__all__``, expanded modules."""
    found = {f"supermask_lib.{module}.{name}" for name, module in supermask_lib._CORE.items()}
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in getattr(module, "__all__", ()):
            if package == "supermask_lib" and name in supermask_lib._CORE:
                continue  # a constant's home is the table's (a dict carries no module)
            value = getattr(module, name)
            if isinstance(value, types.ModuleType):
                found |= {f"{value.__name__}.{n}" for n in _defined_names(value)}
            else:
                found.add(f"{value.__module__}.{name}")
    return found


def resolve(qualified):
    """The object, its module and its name for a qualified name (a method: class.method)."""
    parts = qualified.split(".")
    for split in range(len(parts), 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        obj = owner
        for part in parts[split:]:
            obj = getattr(obj, part)
        return obj, owner, ".".join(parts[split:])
    raise ImportError(qualified)


def has_docstring(qualified):
    obj, module, name = resolve(qualified)
    if isinstance(obj, types.ModuleType) or callable(obj):  # functools.cache'd functions are callables too
        return bool((obj.__doc__ or "").strip()) and (not inspect.isclass(obj) or "__doc__" in vars(obj))
    analyzer = ModuleAnalyzer.for_module(module.__name__)
    return bool(analyzer.find_attr_docs().get(("", name)))  # a constant: its ``#:`` comment


def missing_entries(public, entries):
    return sorted(set(public) - set(entries))


def _pages():
    return [(path.name, path.read_text()) for path in sorted(PAGES.glob("*.md"))]


def test_every_public_name_has_a_docstring():
    undocumented = sorted(name for name in public_names() if not has_docstring(name))
    assert not undocumented, f"public names without a docstring (or a #: comment): {undocumented}"


def test_every_public_name_has_an_entry_in_the_api_reference():
    missing = missing_entries(public_names(), page_entries(_pages()))
    assert not missing, f"public names missing from book/api/*.md: {missing}"


def test_every_entry_names_a_documented_object_at_its_home():
    for name, page in page_entries(_pages()).items():
        obj, module, _ = resolve(name)
        assert has_docstring(name), f"{page}: {name} has no docstring"
        home = getattr(obj, "__module__", module.__name__)
        if callable(obj) and hasattr(obj, "__qualname__"):
            assert f"{home}.{obj.__qualname__}" == name, f"{page}: {name} is documented away from its home {home}"


def test_the_check_catches_a_missing_entry():
    pages = [(name, text.replace(".. autofunction:: set_trainable\n", "")) for name, text in _pages()]
    assert "supermask_lib.trainable.set_trainable" in missing_entries(public_names(), page_entries(pages))
    twice = _pages() + [("extra.md", "```{eval-rst}\n.. autofunction:: supermask_lib.trainable.set_trainable\n```")]
    with pytest.raises(AssertionError, match="set_trainable is documented twice"):
        page_entries(twice)


def test_the_pages_are_in_the_table_of_contents():
    toc = (ROOT / "book" / "_toc.yml").read_text()
    assert {f"api/{path.stem}" for path in PAGES.glob("*.md")} <= set(re.findall(r"file: (\S+)", toc))


@pytest.mark.parametrize("name", DOCTEST_MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = [test for test in finder.find(module, name) if test.examples]
    assert tests, f"{name} has no docstring example"
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed (output above)"
