"""Prove a rubric: the master scores every automatic point, the template none, and each mutant loses
exactly the points of the checks meant to catch it (and shows its hint)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.execution.sandbox import Sandbox
from grader.grading import SubmissionGrade, execution_settings, grade_file, plan_checks
from grader.mutants import MutantSet, apply_mutant, load_mutants
from grader.notebooks import make_template
from grader.rubric.load import LoadedRubric


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
    auto_max = sum(p.check.points for p in plans if p.check.kind != "manual")

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
    template = grade(make_template(master), "template")
    report.lines.append(f"template: {template.auto_points:g} automatic points")
    if template.auto_points:
        kept = [f"{c.question_id}/{c.check_id}" for c in template.checks if c.points]
        report.problems.append(f"the blank template scores {template.auto_points:g} points ({', '.join(kept)})")

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
