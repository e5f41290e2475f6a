"""The datasets the library knows, and their arrays as files: an offline ``.npz`` copy or Keras's download.

``read_arrays`` reads ``<data_dir>/<name>.npz`` (the layout of Keras's
``mnist.npz``: uint8 ``x_train, y_train, x_test, y_test``) when a data
directory is given, by argument or by the ``SUPERMASK_DATA_DIR`` environment
variable; otherwise it calls ``keras.datasets.<name>.load_data()``, which
downloads. Either way the arrays are checked against the dataset's contract
and hashed. ``python -m supermask_lib.experiment.datasets DIR`` saves the
files for machines without network access.
"""

import dataclasses
import hashlib
import os
import zipfile
import zlib
from pathlib import Path

import keras
import numpy as np

from supermask_lib import checks
from supermask_lib.experiment.provenance import sha256_file


DATA_DIR_ENV = "SUPERMASK_DATA_DIR"


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """What a dataset is, independent of any file: the contract its arrays must meet, and its name in print."""

    loader: object            # keras.datasets.<name>, whose load_data() downloads
    image_shape: tuple        # (height, width, channels)
    title: str                # what the book calls it
    train_images: int         # the published training set's size (an offline copy may hold fewer)
    num_classes: int = 10


#: name -> :class:`DatasetSpec`: the datasets a configuration may name
DATASETS = {
    "mnist": DatasetSpec(keras.datasets.mnist, (28, 28, 1), "MNIST", 60_000),
    "fashion_mnist": DatasetSpec(keras.datasets.fashion_mnist, (28, 28, 1), "Fashion-MNIST", 60_000),
    "cifar10": DatasetSpec(keras.datasets.cifar10, (32, 32, 3), "CIFAR-10", 50_000),
}


PARTIAL_CIFAR10 = "the approximate, partial offline CIFAR-10 copy"


def partial_cifar10(info):
    """Whether a data record (``Dataset.info``, a run's ``data``) is the partial offline CIFAR-10 copy.

    That copy (JPEG-decoded) holds fewer than CIFAR-10's 50,000 training
    images; wherever a number comes from it, the book says so (PARTIAL_CIFAR10).
    """
    return info["name"] == "cifar10" and info["canonical_train"] < DATASETS["cifar10"].train_images


ARRAY_NAMES = ("x_train", "y_train", "x_test", "y_test")


class DataError(ValueError):
    """A data file or array that breaks the dataset's contract (named in the message)."""


def check_dataset(name, label="dataset"):
    return checks.choice(label, name, sorted(DATASETS))


def resolve_data_dir(data_dir=None):
    """The data directory: the argument, else ``$SUPERMASK_DATA_DIR``, else None (download)."""
    data_dir = data_dir if data_dir not in (None, "") else os.environ.get(DATA_DIR_ENV) or None
    return None if data_dir is None else Path(data_dir).expanduser()


def _read_npz(path):
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in ARRAY_NAMES if key not in archive.files]
            if missing:
                raise DataError(f"{path}: arrays {missing} are missing; a dataset file holds "
                                f"{list(ARRAY_NAMES)} (this one has {sorted(archive.files)}).")
            return tuple(_read_member(archive, key, path) for key in ARRAY_NAMES)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(f"{path} is not a readable .npz archive of {list(ARRAY_NAMES)} ({err}).") from err


def _read_member(archive, key, path):
    """One array of the archive; a pickled (object) array is refused by name."""
    try:
        return archive[key]
    except ValueError as err:
        raise DataError(f"{path}: {key} cannot be read ({err}); a dataset file holds plain numeric arrays "
                        "(uint8 or float pixels, integer labels), saved without pickling.") from err


def save_dataset(name, directory):
    """Download ``name`` through Keras once and write ``directory/<name>.npz`` for offline use.

    The file has the layout ``load_dataset`` reads (uint8 ``x_train, y_train,
    x_test, y_test``), so a machine without network access runs with
    ``SUPERMASK_DATA_DIR=directory``. Written atomically; an existing file
    with other contents is refused, never overwritten. Returns the path.
    """
    spec = DATASETS[check_dataset(name, "name")]
    (x_train, y_train), (x_test, y_test) = spec.loader.load_data()
    arrays = {"x_train": x_train, "y_train": y_train.reshape(-1), "x_test": x_test, "y_test": y_test.reshape(-1)}
    check_arrays(arrays, spec, f"keras.datasets.{name}.load_data()")
    path = Path(directory) / f"{name}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        if fingerprint(dict(zip(ARRAY_NAMES, _read_npz(path)))) != fingerprint(arrays):
            raise FileExistsError(f"{path} already holds other {name} arrays; move it away to save these.")
        return path
    tmp = path.with_name(f".tmp-{path.name}")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    return path


