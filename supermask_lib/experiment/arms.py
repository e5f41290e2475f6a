"""The study's unit, the arm: one training of the network from the run's one initialisation.

Every arm is one frozen :class:`Arm` record in :data:`ARMS`: what it starts
from, whether its network is masked, what trains, which learning rate and
which epoch fields it uses, which batches it sees, and how the figures and
the study's paired comparisons show it. The configuration, the runner, the
plots and the study read these records; adding an arm is one record here
(and its test). The fine-tuning arms at extra rates (``mix_lr…``) are made
by :func:`finetuning_arm`, one per rate of ``ExperimentConfig.finetune_lrs``,
and with ``random_mask_every_rate`` the random-mask control beside each
(:func:`random_mask_arm`), and with ``anneal_every_rate`` the annealing
control (:func:`anneal_arm`).

:class:`ArmMetrics` is what one finished arm measured on the test set.
"""

import dataclasses

from supermask_lib import checks, models as models_lib
from supermask_lib.estimators import SAMPLED_ESTIMATORS

# What an arm starts from.
STARTS = (
    "initial",        # the run's random initialisation (masked network, scores at score_init)
    "best_mask",      # the mask phase's selected network (its weights are still the initial ones)
    "shuffled_mask",  # the same, each layer's scores shuffled: the learned per-layer fractions at random places
    "best_weights",   # the weights phase's selected (plain) network
)
# The arm whose selected network each start copies.
PARENTS = {"best_mask": "mask", "shuffled_mask": "mask", "best_weights": "weights"}
# What trains (``trainable.set_trainable``'s sets, plus the plain network's everything).
TRAINS = ("scores", "scores_without_batchnorm", "batchnorm", "weights", "everything")
# The figure's two panels: the arms on frozen random weights, and the arms that train weights.
PANELS = ("frozen", "weights")


@dataclasses.dataclass(frozen=True)
class Arm:
    """One arm of the study, everything about it in one place."""

    name: str
    start: str               # one of STARTS
    masked: bool             # the network keeps its mask layers (False: a plain copy, no mask at all)
    trains: str              # one of TRAINS
    rate: str | float        # an ExperimentConfig rate field (one left at None means ``rate_fallback``), or a rate
    epochs: tuple            # the ExperimentConfig epoch fields whose sum the arm trains
    batch_order: int         # arms with the same number see the same batches (same seed, epoch)
    panel: str               # one of PANELS
    color: str | None = None  # None: the figure picks one (or its twin's)
    compared_with: tuple = ()  # (baseline arm, what the difference answers), for the study's comparisons
    about: str = ""           # one line for readers
    twin: str | None = None   # the arm drawn in the same colour, this one dashed (a control beside its arm)
    rate_fallback: str = "learning_rate"  # the field whose rate a ``rate`` field left at None takes
    family: str | None = None  # the arm this one repeats at another rate (``mix_lr0.001``: ``mix``); None: itself

    def __post_init__(self):
        for field, allowed in (("start", STARTS), ("trains", TRAINS), ("panel", PANELS)):
            if getattr(self, field) not in allowed:
                raise ValueError(f"Arm {self.name!r}: {field}={getattr(self, field)!r} is not one of {list(allowed)}.")

    @property
    def parent(self):
        """The arm whose selected network this one starts from (trained first in the run), or None."""
        return PARENTS.get(self.start)

    @property
    def needs_mask(self):
        """Whether the arm starts from the mask phase's result (so the run must train ``mask`` first)."""
        return self.parent == "mask"

    @property
    def kind(self):
        """The arm's family name: ``mix`` for every ``mix_lr…`` arm (what a tuning grid varies the rate of)."""
        return self.family or self.name

    def learning_rate(self, config):
        if isinstance(self.rate, float):
            return self.rate
        value = getattr(config, self.rate)
        return getattr(config, self.rate_fallback) if value is None else value

    def epoch_count(self, config):
        return sum(getattr(config, field) for field in self.epochs)

    def epochs_before(self, config):
        """Epochs of training the network had before this arm began (the figures' x offset)."""
        return config.epochs if self.parent else 0


def _fine_tuning(name, start, rate, order, color, compared_with, about, twin=None, fallback="finetune_lr",
                family=None):
    return Arm(name, start=start, masked=True, trains="weights", rate=rate, epochs=("mix_epochs",),
               batch_order=order, panel="weights", color=color, compared_with=compared_with, about=about,
               twin=twin, rate_fallback=fallback, family=family)


