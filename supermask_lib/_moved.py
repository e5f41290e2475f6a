"""Old import paths of the flat 0.2 package, kept working for one version with a DeprecationWarning.

``import supermask_lib.config`` finds ``supermask_lib.experiment.config`` through a finder on
``sys.meta_path``: the same module object, so its classes and registries are not copied.
"""

import importlib
import importlib.abc
import importlib.util
import os
import sys
import warnings

REMOVED_IN = "0.4"

MODULES = {  # old module -> its new home
    "supermask_lib.arms": "supermask_lib.experiment.arms",
    "supermask_lib.batches": "supermask_lib.experiment.batches",
    "supermask_lib.callbacks": "supermask_lib.experiment.callbacks",
    "supermask_lib.config": "supermask_lib.experiment.config",
    "supermask_lib.data": "supermask_lib.experiment.data",
    "supermask_lib.engine": "supermask_lib.experiment.engine",
    "supermask_lib.profiles": "supermask_lib.experiment.profiles",
    "supermask_lib.provenance": "supermask_lib.experiment.provenance",
    "supermask_lib.results": "supermask_lib.experiment.results",
    "supermask_lib.runs": "supermask_lib.experiment.runs",
    "supermask_lib.yamlfiles": "supermask_lib.experiment.yamlfiles",
    "supermask_lib.literature": "supermask_lib.study.literature",
    "supermask_lib.tuning": "supermask_lib.study.tuning",
    "supermask_lib.scale": "supermask_lib.study.scale",
    "supermask_lib.plots": "supermask_lib.report.plots",
    "supermask_lib.records": "supermask_lib.report.records",
    "supermask_lib.chapters": "supermask_lib.report.chapters",
}

# Names that left a module which kept its path (``runs``, ``data``): forwarded by the module's ``__getattr__``.
TO_STORAGE = ("RunFileError", "RunLockedError", "RunFolder", "TEMP_PREFIX", "LEGACY_TEMP", "RUN_FILES",
              "atomic_write_text", "atomic_save", "write_history", "save_training_state", "load_training_state",
              "exclusive")
TO_DATASETS = ("DATA_DIR_ENV", "DatasetSpec", "PARTIAL_CIFAR10", "partial_cifar10", "ARRAY_NAMES", "DataError",
               "resolve_data_dir", "save_dataset", "main", "fingerprint", "check_arrays")

_HERE = os.path.dirname(os.path.abspath(__file__))


def _warn(old, new):
    """Warn at the user's line: frames of this package and of the import system are skipped."""
    frame, level = sys._getframe(1), 2  # warnings' skip_file_prefixes needs Python 3.12
    while frame is not None and frame.f_code.co_filename.startswith((_HERE, "<frozen importlib")):
        frame, level = frame.f_back, level + 1
    warnings.warn(f"{old} moved to {new}; the old path goes in supermask_lib {REMOVED_IN}",
                  DeprecationWarning, stacklevel=level)


class MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers an old module name with the module at its new path."""

    def find_spec(self, fullname, path=None, target=None):
        old = next((o for o in MODULES if fullname == o or fullname.startswith(o + ".")), None)
        if old is None:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        return None  # a placeholder; exec_module puts the real module in its place

    def exec_module(self, module):
        old = next(o for o in MODULES if module.__name__ == o or module.__name__.startswith(o + "."))
        new = MODULES[old] + module.__name__[len(old):]
        _warn(module.__name__, new)
        sys.modules[module.__name__] = importlib.import_module(new)  # the import system returns this one


def install():
    if not any(isinstance(finder, MovedFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, MovedFinder())  # before the path finder, which would load a second copy


def forward(package, name, module, names):
    """A package's ``__getattr__`` for the names its old same-named module had."""
    if name not in names:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    _warn(f"{package}.{name}", f"{module}.{name}")
    value = getattr(importlib.import_module(module), name)
    setattr(sys.modules[package], name, value)  # warned once; later lookups do not come here
    return value
