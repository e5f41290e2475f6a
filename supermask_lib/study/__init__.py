"""The study: many runs of the harness and what they say together.

Owns the seeds and their paired comparisons (``seeds``), the scale axes (``scale``), the tuning stage
(``tuning``) and the literature's recipes (``literature``). May import the core and
``supermask_lib.experiment``; never ``supermask_lib.report``.
"""

_SEEDS = ("run_study", "comparisons", "seed_table", "mean_ci", "arm_summary", "paired_differences",
          "epoch_bands", "load_study", "load_stored_study", "compare_with_stored", "store_and_check",
          "check_seeds", "main")


def __getattr__(name):
    """Names of the old ``supermask_lib.study`` module, now in ``.seeds``: kept for one version."""
    from supermask_lib import _moved

    return _moved.forward(__name__, name, "supermask_lib.study.seeds", _SEEDS)
