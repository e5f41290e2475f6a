"""The figure helpers on a known history and a known utilisation table, and what makes them legible:
every line told apart by colour and style, legends off the data, whole-epoch ticks."""

import matplotlib

matplotlib.use("Agg")

from pathlib import Path  # noqa: E402

import matplotlib.colors as mcolors  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from supermask_lib.report import plots  # noqa: E402
from supermask_lib.experiment.config import ExperimentConfig  # noqa: E402
from supermask_lib.experiment.results import RunResult  # noqa: E402


def _history(offset):
    return pd.DataFrame({"epoch": [0, 1, 2], "accuracy": [0.1 + offset, 0.5 + offset, 0.7 + offset],
                         "val_accuracy": [0.2 + offset, 0.4 + offset, 0.6 + offset]})


def test_accuracy_figure_has_train_and_val_panels_with_one_line_per_phase():
    histories = {"mask": _history(0.0), "weights": _history(0.05), "mix": _history(0.2)}
    fig = plots.plot_accuracy(histories, title="mnist")
    train, val = fig.axes
    assert (train.get_title(), val.get_title()) == ("mnist train", "mnist val")
    assert train.get_xlabel() == "epoch" and train.get_ylabel() == "accuracy"
    for ax, column in ((train, "accuracy"), (val, "val_accuracy")):
        assert [line.get_label() for line in ax.get_lines()] == ["mask", "weights", "mix"]
        for line, (phase, history) in zip(ax.get_lines(), histories.items()):
            np.testing.assert_array_equal(line.get_xdata(), history["epoch"] + 1)  # epochs count from 1
            np.testing.assert_array_equal(line.get_ydata(), history[column])
    (legend,) = fig.legends  # one legend for both panels, below them
    assert [t.get_text() for t in legend.get_texts()] == ["mask", "weights", "mix"]
    assert train.get_lines()[2].get_color() != train.get_lines()[0].get_color()
    _assert_legible(fig)


def test_utilization_figure_plots_fractions_sizes_and_marks_shortcuts():
    table = pd.DataFrame({
        "kind": ["conv", "conv", "conv_1x1", "dense"],
        "n_weights": [432, 18432, 2048, 640],
        "fraction_masked": [0.1, 0.15, 0.02, 0.05],
    }, index=pd.Index([0, 1, 2, 3], name="index"))
    fig = plots.plot_mask_utilization(table, title="cifar10")
    left, right = fig.axes
    assert left.get_title() == "cifar10"
    assert left.get_ylabel() == "fraction of weights masked" and right.get_ylabel() == "# weights in layer"
    np.testing.assert_array_equal(left.get_lines()[0].get_ydata(), table["fraction_masked"])
    np.testing.assert_array_equal(right.get_lines()[0].get_ydata(), table["n_weights"])
    marked = left.collections[0].get_offsets()
    np.testing.assert_array_equal(np.asarray(marked), [[2, 0.02]])
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["fraction masked", "1x1 shortcut", "# weights"]
    _assert_legible(fig)


def _style(line):
    return mcolors.to_hex(line.get_color()), line.get_linestyle()


