"""Child process of the review page: rebuilds the outputs of `grader grade` from the gradebook on request.

Run by grader.commands.review.sheet.OutputWriter as `python -m grader.commands.review._output_worker DB OUT SHEET COURSE`. Each
line on stdin is a JSON list of hand-ins whose results.json and feedback to rewrite (gradebook.csv and
summary.html are always rewritten); it answers each with one line: "ok" or "error: ...". Rebuilding takes
seconds at course size and is CPU work in Python: in its own process it never holds the server's GIL, so pages
keep answering in milliseconds while it runs. It only reads the gradebook and writes OUT's files; the same
`write_outputs` as `grader manual import` does the writing.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path


def main(db: str, out: str, sheet: str, course: str) -> None:
    from grader.store.gradebook import Gradebook
    from grader.commands.manual.export import load_course_rubric
    from grader.reports.outputs import write_outputs

    loaded = load_course_rubric(sheet, Path(course))
    print("ready", flush=True)
    for line in sys.stdin:
        try:
            names = set(json.loads(line))
            with Gradebook.open(Path(db)) as book:
                write_outputs(book.results(sheet), loaded, Path(out), now=datetime.now(UTC),
                              similarity=book.similarity(sheet), hand_ins=names)
            print("ok", flush=True)
        except Exception as exc:  # noqa: BLE001 - reported to the server, which shows it on every page
            print(f"error: {type(exc).__name__}: {' '.join(str(exc).split())}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:5])
