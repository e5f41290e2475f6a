"""The width-axis chapter (notebooks/scale.ipynb): the answer's differences per width, their trend, the compute,
and how much choosing the epoch on the test set flatters each width's arms."""

import numpy as np
import pandas as pd

from supermask_lib import scale, study
from supermask_lib.chapters.answer import selection_optimism
from supermask_lib.chapters.values import glue_key, plain
from supermask_lib.data import PARTIAL_CIFAR10, partial_cifar10

FEW_SEEDS = 3  # the floor: a width with fewer seeds is named wherever its numbers appear


def _first(stored):
    """The narrowest width's first cell (every cell shares its settings but the width and the seed)."""
    return next(iter(next(iter(stored.values())).values()))


def _seeds(stored):
    return ", ".join(f"{len(results)} at width {width}" for width, results in stored.items())


def axis_comparisons(stored):
    """The trend's four comparisons, then each larger fine-tuning rate against weights, then the study's others
    (the random-mask controls, each rate against the post's), as ``(arm, baseline, question)`` rows."""
    rates = [(f"mix_lr{rate:g}", "weights", f"fine-tuned at {rate:g} against weights")
             for rate in _first(stored).config.finetune_lrs]
    rows = [*scale.TREND, *rates, *study.comparisons(next(iter(stored.values())))]
    return tuple(dict(((arm, baseline), (arm, baseline, question)) for arm, baseline, question in rows).values())


def cell_table(stored):
    """One row per stored cell: width, seed, its training compute (PFLOPs) and its training minutes on its device."""
    rows = [{"width": width, "seed": seed, "training PFLOPs": scale.training_flops(result) / 1e15,
             "minutes": sum(metrics.seconds or 0.0 for metrics in result.metrics.values()) / 60,
             "device": result.environment["device"]}
            for width, results in stored.items() for seed, result in results.items()]
    return pd.DataFrame(rows).set_index(["width", "seed"])


def axis_table(stored, cells=None):
    """:func:`supermask_lib.scale.width_table` over :func:`axis_comparisons`, with each width's training PFLOPs
    (from ``cells``, the :func:`cell_table` when the caller has it: each cell's compute builds its network)."""
    table = scale.width_table(stored, axis_comparisons(stored))
    cells = cell_table(stored) if cells is None else cells
    flops = cells["training PFLOPs"].groupby(level="width").first()
    table["training PFLOPs"] = [flops[width] for width in table.index.get_level_values("width")]
    return table


def optimism_table(stored):
    """Per width and arm: test accuracy selected on validation and on test, and the optimism (answer's
    :func:`~supermask_lib.chapters.answer.selection_optimism`), with mix − weights under both selections."""
    frames, pairs = [], {}
    for width, results in stored.items():
        table, numbers = selection_optimism(results)
        if len(table):
            frames.append(table.assign(width=width, seeds=len(results)).reset_index().set_index(["width", "arm"]))
            pairs[width] = numbers
    return (pd.concat(frames) if frames else pd.DataFrame()), pairs


def fewer_seeds(stored, floor=FEW_SEEDS):
    """The sentence that names the widths with fewer than ``floor`` seeds (an empty string when none has)."""
    few = [f"width {width} ({len(results)} seed{'s' * (len(results) != 1)})"
           for width, results in stored.items() if len(results) < floor]
    if not few:
        return ""
    return f"Fewer than {floor} seeds: {', '.join(few)}; their numbers are the least certain."


def scale_note(stored):
    """The scale of the axis's numbers, shown beside them."""
    first = _first(stored)
    config, data = first.config, first.data
    depth = config.model.split("-")[1]
    note = (f"width axis: wrn-{depth}-w on {data['train_size']:,} training and {data['test_size']:,} test "
            f"{config.dataset} images, seeds {_seeds(stored)}, {config.epochs} epochs per arm and {config.mix_epochs} "
            f"for fine-tuning, the study's settings at every width, run on {first.environment['device']}; "
            "CPU-scale cells, not the post's WRN-28-8 on all the data")
    if partial_cifar10(data):
        note += f", on {PARTIAL_CIFAR10}"
    return note + "."


def status(stored, trends):
    """The answer's sentence on the width axis: the post's comparison and the mask phase's gap against width,
    or, while fewer than two widths have two or more seeds, what is stored and what a trend still needs."""
    if trends["mix − weights"]["widths"] < 2:
        cells = sum(len(results) for results in stored.values())
        return (f"The width axis holds {cells} cells so far (seeds: {_seeds(stored)}); a trend needs two widths "
                "of two or more seeds, so it cannot yet say whether the gap closes with width.")
    return " ".join(scale.trend_sentence(name, trends[name]) for name in ("mix − weights", "mask − weights"))


def scale_numbers(stored):
    """Every glue value of the chapter, keyed ``scale_<key>``: the note, each comparison's difference per width,
    the trend sentences, the compute and minutes per width, the widths with few seeds, the selection's optimism."""
    cells = cell_table(stored)
    table = axis_table(stored, cells)
    numbers = {"note": scale_note(stored), "widths": ", ".join(str(width) for width in stored),
               "cells": len(cells), "fewer_seeds": fewer_seeds(stored),
               "minutes_total": float(cells["minutes"].sum())}
    for width, rows in cells.groupby(level="width"):
        numbers[f"w{width}_seeds"] = len(rows)
        numbers[f"w{width}_minutes"] = float(rows["minutes"].mean())
        numbers[f"w{width}_pflops"] = float(rows["training PFLOPs"].iloc[0])
    for (comparison, width), row in table.iterrows():
        arm, baseline = comparison.split(" − ")
        key = f"w{width}_{glue_key(arm)}_minus_{glue_key(baseline)}"
        numbers[key] = row["difference"]
        numbers[f"{key}_ci"] = row["ci95"]
    trends = scale.trend(table.loc[[f"{arm} − {baseline}" for arm, baseline, _ in scale.TREND]])
    for comparison, result in trends.items():
        arm, baseline = comparison.split(" − ")
        numbers[f"trend_{glue_key(arm)}_minus_{glue_key(baseline)}"] = scale.trend_sentence(comparison, result)
    numbers["status"] = status(stored, trends)
    optimism, pairs = optimism_table(stored)
    for (width, arm), row in optimism.iterrows():
        numbers[f"w{width}_optimism_{glue_key(arm)}"] = row["optimism"]
    for width, pair in pairs.items():
        numbers.update({f"w{width}_{key}": value for key, value in pair.items()})
    return {f"scale_{key}": value for key, value in plain(numbers).items()}


def trend_points(table, comparisons=scale.TREND):
    """The trend figure's points: per comparison, its rows sorted by width (difference, interval, PFLOPs)."""
    return {f"{arm} − {baseline}": table.loc[f"{arm} − {baseline}"].sort_index()
            for arm, baseline, _ in comparisons if f"{arm} − {baseline}" in table.index.get_level_values(0)}


def summary(table):
    """The chapter's table of differences: one row per comparison, one column per width ("+0.012 ± 0.034 (3)")."""
    def cell(row):
        interval = "" if not np.isfinite(row["ci95"]) else f" ± {row['ci95']:.3f}"
        return f"{row['difference']:+.3f}{interval} ({int(row['seeds'])})"

    frame = table.apply(cell, axis=1).unstack("width")
    frame = frame.reindex(list(dict.fromkeys(table.index.get_level_values("comparison"))))
    frame.columns = [f"width {width}" for width in frame.columns]
    return frame
