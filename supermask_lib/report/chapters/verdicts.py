"""The answer per scale (book/answer.md's box and the table below it), one computed verdict per measured scale.

A *scale* is what a reader needs to weigh a number: the network, the training images, how the arms' rates
were set (the study's fixed rates, or every arm's rate tuned on validation data), the engine and the
seeds. Each measured scale gets one verdict on the post's comparison, mix − weights: a direction only where
its 95% interval excludes zero. The box states the verdicts measured with every arm's rate set alike; a
width axis whose weights arm kept the post's single rate goes into the table only, labelled as such,
so that no sentence of the box can contradict another.
"""

import dataclasses
from pathlib import Path

import pandas as pd

from supermask_lib.experiment import arms as arms_lib
from supermask_lib.experiment.datasets import DATASETS
from supermask_lib.report.chapters import tuned
from supermask_lib.report.chapters.values import signed, with_interval
from supermask_lib.study import seeds as study

POST_RATES = "the study's fixed rates"  # weights and mix at the post's rates, the mask at 0.05 (5x the post's)
TUNED = "every arm tuned"  # every arm's rate swept on validation data, one cosine schedule for all
LONGER = "the tuned rates at {} epochs"  # the tuned axis's cells trained longer (each arm's epochs), same rates
SINGLE_RATE = "weights at the post's single rate"  # the first width axis: weights untuned, only mix annealed
FULL_SEEDS = 5
COMPARISONS = (arms_lib.POST_COMPARISON,
               (arms_lib.MIX, arms_lib.EQUAL_COST, "at equal training"),
               (arms_lib.MIX, arms_lib.WEIGHTS_ANNEAL, "against weights annealed as mix is"),
               (arms_lib.MIX, arms_lib.RANDOM_MASK, "the learned mask against a random one"))
WORDS = {"higher": "better", "lower": "worse", "undecided": "no direction"}
_START = "the masked network is {} starting point"
LEADS = {"worse": _START.format("a worse") + " at every scale measured",
         "better": _START.format("a better") + " at every scale measured",
         "not better": "the masked network is not a better starting point at any scale measured",
         "no direction": "no scale measured tells the masked network from the random one as a starting point"}
LEADS_ONE = {"worse": _START.format("a worse") + " at the one scale measured",  # one scale: said as one
             "better": _START.format("a better") + " at the one scale measured",
             "no direction": "at the one scale measured, the masked network cannot be told from the random one "
                             "as a starting point"}
NOT_AN_ANSWER = (SINGLE_RATE,)  # weights untuned, only mix annealed: in the table, labelled, out of the box


@dataclasses.dataclass(frozen=True)
class Scale:
    """Where a verdict holds: network, training images, rates, engine and seeds."""

    dataset: str
    network: str
    images: int
    rates: str
    engine: str
    seeds: int

    @property
    def label(self):
        return f"{self.network}, {self.images:,} images, {self.rates}"


def scale_of(results, rates):
    """The :class:`Scale` of one cell's seeds (``{seed: RunResult}``); seeds on several engines are refused."""
    first = next(iter(results.values()))
    engines = {result.engine for result in results.values()}
    if len(engines) != 1:
        raise ValueError(f"one scale's seeds ran on {sorted(engines)}: give each engine its own row")
    network = first.config.model.upper()
    return Scale(first.config.dataset, network, int(first.data["train_size"]), rates, engines.pop(), len(results))


def still_improving(results, arm=arms_lib.WEIGHTS, gain=tuned.LONG_ENOUGH_GAIN, share=tuned.LONG_ENOUGH_SHARE):
    """How many seeds' ``arm`` gained at least ``gain`` best validation accuracy over its last ``share`` of epochs
    (the tuned chapter's long-enough rule, :func:`tuned.late_gain`, failed)."""
    return sum(int(tuned.late_gain(result, arm, share) >= gain) for result in results.values())


def measure(results, rates, comparisons=COMPARISONS):
    """One row: the scale's fields, each comparison's difference and interval, the verdict, the caveats."""
    where = scale_of(results, rates)
    table = study.seed_table(results)
    present = [row for row in comparisons if row[0] in table and row[1] in table]
    differences = study.paired_differences(table, present)
    post = differences.loc["{} − {}".format(*arms_lib.POST_COMPARISON[:2])]
    row = {**dataclasses.asdict(where), "scale": where.label}
    for comparison, values in differences.iterrows():
        row[comparison] = float(values["difference"])
        row[f"{comparison} ci95"] = float(values["ci95"])
    direction = ("undecided" if post["seeds"] < 2 else
                 "higher" if post["low"] > 0 else "lower" if post["high"] < 0 else "undecided")
    row["verdict"] = WORDS[direction]
    row["higher"] = int(post["seeds where arm is higher"])
    row["still improving"] = still_improving(results)
    row["caveats"] = "; ".join(_caveats(where, row["still improving"]))
    return row


