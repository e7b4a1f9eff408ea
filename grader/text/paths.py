"""Paths in messages as the hand-in knows them, never as the server does.

A hand-in's files live on the server in `OUT/<folder>/files/` (batch) or a temporary folder (`grader check`),
and its code runs in a throwaway working folder (`/tmp/grader-run-XXXX/`). Errors and notes that mention a file
("No such file or directory: '/tmp/grader-run-k2j1/data.csv'", "cannot read '/srv/out/Team/files/answers.pdf'")
should say `data.csv` and `answers.pdf`: that is what the group handed in, and the server's layout is none of
their business.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

# The runner's working folders (grader.execution.runner: mkdtemp(prefix="grader-run-")) and grader check's copy.
_SCRATCH = re.compile(r"(?:/[^\s'\"/]+)*/grader-(?:run|check)-[A-Za-z0-9_]+(?:/files)?(?:/|(?=[\s'\",:)]|$))")


def as_in_hand_in(text: str, roots: Iterable[Path] = ()) -> str:
    """`text` with every path below one of `roots` (and below a runner's working folder) made relative."""
    for root in roots:
        for spelled in dict.fromkeys((str(root), str(Path(root).resolve()))):
            text = text.replace(spelled.rstrip("/") + "/", "").replace(spelled.rstrip("/"), ".")
    return _SCRATCH.sub(lambda found: "" if found.group(0).endswith("/") else ".", text)
