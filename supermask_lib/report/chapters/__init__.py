"""The book's numbers, one module per chapter: pure functions from finished runs to glue values and tables.

Every number the book states comes from here, computed from a run's files
(:class:`supermask_lib.experiment.results.RunResult`) or a benchmark record
(:mod:`supermask_lib.report.records`); nothing is typed by hand. The functions build
no book and run nothing, so they are tested on their own. Find a number by its
chapter:

- ``experiment``: the MNIST and CIFAR-10 pages (notebooks/supermask_experiment.ipynb)
- ``estimators``: the estimator comparison (notebooks/estimators.ipynb)
- ``study``: the seeds study and the kernels' variation (notebooks/study.ipynb)
- ``scale``: the width axis and its trend (notebooks/scale.ipynb)
- ``literature``: the literature's recipes (notebooks/literature.ipynb)
- ``cost``: the cost appendix, from the benchmark records (notebooks/cost.ipynb)
- ``tables``: how every table is shown (formats), for all chapters
- ``values``: the glue values' plain types and key names
"""
