"""Scoring: the step between the checks and the store. Grades one hand-in (grade.grade_hand_in), scores the sheet
from the checks' results (sheet), and says what a hand-in is finally worth (totals: automatic plus manual points,
times the late factor). record.GradingRecord is what it hands to the store."""
