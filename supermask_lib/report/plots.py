"""The study's figures, drawn from a run's files (matplotlib, no state).

Every line can be told apart by its colour and by its line style and marker
(no two lines of a panel share both colour and style; each has its own
marker), a line that starts on top of an earlier one (two arms that train
identically for their first epochs) is drawn dash-dotted with its markers
offset so the earlier shows through, the legends sit below the panels, and
the epoch axes have whole-epoch ticks only.
"""

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from supermask_lib.experiment.arms import ARMS

EXTRA_COLORS = ("tab:olive", "tab:brown", "tab:pink", "black", "gold", "teal")  # arms without a colour (mix_lr…)
PALETTE = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
           "tab:olive", "tab:cyan")  # lines that are not arms (the literature's recipes, the estimators)
LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "*", "p")


def arm_colors(arm_records):
    """A colour per arm: its own, else the next free one; a control (``twin``) takes its twin's colour."""
    spare = iter(EXTRA_COLORS)
    colors = {arm.name: arm.color or next(spare) for arm in arm_records if not arm.twin}
    for arm in arm_records:
        if arm.twin:
            colors[arm.name] = colors.get(arm.twin) or next(spare)
    return colors


def _color(name):
    return arm_colors(ARMS.values())[name] if name in ARMS else None


def line_colors(names):
    """A colour per line: an arm's own, the others the palette's colours no arm here has, in turn
    (past ten lines a colour comes back, and :func:`draw_line` gives it another line style)."""
    known = {name: _color(name) for name in names}
    free = [c for c in PALETTE if c not in known.values()] or list(PALETTE)
    spare = iter(free * (len(names) // len(free) + 1))
    return {name: known[name] or next(spare) for name in names}


def _starts_on(x, y, line, points=2):
    """Whether the curve ``(x, y)`` lies on ``line`` at their first common x values (up to ``points``)."""
    drawn = dict(zip(np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)))
    common = [(a, b) for a, b in zip(x, y) if a in drawn][:points]
    return bool(common) and all(np.isclose(b, drawn[a], rtol=0, atol=1e-9) for a, b in common)


def draw_line(ax, x, y, label, color, linestyle="-", **kwargs):
    """One line on ``ax``, styled so that it stays visible and distinct from the lines already there.

    Its marker is the next of :data:`MARKERS`; its style ``linestyle`` unless a line of the same colour
    has it already (then the next free one). A line that starts on an earlier one is drawn on top
    dash-dotted and thinner (its markers between the earlier's) so the earlier line shows through its gaps.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    lines = ax.get_lines()
    over = any(_starts_on(x, y, line) for line in lines)
    if over and linestyle == "-":
        linestyle = "-."
    taken = {(mcolors.to_hex(line.get_color()), line.get_linestyle()) for line in lines}
    for style in (linestyle, *LINESTYLES):
        if (mcolors.to_hex(color), style) not in taken:
            linestyle = style
            break
    marker = MARKERS[len(lines) % len(MARKERS)]
    if len(x) > 25:  # a long run: ten markers or so along the line, not one on every epoch
        step = -(-len(x) // 10)
        markevery = (step // 2 if over else 0, step)
    else:
        markevery = (1, 2) if over and len(x) > 2 else None
    return ax.plot(x, y, label=label, color=color, linestyle=linestyle, marker=marker, ms=4, markevery=markevery,
                   linewidth=1.2 if over else 1.6, zorder=2 + 0.01 * len(lines), **kwargs)[0]


def _whole_epochs(ax):
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _legend_below(fig, handles, ncol):
    """One legend for the figure, below its panels (outside every axes: constrained layout makes room)."""
    return fig.legend(handles, [h.get_label() for h in handles], loc="outside lower center",
                      ncol=min(ncol, len(handles)), fontsize="small", frameon=False)


def plot_accuracy(histories, title=""):
    """Two panels, training and validation accuracy per epoch, one line per phase.

    ``histories`` maps phase name to a DataFrame with ``epoch``, ``accuracy``
    and ``val_accuracy`` (``RunResult.histories``).
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), sharey=True, layout="constrained")
    colors = line_colors(list(histories))
    for ax, column, split in zip(axes, ("accuracy", "val_accuracy"), ("train", "val")):
        for phase, history in histories.items():
            # Epochs count from 1, as the tables' "selected epoch" and the logs count them.
            draw_line(ax, history["epoch"] + 1, history[column], label=phase, color=colors[phase])
        ax.set_title(f"{title} {split}".strip())
        ax.set_xlabel("epoch")
        _whole_epochs(ax)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    _legend_below(fig, axes[0].get_lines(), ncol=6)
    return fig


