"""Serve the review app in a background thread on a socket bound by the caller: for tests and the benchmark.

`grader review` itself runs uvicorn in the foreground (grader/commands/review/command.py); this is the same server,
started on a free loopback port and stopped again, so a test never leaves a server behind.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def serving(make_app: Callable[[int], object], host: str = "127.0.0.1") -> Iterator[str]:
    """Yields the base URL (http://127.0.0.1:PORT) while make_app(PORT) is served; stops the server on exit."""
    import uvicorn

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(make_app(port), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="review server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the review server did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        listener.close()



@contextmanager
def serving_sheet(sheet, tutors: list[tuple[str, bool]], *, anonymous: bool = False) -> Iterator[tuple[str, object]]:
    """Serve the review app of `sheet` for `tutors` ((name, head) pairs) as `grader review` would, on a free
    loopback port: yields (base URL, the Access with each tutor's token)."""
    from grader.commands.review.app import create_app
    from grader.commands.review.command import allowed_hosts
    from grader.commands.review.security import Access

    made = {}

    def make_app(port: int):
        made["access"] = Access(tutors, port)
        return create_app(sheet, made["access"], anonymous=anonymous, allowed_hosts=allowed_hosts("127.0.0.1", port))

    with serving(make_app) as url:
        yield url, made["access"]
