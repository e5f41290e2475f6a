"""One definition of every hyperparameter: :class:`ExperimentConfig`.

The dataclass is the only place a hyperparameter is declared. The YAML
profiles in ``params/`` and the notebook's parameters cell name its fields
(tests keep them in step), and both are turned into a configuration through
:mod:`supermask_lib.experiment.profiles` and :meth:`ExperimentConfig.from_dict`, which
reject unknown names. Each value rule belongs to the module that owns
the concept (``data``, ``models``, ``estimators``, ``layers``); the
configuration calls them, so a bad value fails here, before any data is read
or any folder is made, with the same message the owner gives.
"""

import dataclasses
import hashlib
import json

from supermask_lib.experiment import arms as arms_lib
from supermask_lib import checks, recipes
from supermask_lib.experiment import data as data_lib, datasets
from supermask_lib import models as models_lib
from supermask_lib.estimators import SAMPLED_ESTIMATORS, check_estimator, check_estimator_options
from supermask_lib.initializers import check_weight_init
from supermask_lib.layers import MASK_ARGUMENTS, check_score_decay, check_score_init

MIXED_PRECISION = (None, "float16", "bfloat16")
JIT_COMPILE = (True, False, "auto")
DISTRIBUTE = (None, "mirrored", "data_parallel")
OPTIMIZERS = ("adam", "sgd")
# "plateau": ReduceLROnPlateau on training accuracy (the study); "cosine": to 0
# over the arm's epochs (edge-popup); "constant" (Zhou et al.).
LR_SCHEDULES = ("plateau", "cosine", "constant")
MAX_LEARNING_RATE = 1000.0  # Zhou et al. train Bernoulli scores with SGD at 100
# Fields that say where things are, not what is computed: not part of the run's identity.
LOCATION_FIELDS = ("data_dir",)
# Fields that say what a run also writes, not what it computes: not part of the identity either, so turning
# TensorBoard logs on for a started or finished run continues or completes that run's logs.
OUTPUT_FIELDS = ("tensorboard",)
# Fields added after runs were published: left out of the identity while at
# their default, so that those runs keep their names.
LATER_FIELDS = {"max_steps_per_epoch": None, "ils_step": 0.01, "weight_init": None, "use_bias": True,
                "bn_affine": True, "dynamic_rescaling": False, "score_decay": 0.0, "lr_schedule": "plateau",
                "eval_samples": 1, "augment_crop": 0, "pixel_range": "signed", "random_mask_every_rate": False,
                "test_each_epoch": False, "equal_cost_lr": None, "random_mask_lr": None, "anneal_lr": None,
                "anneal_every_rate": False}
