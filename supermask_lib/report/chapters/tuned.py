"""The tuned width axis (notebooks/tuned.ipynb): every arm's rate chosen on validation data, one schedule for all.

The pruning literature's rule for a fair comparison (every arm's rate swept on held-out data, every arm
trained to the same schedule and budget) applied to the width axis: the grids and the rates they chose
(:mod:`supermask_lib.study.tuning`), then the evaluation seeds at those rates, each width's answer
stated only where its interval excludes zero, and the checks that every arm trained long enough and
that none was still improving when its training stopped.
"""

import numpy as np
import pandas as pd

from supermask_lib.experiment import arms as arms_lib
from supermask_lib.report.chapters.values import glue_key, plain, with_interval
from supermask_lib.study import scale, tuning
from supermask_lib.study import seeds as study

# The tuned axis's comparisons: the post's, at equal training, against the annealing control (is the
# gain the mask or mix's low-rate end?), and the learned mask against a random one at the same fractions.
COMPARISONS = (arms_lib.POST_COMPARISON,
               (arms_lib.MIX, arms_lib.EQUAL_COST, "at equal training"),
               (arms_lib.MIX, arms_lib.WEIGHTS_ANNEAL, "against weights annealed as mix is, without a mask"),
               (arms_lib.MIX, arms_lib.RANDOM_MASK, "the learned mask against a random one"))
LONG_ENOUGH_GAIN, LONG_ENOUGH_SHARE = 0.005, 0.2  # under half a point of validation accuracy over the last fifth
LATE_SHARE = 0.1  # a selected epoch in the last tenth of training: the arm may still have been improving


def load(params_dir, tuning_dir, tuned_dir, dataset, overrides=None):
    """``(plan, {width: tuning points}, {width: {seed: RunResult}})``: what is stored, verified; untuned widths left out.

    ``overrides`` (ExperimentConfig fields) read cells trained otherwise than the axis at the rates tuned on the
    axis's own schedule, as the GPU queue's ``set`` trains them (twice the epochs, say).
    """
    plan = tuning.TuningPlan.load(params_dir, dataset)
    axis, seeds = scale.load_axis(params_dir, dataset, name="tuned")
    points = {width: found for width, config in axis.items()
              if (found := tuning.load_points(f"{tuning_dir}/{dataset}", config, plan.seed))}
    # each width at its chosen rates, from the points just read (scale.tuned_axis would verify them again)
    tuned = {width: tuning.tuned_config(axis[width], found).replace(**(overrides or {}))
             for width, found in points.items() if _tuned(found)}
    return plan, points, scale.load_stored_axis(f"{tuned_dir}/{dataset}", tuned, seeds)


def _tuned(points):
    try:
        tuning.chosen_rates(points)
    except ValueError:
        return False
    return True


def grid_table(points):
    """Validation accuracy per (arm, rate) and width, the chosen rate marked ``*`` and an edge choice ``!``."""
    cells = {}
    for width, found in points.items():
        for row in tuning.table(found).itertuples():
            mark = ("*" if row.chosen else "") + ("!" if row.edge else "")
            cells[row.arm, row.rate, width] = f"{row.val_accuracy:.3f}{mark}"
    frame = pd.Series(cells).unstack()
    frame.columns = [f"width {width}" for width in frame.columns]
    frame.index = pd.MultiIndex.from_tuples([(arm, f"{rate:g}") for arm, rate in frame.index], names=["arm", "rate"])
    return frame.fillna("")


def differences(stored, comparisons=COMPARISONS):
    """Per width and comparison: the seeds' mean paired difference, its 95% interval and how many seeds agree."""
    table = scale.width_table(stored, comparisons)  # indexed (comparison, width), rows width by width
    return table.reorder_levels(["width", "comparison"]) if len(table) else table


