"""The review page over HTTP (starlette's TestClient): access, CSRF, paths, escaping, stale writes, anonymous
mode, rubric items, groups, overrides, assignments, consistency, and outputs that match `grader manual import`."""

from __future__ import annotations

import csv
import html
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from grader.store.gradebook import Gradebook
from grader.commands.manual.export import export_manual
from grader.commands.manual.importing import import_manual
from grader.reports.outputs import write_outputs
from tests.conftest import REPO
from submissions.make_examples import Member
from tests.review.build import HOSTILE, SCRIPT, Team, build_out, teams
from tests.review.conftest import Reviewing, form_of, reviewing_sheet


def _grade(client, question="1a", check="answer", at=None, toggle=None, **fields):
    page = client.get(f"/q/{question}/{check}" + (f"?at={at}" if at is not None else ""))
    assert page.status_code == 200, page.text
    data = {**form_of(page.text), **fields}
    if toggle is not None:
        data["toggle"] = str(toggle)
    return page, client.post(f"/q/{question}/{check}", data=data)


def _items(reviewing: Reviewing):
    return reviewing.sheet.store.items("1a", "answer")


def _latest(reviewing: Reviewing) -> dict:
    return reviewing.sheet.store.latest_scores("1a", "answer")


def test_every_request_needs_the_token_and_the_cookie_is_strict(reviewing: Reviewing) -> None:
    from starlette.testclient import TestClient

    anonymous = TestClient(reviewing.app, base_url="http://127.0.0.1:8899", follow_redirects=False)
    for path in ("/", "/q/1a/answer", "/handins", "/h/1", "/h/1/ran.html", "/tutors", "/item/1"):
        assert anonymous.get(path).status_code == 403, path
    assert anonymous.get("/?token=wrong").status_code == 403
    entered = anonymous.get(f"/q/1a/answer?token={reviewing.token('ben')}&at=1")
    assert entered.status_code == 303 and entered.headers["location"] == "/q/1a/answer?at=1"  # token not kept
    cookie = entered.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = anonymous.get("/q/1a/answer?at=1")
    assert page.status_code == 200 and "ben" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "same-origin"
    header_only = TestClient(reviewing.app, base_url="http://127.0.0.1:8899")
    assert header_only.get("/", headers={"Authorization": f"token {reviewing.token('ana')}"}).status_code == 200
    assert header_only.get("/", headers={"Host": "evil.example:8899",
                                         "Authorization": f"token {reviewing.token('ana')}"}).status_code == 400