def _caveats(where, improving):
    caveats = []
    if where.seeds < FULL_SEEDS:
        caveats.append(f"{_seeds(where.seeds)}, fewer than the {FULL_SEEDS} of the tuned axis")
    if improving:
        caveats.append(f"weights still improving at the end in {improving} of {_seeds(where.seeds)}")
    if where.rates == SINGLE_RATE:
        caveats.append("weights at one untuned rate, only mix annealed")
    return caveats


def rows(measured):
    """The table below the box: ``measured`` is ``[(results, rates), ...]``; one row per scale, in that order."""
    return pd.DataFrame([measure(results, rates) for results, rates in measured])


def _shown(table):
    shown = table.copy()
    for comparison in (f"{arm} − {baseline}" for arm, baseline, _ in COMPARISONS):
        if comparison in shown:
            shown[comparison] = [("" if pd.isna(value) else with_interval(value, ci))
                                 for value, ci in zip(shown[comparison], shown[f"{comparison} ci95"])]
    shown["dataset"] = shown["dataset"].map(lambda name: DATASETS[name].title)
    shown["scale"] = [f"{network}, {images:,} images" for network, images in zip(shown["network"], shown["images"])]
    return shown.set_index(["dataset", "scale", "rates"])


def display_table(table):
    """The verdict table as the book shows it, narrow enough for the page: per (dataset, scale, rates) the
    engine, the seeds, mix − weights with its interval, the verdict and the caveats (:func:`controls_table` has
    the other comparisons)."""
    post = "{} − {}".format(*arms_lib.POST_COMPARISON[:2])
    return _shown(table)[["engine", "seeds", post, "verdict", "caveats"]]


def controls_table(table):
    """The same rows with the controls: mix against equal training, the annealing control and a random mask,
    and in how many seeds mix was the higher and weights still improving."""
    shown = _shown(table)
    controls = [f"{arm} − {baseline}" for arm, baseline, _ in COMPARISONS[1:]]
    return shown[[c for c in controls if c in shown] + ["higher", "still improving"]].rename(
        columns={"higher": "seeds mix higher", "still improving": "seeds weights still improving"})


def clause(row, say_verdict=False, engine=None, seeds=None, images=None):
    """One scale's clause: ``WRN-10-1 on 4,000 images −0.013 ± 0.006``, with its verdict, and its training
    length, engine and seeds where they differ from the paragraph's (its images where not ``images``)."""
    post = "{} − {}".format(*arms_lib.POST_COMPARISON[:2])
    alone = pd.isna(row[post + " ci95"])  # one seed: its count said, and no interval to give
    extra = [row["engine"]] * int(row["engine"] != engine)
    extra += [_seeds(row["seeds"])] * int(row["seeds"] != seeds or alone)
    text = row["network"] + f" on {row['images']:,} images" * int(row["images"] != images)
    text += f" at {_longer(row['rates'])}" * int(_longer(row["rates"]) is not None)
    said = signed(row[post]) if alone else with_interval(row[post], row[post + " ci95"])
    text += f"{''.join(', ' + e for e in extra)} {said}"
    return text + (f" ({row['verdict']})" if say_verdict else "")


def _longer(rates):
    """``40 epochs`` for the tuned cells trained longer (:data:`LONGER`), else None."""
    head, tail = LONGER.split("{}")
    return rates[len(head):] if rates.startswith(head) and rates.endswith(tail) else None


def _seeds(count):
    """``1 seed``, ``5 seeds``."""
    return f"{count} seed" + "s" * (int(count) != 1)


