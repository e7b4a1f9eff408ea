"""Question lists of the two course sheets, as a rubric would give them to extraction, and the sheet-02
hand-ins the extraction tests read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.prose.extract import ProseQuestion

# Sheet 02's questions as the rubric describes them (text as printed on the sheet).
SHEET02 = [
    ("1a", "01", "(a)", "How can LSTMs and other gated memory units learn to count and solve other discrete tasks? What is expected to happen during training?"),
    ("1b", "01", "(b)", "Consider a single LSTM unit with D memory cells. Starting with the definition of delta, derive the forget gate gradient of the LSTM."),
    ("1c", "01", "(c)", "Can bidirectional RNNs be effectively used for online classification, that is generating a classification label for every new input immediately? Explain briefly."),
    ("2a", "02", "(a)", "Name three forms of commonly applied regularization techniques for neural networks and describe their effects."),
    ("2b", "02", "(b)", "Explain the internal covariate shift and how it has been addressed in the literature."),
    ("2c", "02", "(c)", "Consider the statement: the more parameters a neural network has, the better it will generalize. Is this statement true?"),
    ("2d", "02", "(d)", "What is the effect of residual blocks on the gradient flow in deep networks?"),
    ("3a", "03", "(a)", "What is the general purpose of autoencoders (AEs) and what are their main components? Give an illustration."),
    ("3b", "03", "(b)", "Briefly explain the purpose of the KL divergence."),
    ("3c", "03", "(c)", "Given two discrete probability distributions Q, P. Show that KL(Q||P) = KL(P||Q) does not hold in general."),
    ("3d", "03", "(d)", "Briefly describe the re-parametrization trick and explain why it is necessary to train a VAE."),
    ("3e", "03", "(e)", "Name a frequently mentioned drawback of VAEs and give one example from the literature that addresses this issue."),
    ("3f", "03", "(f)", "What are the major differences of the variational autoencoders (VAEs) in comparison with standard autoencoders? Relate your answer to the two sub-losses that are optimized during VAE training."),
    ("3g", "03", "(g)", "Bonus: Show that the KL-divergence between two Gaussian distributions simplifies in the following form, if the reference distribution is the standard normal."),
    ("4a", "04", "(a)", "Illustrate the major structure of GANs and name the essential components. Briefly describe the principle."),
    ("4b", "04", "(b)", "Elaborate on why the training of GANs is considered as particularly difficult/challenging and how it is addressed. Comment on what happens if the discriminator dominates the generator and vice versa."),
]

SHEET11 = [
    ("11.1.1", "11.1", "1)", "What is the key difference between CNN and RNN in terms of the modelling of the problem?"),
    ("11.1.2", "11.1", "2)", "What is the mathematical difficulty in training the RNN, and how does LSTM mitigates the same? Assume that you use Tanh or logistic sigmoid activation functions. Does LSTM have similarities to residual neural networks?"),
    ("11.2.1", "11.2", "1)", "Give an example application for each of the architectures above and describe its input and output."),
    ("11.2.2", "11.2", "2)", "A recursive NN is not in the drawings above. Draw the architecture of a recursive NN and describe it."),
    ("11.2.3a", "11.2", "3) a)", "What is J_{k+1} in the above equation? Give the expression."),
    ("11.2.3b", "11.2", "3) b)", "What issues can occur because of equation (1)? Mention the two factors that cause the said issue."),
]


def questions(rows: list[tuple[str, str, str, str]], *, with_text: bool = True) -> list[ProseQuestion]:
    return [ProseQuestion(id=i, task=t, part=p, text=text if with_text else "") for i, t, p, text in rows]


# --- sheet 02 hand-ins the extraction tests run on ---------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
COURSE_SHEET02 = REPO.parent / "shared" / "course" / "rgann-sheet-02-student-answers.md"
INVENTED_SHEET02 = REPO / "tests" / "fixtures" / "sheet02-handin" / "answers.md"


@dataclass(frozen=True)
class Sheet02HandIn:
    """A half-filled sheet-02 answer sheet converted from PDF, and what extraction must find in it."""

    label: str
    markdown: Path
    pdf: Path | None  # a committed PDF of the same sheet; None: made from the markdown by the tests
    answered: frozenset[str]  # questions with a written answer
    answer_1a: str
    answer_1c: tuple[str, str]  # how 1c's answer starts and ends
    notes_2a: tuple[str, ...]  # handwritten fragments on 2a's page (no written answer there)
    notes_3b: tuple[str, ...]  # the same on 3b's page, a later one
    note_4b: str  # a fragment after 4b's "Answer:", where only notes follow
    sources: dict[str, str]  # where the markdown's questions 3a, 4a and 4b are found


INVENTED = Sheet02HandIn(
    label="invented",
    markdown=INVENTED_SHEET02,
    pdf=INVENTED_SHEET02.with_suffix(".pdf"),
    answered=frozenset({"1a", "1c", "2b", "3a"}),
    answer_1a="the cell state can keep a running sum, the gates decide when to add one",
    answer_1c=("No. The backward direction reads the sequence from its end",
               "so only the forward half could be computed."),
    notes_2a=("Dropout ze", "L2 Strafe a", "Datenaugm", "Folie 3, S. 12"),
    notes_3b=("Abstand zwis",),
    note_4b="Diskrim",
    sources={"3a": "line 68", "4a": "line 97", "4b": "line 122"},
)

COURSE = Sheet02HandIn(
    label="course",
    markdown=COURSE_SHEET02,
    pdf=None,
    answered=frozenset({"1a", "1c"}),
    answer_1a="time steps of calculations act as natural source of discreteness",
    answer_1c=("No, that is in general not possible", "which is impossible in this context."),
    notes_2a=("Gewichte", "Early Sto Weight D", "Label Sm", "Output je"),  # weights, early stopping, smoothing
    notes_3b=("Misst die Unähnlichkeit",),  # the KL-divergence note
    note_4b="Discrimin",
    sources={"3a": "line 74", "4a": "line 105", "4b": "line 140"},
)

COURSE_MISSING = (f"the course's real answer sheet {COURSE_SHEET02} is not here (a clone without ../shared/course): "
                  "tested on the invented hand-in only")


def sheet02_hand_ins() -> list:
    """pytest params: the invented hand-in always, the course's real one when ../shared/course has it."""
    return [pytest.param(INVENTED, id="invented"),
            pytest.param(COURSE, id="course",
                         marks=pytest.mark.skipif(not COURSE_SHEET02.is_file(), reason=COURSE_MISSING))]
