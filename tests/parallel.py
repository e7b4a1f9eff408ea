"""How pytest-xdist splits the suite between its two workers (pyproject.toml's addopts: `-n 2 --dist loadscope`).

A work unit goes to one worker as a whole. A unit is a test module, so that what a module-scoped fixture builds
(a graded batch, a warm pool) is built once, except for these folders, which are one unit each:

- tests/hostile, tests/pool and tests/cluster (`timing`): the tests that wait out time limits, watch the warm
  pool or kill Dask workers run one after another on one worker, so that two of their batches never run at the
  same time (the hostile corpus is graded locally and on the cluster);
- folders whose modules share an expensive session-scoped fixture, which would otherwise be built on both
  workers: the graded batches of tests/browser and tests/unplanned, of tests/export and of tests/manual, and
  the corpus of tests/similarity.

The units known to take longest are handed out first (then the others by test count, as xdist does), so that
no worker starts a long unit when the other is about to run out of work.
"""

from __future__ import annotations

SHARED_UNITS = {
    "hostile": "timing",
    "pool": "timing",
    "cluster": "timing",
    "browser": "pages",
    "unplanned": "pages",
    "export": "export",
    "manual": "manual",
    "similarity": "similarity",
}
# Longest first, from `--durations` of a full run; only the order in which units are handed out depends on it.
LONGEST_FIRST = ["timing", "pages", "tests/engine/test_selftest.py", "tests/ci/test_selftest_cli.py",
                 "tests/engine/test_hand_in_forms.py", "similarity", "tests/ci/test_pytest_plugin.py"]


def work_unit(nodeid: str) -> str:
    """The unit of a test: its shared folder's unit, or its module's path."""
    path = nodeid.split("::", 1)[0]
    parts = path.split("/")
    if len(parts) > 2 and parts[0] == "tests" and parts[1] in SHARED_UNITS:
        return SHARED_UNITS[parts[1]]
    return path


def make_scheduler(config, log):
    """xdist's LoadScopeScheduling with the units above as its scopes, the longest handed out first."""
    from xdist.scheduler import LoadScopeScheduling

    rank = {unit: index for index, unit in enumerate(LONGEST_FIRST)}

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

        def _assign_work_unit(self, node) -> None:
            first = min(self.workqueue, key=lambda unit: (rank.get(unit, len(rank)), -len(self.workqueue[unit])))
            self.workqueue.move_to_end(first, last=False)
            super()._assign_work_unit(node)

    return UnitScheduling(config, log)