def box(dataset, table):
    """The answer box's paragraph for one dataset, about 80 words.

    First the scales with every arm tuned, the same cells trained longer among them (the fair comparison:
    a lead that holds for each, then its numbers), then every other protocol that is read as an answer in
    one clause each (an axis by the widths that gave a direction), and what the training-length rule found.
    The tuned rows' engine and seed count are said once; a clause names its own where they differ. A
    protocol not read as an answer (:data:`NOT_AN_ANSWER`) stays in the table below the box.
    """
    title = DATASETS[dataset].title
    mine = table[table["dataset"] == dataset] if len(table) else table
    if not len(mine):
        return f"{title}: no scale measured yet."
    is_tuned = (mine["rates"] == TUNED) | mine["rates"].map(lambda rates: _longer(rates) is not None)
    tuned = _one_engine_per_scale(mine[is_tuned])
    lead = tuned if len(tuned) else mine
    # the paragraph's engine and seed count: the most common, a tie going to more seeds (a width still
    # training its seeds is the one named as the exception)
    engine, seeds = lead["engine"].mode().iloc[0], int(lead["seeds"].mode().max())
    images = int(lead["images"].iloc[0])
    if len(tuned):
        verdicts = set(tuned["verdict"])
        head = (LEADS_ONE if len(tuned) == 1 else LEADS)[next(iter(verdicts))] if len(verdicts) == 1 else (
            LEADS["not better"] if "better" not in verdicts else "the answer depends on the width")
        numbers = ", ".join(clause(row, len(verdicts) > 1, engine, seeds, images if i else None)
                            for i, (_, row) in enumerate(tuned.iterrows()))
        text = f"{title}, every arm's rate tuned on validation data: {head} ({numbers})."
    else:
        text = f"{title}: no scale measured with every arm's rate tuned yet."
    answers = mine[~is_tuned & ~mine["rates"].isin(NOT_AN_ANSWER)]
    for how, group in answers.groupby("rates", sort=False):
        if len(group) == 1:
            text += f" With {how}, {clause(group.iloc[0], True, engine, seeds)}."
            continue
        directed = group[group["verdict"] != WORDS["undecided"]]  # an axis: only the widths with a direction
        said = "; ".join(f"{verdict} at {_widths(part)} only{_own(part, engine, seeds)}"
                         for verdict, part in directed.groupby("verdict", sort=False))
        text += f" With {how}, {said or 'no direction at any width'}."
    text += f" Mix − weights in test accuracy, 95% intervals, {engine}, {_seeds(seeds)}, unless named."
    if tuned["still improving"].sum():  # per training length, the tuned one first
        counts = [f"{group['still improving'].sum()} of {group['seeds'].sum()} "
                  + ("tuned seeds" if how == TUNED else f"at {_longer(how)}")
                  for how, group in tuned.groupby("rates", sort=False)]
        text += f" Weights still improving at the end: {', '.join(counts)}."
    return text


def _one_engine_per_scale(rows):
    """One row per (network, images, rates): the engine with the most seeds. A bridge cell (the same scale on a second
    engine, to measure the engine) is a check of the engine, not another scale; the table shows it."""
    if not len(rows):
        return rows
    ranked = rows.assign(_order=range(len(rows))).sort_values("seeds", ascending=False, kind="stable")
    return ranked.drop_duplicates(["network", "images", "rates"]).sort_values("_order").drop(columns="_order")


def _own(rows, engine, seeds):
    """`` (JAX on GPU, 3 seeds)``: what rows share that differs from the paragraph's engine and seeds."""
    own = [name for name in dict.fromkeys(rows["engine"]) if name != engine]
    own += [_seeds(count) for count in dict.fromkeys(rows["seeds"]) if count != seeds]
    return f" ({', '.join(own)})" if own else ""


def _widths(rows):
    """``widths 1, 2 and 4``: the widths k of rows' WRN-d-k networks."""
    widths = [name.rsplit("-", 1)[1] for name in dict.fromkeys(rows["network"])]
    listed = widths[0] if len(widths) == 1 else ", ".join(widths[:-1]) + f" and {widths[-1]}"
    return f"width{'s' * (len(widths) > 1)} {listed}"


def words(text):
    """How many words a box paragraph has (numbers and ± count as words)."""
    return len(text.split())


def stored_rows(params_dir, study_dir, scale_dir, tuning_dir, tuned_dir, bridge_dirs=(), longer=None):
    """Every stored scale, verified, in the order the book reads them: per dataset the study, the tuned axis
    (and its cells on other engines, one row per engine and width, where ``bridge_dirs`` hold any; and its
    cells trained longer, where ``longer``, ``(folder, overrides)``, holds any), then the first width axis."""
    from supermask_lib.study import scale

    measured = []
    for dataset in ("mnist", "cifar10"):
        seeds = study.load_study(params_dir, "study", dataset)[1]
        if Path(study_dir, dataset).is_dir():
            measured.append((study.load_stored_study(f"{study_dir}/{dataset}", seeds), POST_RATES))
        axes = [tuned.load(params_dir, tuning_dir, where, dataset)[2] for where in (tuned_dir, *bridge_dirs)]
        measured += [(results, TUNED) for stored in tuned.by_engine(*axes).values() for results in stored.values()]
        if longer:
            folder, overrides = longer
            longer_axis = tuned.load(params_dir, tuning_dir, folder, dataset, overrides)[2]
            measured += [(results, LONGER.format(next(iter(results.values())).config.epochs))
                         for results in longer_axis.values()]
        if Path(params_dir, f"scale-{dataset}.yaml").is_file():
            axis, seeds = scale.load_axis(params_dir, dataset)
            measured += [(results, SINGLE_RATE)
                         for results in scale.load_stored_axis(f"{scale_dir}/{dataset}", axis, seeds).values()]
    return rows(measured)
