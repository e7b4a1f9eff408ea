"""Write the full master of sheet 11: prose answers, the 11.2.3a Jacobian, and the 11.3 practical.

Run from the repository root:  python -m reference.notebooks.build_sheet11_master

The practical's cells come unchanged from `sheet11_practical_master.ipynb` (built by build_sheet11_practical);
this adds what a group hands in besides it, with the same markup. The result, `sheet11_master.ipynb`, is the
notebook that rubrics/sheet11.yaml grades and that the student template is made from.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import yaml

from grader.course import make_cell

HERE = Path(__file__).resolve().parent
PRACTICAL = HERE / "sheet11_practical_master.ipynb"
MASTER_PATH = HERE / "sheet11_master.ipynb"
ANSWERS = HERE.parent / "answers" / "sheet11.yaml"

JACOBIAN = '''\
import numpy as np
import torch


def rnn_jacobian_J(z, activation):
    """J_{k+1} = ∂h_{k+1}/∂z_{k+1} = diag(σ'(z_{k+1})) for σ = tanh or the logistic sigmoid.

    Receives: z of shape (n,), as a numpy float64 array or a torch tensor (float32 or float64), and activation,
    the text "tanh" or "sigmoid".
    Returns: J, an (n, n) array or tensor.
    """
    # BEGIN SOLUTION
    if isinstance(z, torch.Tensor):
        s = torch.tanh(z) if activation == "tanh" else torch.sigmoid(z)
        d = 1 - s ** 2 if activation == "tanh" else s * (1 - s)
        return torch.diag(d)
    z = np.asarray(z, dtype=float)
    s = np.tanh(z) if activation == "tanh" else 1 / (1 + np.exp(-z))
    d = 1 - s ** 2 if activation == "tanh" else s * (1 - s)
    return np.diag(d)
    # END SOLUTION
'''

PROSE = ["11.1.1", "11.1.2", "11.2.1", "11.2.2", "11.2.3a", "11.2.3b"]


def build() -> nbformat.NotebookNode:
    practical = nbformat.read(str(PRACTICAL), as_version=4)
    answers = yaml.safe_load(ANSWERS.read_text(encoding="utf-8"))["questions"]
    notebook = nbformat.v4.new_notebook()
    notebook.metadata = practical.metadata
    team = [c for c in practical.cells if c.metadata["grader"]["role"] == "team"]
    notebook.cells.append(make_cell("markdown", "title", None, "text", "# Exercise sheet 11: Sequence Modeling"))
    notebook.cells.extend(team)
    for question in PROSE:
        entry = answers.get(question, {})
        notebook.cells.append(make_cell("markdown", f"q{question}", question, "text",
                                    f"### {question}\n{entry.get('question', '')}".rstrip()))
        if question == "11.2.3a":
            notebook.cells.append(make_cell("code", "code11.2.3a", question, "solution", JACOBIAN))
            continue
        notebook.cells.append(make_cell("markdown", f"answer{question}", question, "answer",
                                    "**Answer:**\n<!-- BEGIN SOLUTION -->\n"
                                    f"{entry['model_answer'].strip()}\n<!-- END SOLUTION -->"))
    notebook.cells.extend(c for c in practical.cells if c.metadata["grader"]["role"] != "team")
    return notebook


def main() -> None:
    nbformat.write(build(), str(MASTER_PATH))
    print(f"wrote {MASTER_PATH}")


if __name__ == "__main__":
    main()
