"""Similarity benchmark: `grader grade` and `grader similarity` on N generated sheet 02 hand-ins.

    python bench/similarity.py                    # N = 100 and 400 (about 4 minutes on 2 CPUs)
    python bench/similarity.py --sizes 50         # a quick look

For each N: generate the hand-ins (bench/similarity_handins.py: each group's own code and prose, planted
code copies, prose copies and a ring of four), grade them with `grader grade` (which ends with the similarity
step), then time `grader similarity OUT` on its own, and in this process the two halves of it: reading the
hand-ins back (bounded reader children) and the comparison itself (`find_similar`). Also checks that every
planted pair is flagged and counts the other flagged pairs. Writes results/similarity.{md,json}. Not a timed
test: the figures depend on the machine and on what else runs on it (the "other load" column says).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

from measure import run_measured  # noqa: E402
from similarity_handins import generate  # noqa: E402

from grader.store.gradebook import Gradebook  # noqa: E402
from grader.commands.manual.questions import load_answers, manual_items, prose_questions  # noqa: E402
from grader.rubric.load import load_sheet  # noqa: E402
from grader.commands.similarity.collect import collect_hand_ins  # noqa: E402
from grader.commands.similarity.engine import find_similar  # noqa: E402
from grader.commands.similarity.report import SimilaritySettings  # noqa: E402
from grader.commands.similarity.shared import shared_material  # noqa: E402

TARGET_SECONDS = 60  # the issue: 400 hand-ins "well under a minute" on 2 cores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 400])
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    parser.add_argument("--keep", action="store_true", help="keep the generated hand-ins and outputs")
    args = parser.parse_args(argv)
    work = args.out / "tmp" / datetime.now(UTC).strftime("similarity-%Y%m%d-%H%M%S")
    work.mkdir(parents=True)
    grader = shutil.which("grader")
    command = [grader] if grader else [sys.executable, "-m", "grader.commands.cli"]
    rows = []
    for n in args.sizes:
        print(f"== N = {n}: generating", flush=True)
        plan = generate(n, work / f"hand-ins-{n}", REPO)
        out = work / f"out-{n}"
        print(f"== N = {n}: grader grade", flush=True)
        graded = run_measured([*command, "grade", str(work / f"hand-ins-{n}"), "--sheet", "sheet02", "--out",
                               str(out), "--course", str(REPO)], cwd=REPO)
        if graded.returncode != 0:
            raise SystemExit(f"grader grade failed:\n{graded.stdout[-3000:]}")
        print(f"== N = {n}: grader similarity", flush=True)
        alone = run_measured([*command, "similarity", str(out), "--course", str(REPO)], cwd=REPO)
        if alone.returncode != 0:
            raise SystemExit(f"grader similarity failed:\n{alone.stdout[-3000:]}")
        print(alone.stdout, flush=True)
        rows.append(_row(n, plan, out, graded, alone))
    result = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
              "command": " ".join(["python bench/similarity.py", *(argv if argv is not None else sys.argv[1:])]),
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version()},
              "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "similarity.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "similarity.md").write_text(_markdown(result))
    print((args.out / "similarity.md").read_text())
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _row(n: int, plan, out: Path, graded, alone) -> dict:
    """The two halves of the similarity step, timed in this process, and how the planted pairs came out."""
    loaded = load_sheet("sheet02", REPO, resolve=False)
    answers = load_answers(loaded)
    with Gradebook.open(out / "gradebook.db") as book:
        results = book.results("sheet02")
        state = book.similarity("sheet02")
    settings = SimilaritySettings()
    started = time.perf_counter()
    texts = collect_hand_ins(results, out, prose_questions(manual_items(loaded, answers)),
                             max_code_chars=settings.max_code_chars, workers=os.cpu_count())
    reading = time.perf_counter() - started
    memory_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    report = find_similar(texts, shared_material(loaded, answers=answers), settings)
    comparing = time.perf_counter() - started
    grown = max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - memory_before) * 1024
    flagged = {frozenset(p.names) for p in report.flagged}
    planted = plan.planted
    stored = {frozenset({p.file_a, p.file_b}) for p in state.pairs} if state else set()
    return {
        "n": n, "pairs": report.all_pairs, "candidate_pairs": report.candidate_pairs,
        "code_characters": sum(len(u.text) for t in texts for u in t.code),
        "grade_wall_seconds": round(graded.wall_seconds, 1), "grade_cpu_seconds": round(graded.cpu_seconds, 1),
        "grade_other_load": round(graded.other_load, 2),
        "similarity_wall_seconds": round(alone.wall_seconds, 1),
        "similarity_cpu_seconds": round(alone.cpu_seconds, 1),
        "similarity_peak_gib": round(alone.peak_bytes / 2**30, 2), "similarity_other_load": round(alone.other_load, 2),
        "reading_seconds": round(reading, 1), "comparing_seconds": round(comparing, 2),
        "comparing_memory_mib": round(grown / 2**20), "planted": len(planted),
        "planted_flagged": len(planted & flagged), "other_flagged": len(flagged - planted),
        "batch_flagged_same": stored == flagged,
        "highest_other": round(max((p.score for p in report.pairs if frozenset(p.names) not in planted),
                                   default=0.0), 3),
    }


def _markdown(result: dict) -> str:
    lines = [f"# Similarity benchmark, {result['date']}", "",
             f"`{result['command']}` on {result['machine']['cpus']} CPUs ({result['machine']['platform']}).", "",
             "| N | pairs | compared | grader grade (s) | grader similarity (s) | reading (s) | comparing (s) "
             "| peak memory (GiB) | other load (CPUs) | planted pairs flagged | other pairs flagged "
             "| highest other score |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['n']} | {r['pairs']:,} | {r['candidate_pairs']:,} | {r['grade_wall_seconds']} | "
                     f"{r['similarity_wall_seconds']} | {r['reading_seconds']} | {r['comparing_seconds']} | "
                     f"{r['similarity_peak_gib']} | {r['similarity_other_load']} | "
                     f"{r['planted_flagged']} of {r['planted']} | {r['other_flagged']} | {r['highest_other']} |")
    biggest = max(result["rows"], key=lambda r: r["n"])
    met = biggest["similarity_wall_seconds"] < TARGET_SECONDS
    lines += ["", f"Target: {biggest['n']} hand-ins in well under {TARGET_SECONDS} s on 2 CPUs: "
                  f"`grader similarity` took {biggest['similarity_wall_seconds']} s "
                  f"({'met' if met else 'NOT met'}).", "",
              "*grader grade* includes grading every hand-in in the sandbox and the similarity step; "
              "*grader similarity* is the whole command on its own (reading the hand-ins back, comparing, "
              "writing the report and rebuilding the outputs); *reading* and *comparing* are its two main "
              "parts, timed separately in the benchmark's process. *compared*: pairs that share a fingerprint "
              "(the inverted index's candidates); every other pair is never looked at.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
