"""How the book shows its tables: the one home of every table's number formats, for all chapters."""


def styled_summary(table):
    """The per-phase summary (experiment pages): accuracies to 4 places, counts as integers."""
    return table.style.format(
        {"epochs": "{:d}", "selected epoch": "{:.0f}", "val accuracy": "{:.4f}",
         "test accuracy": "{:.4f}", "train seconds": "{:.0f}"},
        na_rep="–",
    )


def styled_estimators(table):
    """The estimator comparison: every number to 3 places."""
    return table.style.format(precision=3)


def styled_arm_summary(summary):
    """Arm means (study): mean ± half-width, and the interval."""
    return summary[["mean", "ci95", "low", "high", "seeds"]].style.format(
        {"mean": "{:.4f}", "ci95": "± {:.4f}", "low": "{:.4f}", "high": "{:.4f}", "seeds": "{:.0f}"})


def styled_differences(differences):
    """Paired differences (study): signed, with their interval."""
    return differences[["question", "difference", "ci95", "low", "high", "seeds where arm is higher", "seeds"]].style.format(
        {"difference": "{:+.4f}", "ci95": "± {:.4f}", "low": "{:+.4f}", "high": "{:+.4f}"})


def styled_kernel_variation(table):
    """A stored run against its recomputation under other kernels (study): accuracies and their signed difference."""
    return table.style.format("{:+.4f}", subset=["difference"]).format("{:.4f}", subset=["stored", "recomputed"])


def styled_literature(table):
    """Ours against published (literature)."""
    return table.style.format(
        {"published": "{:.3f}", "ours": "{:.4f}", "train accuracy": "{:.4f}", "kept": "{:.3f}",
         "best epoch": "{:.0f}", "epochs": "{:d}",
         "minutes": "{:.1f}"}, na_rep="–")


def styled_profile(table):
    """Op-time shares per backend (cost) as percentages."""
    return table.style.format("{:.1%}")


def styled_quick(table):
    """The quick profile's variants (cost): minutes to 1 place, seconds and speed-ups to 2."""
    return table.style.format({"training (min)": "{:.1f}", "wall (min)": "{:.1f}", "median epoch (s)": "{:.2f}",
                               "training speed-up": "{:.2f}", "wall speed-up": "{:.2f}"})


def styled_machines(table):
    """Expected training minutes per CPU class and profile file (cost): to 1 place."""
    return table.style.format("{:.1f}")


def styled_input(table):
    """The input path per backend (cost): seconds to 2 places, milliseconds to 1, shares as percentages."""
    return table.style.format({"epoch (s)": "{:.2f}", "step alone (ms)": "{:.1f}", "input path's share": "{:.1%}"})


def styled_traces(table):
    """One trace per kind of step against one per arm (cost): seconds to 1 place, the ratio to 2."""
    return table.style.format({"a step per kind (s)": "{:.1f}", "a step per arm (s)": "{:.1f}",
                               "per arm / per kind": "{:.2f}", "first epoch, tracing (s)": "{:.1f}",
                               "first epoch, reusing (s)": "{:.1f}"})


def styled_topk(table):
    """top_k against largest_k per device, backend and network (cost): milliseconds and ratios to 2 places."""
    return table.style.format({"step, top_k (ms)": "{:.2f}", "step, largest_k (ms)": "{:.2f}",
                               "step speed-up": "{:.2f}", "selection speed-up": "{:.2f}"})


def styled_optimism(table):
    """Test-set selection against validation selection (answer): accuracies and the optimism with its interval
    (none for a single seed)."""
    return table.style.format({"selected on validation": "{:.4f}", "selected on test": "{:.4f}",
                               "optimism": "{:+.4f}", "ci95": "± {:.4f}"}, na_rep="")


def styled_text(table):
    """A table of words (the verdicts, the recipes): every cell whole (a bare DataFrame's HTML cuts cells at
    50 characters), wrapping inside its column."""
    return table.style.set_table_styles([{"selector": "td, th", "props": [("white-space", "normal")]}])


def styled_utilization(table):
    """One run's mask per layer (experiment pages): counts as integers, the fraction to 3 places, no row index."""
    columns = {"name": "layer", "kind": "kind", "n_weights": "weights", "n_masked": "masked",
               "fraction_masked": "fraction masked", "n_bias": "biases", "n_bias_masked": "biases masked"}
    shown = table[[c for c in columns if c in table]].rename(columns=columns)
    return shown.style.format({"fraction masked": "{:.3f}"}).hide(axis="index")