def levels(stored):
    """Per arm and width: mean test accuracy and mean training accuracy at the selected epoch, over the seeds."""
    rows = []
    for width, results in stored.items():
        tests = study.seed_table(results).mean()
        for arm in tests.index.drop("initial", errors="ignore"):
            train = [float(r.histories[arm]["accuracy"].iloc[r.metrics[arm].best_epoch]) for r in results.values()]
            rows.append({"width": width, "arm": arm, "test accuracy": tests[arm], "train accuracy": np.mean(train)})
    return pd.DataFrame(rows).set_index(["width", "arm"])


def fit_sentence(stored):
    """How close the arms came to fitting their training images: the highest mean training accuracy at a selected
    epoch over arms and widths, and which arm and width it was."""
    if not stored:
        return "no tuned cell is stored yet"
    table = levels(stored)
    (width, arm), top = table["train accuracy"].idxmax(), table["train accuracy"].max()
    return (f"the highest mean training accuracy at a selected epoch is {top:.3f} ({arm} at width {width}), "
            f"against test accuracies of {table['test accuracy'].min():.3f} to {table['test accuracy'].max():.3f}")


def late_selections(stored, share=LATE_SHARE):
    """Per arm: in how many cells the selected epoch lies in the last ``share`` of its training, of how many cells."""
    counts = {}
    for results in stored.values():
        for result in results.values():
            for arm, metrics in result.metrics.items():
                if metrics.best_epoch is None:
                    continue
                late = metrics.best_epoch >= (1 - share) * metrics.epochs - 1e-9
                seen = counts.setdefault(arm, [0, 0])
                seen[0] += int(late)
                seen[1] += 1
    return pd.DataFrame(counts, index=["late", "cells"]).T.rename_axis("arm")


def late_gain(result, arm=arms_lib.WEIGHTS, share=LONG_ENOUGH_SHARE):
    """How much ``arm``'s best validation accuracy so far rose over its last ``share`` of epochs (at least one)."""
    best = result.histories[arm]["val_accuracy"].cummax()
    before = len(best) - max(1, round(share * len(best))) - 1
    return float(best.iloc[-1] - best.iloc[max(before, 0)])


def long_enough(stored, arm=arms_lib.WEIGHTS, gain=LONG_ENOUGH_GAIN, share=LONG_ENOUGH_SHARE):
    """Per cell: the gain in ``arm``'s best validation accuracy over its last ``share`` of epochs, and whether it is
    under ``gain`` (the rule that the epochs were enough)."""
    rows = []
    for width, results in stored.items():
        for seed, result in results.items():
            gain_late = late_gain(result, arm, share)
            rows.append({"width": width, "seed": seed, "gain over the last fifth": gain_late,
                         "long enough": gain_late < gain})
    return pd.DataFrame(rows).set_index(["width", "seed"])


def rule_resolution(stored, arm=arms_lib.WEIGHTS, gain=LONG_ENOUGH_GAIN):
    """What the long-enough rule's threshold is in images of the validation split, beside one standard error of
    ``arm``'s validation accuracy there (binomial, at its mean best): how finely the split can tell a late gain."""
    runs = [result for results in stored.values() for result in results.values()]
    if not runs:
        return "no stored run to measure it on"
    images = int(runs[0].data["val_size"])
    best = float(np.mean([result.histories[arm]["val_accuracy"].max() for result in runs]))
    error = np.sqrt(best * (1 - best) / images)
    return (f"{gain * images:.0f} of its {images:,} validation images, where one standard error of an accuracy "
            f"near {best:.2f} is {100 * error:.1f} points")


def paired_shift(stored, other, comparisons=COMPARISONS, column="shift"):
    """Per (width, comparison) that both axes hold: the mean over the seeds both hold of (the comparison in
    ``other`` − in ``stored``), its 95% interval and the seeds.

    The seeds pair the two axes as arms are paired within a seed (same initialisation, same batches), so
    only what sets the axes apart (an engine, a length of training) moves the comparison. An interval that
    covers zero says it moved it by less than this many seeds can see, not that it moved it by nothing.
    """
    rows = []
    for width in sorted(set(stored) & set(other)):
        seeds = sorted(set(stored[width]) & set(other[width]))
        if not seeds:
            continue
        here = study.seed_table({seed: stored[width][seed] for seed in seeds})
        there = study.seed_table({seed: other[width][seed] for seed in seeds})
        for arm, baseline, _ in comparisons:
            if {arm, baseline} <= set(here) & set(there):
                shift = (there[arm] - there[baseline]) - (here[arm] - here[baseline])
                mean, ci = study.mean_ci(shift.to_numpy())
                rows.append({"width": width, "comparison": f"{arm} − {baseline}", column: mean,
                             "ci95": ci, "seeds": len(seeds)})
    return pd.DataFrame(rows).set_index(["width", "comparison"]) if rows else pd.DataFrame()


