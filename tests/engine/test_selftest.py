"""The bundled rubrics prove themselves: master full marks, template zero, every mutant caught."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import yaml

from grader.scoring.sheet import execution_settings, grade_file
from grader.rubric.plans import plan_checks
from grader.commands.mutants import MutantSet, load_mutants
from grader.rubric.notebooks import cell_meta, make_template
from grader.rubric.load import LoadedRubric, load_rubric
from grader.commands.selftest import (functions_without_stubs, mutants_path, run_selftest, tutor_parts_without_answers,
                             undefined_in_template)
from tests.conftest import REPO


# sheet02 is proven by `grader selftest` itself (tests/ci/test_selftest_cli.py, the same assertions): not twice
@pytest.mark.parametrize("sheet", ["sheet11"])
def test_bundled_rubric_selftest_passes(sheet, sandbox):
    loaded = load_rubric(REPO / "rubrics" / f"{sheet}.yaml")
    report = run_selftest(loaded, sandbox)
    assert report.ok, report.problems
    assert report.lines[0].startswith("master: ") and report.lines[1] == "template: 0 automatic points"
    assert sum(line.endswith(")") and "caught" in line for line in report.lines) == \
        len(load_mutants(mutants_path(loaded)).mutants)


def test_a_mutant_that_passes_fails_the_selftest_and_is_named(sandbox):
    loaded = load_rubric(REPO / "rubrics" / "sheet02.yaml")
    registered = load_mutants(mutants_path(loaded))
    harmless = registered.mutants[0].model_copy(update={
        "id": "not-really-wrong",
        "regions": ["gate = 1.0 / (1.0 + np.exp(-np.asarray(net_phi, dtype=float)))\n"
                    "return gate * (1 - gate) * np.sum(np.asarray(zeta, dtype=float) * np.asarray(s_prev))"]})
    # the harmless mutant returns numpy for torch input: still right by the comparison policy
    report = run_selftest(loaded, sandbox, MutantSet(sheet="sheet02", master=registered.master, mutants=[harmless]))
    assert not report.ok
    assert report.problems == ["mutant not-really-wrong (δ_φ without φ'(net_φ)): passes 1b/delta-hidden, "
                               "1b/delta-public although it should fail; does not show the hint containing "
                               "\"without the factor φ'(net_φ)\""]


def test_the_selftest_names_what_the_template_does_not_give_students(sandbox, tmp_path):
    """A check that looks up a name the template leaves undefined, a called function without a documented stub,
    and a tutor-graded part without an answer cell or model answer are rubric bugs."""
    loaded = load_rubric(REPO / "rubrics" / "sheet02.yaml")
    master = nbformat.read(str(REPO / "reference" / "notebooks" / "sheet02_master.ipynb"), as_version=4)
    cells = {cell_meta(c)["id"]: c for c in master.cells}
    cells["code1c"].source = cells["code1c"].source.replace("bidirectional_online_feasible = None\n", "")
    kl = cells["code3c"]
    kl.source = kl.source[:kl.source.index('    """KL(p')] + kl.source[kl.source.index("    # BEGIN SOLUTION"):]
    master.cells = [c for c in master.cells if cell_meta(c)["id"] != "answer3d"]
    template = make_template(master)
    path = tmp_path / "template.ipynb"
    nbformat.write(template, str(path))
    plans = plan_checks(loaded)
    graded = grade_file(path, loaded.rubric.questions, plans, sheet="sheet02", sandbox=sandbox,
                        settings=execution_settings(loaded.rubric.execution))
    assert undefined_in_template(plans, graded) == [
        "the template does not define `bidirectional_online_feasible`, which 1c/yes-no looks up: give it a stub "
        "(a def with its signature and a docstring stating the input kinds, or a variable set to None with a "
        "comment saying what to put there)"]
    assert functions_without_stubs(loaded, template) == [
        f"3c/{check} calls `kl_discrete`, which has no docstring: the stub must show its signature and say in a "
        f"docstring which input kinds it receives" for check in ("kl-public", "kl-hidden")]

    course = tmp_path / "course"
    (course / "reference" / "answers").mkdir(parents=True)
    answers = yaml.safe_load((REPO / "reference" / "answers" / "sheet02.yaml").read_text(encoding="utf-8"))
    del answers["questions"]["3d"]
    (course / "reference" / "answers" / "sheet02.yaml").write_text(yaml.safe_dump(answers, allow_unicode=True),
                                                                   encoding="utf-8")
    elsewhere = LoadedRubric(rubric=loaded.rubric, path=loaded.path, course_root=Path(course))
    assert tutor_parts_without_answers(elsewhere, template) == [
        "3d/explanation is graded by a tutor, but the template has no answer cell for 3d (a markdown cell with "
        "role 'answer')",
        "3d/explanation is graded by a tutor, but reference/answers/sheet02.yaml has no model answer for '3d'"]
    assert tutor_parts_without_answers(loaded, make_template(nbformat.read(
        str(REPO / "reference" / "notebooks" / "sheet02_master.ipynb"), as_version=4))) == []
