"""The worker side: a Dask WorkerPlugin that makes a Dask worker process able to grade one course's sheet.

`setup` (once per worker process, also for a worker that joins later) checks the shipped course's hashes,
unpacks it into a private folder, plans every check with the worker's own copy of the reference, finds the
sandbox (bubblewrap, unless the tutor allowed the fallback) and starts the warm pool, one slot per worker
thread, with the rubric's limits: the same pool `grader grade` uses on one machine. `teardown` (the batch's
end, or the worker closing) stops the pool and removes the folder. A worker killed outright takes its zygotes
down with it (bubblewrap's --die-with-parent).

Student code never runs in the Dask worker's own process: `grade_on_worker` hands the hand-in to the pool,
whose sandboxes see neither the course folder nor other hand-ins (docs/sandbox.md).
"""

from __future__ import annotations

import asyncio
import importlib
import shutil
import sys
import tempfile
import threading
from pathlib import Path

from distributed import WorkerPlugin, get_worker

from grader.cluster.adapter import GradedParcel, grade_parcel, plan_course, quick_settings
from grader.cluster.devices import devices_for
from grader.cluster.parcels import CourseBundle, HandInParcel
from grader.execution.local_sandbox import started_pool
from grader.execution.pool import WarmPool
from grader.execution.sandbox import BubblewrapSandbox, Sandbox, SandboxUnavailable, find_sandbox
from grader.intake.hand_in import IntakeRules
from grader.scoring.grade import PlannedSheet


class WorkerNotReady(RuntimeError):
    """This worker has no usable course set up (its plugin failed, or it joined without one)."""


class GradingPlugin(WorkerPlugin):
    """Hosts the course and the warm pool in one Dask worker process; registered per batch by the coordinator."""

    def __init__(self, bundle: CourseBundle, rules: IntakeRules, *, require_sandbox: bool = True,
                 warm: bool = True) -> None:
        self.bundle = bundle
        self.rules = rules  # naming, sheet number, PDF reader; each hand-in brings its own time and lateness
        self.require_sandbox = require_sandbox
        self.warm = warm
        self.name = plugin_name(bundle)
        self._reset()

    def _reset(self) -> None:
        self.course: PlannedSheet | None = None
        self.sandbox: Sandbox | None = None
        self.pool: WarmPool | None = None
        self.folder: Path | None = None
        self.problem: str | None = None
        self.devices: list[str] = []  # device files the sandbox exposes (grader/cluster/devices.py)

    def __getstate__(self) -> dict:
        # Only the settings and the bundle travel to the workers; the live state is made there.
        return {"bundle": self.bundle, "rules": self.rules, "require_sandbox": self.require_sandbox,
                "warm": self.warm, "name": self.name}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._reset()

    async def setup(self, worker) -> None:
        # In a thread: planning runs the reference, and the worker must keep answering the scheduler meanwhile.
        await asyncio.to_thread(self._setup, worker.state.nthreads)

    def _setup(self, slots: int) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=f"grader-course-{self.bundle.sha256[:12]}-"))
        try:
            self.bundle.unpack(self.folder)
            _import_from(self.folder, self.bundle)
            try:
                base = find_sandbox(require=self.require_sandbox)
            except SandboxUnavailable as exc:
                raise WorkerNotReady(f"{exc}; install bubblewrap on this worker (or pass --unsafe-no-sandbox to "
                                     "grade with the weaker process sandbox)") from None
            settings, resources = quick_settings(self.folder, self.bundle.rubric_path)
            devices = devices_for(resources)
            if devices:
                if not isinstance(base, BubblewrapSandbox):
                    raise WorkerNotReady(f"the rubric's resources need device files ({', '.join(devices)}) that "
                                         "only the bubblewrap sandbox can expose")
                base = base.with_devices(devices)
            self.devices = devices
            if self.warm and isinstance(base, BubblewrapSandbox):
                # Warming (import torch in the zygotes) runs while the reference plans the checks.
                self.pool = started_pool(base, slots=max(1, slots), settings=settings)
            self.sandbox = self.pool if self.pool is not None else base
            self.course = plan_course(self.folder, self.bundle.rubric_path, self.bundle.rubric_fingerprint)
        except BaseException as exc:
            self.problem = f"{type(exc).__name__}: {exc}"
            self.teardown(None)
            raise

    def teardown(self, worker) -> None:
        if self.pool is not None:
            self.pool.close()
        if self.folder is not None:
            _forget_imports(self.folder, self.bundle)
            shutil.rmtree(self.folder, ignore_errors=True)
        problem = self.problem
        self._reset()
        self.problem = problem

    def report(self) -> dict:
        """What this worker grades with, for the coordinator's summary and checks."""
        if self.course is None or self.sandbox is None:
            return {"ready": False, "problem": self.problem or "not set up"}
        base = self.pool.base if self.pool is not None else self.sandbox
        return {"ready": True, "sandbox": base.name, "record_sandbox": self.sandbox.name,
                "warm": self.pool is not None, "devices": list(self.devices),
                "protections_off": sorted(name for name, on in self.sandbox.protections().items() if not on)}


def plugin_name(bundle: CourseBundle) -> str:
    return f"grader-course-{bundle.sha256[:16]}"


def grade_on_worker(parcel: HandInParcel, name: str) -> GradedParcel:
    """The Dask task: grade one hand-in with this worker's course and warm pool."""
    plugin = get_worker().plugins.get(name)
    if not isinstance(plugin, GradingPlugin) or plugin.course is None or plugin.sandbox is None:
        problem = getattr(plugin, "problem", None) or "the grading plugin is not set up on this worker"
        raise WorkerNotReady(problem)
    return grade_parcel(parcel, plugin.course, plugin.rules, plugin.sandbox)


def worker_report(name: str, dask_worker) -> dict:
    """Run on every worker by the coordinator (`Client.run`, which passes `dask_worker`) after registering the
    plugin."""
    worker = dask_worker
    plugin = worker.plugins.get(name)
    report = plugin.report() if isinstance(plugin, GradingPlugin) else {"ready": False, "problem": "no plugin"}
    report["resources"] = dict(worker.state.total_resources)
    report["nthreads"] = worker.state.nthreads
    return report


_IMPORT_LOCK = threading.Lock()


def _top_level_names(bundle: CourseBundle) -> set[str]:
    names = set()
    for path in bundle.files:
        if path == bundle.rubric_path:
            continue
        first = path.split("/", 1)[0]
        names.add(first[:-3] if first.endswith(".py") else first)
    return names


def _import_from(folder: Path, bundle: CourseBundle) -> None:
    """Make the course's packages import from this worker's copy, not from a copy an earlier batch (or the
    worker's own working folder) left in the process."""
    with _IMPORT_LOCK:
        _drop_modules(_top_level_names(bundle))
        sys.path.insert(0, str(folder.resolve()))
        importlib.invalidate_caches()


def _forget_imports(folder: Path, bundle: CourseBundle) -> None:
    with _IMPORT_LOCK:
        _drop_modules(_top_level_names(bundle))
        for entry in (str(folder), str(folder.resolve())):
            while entry in sys.path:
                sys.path.remove(entry)


def _drop_modules(names: set[str]) -> None:
    for module in list(sys.modules):
        if module.split(".", 1)[0] in names:
            del sys.modules[module]
