"""The width-axis chapter (notebooks/scale.ipynb): the answer's differences per width, their trend, the compute,
and how much choosing the epoch on the test set flatters each width's arms."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from supermask_lib.experiment import arms
from supermask_lib.study import scale
from supermask_lib.study import seeds as study
from supermask_lib.report.chapters.answer import selection_optimism
from supermask_lib.report.chapters.claims import sighting_sentence
from supermask_lib.report.chapters.values import glue_key, plain
from supermask_lib.experiment.datasets import PARTIAL_CIFAR10, partial_cifar10
from supermask_lib.experiment.storage import RunFolder

FEW_SEEDS = 3  # the floor: a width with fewer seeds is named wherever its numbers appear


def _first(stored):
    """The narrowest width's first cell (every cell shares its settings but the width and the seed)."""
    return next(iter(next(iter(stored.values())).values()))


def _seeds(stored):
    return ", ".join(f"{len(results)} at width {width}" for width, results in stored.items())


def _widths(widths):
    widths = [str(width) for width in widths]
    return f"width {widths[0]}" if len(widths) == 1 else f"widths {', '.join(widths[:-1])} and {widths[-1]}"


def engines(stored, backend=True):
    """Per width, the device and (``backend``) the backend its cells ran on ("NVIDIA H200, jax 0.11.2"; several
    joined by "; ")."""
    def engine(environment):
        return environment["device"] + (f", {environment['backend']} {environment['backend_version']}"
                                        if backend else "")
    return {width: "; ".join(sorted({engine(result.environment) for result in results.values()}))
            for width, results in stored.items()}


def engine_note(stored):
    """Which widths ran on which engine, and, where they differ, what that does to a trend across them."""
    by_engine = {}
    for width, engine in engines(stored).items():
        by_engine.setdefault(engine, []).append(width)
    precisions = sorted({result.config.mixed_precision or "float32" for results in stored.values()
                         for result in results.values()})
    precision = f" in {' and '.join(precisions)}"
    if len(by_engine) == 1:
        return f"Every width ran on {next(iter(by_engine))}{precision}."
    where = "; ".join(f"{_widths(widths)} on {engine}" for engine, widths in by_engine.items())
    return (f"The widths ran on {len(by_engine)} engines ({where}), all{precision}. A cell's arms all ran on one "
            "engine, so the differences within a width are paired as everywhere else; a trend across widths of different engines "
            "mixes the width with the engine (another backend draws other initial weights and rounds otherwise), "
            "until one width is measured on both.")


def accuracy_table(stored):
    """Per arm (rows) and width (columns): mean test accuracy over the width's seeds, the levels behind the
    differences (a difference can grow because its baseline falls)."""
    return pd.DataFrame({width: study.seed_table(results).mean() for width, results in stored.items()}).rename_axis(
        index="arm", columns="width")


def baseline_note(stored):
    """A computed sentence on how weight training, the comparisons' baseline, fares along the axis at its one
    rate, and, where it falls after a peak, how much of the rise in mix − weights beyond it is that fall."""
    levels = accuracy_table(stored)
    weights = levels.loc[arms.WEIGHTS]
    said = [f"{value:.3f} at width {width}" for width, value in weights.items()]
    note = ("Weight training, the baseline of mix − weights and mask − weights, reaches "
            + (said[0] if len(said) == 1 else f"{', '.join(said[:-1])} and {said[-1]}"))
    peak, widest = weights.idxmax(), weights.index[-1]
    if peak != widest:
        fall = weights[peak] - weights[widest]
        rise = levels.loc[arms.MIX, widest] - levels.loc[arms.MIX, peak]
        note += (f": it peaks at width {peak}, at the one learning rate the rule fixes for all widths, and falls by "
                 f"{fall:.3f} to width {widest}, while mix {'rises' if rise >= 0 else 'falls'} by {abs(rise):.3f}")
        if rise + fall > 0:
            note += (f". So {fall / (rise + fall):.0%} of the rise in mix − weights from width {peak} to width {widest} "
                     "is the baseline falling, not fine-tuning gaining; a rate tuned per width, which the rule "
                     "forbids, might have kept weight training up")
    return note + "."


