"""The tuning stage: grids checked, rates chosen on validation, edges extended, stored runs read back."""

import pytest

from supermask_lib.study import scale
from supermask_lib.study import tuning
from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.experiment.results import load_run
from supermask_lib.study.tuning import TuningPlan


def points_of(arm, values):
    return [(arm, rate, accuracy) for rate, accuracy in values.items()]


def test_a_grid_needs_three_rates_three_times_apart():
    assert tuning.check_grid([0.01, 0.001, 0.1], "g") == (0.001, 0.01, 0.1)
    with pytest.raises(ValueError, match=r"g=\[0.001, 0.002, 0.01\] is not allowed: a list of at least 3 rates .* "
                                         r"each at least 3x the next smaller"):
        tuning.check_grid([0.001, 0.002, 0.01], "g")
    with pytest.raises(ValueError, match=r"g=\[0.001, 0.01\] is not allowed"):
        tuning.check_grid([0.001, 0.01], "g")


def test_the_best_validation_rate_is_chosen_and_an_edge_is_extended_outward():
    interior = points_of("weights", {0.001: 0.50, 0.003: 0.61, 0.01: 0.55})
    assert tuning.choose(interior, "weights") == (0.003, False)
    assert tuning.extension(interior, "weights", (0.001, 0.003, 0.01)) is None
    high = points_of("weights", {0.001: 0.50, 0.003: 0.55, 0.01: 0.61})
    assert tuning.choose(high, "weights") == (0.01, True)
    assert tuning.extension(high, "weights", (0.001, 0.003, 0.01)) == pytest.approx(0.01 * 3)
    low = points_of("mask", {0.015: 0.7, 0.05: 0.6, 0.15: 0.5})
    assert tuning.extension(low, "mask", (0.015, 0.05, 0.15)) == pytest.approx(0.015 / (0.05 / 0.015))
    tie = points_of("mix", {1e-4: 0.6, 1e-3: 0.6, 1e-2: 0.5})
    assert tuning.choose(tie, "mix") == (1e-4, True)  # a tie goes to the smaller rate
    # After MAX_EXTENSIONS rates beyond the grid, it stops and the table says the edge.
    far = points_of("weights", {0.001 * 3 ** k: 0.5 + 0.01 * k for k in range(3 + tuning.MAX_EXTENSIONS)})
    assert tuning.extension(far, "weights", (0.001, 0.003, 0.009)) is None
    frame = tuning.table(far)
    assert frame["chosen"].sum() == 1 and bool(frame.loc[frame["chosen"], "edge"].iloc[0])


def test_chosen_rates_name_every_arms_field_or_say_what_is_missing():
    points = [(arm, 0.1 * (i + 1), 0.5) for i, arm in enumerate(tuning.RATE_FIELDS)]
    assert tuning.chosen_rates(points) == {field: pytest.approx(0.1 * (i + 1))
                                           for i, field in enumerate(tuning.RATE_FIELDS.values())}
    with pytest.raises(ValueError, match=r"no rates for \['weights_anneal'\]"):
        tuning.chosen_rates(points[:-1])


def test_the_plans_tune_their_axes_on_a_seed_of_their_own(tmp_path):
    for dataset in ("cifar10", "mnist"):
        plan = TuningPlan.load("params", dataset)
        axis, seeds = scale.load_axis("params", dataset, name=plan.axis)
        plan.check_against(seeds)
        assert len(seeds) >= 5 and all(config.lr_schedule == "cosine" for config in axis.values())
        assert "weights_anneal" in axis[1].phases
    (tmp_path / "tuning-mnist.yaml").write_text(
        "axis: tuned\nseed: 0\ngrids:\n" + "".join(f"  {arm}: [0.001, 0.01, 0.1]\n" for arm in tuning.RATE_FIELDS))
    with pytest.raises(ValueError, match=r"seed=0 is not allowed: a seed that is not one of the axis's evaluation"):
        TuningPlan.load(tmp_path, "mnist").check_against((0, 1, 2))
    (tmp_path / "tuning-mnist.yaml").write_text(
        "axis: tuned\nseed: 9\ngrids:\n" + "".join(f"  {arm}: [0.001, 0.01, 0.1{', 1.0' * (arm == 'mask')}]\n"
                                                   for arm in tuning.RATE_FIELDS))
    with pytest.raises(ValueError, match=r"grids of one size for every arm"):
        TuningPlan.load(tmp_path, "mnist").check_against((0, 1, 2))


@pytest.mark.slow
def test_a_width_is_tuned_in_two_stages_and_read_back_from_its_stored_runs(data_dir, tmp_path):
    base = ExperimentConfig(dataset="mnist", model="fc", epochs=2, mix_epochs=1, batch_size=50, train_size=300,
                            val_size=100, test_size=100, data_dir=str(data_dir), lr_schedule="cosine",
                            phases=("mask", "weights", "mix", "equal_cost", "random_mask", "weights_anneal"),
                            augment_rotation=0.0, augment_shift=0.0, augment_flip=False, max_steps_per_epoch=2)
    grid = (1e-4, 1e-3, 1e-2)
    plan = TuningPlan("plan", "tuned", 7, {arm: grid for arm in tuning.RATE_FIELDS})
    lines = []
    points = tuning.tune_width(plan, base, tmp_path / "runs", tmp_path / "store", "mnist", log=lines.append)
    for arm in tuning.RATE_FIELDS:
        rates = sorted(rate for kind, rate, _ in points if kind == arm)
        assert set(grid) <= set(rates), arm
        extended = len(rates) > len(grid)
        assert extended == any(line.startswith(f"== {arm}") or ("fine-tuning" in line and arm in tuning.FINE_TUNING)
                               for line in lines), arm
    stored = tuning.load_points(tmp_path / "store" / "mnist", base, 7)
    assert sorted(stored) == sorted(points)
    # On another machine (no run folders), the stored runs are read back and nothing trains again.
    again = []
    assert sorted(tuning.tune_width(plan, base, tmp_path / "elsewhere", tmp_path / "store", "mnist",
                                    log=again.append)) == sorted(points)
    runs = [line for line in again if "the grid's edge" not in line]  # the rest name a run each
    assert len(runs) == len(list((tmp_path / "store" / "mnist").iterdir()))
    assert all(line.endswith("skipped") for line in runs) and not (tmp_path / "elsewhere").exists()
    assert tuning.load_points(tmp_path / "store" / "mnist", base, 8) == []  # another tuning seed: none of these
    chosen = tuning.chosen_rates(stored)
    tuned = scale.tuned_axis({1: base}, tmp_path / "store" / "mnist", 7)[1]
    assert all(getattr(tuned, field) == rate for field, rate in chosen.items())
    # The fine-tuning run's mask and weights trained at the rates stage 1 chose.
    first = {arm: tuning.choose(points, arm)[0] for arm in tuning.FIRST_STAGE}
    fine = [load_run(path, verify="stored").config for path in (tmp_path / "store" / "mnist").iterdir()]
    fine = [config for config in fine if "weights_anneal" in config.phases]
    assert fine and all((c.mask_lr, c.learning_rate) == (first["mask"], first["weights"]) for c in fine)
