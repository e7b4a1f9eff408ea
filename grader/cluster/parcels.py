"""What the coordinator ships to the workers, as bytes with their sha256: no shared file system is assumed.

* `CourseBundle`: the rubric file and every file of the course packages it names (the reference, judges,
  mistakes, generators), sent once per worker (inside the worker plugin); the worker checks each file's hash
  and the bundle's hash before it unpacks anything.
* `HandInParcel`: one hand-in's bytes, its sha256 (the gradebook's content hash), the time and lateness the
  coordinator worked out from the manifest (a file's date means nothing on another machine) and its output
  folder; the worker checks the hash before grading.

Both are plain data of the grader's own making; nothing in them comes from running student code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.intake.hand_in import HandInTiming


class ParcelError(RuntimeError):
    """Shipped bytes that do not match their hash (or a path that would leave the unpacking folder)."""


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class CourseBundle:
    rubric_path: str  # relative to the course root, e.g. "rubrics/sheet02.yaml"
    files: dict[str, bytes]  # relative POSIX path -> bytes
    digests: dict[str, str]  # relative POSIX path -> sha256 of the bytes
    sha256: str  # over the sorted (path, digest) pairs
    rubric_fingerprint: str  # the coordinator's rubric fingerprint (grader.rubric.fingerprint)

    @classmethod
    def collect(cls, course_root: Path, rubric_file: Path, code_roots: list[Path], fingerprint: str) -> CourseBundle:
        """The rubric and every regular file under the code roots (folders or single modules), without caches."""
        root = Path(course_root)
        paths = [Path(rubric_file)]
        for code_root in code_roots:
            if code_root.is_dir():
                paths.extend(p for p in sorted(code_root.rglob("*"))
                             if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith("."))
            else:
                paths.append(code_root)
        files = {}
        for path in paths:
            relative = _relative(path, root)
            files[relative] = path.read_bytes()
        digests = {name: sha256_of(data) for name, data in files.items()}
        return cls(_relative(Path(rubric_file), root), files, digests, bundle_digest(digests), fingerprint)

    @property
    def size(self) -> int:
        return sum(len(data) for data in self.files.values())

    def verify(self) -> None:
        """Raises ParcelError unless every file matches its digest and the digests match the bundle's hash."""
        if set(self.files) != set(self.digests):
            raise ParcelError("the course bundle's file list and hash list differ")
        for name, data in self.files.items():
            if sha256_of(data) != self.digests[name]:
                raise ParcelError(f"the course file {name} arrived damaged (its sha256 differs from the "
                                  "coordinator's)")
        if bundle_digest(self.digests) != self.sha256:
            raise ParcelError("the course bundle's hash differs from the coordinator's")
        if self.rubric_path not in self.files:
            raise ParcelError(f"the course bundle has no rubric {self.rubric_path}")

    def unpack(self, folder: Path) -> Path:
        """Verify, then write every file under `folder` (the worker's own copy of the course); returns it."""
        self.verify()
        folder = Path(folder)
        for name, data in self.files.items():
            target = folder / _safe(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        return folder


@dataclass(frozen=True)
class HandInParcel:
    file_name: str  # the hand-in's file name as on the coordinator's disk
    content: bytes
    sha256: str
    timing: HandInTiming  # worked out on the coordinator (manifest, deadline, --times)
    folder: tuple[str, str]  # (output folder, why it is not the usual one or "")
    # The coordinator's output folder, as text: the worker writes it where its messages would name its own
    # scratch folder, so that feedback reads as after a local run.
    out: str = ""

    @classmethod
    def read(cls, path: Path, digest: str, timing: HandInTiming, folder: tuple[str, str],
             out: Path | None = None) -> HandInParcel:
        return cls(Path(path).name, Path(path).read_bytes(), digest, timing, folder, str(out) if out else "")

    def verify(self) -> None:
        if sha256_of(self.content) != self.sha256:
            raise ParcelError(f"the hand-in {self.file_name} arrived damaged (its sha256 differs from the "
                              "coordinator's); it was not graded")
        _safe(self.file_name)
        if "/" in self.file_name:
            raise ParcelError(f"the hand-in name {self.file_name!r} is not a plain file name")


def bundle_digest(digests: dict[str, str]) -> str:
    digest = hashlib.sha256(b"course-bundle")
    for name in sorted(digests):
        digest.update(b"\0" + name.encode() + b"\0" + digests[name].encode())
    return digest.hexdigest()


def _relative(path: Path, root: Path) -> str:
    # Relative to the course folder as the coordinator names it: a linked folder inside the course
    # (course/reference -> elsewhere) keeps its place in the course, as the coordinator's imports see it.
    for base, full in ((Path(root).absolute(), Path(path).absolute()), (Path(root).resolve(), Path(path).resolve())):
        try:
            return full.relative_to(base).as_posix()
        except ValueError:
            continue
    raise ParcelError(f"{path} is outside the course folder {root}")


def _safe(name: str) -> PurePosixPath:
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise ParcelError(f"{name!r} would be unpacked outside the worker's course folder")
    return relative
