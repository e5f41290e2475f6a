"""Controls read off a finished run's files, without training: here, what BatchNorm's statistics alone are worth.

The mix phase fine-tunes at a rate that barely moves the weights, yet its test accuracy can move by points:
recomputing the selected networks' BatchNorm statistics on the training images, weights and mask as they were,
says how much of that a phase that only re-estimates the statistics would have given.
"""

import keras
import numpy as np
import pandas as pd

from supermask_lib.batchnorm import recompute_statistics
from supermask_lib.experiment import arms as arms_lib
from supermask_lib.experiment.data import load_for
from supermask_lib.experiment.storage import RunFolder


def batchnorm_control(result, arms=(arms_lib.MASK, arms_lib.MIX), dataset=None, batch_size=256):
    """Per arm of the finished run ``result`` (a :class:`~supermask_lib.experiment.results.RunResult` whose
    folder keeps its checkpoints): the test accuracy of its selected checkpoint as stored and after
    :func:`~supermask_lib.batchnorm.recompute_statistics` on the run's training images (unaugmented).

    ``dataset``: the run's ``Dataset`` (``supermask_lib.experiment.data``; loaded from its configuration if
    None). Rows: ``as trained``, ``statistics recomputed`` and their ``change``.
    """
    folder = RunFolder(result.run_dir)
    missing = [arm for arm in arms if not folder.checkpoint(arm, "best").exists()]
    if missing:
        raise FileNotFoundError(f"{folder.path} keeps no selected checkpoint of {missing}: the control needs the run "
                                "folder itself (stored results keep only the small files)")
    dataset = dataset if dataset is not None else load_for(result.config)
    rows = {}
    for arm in arms:
        model = keras.saving.load_model(folder.checkpoint(arm, "best"), compile=False)
        trained = _accuracy(model, dataset, batch_size)
        recompute_statistics(model, dataset.x_train, batch_size=batch_size)
        rows[arm] = {"as trained": trained, "statistics recomputed": _accuracy(model, dataset, batch_size)}
    table = pd.DataFrame(rows).T
    return table.assign(change=table["statistics recomputed"] - table["as trained"])


def _accuracy(model, dataset, batch_size):
    scores = model.predict(dataset.x_test, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(scores, axis=-1) == dataset.y_test))
