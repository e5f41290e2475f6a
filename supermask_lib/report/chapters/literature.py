"""The literature chapter's numbers (notebooks/literature.ipynb): the recipes side by side, ours against published.

Training and reading the literature runs is :mod:`supermask_lib.study.literature`'s.
"""

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
