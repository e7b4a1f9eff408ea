"""Safe unpacking of one hand-in (a zip, or a single notebook/script) into a fresh folder.

Zips come from students and are treated as hostile: no entry lands outside the target folder,
symlinks and special files are never created, and sizes are capped from the central directory
before anything is written and again while streaming, so a zip bomb costs almost nothing.
Nothing here runs or imports what it unpacks.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from grader.intake.flags import Flag, FlagCode
from grader.intake.main_file import choose_main_file
from grader.intake.naming import nfc

MB = 1024 * 1024
_CHUNK = 64 * 1024
_UTF8_NAME_FLAG = 0x800
_ENCRYPTED_FLAG = 0x1
_UNICODE_PATH_EXTRA = 0x7075  # Info-ZIP field: the UTF-8 name next to a legacy-encoded one
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

# Hand-in kinds that arrive as one bare file instead of a zip; the sheet allows that.
SINGLE_FILE_SUFFIXES = (".ipynb", ".py", ".pdf", ".md", ".txt")

_JUNK_FOLDERS = {
    "__MACOSX": "macOS resource data (__MACOSX)",
    ".ipynb_checkpoints": "Jupyter autosave copy (.ipynb_checkpoints)",
    "__pycache__": "Python bytecode cache (__pycache__)",
}
_JUNK_FILES = {
    ".DS_Store": "macOS folder metadata (.DS_Store)",
    "Thumbs.db": "Windows thumbnail cache (Thumbs.db)",
    "desktop.ini": "Windows folder settings (desktop.ini)",
}


class ExtractionLimits(BaseModel):
    """Caps that make a hostile zip cheap to refuse."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    max_total_bytes: int = Field(default=200 * MB, gt=0)
    max_entries: int = Field(default=2000, gt=0)
    max_ratio: float = Field(default=200.0, gt=1)
    max_entry_bytes: int = Field(default=100 * MB, gt=0)
    # Tiny files compress absurdly well (an empty cell, a blank line); the ratio only
    # matters once an entry is big enough to hurt.
    ratio_floor_bytes: int = Field(default=1 * MB, ge=0)


class IntakeError(Exception):
    """A hand-in that cannot be unpacked at all: corrupt, empty or hostile.

    The batch catches it, records `flag` for this submission and goes on with the next.
    """

    def __init__(self, code: FlagCode, message: str) -> None:
        super().__init__(message)
        self.code: FlagCode = code
        self.message = message

    @property
    def flag(self) -> Flag:
        return Flag(self.code, self.message)


@dataclass(frozen=True)
class IgnoredEntry:
    """A zip entry that was not written, and why (shown in feedback)."""

    name: str
    reason: str


@dataclass
class ExtractedSubmission:
    """What landed in `dest`: files as POSIX paths relative to it, and what was left out."""

    source: Path
    dest: Path
    files: list[str]
    ignored: list[IgnoredEntry]
    flags: list[Flag]
    main_file: str | None
    main_file_reason: str
    written_answers: list[str]
    top_folder: str | None = None  # the single top folder that was looked through, if any
    bytes_written: int = 0


@dataclass
class _Plan:
    info: zipfile.ZipInfo
    parts: tuple[str, ...]
    path: str = field(init=False)

    def __post_init__(self) -> None:
        self.path = "/".join(self.parts)


def extract_submission(
    path: Path,
    dest: Path,
    limits: ExtractionLimits | None = None,
    sheet_hint: str | None = None,
) -> ExtractedSubmission:
    """Unpack the hand-in at `path` into `dest` (missing or empty) and choose its main file.

    A zip is unpacked safely; a bare notebook, script or written-answer file is copied.
    Raises `IntakeError` when nothing gradable can be unpacked; `dest` is then left empty.
    """
    path, dest = Path(path), Path(dest)
    limits = limits or ExtractionLimits()
    if not path.is_file():
        raise FileNotFoundError(f"hand-in '{path}' does not exist or is not a file")
    _prepare_dest(dest)

    suffix = path.suffix.lower()
    try:
        if suffix == ".zip":
            result = _extract_zip(path, dest, limits)
        elif suffix in SINGLE_FILE_SUFFIXES:
            result = _copy_single(path, dest, limits)
        elif zipfile.is_zipfile(path):
            result = _extract_zip(path, dest, limits)
        else:
            raise IntakeError(
                "corrupt_zip",
                f"'{path.name}' is neither a zip archive nor a notebook (.ipynb), script (.py) or "
                f"written answer ({', '.join(SINGLE_FILE_SUFFIXES[2:])})",
            )
    except BaseException:
        _empty_folder(dest)
        raise

    choice = choose_main_file(dest, result.files, sheet_hint)
    result.main_file = choice.path
    result.main_file_reason = choice.reason
    result.written_answers = list(choice.written_answers)
    result.flags.extend(choice.flags)
    return result


