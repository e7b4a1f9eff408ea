"""Run a helper on untrusted input in a child process with CPU, memory, output and wall-time caps.

The review page renders two kinds of untrusted files: ran.ipynb (what a hand-in's code printed and drew,
through nbconvert) and PDF pages of scanned answers (through poppler's pdftoppm). Neither parser runs in the
server's process: a file that makes a parser spin or eat memory costs one child, which is killed, and the
page says the file could not be shown.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from dataclasses import dataclass

_MEMORY_BYTES = 1536 * 1024 * 1024
_CPU_SECONDS = 30
_WALL_SECONDS = 45
MAX_OUTPUT_BYTES = 32 * 1024 * 1024


class RenderError(RuntimeError):
    """The child failed, overran or said too much; the message is for the tutor."""


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = _MEMORY_BYTES
    cpu_seconds: int = _CPU_SECONDS
    wall_seconds: float = _WALL_SECONDS


def run_bounded(command: list[str], *, limits: Limits = Limits(), what: str) -> bytes:
    """The child's stdout; RenderError (naming `what`) when it fails or breaks a limit."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
        resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_OUTPUT_BYTES, MAX_OUTPUT_BYTES))
        os.setsid()

    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": "/nonexistent",
           # nbconvert's templates: a venv made with --system-site-packages has them under the base Python's
           # prefix, which Jupyter does not search from inside the venv (the child's environment is otherwise clean).
           "JUPYTER_PATH": os.path.join(sys.base_prefix, "share", "jupyter")}
    try:
        done = subprocess.run(command, capture_output=True, timeout=limits.wall_seconds, preexec_fn=limit, env=env,
                              stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        raise RenderError(f"{what}: took longer than {limits.wall_seconds:g} s, stopped") from None
    except OSError as exc:
        raise RenderError(f"{what}: cannot start {command[0]} ({exc.strerror})") from None
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        raise RenderError(f"{what}: failed ({tail[0][:300]})")
    if len(done.stdout) > MAX_OUTPUT_BYTES:
        raise RenderError(f"{what}: more than {MAX_OUTPUT_BYTES // 2**20} MB of output")
    return done.stdout
