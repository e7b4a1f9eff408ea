"""Cut a hand-in's lines into segments, one per question anchor.

An anchor is where a question starts: a tagged notebook answer cell, a marker such as
"11.2.3 b)" or "(b)", or the question's own text. Markers are read in order and resolved
against the rubric's questions from the current reading position (task, part path):

* a task heading ("Task 02") moves to that task; it never moves back, and a heading that
  repeats the current task's label once all its parts are passed starts the next task
  (sheets do number two tasks alike);
* a bare part ("(b)") is looked up in the current task, from the current nesting level
  outwards ("a)" after "3)" is part "3a"), then as the first part of a later task whose
  heading is missing;
* a marker followed by the question's text is trusted; one without it only when it
  moves forward and is not part of the student's own enumeration: a list that
  restarts ("(a)" while answering (a), or "1)" where no part is numbered) marks an
  enumeration until the next trusted anchor.

Text between anchors belongs to the earlier anchor; text after a task heading, a
sub-part heading ("3)"), a code cell or before the first anchor belongs to no question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from grader.prose.markers import Marker, Path, parse_marker
from grader.prose.qtext import head_match, tokens_of
from grader.prose.questions import ProseQuestion
from grader.prose.sources import Line

# A marker whose following text matches a question's start this well is about that question.
_TEXT_SUPPORTS_MARKER = 0.6
# Without a marker, the question's text alone must match this well (and be long enough).
_TEXT_IS_ANCHOR = 0.8
_TEXT_ANCHOR_MIN_WORDS = 5
# Words read after a marker to compare with question texts.
_LOOKAHEAD_WORDS = 20


@dataclass
class Segment:
    """Consecutive lines owned by one question (or by none)."""

    owner: str | None
    anchor: str  # how the segment was found, for reasons and debugging
    lines: list[Line] = field(default_factory=list)
    # Line texts; the anchor line holds only what follows its marker.
    texts: list[str] = field(default_factory=list)
    # Per line: text the template gave as the question (tagged non-answer cells).
    given_question: list[bool] = field(default_factory=list)
    answer_follows_marker: bool = False  # "Answer 2a: ..." -- no question text to cut
    tagged_answer: bool = False


@dataclass(frozen=True)
class _Target:
    task: int
    path: Path  # part path within the task; () for the task itself
    question: ProseQuestion | None  # None for a node such as "3)" above "3a"/"3b"
    order: float


@dataclass
class _Task:
    labels: tuple[Path, ...]
    questions: list[ProseQuestion] = field(default_factory=list)


@dataclass
class _State:
    task: int | None = None
    unknown_task: bool = False  # under a heading for a task no question belongs to
    path: Path = ()
    order: float = -1.0
    enumeration: bool = False
    owner: str | None = None


def segment_lines(lines: list[Line], questions: list[ProseQuestion]) -> list[Segment]:
    """Cut `lines` (furniture included; it is skipped) into segments."""
    return _Segmenter(questions).run(lines)


class _Segmenter:
    def __init__(self, questions: list[ProseQuestion]) -> None:
        self.questions = list(questions)
        self.by_id = {q.id: q for q in self.questions}
        self.order = {q.id: i for i, q in enumerate(self.questions)}
        # Consecutive questions with the same task labels form one task, unless a part
        # label repeats: then the sheet numbered two tasks alike and a new one starts.
        self.tasks: list[_Task] = []
        self.task_of: dict[str, int] = {}
        for q in self.questions:
            current = self.tasks[-1] if self.tasks else None
            if current is None or current.labels != q.task_paths or any(
                other.part_path == q.part_path for other in current.questions
            ):
                self.tasks.append(_Task(labels=q.task_paths))
            self.tasks[-1].questions.append(q)
            self.task_of[q.id] = len(self.tasks) - 1
        self.qtokens = {q.id: tokens_of(q.text) for q in self.questions}

    # -- main loop -------------------------------------------------------------------

    def run(self, lines: list[Line]) -> list[Segment]:
        content = [line for line in lines if not line.furniture]
        state = _State()
        segments = [Segment(owner=None, anchor="start of the hand-in")]
        in_answer_cell = False  # inside a tagged answer cell: its tag decides, not markers
        in_template_cell = False  # inside a template cell that is not an answer cell
        for index, line in enumerate(content):
            if line.cell_start:
                in_answer_cell = in_template_cell = False
                if line.cell_type == "code":
                    segments.append(Segment(owner=None, anchor="code cell"))
                    continue
                question = self.by_id.get(line.tag_question) if line.tag_question else None
                if question is not None and line.tag_role == "answer":
                    in_answer_cell = True
                    segments.append(Segment(owner=question.id, anchor="tagged answer cell", tagged_answer=True))
                    self._move_to(state, self._target_of(question))
                elif question is not None:
                    in_template_cell = True
                    segments.append(Segment(owner=question.id, anchor=f"tagged {line.tag_role or 'question'} cell"))
                    self._move_to(state, self._target_of(question))
                elif line.tag_role is not None:
                    in_template_cell = True
                    segments.append(Segment(owner=None, anchor=f"template {line.tag_role} cell"))
                elif segments[-1].tagged_answer and _has_own_text(segments[-1]):
                    # A filled-in tagged answer cell ends with its cell: an untagged cell after it is not its
                    # answer (unless a marker inside says whose it is); its text is nobody's, and shown as such.
                    # (Below an empty answer cell, the group wrote there instead: that text stays the answer.)
                    segments.append(Segment(owner=None, anchor="cell after a tagged answer cell"))
                    state.owner = None
            if in_answer_cell:
                _append(segments[-1], line, line.text)
                continue

            marker = parse_marker(line.text)
            lookahead = self._lookahead(content, index, marker)
            if _answer_after_code(marker, line, segments[-1]) and state.owner is not None:
                # Question cell, code cell, then a markdown cell opening with "Answer:": the
                # answer to the question being read, not stray text after the code.
                segments.append(Segment(owner=state.owner, anchor="answer marker after a code cell"))
                _append(segments[-1], line, line.text, given_question=in_template_cell)
                continue
            started = self._anchor(state, marker, lookahead)
            if started is not None:
                segments.append(started)
                text = marker.rest if marker is not None and started.anchor.startswith("marker") else line.text
                _append(started, line, text, given_question=in_template_cell)
            else:
                _append(segments[-1], line, line.text, given_question=in_template_cell)
        return [s for s in segments if s.lines or s.owner is not None]

    def _lookahead(self, content: list[Line], index: int, marker: Marker | None) -> list[str]:
        words = tokens_of(marker.rest if marker is not None else content[index].text)
        for line in content[index + 1:]:
            if len(words) >= _LOOKAHEAD_WORDS:
                break
            if line.cell_start or parse_marker(line.text) is not None:
                break
            words.extend(tokens_of(line.text))
        return words

    # -- anchoring ---------------------------------------------------------------------

    def _anchor(self, state: _State, marker: Marker | None, words: list[str]) -> Segment | None:
        if marker is not None and marker.is_task_heading:
            self._task_heading(state, marker.task)
            return Segment(owner=None, anchor=f"task heading {'.'.join(marker.task)}")
        if marker is not None and marker.names_question:
            target = self._resolve_marker(state, marker, words)
            if target is None:
                return None
            self._move_to(state, target)
            segment = Segment(owner=target.question.id if target.question else None, anchor=f"marker {_describe(marker)}")
            segment.answer_follows_marker = marker.answer
            return segment
        if marker is not None:
            return None  # an answer marker: stays in the current segment
        question = self._question_text_anchor(state, words)
        if question is None:
            return None
        self._move_to(state, self._target_of(question))
        return Segment(owner=question.id, anchor="question text")

    def _task_heading(self, state: _State, label: Path) -> None:
        current = state.task
        passed_all = current is not None and state.order >= self.order[self.tasks[current].questions[-1].id]
        if current is not None and label in self.tasks[current].labels and not passed_all:
            chosen: int | None = current
        else:
            after = current if current is not None else -1
            matches = [i for i, task in enumerate(self.tasks) if label in task.labels and i > after]
            if matches:
                chosen = matches[0]
            elif current is not None and passed_all and label in self.tasks[current].labels and current + 1 < len(self.tasks):
                chosen = current + 1  # the sheet numbers two tasks alike
            else:
                chosen = None
        state.unknown_task = chosen is None
        state.task = chosen
        state.path = ()
        state.enumeration = False
        state.owner = None
        if chosen is not None:
            state.order = self.order[self.tasks[chosen].questions[0].id] - 0.5

    def _resolve_marker(self, state: _State, marker: Marker, words: list[str]) -> _Target | None:
        if marker.full is not None:
            candidates = self._resolve_full(marker.full)
        elif marker.task is not None:
            candidates = self._resolve_in_tasks(marker.task, marker.part or ())
        else:
            candidates = self._resolve_relative(state, marker.part or ())

        # The question's own text after the marker is the best evidence of all.
        supported = self._best_text_match(words, [t.question for t in candidates if t.question])
        if supported is not None and supported[1] >= _TEXT_SUPPORTS_MARKER:
            return self._target_of(supported[0])
        anywhere = self._best_text_match(words, self.questions)
        if anywhere is not None and anywhere[1] >= _TEXT_IS_ANCHOR:
            return self._target_of(anywhere[0])

        deliberate = marker.full is not None or marker.task is not None or marker.answer
        if not candidates:
            if deliberate:
                return self._unlisted_qualified(marker)
            unlisted = self._unlisted_part(state, marker)
            if unlisted is None and marker.part and marker.part[-1] in ("a", "1", "i"):
                state.enumeration = True  # a list of the student's own
            return unlisted
        if deliberate:
            forward = [t for t in candidates if t.order > state.order]
            return (forward or candidates)[0]

        # A bare part without the question's text.
        first = candidates[0]
        in_current_task = state.task is not None and first.task == state.task
        if marker.equation_like:
            return None
        if in_current_task and first.order <= state.order:
            if marker.emphasised and first.question is not None and first.question.id != state.owner:
                return first  # a heading may go back: answers given out of order
            state.enumeration = True
            return None
        if state.enumeration and not marker.emphasised:
            return None
        if state.unknown_task and not marker.emphasised:
            return None
        if state.task is not None and not in_current_task:
            # A later task whose heading is missing: only its first part can open it.
            task = self.tasks[first.task]
            if first.order != self.order[task.questions[0].id] and first.order != self.order[task.questions[0].id] - 0.5:
                return self._unlisted_part(state, marker)
        return first

    # -- parts the rubric does not list --------------------------------------------------

    def _unlisted_part(self, state: _State, marker: Marker) -> _Target | None:
        """A bare part of the current task that is no prose question ("(b)", a derivation,
        between prose questions (a) and (c)): recognised by continuing the numbering of
        the current level, it ends the previous answer and belongs to no question."""
        part = marker.part or ()
        if state.task is None or state.enumeration or len(part) != 1 or marker.equation_like:
            return None
        label = part[0]
        for depth in range(len(state.path) - 1, -1, -1):
            current = state.path[depth]
            if _kind(current) == _kind(label):
                if _rank(label) <= _rank(current):
                    return None
                return self._unlisted_target(state.task, state.path[:depth] + (label,), after=state.order)
        if not state.path:  # right after a task heading
            return self._unlisted_target(state.task, (label,), after=state.order)
        return None

    def _unlisted_qualified(self, marker: Marker) -> _Target | None:
        """ "11.2.3 a)" or "Task 02 (e)" for a part the rubric does not list, in a known task."""
        for index, task in enumerate(self.tasks):
            for label in task.labels:
                if marker.full is not None and marker.full[: len(label)] == label:
                    rest = marker.full[len(label):]
                elif marker.task is not None and marker.task == label:
                    rest = marker.part or ()
                else:
                    continue
                if rest and _kind(rest[0]) == _kind(task.questions[0].part_path[0] if task.questions[0].part_path else ""):
                    return self._unlisted_target(index, rest, after=None)
        return None

    def _unlisted_target(self, task: int, path: Path, after: float | None) -> _Target | None:
        """A target between the listed questions of `task` that surround `path`."""
        questions = self.tasks[task].questions
        lower = self.order[questions[0].id] - 0.5
        upper = self.order[questions[-1].id] + 0.5
        for q in questions:
            if _path_rank(q.part_path) < _path_rank(path):
                lower = self.order[q.id]
            else:
                upper = self.order[q.id]
                break
        order = (lower + upper) / 2
        if after is not None and order <= after:
            return None
        return _Target(task, path, None, order)

    def _question_text_anchor(self, state: _State, words: list[str]) -> ProseQuestion | None:
        best = self._best_text_match(words, self.questions)
        if best is None:
            return None
        question, ratio = best
        if ratio < _TEXT_IS_ANCHOR or len(self.qtokens[question.id]) < _TEXT_ANCHOR_MIN_WORDS:
            return None
        if question.id == state.owner:
            return None  # the question quoted inside its own answer
        return question

    def _best_text_match(self, words: list[str], questions: list[ProseQuestion]) -> tuple[ProseQuestion, float] | None:
        best: tuple[ProseQuestion, float] | None = None
        for question in questions:
            qwords = self.qtokens[question.id]
            if not qwords:
                continue
            ratio = head_match(qwords, words)
            if best is None or ratio > best[1]:
                best = (question, ratio)
        return best

    # -- targets -----------------------------------------------------------------------

    def _target_of(self, question: ProseQuestion) -> _Target:
        return _Target(self.task_of[question.id], question.part_path, question, float(self.order[question.id]))

    def _targets_in_task(self, task: int, path: Path) -> _Target | None:
        if not path:
            return None
        children = []
        for q in self.tasks[task].questions:
            if q.part_path == path:
                return self._target_of(q)
            if q.part_path[: len(path)] == path:
                children.append(q)
        if children:
            return _Target(task, path, None, self.order[children[0].id] - 0.5)
        return None

    def _resolve_full(self, full: Path) -> list[_Target]:
        found = []
        for index, task in enumerate(self.tasks):
            for label in task.labels:
                if full[: len(label)] == label and len(full) > len(label):
                    target = self._targets_in_task(index, full[len(label):])
                    if target is not None:
                        found.append(target)
        return found

    def _resolve_in_tasks(self, label: Path, part: Path) -> list[_Target]:
        found = []
        for index, task in enumerate(self.tasks):
            if label in task.labels:
                target = self._targets_in_task(index, part)
                if target is not None:
                    found.append(target)
        return found

    def _resolve_relative(self, state: _State, part: Path) -> list[_Target]:
        found: list[_Target] = []
        if state.task is not None:
            for depth in range(len(state.path), -1, -1):
                target = self._targets_in_task(state.task, state.path[:depth] + part)
                if target is not None:
                    found.append(target)
                    break
        start = state.task + 1 if state.task is not None else 0
        for index in range(start, len(self.tasks)):
            target = self._targets_in_task(index, part)
            if target is not None:
                found.append(target)
        return found

    def _move_to(self, state: _State, target: _Target) -> None:
        state.task = target.task
        state.unknown_task = False
        state.path = target.path
        state.order = target.order
        state.enumeration = False
        state.owner = target.question.id if target.question else None


_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}


def _kind(label: str) -> str:
    if label.isdigit():
        return "number"
    if len(label) == 1:
        return "letter"  # "i", "v", "x" alone count as letters, as the marker grammar reads them
    return "roman" if label in _ROMAN else "word"


def _rank(label: str) -> int:
    kind = _kind(label)
    if kind == "number":
        return int(label)
    if kind == "letter":
        return ord(label)
    return _ROMAN.get(label, 0)


def _path_rank(path: Path) -> tuple[tuple[str, int], ...]:
    return tuple((_kind(c), _rank(c)) for c in path)


def _answer_after_code(marker: Marker | None, line: Line, current: Segment) -> bool:
    """A plain "Answer:" marker opening the first markdown cell after a code cell."""
    return (marker is not None and marker.answer and not marker.names_question and line.cell_start
            and line.cell_type == "markdown" and current.owner is None and current.anchor == "code cell")


_TEMPLATE_TEXT = re.compile(r"<!--.*?-->|your answer here|type your answer here|ihre antwort hier", re.I)


def _has_own_text(segment: Segment) -> bool:
    """Whether the segment holds words beyond the template's placeholder."""
    return bool(tokens_of(_TEMPLATE_TEXT.sub(" ", "\n".join(segment.texts))))


def _append(segment: Segment, line: Line, text: str, *, given_question: bool = False) -> None:
    segment.lines.append(line)
    segment.texts.append(text)
    segment.given_question.append(given_question)


def _describe(marker: Marker) -> str:
    if marker.full is not None:
        return ".".join(marker.full)
    if marker.task is not None:
        return f"{'.'.join(marker.task)} ({')('.join(marker.part or ())})"
    return f"({')('.join(marker.part or ())})"
