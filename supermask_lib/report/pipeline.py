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
:mod:`supermask_lib.report.chapters`, one module per chapter. On the command
line the console shows a line per notebook (``--verbose``: everything) and
the full output goes to ``book/_build/report.log`` (``report/console.py``).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from supermask_lib.report.console import Reporter, run_reported
from supermask_lib.report.progress import run_epochs

REPORT_DATASETS = ("mnist", "cifar10")  #: the report's experiment pages, in order


def run_notebooks(profile, *, params_dir="params", notebook="notebooks/supermask_experiment.ipynb",
                  estimators_notebook="notebooks/estimators.ipynb", results_dir="book/results",
                  runs_dir="runs", data_dir=None, datasets=REPORT_DATASETS, estimators=True, reporter=None):
    """Execute the experiment notebook once per dataset, then (unless ``estimators=False``) the estimator comparison (papermill).

    ``reporter``: a ``supermask_lib.report.console.Reporter``, where the output goes (None: all of it to the console).
    """
    # Imported here, not at the top: the harness starts TensorFlow, whose banners main() sends to the log.
    from supermask_lib.experiment.datasets import DATASETS
    from supermask_lib.experiment.profiles import Profile
    from supermask_lib.experiment.runner import check_affordable

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
        target = results_dir / f"{loaded.dataset}.ipynb"
        _execute(source, target, parameters, title=title, reporter=reporter, run_epochs=run_epochs(
            loaded.configs.values()), detail=f"{loaded.path} -> {target} ({profile} profile)")


def _execute(notebook, target, parameters, title=None, *, reporter=None, run_epochs=(), detail=None):
    """papermill into a temporary file, tidy it for the book, then move it into place.

    With a log, the kernel's output goes to it through papermill's stream files and cell hooks
    (``log_output`` only where the reporter shows the full stream); ``run_epochs`` (each run's epochs)
    lets the progress line count epochs, else it counts cells.
    """
    import nbformat
    import papermill

    reporter = reporter or Reporter()
    target = Path(target)
    tmp = target.with_name(f".tmp-{target.name}")
    cells = sum(cell.cell_type == "code" and bool(cell.source.strip())
                for cell in nbformat.read(notebook, as_version=4).cells) + bool(parameters)  # + papermill's cell
    with reporter.task(target.stem, detail or f"{notebook} -> {target}", run_epochs=run_epochs, cells=cells) as task:
        try:
            papermill.execute_notebook(
                str(notebook), tmp, parameters=parameters, cwd=str(Path(notebook).parent),
                kernel_name="python3", log_output=reporter.verbose, progress_bar=False,
                stdout_file=task.stdout, stderr_file=task.stderr,
                on_cell_start=task.cell_started, on_cell_executed=task.cell_executed,
            )
        except papermill.PapermillExecutionError as error:
            if hasattr(error, "add_note"):  # Python 3.11 on
                error.add_note(f"the executed notebook, with the error: {tmp}")
            raise
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


def _resolved(**folders):
    return {name: str(Path(folder).resolve()) for name, folder in folders.items()}


def run_cost_notebook(*, notebook="notebooks/cost.ipynb", results_dir="book/results",
                      benchmark_dir="benchmarks/results", gpu_dir="results/gpu", reporter=None):
    """Render the cost appendix from the recorded benchmark JSON files and the stored GPU session."""
    _execute(notebook, Path(results_dir) / "cost.ipynb", _resolved(benchmark_dir=benchmark_dir, gpu_dir=gpu_dir),
             reporter=reporter)


def run_study_notebook(*, notebook="notebooks/study.ipynb", results_dir="book/results", study_dir="results/study",
                       variation_dir="results/variation", params_dir="params", reporter=None):
    """Render the study chapter from the stored study runs (no training: ``make study`` computes them)."""
    _execute(notebook, Path(results_dir) / "study.ipynb",
             _resolved(results_dir=study_dir, variation_dir=variation_dir, params_dir=params_dir), reporter=reporter)


def run_literature_notebook(*, notebook="notebooks/literature.ipynb", results_dir="book/results",
                            literature_dir="results/literature", params_dir="params", reporter=None):
    """Render the recipes chapter from the stored literature runs (no training: ``make literature`` computes them)."""
    _execute(notebook, Path(results_dir) / "literature.ipynb",
             _resolved(results_dir=literature_dir, params_dir=params_dir), reporter=reporter)


def run_scale_notebook(*, notebook="notebooks/scale.ipynb", results_dir="book/results", scale_dir="results/scale",
                       params_dir="params", reporter=None):
    """Render the width-axis chapter from the stored cells (no training: ``make scale`` computes them)."""
    _execute(notebook, Path(results_dir) / "scale.ipynb", _resolved(results_dir=scale_dir, params_dir=params_dir),
             reporter=reporter)


def run_tuned_notebook(*, notebook="notebooks/tuned.ipynb", results_dir="book/results", tuning_dir="results/tuning",
                       tuned_dir="results/tuned", params_dir="params", reporter=None):
    """Render the tuned axis's chapter from the stored tuning and evaluation runs (``make tuned`` computes them)."""
    _execute(notebook, Path(results_dir) / "tuned.ipynb",
             _resolved(tuning_dir=tuning_dir, tuned_dir=tuned_dir, params_dir=params_dir), reporter=reporter)


