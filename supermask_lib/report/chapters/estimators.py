"""The estimator comparison (notebooks/estimators.ipynb): mask-phase runs that differ in estimator or score init."""

import pandas as pd

from supermask_lib.experiment import arms as arms_lib
from supermask_lib.utilization import fraction_kept


def estimator_comparison(results):
    """Mask-phase runs that differ in their estimator (or score init): a table and the numbers to glue.

    ``results`` maps a variant name (an identifier) to a ``RunResult``.
    """
    rows, numbers = {}, {}
    for name, result in results.items():
        kept = fraction_kept(result.utilization[arms_lib.MASK])
        mask, config = result.metrics[arms_lib.MASK], result.config
        rows[name] = {"estimator": config.estimator, "score init": _score_init(config.score_init),
                      "test accuracy": mask.test_accuracy, "best val accuracy": mask.best_val_accuracy,
                      "fraction of weights kept": kept, "train seconds": mask.seconds}
        numbers[f"test_acc_{name}"] = float(mask.test_accuracy)
        numbers[f"kept_{name}"] = kept
    first = next(iter(results.values()))
    numbers["estimator_train_size"] = int(first.data["train_size"])
    numbers["estimator_epochs"] = int(first.config.epochs)
    frame = pd.DataFrame(rows).T
    frame.index.name = "variant"
    return frame, numbers


def _score_init(init):
    """A score init as the table shows it: a Keras initializer config as ``Class(key=value, ...)``."""
    if isinstance(init, dict):
        return f"{init['class_name']}({', '.join(f'{k}={v}' for k, v in init.get('config', {}).items())})"
    return init