def main(argv=None):
    """``python -m supermask_lib.experiment.datasets DIR [NAME ...]``: save datasets for offline machines (default: both)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__.split(":")[0].strip("`"))
    parser.add_argument("directory", help="where <name>.npz is written (then SUPERMASK_DATA_DIR=DIRECTORY)")
    parser.add_argument("names", nargs="*", default=["mnist", "cifar10"], help=f"any of {sorted(DATASETS)}")
    args = parser.parse_args(argv)
    for name in args.names:
        print(f"{name}: {save_dataset(name, args.directory)}")


def read_arrays(name, data_dir=None):
    """Raw arrays as stored, checked against the dataset's contract, and where they came from."""
    spec = DATASETS[check_dataset(name, "name")]
    directory = resolve_data_dir(data_dir)
    if directory is None:
        (x_train, y_train), (x_test, y_test) = spec.loader.load_data()
        source = {"source": f"keras.datasets.{name}.load_data()", "path": None, "file_sha256": None}
        where = source["source"]
    else:
        path = directory / f"{name}.npz"
        if not path.is_file():
            raise FileNotFoundError(
                f"Dataset {name!r} not found: looked for {path}. Put a '{name}.npz' with "
                "uint8 arrays x_train, y_train, x_test, y_test there (the layout of "
                f"Keras's mnist.npz), point data_dir / ${DATA_DIR_ENV} at the folder "
                "that has it, or leave both unset to download through Keras."
            )
        x_train, y_train, x_test, y_test = _read_npz(path)
        source = {"source": "file", "path": str(path.resolve()), "file_sha256": sha256_file(path)}
        where = str(path)
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    check_arrays(arrays, spec, where)
    source["arrays_sha256"] = fingerprint(arrays)
    return (x_train, y_train.reshape(-1), x_test, y_test.reshape(-1)), source


def fingerprint(arrays):
    """sha256 of the arrays' bytes: the same data gives the same value wherever it was read from."""
    digest = hashlib.sha256()
    for key in ARRAY_NAMES:
        digest.update(np.ascontiguousarray(arrays[key]).tobytes())
    return digest.hexdigest()


def check_arrays(arrays, spec, where):
    """The data contract: pixel type and range, finite values, shapes, labels, lengths.

    Pixels are uint8 (or another integer type) in [0, 255], or floats in
    [0, 1]; images are ``(n, height, width[, channels])`` as the dataset
    defines them; labels are integers in ``[0, num_classes)``, one per image,
    shaped ``(n,)`` or ``(n, 1)``. Raises :class:`DataError` naming the
    source, the array and the offending value.
    """
    def bad(key, problem):
        raise DataError(f"{where}: {key} {problem}")

    height, width, channels = spec.image_shape
    allowed_shapes = [(height, width, channels)] + ([(height, width)] if channels == 1 else [])
    stacks = " or ".join(str(("n", *shape)).replace("'", "") for shape in allowed_shapes)
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        for key, value in ((f"x_{split}", x), (f"y_{split}", y)):
            if not isinstance(value, np.ndarray) or value.ndim == 0:
                bad(key, f"is {_what(value)}; {key} must be "
                    + (f"images stacked as {stacks}." if key[0] == "x" else "labels shaped (n,) or (n, 1)."))
        if x.ndim - 1 not in {len(shape) for shape in allowed_shapes}:
            bad(f"x_{split}", f"has shape {x.shape}; this dataset's images are stacked as {stacks}.")
        if len(x) == 0:
            bad(f"x_{split}", "is empty; every split needs at least one image.")
        if tuple(x.shape[1:]) not in allowed_shapes:
            bad(f"x_{split}", f"has images of shape {tuple(x.shape[1:])}; this dataset's are "
                f"{' or '.join(map(str, allowed_shapes))}.")
        if np.issubdtype(x.dtype, np.integer):
            low, high = int(x.min()), int(x.max())
            if low < 0 or high > 255:
                bad(f"x_{split}", f"({x.dtype}) has pixel values in [{low}, {high}]; integer pixels must lie in [0, 255].")
        elif np.issubdtype(x.dtype, np.floating):
            if not np.isfinite(x).all():
                bad(f"x_{split}", f"holds {int((~np.isfinite(x)).sum())} non-finite values (NaN or inf).")
            low, high = float(x.min()), float(x.max())
            if low < 0 or high > 1:
                bad(f"x_{split}", f"({x.dtype}) has pixel values in [{low:g}, {high:g}]; float pixels must lie in [0, 1] "
                    "(or store uint8 in [0, 255]).")
        else:
            bad(f"x_{split}", f"has dtype {x.dtype}; pixels must be uint8 in [0, 255] or floats in [0, 1].")
        if y.ndim == 2 and y.shape[1] == spec.num_classes and spec.num_classes > 1:
            bad(f"y_{split}", f"has shape {y.shape}: one-hot labels; store class indices "
                "(y.argmax(axis=1)) instead.")
        if y.ndim not in (1, 2) or (y.ndim == 2 and y.shape[1] != 1):
            bad(f"y_{split}", f"has shape {y.shape}; labels are one integer per image, shaped (n,) or (n, 1).")
        if len(y) != len(x):
            bad(f"y_{split}", f"holds {len(y)} labels for {len(x)} images in x_{split}; they must be equal.")
        if not np.issubdtype(y.dtype, np.integer):
            bad(f"y_{split}", f"has dtype {y.dtype}; labels must be integers (class indices).")
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= spec.num_classes:
            bad(f"y_{split}", f"has labels in [{low}, {high}]; this dataset's classes are 0..{spec.num_classes - 1}.")


def _what(value):
    """A 0-d array or another object, described for an error message."""
    if isinstance(value, np.ndarray):
        return f"a 0-d {value.dtype} array (the single value {value.item()!r:.40})"
    return f"a {type(value).__name__}"


if __name__ == "__main__":
    main()
