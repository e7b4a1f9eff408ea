"""Hand-ins nobody planned for (issue 19), made by the tests, graded in one session batch.

Every hand-in is sheet 02's master as a team would hand it in, changed in one way: an Otter-Grader layout with
raw question cells, a UTF-8 byte-order mark, Windows-1252 and UTF-16 encodings, a NameError in the first solution
cell, the unmodified template, a loose label and text below an answer cell, an R kernel, shell lines and magics,
and a figure drawn under question 3c. `grade_unplanned` grades them as `grader grade` does and exports the tutors'
page as `grader manual export` does.
"""

from __future__ import annotations

import codecs
import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nbformat

from grader.commands.batch import BatchOptions, run_batch
from grader.store.layout import folder_name
from grader.commands.manual.export import ExportSummary, export_manual
from grader.rubric.notebooks import make_template
from submissions.make_examples import Member, as_hand_in, make_zip, notebook_bytes, zip_name
from tests.batch.conftest import append_manifest, master02
from tests.conftest import REPO

NOW = datetime(2025, 3, 1, tzinfo=UTC)  # after the deadline: feedback shows model answers
HANDED_IN = "2025-01-29T12:00:00+01:00"

STRAY = "Our loss curve collapses after epoch 12; we think the learning rate was too high."
BELOW_CODE = "We checked kl_discrete against scipy.stats.entropy and both agree to 1e-12 on our examples."
LOOSE_3B = "The KL divergence tells how much information is lost when Q is used to approximate P, in nats."


SURNAMES = ["", "Otter", "Bohm", "Kodier", "Breit", "Fehler", "Vorlag", "Lose", "Arr", "Magie", "Figur"]


def team(n: int) -> list[Member]:
    return [Member(f"Ada {SURNAMES[n]}", f"23190{n:02d}", f"ada{n}@example.org"),
            Member(f"Ben {SURNAMES[n]}ova", f"23191{n:02d}", f"ben{n}@example.org")]


def _cell(notebook: nbformat.NotebookNode, cell_id: str) -> nbformat.NotebookNode:
    return next(c for c in notebook.cells if c.get("id") == cell_id)


