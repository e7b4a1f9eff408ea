"""The grader's peak memory on issue 13's reply flood, measured in a fresh process (not a timed test).

    python bench/flood_memory.py            # prints one line per case and the verdict against the 1 GB target

Each case grades, with `jobs=1` and the warm pool, one honest hand-in (the sheet 02 master) and one hand-in
whose `forget_gate_delta` returns 4,000,000 numbers on each of its eight calls, as numpy arrays or as a Python
list of floats, in a child process of its own, and reports that process's peak resident memory (ru_maxrss).
The baseline grades the honest hand-in twice. Before issue 13 the grader kept every reply: 4,000,000 floats per
reply took it to 5.3 GB; now a hand-in's replies are capped at twice a worker's element budget, long numeric
lists are kept as arrays, and the rest of the replies are refused as errors of their calls.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_BYTES = 2**30

FLOODS = {
    "baseline": None,
    "arrays": "import numpy as np\nimport torch\ndef forget_gate_delta(net_phi, zeta, s_prev):\n    return np.full(4_000_000, 0.5)",
    "float_lists": "import numpy as np\nimport torch\ndef forget_gate_delta(net_phi, zeta, s_prev):\n    return [0.5] * 4_000_000",
}

CHILD = """
import json, resource, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from grader.commands.batch import BatchOptions, run_batch
from grader.store.gradebook import Gradebook
from submissions.make_examples import Member, make_zip, notebook_bytes, zip_name
from tests.hostile.corpus import MAIN_FILE, master_notebook

base, flood = Path(sys.argv[2]), json.loads(sys.argv[3])
hand_ins = base / "hand-ins"
hand_ins.mkdir(parents=True)
for index, replace in enumerate([None, flood]):
    team = [Member(f"Ada Flood{'ab'[index]}", str(2320000 + 2 * index), "a@uni.example"),
            Member(f"Ben Flood{'ab'[index]}", str(2320001 + 2 * index), "b@uni.example")]
    notebook = master_notebook(team, replace={"1b": replace} if replace else None)
    (hand_ins / zip_name(team)).write_bytes(make_zip({MAIN_FILE: notebook_bytes(notebook)}))
summary = run_batch(BatchOptions(hand_ins=hand_ins, sheet="sheet02", out=base / "out", course=Path(sys.argv[1]),
                                 jobs=1))
with Gradebook.open(summary.db_path) as book:
    records = [r.record for r in book.results("sheet02")]
print(json.dumps({"peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "points": sorted(r.auto_points for r in records), "sandboxes": sorted({r.sandbox for r in records})}))
"""


def main() -> int:
    worst = 0
    for case, flood in FLOODS.items():
        with tempfile.TemporaryDirectory(prefix="grader-flood-") as tmp:
            done = subprocess.run([sys.executable, "-c", CHILD, str(REPO), tmp, json.dumps(flood)],
                                  capture_output=True, text=True, cwd=REPO)
        if done.returncode != 0:
            print(f"{case}: failed\n{done.stderr[-3000:]}")
            return 1
        found = json.loads(done.stdout.strip().splitlines()[-1])
        worst = max(worst, found["peak_bytes"])
        print(f"{case:12} grader peak {found['peak_bytes'] / 2**30:.2f} GiB, points {found['points']}, "
              f"sandbox {', '.join(found['sandboxes'])}")
    print(f"worst peak {worst / 2**30:.2f} GiB: {'meets' if worst < TARGET_BYTES else 'MISSES'} the 1 GB target")
    return 0 if worst < TARGET_BYTES else 1


if __name__ == "__main__":
    sys.exit(main())
