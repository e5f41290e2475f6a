"""The compute of each profile against the post's (the cost appendix, notebooks/cost.ipynb), and the training
time each profile took on each device.

Compute is counted as the forward pass's multiply-adds of the convolutions and dense layers per image
(:func:`supermask_lib.models.forward_macs`, counted on the built Keras network) x training images x epochs,
summed over arms. The backward pass costs about the same multiple of the forward pass on both sides, so it
cancels in a ratio. The post's experiment is the full profile (``params/full-<dataset>.yaml``: WRN-28-8,
30 epochs per phase) on each dataset's published training set, one seed.
"""

import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd

from supermask_lib import models
from supermask_lib.experiment import arms as arms_lib
from supermask_lib.experiment.datasets import DATASETS
from supermask_lib.experiment.profiles import Profile
from supermask_lib.experiment.storage import RunFolder
from supermask_lib.report import records
from supermask_lib.study import seeds
from supermask_lib.report.chapters.values import about, glue_key, plain

# The profiles whose compute the appendix sets against the post's: (profile, dataset) in the book's order.
PROFILES = (("quick", "mnist"), ("quick", "cifar10"), ("study", "mnist"), ("study", "cifar10"),
            ("scale", "cifar10"), ("tuned", "mnist"), ("tuned", "cifar10"))


@functools.lru_cache(maxsize=None)
def network_macs(model, dataset):
    """Forward multiply-adds per image of ``model`` built for ``dataset``'s images (plain: the mask adds none)."""
    spec = DATASETS[dataset]
    return models.forward_macs(models.get_model(model, input_shape=spec.image_shape,
                                                num_classes=spec.num_classes, masked=False))


def training_macs(forward_macs, images, epochs):
    """Forward multiply-adds of training on ``images`` for ``epochs`` (each image once an epoch)."""
    for name, value in (("forward_macs", forward_macs), ("images", images), ("epochs", epochs)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name}={value!r} is not allowed: give a non-negative integer.")
    return int(forward_macs) * int(images) * int(epochs)


def train_images(config):
    """The training images a configuration trains on: ``train_size``, or all of the published training set
    when it validates on the test set (the full profile, as the post did)."""
    if config.train_size is not None:
        return int(config.train_size)
    if config.validation == "test":
        return DATASETS[config.dataset].train_images
    raise ValueError(f"train_size=None with validation={config.validation!r} is not allowed here: the held-out "
                     "split's size depends on the data file; give train_size, or validation='test'.")


def epochs(config, post_phases=False):
    """Epochs over every arm of one seed (``post_phases``: only the post's three phases, mask, weights, mix)."""
    return sum(arm.epoch_count(config) for arm in config.arm_records()
               if not post_phases or arm.name in arms_lib.POST_ARMS)


def compute_row(config, images, post_config, post_images, macs=network_macs):
    """One seed of ``config`` on ``images`` against ``post_config`` on ``post_images``: the counts and both ratios.

    ``macs(model, dataset)`` counts a network's forward multiply-adds (the built Keras model's by default).
    """
    ours, post = macs(config.model, config.dataset), macs(post_config.model, post_config.dataset)
    post_total = training_macs(post, post_images, epochs(post_config, post_phases=True))
    phases = training_macs(ours, images, epochs(config, post_phases=True))
    every_arm = training_macs(ours, images, epochs(config))
    return {"network": config.model, "forward multiply-adds per image": ours, "training images": images,
            "epochs, the post's phases": epochs(config, post_phases=True), "epochs, every arm": epochs(config),
            "network ratio": post / ours, "images ratio": post_images / images,
            "post / ours, the post's phases": post_total / phases, "post / ours, every arm": post_total / every_arm}


def ratio_to_post(config, images, params_dir, macs=network_macs):
    """The post's three phases' compute over one seed's of ``config`` on ``images`` (the post's phases only):
    the number a sentence on "the post's scale" names (``answer.open_question``, the scale chapter)."""
    return compute_row(config, images, *_post(params_dir, config.dataset), macs)["post / ours, the post's phases"]


def axis_ratio_phrase(stored, params_dir, macs=network_macs):
    """How much less an axis's cells train than the post, per seed: "about 6,700× (wrn-10-1) to 98× (wrn-10-8)
    less compute than the post's three phases" (``stored``: ``{width: {seed: RunResult}}``; the scale chapter's
    lead)."""
    ratios = {}
    for results in stored.values():
        first = next(iter(results.values()))
        ratios[first.config.model] = ratio_to_post(first.config, first.data["train_size"], params_dir, macs)
    if not ratios:
        return "less compute than the post (no cell stored yet to count it)"
    said = [f"{about(ratio)}× ({model})" for model, ratio in ratios.items()]
    return f"about {said[0]}{f' to {said[-1]}' if len(said) > 1 else ''} less compute than the post's three phases"


