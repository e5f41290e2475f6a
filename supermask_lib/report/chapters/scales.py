"""The scale a number or figure stands on, named from its runs' records: network, training images, seeds, engine.

Every page states this beside what it cites, so that a reader never has to guess whether a number comes from the
study (WRN-10-1 on 4,000 images), the quick profile, the width axis or the GPU run. The words come from what the
runs recorded (their configuration record: its ``config``, ``data`` and ``environment``), never from a profile's name.
"""

import dataclasses
import json
import re
from pathlib import Path

from supermask_lib.experiment.datasets import DATASETS
from supermask_lib.experiment.storage import RunFolder

#: backend as recorded (``keras.backend.backend()``) -> its name in print
BACKEND_TITLES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch", "numpy": "NumPy"}


def network_title(model):
    """``wrn-10-1`` -> ``WRN-10-1``, ``fc`` -> ``LeNet 300-100``, ``conv4`` -> ``Conv-4``."""
    model = str(model)
    if re.fullmatch(r"wrn-\d+-\d+", model):
        return model.upper()
    if model == "fc":
        return "LeNet 300-100"
    match = re.fullmatch(r"conv(\d+)", model)
    if match:
        return f"Conv-{match.group(1)}"
    return model


def device_class(device):
    """``CPU (x86_64, 2 cores)`` -> ``CPU``; any accelerator (``NVIDIA H200``) -> ``GPU``."""
    if not isinstance(device, str) or not device:
        raise ValueError(f"device must be the recorded device text (e.g. 'CPU (x86_64, 2 cores)'), got {device!r}")
    return "CPU" if device.startswith("CPU") else "GPU"


def _parts_of_one(run):
    """(config, data, environment) dicts of a stored configuration record (a dict), a run folder, or a loaded run."""
    if isinstance(run, (str, Path)):
        run = json.loads(RunFolder(Path(run)).config.read_text())
    if isinstance(run, dict):
        missing = [k for k in ("config", "data", "environment") if k not in run]
        if missing:
            raise ValueError(f"run must be a stored configuration record (with config, data, environment); missing {missing}")
        return run["config"], run["data"], run["environment"]
    config = run.config
    config = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    return config, dict(run.data), dict(run.environment)


def _one(values, field):
    """The one value every run shares in ``field``; runs at different scales are not one scale."""
    distinct = sorted(set(values), key=str)
    if len(distinct) != 1:
        raise ValueError(f"runs differ in {field} ({', '.join(map(str, distinct))}): name each scale on its own")
    return distinct[0]


def scale(runs, *, profile=None):
    """The scale of the numbers one set of runs (one run per seed) gives: ``(phrase, parts)``.

    ``phrase`` is short glue, ``WRN-10-1, 4,000 CIFAR-10 training images, 5 seeds, TensorFlow on CPU``; ``parts``
    holds each piece (``network``, ``dataset``, ``training_images``, ``seeds``, ``backend``, ``device_class``,
    ``engine``, ``profile``). ``runs`` is a stored configuration record (a dict), a run folder, a loaded run, or a list of
    them; the training images are those the run saw (``data.train_size``: an offline copy may hold fewer than the
    published set), and ``profile`` names the study or profile the runs belong to.
    """
    runs = [runs] if isinstance(runs, (dict, str, Path)) or hasattr(runs, "config") else list(runs)
    if not runs:
        raise ValueError("runs must hold at least one run, got none")
    triples = [_parts_of_one(run) for run in runs]
    model = _one([c["model"] for c, _, _ in triples], "network")
    dataset = _one([c["dataset"] for c, _, _ in triples], "dataset")
    images = _one([d.get("train_size") or c.get("train_size") or DATASETS[dataset].train_images
                   for c, d, _ in triples], "training images")
    backend = _one([e["backend"] for _, _, e in triples], "backend")
    device = _one([device_class(e["device"]) for _, _, e in triples], "device class")
    seeds = len({c["seed"] for c, _, _ in triples})
    title = DATASETS[dataset].title if dataset in DATASETS else dataset
    engine = f"{BACKEND_TITLES.get(backend, backend)} on {device}"
    parts = {"network": network_title(model), "dataset": title, "training_images": int(images), "seeds": seeds,
             "backend": BACKEND_TITLES.get(backend, backend), "device_class": device, "engine": engine,
             "profile": profile}
    phrase = (f"{parts['network']}, {int(images):,} {title} training images, "
              f"{seeds} seed{'' if seeds == 1 else 's'}, {engine}")
    return phrase, parts
