"""Initialisations of the frozen weights that the supermask papers use and Keras lacks.

A supermask's weights never train, so their initial values *are* the network:
Zhou et al. (2019) found that keeping only each weight's sign, at the layer's
standard deviation, makes better supermasks; Ramanujan et al. (2020) use the
same idea at Kaiming's scale. Both are :class:`SignedConstant` here; any Keras
initializer (``"glorot_normal"``, ``"he_normal"``, a config dict) works too.
"""

import random

import keras
from keras import ops

from supermask_lib import checks

SCALES = ("glorot", "kaiming")
# The short names a configuration may use for the signed constants.
SIGNED_CONSTANTS = {"signed_constant": "glorot", "signed_kaiming_constant": "kaiming"}


def fans(shape):
    """(fan_in, fan_out) of a Dense kernel (in, out) or a conv kernel (..., in, out), as Keras counts them."""
    receptive = 1
    for size in shape[:-2]:
        receptive *= int(size)
    return int(shape[-2]) * receptive, int(shape[-1]) * receptive


@keras.saving.register_keras_serializable(package="supermask")
class SignedConstant(keras.initializers.RandomNormal):
    """Each weight ``±std`` with a random sign: the layer's scale, none of its spread.

    ``scale="glorot"``: ``std = √(2 / (fan_in + fan_out))``, Glorot-normal's
    standard deviation (Zhou et al.'s "signed constant"). ``scale="kaiming"``:
    ``std = √(2 / fan_in)``, Kaiming-normal's for ReLU (Ramanujan et al.'s
    "signed Kaiming constant"). The signs are those of a seeded normal draw.

    ``density`` < 1 counts the fans over the weights a mask will keep
    (``std / √density``), so that a layer keeping that fraction passes on
    the scale of its input: edge-popup's "scaled" initialisations (its
    ``--scale-fan``; its code multiplies the fan by 1 − prune_rate).
    """

    def __init__(self, scale="glorot", density=1.0, seed=None):
        self.scale = checks.choice("SignedConstant.scale", scale, SCALES)
        self.density = checks.number("SignedConstant.density", density, 0.0, 1.0, high_open=False,
                                     allowed="the fraction of weights kept, in (0, 1]")
        super().__init__(mean=0.0, stddev=1.0, seed=seed)

    def std(self, shape):
        fan_in, fan_out = fans(shape)
        fan = fan_in + fan_out if self.scale == "glorot" else fan_in
        return (2.0 / (fan * self.density)) ** 0.5

    def __call__(self, shape, dtype=None):
        if len(shape) < 2:
            raise ValueError(f"SignedConstant needs a kernel shape of rank >= 2 (got shape={tuple(shape)}).")
        return ops.sign(super().__call__(shape, dtype=dtype)) * self.std(shape)

    def get_config(self):
        return {"scale": self.scale, "density": self.density, "seed": super().get_config()["seed"]}


def get_weight_initializer(weight_init):
    """The initializer ``weight_init`` names: a signed constant's short name, or anything ``keras.initializers.get`` takes."""
    if isinstance(weight_init, str) and weight_init in SIGNED_CONSTANTS:
        return SignedConstant(SIGNED_CONSTANTS[weight_init])
    return keras.initializers.get(weight_init)


def check_weight_init(weight_init, label="weight_init"):
    """None (Keras's Glorot uniform, the study's), a signed constant's name, or a Keras initializer name or config.

    Checked without touching the random state (see ``layers.check_score_init``).
    """
    weight_init = checks.plain(weight_init)
    if weight_init is None:
        return None
    if isinstance(weight_init, (str, dict)):
        state = random.getstate()
        try:
            get_weight_initializer(weight_init)
            return weight_init
        except (ValueError, TypeError):
            pass
        finally:
            random.setstate(state)
    checks.fail(label, weight_init, f"None (Glorot uniform, the study's), one of {sorted(SIGNED_CONSTANTS)}, "
                                    "or a Keras initializer name or config dict")
