"""The review web app: Starlette routes over a ReviewedSheet, pages from Jinja2 templates (autoescaped).

Pages are plain HTML forms (every state change is a POST, answered by a redirect), with one small script file
for the keyboard (grader/commands/review/static/review.js); no build step, nothing from a CDN. URLs name hand-ins by the
gradebook's submission id and questions by the rubric's ids, both looked up in what the server loaded; no part
of a URL is ever used as a path. Handlers are short and synchronous on purpose: each request reads the
gradebook on its own thread's connection and writes in one short transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from grader.commands.manual.reading import answer_files
from grader.store.overrides import override_text
from grader.prose.extract import AnswerText
from grader.prose.hints import hint_for_answer
from grader.reports.check_text import points_word
from grader.reports.page_assets import ASSETS_FOLDER, head_tags, page_asset_files
from grader.commands.review.bounded import RenderError
from grader.commands.review.notebook import question_cells, ran_notebook, render_notebook
from grader.commands.review.pdfpage import pages_of, pdftoppm_available, render_page
from grader.commands.review.security import HEADERS, NOTEBOOK_CSP, PAGE_CSP, Access, Tutor
from grader.commands.review.sheet import CheckQueue, HandIn, ReviewedSheet
from grader.commands.review.stats import figures_of, histogram, histogram_svg, inconsistencies, tutor_figures
from grader.commands.review.store import AnswerScore, StaleWrite

_STATIC = {name: (Path(__file__).parent / "static" / name) for name in ("review.js", "review.css")}
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".woff2": "font/woff2", ".png": "image/png"}
ANON_COOKIE = "anonymous"


@dataclass
class Viewer:
    tutor: Tutor
    csrf: str
    anonymous: bool


def create_app(sheet: ReviewedSheet, access: Access, *, anonymous: bool = False,
               allowed_hosts: tuple[str, ...] = ()) -> Starlette:
    """`anonymous`: names are hidden for everyone (otherwise each tutor may switch it on). `allowed_hosts`: the
    Host headers this server answers to (empty: any, for tests)."""
    env = Environment(loader=PackageLoader("grader.commands.review", "templates"), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["pts"] = lambda value: f"{value:g}"
    env.filters["signed"] = lambda value: f"{value:+g}"
    env.filters["points"] = points_word
    assets = page_asset_files()
    katex_tags = Markup(head_tags(f"/{ASSETS_FOLDER}"))

    def page(request: Request, viewer: Viewer, template: str, status: int = 200, **context) -> HTMLResponse:
        text = env.get_template(template).render(
            viewer=viewer, sheet=sheet, katex=katex_tags, outputs=sheet.writer.state, forced_anonymous=anonymous,
            label=lambda h: label(h, viewer), request_path=_here(request),
            request_note=request.query_params.get("note", ""), **context)
        return _secure(HTMLResponse(text, status_code=status))

    def label(hand_in: HandIn, viewer: Viewer) -> str:
        return hand_in.pseudonym if viewer.anonymous else hand_in.file_name

    def viewer_of(request: Request) -> Viewer | Response:
        if allowed_hosts and request.headers.get("host", "") not in allowed_hosts:
            return _secure(PlainTextResponse("unknown Host header", status_code=400))
        token = request.query_params.get("token")
        if token is not None:
            tutor = access.tutor(token)
            if tutor is None:
                return _secure(PlainTextResponse("wrong token", status_code=403))
            rest = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
            response = RedirectResponse(request.url.path + (f"?{rest}" if rest else ""), status_code=303)
            response.set_cookie(access.cookie, token, httponly=True, samesite="strict", path="/")
            return _secure(response)
        header = request.headers.get("authorization", "")
        sent = header[6:].strip() if header.lower().startswith("token ") else request.cookies.get(access.cookie)
        tutor = access.tutor(sent)
        if tutor is None:
            return _secure(PlainTextResponse(
                "This review page needs its access token: open the URL that `grader review` printed.", 403))
        wants_anonymous = anonymous or request.cookies.get(f"{access.cookie}_{ANON_COOKIE}") == "1"
        return Viewer(tutor, access.csrf(tutor), wants_anonymous)

    async def posted(request: Request) -> tuple[Viewer, dict] | Response:
        viewer = viewer_of(request)
        if isinstance(viewer, Response):
            return viewer
        # Browsers say where a request comes from: Sec-Fetch-Site (current browsers), else Origin.
        site, origin = request.headers.get("sec-fetch-site"), request.headers.get("origin")
        if (site is not None and site != "same-origin") or (
                site is None and origin is not None
                and origin != f"{request.url.scheme}://{request.headers.get('host', '')}"):
            return _secure(PlainTextResponse("cross-site request refused", status_code=403))
        form = await request.form()
        data = {key: form.get(key) for key in form.keys()}
        if not access.csrf_ok(viewer.tutor, data.get("csrf")):
            return _secure(PlainTextResponse("missing or wrong CSRF token: reload the page", status_code=403))
        return viewer, data

    async def posted_to_check(request: Request) -> tuple[Viewer, dict, CheckQueue] | Response:
        got = await posted(request)
        if isinstance(got, Response):
            return got
        queue = sheet.queues.get((request.path_params["question"], request.path_params["check"]))
        if queue is None:
            return _not_found(request, got[0], "no such tutor check in this sheet's rubric")
        return (*got, queue)

    # --- pages ------------------------------------------------------------------------------------------------

    async def index(request: Request) -> Response:
        viewer = viewer_of(request)
        if isinstance(viewer, Response):
            return viewer
        rows = []
        assignments = sheet.store.assignments()
        for (question_id, check_id), queue in sheet.queues.items():
            scores = sheet.store.latest_scores(question_id, check_id)
            waiting = [m for unit in queue.units for m in unit]
            graded = [scores[m].points for m in waiting if m in scores]
            mine = _my_units(sheet, queue.units, question_id, viewer.tutor.name, assignments)
            left = sum(1 for i in mine if any(m not in scores for m in queue.units[i]))
            rows.append({"queue": queue, "graded": len(graded), "total": len(waiting), "my_left": left,
                         "histogram": Markup(histogram_svg(histogram(graded, queue.item.max_points))),
                         "mean": sum(graded) / len(graded) if graded else None})
        return page(request, viewer, "index.html", rows=rows, auto_questions=sheet.auto_questions,
                    assignments=[a for a in assignments if a.tutor == viewer.tutor.name])

    async def grade_page(request: Request) -> Response:
        viewer = viewer_of(request)
        if isinstance(viewer, Response):
            return viewer
        queue = sheet.queues.get((request.path_params["question"], request.path_params["check"]))
        if queue is None:
            return _not_found(request, viewer, "no such tutor check in this sheet's rubric")
        return grade_view(request, viewer, queue, _int(request.query_params.get("at")))

    def grade_view(request: Request, viewer: Viewer, queue, at: int | None, message: str = "",
                   status: int = 200) -> Response:
        item = queue.item
        scores = sheet.store.latest_scores(item.question_id, item.check_id)
        assignments = sheet.store.assignments()
        show_all = request.query_params.get("all") == "1"
        order = (list(range(len(queue.units))) if show_all
                 else _my_units(sheet, queue.units, item.question_id, viewer.tutor.name, assignments))
        ungraded = [i for i in order if any(m not in scores for m in queue.units[i])]
        if not queue.units:
            return page(request, viewer, "grade.html", status=status, queue=queue, unit=None, message=message)
        if at is None or not 0 <= at < len(queue.units):
            at = ungraded[0] if ungraded else (order[0] if order else 0)
        unit = queue.units[at]
        members = [sheet.by_name[name] for name in unit]
        first = members[0]
        answer = sheet.answers.get(first.file_name, {}).get(item.question_id)
        items = sheet.store.items(item.question_id, item.check_id)
        marks = sheet.store.marks(item.question_id, item.check_id, unit)
        state = []
        for member in members:
            score = scores.get(member.file_name)
            mark = marks.get(member.file_name)
            state.append({"hand_in": member, "score": score,
                          "elsewhere": score is not None and (mark is None or mark.score_id != score.id)})
        first_mark = marks.get(first.file_name)
        first_score = scores.get(first.file_name)
        applied = set(first_mark.items) if first_mark and first_score and first_mark.score_id == first_score.id \
            else set()
        hint = None
        if item.model is not None and answer is not None and answer.found:
            hint = hint_for_answer(answer.text, item.model.key_points, item.model.word_limit,
                                   item.model.cite_required, sentence_limit=item.model.sentence_limit)
        position = order.index(at) if at in order else None
        nav = {
            "prev": order[position - 1] if position else None,
            "next": order[position + 1] if position is not None and position + 1 < len(order) else None,
            "next_ungraded": next((i for i in ungraded if i > at), ungraded[0] if ungraded and ungraded[0] != at
                                  else None),
        }
        cells = None
        ran = ran_notebook(sheet.out / first.record.folder)
        if ran is not None:
            cells = question_cells(ran, item.question_id, question_ids=[q.id for q in sheet.loaded.rubric.questions])
        pdf_pages = _pdf_pages(first, answer)
        pairs = sheet.similarity.flagged(first.file_name) if sheet.similarity else []
        graded_points = [scores[m].points for u in queue.units for m in u if m in scores]
        return page(
            request, viewer, "grade.html", status=status, queue=queue, item=item, unit=unit, members=state, at=at,
            answer=answer, hint=hint, items=items, applied=applied, nav=nav, message=message, show_all=show_all,
            loose=_loose_text(sheet, first) if answer is None or not answer.found else None,
            mark=first_mark if applied else None, position=position, order=order, ungraded=len(ungraded),
            graded=sum(1 for u in queue.units for m in u if m in scores), total=queue.answers,
            base=",".join(f"{h.id}:{scores[h.file_name].id if h.file_name in scores else 0}" for h in members),
            cells=cells, ran=ran is not None, pdf_pages=pdf_pages, pdftoppm=pdftoppm_available(),
            pairs=[(pair, sheet.by_name.get(pair.other(first.file_name))) for pair in pairs],
            automatic=[c for q in first.record.questions if q.question_id == item.question_id for c in q.checks
                       if c.status != "pending"],
            histogram=Markup(histogram_svg(histogram(graded_points, item.max_points))))

    async def grade_post(request: Request) -> Response:
        got = await posted_to_check(request)
        if isinstance(got, Response):
            return got
        viewer, form, queue = got
        item = queue.item
        at = _int(form.get("at"))
        try:
            answers = [_answer_score(sheet, part) for part in (form.get("base") or "").split(",") if part]
            adjustment = _number(form.get("adjustment") or "0")
            applied = [int(i) for i in (form.get("applied") or "").split(",") if i.strip()]
            if form.get("toggle"):
                toggled = int(form["toggle"])
                applied = [i for i in applied if i != toggled] if toggled in applied else [*applied, toggled]
        except ValueError as exc:
            return grade_view(request, viewer, queue, at, message=f"Not saved: {exc}", status=400)
        if not answers or any(a.file_name not in {m for u in queue.units for m in u} for a in answers):
            return grade_view(request, viewer, queue, at, message="Not saved: these answers are not waiting for "
                              "this check", status=400)
        try:
            changed = sheet.store.save_answers(item.question_id, item.check_id, answers, applied=applied,
                                               adjustment=adjustment, comment=(form.get("comment") or "").strip(),
                                               max_points=item.max_points, tutor=viewer.tutor.name)
        except StaleWrite as stale:
            return grade_view(request, viewer, queue, at, message=stale.message, status=409)
        sheet.writer.changed(changed)
        target = at
        if form.get("action") == "next":
            scores = sheet.store.latest_scores(item.question_id, item.check_id)
            order = _my_units(sheet, queue.units, item.question_id, viewer.tutor.name, sheet.store.assignments())
            later = [i for i in order if any(m not in scores for m in queue.units[i])]
            target = next((i for i in later if i > (at or 0)), later[0] if later else at)
        return _redirect(f"/q/{item.question_id}/{item.check_id}", at=target, all=form.get("all") or None)

    async def add_item(request: Request) -> Response:
        got = await posted_to_check(request)
        if isinstance(got, Response):
            return got
        viewer, form, queue = got
        text = " ".join((form.get("text") or "").split())
        try:
            points = _number(form.get("points") or "")
        except ValueError as exc:
            return grade_view(request, viewer, queue, _int(form.get("at")), message=f"Item not added: {exc}", status=400)
        if not text or abs(points) > queue.item.max_points:
            return grade_view(request, viewer, queue, _int(form.get("at")), status=400,
                              message=f"Item not added: it needs a text and points within ±{queue.item.max_points:g}")
        sheet.store.add_item(queue.item.question_id, queue.item.check_id, points, text, viewer.tutor.name)
        return _redirect(f"/q/{queue.item.question_id}/{queue.item.check_id}", at=_int(form.get("at")))

    async def item_page(request: Request) -> Response:
        viewer = viewer_of(request)
        if isinstance(viewer, Response):
            return viewer
        found = sheet.store.item(_int(request.path_params["item"]) or 0)
        if found is None:
            return _not_found(request, viewer, "no such rubric item")
        queue = sheet.queues[(found.question_id, found.check_id)]
        marks = sheet.store.db.execute(
            "SELECT COUNT(*) FROM review_marks WHERE sheet = ? AND question_id = ? AND check_id = ? AND"
            " EXISTS (SELECT 1 FROM json_each(items) WHERE value = ?)",
            (sheet.sheet, found.question_id, found.check_id, found.id)).fetchone()[0]
        return page(request, viewer, "item.html", found=found, queue=queue, used=marks,
                    at=_int(request.query_params.get("at")), message="")

    async def item_post(request: Request) -> Response:
        got = await posted(request)
        if isinstance(got, Response):
            return got
        viewer, form = got
        found = sheet.store.item(_int(request.path_params["item"]) or 0)
        if found is None:
            return _not_found(request, viewer, "no such rubric item (deleted meanwhile?)")
        queue = sheet.queues[(found.question_id, found.check_id)]
        text = " ".join((form.get("text") or "").split())
        try:
            points = _number(form.get("points") or "")
            version = int(form.get("version") or "")
        except ValueError as exc:
            return page(request, viewer, "item.html", status=400, found=found, queue=queue, used=0, at=None,
                        message=f"Not saved: {exc}")
        if not text or abs(points) > queue.item.max_points:
            return page(request, viewer, "item.html", status=400, found=found, queue=queue, used=0, at=None,
                        message=f"Not saved: an item needs a text and points within ±{queue.item.max_points:g}")
        contents = {h.file_name: h.record.content_sha256 for h in sheet.hand_ins}
        try:
            rescored, kept = sheet.store.edit_item(found.id, version=version, points=points, text=text,
                                                   delete=form.get("action") == "delete", tutor=viewer.tutor.name,
                                                   max_points=queue.item.max_points, contents=contents)
        except StaleWrite as stale:
            current = sheet.store.item(found.id) or found
            return page(request, viewer, "item.html", status=409, found=current, queue=queue, used=0, at=None,
                        message=stale.message)
        sheet.writer.changed(rescored)
        return _redirect(f"/q/{found.question_id}/{found.check_id}", at=_int(form.get("at")),
                         note=f"item saved; {len(rescored)} answer(s) rescored"
                         + (f", {len(kept)} kept their score entered elsewhere" if kept else ""))

    async def split_post(request: Request) -> Response:
        got = await posted(request)
        if isinstance(got, Response):
            return got
        viewer, form = got
        question_id, check_id = request.path_params["question"], request.path_params["check"]
        hand_in = sheet.by_id.get(_int(form.get("member")) or -1)
        if (question_id, check_id) not in sheet.queues or hand_in is None:
            return _not_found(request, viewer, "no such answer")
        sheet.store.split(question_id, hand_in.file_name, viewer.tutor.name)
        sheet.regroup()
        return _redirect(f"/q/{question_id}/{check_id}", at=_int(form.get("at")))

    async def hand_ins(request: Request) -> Response:
        viewer = viewer_of(request)
        if isinstance(viewer, Response):
            return viewer
        results = {r.record.file_name: r for r in sheet.all_current()}
        rows = [(h, results[h.file_name]) for h in sheet.hand_ins]
        if viewer.anonymous:
            rows.sort(key=lambda row: row[0].pseudonym)
        return page(request, viewer, "handins.html", rows=rows)

    def viewer_and_hand_in(request: Request) -> tuple[Viewer, HandIn] | Response:
        viewer = viewer_of(request)
        if isinstance(viewer, Response):
            return viewer
        hand_in = sheet.by_id.get(_int(request.path_params["hand_in"]) or -1)
        if hand_in is None:
            return _not_found(request, viewer, "no such hand-in")
        return viewer, hand_in

    async def hand_in_page(request: Request) -> Response:
        got = viewer_and_hand_in(request)
        if isinstance(got, Response):
            return got
        viewer, hand_in = got
        return hand_in_view(request, viewer, hand_in, request.query_params.get("question"))

    def hand_in_view(request: Request, viewer: Viewer, hand_in: HandIn, question: str | None, message: str = "",
                     status: int = 200) -> Response:
        current = sheet.current(hand_in)
        overrides = sheet.store.gradebook().check_overrides(sheet.sheet, hand_in.file_name).get(hand_in.file_name, {})
        questions = [q for q in hand_in.record.questions if question is None or q.question_id == question]
        shown = {q.question_id: next(cq for cq in current.record.questions if cq.question_id == q.question_id)
                 for q in questions}
        ran = ran_notebook(sheet.out / hand_in.record.folder)
        source = ran or _main_notebook(sheet, hand_in)  # before ran.ipynb existed: the code, without outputs
        ids = [q.id for q in sheet.loaded.rubric.questions]
        cells = {q.question_id: question_cells(source, q.question_id, figures=ran is not None, question_ids=ids)
                 for q in questions} if source is not None else {}
        neighbours = None
        if question is not None:
            numbers = [h.id for h in sheet.hand_ins]
            index = numbers.index(hand_in.id)
            neighbours = (numbers[index - 1] if index else None, numbers[index + 1] if index + 1 < len(numbers)
                          else None)
        pairs = sheet.similarity.flagged(hand_in.file_name) if sheet.similarity else []
        return page(request, viewer, "handin.html", status=status, hand_in=hand_in, current=current,
                    questions=questions, shown=shown, overrides=overrides, cells=cells, ran=ran is not None,
                    question=question, neighbours=neighbours, message=message, override_text=override_text,
                    loose=_loose_text(sheet, hand_in) if question is None else None,
                    latest_override=lambda q, c: overrides[(q, c)].id if (q, c) in overrides else 0,
                    pairs=[(pair, sheet.by_name.get(pair.other(hand_in.file_name))) for pair in pairs])

    async def override_post(request: Request) -> Response:
        got = await posted(request)
        if isinstance(got, Response):
            return got
        viewer, form = got
        hand_in = sheet.by_id.get(_int(request.path_params["hand_in"]) or -1)
        if hand_in is None:
            return _not_found(request, viewer, "no such hand-in")
        question = form.get("question") or ""
        check = next((c for q in hand_in.record.questions for c in q.checks if q.question_id == question
                      and c.check_id == form.get("check") and c.status != "pending"), None)
        back = form.get("back") or None
        if check is None:
            return hand_in_view(request, viewer, hand_in, back, message="No such automatic check", status=400)
        reason = " ".join((form.get("reason") or "").split())
        try:
            points = None if form.get("action") == "remove" else _number(form.get("points") or "")
        except ValueError as exc:
            return hand_in_view(request, viewer, hand_in, back, message=f"Not saved: {exc}", status=400)
        if points is not None and (not 0 <= points <= check.max_points or not reason):
            return hand_in_view(request, viewer, hand_in, back, status=400,
                                message=f"Not saved: an override needs points within 0…{check.max_points:g} and "
                                "a reason (students see it in their feedback)")
        try:
            sheet.store.save_override(hand_in.file_name, check.question_id, check.check_id, points=points,
                                      reason=reason, auto_points=check.points, auto_status=check.status,
                                      based_on=_int(form.get("based_on")) or 0, tutor=viewer.tutor.name)
        except StaleWrite as stale:
            return hand_in_view(request, viewer, hand_in, back, message=stale.message, status=409)
        sheet.writer.changed({hand_in.file_name})
        return _redirect(f"/h/{hand_in.id}", question=back)

    async def notebook_page(request: Request) -> Response:
        got = viewer_and_hand_in(request)
        if isinstance(got, Response):
            return got
        viewer, hand_in = got
        return page(request, viewer, "notebook.html", hand_in=hand_in,
                    ran=ran_notebook(sheet.out / hand_in.record.folder) is not None)

    async def notebook_frame(request: Request) -> Response:
        viewer = viewer_of(request)
        if isinstance(viewer, Response):
            return viewer
        hand_in = sheet.by_id.get(_int(request.path_params["hand_in"]) or -1)
        ran = ran_notebook(sheet.out / hand_in.record.folder) if hand_in is not None else None
        if ran is None:
            return _secure(PlainTextResponse("not available (graded before this version)", status_code=404))
        try:
            body = await run_in_threadpool(render_notebook, ran)
        except RenderError as exc:
            body = f"<p>The notebook cannot be shown: {Markup.escape(str(exc))}</p>"
        text = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>ran.ipynb</title><style>"
                + _NOTEBOOK_STYLE + "</style></head><body>" + body + "</body></html>")
        response = HTMLResponse(text)
        _secure(response)
        response.headers["Content-Security-Policy"] = NOTEBOOK_CSP
        return response

    async def pdf_page(request: Request) -> Response:
        viewer = viewer_of(request)
        if isinstance(viewer, Response):
            return viewer
        hand_in = sheet.by_id.get(_int(request.path_params["hand_in"]) or -1)
        index, number = _int(request.path_params["file"]), _int(request.path_params["page"])
        if hand_in is None or index is None or number is None or number < 1:
            return _secure(PlainTextResponse("no such page", status_code=404))
        path = _hand_in_file(sheet, hand_in, index)
        if path is None or path.suffix.lower() != ".pdf":
            return _secure(PlainTextResponse("no such PDF in this hand-in", status_code=404))
        try:
            image = await run_in_threadpool(render_page, path, number)
        except (RenderError, OSError) as exc:
            return _secure(PlainTextResponse(str(exc), status_code=422))
        return _secure(Response(image, media_type="image/png"))

    async def tutors_page(request: Request) -> Response:
        viewer = viewer_of(request)
        if isinstance(viewer, Response):
            return viewer
        sections = []
        for (question_id, check_id), queue in sheet.queues.items():
            scores = sheet.store.latest_scores(question_id, check_id)
            if not scores:
                continue
            groups = [g for g in sheet.alike_answers(question_id) if len(g) > 1]
            everyone = list(scores.values())
            sections.append({"queue": queue, "figures": tutor_figures(everyone),
                             "all": figures_of("everyone", [s.points for s in everyone]),
                             "flags": inconsistencies(groups, scores, queue.item.max_points)})
        return page(request, viewer, "tutors.html", sections=sections)

    async def assign_page(request: Request) -> Response:
        viewer = viewer_of(request)
        if isinstance(viewer, Response):
            return viewer
        return page(request, viewer, "assign.html", assignments=sheet.store.assignments(), message="",
                    tutors=[t.name for t in access.tutors], questions=sorted({q for q, _ in sheet.queues}))

    async def assign_post(request: Request) -> Response:
        got = await posted(request)
        if isinstance(got, Response):
            return got
        viewer, form = got
        if not viewer.tutor.head:
            return _secure(PlainTextResponse("only the head tutor assigns the work", status_code=403))
        if form.get("action") == "remove":
            sheet.store.unassign(_int(form.get("assignment")) or -1)
            return _redirect("/assign")
        tutor = form.get("tutor") or ""
        question = form.get("question") or None
        first, last = _int(form.get("first") or None), _int(form.get("last") or None)
        problems = []
        if tutor not in {t.name for t in access.tutors}:
            problems.append("choose one of the tutors this server knows")
        if question is not None and question not in {q for q, _ in sheet.queues}:
            problems.append("no such question")
        if first is not None and last is not None and first > last:
            problems.append("the range is empty")
        if problems:
            return page(request, viewer, "assign.html", status=400, assignments=sheet.store.assignments(),
                        tutors=[t.name for t in access.tutors], questions=sorted({q for q, _ in sheet.queues}),
                        message="Not assigned: " + "; ".join(problems))
        sheet.store.assign(tutor, question, first, last, viewer.tutor.name)
        return _redirect("/assign")

    async def anonymous_post(request: Request) -> Response:
        got = await posted(request)
        if isinstance(got, Response):
            return got
        viewer, form = got
        response = _redirect(form.get("back") if (form.get("back") or "").startswith("/") else "/")
        response.set_cookie(f"{access.cookie}_{ANON_COOKIE}", "0" if viewer.anonymous else "1", httponly=True,
                            samesite="strict", path="/")
        return response

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name in assets:  # a fixed set of packaged files: the URL is a key, never a path
            return _secure(Response(assets[name], media_type=_TYPES.get(Path(name).suffix, "application/octet-stream"),
                                    headers={"Cache-Control": "max-age=3600"}))
        return _secure(PlainTextResponse("not found", status_code=404))

    async def static(request: Request) -> Response:
        path = _STATIC.get(request.path_params["name"])
        if path is None:
            return _secure(PlainTextResponse("not found", status_code=404))
        return _secure(Response(path.read_bytes(), media_type=_TYPES[path.suffix]))

    routes = [
        Route("/", index), Route("/q/{question}/{check}", grade_page),
        Route("/q/{question}/{check}", grade_post, methods=["POST"]),
        Route("/q/{question}/{check}/items", add_item, methods=["POST"]),
        Route("/q/{question}/{check}/split", split_post, methods=["POST"]),
        Route("/item/{item}", item_page), Route("/item/{item}", item_post, methods=["POST"]),
        Route("/handins", hand_ins), Route("/h/{hand_in}", hand_in_page),
        Route("/h/{hand_in}/override", override_post, methods=["POST"]),
        Route("/h/{hand_in}/notebook", notebook_page), Route("/h/{hand_in}/ran.html", notebook_frame),
        Route("/h/{hand_in}/pdf/{file}/{page}.png", pdf_page),
        Route("/tutors", tutors_page), Route("/assign", assign_page), Route("/assign", assign_post, methods=["POST"]),
        Route("/anonymous", anonymous_post, methods=["POST"]),
        Route(f"/{ASSETS_FOLDER}/{{name:path}}", asset), Route("/static/{name}", static),
    ]
    app = Starlette(routes=routes)
    app.state.sheet = sheet
    app.state.access = access
    return app


def _my_units(sheet: ReviewedSheet, units: list[list[str]], question_id: str, tutor: str, assignments) -> list[int]:
    """The indices of the units in the tutor's queue: those of their assignments, or all when they have none."""
    mine = [a for a in assignments if a.tutor == tutor]
    if not mine:
        return list(range(len(units)))
    return [i for i, unit in enumerate(units)
            if any(a.covers(question_id, sheet.by_name[m].number) for a in mine for m in unit)]


