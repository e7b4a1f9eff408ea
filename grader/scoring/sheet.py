"""Score a sheet: run one notebook or script against the planned checks (grade_file), judge every check on the
grader side and add the points up per question (judge); the settings a rubric's execution section means.

grade.grade_hand_in builds on grade_file for a hand-in that intake took in; the self-check, the selftest and the
tests call grade_file directly on a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grader.checks.plan import CheckPlan, CheckResult
from grader.execution.limits import ResourceLimits
from grader.execution.program import OtherLanguageError, ProgramError, load_program
from grader.execution.protocol import RunReport
from grader.execution.runner import ExecutionSettings, run_program
from grader.execution.sandbox import Sandbox
from grader.rubric.models import ExecutionSpec, Question


@dataclass
class QuestionScore:
    question_id: str
    title: str
    points: float
    max_points: float
    bonus: bool
    checks: list[CheckResult]

    @property
    def pending_manual(self) -> float:
        return sum(c.max_points for c in self.checks if c.status == "pending")


@dataclass
class SubmissionGrade:
    sheet: str
    source: str
    questions: list[QuestionScore]
    max_points: float
    run: RunReport | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    other_language: bool = False  # not run: a notebook of another kernel (error says which)

    @property
    def auto_points(self) -> float:
        return round(sum(q.points for q in self.questions), 6)

    @property
    def pending_manual(self) -> float:
        return round(sum(q.pending_manual for q in self.questions), 6)

    @property
    def checks(self) -> list[CheckResult]:
        return [c for q in self.questions for c in q.checks]

    @property
    def failed_cells(self) -> list:
        return self.run.failed_cells if self.run else []


def execution_settings(spec: ExecutionSpec) -> ExecutionSettings:
    return ExecutionSettings(
        cell_timeout=spec.cell_timeout, call_timeout=spec.call_timeout, total_timeout=spec.total_timeout,
        output_limit=spec.output_limit, preload=tuple(spec.preload), seed=spec.seed,
        limits=ResourceLimits(memory_bytes=spec.memory_mb * 2**20, max_processes=spec.max_processes,
                              cpu_seconds=spec.total_timeout))


def grade_file(path: Path, questions: list[Question], plans: list[CheckPlan], *, sheet: str, sandbox: Sandbox,
               settings: ExecutionSettings, files_dir: Path | None = None) -> SubmissionGrade:
    """Run one notebook or script and judge every planned check. Never raises for a bad hand-in."""
    try:
        program = load_program(path)
    except (ProgramError, OSError) as exc:
        grade = judge(questions, plans, {}, sheet=sheet, source=str(path), run=None, error=str(exc))
        grade.other_language = isinstance(exc, OtherLanguageError)
        return grade
    requests = [request for plan in plans for request in plan.requests]
    run = run_program(program, requests, files_dir=files_dir if files_dir else path.parent, sandbox=sandbox,
                      settings=settings)
    grade = judge(questions, plans, run.replies, sheet=sheet, source=str(path), run=run)
    grade.notes.extend(program.notes)
    return grade


def judge(questions: list[Question], plans: list[CheckPlan], replies: dict, *, sheet: str, source: str,
          run: RunReport | None, error: str | None = None) -> SubmissionGrade:
    results = {(p.question_id, p.check.id): p.check.judge_replies(p, replies) for p in plans}
    scores = []
    for question in questions:
        checks = [results[(question.id, c.id)] for c in question.checks if (question.id, c.id) in results]
        if not checks:
            continue
        scores.append(QuestionScore(question_id=question.id, title=question.title,
                                    points=round(sum(c.points for c in checks), 6),
                                    max_points=round(sum(c.max_points for c in checks), 6),
                                    bonus=question.bonus, checks=checks))
    max_points = sum(q.max_points for q in scores if not q.bonus)
    if error:
        for score in scores:
            for check in score.checks:
                if check.status != "pending":
                    check.message = f"not graded: {error}"
    return SubmissionGrade(sheet=sheet, source=source, questions=scores, max_points=max_points, run=run, error=error)