def decode_entry_name(info: zipfile.ZipInfo) -> str:
    """The entry's name as the student saw it, NFC-normalised.

    Names with the UTF-8 flag are UTF-8. Without it zipfile decodes cp437 (what old Windows
    tools write); macOS and some Linux tools write UTF-8 without the flag, which cp437 turns
    into mojibake, so bytes that form valid UTF-8 are read as UTF-8 instead.
    """
    if info.flag_bits & _UTF8_NAME_FLAG:
        return nfc(info.orig_filename)
    raw = info.orig_filename.encode("cp437")  # lossless: every byte has a cp437 character
    unicode_path = _unicode_path_extra(info.extra, raw)
    if unicode_path is not None:
        return nfc(unicode_path)
    if any(byte >= 0x80 for byte in raw):
        try:
            return nfc(raw.decode("utf-8"))
        except UnicodeDecodeError:
            pass
    return nfc(info.orig_filename)


def safe_relative_parts(name: str) -> tuple[tuple[str, ...], str | None]:
    """Split an entry name into path parts, or say why it may not be written.

    Backslashes count as separators (Windows tools write them), so `..\\evil` is caught too.
    Returns (parts, None) when safe, ((), reason) when not.
    """
    if "\x00" in name:
        return (), "has a NUL character in its name"
    if _CONTROL_RE.search(name):
        return (), "has control characters in its name"
    unified = name.replace("\\", "/")
    if unified.startswith("/"):
        return (), "is an absolute path"
    if _DRIVE_RE.match(unified):
        return (), "starts with a drive letter"
    parts = tuple(part for part in unified.split("/") if part not in ("", "."))
    if ".." in parts:
        return (), "points outside the hand-in folder with '..'"
    return parts, None


