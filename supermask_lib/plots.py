"""The study's figures, drawn from a run's files (matplotlib, no state)."""

import matplotlib.pyplot as plt

PHASE_COLORS = {"mask": "tab:blue", "weights": "tab:orange", "mix": "tab:green", "pure_mask": "tab:cyan",
                "bn_only": "tab:gray", "equal_cost": "tab:red", "random_mask": "tab:purple"}
SCORE_ARMS = ("mask", "pure_mask", "bn_only")


def plot_accuracy(histories, title=""):
    """Two panels, training and validation accuracy per epoch, one line per phase.

    ``histories`` maps phase name to a DataFrame with ``epoch``, ``accuracy``
    and ``val_accuracy`` (``RunResult.histories``).
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, column, split in zip(axes, ("accuracy", "val_accuracy"), ("train", "val")):
        for phase, history in histories.items():
            ax.plot(history["epoch"], history[column], label=phase, color=PHASE_COLORS.get(phase))
        ax.set_title(f"{title} {split}".strip())
        ax.set_xlabel("epoch")
        ax.legend(loc="lower right")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    fig.tight_layout()
    return fig


def plot_accuracy_bands(bands, title="", ylabel="validation accuracy"):
    """Mean over seeds per epoch with its 95% band, one line per arm.

    ``bands`` maps an arm to :func:`supermask_lib.study.epoch_bands`'s frame
    (index ``epoch``; columns ``mean``, ``low``, ``high``).
    """
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for arm, frame in bands.items():
        color = PHASE_COLORS.get(arm)
        line, = ax.plot(frame.index, frame["mean"], label=arm, color=color)
        ax.fill_between(frame.index, frame["low"], frame["high"], color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.legend(loc="lower right", fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_study_curves(results, title=""):
    """Two panels of seed-banded validation accuracy: the arms on frozen weights, and the weight-training arms.

    Fine-tuning arms (mix, random_mask, mix_lr…) are drawn after the mask
    phase they start from, so the x axis counts all the epochs an arm had.
    """
    from supermask_lib import study

    first = next(iter(results.values()))
    arms = [arm for arm in first.config.arms() if arm in first.histories]
    extra_colors = iter(["tab:olive", "tab:brown", "tab:pink", "black"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    for ax, chosen in zip(axes, ([a for a in arms if a in SCORE_ARMS], [a for a in arms if a not in SCORE_ARMS])):
        for arm in chosen:
            bands = study.epoch_bands(results, arm)
            offset = first.config.epochs if arm not in ("weights", "equal_cost") and arm not in SCORE_ARMS else 0
            x = bands.index + 1 + offset
            color = PHASE_COLORS.get(arm) or next(extra_colors)
            ax.plot(x, bands["mean"], label=arm, color=color, marker="o", ms=2.5)
            ax.fill_between(x, bands["low"].clip(0, 1), bands["high"].clip(0, 1), color=color, alpha=0.15,
                            linewidth=0)
        ax.set_xlabel("epochs of training")
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