def _pdf_pages(hand_in: HandIn, answer) -> list[tuple[int, int]]:
    """(file index, page) of the PDF pages to show beside an answer that is a scan or was flagged."""
    if answer is None or not (answer.needs_human or answer.margin_notes or not answer.found):
        return []
    files = answer_files(hand_in.record.main_file, hand_in.record.written_answers)
    shown = []
    for index, name in enumerate(files):
        if not name.lower().endswith(".pdf"):
            continue
        if answer.source.startswith(f"{name}, "):
            shown.extend((index, page) for page in pages_of(answer.source[len(name) + 2:]))
        elif not answer.found:
            shown.append((index, 1))
    return shown


def _hand_in_file(sheet: ReviewedSheet, hand_in: HandIn, index: int) -> Path | None:
    """The hand-in's answer file number `index`, only if it really lies inside its unpacked folder."""
    files = answer_files(hand_in.record.main_file, hand_in.record.written_answers)
    if not 0 <= index < len(files):
        return None
    root = (sheet.out / hand_in.record.folder / "files").resolve()
    path = (root / files[index]).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def _loose_text(sheet: ReviewedSheet, hand_in: HandIn) -> AnswerText | None:
    """The hand-in's written text that no question owns (headed by file and place), when there is any."""
    return sheet.loose.get(hand_in.file_name)


