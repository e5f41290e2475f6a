"""The supermask papers' training recipes, as named sets of ``ExperimentConfig`` fields.

A recipe is what its authors published for learning a mask: estimator,
initialisation of weights and scores, optimiser, schedule, batch size and
epochs, as read from each paper and its public code (the book's bibliography,
``book/references.bib``, cites them; "unconfirmed" in a source string means
the source did not settle it). Select one in a line::

    config = ExperimentConfig.from_recipe("edge-popup", dataset="cifar10", model="conv4")
    # or, in a params/*.yaml profile:  recipe: edge-popup

Fields given beside the recipe override it (the dataset, the network, a
shorter run), so a profile states every departure from the authors.
"""

import dataclasses

from supermask_lib import checks


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One published recipe: the fields it sets, and where they come from."""

    fields: dict
    source: str


# How the post trains a mask (its augmentation is the library's default).
_POST_TRAINING = {"score_init": 1.0, "mask_bias": True, "optimizer": "adam", "learning_rate": 0.01,
                  "lr_schedule": "plateau", "batch_size": 128, "epochs": 30, "phases": ["mask"]}
_NO_AUGMENTATION = {"augment_flip": False, "augment_rotation": 0.0, "augment_shift": 0.0, "augment_crop": 0}

#: name -> :class:`Recipe`: the supermask papers' published settings (``ExperimentConfig.from_recipe``)
RECIPES = {
    # Zhou, Lan, Liu & Yosinski (2019), uber-research/deconstructing-lottery-tickets (train_supermask.py).
    "zhou": Recipe(
        fields={
            "estimator": "bernoulli", "score_init": 0.0,            # keep probability 0.5 at the start
            "weight_init": "glorot_normal", "use_bias": False,      # biases zero and frozen: none at all
            "dynamic_rescaling": True,                              # DWR, their best setting
            "bernoulli_eval": "sample", "eval_samples": 10,         # test: the mean of 10 sampled masks
            "optimizer": "sgd", "learning_rate": 100.0, "lr_schedule": "constant",
            "batch_size": 250, "epochs": 2000, "phases": ["mask"], "pixel_range": "unit", **_NO_AUGMENTATION,
        },
        source="Zhou et al. 2019, learned Bernoulli supermask with DWR (LeNet 300-100: 98.0% on MNIST)",
    ),
    # Ramanujan et al. (2020), allenai/hidden-networks (configs/smallscale, utils/conv_type.py).
    "edge-popup": Recipe(
        fields={
            "estimator": "topk", "keep_fraction": 0.5,
            "score_init": {"class_name": "VarianceScaling",         # Kaiming uniform, U(±1/√fan_in)
                           "config": {"scale": 1.0 / 3.0, "mode": "fan_in", "distribution": "uniform"}},
            "weight_init": "signed_kaiming_constant", "use_bias": False, "bn_affine": False,
            "optimizer": "sgd", "learning_rate": 0.1, "score_decay": 1e-4, "lr_schedule": "cosine",
            "batch_size": 128, "epochs": 100, "phases": ["mask"],
            "augment_flip": True, "augment_crop": 4, "augment_rotation": 0.0, "augment_shift": 0.0,
        },
        source="Ramanujan et al. 2020, edge-popup (Conv-2/4/6 on CIFAR-10: 65/74/77% as quoted by later work)",
    ),
    # The post (its published code): the threshold estimator on the study's Wide ResNet.
    "post-threshold": Recipe(
        fields={"estimator": "threshold", "threshold": 0.5, **_POST_TRAINING},
        source="the post: threshold estimator, scores 1.0, Adam 0.01, ReduceLROnPlateau, 30 epochs",
    ),
    # The post author's Intermediate Loss Sampling, trained as the post trains its masks.
    "post-ils": Recipe(
        fields={"estimator": "ils", "ils_step": 0.01, **_POST_TRAINING},
        source="the post author's ILS (step c = 0.01, his toy setting) with the post's optimiser",
    ),
}


def check_recipe(name, label="recipe"):
    return checks.choice(label, name, sorted(RECIPES))


def recipe_fields(name, label="recipe"):
    """A copy of the fields recipe ``name`` sets."""
    return dict(RECIPES[check_recipe(name, label)].fields)


def expand(values, label="recipe"):
    """``values`` with its ``recipe`` key (if any) replaced by the recipe's fields; the other keys win."""
    values = dict(values)
    if "recipe" not in values:
        return values
    return {**recipe_fields(values.pop("recipe"), label), **values}