def _post(params_dir, dataset):
    config = Profile.load(params_dir, "full", dataset).config
    return config, train_images(config)


def compute_table(params_dir, gpu_dir, macs=network_macs):
    """The appendix's compute table (one seed of each profile against the post's experiment) and its glue values.

    Rows are (profile, dataset, network); the stored full-profile GPU runs under ``gpu_dir`` (``full-*`` folders
    with a ``config.json``) come in as ``full (GPU run)`` on the training images they had.
    """
    rows, numbers = [], {}
    for profile, dataset in PROFILES:
        post_config, post_images = _post(params_dir, dataset)
        for variant, config in Profile.load(params_dir, profile, dataset).configs.items():
            row = compute_row(config, train_images(config), post_config, post_images, macs)
            rows.append({"profile": profile, "dataset": dataset, **row})
            key = f"{profile}_{dataset}" + ("" if variant is None or profile not in ("scale", "tuned")
                                            else f"_{glue_key(config.model)}")
            numbers.update(_keys(key, row), **_settings(key, config))
    stored_runs = map(RunFolder, Path(gpu_dir).glob("**/full-*"))
    for path in sorted(run.config for run in stored_runs if run.config.is_file()):
        stored = json.loads(path.read_text())
        config = Profile.load(params_dir, "full", stored["data"]["name"]).config
        post_config, post_images = _post(params_dir, config.dataset)
        row = compute_row(config, int(stored["data"]["train_size"]), post_config, post_images, macs)
        rows.append({"profile": "full (GPU run)", "dataset": config.dataset, **row})
        numbers.update(_keys(f"gpu_{config.dataset}", row), **_settings(f"gpu_{config.dataset}", config))
    for dataset in ("mnist", "cifar10"):
        post_config, post_images = _post(params_dir, dataset)
        numbers[f"compute_post_macs_{dataset}"] = macs(post_config.model, dataset)
        numbers[f"compute_post_images_{dataset}"] = post_images
        numbers.update(_settings(f"post_{dataset}", post_config))
    table = pd.DataFrame(rows).set_index(["profile", "dataset", "network"])
    return table, plain(numbers)


PUBLISHED_TEST_IMAGES = 10_000  # MNIST's and CIFAR-10's published test sets (test_size None: all of it)
# The settings the differences page names beside the post's (glued, never typed).
SETTINGS = ("model", "epochs", "mix_epochs", "mask_lr", "learning_rate", "finetune_lr", "test_size",
            "mixed_precision", "bn_momentum", "lr_schedule", "validation")


def _settings(key, config):
    """``setting_<field>_<key>`` for each of :data:`SETTINGS` (the mask's rate falls back to the weights')."""
    values = {field: getattr(config, field) for field in SETTINGS}
    values["mask_lr"] = config.learning_rate if config.mask_lr is None else config.mask_lr
    values["test_size"] = PUBLISHED_TEST_IMAGES if config.test_size is None else config.test_size
    return {f"setting_{field}_{key}": "none" if value is None else value for field, value in values.items()}


def _keys(key, row):
    return {f"compute_ratio_{key}": row["post / ours, the post's phases"],
            f"compute_ratio_all_{key}": row["post / ours, every arm"],
            f"compute_network_ratio_{key}": row["network ratio"], f"compute_images_ratio_{key}": row["images ratio"],
            f"compute_images_{key}": row["training images"], f"compute_macs_{key}": row["forward multiply-adds per image"]}


def post_seconds(seconds_per_image, params_dir, macs=network_macs):
    """The post's whole experiment (both datasets, its three phases) at ``seconds_per_image`` per phase
    (``{phase: seconds}`` for one CIFAR-10 image through WRN-28-8), each dataset's images scaled by its
    forward multiply-adds against CIFAR-10's."""
    cifar = macs(_post(params_dir, "cifar10")[0].model, "cifar10")
    total = 0.0
    for dataset in ("mnist", "cifar10"):
        config, images = _post(params_dir, dataset)
        scale = macs(config.model, dataset) / cifar
        for arm in config.arm_records():
            total += arm.epoch_count(config) * images * scale * seconds_per_image[arm.name]
    return total


