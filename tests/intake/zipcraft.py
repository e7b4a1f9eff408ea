"""Building zip files byte by byte, for the cases zipfile refuses to write.

Old Windows tools (cp437 names, no UTF-8 flag), symlink entries, headers that lie about sizes
and zip bombs all need control that zipfile's writer does not give.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

S_IFLNK = 0o120000
S_IFREG = 0o100000
UTF8_FLAG = 0x800


@dataclass
class RawEntry:
    name: bytes
    data: bytes = b""
    # Raw deflate data (method 8); when None, `data` is stored uncompressed (method 0).
    compressed: bytes | None = None
    crc: int | None = None  # default: CRC of `data`
    file_size: int | None = None  # declared uncompressed size; default: len(data)
    flag_bits: int = 0
    unix_mode: int = S_IFREG | 0o644
    extra: bytes = b""


def build_zip(path: Path, entries: list[RawEntry]) -> Path:
    """Write a zip with exactly the given names, flags, sizes and modes (DOS time 2025-01-29)."""
    dos_time, dos_date = (23 << 11) | (50 << 5), ((2025 - 1980) << 9) | (1 << 5) | 29
    local_parts: list[bytes] = []
    central_parts: list[bytes] = []
    offset = 0
    for entry in entries:
        method = 8 if entry.compressed is not None else 0
        payload = entry.compressed if entry.compressed is not None else entry.data
        crc = entry.crc if entry.crc is not None else zlib.crc32(entry.data)
        size = entry.file_size if entry.file_size is not None else len(entry.data)
        local = struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, entry.flag_bits, method, dos_time, dos_date,
            crc, len(payload), size, len(entry.name), len(entry.extra),
        ) + entry.name + entry.extra
        central = struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | 20, 20, entry.flag_bits, method, dos_time, dos_date,
            crc, len(payload), size, len(entry.name), len(entry.extra), 0, 0, 0, entry.unix_mode << 16, offset,
        ) + entry.name + entry.extra
        local_parts.append(local + payload)
        central_parts.append(central)
        offset += len(local) + len(payload)
    directory = b"".join(central_parts)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(directory), offset, 0)
    path.write_bytes(b"".join(local_parts) + directory + end)
    return path


def deflated_zeros(mebibytes: int) -> tuple[bytes, int, int]:
    """Raw deflate data for `mebibytes` MiB of zeros, built without compressing them all.

    After a full flush deflate forgets its history, so every further MiB of zeros compresses
    to the very same bytes: compress one block and repeat it. Returns (data, crc, size).
    """
    block = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    one = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(block, crc)
    return one * mebibytes + tail, crc, mebibytes << 20


def deflated(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def unicode_path_extra(raw_name: bytes, utf8_name: str) -> bytes:
    """The Info-ZIP Unicode Path extra field (0x7075) for `raw_name`."""
    body = b"\x01" + struct.pack("<I", zlib.crc32(raw_name)) + utf8_name.encode("utf-8")
    return struct.pack("<HH", 0x7075, len(body)) + body
