"""The hand-ins of a graded sheet as the similarity engine's plain data, read back from the grading's output.

The gradebook keeps no code and no answer text; `grader grade` leaves every hand-in unpacked in
OUT/<folder>/files/. From there the code files (the graded main file, then any other notebook or script) and
the written-answer files (as `grader manual export` reads them) are read by the bounded reader children of
grader/commands/manual/reading.py: untrusted files are parsed there, under CPU, memory and time limits, never here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from grader.store.gradebook import StoredResult
from grader.commands.manual.reading import DEFAULT_LIMITS, FileReply, FileRequest, ReadLimits, answer_files, merge_answers, \
    read_files
from grader.prose.extract import HandInReadError, ProseQuestion
from grader.commands.similarity.inputs import CodeUnit, HandInText
from grader.commands.similarity.sources import CODE_SUFFIXES

MAX_CODE_FILES = 20  # per hand-in, the main file first
_MAX_WALKED = 5_000  # entries of an unpacked hand-in looked at when searching code files


def code_files(files_dir: Path, main_file: str | None) -> list[str]:
    """The hand-in's code files (relative paths): the main file first, then other notebooks and scripts.

    Hidden folders and Jupyter's checkpoints are left out; at most MAX_CODE_FILES files.
    """
    found: list[str] = []
    if main_file and Path(main_file).suffix.lower() in CODE_SUFFIXES:
        found.append(main_file)
    walked = 0
    for root, dirs, files in os.walk(files_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
        for name in sorted(files):
            walked += 1
            if walked > _MAX_WALKED or len(found) >= MAX_CODE_FILES:
                return found
            if name.startswith(".") or Path(name).suffix.lower() not in CODE_SUFFIXES:
                continue
            relative = (Path(root) / name).relative_to(files_dir).as_posix()
            if relative not in found:
                found.append(relative)
    return found


def collect_hand_ins(results: Sequence[StoredResult], out: Path, questions: list[ProseQuestion], *,
                     max_code_chars: int, max_answer_chars: int = 50_000, workers: int | None = None,
                     limits: ReadLimits = DEFAULT_LIMITS) -> list[HandInText]:
    """Every graded hand-in's code and written answers, in the order of `results`.

    At most max_code_chars of code per hand-in and max_answer_chars per answer are kept (what is cut off is
    noted), so the texts of a whole batch stay small in memory whatever the hand-ins hold."""
    plans: list[tuple[StoredResult, Path, list[str], list[str]]] = []
    requests: list[FileRequest] = []
    for result in results:
        record = result.record
        files_dir = Path(out) / record.folder / "files"
        if not files_dir.is_dir():
            plans.append((result, files_dir, [], []))
            continue
        prose = answer_files(record.main_file, record.written_answers)
        code = code_files(files_dir, record.main_file)
        plans.append((result, files_dir, prose, code))
        for name in dict.fromkeys([*prose, *code]):
            requests.append(FileRequest(files_dir / name, questions if name in prose and questions else None,
                                        max_code_chars if name in code else None))
    replies = iter(read_files(requests, workers=workers, limits=limits))
    collected = []
    for result, files_dir, prose, code in plans:
        record = result.record
        if not files_dir.is_dir():
            note = "its unpacked files are missing" if record.main_file or record.written_answers else \
                "nothing of it could be unpacked"
            collected.append(HandInText(id=record.file_name, notes=(note,)))
            continue
        by_file = {name: next(replies) for name in dict.fromkeys([*prose, *code])}
        collected.append(_bounded(_hand_in(record.file_name, files_dir, prose, code, by_file,
                                           [q.id for q in questions]), max_code_chars, max_answer_chars))
    return collected


def _bounded(hand_in: HandInText, max_code_chars: int, max_answer_chars: int) -> HandInText:
    notes = list(hand_in.notes)
    units, budget = [], max_code_chars
    for unit in hand_in.code:
        if budget <= 0:
            notes.append(f"code from {unit.label} on left out: more than {max_code_chars:,} characters in all")
            break
        if len(unit.text) > budget:
            notes.append(f"{unit.label}: only the first {budget:,} characters of the code were kept")
            unit = CodeUnit(unit.label, unit.text[:budget], unit.question)
        budget -= len(unit.text)
        units.append(unit)
    answers = {}
    for question, text in hand_in.answers.items():
        if len(text) > max_answer_chars:
            notes.append(f"answer to {question}: only the first {max_answer_chars:,} characters were kept")
        answers[question] = text[:max_answer_chars]
    return HandInText(hand_in.id, tuple(units), answers, tuple(notes))


def _hand_in(file_name: str, files_dir: Path, prose: list[str], code: list[str],
             by_file: dict[str, FileReply | HandInReadError], question_ids: list[str]) -> HandInText:
    notes: list[str] = []
    units: list[CodeUnit] = []
    for name in code:
        reply = by_file[name]
        if isinstance(reply, HandInReadError):
            notes.append(_without_path(str(reply), files_dir, name))
            continue
        if reply.code_error:
            notes.append(f"'{name}': {reply.code_error}")
        notes.extend(f"'{name}': {note}" for note in reply.code_notes)
        prefix = f"{name}, " if name.lower().endswith(".ipynb") else ""
        units.extend(CodeUnit(label=f"{prefix}{unit['label']}" if prefix else name, text=unit["text"],
                              question=unit["question"]) for unit in reply.code or [])
    answers: dict[str, str] = {}
    if prose and question_ids:
        per_file: list[tuple[str, dict | str]] = []
        for name in prose:
            reply = by_file[name]
            failure = reply if isinstance(reply, HandInReadError) else reply.answers_error
            if failure:
                why = _without_path(str(failure), files_dir, name)
                per_file.append((name, why))
                if name not in code or not isinstance(reply, HandInReadError):
                    notes.append(f"written answers: {why}")
            else:
                per_file.append((name, reply.answers or {}))
        merged = merge_answers(per_file, question_ids)
        answers = {qid: answer.text for qid, answer in merged.items() if answer.found and answer.text.strip()}
    if not units and not answers and not notes:
        notes.append("nothing to compare: no code and no written answer was found in it")
    return HandInText(id=file_name, code=tuple(units), answers=answers, notes=tuple(notes))


def _without_path(message: str, files_dir: Path, name: str) -> str:
    return message.replace(str(files_dir / name), f"'{name}'")
