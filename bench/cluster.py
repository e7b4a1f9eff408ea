"""Cluster benchmark: the same batch on the local warm pool and on a Dask LocalCluster of 1 and 2 worker processes.

    python bench/cluster.py                          # sheet 02 at N = 200 and sheet 11 at N = 20 (a few minutes)
    python bench/cluster.py --sheet02 40 --sheet11 0 # a quick look

Every configuration grades the same generated hand-ins (bench/handins.py) in this one run, one after another,
with two slots each (the machine has two cores): `local` is `grader grade --jobs 2` (threads over the warm
pool), `dask-1` a LocalCluster of one worker process with two threads (one warm pool of two slots), `dask-2`
two worker processes of one thread (a pool of one slot each). The scheduler and the workers are started
before the clock starts, as a course's cluster is already running; connecting, shipping the course and
warming the workers' pools are part of each run's fixed cost.

Per configuration it reports: the wall time of the whole batch; the grading phase (first hand-in started to
last finished, from the gradebook); the busy time (the sum of each hand-in's own grading, the same work
everywhere); the slot time per hand-in not spent grading, `(phase x slots - busy) / N` (it includes the start
and the tail, where one slot waits for the other's last hand-in); and the gap: how long a slot stands idle
between one hand-in and its next, on average. The cluster's overhead per hand-in is its gap minus the local
pool's (target <= 20 ms): Dask's dispatch, shipping the hand-in and the record, and a coordinator that cannot
keep up would all show there. From sheet 11's busy time it
projects 1,500 hand-ins on 1, 4 and 16 machines of two cores. Writes bench/results/cluster.{md,json}.
Not a timed test: run it under the machine's shared lock; the machine-busy column shows how loaded it was
(two CPUs: this run's own work alone can keep both busy).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

from handins import generate  # noqa: E402
from measure import _machine_busy  # noqa: E402

SLOTS = 2
PROJECTED_HAND_INS = 1500
PROJECTED_MACHINES = (1, 4, 16)
TARGET_MS = 20.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheet02", type=int, default=200, help="sheet 02 hand-ins (0: skip)")
    parser.add_argument("--sheet11", type=int, default=20, help="sheet 11 hand-ins (0: skip)")
    parser.add_argument("--out", type=Path, default=BENCH / "results", help="where cluster.{md,json} go")
    args = parser.parse_args(argv)

    import dask
    from distributed import LocalCluster

    from grader.commands.batch import BatchOptions, run_batch
    from grader.cluster.address import ClusterOptions

    work = Path(tempfile.mkdtemp(prefix="grader-bench-cluster-"))
    rows: list[dict] = []
    clusters = {}
    try:
        with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
            clusters["dask-1"] = LocalCluster(n_workers=1, threads_per_worker=SLOTS, processes=True, host="127.0.0.1",
                                              dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
            clusters["dask-2"] = LocalCluster(n_workers=SLOTS, threads_per_worker=1, processes=True, host="127.0.0.1",
                                              dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
        for sheet, count in (("sheet02", args.sheet02), ("sheet11", args.sheet11)):
            if count <= 0:
                continue
            folder = work / f"{sheet}-hand-ins"
            generate(sheet, count, folder, REPO)
            for system in ("local", "dask-1", "dask-2"):
                cluster = ClusterOptions(clusters[system].scheduler_address) if system != "local" else None
                out = work / f"{sheet}-{system}"
                busy_before, started = _machine_busy(), time.monotonic()
                summary = run_batch(BatchOptions(hand_ins=folder, sheet=sheet, out=out, course=REPO, jobs=SLOTS,
                                                 cluster=cluster))
                wall = time.monotonic() - started
                machine = (_machine_busy() - busy_before) / wall
                rows.append(_row(sheet, count, system, wall, out / "gradebook.db", summary, machine))
                print(json.dumps(rows[-1]), flush=True)
    finally:
        for cluster in clusters.values():
            cluster.close()
        shutil.rmtree(work, ignore_errors=True)
    _add_overheads(rows)
    projection = _projection(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
            "python": platform.python_version(), "command": "python bench/cluster.py " + " ".join(argv or sys.argv[1:])}
    (args.out / "cluster.json").write_text(json.dumps({"meta": meta, "rows": rows, "projection": projection},
                                                      indent=2) + "\n", encoding="utf-8")
    (args.out / "cluster.md").write_text(_markdown(meta, rows, projection), encoding="utf-8")
    print((args.out / "cluster.md").read_text(encoding="utf-8"))
    return 0


def _row(sheet: str, count: int, system: str, wall: float, db_path: Path, summary, machine_busy: float) -> dict:
    with sqlite3.connect(db_path) as db:
        times = db.execute("SELECT started_at, finished_at FROM gradings").fetchall()
        sandboxes = sorted({row[0] for row in db.execute("SELECT sandbox FROM gradings")})
    starts = [datetime.fromisoformat(a) for a, _ in times]
    ends = [datetime.fromisoformat(b) for _, b in times]
    phase = (max(ends) - min(starts)).total_seconds()
    busy = sum((b - a).total_seconds() for a, b in zip(starts, ends))
    gaps = _gaps(sorted(zip(starts, ends)))
    return {"sheet": sheet, "n": count, "system": system, "graded": len(summary.graded),
            "with_errors": len(summary.failed), "wall_seconds": round(wall, 2), "phase_seconds": round(phase, 2),
            "fixed_seconds": round(wall - phase, 2), "busy_seconds": round(busy, 2),
            "idle_ms_per_hand_in": round((phase * SLOTS - busy) / count * 1000, 1),
            "gap_ms": round(sum(gaps) / len(gaps) * 1000, 1) if gaps else 0.0,
            "sandbox": ",".join(sandboxes), "machine_busy": round(machine_busy, 2)}


def _gaps(intervals: list[tuple[datetime, datetime]]) -> list[float]:
    """Seconds a slot stood idle between one hand-in and its next: the hand-ins (by start) are laid on SLOTS
    lanes, each to the lane that became free last before it started (so lanes follow the real slots when every
    slot is kept busy). Not counted: before a lane's first hand-in and after its last (start-up and tail)."""
    lanes: list[datetime | None] = [None] * SLOTS
    gaps = []
    for start, end in intervals:
        free = [i for i, last in enumerate(lanes) if last is None or last <= start]
        if not free:  # clocks of two processes a hair apart: take the lane that frees first
            free = [min(range(SLOTS), key=lambda i: lanes[i])]
        lane = max(free, key=lambda i: lanes[i] or datetime.min.replace(tzinfo=start.tzinfo))
        if lanes[lane] is not None:
            gaps.append(max(0.0, (start - lanes[lane]).total_seconds()))
        lanes[lane] = end
    return gaps


