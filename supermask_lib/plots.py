"""The study's figures, drawn from a run's files (matplotlib, no state)."""

import matplotlib.pyplot as plt

from supermask_lib.arms import ARMS

EXTRA_COLORS = ("tab:olive", "tab:brown", "tab:pink", "black", "gold", "teal")  # arms without a colour (mix_lr…)


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


def plot_accuracy(histories, title=""):
    """Two panels, training and validation accuracy per epoch, one line per phase.

    ``histories`` maps phase name to a DataFrame with ``epoch``, ``accuracy``
    and ``val_accuracy`` (``RunResult.histories``).
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, column, split in zip(axes, ("accuracy", "val_accuracy"), ("train", "val")):
        for phase, history in histories.items():
            ax.plot(history["epoch"], history[column], label=phase, color=_color(phase))
        ax.set_title(f"{title} {split}".strip())
        ax.set_xlabel("epoch")
        ax.legend(loc="lower right")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    fig.tight_layout()
    return fig


def plot_study_curves(results, title=""):
    """Two panels of seed-banded validation accuracy: the arms on frozen weights, and the weight-training arms.

    Fine-tuning arms (mix, random_mask, mix_lr…) are drawn after the mask
    phase they start from, so the x axis counts all the epochs an arm had.
    """
    from supermask_lib import study

    first = next(iter(results.values()))
    config = first.config
    drawn = [arm for arm in config.arm_records() if arm.name in first.histories]
    colors = arm_colors(drawn)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    for ax, panel in zip(axes, ("frozen", "weights")):
        for arm in (arm for arm in drawn if arm.panel == panel):
            bands = study.epoch_bands(results, arm.name)
            x = bands.index + 1 + arm.epochs_before(config)
            color = colors[arm.name]
            ax.plot(x, bands["mean"], label=arm.name, color=color, marker="o", ms=2.5,
                    linestyle="--" if arm.twin else "-")
            ax.fill_between(x, bands["low"].clip(0, 1), bands["high"].clip(0, 1), color=color, alpha=0.15,
                            linewidth=0)
        ax.set_xlabel("epochs of training")
        if ax.get_lines():
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=4, fontsize="small")
        ax.grid(alpha=0.3)
    axes[0].set_title(f"{title}: frozen random weights".strip(": "))
    axes[1].set_title(f"{title}: training the weights".strip(": "))
    axes[0].set_ylabel("validation accuracy (mean, 95% band)")
    fig.tight_layout()
    return fig


def plot_mask_utilization(table, title=""):
    """Fraction of weights masked per layer (left axis) and its size (right axis).

    ``table`` is :func:`supermask_lib.mask_utilization`'s DataFrame (or the
    run's ``mask_utilization_*.csv``). 1x1 shortcut convs are marked.
    """
    fig, left = plt.subplots(figsize=(7.5, 4.2))
    index = list(table.index)
    left.plot(index, table["fraction_masked"], color="tab:red", marker="o", ms=3, label="fraction masked")
    shortcuts = table.index[table["kind"] == "conv_1x1"]
    left.scatter(shortcuts, table.loc[shortcuts, "fraction_masked"], s=60, facecolors="none",
                 edgecolors="black", label="1x1 shortcut", zorder=3)
    left.set_xlabel("masked layer")
    left.set_ylabel("fraction of weights masked")
    right = left.twinx()
    right.plot(index, table["n_weights"], color="tab:blue", label="# weights")
    right.set_ylabel("# weights in layer")
    right.ticklabel_format(axis="y", style="plain")
    handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    left.legend(handles, [h.get_label() for h in handles], loc="upper center", ncol=3, fontsize="small",
                bbox_to_anchor=(0.5, -0.15))
    left.set_title(title)
    left.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def close(fig):
    """Release a figure once it is saved or glued (notebooks would otherwise show it twice)."""
    plt.close(fig)


def plot_answer(differences, levels, title="paired differences in test accuracy"):
    """The answer in one figure: a forest plot of paired differences, and the arms' levels beside the post's.

    ``differences`` maps a dataset to :func:`supermask_lib.chapters.answer.answer_differences`'s
    frame (index "arm − baseline"; ``difference``, ``low``, ``high``); ``levels`` maps it to
    :func:`~supermask_lib.chapters.answer.levels` (our mean and interval, the post's range read off its figures).
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
