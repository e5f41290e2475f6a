"""supermask_lib: learn binary masks over frozen random weights with Keras 3.

Modules, one idea each: ``layers`` (masked Conv2D/Dense), ``estimators``
(scores to 0/1 masks), ``trainable`` (what the next ``fit`` trains),
``utilization`` and ``export`` (what the mask did, the plain network it
leaves), ``models``, ``data``; then the experiment along a run's life:
``config`` (the hyperparameters), ``arms`` (the study's unit), ``profiles``
(parameter files), ``runs`` (a run's folder) and ``results`` (a finished run read back), ``engine``,
``callbacks`` and ``experiment`` (the three phases); ``plots``,
``chapters`` (the book's numbers, one module per chapter), ``records``
(benchmark files) and ``report`` for the book.
"""

import os

# TensorFlow turns its oneDNN kernels on by itself only on CPUs with AVX-512 VNNI/BF16 or AMX; on
# the others (most laptops, hosted CI runners) its fallback kernels train about twice as slowly.
# Ask for oneDNN before TensorFlow is first imported, unless the user has chosen; provenance
# records the setting (it changes the rounding) and run_experiment says it in its first lines.
ONEDNN_SET_BY_LIBRARY = "TF_ENABLE_ONEDNN_OPTS" not in os.environ
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from supermask_lib import data, estimators, experiment, models  # noqa: E402
from supermask_lib.config import ExperimentConfig  # noqa: E402
from supermask_lib.estimators import ESTIMATORS, register_estimator  # noqa: E402
from supermask_lib.experiment import run_experiment  # noqa: E402
from supermask_lib.export import collapse_masks  # noqa: E402
from supermask_lib.layers import MaskedConv2D, MaskedDense, masked_layers  # noqa: E402
from supermask_lib.results import load_run  # noqa: E402
from supermask_lib.utilization import fraction_kept, mask_utilization  # noqa: E402
from supermask_lib.trainable import TRAINABLE_SETS, set_trainable, trainable_set_of  # noqa: E402

__version__ = "0.2.0"

__all__ = [
    "data",
    "estimators",
    "experiment",
    "models",
    "ESTIMATORS",
    "ExperimentConfig",
    "MaskedConv2D",
    "MaskedDense",
    "TRAINABLE_SETS",
    "collapse_masks",
    "fraction_kept",
    "load_run",
    "mask_utilization",
    "masked_layers",
    "register_estimator",
    "run_experiment",
    "set_trainable",
    "trainable_set_of",
]
