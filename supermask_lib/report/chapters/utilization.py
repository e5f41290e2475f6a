"""The mask-utilisation chapter (book/mask_utilization.md): the post's per-layer pattern, tested over seeds.

The post saw two things in its utilisation figures: the fewer weights a
layer has, the less of it the mask switches off ("fewer weights = information
bottleneck"), and no layer masked beyond about 16% on CIFAR-10 (12% on MNIST).
Here each seed's mask phase gives a Spearman rank correlation between a
layer's size and the fraction it masks; their mean over seeds gets a 95%
interval (Student's t, as the study's comparisons do).
"""

import numpy as np
import pandas as pd
from scipy import stats

from supermask_lib.experiment import arms as arms_lib
from supermask_lib.study import seeds as study
from supermask_lib.report.chapters.values import plain

# The largest fraction of a layer the post's mask switched off, read off its utilisation figures.
POST_MAX_MASKED = {"cifar10": 0.16, "mnist": 0.12}

#: a utilisation table's ``kind`` -> its name in print
KIND_TITLES = {"conv": "3x3 convolutions", "conv_1x1": "1x1 shortcuts", "dense": "dense layers"}


def layer_table(results, arm=arms_lib.MASK):
    """Per masked layer: its size and the fraction masked in each seed, with their mean."""
    frames = {seed: result.utilization[arm].set_index("name") for seed, result in results.items()}
    first = next(iter(frames.values()))
    table = pd.DataFrame({"kind": first["kind"], "n_weights": first["n_weights"]})
    for seed, frame in frames.items():
        table[f"seed {seed}"] = frame["fraction_masked"]
    table["mean"] = table[[f"seed {seed}" for seed in frames]].mean(axis=1)
    return table


def rank_correlations(results, arm=arms_lib.MASK):
    """Each seed's Spearman correlation between a layer's weight count and its fraction masked."""
    table = layer_table(results, arm)
    return pd.Series({seed: float(stats.spearmanr(table["n_weights"], table[f"seed {seed}"]).statistic)
                      for seed in results}, name="spearman")


def _spearman_ci(table, seeds):
    """Mean over seeds of the rank correlation of size against fraction masked in ``table``'s rows, with its 95%
    interval, and the seeds' lowest and highest (NaN where the rows' sizes do not vary)."""
    rhos = pd.Series({seed: float(stats.spearmanr(table["n_weights"], table[f"seed {seed}"]).statistic)
                      for seed in seeds})
    rho, half = study.mean_ci(rhos)
    return rho, half, float(rhos.min()), float(rhos.max())


def _order_words(rho, half):
    if rho - half > 0:
        return "holds: larger layers mask more of their weights, smaller ones less"
    if rho + half < 0:
        return "is reversed: smaller layers mask more of their weights, larger ones less"
    return "is not seen: a layer's size does not order how much of it is masked"


