"""summary.html: what a tutor needs at a glance. Hand-ins that need a human (flags, errors) come first,
then the pairs of similar hand-ins (grader/similarity), the totals histogram and each question's pass rate
(matplotlib PNGs embedded as base64), then all hand-ins with links to their feedback.

A question's pass rate is the share of graded hand-ins that passed all of its automatic checks; questions
graded only by tutors have none and are left out.
"""

from __future__ import annotations

import base64
import html
import io
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from grader.store.gradebook import SimilarityState, StoredResult
from grader.reports.document import page
from grader.reports.page_assets import link_page_assets
from grader.rubric.models import Rubric
from grader.reports.similarity_section import summary_section


def needs_attention(result: StoredResult) -> bool:
    return bool(result.record.flags or result.record.error or result.record.status != "done")


def pass_rates(results: list[StoredResult], rubric: Rubric) -> dict[str, float]:
    """Question id -> share of hand-ins (graded without error) that passed all the question's automatic checks."""
    graded = [r for r in results if r.record.status == "done" and not r.record.error]
    rates: dict[str, float] = {}
    for question in rubric.questions:
        outcomes = []
        for result in graded:
            score = next((q for q in result.record.questions if q.question_id == question.id), None)
            auto = [c for c in score.checks if c.status != "pending"] if score else []
            if auto:
                outcomes.append(all(c.passed for c in auto))
        if outcomes:
            rates[question.id] = sum(outcomes) / len(outcomes)
    return rates


def write_summary(results: list[StoredResult], rubric: Rubric, path: Path, *, now: datetime,
                  notes: list[str] | None = None, similarity: SimilarityState | None = None) -> Path:
    ordered = sorted(results, key=lambda r: (not needs_attention(r), r.record.file_name))
    flagged = [r for r in ordered if needs_attention(r)]
    body = [f"<h1 class=\"math\">{html.escape(rubric.title)}: batch summary</h1>",
            f"<p>{len(results)} hand-ins, {len(flagged)} need a human. Maximum {rubric.max_points:g} points"
            f"{f' plus {rubric.bonus_points:g} bonus' if rubric.bonus_points else ''}. "
            f"Written {html.escape(now.strftime('%Y-%m-%d %H:%M %Z'))}.</p>"]
    unsandboxed = sorted({r.record.sandbox for r in results if r.record.protections_off})
    if unsandboxed:
        body.append(f"<p class=\"bad\">Some hand-ins were run without bubblewrap ({html.escape(', '.join(unsandboxed))}"
                    " sandbox): their results say so.</p>")
    unknown = [r for r in results if r.record.time_source == "unknown"]
    if unknown:
        body.append(f"<p class=\"bad\">The hand-in time of {len(unknown)} of {len(results)} hand-ins is unknown "
                    "(no row in a CMS manifest): no late penalty was applied to them. Grade again with the manifest "
                    "(<code>--manifest</code>; no code is run again), or with <code>--times mtime</code> to take "
                    "the files' modification dates.</p>")
    for note in notes or []:
        body.append(f"<p class=\"bad\">{html.escape(note)}</p>")
    body.append("<h2>Needs a human</h2>")
    body.append(_table(flagged) if flagged else "<p>Nothing flagged.</p>")
    body.extend(summary_section(similarity))
    if results:
        body.append("<h2>Totals</h2>")
        waiting = [r for r in results if r.manual_pending]
        if waiting:
            body.append(f"<p>{len(waiting)} of {len(results)} hand-ins still have points waiting for a tutor (up to "
                        f"{max(r.manual_pending for r in waiting):g}); the totals below are the points so far and "
                        f"count those parts as not graded yet, not as lost.</p>")
        body.append(_image(_histogram([r.total for r in results], rubric.max_points + rubric.bonus_points),
                           "histogram of the hand-ins' total points"))
        rates = pass_rates(results, rubric)
        if rates:
            body.append("<h2>Pass rate per question (automatic checks)</h2>")
            body.append(_image(_rates_chart(rates), "share of hand-ins passing each question's automatic checks"))
    body.append("<h2>All hand-ins</h2>")
    body.append(_table(ordered) if ordered else "<p>No hand-ins.</p>")
    path.write_text(page(f"{rubric.title}: summary", "\n".join(body), assets=link_page_assets(path)),
                    encoding="utf-8")
    return path


def _table(results: list[StoredResult]) -> str:
    head = "<tr><th>hand-in</th><th>students</th><th>points so far</th><th>auto</th><th>waiting for a tutor</th>" \
           "<th>late</th><th>flags</th><th>error</th></tr>"
    rows = []
    for result in results:
        record = result.record
        link = f"{quote(record.folder)}/feedback.html"
        students = ", ".join(s.name or s.student_id or "?" for s in record.students)
        flags = "<br>".join(f"<b>{html.escape(f.code)}</b>: {html.escape(f.message)}" for f in record.flags)
        late = f"×{record.late_factor:g}" if record.late else ("unknown" if record.time_source == "unknown" else "")
        css = ' class="flagged"' if needs_attention(result) else ""
        rows.append(f"<tr{css}><td><a href=\"{html.escape(link)}\">{html.escape(record.file_name)}</a></td>"
                    f"<td>{html.escape(students)}</td><td>{result.total:g}</td><td>{record.auto_points:g}</td>"
                    f"<td>{_waiting(result)}</td><td>{late}</td><td>{flags}</td>"
                    f"<td>{html.escape(record.error or '')}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _waiting(result: StoredResult) -> str:
    """Pending tutor points as what they are, never as a zero: "10.5 (1a, 1c, …)" or empty."""
    if not result.manual_pending:
        return ""
    questions = [q.question_id for q in result.record.questions if result.question_pending(q)]
    shown = ", ".join(questions[:6]) + (", …" if len(questions) > 6 else "")
    return html.escape(f"{result.manual_pending:g} ({shown})")


def _histogram(totals: list[float], maximum: float) -> Figure:
    figure = Figure(figsize=(6, 3), dpi=100)
    axes = figure.add_subplot()
    bins = max(1, min(20, int(maximum * 2) or 1))
    axes.hist(totals, bins=bins, range=(0, max(maximum, max(totals, default=0)) or 1), color="#4477aa")
    axes.set_xlabel("total points so far")
    axes.set_ylabel("hand-ins")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    return figure


def _rates_chart(rates: dict[str, float]) -> Figure:
    figure = Figure(figsize=(6, 3), dpi=100)
    axes = figure.add_subplot()
    axes.bar(list(rates), [100 * v for v in rates.values()], color="#228833")
    axes.set_ylim(0, 100)
    axes.set_ylabel("% passed")
    axes.set_xlabel("question")
    figure.tight_layout()
    return figure


def _image(figure: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<img alt=\"{html.escape(alt)}\" src=\"data:image/png;base64,{encoded}\">"
