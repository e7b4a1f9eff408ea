"""`grader review OUT`: load the sheet, make the tutors' tokens, print their URLs, serve until Ctrl-C.

Binds to 127.0.0.1 unless --host says otherwise (then it warns: the page shows students' names and work).
On the way out every save is written into the outputs before the process ends.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from pathlib import Path

from grader.review.app import create_app
from grader.review.security import Access
from grader.review.sheet import ReviewedSheet

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8800


@dataclass
class ReviewOptions:
    out: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    sheet: str | None = None
    course: Path = Path(".")
    db: Path | None = None
    tutors: list[str] = field(default_factory=list)  # default: the login name, as `grader manual import`
    head: str | None = None  # default: the first tutor
    anonymous: bool = False


def tutor_list(options: ReviewOptions) -> list[tuple[str, bool]]:
    names = list(dict.fromkeys(options.tutors)) or [default_tutor()]
    head = options.head or names[0]
    if head not in names:
        names.insert(0, head)
    return [(name, name == head) for name in names]


def allowed_hosts(host: str, port: int) -> tuple[str, ...]:
    names = {host, "127.0.0.1", "localhost"} if host in ("127.0.0.1", "localhost") else {host}
    return tuple(f"{name}:{port}" for name in sorted(names))


def serve(options: ReviewOptions, say=print) -> None:
    import uvicorn

    sheet = ReviewedSheet(options.out, sheet=options.sheet, course=options.course, db=options.db, say=say)
    access = Access(tutor_list(options), options.port)
    app = create_app(sheet, access, anonymous=options.anonymous,
                     allowed_hosts=allowed_hosts(options.host, options.port))
    if options.host not in ("127.0.0.1", "localhost", "::1"):
        say(f"warning: serving on {options.host}, not only this machine: anyone who reaches it still needs a token")
    say(f"{sheet.loaded.rubric.title}: {len(sheet.hand_ins)} hand-ins, {len(sheet.queues)} tutor checks")
    for tutor in access.tutors:
        role = " (head tutor)" if tutor.head else ""
        say(f"  {tutor.name}{role}: http://{options.host}:{options.port}/?token={tutor.token}")
    say("Ctrl-C stops the server; every save is already in the gradebook and the outputs follow it.")
    try:
        uvicorn.run(app, host=options.host, port=options.port, log_level="warning")
    finally:
        sheet.close()


def default_tutor() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "tutor"
