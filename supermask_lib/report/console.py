"""The report's console: one line per notebook, and everything else in a log file.

The report's whole output (every cell and epoch, TensorFlow's banners in each kernel, Sphinx's chatter)
ran past a thousand lines. A :class:`Reporter` keeps a line per notebook instead (a tqdm bar on a terminal;
in CI or a pipe a line at its start and one at its end) and writes everything, as it comes, to the log its
last line names. Still on the console: our code's Python warnings, Sphinx's (a failed glue's), errors.
"""

import contextlib
import logging
import os
import sys
import threading
import time
import traceback
import warnings
from pathlib import Path

from supermask_lib.report.progress import ANSI, Progress, Task, left_text, ours


class Reporter:
    """Where the report's output goes.

    Without a log (the library's own calls, from tests or a notebook): everything to the console, as
    papermill and Sphinx print it. With a log and ``verbose``: the same, and all of it in the log. With
    a log alone: a line per notebook on the console (a bar where ``tty``), the rest in the log only.
    """

    WIDTH = 10  # the longest notebook's name
    TAIL = 20   # lines of output shown with an error

    def __init__(self, console=None, log_path=None, verbose=False, tty=None):
        self.log_path, self.log, self.failed = (Path(log_path) if log_path else None), None, None
        self.verbose = verbose or self.log_path is None
        self.use_console(console or sys.stdout, tty)
        if self.log_path:  # every writer appends (the kernels write to it too), so empty it first
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log_path.write_text("")
            self.log = open(self.log_path, "a", encoding="utf-8", errors="replace")

    def use_console(self, console, tty=None):
        self.console = console
        self.tty = bool(getattr(console, "isatty", lambda: False)()) if tty is None else tty

    def close(self):
        if self.log is not None:
            self.log.close()

    def say(self, text):
        """A line for the console and the log."""
        self.write(text + "\n")
        self._print(text)

    def write(self, text, echo=False):
        """Into the log as it comes; ``echo``: to the console too where it shows the full stream."""
        if self.log is not None:
            self.log.write(text)
            self.log.flush()
        if echo and self.verbose:
            self.console.write(text)
            self.console.flush()

    def warn(self, text):
        """A warning that matters, on the console above the bars (the log already holds it where it came from)."""
        if not self.verbose:
            self._print(text)

    def _print(self, text):
        if self.tty:
            from tqdm import tqdm

            tqdm.write(text, file=self.console)
        else:
            print(text, file=self.console, flush=True)

    @contextlib.contextmanager
    def task(self, name, detail, run_epochs=(), cells=None):
        """One notebook (or the book): its start line (or bar), its :class:`Task`, its end line."""
        task = Task(self, name, Progress(run_epochs, cells))
        self.write(f"=== {name}: {detail}\n")
        if self.verbose:
            self._print(f"== {name}: {detail}")
        elif self.tty:
            self._start_bar(task)
        else:
            self._print(f"{name}: {detail}")
        try:
            yield task
        except BaseException:
            self._end(task, "failed")
            raise
        self._end(task, "done")

    def _start_bar(self, task):
        from tqdm import tqdm

        task.bar = tqdm(total=1000, desc=task.name.ljust(self.WIDTH), file=self.console, leave=True, mininterval=0,
                        bar_format="{desc} {percentage:3.0f}%|{bar:24}| {elapsed}{postfix}")
        task.stop = threading.Event()  # the elapsed time moves between the notebook's lines too

        def tick():
            while not task.stop.wait(1.0):
                task.bar.refresh()

        task.ticker = threading.Thread(target=tick, daemon=True)
        task.ticker.start()

    def refresh(self, task):
        if task.bar is None:
            return
        fraction = task.progress.fraction
        task.bar.n = 0 if fraction is None else round(1000 * fraction)
        task.bar.set_postfix_str(left_text(task.progress.seconds_left()), refresh=True)

    def _end(self, task, word):
        self.failed = task if word == "failed" else None
        self.write(f"=== {task.name}: {word} after {task.elapsed()}\n")
        if task.bar is not None:
            task.stop.set()
            task.ticker.join()
            if word == "done":
                task.bar.n = task.bar.total
            task.bar.set_postfix_str(word, refresh=True)
            task.bar.close()
        elif self.verbose:
            self._print(f"== {task.name}: {word} in {time.perf_counter() - task.started:.0f}s")
        else:
            self._print(f"{task.name}: {word} after {task.elapsed()}")

    def failure(self, error):
        """The error, then the failed task's last lines of output (or, failing outside a task, the log's), on the
        console; the whole traceback in the log."""
        name = getattr(error, "ename", None)  # papermill's PapermillExecutionError: the cell's exception
        summary = f"{name}: {error.evalue}" if name else f"{type(error).__name__}: {error}"
        where = f" in {self.failed.name}" if self.failed else ""
        where += f" (cell In [{error.exec_count}])" if getattr(error, "exec_count", None) else ""
        self._print(f"error{where}: {summary}")
        for note in getattr(error, "__notes__", []):
            self._print(note)
        if self.log is not None:
            if self.failed and self.failed.recent:
                tail = list(self.failed.recent)
                self._print(f"--- {self.failed.name}'s last {len(tail)} lines of output ---")
            else:
                tail = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-self.TAIL:]
                self._print(f"--- the log's last {len(tail)} lines ---")
            for line in tail:
                self._print(ANSI.sub("", line))
            self.write("".join(traceback.format_exception(error)))

    @contextlib.contextmanager
    def capture(self):
        """Logging (papermill's among it) and Python warnings into the log; to the console what matters."""
        root, papermill = logging.getLogger(), logging.getLogger("papermill")
        saved = root.handlers[:], root.level, papermill.level, warnings.showwarning
        handlers = [_ConsoleHandler(self)] if not self.verbose else [logging.StreamHandler(self.console)]
        if self.log is not None:  # papermill's records of the cells' streams: the stream files hold them
            handlers.append(logging.StreamHandler(self.log))
            handlers[-1].addFilter(lambda record: record.funcName != "log_output_message")
        for handler in handlers:
            handler.setFormatter(logging.Formatter("%(message)s"))
        root.handlers, root.level = handlers, logging.WARNING
        papermill.setLevel(logging.INFO)  # its lines about each notebook (and, verbose, the cells' output)
        if not self.verbose:
            warnings.showwarning = self._show_warning
        try:
            yield self
        finally:
            root.handlers, root.level = saved[0], saved[1]
            papermill.setLevel(saved[2])
            warnings.showwarning = saved[3]

    def _show_warning(self, message, category, filename, lineno, file=None, line=None):
        text = warnings.formatwarning(message, category, filename, lineno, line)
        self.write(text)
        if ours(filename):
            self.warn(text.strip())


