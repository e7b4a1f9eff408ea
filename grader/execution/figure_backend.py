"""The matplotlib backend of the sandboxed worker (MPLBACKEND=module://grader.execution.figure_backend).

It draws with Agg (no display, no GUI toolkit) and makes `plt.show()` do what it does in Jupyter's inline
backend: the figures drawn so far are taken as the cell's figures (grader.execution.figures) and closed. Figures
left open at the end of a cell are taken then. Runs inside the sandbox, in the student's process: nothing here is
trusted by the grader, which checks every PNG it gets back (grader.execution.runner).
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg

from grader.execution.figures import take_open_figures

FigureCanvas = FigureCanvasAgg


def show(*args, **kwargs) -> None:
    take_open_figures()
