"""The compiled training steps of one run, shared by the arms whose steps are one program.

Tracing and compiling a training step happen once per compiled model: for
WRN-28-8 on the lent H200, an arm's first epoch took 8 to 19 s against a
median epoch of 0.9 s (results/gpu/2026-11-30). Arms whose steps are the same
program (the same network, the same variables training, the same optimizer but
for its rate: ``mix``, the random-mask controls and the extra fine-tuning rates;
``weights`` and ``equal_cost``) therefore train one compiled network in turn.
"""

import dataclasses
from collections.abc import Callable

import keras
import numpy as np

from supermask_lib.experiment import batches as batches_lib
from supermask_lib.experiment import engine
from supermask_lib.experiment.config import ExperimentConfig


@dataclasses.dataclass
class Program:
    """A compiled network and its optimizer's state before any step: what every arm of one kind of step trains.

    A later arm of the same kind (:meth:`Programs.compiled`) copies its start
    into ``model`` and resets the optimizer to ``fresh_optimizer``, then trains
    the traced step: the numbers are those of a freshly compiled network,
    without the tracing.
    """

    arm: str                    # the arm that compiled it
    model: keras.Model
    fresh_optimizer: list       # the optimizer's variables as built, before any step
    trainer: keras.Model | None = None  # the augmenting trainer around ``model``, where the step augments
    trained: bool = False       # whether a fit has traced its step yet


@dataclasses.dataclass
class Programs:
    """The run's programs by :meth:`key`; ``steps_per_epoch`` sets how long a cosine schedule decays."""

    config: ExperimentConfig
    steps_per_epoch: int
    log: Callable[[str], None]
    _by_key: dict = dataclasses.field(default_factory=dict)

    def total_steps(self, epochs):
        """Training steps of an arm of ``epochs`` epochs (what a cosine schedule decays over)."""
        return self.steps_per_epoch * epochs

    def key(self, arm, learning_rate):
        """What makes ``arm``'s compiled training step: arms with equal keys run the same program.

        The network (masked or plain), what trains, and the optimizer: a
        constant or plateau rate is a variable of the optimizer, a cosine
        schedule is traced into the step with its rate and length.
        """
        schedule = None
        if self.config.lr_schedule == "cosine":
            schedule = (learning_rate, self.total_steps(arm.epoch_count(self.config)))
        return arm.masked, arm.trains, schedule

    def compiled(self, arm, start, learning_rate):
        """``start`` compiled for ``arm``; or, where an earlier arm compiled the same step, that network holding ``start``'s values.

        The reused network takes every variable of ``start`` (the seed
        generators' states too) and a fresh optimizer's state at
        ``learning_rate``, so it trains as ``start`` compiled anew would.
        """
        key = self.key(arm, learning_rate)
        program = self._by_key.get(key)
        if program is None:
            engine.compile_model(start, self.config, learning_rate, self.total_steps(arm.epoch_count(self.config)))
            start.optimizer.build(start.trainable_variables)  # what fit would build first; its state before any step
            self._by_key[key] = Program(arm.name, start, [keras.ops.convert_to_numpy(v)
                                                          for v in start.optimizer.variables])
            return start
        model = program.model
        _assign(model.variables, [keras.ops.convert_to_numpy(v) for v in start.variables], f"{arm.name}'s network")
        _assign(model.optimizer.variables, program.fresh_optimizer, f"{arm.name}'s optimizer")
        if key[2] is None:  # the rate is the optimizer's variable, not part of the step
            model.optimizer.learning_rate = learning_rate
        self.log(f"[{arm.name}] trains the step traced for {program.arm}")
        return model

    def of(self, model):
        """The program ``model`` is the network of."""
        return next(program for program in self._by_key.values() if program.model is model)

    def augmenting_trainer(self, model, augmentation, steps, seed):
        """The compiled trainer that augments in ``model``'s step: made once per program, reseeded for each arm."""
        program = self.of(model)
        if program.trainer is None:
            program.trainer = batches_lib.augmenting_trainer(model, augmentation, steps, seed)
        else:
            program.trainer.augmentation.reseed(seed)
        return program.trainer


def _assign(variables, values, what):
    if len(variables) != len(values) or any(tuple(v.shape) != np.shape(x) for v, x in zip(variables, values)):
        raise RuntimeError(f"{what}: {len(values)} values do not fit the {len(variables)} variables of the compiled "
                           "step it was to reuse (a step_key that misses what makes the program).")
    for variable, value in zip(variables, values):
        variable.assign(value)
