"""Find each prose question's written answer in a hand-in (.ipynb, .pdf, .md, .txt).

    answers = extract_answers(Path("group07.pdf"), questions)
    answers["1c"].text, answers["1c"].needs_human

The work is split: `sources` reads the file into located lines, `segment` finds where each
question starts, `carve` cuts question text and margin notes off its answer. This module
puts the results together and decides what a tutor must look at: no written answer but
margin notes, pages without extractable text, a hand-in with no recognisable markers.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from grader.prose.carve import Carved, NoteCluster, carve, has_answer_marker
from grader.prose.markers import parse_marker
from grader.prose.qtext import tokens_of
from grader.prose.questions import ProseQuestion
from grader.prose.segment import Segment, segment_lines
from grader.prose.sources import Document, HandInReadError, Line, read_document
from grader.prose.textnorm import guess_language

__all__ = ["UNASSIGNED", "AnswerText", "HandInReadError", "ProseQuestion", "extract_answers", "extract_written_text"]

NOTES_WITHOUT_ANSWER = "no written answer, but margin notes"
SCANNED_PAGE = "scanned page, no text"
# The key under which extract_answers returns the text it assigned to no question (never a rubric question id:
# those never hold parentheses).
UNASSIGNED = "(unassigned)"
# Unassigned text kept per file; the rest is counted, not dropped silently.
MAX_UNASSIGNED_CHARS = 20_000
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+\S")
# Lines of the team declaration ("Name: ...", "Student ID: ...", "## Team"): the team is read and shown elsewhere.
_TEAM_LINE = re.compile(
    r"^[\s#>*_|-]*(?:(?:full\s+|student\s+)?names?|student\s*(?:id|number|no\.?)s?|matr\w*\.?(?:\s*-?\s*nr\.?)?|e-?\s*mails?"
    r"|team(?:\s+members)?|group(?:\s+members)?|gruppe|mitglieder)\s*\d*\s*(?:\([^)]{0,40}\))?\s*[*_]*\s*(?:[:=]|$)",
    re.I)


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
    return extract_written_text(path, questions)[0]


def extract_written_text(path: Path, questions: list[ProseQuestion]) -> tuple[dict[str, AnswerText], AnswerText | None]:
    """extract_answers, plus the text assigned to no question (question_id UNASSIGNED; None when there is none)."""
    document = read_document(Path(path))
    answers = _Assembler(document, list(questions)).run()
    return answers, answers.pop(UNASSIGNED, None)


class _Assembler:
    def __init__(self, document: Document, questions: list[ProseQuestion]) -> None:
        self.document = document
        self.questions = questions
        self.sheet_language = guess_language(" ".join(q.text for q in questions))
        self.qwords = {q.id: tokens_of(q.text) for q in questions}

    def run(self) -> dict[str, AnswerText]:
        """Answers by question id, plus UNASSIGNED when some text belongs to no question."""
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
        unassigned = self._unassigned(segments)
        if unassigned is not None:
            answers[UNASSIGNED] = unassigned
        return answers

    def _unassigned(self, segments: list[Segment]) -> AnswerText | None:
        """The text that no question owns, piece by piece with where it is ("[cell 3f2a]" above each piece):
        the tutor must see it, it may be an answer the extractor did not recognise. Template cells (the sheet's
        own text), code (never part of the lines) and lines that are only a label ("## Task 3", "Answer:") are left out."""
        pieces: list[tuple[str, str]] = []
        for segment in segments:
            if segment.owner is not None or segment.anchor.startswith("template "):
                continue
            kept = [(line, text) for line, text, given in zip(segment.lines, segment.texts, segment.given_question)
                    if not given and not line.furniture and text.strip() and not _only_a_label(text)
                    and not _TEAM_LINE.match(text)]
            if not kept or not tokens_of(" ".join(text for _, text in kept)):
                continue
            pieces.append((_where([line for line, _ in kept]), "\n".join(text.rstrip() for _, text in kept).strip()))
        if not pieces:
            return None
        shown, size, left_out = [], 0, 0
        for where, text in pieces:
            if size + len(text) > MAX_UNASSIGNED_CHARS:
                left_out += 1
                continue
            shown.append(f"[{where}]\n{text}")
            size += len(text)
        if left_out:
            shown.append(f"[{left_out} more pieces not shown: over {MAX_UNASSIGNED_CHARS:,} characters]")
        return AnswerText(question_id=UNASSIGNED, text="\n\n".join(shown), source="; ".join(w for w, _ in pieces),
                          found=True, needs_human=True,
                          reasons=["text that the grader assigned to no question: check whether it answers one"])

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
        uncertain = self._uncertain_end(answered, lines) if found else None
        if uncertain:
            needs_human = True
            reasons.append(uncertain)
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

    def _uncertain_end(self, answered: list[tuple[Segment, Carved]], lines: list[tuple[Line, str]]) -> str | None:
        """Why the answer's end is uncertain, or None: it runs on over several notebook cells with no marker
        between them, or past a Markdown heading of a text file (the later text may be about something else)."""
        if any(segment.tagged_answer for segment, _ in answered):
            return None  # a tagged answer cell is the answer, exactly
        if self.document.kind == "notebook":
            cells = list(dict.fromkeys(line.cell for line, _ in lines if line.cell is not None))
            if len(cells) > 1:
                return (f"the answer runs on over {len(cells)} cells ({', '.join(cells)}) with no marker between "
                        "them: check where it ends")
        elif self.document.kind == "text":
            heading = next((line for line, _ in lines[1:] if _HEADING.match(line.text)), None)
            if heading is not None:
                return (f"the answer runs past the heading '{heading.text.strip()[:60]}' ({heading.where}): check "
                        "where it ends")
        return None

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


def _only_a_label(text: str) -> bool:
    """A line that is only a marker: "## Task 3", "(b)", "Answer:"."""
    marker = parse_marker(text)
    return marker is not None and not marker.rest


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
