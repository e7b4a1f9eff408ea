"""`grader review OUT`: load the sheet, make the tutors' tokens, print their URLs, serve until Ctrl-C.

Binds to 127.0.0.1 unless --host says otherwise (then it warns: the page shows students' names and work).
On the way out every save is written into the outputs before the process ends.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from pathlib import Path

from grader.commands.manual.questions import ManualError
from grader.commands.review.app import create_app
from grader.commands.review.security import Access
from grader.commands.review.sheet import ReviewedSheet

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
    """The Host headers a loopback server answers (a web page's DNS-rebinding trick cannot reach it). A server
    bound to another address is reached under names it cannot know: any Host, the token still decides."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        return ()
    return tuple(f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]"))


def serve(options: ReviewOptions, say=print) -> None:
    import socket

    import uvicorn

    sheet = ReviewedSheet(options.out, sheet=options.sheet, course=options.course, db=options.db, say=say)
    # Bind first, so that --port 0 (any free port) prints the port really used.
    family = socket.AF_INET6 if ":" in options.host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((options.host, options.port))
    except OSError as exc:
        sheet.close()
        raise ManualError(f"cannot listen on {options.host}:{options.port} ({exc.strerror})") from None
    port = listener.getsockname()[1]
    access = Access(tutor_list(options), port)
    app = create_app(sheet, access, anonymous=options.anonymous, allowed_hosts=allowed_hosts(options.host, port))
    if options.host not in ("127.0.0.1", "localhost", "::1"):
        say(f"warning: serving on {options.host}, not only this machine: anyone who reaches it still needs a token")
    say(f"{sheet.loaded.rubric.title}: {len(sheet.hand_ins)} hand-ins, {len(sheet.queues)} tutor checks")
    for tutor in access.tutors:
        role = " (head tutor)" if tutor.head else ""
        say(f"  {tutor.name}{role}: http://{options.host}:{port}/?token={tutor.token}")
    say("Ctrl-C stops the server; every save is already in the gradebook and the outputs follow it.")
    try:
        uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off")).run(sockets=[listener])
    finally:
        listener.close()
        sheet.close()  # waits until the outputs hold every save


def default_tutor() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "tutor"