# Rate fields that fall back to another field when left at None (each arm's record names its own).
ARM_RATE_FIELDS = ("mask_lr", "equal_cost_lr", "random_mask_lr", "anneal_lr")


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """Hyperparameters of one three-phase run; the defaults are the study's.

    Validated and normalised at construction (NumPy scalars become Python
    ones, lists become tuples): a bad field raises ``ValueError`` naming the
    field, the value and what is allowed, before any data is read.
    """

    dataset: str = "cifar10"
    model: str = "wrn-28-8"
    epochs: int = 30                       # mask and weights phases
    mix_epochs: int = 30                   # the fine-tuning of the masked network
    learning_rate: float = 0.01
    mask_lr: float | None = None           # arms on frozen weights (mask, pure_mask, bn_only); None: learning_rate
    finetune_lr: float = 1e-5
    equal_cost_lr: float | None = None     # equal_cost's rate; None: learning_rate (a tuned study sets each arm's)
    random_mask_lr: float | None = None    # random_mask's rate; None: finetune_lr
    anneal_lr: float | None = None         # weights_anneal's rate; None: finetune_lr
    batch_size: int = 128
    optimizer: str = "adam"                # "adam" (the study) or "sgd" (momentum 0.9)
    lr_schedule: str = "plateau"           # or "cosine" (to 0 over the arm's epochs) or "constant"
    lr_patience: int = 2                   # ReduceLROnPlateau on *training* accuracy
    lr_factor: float = 0.1
    estimator: str = "threshold"
    threshold: float = 0.5
    keep_fraction: float = 0.5
    score_init: float | str | dict = 1.0   # or a Keras initializer (name or config dict)
    mask_bias: bool = True
    bernoulli_eval: str = "threshold"     # inference mask of the sampled estimators (bernoulli, ils)
    ils_step: float = 0.01                 # Intermediate Loss Sampling's SGD step c
    eval_samples: int = 1                  # bernoulli_eval="sample": test accuracy is the mean of this many draws
    dynamic_rescaling: bool = False        # Zhou et al.'s DWR: masked kernel x (weights / kept)
    score_decay: float = 0.0               # L2 on the scores, as PyTorch SGD's weight_decay (edge-popup: 1e-4)
    weight_init: str | dict | None = None  # None: Keras's Glorot uniform (the study); "signed_constant", ...
    use_bias: bool = True                  # False: no biases anywhere (the supermask papers' small networks)
    bn_affine: bool = True                 # False: BatchNorm without γ and β (edge-popup)
    train_batchnorm: bool = True           # BatchNorm keeps training in the mask phase
    bn_momentum: float | None = None       # Wide ResNets: None = Keras's 0.99 (the study)
    phases: tuple = arms_lib.POST_ARMS     # the arms to train: any ordered subset of arms.ARMS
    finetune_lrs: tuple = ()               # more mix arms, one per rate ("mix_lr0.001", ...)
    random_mask_every_rate: bool = False   # with random_mask: a random-mask arm beside each finetune_lrs arm
    anneal_every_rate: bool = False        # with weights_anneal: an annealing arm beside each finetune_lrs arm
    test_each_epoch: bool = False          # also test every epoch (history columns test_loss, test_accuracy)
    augment_flip: bool = True
    augment_rotation: float = 20.0         # degrees
    augment_shift: float = 0.2             # fraction of height and width
    augment_crop: int = 0                  # pixels of black padding, then a random crop back (CIFAR's usual 4)
    pixel_range: str = "signed"            # [-1, 1] (the study); "unit": [0, 1], x / 255 (the supermask papers)
    validation: str = "holdout"            # the study used "test"
    val_size: int | float = 0.1
    train_size: int | float | None = None
    test_size: int | float | None = None
    seed: int = 0
    data_dir: str | None = None            # None: $SUPERMASK_DATA_DIR, else Keras's download
    mixed_precision: str | None = None     # GPU: "float16" or "bfloat16"
    jit_compile: bool | str = "auto"       # XLA / jit: True, False or Keras's "auto"
    distribute: str | None = None          # several GPUs: "mirrored" (TF) or "data_parallel" (JAX)
    deterministic: bool = True             # TensorFlow: deterministic ops (slower on GPU)
    max_steps_per_epoch: int | None = None  # smoke tests: cap each epoch's training steps
    tensorboard: bool = False              # TensorBoard logs in <run>/tensorboard/<arm>/ (experiment.tensorboard)

    def __post_init__(self):
        for name, value in self._normalised().items():
            object.__setattr__(self, name, value)

    def _normalised(self):
        """Every field through its owner's rule; returns the normalised values."""
        field = lambda name: f"ExperimentConfig.{name}"  # noqa: E731
        values = {
            "dataset": datasets.check_dataset(self.dataset, field("dataset")),
            "model": models_lib.check_model_name(self.model, field("model")),
            "epochs": checks.integer(field("epochs"), self.epochs, 1, allowed="a positive integer"),
            "mix_epochs": checks.integer(field("mix_epochs"), self.mix_epochs, 0),
            "batch_size": checks.integer(field("batch_size"), self.batch_size, 1, allowed="a positive integer"),
            "learning_rate": checks.number(field("learning_rate"), self.learning_rate, 0.0, MAX_LEARNING_RATE),
            **{name: None if getattr(self, name) is None else checks.number(
                field(name), getattr(self, name), 0.0, MAX_LEARNING_RATE,
                allowed=f"None or a number in (0, {MAX_LEARNING_RATE:g})") for name in ARM_RATE_FIELDS},
            "finetune_lr": checks.number(field("finetune_lr"), self.finetune_lr, 0.0, 10.0),
            "optimizer": checks.choice(field("optimizer"), self.optimizer, OPTIMIZERS,
                                       allowed="'adam' (the study) or 'sgd'"),
            "lr_schedule": checks.choice(field("lr_schedule"), self.lr_schedule, LR_SCHEDULES),
            "eval_samples": checks.integer(field("eval_samples"), self.eval_samples, 1, allowed="a positive integer"),
            "score_decay": check_score_decay(self.score_decay, field("score_decay")),
            "weight_init": check_weight_init(self.weight_init, field("weight_init")),
            "augment_crop": checks.integer(field("augment_crop"), self.augment_crop, 0, 16,
                                           allowed="pixels of padding in [0, 16] (0: no crop)"),
            "lr_patience": checks.integer(field("lr_patience"), self.lr_patience, 0),
            "lr_factor": checks.number(field("lr_factor"), self.lr_factor, 0.0, 1.0),
            "estimator": check_estimator(self.estimator, field("estimator")),
            **check_estimator_options(self.threshold, self.keep_fraction, self.bernoulli_eval, self.ils_step,
                                      prefix="ExperimentConfig."),
            "score_init": self._score_init(field("score_init")),
            "validation": data_lib.check_validation(self.validation, field("validation")),
            "pixel_range": data_lib.check_pixel_range(self.pixel_range, field("pixel_range")),
            "val_size": data_lib.check_size(self.val_size, field("val_size"), allow_none=False),
            "train_size": _all_is_none(data_lib.check_size(self.train_size, field("train_size"))),
            "test_size": _all_is_none(data_lib.check_size(self.test_size, field("test_size"))),
            "seed": data_lib.check_seed(self.seed, field("seed")),
            "augment_rotation": checks.number(field("augment_rotation"), self.augment_rotation, 0.0, 180.0,
                                              low_open=False, high_open=False, allowed="degrees in [0, 180]"),
            "augment_shift": checks.number(field("augment_shift"), self.augment_shift, 0.0, 1.0,
                                           low_open=False, allowed="a fraction in [0, 1)"),
            "data_dir": checks.optional_path(field("data_dir"), self.data_dir),
            "mixed_precision": checks.choice(field("mixed_precision"), self.mixed_precision, MIXED_PRECISION),
            "jit_compile": checks.choice(field("jit_compile"), self.jit_compile, JIT_COMPILE,
                                         allowed="True, False or 'auto'"),
            "distribute": checks.choice(field("distribute"), self.distribute, DISTRIBUTE),
            "phases": self._phases(field("phases")),
            "max_steps_per_epoch": None if self.max_steps_per_epoch is None else checks.integer(
                field("max_steps_per_epoch"), self.max_steps_per_epoch, 1, allowed="None or a positive integer"),
        }
        values["finetune_lrs"] = self._finetune_lrs(field("finetune_lrs"), values["phases"])
        values["bn_momentum"] = models_lib.check_bn_momentum(self.bn_momentum, values["model"], field("bn_momentum"))
        for name in ("mask_bias", "train_batchnorm", "augment_flip", "deterministic", "dynamic_rescaling",
                     "use_bias", "bn_affine", "random_mask_every_rate", "test_each_epoch", "anneal_every_rate",
                     "tensorboard"):
            values[name] = checks.boolean(field(name), getattr(self, name))
        self._check_combinations(values, field)
        arms_lib.check_arm_options(values, self, field)  # what an arm needs of the other fields
        return values

    def _check_combinations(self, values, field):
        """Rules between fields that no single owner sees (the arm table checks its own)."""
        if values["eval_samples"] > 1 and (values["estimator"] not in SAMPLED_ESTIMATORS
                                            or values["bernoulli_eval"] != "sample"):
            checks.fail(field("eval_samples"), self.eval_samples,
                        f"1 unless estimator is one of {list(SAMPLED_ESTIMATORS)} with bernoulli_eval='sample' "
                        "(only then does a test pass draw a mask)")
        if values["distribute"] == "data_parallel" and values["jit_compile"] is False:
            checks.fail(field("jit_compile"), self.jit_compile, "True or 'auto' with distribute='data_parallel' "
                        "(eager steps on sharded arrays deadlock in XLA's CPU collectives)")

    def _score_init(self, label):
        if not isinstance(checks.plain(self.score_init), (int, float, str, dict)):
            checks.fail(label, self.score_init, "a number or a Keras initializer name or config dict (JSON-friendly)")
        return check_score_init(self.score_init, label)

    def _phases(self, label):
        order = list(arms_lib.ARMS)
        phases = tuple(self.phases) if isinstance(self.phases, (list, tuple)) else None
        if (not phases or any(p not in order for p in phases) or len(set(phases)) != len(phases)
                or list(phases) != sorted(phases, key=order.index)):
            checks.fail(label, self.phases, f"a non-empty ordered subset of {order}")
        for name in phases:
            parent = arms_lib.ARMS[name].parent
            if parent and parent not in phases:
                checks.fail(label, self.phases, f"{name!r} needs {parent!r} (it starts from that arm's selected network)")
        return phases

    def _finetune_lrs(self, label, phases):
        rates = self.finetune_lrs
        if not isinstance(rates, (list, tuple)):
            checks.fail(label, rates, "a list of learning rates in (0, 10)")
        rates = tuple(checks.number(f"{label}[{i}]", rate, 0.0, 10.0) for i, rate in enumerate(rates))
        names = [arms_lib.finetuning_arm(rate).name for rate in rates]
        if len(set(names)) != len(names):
            checks.fail(label, self.finetune_lrs, f"distinct learning rates (their arms {names} must differ: "
                        "rates are named to 6 significant digits)")
        if rates and arms_lib.MASK not in phases:
            checks.fail(label, self.finetune_lrs, "an empty list unless phases has 'mask' (each rate fine-tunes its mask)")
        return rates

    def arm_records(self):
        """Every arm this run trains, as :class:`~supermask_lib.experiment.arms.Arm` records, in training order:
        the phases, then one mix arm per extra fine-tuning rate, then (``random_mask_every_rate``)
        one random-mask arm per extra rate, then (``anneal_every_rate``) one annealing arm per extra rate."""
        extra = [arms_lib.finetuning_arm(rate) for rate in self.finetune_lrs]
        if self.random_mask_every_rate:
            extra += [arms_lib.random_mask_arm(rate) for rate in self.finetune_lrs]
        if self.anneal_every_rate:
            extra += [arms_lib.anneal_arm(rate) for rate in self.finetune_lrs]
        return [*(arms_lib.ARMS[name] for name in self.phases), *extra]

    def arms(self):
        """The names of :meth:`arm_records` (the keys of a run's metrics and histories)."""
        return [arm.name for arm in self.arm_records()]

    def arm(self, name):
        """The record of the arm ``name`` of this run, or an error naming the arms it has."""
        for arm in self.arm_records():
            if arm.name == name:
                return arm
        raise ValueError(f"arm={name!r} is not an arm of this configuration; it has {self.arms()}.")

    # ----------------------------------------------------------- round trips

    @classmethod
    def field_names(cls):
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values, source="ExperimentConfig"):
        """Build from a dict (a YAML profile, a run's record); unknown keys are an error."""
        unknown = sorted(set(values) - set(cls.field_names()))
        if unknown:
            raise ValueError(f"{source}: unknown ExperimentConfig fields {unknown}; allowed: {cls.field_names()}.")
        return cls(**values)

    @classmethod
    def from_recipe(cls, recipe, **fields):
        """A published recipe (:data:`supermask_lib.recipes.RECIPES`), with ``fields`` overriding it."""
        return cls(**{**recipes.recipe_fields(recipe), **fields})

    def to_dict(self):
        values = dataclasses.asdict(self)
        values["phases"] = list(self.phases)
        values["finetune_lrs"] = list(self.finetune_lrs)
        return values

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    # --------------------------------------------------------------- derived

    def mask_arguments(self):
        """The fields every masked layer takes (they share the layers' argument names)."""
        return {name: getattr(self, name) for name in MASK_ARGUMENTS}

    def model_arguments(self):
        """The network's options that are not the mask's, each only where it differs from the builder's default."""
        arguments = {"bn_momentum": self.bn_momentum, "weight_init": self.weight_init}
        arguments = {name: value for name, value in arguments.items() if value is not None}
        arguments.update({name: False for name in ("use_bias", "bn_affine") if not getattr(self, name)})
        return arguments

    def identity(self):
        """The hyperparameters that define the computation (not where files are, nor what else is logged)."""
        values = self.to_dict()
        for name in (*LOCATION_FIELDS, *OUTPUT_FIELDS):
            values.pop(name)
        for name, default in LATER_FIELDS.items():
            if name in values and values[name] == default:
                values.pop(name)
        return values

    def run_name(self, data_fingerprint):
        """The run's folder name: readable fields, then a hash of the identity and the data's bytes.

        The data fingerprint (``data.fingerprint`` of the arrays) is part of
        the name, so the same hyperparameters on other data are another run.
        """
        payload = json.dumps({"config": self.identity(), "data": data_fingerprint}, sort_keys=True)
        digest = hashlib.sha256(payload.encode()).hexdigest()
        return f"{self.dataset}-{self.model}-{self.estimator}-{digest[:10]}"


def _all_is_none(size):
    """The fraction 1.0 and None both mean every image: one normal form, so they are one run, not two."""
    return None if isinstance(size, float) and size == 1.0 else size
