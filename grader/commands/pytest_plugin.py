"""pytest plugin: the public checks of a sheet as pytest tests.

    pytest --grader-sheet sheet02 --grader-rubric=sheet02.public.json sheet02.ipynb

Every notebook (.ipynb) or script (.py) named on the command line becomes a file of tests, one per public
check, with node ids like `sheet02.ipynb::3c::public-check`; so `-k 3c`, `-x`, `--junitxml` and pytest's usual
reporting work. The hand-in runs once per file, in the grader's sandbox (never inside pytest's own process),
before its first selected check; each test then reports that check's verdict.

Registered by the `pytest11` entry point, so it is loaded in every pytest run of an environment where grader
is installed. Without `--grader-sheet` it does nothing: no files are collected and nothing beyond this
module is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from grader.checks.plan import CheckPlan, CheckResult
    from grader.rubric.released import PublicChecks
    from grader.commands.selfcheck import SelfCheckOutcome

HAND_IN_SUFFIXES = frozenset({".ipynb", ".py"})


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("grader", "public checks of an exercise sheet (grader)")
    group.addoption("--grader-sheet", metavar="ID", default=None,
                    help="Sheet id, e.g. sheet02: collect the .ipynb/.py files named on the command line as "
                         "that sheet's public checks.")
    group.addoption("--grader-course", metavar="DIR", default=None,
                    help="Course folder with rubrics/ (default: the current folder).")
    group.addoption("--grader-rubric", metavar="FILE", default=None,
                    help="A released rubric (<sheet>.public.json) instead of the course's rubric.")


@dataclass
class _State:
    """The session's checks, planned once, and every hand-in's outcome for the closing summary."""

    sheet: str
    course: Path
    rubric: Path | None
    _checks: PublicChecks | None = None
    outcomes: dict[Path, SelfCheckOutcome] = field(default_factory=dict)

    def checks(self) -> PublicChecks:
        if self._checks is None:
            from grader.commands.selfcheck import load_public_checks

            self._checks = load_public_checks(self.sheet, course=self.course, released=self.rubric)
        return self._checks


_STATE = pytest.StashKey[_State]()


def _state(config: pytest.Config) -> _State | None:
    return config.stash.get(_STATE, None)


def pytest_configure(config: pytest.Config) -> None:
    sheet = config.getoption("grader_sheet", None)
    if sheet is None:
        return
    course = config.getoption("grader_course", None)
    rubric = config.getoption("grader_rubric", None)
    config.stash[_STATE] = _State(sheet=sheet, course=Path(course) if course else Path("."),
                                  rubric=Path(rubric) if rubric else None)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    state = _state(config)
    if state is None:
        return None
    source = state.rubric if state.rubric is not None else state.course / "rubrics"
    return [f"grader: public checks of {state.sheet} from {source}"]


def _is_hand_in(path: Path, parent: pytest.Collector) -> bool:
    return (_state(parent.config) is not None and path.suffix.lower() in HAND_IN_SUFFIXES
            and parent.session.isinitpath(path))


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> HandInFile | None:
    # A .py hand-in named on the command line would otherwise be imported by pytest as a test module, running
    # student code inside this process; it becomes a file of checks instead.
    if _is_hand_in(module_path, parent):
        return HandInFile.from_parent(parent, path=module_path)
    return None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> HandInFile | None:
    if file_path.suffix.lower() == ".ipynb" and _is_hand_in(file_path, parent):
        return HandInFile.from_parent(parent, path=file_path)
    return None


class HandInFile(pytest.File):
    """One hand-in: a collector per question with public checks; the hand-in runs in setup(), once."""

    outcome: SelfCheckOutcome | None = None

    def collect(self):
        from grader.commands.selfcheck import SelfCheckError

        state = _state(self.config)
        assert state is not None
        try:
            checks = state.checks()
        except SelfCheckError as exc:
            raise self.CollectError(f"grader: {exc}") from None
        for question in checks.questions:
            plans = [p for p in checks.plans if p.question_id == question.id]
            if plans:
                yield QuestionChecks.from_parent(self, name=question.id, plans=plans)

    def setup(self) -> None:
        # pytest sets up a file's node before its first selected item and keeps a failure for the others,
        # so the hand-in runs at most once per file whatever -k selects.
        from grader.commands.selfcheck import run_self_check

        state = _state(self.config)
        assert state is not None
        self.outcome = run_self_check(self.path, sheet=state.sheet, checks=state.checks())
        state.outcomes[self.path] = self.outcome


class QuestionChecks(pytest.Collector):
    """The public checks of one question: `-k 3c` selects them all."""

    def __init__(self, *, plans: list[CheckPlan], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plans = plans

    def collect(self):
        for plan in self.plans:
            yield CheckItem.from_parent(self, name=plan.check.id, question_id=plan.question_id,
                                        points=plan.check.points, kind=plan.check.kind)


class CheckFailed(Exception):
    """A check's verdict: failed (or could not be run)."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.message)
        self.result = result


class CheckItem(pytest.Item):
    def __init__(self, *, question_id: str, points: float, kind: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.question_id = question_id
        self.max_points = points
        self.kind = kind

    def runtest(self) -> None:
        hand_in = self.getparent(HandInFile)
        assert hand_in is not None and hand_in.outcome is not None
        result = next((c for c in hand_in.outcome.grade.checks
                       if c.question_id == self.question_id and c.check_id == self.name), None)
        if result is None:
            raise CheckFailed(_missing(self.question_id, self.name))
        # --junitxml writes these as the test case's properties
        self.user_properties += [("points", f"{result.points:g}"), ("max_points", f"{result.max_points:g}"),
                                 ("kind", result.kind)]
        if result.status == "passed":
            return
        if result.status == "pending":
            pytest.skip(f"scored by a tutor ({result.max_points:g} points)")
        if result.status not in ("failed", "error"):
            pytest.skip(result.message or result.status)
        raise CheckFailed(result)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CheckFailed):
            result = excinfo.value.result
            # pytest's short summary shows the first line: the message's own first line and the points
            lines = result.message.strip().splitlines() or [result.status]
            head = f"{lines[0]} ({result.points:g}/{result.max_points:g} points)"
            return "\n".join([head, *lines[1:], *(f"hint: {hint}" for hint in result.hints)])
        from grader.commands.selfcheck import SelfCheckError

        if isinstance(excinfo.value, SelfCheckError):  # raised while the hand-in was set up (run)
            return f"grader: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"{self.question_id}::{self.name} ({self.kind}, {self.max_points:g} points)"


def _missing(question_id: str, check_id: str) -> CheckResult:
    from grader.checks.plan import CheckResult

    return CheckResult(question_id=question_id, check_id=check_id, kind="", visibility="public", points=0,
                       max_points=0, status="error", message="the grader returned no verdict for this check")


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    state = _state(config)
    if state is None or not state.outcomes:
        return
    terminalreporter.section("grader")
    for path, outcome in state.outcomes.items():
        terminalreporter.write_line(f"{path.name}: {outcome.points_line()}")
        for _, line in outcome.after_checks():
            terminalreporter.write_line(f"  {line}")
