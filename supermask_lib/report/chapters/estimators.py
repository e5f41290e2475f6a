"""The estimator comparison (notebooks/estimators.ipynb): mask-phase runs that differ in estimator or score init."""

import pandas as pd

from supermask_lib.experiment import arms as arms_lib
from supermask_lib.report.chapters import scales
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
    numbers["estimator_scale"] = scales.scale(list(results.values()))[0]
    if "ils" in numbers_kept(numbers):
        numbers["ils_moved"] = moved_sentence(numbers["kept_ils"])
    frame = pd.DataFrame(rows).T
    frame.index.name = "variant"
    return frame, numbers


def numbers_kept(numbers):
    """The variants whose kept fraction ``numbers`` holds."""
    return {key[len("kept_"):] for key in numbers if key.startswith("kept_")}


#: a mask that keeps at least this fraction of weights whose scores all started above the threshold has barely moved
BARELY_MOVED = 0.99


def moved_sentence(kept):
    """Whether a mask whose scores all started kept (at 1.0, above the threshold) moved, in words."""
    if kept >= BARELY_MOVED:
        return (f"its scores barely moved: its mask still keeps {kept:.3f} of the weights, where every score "
                "started above the threshold and so kept every weight")
    return (f"its scores moved: its mask keeps {kept:.3f} of the weights, where every score started above the "
            "threshold and so kept every weight")


def _score_init(init):
    """A score init as the table shows it: a Keras initializer config as ``Class(key=value, ...)``."""
    if isinstance(init, dict):
        return f"{init['class_name']}({', '.join(f'{k}={v}' for k, v in init.get('config', {}).items())})"
    return init