def axis_comparisons(stored):
    """The trend's four comparisons, then each larger fine-tuning rate against weights, then the study's others
    (the random-mask controls, each rate against the post's), as ``(arm, baseline, question)`` rows."""
    rates = [(arms.rated(arms.MIX, rate), arms.WEIGHTS, f"fine-tuned at {rate:g} against weights")
             for rate in _first(stored).config.finetune_lrs]
    rows = [*scale.TREND, *rates, *study.comparisons(next(iter(stored.values())))]
    return tuple(dict(((arm, baseline), (arm, baseline, question)) for arm, baseline, question in rows).values())


def cell_table(stored):
    """One row per stored cell: width, seed, its training compute (PFLOPs) and its training minutes on its device."""
    rows = [{"width": width, "seed": seed, "PFLOPs": scale.training_flops(result) / 1e15,
             "minutes": sum(metrics.seconds or 0.0 for metrics in result.metrics.values()) / 60,
             "device": result.environment["device"]}
            for width, results in stored.items() for seed, result in results.items()]
    return pd.DataFrame(rows).set_index(["width", "seed"])


def axis_table(stored, cells=None):
    """:func:`supermask_lib.study.scale.width_table` over :func:`axis_comparisons`, with each width's training PFLOPs
    (from ``cells``, the :func:`cell_table` when the caller has it: each cell's compute builds its network)."""
    table = scale.width_table(stored, axis_comparisons(stored))
    cells = cell_table(stored) if cells is None else cells
    flops = cells["PFLOPs"].groupby(level="width").first()
    widths = table.index.get_level_values("width")
    table["training PFLOPs"] = [flops[width] for width in widths]
    devices = engines(stored, backend=False)
    table["device"] = [devices[width] for width in widths]
    return table


def optimism_table(stored):
    """Per width and arm: test accuracy selected on validation and on test, and the optimism (answer's
    :func:`~supermask_lib.report.chapters.answer.selection_optimism`), with mix − weights under both selections."""
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
    by_engine = {}
    for width, device in engines(stored, backend=False).items():
        by_engine.setdefault(device, []).append(width)
    where = "; ".join(f"{_widths(widths)} on {device}" for device, widths in by_engine.items())
    note = (f"width axis: wrn-{depth}-w on {data['train_size']:,} training and {data['test_size']:,} test "
            f"{config.dataset} images, seeds {_seeds(stored)}, {config.epochs} epochs per arm and {config.mix_epochs} "
            f"for fine-tuning, the study's settings at every width ({where}); small cells, not the post's "
            "WRN-28-8 on all the data")
    if partial_cifar10(data):
        note += f", on {PARTIAL_CIFAR10}"
    return note + "."


def status(stored, trends):
    """The answer's sentence on the width axis: the post's comparison and the mask phase's gap against width,
    or, while there are too few cells for a line, what is stored and what a trend still needs."""
    if not np.isfinite(trends["mix − weights"]["slope"]):
        cells = sum(len(results) for results in stored.values())
        return (f"The width axis holds {cells} cells so far (seeds: {_seeds(stored)}); a trend needs two widths "
                "and three seeds in all, so it cannot yet say whether the gap closes with width.")
    sentences = [scale.trend_sentence(name, trends[name]) for name in STATUS]
    boundary = engine_boundary(stored)
    if boundary is not None:
        narrow, wide = boundary
        means = scale.width_table(stored)["difference"]
        crossing = [name for name in STATUS  # the measured means change sign where the engine changes
                    if (name, narrow) in means and (name, wide) in means
                    and np.sign(means[(name, narrow)]) * np.sign(means[(name, wide)]) < 0]
        engine = engines(stored)
        sentences.insert(0, f"Widths up to {narrow} ran on {engine[narrow]}, the wider ones on {engine[wide]}"
                         + (f"; {_names(crossing)} change{'s' * (len(crossing) == 1)} sign between width {narrow} "
                            f"and width {wide}, where the engine changes too, so the crossing cannot be credited to "
                            "width alone until one width is measured on both: each line's engine term rests on the "
                            "straight line's shape alone." if crossing else
                            ": each line's engine term rests on the straight line's shape alone until one width is "
                            "measured on both."))
    return " ".join(sentences)


STATUS = ("mix − weights", "mix − equal_cost", "mask − weights")  # the post's comparison, at equal training, the gap


def _names(names):
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def engine_boundary(stored):
    """``(narrow, wide)``: the first two neighbouring widths whose engines differ, or None."""
    engine = engines(stored)
    widths = list(engine)
    for narrow, wide in zip(widths, widths[1:]):
        if engine[narrow] != engine[wide]:
            return narrow, wide
    return None


