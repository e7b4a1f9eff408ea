"""OUT/similarity.html and OUT/similarity.csv: the similarity report for tutors.

The page lists the flagged pairs, highest first, then for each one the matching code side by side and the
matching words of the written answers marked, then the pairs just below the threshold (so the gap shows), what
was discounted, and what could not be read. Everything that comes from a hand-in (file names, code, answers,
notes) is escaped: the page has no scripts and loads nothing.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from grader.store.gradebook import Clearance
from grader.reports.document import page
from grader.reports.similarity_section import pair_anchor, questions_text
from grader.commands.similarity.inputs import HandInText
from grader.commands.similarity.report import AnswerMatch, CodeRegion, PairReport, PartMatch, SimilarityReport
from grader.text.safe import printable, spreadsheet_inert

CSV_COLUMNS = ["hand_in_a", "hand_in_b", "score", "flagged", "code_score", "code_share_a", "code_share_b",
               "solution_share_a", "solution_share_b", "prose_score", "prose_share_a", "prose_share_b", "questions",
               "cleared_by", "cleared_comment"]
MAX_DETAILED = 100  # flagged pairs shown in full; the rest are in the table and the CSV
MAX_BELOW = 20  # pairs below the threshold listed for comparison
MAX_LINES = 60  # lines of one code region shown
MAX_ANSWER_CHARS = 6_000  # characters of one answer shown

_STYLE = ("table.side{width:100%;table-layout:fixed}table.side td{width:50%}table.pairs{font-size:.85em}"
          "pre{margin:0;font-size:.85em}mark{background:#ffe58a}.muted{color:#666}.cleared{background:#eef7ee}"
          "td.num{text-align:right;white-space:nowrap}")


Clearances = Mapping[tuple[str, str], Clearance]  # by (file_a, file_b) sorted


def write_similarity_csv(report: SimilarityReport, path: Path, clearances: Clearances) -> Path:
    """One row per listed pair (flagged or not), highest first; UTF-8 with a BOM, formula-safe cells."""
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for pair in report.pairs:
            clearance = _clearance(pair, clearances)
            row = {"hand_in_a": pair.a, "hand_in_b": pair.b, "score": f"{pair.score:.3f}",
                   "flagged": "yes" if pair.flagged and clearance is None else "no",
                   "code_score": f"{pair.code_score:.3f}", "code_share_a": f"{pair.code.share_a:.3f}",
                   "code_share_b": f"{pair.code.share_b:.3f}", "solution_share_a": f"{pair.solution_code.share_a:.3f}",
                   "solution_share_b": f"{pair.solution_code.share_b:.3f}", "prose_score": f"{pair.prose_score:.3f}",
                   "prose_share_a": f"{pair.prose.share_a:.3f}", "prose_share_b": f"{pair.prose.share_b:.3f}",
                   "questions": " ".join(pair.questions),
                   "cleared_by": clearance.tutor if clearance else "", "cleared_comment": clearance.comment
                   if clearance else ""}
            writer.writerow({key: spreadsheet_inert(printable(value)) for key, value in row.items()})
    temporary.replace(path)
    return path


def write_similarity_page(report: SimilarityReport, texts: Mapping[str, HandInText], path: Path, *, title: str,
                          clearances: Clearances, now: datetime, out_hint: str = "OUT") -> Path:
    flagged = report.flagged
    cleared = [p for p in flagged if _clearance(p, clearances)]
    body = [f"<style>{_STYLE}</style>", f"<h1>{_e(title)}: similar hand-ins</h1>",
            f"<p>{len(report.hand_ins)} hand-ins; {report.candidate_pairs} of {report.all_pairs} pairs share "
            "something beyond the shared material and were compared in full. "
            f"<b>{len(flagged) - len(cleared)} pairs flagged</b> (score at least {report.settings.threshold:g})"
            f"{f', {len(cleared)} cleared by a tutor' if cleared else ''}. "
            f"Made {_e(now.strftime('%Y-%m-%d %H:%M %Z'))} in {report.seconds:.1f} s.</p>",
            "<p class=\"muted\">A flag is a reason to look, never a verdict: it changes no grade, and students "
            "do not see it. The score of a pair is the larger share of one hand-in's own code, of its code "
            "that answers the questions, or of its written answers that matches the other's (damped while only "
            "a little matches), or of its best single answer. After looking, clear a pair with "
            f"<code>grader similarity {_e(out_hint)} --clear A B --comment \"why\"</code>: it stays cleared in "
            "later reports while both hand-ins are unchanged.</p>"]
    body.extend(_discounted(report))
    groups = _groups([p for p in flagged if not _clearance(p, clearances)])
    if groups:
        body.append("<h2>Groups</h2><p>Hand-ins connected by flagged pairs:</p><ul>")
        body.extend(f"<li>{', '.join(_e(name) for name in group)}</li>" for group in groups)
        body.append("</ul>")
    body.append("<h2>Flagged pairs</h2>")
    if flagged:
        body.append(_pair_table(flagged, clearances, link=True))
        for pair in flagged[:MAX_DETAILED]:
            body.extend(_pair_details(pair, texts, _clearance(pair, clearances)))
        if len(flagged) > MAX_DETAILED:
            body.append(f"<p>The other {len(flagged) - MAX_DETAILED} flagged pairs are in the table above and in "
                        "similarity.csv.</p>")
    else:
        body.append("<p>No pair reaches the threshold.</p>")
    below = [p for p in report.pairs if not p.flagged][:MAX_BELOW]
    body.append("<h2>Highest pairs below the threshold</h2>")
    body.append(_pair_table(below, clearances, link=False) if below
                else f"<p>No other pair scores {report.settings.listed_from:g} or more.</p>")
    if report.notes:
        body.append("<h2>What could not be compared</h2><ul>")
        for name, notes in sorted(report.notes.items()):
            body.append(f"<li><b>{_e(name)}</b>: {'; '.join(_e(n) for n in notes)}</li>")
        body.append("</ul>")
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(page(f"{title}: similar hand-ins", "\n".join(body)), encoding="utf-8")
    temporary.replace(path)
    return path


def _discounted(report: SimilarityReport) -> list[str]:
    d, s = report.discounted, report.settings
    items = [f"{_e(source)}" for source in d.sources]
    if d.template_code_tokens or d.template_words:
        items.append(f"in all: {d.template_code_tokens} tokens of template code and {d.template_words} words of "
                     "template and task text; any passage of a hand-in that they contain is not its own")
    if d.names:
        items.append("the names every solution must use (the rubric's checks call or read them): "
                     + ", ".join(f"<code>{_e(n)}</code>" for n in d.names)
                     + "; code compares every name as a placeholder anyway, and answers lose them")
    items.append(f"passages found in more than {d.common_limit} hand-ins: {d.common_code_passages} of code, "
                 f"{d.common_prose_passages} of written answers (everybody's, like MOSS's -m)")
    items.append(f"matches shorter than {s.code_min_run} own tokens of code or {s.prose_min_run} content words "
                 "of an answer: independent solutions of a short function look alike; a part's score is damped "
                 f"while less than {s.code_evidence} tokens of code or {s.prose_evidence} words of an answer "
                 "match")
    items.append("comments, docstrings, formatting and the order of functions and cells; names, numbers and "
                 "strings are compared as placeholders; stop words, case, umlauts and inflections in answers")
    return ["<h2>What was not counted</h2><ul>", *(f"<li>{item}</li>" for item in items), "</ul>"]


def _groups(pairs: list[PairReport]) -> list[list[str]]:
    """Connected hand-ins of three or more (pairs are listed anyway)."""
    parent: dict[str, str] = {}

    def root(name: str) -> str:
        parent.setdefault(name, name)
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for pair in pairs:
        parent[root(pair.a)] = root(pair.b)
    groups: dict[str, list[str]] = {}
    for name in parent:
        groups.setdefault(root(name), []).append(name)
    return sorted((sorted(g) for g in groups.values() if len(g) > 2), key=lambda g: (-len(g), g))


def _pair_table(pairs: list[PairReport], clearances: Clearances, *, link: bool) -> str:
    head = ("<tr><th>#</th><th>hand-in A</th><th>hand-in B</th><th>score</th><th>code (A / B)</th>"
            "<th>written answers (A / B)</th><th>questions</th><th>status</th></tr>")
    rows = []
    for number, pair in enumerate(pairs, start=1):
        clearance = _clearance(pair, clearances)
        name = f"<a href=\"#{pair_anchor(pair.a, pair.b)}\">{number}</a>" if link and number <= MAX_DETAILED \
            else str(number)
        css = ' class="cleared"' if clearance else ""
        rows.append(f"<tr{css}><td>{name}</td><td>{_e(pair.a)}</td><td>{_e(pair.b)}</td>"
                    f"<td class=\"num\">{pair.score:.2f}</td><td class=\"num\">{_part(pair.code, pair.code_score)}</td>"
                    f"<td class=\"num\">{_part(pair.prose, pair.prose_score)}</td>"
                    f"<td>{_e(questions_text(pair.questions))}</td>"
                    f"<td>{_status(pair, clearance)}</td></tr>")
    return f"<table class=\"pairs\">{head}{''.join(rows)}</table>"


def _part(part: PartMatch, score: float) -> str:
    if not part.matched_a and not part.matched_b:
        return "–"
    return f"{score:.2f} ({part.share_a:.0%} / {part.share_b:.0%})"


def _status(pair: PairReport, clearance: Clearance | None) -> str:
    if clearance is not None:
        said = f": {_e(clearance.comment)}" if clearance.comment else ""
        return f"cleared by {_e(clearance.tutor)} on {clearance.entered_at:%Y-%m-%d}{said}"
    return "flagged" if pair.flagged else "below the threshold"


def _pair_details(pair: PairReport, texts: Mapping[str, HandInText], clearance: Clearance | None) -> list[str]:
    a, b = texts.get(pair.a), texts.get(pair.b)
    out = [f"<h3 id=\"{pair_anchor(pair.a, pair.b)}\">{_e(pair.a)} ↔ {_e(pair.b)}: {pair.score:.2f}</h3>",
           f"<p>{_share_sentence('code', pair.code, 'tokens')} {_solution_sentence(pair.solution_code)}"
           f"{_share_sentence('written answers', pair.prose, 'words')} "
           f"Questions: {_e(', '.join(pair.questions)) or '–'}. Status: {_status(pair, clearance)}.</p>"]
    if pair.code_regions and a is not None and b is not None:
        out.append("<h4>Matching code</h4><table class=\"side\">")
        for region in pair.code_regions:
            out.append(_code_rows(region, a, b))
        out.append("</table>")
        if pair.regions_left_out:
            out.append(f"<p class=\"muted\">{pair.regions_left_out} shorter matching passages not shown.</p>")
    if pair.answers and a is not None and b is not None:
        out.append("<h4>Matching written answers</h4><table class=\"side\">")
        for match in pair.answers:
            out.append(_answer_rows(match, a, b))
        out.append("</table>")
    return out


def _share_sentence(what: str, part: PartMatch, unit: str) -> str:
    if not part.matched_a and not part.matched_b:
        return f"No {what} match."
    return (f"{what.capitalize()}: {part.share_a:.0%} of A's own {what} and {part.share_b:.0%} of B's match "
            f"({part.matched_a} and {part.matched_b} {unit}; score {part.score:.2f}).")


def _solution_sentence(part: PartMatch) -> str:
    if not part.matched_a and not part.matched_b:
        return ""
    return (f"Of the code that answers the questions (the functions and variables the rubric checks), "
            f"{part.share_a:.0%} of A's and {part.share_b:.0%} of B's match. ")


def _code_rows(region: CodeRegion, a: HandInText, b: HandInText) -> str:
    question = f" ({_e(region.question)})" if region.question else ""
    cells = []
    for text, unit, first, last in ((a, region.unit_a, region.first_a, region.last_a),
                                    (b, region.unit_b, region.first_b, region.last_b)):
        code = text.code[unit] if 0 <= unit < len(text.code) else None
        if code is None:
            cells.append(("?", ""))
            continue
        lines = code.text.splitlines()[first - 1:last]
        shown = lines[:MAX_LINES]
        more = f"\n… {len(lines) - len(shown)} more lines" if len(lines) > len(shown) else ""
        where = f"{code.label}, line {first}" if first == last else f"{code.label}, lines {first}–{last}"
        cells.append((where, "\n".join(shown) + more))
    head = "".join(f"<th>{_e(side)}: {_e(where)}{question}</th>" for side, (where, _) in zip("AB", cells))
    body = "".join(f"<td><pre>{_e(code)}</pre></td>" for _, code in cells)
    return f"<tr>{head}</tr><tr>{body}</tr>"


def _answer_rows(match: AnswerMatch, a: HandInText, b: HandInText) -> str:
    part = match.part
    head = (f"<th>A: {_e(match.question)} ({part.share_a:.0%} of the answer matches)</th>"
            f"<th>B: {_e(match.question)} ({part.share_b:.0%})</th>")
    body = "".join(f"<td><pre>{_marked(text.answers.get(match.question, ''), spans)}</pre></td>"
                   for text, spans in ((a, match.spans_a), (b, match.spans_b)))
    return f"<tr>{head}</tr><tr>{body}</tr>"


def _marked(text: str, spans: tuple[tuple[int, int], ...]) -> str:
    """The answer with the matching words in <mark>, escaped, cut at MAX_ANSWER_CHARS."""
    shown = text[:MAX_ANSWER_CHARS]
    out, position = [], 0
    for start, end in spans:
        if start >= len(shown):
            break
        end = min(end, len(shown))
        out.append(_e(shown[position:start]))
        out.append(f"<mark>{_e(shown[start:end])}</mark>")
        position = end
    out.append(_e(shown[position:]))
    if len(text) > len(shown):
        out.append(f"\n… {len(text) - len(shown)} more characters")
    return "".join(out)


def _clearance(pair: PairReport, clearances: Clearances) -> Clearance | None:
    clearance = clearances.get(tuple(sorted((pair.a, pair.b))))  # type: ignore[arg-type]
    return clearance if clearance is not None and clearance.current else None


def _e(text: str) -> str:
    return html.escape(printable(text))