def _extract_zip(path: Path, dest: Path, limits: ExtractionLimits) -> ExtractedSubmission:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise IntakeError("corrupt_zip", f"'{path.name}' is not a readable zip archive ({exc})") from exc
    except (OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise IntakeError("corrupt_zip", f"'{path.name}' cannot be opened as a zip archive ({exc})") from exc

    with archive:
        infos = archive.infolist()
        if not infos:
            raise IntakeError("empty_zip", f"'{path.name}' is an empty zip archive")
        if len(infos) > limits.max_entries:
            raise IntakeError(
                "zip_bomb", f"'{path.name}' has {len(infos)} entries, more than the limit of {limits.max_entries}"
            )

        plans, ignored, flags = _plan_entries(path.name, infos)
        if not plans:
            listed = "; ".join(f"'{entry.name}' ({entry.reason})" for entry in ignored) or "only folders"
            code: FlagCode = "unsafe_zip" if any(f.code == "unsafe_zip" for f in flags) else "empty_zip"
            raise IntakeError(code, f"'{path.name}' holds no file to grade: {listed}")
        _check_declared_sizes(path.name, plans, limits)
        top_folder = _strip_single_top_folder(plans)

        files: list[str] = []
        total = 0
        for plan in plans:
            outcome = _write_entry(archive, plan, dest, limits, path.name, total)
            if isinstance(outcome, IgnoredEntry):
                ignored.append(outcome)
                flags.append(Flag("corrupt_zip", f"entry '{outcome.name}' {outcome.reason}"))
                continue
            total += outcome
            files.append(plan.path)

    if not files:
        raise IntakeError("corrupt_zip", f"no entry of '{path.name}' could be read: " + "; ".join(f.message for f in flags))
    return ExtractedSubmission(
        source=path,
        dest=dest,
        files=files,
        ignored=ignored,
        flags=flags,
        main_file=None,
        main_file_reason="",
        written_answers=[],
        top_folder=top_folder,
        bytes_written=total,
    )


def _plan_entries(
    zip_name: str, infos: list[zipfile.ZipInfo]
) -> tuple[list[_Plan], list[IgnoredEntry], list[Flag]]:
    """Decide for every entry whether it is written, and where; nothing is written yet."""
    plans: list[_Plan] = []
    ignored: list[IgnoredEntry] = []
    flags: list[Flag] = []
    taken: set[str] = set()
    for info in infos:
        name = decode_entry_name(info)
        parts, unsafe = safe_relative_parts(name)
        if unsafe:
            ignored.append(IgnoredEntry(name, f"{unsafe}; it was not extracted"))
            flags.append(Flag("unsafe_zip", f"entry '{name}' in '{zip_name}' {unsafe}; it was not extracted"))
            continue
        if info.is_dir() or name.endswith("\\") or not parts:
            continue  # folders are made as their files need them
        junk = _junk_reason(parts)
        if junk:
            ignored.append(IgnoredEntry(name, junk))
            continue
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind == stat.S_IFLNK:
            ignored.append(IgnoredEntry(name, "is a symbolic link; it was not created"))
            flags.append(Flag("unsafe_zip", f"entry '{name}' in '{zip_name}' is a symbolic link; it was not created"))
            continue
        if kind not in (0, stat.S_IFREG):
            ignored.append(IgnoredEntry(name, "is not a regular file; it was not created"))
            flags.append(Flag("unsafe_zip", f"entry '{name}' in '{zip_name}' is not a regular file; it was not created"))
            continue
        if info.flag_bits & _ENCRYPTED_FLAG:
            ignored.append(IgnoredEntry(name, "is password-protected and cannot be read"))
            continue
        key = "/".join(parts)
        if key in taken:
            ignored.append(IgnoredEntry(name, "appears twice in the zip; the first copy was used"))
            continue
        taken.add(key)
        plans.append(_Plan(info, parts))
    return plans, ignored, flags


def _junk_reason(parts: tuple[str, ...]) -> str | None:
    for part in parts[:-1]:
        if part in _JUNK_FOLDERS:
            return _JUNK_FOLDERS[part]
    last = parts[-1]
    if last in _JUNK_FILES:
        return _JUNK_FILES[last]
    if last.startswith("._"):
        return "macOS resource fork (._ file)"
    return None


def _check_declared_sizes(zip_name: str, plans: list[_Plan], limits: ExtractionLimits) -> None:
    """Refuse a bomb from the central directory alone, before a single byte is written."""
    total = 0
    for plan in plans:
        size, packed = plan.info.file_size, plan.info.compress_size
        if size > limits.max_entry_bytes:
            raise IntakeError(
                "zip_bomb",
                f"entry '{plan.path}' in '{zip_name}' unpacks to {_mb(size)}, more than the limit of "
                f"{_mb(limits.max_entry_bytes)} per file",
            )
        if size > limits.ratio_floor_bytes and size > limits.max_ratio * max(packed, 1):
            raise IntakeError(
                "zip_bomb",
                f"entry '{plan.path}' in '{zip_name}' is compressed {size / max(packed, 1):.0f} to 1, more than "
                f"the limit of {limits.max_ratio:.0f} to 1",
            )
        total += size
    if total > limits.max_total_bytes:
        raise IntakeError(
            "zip_bomb",
            f"'{zip_name}' unpacks to {_mb(total)}, more than the limit of {_mb(limits.max_total_bytes)}",
        )


def _strip_single_top_folder(plans: list[_Plan]) -> str | None:
    """Look through folders that hold everything ("Team/Team/nb.ipynb" -> "nb.ipynb")."""
    stripped: list[str] = []
    while all(len(plan.parts) > 1 for plan in plans) and len({plan.parts[0] for plan in plans}) == 1:
        stripped.append(plans[0].parts[0])
        for plan in plans:
            plan.parts = plan.parts[1:]
            plan.path = "/".join(plan.parts)
    return "/".join(stripped) or None


def _write_entry(
    archive: zipfile.ZipFile, plan: _Plan, dest: Path, limits: ExtractionLimits, zip_name: str, total_so_far: int
) -> int | IgnoredEntry:
    """Stream one entry to disk under the caps; returns bytes written, or why it was dropped."""
    target = dest.joinpath(*plan.parts)
    if not _inside(dest, target):
        # Unreachable after safe_relative_parts; kept as the last line of defence.
        raise IntakeError("unsafe_zip", f"entry '{plan.path}' in '{zip_name}' would land outside the hand-in folder")
    declared = plan.info.file_size
    written = 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if not _inside(dest, target.parent):
            raise IntakeError("unsafe_zip", f"entry '{plan.path}' in '{zip_name}' would land outside the hand-in folder")
        # O_EXCL|O_NOFOLLOW: never write through a link or over another entry's file.
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        return IgnoredEntry(plan.path, f"could not be written ({exc.strerror or exc})")
    try:
        with os.fdopen(descriptor, "wb") as out, archive.open(plan.info) as source:
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                # Never trust the declared size: stop at it, and at the caps, whatever the data says.
                if written > declared:
                    raise IntakeError(
                        "zip_bomb",
                        f"entry '{plan.path}' in '{zip_name}' holds more data than its header declares ({declared} bytes)",
                    )
                if written > limits.max_entry_bytes or total_so_far + written > limits.max_total_bytes:
                    raise IntakeError(
                        "zip_bomb", f"'{zip_name}' unpacks to more than the limits allow (stopped at '{plan.path}')"
                    )
                out.write(chunk)
    except IntakeError:
        raise
    except NotImplementedError as exc:
        target.unlink(missing_ok=True)
        return IgnoredEntry(plan.path, f"uses a compression method the grader cannot read ({exc})")
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        target.unlink(missing_ok=True)
        return IgnoredEntry(plan.path, f"is damaged and was not extracted ({exc})")
    return written


def _copy_single(path: Path, dest: Path, limits: ExtractionLimits) -> ExtractedSubmission:
    """A bare notebook/script/answer file: copied under the same size cap as a zip entry."""
    name = nfc(path.name)
    size = path.stat().st_size
    cap = min(limits.max_entry_bytes, limits.max_total_bytes)
    if size > cap:
        raise IntakeError("zip_bomb", f"'{name}' is {_mb(size)}, more than the limit of {_mb(cap)} per file")
    if size == 0:
        raise IntakeError("empty_zip", f"'{name}' is an empty file")
    target = dest / name
    copied = 0
    with path.open("rb") as source, os.fdopen(
        os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644), "wb"
    ) as out:
        while chunk := source.read(_CHUNK):
            copied += len(chunk)
            if copied > cap:  # the file grew while we copied it
                raise IntakeError("zip_bomb", f"'{name}' is more than the limit of {_mb(cap)} per file")
            out.write(chunk)
    return ExtractedSubmission(
        source=path,
        dest=dest,
        files=[name],
        ignored=[],
        flags=[],
        main_file=None,
        main_file_reason="",
        written_answers=[],
        bytes_written=copied,
    )