def _annealing(name, rate, color, about, family=None):
    """Weights' selected network trained on for mix's epochs at a fine-tuning rate, no mask: mix's schedule without it."""
    return Arm(name, start="best_weights", masked=False, trains="everything", rate=rate, epochs=("mix_epochs",),
               batch_order=2, panel="weights", color=color, about=about, rate_fallback="finetune_lr", family=family)


#: The post's three phases first, then the controls, each from the same initialisation.
ARMS = {arm.name: arm for arm in (
    Arm("mask", start="initial", masked=True, trains="scores", rate="mask_lr", epochs=("epochs",),
        batch_order=0, panel="frozen", color="tab:blue",
        compared_with=(("bn_only", "how much of the mask phase is the mask, not BatchNorm"),
                       ("pure_mask", "what training BatchNorm adds to the mask phase")),
        about="the post's phase 1: only the mask's scores train (and BatchNorm, with train_batchnorm)"),
    Arm("weights", start="initial", masked=False, trains="everything", rate="learning_rate", epochs=("epochs",),
        batch_order=1, panel="weights", color="tab:orange",
        about="the post's phase 2: a plain network trains from the same weights"),
    _fine_tuning("mix", "best_mask", "finetune_lr", 2, "tab:green",
                 (("weights", "the post's comparison: mix against weights"),
                  ("equal_cost", "mix against weights trained as many epochs as mask + mix"),
                  ("random_mask", "whether the learned mask matters, at the same per-layer fractions"),
                  ("weights_anneal", "whether mix's gain is the mask or its final low-rate epochs")),
                 "the post's phase 3: the selected masked network, mask frozen, trains its weights"),
    Arm("pure_mask", start="initial", masked=True, trains="scores_without_batchnorm", rate="mask_lr",
        epochs=("epochs",), batch_order=0, panel="frozen", color="tab:cyan",
        about="the mask phase with BatchNorm frozen: the mask alone"),
    Arm("equal_cost", start="initial", masked=False, trains="everything", rate="equal_cost_lr",
        epochs=("epochs", "mix_epochs"), batch_order=1, panel="weights", color="tab:red",
        about="plain weights for as many epochs as mask + mix"),
    Arm("bn_only", start="initial", masked=False, trains="batchnorm", rate="mask_lr",
        epochs=("epochs",), batch_order=1, panel="frozen", color="tab:gray",
        about="only BatchNorm's γ and β train, at the mask phase's rate: what BatchNorm did there"),
    _fine_tuning("random_mask", "shuffled_mask", "random_mask_lr", 2, None, (),
                 "the learned per-layer fractions at random places, fine-tuned as mix", twin="mix"),
    _annealing("weights_anneal", "anneal_lr", "tab:purple",
               "weights, then mix's epochs at a fine-tuning rate without a mask: mix's schedule, no mask"),
)}
POST_ARMS = ("mask", "weights", "mix")  # the post's three phases
MASK, WEIGHTS, MIX = POST_ARMS
EQUAL_COST, RANDOM_MASK, WEIGHTS_ANNEAL = "equal_cost", "random_mask", "weights_anneal"
# The paired comparisons the answer and the scale axis read, as (arm, baseline, question).
POST_COMPARISON = (MIX, WEIGHTS, "the post's comparison")
FINE_TUNING_GAIN = (MIX, MASK, "what fine-tuning adds to the mask it starts from")
# What a scale axis's trend follows: the post's comparison, at equal training, how far the mask phase is from
# weight training, and what fine-tuning adds to the mask it starts from.
TREND = (POST_COMPARISON, (MIX, EQUAL_COST, "the same at equal training"),
         (MASK, WEIGHTS, "the mask phase against weight training"), FINE_TUNING_GAIN)
TREND_ARMS = tuple(name for name in ARMS if any(name in row[:2] for row in TREND))  # what an axis must train


def finetuning_arm(rate):
    """The mix arm fine-tuned at ``rate`` instead of ``finetune_lr`` (name ``mix_lr<rate>``)."""
    rate = float(rate)
    return _fine_tuning(f"mix_lr{rate:g}", "best_mask", rate, ARMS["mix"].batch_order, None,
                        (("mix", f"fine-tuning at {rate:g} instead of the post's rate"),
                         (random_mask_arm(rate).name, f"whether the learned mask matters, fine-tuned at {rate:g}"),
                         (anneal_arm(rate).name, f"whether the mask or the low rate matters, at {rate:g}")),
                        f"mix fine-tuned at {rate:g}", family="mix")


