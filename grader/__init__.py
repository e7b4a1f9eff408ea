"""grader: a course-agnostic grading engine for exercise sheets with untrusted student code."""

__version__ = "0.1.0"
# The name on PyPI (`pip install sheet-grader`); the command and the import name stay `grader`.
DISTRIBUTION = "sheet-grader"
