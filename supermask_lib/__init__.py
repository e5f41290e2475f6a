"""supermask_lib: learn binary masks over frozen random weights with Keras 3."""

from supermask_lib import data, estimators, experiment, models
from supermask_lib.estimators import ESTIMATORS, register_estimator
from supermask_lib.export import collapse_masks
from supermask_lib.layers import MaskedConv2D, MaskedDense, masked_layers
from supermask_lib.phases import PHASES, phase_of, set_phase
from supermask_lib.statistics import fraction_kept, mask_utilization

__version__ = "0.1.0"

__all__ = [
    "data",
    "estimators",
    "experiment",
    "models",
    "ESTIMATORS",
    "MaskedConv2D",
    "MaskedDense",
    "PHASES",
    "collapse_masks",
    "fraction_kept",
    "mask_utilization",
    "masked_layers",
    "phase_of",
    "register_estimator",
    "set_phase",
]
