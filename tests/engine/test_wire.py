"""The worker channel carries plain data only, and refuses anything else before using memory for it."""

import base64
import io
import json
import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader.execution.wire import WireError, decode_value, encode_value, parse_frame, read_frame, write_frame

DTYPES = st.sampled_from(["bool", "int8", "int64", "uint16", "float16", "float32", "float64", "complex128"])


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(dtype=DTYPES, shape=hnp.array_shapes(min_dims=0, max_dims=4, max_side=5)))
def test_arrays_round_trip_exactly(array):
    back = decode_value(json.loads(json.dumps(encode_value(array))))
    assert back.dtype == array.dtype and back.shape == array.shape
    assert np.array_equal(back, array, equal_nan=array.dtype.kind in "fc")


def test_nested_values_keep_their_structure():
    value = {"a": (1, 2.5, None, "x"), "b": [np.arange(3)], "__tuple__": float("nan"), "c": float("-inf")}
    back = decode_value(json.loads(json.dumps(encode_value(value))))
    assert back["a"] == (1, 2.5, None, "x")
    assert math.isnan(back["__tuple__"]) and back["c"] == float("-inf")
    assert np.array_equal(back["b"][0], np.arange(3))


def test_frames_round_trip_through_a_stream():
    stream = io.BytesIO()
    write_frame(stream, {"op": "call", "args": [np.eye(2)]})
    stream.seek(0)
    frame = read_frame(stream)
    assert frame["op"] == "call" and np.array_equal(frame["args"][0], np.eye(2))
    assert read_frame(stream) is None


@pytest.mark.parametrize("spec, problem", [
    ({"dtype": "object", "shape": [1], "data": ""}, "not allowed"),
    ({"dtype": "float64", "shape": [10**9], "data": ""}, "exceeds"),
    ({"dtype": "float64", "shape": [2], "data": base64.b64encode(b"x" * 8).decode()}, "need"),
    ({"dtype": "float64", "shape": [-1], "data": ""}, "bad array shape"),
    ({"dtype": "float64", "shape": [1], "data": "!!"}, "base64"),
])
def test_malformed_arrays_are_refused(spec, problem):
    with pytest.raises(WireError, match=problem):
        decode_value({"__array__": spec})


def test_object_arrays_and_arbitrary_objects_cannot_be_sent():
    with pytest.raises(WireError):
        encode_value(np.array([object()]))
    with pytest.raises(WireError):
        encode_value({"x": object()})


def test_a_pickle_payload_is_just_refused():
    import pickle

    with pytest.raises(WireError, match="not JSON"):
        parse_frame(pickle.dumps({"a": 1}))


def test_oversized_frame_header_is_refused_without_reading():
    stream = io.BytesIO(struct.pack(">I", 2**31) + b"{}")
    with pytest.raises(WireError, match="exceeds"):
        read_frame(stream)


def test_deep_nesting_is_refused():
    value = []
    for _ in range(100):
        value = [value]
    with pytest.raises(WireError, match="deeper"):
        decode_value(value)