def _unicode_path_extra(extra: bytes, raw_name: bytes) -> str | None:
    """The Info-ZIP Unicode Path field, if present and written for this very name."""
    offset = 0
    while offset + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, offset)
        body = extra[offset + 4 : offset + 4 + size]
        offset += 4 + size
        if tag != _UNICODE_PATH_EXTRA or len(body) < 5 or body[0] != 1:
            continue
        (name_crc,) = struct.unpack_from("<I", body, 1)
        if name_crc != zlib.crc32(raw_name):
            return None  # the name was changed after the field was written: it is stale
        try:
            return body[5:].decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def _prepare_dest(dest: Path) -> None:
    # A fresh, empty folder: nothing in it can be a link planted to redirect our writes.
    if dest.is_symlink():
        raise ValueError(f"target folder '{dest}' is a symbolic link")
    if dest.exists():
        if not dest.is_dir():
            raise ValueError(f"target '{dest}' exists and is not a folder")
        if any(dest.iterdir()):
            raise ValueError(f"target folder '{dest}' is not empty")
    dest.mkdir(parents=True, exist_ok=True)


def _empty_folder(dest: Path) -> None:
    """Remove what an aborted extraction wrote; `dest` was empty before, so all of it is ours."""
    if not dest.is_dir() or dest.is_symlink():
        return
    for child in dest.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _inside(root: Path, candidate: Path) -> bool:
    # Resolved on both sides, so a link anywhere on the way cannot lead out unnoticed.
    return candidate.resolve().is_relative_to(root.resolve())


def _mb(size: int) -> str:
    return f"{size / MB:.1f} MB"