def _assert_legible(fig):
    """Lines told apart, whole-number x ticks, every legend clear of every panel's data area and labels."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        lines = ax.get_lines()
        styles = [_style(line) for line in lines]
        assert len(set(styles)) == len(styles), f"two lines share colour and line style: {styles}"
        markers = [line.get_marker() for line in lines]
        assert len(set(markers)) == len(markers), f"two lines share a marker: {markers}"
        if lines:
            low, high = ax.get_xlim()
            ticks = [t for t in ax.get_xticks() if low <= t <= high]
            assert ticks and all(float(t).is_integer() for t in ticks), f"x ticks {ticks}"
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert legends
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            assert not box.overlaps(ax.get_window_extent(renderer)), "the legend covers a panel's data"
            assert not box.overlaps(ax.xaxis.label.get_window_extent(renderer)), "the legend covers the x label"
            for label in ax.get_xticklabels():
                if label.get_text():
                    assert not box.overlaps(label.get_window_extent(renderer)), "the legend covers a tick label"


def test_twelve_lines_are_told_apart_by_colour_and_style_and_their_legend_is_off_the_data():
    # The literature figure: a dozen recipes, none of them an arm, 15 epochs (x ticks would fall at 2.5, 7.5…).
    histories = {f"recipe{i}": pd.DataFrame({"epoch": range(15), "accuracy": np.linspace(0.1, 0.5 + i / 50, 15),
                                             "val_accuracy": np.linspace(0.1, 0.4 + i / 50, 15)})
                 for i in range(12)}
    fig = plots.plot_accuracy(histories, title="cifar10 mask only")
    for ax in fig.axes:
        assert len(ax.get_lines()) == 12
        assert len({line.get_color() for line in ax.get_lines()}) == 10  # every colour of the palette in use
    _assert_legible(fig)
    plots.close(fig)


def _study_result(seed, histories):
    config = ExperimentConfig(model="fc", dataset="mnist", seed=seed, epochs=4, mix_epochs=3,
                              phases=("mask", "weights", "mix", "equal_cost", "random_mask"))
    return RunResult(Path(f"run{seed}"), config, {}, {}, {}, histories, {}, "holdout")


def test_study_arms_that_start_alike_stay_visible_and_controls_are_dashed():
    def history(values):
        return pd.DataFrame({"epoch": range(len(values)), "val_accuracy": values})

    results = {}
    for seed in (0, 1):
        plain = [0.3 + seed / 100, 0.5, 0.6, 0.65]  # weights and equal_cost train identically for 4 epochs
        results[seed] = _study_result(seed, {
            "mask": history([0.2, 0.4, 0.5, 0.55]),
            "weights": history(plain),
            "mix": history([0.7, 0.72, 0.74]),
            "equal_cost": history(plain + [0.67, 0.68, 0.69]),
            "random_mask": history([0.6, 0.62, 0.64]),
        })
    fig = plots.plot_study_curves(results, title="cifar10")
    frozen, weights = fig.axes[:2]
    lines = {line.get_label(): line for line in weights.get_lines()}
    assert list(lines) == ["weights", "mix", "equal_cost", "random_mask"]
    np.testing.assert_allclose(lines["equal_cost"].get_xdata()[:4], lines["weights"].get_xdata())
    np.testing.assert_allclose(lines["equal_cost"].get_ydata()[:4], lines["weights"].get_ydata())
    # equal_cost, drawn later on top of weights, lets it show through: not solid, markers on other points
    assert lines["weights"].get_linestyle() == "-" and lines["equal_cost"].get_linestyle() not in ("-", "None")
    assert lines["equal_cost"].get_markevery() == (1, 2)
    assert lines["equal_cost"].get_zorder() > lines["weights"].get_zorder()
    # the control: its arm's colour, dashed
    assert _style(lines["random_mask"]) == (_style(lines["mix"])[0], "--")
    np.testing.assert_allclose(lines["mix"].get_xdata(), [5, 6, 7])  # after the mask phase's 4 epochs
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["mask", "weights", "mix", "equal_cost", "random_mask"]
    _assert_legible(fig)
    plots.close(fig)


@pytest.mark.parametrize("epochs", [3, 15, 40])
def test_epoch_axes_have_whole_epoch_ticks(epochs):
    history = pd.DataFrame({"epoch": range(epochs), "accuracy": np.linspace(0, 1, epochs),
                            "val_accuracy": np.linspace(0, 1, epochs)})
    fig = plots.plot_accuracy({"mask": history}, title="mnist")
    _assert_legible(fig)
    plots.close(fig)


def test_the_legibility_check_catches_a_legend_on_the_data_and_shared_styles():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1, 2, 3, 4], [0, 1, 2, 3, 4], color="tab:blue", label="a")
    ax.plot([0, 1, 2, 3, 4], [1, 2, 3, 4, 5], color="tab:blue", label="b")
    ax.legend(loc="center")
    with pytest.raises(AssertionError, match="share colour"):
        _assert_legible(fig)
    ax.lines[1].set_linestyle("--")
    ax.lines[1].set_marker("s")
    ax.lines[0].set_marker("o")
    with pytest.raises(AssertionError, match="x ticks"):  # 0, 0.5, 1… on five points
        _assert_legible(fig)
    ax.xaxis.set_major_locator(plots.MaxNLocator(integer=True))
    with pytest.raises(AssertionError, match="covers a panel"):
        _assert_legible(fig)
    plt.close(fig)
