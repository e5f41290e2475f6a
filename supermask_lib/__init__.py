"""supermask_lib: learn binary masks over frozen random weights with Keras 3.

Modules, one idea each: ``layers`` (masked Conv2D/Dense), ``estimators``
(scores to 0/1 masks), ``trainable`` (what the next ``fit`` trains),
``utilization`` and ``export`` (what the mask did, the plain network it
leaves), ``models``, ``data``; then the experiment along a run's life:
``config`` (the hyperparameters), ``runs`` (a run's folder), ``engine``,
``callbacks`` and ``experiment`` (the three phases); ``plots``,
``chapters`` (the book's numbers, one module per chapter), ``records``
(benchmark files) and ``report`` for the book.
"""

from supermask_lib import data, estimators, experiment, models
from supermask_lib.config import ExperimentConfig
from supermask_lib.estimators import ESTIMATORS, register_estimator
from supermask_lib.experiment import run_experiment
from supermask_lib.export import collapse_masks
from supermask_lib.layers import MaskedConv2D, MaskedDense, masked_layers
from supermask_lib.runs import load_run
from supermask_lib.utilization import fraction_kept, mask_utilization
from supermask_lib.trainable import TRAINABLE_SETS, set_trainable, trainable_set_of

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
