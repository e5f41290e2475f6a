"""How far a notebook of the report is, read from the lines it prints: what its progress line shows.

The fraction of epochs trained and the time left come from the notebook's own epoch lines (the
estimate of :class:`supermask_lib.experiment.callbacks.RunClock`), else from the cells run, and for
the book from Sphinx's percentages; :mod:`supermask_lib.report.console` draws them. A :class:`Task` is one
notebook under way: the files papermill writes its streams to, its cell hooks, its progress.
"""

import collections
import math
import re
import time

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# ArmCheckpoint's epoch line, with RunClock.text's estimate at its end:
# "[mask] epoch 3/10  loss ...  8.4s  about 2–3 min left (7 epochs)"
EPOCH_LINE = re.compile(r"^\[[^\]]+\] epoch \d+/\d+ .* (?P<seconds>\d+(?:\.\d+)?)s(?:\s+(?:about (?P<low>\d+)"
                        r"(?:–(?P<high>\d+))? min|(?P<under>under a minute)) left \((?P<left>\d+) epochs?\))?\s*$")
ESTIMATE_LINE = re.compile(r"^device: .*, (?:(?P<under>under a minute)|at least (?P<low>\d+) min) of training")
RUN_END = re.compile(r"^test accuracy: |: finished run found and verified, reusing it")  # a run's last line
SPHINX_STAGE = re.compile(r"^(?P<stage>reading sources|writing output)\.\.\. \[\s*(?P<percent>\d+)%\]")
SPHINX_PROBLEM = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b:")
PYTHON_WARNING = re.compile(r"^(?P<file>\S.*?):\d+: (?P<category>\w*Warning): ")
TENSORFLOW_BANNER = re.compile(r"absl::InitializeLog|oneDNN custom operations|cpu_feature_guard")
OURS = ("supermask_lib", "ipykernel_", "/notebooks/")  # our library, a notebook's cell, a notebook's folder


def ours(filename):
    """Whether a warning was raised in our code (the library or a notebook's cell), not a dependency's."""
    return any(part in str(filename) for part in OURS)


def left_text(left):
    """``(low, high)`` seconds (``high`` None: at least ``low``) in the words of the epoch lines."""
    if left is None:
        return ""
    low, high = left
    if high is None:
        return f"at least {low / 60:.0f} min left" if low >= 60 else ""
    if high <= 60:
        return "under a minute left"
    if round(low / 60) == 0:
        return f"under {math.ceil(high / 60)} min left"
    low, high = round(low / 60), round(high / 60)
    return f"about {low} min left" if low == high else f"about {low}–{high} min left"


def run_epochs(configs):
    """Each run's epochs, from its :class:`~supermask_lib.experiment.config.ExperimentConfig`: what a notebook's
    progress counts (the arms with epochs, as the runner trains them)."""
    return [sum(arm.epoch_count(config) for arm in config.arm_records()) for config in configs]


class Progress:
    """How far a notebook (or the book) is, from the lines it prints and the cells it has run.

    ``run_epochs``: the epochs of each run the notebook trains, in its order (from its profile); a run
    it reuses counts as done at its reuse line. Without runs the cells give the fraction, and for the
    book Sphinx's own percentages (reading, then writing).
    """

    def __init__(self, run_epochs=(), cells=None):
        self.run_epochs = [int(epochs) for epochs in run_epochs]
        self.cells, self.cells_done = cells, 0
        self.runs_done, self.run_left, self.clock = 0, None, None  # clock: (low, high) seconds left in this run
        self.epoch_seconds, self.stage = [], None

    def feed(self, line):
        line = ANSI.sub("", line).strip()
        if match := EPOCH_LINE.match(line):
            self.epoch_seconds.append(float(match["seconds"]))
            self.run_left = int(match["left"] or 0)
            minutes = (0, 1) if match["under"] else (int(match["low"] or 0), int(match["high"] or match["low"] or 0))
            self.clock = (60.0 * minutes[0], 60.0 * minutes[1])
        elif match := ESTIMATE_LINE.match(line):  # the run's arithmetic, before its first epoch is measured
            self.clock = (0.0, 60.0) if match["under"] else (60.0 * int(match["low"]), None)
        elif RUN_END.search(line):
            self.runs_done, self.run_left, self.clock = self.runs_done + 1, None, None
        elif match := SPHINX_STAGE.match(line):
            self.stage = (0.0 if match["stage"] == "reading sources" else 0.5) + int(match["percent"]) / 200

    @property
    def fraction(self):
        """The share done, 0 to 1 (None where nothing says)."""
        total = sum(self.run_epochs)
        if total:
            done = sum(self.run_epochs[:self.runs_done])
            if self.run_left is not None and self.runs_done < len(self.run_epochs):
                done += max(0, self.run_epochs[self.runs_done] - self.run_left)
            return min(1.0, done / total)
        if self.stage is not None:
            return self.stage
        return min(1.0, self.cells_done / self.cells) if self.cells else None

    def seconds_left(self):
        """``(low, high)`` seconds left: this run's clock, plus the later runs' epochs at the mean epoch so far."""
        if not self.run_epochs:
            return None
        later = sum(self.run_epochs[self.runs_done + (self.clock is not None):])
        low, high = self.clock if self.clock is not None else (0.0, 0.0)
        if later and not self.epoch_seconds:
            return (low, None) if self.clock is not None else None
        rest = later * sum(self.epoch_seconds) / len(self.epoch_seconds) if later else 0.0
        return low + rest, None if high is None else high + rest


