"""Figures the student's code draws while the grader runs it, as PNG, taken per cell (worker side).

Runs inside the sandboxed worker. `plt.show()` (grader.execution.figure_backend) and the end of every cell move
the open matplotlib figures into PNG bytes and close them, as Jupyter's inline backend shows them. Only what the
grader's own run draws is taken: stored outputs in the hand-in are never used. Sizes are capped here (the worker
is the student's process, so the grader caps and checks again: grader.execution.runner.checked_figures).
matplotlib is only touched when the student's code imported pyplot.
"""

from __future__ import annotations

import base64
import io
import sys

MAX_FIGURES_PER_CELL = 4
MAX_FIGURE_BYTES = 400_000
_DPI = (80, 60, 40)  # tried in turn until the PNG fits

_taken: list[str] = []  # base64 PNGs of the current cell
dropped = 0  # figures of the current cell left out (too many, too big, failed to draw)


def take_open_figures() -> None:
    """PNG every open pyplot figure into this cell's list, then close them."""
    global dropped
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return
    for number in list(pyplot.get_fignums()):
        figure = pyplot.figure(number)
        if len(_taken) >= MAX_FIGURES_PER_CELL:
            dropped += 1
            continue
        png = _png(figure)
        if png is None:
            dropped += 1
        else:
            _taken.append(base64.b64encode(png).decode("ascii"))
    pyplot.close("all")


def cell_figures() -> tuple[list[str], int]:
    """The cell's figures (base64 PNG) and how many were left out; starts the next cell's list."""
    global dropped
    take_open_figures()
    figures, left_out = list(_taken), dropped
    _taken.clear()
    dropped = 0
    return figures, left_out


def _png(figure) -> bytes | None:
    for dpi in _DPI:
        buffer = io.BytesIO()
        try:
            figure.savefig(buffer, format="png", dpi=dpi)
        except Exception:  # noqa: BLE001 - a figure that cannot be drawn is left out, the cell stands
            return None
        if buffer.tell() <= MAX_FIGURE_BYTES:
            return buffer.getvalue()
    return None