def random_mask_arm(rate):
    """The random-mask control fine-tuned at ``rate``, as ``mix_lr<rate>`` is (name ``random_mask_lr<rate>``).

    Every random-mask arm of a run shuffles the same way (one random mask),
    so the controls differ from each other only in their rate, as the mix arms do.
    """
    rate = float(rate)
    return _fine_tuning(f"random_mask_lr{rate:g}", "shuffled_mask", rate, ARMS["random_mask"].batch_order, None, (),
                        f"the random mask fine-tuned at {rate:g}", twin=f"mix_lr{rate:g}", family="random_mask")


def anneal_arm(rate):
    """The annealing control at ``rate``, beside ``mix_lr<rate>`` (name ``weights_anneal_lr<rate>``)."""
    rate = float(rate)
    return _annealing(f"weights_anneal_lr{rate:g}", rate, None, f"weights, then {rate:g} for mix's epochs",
                      family="weights_anneal")


def random_control(arm, rate):
    """The random-mask control beside a fine-tuning ``arm`` of the learned mask (``mix`` or ``mix_lr…`` at ``rate``)."""
    return RANDOM_MASK if arm == MIX else random_mask_arm(rate).name


def rated(arm, rate):
    """The arm of ``arm``'s family at an extra fine-tuning ``rate`` (``mix`` at 1e-3: ``mix_lr0.001``)."""
    return {MIX: finetuning_arm, RANDOM_MASK: random_mask_arm, WEIGHTS_ANNEAL: anneal_arm}[arm](rate).name


def check_arm_options(values, given, field):
    """Refuse, naming the field, an arm the configuration's other (normalised) ``values`` cannot train.

    ``given`` is the configuration as written (its values go in the message), ``field`` names a field.
    """
    phases = values["phases"]
    for flag, arm, what in (("anneal_every_rate", "weights_anneal", "anneal the weights arm"),
                            ("random_mask_every_rate", "random_mask", "fine-tune the random mask")):
        if values[flag] and (arm not in phases or not values["finetune_lrs"]):
            checks.fail(field(flag), getattr(given, flag), f"False unless phases has {arm!r} and finetune_lrs names "
                        f"rates (the arms it adds {what} at each of those rates)")
    if "bn_only" in phases and not models_lib.has_batchnorm(values["model"]):
        checks.fail(field("phases"), given.phases, f"no 'bn_only' for model={values['model']!r}, which has no BatchNorm")
    if "bn_only" in phases and not values["bn_affine"]:
        checks.fail(field("phases"), given.phases, "no 'bn_only' with bn_affine=False (BatchNorm has nothing to train)")
    if "random_mask" in phases and values["estimator"] in SAMPLED_ESTIMATORS:
        checks.fail(field("phases"), given.phases, f"no 'random_mask' with the {values['estimator']} estimator, "
                    "whose mask is drawn afresh at every step (shuffled scores would not keep its fractions)")


def comparisons(arms):
    """``(arm, baseline, question)`` for every comparison among ``arms`` (records), in the study's order.

    ``mix``'s come first (the post's comparison leads), then each arm's own in table order.
    """
    names = {arm.name for arm in arms}
    rows = [(arm.name, baseline, question) for arm in arms for baseline, question in arm.compared_with
            if baseline in names]
    return sorted(rows, key=lambda row: row[0] != "mix")  # stable: the table's order otherwise


@dataclasses.dataclass(frozen=True)
class ArmMetrics:
    """What a finished arm measured: its selected epoch's test loss and accuracy, and how it got there.

    ``initial`` (the untrained network) has only the test numbers.
    ``best_epoch`` counts from 0, as the histories' ``epoch`` column does.
    """

    test_loss: float
    test_accuracy: float
    best_epoch: int | None = None
    best_val_accuracy: float | None = None
    epochs: int | None = None
    seconds: float | None = None
    test_accuracy_draws: tuple | None = None  # sampled test masks: one accuracy per draw

    @classmethod
    def from_dict(cls, values, source="metrics"):
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown or not {"test_loss", "test_accuracy"} <= set(values):
            raise ValueError(f"{source}: an arm's metrics hold test_loss, test_accuracy and optionally "
                             f"{sorted(known - {'test_loss', 'test_accuracy'})}; found {sorted(values)}.")
        draws = values.get("test_accuracy_draws")
        return cls(**{**values, "test_accuracy_draws": None if draws is None else tuple(draws)})

    def to_dict(self):
        """The JSON form (``metrics.json``): fields that are set, lists for draws."""
        values = {name: value for name, value in dataclasses.asdict(self).items() if value is not None}
        if self.test_accuracy_draws is not None:
            values["test_accuracy_draws"] = list(self.test_accuracy_draws)
        return values
