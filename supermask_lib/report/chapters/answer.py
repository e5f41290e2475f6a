"""The answer (book/intro.md and book/answer.md): a verdict computed from the study's intervals.

Whether the masked network is a better starting point is asked at equal
training: each fine-tuning of the masked network (``mix`` at the post's rate
and every ``mix_lr…``) against the weights trained as many epochs from the
same initialisation (``equal_cost``), within seeds. A direction is stated
only where the 95% interval excludes zero, and every sentence names the
scale it holds at.
"""

import pandas as pd

from supermask_lib.study import seeds as study
from supermask_lib.experiment import arms as arms_lib
from supermask_lib.report.chapters.study import verdict as sentence
from supermask_lib.report.chapters.values import about, glue_key, plain
from supermask_lib.experiment.datasets import DATASETS

# The post's validation accuracy around its 30th epoch, read off its two training figures (the post
# gives no numbers). Its validation set was the test set.
POST_LEVELS = {  # per dataset, for the post's arms in order (arms_lib.POST_ARMS)
    "cifar10": dict(zip(arms_lib.POST_ARMS, ((0.80, 0.83), (0.79, 0.87), (0.89, 0.91)))),
    "mnist": dict(zip(arms_lib.POST_ARMS, ((0.99, 0.99), (0.99, 0.99), (0.99, 0.99)))),
}
POST_SCALE = "WRN-28-8 on all the training images"


def fine_tunings(config):
    """The arms that fine-tune the learned mask, with their rates: ``[(arm, rate), ...]`` (mix first)."""
    return [(arm.name, arm.learning_rate(config)) for arm in config.arm_records()
            if arm.start == "best_mask"]


random_control = arms_lib.random_control


def answer_comparisons(config):
    """``(arm, baseline, question)`` rows the answer rests on: each fine-tuning against equal-cost weights,
    and against the random mask fine-tuned at the same rate where the run has one."""
    names = set(config.arms())
    rows = [arms_lib.POST_COMPARISON]
    for arm, rate in fine_tunings(config):
        rows.append((arm, arms_lib.EQUAL_COST, f"fine-tuned at {rate_text(rate)}, against weights trained as long"))
        control = random_control(arm, rate)
        if control in names:
            rows.append((arm, control, f"fine-tuned at {rate_text(rate)}, the learned mask against a random one"))
    rows.append((arms_lib.MIX, arms_lib.MASK, "what fine-tuning at the post's rate adds to the mask it starts from"))
    return [row for row in rows if {row[0], row[1]} <= names]


def answer_differences(results):
    """The paired differences of :func:`answer_comparisons` for one dataset's seeds."""
    config = next(iter(results.values())).config
    return study.paired_differences(study.seed_table(results), answer_comparisons(config))


def direction(row):
    """``"higher"``, ``"lower"`` or ``"undecided"``: the sign of a difference whose 95% interval excludes zero."""
    return "higher" if row["low"] > 0 else "lower" if row["high"] < 0 else "undecided"


def rate_text(rate):
    """A learning rate as the book writes it: 1e-5, 0.01 as 1e-2."""
    return f"{rate:.0e}".replace("e-0", "e-").replace("e+0", "e")


def _rates(rates):
    rates = [rate_text(rate) for rate in rates]
    return rates[0] if len(rates) == 1 else ", ".join(rates[:-1]) + f" and {rates[-1]}"


