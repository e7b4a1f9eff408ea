"""A hand-in's written answers: extraction over each of its files, bounded, then merged per question.

Hand-in files are untrusted. PDFs are parsed by pypdf, which can be made to spin or eat memory, so every
file is read in a child process (`python -m grader.manual._reader`) with a CPU, memory and wall-time cap;
the answers come back as JSON and are validated, never unpickled. A file that cannot be read becomes a
"needs a human" reason on every question, never an empty answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import grader
from grader.prose.extract import AnswerText, HandInReadError, ProseQuestion
from grader.prose.sources import SUPPORTED_SUFFIXES

MAX_FILE_BYTES = 100 * 1024 * 1024
_CPU_SECONDS = 60
_WALL_SECONDS = 90
_MEMORY_BYTES = 2 * 1024 * 1024 * 1024


@dataclass(frozen=True)
class ReadLimits:
    cpu_seconds: int = _CPU_SECONDS
    wall_seconds: float = _WALL_SECONDS
    memory_bytes: int = _MEMORY_BYTES
    max_file_bytes: int = MAX_FILE_BYTES


DEFAULT_LIMITS = ReadLimits()


def answer_files(main_file: str | None, written_answers: Sequence[str]) -> list[str]:
    """The hand-in's files that can hold written answers: the main file first, then the written answers."""
    names = [name for name in [main_file, *written_answers] if name]
    return [name for name in dict.fromkeys(names) if Path(name).suffix.lower() in SUPPORTED_SUFFIXES]


def read_file_answers(path: Path, questions: list[ProseQuestion], limits: ReadLimits = DEFAULT_LIMITS
                      ) -> dict[str, AnswerText]:
    """extract_answers for one file, in a child process with capped CPU, memory and time.

    Raises HandInReadError (naming the file) when the file is too big, unreadable, or the child fails.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise HandInReadError(f"{path}: cannot read ({exc.strerror})") from None
    if size > limits.max_file_bytes:
        raise HandInReadError(f"{path}: {size / 2**20:.0f} MB, more than the {limits.max_file_bytes / 2**20:.0f} MB "
                              "read for written answers")
    request = json.dumps({"path": str(path), "questions": [asdict(q) for q in questions],
                          "limits": {"cpu_seconds": limits.cpu_seconds, "memory_bytes": limits.memory_bytes}})
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": os.pathsep.join([str(Path(grader.__file__).resolve().parent.parent),
                                          os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    try:
        # The child caps its own CPU time and memory before it imports anything that parses the file
        # (a preexec_fn would do it earlier, but is unsafe with the threads that read hand-ins in parallel).
        done = subprocess.run([sys.executable, "-m", "grader.manual._reader"], input=request.encode(),
                              capture_output=True, timeout=limits.wall_seconds, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise HandInReadError(f"{path}: reading it took longer than {limits.wall_seconds:g} s") from None
    if done.returncode != 0:
        raise HandInReadError(f"{path}: reading it failed ({_why(done)})")
    try:
        reply = json.loads(done.stdout)
        if not reply.get("ok"):
            raise HandInReadError(str(reply.get("error") or f"{path}: unreadable"))
        return {qid: AnswerText.model_validate(answer) for qid, answer in reply["answers"].items()}
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        if isinstance(exc, HandInReadError):
            raise
        raise HandInReadError(f"{path}: the reader's reply was not understood ({exc})") from None


def hand_in_answers(files_dir: Path, files: Sequence[str], questions: list[ProseQuestion],
                    limits: ReadLimits = DEFAULT_LIMITS) -> dict[str, AnswerText]:
    """Every question's answer in one hand-in, merged over its files (see merge_answers)."""
    per_file: list[tuple[str, dict[str, AnswerText] | str]] = []
    for name in files:
        try:
            per_file.append((name, read_file_answers(Path(files_dir) / name, questions, limits)))
        except HandInReadError as exc:
            per_file.append((name, str(exc).replace(str(Path(files_dir) / name), f"'{name}'")))
    return merge_answers(per_file, [q.id for q in questions])


