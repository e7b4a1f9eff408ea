"""The coordinator side: the batch's hand-ins graded on a running Dask cluster.

`DaskScheduler` is one of the batch's schedulers (grader/cluster/scheduler.py: HandInScheduler): the batch works out
what to grade, stores each record as it arrives and writes the reports, exactly as for a local run; this module
only decides where each hand-in is graded.

* `open`: checks the address (grader.cluster.address), connects (unreachable: one line naming the address),
  waits for a worker, ships the course once per worker in a `GradingPlugin` (a worker that cannot grade, e.g.
  without bubblewrap, stops the batch before anything is graded), and checks that some worker has the
  resources the rubric asks for.
* `grade`: submits the hand-ins as tasks (a bounded window of them, so the coordinator never holds every
  hand-in's bytes at once), with the rubric's resources, and yields each record once, as its future completes.
  A worker that dies mid-hand-in is Dask's to handle: the scheduler gives the task to another worker and the
  record says nothing of it. When the workers running a hand-in have died more often than the scheduler's
  `allowed-failures` (we recommend 1: a second death ends it), the hand-in gets an error and a `crash` flag
  and the batch goes on. The scheduler lost midway: `SchedulerLost`; what is stored stays.
* `close`: removes the plugin (teardown stops the warm pools) and disconnects.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from grader.cluster.adapter import failed_record, place_run_files, unpack_for_reports
from grader.cluster.errors import ClusterError, SchedulerLost
from grader.cluster.address import ClusterAddressError, ClusterOptions, check_address, client_security
from grader.cluster.scheduler import BatchContext, GradingProgress
from grader.cluster.parcels import CourseBundle, HandInParcel
from grader.intake.flags import FlagRecord
from grader.intake.hand_in import IntakeRules, file_sha256, hand_in_name
from grader.rubric.fingerprint import course_modules
from grader.rubric.load import LoadedRubric
from grader.scoring.grade import PlannedSheet, plan_sheet
from grader.scoring.record import GradingRecord

PLUGIN_PREFIX = "grader-course-"


class DaskScheduler:
    needs_plans = False  # the workers plan with their own copy of the course
    sandbox = None  # no student code runs on the coordinator

    def __init__(self, options: ClusterOptions, console: Console | None, *, require_sandbox: bool = True,
                 warm: bool = True) -> None:
        self.options = options
        self.console = console
        self.require_sandbox = require_sandbox
        self.warm = warm
        self.sandbox_name = f"dask {options.address}"
        self.protections_off: list[str] = []
        self.record_sandbox = ""  # what a grading record names: the warm pool's name when the workers have one
        self.client = None
        self.plugin_name: str | None = None
        self.resources: dict[str, float] = {}
        self.allowed_failures: int | None = None
        self.dashboard: str | None = None
        self.dashboard_pages = False  # bokeh beside the scheduler: the dashboard has its pages
        self._futures: dict = {}
        self._planned: PlannedSheet | None = None  # only when the coordinator must write a record itself
        self._rubric_sha256 = ""

    # --- opening -----------------------------------------------------------------------------------------------

    def open(self, loaded: LoadedRubric, rubric_sha256: str, rules: IntakeRules) -> None:
        try:
            check_address(self.options)
        except ClusterAddressError as exc:
            raise ClusterError(str(exc)) from None
        try:
            from distributed import Client
        except ImportError:
            raise ClusterError("grading on a Dask cluster needs Dask: pip install 'sheet-grader[cluster]'") from None
        address = self.options.address
        try:
            self.client = Client(address, security=client_security(self.options), set_as_default=False,
                                 timeout=self.options.connect_timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {address}: {_first_line(exc)}") from None
        try:
            self._prepare_workers(loaded, rubric_sha256, rules)
        except BaseException:
            self.close()
            raise

    def _prepare_workers(self, loaded: LoadedRubric, rubric_sha256: str, rules: IntakeRules) -> None:
        from grader.cluster.plugin import GradingPlugin, worker_report

        address, client = self.options.address, self.client
        try:
            client.wait_for_workers(1, timeout=self.options.connect_timeout)
        except TimeoutError:
            raise ClusterError(f"no Dask worker is connected to the scheduler at {address} (waited "
                             f"{self.options.connect_timeout:g} s); start workers with `dask worker {address}`"
                             ) from None
        self.resources = dict(loaded.rubric.resources)
        workers = client.scheduler_info().get("workers", {})
        if self.resources and not any(_has(w.get("resources", {}), self.resources) for w in workers.values()):
            wanted = ",".join(f"{name}={amount:g}" for name, amount in self.resources.items())
            raise ClusterError(f"the rubric asks for {wanted} per hand-in, and no worker connected to {address} has "
                             f"it: start workers with `dask worker {address} --resources \"{wanted}\"`")
        self._remove_abandoned_plugins()
        self._rubric_sha256 = rubric_sha256
        bundle = CourseBundle.collect(loaded.course_root, loaded.path, course_code_roots(loaded), rubric_sha256)
        # The workers get the intake rules without the timing rule: each hand-in brings its time and lateness.
        plugin = GradingPlugin(bundle, dataclasses.replace(rules, timing=None),  # type: ignore[arg-type]
                               require_sandbox=self.require_sandbox, warm=self.warm)
        # One plugin per coordinator (its client id in the name): another tutor's batch keeps its own.
        self.plugin_name = plugin.name = f"{PLUGIN_PREFIX}{bundle.sha256[:12]}-{client.id}"
        try:
            client.register_plugin(plugin, name=self.plugin_name)
        except Exception as exc:  # noqa: BLE001 - raised on a worker: its message is what matters
            raise ClusterError(f"a Dask worker of {address} cannot grade: {_first_line(exc)}") from None
        reports = client.run(worker_report, self.plugin_name)
        broken = {worker: r["problem"] for worker, r in reports.items() if not r["ready"]}
        if broken:
            worker, problem = next(iter(broken.items()))
            raise ClusterError(f"the Dask worker {worker} cannot grade: {problem}")
        self.sandbox_name = ", ".join(sorted({r["sandbox"] for r in reports.values()}))
        self.record_sandbox = ", ".join(sorted({r["record_sandbox"] for r in reports.values()}))
        self.protections_off = sorted({name for r in reports.values() for name in r["protections_off"]})
        try:
            self.allowed_failures = client.run_on_scheduler(_allowed_failures)
        except Exception:  # noqa: BLE001 - only used to word a message
            self.allowed_failures = None
        info = client.scheduler_info()
        self.dashboard = client.dashboard_link if "dashboard" in info.get("services", {}) else None
        try:
            self.dashboard_pages = bool(client.run_on_scheduler(_has_bokeh))
        except Exception:  # noqa: BLE001 - only used to word a message
            self.dashboard_pages = False
        if self.console is not None:
            threads = sum(r["nthreads"] for r in reports.values())
            warm = sum(r["warm"] for r in reports.values())
            self.console.print(
                f"Dask scheduler {escape(address)}: {len(reports)} worker(s), {threads} thread(s); "
                f"{warm} with a warm pool; sandbox {escape(self.sandbox_name)}", highlight=False)
            if self.dashboard is None:
                dashboard = "not running on the scheduler"
            elif self.dashboard_pages:
                dashboard = escape(self.dashboard)
            else:
                dashboard = (f"{escape(self.dashboard)} (without its pages: bokeh is not installed beside the "
                             "scheduler; pip install bokeh there to see them)")
            self.console.print(f"Dask dashboard: {dashboard}", highlight=False)

    def _remove_abandoned_plugins(self) -> None:
        """Plugins (and their warm pools) left by coordinators that were killed: their client is gone."""
        client = self.client
        try:
            clients = set(client.run_on_scheduler(_client_ids))
            names = {name for found in client.run(_grader_plugins).values() for name in found}
        except Exception:  # noqa: BLE001 - tidying up is best effort
            return
        for name in names:
            if not any(name.endswith(f"-{client_id}") for client_id in clients):
                try:
                    client.unregister_worker_plugin(name)
                except Exception:  # noqa: BLE001
                    pass

    # --- grading -----------------------------------------------------------------------------------------------

    def grade(self, todo: list[Path], context: BatchContext, progress: GradingProgress) -> Iterator[GradingRecord]:
        """Yield each hand-in's record as its future completes (the context's rules, out, folders and loaded
        rubric are used here; its planned sheet and sandbox are the workers' own)."""
        from distributed import as_completed

        from grader.cluster.plugin import grade_on_worker

        client = self.client
        progress.where = self._where
        threads = sum(client.nthreads().values()) or 1
        window = max(4, 2 * threads)
        waiting = iter(todo)
        completed = as_completed(loop=client.loop)

        def submit_next() -> None:
            path = next(waiting, None)
            if path is None:
                return
            name = hand_in_name(path)
            digest = file_sha256(path)
            folder = context.folder(name)
            parcel = HandInParcel.read(path, digest, context.rules.timing.of(path), folder, context.out)
            future = client.submit(grade_on_worker, parcel, self.plugin_name, pure=False,
                                   key=f"grade-{digest[:10]}-{uuid.uuid4().hex[:8]}",
                                   resources=self.resources or None)
            self._futures[future.key] = (future, path, folder)
            completed.add(future)
            progress.started(name)

        for _ in range(min(window, len(todo))):
            submit_next()
        for future in completed:
            _, path, folder = self._futures.pop(future.key)
            record = self._record(future, path, folder, context)
            yield record
            submit_next()

    def _record(self, future, path: Path, folder: tuple[str, str], context: BatchContext) -> GradingRecord:
        """The worker's record (its files unpacked into OUT here too), or the coordinator's own record of a
        hand-in the cluster could not grade."""
        from distributed import KilledWorker

        try:
            graded = future.result()
        except KilledWorker as exc:
            times = f"{self.allowed_failures + 1} times" if self.allowed_failures is not None else "repeatedly"
            error = (f"the Dask workers grading this hand-in died {times} (last: {_first_line(exc)}); it was not "
                     "graded again: it may take down its worker (memory beyond what the machine has?) or the "
                     "machines were lost. `grader grade --force` tries again.")
            record = self._not_graded(path, folder, context, error)
            record.flags.append(FlagRecord("crash", error))
            return record
        except Exception as exc:  # noqa: BLE001
            cancelled_by_loss = type(exc).__name__.endswith("CancelledError") and "connection" in str(exc).lower()
            if self.client.status != "running" or cancelled_by_loss:
                raise SchedulerLost(f"lost the Dask scheduler at {self.options.address}") from None
            error = f"the grader failed on this hand-in on a Dask worker: {type(exc).__name__}: {_first_line(exc)}"
            record = self._not_graded(path, folder, context, error)
            record.status = "error"  # a grader failure: the next run grades it again
            record.flags.append(FlagRecord("grading_error", error))
            return record
        record = graded.record
        unpack_for_reports(path, record, context.out, context.rules.sheet_number)
        place_run_files(context.out, record, graded.run_files)
        return record

    def _not_graded(self, path: Path, folder: tuple[str, str], context: BatchContext, error: str) -> GradingRecord:
        """The coordinator plans the sheet only when it must write a record itself (a hand-in not graded)."""
        if self._planned is None:
            self._planned = plan_sheet(context.loaded, rubric_sha256=self._rubric_sha256)
        return failed_record(path, folder, self._planned, context.rules, context.out, error, self.record_sandbox,
                             self.protections_off)

    def _where(self) -> str:
        try:
            workers = len(self.client.scheduler_info().get("workers", {}))
        except Exception:  # noqa: BLE001 - the progress line must not fail
            return "workers: unknown"
        return f"{workers} worker{'s' if workers != 1 else ''} connected"

    # --- stopping ----------------------------------------------------------------------------------------------

    def stop(self) -> None:
        futures = [future for future, _, _ in self._futures.values()]
        self._futures.clear()
        if self.client is not None and futures and self.client.status == "running":
            try:
                self.client.cancel(futures)
            except Exception:  # noqa: BLE001
                pass

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            if self.plugin_name is not None and client.status == "running":
                client.unregister_worker_plugin(self.plugin_name)
        except Exception:  # noqa: BLE001 - the workers may be gone; their teardown ran or they died
            pass
        finally:
            client.close()


def course_code_roots(loaded: LoadedRubric) -> list[Path]:
    """The top-level course packages (folders) and modules (.py files) the rubric names, that exist."""
    root = Path(loaded.course_root)
    roots = []
    for top in sorted({module.split(".")[0] for module in course_modules(loaded)}):
        package, module = root / top, root / f"{top}.py"
        if package.is_dir():
            roots.append(package)
        elif module.is_file():
            roots.append(module)
    return roots


def _has(available: dict[str, float], wanted: dict[str, float]) -> bool:
    return all(available.get(name, 0) >= amount for name, amount in wanted.items())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _allowed_failures(dask_scheduler) -> int:
    return int(dask_scheduler.allowed_failures)


def _client_ids(dask_scheduler) -> list[str]:
    return list(dask_scheduler.clients)


def _grader_plugins(dask_worker) -> list[str]:
    return [name for name in dask_worker.plugins if name.startswith(PLUGIN_PREFIX)]


def _has_bokeh() -> bool:
    import importlib.util

    return importlib.util.find_spec("bokeh") is not None
