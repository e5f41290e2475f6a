"""The figure helpers on a known history and a known utilisation table."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from supermask_lib import plots  # noqa: E402


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
            np.testing.assert_array_equal(line.get_xdata(), history["epoch"])
            np.testing.assert_array_equal(line.get_ydata(), history[column])
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["mask", "weights", "mix"]
    assert train.get_lines()[2].get_color() != train.get_lines()[0].get_color()


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
    labels = [t.get_text() for t in left.get_legend().get_texts()]
    assert labels == ["fraction masked", "1x1 shortcut", "# weights"]
