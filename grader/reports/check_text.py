"""How a check's outcome is worded for students, shared by feedback and results.json.

Pending points are never shown as lost: a tutor-graded part nobody has scored yet says it is waiting for a
tutor. A hidden check says only whether it passed until the deadline; after it, also what was checked and what
went wrong (the case, the largest difference, the hint), so a group can learn from it without having been able
to tune a resubmission to it.
"""

from __future__ import annotations

from grader.checks.plan import CheckResult
from grader.store.gradebook import StoredResult

_STATUS_WORDS = {"passed": "passed", "failed": "failed", "error": "could not be checked"}


def tutor_line(result: StoredResult, check: CheckResult) -> str:
    """A tutor-graded check: waiting, or the tutor's points and comment."""
    manual = result.manual_score(check)
    if manual is None:
        return f"{check.check_id}: waiting for a tutor ({points_word(check.max_points)}, not counted yet)"
    comment = f" {manual.comment}" if manual.comment else ""
    return f"{check.check_id}: {manual.points:g}/{check.max_points:g} from your tutor.{comment}"


def hidden_lines(check: CheckResult, *, after_deadline: bool) -> tuple[str, str]:
    """(first line, details) for a hidden check; details stay empty before the deadline or when it passed."""
    points = f"{check.points:g}/{check.max_points:g}"
    verdict = _STATUS_WORDS.get(check.status, check.status)
    first = f"{check.check_id}: hidden check {verdict} ({points})."
    if not after_deadline or check.passed:
        return first, ""
    details = []
    if check.description:
        details.append(f"What was checked: {check.description}.")
    details.append(check.message.strip())
    details.extend(f"Hint: {hint}" for hint in check.hints)
    return first, "\n".join(line for line in details if line)


def public_lines(check: CheckResult) -> tuple[str, str]:
    """(first line, details) for a public check: its verdict, message and hints."""
    points = f"{check.points:g}/{check.max_points:g}"
    first, _, rest = check.message.partition("\n")
    head = f"{check.check_id}: {_STATUS_WORDS.get(check.status, check.status)} ({points}). {first}".rstrip()
    details = [rest.strip("\n")] if rest.strip() else []
    details.extend(f"Hint: {hint}" for hint in check.hints)
    return head, "\n".join(details)


def question_points_text(result: StoredResult, question) -> str:
    """"0.5 of 0.5 points, 0.5 more waiting for a tutor" / "waiting for a tutor (1 point)" / "1 of 2 points"."""
    pending = result.question_pending(question)
    counted = result.question_counted_max(question)
    points = result.question_points(question)
    if pending and not counted:
        return f"waiting for a tutor ({points_word(pending)})"
    text = f"{points:g} of {points_word(counted)}"
    return text + (f", {pending:g} more waiting for a tutor" if pending else "")


def points_word(value: float) -> str:
    return f"{value:g} point" + ("" if value == 1 else "s")
