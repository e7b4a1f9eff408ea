"""Batch-grading benchmark: `grader grade` (warm sandboxed pool) against a kernel-per-notebook baseline.

    python bench/run.py                      # the full set: sheet 02 at N = 25, 100, 400; sheet 11 at N = 20
    python bench/run.py --sizes 25 --sheet11 0 --baseline-limit 25      # a quick look

For each sheet it generates N hand-ins (bench/handins.py: correct, partial, broken, template, one slow cell
in twenty), grades them with `grader grade` (a subprocess, default --jobs, warm pool on) and, on the same
notebooks, with the baseline (bench/baseline.py: nbclient, one fresh kernel per notebook, one notebook at a
time, as nbgrader and Otter-Grader run them). It reports wall time, hand-ins per second, overhead per
hand-in beyond the student's own compute, and peak memory (PSS of the whole process tree), checks the
issue's targets, and writes bench/results/latest.{md,json,png}.

The baseline is run once per sheet over the first --baseline-limit notebooks (default 100; 0 = all). The
sets for smaller N are the first N hand-ins of the largest, so the baseline's figures for every N up to the
limit are measured (its time after notebook N); beyond the limit they are extrapolated linearly (marked so).
This is not a timed test: the numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import sys
import time
import zipfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

from handins import HandIn, generate
from measure import Measured, run_measured

GiB = 2**30
# One thread per numeric library, as in the grader's workers: both sides do the same work per notebook.
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "NUMEXPR_NUM_THREADS": "1"}


@dataclass
class Row:
    sheet: str
    n: int
    system: str  # "grader" | "baseline"
    wall_seconds: float
    per_second: float
    own_compute_seconds: float  # the hand-ins' own execution time, summed
    cores: int
    fixed_seconds: float  # per command: before the first hand-in starts and after the last one ends
    overhead_per_hand_in: float  # (wall of the per-hand-in phase x cores - own compute) / N, core-seconds
    peak_gib: float
    cpu_seconds: float  # used by the run's whole process tree
    other_load: float  # CPUs kept busy by other work on the machine meanwhile (it slows the measured run)
    measured: bool  # False: extrapolated from the first --baseline-limit notebooks
    note: str = ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[25, 100, 400],
                        help="sheet 02 set sizes (none: skip sheet 02)")
    parser.add_argument("--sheet11", type=int, default=20, help="sheet 11 hand-ins (0: skip sheet 11)")
    parser.add_argument("--baseline-limit", type=int, default=100,
                        help="notebooks the baseline runs per sheet (0: all); beyond it, extrapolated")
    parser.add_argument("--jobs", type=int, default=None, help="passed to grader grade (default: its own)")
    parser.add_argument("--out", type=Path, default=BENCH / "results", help="where latest.{md,json,png} go")
    parser.add_argument("--keep", action="store_true", help="keep the generated hand-ins and outputs")
    args = parser.parse_args(argv)

    started = time.monotonic()
    work = args.out / "tmp" / datetime.now(UTC).strftime("run-%Y%m%d-%H%M%S")
    work.mkdir(parents=True)
    cores = args.jobs or os.cpu_count() or 1
    plans = [("sheet02", sorted(set(args.sizes)))] if args.sizes else []
    if args.sheet11 > 0:
        plans.append(("sheet11", [args.sheet11]))
    rows: list[Row] = []
    checks: dict = {}
    for sheet, sizes in plans:
        print(f"== {sheet}: generating {max(sizes)} hand-ins", flush=True)
        hand_ins = generate(sheet, max(sizes), work / f"{sheet}-all", REPO)
        notebooks = _extract(hand_ins, work / f"{sheet}-notebooks")
        baseline = _run_baseline(sheet, notebooks, hand_ins, args.baseline_limit, work)
        own = _own_compute(hand_ins, baseline)
        for n in sizes:
            folder = _first(hand_ins, n, work / f"{sheet}-{n}")
            print(f"== {sheet}: grader grade, N = {n}", flush=True)
            ours, run_info = _run_grader(sheet, folder, work / f"{sheet}-{n}-out", args.jobs)
            checks[f"{sheet}-{n}"] = run_info
            own_n = sum(own[:n])
            rows.append(_row(sheet, n, "grader", ours.wall_seconds, run_info["phase_seconds"], own_n, cores,
                             ours.peak_bytes, ours.cpu_seconds, ours.other_load, True,
                             f"{run_info['graded']} graded, sandbox {run_info['sandbox']}"))
            rows.append(_baseline_row(sheet, n, baseline, own_n))
    targets = _targets(rows, cores)
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": {"cpus": os.cpu_count(), "memory_gib": round(_total_memory() / GiB, 1),
                    "platform": platform.platform(), "python": platform.python_version()},
        "cores_used_by_grader": cores,
        "rows": [asdict(r) for r in rows],
        "grader_runs": checks,
        "targets": targets,
        "benchmark_minutes": round((time.monotonic() - started) / 60, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(result, indent=2) + "\n")
    from report import write_markdown, write_plot

    write_markdown(result, args.out / "latest.md")
    write_plot(result, args.out / "latest.png")
    print((args.out / "latest.md").read_text())
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


# --- the two systems -------------------------------------------------------------------------------------


def _run_grader(sheet: str, folder: Path, out: Path, jobs: int | None) -> tuple[Measured, dict]:
    grader = shutil.which("grader")
    command = [grader] if grader else [sys.executable, "-m", "grader.commands.cli"]
    command += ["grade", str(folder), "--sheet", sheet, "--out", str(out), "--course", str(REPO)]
    if jobs:
        command += ["--jobs", str(jobs)]
    measured = run_measured(command, cwd=REPO)
    if measured.returncode != 0:
        raise SystemExit(f"grader grade failed ({measured.returncode}):\n{measured.stdout[-3000:]}")
    with sqlite3.connect(out / "gradebook.db") as db:
        graded, errors, first, last = db.execute(
            "SELECT count(*), sum(error IS NOT NULL), min(started_at), max(finished_at) FROM gradings").fetchone()
        sandboxes = sorted({row[0] for row in db.execute("SELECT sandbox FROM gradings")})
        protections_off = sorted({p for row in db.execute("SELECT protections_off FROM gradings")
                                  for p in json.loads(row[0])})
    # The per-hand-in phase: from the first hand-in's start to the last one's end, as the gradebook has them.
    phase = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()
    return measured, {"graded": graded, "with_errors": errors or 0, "sandbox": ",".join(sandboxes),
                      "protections_off": protections_off, "wall_seconds": round(measured.wall_seconds, 2),
                      "phase_seconds": round(phase, 2)}


def _run_baseline(sheet: str, notebooks: list[Path], hand_ins: list[HandIn], limit: int, work: Path) -> dict:
    count = len(notebooks) if limit <= 0 else min(limit, len(notebooks))
    print(f"== {sheet}: baseline (one kernel per notebook), {count} notebooks", flush=True)
    log = work / f"{sheet}-baseline.jsonl"
    preload = ",".join(_preload(sheet))
    start = time.time()
    measured = run_measured([sys.executable, str(BENCH / "baseline.py"), str(log), preload,
                             *map(str, notebooks[:count])], cwd=work, env={**os.environ, **THREAD_ENV})
    records = [json.loads(line) for line in log.read_text().splitlines()]
    if measured.returncode != 0 or len(records) != count:
        raise SystemExit(f"the baseline failed ({measured.returncode}):\n{measured.stdout[-3000:]}")
    for record, hand_in in zip(records, hand_ins):
        record["kind"] = hand_in.kind
    return {"start": start, "records": records, "samples": measured.samples, "count": count,
            "other_load": measured.other_load, "cpu_seconds": measured.cpu_seconds, "wall": measured.wall_seconds}


def _preload(sheet: str) -> list[str]:
    import yaml

    rubric = yaml.safe_load((REPO / "rubrics" / f"{sheet}.yaml").read_text(encoding="utf-8"))
    return list(rubric.get("execution", {}).get("preload", ["numpy"]))


def _own_compute(hand_ins: list[HandIn], baseline: dict) -> list[float]:
    """Each hand-in's own compute as the baseline's kernel measured it; for hand-ins past the baseline's
    limit, the mean of the measured hand-ins of the same kind (hand-ins of one kind run the same code)."""
    measured = [r["compute"] for r in baseline["records"]]
    by_kind: dict[str, list[float]] = {}
    for record in baseline["records"]:
        by_kind.setdefault(record["kind"], []).append(record["compute"])
    mean = {kind: sum(v) / len(v) for kind, v in by_kind.items()}
    overall = sum(measured) / len(measured)
    return measured + [mean.get(h.kind, overall) for h in hand_ins[len(measured):]]


def _baseline_row(sheet: str, n: int, baseline: dict, own_n: float) -> Row:
    records, count = baseline["records"], baseline["count"]
    upto = min(n, count)
    finished = records[upto - 1]["finished"]
    wall = finished - baseline["start"]
    phase = sum(r["wall"] for r in records[:upto])  # each notebook from reading it to its kernel's shutdown
    peak = max((pss for t, pss in baseline["samples"] if t <= finished + 0.2), default=0)
    load = baseline["other_load"]
    cpu = baseline["cpu_seconds"] * wall / baseline["wall"]  # the share of the baseline's CPU up to notebook n
    if n <= count:
        return _row(sheet, n, "baseline", wall, phase, own_n, 1, peak, cpu, load, True)
    scale = n / count
    return _row(sheet, n, "baseline", (wall - phase) + phase * scale, phase * scale, own_n, 1, peak, cpu * scale,
                load, False, f"extrapolated from the first {count} notebooks")


def _row(sheet: str, n: int, system: str, wall: float, phase: float, own: float, cores: int, peak: int,
         cpu: float, other_load: float, measured: bool, note: str = "") -> Row:
    return Row(sheet, n, system, round(wall, 2), round(n / wall, 2), round(own, 2), cores, round(wall - phase, 2),
               round((phase * cores - own) / n, 3), round(peak / GiB, 2), round(cpu, 1), round(other_load, 2),
               measured, note)


def _targets(rows: list[Row], cores: int) -> list[dict]:
    def find(sheet: str, n: int, system: str) -> Row | None:
        return next((r for r in rows if (r.sheet, r.n, r.system) == (sheet, n, system)), None)

    targets = []
    ours, base = find("sheet02", 100, "grader"), find("sheet02", 100, "baseline")
    if ours and base:
        ratio = ours.per_second / base.per_second
        targets.append({"target": "sheet 02, N = 100: at least 10x the baseline's throughput",
                        "value": f"{ratio:.1f}x", "met": ratio >= 10})
        targets.append({"target": "sheet 02, N = 100: overhead per hand-in <= 0.1 s",
                        "value": f"{ours.overhead_per_hand_in:.3f} core-s", "met": ours.overhead_per_hand_in <= 0.1})
    ours = find("sheet02", 400, "grader")
    if ours:
        targets.append({"target": "sheet 02: 400 hand-ins in under 2 min", "value": f"{ours.wall_seconds:.1f} s",
                        "met": ours.wall_seconds < 120})
    eleven = next((r for r in rows if r.sheet == "sheet11" and r.system == "grader"), None)
    if eleven:
        bound = 1.2 * eleven.own_compute_seconds / cores
        free = max(0.5, cores - eleven.other_load)
        targets.append({"target": f"sheet 11 with the 11.3 training, N = {eleven.n}: wall <= 1.2 x own compute "
                                  f"/ cores ({bound:.1f} s)",
                        "value": f"{eleven.wall_seconds:.1f} s ({eleven.wall_seconds / bound * 1.2:.2f} x; "
                                 f"{eleven.wall_seconds * free / eleven.own_compute_seconds:.2f} x own compute / the "
                                 f"{free:.2f} CPUs other work left free)",
                        "met": eleven.wall_seconds <= bound})
    grader_rows = [r for r in rows if r.system == "grader"]
    if grader_rows:
        peak = max(r.peak_gib for r in grader_rows)
        targets.append({"target": f"peak memory of a whole run <= 4 GiB at the default --jobs ({cores})",
                        "value": f"{peak:.2f} GiB", "met": peak <= 4})
    return targets


# --- files -----------------------------------------------------------------------------------------------


def _extract(hand_ins: list[HandIn], dest: Path) -> list[Path]:
    """The notebook of every hand-in, for the baseline (unzipping is not timed: the baseline gets it free)."""
    paths = []
    for index, hand_in in enumerate(hand_ins):
        folder = dest / f"{index:04d}-{hand_in.path.stem}"
        folder.mkdir(parents=True)
        with zipfile.ZipFile(hand_in.path) as archive:
            (folder / hand_in.notebook).write_bytes(archive.read(hand_in.notebook))
        paths.append(folder / hand_in.notebook)
    return paths


def _first(hand_ins: list[HandIn], n: int, dest: Path) -> Path:
    """A folder with the first n hand-ins (in generation order) and their manifest rows."""
    dest.mkdir(parents=True)
    names = set()
    for hand_in in hand_ins[:n]:
        try:
            os.link(hand_in.path, dest / hand_in.path.name)
        except OSError:
            shutil.copy(hand_in.path, dest / hand_in.path.name)
        names.add(hand_in.path.name)
    lines = (hand_ins[0].path.parent / "manifest.csv").read_text(encoding="utf-8").splitlines()
    kept = [lines[0]] + [line for line in lines[1:] if line.split(",")[0] in names]
    (dest / "manifest.csv").write_text("\n".join(kept) + "\n", encoding="utf-8")
    return dest


def _total_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


if __name__ == "__main__":
    sys.exit(main())
