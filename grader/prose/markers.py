"""Recognise question markers at the start of a line, as students really write them.

Markers found here are only candidates; which question they mean is decided by
`segment.py`, which knows the questions and the reading position. Forms understood:

* task headings: "Task 02", "Exercise 11.1 - Sequence Modeling", "Aufgabe 3"
* task + part: "Task 02 (c)", "Exercise 11.1 - 2)", "Aufgabe 2a)"
* numbered labels: "11.2.3 b)", "11.1.2", "1a)", "2.b)", loose ones "3 b.", "Task 3 b."
* bare parts: "(b)", "b)", "1)", "1.", "(iv)", "3) a)"
* answer markers: "Answer:", "**Answer:**", "Antwort:", "Lösung:", "Answer 2a:"
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from grader.prose.textnorm import strip_markup

Path = tuple[str, ...]

# Leading decoration: headings, quotes, list bullets (only when followed by a space).
_DECORATION = re.compile(r"^(?:\s*(?:#{1,6}|>|[-*+•·▪◦–—])(?=\s))+\s*")
_EMPHASIS_START = re.compile(r"^\s*(?:[-*+•·▪◦–—>]\s+)*(?:#{1,6}\s|\*\*|__|<b>|<strong>)", re.I)

_TASK_WORD = re.compile(
    r"^(?:task|exercise|aufgabe|problem|question|frage|übung|uebung|ex\.|aufg\.)\s*"
    r"(?:no\.?|nr\.?|#)?\s*(?P<num>\d+(?:\.\d+)*)(?![\d])",
    re.I,
)
_ANSWER_WORD = r"(?:(?:your|my|our|meine?|unsere?)\s+)?(?:answers?|antwort(?:en)?|lösung(?:en)?|loesung(?:en)?|solution)"
_ANSWER = re.compile(rf"^{_ANSWER_WORD}\s*(?:[:：]\s*(?P<rest>.*)|\s*$)", re.I)
_ANSWER_WITH_LABEL = re.compile(
    rf"^{_ANSWER_WORD}\s+(?:to\s+|zu\s+|for\s+|für\s+)?(?P<label>[\w.() -]{{1,16}}?)\s*[:：]\s*(?P<rest>.*)$", re.I
)
# One part component: "(b)", "b)", "(iv)", "(3)", "3)".
_PART_PAREN = re.compile(r"^\(\s*(?P<p>[a-z]|[ivx]{2,4}|\d{1,2})\s*\)", re.I)
_PART_CLOSE = re.compile(r"^(?P<p>[a-z]|\d{1,2})\)", re.I)
# "b." / "1." count only lower-case letters and digits ("A." is an initial, "V." a slide).
_PART_DOT = re.compile(r"^(?P<p>[a-z]|\d{1,2})\.(?=\s)")
_NUMBER_PATH = re.compile(r"^(?P<num>\d{1,3}(?:\.\d{1,3})*)")


@dataclass(frozen=True)
class Marker:
    """A candidate question marker at the start of a line.

    `task` is set when a task word ("Task", "Exercise", ...) names the task; `full` when a
    number like "11.2.3 b)" or "1a)" names task and part together (split unknown); `part`
    when only part labels are given. An answer marker has none of them set and answer=True,
    unless it also names a label ("Answer 2a:").
    """

    task: Path | None = None
    full: Path | None = None
    part: Path | None = None
    answer: bool = False
    rest: str = ""  # text after the marker on the same line
    emphasised: bool = False  # heading or bold: a deliberate structure, not an enumeration
    equation_like: bool = False  # "(3)" alone on a line: an equation number, not a part

    @property
    def is_task_heading(self) -> bool:
        return self.task is not None and self.part is None

    @property
    def names_question(self) -> bool:
        return self.full is not None or self.part is not None


def normalise_component(component: str) -> str:
    """'01' -> '1', 'B' -> 'b': how labels are compared."""
    component = component.strip().casefold()
    return str(int(component)) if component.isdigit() else component


def label_path(label: str) -> Path:
    """Split a printed label into components: "11.2" -> ("11","2"), "3) a)" -> ("3","a")."""
    return tuple(normalise_component(c) for c in re.findall(r"\d+|[^\W\d_]+", label))


def clean_line(text: str) -> str:
    """The line without markup, heading hashes, quote marks and list bullets."""
    text = _DECORATION.sub("", strip_markup(text).strip())
    return text.replace("*", "").strip()


def parse_marker(text: str) -> Marker | None:
    """The marker at the start of `text`, or None."""
    emphasised = bool(_EMPHASIS_START.match(text))
    line = clean_line(text)
    if not line:
        return None

    m = _ANSWER.match(line)
    if m:
        return Marker(answer=True, rest=(m.group("rest") or "").strip(), emphasised=emphasised)
    m = _ANSWER_WITH_LABEL.match(line)
    if m:
        labelled = _parse_label(m.group("label").strip())
        if labelled is not None and labelled[2] == len(m.group("label").strip()):
            full, part, _ = labelled
            return Marker(full=full, part=part, answer=True, rest=m.group("rest").strip(), emphasised=emphasised)

    m = _TASK_WORD.match(line)
    if m:
        task = label_path(m.group("num"))
        after = line[m.end():]
        parts, consumed = _parse_parts(after, allow_glued=True, allow_separator=True)
        if parts:
            return Marker(task=task, part=parts, rest=_rest(after[consumed:]), emphasised=emphasised)
        return Marker(task=task, rest=_rest(after), emphasised=emphasised)

    labelled = _parse_label(line)
    if labelled is None:
        return None
    full, part, consumed = labelled
    rest = _rest(line[consumed:])
    equation_like = bool(part and not rest and re.fullmatch(r"\(\s*\d{1,2}\s*\)", line[:consumed].strip()))
    return Marker(full=full, part=part, rest=rest, emphasised=emphasised, equation_like=equation_like)


def _rest(text: str) -> str:
    return re.sub(r"^[\s:.\-–—]+", "", text).strip()


def _parse_label(line: str) -> tuple[Path | None, Path | None, int] | None:
    """(full, part, consumed) for a numbered or bare label at the start of `line`."""
    m = _NUMBER_PATH.match(line)
    if m and label_path(m.group("num"))[0] == "0":
        return None  # "0.3 is ...": a number, sheets count from 1
    if m:
        number = label_path(m.group("num"))
        after = line[m.end():]
        parts, consumed = _parse_parts(after, allow_glued=True, allow_separator=True)
        if parts:
            return number + parts, None, m.end() + consumed
        if len(number) >= 2:
            # "11.1.2 What is ..." or "11.1.2)" / "11.1.2:" -- a full numbered label.
            tail = re.match(r"^(?:[).:]|\s|$)", after)
            if tail:
                return number, None, m.end() + (1 if after[:1] in ").:" else 0)
            return None
        # A lone number: a part only when closed like "1)" or "1." (not "3 layers").
    parts, consumed = _parse_parts(line, allow_glued=False, allow_separator=False)
    if parts:
        return None, parts, consumed
    return None


def _parse_parts(text: str, *, allow_glued: bool, allow_separator: bool) -> tuple[Path, int]:
    """Consecutive part components at the start of `text`: "(c)", " - 2)", "a)", "3) a)"."""
    parts: list[str] = []
    pos = 0
    while True:
        rest = text[pos:]
        sep = re.match(r"^\s*[-–—:,.]?\s*" if (allow_separator or parts) else r"^\s*", rest)
        skip = sep.end() if sep else 0
        candidate = rest[skip:]
        m = _PART_PAREN.match(candidate) or _PART_CLOSE.match(candidate)
        if m is None and not parts and skip == 0:
            m = _PART_DOT.match(candidate)
        if m is None and allow_glued and not parts and skip == 0:
            # "2a", "2a)" -- a letter glued to the number, followed by a non-letter.
            m = re.match(r"^(?P<p>[a-z])(?:\)|(?=[\s.:]|$))", candidate)
        if m is None and allow_glued and not parts and skip > 0:
            # "3 b.", "Task 3 b:", "Aufgabe 3 b" at the end of the line -- a loose part label after a task
            # number. A letter followed by a word ("3 a new idea") is not one.
            m = re.match(r"^(?P<p>[a-z])(?:[.:](?=\s|$)|$)", candidate)
        if m is None:
            break
        parts.append(normalise_component(m.group("p")))
        pos += skip + m.end()
    return tuple(parts), pos
