"""The answer's figures: the paired differences it rests on, and the same differences along the width axis."""

import matplotlib.pyplot as plt
import numpy as np

from supermask_lib.report.plots.style import PALETTE, WIDTH_IN, figure

CONTROL = "random_mask"  # a comparison against a random mask is a control: its own panel, its own scale


def _is_control(row):
    return row.split(" − ")[-1].startswith(CONTROL)


def _forest(ax, frame, color, marker, labels):
    """One forest panel: a row per comparison, its mean and 95% interval, the x axis fitted to these rows and 0."""
    y = np.arange(len(frame))[::-1]
    ax.errorbar(frame["difference"], y, xerr=[frame["difference"] - frame["low"], frame["high"] - frame["difference"]],
                fmt=marker, color=color, capsize=3, label="mean over seeds, 95% interval")
    ax.axvline(0, color="black", linewidth=0.8)
    low, high = min(frame["low"].min(), 0), max(frame["high"].max(), 0)
    pad = 0.08 * (high - low or 1)
    ax.set_xlim(low - pad, high + pad)
    ax.set_yticks(y, list(frame.index) if labels else [""] * len(frame))
    ax.set_ylim(-0.6, len(frame) - 0.4)
    ax.grid(axis="x", alpha=0.3)


def plot_answer(differences, levels, title="paired differences in test accuracy"):
    """The answer in one figure: on the left the paired differences, on the right the arms' levels beside the post's.

    Per dataset, two forest panels, each with its own x scale so that a difference of a hundredth shows beside
    zero: the comparisons with trained weights and the mask phase, then the controls against a random mask (far
    larger differences). ``differences`` maps a dataset to
    :func:`supermask_lib.report.chapters.answer.answer_differences`'s frame (index "arm − baseline"; ``difference``,
    ``low``, ``high``); ``levels`` maps it to :func:`~supermask_lib.report.chapters.answer.levels` (our mean and
    interval, the post's range read off its figures), drawn on its own y scale per dataset.
    """
    datasets = list(differences)
    heights = []
    for dataset in datasets:
        frame = differences[dataset]
        controls = sum(_is_control(row) for row in frame.index)
        heights += [len(frame) - controls + 1.2, controls + 1.2]
    fig = figure(0.26 * sum(heights) + 1.3, width_in=WIDTH_IN - 0.15)  # its y labels reach 0.09 in past the edge
    grid = fig.add_gridspec(len(heights), 2, width_ratios=[3, 1.4], height_ratios=heights)
    colors = dict(zip(datasets, PALETTE))
    for k, dataset in enumerate(datasets):
        frame = differences[dataset]
        for part, rows in enumerate((frame[[not _is_control(r) for r in frame.index]],
                                     frame[[_is_control(r) for r in frame.index]])):
            ax = fig.add_subplot(grid[2 * k + part, 0])
            _forest(ax, rows, colors[dataset], "os"[part], labels=True)
            against = "weight training and the mask" if part == 0 else "a random mask"
            ax.set_title(f"{dataset}: against {against}",
                         fontsize="medium")
            if k == len(datasets) - 1 and part == 1:
                ax.set_xlabel(title)
        _levels(fig.add_subplot(grid[2 * k:2 * k + 2, 1]), levels[dataset], dataset)
    handles = [plt.Line2D([], [], marker="o", color="black", linestyle="none", label="ours (test)"),
               plt.Rectangle((0, 0), 1, 1, color="tab:orange", alpha=0.45, label="the post (validation, read off its figures)")]
    fig.legend(handles=handles, loc="outside lower right", ncol=1, fontsize="small", frameon=False)
    return fig


def _levels(ax, frame, dataset):
    """Our arms' test accuracy (black) beside the post's range (orange bar) for one dataset, on its own scale."""
    x = np.arange(len(frame))
    ax.bar(x, frame["post high"] - frame["post low"] + 0.004, bottom=frame["post low"] - 0.002, width=0.5,
           color="tab:orange", alpha=0.45, label="the post")
    ax.errorbar(x, frame["ours"], yerr=[frame["ours"] - frame["ours low"], frame["ours high"] - frame["ours"]],
                fmt="o", color="black", capsize=3, label="ours (test)")
    ax.set_xticks(x, list(frame.index), rotation=45, ha="right", rotation_mode="anchor")
    ax.set_xlim(-0.6, len(frame) - 0.4)
    ax.set_title(f"{dataset}: accuracy", fontsize="medium")
    ax.grid(axis="y", alpha=0.3)


def plot_width_trend(points, title="the answer along the width axis"):
    """One panel per comparison: its paired difference (mean over seeds, 95% interval) against training compute.

    ``points`` maps "arm − baseline" to a frame indexed by width with ``difference``, ``ci95``, ``seeds`` and
    ``training PFLOPs`` (:func:`supermask_lib.report.chapters.scale.trend_points`). The x axis is logarithmic in
    compute; its ticks name each width's compute, width and seeds (under the axis, not on the data). With a
    ``device`` column each device is a series of its own (a colour and a marker, named in the legend), and no line
    joins widths that ran on different devices (another engine draws other weights and rounds otherwise). A width
    of one seed is drawn hollow, without an interval.
    """
    names = list(points)
    columns = min(2, len(names))
    rows = -(-len(names) // columns)
    fig = figure(2.9 * rows + 0.5)
    axes = fig.subplots(rows, columns, squeeze=False)
    frames = {name: frame if "device" in frame else frame.assign(device="") for name, frame in points.items()}
    devices = list(dict.fromkeys(device for frame in frames.values() for device in frame["device"]))
    style = {device: (color, marker) for device, color, marker in zip(devices, PALETTE, "osD^v")}
    for ax, name in zip(axes.flat, names):
        frame = frames[name]
        for device, (color, marker) in style.items():
            on = frame[frame["device"] == device]
            if not len(on):
                continue
            several = on["seeds"].to_numpy() > 1
            x, y = on["training PFLOPs"].to_numpy(), on["difference"].to_numpy()
            ax.errorbar(x, y, yerr=np.nan_to_num(on["ci95"].where(on["seeds"] > 1).to_numpy()), fmt=f"{marker}-",
                        color=color, capsize=4, label=device or "mean over seeds")
            if (~several).any():
                ax.plot(x[~several], y[~several], marker, color=color, markerfacecolor="white", linestyle="none",
                        label="_one seed")
        frame = frame.sort_values("training PFLOPs")
        x = frame["training PFLOPs"].to_numpy()
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_xlim(x.min() / 1.8, x.max() * 1.8)
        ax.set_xticks(x, [f"{pf:.2g}\nw{width}, {int(seeds)}s" for pf, width, seeds
                          in zip(x, frame.index, frame["seeds"])])
        ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.set_title(name, fontsize="medium")
        ax.grid(alpha=0.3)
        if ax in axes[:, 0]:
            ax.set_ylabel("difference in test accuracy")
        if ax in axes[-1]:
            ax.set_xlabel("PFLOPs (log); w: width, s: seeds")
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    if len(style) > 1 or devices != [""]:
        fig.legend(*axes.flat[0].get_legend_handles_labels(), loc="outside lower center", ncol=len(style),
                   fontsize="small", frameon=False)
    fig.suptitle(f"{title}: against a seed's training compute")
    return fig
