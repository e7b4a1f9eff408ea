"""grader: a course-agnostic grading engine for exercise sheets with untrusted student code."""

__version__ = "0.1.0"
