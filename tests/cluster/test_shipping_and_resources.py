"""What the coordinator ships is checked by hash on the worker; the rubric's resources route hand-ins."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from grader.cluster.dask_scheduler import course_code_roots
from grader.commands.batch import BatchError
from grader.rubric.fingerprint import rubric_fingerprint
from grader.cluster.devices import DeviceError, devices_for
from grader.cluster.parcels import CourseBundle, HandInParcel, ParcelError
from grader.intake.hand_in import NO_TIMING
from grader.rubric.load import RubricError, load_rubric
from tests.cluster.conftest import FAKE_RESOURCE, grade
from tests.cluster.test_faults import RIGHT, TOY, toy_hand_ins
from tests.conftest import write_notebook

NO_TIME = NO_TIMING


def toy_bundle() -> CourseBundle:
    loaded = load_rubric(TOY / "rubrics" / "toy.yaml", course_root=TOY)
    return CourseBundle.collect(TOY, loaded.path, course_code_roots(loaded), rubric_fingerprint(loaded))


def test_the_course_bundle_holds_the_rubric_and_the_reference_and_checks_them(tmp_path):
    bundle = toy_bundle()
    assert set(bundle.files) == {"rubrics/toy.yaml", "toy_reference/__init__.py"}
    rubric, reference = TOY / "rubrics" / "toy.yaml", TOY / "toy_reference" / "__init__.py"
    assert bundle.digests["rubrics/toy.yaml"] == hashlib.sha256(rubric.read_bytes()).hexdigest()
    unpacked = bundle.unpack(tmp_path / "course")
    assert (unpacked / "toy_reference" / "__init__.py").read_bytes() == reference.read_bytes()
    damaged = dataclasses.replace(bundle, files={**bundle.files, "toy_reference/__init__.py": b"ANSWER = 41\n"})
    with pytest.raises(ParcelError, match="toy_reference/__init__.py arrived damaged"):
        damaged.unpack(tmp_path / "elsewhere")
    assert not (tmp_path / "elsewhere").exists()  # nothing is written before every hash matched
    empty = hashlib.sha256(b"").hexdigest()
    swapped = dataclasses.replace(bundle, files={"../../evil.py": b""}, digests={"../../evil.py": empty})
    with pytest.raises(ParcelError):
        swapped.unpack(tmp_path / "evil")
    relabelled = dataclasses.replace(bundle, sha256="0" * 64)
    with pytest.raises(ParcelError, match="bundle's hash differs"):
        relabelled.verify()


def test_a_damaged_hand_in_is_not_graded(tmp_path):
    path = toy_hand_ins(tmp_path, 1, seconds=0)[0]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    parcel = HandInParcel.read(path, digest, NO_TIME, ("toy_0_ipynb", ""))
    parcel.verify()
    with pytest.raises(ParcelError, match="toy_0.ipynb arrived damaged"):
        dataclasses.replace(parcel, content=parcel.content + b" ").verify()
    with pytest.raises(ParcelError):
        dataclasses.replace(parcel, file_name="../toy_0.ipynb").verify()


def course_asking_for(resources: str, root: Path) -> Path:
    (root / "rubrics").mkdir(parents=True)
    text = (TOY / "rubrics" / "toy.yaml").read_text(encoding="utf-8")
    (root / "rubrics" / "toy.yaml").write_text(text.replace("questions:\n", f"resources: {resources}\nquestions:\n", 1),
                                               encoding="utf-8")
    (root / "toy_reference").symlink_to(TOY / "toy_reference", target_is_directory=True)
    return root


def test_the_rubrics_resources_are_validated(tmp_path):
    course = course_asking_for("{GPU: 0, 'two words': 1}", tmp_path / "course")
    with pytest.raises(RubricError) as error:
        load_rubric(course / "rubrics" / "toy.yaml", course_root=course, resolve=False)
    assert "field resources.GPU: Input should be greater than 0" in str(error.value)
    assert "resources.two words.[key]" in str(error.value)


DEVICE_CELL = """import os
with open({device!r}, "wb") as device:
    device.write(b"a kernel for the GPU")
