"""Build the example hand-ins in submissions/<sheet>/ from the master notebooks (and registered mutants).

    python submissions/make_examples.py            # all sheets
    python submissions/make_examples.py sheet02    # one sheet

Each sheet gets a handful of zips named like real hand-ins, one per case a tutor meets (full marks, partial,
a broken notebook, a naming violation, a late one, a PDF-only one), plus manifest.csv with the hand-in times
the CMS would export. Zips and PDFs are written byte for byte the same every time (fixed dates), so
regenerating them does not make the batch regrade. All names are invented.
"""

from __future__ import annotations

import argparse
import copy
import csv
import io
import re
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
_ZIP_TIME = (2025, 1, 27, 12, 0, 0)
_PDF_TIME = datetime(2025, 1, 27, 11, 0, 0, tzinfo=UTC)
_MARKER_LINE = re.compile(r"^[ \t]*# (BEGIN|END) SOLUTION[ \t]*\n?", re.M)
_PROSE_MARKER = re.compile(r"\s*<!-- (BEGIN|END) SOLUTION -->\s*")


@dataclass(frozen=True)
class Member:
    name: str
    student_id: str
    email: str


@dataclass(frozen=True)
class Example:
    """One example hand-in: its file name, what it shows, when it was handed in, and its bytes."""

    file_name: str
    case: str  # full | partial | broken | naming | late | pdf_only | script
    handed_in: str  # ISO 8601 with offset, as the CMS manifest has it
    content: bytes


ERIKA = Member("Erika Mustermann", "2301001", "erika.mustermann@example.org")
JUERGEN = Member("Jürgen Müller-Lüdenscheidt", "2301002", "juergen.mueller@example.org")
AYSE = Member("Ayşe Çelik", "2301003", "ayse.celik@example.org")
PETR = Member("Petr Novák", "2301004", "petr.novak@example.org")
CHIDI = Member("Chidi Okafor", "2301005", "chidi.okafor@example.org")
LENA = Member("Lena Weber", "2301006", "lena.weber@example.org")
EMRE = Member("Emre Yılmaz", "2301007", "emre.yilmaz@example.org")
SOFIA = Member("Sofia Schneider", "2301008", "sofia.schneider@example.org")
JONAS = Member("Jonas Fischer", "2301009", "jonas.fischer@example.org")
MARTA = Member("Marta Kowalski", "2301010", "marta.kowalski@example.org")
THI = Member("Thi Nguyen", "2301011", "thi.nguyen@example.org")
LUCA = Member("Luca Rossi", "2301012", "luca.rossi@example.org")
NOOR = Member("Noor Haddad", "2301013", "noor.haddad@example.org")
MATEO = Member("Mateo García", "2301014", "mateo.garcia@example.org")


# The registered mistakes in each sheet's "partial" example; the mutants file says which checks they lose.
PARTIAL_MUTANTS = {"sheet02": ("forget-gate-no-derivative", "kl-log2"),
                   "sheet11": ("jacobian-activation-not-derivative", "lstm-gate-order-ifog")}


def zip_name(team: list[Member], ending: str = ".zip") -> str:
    """`Surname_id_Surname_id.zip`, as the sheet's naming rule asks."""
    return "_".join(f"{m.name.split()[-1]}_{m.student_id}" for m in team) + ending


def team_markdown(team: list[Member]) -> str:
    return "## Team\n" + "\n\n".join(f"Name: {m.name}\nStudent ID: {m.student_id}\nEmail: {m.email}" for m in team)


def as_hand_in(master: nbformat.NotebookNode, team: list[Member]) -> nbformat.NotebookNode:
    """The master as students would hand it in: their team filled in, the solution markers gone."""
    notebook = copy.deepcopy(master)
    for cell in notebook.cells:
        role = cell.get("metadata", {}).get("grader", {}).get("role")
        if role == "team":
            cell.source = team_markdown(team)
        elif cell.cell_type == "code":
            cell.source = _MARKER_LINE.sub("", cell.source)
        elif cell.cell_type == "markdown":
            cell.source = _PROSE_MARKER.sub("\n", cell.source).strip()
        cell.get("metadata", {}).pop("grader", None)
    return notebook


