"""The benchmark's outputs: a Markdown table with the targets, and a plot of time against N."""

from __future__ import annotations

from pathlib import Path


def write_markdown(result: dict, path: Path) -> None:
    machine = result["machine"]
    lines = [
        "# Batch grading benchmark: latest run",
        "",
        (f"`{result['command']}` on {result['date']}, {machine['cpus']} CPUs, {machine['memory_gib']} GiB, "
         f"{machine['platform']}, Python {machine['python']}; the benchmark took {result['benchmark_minutes']} min."),
        "",
        (f"*grader*: `grader grade` with its defaults (warm sandboxed pool, --jobs {result['cores_used_by_grader']}). "
         "*baseline*: nbclient, one fresh kernel per notebook, one notebook at a time (what nbgrader and "
         "Otter-Grader do underneath); it only executes the notebook, without the grader's checks."),
        ("Own compute: the hand-ins' cells, summed, as the baseline's kernel timed them after importing the "
         "preloaded modules. Fixed: the part of the wall time before the first hand-in starts and after the last "
         "one ends (start-up, planning, reports), paid once per command. Overhead per hand-in: "
         "(wall time of the per-hand-in phase x cores used - own compute) / N, in core-seconds. "
         "Peak memory: PSS of the whole process tree. CPU time: of the whole process tree. Other load: how many "
         "of the CPUs other work on the machine kept busy meanwhile (the grader uses all CPUs, so it suffers from "
         "that more than the one-notebook-at-a-time baseline)."),
        "",
        ("| sheet | N | system | wall (s) | hand-ins/s | own compute (s) | cores | fixed (s) "
         "| overhead/hand-in (core-s) | peak memory (GiB) | CPU time (s) | other load (CPUs) | note |"),
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in result["rows"]:
        mark = "" if row["measured"] else " *"
        lines.append(f"| {row['sheet']} | {row['n']} | {row['system']} | {row['wall_seconds']:.1f}{mark} | "
                     f"{row['per_second']:.2f}{mark} | {row['own_compute_seconds']:.1f} | {row['cores']} | "
                     f"{row['fixed_seconds']:.1f} | {row['overhead_per_hand_in']:.3f}{mark} | "
                     f"{row['peak_gib']:.2f} | {row['cpu_seconds']:.1f}{mark} | {row['other_load']:.2f} | "
                     f"{row['note']} |")
    if any(not row["measured"] for row in result["rows"]):
        lines += ["", "\\* extrapolated linearly from the notebooks the baseline ran (see the note)."]
    lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for target in result["targets"]:
        lines.append(f"| {target['target']} | {target['value']} | {'yes' if target['met'] else '**no**'} |")
    lines += ["", "## The grader's runs", "", "| run | graded | with errors | sandbox | protections off |",
              "|---|---:|---:|---|---|"]
    for name, run in result["grader_runs"].items():
        lines.append(f"| {name} | {run['graded']} | {run['with_errors']} | {run['sandbox']} | "
                     f"{', '.join(run['protections_off']) or 'none'} |")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_plot(result: dict, path: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    sheet11 = [r for r in rows if r["sheet"] == "sheet11"]
    figure, axes = plt.subplots(1, 2 if sheet11 else 1, figsize=(11 if sheet11 else 6, 4.2), squeeze=False)
    left = axes[0][0]
    sizes = sorted({r["n"] for r in rows if r["sheet"] == "sheet02"})
    for system, marker in (("grader", "o"), ("baseline", "s")):
        points = sorted((r["n"], r["wall_seconds"], r["measured"]) for r in rows
                        if r["sheet"] == "sheet02" and r["system"] == system)
        if not points:
            continue
        label = "grader grade (warm pool)" if system == "grader" else "kernel per notebook (baseline)"
        measured = [p for p in points if p[2]]
        line, = left.plot([p[0] for p in measured], [p[1] for p in measured], marker + "-", label=label)
        unmeasured = [p for p in points if not p[2]]
        if unmeasured:
            joined = measured[-1:] + unmeasured
            left.plot([p[0] for p in joined], [p[1] for p in joined], "--", color=line.get_color())
            left.plot([p[0] for p in unmeasured], [p[1] for p in unmeasured], marker, markerfacecolor="white",
                      color=line.get_color(), label=f"{system}, extrapolated")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xticks(sizes, [str(n) for n in sizes])
    left.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    left.set_xlabel("hand-ins (N)")
    left.set_ylabel("wall time (s)")
    left.set_title("Sheet 02: time against N")
    left.grid(True, which="both", alpha=0.3)
    left.legend()
    if sheet11:
        right = axes[0][1]
        ours = next(r for r in sheet11 if r["system"] == "grader")
        base = next(r for r in sheet11 if r["system"] == "baseline")
        ideal = ours["own_compute_seconds"] / ours["cores"]
        labels = ["baseline", "grader grade", "own compute\n/ cores", "target\n(1.2 x that)"]
        values = [base["wall_seconds"], ours["wall_seconds"], ideal, 1.2 * ideal]
        right.bar(labels, values, color=["#888888", "#1f77b4", "#2ca02c", "#d62728"])
        right.set_ylabel("seconds")
        right.set_title(f"Sheet 11 with the 11.3 training, N = {ours['n']}")
        for x, value in enumerate(values):
            right.text(x, value, f"{value:.0f}", ha="center", va="bottom")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
