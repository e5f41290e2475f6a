"""The report: the book's numbers, figures and build.

Owns the plots, the chapters' numbers (``chapters``, one module per page), the benchmark records and the
papermill and Jupyter Book pipeline. May import every package below it; nothing imports it.
"""

_PIPELINE = ("REPORT_DATASETS", "run_notebooks", "run_cost_notebook", "run_study_notebook",
             "run_literature_notebook", "run_scale_notebook", "build_book", "build_report", "main")


def __getattr__(name):
    """Names of the old ``supermask_lib.report`` module, now in ``.pipeline``: kept for one version."""
    from supermask_lib import _moved

    return _moved.forward(__name__, name, "supermask_lib.report.pipeline", _PIPELINE)
