"""A hand-in's written answers: extraction over each of its files, bounded, then merged per question.

Hand-in files are untrusted. PDFs are parsed by pypdf, which can be made to spin or eat memory, so every
file is read in a child process (`python -m grader.commands.manual._reader`) with a CPU, memory and wall-time cap;
the answers come back as JSON and are validated, never unpickled. A file that cannot be read becomes a
"needs a human" reason on every question, never an empty answer.

A child reads one file after another (starting Python and pypdf costs half a second, reading a notebook a
hundredth of that): it gets a fresh CPU budget per file, the wall time is measured per file here, and a child
that fails, overruns or has read `_FILES_PER_CHILD` files is replaced. The same children read the code of
hand-in files for the similarity report (`read_files` with `code_chars`).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import grader
from grader.prose.extract import AnswerText, HandInReadError, ProseQuestion
from grader.prose.sources import SUPPORTED_SUFFIXES

MAX_FILE_BYTES = 100 * 1024 * 1024
_CPU_SECONDS = 60
_WALL_SECONDS = 90
_MEMORY_BYTES = 2 * 1024 * 1024 * 1024
_FILES_PER_CHILD = 100  # then a fresh child: memory a long-lived parser leaves behind does not pile up
_MAX_REPLY_BYTES = 256 * 1024 * 1024
_START_SECONDS = 30  # starting a child and importing the readers, on a loaded machine


@dataclass(frozen=True)
class ReadLimits:
    cpu_seconds: int = _CPU_SECONDS
    wall_seconds: float = _WALL_SECONDS
    memory_bytes: int = _MEMORY_BYTES
    max_file_bytes: int = MAX_FILE_BYTES


DEFAULT_LIMITS = ReadLimits()


@dataclass(frozen=True)
class FileRequest:
    """One file to read: its written answers to `questions` (None: none), its code (None: no code)."""

    path: Path
    questions: list[ProseQuestion] | None = None
    code_chars: int | None = None  # read the file's code, at most this many characters
    text_pages: int | None = None  # read a PDF's text, its first this many pages


@dataclass
class FileReply:
    answers: dict[str, AnswerText] | None = None
    answers_error: str | None = None  # why the file's written answers could not be read (it names the file)
    code: list[dict] | None = None  # [{"label", "text", "question"}] (grader.commands.similarity.sources.read_code)
    code_notes: list[str] = field(default_factory=list)
    code_error: str | None = None
    text: str | None = None
    text_error: str | None = None


# A team is declared on a hand-in's first pages.
TEAM_PAGES = 2


def pdf_text(path: Path, pages: int = TEAM_PAGES, limits: ReadLimits = DEFAULT_LIMITS) -> str:
    """The text of a PDF's first `pages` pages, read by pypdf in a child process with capped CPU, memory and time
    (intake's reader of the team a PDF declares: grader.intake.team.PdfTextReader).

    Raises ValueError naming the file when it cannot be read.
    """
    path = Path(path)
    reply = read_files([FileRequest(path, text_pages=pages)], workers=1, limits=limits)[0]
    if isinstance(reply, HandInReadError):
        raise ValueError(f"cannot read team information from '{path.name}': {reply}") from None
    if reply.text is None:
        raise ValueError(f"cannot read team information from '{path.name}': {reply.text_error or 'no text'}")
    return reply.text


def answer_files(main_file: str | None, written_answers: Sequence[str]) -> list[str]:
    """The hand-in's files that can hold written answers: the main file first, then the written answers."""
    names = [name for name in [main_file, *written_answers] if name]
    return [name for name in dict.fromkeys(names) if Path(name).suffix.lower() in SUPPORTED_SUFFIXES]


def read_file_answers(path: Path, questions: list[ProseQuestion], limits: ReadLimits = DEFAULT_LIMITS
                      ) -> dict[str, AnswerText]:
    """extract_answers for one file, in a child process with capped CPU, memory and time.

    Raises HandInReadError (naming the file) when the file is too big, unreadable, or the child fails.
    """
    reply = read_files([FileRequest(Path(path), questions)], workers=1, limits=limits)[0]
    if isinstance(reply, HandInReadError):
        raise reply
    if reply.answers_error:
        raise HandInReadError(reply.answers_error)
    return reply.answers or {}


def read_files(requests: Sequence[FileRequest], *, workers: int | None = None,
               limits: ReadLimits = DEFAULT_LIMITS) -> list[FileReply | HandInReadError]:
    """Every request's reply, in order, read by `workers` children at a time; a file that cannot be read (too
    big, unreadable, over a limit) gets a HandInReadError naming it instead."""
    if not requests:
        return []
    workers = max(1, min(len(requests), workers or os.cpu_count() or 1))
    local = threading.local()
    children: list[_ReaderChild] = []
    lock = threading.Lock()

    def read(request: FileRequest) -> FileReply | HandInReadError:
        child = getattr(local, "child", None)
        if child is None:
            child = local.child = _ReaderChild(limits)
            with lock:
                children.append(child)
        try:
            return child.read(request)
        except HandInReadError as exc:
            return exc

    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(read, requests))
    finally:
        for child in children:
            child.close()