def verdict(dataset, results, differences=None):
    """One or two sentences: is the masked network a better starting point here, how sure, at what scale.

    ``differences``: :func:`answer_differences` of ``results``, where the caller has it already.
    """
    first = next(iter(results.values()))
    config = first.config
    differences = answer_differences(results) if differences is None else differences
    by_direction = {"higher": [], "lower": [], "undecided": []}
    for arm, rate in fine_tunings(config):
        key = f"{arm} − equal_cost"
        if key in differences.index:
            by_direction[direction(differences.loc[key])].append(rate)
    scale = (f"{DATASETS[dataset].title}, {config.model} on {first.data['train_size']:,} training images, "
             f"{len(results)} seeds")
    if by_direction["higher"] and not by_direction["lower"]:
        claim = (f"the masked network is the better starting point: fine-tuned at {_rates(by_direction['higher'])} "
                 "it ends higher than the same weights trained as long from the same initialisation")
    elif by_direction["lower"] and not by_direction["higher"] and not by_direction["undecided"]:
        claim = ("the masked network is not a better starting point: fine-tuned at every rate tried "
                 f"({_rates(by_direction['lower'])}) it ends lower than the same weights trained as long "
                 "from the same initialisation")
    else:
        parts = [f"{word} at {_rates(rates)}" for word, rates in
                 (("higher", by_direction["higher"]), ("lower", by_direction["lower"]),
                  ("not distinguishable", by_direction["undecided"])) if rates]
        claim = ("the masked network is not shown to be a better starting point: against the same weights trained "
                 f"as long, fine-tuning it ends {'; '.join(parts)}")
    post = differences.loc["mix − weights"]
    sure = (f"(the post's own comparison, mix − weights: {post['difference']:+.3f} ± {post['ci95']:.3f}, "
            f"mix higher in {int(post['seeds where arm is higher'])} of {int(post['seeds'])} seeds)")
    return f"{scale}: {claim} {sure}."


def learned_mask(results, differences=None):
    """One sentence: where the learned mask beats a random one of the same per-layer fractions, fine-tuned alike,
    and how its advantage moves from the smallest fine-tuning rate to the largest."""
    config = next(iter(results.values())).config
    differences = answer_differences(results) if differences is None else differences
    keys = {rate: f"{arm} − {random_control(arm, rate)}" for arm, rate in fine_tunings(config)}
    rows = [(rate, differences.loc[key]) for rate, key in sorted(keys.items()) if key in differences.index]
    if not rows:
        return "these runs hold no random-mask control"
    by_direction = {"higher": [], "lower": [], "undecided": []}
    for rate, row in rows:
        by_direction[direction(row)].append(rate)
    parts = [f"{word} at {_rates(rates)}" for word, rates in
             (("ends higher", by_direction["higher"]), ("ends lower", by_direction["lower"]),
              ("cannot be told apart from it", by_direction["undecided"])) if rates]
    text = ("against a random mask of the same per-layer fractions, fine-tuned alike, the learned mask "
            + "; ".join(parts))
    if len(rows) > 1:
        (low_rate, low), (high_rate, high) = rows[0], rows[-1]
        text += (f": its advantage goes from {low['difference']:+.3f} ± {low['ci95']:.3f} at {rate_text(low_rate)} "
                 f"to {high['difference']:+.3f} ± {high['ci95']:.3f} at {rate_text(high_rate)}")
    return text[0].upper() + text[1:] + "."


def by_rate(results, baseline, differences=None):
    """One clause per fine-tuning rate: each fine-tuning of the learned mask against ``baseline``, either
    ``"random"`` (the random mask fine-tuned at the same rate) or ``"mix"`` (the post's rate, 1e-5).

    ``differences``: for ``"random"``, :func:`answer_differences` of ``results`` where the caller has it.
    """
    config = next(iter(results.values())).config
    if baseline == "random":
        differences = answer_differences(results) if differences is None else differences
    else:
        differences = study.paired_differences(study.seed_table(results), study.comparisons(results))
    clauses = []
    for arm, rate in fine_tunings(config):
        other = random_control(arm, rate) if baseline == "random" else arms_lib.MIX
        key = f"{arm} − {other}"
        if key in differences.index:
            clauses.append(f"at {rate_text(rate)}, {sentence(arm, other, differences.loc[key])}")
    return "; ".join(clauses) if clauses else "no fine-tuning arm has this comparison in these runs"


def open_question(results, params_dir):
    """Where the study stands against the post's scale: its compute ratio (``compute.ratio_to_post``, from
    multiply-adds, images and the three phases' epochs), and that the answer there is not measured."""
    from supermask_lib.report.chapters.compute import ratio_to_post

    first = next(iter(results.values()))
    ratio = ratio_to_post(first.config, first.data["train_size"], params_dir)
    return (f"Our study's runs are small CPU checks ({first.config.model}, {first.data['train_size']:,} training "
            f"images); the post's {POST_SCALE} takes about {about(ratio)} times the compute of one of these seeds' "
            "three phases, "
            "and whether the answer holds there is not measured.")


