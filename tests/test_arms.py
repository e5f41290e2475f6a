"""The arm table: each record says what its arm does, and the configuration, study and figures read it."""

import dataclasses
import math

import pytest

from supermask_lib.experiment import arms
from supermask_lib.report import plots
from supermask_lib.experiment.arms import ARMS, Arm, ArmMetrics
from supermask_lib.experiment.config import ExperimentConfig


def test_the_post_arms_come_first_and_only_fine_tunings_start_from_the_mask():
    assert list(ARMS)[:3] == ["mask", "weights", "mix"] == list(arms.POST_ARMS)
    assert {name for name, arm in ARMS.items() if arm.needs_mask} == {"mix", "random_mask"}
    assert {name: arm.parent for name, arm in ARMS.items() if arm.parent} == {
        "mix": "mask", "random_mask": "mask", "weights_anneal": "weights"}
    for arm in ARMS.values():  # what the figure's panels and x offsets follow from
        frozen = arm.trains in ("scores", "scores_without_batchnorm", "batchnorm")
        assert (arm.panel == "frozen") == frozen, arm.name
        assert arm.masked == (arm.trains in ("scores", "scores_without_batchnorm", "weights")), arm.name


def test_every_arm_is_drawn_distinguishably_a_control_beside_its_arm():
    config = ExperimentConfig(phases=tuple(ARMS), finetune_lrs=(1e-4, 1e-3, 1e-2), random_mask_every_rate=True)
    records = config.arm_records()
    colors = plots.arm_colors(records)
    styles = {(colors[arm.name], bool(arm.twin)) for arm in records}
    assert len(styles) == len(records) == 14  # colour and dash tell every line apart
    for arm in records:
        if arm.twin:
            assert colors[arm.name] == colors[arm.twin], arm.name


def test_random_masks_at_every_rate_pair_with_the_mix_arms():
    config = ExperimentConfig(phases=("mask", "weights", "mix", "random_mask"), finetune_lrs=(1e-3,),
                              random_mask_every_rate=True)
    assert config.arms() == ["mask", "weights", "mix", "random_mask", "mix_lr0.001", "random_mask_lr0.001"]
    control = config.arm("random_mask_lr0.001")
    assert (control.start, control.learning_rate(config), control.epoch_count(config)) == ("shuffled_mask", 1e-3, 30)
    assert control.batch_order == ARMS["random_mask"].batch_order  # one random mask, the mix arms' batches
    assert ("mix_lr0.001", "random_mask_lr0.001") in [(a, b) for a, b, _ in arms.comparisons(config.arm_records())]
    assert "random_mask_every_rate" not in config.replace(random_mask_every_rate=False).identity()  # old names kept
    with pytest.raises(ValueError, match=r"random_mask_every_rate=True is not allowed: False unless phases has "
                                         r"'random_mask' and finetune_lrs names rates"):
        ExperimentConfig(finetune_lrs=(1e-3,), random_mask_every_rate=True)


def test_arms_compared_see_the_same_batches():
    assert ARMS["mask"].batch_order == ARMS["pure_mask"].batch_order
    assert ARMS["weights"].batch_order == ARMS["equal_cost"].batch_order == ARMS["bn_only"].batch_order
    assert ARMS["mix"].batch_order == ARMS["random_mask"].batch_order == arms.finetuning_arm(1e-3).batch_order
    assert len({ARMS[name].batch_order for name in arms.POST_ARMS}) == 3  # the post's phases each their own


def test_a_record_with_an_unknown_start_is_an_error_naming_it():
    with pytest.raises(ValueError, match=r"Arm 'odd': start='final' is not one of \['initial', 'best_mask'"):
        Arm("odd", start="final", masked=True, trains="weights", rate="finetune_lr", epochs=("mix_epochs",),
            batch_order=2, panel="weights")


def test_comparisons_lead_with_the_posts_and_skip_absent_baselines():
    config = ExperimentConfig(phases=("mask", "weights", "mix", "pure_mask", "bn_only"), finetune_lrs=(1e-4,))
    assert arms.comparisons(config.arm_records()) == [
        ("mix", "weights", "the post's comparison: mix against weights"),
        ("mask", "bn_only", "how much of the mask phase is the mask, not BatchNorm"),
        ("mask", "pure_mask", "what training BatchNorm adds to the mask phase"),
        ("mix_lr0.0001", "mix", "fine-tuning at 0.0001 instead of the post's rate"),
    ]


