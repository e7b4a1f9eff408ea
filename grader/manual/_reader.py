"""Child process of grader.manual.reading: extract one hand-in file's answers, reply in JSON on stdout.

Input on stdin: {"path": str, "questions": [{"id", "task", "part", "text"}],
"limits": {"cpu_seconds": int, "memory_bytes": int}}; the limits are set before anything parses the file.
Output: {"ok": true, "answers": {id: AnswerText}} or {"ok": false, "error": str}.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    request = json.loads(sys.stdin.read())
    _limit(**request["limits"])
    # Imported only now: parsing the untrusted file happens under the limits.
    from grader.prose.extract import HandInReadError, ProseQuestion, extract_answers

    questions = [ProseQuestion(id=q["id"], task=tuple(q["task"]) if isinstance(q["task"], list) else q["task"],
                               part=q["part"], text=q["text"]) for q in request["questions"]]
    try:
        answers = extract_answers(Path(request["path"]), questions)
    except HandInReadError as exc:
        reply = {"ok": False, "error": str(exc)}
    else:
        reply = {"ok": True, "answers": {qid: answer.model_dump() for qid, answer in answers.items()}}
    sys.stdout.write(json.dumps(reply, ensure_ascii=False))
    return 0


def _limit(cpu_seconds: int, memory_bytes: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


if __name__ == "__main__":
    sys.exit(main())