def study_at_post_scale_seconds(seconds_per_image, params_dir, macs=network_macs):
    """The study's every arm and seed (``params/study-<dataset>.yaml``) with the post's network and images, at
    ``seconds_per_image`` (the mean of the post's phases' seconds per CIFAR-10 image through WRN-28-8)."""
    cifar = macs(_post(params_dir, "cifar10")[0].model, "cifar10")
    total = 0.0
    for dataset in ("mnist", "cifar10"):
        post, images = _post(params_dir, dataset)
        study = Profile.load(params_dir, "study", dataset)
        total += (len(study.seeds) * epochs(study.config) * images * macs(post.model, dataset) / cifar
                  * float(np.mean(list(seconds_per_image.values()))))
    return total


def gpu_epoch_seconds(run_dir):
    """Per phase of a stored GPU run, the median epoch's seconds over the epochs after its first (which compiles)."""
    run = RunFolder(Path(run_dir))
    return {arm: float(pd.read_csv(run.history(arm))["seconds"].iloc[1:].median()) for arm in arms_lib.POST_ARMS}


def stored_training_hours(results_dir):
    """A stored study's training time, every arm of every seed (the histories' seconds): (hours, seeds, device)."""
    results = seeds.load_stored_study(results_dir)
    seconds = sum(float(history["seconds"].sum()) for result in results.values()
                  for history in result.histories.values())
    return seconds / 3600, len(results), next(iter(results.values())).environment["device"]


def _place(device):
    return "cpu" if device.startswith("CPU") else "gpu"


def training_totals(params_dir, gpu_dir, benchmark_dir, study_dir, quick_minutes, quick_device):
    """One computed training time per (profile, device), in hours, each with what it counts and its source.

    ``quick_minutes`` and ``quick_device``: the quick profile's measured training
    (``bench_quick_profile.py``'s ``after`` variant, read by the cost chapter). Glue values
    ``total_<profile>_<cpu|gpu>[_<dataset>]`` (hours).
    """
    rows = []  # (glue key, profile, device, hours, what it counts and where from)
    for run_dir in sorted(Path(gpu_dir).glob("**/full-cifar10")):
        config = json.loads(RunFolder(run_dir).config.read_text())
        images, device = int(config["data"]["train_size"]), config["environment"]["device"]
        per_image = {arm: s / images for arm, s in gpu_epoch_seconds(run_dir).items()}
        rows.append((f"total_full_{_place(device)}", "full: the post's experiment", device,
                     post_seconds(per_image, params_dir) / 3600,
                     f"{run_dir.relative_to(Path(gpu_dir).parent.parent)}: each phase's median epoch on "
                     f"{images:,} images (with its validation pass on the test set, scaled too: an "
                     "overestimate), scaled by multiply-adds to the post's images on both datasets"))
        rows.append((f"total_study_at_post_scale_{_place(device)}", "study at the post's scale", device,
                     study_at_post_scale_seconds(per_image, params_dir) / 3600,
                     "the study's every arm and seed (params/study-*.yaml) with WRN-28-8 on all the training "
                     "images, at the same run's mean seconds per image"))
    for record in records.records(benchmark_dir):
        env = record.payload["environment"]
        for result in record.payload["results"]:
            if result["model"] == "wrn-28-8" and _place(env["device"]) == "cpu":
                seconds = result["seconds_per_step"]["plain_train"] / result["batch_size"]
                rows.append(("total_full_cpu", "full: the post's experiment", env["device"],
                             post_seconds(dict.fromkeys(arms_lib.POST_ARMS, seconds), params_dir) / 3600,
                             f"benchmarks/results/{record.path.name}: a plain WRN-28-8 training step at batch "
                             f"{result['batch_size']}, scaled by multiply-adds to the post's images; no validation"))
    rows.append((f"total_quick_{_place(quick_device)}", "quick", quick_device, quick_minutes / 60,
                 "bench_quick_profile.py: the whole quick profile trained (both datasets and the estimator "
                 "comparison), its epochs only"))
    for dataset in ("mnist", "cifar10"):
        if (Path(study_dir) / dataset).is_dir():
            hours, count, device = stored_training_hours(Path(study_dir) / dataset)
            rows.append((f"total_study_{_place(device)}_{dataset}", f"study, {DATASETS[dataset].title}", device,
                         hours, f"results/study/{dataset}: the stored runs' epochs, every arm of {count} seeds"))
    table = pd.DataFrame([row[1:] for row in rows], columns=["profile", "device", "training hours", "what it counts"])
    numbers = {row[0]: row[3] for row in rows} | {f"{row[0]}_device": row[2] for row in rows}
    return table.set_index(["profile", "device"]), plain(numbers)
