"""The figure helpers on known histories and tables, and what makes them legible at the book's column width:
every text at least ``plots.MIN_TEXT_PX`` on the page, no colour twice in a panel, legends off the data, no label
on the data, titles and legends clear of each other, whole-epoch ticks; each check with a probe that fails it."""

import matplotlib

matplotlib.use("Agg")

from pathlib import Path  # noqa: E402

import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.container import BarContainer, ErrorbarContainer  # noqa: E402
from matplotlib.legend import Legend  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from supermask_lib.report import plots  # noqa: E402
from supermask_lib.experiment.config import ExperimentConfig  # noqa: E402
from supermask_lib.experiment.results import RunResult  # noqa: E402


def _shown_scale(fig, renderer):
    """How much the page shrinks the PNG myst-nb stores (``bbox_inches="tight"`` at ``plots.DPI``)."""
    width_px = (fig.get_tightbbox(renderer).width + 2 * plots.PAD_IN) * plots.DPI
    return min(1.0, plots.COLUMN_PX / width_px)


def _series(ax):
    """``[(label, colour, marker)]`` of the panel's named series: lines, error bars and bars (not reference lines)."""
    found, inside = [], set()
    for container in ax.containers:
        if container.get_label().startswith("_"):
            continue
        if isinstance(container, ErrorbarContainer):
            line = container.lines[0]
            inside.add(id(line))
            found.append((container.get_label(), mcolors.to_hex(line.get_color()), line.get_marker()))
        elif isinstance(container, BarContainer) and container.patches:
            found.append((container.get_label(), mcolors.to_hex(container.patches[0].get_facecolor(), False), None))
    for line in ax.get_lines():
        if id(line) not in inside and not line.get_label().startswith("_") and len(line.get_xdata()):
            found.append((line.get_label(), mcolors.to_hex(line.get_color()), line.get_marker()))
    return found


def _data_points(ax):
    """Every plotted point of the panel in display coordinates (lines and scatter points)."""
    points = [line.get_transform().transform(np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float))
              for line in ax.get_lines() if len(line.get_xdata()) and not line.get_label().startswith("_child")]
    points += [c.get_offset_transform().transform(c.get_offsets()) for c in ax.collections
               if hasattr(c, "get_offsets") and len(c.get_offsets()) and c.get_label() and not
               c.get_label().startswith("_")]
    points = [p[np.isfinite(p).all(axis=1)] for p in points]
    return np.concatenate(points) if points else np.zeros((0, 2))


def _covers(box, points):
    return bool(len(points)) and bool(((points[:, 0] >= box.x0) & (points[:, 0] <= box.x1) & (points[:, 1] >= box.y0)
                                       & (points[:, 1] <= box.y1)).any())


