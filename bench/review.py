"""How fast the review page answers with 400 hand-ins in the gradebook (issue 17: every page and save < 150 ms).

    python bench/review.py [--hand-ins 400] [--rounds 30]

Builds OUT with N hand-ins of sheet 02 (tests/review/build.py: the master notebook with varied 1a answers,
half of them alike, stored as `grader grade` stores them, no code run), starts the review server on a free
loopback port (uvicorn, as `grader review` runs it) and times, over real HTTP: the overview, a question's
grading page (at answers spread over the queue), a hand-in's page, the totals of all hand-ins, the tutors'
figures, an item's page, saving an answer (apply an item: the gradebook transaction), editing an item that
is on many answers, and an override. Also: the first start (reading every hand-in's answers with the bounded
children), a restart (answers cached) and how long the outputs take to follow a save (gradebook.csv,
summary.html and the hand-in's results.json/feedback, rebuilt in the background). Writes
bench/results/review.md and .json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from grader.commands.review.serving import serving_sheet  # noqa: E402
from grader.commands.review.sheet import ReviewedSheet  # noqa: E402
from tests.review.build import build_out, teams  # noqa: E402

LIMIT_MS = 150


def _form(text: str, marker: str = 'id="grade"') -> dict[str, str]:
    start = text.index(marker)
    part = text[start:text.index("</form>", start)]
    return {k: v.replace("&amp;", "&") for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
                                                              part)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hand-ins", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    timings: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-review-") as root:
        out = build_out(Path(root) / "out", teams(args.hand_ins), ran=True)
        started = time.perf_counter()
        sheet = ReviewedSheet(out, course=REPO)
        first_start = time.perf_counter() - started
        sheet.close()
        started = time.perf_counter()
        sheet = ReviewedSheet(out, course=REPO)
        restart = time.perf_counter() - started
        try:
            with serving_sheet(sheet, [("ana", True), ("ben", False)]) as (url, access), \
                    httpx.Client(base_url=url, follow_redirects=False, timeout=30) as client:
                client.get(f"/?token={access.tutors[0].token}")
                units = sheet.queues[("1a", "answer")].units
                items = sheet.store.items("1a", "answer")
                hand_in = sheet.hand_ins[len(sheet.hand_ins) // 2]

                def timed(name: str, call) -> httpx.Response:
                    begin = time.perf_counter()
                    response = call()
                    timings.setdefault(name, []).append((time.perf_counter() - begin) * 1000)
                    assert response.status_code in (200, 303), (name, response.status_code, response.text[:300])
                    return response

                for path in ("/", "/q/1a/answer", f"/h/{hand_in.id}"):  # warm up
                    client.get(path)
                for round_ in range(args.rounds):
                    at = round_ * len(units) // args.rounds
                    timed("overview /", lambda: client.get("/"))
                    page = timed("question page /q/1a/answer", lambda: client.get(f"/q/1a/answer?at={at}"))
                    timed("save an answer (apply an item)", lambda: client.post(
                        "/q/1a/answer", data={**_form(page.text), "toggle": str(items[round_ % 3].id)}))
                    timed("hand-in page /h/ID", lambda: client.get(f"/h/{sheet.hand_ins[at].id}"))
                    timed("totals /handins", lambda: client.get("/handins"))
                    timed("tutors' figures /tutors", lambda: client.get("/tutors"))
                    item_page = timed("item page /item/ID", lambda: client.get(f"/item/{items[0].id}"))
                    if round_ % 5 == 4:
                        timed("edit an item on many answers", lambda: client.post(
                            f"/item/{items[0].id}", data={**_form(item_page.text, 'id="item-form"'),
                                                          "points": f"{0.2 + 0.01 * round_:.2f}",
                                                          "text": items[0].text, "action": "save"}))
                    check_page = timed("automatic checks of 1b /h/ID?question=1b",
                                       lambda: client.get(f"/h/{sheet.hand_ins[at].id}?question=1b"))
                    timed("override a check", lambda: client.post(
                        f"/h/{sheet.hand_ins[at].id}/override",
                        data={**_form(check_page.text, 'id="override-1b-delta-public"'), "points": "0.5",
                              "reason": "bench"}))
                begin = time.perf_counter()
                assert sheet.writer.flush(300)
                settle = time.perf_counter() - begin
                # One save on a quiet server: how long until the outputs show it.
                page = client.get("/q/1a/answer?at=0")
                client.post("/q/1a/answer", data={**_form(page.text), "toggle": str(items[4].id)})
                begin = time.perf_counter()
                assert sheet.writer.flush(300)
                follow = time.perf_counter() - begin
        finally:
            sheet.close()
    rows = []
    for name, values in timings.items():
        values.sort()
        rows.append({"what": name, "n": len(values), "median_ms": round(statistics.median(values), 1),
                     "p95_ms": round(values[min(len(values) - 1, int(0.95 * len(values)))], 1),
                     "max_ms": round(values[-1], 1)})
    worst = max(row["max_ms"] for row in rows)
    result = {"hand_ins": args.hand_ins, "rounds": args.rounds, "rows": rows, "first_start_s": round(first_start, 1),
              "restart_s": round(restart, 2), "outputs_after_one_save_s": round(follow, 2),
              "outputs_settle_after_run_s": round(settle, 2),
              "worst_ms": worst, "limit_ms": LIMIT_MS, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
              "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
    lines = [f"# Review page: {args.hand_ins} hand-ins ({result['date']}, {result['machine']})", "",
             "`python bench/review.py` — real HTTP against the uvicorn server, times in ms.", "",
             "| request | n | median | p95 | max |", "|---|---|---|---|---|"]
    lines += [f"| {r['what']} | {r['n']} | {r['median_ms']} | {r['p95_ms']} | {r['max_ms']} |" for r in rows]
    lines += ["", f"Worst of all: {worst} ms (limit {LIMIT_MS} ms).",
              f"First start (reading {args.hand_ins} hand-ins' answers in the bounded children): "
              f"{result['first_start_s']} s; restart (answers cached): {result['restart_s']} s.",
              f"Outputs (gradebook.csv, summary.html, the hand-in's results.json and feedback) follow one save within "
              f"{result['outputs_after_one_save_s']} s (background rebuild); after the whole run they settled "
              f"{result['outputs_settle_after_run_s']} s after the last request."]
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "review.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (results / "review.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
