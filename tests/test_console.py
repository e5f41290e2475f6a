"""The report's console and log (``supermask_lib/report/console.py``): a line per notebook, everything in the log."""

import io
import subprocess
import sys
import textwrap

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from supermask_lib.report.console import Reporter

EPOCH = "[mask] epoch {e}/2  loss 1.0  acc 0.5  val_loss 1.0  val_acc 0.5  lr 0.01  kept 0.5000  0.5s"


class Console(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self._tty = tty

    def isatty(self):
        return self._tty


def _train(reporter, name):
    """What a training notebook's kernel streams, through the task's papermill stream files."""
    with reporter.task(name, f"{name}.ipynb -> out/{name}.ipynb", run_epochs=[2]) as task:
        for e in (1, 2):
            task.stdout.write(EPOCH.format(e=e) + ("  under a minute left (1 epoch)" if e == 1 else "") + "\n")
        task.stderr.write("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
        task.stdout.write("test accuracy: initial 0.1, mask 0.5\n")


def test_off_a_terminal_a_notebook_is_one_line_at_its_start_and_one_at_its_end(tmp_path):
    console = Console(tty=False)
    reporter = Reporter(console, tmp_path / "report.log")
    for name in ("mnist", "cifar10"):
        _train(reporter, name)
    reporter.close()
    lines = console.getvalue().splitlines()
    assert "\r" not in console.getvalue() and len(lines) == 4
    assert lines[0] == "mnist: mnist.ipynb -> out/mnist.ipynb" and lines[1].startswith("mnist: done after 00:0")
    assert lines[2].startswith("cifar10: cifar10.ipynb") and lines[3].startswith("cifar10: done after")
    log = (tmp_path / "report.log").read_text()
    assert log.count("[mask] epoch 2/2") == 2 and log.count("absl::InitializeLog") == 2  # all of it, in the log


def test_on_a_terminal_a_notebook_is_one_bar_that_ends_done(tmp_path):
    console = Console(tty=True)
    reporter = Reporter(console, tmp_path / "report.log")
    _train(reporter, "mnist")
    reporter.close()
    shown = console.getvalue()
    assert shown.count("\n") == 1  # one line, redrawn in place
    assert " 50%|" in shown and "under a minute left" in shown  # after the first of two epochs
    assert shown.rstrip("\n").rsplit("\r", 1)[-1].startswith("mnist      100%|") and shown.rstrip().endswith(", done")


def test_the_book_builds_warnings_reach_the_console_and_verbose_shows_every_line(tmp_path):
    sphinx = ["\x1b[01mreading sources... \x1b[39;49;00m[100%] intro\n",
              "/book/intro.md:3: WARNING: glue target not found: 'mnist_mask_test_accuracy' [mystnb.missing_glue]\n",
              "build finished with problems, 1 warning.\n"]
    for verbose in (False, True):
        console = Console(tty=False)
        reporter = Reporter(console, tmp_path / f"{verbose}.log", verbose=verbose)
        with reporter.task("book", "jupyter-book build book") as task:
            for line in sphinx:
                task.tool_line(line)
        reporter.close()
        shown = console.getvalue()
        assert "book: /book/intro.md:3: WARNING: glue target not found" in shown or verbose
        assert ("build finished with problems" in shown) == verbose
        assert (tmp_path / f"{verbose}.log").read_text().count("WARNING: glue target") == 1


def _notebook(path, *sources):
    notebook = new_notebook(cells=[new_markdown_cell("# A page"), *map(new_code_cell, sources)])
    notebook.cells[1].metadata["tags"] = ["parameters"]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)


def test_a_report_run_logs_everything_shows_what_matters_and_stops_on_a_notebooks_error(tmp_path):
    """Real kernels through papermill: the kernels' start-up and stream output in the log only, our warning on
    the console, and a failing cell's error with the notebook's own last lines and the log's path, exit status 1."""
    _notebook(tmp_path / "trains.ipynb", "epochs = 2", textwrap.dedent(f"""\
        import sys, warnings
        for e in range(1, epochs + 1):
            print({EPOCH!r}.format(e=e), flush=True)
        print("I0000 port.cc:153] oneDNN custom operations are on.", file=sys.stderr)
        warnings.warn("a setting from our notebook looks odd")
        warnings.warn_explicit("a dependency's chatter", UserWarning, "/env/site-packages/dep.py", 1)
        print("test accuracy: initial 0.1, mask 0.5")"""))
    _notebook(tmp_path / "broken.ipynb", "x = 1", "print('before the error')", "raise ValueError('no such glue key')")
    script = textwrap.dedent("""\
        from supermask_lib.report import pipeline
        from supermask_lib.report.console import run_reported
        def work(reporter):
            pipeline._execute("trains.ipynb", "out/trains.ipynb", {"epochs": 2}, reporter=reporter, run_epochs=[2])
            pipeline._execute("broken.ipynb", "out/broken.ipynb", {}, reporter=reporter)
        run_reported(work, "out/report.log")""")
    (tmp_path / "out").mkdir()
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and done.stderr == ""
    shown = done.stdout.splitlines()
    assert [line.split(":")[0] for line in shown[:5]] == ["trains", "trains", "trains", "broken", "broken"]
    assert "UserWarning: a setting from our notebook looks odd" in shown[1] and "done after" in shown[2]
    assert "failed after" in shown[4] and shown[5] == "error in broken (cell In [3]): ValueError: no such glue key"
    assert "the executed notebook, with the error: out/.tmp-broken.ipynb" in shown
    assert "before the error" in shown and shown[-1] == "full log: out/report.log"
    # Then the failed notebook's own last lines (its streams and the traceback), whatever else the log got since.
    heading = next(i for i, line in enumerate(shown) if line.startswith("--- broken's last"))
    tail = shown[heading + 1:-1]
    assert shown[heading] == f"--- broken's last {len(tail)} lines of output ---"
    assert tail[0] == "before the error" and "Cell In[3], line 1" in tail and tail[-1] == "ValueError: no such glue key"
    progress = shown[:heading]
    assert not any("chatter" in line or "oneDNN" in line or "Kernel is running" in line for line in progress)
    log = (tmp_path / "out" / "report.log").read_text()
    for logged in ("[mask] epoch 2/2", "oneDNN custom operations", "a dependency's chatter", "Kernel is running",
                   "before the error", "ValueError: no such glue key", "Traceback"):
        assert logged in log, logged
    assert (tmp_path / "out" / "trains.ipynb").exists() and not (tmp_path / "out" / "broken.ipynb").exists()
