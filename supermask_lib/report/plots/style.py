"""What every figure of the book shares: its width, its type sizes, its colours, its lines and its legends.

A figure is drawn :data:`WIDTH_IN` inches wide at :data:`DPI`, the width of the book's text column at a
1280 px window (:data:`COLUMN_PX`, measured in Chromium by tests/test_book_legibility.py), so the page shows
it at its own size and a 10 pt label is 14 px on screen. No colour is used twice in a panel; legends sit
outside the panels; epoch axes have whole-epoch ticks only.
"""

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from supermask_lib.experiment.arms import ARMS

COLUMN_PX = 660  # a notebook output's width in the article column at a 1280 px window (676 px for a glue in a page)
DPI = 100  # matplotlib's and matplotlib-inline's default, at which myst-nb stores the glued PNGs
PAD_IN = 0.1  # savefig's pad_inches, around the tight bounding box myst-nb's PNG is cut to
WIDTH_IN = COLUMN_PX / DPI - 2 * PAD_IN  # so that the PNG, padding included, is the column's width
MIN_TEXT_PX = 9  # no text smaller than this on the page
EXTRA_COLORS = ("tab:olive", "tab:brown", "tab:pink", "black", "gold", "teal")  # arms without a colour (mix_lr…)
PALETTE = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:gray",
           "tab:olive", "tab:cyan")  # lines that are not arms (the literature's recipes, the estimators)
LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "*", "p")
MAX_LINES = 6  # lines one panel carries; more go to small multiples
REFERENCE = "0.35"  # the grey of a reference line (a baseline drawn in another arm's panel)


def figure(height_in, width_in=WIDTH_IN, **kwargs):
    """A figure as wide as the book's column, with constrained layout (legends outside make room); ``width_in``
    narrower for a figure whose labels reach past its edge into the tight bounding box."""
    return plt.figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained", **kwargs)


def arm_colors(arm_records):
    """A colour per arm: its own, else the next free one; a control (``twin``) takes its twin's colour."""
    spare = iter(EXTRA_COLORS)
    colors = {arm.name: arm.color or next(spare) for arm in arm_records if not arm.twin}
    for arm in arm_records:
        if arm.twin:
            colors[arm.name] = colors.get(arm.twin) or next(spare)
    return colors


LABEL_COLORS = {"learned mask": "tab:green", "random mask": "tab:purple"}  # the study's fine-tuning panels


def _color(name):
    return arm_colors(ARMS.values())[name] if name in ARMS else LABEL_COLORS.get(name)


def line_colors(names):
    """A colour per line of one panel, no two alike: an arm's own colour where no earlier line has it, the others
    the palette's free colours in turn (ten at most: a panel of more lines is split into small multiples)."""
    if len(names) > len(PALETTE):
        raise ValueError(f"names: {len(names)} lines in one panel; at most {len(PALETTE)} can have colours of "
                         "their own (split them into panels)")
    colors, taken = {}, set()
    for name in names:
        own = _color(name)
        if own and mcolors.to_hex(own) not in taken:
            colors[name] = own
            taken.add(mcolors.to_hex(own))
    free = iter(c for c in PALETTE if mcolors.to_hex(c) not in taken and c not in colors.values())
    for name in names:
        if name not in colors:
            colors[name] = next(free)
            taken.add(mcolors.to_hex(colors[name]))
    return {name: colors[name] for name in names}


def draw_line(ax, x, y, label, color, linestyle="-", **kwargs):
    """One line on ``ax`` with the next of :data:`MARKERS` (ten markers or so along a long run)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    marker = MARKERS[len(ax.get_lines()) % len(MARKERS)]
    markevery = (0, -(-len(x) // 10)) if len(x) > 25 else None
    return ax.plot(x, y, label=label, color=color, linestyle=linestyle, marker=marker, ms=4, markevery=markevery,
                   linewidth=1.5, **kwargs)[0]


def whole_epochs(ax):
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def legend_below(fig, handles, ncol):
    """One legend for a figure (or subfigure), below its panels: outside every axes (constrained layout makes room)."""
    return fig.legend(handles, [h.get_label() for h in handles], loc="outside lower center",
                      ncol=min(ncol, len(handles)), fontsize="small", frameon=False)


def close(fig):
    """Release a figure once it is saved or glued (notebooks would otherwise show it twice)."""
    plt.close(fig)