def engine_bridge(stored, bridge, comparisons=COMPARISONS):
    """The engine's effect where a width ran on both engines (:func:`paired_shift` of the bridge cells)."""
    return paired_shift(stored, bridge, comparisons, column="engine shift")


def by_engine(*axes):
    """``{engine: {width: {seed: RunResult}}}`` from stored axes (a bridge folder may hold cells of one engine or
    several), so that each engine is compared with the axis on its own."""
    grouped = {}
    for axis in axes:
        for width, results in axis.items():
            for seed, result in results.items():
                grouped.setdefault(result.engine, {}).setdefault(width, {})[seed] = result
    return grouped


def bridge_note(stored, *bridges):
    """The engine sentence: one engine along the axis, or what the bridge widths measured of each other engine's
    effect on the post's comparison (the seeds' mean paired shift, 95% interval)."""
    here = sorted(by_engine(stored))
    post = "{} − {}".format(*arms_lib.POST_COMPARISON[:2])
    said = []
    for engine, bridge in by_engine(*bridges).items():
        table = engine_bridge(stored, bridge)
        said += [f"{engine} at width {width} ({row['seeds']:.0f} seeds) {row['engine shift']:+.3f} ± {row['ci95']:.3f}"
                 for (width, comparison), row in table.iterrows() if comparison == post]
    if not said:
        return (f"Every cell of this axis ran on {' and '.join(here) or 'no engine yet'}; no width has run on a "
                "second engine yet, so the axis needs no engine term.")
    return (f"The same cells on another engine than {' and '.join(here)} move {post} by: " + "; ".join(said)
            + " (the seeds' mean paired shift, 95% interval).")


def trend_note(stored, *bridges, comparison=arms_lib.POST_COMPARISON):
    """The post's comparison along this axis in one computed sentence: its slope per doubling of the width, with
    an engine term where bridge cells (the same widths and seeds on another engine) are stored
    (:func:`supermask_lib.study.trend.trend`)."""
    frames = [scale.seed_differences(axis, (comparison,)) for axis in (stored, *bridges) if axis]
    frames = [frame for frame in frames if not frame.empty]
    name = "{} − {}".format(*comparison[:2])
    if not frames:
        return f"{name}: no tuned cell is stored yet."
    return scale.trend_sentence(name, scale.trend(pd.concat(frames))[name])


def longer_note(stored, longer, comparison=arms_lib.POST_COMPARISON):
    """What training longer changed, in one computed sentence per width trained at both lengths: the long-enough
    rule at each length, and the post's comparison at each with its paired shift (the same seeds)."""
    name = "{} − {}".format(*comparison[:2])
    shifts = paired_shift(stored, longer, (comparison,))
    said = []
    for (width, _), row in shifts.iterrows():
        seeds = sorted(set(stored[width]) & set(longer[width]))
        short = {seed: stored[width][seed] for seed in seeds}
        long = {seed: longer[width][seed] for seed in seeds}
        configs = [next(iter(runs.values())).config for runs in (short, long)]
        epochs = [(config.epochs, config.mix_epochs) for config in configs]
        rule = [int(long_enough({width: runs})["long enough"].sum()) for runs in (short, long)]
        at = [differences({width: runs}, (comparison,)).loc[(width, name)] for runs in (short, long)]
        said.append(f"at width {width}, {len(seeds)} seed{'s' * (len(seeds) != 1)}, {epochs[1][0]} epochs an arm "
                    f"and {epochs[1][1]} for fine-tuning against {epochs[0][0]} and {epochs[0][1]}: the weights "
                    f"arm meets the rule in {rule[1]} of {len(seeds)} cell{'s' * (len(seeds) != 1)} "
                    f"against {rule[0]}, and {name} is {with_interval(at[1]['difference'], at[1]['ci95'])} against "
                    f"{with_interval(at[0]['difference'], at[0]['ci95'])}, a paired shift of "
                    f"{with_interval(row['shift'], row['ci95'])}")
    if not said:
        return "No width has been trained at the longer schedule yet."
    return "Trained longer, at the rates tuned on the shorter schedule, " + "; ".join(said) + "."


