"""Write the master notebook of sheet 02: the model solution as a student would hand it in.

Run from the repository root:  python -m reference.notebooks.build_sheet02_master

Same markup as the sheet 11 master: `metadata.grader = {"id", "question", "role"}` on every cell, code
solutions between `# BEGIN SOLUTION` / `# END SOLUTION`, prose between `<!-- BEGIN SOLUTION -->` /
`<!-- END SOLUTION -->`. The code is self-contained (students have no `reference` package); the tests
prove that it scores full marks under rubrics/sheet02.yaml and agrees with reference/sheet02.py.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import yaml

from grader.course import make_cell

MASTER_PATH = Path(__file__).with_name("sheet02_master.ipynb")
ANSWERS = Path(__file__).resolve().parent.parent / "answers" / "sheet02.yaml"

TEAM = """\
## Team
Name: Erika Mustermann
Student ID: 1234567
Email: erika.mustermann@example.org

Name: Max Beispiel
Student ID: 7654321
Email: max.beispiel@example.org
"""

CODE = {
    "1b": '''\
import numpy as np
import torch


def forget_gate_delta(net_phi, zeta, s_prev):
    """δ_φ^t = φ'(net_φ^t) Σ_c ζ_c^t s_c^{t-1} for one LSTM unit with D cells and a logistic forget gate φ.

    Receives: net_phi a Python float (or a 0-d tensor); zeta (= ∂E/∂s^t) and s_prev (= s^{t-1}) of shape (D,),
    as numpy float64 arrays or as torch tensors (float32 or float64).
    Returns: the scalar δ_φ^t (a float, a 0-d array or a 0-d tensor).
    """
    # BEGIN SOLUTION
    if isinstance(zeta, torch.Tensor) or isinstance(s_prev, torch.Tensor):
        net = torch.as_tensor(net_phi, dtype=torch.as_tensor(zeta).dtype)
        gate = torch.sigmoid(net)
        return gate * (1 - gate) * torch.sum(torch.as_tensor(zeta) * torch.as_tensor(s_prev))
    gate = 1.0 / (1.0 + np.exp(-np.asarray(net_phi, dtype=float)))
    return gate * (1 - gate) * np.sum(np.asarray(zeta) * np.asarray(s_prev))
    # END SOLUTION
''',
    "1c": '''\
# Can a bidirectional RNN classify online? Replace None by True or False (explain below).
bidirectional_online_feasible = None
# BEGIN SOLUTION
bidirectional_online_feasible = False
# END SOLUTION
''',
    "3c": '''\
def kl_discrete(p, q):
    """KL(p‖q) = Σ_i p_i ln(p_i / q_i) in nats, with 0·ln(0/q_i) = 0 and KL = +inf where q_i = 0 < p_i.

    Receives: p and q, two distributions over the same n outcomes (entries ≥ 0 summing to 1; zeros allowed),
    as numpy arrays or as torch tensors, float64 or float32, of shape (n,).
    Returns: the scalar KL(p‖q) (a float, a 0-d array or a 0-d tensor; +inf where q_i = 0 < p_i).
    """
    # BEGIN SOLUTION
    if isinstance(p, torch.Tensor) or isinstance(q, torch.Tensor):
        p, q = torch.as_tensor(p, dtype=torch.float64), torch.as_tensor(q, dtype=torch.float64)
        terms = torch.where(p > 0, p * (torch.log(p) - torch.log(q)), torch.zeros_like(p))
        return terms.sum()
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0)
    return float(terms.sum())
    # END SOLUTION


# Your own example showing KL(P‖Q) ≠ KL(Q‖P): two distributions over the same outcomes (lists or arrays).
P = None
Q = None
# BEGIN SOLUTION
P = np.array([0.3, 0.7])
Q = np.array([0.5, 0.5])
# END SOLUTION
print(kl_discrete(P, Q), kl_discrete(Q, P))
''',
    "3d": '''\
def reparameterize(mu, log_var, eps):
    """z = μ + σ·ε with σ = exp(½ log σ²): a sample of N(μ, σ²) that is differentiable in μ and log σ².

    Receives: mu, log_var and eps as torch tensors (float32 or float64) of one shape; mu and log_var may
    require grad, and the gradients of z must reach them (the point of the trick). eps ~ N(0, I) is drawn
    outside. numpy arrays may be passed too.
    Returns: z, a tensor of the same shape (an array for numpy inputs).
    """
    # BEGIN SOLUTION
    if isinstance(mu, torch.Tensor):
        return mu + torch.exp(0.5 * log_var) * eps
    return np.asarray(mu) + np.exp(0.5 * np.asarray(log_var)) * np.asarray(eps)
    # END SOLUTION
''',
    "3g": '''\
def kl_gaussian_std_normal(mu, Sigma):
    """KL(N(μ, Σ) ‖ N(0, I)) = ½ (tr Σ + μᵀμ − k − ln det Σ) in nats, for a full SPD covariance Σ.

    Receives: mu of shape (k,) and Sigma of shape (k, k), symmetric positive definite (k may be 512, Σ may be
    ill-conditioned), as numpy float64 arrays or as torch float64 tensors.
    Returns: the scalar KL (a float, a 0-d array or a 0-d tensor).
    """
    # BEGIN SOLUTION
    if isinstance(mu, torch.Tensor):
        mu, Sigma = mu.double(), torch.as_tensor(Sigma).double()
        L = torch.linalg.cholesky(Sigma)
        logdet = 2 * torch.log(torch.diagonal(L)).sum()
        return 0.5 * (torch.trace(Sigma) + mu @ mu - mu.shape[0] - logdet)
    mu, Sigma = np.asarray(mu, dtype=float), np.asarray(Sigma, dtype=float)
    L = np.linalg.cholesky(Sigma)
    logdet = 2 * np.log(np.diag(L)).sum()
    return 0.5 * (np.trace(Sigma) + mu @ mu - mu.shape[0] - logdet)
    # END SOLUTION
''',
}

ORDER = ["1a", "1b", "1c", "2a", "2b", "2c", "2d", "3a", "3b", "3c", "3d", "3e", "3f", "3g", "4a", "4b"]


def build() -> nbformat.NotebookNode:
    answers = yaml.safe_load(ANSWERS.read_text(encoding="utf-8")) if ANSWERS.exists() else {}
    prose = answers.get("questions", answers) if isinstance(answers, dict) else {}
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells.append(make_cell("markdown", "title", None, "text",
                                "# RGANN exercise sheet 02\nWrite your answers into the marked cells."))
    notebook.cells.append(make_cell("markdown", "team", None, "team", TEAM))
    for question in ORDER:
        entry = prose.get(question) if isinstance(prose, dict) else None
        text = entry.get("question", "") if isinstance(entry, dict) else ""
        notebook.cells.append(make_cell("markdown", f"q{question}", question, "text",
                                    f"### Task {question[0]} ({question[1]})\n{text}".rstrip()))
        if question in CODE:
            notebook.cells.append(make_cell("code", f"code{question}", question, "solution", CODE[question]))
        if isinstance(entry, dict) and entry.get("model_answer"):
            notebook.cells.append(make_cell("markdown", f"answer{question}", question, "answer",
                                        "**Answer:**\n<!-- BEGIN SOLUTION -->\n"
                                        f"{entry['model_answer'].strip()}\n<!-- END SOLUTION -->"))
    return notebook


def main() -> None:
    nbformat.write(build(), str(MASTER_PATH))
    print(f"wrote {MASTER_PATH}")


if __name__ == "__main__":
    main()
