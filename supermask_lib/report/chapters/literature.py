"""The literature chapter's numbers (notebooks/literature.ipynb): the recipes side by side, ours against published.

Training and reading the literature runs is :mod:`supermask_lib.study.literature`'s.
"""

import math
import re

import pandas as pd

from supermask_lib.report.chapters.values import plain
from supermask_lib.experiment.datasets import PARTIAL_CIFAR10, partial_cifar10


def recipe_table(recipes):
    """The recipes side by side: one column per recipe, one row per field it sets ("–": the library's default)."""
    rows = {name: {**{field: _short(value) for field, value in recipe.fields.items()}, "source": recipe.source}
            for name, recipe in recipes.items()}
    return pd.DataFrame(rows).fillna("–")


def _short(value):
    if isinstance(value, dict):  # a Keras initializer config
        options = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in value["config"].items())
        return f"{value['class_name']}({options})"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


def literature_machine(results):
    """Where a dataset's literature runs trained and on how much data (shown under its table)."""
    if not results:
        return "no stored runs"
    first = next(iter(results.values()))
    env, data = first.environment, first.data
    text = (f"{data['train_size']:,} training images, {data['val_size']:,} validation, {data['test_size']:,} test; "
            f"trained on {env['device']} with {env['backend']} {env['backend_version']}")
    if partial_cifar10(data):
        text += (f" ({PARTIAL_CIFAR10}: {data['canonical_train']:,} of 50,000 "
                 "training images, so below the published numbers by construction)")
    return text


COLUMNS = (("ours", "ours"), ("published", "published"), ("kept", "kept"), ("train accuracy", "train"),
           ("minutes", "minutes"), ("epochs", "epochs"), ("best epoch", "best_epoch"))  # table column, glue key


def literature_numbers(tables, stored, planned_epochs=None):
    """Glue values of the literature chapter: per dataset and variant, ours, published, kept, minutes, epochs, and
    ``_reach``, the comparison in words (``planned_epochs``: variant -> the epochs its authors trained)."""
    numbers = {}
    for dataset, table in tables.items():
        numbers[f"lit_{dataset}_machine"] = literature_machine(stored[dataset])
        numbers[f"lit_{dataset}_stored"] = len(stored[dataset])
        numbers[f"lit_{dataset}_variants"] = len(table)
        for variant, row in table.iterrows():
            for column, key in COLUMNS:
                if pd.notna(row[column]):
                    numbers[f"lit_{dataset}_{variant}_{key}"] = row[column]
            if pd.notna(row["ours"]) and pd.notna(row["published"]):
                numbers[f"lit_{dataset}_{variant}_gap"] = row["ours"] - row["published"]
                numbers[f"lit_{dataset}_{variant}_reach"] = reach_sentence(
                    row["ours"], row["published"], seeds=1, epochs=int(row["epochs"]),
                    planned_epochs=planned_epochs.get(variant, int(row["epochs"])) if planned_epochs else None)
            if pd.notna(row["ours"]):
                history = stored[dataset][variant].histories.get("mask") if variant in stored[dataset] else None
                numbers[f"lit_{dataset}_{variant}_chance"] = chance_sentence(row["ours"], history)
        for group, rows in depth_groups(table).items():
            numbers[f"lit_{dataset}_{group}_depth"] = depth_sentence(rows["ours"], rows["published"])
            numbers[f"lit_{dataset}_{group}_fit"] = fit_sentence(rows["train accuracy"], rows["ours"])
    return plain(numbers)


#: a gap to the published number this small (in accuracy) is "within" it; larger, ours "falls short"
WITHIN = 0.005


def reach_sentence(ours, published, *, seeds, epochs, planned_epochs=None):
    """How our run stands against the published number, in words sized to the evidence (seeds, epochs run)."""
    gap = ours - published
    if gap >= 0:
        head = f"reaches their number ({ours:.3f} against {published:.3f})"
    elif -gap <= WITHIN:
        head = f"comes within {-gap:.3f} of their number ({ours:.3f} against {published:.3f})"
    else:
        head = f"falls {-gap:.3f} short of their number ({ours:.3f} against {published:.3f})"
    evidence = "one seed, so the gap has no spread to be judged against" if seeds == 1 else f"{seeds} seeds"
    if planned_epochs and epochs < planned_epochs:
        evidence += f", after {epochs:,} of their {planned_epochs:,} epochs, so the rest of their training is untried"
    return f"{head}: {evidence}"


