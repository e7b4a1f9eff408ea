"""JUnit XML for graded hand-ins, so any CI (GitHub, GitLab, Jenkins) shows the checks as its own tests.

One <testsuite> per hand-in, one <testcase> per check: classname = question id, name = check id. A failed
check is a <failure> (its message and hints), a check that could not run an <error>, a check left to a tutor
<skipped>. Points go into <properties>.

Messages come from student code (printed values, exception text), so every string is cleaned of what XML 1.0
cannot hold (control characters, lone surrogates) before it is written.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from grader.checks.plan import CheckResult
from grader.scoring.sheet import SubmissionGrade

# Characters XML 1.0 forbids: C0 controls except tab, newline and carriage return; lone surrogates; U+FFFE/F.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Failure/error messages in attributes: CI tables show one line; the element's text keeps everything.
_SUMMARY_CHARS = 300


def xml_text(text: object) -> str:
    """`text` as a string XML can hold: forbidden characters become visible escapes like \\x1b."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", str(text))


def write_junit(grade: SubmissionGrade, path: Path, *, suite_name: str) -> Path:
    """One hand-in's checks as a JUnit XML file with one test suite."""
    return _write(_suites([_suite(suite_name, grade)], name=suite_name), Path(path))


def write_junit_many(grades: Sequence[tuple[str, SubmissionGrade]], path: Path, *, name: str = "grader") -> Path:
    """Several hand-ins in one JUnit XML file: one test suite per (name, grade), in the order given."""
    return _write(_suites([_suite(suite_name, grade) for suite_name, grade in grades], name=name), Path(path))


def _suites(suites: list[ET.Element], *, name: str) -> ET.Element:
    root = ET.Element("testsuites", {"name": xml_text(name)})
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in suites)))
    root.set("time", f"{sum(float(s.get('time', '0')) for s in suites):.3f}")
    root.extend(suites)
    return root


def _suite(name: str, grade: SubmissionGrade) -> ET.Element:
    checks = grade.checks
    seconds = grade.run.wall_seconds if grade.run is not None else 0.0
    suite = ET.Element("testsuite", {
        "name": xml_text(name),
        "tests": str(len(checks)),
        "failures": str(sum(c.status == "failed" for c in checks)),
        "errors": str(sum(c.status == "error" for c in checks)),
        "skipped": str(sum(c.status not in ("passed", "failed", "error") for c in checks)),
        # The notebook runs once for all checks: the suite carries the time, the cases none of their own.
        "time": f"{seconds:.3f}",
    })
    properties = ET.SubElement(suite, "properties")
    bonus = [c for q in grade.questions if q.bonus for c in q.checks]
    # max_points is the sheet's maximum without bonus questions (as `grader check` and the gradebook show it);
    # points include bonus points, which come on top.
    for key, value in (("sheet", grade.sheet), ("source", Path(grade.source).name),
                       ("points", f"{grade.auto_points:g}"), ("max_points", f"{grade.max_points:g}"),
                       ("bonus_points", f"{sum(c.points for c in bonus):g}"),
                       ("bonus_max_points", f"{sum(c.max_points for c in bonus):g}"),
                       ("pending_manual_points", f"{grade.pending_manual:g}")):
        ET.SubElement(properties, "property", {"name": key, "value": xml_text(value)})
    if grade.error:
        ET.SubElement(properties, "property", {"name": "error", "value": xml_text(grade.error)})
    for check in checks:
        suite.append(_case(check))
    if grade.failed_cells:
        # Why checks failed is often a cell that raised: CI shows system-err beside the suite.
        err = ET.SubElement(suite, "system-err")
        err.text = xml_text("\n\n".join(f"cell {cell.label} {cell.status}:\n{cell.error or ''}".rstrip()
                                        for cell in grade.failed_cells))
    return suite


def _case(check: CheckResult) -> ET.Element:
    case = ET.Element("testcase", {"classname": xml_text(check.question_id), "name": xml_text(check.check_id),
                                   "time": "0"})
    properties = ET.SubElement(case, "properties")
    for key, value in (("points", f"{check.points:g}"), ("max_points", f"{check.max_points:g}"),
                       ("kind", check.kind), ("visibility", check.visibility)):
        ET.SubElement(properties, "property", {"name": key, "value": xml_text(value)})
    full = check.message + "".join(f"\nhint: {hint}" for hint in check.hints)
    if check.status in ("failed", "error"):
        first = check.message.strip().split("\n")[0] or check.status  # split("\n"): a form feed is no line end here
        tag = "failure" if check.status == "failed" else "error"
        element = ET.SubElement(case, tag, {"message": xml_text(first[:_SUMMARY_CHARS]), "type": check.status})
        element.text = xml_text(full)
    elif check.status == "pending":
        ET.SubElement(case, "skipped", {"message": f"scored by a tutor ({check.max_points:g} points)"})
    elif check.status != "passed":
        ET.SubElement(case, "skipped", {"message": xml_text(check.message or check.status)})
    elif check.description or check.message:
        out = ET.SubElement(case, "system-out")
        out.text = xml_text(f"{check.description}\n{check.message}".strip())
    return case


def _write(root: ET.Element, path: Path) -> Path:
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    # ElementTree escapes &, <, > and quotes; xml_text above removed what no escaping can represent.
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path