def test_a_fine_tuning_arm_is_mix_at_another_rate():
    arm, mix = arms.finetuning_arm(1e-3), ARMS["mix"]
    assert arm.name == "mix_lr0.001" and arm.learning_rate(ExperimentConfig()) == 1e-3
    assert arm.kind == mix.kind == "mix"
    same = {"name", "rate", "color", "compared_with", "about", "family"}
    assert {f.name: getattr(arm, f.name) for f in dataclasses.fields(Arm) if f.name not in same} == \
        {f.name: getattr(mix, f.name) for f in dataclasses.fields(Arm) if f.name not in same}


def test_epochs_before_place_fine_tunings_after_the_mask_phase():
    config = ExperimentConfig(epochs=7, mix_epochs=3)
    assert {name: arm.epochs_before(config) for name, arm in ARMS.items()} == {
        "mask": 0, "weights": 0, "mix": 7, "pure_mask": 0, "equal_cost": 0, "bn_only": 0, "random_mask": 7,
        "weights_anneal": 7}


def test_the_annealing_control_is_mix_without_the_mask():
    """weights_anneal trains what mix trains, for as long, on mix's batches, from weights' selected network."""
    config = ExperimentConfig(phases=("mask", "weights", "mix", "weights_anneal"), finetune_lrs=(1e-3,),
                              anneal_every_rate=True, finetune_lr=1e-4, mix_epochs=3)
    anneal, mix = config.arm("weights_anneal"), config.arm("mix")
    assert (anneal.start, anneal.masked, anneal.trains) == ("best_weights", False, "everything")
    assert (anneal.epoch_count(config), anneal.batch_order) == (mix.epoch_count(config), mix.batch_order)
    assert anneal.learning_rate(config) == 1e-4 == anneal.learning_rate(config.replace(anneal_lr=None))
    assert anneal.learning_rate(config.replace(anneal_lr=3e-3)) == 3e-3  # its own rate, once tuned
    assert config.arms()[-1] == "weights_anneal_lr0.001" and config.arm("weights_anneal_lr0.001").kind == "weights_anneal"
    assert ("mix", "weights_anneal") in [(a, b) for a, b, _ in arms.comparisons(config.arm_records())]
    assert ("mix_lr0.001", "weights_anneal_lr0.001") in [(a, b) for a, b, _ in arms.comparisons(config.arm_records())]
    with pytest.raises(ValueError, match=r"'weights_anneal' needs 'weights'"):
        ExperimentConfig(phases=("mask", "mix", "weights_anneal"))
    with pytest.raises(ValueError, match=r"anneal_every_rate=True is not allowed: False unless phases has "
                                         r"'weights_anneal'"):
        ExperimentConfig(finetune_lrs=(1e-3,), anneal_every_rate=True)


def test_each_arm_rate_field_falls_back_to_its_family_rate():
    config = ExperimentConfig(phases=tuple(ARMS), learning_rate=0.003, finetune_lr=1e-4)
    rates = {arm.name: arm.learning_rate(config) for arm in config.arm_records()}
    assert rates["equal_cost"] == 0.003 and rates["random_mask"] == 1e-4 and rates["weights_anneal"] == 1e-4
    tuned = config.replace(equal_cost_lr=0.01, random_mask_lr=1e-3, anneal_lr=1e-2, mask_lr=0.05)
    rates = {arm.name: arm.learning_rate(tuned) for arm in tuned.arm_records()}
    assert (rates["weights"], rates["equal_cost"], rates["mix"], rates["random_mask"], rates["weights_anneal"],
            rates["mask"]) == (0.003, 0.01, 1e-4, 1e-3, 1e-2, 0.05)
    for name in ("equal_cost_lr", "random_mask_lr", "anneal_lr"):  # stored runs keep their names
        assert name not in config.identity() and name in tuned.identity()
    with pytest.raises(ValueError, match=r"ExperimentConfig.anneal_lr=-1 is not allowed"):
        ExperimentConfig(anneal_lr=-1)


def test_arm_metrics_round_trip_and_refuse_unknown_fields():
    metrics = ArmMetrics(0.5, 0.875, best_epoch=3, best_val_accuracy=0.9, epochs=5, seconds=1.5,
                         test_accuracy_draws=(0.87, 0.88))
    record = metrics.to_dict()
    assert record["test_accuracy_draws"] == [0.87, 0.88] and ArmMetrics.from_dict(record) == metrics
    assert ArmMetrics(2.3, 0.1).to_dict() == {"test_loss": 2.3, "test_accuracy": 0.1}  # the untrained network
    with pytest.raises(ValueError, match=r"metrics.json \(mix\): .* found \['test_acc', 'test_loss'\]"):
        ArmMetrics.from_dict({"test_loss": 1.0, "test_acc": 0.5}, "metrics.json (mix)")
    assert math.isnan(ArmMetrics.from_dict({"test_loss": float("nan"), "test_accuracy": 0.0}).test_loss)
