"""The format between the grader and a learner's process: plain data only."""
from __future__ import annotations

import json

import numpy as np
import pytest

from grader import wire


def roundtrip(value):
    return wire.decode_value(json.loads(json.dumps(wire.encode_value(value))))


@pytest.mark.parametrize("value", [None, True, 3, -2.5, "テキスト", [1, [2.0, "x"]], {"a": [1, 2]}])
def test_plain_values_survive_the_trip(value):
    assert roundtrip(value) == value


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int8", "uint16", "bool", "complex128"])
def test_numeric_arrays_keep_shape_dtype_and_values(dtype):
    array = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    back = roundtrip(array)
    assert back.dtype == array.dtype and back.shape == (3, 4) and np.array_equal(back, array)


def test_nan_and_infinities_travel():
    back = roundtrip(np.array([np.nan, np.inf, -np.inf, 1.0]))
    assert np.isnan(back[0]) and back[1] == np.inf and back[2] == -np.inf
    assert np.isnan(roundtrip(float("nan")))


def test_non_contiguous_arrays_are_sent_in_order():
    array = np.arange(6.0).reshape(2, 3).T
    assert np.array_equal(roundtrip(array), array)


def test_numpy_scalars_become_python_numbers():
    assert type(roundtrip(np.float64(1.5))) is float and type(roundtrip(np.int32(3))) is int


def test_extended_precision_travels_as_double_precision():
    # item() of a longdouble is still a longdouble, which JSON cannot carry
    assert type(roundtrip(np.longdouble(0.25))) is float and roundtrip(np.longdouble(0.25)) == 0.25
    assert type(roundtrip(np.float16(0.5))) is float
    back = roundtrip(np.array([1.5, -2.0], dtype=np.longdouble))
    assert back.dtype == np.float64 and back.tolist() == [1.5, -2.0]
    back = roundtrip(np.array([1 + 2j], dtype=np.clongdouble))
    assert back.dtype == np.complex128 and back.tolist() == [1 + 2j]
    wire.pack({"value": wire.encode_value(np.longdouble(3.0))})  # JSON-ready


class Liar(float):
    def __eq__(self, other):
        return True


@pytest.mark.parametrize("value", [
    Liar(1.0),
    np.array([1, "a"], dtype=object),
    np.ma.masked_array([1.0, 2.0]),
    np.array([("a", 1)], dtype=[("name", "U1"), ("n", "i4")]),
    object(),
    {1: "non-string key"},
    {"$nd": "reserved key"},
    lambda: None,
])
def test_anything_else_is_refused_on_the_way_out(value):
    with pytest.raises(wire.WireError):
        wire.encode_value(value)


def test_an_array_over_the_limit_is_refused_on_the_way_out():
    with pytest.raises(wire.WireError):
        wire.encode_value(np.zeros(wire.MAX_ARRAY_BYTES // 8 + 1))


@pytest.mark.parametrize("data", [
    {"$nd": ["|O", [1], "AAAA"]},
    {"$nd": ["<f8", [2], "AAAAAAAAAAA="]},
    {"$nd": ["<f8", [-1], ""]},
    {"$nd": ["<f8", [10**12], ""]},
    {"$nd": ["<f8", [1], "not base64!"]},
    {"$nd": ["<f8", [1], "AAAAAAAAAAA="], "extra": 1},
    {"$other": 1},
    {"$nd": "x"},
])
def test_malformed_arrays_are_refused_on_the_way_in(data):
    with pytest.raises(wire.WireError):
        wire.decode_value(data)


@pytest.mark.parametrize("payload", ["AAAAAAAAAAA=\n", "AAAA\nAAAAAAA=", "AAAAAAAAAAA==", " AAAAAAAAAAA=", "AAAAAAAAAAA=A"])
def test_array_data_is_strict_base64_on_every_python(payload):
    # Each decodes to the 8 bytes of one float if whitespace and stray padding are skipped.
    assert wire.decode_value({"$nd": ["<f8", [1], "AAAAAAAAAAA="]}).tolist() == [0.0]
    with pytest.raises(wire.WireError):
        wire.decode_value({"$nd": ["<f8", [1], payload]})


def test_nesting_deeper_than_data_is_refused():
    value = [0]
    for _ in range(wire.MAX_DEPTH + 2):
        value = [value]
    with pytest.raises(wire.WireError):
        wire.decode_value(value)


def test_frames_are_reassembled_from_any_chunking():
    frames = wire.pack({"a": 1}) + wire.pack({"b": [1, 2]})
    reader = wire.FrameReader()
    bodies = []
    for byte in frames:
        bodies += reader.feed(bytes([byte]))
    assert [wire.unpack(body) for body in bodies] == [{"a": 1}, {"b": [1, 2]}]


def test_a_frame_announcing_more_than_the_limit_is_refused_before_it_arrives():
    reader = wire.FrameReader(limit=1000)
    assert reader.feed((5000).to_bytes(4, "big") + b"{") == []
    assert isinstance(reader.broken, wire.WireError)
    with pytest.raises(wire.WireError):
        reader.feed(b"more")


def test_frames_that_arrived_whole_before_a_bad_one_are_still_returned():
    reader = wire.FrameReader(limit=1000)
    bodies = reader.feed(wire.pack({"a": 1}) + (5000).to_bytes(4, "big") + b"garbage")
    assert [wire.unpack(body) for body in bodies] == [{"a": 1}] and reader.broken is not None


@pytest.mark.parametrize("body", [b"\xff\xfe", b"[1, 2]", b"not json", b"[" * 100000])
def test_a_frame_that_is_not_a_json_object_is_refused(body):
    with pytest.raises(wire.WireError):
        wire.unpack(body)


def test_a_value_judged_by_several_checks_has_its_arrays_decoded_once():
    data = json.loads(json.dumps(wire.encode_value([np.arange(6.0), {"w": np.eye(2)}, [1, 2]])))
    arrays: dict = {}
    first = wire.decode_value(data, arrays=arrays)
    second = wire.decode_value(data, arrays=arrays)
    assert first[0] is second[0] and first[1]["w"] is second[1]["w"]  # shared, and so read-only:
    assert not first[0].flags.writeable and not first[1]["w"].flags.writeable
    assert first[2] is not second[2]  # lists and dicts are made anew for each check
    other = json.loads(json.dumps(wire.encode_value([np.arange(6.0)])))
    assert wire.decode_value(other, arrays=arrays)[0] is not first[0]  # equal, but another value's
    assert np.array_equal(wire.decode_value(data)[0], first[0])


def test_a_frame_with_lone_surrogates_is_read_with_them_made_printable():
    """A forged frame may escape lone surrogates (\\ud800), which JSON reads into strings that no
    UTF-8 report can hold: they become "?" (valid pairs stay what they are)."""
    body = json.dumps({"type": "replies", "items": [{"message": "m\udcff", "names": ["x\ud800"], "k\ud801": 1,
                                                      "emoji": "\U0001F600"}]}, ensure_ascii=True).encode()
    message = wire.unpack(body)
    item = message["items"][0]
    assert item["message"] == "m?" and item["names"] == ["x?"] and item["k?"] == 1 and item["emoji"] == "\U0001F600"
    json.dumps(message, ensure_ascii=False).encode("utf-8")  # writable
    assert wire.unpack(wire.pack({"text": "a\ud800b"})[4:]) == {"text": "a?b"}