def run_answer_notebook(*, notebook="notebooks/answer.ipynb", results_dir="book/results", params_dir="params",
                        stored_dir="results", reporter=None):
    """Render the answer per scale (the box of the answer page and its table) from every stored scale: the study,
    the tuned axis with its bridges and its cells trained longer, the first width axis (no training)."""
    stored = Path(stored_dir)
    _execute(notebook, Path(results_dir) / "answer.ipynb",
             _resolved(params_dir=params_dir, study_dir=stored / "study", scale_dir=stored / "scale",
                       tuning_dir=stored / "tuning", tuned_dir=stored / "tuned", longer_dir=stored / "tuned-long",
                       queue_file=Path(params_dir) / "gpu-queue.yaml")
             | {"bridge_dirs": [str((stored / name).resolve()) for name in ("bridge", "tuned-jax")]},
             reporter=reporter)


def build_book(book_dir="book", *, reporter=None):
    """``jupyter-book build`` with warnings as errors; its output line by line to ``reporter`` (its log, its bar,
    and Sphinx's warnings to the console)."""
    reporter = reporter or Reporter()
    jupyter_book = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or "jupyter-book"
    command = [jupyter_book, "build", str(book_dir), "-W", "-n", "--keep-going"]
    with reporter.task("book", " ".join(["jupyter-book", *command[1:]])) as task:
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              errors="replace") as process:
            for line in process.stdout:
                task.tool_line(line)
        if process.returncode:
            raise subprocess.CalledProcessError(process.returncode, command)
    return Path(book_dir) / "_build" / "html" / "index.html"


def build_report(profile, *, root=".", book_dir="book", runs_dir="runs", data_dir=None, skip_book=False,
                 reporter=None):
    """The whole report: every notebook into ``book_dir/results``, then the book (unless ``skip_book``).

    ``root`` is the source tree whose ``params/``, ``notebooks/``,
    ``benchmarks/results/`` and stored ``results/`` are read. Returns the
    book's ``index.html`` (None with ``skip_book``). ``reporter``: where the
    output goes (a ``supermask_lib.report.console.Reporter``; None: all of it to the console).
    """
    root, results, reporter = Path(root), Path(book_dir) / "results", reporter or Reporter()
    notebooks, stored, params = root / "notebooks", root / "results", root / "params"
    run_notebooks(profile, params_dir=params, notebook=notebooks / "supermask_experiment.ipynb",
                  estimators_notebook=notebooks / "estimators.ipynb", results_dir=results, runs_dir=runs_dir,
                  data_dir=data_dir, reporter=reporter)
    run_cost_notebook(notebook=notebooks / "cost.ipynb", results_dir=results,
                      benchmark_dir=root / "benchmarks" / "results", gpu_dir=stored / "gpu", reporter=reporter)
    run_study_notebook(notebook=notebooks / "study.ipynb", results_dir=results, study_dir=stored / "study",
                       variation_dir=stored / "variation", params_dir=params, reporter=reporter)
    run_literature_notebook(notebook=notebooks / "literature.ipynb", results_dir=results,
                            literature_dir=stored / "literature", params_dir=params, reporter=reporter)
    run_scale_notebook(notebook=notebooks / "scale.ipynb", results_dir=results, scale_dir=stored / "scale",
                       params_dir=params, reporter=reporter)
    run_tuned_notebook(notebook=notebooks / "tuned.ipynb", results_dir=results, tuning_dir=stored / "tuning",
                       tuned_dir=stored / "tuned", params_dir=params, reporter=reporter)
    run_answer_notebook(notebook=notebooks / "answer.ipynb", results_dir=results, params_dir=params,
                        stored_dir=stored, reporter=reporter)
    return None if skip_book else build_book(book_dir, reporter=reporter)


def main(argv=None):
    """The command line: a line per notebook (a bar on a terminal), everything else in the log its last line names."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", help="params/<profile>-<dataset>.yaml (quick, full, tiny)")
    parser.add_argument("--data-dir", default=os.environ.get("SUPERMASK_DATA_DIR") or None,
                        help="folder with mnist.npz and cifar10.npz (default $SUPERMASK_DATA_DIR; none: download)")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--book-dir", default="book")
    parser.add_argument("--root", default=".", help="the source tree: params/, notebooks/, benchmarks/, results/")
    parser.add_argument("--skip-book", action="store_true", help="only run the notebooks")
    parser.add_argument("--log", help="the full output's file (default <book-dir>/_build/report.log)")
    parser.add_argument("--verbose", action="store_true",
                        help="print the full output as it comes (every cell, epoch and Sphinx line), as well as log it")
    args = parser.parse_args(argv)
    log = Path(args.log or Path(args.book_dir) / "_build" / "report.log")
    started = time.perf_counter()

    def report(reporter):
        reporter.say(f"report, {args.profile} profile: a line per notebook, then the book; full log: {log}")
        index = build_report(args.profile, root=args.root, book_dir=args.book_dir, runs_dir=args.runs_dir,
                             data_dir=args.data_dir, skip_book=args.skip_book, reporter=reporter)
        if index is not None:
            reporter.say(f"book: {index.resolve()}")
        reporter.say(f"report done in {(time.perf_counter() - started) / 60:.1f} min; full log: {log}")

    run_reported(report, log, verbose=args.verbose)


if __name__ == "__main__":
    main()
