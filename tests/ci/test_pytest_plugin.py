"""The pytest plugin: public checks as pytest items; inert without --grader-sheet."""

from __future__ import annotations

import builtins
import importlib.metadata
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import junitparser
import pytest

import grader.commands.selfcheck
from grader import DISTRIBUTION
from tests.ci.conftest import TOY_CELLS
from tests.conftest import write_notebook


class Recorder:
    """A plugin object for a nested pytest run: every report, by node id and phase."""

    def __init__(self) -> None:
        self.reports: list[pytest.TestReport] = []
        self.collect_errors: list[str] = []
        self.collected: list[str] = []

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collect_errors.append(report.longreprtext)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.reports.append(report)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.collected = [item.nodeid for item in session.items]

    def outcomes(self) -> dict[str, str]:
        """Node id -> passed/failed/skipped/error, the way pytest's summary counts them."""
        result: dict[str, str] = {}
        for report in self.reports:
            if report.when == "call" or report.outcome != "passed":
                outcome = "error" if report.failed and report.when != "call" else report.outcome
                result.setdefault(report.nodeid, outcome)
        return result

    def longrepr(self, nodeid: str) -> str:
        return next(r.longreprtext for r in self.reports if r.nodeid == nodeid and r.longrepr)


@pytest.fixture
def nested(monkeypatch, tmp_path):
    """Run pytest inside this test (like pytester does), counting the hand-in runs of the plugin."""
    runs: list[Path] = []
    real = grader.commands.selfcheck.run_self_check

    def counting(path, **kwargs):
        runs.append(Path(path))
        return real(path, **kwargs)

    monkeypatch.setattr(grader.commands.selfcheck, "run_self_check", counting)

    def run(*args: str, cwd: Path) -> tuple[int, Recorder, list[Path]]:
        recorder = Recorder()
        monkeypatch.chdir(cwd)
        code = pytest.main(["-p", "no:cacheprovider", "-q", *args], plugins=[recorder])
        return int(code), recorder, runs

    return run


def test_the_entry_point_registers_the_plugin():
    found = [ep for ep in importlib.metadata.entry_points(group="pytest11") if ep.value == "grader.commands.pytest_plugin"
             and ep.dist is not None and ep.dist.name == DISTRIBUTION]
    assert [ep.name for ep in found] == ["grader"], "reinstall: pip install -e ."


def test_public_checks_are_items_and_the_notebook_runs_once(toy_course, toy_notebook, nested):
    repo = toy_notebook.parent
    code, recorder, runs = nested("--grader-sheet", "toy", f"--grader-course={toy_course}", "toy.ipynb",
                                  "--junitxml", "junit.xml", cwd=repo)
    assert code == pytest.ExitCode.TESTS_FAILED
    assert recorder.collected == ["toy.ipynb::1::public", "toy.ipynb::2::value", "toy.ipynb::2::choice",
                                  "toy.ipynb::3::prose"]
    assert recorder.outcomes() == {"toy.ipynb::1::public": "failed", "toy.ipynb::2::value": "passed",
                                   "toy.ipynb::2::choice": "passed", "toy.ipynb::3::prose": "skipped"}
    assert [p.resolve() for p in runs] == [toy_notebook.resolve()]
    failure = recorder.longrepr("toy.ipynb::1::public")
    assert failure.splitlines()[0].endswith("(0/1 points)")
    assert "hint: You returned x unchanged: multiply by factor." in failure
    assert "Traceback" not in failure and "grader/commands/pytest_plugin.py" not in failure
    skipped = next(r for r in recorder.reports if r.nodeid == "toy.ipynb::3::prose" and r.skipped)
    assert "scored by a tutor (1 points)" in str(skipped.longrepr)

    xml = junitparser.JUnitXml.fromfile(str(repo / "junit.xml"))
    cases = {case.name: case for suite in xml for case in suite}
    assert sorted(cases) == ["choice", "prose", "public", "value"]
    assert cases["public"].classname == "toy.ipynb.1" and not cases["public"].is_passed
    assert "multiply by factor" in cases["public"].result[0].text
    props = {(c.get("name"), p.get("name")): p.get("value") for c in ET.parse(repo / "junit.xml").iter("testcase")
             for p in c.iter("property")}
    assert props[("value", "points")] == "0.5" and props[("public", "points")] == "0"


def test_k_selects_checks_and_x_stops_at_the_first_failure(toy_course, toy_notebook, nested):
    repo = toy_notebook.parent
    course = ["--grader-sheet", "toy", f"--grader-course={toy_course}", "toy.ipynb"]
    code, recorder, runs = nested(*course, "-k", "2 and not choice", cwd=repo)
    assert code == pytest.ExitCode.OK
    assert recorder.outcomes() == {"toy.ipynb::2::value": "passed"}
    assert len(runs) == 1

    code, recorder, runs = nested(*course, "-x", cwd=repo)
    assert code == pytest.ExitCode.TESTS_FAILED
    assert recorder.outcomes() == {"toy.ipynb::1::public": "failed"}  # stopped before the passing ones
    assert len(runs) == 2


