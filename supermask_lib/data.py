"""Datasets: offline ``.npz`` files or Keras's download, scaled, split and augmented.

``load_dataset`` reads ``<data_dir>/<name>.npz`` (the layout of Keras's
``mnist.npz``: uint8 ``x_train, y_train, x_test, y_test``) when a data
directory is given, by argument or by the ``SUPERMASK_DATA_DIR`` environment
variable; otherwise it calls ``keras.datasets.<name>.load_data()``, which
downloads. Every split is seeded and stratified, and the returned
``Dataset.info`` records where the data came from, its hash and the sizes
used, so a run's provenance names its data exactly.
"""

import dataclasses
import hashlib
import numbers
import os
from pathlib import Path

import keras
import numpy as np

DATA_DIR_ENV = "SUPERMASK_DATA_DIR"
DATASETS = {
    "mnist": keras.datasets.mnist,
    "fashion_mnist": keras.datasets.fashion_mnist,
    "cifar10": keras.datasets.cifar10,
}
VALIDATION_MODES = ("holdout", "test")


@dataclasses.dataclass
class Dataset:
    """Arrays scaled to [-1, 1] (float32, channels-last) and integer labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    info: dict

    @property
    def input_shape(self):
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def num_classes(self):
        return int(max(self.y_train.max(), self.y_test.max()) + 1)


def sha256_file(path, chunk=1 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def resolve_data_dir(data_dir=None):
    """The data directory: the argument, else ``$SUPERMASK_DATA_DIR``, else None (download)."""
    data_dir = data_dir if data_dir not in (None, "") else os.environ.get(DATA_DIR_ENV) or None
    return None if data_dir is None else Path(data_dir).expanduser()


def read_arrays(name, data_dir=None):
    """Raw uint8 arrays and a description of their source."""
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset name={name!r}; allowed: {sorted(DATASETS)}.")
    directory = resolve_data_dir(data_dir)
    if directory is None:
        (x_train, y_train), (x_test, y_test) = DATASETS[name].load_data()
        source = {"source": f"keras.datasets.{name}.load_data()", "path": None, "file_sha256": None}
    else:
        path = directory / f"{name}.npz"
        if not path.is_file():
            raise FileNotFoundError(
                f"Dataset {name!r} not found: looked for {path}. Put a '{name}.npz' with "
                "uint8 arrays x_train, y_train, x_test, y_test there (the layout of "
                f"Keras's mnist.npz), point data_dir / ${DATA_DIR_ENV} at the folder "
                "that has it, or leave both unset to download through Keras."
            )
        with np.load(path) as arrays:
            x_train, y_train = arrays["x_train"], arrays["y_train"]
            x_test, y_test = arrays["x_test"], arrays["y_test"]
        source = {"source": "file", "path": str(path.resolve()), "file_sha256": sha256_file(path)}
    digest = hashlib.sha256()
    for array in (x_train, y_train, x_test, y_test):
        digest.update(np.ascontiguousarray(array).tobytes())
    source["arrays_sha256"] = digest.hexdigest()
    return (x_train, y_train.reshape(-1), x_test, y_test.reshape(-1)), source


def scale_pixels(x):
    """uint8 [0, 255] to float32 [-1, 1], with a channel axis for grey images.

    The study meant [-1, 1] for every dataset; its MNIST code skipped the
    division by 255 (inputs from -1 to 509). This is the intended scaling.
    """
    x = x.astype("float32") / 127.5 - 1.0
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


def _count(value, total, name):
    """An int count, a float fraction of ``total``, or None for all."""
    if value is None:
        return total
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}={value!r} is not allowed: give a count, a fraction in (0, 1] or None.")
    if isinstance(value, numbers.Integral):
        if not 0 < value <= total:
            raise ValueError(f"{name}={value!r} is not allowed: give a count in 1..{total}.")
        return int(value)
    if not 0 < value <= 1:
        raise ValueError(f"{name}={value!r} is not allowed: a fraction must lie in (0, 1].")
    return max(1, int(round(value * total)))


def load_dataset(name, data_dir=None, *, train_size=None, val_size=0.1, test_size=None,
                 validation="holdout", seed=0):
    """Load ``name`` scaled to [-1, 1] with a seeded, stratified split.

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
    """
    if validation not in VALIDATION_MODES:
        raise ValueError(f"Unknown validation={validation!r}; allowed: {list(VALIDATION_MODES)}.")
    (x_train, y_train, x_test, y_test), source = read_arrays(name, data_dir)
    rng = np.random.default_rng(seed)
    n_val = 0
    if validation == "holdout":
        n_val = _count(val_size, len(y_train) - 1, "val_size")
        val_idx = stratified_indices(y_train, n_val, rng)
        rest = np.setdiff1d(np.arange(len(y_train)), val_idx)
    else:
        rest = np.arange(len(y_train))
    n_train = _count(train_size, len(rest), "train_size")
    train_idx = rest[stratified_indices(y_train[rest], n_train, rng)]
    n_test = _count(test_size, len(y_test), "test_size")
    test_idx = stratified_indices(y_test, n_test, rng) if n_test < len(y_test) else np.arange(len(y_test))

    x_test_s, y_test_s = scale_pixels(x_test[test_idx]), y_test[test_idx].astype("int32")
    if validation == "holdout":
        x_val, y_val = scale_pixels(x_train[val_idx]), y_train[val_idx].astype("int32")
    else:
        x_val, y_val = x_test_s, y_test_s
    info = {
        "name": name,
        **source,
        "canonical_train": int(len(y_train)),
        "canonical_test": int(len(y_test)),
        "train_size": int(n_train),
        "val_size": int(len(y_val)),
        "test_size": int(n_test),
        "validation": validation,
        "scaling": "x / 127.5 - 1 (range [-1, 1]; the original MNIST code skipped /255)",
        "split_seed": int(seed),
    }
    return Dataset(
        scale_pixels(x_train[train_idx]), y_train[train_idx].astype("int32"),
        x_val, y_val, x_test_s, y_test_s, info,
    )


def describe(dataset):
    """One line for logs: how many images of each split were used."""
    info = dataset.info
    return (
        f"{info['name']}: {info['train_size']} train / {info['val_size']} val "
        f"({info['validation']}) / {info['test_size']} test images "
        f"(canonical train {info['canonical_train']}), from {info['path'] or info['source']}"
    )


def make_augmentation(flip=True, rotation=20.0, shift=0.2, seed=None):
    """The study's augmentation as Keras preprocessing layers, each switchable.

    Args:
        flip: random horizontal flips.
        rotation: maximum rotation in degrees (0 switches it off).
        shift: maximum shift as a fraction of height and width (0 switches it off).
    Returns a ``keras.Sequential`` or None when everything is off.
    """
    steps = []
    if flip:
        steps.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if rotation:
        steps.append(keras.layers.RandomRotation(rotation / 360.0, fill_mode="nearest", seed=seed))
    if shift:
        steps.append(keras.layers.RandomTranslation(shift, shift, fill_mode="nearest", seed=seed))
    return keras.Sequential(steps, name="augmentation") if steps else None


class EpochBatches(keras.utils.PyDataset):
    """Training batches whose order and augmentation depend only on (seed, epoch, batch).

    A resumed run therefore sees exactly the batches an uninterrupted run
    would have seen. ``epoch`` is set by :class:`SetEpoch` at each epoch start.
    """

    def __init__(self, x, y, batch_size, seed, augmentation=None):
        super().__init__(workers=1, use_multiprocessing=False)
        self.x, self.y = x, y
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.augmentation = augmentation
        self.epoch = 0
        if augmentation is not None:
            augmentation.build((None,) + x.shape[1:])

    def __len__(self):
        return int(np.ceil(len(self.y) / self.batch_size))

    def __getitem__(self, index):
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.y))
        batch = order[index * self.batch_size:(index + 1) * self.batch_size]
        x = self.x[batch]
        if self.augmentation is not None:
            # The augmentation's only state is its seed generators: set them
            # from (seed, epoch, batch) so the draw does not depend on history.
            for k, state in enumerate(self.augmentation.variables):
                state.assign(np.array([self.seed * 100_003 + self.epoch, index * 97 + k], dtype="uint32"))
            x = keras.ops.convert_to_numpy(self.augmentation(x, training=True))
        return x, self.y[batch]


class SetEpoch(keras.callbacks.Callback):
    """Tells an :class:`EpochBatches` which epoch is starting."""

    def __init__(self, batches):
        super().__init__()
        self.batches = batches

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.epoch = epoch