def hand_in_answers(files_dir: Path, files: Sequence[str], questions: list[ProseQuestion],
                    limits: ReadLimits = DEFAULT_LIMITS) -> dict[str, AnswerText]:
    """Every question's answer in one hand-in, merged over its files (see merge_answers)."""
    return many_hand_in_answers([(files_dir, files)], questions, workers=1, limits=limits)[0]


def many_hand_in_answers(jobs: Sequence[tuple[Path, Sequence[str]]], questions: list[ProseQuestion], *,
                         workers: int | None = None, limits: ReadLimits = DEFAULT_LIMITS
                         ) -> list[dict[str, AnswerText]]:
    """hand_in_answers for several hand-ins at once (`workers` children read their files one after another)."""
    requests = [FileRequest(Path(files_dir) / name, questions) for files_dir, files in jobs for name in files]
    replies = iter(read_files(requests, workers=workers, limits=limits))
    merged = []
    for files_dir, files in jobs:
        per_file: list[tuple[str, dict[str, AnswerText] | str]] = []
        for name in files:
            reply = next(replies)
            failure = str(reply) if isinstance(reply, HandInReadError) else reply.answers_error
            if failure:
                per_file.append((name, failure.replace(str(Path(files_dir) / name), f"'{name}'")))
            else:
                per_file.append((name, reply.answers or {}))
        merged.append(merge_answers(per_file, [q.id for q in questions]))
    return merged


