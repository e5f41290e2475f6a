"""Accuracy per epoch: one run's phases, the study's arms over seeds, and the mask's use of each layer."""

from supermask_lib.report.plots.style import (MAX_LINES, REFERENCE, draw_line, figure, legend_below, line_colors,
                                              whole_epochs)

def _groups(names, groups):
    """``{title: names}``: the caller's groups, else one group, else chunks of :data:`MAX_LINES` in order."""
    if groups is not None:
        missing = [name for names_ in groups.values() for name in names_ if name not in names]
        if missing:
            raise ValueError(f"groups: {missing} are not among the histories {list(names)}")
        return {title: list(members) for title, members in groups.items()}
    if len(names) <= MAX_LINES:
        return {"": list(names)}
    count = -(-len(names) // MAX_LINES)
    size = -(-len(names) // count)
    return {f"lines {i + 1}–{min(i + size, len(names))} of {len(names)}": list(names[i:i + size])
            for i in range(0, len(names), size)}

def plot_accuracy(histories, title="", groups=None):
    """Training and validation accuracy per epoch, one line per phase (or recipe): a row of two panels per group.

    ``histories`` maps a name to a DataFrame with ``epoch``, ``accuracy`` and ``val_accuracy``
    (``RunResult.histories``). ``groups`` (``{title: [names]}``) splits the lines into rows of their own;
    without it more than :data:`MAX_LINES` lines are split in order, so no panel carries a dozen.
    """
    grouped = _groups(list(histories), groups)
    fig = figure(2.9 * len(grouped) + 0.3)
    rows = fig.subfigures(len(grouped), 1, squeeze=False)[:, 0] if len(grouped) > 1 else [fig]
    for row, (group, names) in zip(rows, grouped.items()):
        colors = line_colors(names)
        axes = row.subplots(1, 2, sharey=True)
        for ax, column, split in zip(axes, ("accuracy", "val_accuracy"), ("train", "validation")):
            for name in names:
                # Epochs count from 1, as the tables' "selected epoch" and the logs count them.
                draw_line(ax, histories[name]["epoch"] + 1, histories[name][column], label=name, color=colors[name])
            ax.set_title(f"{group or title} {split}".strip(), fontsize="medium")
            ax.set_xlabel("epoch")
            whole_epochs(ax)
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("accuracy")
        legend_below(row, axes[0].get_lines(), ncol=2 if len(grouped) > 1 else 3)
    if title and len(grouped) > 1:
        fig.suptitle(title)
    return fig

def _panels(config, drawn):
    """The study figure's small multiples, ``[(title, {arm: label}, reference arm or None)]``: the frozen-weight
    arms, weight training, and each fine-tuning arm with its random-mask control against equal training."""
    names = {arm.name for arm in drawn}
    panels = [("frozen random weights", {arm.name: arm.name for arm in drawn if arm.panel == "frozen"}, None),
              ("training the weights", {arm.name: arm.name for arm in drawn
                                        if arm.panel == "weights" and not arm.parent}, None)]
    reference = "equal_cost" if "equal_cost" in names else "weights" if "weights" in names else None
    for arm in drawn:
        if arm.panel == "weights" and arm.parent and not arm.twin:
            controls = {other.name: "random mask" for other in drawn if other.twin == arm.name}
            panels.append((f"{arm.name} vs random mask" if controls else arm.name,
                           {arm.name: "learned mask" if controls else arm.name, **controls}, reference))
    return [(title, arms, ref) for title, arms, ref in panels if arms]


def _band(ax, x, bands, color):
    ax.fill_between(x, bands["low"].clip(0, 1), bands["high"].clip(0, 1), color=color, alpha=0.15, linewidth=0)

def plot_study_curves(results, title=""):
    """Seed-banded validation accuracy (mean, 95% band) in small multiples, each panel a question of its own.

    The arms on frozen weights; weight training (``equal_cost`` drawn where it goes on past ``weights``: until
    then the two train identically); and for each fine-tuning arm (mix, mix_lr…) the arm, its random-mask control
    and, in grey, the weights trained as long. Fine-tuning arms are drawn after the mask phase they start from,
    so the x axis counts all the epochs an arm had.
    """
    from supermask_lib.study import seeds as study

    first = next(iter(results.values()))
    config = first.config
    drawn = [arm for arm in config.arm_records() if arm.name in first.histories]
    by_name = {arm.name: arm for arm in drawn}
    panels = _panels(config, drawn)
    columns = 2 if len(panels) > 1 else 1
    rows = -(-len(panels) // columns)
    fig = figure(2.75 * rows + 0.4)
    cells = fig.subfigures(rows, columns, squeeze=False).flat
    bands = {name: study.epoch_bands(results, name) for name in by_name}
    epochs = {name: bands[name].index + 1 + by_name[name].epochs_before(config) for name in by_name}
    for cell, (panel, names, reference) in zip(cells, panels):
        ax = cell.subplots()
        colors = line_colors(list(names.values()))
        start = min(epochs[name].min() for name in names)
        if reference:
            on = epochs[reference] >= start
            ax.plot(epochs[reference][on], bands[reference]["mean"][on], color=REFERENCE, linestyle=":",
                    linewidth=1.5, label=reference)
        for name, label in names.items():
            x, band = epochs[name], bands[name]
            if name == "equal_cost" and "weights" in names:  # identical to weights until weights stops
                keep = x >= epochs["weights"].max()
                x, band = x[keep], band[keep]
            draw_line(ax, x, band["mean"], label=label, color=colors[label],
                      linestyle="--" if by_name[name].twin else "-")
            _band(ax, x, band, colors[label])
        ax.set_title(panel, fontsize="medium")
        ax.set_xlabel("epochs of training")
        ax.set_ylabel("validation accuracy")
        whole_epochs(ax)
        ax.grid(alpha=0.3)
        legend_below(cell, ax.get_lines(), ncol=2)
    for cell in list(cells):
        cell.set_visible(False)
    if title:
        fig.suptitle(title)
    return fig

def plot_mask_utilization(table, title=""):
    """Fraction of weights masked per layer (left axis) and the layer's size (right axis).

    ``table`` is :func:`supermask_lib.mask_utilization`'s DataFrame (or the
    run's ``mask_utilization_*.csv``). 1x1 shortcut convs are marked.
    """
    fig = figure(3.6)
    left = fig.subplots()
    index = list(table.index)
    left.plot(index, table["fraction_masked"], color="tab:red", marker="o", ms=4, label="fraction masked")
    shortcuts = table.index[table["kind"] == "conv_1x1"]
    left.scatter(shortcuts, table.loc[shortcuts, "fraction_masked"], s=60, facecolors="none",
                 edgecolors="black", label="1x1 shortcut", zorder=3)
    left.set_xlabel("masked layer")
    left.set_ylabel("fraction of weights masked")
    right = left.twinx()
    right.plot(index, table["n_weights"], color="tab:blue", marker="s", ms=4, linestyle="--", label="# weights")
    right.set_ylabel("# weights in layer")
    right.ticklabel_format(axis="y", style="plain")
    handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    legend_below(fig, handles, ncol=3)
    whole_epochs(left)  # layer numbers: whole ones too
    left.set_title(title)
    left.grid(alpha=0.3)
    return fig