def notebook_bytes(notebook: nbformat.NotebookNode) -> bytes:
    return (nbformat.writes(notebook) + "\n").encode("utf-8")


def make_zip(files: dict[str, bytes]) -> bytes:
    """A zip with fixed dates and permissions, so the same files give the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def make_pdf(title: str, team: list[Member], paragraphs: list[tuple[str, str]]) -> bytes:
    """A small text PDF: the team block, then each answer under its heading (Latin-1 text only)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_creation_date(_PDF_TIME)
    pdf.set_producer("submissions/make_examples.py")
    pdf.add_page()
    pdf.set_font("Helvetica", size=14)
    pdf.multi_cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    for member in team:
        for line in (f"Name: {member.name}", f"Student ID: {member.student_id}", f"Email: {member.email}"):
            pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    for heading, text in paragraphs:
        pdf.set_font("Helvetica", style="B", size=11)
        pdf.multi_cell(0, 7, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _mutated(master: nbformat.NotebookNode, course_root: Path, sheet: str, mutant_ids: list[str]) -> nbformat.NotebookNode:
    from grader.commands.mutants import apply_mutant, load_mutants

    mutants = {m.id: m for m in load_mutants(course_root / "rubrics" / f"{sheet}.mutants.yaml").mutants}
    notebook = master
    for mutant_id in mutant_ids:
        notebook = apply_mutant(notebook, mutants[mutant_id])
    return notebook


def script_hand_in(team: list[Member]) -> bytes:
    """Sheet 02 as a VS Code user hands it in: a percent-format script (`# %% 1b` cells, markdown cells) whose
    functions are written for tensors only, a helper module beside it, a yes/no answer as np.bool_, an own KL
    example with one infinite direction, and `sys.exit(main())` at the end. Every automatic point is earned."""
    members = "\n#\n".join(f"# Name: {m.name}\n# Student ID: {m.student_id}\n# Email: {m.email}" for m in team)
    script = f'''# %% [markdown]
# # RGANN sheet 02
# ## Team
{members}

# %% Imports
import sys

import numpy as np
import torch

from kl_tools import kl_discrete  # our helper module, handed in beside this script

# %% 1b Forget-gate delta tags=["solution"]
def forget_gate_delta(net_phi, zeta, s_prev):
    gate = torch.sigmoid(net_phi)
    return gate * (1 - gate) * (zeta * s_prev).sum()

# %% 1c
bidirectional_online_feasible = np.bool_(False)

# %% [markdown]
# **Answer 1c:** No. The backward direction starts at the end of the sequence, so every output needs inputs
# that have not arrived yet when an online label is due.

# %% 3c Our own example: Q has a zero where P has mass
P = [0.3, 0.7]
Q = [1.0, 0.0]  # KL(P||Q) = +inf, KL(Q||P) = ln(1/0.3): not symmetric

# %% 3d
def reparameterize(mu, log_var, eps):
    return mu + (0.5 * log_var).exp() * eps

# %% 3g (bonus)
def kl_gaussian_std_normal(mu, Sigma):
    L = torch.linalg.cholesky(Sigma)
    return 0.5 * (Sigma.diagonal().sum() + mu @ mu - mu.shape[0] - 2 * L.diagonal().log().sum())

# %% Try it
def main():
    print("KL(P||Q) =", kl_discrete(torch.tensor(P), torch.tensor(Q)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''
    helper = '''"""Helpers for sheet 02."""
import torch


def kl_discrete(p, q):
    """KL(p||q) in nats; 0 * ln 0 counts as 0."""
    return torch.where(p > 0, p * (p.log() - q.log()), torch.zeros_like(p)).sum()
'''
    return make_zip({"sheet02.py": script.encode("utf-8"), "kl_tools.py": helper.encode("utf-8")})


def sheet02_examples(course_root: Path = REPO) -> list[Example]:
    master = nbformat.read(str(course_root / "reference" / "notebooks" / "sheet02_master.ipynb"), as_version=4)

    def handed_in(team: list[Member], notebook: nbformat.NotebookNode, name: str = "sheet02.ipynb") -> bytes:
        return make_zip({name: notebook_bytes(as_hand_in(notebook, team))})

    partial = _mutated(master, course_root, "sheet02", list(PARTIAL_MUTANTS["sheet02"]))
    broken_team = [LENA, EMRE]
    pdf_team = [THI, LUCA]
    pdf = make_pdf("RGANN sheet 02", pdf_team, [
        ("Task 1 (a)", "The memory cell is updated additively, so with the forget gate open it can act as a "
                       "counter that increments and decrements."),
        ("Task 3 (b)", "The KL divergence measures how much one distribution differs from a reference "
                       "distribution; in a VAE it keeps the approximate posterior close to the prior."),
    ])
    return [
        Example(zip_name([ERIKA, JUERGEN]), "full", "2025-01-29T18:03:00+01:00",
                handed_in([ERIKA, JUERGEN], master)),
        Example(zip_name([AYSE, PETR, CHIDI]), "partial", "2025-01-29T23:41:10+01:00",
                handed_in([AYSE, PETR, CHIDI], partial)),
        Example(zip_name(broken_team), "broken", "2025-01-28T20:15:00+01:00",
                make_zip({"sheet02.ipynb": b'{"cells": [ this notebook was cut off while saving'})),
        Example(zip_name([SOFIA]), "naming", "2025-01-29T21:30:00+01:00", handed_in([SOFIA], master)),
        Example(zip_name([JONAS, MARTA]), "late", "2025-01-31T09:30:00+01:00", handed_in([JONAS, MARTA], master)),
        Example(zip_name(pdf_team), "pdf_only", "2025-01-29T12:00:00+01:00", make_zip({"answers.pdf": pdf})),
        Example(zip_name([NOOR, MATEO]), "script", "2025-01-29T20:05:00+01:00", script_hand_in([NOOR, MATEO])),
    ]


def sheet11_examples(course_root: Path = REPO) -> list[Example]:
    """Few on purpose: every sheet 11 notebook trains small models."""
    master = nbformat.read(str(course_root / "reference" / "notebooks" / "sheet11_master.ipynb"), as_version=4)
    partial = _mutated(master, course_root, "sheet11", list(PARTIAL_MUTANTS["sheet11"]))
    full_team, partial_team = [ERIKA, JUERGEN, AYSE], [PETR, CHIDI]
    return [
        Example(zip_name(full_team), "full", "2025-01-29T22:10:00+01:00",
                make_zip({"sheet11_practical.ipynb": notebook_bytes(as_hand_in(master, full_team))})),
        Example(zip_name(partial_team), "partial", "2025-01-29T23:58:30+01:00",
                make_zip({"sheet11.ipynb": notebook_bytes(as_hand_in(partial, partial_team))})),
        # A bare notebook named by one student, without the team's ids: graded, and flagged for the tutors.
        Example("Lena_Weber_sheet11.ipynb", "naming", "2025-01-29T19:45:00+01:00",
                notebook_bytes(as_hand_in(master, [LENA]))),
    ]


EXAMPLES: dict[str, Callable[[Path], list[Example]]] = {"sheet02": sheet02_examples, "sheet11": sheet11_examples}


def write_examples(sheet: str, dest: Path, course_root: Path = REPO) -> list[Path]:
    """Write the sheet's example hand-ins and their manifest.csv into `dest`; returns the hand-in paths."""
    if sheet not in EXAMPLES:
        raise KeyError(f"no examples for {sheet!r}; known: {', '.join(sorted(EXAMPLES))}")
    dest.mkdir(parents=True, exist_ok=True)
    examples = EXAMPLES[sheet](course_root)
    paths = []
    for example in examples:
        path = dest / example.file_name
        path.write_bytes(example.content)
        paths.append(path)
    with (dest / "manifest.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "timestamp"])
        writer.writerows([e.file_name, e.handed_in] for e in examples)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sheets", nargs="*", default=sorted(EXAMPLES), help="sheet ids (default: all)")
    args = parser.parse_args(argv)
    for sheet in args.sheets:
        for path in write_examples(sheet, REPO / "submissions" / sheet):
            print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
