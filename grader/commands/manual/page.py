"""The tutors' HTML page: the export's rows, readable, one section per question and tutor check.

Each section starts with the question, the model answer and its key points; then the answers, alike ones
shown once with every hand-in that gave them ("same answer in ..."), with the hint as a suggestion only.
Everything from hand-ins is escaped and shown as typed. The course's text (question, model answer, key
points) is marked class="math": its LaTeX is typeset by KaTeX in the browser, from the assets copied beside
the page (grader.reports.page_assets); the page's only scripts are those files, and it loads nothing else.
"""

from __future__ import annotations

import html
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING

from grader.commands.manual.questions import ManualItem
from grader.reports.document import page
from grader.reports.page_assets import link_page_assets

if TYPE_CHECKING:
    from grader.commands.manual.export import TutorRow

_STYLE = ("<style>.answer{border:1px solid #ccc;border-radius:4px;padding:.5em 1em;margin:1em 0}"
          ".answer.flagged{border-color:#d77;background:#fff6f4}.hint{color:#345}.same{font-weight:bold}"
          ".muted{color:#666}blockquote{white-space:pre-wrap;margin:.5em 0;padding:.5em;background:#f7f7f7}"
          "</style>")


def write_tutor_page(rows: list[TutorRow], items: list[ManualItem], path: Path, *, title: str,
                     csv_name: str) -> Path:
    body = [_STYLE, f"<h1>{_e(title)}</h1>",
            (f"<p>Enter points and comments in <code>{_e(csv_name)}</code>, then run "
             f"<code>grader manual import {_e(csv_name)}</code>. The hints are suggestions from the model "
             "answer's key points, never a score.</p>")]
    by_item = {key: list(group) for key, group in groupby(rows, key=lambda r: (r.item.question_id, r.item.check_id))}
    body.append("<ul class=\"math\">" + "".join(
        f"<li><a href=\"#{_anchor(i)}\">{_e(i.question_id)} {_e(i.title)}: {_e(i.check_id)}</a> "
        f"({len(by_item.get((i.question_id, i.check_id), []))} answers)</li>" for i in items) + "</ul>")
    for item in items:
        body.extend(_section(item, by_item.get((item.question_id, item.check_id), [])))
    text = page(title, "\n".join(body), assets=link_page_assets(path))
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return path


def _section(item: ManualItem, rows: list[TutorRow]) -> list[str]:
    parts = [(f"<h2 id=\"{_anchor(item)}\" class=\"math\">{_e(item.question_id)} {_e(item.title)}: {_e(item.check_id)} "
              f"({item.max_points:g} points)</h2>")]
    if item.description:
        parts.append(f"<p class=\"math\">{_e(item.description)}</p>")
    model = item.model
    if model is not None:
        parts.append(f"<p class=\"math\"><em>{_e(' '.join(model.question.split()))}</em></p>")
        limits = []
        if model.word_limit:
            limits.append(f"at most {model.word_limit} words")
        if model.sentence_limit:
            limits.append(f"at most {model.sentence_limit} sentences")
        if limits:
            limits[-1] += " (from the sheet)" if model.limit_from_sheet else " (set by the course)"
        if model.cite_required:
            limits.append("a source must be cited")
        points = "".join(f"<li><code>{_e(p.id)}</code>: {_e(p.summary)}</li>" for p in model.key_points)
        parts.append("<details><summary>Model answer and key points</summary>"
                     f"<blockquote class=\"math\">{_e(model.model_answer)}</blockquote>"
                     + (f"<p>{_e('; '.join(limits))}</p>" if limits else "")
                     + (f"<p class=\"math\">Note: {_e(model.note)}</p>" if model.note else "")
                     + f"<ul class=\"math\">{points}</ul></details>")
    else:
        parts.append("<p class=\"muted\">No model answer for this question: no hints.</p>")
    if not rows:
        parts.append("<p class=\"muted\">No hand-in waits for this check.</p>")
    index = 0
    while index < len(rows):
        group = rows[index].similar_group
        end = index + 1
        while group and end < len(rows) and rows[end].similar_group == group:
            end += 1
        parts.append(_answer_box(rows[index:end]))
        index = end
    return parts


def _answer_box(rows: list[TutorRow]) -> str:
    first = rows[0]
    flagged = any(row.answer.needs_human for row in rows)
    parts = [f"<div class=\"answer{' flagged' if flagged else ''}\">"]
    if len(rows) > 1:
        parts.append(f"<p class=\"same\">Same answer in {len(rows)} hand-ins (group {_e(first.similar_group)}): "
                     "score them alike, and look for copying.</p>")
    if first.answer.found:
        parts.append(f"<blockquote>{_e(first.answer.text)}</blockquote>")
    else:
        parts.append("<p><strong>No answer found.</strong></p>")
    if first.hint is not None:
        parts.append(f"<p class=\"hint\">Suggestion: {_e(first.hint.summary)}</p>")
    parts.append("<ul>")
    for row in rows:
        parts.append(f"<li>{_member(row)}</li>")
    parts.append("</ul></div>")
    return "".join(parts)


def _member(row: TutorRow) -> str:
    answer = row.answer
    bits = [f"<strong>{_e(row.hand_in)}</strong>"]
    if row.students:
        bits.append(_e(row.students))
    if row.same_answer_as:
        bits.append(f"same answer as {_e(row.same_answer_as)}")
    if answer.source:
        bits.append(f"found at {_e(answer.source)}")
    text = " · ".join(bits)
    if answer.needs_human:
        text += "<br><strong>Needs a human:</strong> " + _e("; ".join(answer.reasons) or "see the hand-in")
    elif answer.reasons:
        text += f"<br><span class=\"muted\">{_e('; '.join(answer.reasons))}</span>"
    if answer.margin_notes:
        text += "<br>Margin notes:<blockquote>" + _e("\n---\n".join(answer.margin_notes)) + "</blockquote>"
    if row.automatic:
        text += f"<br><span class=\"muted\">Automatic checks: {_e(row.automatic)}</span>"
    current = row.current
    if current is not None:
        comment = f", “{_e(current[1])}”" if current[1] else ""
        stored = row.stored
        who = f" by {_e(stored.tutor)}, {stored.entered_at:%Y-%m-%d %H:%M} UTC" if stored is not None else ""
        text += f"<br>Scored: {current[0]:g} of {row.item.max_points:g}{comment}{who}"
    else:
        text += f"<br>Points: ____ of {row.item.max_points:g}"
    return text


def _anchor(item: ManualItem) -> str:
    return "q-" + "".join(ch if ch.isalnum() else "-" for ch in f"{item.question_id}-{item.check_id}")


def _e(text: str) -> str:
    return html.escape(text)
