"""The bundled rubrics prove themselves: master full marks, template zero, every mutant caught."""

from __future__ import annotations

import pytest

from grader.mutants import MutantSet, load_mutants
from grader.rubric.load import load_rubric
from grader.selftest import mutants_path, run_selftest
from tests.conftest import REPO


@pytest.mark.parametrize("sheet", ["sheet02", "sheet11"])
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
