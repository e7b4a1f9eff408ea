"""Intake of hand-ins: file names, safe unpacking, main-file choice, team info, lateness.

Pure library functions; the batch runner calls them per submission and records the flags.
"""

from grader.intake.deadline import (
    Deadline,
    LatePolicy,
    Lateness,
    ManifestError,
    SubmissionTime,
    assess_lateness,
    read_manifest,
    submission_time,
)
from grader.intake.extract import ExtractedSubmission, ExtractionLimits, IgnoredEntry, IntakeError, extract_submission
from grader.intake.flags import FLAG_CODES, Flag, FlagCode
from grader.intake.main_file import SELECTION_RULE, MainFileChoice, choose_main_file
from grader.intake.naming import NamingRule, ParsedName, Student, find_duplicate_students, parse_submission_name
from grader.intake.team import TeamMember, compare_team, read_team_info

__all__ = [
    "FLAG_CODES",
    "SELECTION_RULE",
    "Deadline",
    "ExtractedSubmission",
    "ExtractionLimits",
    "Flag",
    "FlagCode",
    "IgnoredEntry",
    "IntakeError",
    "LatePolicy",
    "Lateness",
    "MainFileChoice",
    "ManifestError",
    "NamingRule",
    "ParsedName",
    "Student",
    "SubmissionTime",
    "TeamMember",
    "assess_lateness",
    "choose_main_file",
    "compare_team",
    "extract_submission",
    "find_duplicate_students",
    "parse_submission_name",
    "read_manifest",
    "read_team_info",
    "submission_time",
]