def model_groups(results):
    """The curves' panels: ``{model: [variant, …]}`` where the runs trained several networks (a row of panels per
    network), else None (one panel)."""
    models = {name: result.config.model for name, result in results.items()}
    if len(set(models.values())) < 2:
        return None
    return {model: [name for name, m in models.items() if m == model] for model in dict.fromkeys(models.values())}


CLASSES = 10  # every dataset of the literature chapter: chance is a tenth
AT_CHANCE = 0.02  # test accuracy this close to chance is "at chance"; under twice chance, "near chance"
LOSS_AT_CHANCE = 0.05  # a training loss this close to ln(classes) every epoch: the logits never left zero


def chance_sentence(accuracy, history=None, classes=CLASSES):
    """Where a test accuracy stands against chance, and (with the mask's ``history``) whether the training loss
    ever left ln(classes), the loss of logits at zero: the words follow the run, not the expectation."""
    chance = 1 / classes
    if accuracy < chance + AT_CHANCE:
        head = f"stays at chance ({accuracy:.3f}, chance {chance:.2f})"
    elif accuracy < 2 * chance:
        head = f"stays near chance ({accuracy:.3f}, under twice chance's {chance:.2f})"
    else:
        return f"rises well above chance ({accuracy:.3f}, chance {chance:.2f})"
    if history is not None and "loss" in history and len(history):
        gap = float((history["loss"] - math.log(classes)).abs().max())
        head += (f", its training loss within {gap:.3f} of ln {classes} = {math.log(classes):.3f} throughout"
                 if gap < LOSS_AT_CHANCE else f", though its training loss moved up to {gap:.2f} from ln {classes}")
    return head


DEPTH = re.compile(r"^(?P<recipe>.+)_conv(?P<depth>\d+)(?P<variant>.*)$")


def depth_groups(table):
    """The variants that differ only in the network's depth (``edge_popup_conv2_keep50``, ``_conv4_keep50``, …):
    ``{"edge_popup_keep50": rows}``, shallowest first; a group needs two depths."""
    groups = {}
    for variant in table.index:
        match = DEPTH.match(variant)
        if match:
            groups.setdefault(match["recipe"] + match["variant"], []).append((int(match["depth"]), variant))
    return {name: table.loc[[variant for _, variant in sorted(members)]]
            for name, members in groups.items() if len(members) >= 2}


def _order(values):
    steps = [later - earlier for earlier, later in zip(values, values[1:])]
    if all(step > WITHIN for step in steps):
        return "rises"
    if all(step < -WITHIN for step in steps):
        return "falls"
    return "mixed"


def depth_sentence(ours, published=None):
    """Whether accuracy rises or falls with depth over one group of networks (each step by more than
    :data:`WITHIN`), and whether that is the published order."""
    said = {"rises": "deeper is better", "falls": "accuracy falls with depth",
            "mixed": "accuracy does not move one way with depth"}
    values = list(ours)
    order, text = _order(values), ", ".join(f"{value:.3f}" for value in values)
    sentence = f"{said[order]} ({text})"
    if published is not None and pd.notna(list(published)).all():
        theirs = _order(list(published))
        plural = {"rises": "rise", "falls": "fall", "mixed": "do not move one way"}[theirs]
        sentence += ", as published" if theirs == order else f", where the published numbers {plural}"
    return sentence


OVERFIT = 0.1  # training accuracy this far above test accuracy: the mask fits its training images, not the task


def fit_sentence(train, test):
    """Whether a group of networks overfits: training accuracy more than :data:`OVERFIT` above test accuracy
    (the selected epoch's), for all, some or none of them."""
    gaps = [a - b for a, b in zip(train, test)]
    text = ", ".join(f"{gap:.3f}" for gap in gaps)
    over = sum(gap > OVERFIT for gap in gaps)
    if over == len(gaps):
        return f"overfits: training accuracy above test accuracy by {text}"
    if over:
        return f"overfits in {over} of {len(gaps)} networks: training accuracy above test accuracy by {text}"
    return f"does not overfit: training accuracy above test accuracy by only {text}"