def test_two_hand_ins_run_once_each(toy_course, tmp_path, nested):
    write_notebook(tmp_path / "a" / "toy.ipynb", TOY_CELLS)
    write_notebook(tmp_path / "b" / "toy.ipynb", ["def scale(x, factor):\n    return x * factor"])
    code, recorder, runs = nested("--grader-sheet", "toy", f"--grader-course={toy_course}", "a/toy.ipynb",
                                  "b/toy.ipynb", cwd=tmp_path)
    assert code == pytest.ExitCode.TESTS_FAILED
    assert sorted(p.parent.name for p in runs) == ["a", "b"]
    outcomes = recorder.outcomes()
    assert outcomes["a/toy.ipynb::1::public"] == "failed" and outcomes["b/toy.ipynb::1::public"] == "passed"
    assert outcomes["b/toy.ipynb::2::value"] == "failed"
    assert "`answer`" in recorder.longrepr("b/toy.ipynb::2::value")


def test_a_script_hand_in_is_never_imported_by_pytest(toy_course, tmp_path, nested):
    """A .py named on the command line would be a test module to pytest: it must run in the sandbox only."""
    script = tmp_path / "solution.py"
    script.write_text("import builtins\nbuiltins.GRADER_PLUGIN_CANARY = True\n"
                      "def scale(x, factor):\n    return x * factor\nanswer = 42\nis_it_true = True\n"
                      "def test_would_be_collected():\n    pass\n", encoding="utf-8")
    code, recorder, runs = nested("--grader-sheet", "toy", f"--grader-course={toy_course}", "solution.py",
                                  cwd=tmp_path)
    assert not hasattr(builtins, "GRADER_PLUGIN_CANARY")
    assert "solution" not in sys.modules
    assert recorder.collected == ["solution.py::1::public", "solution.py::2::value", "solution.py::2::choice",
                                  "solution.py::3::prose"]
    assert code == pytest.ExitCode.OK and len(runs) == 1
    assert recorder.outcomes()["solution.py::2::choice"] == "passed"


def test_an_unknown_sheet_is_a_collection_error_that_says_why(toy_course, toy_notebook, nested):
    code, recorder, runs = nested("--grader-sheet", "nope", f"--grader-course={toy_course}", "toy.ipynb",
                                  cwd=toy_notebook.parent)
    assert code == pytest.ExitCode.INTERRUPTED and not runs and not recorder.reports
    assert len(recorder.collect_errors) == 1
    assert recorder.collect_errors[0].startswith("grader: no rubric for 'nope'")


def test_released_rubric_in_a_subprocess_and_inert_without_the_option(toy_course, toy_notebook):
    """The student's view: a fresh process with only the released rubric; and a normal pytest run untouched."""
    repo = toy_notebook.parent
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    release = subprocess.run([sys.executable, "-m", "grader.commands.cli", "release", str(repo), "--sheet", "toy",
                              "--course", str(toy_course)], env=env, capture_output=True, text=True, timeout=300)
    assert release.returncode == 0, release.stdout + release.stderr
    (repo / "test_own.py").write_text("def test_mine():\n    assert 1 + 1 == 2\n", encoding="utf-8")
    (repo / "conftest.py").write_text(
        "import sys\n\ndef pytest_sessionfinish(session):\n"
        "    loaded = sorted(m for m in sys.modules if m == 'grader' or m.startswith('grader.'))\n"
        "    open('loaded.txt', 'w').write('\\n'.join(loaded))\n", encoding="utf-8")

    def pytest_run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=300)

    plain = pytest_run()
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "1 passed" in plain.stdout and "toy.ipynb" not in plain.stdout
    assert (repo / "loaded.txt").read_text().split() == ["grader", "grader.commands", "grader.commands.pytest_plugin"]
    assert "grader:" not in plain.stdout  # no report header either

    checked = pytest_run("--grader-sheet", "toy", "--grader-rubric", "toy.public.json", "toy.ipynb", "-rA")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    # the released rubric has no written-answer checks to run: 3 items; hidden ones are not there
    assert "1 failed, 2 passed" in checked.stdout
    assert "grader: public checks of toy from toy.public.json" in checked.stdout
    assert "FAILED toy.ipynb::1::public" in checked.stdout and "multiply by factor" in checked.stdout
    assert "toy.ipynb: public checks passed: 2/3, points 1/2" in checked.stdout

    wrong = pytest_run("--grader-sheet", "nope", "--grader-rubric", "toy.public.json", "toy.ipynb")
    assert wrong.returncode == pytest.ExitCode.INTERRUPTED
    assert "grader: toy.public.json is the rubric of 'toy', not 'nope'" in wrong.stdout