def plot_study_curves(results, title=""):
    """Two panels of seed-banded validation accuracy: the arms on frozen weights, and the weight-training arms.

    Fine-tuning arms (mix, random_mask, mix_lr…) are drawn after the mask
    phase they start from, so the x axis counts all the epochs an arm had.
    """
    from supermask_lib.study import seeds as study

    first = next(iter(results.values()))
    config = first.config
    drawn = [arm for arm in config.arm_records() if arm.name in first.histories]
    colors = arm_colors(drawn)
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.2), sharey=True, layout="constrained")
    for ax, panel in zip(axes, ("frozen", "weights")):
        for arm in (arm for arm in drawn if arm.panel == panel):
            bands = study.epoch_bands(results, arm.name)
            x = bands.index + 1 + arm.epochs_before(config)
            color = colors[arm.name]
            draw_line(ax, x, bands["mean"], label=arm.name, color=color, linestyle="--" if arm.twin else "-")
            ax.fill_between(x, bands["low"].clip(0, 1), bands["high"].clip(0, 1), color=color, alpha=0.15,
                            linewidth=0)
        ax.set_xlabel("epochs of training")
        _whole_epochs(ax)
        ax.grid(alpha=0.3)
    handles = [line for ax in axes for line in ax.get_lines()]
    if handles:
        _legend_below(fig, handles, ncol=5)
    axes[0].set_title(f"{title}: frozen random weights".strip(": "))
    axes[1].set_title(f"{title}: training the weights".strip(": "))
    axes[0].set_ylabel("validation accuracy (mean, 95% band)")
    return fig


def plot_mask_utilization(table, title=""):
    """Fraction of weights masked per layer (left axis) and its size (right axis).

    ``table`` is :func:`supermask_lib.mask_utilization`'s DataFrame (or the
    run's ``mask_utilization_*.csv``). 1x1 shortcut convs are marked.
    """
    fig, left = plt.subplots(figsize=(7.5, 4.6), layout="constrained")
    index = list(table.index)
    left.plot(index, table["fraction_masked"], color="tab:red", marker="o", ms=3, label="fraction masked")
    shortcuts = table.index[table["kind"] == "conv_1x1"]
    left.scatter(shortcuts, table.loc[shortcuts, "fraction_masked"], s=60, facecolors="none",
                 edgecolors="black", label="1x1 shortcut", zorder=3)
    left.set_xlabel("masked layer")
    left.set_ylabel("fraction of weights masked")
    right = left.twinx()
    right.plot(index, table["n_weights"], color="tab:blue", marker="s", ms=3, linestyle="--", label="# weights")
    right.set_ylabel("# weights in layer")
    right.ticklabel_format(axis="y", style="plain")
    handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    _legend_below(fig, handles, ncol=3)
    _whole_epochs(left)  # layer numbers: whole ones too
    left.set_title(title)
    left.grid(alpha=0.3)
    return fig


def close(fig):
    """Release a figure once it is saved or glued (notebooks would otherwise show it twice)."""
    plt.close(fig)