def _add_overheads(rows: list[dict]) -> None:
    local = {row["sheet"]: row for row in rows if row["system"] == "local"}
    for row in rows:
        base = local[row["sheet"]]
        row["overhead_ms_per_hand_in"] = round(row["gap_ms"] - base["gap_ms"], 1)
        row["wall_ratio"] = round(row["wall_seconds"] / base["wall_seconds"], 2)
        row["phase_ratio"] = round(row["phase_seconds"] / base["phase_seconds"], 2)


def _projection(rows: list[dict]) -> list[dict]:
    """1,500 sheet 11 hand-ins on m machines of 2 cores (2 one-thread workers each): the measured busy time
    per hand-in plus the measured cluster overhead, spread over 2m slots, plus the measured fixed cost."""
    measured = [row for row in rows if row["sheet"] == "sheet11" and row["system"] == "dask-2"]
    if not measured:
        return []
    row = measured[0]
    per_hand_in = row["busy_seconds"] / row["n"] + max(0.0, row["overhead_ms_per_hand_in"]) / 1000
    return [{"machines": m, "slots": SLOTS * m, "seconds_per_hand_in": round(per_hand_in, 2),
             "minutes": round((PROJECTED_HAND_INS * per_hand_in / (SLOTS * m) + row["fixed_seconds"]) / 60, 1)}
            for m in PROJECTED_MACHINES]


def _markdown(meta: dict, rows: list[dict], projection: list[dict]) -> str:
    lines = [f"# Cluster benchmark ({meta['when']}, {meta['cpus']} CPUs)", "", f"`{meta['command']}`", "",
             "| sheet | N | system | wall (s) | grading phase (s) | fixed (s) | busy (s) | idle slot time per "
             "hand-in (ms) | gap between hand-ins (ms) | overhead vs local (ms/hand-in) | wall ratio | machine busy "
             "(CPUs, this run included) |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['sheet']} | {r['n']} | {r['system']} | {r['wall_seconds']} | {r['phase_seconds']} | "
                     f"{r['fixed_seconds']} | {r['busy_seconds']} | {r['idle_ms_per_hand_in']} | {r['gap_ms']} | "
                     f"{r['overhead_ms_per_hand_in']} | {r['wall_ratio']} | {r['machine_busy']} |")
    cluster_rows = [r for r in rows if r["system"] != "local"]
    if cluster_rows:
        worst = max(r["overhead_ms_per_hand_in"] for r in cluster_rows)
        lines += ["", f"Largest cluster overhead per hand-in beyond the local pool: {worst} ms (target <= "
                      f"{TARGET_MS:g} ms: {'met' if worst <= TARGET_MS else 'NOT met'})."]
    if projection:
        lines += ["", f"Projection: {PROJECTED_HAND_INS:,} hand-ins of sheet 11 on machines of 2 cores "
                      f"({projection[0]['seconds_per_hand_in']} s of slot time per hand-in, measured above):", "",
                  "| machines | slots | about (minutes) |", "|---:|---:|---:|"]
        lines += [f"| {p['machines']} | {p['slots']} | {p['minutes']} |" for p in projection]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
