"""What a report's progress line says, read from a notebook's lines (``supermask_lib/report/progress.py``)."""

import io

import pytest

from supermask_lib.experiment.callbacks import RunClock
from supermask_lib.experiment.config import ExperimentConfig
from supermask_lib.report.progress import Progress, left_text, run_epochs


def epoch_line(arm, epoch, epochs, seconds, clock=None):
    """A line as ArmCheckpoint logs it, the estimate from a real RunClock (ticked first, as the callback does)."""
    if clock is not None:
        clock.tick(seconds, first=epoch == 1)
    return (f"[{arm}] epoch {epoch}/{epochs}  loss 2.3026  acc 0.1000  val_loss 2.3026  val_acc 0.1000  lr 0.01  "
            f"kept 0.5000  {seconds:.1f}s" + (clock.text() if clock is not None else ""))


def test_epoch_lines_give_the_fraction_and_the_run_clocks_time_left():
    progress = Progress(run_epochs=[2, 3])  # a notebook of two runs: 2 epochs, then 3
    assert progress.fraction == 0 and progress.seconds_left() is None
    progress.feed("device: CPU (x86_64, 2 cores), at least 2 min of training by its arithmetic alone (each epoch's ...)")
    assert progress.seconds_left() == (120, None) and left_text(progress.seconds_left()) == "at least 2 min left"
    clock = RunClock(2, arms_left=2)
    line = epoch_line("mask", 1, 1, 40.0, clock)
    assert line.endswith("40.0s  under a minute left (1 epoch)")  # the clock's own words
    progress.feed(line)
    # 1 of 5 epochs; this run: under a minute; the next run's 3 epochs at the 40 s measured: 2 to 3 min in all
    assert progress.fraction == pytest.approx(1 / 5)
    assert progress.seconds_left() == (0 + 120, 60 + 120) and left_text(progress.seconds_left()) == "about 2–3 min left"
    progress.feed(epoch_line("weights", 1, 1, 26.0, clock))  # the run's last epoch: the clock says nothing
    assert progress.fraction == pytest.approx(2 / 5) and progress.seconds_left() == (99, 99)  # 3 x (40 + 26) / 2
    progress.feed("test accuracy: initial 0.1016, mask 0.0703, weights 0.1641")
    assert progress.fraction == pytest.approx(2 / 5) and progress.seconds_left() == (99, 99)
    progress.feed("/runs/mnist-fc-x: finished run found and verified, reusing it (overwrite=True retrains)")
    assert progress.fraction == 1 and left_text(progress.seconds_left()) == "under a minute left"


def test_a_resumed_run_counts_the_epochs_it_had_committed_from_its_clock():
    progress = Progress(run_epochs=[10])
    progress.feed("[weights] resuming after epoch 6/10")
    clock = RunClock(4, arms_left=1)  # a call that trains 4 of the run's 10 epochs
    progress.feed(epoch_line("weights", 7, 10, 60.0, clock))
    assert clock.text() == "  about 3 min left (3 epochs)"
    assert progress.fraction == pytest.approx(7 / 10) and left_text(progress.seconds_left()) == "about 3 min left"


def test_colours_and_a_range_of_minutes_are_read_too():
    progress = Progress(run_epochs=[20])
    progress.feed("\x1b[0m" + epoch_line("mask", 2, 20, 70.0) + "  about 11–14 min left (18 epochs)\n")
    assert progress.fraction == pytest.approx(2 / 20) and progress.seconds_left() == (660, 840)


def test_without_runs_the_cells_count_and_for_the_book_sphinx_stages():
    progress = Progress(cells=4)
    progress.cells_done = 1
    assert progress.fraction == 0.25 and progress.seconds_left() is None
    book = Progress()
    assert book.fraction is None
    book.feed("\x1b[01mreading sources... \x1b[39;49;00m[ 50%] \x1b[35mintro\x1b[39;49;00m")
    assert book.fraction == 0.25
    book.feed("\x1b[01mwriting output... \x1b[39;49;00m[100%] \x1b[32msetup\x1b[39;49;00m")
    assert book.fraction == 1.0


@pytest.mark.parametrize("left, text", [(None, ""), ((30, 50), "under a minute left"), ((100, None), "at least 2 min left"),
                                        ((20, 100), "under 2 min left"), ((120, 180), "about 2–3 min left"),
                                        ((180, 190), "about 3 min left"), ((30, None), "")])
def test_the_time_left_in_the_epoch_lines_words(left, text):
    assert left_text(left) == text


def test_each_runs_epochs_are_its_arms_epochs():
    assert run_epochs([ExperimentConfig(epochs=3, mix_epochs=2), ExperimentConfig(epochs=4, phases=("mask",))]) == \
        [3 + 3 + 2, 4]  # mask, weights, mix; the mask arm alone


class _Lines(io.StringIO):
    def __init__(self, progress, seen):
        super().__init__()
        self.progress, self.seen = progress, seen

    def write(self, text):
        for line in text.splitlines():
            self.progress.feed(line)
            self.seen.append((line, self.progress.fraction))
        return len(text)


@pytest.mark.slow
def test_a_real_runs_lines_count_every_epoch_and_a_reused_run_is_done_at_once(data_dir, tmp_path):
    """The runner's and the callback's own lines, not hand-made ones: the coupling the progress line rests on."""
    from supermask_lib.experiment.runner import run_experiment

    config = ExperimentConfig(dataset="mnist", model="fc", epochs=2, mix_epochs=1, batch_size=50, train_size=200,
                              val_size=100, test_size=100, data_dir=str(data_dir))
    progress, seen = Progress(run_epochs(config for _ in range(2))), []
    run_experiment(config, tmp_path / "runs", stream=_Lines(progress, seen))
    fractions = [fraction for line, fraction in seen if " epoch " in line]
    assert fractions == pytest.approx([epoch / 10 for epoch in range(1, 6)])  # 2 + 2 + 1 epochs of the 10
    assert progress.runs_done == 1 and progress.fraction == pytest.approx(0.5)
    assert seen[0][0].startswith("mnist: ") and any("left (" in line for line, _ in seen)
    run_experiment(config, tmp_path / "runs", stream=_Lines(progress, seen))  # reused: no epoch trains
    assert progress.fraction == 1 and progress.runs_done == 2
