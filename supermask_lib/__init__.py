"""supermask_lib: learn binary masks over frozen random weights with Keras 3.

The core, one idea a module: ``layers`` (masked Conv2D/Dense), ``estimators`` (scores to 0/1 masks),
``initializers``, ``trainable`` (what the next ``fit`` trains), ``utilization`` and ``export`` (what
the mask did, the plain network it leaves), ``batchnorm`` (statistics recomputed, a control), ``models``,
``recipes``; ``checks`` and ``devices`` serve them.
The core imports Keras and nothing of the packages above it: ``supermask_lib.experiment`` (one run of
the study's arms), ``supermask_lib.study`` (seeds, scale axes, tuning) and ``supermask_lib.report`` (the book).

``import supermask_lib`` loads none of them, not even Keras: each name below loads its module on first use.
"""

import importlib

from supermask_lib import _moved

__version__ = "0.3.0"

_CORE = {  # public name -> the module that owns it
    "MaskedConv2D": "layers", "MaskedDense": "layers", "masked_layers": "layers",
    "ESTIMATORS": "estimators", "register_estimator": "estimators",
    "TRAINABLE_SETS": "trainable", "set_trainable": "trainable", "trainable_set_of": "trainable",
    "fraction_kept": "utilization", "mask_utilization": "utilization",
    "collapse_masks": "export",
    "recompute_statistics": "batchnorm",
}
_MODULES = ("batchnorm", "checks", "devices", "estimators", "export", "initializers", "layers", "models", "recipes",
            "trainable", "utilization", "experiment", "study", "report")
_HARNESS = {  # names 0.2 exported here, now the harness's: kept for one version
    "ExperimentConfig": "supermask_lib.experiment",
    "run_experiment": "supermask_lib.experiment",
    "load_run": "supermask_lib.experiment",
}

__all__ = sorted(_CORE) + ["estimators", "models"]

_moved.install()


def __getattr__(name):
    if name in _CORE:
        value = getattr(importlib.import_module(f"supermask_lib.{_CORE[name]}"), name)
    elif name in _MODULES or f"supermask_lib.{name}" in _moved.MODULES:
        value = importlib.import_module(f"supermask_lib.{name}")  # an old path warns as it loads
    elif name in _HARNESS:
        _moved._warn(f"supermask_lib.{name}", f"{_HARNESS[name]}.{name}")
        value = getattr(importlib.import_module(_HARNESS[name]), name)
    else:
        raise AttributeError(f"module 'supermask_lib' has no attribute {name!r}")
    globals()[name] = value  # loaded once; later lookups do not come here
    return value


def __dir__():
    return sorted(set(globals()) | set(_CORE) | set(_MODULES))
