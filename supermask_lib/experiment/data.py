"""Datasets for a run: loaded (:mod:`~supermask_lib.experiment.datasets`), scaled, split, described.

``load_dataset`` reads a dataset's arrays (an offline ``.npz`` file or Keras's
download), scales the pixels, and draws seeded, stratified splits; the returned
``Dataset.info`` records where the data came from, its hash and the sizes used,
so a run's provenance names its data exactly.
"""

import dataclasses
import functools

import numpy as np

from supermask_lib import checks
from supermask_lib.experiment.datasets import DATASETS, check_dataset, read_arrays


VALIDATION_MODES = ("holdout", "test")


SEED_MAX = 2**32 - 1  # NumPy's and Keras's global seeds are 32-bit


@dataclasses.dataclass
class Dataset:
    """Images as float32, channels-last, in the run's pixel range ([-1, 1] or [0, 1]), and integer labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    info: dict

    @property
    def input_shape(self):
        return tuple(int(d) for d in self.x_train.shape[1:])


def check_validation(mode, label="validation"):
    return checks.choice(label, mode, VALIDATION_MODES)


def check_seed(seed, label="seed"):
    return checks.integer(label, seed, 0, SEED_MAX)


def check_size(size, label, allow_none=True):
    """A split size: a count >= 1, a fraction in (0, 1], or None (all) where allowed."""
    size = checks.plain(size)
    if size is None and allow_none:
        return None
    if isinstance(size, float) and size > 1 and size.is_integer():
        size = int(size)  # 1e3 (YAML, --set) is the count 1000
    if checks.is_number(size) and size > 0 and (isinstance(size, int) or size <= 1):
        return size if isinstance(size, int) else float(size)
    checks.fail(label, size, "a count >= 1, a fraction in (0, 1]" + (" or None" if allow_none else ""))


# "signed": [-1, 1], the study's; "unit": [0, 1] (x / 255), Zhou et al.'s and most of the literature's.
PIXEL_RANGES = {"signed": (-1.0, 1.0), "unit": (0.0, 1.0)}


def check_pixel_range(pixel_range, label="pixel_range"):
    return checks.choice(label, pixel_range, list(PIXEL_RANGES),
                         allowed="'signed' ([-1, 1], the study's) or 'unit' ([0, 1], x / 255)")


def scale_pixels(x, pixel_range="signed"):
    """Pixels to float32 in ``PIXEL_RANGES[pixel_range]``, with a channel axis for grey images.

    Integer pixels are read as [0, 255], float pixels as [0, 1]. The study
    meant [-1, 1] for every dataset (``x / 127.5 - 1``); its MNIST code
    skipped the division by 255 (inputs from -1 to 509). That is the
    default; ``"unit"`` is ``x / 255``, where black is 0, as in the
    supermask papers.
    """
    floating = np.issubdtype(x.dtype, np.floating)
    if check_pixel_range(pixel_range) == "unit":
        x = x.astype("float32") if floating else x.astype("float32") / 255.0
    else:  # the study's exact arithmetic (its stored runs are recomputed from it)
        x = x.astype("float32") * 2.0 - 1.0 if floating else x.astype("float32") / 127.5 - 1.0
    return x[..., None] if x.ndim == 3 else x


def stratified_indices(labels, size, rng):
    """``size`` indices with class proportions as in ``labels`` (largest remainder)."""
    classes, counts = np.unique(labels, return_counts=True)
    exact = size * counts / counts.sum()
    quotas = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - quotas), kind="stable")[: size - quotas.sum()]:
        quotas[i] += 1
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:q] for c, q in zip(classes, quotas)]
    return rng.permutation(np.concatenate(chosen))


def _count(value, total, name, context=""):
    """An int count, a float fraction of ``total``, or None for all."""
    value = check_size(value, name)
    if value is None:
        return total
    if isinstance(value, int):
        if value > total:
            checks.fail(name, value, f"a count in 1..{total}{context}")
        return value
    return max(1, int(round(value * total)))


def load_dataset(name, data_dir=None, *, train_size=None, val_size=0.1, test_size=None,
                 validation="holdout", seed=0, pixel_range="signed"):
    """Load ``name`` scaled to [-1, 1] (or [0, 1], ``pixel_range="unit"``) with a seeded, stratified split.

    Args:
        name: ``"mnist"``, ``"cifar10"`` or ``"fashion_mnist"``.
        data_dir: folder with ``<name>.npz``; default ``$SUPERMASK_DATA_DIR``;
            neither set downloads through Keras.
        train_size: training images used (count, fraction or None for all
            that remain after the hold-out). Smaller than canonical is fine.
        val_size: hold-out size taken from the training data (count or
            fraction) when ``validation="holdout"``; ignored for ``"test"``.
        test_size: test images used (count, fraction or None for all).
        validation: ``"holdout"`` (default) or ``"test"``, the study's choice
            of selecting the best epoch on the test set itself.
        seed: seed of every split.
        pixel_range: ``"signed"`` ([-1, 1], the study's) or ``"unit"`` ([0, 1]).
    """
    check_dataset(name, "name")
    scale = functools.partial(scale_pixels, pixel_range=check_pixel_range(pixel_range))
    validation = check_validation(validation)
    seed = check_seed(seed)
    for label, size in (("train_size", train_size), ("val_size", val_size), ("test_size", test_size)):
        check_size(size, label, allow_none=label != "val_size")
    (x_train, y_train, x_test, y_test), source = read_arrays(name, data_dir)
    rng = np.random.default_rng(seed)
    context = ""
    if validation == "holdout":
        n_val = _count(val_size, len(y_train) - 1, "val_size",
                       f" (the file holds {len(y_train)} training images; at least one must remain for training)")
        val_idx = stratified_indices(y_train, n_val, rng)
        rest = np.setdiff1d(np.arange(len(y_train)), val_idx)
        context = f" (the {len(rest)} training images left after holding out val_size={val_size!r})"
    else:
        rest = np.arange(len(y_train))
    n_train = _count(train_size, len(rest), "train_size", context)
    train_idx = rest[stratified_indices(y_train[rest], n_train, rng)]
    n_test = _count(test_size, len(y_test), "test_size", f" (the file holds {len(y_test)} test images)")
    test_idx = stratified_indices(y_test, n_test, rng) if n_test < len(y_test) else np.arange(len(y_test))

    x_test_s, y_test_s = scale(x_test[test_idx]), y_test[test_idx].astype("int32")
    if validation == "holdout":
        x_val, y_val = scale(x_train[val_idx]), y_train[val_idx].astype("int32")
    else:
        x_val, y_val = x_test_s, y_test_s
    info = {"name": name, **source, "canonical_train": int(len(y_train)), "canonical_test": int(len(y_test)),
            "train_size": int(n_train), "val_size": int(len(y_val)), "test_size": int(n_test),
            "validation": validation, "scaling": _scaling_note(x_train.dtype, pixel_range), "split_seed": int(seed)}
    return Dataset(
        scale(x_train[train_idx]), y_train[train_idx].astype("int32"),
        x_val, y_val, x_test_s, y_test_s, DATASETS[name].num_classes, info,
    )


def _scaling_note(dtype, pixel_range):
    integer = np.issubdtype(dtype, np.integer)
    if pixel_range == "unit":
        return "x / 255 (range [0, 1])" if integer else "float pixels in [0, 1], unchanged"
    return ("x / 127.5 - 1 (range [-1, 1]; the original MNIST code skipped /255)" if integer
            else "2x - 1 (float pixels in [0, 1] to [-1, 1])")


def load_for(config):
    """The dataset an ``ExperimentConfig`` trains and tests on, split as its run splits it."""
    return load_dataset(config.dataset, config.data_dir, train_size=config.train_size, val_size=config.val_size,
                        test_size=config.test_size, validation=config.validation, seed=config.seed,
                        pixel_range=config.pixel_range)


def describe(dataset):
    """One line for logs: how many images of each split were used."""
    info = dataset.info
    return (
        f"{info['name']}: {info['train_size']} train / {info['val_size']} val "
        f"({info['validation']}) / {info['test_size']} test images "
        f"(the file holds {info['canonical_train']:,} training images), from {info['path'] or info['source']}"
    )


def __getattr__(name):
    """The registry and file readers this module held in 0.2 are :mod:`.datasets`'s: kept for one version."""
    from supermask_lib import _moved

    return _moved.forward(__name__, name, "supermask_lib.experiment.datasets", _moved.TO_DATASETS)