class _ConsoleHandler(logging.Handler):
    """Warnings and errors logged in this process: to the console (the log handler has them too)."""

    def __init__(self, reporter):
        super().__init__(logging.WARNING)
        self.reporter = reporter

    def emit(self, record):
        self.reporter.warn(self.format(record))


@contextlib.contextmanager
def console_only(log_path):
    """Points file descriptors 1 and 2 (this process's, and so the kernels' it starts) at the log, so what
    TensorFlow and the kernels print at start goes there; yields a stream on the console they pointed at."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = os.dup(1), os.dup(2)
    console = os.fdopen(os.dup(1), "w", buffering=1, encoding=getattr(sys.stdout, "encoding", None) or "utf-8",
                        errors="replace")
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    for fd in (1, 2):
        os.dup2(log, fd)
    os.close(log)
    try:
        yield console
    finally:
        for stream in (sys.stdout, sys.stderr, console):
            stream.flush()
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)
        console.close()


def run_reported(work, log_path, verbose=False):
    """``work(reporter)`` with the console a report run has: its result, or on an error the error, the failed
    notebook's last lines of output and exit status 1 (``verbose``: the full stream, and the traceback raised as
    ever). The last line names the log either way."""
    with contextlib.ExitStack() as stack:
        reporter = stack.enter_context(contextlib.closing(Reporter(log_path=log_path, verbose=verbose)))
        if not verbose:
            reporter.use_console(stack.enter_context(console_only(log_path)))
        stack.enter_context(reporter.capture())
        try:
            return work(reporter)
        except KeyboardInterrupt:
            reporter.say(f"interrupted; full log: {log_path}")
            raise
        except Exception as error:
            if verbose:
                reporter.write("".join(traceback.format_exception(error)))
                reporter.say(f"full log: {log_path}")
                raise
            reporter.failure(error)
            reporter.say(f"full log: {log_path}")
            raise SystemExit(1) from None