def many_hand_in_answers(jobs: Sequence[tuple[Path, Sequence[str]]], questions: list[ProseQuestion], *,
                         workers: int | None = None, limits: ReadLimits = DEFAULT_LIMITS
                         ) -> list[dict[str, AnswerText]]:
    """hand_in_answers for several hand-ins at once (one child process per file, `workers` at a time)."""
    workers = max(1, workers or os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda job: hand_in_answers(job[0], job[1], questions, limits), jobs))


def merge_answers(per_file: Sequence[tuple[str, dict[str, AnswerText] | str]],
                  question_ids: Sequence[str]) -> dict[str, AnswerText]:
    """One answer per question from the answers of each file (in order; a str is why a file was unreadable).

    The first file with a found answer gives the text; a second file that also answers the question makes it
    a case for a human (which one counts?). Without a found answer anywhere, every file's reasons and margin
    notes are kept, and an unreadable file always needs a human.
    """
    merged = {}
    for qid in question_ids:
        found = [(name, answers[qid]) for name, answers in per_file
                 if isinstance(answers, dict) and qid in answers and answers[qid].found]
        reasons: list[str] = []
        notes: list[str] = []
        needs_human = False
        for name, answers in per_file:
            if isinstance(answers, str):
                reasons.append(f"'{name}' could not be read: {_tail(answers, name)}")
                needs_human = True
                continue
            answer = answers.get(qid)
            if answer is None or (found and name == found[0][0]):
                continue
            if found and answer.found:
                reasons.append(f"'{name}' also answers it ({answer.source}): check which answer counts")
                needs_human = True
            elif answer.needs_human or answer.margin_notes or not found:
                reasons.extend(f"'{name}': {reason}" for reason in answer.reasons)
                needs_human = needs_human or answer.needs_human
            notes.extend(answer.margin_notes)
        if not per_file:
            reasons.append("the hand-in has no file with written answers (notebook, PDF, Markdown or text)")
        if found:
            name, first = found[0]
            merged[qid] = AnswerText(question_id=qid, text=first.text, source=_where(name, first.source), found=True,
                                     margin_notes=[*first.margin_notes, *notes],
                                     needs_human=first.needs_human or needs_human,
                                     reasons=[*first.reasons, *reasons])
        else:
            merged[qid] = AnswerText(question_id=qid, found=False, margin_notes=notes, needs_human=needs_human,
                                     reasons=reasons, source=_first_source(per_file, qid))
    return merged


def _where(name: str, source: str) -> str:
    return f"{name}, {source}" if source else name


def _first_source(per_file: Sequence[tuple[str, dict[str, AnswerText] | str]], qid: str) -> str:
    for name, answers in per_file:
        if isinstance(answers, dict) and qid in answers and answers[qid].source:
            return _where(name, answers[qid].source)
    return ""


def _tail(message: str, name: str) -> str:
    """The reader's message without the file's path (the reason names the file already)."""
    head, sep, rest = message.partition(": ")
    return rest if sep and (head.endswith(name) or head == f"'{name}'") else message


def _why(done: subprocess.CompletedProcess[bytes]) -> str:
    if done.returncode < 0:
        signal = -done.returncode
        return {9: "killed, probably at the CPU time limit", 24: "killed at the CPU time limit"}.get(
            signal, f"killed by signal {signal}")
    said = done.stderr.decode("utf-8", errors="replace")
    last = said.strip().splitlines()[-1:] or ["no message"]
    # Out of memory shows in several ways: a MemoryError anywhere in the traceback, a failed import or a
    # fatal error of the interpreter that could not allocate.
    if any(marker in said for marker in ("MemoryError", "Cannot allocate memory", "out of memory")):
        return "it needed more memory than allowed"
    return f"exit {done.returncode}: {last[0][-300:]}"