def levels(results):
    """Our arms' test accuracy (mean, 95% interval) beside the post's levels read off its figures."""
    dataset = next(iter(results.values())).data["name"]
    summary = study.arm_summary(study.seed_table(results))
    rows = []
    for arm, (low, high) in POST_LEVELS.get(dataset, {}).items():
        if arm in summary.index:
            rows.append({"arm": arm, "ours": summary.loc[arm, "mean"], "ours low": summary.loc[arm, "low"],
                         "ours high": summary.loc[arm, "high"], "post low": low, "post high": high})
    return pd.DataFrame(rows).set_index("arm")


def random_mask_recovered(results):
    """How far the random mask at the post's rate gets from the untrained network toward the learned one, as a
    fraction: ``(random_mask - initial) / (mix - initial)`` on the seeds' mean test accuracy (0: not at all, 1: as far)."""
    means = study.seed_table(results).mean()
    return float((means[arms_lib.RANDOM_MASK] - means["initial"]) / (means[arms_lib.MIX] - means["initial"]))


def answer_numbers(studies, params_dir=None):
    """Glue values of the answer, keyed ``<dataset>_<key>``: the verdict, each difference, and with
    ``params_dir`` (the full profile's settings) the open question of the post's scale."""
    numbers = {}
    for dataset, results in studies.items():
        differences = answer_differences(results)
        numbers[f"{dataset}_verdict"] = verdict(dataset, results, differences)
        if params_dir is not None:
            numbers[f"{dataset}_open"] = open_question(results, params_dir)
        numbers[f"{dataset}_learned_vs_random"] = by_rate(results, "random", differences)
        numbers[f"{dataset}_learned_mask"] = learned_mask(results, differences)
        numbers[f"{dataset}_rates_vs_mix"] = by_rate(results, arms_lib.MIX)
        numbers[f"{dataset}_random_recovered"] = random_mask_recovered(results)
        optimism, selection = selection_optimism(results)  # empty for runs that did not test every epoch
        numbers.update({f"{dataset}_{key}": value for key, value in selection.items()})
        for arm, row in optimism.iterrows():
            numbers[f"{dataset}_optimism_{glue_key(arm)}"] = row["optimism"]
            numbers[f"{dataset}_optimism_{glue_key(arm)}_ci"] = row["ci95"]
        for comparison, row in differences.iterrows():
            arm, baseline = comparison.split(" − ")
            key = f"{dataset}_answer_{glue_key(arm)}_minus_{glue_key(baseline)}"
            numbers[key] = row["difference"]
            numbers[f"{key}_ci"] = row["ci95"]
            numbers[f"{key}_direction"] = direction(row)
    return plain(numbers)


def selection_optimism(results):
    """How much choosing each arm's epoch on the test set (as the post did) flatters it: ``(table, numbers)``.

    Needs runs with ``test_each_epoch``: per seed, the best test accuracy
    over the arm's epochs minus the test accuracy at the epoch the
    validation split chose; mean and 95% interval over seeds. The numbers
    give the post's comparison, mix − weights, under both selections. Both
    are empty for runs without per-epoch test accuracy.
    """
    first = next(iter(results.values()))
    arms = [arm for arm in first.config.arms()
            if all("test_accuracy" in r.histories[arm].columns for r in results.values() if arm in r.histories)
            and all(arm in r.histories for r in results.values())]
    if not arms:
        return pd.DataFrame(), {}
    on_test = pd.DataFrame({arm: {seed: float(result.histories[arm]["test_accuracy"].max())
                                  for seed, result in results.items()} for arm in arms})
    on_validation = study.seed_table(results)[arms]
    rows = {}
    for arm in arms:
        mean, half = study.mean_ci(on_test[arm] - on_validation[arm])
        rows[arm] = {"selected on validation": on_validation[arm].mean(), "selected on test": on_test[arm].mean(),
                     "optimism": mean, "ci95": half}
    table = pd.DataFrame(rows).T
    table.index.name = "arm"
    numbers = {}
    if {arms_lib.MIX, arms_lib.WEIGHTS} <= set(arms):
        mix, weights = arms_lib.MIX, arms_lib.WEIGHTS
        numbers = {"selection_mix_minus_weights_validation": (on_validation[mix] - on_validation[weights]).mean(),
                   "selection_mix_minus_weights_test": (on_test[mix] - on_test[weights]).mean()}
    return table, plain(numbers)
