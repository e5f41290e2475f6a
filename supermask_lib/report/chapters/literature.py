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


def literature_numbers(tables, stored):
    """Glue values of the literature chapter: per dataset and variant, ours, published, kept, minutes, epochs."""
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
    return plain(numbers)