def plot_answer(differences, levels, title="paired differences in test accuracy"):
    """The answer in one figure: a forest plot of paired differences, and the arms' levels beside the post's.

    ``differences`` maps a dataset to :func:`supermask_lib.report.chapters.answer.answer_differences`'s
    frame (index "arm − baseline"; ``difference``, ``low``, ``high``); ``levels`` maps it to
    :func:`~supermask_lib.report.chapters.answer.levels` (our mean and interval, the post's range read off its figures).
    """
    datasets = list(differences)
    fig, (forest, level) = plt.subplots(1, 2, figsize=(12, 0.45 * max(len(f) for f in differences.values()) + 2.6),
                                        gridspec_kw={"width_ratios": [3, 2]})
    rows = list(dict.fromkeys(row for frame in differences.values() for row in frame.index))
    markers, colors = ("o", "s", "^", "D"), ("tab:blue", "tab:red", "tab:green", "tab:purple")
    for k, dataset in enumerate(datasets):
        frame = differences[dataset].reindex(rows)
        y = [len(rows) - 1 - i + (k - (len(datasets) - 1) / 2) * 0.25 for i in range(len(rows))]
        forest.errorbar(frame["difference"], y, xerr=[frame["difference"] - frame["low"], frame["high"] - frame["difference"]],
                        fmt=markers[k], color=colors[k], capsize=3, label=dataset)
    forest.axvline(0, color="black", linewidth=0.8)
    forest.set_yticks(range(len(rows)))
    forest.set_yticklabels(list(reversed(rows)))
    forest.set_xlabel("difference in test accuracy (mean over seeds, 95% interval)")
    forest.set_title(title)
    forest.grid(axis="x", alpha=0.3)
    forest.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=len(datasets), fontsize="small")
    arms = list(dict.fromkeys(arm for frame in levels.values() for arm in frame.index))
    for k, dataset in enumerate(datasets):
        frame = levels[dataset].reindex(arms)
        x = [i + (k - (len(datasets) - 1) / 2) * 0.3 for i in range(len(arms))]
        level.errorbar(x, frame["ours"], yerr=[frame["ours"] - frame["ours low"], frame["ours high"] - frame["ours"]],
                       fmt=markers[k], color=colors[k], capsize=3, label=f"{dataset}: ours (test)")
        level.bar(x, frame["post high"] - frame["post low"] + 0.004, bottom=frame["post low"] - 0.002, width=0.22,
                  color=colors[k], alpha=0.3, label=f"{dataset}: the post (validation, read off its figures)")
    level.set_xticks(range(len(arms)))
    level.set_xticklabels(arms)
    level.set_ylabel("accuracy")
    level.set_title("levels: ours and the post's")
    level.grid(axis="y", alpha=0.3)
    level.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=1, fontsize="small")
    fig.tight_layout()
    return fig


def plot_width_trend(points, title="the answer along the width axis"):
    """One panel per comparison: its paired difference (mean over seeds, 95% interval) against training compute.

    ``points`` maps "arm − baseline" to a frame indexed by width with ``difference``, ``ci95``, ``seeds`` and
    ``training PFLOPs`` (:func:`supermask_lib.report.chapters.scale.trend_points`). The x axis is logarithmic in
    compute, its ticks name each width's compute and width; each point is labelled with its seeds, and a width
    of one seed is drawn hollow, without an interval. With a ``device`` column, each device has its marker
    (named in a legend when there are several).
    """
    names = list(points)
    columns = min(2, len(names))
    rows = -(-len(names) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(6 * columns, 3.6 * rows), squeeze=False)
    devices = list(dict.fromkeys(device for frame in points.values()
                                 for device in (frame["device"] if "device" in frame else [""] * len(frame))))
    markers = dict(zip(devices, "osD^v"))
    for ax, name, color in zip(axes.flat, names, PALETTE):
        frame = points[name]
        x, y = frame["training PFLOPs"].to_numpy(), frame["difference"].to_numpy()
        half = frame["ci95"].where(frame["seeds"] > 1).to_numpy()
        ax.errorbar(x, y, yerr=np.nan_to_num(half), fmt="-", color=color, capsize=4, alpha=0.8)
        single = frame["seeds"].to_numpy() < 2
        device = frame["device"].to_numpy() if "device" in frame else np.array([""] * len(frame))
        for where, marker in markers.items():
            on = device == where
            ax.plot(x[on & ~single], y[on & ~single], marker, color=color, linestyle="none")
            ax.plot(x[on & single], y[on & single], marker, markerfacecolor="white", color=color, linestyle="none")
        for xi, yi, seeds in zip(x, y, frame["seeds"]):
            ax.annotate(f"{int(seeds)} seed{'s' * (seeds != 1)}", (xi, yi), textcoords="offset points",
                        xytext=(6, 4), fontsize="small")
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_xlim(x.min() / 2, x.max() * 2)
        ax.set_xticks(x, [f"{pf:.3g}\nwidth {width}" for pf, width in zip(x, frame.index)])
        ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.set_title(name)
        ax.set_ylabel("difference in test accuracy")
        ax.grid(alpha=0.3)
        if ax in axes[-1]:
            ax.set_xlabel("training compute of a seed's arms (PFLOPs, log scale)")
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    if len(markers) > 1:  # which device each width ran on
        handles = [plt.Line2D([], [], marker=marker, color="gray", linestyle="none", label=device)
                   for device, marker in markers.items()]
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.05 if len(markers) > 1 else 0, 1, 1))
    return fig
