"""Intake of hand-ins: file names, safe unpacking, main-file choice, team info, lateness.

The front door is `take_in(path, rules, workdir) -> HandIn` (intake/hand_in.py); the modules below it are plain
functions that it (and the self-check, the export) call.
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
from grader.intake.flags import FLAG_CODES, Flag, FlagCode, FlagRecord
from grader.intake.hand_in import HandIn, HandInTiming, IntakeRules, TimingRule, take_in
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
    "FlagRecord",
    "HandIn",
    "HandInTiming",
    "IgnoredEntry",
    "IntakeError",
    "IntakeRules",
    "LatePolicy",
    "Lateness",
    "MainFileChoice",
    "ManifestError",
    "NamingRule",
    "ParsedName",
    "Student",
    "SubmissionTime",
    "TeamMember",
    "TimingRule",
    "assess_lateness",
    "choose_main_file",
    "compare_team",
    "extract_submission",
    "find_duplicate_students",
    "parse_submission_name",
    "read_manifest",
    "read_team_info",
    "submission_time",
    "take_in",
]
