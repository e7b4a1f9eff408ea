"""The only format that crosses between the grader and a worker: length-prefixed JSON frames.

Arrays travel as raw little-endian bytes with a whitelisted dtype and an explicit shape, so decoding a
frame can never run code (no pickle, no object arrays) and every size is checked before memory is used.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from typing import Any, BinaryIO

import numpy as np

FRAME_HEADER = struct.Struct(">I")
MAX_FRAME_BYTES = 256 * 2**20
MAX_ARRAY_ELEMENTS = 16 * 2**20
MAX_DEPTH = 32

# Plain numeric dtypes only: an object or void dtype could smuggle Python objects.
ALLOWED_DTYPES = frozenset(
    ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
     "float16", "float32", "float64", "complex64", "complex128"]
)


class WireError(ValueError):
    """A frame or value that is not plain data within the limits."""


def encode_value(value: Any, _depth: int = 0) -> Any:
    """Turn plain Python data with numpy arrays into JSON-ready data."""
    if _depth > MAX_DEPTH:
        raise WireError(f"value nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return _encode_float(value)
    if isinstance(value, complex):
        return {"__complex__": [_encode_float(value.real), _encode_float(value.imag)]}
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if isinstance(value, np.generic):
        return _encode_array(np.asarray(value))
    if isinstance(value, (list, tuple)):
        encoded = [encode_value(item, _depth + 1) for item in value]
        return {"__tuple__": encoded} if isinstance(value, tuple) else encoded
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise WireError(f"dict key {key!r} is not a string")
            if key.startswith("__") and key.endswith("__"):
                key = "\\" + key  # keep user keys apart from the markers above
            out[key] = encode_value(item, _depth + 1)
        return out
    raise WireError(f"cannot send a value of type {type(value).__name__}")


def decode_value(data: Any, _depth: int = 0) -> Any:
    """Inverse of encode_value; validates every array before building it."""
    if _depth > MAX_DEPTH:
        raise WireError(f"value nested deeper than {MAX_DEPTH} levels")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode_value(item, _depth + 1) for item in data]
    if isinstance(data, dict):
        if "__array__" in data and len(data) == 1:
            return _decode_array(data["__array__"])
        if "__tuple__" in data and len(data) == 1:
            return tuple(decode_value(item, _depth + 1) for item in _expect_list(data["__tuple__"]))
        if "__float__" in data and len(data) == 1:
            return _decode_float(data["__float__"])
        if "__complex__" in data and len(data) == 1:
            real, imag = _expect_list(data["__complex__"])
            return complex(_decode_float(real), _decode_float(imag))
        out = {}
        for key, item in data.items():
            if key.startswith("\\__"):
                key = key[1:]
            out[key] = decode_value(item, _depth + 1)
        return out
    raise WireError(f"unexpected JSON value of type {type(data).__name__}")


def write_frame(stream: BinaryIO, message: dict) -> None:
    payload = json.dumps(encode_value(message), allow_nan=False, separators=(",", ":")).encode()
    if len(payload) > MAX_FRAME_BYTES:
        raise WireError(f"frame of {len(payload)} bytes exceeds {MAX_FRAME_BYTES}")
    stream.write(FRAME_HEADER.pack(len(payload)) + payload)
    stream.flush()


def parse_frame(payload: bytes) -> dict:
    try:
        message = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"frame is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise WireError("frame is not a JSON object")
    decoded = decode_value(message)
    assert isinstance(decoded, dict)
    return decoded


def read_frame(stream: BinaryIO) -> dict | None:
    """Blocking read of one frame; None at a clean end of stream."""
    header = read_exact(stream, FRAME_HEADER.size)
    if header is None:
        return None
    (length,) = FRAME_HEADER.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise WireError(f"frame of {length} bytes exceeds {MAX_FRAME_BYTES}")
    payload = read_exact(stream, length)
    if payload is None:
        raise WireError("stream ended inside a frame")
    return parse_frame(payload)


def read_exact(stream: BinaryIO, size: int) -> bytes | None:
    """Exactly `size` bytes, None at a clean end of stream; WireError if it ends inside."""
    chunks, remaining = [], size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            if remaining == size:
                return None
            raise WireError("stream ended inside a frame")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _encode_float(value: float) -> Any:
    # JSON has no NaN or infinities; keep them exact instead of failing or rounding.
    return value if math.isfinite(value) else {"__float__": repr(value)}


def _decode_float(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if value in ("nan", "inf", "-inf"):
        return float(value)
    raise WireError(f"bad float {value!r}")


def _encode_array(array: np.ndarray) -> dict:
    dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    name = dtype.name
    if name not in ALLOWED_DTYPES:
        raise WireError(f"arrays of dtype {array.dtype} cannot be sent")
    if array.size > MAX_ARRAY_ELEMENTS:
        raise WireError(f"array of {array.size} elements exceeds {MAX_ARRAY_ELEMENTS}")
    raw = np.ascontiguousarray(array, dtype=dtype.newbyteorder("<")).tobytes()
    return {"__array__": {"dtype": name, "shape": list(array.shape),
                          "data": base64.b64encode(raw).decode("ascii")}}


def _decode_array(spec: Any) -> np.ndarray:
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data"}:
        raise WireError("malformed array")
    dtype_name, shape, data = spec["dtype"], spec["shape"], spec["data"]
    if dtype_name not in ALLOWED_DTYPES:
        raise WireError(f"array dtype {dtype_name!r} is not allowed")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                              for d in shape):
        raise WireError(f"bad array shape {shape!r}")
    if len(shape) > 32:
        raise WireError("array has more than 32 dimensions")
    count = math.prod(shape)
    if count > MAX_ARRAY_ELEMENTS:
        raise WireError(f"array of {count} elements exceeds {MAX_ARRAY_ELEMENTS}")
    if not isinstance(data, str):
        raise WireError("array data is not a string")
    dtype = np.dtype(dtype_name).newbyteorder("<")
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError:
        raise WireError("array data is not base64") from None
    if len(raw) != count * dtype.itemsize:
        raise WireError(f"array data has {len(raw)} bytes, shape {shape} and dtype {dtype_name} need "
                        f"{count * dtype.itemsize}")
    return np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def _expect_list(value: Any) -> list:
    if not isinstance(value, list):
        raise WireError("expected a list")
    return value
