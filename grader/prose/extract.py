"""Find each prose question's written answer in a hand-in (.ipynb, .pdf, .md, .txt).

    answers = extract_answers(Path("group07.pdf"), questions)
    answers["1c"].text, answers["1c"].needs_human

The work is split: `sources` reads the file into located lines, `segment` finds where each
question starts, `carve` cuts question text and margin notes off its answer. This module
puts the results together and decides what a tutor must look at: no written answer but
margin notes, pages without extractable text, a hand-in with no recognisable markers.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from grader.prose.carve import Carved, NoteCluster, carve, has_answer_marker
from grader.prose.qtext import tokens_of
from grader.prose.questions import ProseQuestion
from grader.prose.segment import Segment, segment_lines
from grader.prose.sources import Document, HandInReadError, Line, read_document
from grader.prose.textnorm import guess_language

__all__ = ["AnswerText", "HandInReadError", "ProseQuestion", "extract_answers"]

NOTES_WITHOUT_ANSWER = "no written answer, but margin notes"
SCANNED_PAGE = "scanned page, no text"


class AnswerText(BaseModel):
    """What a hand-in says for one prose question."""

    model_config = ConfigDict(frozen=True)

    question_id: str
    text: str = ""
    source: str = ""  # where: "lines 10-12", "page 2", "cell 3f2a"
    found: bool = False
    margin_notes: list[str] = Field(default_factory=list)
    needs_human: bool = False
    reasons: list[str] = Field(default_factory=list)


def extract_answers(path: Path, questions: list[ProseQuestion]) -> dict[str, AnswerText]:
    """Every question's answer in the hand-in at `path`, keyed by question id.

    Raises HandInReadError (naming the file) when the file cannot be read at all.
    """
    document = read_document(Path(path))
    return _Assembler(document, list(questions)).run()


class _Assembler:
    def __init__(self, document: Document, questions: list[ProseQuestion]) -> None:
        self.document = document
        self.questions = questions
        self.sheet_language = guess_language(" ".join(q.text for q in questions))
        self.qwords = {q.id: tokens_of(q.text) for q in questions}

    def run(self) -> dict[str, AnswerText]:
        segments = segment_lines(self.document.lines, self.questions)
        find_notes = self.document.kind != "notebook"  # margin notes come from paper
        if self.sheet_language is None:
            # No question texts given: the questions as printed after their markers tell.
            printed = [s.texts[0] for s in segments if s.owner is not None and s.texts and s.anchor.startswith("marker")]
            self.sheet_language = guess_language(" ".join(printed))
        # Does this hand-in write "Answer:" before its answers (most questions have one)?
        marked_text = [s for s in segments if s.owner is not None and not s.tagged_answer]
        answers_are_marked = 2 * sum(has_answer_marker(s) for s in marked_text) > len(marked_text)
        carved: list[tuple[Segment, Carved]] = [
            (
                s,
                carve(
                    s,
                    self.qwords.get(s.owner or "", []),
                    find_notes=find_notes,
                    sheet_language=self.sheet_language,
                    answers_are_marked=answers_are_marked,
                ),
            )
            for s in segments
        ]
        page_notes: dict[int, list[NoteCluster]] = defaultdict(list)
        for _, piece in carved:
            for cluster in piece.notes:
                for page in sorted({line.page for line in cluster.lines if line.page is not None}):
                    page_notes[page].append(cluster)
        runs_into_scan = self._segments_running_into_scanned_pages(segments)
        located = {s.owner for s in segments if s.owner is not None}
        has_text = any(line.text.strip() and not line.furniture for line in self.document.lines)

        answers = {}
        for question in self.questions:
            own = [(s, c) for s, c in carved if s.owner == question.id]
            if own:
                answers[question.id] = self._answer(question, own, page_notes, runs_into_scan)
            else:
                answers[question.id] = self._missing(question, located, has_text)
        return answers

    def _answer(
        self,
        question: ProseQuestion,
        own: list[tuple[Segment, Carved]],
        page_notes: dict[int, list[NoteCluster]],
        runs_into_scan: dict[int, list[int]],
    ) -> AnswerText:
        # A question read twice ("(c)" above the code, "Answer (c):" below it): the segments
        # without an answer marker hold the question's own text, not its answer.
        marked = [(s, piece) for s, piece in own if s.tagged_answer or has_answer_marker(s)]
        answered = marked if marked and len(marked) < len(own) else own
        lines = [pair for _, piece in answered for pair in piece.answer]
        text = "\n".join(t.rstrip() for _, t in lines).strip()
        found = bool(tokens_of(text))
        notes = [cluster for _, piece in own for cluster in piece.notes]
        reasons: list[str] = []
        needs_human = False
        if not found:
            pages = {line.page for s, _ in own for line in s.lines if line.page is not None and line.text.strip()}
            for page in sorted(pages):
                notes.extend(c for c in page_notes.get(page, []) if all(c is not n for n in notes))
            if notes:
                needs_human = True
                reasons.append(NOTES_WITHOUT_ANSWER)
                reasons.append(f"margin notes at {_where([line for c in notes for line in c.lines])}; which question they belong to is for a human to judge")
            elif any(piece.guessed_question for _, piece in own):
                needs_human = True
                reasons.append("no answer marker and the question's text is unknown: a human must tell question from answer")
            elif any(piece.question_only for _, piece in own):
                reasons.append("only the question's own text, no answer")
            else:
                reasons.append("no answer text after the question")
        if found and any(piece.unmarked for _, piece in answered):
            reasons.append("no answer marker here, unlike the rest of the hand-in: check that this is the answer")
        if found and notes:
            reasons.append(f"margin notes beside the answer at {_where([line for c in notes for line in c.lines])}")
        scanned = sorted({p for s, _ in own for p in runs_into_scan.get(id(s), [])})
        if scanned:
            needs_human = True
            reasons.append(f"{SCANNED_PAGE} (page {_pages(scanned)}); the answer may continue there")
        where_lines = [line for line, _ in lines] if found else [s.lines[0] for s, _ in own if s.lines]
        return AnswerText(
            question_id=question.id,
            text=text if found else "",
            source=_where(where_lines),
            found=found,
            margin_notes=[c.text for c in notes],
            needs_human=needs_human,
            reasons=reasons,
        )

    def _missing(self, question: ProseQuestion, located: set[str], has_text: bool) -> AnswerText:
        scanned = self.document.scanned_pages
        if scanned:
            reasons = [f"{SCANNED_PAGE} (page {_pages(scanned)}); the question was not found in the text pages"]
            return AnswerText(question_id=question.id, needs_human=True, reasons=reasons)
        if has_text and not located:
            reasons = ["no question of the sheet was recognised in the hand-in; its answers may be there unmarked"]
            return AnswerText(question_id=question.id, needs_human=True, reasons=reasons)
        reason = "question not found in the hand-in" if has_text else "the hand-in has no text"
        return AnswerText(question_id=question.id, reasons=[reason])

    def _segments_running_into_scanned_pages(self, segments: list[Segment]) -> dict[int, list[int]]:
        """Segments holding the last text before a scanned page: their text may go on there."""
        scanned = set(self.document.scanned_pages)
        if not scanned:
            return {}
        last_on_page: dict[int, Segment] = {}
        for segment in segments:
            for line in segment.lines:
                if line.page is not None and line.text.strip():
                    last_on_page[line.page] = segment
        result: dict[int, list[int]] = defaultdict(list)
        for page in sorted(scanned):
            before = page - 1
            while before in scanned:
                before -= 1
            segment = last_on_page.get(before)
            if segment is not None and segment.owner is not None:
                result[id(segment)].append(page)
        return result


def _pages(pages: list[int]) -> str:
    return ", ".join(str(p) for p in pages)


def _where(lines: list[Line]) -> str:
    """A short location for lines of one kind of source: "lines 10-12", "page 2", "cell ab"."""
    if not lines:
        return ""
    numbers = [line.lineno for line in lines if line.lineno is not None]
    if numbers:
        low, high = min(numbers), max(numbers)
        return f"line {low}" if low == high else f"lines {low}-{high}"
    cells = list(dict.fromkeys(line.cell for line in lines if line.cell is not None))
    if cells:
        return f"cell {cells[0]}" if len(cells) == 1 else "cells " + ", ".join(cells)
    pages = sorted({line.page for line in lines if line.page is not None})
    if pages:
        return f"page {pages[0]}" if len(pages) == 1 else f"pages {pages[0]}-{pages[-1]}"
    return ""