def _main_notebook(sheet: ReviewedSheet, hand_in: HandIn) -> Path | None:
    """The hand-in's graded notebook, if it is one and lies inside its unpacked folder."""
    name = hand_in.record.main_file
    if not name or not name.lower().endswith(".ipynb"):
        return None
    root = (sheet.out / hand_in.record.folder / "files").resolve()
    path = (root / name).resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


def _answer_score(sheet: ReviewedSheet, part: str) -> AnswerScore:
    hand_in_id, _, based_on = part.partition(":")
    hand_in = sheet.by_id.get(int(hand_in_id))
    if hand_in is None:
        raise ValueError(f"no hand-in {hand_in_id}")
    return AnswerScore(hand_in.file_name, int(based_on), hand_in.record.content_sha256)


def _number(text: str) -> float:
    value = float(text.strip().replace(",", "."))
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a number")
    return value


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _redirect(path: str, **query) -> Response:
    query = {k: v for k, v in query.items() if v is not None}
    return _secure(RedirectResponse(path + (f"?{urlencode(query)}" if query else ""), status_code=303))


def _not_found(request: Request, viewer: Viewer, why: str) -> Response:
    return _secure(PlainTextResponse(why, status_code=404))


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _secure(response: Response) -> Response:
    response.headers.update(HEADERS)
    response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
    return response


_NOTEBOOK_STYLE = ("body{font-family:sans-serif;margin:1em;line-height:1.4}pre{background:#f6f6f6;padding:.5em;"
                   "white-space:pre-wrap;overflow-x:auto}.input_prompt,.output_prompt,.prompt{color:#888;"
                   "font-size:.8em}.output_stderr pre,.output_error pre{background:#fff0f0}"
                   ".cell{margin:.6em 0;border-left:3px solid #eee;padding-left:.6em}img{max-width:100%}"
                   ".jp-InputPrompt,.jp-OutputPrompt{color:#888;font-size:.8em}")
