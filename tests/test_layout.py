"""The package's layout: four layers that import downwards only, a library that imports alone, old paths that still work.

core (``supermask_lib``'s top-level modules) < ``experiment`` < ``study`` < ``report``: a module may
import its own layer and the layers below it, never one above.
"""

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "supermask_lib"
LAYERS = ("core", "experiment", "study", "report")
# The compatibility shim maps old names to new ones as strings; the command line (``python -m supermask_lib``)
# starts a run, so it stands where the harness does.
NOT_LAYERED = {"supermask_lib._moved"}
ENTRY_POINTS = {"supermask_lib.__main__": "experiment"}
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 300, 60
REASON = re.compile(r"^# (Longer|Over) .* because ", re.M)  # a module's written reason for its size


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(name):
    """The layer of a module of this package (by name)."""
    if name in ENTRY_POINTS:
        return ENTRY_POINTS[name]
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS[1:] else "core"


def imported_modules(path):
    """Every ``supermask_lib`` module a file imports (at any depth: a function's local import counts too)."""
    tree, name = ast.parse(path.read_text()), module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("supermask_lib"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if base.startswith("supermask_lib"):
                yield base
                yield from (f"{base}.{alias.name}" for alias in node.names)  # ``from supermask_lib import experiment``


def modules():
    return sorted(path for path in PACKAGE.rglob("*.py") if module_name(path) not in NOT_LAYERED)


def test_layer_names_exist():
    """The test's map of the package is the package's: every layer but the core is a sub-package."""
    for layer in LAYERS[1:]:
        assert (PACKAGE / layer / "__init__.py").is_file()


def _existing(name):
    """``name`` if it names a module or package of this package, else its parent (an imported name's module)."""
    path = ROOT.joinpath(*name.split("."))
    return name if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file() else name.rpartition(".")[0]


@pytest.mark.parametrize("path", modules(), ids=lambda path: module_name(path))
def test_a_module_imports_no_layer_above_its_own(path):
    mine = LAYERS.index(layer_of(module_name(path)))
    above = sorted({target for target in map(_existing, imported_modules(path))
                    if target not in NOT_LAYERED and target != "supermask_lib"
                    and LAYERS.index(layer_of(target)) > mine})
    assert not above, f"{module_name(path)} ({LAYERS[mine]}) imports {above}, from a layer above its own"


def test_the_import_test_sees_an_upward_import(tmp_path):
    """A core module that imports the harness is caught, however it spells the import."""
    probe = PACKAGE / "_probe_upward.py"
    probe.write_text("def f():\n    from .experiment import runner\n    import supermask_lib.report.plots\n")
    try:
        found = {_existing(name) for name in imported_modules(probe)}
    finally:
        probe.unlink()
    assert {"supermask_lib.experiment.runner", "supermask_lib.report.plots"} <= found
    assert all(layer_of(name) != "core" for name in found - {"supermask_lib.experiment"})


def test_importing_the_library_loads_only_the_library():
    """``import supermask_lib`` loads neither Keras nor the harness; a layer's name loads the core it needs."""
    code = ("import json, sys, time; t = time.perf_counter(); import supermask_lib; t = time.perf_counter() - t; "
            "first = sorted(m for m in sys.modules if m.startswith(('supermask_lib', 'keras', 'tensorflow', 'jax'))); "
            "supermask_lib.MaskedConv2D; "
            "after = sorted(m for m in sys.modules if m.startswith('supermask_lib')); "
            "print(json.dumps({'first': first, 'after': after, 'seconds': t}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded["first"] == ["supermask_lib", "supermask_lib._moved"]
    assert not [name for name in loaded["after"] if layer_of(name) != "core"], loaded["after"]


def test_old_import_paths_warn_once_and_give_the_same_objects():
    """Every 0.2 path still imports for one version, warns with its new home, and is the new module itself."""
    code = """
import importlib, json, warnings
from supermask_lib import _moved
rows = {}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for old, new in _moved.MODULES.items():
        rows[old] = importlib.import_module(old) is importlib.import_module(new)
    import supermask_lib.runs as runs, supermask_lib.data as data
    from supermask_lib.experiment import storage, datasets
    rows["runs.RunFolder"] = runs.RunFolder is storage.RunFolder
    rows["data.save_dataset"] = data.save_dataset is datasets.save_dataset
    import supermask_lib
    rows["ExperimentConfig"] = supermask_lib.ExperimentConfig is importlib.import_module(
        "supermask_lib.experiment.config").ExperimentConfig
messages = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
print(json.dumps({"rows": rows, "messages": messages}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["rows"] and all(result["rows"].values()), result["rows"]
    moved = [m for m in result["messages"] if "moved to" in m and m.startswith("supermask_lib.")]
    from supermask_lib import _moved

    for old, new in _moved.MODULES.items():  # each module path warned once, naming where it went
        assert sum(m.startswith(f"{old} moved to {new};") for m in moved) == 1, (old, moved)
    assert sum(m.startswith("supermask_lib.ExperimentConfig moved") for m in moved) == 1


def _long_functions(path):
    tree = ast.parse(path.read_text())
    return [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
            and not REASON.search(ast.get_docstring(node) or "")]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda path: module_name(path))
def test_modules_and_functions_stay_small_or_say_why(path):
    text = path.read_text()
    lines = len(text.splitlines())
    assert lines <= MAX_MODULE_LINES or REASON.search(text[:2000]), \
        f"{path.name} has {lines} lines: split it, or write at its top why it is one module"
    assert not _long_functions(path), f"{path.name}: functions over {MAX_FUNCTION_LINES} lines {_long_functions(path)}"


# A run folder's file names, spelled anywhere but in the module that owns them.
RUN_FILE_NAME = re.compile(r"(^|[/*])(config|manifest|metrics)\.json$|^(history|mask_utilization)_.*\.csv$")


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda path: module_name(path))
def test_run_file_names_are_spelled_only_by_the_run_folder(path):
    if module_name(path) == "supermask_lib.experiment.storage":
        pytest.skip("the owner")
    tree = ast.parse(path.read_text())
    spelled = [node.value for node in ast.walk(tree)
               if isinstance(node, ast.Constant) and isinstance(node.value, str) and RUN_FILE_NAME.search(node.value)]
    assert not spelled, f"{module_name(path)} spells run files {spelled}: ask storage.RunFolder"


def _code_of_notebooks_and_book():
    """(where, source) of every notebook code cell and every python block of the book and the README."""
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for index, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] == "code":
                yield f"{path.name} cell {index}", "".join(cell["source"])
    for path in [ROOT / "README.md", *sorted((ROOT / "book").glob("*.md"))]:
        for index, block in enumerate(re.findall(r"```python\n(.*?)```", path.read_text(), re.S)):
            yield f"{path.name} block {index}", block


def test_notebooks_and_the_book_use_the_new_paths():
    """What the project shows users imports from where things live now, not through the deprecated paths."""
    from supermask_lib import _HARNESS, _moved

    old = []
    for where, source in _code_of_notebooks_and_book():
        try:
            tree = ast.parse(source)
        except SyntaxError:  # an IPython magic; the book's snippet test runs those
            continue
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            old += [(where, name) for name in names
                    if any(name == o or name.startswith(o + ".") for o in _moved.MODULES)
                    or name in {f"supermask_lib.{harness}" for harness in _HARNESS}]
    assert not old, f"deprecated import paths: {old}"
