"""The experiment harness: one run of the study's arms, from its configuration to its folder on disk.

Owns the configuration, the arm table, data and batches, the engine, callbacks, the runner and the run folder.
May import the core (``supermask_lib``'s top-level modules); never ``supermask_lib.study`` or ``.report``.

A configuration is checked when it is made, before any data is read (``ExperimentConfig``'s fields are
validated by the modules that own them):

>>> from supermask_lib.experiment import ExperimentConfig
>>> ExperimentConfig(dataset="mnist", model="fc", epochs=0)
Traceback (most recent call last):
ValueError: ExperimentConfig.epochs=0 is not allowed: a positive integer.
"""

import os
import sys

# TensorFlow turns its oneDNN kernels on by itself only on CPUs with AVX-512 VNNI/BF16 or AMX; on the
# others (most laptops, hosted CI runners) its fallback kernels train about twice as slowly. The harness
# asks for oneDNN where it starts a backend, before TensorFlow is first imported, unless the user chose;
# SUPERMASK_ONEDNN_SET_BY carries who chose into child processes (a notebook's kernel), so provenance
# names the library there too. A user who imports TensorFlow first keeps TensorFlow's default.
if "TF_ENABLE_ONEDNN_OPTS" not in os.environ and "tensorflow" not in sys.modules:
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"
    os.environ["SUPERMASK_ONEDNN_SET_BY"] = "supermask_lib"

from supermask_lib.experiment.config import ExperimentConfig  # noqa: E402
from supermask_lib.experiment.results import RunResult, load_run  # noqa: E402
from supermask_lib.experiment.runner import check_affordable, run_experiment  # noqa: E402

__all__ = ["ExperimentConfig", "RunResult", "check_affordable", "load_run", "run_experiment"]


def __getattr__(name):
    """Names of the 0.2 ``supermask_lib.experiment`` module, now ``.runner``'s and ``.programs``': kept one version."""
    from supermask_lib import _moved

    if name == "Program":
        return _moved.forward(__name__, name, "supermask_lib.experiment.programs", ("Program",))
    return _moved.forward(__name__, name, "supermask_lib.experiment.runner", ("Runner",))