class _ReaderChild:
    """One reader process, started on first use and replaced after a failure or _FILES_PER_CHILD files."""

    def __init__(self, limits: ReadLimits) -> None:
        self.limits = limits
        self.process: subprocess.Popen[bytes] | None = None
        self.stderr = None
        self.served = 0

    def read(self, request: FileRequest) -> FileReply:
        path = Path(request.path)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise HandInReadError(f"{path}: cannot read ({exc.strerror})") from None
        if size > self.limits.max_file_bytes:
            raise HandInReadError(f"{path}: {size / 2**20:.0f} MB, more than the "
                                  f"{self.limits.max_file_bytes / 2**20:.0f} MB read for written answers")
        if self.process is None or self.served >= _FILES_PER_CHILD:
            try:
                self._start()
            except (BrokenPipeError, EOFError):
                raise HandInReadError(f"{path}: reading it failed ({self._failure()})") from None
            except subprocess.TimeoutExpired:
                self.close()
                raise HandInReadError(f"{path}: the reader did not start within {_START_SECONDS} s") from None
        assert self.process is not None and self.process.stdin is not None
        line = json.dumps({"path": str(path), "code_chars": request.code_chars, "text_pages": request.text_pages,
                           "questions": None if request.questions is None else [asdict(q) for q in request.questions]})
        self.served += 1
        try:
            self.process.stdin.write(line.encode() + b"\n")
            self.process.stdin.flush()
            raw = self._reply(self.limits.wall_seconds)
        except subprocess.TimeoutExpired:
            self.close()
            raise HandInReadError(f"{path}: reading it took longer than {self.limits.wall_seconds:g} s") from None
        except (BrokenPipeError, EOFError):
            why = self._failure()
            raise HandInReadError(f"{path}: reading it failed ({why})") from None
        except _TooBig:
            self.close()
            raise HandInReadError(f"{path}: what was read from it is more than "
                                  f"{_MAX_REPLY_BYTES // 2**20} MB") from None
        try:
            reply = json.loads(raw)
            if not reply.get("ok"):
                raise HandInReadError(str(reply.get("error") or f"{path}: unreadable"))
            answers = reply.get("answers")
            return FileReply(
                answers=None if answers is None else {qid: AnswerText.model_validate(a) for qid, a in answers.items()},
                answers_error=None if reply.get("answers_error") is None else str(reply["answers_error"]),
                code=_code_units(reply.get("code")), code_notes=[str(n) for n in reply.get("code_notes") or []],
                code_error=None if reply.get("code_error") is None else str(reply["code_error"]),
                text=None if reply.get("text") is None else str(reply["text"]),
                text_error=None if reply.get("text_error") is None else str(reply["text_error"]))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            if isinstance(exc, HandInReadError):
                raise
            raise HandInReadError(f"{path}: the reader's reply was not understood ({exc})") from None

    def _start(self) -> None:
        self.close()
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONPATH": os.pathsep.join([str(Path(grader.__file__).resolve().parent.parent),
                                              os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        self.stderr = tempfile.TemporaryFile()
        # The child caps its own memory before it imports anything that parses files, and its CPU time before
        # each file (a preexec_fn would do it earlier, but is unsafe with the threads that read in parallel).
        self.process = subprocess.Popen([sys.executable, "-m", "grader.commands.manual._reader"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.stderr, env=env)
        self.served = 0
        limits = {"cpu_seconds": self.limits.cpu_seconds, "memory_bytes": self.limits.memory_bytes}
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"limits": limits}).encode() + b"\n")
        self.process.stdin.flush()
        # Starting Python and importing the readers is not the file's time: it has its own allowance.
        self._reply(_START_SECONDS)

    def _reply(self, seconds: float) -> bytes:
        """The child's next line, waiting at most `seconds` (TimeoutExpired), EOFError when it ended."""
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + seconds
        stream = self.process.stdout.fileno()
        chunks: list[bytes] = []
        size = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([stream], [], [], left)[0]:
                raise subprocess.TimeoutExpired("grader.commands.manual._reader", seconds)
            chunk = os.read(stream, 1 << 20)
            if not chunk:
                raise EOFError
            newline = chunk.find(b"\n")
            if newline != -1:
                if time.monotonic() > deadline:  # complete, but only after the time allowed
                    raise subprocess.TimeoutExpired("grader.commands.manual._reader", seconds)
                chunks.append(chunk[:newline])
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
            if size > _MAX_REPLY_BYTES:
                raise _TooBig

    def _failure(self) -> str:
        """Why the child ended (it is reaped and replaced next time)."""
        assert self.process is not None
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        said = b""
        if self.stderr is not None:
            self.stderr.seek(0)
            said = self.stderr.read()[-20000:]
        self.close()
        return _why(code, said.decode("utf-8", errors="replace"))

    def close(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            for stream in (self.process.stdin, self.process.stdout):
                if stream is not None:
                    try:
                        stream.close()
                    except BrokenPipeError:
                        pass
            self.process = None
        if self.stderr is not None:
            self.stderr.close()
            self.stderr = None


class _TooBig(Exception):
    pass


def _code_units(units: object) -> list[dict] | None:
    if units is None:
        return None
    if not isinstance(units, list):
        raise TypeError("code is not a list")
    checked = []
    for unit in units:
        if not (isinstance(unit, dict) and isinstance(unit.get("label"), str) and isinstance(unit.get("text"), str)):
            raise TypeError("a code unit is not {label, text}")
        question = unit.get("question")
        checked.append({"label": unit["label"], "text": unit["text"],
                        "question": question if isinstance(question, str) else None})
    return checked


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


def _why(returncode: int | None, said: str) -> str:
    if returncode is None:
        return "it stopped answering"
    if returncode < 0:
        signal = -returncode
        return {9: "killed, probably at the CPU time limit", 24: "killed at the CPU time limit"}.get(
            signal, f"killed by signal {signal}")
    last = said.strip().splitlines()[-1:] or ["no message"]
    # Out of memory shows in several ways: a MemoryError anywhere in the traceback, a failed import or a
    # fatal error of the interpreter that could not allocate.
    if any(marker in said for marker in ("MemoryError", "Cannot allocate memory", "out of memory")):
        return "it needed more memory than allowed"
    return f"exit {returncode}: {last[0][-300:]}"