visible = sorted(name for name in os.listdir("/dev") if name.startswith("grader-fake"))
assert visible == [os.path.basename({device!r})], visible"""


def test_the_sandbox_exposes_exactly_the_given_devices(sandbox, fake_devices, tmp_path):
    device, other = fake_devices
    if device is None:
        pytest.skip("making device files needs root")
    assert devices_for({FAKE_RESOURCE: 1, "MEMORY": 4e9}, f"{FAKE_RESOURCE}={device}") == [device]
    assert devices_for({"MEMORY": 4e9}, f"{FAKE_RESOURCE}={device}") == []
    with pytest.raises(DeviceError, match="is not a device file"):
        devices_for({FAKE_RESOURCE: 1}, f"{FAKE_RESOURCE}={tmp_path}")
    with pytest.raises(DeviceError, match="not NAME=/dev/file"):
        devices_for({FAKE_RESOURCE: 1}, "GPU")
    listing = "import os; print(sorted(n for n in os.listdir('/dev') if n.startswith('grader-fake')))"
    assert run_in(sandbox, listing, tmp_path / "plain") == "[]"
    exposed = run_in(sandbox.with_devices([device]), listing, tmp_path / "exposed")
    assert exposed == repr([Path(device).name])  # the other device file on the host stays hidden


def run_in(sandbox, code: str, workdir: Path) -> str:
    import sys

    from grader.execution.limits import ResourceLimits
    from grader.execution.sandbox import scrubbed_env

    workdir.mkdir()
    proc = sandbox.launch([sys.executable, "-I", "-c", code], workdir=workdir, limits=ResourceLimits(),
                          env=scrubbed_env(workdir / ".home", 0))
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        sandbox.kill(proc)
    assert proc.returncode == 0, err
    return out.decode().strip()


def test_hand_ins_needing_a_resource_go_only_to_workers_that_have_it(cluster, address, fake_devices, tmp_path):
    from distributed import Client

    spec, log = cluster
    with Client(address, set_as_default=False) as client:
        special = {worker for worker, info in client.scheduler_info()["workers"].items()
                   if info.get("resources", {}).get(FAKE_RESOURCE)}
    assert len(special) == 1
    course = course_asking_for(f"{{{FAKE_RESOURCE}: 1}}", tmp_path / "course")
    paths = toy_hand_ins(tmp_path / "hand-ins", 4, seconds=0)
    device, other = fake_devices
    if device:  # the sandbox shows the worker's device for FAKE_GPU, writable, and no other
        paths.append(write_notebook(tmp_path / "hand-ins" / "uses_the_device.ipynb", [*RIGHT, DEVICE_CELL.format(
            device=device)]))
    summary, records = grade(tmp_path / "hand-ins", tmp_path / "out", sheet="toy", course=course, address=address)
    assert sorted(summary.graded) == sorted(p.name for p in paths)
    assert all(r.error is None and r.failed_cells == [] for r in records.values()), \
        [r.failed_cells for r in records.values()]
    prefixes = {f"grade-{hashlib.sha256(p.read_bytes()).hexdigest()[:10]}" for p in paths}
    ran_on = {worker for key, worker in log.finished_on.items() if key[:16] in prefixes}
    assert ran_on == special


def test_a_resource_no_worker_has_stops_the_batch_before_grading(address, tmp_path):
    course = course_asking_for("{QUANTUM_CHIP: 2}", tmp_path / "course")
    toy_hand_ins(tmp_path / "hand-ins", 1, seconds=0)
    with pytest.raises(BatchError, match=r"asks for QUANTUM_CHIP=2 per hand-in, and no worker connected to .* has "
                                         r"it: start workers with `dask worker .* --resources \"QUANTUM_CHIP=2\"`"):
        grade(tmp_path / "hand-ins", tmp_path / "out", sheet="toy", course=course, address=address)
