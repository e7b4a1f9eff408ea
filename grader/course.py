"""The course API: everything a course's own code (judges, input generators, notebook builders) imports from
the grader, and nothing else. A course's `reference/` imports only this module; what it re-exports is stable.

    from grader.course import Argument, Evidence, GeneratedCase, JudgeVerdict

- An input generator (a rubric's `cases[].generator: module:name`) takes a numpy Generator and returns a
  `GeneratedCase` whose `args` are `Argument`s (the value, and the form the student's function receives it in:
  numpy, torch, list or python).
- A property judge (`judge: module:name`) takes `Evidence` (the student's values and call results as plain data,
  each a `Reply`) and returns a `JudgeVerdict` (passed, message, optional partial credit).
- A master-notebook builder makes its cells with `make_cell` (the cell metadata conventions of rubric.notebooks).

Judges and generators run in the grader's process on plain data only: they never see a student's objects.
"""

from __future__ import annotations

from grader.checks.inputs import GeneratedCase
from grader.checks.plan import Evidence, JudgeFunction, JudgeVerdict
from grader.execution.protocol import Argument, Reply
from grader.rubric.notebooks import make_cell

__all__ = ["Argument", "Evidence", "GeneratedCase", "JudgeFunction", "JudgeVerdict", "Reply", "make_cell"]