def scale_numbers(stored):
    """Every glue value of the chapter, keyed ``scale_<key>``: the note, each comparison's difference per width,
    the trend sentences, the compute and minutes per width, the widths with few seeds, the selection's optimism."""
    cells = cell_table(stored)
    table = axis_table(stored, cells)
    numbers = {"note": scale_note(stored), "widths": ", ".join(str(width) for width in stored),
               "cells": len(cells), "fewer_seeds": fewer_seeds(stored), "engines": engine_note(stored),
               "baseline": baseline_note(stored),
               "minutes_total": float(cells["minutes"].sum())}
    for width, rows in cells.groupby(level="width"):
        numbers[f"w{width}_seeds"] = len(rows)
        numbers[f"w{width}_minutes"] = float(rows["minutes"].mean())
        numbers[f"w{width}_pflops"] = float(rows["PFLOPs"].iloc[0])
    for (comparison, width), row in table.iterrows():
        arm, baseline = comparison.split(" − ")
        key = f"w{width}_{glue_key(arm)}_minus_{glue_key(baseline)}"
        numbers[key] = row["difference"]
        numbers[f"{key}_ci"] = row["ci95"]
    trends = scale.trend(scale.seed_differences(stored, scale.TREND))
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


def post_setup(run_dir):
    """A stored GPU run of the post's setup (the ``full`` profile), finished or not: ``(table, numbers)``.

    Per phase, the epochs trained of those planned and the best test accuracy over them with its epoch: the
    post's own selection (the profile validates on the test set). ``numbers["sentence"]`` says it in words.
    """
    run_dir = Path(run_dir)
    record = json.loads(RunFolder(run_dir).config.read_text())
    config, data, environment = record["config"], record["data"], record["environment"]
    rows, said, phases_seen = {}, [], {}
    for phase in config["phases"]:
        path = RunFolder(run_dir).history(phase)
        if not path.exists():
            continue
        history = pd.read_csv(path)
        planned = config["mix_epochs"] if phase == arms.MIX and config.get("mix_epochs") else config["epochs"]
        best = history["val_accuracy"].idxmax()
        rows[phase] = {"epochs": f"{len(history)} of {planned}", "best test accuracy": history["val_accuracy"][best],
                       "at epoch": int(history["epoch"][best]) + 1}
        notes = ([f"after {len(history)} of its {planned} epochs"] if len(history) < planned else []) + (
            ["best at its last epoch, still improving"] if best == len(history) - 1 else [])
        said.append(f"{phase} {history['val_accuracy'][best]:.3f}" + (f" ({'; '.join(notes)})" if notes else ""))
        phases_seen[phase] = {"best": float(history["val_accuracy"][best]), "epochs": len(history),
                              "planned": planned, "best_is_last": bool(best == len(history) - 1)}
    table = pd.DataFrame(rows).T.rename_axis("phase")
    phases = ", ".join(said)
    sentence = (f"One seed of the post's setup ({config['model'].upper()}, {config['epochs']} epochs a phase, Adam "
                f"{config['learning_rate']:g}, {config['mixed_precision'] or 'float32'}, on {environment['device']} with "
                f"{environment['backend']} {environment['backend_version']}) on the {data['train_size']:,} training "
                f"images of {PARTIAL_CIFAR10 if partial_cifar10(data) else config['dataset']}, as far as one lease of "
                "the GPU allowed: the best test accuracy over "
                f"each phase's epochs, as the post selected, is {phases}.")
    if {arms.MIX, arms.WEIGHTS} <= set(phases_seen):  # one test-selected seed: a sighting, sized as one
        sentence += f" So {sighting_sentence(phases_seen)}."
    return table, plain({"sentence": sentence, **{f"{phase}_best": row["best test accuracy"] for phase, row in rows.items()}})


def selection_table(pairs):
    """The post's comparison, mix − weights, per width with each phase's epoch chosen on validation and on test
    (:func:`optimism_table`'s ``pairs``)."""
    return pd.DataFrame({width: {"mix − weights, chosen on validation": pair["selection_mix_minus_weights_validation"],
                                 "mix − weights, chosen on test": pair["selection_mix_minus_weights_test"]}
                         for width, pair in pairs.items()}).T.rename_axis("width")