def _assert_legible(fig):
    """The figure as the book shows it at a 1280 px window: see the module's docstring."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    scale = _shown_scale(fig, renderer)
    for text in fig.findobj(Text):
        if text.get_visible() and text.get_text().strip():
            shown = text.get_fontsize() * plots.DPI / 72 * scale
            assert shown >= plots.MIN_TEXT_PX, f"{text.get_text()!r} is {shown:.1f} px on the page"
    axes = [ax for ax in fig.findobj(plt.Axes) if ax.get_visible()]
    for ax in axes:
        series = _series(ax)
        colours = [colour for _, colour, _ in series]
        assert len(set(colours)) == len(colours), f"a colour used twice in {ax.get_title()!r}: {series}"
        markers = [marker for _, _, marker in series if marker not in (None, "None", "")]
        assert len(set(markers)) == len(markers), f"two series share a marker: {series}"
        if "epoch" in ax.get_xlabel() and ax.get_lines():
            low, high = ax.get_xlim()
            ticks = [t for t in ax.get_xticks() if low <= t <= high]
            assert ticks and all(float(t).is_integer() for t in ticks), f"x ticks {ticks}"
        points = _data_points(ax)
        for text in ax.texts:
            assert not _covers(text.get_window_extent(renderer), points), f"{text.get_text()!r} is drawn on the data"
    legends = fig.findobj(Legend)
    assert legends, "no legend"
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in axes:
            assert not _covers(box, _data_points(ax)), "the legend covers a data point"
            assert not box.overlaps(ax.get_window_extent(renderer)), "the legend covers a panel's data area"
            assert not box.overlaps(ax.xaxis.label.get_window_extent(renderer)), "the legend covers the x label"
            for label in ax.get_xticklabels():
                if label.get_text():
                    assert not box.overlaps(label.get_window_extent(renderer)), "the legend covers a tick label"
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for ax in axes
             for t in (ax.title, ax.xaxis.label, ax.yaxis.label) if t.get_text() and t.get_visible()]
    boxes += [(f"legend {i}", legend.get_window_extent(renderer)) for i, legend in enumerate(legends)]
    for i, (a, first) in enumerate(boxes):
        for b, second in boxes[i + 1:]:
            assert not first.overlaps(second), f"{a!r} and {b!r} overlap"


def _history(offset):
    return pd.DataFrame({"epoch": [0, 1, 2], "accuracy": [0.1 + offset, 0.5 + offset, 0.7 + offset],
                         "val_accuracy": [0.2 + offset, 0.4 + offset, 0.6 + offset]})


def test_accuracy_figure_has_train_and_val_panels_with_one_line_per_phase():
    histories = {"mask": _history(0.0), "weights": _history(0.05), "mix": _history(0.2), "random_mask": _history(0.1)}
    fig = plots.plot_accuracy(histories, title="mnist")
    train, val = fig.axes
    assert (train.get_title(), val.get_title()) == ("mnist train", "mnist validation")
    assert train.get_xlabel() == "epoch" and train.get_ylabel() == "accuracy"
    for ax, column in ((train, "accuracy"), (val, "val_accuracy")):
        assert [line.get_label() for line in ax.get_lines()] == list(histories)
        for line, history in zip(ax.get_lines(), histories.values()):
            np.testing.assert_array_equal(line.get_xdata(), history["epoch"] + 1)  # epochs count from 1
            np.testing.assert_array_equal(line.get_ydata(), history[column])
    (legend,) = fig.legends  # one legend for both panels, below them
    assert [t.get_text() for t in legend.get_texts()] == list(histories)
    # random_mask's own colour is mix's (its twin): in one panel it takes another
    assert train.get_lines()[3].get_color() != train.get_lines()[2].get_color()
    assert fig.get_figwidth() == pytest.approx(plots.COLUMN_PX / plots.DPI - 2 * plots.PAD_IN)
    _assert_legible(fig)
    plots.close(fig)


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
    plots.close(fig)


def test_a_dozen_lines_become_small_multiples_of_six_or_the_callers_groups():
    # The literature figure: a dozen recipes, none of them an arm, 15 epochs (x ticks would fall at 2.5, 7.5…).
    histories = {f"recipe{i}": pd.DataFrame({"epoch": range(15), "accuracy": np.linspace(0.1, 0.5 + i / 50, 15),
                                             "val_accuracy": np.linspace(0.1, 0.4 + i / 50, 15)})
                 for i in range(12)}
    fig = plots.plot_accuracy(histories, title="cifar10 mask only")
    assert [len(ax.get_lines()) for ax in fig.axes] == [6, 6, 6, 6]
    assert fig.axes[0].get_title() == "lines 1–6 of 12 train" and fig.get_suptitle() == "cifar10 mask only"
    _assert_legible(fig)
    plots.close(fig)
    groups = {"conv2": ["recipe0", "recipe3"], "conv4": ["recipe1", "recipe2", "recipe4"]}
    fig = plots.plot_accuracy(histories, title="cifar10", groups=groups)
    assert [[line.get_label() for line in ax.get_lines()] for ax in fig.axes[::2]] == list(groups.values())
    _assert_legible(fig)
    plots.close(fig)
    with pytest.raises(ValueError, match=r"groups: \['recipe99'\] are not among"):
        plots.plot_accuracy(histories, groups={"x": ["recipe99"]})
    with pytest.raises(ValueError, match="names: 12 lines in one panel; at most 10"):
        plots.line_colors(list(histories))


def _study_result(seed, histories):
    config = ExperimentConfig(model="fc", dataset="mnist", seed=seed, epochs=4, mix_epochs=3,
                              phases=("mask", "weights", "mix", "equal_cost", "random_mask"), finetune_lrs=(1e-3,),
                              random_mask_every_rate=True)
    return RunResult(Path(f"run{seed}"), config, {}, {}, {}, histories, {}, "holdout")


def test_study_curves_are_small_multiples_with_equal_cost_drawn_where_it_leaves_weights():
    def history(values):
        return pd.DataFrame({"epoch": range(len(values)), "val_accuracy": values})

    results = {}
    for seed in (0, 1):
        plain = [0.3 + seed / 100, 0.5, 0.6, 0.65]  # weights and equal_cost train identically for 4 epochs
        results[seed] = _study_result(seed, {
            "mask": history([0.2, 0.4, 0.5, 0.55]), "weights": history(plain),
            "mix": history([0.7, 0.72, 0.74]), "equal_cost": history(plain + [0.67, 0.68, 0.69]),
            "random_mask": history([0.6, 0.62, 0.64]), "mix_lr0.001": history([0.7, 0.71, 0.75]),
            "random_mask_lr0.001": history([0.5, 0.52, 0.6]),
        })
    fig = plots.plot_study_curves(results, title="cifar10")
    assert [ax.get_title() for ax in fig.axes] == ["frozen random weights", "training the weights",
                                                   "mix vs random mask", "mix_lr0.001 vs random mask"]
    assert fig.get_suptitle() == "cifar10"
    lines = {line.get_label(): line for line in fig.axes[1].get_lines()}
    assert list(lines) == ["weights", "equal_cost"]
    np.testing.assert_allclose(lines["equal_cost"].get_xdata(), [4, 5, 6, 7])  # from weights' last epoch on
    np.testing.assert_allclose(lines["equal_cost"].get_ydata(), [0.65, 0.67, 0.68, 0.69])
    mix = {line.get_label(): line for line in fig.axes[3].get_lines()}
    assert list(mix) == ["equal_cost", "learned mask", "random mask"]
    np.testing.assert_allclose(mix["learned mask"].get_xdata(), [5, 6, 7])  # after the mask phase's 4 epochs
    np.testing.assert_allclose(mix["learned mask"].get_ydata(), [0.7, 0.71, 0.75])
    np.testing.assert_allclose(mix["equal_cost"].get_xdata(), [5, 6, 7])  # the reference over the same epochs
    assert mix["random mask"].get_linestyle() == "--"
    _assert_legible(fig)
    plots.close(fig)


@pytest.mark.parametrize("epochs", [3, 15, 40])
def test_epoch_axes_have_whole_epoch_ticks(epochs):
    history = pd.DataFrame({"epoch": range(epochs), "accuracy": np.linspace(0, 1, epochs),
                            "val_accuracy": np.linspace(0, 1, epochs)})
    fig = plots.plot_accuracy({"mask": history}, title="mnist")
    _assert_legible(fig)
    plots.close(fig)


def _differences(values):
    frame = pd.DataFrame({"difference": values}, index=["mix − weights", "mix − equal_cost", "mix − random_mask"])
    return frame.assign(low=frame["difference"] - 0.01, high=frame["difference"] + 0.01)


def test_the_answer_gives_the_controls_their_own_panel_and_scale_so_a_small_difference_shows():
    levels = pd.DataFrame({"ours": [0.96, 0.97], "ours low": [0.95, 0.96], "ours high": [0.97, 0.98],
                           "post low": [0.98, 0.98], "post high": [0.99, 0.99]}, index=["mask", "weights"])
    fig = plots.plot_answer({"mnist": _differences([-0.013, -0.012, 0.8]), "cifar10": _differences([-0.05, 0.02, 0.3])},
                            {"mnist": levels, "cifar10": levels})
    headline, controls = fig.axes[0], fig.axes[1]
    assert [t.get_text() for t in headline.get_yticklabels()] == ["mix − weights", "mix − equal_cost"]
    assert [t.get_text() for t in controls.get_yticklabels()] == ["mix − random_mask"]
    low, high = headline.get_xlim()
    assert low < -0.023 and 0 < high < 0.01  # the headline's own scale: -0.013 sits well left of zero
    assert controls.get_xlim()[1] > 0.81
    _assert_legible(fig)
    plots.close(fig)


def test_the_legibility_check_catches_small_text_shared_colours_and_labels_or_legends_on_the_data():
    fig = plots.plot_accuracy({"mask": _history(0.0)}, title="mnist")
    fig.axes[0].set_xlabel("epoch", fontsize=4)  # 4 pt: 5.6 px
    with pytest.raises(AssertionError, match="'epoch' is 5.6 px on the page"):
        _assert_legible(fig)
    plots.close(fig)
    fig = plt.figure(figsize=(plots.COLUMN_PX / plots.DPI * 2, 3))  # 10 pt at about half size: 7 px
    fig.add_subplot().plot([0, 1], [0, 1], label="a")
    fig.legend(loc="outside lower center")
    with pytest.raises(AssertionError, match="px on the page"):
        _assert_legible(fig)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3), layout="constrained")
    ax.plot([0, 1, 2, 3, 4], [0, 1, 2, 3, 4], color="tab:blue", marker="o", label="a")
    ax.plot([0, 1, 2, 3, 4], [1, 2, 3, 4, 5], color="tab:blue", linestyle="--", marker="s", label="b")
    ax.legend(loc="center", bbox_to_anchor=(2, 2), bbox_transform=ax.transData)  # on the point (2, 2)
    with pytest.raises(AssertionError, match="a colour used twice"):  # told apart by style, not by colour
        _assert_legible(fig)
    ax.lines[1].set_color("tab:orange")
    with pytest.raises(AssertionError, match="covers a data point"):
        _assert_legible(fig)
    ax.get_legend().remove()
    fig.legend(loc="outside lower center")
    ax.annotate("3 seeds", (2, 2))
    with pytest.raises(AssertionError, match="'3 seeds' is drawn on the data"):
        _assert_legible(fig)
    ax.texts[0].remove()
    ax.set_title("a long title " * 3)
    fig.legend(loc="upper center")  # on the title
    with pytest.raises(AssertionError, match="overlap"):
        _assert_legible(fig)
    fig.legends[-1].remove()
    ax.set_xlabel("epoch")
    with pytest.raises(AssertionError, match="x ticks"):  # 0, 0.5, 1… on five points
        _assert_legible(fig)
    ax.xaxis.set_major_locator(plots.MaxNLocator(integer=True))
    _assert_legible(fig)
    plt.close(fig)
