"""What the coordinator ships is checked by hash on the worker; the rubric's resources route hand-ins."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from grader.batch import BatchError, course_code_roots, rubric_fingerprint
from grader.cluster.parcels import CourseBundle, HandInParcel, ParcelError
from grader.gradebook import HandInTiming
from grader.rubric.load import RubricError, load_rubric
from tests.cluster.conftest import FAKE_RESOURCE, grade
from tests.cluster.test_faults import TOY, toy_hand_ins

NO_TIME = HandInTiming(None, "unknown", "", False, 0.0, 0, 1.0, "", "{}", ())


def toy_bundle() -> CourseBundle:
    loaded = load_rubric(TOY / "rubrics" / "toy.yaml", course_root=TOY)
    return CourseBundle.collect(TOY, loaded.path, course_code_roots(loaded), rubric_fingerprint(loaded))


def test_the_course_bundle_holds_the_rubric_and_the_reference_and_checks_them(tmp_path):
    bundle = toy_bundle()
    assert set(bundle.files) == {"rubrics/toy.yaml", "toy_reference/__init__.py"}
    assert bundle.digests["rubrics/toy.yaml"] == hashlib.sha256((TOY / "rubrics" / "toy.yaml").read_bytes()).hexdigest()
    unpacked = bundle.unpack(tmp_path / "course")
    assert (unpacked / "toy_reference" / "__init__.py").read_bytes() == (TOY / "toy_reference" / "__init__.py").read_bytes()
    damaged = dataclasses.replace(bundle, files={**bundle.files, "toy_reference/__init__.py": b"ANSWER = 41\n"})
    with pytest.raises(ParcelError, match="toy_reference/__init__.py arrived damaged"):
        damaged.unpack(tmp_path / "elsewhere")
    assert not (tmp_path / "elsewhere").exists()  # nothing is written before every hash matched
    swapped = dataclasses.replace(bundle, files={"../../evil.py": b""}, digests={"../../evil.py": hashlib.sha256(b"").hexdigest()})
    with pytest.raises(ParcelError):
        swapped.unpack(tmp_path / "evil")
    relabelled = dataclasses.replace(bundle, sha256="0" * 64)
    with pytest.raises(ParcelError, match="bundle's hash differs"):
        relabelled.verify()


def test_a_damaged_hand_in_is_not_graded(tmp_path):
    path = toy_hand_ins(tmp_path, 1, seconds=0)[0]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    parcel = HandInParcel.read(path, digest, NO_TIME)
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


def test_hand_ins_needing_a_resource_go_only_to_workers_that_have_it(cluster, address, tmp_path):
    from distributed import Client

    spec, log = cluster
    with Client(address, set_as_default=False) as client:
        special = {worker for worker, info in client.scheduler_info()["workers"].items()
                   if info.get("resources", {}).get(FAKE_RESOURCE)}
    assert len(special) == 1
    course = course_asking_for(f"{{{FAKE_RESOURCE}: 1}}", tmp_path / "course")
    paths = toy_hand_ins(tmp_path / "hand-ins", 4, seconds=0)
    summary, records = grade(tmp_path / "hand-ins", tmp_path / "out", sheet="toy", course=course, address=address)
    assert sorted(summary.graded) == sorted(p.name for p in paths)
    assert all(r.error is None for r in records.values())
    prefixes = {f"grade-{hashlib.sha256(p.read_bytes()).hexdigest()[:10]}" for p in paths}
    ran_on = {worker for key, worker in log.finished_on.items() if key[:16] in prefixes}
    assert ran_on == special


def test_a_resource_no_worker_has_stops_the_batch_before_grading(address, tmp_path):
    course = course_asking_for("{QUANTUM_CHIP: 2}", tmp_path / "course")
    toy_hand_ins(tmp_path / "hand-ins", 1, seconds=0)
    with pytest.raises(BatchError, match=r"asks for QUANTUM_CHIP=2 per hand-in, and no worker connected to .* has "
                                         r"it: start workers with `dask worker .* --resources \"QUANTUM_CHIP=2\"`"):
        grade(tmp_path / "hand-ins", tmp_path / "out", sheet="toy", course=course, address=address)
