"""Who may use the review page, and the headers every answer carries.

As Jupyter does: the server makes a random token per tutor when it starts and prints a URL with it. The first
request with `?token=` sets an HttpOnly, SameSite=Strict cookie (named after the port, so two review servers
on one machine do not mix) and redirects to the same URL without the token, so it does not stay in the
address bar or the history. Every request needs the cookie (or `Authorization: token ...`). The token says
who the tutor is: that name is stored with every score, as `grader manual import --tutor` does.

State changes are POSTs that carry a CSRF token (an HMAC of the session's token, in a hidden field) and, when
the browser sends one, an Origin of this server; the Host header must name this server (a DNS-rebinding page
cannot talk to it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

COOKIE_PREFIX = "grader_review_"

# The page's scripts and styles are files of this server; student text cannot add any. Frames only from here
# (the notebook view), and the notebook's own answer adds `sandbox` on top (see NOTEBOOK_CSP).
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "font-src data:; frame-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'")
NOTEBOOK_CSP = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; "
                "base-uri 'none'; frame-ancestors 'self'")
HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
           "Cross-Origin-Opener-Policy": "same-origin"}


@dataclass(frozen=True)
class Tutor:
    name: str
    head: bool  # the head tutor assigns the work
    token: str


class Access:
    def __init__(self, tutors: list[tuple[str, bool]], port: int) -> None:
        if not tutors:
            raise ValueError("at least one tutor")
        self.tutors = [Tutor(name, head, secrets.token_urlsafe(24)) for name, head in tutors]
        self._secret = secrets.token_bytes(32)
        self.cookie = f"{COOKIE_PREFIX}{port}"

    def tutor(self, token: str | None) -> Tutor | None:
        if not token:
            return None
        for tutor in self.tutors:
            if hmac.compare_digest(tutor.token.encode(), token.encode()):
                return tutor
        return None

    def csrf(self, tutor: Tutor) -> str:
        return hmac.new(self._secret, tutor.token.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, tutor: Tutor, sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(self.csrf(tutor), sent)
