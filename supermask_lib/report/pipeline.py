"""The report pipeline: check the profiles, run the notebooks with papermill, build the book.

``python -m supermask_lib.report.pipeline --profile quick`` runs
``notebooks/supermask_experiment.ipynb`` once per dataset with the parameters
of ``params/<profile>-<dataset>.yaml`` into ``book/results/<dataset>.ipynb``,
the estimator comparison (``params/<profile>-estimators.yaml``) and the cost
appendix (from ``benchmarks/results/*.json``), the study chapter (from the
stored runs in ``results/study/``), the width axis (``results/scale/``) and its tuned twin
(``results/tuning/``, ``results/tuned/``), then builds the Jupyter Book
into ``book/_build/html``. Every profile is checked against
:class:`ExperimentConfig` before anything runs. Finished runs are reused, so
a second call only re-renders. The numbers the book cites are computed in
:mod:`supermask_lib.report.chapters`, one module per chapter.
"""

import argparse
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from supermask_lib.experiment.datasets import DATASETS
from supermask_lib.experiment.runner import check_affordable
from supermask_lib.experiment.profiles import Profile

REPORT_DATASETS = ("mnist", "cifar10")  # the report's experiment pages, in order


def run_notebooks(profile, *, params_dir="params", notebook="notebooks/supermask_experiment.ipynb",
                  estimators_notebook="notebooks/estimators.ipynb", results_dir="book/results",
                  runs_dir="runs", data_dir=None, datasets=REPORT_DATASETS, estimators=True):
    """Execute the experiment notebook once per dataset, then (unless ``estimators=False``) the estimator comparison (papermill)."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    data_dir = str(Path(data_dir).resolve()) if data_dir else None  # the notebooks run in notebooks/
    # Read and check every parameter file first: a missing, misspelt or bad
    # one fails before any training.
    jobs = [(notebook, Profile.load(params_dir, profile, dataset, data_dir=data_dir),
             f"The three phases on {DATASETS[dataset].title}") for dataset in datasets]
    if estimators:
        jobs.append((estimators_notebook, Profile.load(params_dir, profile, "estimators", data_dir=data_dir), None))
    for _, loaded, _ in jobs:  # days of CPU training stop here, with the estimate, before any notebook runs
        for config in loaded.configs.values():
            check_affordable(config, out_dir=runs_dir)
    locations = {"profile": profile, "out_dir": str(Path(runs_dir).resolve()),
                 "data_dir": data_dir,
                 "progress_bar": False}  # papermill logs one line per epoch; a bar would flood it
    for source, loaded, title in jobs:
        parameters = {**loaded.notebook_parameters(), **locations}
        started = time.perf_counter()
        target = results_dir / f"{loaded.dataset}.ipynb"
        print(f"== {loaded.dataset}: {loaded.path} -> {target} ({profile} profile)", flush=True)
        _execute(source, target, parameters, title=title)
        print(f"== {loaded.dataset}: done in {time.perf_counter() - started:.0f}s", flush=True)


def _execute(notebook, target, parameters, title=None):
    """papermill into a temporary file, tidy it for the book, then move it into place."""
    import papermill

    target = Path(target)
    tmp = target.with_name(f".tmp-{target.name}")
    papermill.execute_notebook(
        str(notebook), tmp, parameters=parameters, cwd=str(Path(notebook).parent),
        kernel_name="python3", log_output=True, progress_bar=False,
    )
    _tidy_for_the_book(tmp, title=title)
    os.replace(tmp, target)


def _tidy_for_the_book(path, title=None):
    """Collapse the parameter cells (kept for the reader, hidden by default) and set the page title."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        tags = cell.metadata.setdefault("tags", [])
        if {"parameters", "injected-parameters"} & set(tags) and "hide-cell" not in tags:
            tags.append("hide-cell")
    if title:
        first = notebook.cells[0]
        first.source = re.sub(r"^# .*$", f"# {title}", first.source, count=1, flags=re.M)
    nbformat.write(notebook, path)


def run_cost_notebook(*, notebook="notebooks/cost.ipynb", results_dir="book/results",
                      benchmark_dir="benchmarks/results", gpu_dir="results/gpu"):
    """Render the cost appendix from the recorded benchmark JSON files and the stored GPU session."""
    _execute(notebook, Path(results_dir) / "cost.ipynb", {"benchmark_dir": str(Path(benchmark_dir).resolve()),
                                                          "gpu_dir": str(Path(gpu_dir).resolve())})


def run_study_notebook(*, notebook="notebooks/study.ipynb", results_dir="book/results", study_dir="results/study",
                       variation_dir="results/variation", params_dir="params"):
    """Render the study chapter from the stored study runs (no training: ``make study`` computes them)."""
    _execute(notebook, Path(results_dir) / "study.ipynb", {"results_dir": str(Path(study_dir).resolve()),
                                                           "variation_dir": str(Path(variation_dir).resolve()),
                                                           "params_dir": str(Path(params_dir).resolve())})


