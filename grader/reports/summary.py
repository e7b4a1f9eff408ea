"""summary.html: what a tutor needs at a glance. Hand-ins that need a human (flags, errors, nearly all automatic
points lost to one early error, the unmodified template) come first, then the pairs of similar hand-ins
(grader/similarity), the totals histogram, a sortable per-question table (grader/reports/question_stats.py), each
question's pass rate (matplotlib PNGs embedded as base64), what students got wrong (registered mistakes and
common failing cases, also in mistakes.csv), then all hand-ins with links to their feedback.

A question's pass rate is the share of graded hand-ins that passed all of its automatic checks; questions
graded only by tutors have none and are left out.
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from grader.store.gradebook import SimilarityState, StoredResult
from grader.reports.document import page
from grader.reports.page_assets import link_page_assets
from grader.reports.question_stats import MistakeRow, QuestionRow, attention_reasons, mistake_rows, question_table
from grader.rubric.models import Rubric
from grader.reports.similarity_section import summary_section


def needs_attention(result: StoredResult) -> bool:
    return bool(result.record.flags or result.record.error or result.record.status != "done"
                or attention_reasons(result))


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
                  notes: list[str] | None = None, similarity: SimilarityState | None = None,
                  mistakes_csv: str | None = None) -> Path:
    """mistakes_csv: the name of the mistakes CSV beside the page, linked from its section (None: no link)."""
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
        body.append("<h2 id=\"questions\">Per question</h2>")
        body.append("<p>Points per question (automatic and tutors' points so far). A hand-in with part of the "
                    "question still waiting for a tutor is counted under <i>waiting</i> only, and the mean is over "
                    "the others. Click a column's heading to sort by it.</p>")
        body.append(_question_table(question_table(results, rubric)))
        rates = pass_rates(results, rubric)
        if rates:
            body.append("<h2>Pass rate per question (automatic checks)</h2>")
            body.append(_image(_rates_chart(rates), "share of hand-ins passing each question's automatic checks"))
        body.extend(_mistakes_section(mistake_rows(results, rubric), mistakes_csv))
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
        flags = "<br>".join(f"<b>{html.escape(code)}</b>: {html.escape(message)}" for code, message in
                            [*((f.code, f.message) for f in record.flags), *attention_reasons(result)])
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
    """One bar per step of points (half a point, or coarser for sheets of over 30 points), each narrower than
    its step: two adjacent totals (17.5 and 18) are two bars with a gap, never one wide block."""
    figure = Figure(figsize=(6, 3), dpi=100)
    axes = figure.add_subplot()
    top = max(maximum, max(totals, default=0)) or 1
    step = next(s for s in (0.5, 1, 2, 5, 10, 20, 50, 100, float("inf")) if top / s <= 60)
    counts = Counter(round(round(total / step) * step, 6) for total in totals)
    axes.bar(list(counts), list(counts.values()), width=0.7 * step, color="#4477aa", align="center")
    axes.set_xlim(-step, top + step)
    axes.set_xlabel("total points so far")
    axes.set_ylabel("hand-ins")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=12))
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


def _question_table(rows: list[QuestionRow]) -> str:
    """The per-question table, sortable in the browser by sort-table.js (a file in the page assets: the CSP allows
    no inline script). Each cell carries its sort key; the page reads fine without the script."""
    head = "".join(f"<th data-sort=\"{kind}\">{name}</th>" for name, kind in (
        ("question", "order"), ("max", "number"), ("mean", "number"), ("full", "number"), ("partial", "number"),
        ("zero", "number"), ("waiting", "number")))
    body = []
    for order, row in enumerate(rows):
        title = f"{row.question_id} {row.title}" + (" (bonus)" if row.bonus else "")
        mean = "–" if row.mean is None else f"{row.mean:g}"
        cells = [(order, html.escape(title)), (row.max_points, f"{row.max_points:g}"),
                 (-1 if row.mean is None else row.mean, mean), (row.full, row.full), (row.partial, row.partial),
                 (row.zero, row.zero), (row.pending, row.pending)]
        body.append("<tr>" + "".join(f"<td data-value=\"{value}\">{shown}</td>" for value, shown in cells) + "</tr>")
    return (f"<table class=\"sortable\" id=\"question-table\"><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def _mistakes_section(rows: list[MistakeRow], csv_name: str | None) -> list[str]:
    """Per question, how often each registered mistake's hint fired and the failing cases most hand-ins share."""
    if not rows:
        return []
    link = f" (also as <a href=\"{quote(csv_name)}\">{html.escape(csv_name)}</a>)" if csv_name else ""
    parts = ["<h2 id=\"mistakes\">What students got wrong</h2>",
             f"<p>Per check: how many hand-ins made each registered mistake (its hint fired), and the cases that "
             f"failed in most hand-ins{link}. Shares are of the hand-ins in which the check ran.</p>",
             "<table class=\"sortable\" id=\"mistake-table\"><thead><tr><th data-sort=\"order\">question</th>"
             "<th data-sort=\"text\">check</th><th data-sort=\"text\">what</th><th data-sort=\"number\">hand-ins"
             "</th><th data-sort=\"number\">share</th></tr></thead><tbody>"]
    for order, row in enumerate(rows):
        what = (f"mistake <code>{html.escape(row.what)}</code>: {html.escape(row.detail)}" if row.kind == "mistake"
                else f"failing case <i>{html.escape(row.what)}</i>")
        parts.append(f"<tr><td data-value=\"{order}\">{html.escape(row.question_id)}</td>"
                     f"<td data-value=\"{html.escape(row.check_id)}\">{html.escape(row.check_id)}</td>"
                     f"<td data-value=\"{html.escape(row.kind)}\">{what}</td>"
                     f"<td data-value=\"{row.hand_ins}\">{row.hand_ins} of {row.graded}</td>"
                     f"<td data-value=\"{row.share:.4f}\">{100 * row.share:.0f} %</td></tr>")
    parts.append("</tbody></table>")
    return parts


def _image(figure: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<img alt=\"{html.escape(alt)}\" src=\"data:image/png;base64,{encoded}\">"
