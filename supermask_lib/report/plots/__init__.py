"""The book's figures, drawn from a run's files (matplotlib, no state); each answers one question and is
legible at the book's column width (:mod:`.style`; tests/test_plots.py and tests/test_book_legibility.py check it)."""

from matplotlib.ticker import MaxNLocator  # noqa: F401  (the tests' whole-epoch locator)

from supermask_lib.report.plots.answer import plot_answer, plot_width_trend  # noqa: F401
from supermask_lib.report.plots.curves import plot_accuracy, plot_mask_utilization, plot_study_curves  # noqa: F401
from supermask_lib.report.plots.style import (COLUMN_PX, DPI, MIN_TEXT_PX, PAD_IN, PALETTE, WIDTH_IN, arm_colors,  # noqa: F401
                                              close, draw_line, line_colors)