def claim_parts(dataset, results):
    """The post's two claims at this scale, each as what holds and what does not, sentence by sentence.

    ``order``: the rank correlation over layers with its interval and the seeds' spread; ``within_kind``: the
    same among the most common kind of layer alone (whether size orders masking inside a kind, or only the kinds
    differ); ``smallest``: how the smallest layer stands against the larger ones; ``ceiling``: the post's largest
    fraction masked against ours.
    """
    table = layer_table(results)
    rho, half, low, high = _spearman_ci(table, results)
    parts = {"order": (f"Over {len(results)} seeds and {len(table)} layers the rank correlation between a layer's "
                       f"size and the fraction it masks is {rho:+.2f} ± {half:.2f} (single seeds from {low:+.2f} "
                       f"to {high:+.2f}), so the post's first claim {_order_words(rho, half)}.")}
    kind = table["kind"].value_counts()
    if kind.iloc[0] >= 3 and kind.iloc[0] < len(table):
        rows = table[table["kind"] == kind.index[0]]
        k_rho, k_half, _, _ = _spearman_ci(rows, results)
        within = _order_words(k_rho, k_half).split(":")[0]
        if rho - half > 0 and k_rho - k_half <= 0:  # the order over all layers is only the kinds differing
            parts["order"] = parts["order"].replace(
                f"so the post's first claim {_order_words(rho, half)}.",
                "so larger layers mask more over all layers, but the post's first claim holds only as far as "
                "the kinds of layer differ (next).")
        parts["within_kind"] = (f"Among the {KIND_TITLES.get(kind.index[0], kind.index[0])} alone ({len(rows)} "
                                f"layers) it is {k_rho:+.2f} ± "
                                f"{k_half:.2f}: there the order {within}"
                                + ("." if k_rho - k_half > 0 else
                                   ", so the correlation over all layers comes from the kinds of layer differing."))
    smallest = table["n_weights"].idxmin()
    beaten = int((table["mean"].drop(smallest) < table.loc[smallest, "mean"]).sum())
    parts["smallest"] = (f"The smallest layer ({smallest}, {int(table.loc[smallest, 'n_weights']):,} weights) masks "
                         f"{table.loc[smallest, 'mean']:.3f}, " +
                         (f"more than {beaten} of the {len(table) - 1} larger layers, against the post's pattern."
                          if beaten else "less than every larger layer, as the post saw."))
    if dataset in POST_MAX_MASKED:
        post, largest = POST_MAX_MASKED[dataset], float(table["mean"].max())
        above = int((table["mean"] > post).sum())
        head = f"The post's second claim, no layer masked beyond about {post:.2f} (read off its figure), "
        config = next(iter(results.values())).config
        rate = config.mask_lr or config.learning_rate
        parts["ceiling"] = head + (f"does not hold here: {above} of {len(table)} layers mask more, the most masked "
                                   f"({table['mean'].idxmax()}) {largest:.3f} of its weights on average; the network "
                                   f"({config.model}), its steps and the mask's rate ({rate:g}) differ from "
                                   "the post's, and each can move how much is masked." if above else
                                   f"holds here: the most masked layer ({table['mean'].idxmax()}) masks {largest:.3f}.")
    return parts


def claim(dataset, results):
    """The post's pattern at this scale, in words: what holds and what does not, with the numbers it rests on."""
    return " ".join(claim_parts(dataset, results).values())


def holds_and_fails(dataset, results):
    """:func:`claim_parts`' sentences sorted into ``(what holds, what does not)`` for the post's pattern: the
    sorting reads each sentence's own verdict, so a part moves between the two as the runs change."""
    holds, fails = [], []
    for text in claim_parts(dataset, results).values():
        failed = any(words in text for words in ("is not seen", "is reversed", "against the post's pattern",
                                                 "does not hold", "holds only as far as"))
        (fails if failed else holds).append(text)
    return " ".join(holds) or "Nothing of the post's pattern.", " ".join(fails) or "Nothing: every part holds."


def claim_numbers(studies):
    """Glue values, keyed ``<dataset>_<key>``: the sentence, the correlation and its interval, the largest fraction."""
    numbers = {}
    for dataset, results in studies.items():
        if not all(arms_lib.MASK in result.utilization for result in results.values()):
            continue
        rho, half = study.mean_ci(rank_correlations(results))
        table = layer_table(results)
        numbers.update({f"{dataset}_utilization_{part}": text for part, text in claim_parts(dataset, results).items()})
        numbers[f"{dataset}_utilization_holds"], numbers[f"{dataset}_utilization_fails"] = holds_and_fails(dataset,
                                                                                                          results)
        numbers.update({f"{dataset}_utilization_claim": claim(dataset, results),
                        f"{dataset}_utilization_rho": rho, f"{dataset}_utilization_rho_ci": half,
                        f"{dataset}_utilization_max": float(table["mean"].max()),
                        f"{dataset}_utilization_layers": len(table)})
    return plain(numbers)


def layer_means(results):
    """The per-layer means the chapter's figure draws: size, kind and mean fraction masked (with min and max)."""
    table = layer_table(results)
    seeds = [column for column in table if column.startswith("seed ")]
    return table.assign(low=table[seeds].min(axis=1), high=table[seeds].max(axis=1),
                        index=np.arange(len(table)))[["index", "kind", "n_weights", "mean", "low", "high"]]