def test_posts_need_the_csrf_token_and_this_origin(reviewing: Reviewing) -> None:
    client = reviewing.client()
    page = client.get("/q/1a/answer")
    data = {**form_of(page.text), "toggle": str(_items(reviewing)[0].id)}
    for bad in ({**data, "csrf": ""}, {**data, "csrf": "0" * 64}, {k: v for k, v in data.items() if k != "csrf"}):
        assert client.post("/q/1a/answer", data=bad).status_code == 403
    assert client.post("/q/1a/answer", data=data, headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.post("/q/1a/answer", data=data, headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert _latest(reviewing) == {}
    ben = reviewing.client("ben")  # another tutor's CSRF token does not fit this session
    assert ben.post("/q/1a/answer", data=data).status_code == 403
    assert client.post("/q/1a/answer", data=data, headers={"Origin": "http://127.0.0.1:8899"}).status_code == 303
    assert len(_latest(reviewing)) >= 1


def test_no_path_from_the_url_reaches_the_file_system(reviewing: Reviewing) -> None:
    client = reviewing.client()
    hand_in = reviewing.sheet.hand_ins[0]
    for path in ("/_assets/../gradebook.db", "/_assets/%2e%2e/gradebook.db", "/_assets/katex/../../gradebook.db",
                 "/static/../app.py", "/static/..%2Fapp.py", f"/h/{hand_in.id}/pdf/0/1.png",
                 f"/h/{hand_in.id}/pdf/7/1.png", f"/h/{hand_in.id}/pdf/-1/1.png", "/h/99999", "/h/abc/notebook",
                 "/q/..%2F..%2Fetc/passwd", "/item/99999"):
        response = client.get(path)
        assert response.status_code in (404, 405), (path, response.status_code)
        assert b"SQLite" not in response.content
    assert client.get("/_assets/katex/katex.min.js").status_code == 200
    # A gradebook row naming a file outside the hand-in's folder is refused, not read.
    from grader.commands.review.app import _hand_in_file

    evil = replace(hand_in, record=replace(hand_in.record, intake=replace(
        hand_in.record.intake, written_answers=["../../gradebook.db", "/etc/passwd"])))
    assert _hand_in_file(reviewing.sheet, evil, 1) is None and _hand_in_file(reviewing.sheet, evil, 2) is None


def test_student_text_is_escaped_everywhere_and_the_notebook_is_sanitised_and_sandboxed(reviewing: Reviewing) -> None:
    client = reviewing.client()
    hostile = next(h for h in reviewing.sheet.hand_ins if h.file_name.startswith("Eve"))
    queue = reviewing.sheet.queues[("1a", "answer")]
    at = next(i for i, unit in enumerate(queue.units) if hostile.file_name in unit)
    pages = [client.get(f"/q/1a/answer?at={at}"), client.get(f"/h/{hostile.id}"), client.get("/handins"),
             client.get(f"/h/{hostile.id}/notebook")]
    for page in pages:
        assert page.status_code == 200
        for raw in ("<script>alert", "<img src=x", "<svg onload"):
            assert raw not in page.text
    assert html.escape(HOSTILE, quote=False).split(" ")[0] in pages[0].text.replace("&#39;", "'")
    frame = client.get(f"/h/{hostile.id}/ran.html")
    assert frame.status_code == 200
    assert frame.headers["content-security-policy"].startswith("sandbox;")
    # No live markup (student text shown as text, escaped, is fine: the hostile hand-in's notebook holds some).
    assert "<script" not in frame.text.lower() and not re.search(r"<[^>]*\bon\w+\s*=", frame.text, re.IGNORECASE)
    assert "<b>bold</b>" in frame.text and "data:image/png;base64," in frame.text  # the run's outputs, cleaned


def test_text_assigned_to_no_question_is_shown_with_its_hand_in_and_noted_where_its_answer_is_missing(
        tmp_path: Path) -> None:
    """A group's answer under a heading the grader did not recognise is text assigned to no question: the hand-in's
    page shows it (escaped), and grading a question the hand-in has no answer for points to it. The sheet's own
    lines that every hand-in shares (the title) are not shown as anyone's."""
    made = [*teams(3), Team("Lose_2409998.zip", [Member("Lou Lose", "2409998", "lou@example.org")], answer="",
                           loose=f"Our answer to 1a, under our own heading: the cell counts. {SCRIPT}")]
    with reviewing_sheet(build_out(tmp_path / "out", made)) as reviewing:
        client = reviewing.client()
        lose = next(h for h in reviewing.sheet.hand_ins if h.file_name.startswith("Lose"))
        other = next(h for h in reviewing.sheet.hand_ins if not h.file_name.startswith("Lose"))
        page = client.get(f"/h/{lose.id}").text
        assert 'id="unassigned"' in page and "Text assigned to no question" in page
        assert "Our answer to 1a, under our own heading" in page and "strayremark]" in page
        assert "<script>alert" not in page and html.escape(SCRIPT, quote=False) in page.replace("&#39;", "'")
        assert "exercise sheet 02" not in page.split('id="unassigned"')[1]  # the shared title is left out
        assert 'id="unassigned"' not in client.get(f"/h/{other.id}").text
        assert 'id="unassigned"' not in client.get(f"/h/{lose.id}?question=1a").text  # one question's view
        queue = reviewing.sheet.queues[("1a", "answer")]
        at = next(i for i, unit in enumerate(queue.units) if lose.file_name in unit)
        grading = client.get(f"/q/1a/answer?at={at}").text
        assert "No answer found" in grading
        assert 'id="loose-note"' in grading and f'href="/h/{lose.id}#unassigned"' in grading
        at_other = next(i for i, unit in enumerate(queue.units) if lose.file_name not in unit)
        assert 'id="loose-note"' not in client.get(f"/q/1a/answer?at={at_other}").text


def test_a_stale_write_is_refused_with_who_and_when(reviewing: Reviewing) -> None:
    ana, ben = reviewing.client("ana"), reviewing.client("ben")
    first, second = _items(reviewing)[:2]
    ana_page = ana.get("/q/1a/answer?at=0")
    ben_page, saved = _grade(ben, at=0, toggle=first.id)
    assert saved.status_code == 303
    refused = ana.post("/q/1a/answer", data={**form_of(ana_page.text), "toggle": str(second.id)})
    assert refused.status_code == 409
    assert "ben scored this answer" in refused.text and "not saved" in refused.text
    members = reviewing.sheet.queues[("1a", "answer")].units[0]
    assert {s.tutor for name, s in _latest(reviewing).items() if name in members} == {"ben"}
    assert all(len(reviewing.sheet.store.gradebook().manual_history("sheet02", m)) == 1 for m in members)
    # Reloaded, Ana sees Ben's score and can change it knowingly.
    assert _grade(ana, at=0, toggle=second.id)[1].status_code == 303
    assert {s.tutor for name, s in _latest(reviewing).items() if name in members} == {"ana"}


def test_anonymous_mode_shows_no_name_or_id(reviewing_anonymous: Reviewing) -> None:
    client = reviewing_anonymous.client()
    sheet = reviewing_anonymous.sheet
    secrets = {h.file_name for h in sheet.hand_ins} | {s.name for h in sheet.hand_ins for s in h.record.students} | {
        s.student_id for h in sheet.hand_ins for s in h.record.students}
    paths = ["/", "/q/1a/answer", "/q/1a/answer?at=1", "/handins", "/tutors", "/assign",
             *(f"/h/{h.id}" for h in sheet.hand_ins[:3]), f"/h/{sheet.hand_ins[0].id}/notebook"]
    for path in paths:
        text = html.unescape(client.get(path).text)
        assert not [s for s in secrets if s and s in text], path
    assert "Hand-in " in client.get("/q/1a/answer").text


def test_editing_an_item_rescores_every_hand_in_that_has_it(reviewing: Reviewing) -> None:
    client = reviewing.client()
    first, zero = _items(reviewing)[0], _items(reviewing)[-1]
    queue = reviewing.sheet.queues[("1a", "answer")]
    for at in (0, 1):
        assert _grade(client, at=at, toggle=first.id)[1].status_code == 303
    assert _grade(client, at=2, toggle=zero.id)[1].status_code == 303
    having = [m for unit in queue.units[:2] for m in unit]
    assert {_latest(reviewing)[m].points for m in having} == {first.points}
    edit = client.get(f"/item/{first.id}")
    saved = client.post(f"/item/{first.id}", data={**form_of(edit.text, "item-form"), "points": "0.75",
                                                   "text": "Cell state counts", "action": "save"})
    assert saved.status_code == 303
    latest = _latest(reviewing)
    assert {latest[m].points for m in having} == {0.75}
    assert all("Cell state counts (+0.75)" in latest[m].comment for m in having)
    assert latest[queue.units[2][0]].points == 0  # without the item: untouched
    stale = client.post(f"/item/{first.id}", data={**form_of(edit.text, "item-form"), "points": "0.5",
                                                   "text": "x", "action": "save"})
    assert stale.status_code == 409 and "changed this item" in stale.text
    assert reviewing.sheet.writer.flush(60)
    for name in having:
        feedback = (reviewing.sheet.out / reviewing.sheet.by_name[name].record.folder / "feedback.md").read_text()
        assert "answer: 0.75/1 from your tutor. Cell state counts (+0.75)" in feedback


def test_a_group_is_graded_at_once_and_can_be_split(reviewing: Reviewing) -> None:
    client = reviewing.client()
    queue = reviewing.sheet.queues[("1a", "answer")]
    group = next(unit for unit in queue.units if len(unit) > 1)
    at = queue.units.index(group)
    page = client.get(f"/q/1a/answer?at={at}")
    assert f"Same answer in {len(group)} hand-ins" in page.text
    assert _grade(client, at=at, toggle=_items(reviewing)[1].id)[1].status_code == 303
    assert all(m in _latest(reviewing) for m in group)
    last = reviewing.sheet.by_name[group[-1]]
    split = client.post("/q/1a/answer/split", data={"csrf": form_of(page.text)["csrf"], "member": str(last.id),
                                                    "at": str(at)})
    assert split.status_code == 303
    units = reviewing.sheet.queues[("1a", "answer")].units
    assert [last.file_name] in units and group[:-1] in units


def test_overrides_reach_the_feedback_and_survive_a_regrade(reviewing: Reviewing) -> None:
    client = reviewing.client()
    hand_in = reviewing.sheet.hand_ins[0]
    page = client.get(f"/h/{hand_in.id}?question=1b")
    fields = form_of(page.text, "override-1b-delta-public")
    no_reason = client.post(f"/h/{hand_in.id}/override", data={**fields, "points": "1", "reason": ""})
    assert no_reason.status_code == 400
    done = client.post(f"/h/{hand_in.id}/override", data={**fields, "points": "0.75",
                                                          "reason": "Right idea, shapes transposed"})
    assert done.status_code == 303
    assert reviewing.sheet.writer.flush(60)
    folder = reviewing.sheet.out / hand_in.record.folder
    feedback = (folder / "feedback.md").read_text()
    assert "Tutor override by ana: 0.75/1 points. Right idea, shapes transposed (automatic result: failed 0/1)" \
        in feedback
    rows = list(csv.DictReader((reviewing.sheet.out / "gradebook.csv").open(encoding="utf-8")))
    assert next(r for r in rows if r["hand_in"] == hand_in.file_name)["1b"] == "0.75"
    # A regrade stores a new automatic result: the override stays, and says the result changed.
    with Gradebook.open(reviewing.sheet.db_path) as book:
        record = hand_in.record
        checks = [replace(record.questions[1].checks[0], points=0.5, status="failed")]
        regraded = replace(record, score=replace(record.score, auto_points=0.5, questions=[
            record.questions[0], replace(record.questions[1], checks=checks, points=0.5)]))
        book.record(book.start_run(sheet="sheet02", input_dir="x", rubric_sha256="r", engine_version="test",
                                   sandbox="test", jobs=1, forced=True), regraded)
        result = next(r for r in book.results("sheet02") if r.record.file_name == hand_in.file_name)
    check = result.record.questions[1].checks[0]
    assert check.points == 0.75 and check.status == "overridden"
    assert "The automatic result changed since the override (it was failed 0/1)" in check.message
    assert "override_outdated" in {f.code for f in result.record.flags}
    assert result.record.auto_points == 0.75
    stale = client.post(f"/h/{hand_in.id}/override", data={**fields, "points": "1", "reason": "again"})
    assert stale.status_code == 409  # the page's based_on is the state before the first override


def test_outputs_after_saves_are_what_manual_import_writes_and_the_csv_round_trip_holds(
        reviewing: Reviewing, tmp_path: Path) -> None:
    client = reviewing.client()
    items = _items(reviewing)
    for at, item in ((0, items[0]), (1, items[1]), (2, items[-1])):
        assert _grade(client, at=at, toggle=item.id, comment="Gut begründet")[1].status_code == 303
    assert reviewing.sheet.writer.flush(60)
    out = reviewing.sheet.out
    seen = {p: p.read_text() for p in [out / "gradebook.csv", *out.glob("*/results.json"), *out.glob("*/feedback.md")]}
    with Gradebook.open(reviewing.sheet.db_path) as book:
        write_outputs(book.results("sheet02"), reviewing.sheet.loaded, out, now=datetime.now(UTC),
                      similarity=book.similarity("sheet02"))
    assert {p: p.read_text() for p in seen} == seen
    # The CSV round trip sees the same scores, with who entered them, and an unchanged import changes nothing.
    summary = export_manual("sheet02", out / "manual.csv", results_dir=out, course=REPO)
    scored = {r.hand_in: r.current for r in summary.rows if r.item.question_id == "1a" and r.current}
    assert {name: s.points for name, s in _latest(reviewing).items()} == {n: c[0] for n, c in scored.items()}
    assert all(r.stored.tutor == "ana" for r in summary.rows if r.item.question_id == "1a" and r.current)
    result = import_manual(out / "manual.csv", results_dir=out, course=REPO, tutor="ben")
    assert result.scored == [] and result.unchanged == len(scored)
    # A score imported by CSV afterwards is shown as entered elsewhere, and an item edit leaves it alone.
    rows = list(csv.DictReader((out / "manual.csv").open(encoding="utf-8-sig")))
    target = next(r for r in rows if r["question"] == "1a" and r["points"])
    target["points"], target["comment"] = "0.9", "nachkorrigiert"
    with (out / "manual.csv").open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert len(import_manual(out / "manual.csv", results_dir=out, course=REPO, tutor="ben").scored) == 1
    item = next(i for i in items if i.id in reviewing.sheet.store.marks("1a", "answer", [target["hand_in"]])[
        target["hand_in"]].items)
    edit = client.get(f"/item/{item.id}")
    client.post(f"/item/{item.id}", data={**form_of(edit.text, "item-form"), "points": str(item.points),
                                          "text": item.text + " (reworded)", "action": "save"})
    assert _latest(reviewing)[target["hand_in"]].points == 0.9


def test_the_head_tutor_divides_the_work_and_each_tutor_sees_their_queue(reviewing: Reviewing) -> None:
    ana, ben = reviewing.client("ana"), reviewing.client("ben")
    csrf = form_of(ana.get("/q/1a/answer").text)["csrf"]
    ben_csrf = form_of(ben.get("/q/1a/answer").text)["csrf"]
    assert ben.post("/assign", data={"csrf": ben_csrf, "tutor": "ben", "question": "1a", "first": "1",
                                     "last": "2"}).status_code == 403
    assert ana.post("/assign", data={"csrf": csrf, "tutor": "ben", "question": "1a", "first": "1",
                                     "last": "2", "action": "assign"}).status_code == 303
    assert reviewing.sheet.store.assignments()[0].describe() == "question 1a, hand-ins 1 to 2"
    page = ben.get("/q/1a/answer").text
    numbers = {reviewing.sheet.by_name[m].number for unit in reviewing.sheet.queues[("1a", "answer")].units
               for m in unit}
    assert len(numbers) > 2
    assert re.search(r"answer 1 of (\d+) in your queue", page)
    queued = int(re.search(r"answer 1 of (\d+) in your queue", page).group(1))
    assert queued < len(reviewing.sheet.queues[("1a", "answer")].units)
    assert "answer 1 of" in ana.get("/q/1a/answer").text and "in your queue" not in ana.get("/q/1a/answer").text
    last = len(reviewing.sheet.queues[("1a", "answer")].units) - 1
    assert "this answer is not in your queue" in ben.get(f"/q/1a/answer?at={last}").text


def test_tutor_figures_and_the_consistency_flag(reviewing: Reviewing) -> None:
    ana, ben = reviewing.client("ana"), reviewing.client("ben")
    queue = reviewing.sheet.queues[("1a", "answer")]
    group = next(unit for unit in queue.units if len(unit) > 1)
    at = queue.units.index(group)
    page = ana.get(f"/q/1a/answer?at={at}")
    last = reviewing.sheet.by_name[group[-1]]
    ana.post("/q/1a/answer/split", data={"csrf": form_of(page.text)["csrf"], "member": str(last.id), "at": str(at)})
    units = reviewing.sheet.queues[("1a", "answer")].units
    top = max(_items(reviewing)[:-1], key=lambda i: i.points)
    _grade(ana, at=units.index(group[:-1]), toggle=top.id, adjustment="0.8")
    _grade(ben, at=units.index([last.file_name]), toggle=_items(reviewing)[-1].id)
    page = ana.get("/tutors").text
    assert "Inconsistent: alike answers got" in page and "from ben" in page and "from ana" in page
    assert re.search(r"<td>ana</td><td>\d+</td><td>1\.00</td>", page)


def test_pending_points_never_read_as_zero(reviewing: Reviewing) -> None:
    client = reviewing.client()
    hand_in = reviewing.sheet.hand_ins[0]
    totals = client.get("/handins").text
    assert "(so far)" in totals
    page = client.get(f"/h/{hand_in.id}").text
    assert "waiting for a tutor (1 point)" in page
    grading = client.get("/q/1a/answer").text
    assert "not graded yet" in grading and "(1 point waiting)" in grading
    assert SCRIPT not in grading


def test_a_code_question_shows_its_checks_code_and_the_figures_of_the_grader_run(reviewing: Reviewing) -> None:
    client = reviewing.client()
    hand_in = reviewing.sheet.hand_ins[0]
    page = client.get(f"/h/{hand_in.id}?question=1b").text
    assert "delta-public" in page and "0 of 2 cases passed." in page and "Hint: hint" in page
    assert "def forget_gate_delta" in page and 'src="data:image/png;base64,' in page
    assert "&lt;script&gt;alert(" in page and SCRIPT not in page  # check messages quote student output: escaped
    (reviewing.sheet.out / hand_in.record.folder / "ran.ipynb").unlink()
    before = client.get(f"/h/{hand_in.id}?question=1b").text
    assert "def forget_gate_delta" in before and "data:image/png" not in before  # never the stored outputs
    assert "not available (graded before this version)" in before
    assert "Not available (graded before this version)" in client.get(f"/h/{hand_in.id}/notebook").text
    assert client.get(f"/h/{hand_in.id}/ran.html").status_code == 404


def test_every_page_of_every_answer_and_hand_in_answers(reviewing: Reviewing) -> None:
    client = reviewing.client("ben")
    for (question, check), queue in reviewing.sheet.queues.items():
        for at in range(len(queue.units)):
            assert client.get(f"/q/{question}/{check}?at={at}").status_code == 200, (question, at)
    for hand_in in reviewing.sheet.hand_ins:
        for path in (f"/h/{hand_in.id}", f"/h/{hand_in.id}?question=1b", f"/h/{hand_in.id}/notebook"):
            assert client.get(path).status_code == 200, path
    for item in _items(reviewing):
        assert client.get(f"/item/{item.id}").status_code == 200
    assert client.get("/q/9z/answer").status_code == 404