def run_literature_notebook(*, notebook="notebooks/literature.ipynb", results_dir="book/results",
                            literature_dir="results/literature", params_dir="params"):
    """Render the recipes chapter from the stored literature runs (no training: ``make literature`` computes them)."""
    _execute(notebook, Path(results_dir) / "literature.ipynb",
             {"results_dir": str(Path(literature_dir).resolve()), "params_dir": str(Path(params_dir).resolve())})


def run_scale_notebook(*, notebook="notebooks/scale.ipynb", results_dir="book/results", scale_dir="results/scale",
                       params_dir="params"):
    """Render the width-axis chapter from the stored cells (no training: ``make scale`` computes them)."""
    _execute(notebook, Path(results_dir) / "scale.ipynb",
             {"results_dir": str(Path(scale_dir).resolve()), "params_dir": str(Path(params_dir).resolve())})


def run_tuned_notebook(*, notebook="notebooks/tuned.ipynb", results_dir="book/results", tuning_dir="results/tuning",
                       tuned_dir="results/tuned", params_dir="params"):
    """Render the tuned axis's chapter from the stored tuning and evaluation runs (``make tuned`` computes them)."""
    _execute(notebook, Path(results_dir) / "tuned.ipynb",
             {"tuning_dir": str(Path(tuning_dir).resolve()), "tuned_dir": str(Path(tuned_dir).resolve()),
              "params_dir": str(Path(params_dir).resolve())})


def build_book(book_dir="book"):
    """``jupyter-book build`` with warnings as errors."""
    jupyter_book = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or "jupyter-book"
    subprocess.run([jupyter_book, "build", str(book_dir), "-W", "-n", "--keep-going"], check=True)
    return Path(book_dir) / "_build" / "html" / "index.html"


def build_report(profile, *, root=".", book_dir="book", runs_dir="runs", data_dir=None, skip_book=False):
    """The whole report: every notebook into ``book_dir/results``, then the book (unless ``skip_book``).

    ``root`` is the source tree whose ``params/``, ``notebooks/``,
    ``benchmarks/results/`` and stored ``results/`` are read. Returns the
    book's ``index.html`` (None with ``skip_book``).
    """
    root, results = Path(root), Path(book_dir) / "results"
    notebooks = root / "notebooks"
    run_notebooks(profile, params_dir=root / "params", notebook=notebooks / "supermask_experiment.ipynb",
                  estimators_notebook=notebooks / "estimators.ipynb", results_dir=results, runs_dir=runs_dir,
                  data_dir=data_dir)
    run_cost_notebook(notebook=notebooks / "cost.ipynb", results_dir=results,
                      benchmark_dir=root / "benchmarks" / "results", gpu_dir=root / "results" / "gpu")
    run_study_notebook(notebook=notebooks / "study.ipynb", results_dir=results, study_dir=root / "results" / "study",
                       variation_dir=root / "results" / "variation", params_dir=root / "params")
    run_literature_notebook(notebook=notebooks / "literature.ipynb", results_dir=results,
                            literature_dir=root / "results" / "literature", params_dir=root / "params")
    run_scale_notebook(notebook=notebooks / "scale.ipynb", results_dir=results, scale_dir=root / "results" / "scale",
                       params_dir=root / "params")
    run_tuned_notebook(notebook=notebooks / "tuned.ipynb", results_dir=results, tuning_dir=root / "results" / "tuning",
                       tuned_dir=root / "results" / "tuned", params_dir=root / "params")
    return None if skip_book else build_book(book_dir)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", help="params/<profile>-<dataset>.yaml (quick, full, tiny)")
    parser.add_argument("--data-dir", default=os.environ.get("SUPERMASK_DATA_DIR") or None,
                        help="folder with mnist.npz and cifar10.npz (default $SUPERMASK_DATA_DIR; none: download)")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--book-dir", default="book")
    parser.add_argument("--root", default=".", help="the source tree: params/, notebooks/, benchmarks/, results/")
    parser.add_argument("--skip-book", action="store_true", help="only run the notebooks")
    args = parser.parse_args(argv)
    # papermill logs the notebooks' output (one line per epoch) at INFO.
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("papermill").setLevel(logging.INFO)
    started = time.perf_counter()
    index = build_report(args.profile, root=args.root, book_dir=args.book_dir, runs_dir=args.runs_dir,
                         data_dir=args.data_dir, skip_book=args.skip_book)
    if index is not None:
        print(f"book: {index.resolve()}")
    print(f"report done in {(time.perf_counter() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()