def verdict(dataset_title, width, table):
    """One sentence for one width: the post's comparison, said as a direction only where its interval excludes 0."""
    post = table.loc[(width, "{} − {}".format(*arms_lib.POST_COMPARISON[:2]))]
    anneal = table.loc[(width, f"{arms_lib.MIX} − {arms_lib.WEIGHTS_ANNEAL}")]
    if post["seeds"] < 2:
        return (f"On {dataset_title} at width {width}, one evaluation seed so far: mix − weights is "
                f"{post['difference']:+.3f} and mix − weights_anneal {anneal['difference']:+.3f}, with no interval "
                "from one seed, so no direction is stated.")
    if post["low"] > 0:
        said = "a better starting point than the random initialisation"
    elif post["high"] < 0:
        said = "a worse starting point than the random initialisation"
    else:
        said = "neither better nor worse a starting point, within the interval"
    return (f"On {dataset_title} at width {width}, with every arm's rate tuned on validation data and every arm "
            f"annealed alike, the masked network is {said}: mix − weights is {post['difference']:+.3f} ± "
            f"{post['ci95']:.3f} ({post['seeds where arm is higher']:.0f} of {post['seeds']:.0f} seeds higher), and "
            f"mix − weights_anneal, the same low-rate end without a mask, {anneal['difference']:+.3f} ± "
            f"{anneal['ci95']:.3f}.")


def numbers(dataset, dataset_title, plan, points, stored):
    """The chapter's glue values, keyed ``tuned_<dataset>_…``."""
    table, out = differences(stored), {}
    prefix = f"tuned_{dataset}"
    out[f"{prefix}_widths"] = ", ".join(str(width) for width in stored) or "none"
    out[f"{prefix}_tuned_widths"] = ", ".join(str(width) for width in points) or "none"
    out[f"{prefix}_seed"] = plan.seed
    out[f"{prefix}_grid_size"] = len(next(iter(plan.grids.values())))
    out[f"{prefix}_grid_points"] = sum(len({(k, r) for k, r, _ in found}) for found in points.values())
    out[f"{prefix}_edges"] = sum(int(tuning.table(found)["edge"].sum()) for found in points.values())
    out[f"{prefix}_verdicts"] = " ".join(verdict(dataset_title, width, table) for width in stored)
    out[f"{prefix}_fit"] = fit_sentence(stored)
    for (width, comparison), row in table.iterrows():
        key = f"{prefix}_w{width}_{glue_key(comparison)}"
        out.update({key: row["difference"], f"{key}_ci95": row["ci95"]})
    for width, found in points.items():
        for field, rate in tuning.chosen_rates(found).items() if _tuned(found) else ():
            out[f"{prefix}_w{width}_{field}"] = rate
    late = late_selections(stored)
    out[f"{prefix}_late_selections"] = "; ".join(f"{arm} {int(row.late)} of {int(row.cells)}"
                                                 for arm, row in late.iterrows())
    enough = long_enough(stored)
    out[f"{prefix}_long_enough"] = f"{int(enough['long enough'].sum())} of {len(enough)}"
    out[f"{prefix}_longest_gain"] = float(enough["gain over the last fifth"].max()) if len(enough) else 0.0
    out[f"{prefix}_rule_resolution"] = rule_resolution(stored)
    return plain(out)
