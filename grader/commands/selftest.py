"""Prove a rubric: the master scores every automatic point, the template none, and each mutant loses
exactly the points of the checks meant to catch it (and shows its hint).

It also proves that the template tells students what the checks need: every name a check looks up is defined
when the template runs (a stub), every function a check calls stands there as a `def` with a docstring, and
every tutor-graded part has an answer cell in the template and a model answer for the feedback.
"""

from __future__ import annotations

import ast
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.checks.plan import CheckPlan
from grader.execution.sandbox import Sandbox
from grader.scoring.sheet import SubmissionGrade, execution_settings, grade_file
from grader.rubric.plans import plan_checks
from grader.rubric.model_answers import ModelAnswersError, load_model_answers
from grader.commands.mutants import MutantSet, apply_mutant, load_mutants
from grader.rubric.notebooks import cell_meta, make_template
from grader.rubric.load import LoadedRubric
from grader.checks.kinds import Check
from grader.checks.kinds.function import FunctionCheck


@dataclass
class SelftestReport:
    sheet: str
    problems: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def mutants_path(loaded: LoadedRubric) -> Path:
    return loaded.path.with_name(f"{loaded.rubric.sheet}.mutants.yaml")


def run_selftest(loaded: LoadedRubric, sandbox: Sandbox, mutants: MutantSet | None = None) -> SelftestReport:
    mutants = mutants or load_mutants(mutants_path(loaded))
    report = SelftestReport(sheet=loaded.rubric.sheet)
    plans = plan_checks(loaded)
    master = nbformat.read(str(loaded.course_root / mutants.master), as_version=4)
    auto_max = sum(p.check.points for p in plans if not p.check.tutor_graded)

    def grade(notebook: nbformat.NotebookNode, name: str) -> SubmissionGrade:
        with tempfile.TemporaryDirectory(prefix="grader-selftest-") as tmp:
            path = Path(tmp) / f"{name}.ipynb"
            nbformat.write(notebook, str(path))
            return grade_file(path, loaded.rubric.questions, plans, sheet=loaded.rubric.sheet, sandbox=sandbox,
                              settings=execution_settings(loaded.rubric.execution))

    reference = grade(master, "master")
    lost = [f"{c.question_id}/{c.check_id}" for c in reference.checks if c.status not in ("passed", "pending")]
    report.lines.append(f"master: {reference.auto_points:g}/{auto_max:g} automatic points")
    if lost:
        report.problems.append(f"the master loses points on {', '.join(lost)}: "
                               + "; ".join(c.message.splitlines()[0] for c in reference.checks
                                           if f"{c.question_id}/{c.check_id}" in lost))
    template_notebook = make_template(master)
    template = grade(template_notebook, "template")
    report.lines.append(f"template: {template.auto_points:g} automatic points")
    if template.auto_points:
        kept = [f"{c.question_id}/{c.check_id}" for c in template.checks if c.points]
        report.problems.append(f"the blank template scores {template.auto_points:g} points ({', '.join(kept)})")
    report.problems.extend(undefined_in_template(plans, template))
    report.problems.extend(functions_without_stubs(loaded, template_notebook))
    report.problems.extend(tutor_parts_without_answers(loaded, template_notebook))

    for mutant in mutants.mutants:
        result = grade(apply_mutant(master, mutant), mutant.id)
        failed = {f"{c.question_id}/{c.check_id}" for c in result.checks if c.status in ("failed", "error")}
        must = set(mutant.loses)
        hints = [h for c in result.checks for h in c.hints]
        verdict = []
        if must - failed:
            verdict.append(f"passes {', '.join(sorted(must - failed))} although it should fail")
        if failed - must:
            verdict.append(f"also fails {', '.join(sorted(failed - must))}")
        if mutant.hint and not any(mutant.hint in h for h in hints):
            verdict.append(f"does not show the hint containing {mutant.hint!r}")
        if verdict:
            report.problems.append(f"mutant {mutant.id} ({mutant.description}): " + "; ".join(verdict))
        report.lines.append(f"mutant {mutant.id}: {'caught' if not verdict else 'NOT as registered'} "
                            f"({result.auto_points:g} points)")
    return report


def looked_up(check: Check) -> list[str]:
    """The student-facing names a check reads or calls (the first part of a dotted name)."""
    return [name.split(".")[0] for name in check.student_names()]


def undefined_in_template(plans: list[CheckPlan], template: SubmissionGrade) -> list[str]:
    """Checks whose names the template, run from top to bottom, leaves undefined."""
    replies = template.run.replies if template.run else {}
    missing: dict[str, list[str]] = {}
    for plan in plans:
        for request in plan.requests:
            reply = replies.get(request.key)
            head = request.target.split(".")[0]
            if reply is not None and not reply.ok and f"name '{head}' is not defined" in (reply.error or ""):
                where = f"{plan.question_id}/{plan.check.id}"
                if where not in missing.setdefault(head, []):
                    missing[head].append(where)
    return [f"the template does not define `{name}`, which {', '.join(where)} looks up: give it a stub "
            f"(a def with its signature and a docstring stating the input kinds, or a variable set to None with "
            f"a comment saying what to put there)" for name, where in missing.items()]


def functions_without_stubs(loaded: LoadedRubric, template) -> list[str]:
    """Functions that checks call but that the template does not show as a `def` with a docstring."""
    documented, defined = set(), set()
    for cell in template.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                defined.add(node.name)
                if ast.get_docstring(node):
                    documented.add(node.name)
    problems = []
    for question in loaded.rubric.questions:
        for check in question.checks:
            if isinstance(check, FunctionCheck) and check.function not in documented:
                state = "has no docstring" if check.function in defined else "is not a `def` in the template"
                problems.append(f"{question.id}/{check.id} calls `{check.function}`, which {state}: the stub "
                                f"must show its signature and say in a docstring which input kinds it receives")
    return problems


def tutor_parts_without_answers(loaded: LoadedRubric, template) -> list[str]:
    """Tutor-graded checks without an answer cell in the template, or without a model answer."""
    rubric = loaded.rubric
    slots = {cell_meta(c).get("question") for c in template.cells if cell_meta(c).get("role") == "answer"}
    answers: set[str] = set()
    problems = []
    if rubric.model_answers:
        try:
            answers = set(load_model_answers(loaded.course_root / rubric.model_answers).questions)
        except ModelAnswersError as exc:
            problems.append(f"the model answers cannot be read: {exc}")
    for question in rubric.questions:
        for check in question.checks:
            if not check.tutor_graded:
                continue
            where = f"{question.id}/{check.id}"
            if question.id not in slots:
                problems.append(f"{where} is graded by a tutor, but the template has no answer cell for "
                                f"{question.id} (a markdown cell with role 'answer')")
            key = check.answer or question.id
            if key not in answers:
                source = rubric.model_answers or "the rubric (model_answers is not set)"
                problems.append(f"{where} is graded by a tutor, but {source} has no model answer for {key!r}")
    return problems
