"""Child process of grader.commands.manual.reading: read hand-in files, one JSON request per line, one JSON reply per line.

The first line on stdin is {"limits": {"cpu_seconds": int, "memory_bytes": int}}: the memory limit is set
before anything that parses files is imported, and before every file the CPU limit is moved to the time used
so far plus cpu_seconds, so each file gets its own CPU budget. The child answers {"ready": true} once it has
imported the readers. Then one request per line:
{"path": str, "questions": [{"id", "task", "part", "text"}] | null, "code_chars": int | null,
"text_pages": int | null}. The reply is {"ok": true, "answers": {id: AnswerText} | null, "unassigned": AnswerText | null,
"warnings": [str], "answers_error": str | null,
"code": [{"label", "text", "question"}] | null, "code_notes": [str], "code_error": str | null, "text": str | null,
"text_error": str | null} ("text": a PDF's first text_pages pages): a file whose answers cannot be read may still give
its code, and the other way round. End of input ends the process.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path


def main() -> int:
    limits = json.loads(sys.stdin.readline())["limits"]
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Imported only now: parsing the untrusted files happens under the limits.
    from grader.prose.extract import HandInReadError, ProseQuestion, extract_written_text
    from grader.prose.sources import SUPPORTED_SUFFIXES
    from grader.text.pdf_warnings import pypdf_warnings
    from grader.commands.similarity.sources import CODE_SUFFIXES, CodeReadError, read_code

    sys.stdout.write('{"ready": true}\n')
    sys.stdout.flush()
    for line in sys.stdin:
        request = json.loads(line)
        _cpu_budget(limits["cpu_seconds"])
        path = Path(request["path"])
        reply: dict = {"ok": True, "answers": None, "answers_error": None, "code": None, "code_notes": [],
                       "code_error": None, "text": None, "text_error": None}
        if request.get("questions") is not None and path.suffix.lower() in SUPPORTED_SUFFIXES:
            questions = [ProseQuestion(id=q["id"], task=tuple(q["task"]) if isinstance(q["task"], list)
                                       else q["task"], part=q["part"], text=q["text"]) for q in request["questions"]]
            try:
                with pypdf_warnings() as warned:
                    answers, unassigned = extract_written_text(path, questions)
                reply["warnings"] = warned
                reply["answers"] = {qid: answer.model_dump() for qid, answer in answers.items()}
                reply["unassigned"] = None if unassigned is None else unassigned.model_dump()
            except HandInReadError as exc:
                reply["answers_error"] = str(exc)
        if request.get("text_pages") is not None:
            with pypdf_warnings() as warned:
                reply["text"], reply["text_error"] = _pdf_pages(path, int(request["text_pages"]))
            reply["warnings"] = [*reply.get("warnings", []), *warned]
        if request.get("code_chars") is not None and path.suffix.lower() in CODE_SUFFIXES:
            try:
                reply["code"], reply["code_notes"] = read_code(path, request["code_chars"])
            except CodeReadError as exc:
                reply["code_error"] = str(exc)
        sys.stdout.write(json.dumps(reply, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return 0


def _pdf_pages(path: Path, pages: int) -> tuple[str | None, str | None]:
    """The text of a PDF's first `pages` pages (for the team a hand-in declares), or why it cannot be read."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path)
        return "\n".join(page.extract_text() or "" for page in reader.pages[:pages]), None
    except (PyPdfError, OSError, ValueError, KeyError) as exc:
        return None, f"not a readable PDF ({exc})"


def _cpu_budget(seconds: int) -> None:
    """Let the next file use `seconds` more CPU time (the soft limit; SIGXCPU ends the process there)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = int(usage.ru_utime + usage.ru_stime) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = used + seconds if hard == resource.RLIM_INFINITY else min(used + seconds, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


if __name__ == "__main__":
    sys.exit(main())