class LineStream:
    """A file for papermill's ``stdout_file``/``stderr_file``: each write goes to the log at once (so a crash
    leaves it); each complete line goes on to ``on_line``."""

    def __init__(self, log, on_line):
        self.log, self.on_line, self._partial = log, on_line, ""

    def write(self, text):
        self.log.write(text)
        self.log.flush()
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self.on_line(line)
        return len(text)

    def flush(self):
        self.log.flush()


class Task:
    """One notebook (or the book build) under way: its progress, its output's streams and cell hooks."""

    def __init__(self, reporter, name, progress):
        self.reporter, self.name, self.progress = reporter, name, progress
        self.started, self.bar = time.perf_counter(), None
        # Its own last lines, for a failure: the log's last lines may be another process's (a kernel shutting
        # down writes to the log at any moment), these are the notebook's streams and tracebacks only.
        self.recent = collections.deque(maxlen=reporter.TAIL)
        log = reporter.log
        self.stdout = LineStream(log, self._stdout_line) if log else None
        self.stderr = LineStream(log, self._stderr_line) if log else None

    def _stdout_line(self, line):
        self.recent.append(line)
        self.progress.feed(line)
        self.reporter.refresh(self)

    def _stderr_line(self, line):
        self.recent.append(line)
        match = PYTHON_WARNING.match(ANSI.sub("", line))
        if match and ours(match["file"]):
            self.reporter.warn(f"{self.name}: {line.strip()}")

    def tool_line(self, line):
        """A line of a tool's output (the book build): into the log, the progress and, if a problem, the console."""
        self.reporter.write(line, echo=True)
        clean = ANSI.sub("", line).strip()
        self.recent.append(clean)
        self.progress.feed(clean)
        if SPHINX_PROBLEM.search(clean) and not TENSORFLOW_BANNER.search(clean):
            self.reporter.warn(f"{self.name}: {clean}")
        self.reporter.refresh(self)

    def cell_started(self, cell, cell_index, **_):
        if cell.cell_type == "code" and cell.source.strip() and self.reporter.log:
            self.reporter.write(f"--- {self.name}: cell {cell_index + 1} ---\n")

    def cell_executed(self, cell, cell_index, execute_reply=None, **_):
        """Counts the cell (unless it failed), and logs what papermill's stream files do not get: results and
        tracebacks."""
        self.progress.cells_done += (execute_reply or {}).get("content", {}).get("status") != "error"
        for output in cell.get("outputs", []) if self.reporter.log else []:
            if output.get("output_type") == "error":
                text = ANSI.sub("", "\n".join(output.get("traceback", [])))
                self.recent.extend(text.splitlines())
                self.reporter.write(text + "\n")
            elif "text/plain" in output.get("data", {}):
                self.reporter.write("".join(output["data"]["text/plain"]) + "\n")
        self.reporter.refresh(self)

    def elapsed(self):
        from tqdm import tqdm

        return tqdm.format_interval(time.perf_counter() - self.started)
