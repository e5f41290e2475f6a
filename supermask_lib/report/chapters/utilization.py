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


def claim(dataset, results):
    """The post's pattern at this scale, in words, with the numbers it rests on."""
    rho, half = study.mean_ci(rank_correlations(results))
    table = layer_table(results)
    largest = float(table["mean"].max())
    if rho - half > 0:
        pattern = "holds: larger layers mask more of their weights, smaller ones less"
    elif rho + half < 0:
        pattern = "is reversed: smaller layers mask more of their weights, larger ones less"
    else:
        pattern = "is not seen: a layer's size does not order how much of it is masked"
    sentence = (f"Over {len(results)} seeds the rank correlation between a layer's size and the fraction it masks is "
                f"{rho:+.2f} ± {half:.2f}, so the post's pattern {pattern}. The most masked layer "
                f"({table['mean'].idxmax()}) masks {largest:.3f} of its weights on average")
    if dataset in POST_MAX_MASKED:
        post = POST_MAX_MASKED[dataset]
        sentence += (f", {'above' if largest > post else 'within'} the post's largest of about {post:.2f} "
                     "(read off its figure)")
    return sentence + "."


def claim_numbers(studies):
    """Glue values, keyed ``<dataset>_<key>``: the sentence, the correlation and its interval, the largest fraction."""
    numbers = {}
    for dataset, results in studies.items():
        if not all(arms_lib.MASK in result.utilization for result in results.values()):
            continue
        rho, half = study.mean_ci(rank_correlations(results))
        table = layer_table(results)
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
