"""A hand-in's final points: the automatic points plus the tutors' manual scores, times the late factor.

The one rule that turns what grading stored into what a student gets; the gradebook's StoredResult.total, the
reports and the export all use it.
"""

from __future__ import annotations


def final_points(auto_points: float, manual_points: float, late_factor: float) -> float:
    """(automatic + manual points) x late factor, rounded to 6 places (the rubric's rounding comes later)."""
    return round((auto_points + manual_points) * late_factor, 6)
