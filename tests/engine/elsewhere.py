"""What a cluster worker does with a shipped HandIn and PlannedSheet (run in a fresh process by
test_front_doors.py; kept apart so that process imports only what a worker needs)."""

from __future__ import annotations

import pickle
import sys

from grader.execution.sandbox import find_sandbox
from grader.scoring.grade import grade_hand_in


def course_importable(course: str) -> None:
    """The course's code must be importable where checks are judged (property judges are pickled by name)."""
    sys.path.insert(0, course)


def grade_shipped(shipped: bytes) -> bytes:
    hand_in, planned = pickle.loads(shipped)
    return pickle.dumps(grade_hand_in(hand_in, planned, find_sandbox(require=False)))