def otter(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Otter-Grader's assignment layout: raw BEGIN/END QUESTION cells with name/points lines around questions."""
    cells = []
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            cells.append(nbformat.v4.new_raw_cell(f"# BEGIN QUESTION\nname: q{number}\npoints: 2\nmanual: false"))
            cells.append(cell)
            cells.append(nbformat.v4.new_raw_cell("# END QUESTION"))
        else:
            cells.append(cell)
    notebook.cells = cells
    return notebook


def early_name_error(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The first solution cell stops at a name it never defined: its function never exists."""
    first = _cell(notebook, "code1b")
    first.source = "helpers_from_last_week.setup()\n" + first.source
    _cell(notebook, "code1c").source = "bidirectional_online_feasible = answer_from_the_lecture\n"
    _cell(notebook, "code3c").source = "kl_discrete = kl_from_sheet_one\n"
    _cell(notebook, "code3d").source = "reparameterize = reparam_from_the_lecture\n"
    _cell(notebook, "code3g").source = "kl_gaussian_std_normal = gaussian_kl_from_the_lecture\n"
    return notebook


def loose_labels(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """3b answered under a loose label; a remark in the cell below the 3a answer (the answer runs on: its end is
    uncertain); a note below the 3g code cell (no question owns it)."""
    answer3b = _cell(notebook, "answer3b")
    answer3b.source = f"3 b.\n{LOOSE_3B}"
    index = notebook.cells.index(_cell(notebook, "answer3a"))
    stray = nbformat.v4.new_markdown_cell(STRAY)
    stray.id = "stray-remark"
    notebook.cells.insert(index + 1, stray)
    below = nbformat.v4.new_markdown_cell(BELOW_CODE)
    below.id = "below-code"
    notebook.cells.insert(notebook.cells.index(_cell(notebook, "code3g")) + 1, below)
    return notebook


def r_kernel(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The same notebook saved from an R kernel: its code cells are R."""
    notebook.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    notebook.metadata["language_info"] = {"name": "R", "version": "4.3.1", "file_extension": ".r"}
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = "library(torch)\nx <- c(1, 2, 3)\nprint(mean(x))"
    return notebook


def magics(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Shell lines and magics that the sandbox cannot run: listed in the feedback, per cell."""
    first = _cell(notebook, "code1b")
    first.source = "!pip install pyro-ppl\n%matplotlib inline\n" + first.source
    notebook.cells.insert(notebook.cells.index(first) + 1,
                          nbformat.v4.new_code_cell("%%bash\necho 'installing tools'\nls -la"))
    return notebook


def figure(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A plot drawn under 3d (samples of the student's reparameterize) with plt.show(), and one drawn and left
    open in a cell under no question (before the first task)."""
    index = notebook.cells.index(_cell(notebook, "code3d"))
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(
        "import matplotlib.pyplot as plt\nimport numpy as np\nimport torch\n"
        "z = reparameterize(torch.zeros(500), torch.zeros(500), torch.randn(500))\n"
        "plt.hist(z.numpy(), bins=30)\nplt.title('samples of z')\nplt.show()\nprint('plotted', len(z))"))
    early = nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.figure()\nplt.plot([0, 1], [1, 0])")
    notebook.cells.insert(notebook.cells.index(_cell(notebook, "q1a")), early)
    # A stored output that the grader must not trust: a fake figure in the hand-in itself.
    early.outputs = [nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgoAAAAstoredFAKE"})]
    return notebook


@dataclass(frozen=True)
class Case:
    key: str
    team: list[Member]
    data: bytes

    @property
    def file_name(self) -> str:
        return zip_name(self.team)

    @property
    def folder(self) -> str:
        return folder_name(self.file_name)


def cases() -> list[Case]:
    master = master02()

    def hand_in(n: int, change=None) -> nbformat.NotebookNode:
        notebook = as_hand_in(master, team(n))
        return change(notebook) if change else notebook

    def zipped(n: int, key: str, notebook_data: bytes, name: str = "sheet02.ipynb") -> Case:
        return Case(key, team(n), make_zip({name: notebook_data}))

    template = make_template(copy.deepcopy(master))
    filled_template = as_hand_in(template, team(6))
    text = nbformat.writes(hand_in(3)) + "\n"
    return [
        zipped(1, "otter", notebook_bytes(hand_in(1, otter))),
        zipped(2, "bom", codecs.BOM_UTF8 + notebook_bytes(hand_in(2))),
        zipped(3, "cp1252", text.replace("Ada Kodier", "Jürgen Kodier").encode("cp1252", errors="replace")),
        zipped(4, "utf16", text.encode("utf-16")),
        zipped(5, "early_error", notebook_bytes(hand_in(5, early_name_error))),
        zipped(6, "template", notebook_bytes(filled_template)),
        zipped(7, "loose", notebook_bytes(hand_in(7, loose_labels))),
        zipped(8, "r_kernel", notebook_bytes(hand_in(8, r_kernel))),
        zipped(9, "magics", notebook_bytes(hand_in(9, magics))),
        zipped(10, "figure", notebook_bytes(hand_in(10, figure))),
    ]


@dataclass(frozen=True)
class UnplannedBatch:
    out: Path
    cases: dict[str, Case]
    export: ExportSummary

    def folder(self, key: str) -> Path:
        return self.out / self.cases[key].folder


def grade_unplanned(root: Path, *, unsafe_no_sandbox: bool) -> UnplannedBatch:
    hand_ins = root / "hand-ins"
    hand_ins.mkdir(parents=True)
    made = cases()
    for case in made:
        (hand_ins / case.file_name).write_bytes(case.data)
    append_manifest(hand_ins, [(case.file_name, HANDED_IN) for case in made])
    out = root / "out"
    summary = run_batch(BatchOptions(hand_ins=hand_ins, sheet="sheet02", out=out, course=REPO, now=NOW,
                                     unsafe_no_sandbox=unsafe_no_sandbox))
    assert len(summary.graded) == len(made) and not summary.interrupted, summary
    export = export_manual("sheet02", out / "manual-sheet02.csv", results_dir=out, course=REPO)
    return UnplannedBatch(out=out, cases={case.key: case for case in made}, export=export)
