"""The training loop's callbacks: an arm's epochs committed one by one, and nothing from a diverged epoch."""

import pytest

from supermask_lib.experiment import storage
from supermask_lib.experiment.callbacks import NonFiniteLossError
from supermask_lib.experiment.runner import run_experiment
from supermask_lib.experiment.storage import RunFolder
from tests.test_experiment import tiny

NAN_INIT = {"class_name": "Constant", "config": {"value": float("nan")}}


@pytest.mark.slow
@pytest.mark.parametrize("field", ["weight_init", "score_init"])
def test_a_non_finite_loss_stops_the_arm_and_commits_nothing_of_that_epoch(data_dir, tmp_path, field):
    config = tiny(data_dir, epochs=2, **{field: NAN_INIT})
    with pytest.raises(NonFiniteLossError, match=r"arm 'mask', epoch 1: the training loss is nan; nothing of this "
                                                 r"epoch was committed"):
        run_experiment(config, tmp_path)
    (run_dir,) = tmp_path.iterdir()
    folder = RunFolder(run_dir)
    manifest = storage.read_json(folder.manifest)
    assert "mask" not in manifest["phases"] and not manifest["finished"]
    assert sorted(manifest["files"]) == ["config.json", "initial.weights.h5"]
    assert not list(folder.state_dir.iterdir()) and not folder.history("mask").exists()


@pytest.mark.slow
def test_each_epoch_tested_agrees_with_the_selected_epochs_test(data_dir, tmp_path):
    """With test_each_epoch the history holds every epoch's test numbers; the selected epoch's are the arm's."""
    config = tiny(data_dir, epochs=3, mix_epochs=2, test_each_epoch=True)
    result = run_experiment(config, tmp_path)
    for arm in ("mask", "weights", "mix"):
        history, metrics = result.histories[arm], result.metrics[arm]
        assert list(history.columns[-2:]) == ["test_loss", "test_accuracy"] and history["test_accuracy"].notna().all()
        selected = history.set_index("epoch").loc[metrics.best_epoch]
        assert selected["test_accuracy"] == pytest.approx(metrics.test_accuracy, abs=1e-6), arm
        assert selected["test_loss"] == pytest.approx(metrics.test_loss, rel=1e-5), arm
    assert "test_each_epoch" not in config.replace(test_each_epoch=False).identity()  # older runs keep their names


def test_the_time_left_is_measured_from_the_epochs_trained():
    from supermask_lib.experiment.callbacks import RunClock

    clock = RunClock(10)
    assert clock.left() is None and clock.text() == ""  # no promise before an epoch is measured
    clock.tick(60.0)
    clock.tick(120.0)
    assert clock.left() == (8 * 60.0, 8 * 120.0)
    assert clock.text() == "  about 8–16 min left (8 epochs)"
    for _ in range(7):
        clock.tick(3.0)
    assert clock.text() == "  about 0–2 min left (1 epoch)" and clock.left() == (3.0, 120.0)
    fast = RunClock(5)
    fast.tick(2.0)
    assert fast.text() == "  under a minute left (4 epochs)"
    clock.tick(3.0)
    assert clock.text() == "" and clock.epochs_left == 0


def test_an_arms_first_epoch_counts_once_per_arm_left_not_for_every_epoch():
    """The GPU's case: the first epoch compiles (8 s), the others take about 1 s; three arms of 30 epochs."""
    from supermask_lib.experiment.callbacks import RunClock

    clock = RunClock(90, arms_left=3)
    clock.tick(8.0, first=True)
    assert clock.left() == (89 * 8.0, 89 * 8.0)  # one epoch measured: it stands for every epoch
    clock.tick(1.0)
    clock.tick(1.5)
    # 87 epochs at 1 to 1.5 s, and 2 arms still to start, each adding 7 s (8 s over the fastest epoch)
    assert clock.left() == (87 * 1.0 + 2 * 7.0, 87 * 1.5 + 2 * 7.0)
    for _ in range(27):
        clock.tick(1.0)
    clock.tick(3.0, first=True)  # the next arm compiles faster (a cached program): 2 s over the fastest
    assert clock.arms_left == 1 and clock.left() == (59 * 1.0 + 1 * 2.0, 59 * 1.5 + 1 * 7.0)
