"""What the reports show of the similarity report (grader/similarity): the "Similar hand-ins" section of
summary.html and the `similar_to` flag's message, both drawn from the gradebook's latest similarity state, and
the anchors that link into similarity.html (which grader/similarity writes).
"""

from __future__ import annotations

import hashlib
import html

from grader.store.gradebook import SimilarityState, SimilarPair
from grader.text.safe import printable


def pair_anchor(first: str, second: str) -> str:
    """The fragment of a pair's section in similarity.html (the same for both orders of the names)."""
    a, b = sorted((first, second))
    return "pair-" + hashlib.sha1(f"{a}\0{b}".encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _e(text: str) -> str:
    return html.escape(printable(text))


MAX_SUMMARY_PAIRS = 30


def summary_section(state: SimilarityState | None) -> list[str]:
    """The "Similar hand-ins" section of summary.html, from the gradebook's latest similarity report."""
    if state is None:
        return []
    out = ["<h2>Similar hand-ins</h2>"]
    if state.note:
        out.append(f"<p class=\"bad\">{_e(state.note)}</p>")
    flagged = [p for p in state.pairs if not p.cleared]
    cleared = len(state.pairs) - len(flagged)
    if not state.pairs:
        if not state.note:
            out.append(f"<p>No pair of the {state.hand_ins} hand-ins reaches the similarity threshold "
                       f"({state.threshold:g}): <a href=\"similarity.html\">similarity.html</a>.</p>")
        return out
    out.append(f"<p>{len(flagged)} pairs share more code or written answers than the threshold "
               f"({state.threshold:g}) allows{f', {cleared} more were cleared by a tutor' if cleared else ''}. "
               "For a tutor to judge; no grade was changed. Details: "
               "<a href=\"similarity.html\">similarity.html</a>.</p>")
    if flagged:
        rows = "".join(
            f"<tr class=\"flagged\"><td><a href=\"similarity.html#{pair_anchor(p.file_a, p.file_b)}\">"
            f"{_e(p.file_a)}</a></td><td>{_e(p.file_b)}</td><td>{p.score:.2f}</td><td>{p.code_score:.2f}</td>"
            f"<td>{p.prose_score:.2f}</td><td>{_e(questions_text(p.questions))}</td></tr>"
            for p in flagged[:MAX_SUMMARY_PAIRS])
        out.append("<table><tr><th>hand-in A</th><th>hand-in B</th><th>score</th><th>code</th>"
                   f"<th>written answers</th><th>questions</th></tr>{rows}</table>")
        if len(flagged) > MAX_SUMMARY_PAIRS:
            out.append(f"<p>and {len(flagged) - MAX_SUMMARY_PAIRS} more pairs.</p>")
    return out


def similar_to_message(pair: SimilarPair, file_name: str) -> str:
    """The `similar_to` flag's message on one hand-in of a flagged pair."""
    return (f"similar to {pair.other(file_name)}: {pair.score:.2f} (code {pair.code_score:.2f}, answers "
            f"{pair.prose_score:.2f}{questions_text(pair.questions, '; ', most=3)}), see similarity.html")


def questions_text(questions: tuple[str, ...], before: str = "", most: int = 6) -> str:
    """"1b, 3c, 3g" (the first `most`, then "and N more"), after `before`; "" without questions."""
    if not questions:
        return ""
    shown = ", ".join(questions[:most])
    return before + (f"{shown} and {len(questions) - most} more" if len(questions) > most else shown)
