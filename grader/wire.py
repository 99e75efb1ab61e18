"""The only format that crosses the process boundary between the grader and a learner's process.

A message is a JSON object sent as one frame: a 4-byte big-endian length, then UTF-8 JSON.
Values inside are plain data only: None, bools, ints, floats (NaN and ±inf included), strings,
lists and string-keyed dicts, and numeric numpy arrays, which travel as
``{"$nd": [dtype, shape, base64 bytes]}``. Nothing is ever unpickled or evaluated, and the
decoder refuses anything else: oversized frames, unknown dtypes, shapes that do not match their
bytes, or nesting too deep to be data.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import re
import struct
import sys
from typing import Any, Optional

#: Largest frame either side accepts (the learner's side refuses to send more). Probes return
#: small values (the largest built-in one is ~40 KB); these bound what a hostile reply costs.
MAX_FRAME_BYTES = 8 * 1024 * 1024
#: Largest array a value may carry, in bytes.
MAX_ARRAY_BYTES = 2 * 1024 * 1024
#: Deepest nesting of lists and dicts a value may have.
MAX_DEPTH = 32
MAX_NDIM = 32

_HEADER = struct.Struct(">I")
_DTYPE = re.compile(r"^[<>|=]?(b1|[iu][1248]|f[248]|c(8|16))$")
_ND = "$nd"


class WireError(ValueError):
    """A frame or value that is not plain data of the agreed form."""


# --- values ---------------------------------------------------------------------------------

def encode_value(value: Any, _depth: int = 0) -> Any:
    """Turn a plain value into JSON-ready data; raise WireError for anything else.

    Only exact types pass: a float subclass, an ndarray subclass or an object array is refused,
    so nothing that merely pretends to be a number reaches the grader.
    """
    import numpy as np  # here, not at the top: frames alone must not cost a numpy import

    if _depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value
    if kind is np.ndarray:
        return _encode_array(value)
    if isinstance(value, np.generic) and kind.__module__ == "numpy":
        if value.dtype.kind == "f":
            return float(value)  # (``item()`` of a longdouble is a longdouble, not a float)
        if value.dtype.kind in "biu":
            return value.item()
        if value.dtype.kind == "c":
            return _encode_array(np.asarray(value))
        raise WireError(f"a numpy scalar of dtype {value.dtype} is not a number")
    if kind in (list, tuple):
        return [encode_value(item, _depth + 1) for item in value]
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str or key.startswith("$"):
                raise WireError("dict keys must be strings not starting with '$'")
            out[key] = encode_value(item, _depth + 1)
        return out
    raise WireError(f"an object of type {kind.__qualname__} is not plain data")


def _encode_array(array) -> dict:
    import numpy as np

    if array.dtype.kind not in "biufc" or array.dtype.fields is not None:
        raise WireError(f"an array of dtype {array.dtype} is not numeric")
    if array.ndim > MAX_NDIM:
        raise WireError("array has too many dimensions")
    if array.nbytes > MAX_ARRAY_BYTES:
        raise WireError(f"array of {array.nbytes} bytes exceeds the limit of {MAX_ARRAY_BYTES}")
    # Extended precision (float128, complex256) travels as double precision, which the grader
    # reads and every comparison is made in.
    if array.dtype.kind == "f" and array.dtype.itemsize > 8:
        array = array.astype(np.float64)
    elif array.dtype.kind == "c" and array.dtype.itemsize > 16:
        array = array.astype(np.complex128)
    data = np.ascontiguousarray(array).tobytes()
    return {_ND: [array.dtype.str, list(array.shape), base64.b64encode(data).decode("ascii")]}


def decode_value(data: Any, _depth: int = 0, arrays: Optional[dict] = None) -> Any:
    """Check JSON-decoded data and rebuild arrays; raise WireError for anything unexpected.
    ``arrays``: a memo of the arrays already rebuilt from this same ``data`` (they are
    read-only), for a value decoded once per check that judges it."""
    if _depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    kind = type(data)
    if data is None or kind in (bool, int, float, str):
        return data
    if kind is list:
        return [decode_value(item, _depth + 1, arrays) for item in data]
    if kind is dict:
        if _ND in data:
            if len(data) != 1:
                raise WireError("an array must be sent alone in its object")
            spec = data[_ND]
            if arrays is None:
                return _decode_array(spec)
            known = arrays.get(id(spec))
            if known is None or known[0] is not spec:  # (the spec is kept: its id stays its own)
                known = arrays[id(spec)] = (spec, _decode_array(spec))
            return known[1]
        for key in data:
            if key.startswith("$"):
                raise WireError(f"unexpected key {key[:40]!r}")
        return {key: decode_value(item, _depth + 1, arrays) for key, item in data.items()}
    raise WireError(f"unexpected {kind.__name__}")


_dtypes: dict = {}


def _decode_array(spec: Any):
    import numpy as np

    if type(spec) is not list or len(spec) != 3:
        raise WireError("malformed array")
    dtype_str, shape, payload = spec
    if type(dtype_str) is not str or not _DTYPE.fullmatch(dtype_str):
        raise WireError(f"refused dtype {str(dtype_str)[:20]!r}")
    if type(shape) is not list or len(shape) > MAX_NDIM:
        raise WireError("malformed array shape")
    if not all(type(n) is int and 0 <= n <= MAX_ARRAY_BYTES for n in shape):
        raise WireError("malformed array shape")
    if type(payload) is not str or len(payload) > (MAX_ARRAY_BYTES * 4) // 3 + 4:
        raise WireError("malformed array data")
    dtype = _dtypes.get(dtype_str)
    if dtype is None:
        dtype = _dtypes[dtype_str] = np.dtype(dtype_str)  # (a few strings only: _DTYPE allows no more)
    count = math.prod(shape)
    if count * dtype.itemsize > MAX_ARRAY_BYTES:
        raise WireError("array too large")
    try:
        raw = _strict_base64(payload)
    except (binascii.Error, ValueError) as exc:  # (ValueError: characters that are not ASCII)
        raise WireError("malformed array data") from exc
    if len(raw) != count * dtype.itemsize:
        raise WireError("array data does not match its shape")
    try:
        return np.frombuffer(raw, dtype=dtype).reshape(shape)
    except ValueError as exc:  # e.g. a zero-size array with absurd other dimensions
        raise WireError("malformed array shape") from exc


if sys.version_info >= (3, 11):
    def _strict_base64(payload: str) -> bytes:
        return binascii.a2b_base64(payload, strict_mode=True)
else:
    #: What strict_mode (Python 3.11+) accepts: whole groups of four, padding only at the end.
    _BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")

    def _strict_base64(payload: str) -> bytes:
        if not _BASE64.fullmatch(payload):
            raise binascii.Error("not strict base64")
        return binascii.a2b_base64(payload)


# --- messages and frames --------------------------------------------------------------------

def pack(message: dict) -> bytes:
    """One frame holding ``message`` (its values already encoded)."""
    # (a lone surrogate, from a learner's string, cannot be UTF-8: it becomes "?")
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "replace")
    if len(body) > MAX_FRAME_BYTES:
        raise WireError(f"message of {len(body)} bytes exceeds the limit of {MAX_FRAME_BYTES}")
    return _HEADER.pack(len(body)) + body


def unpack(body: bytes) -> dict:
    """The message in one frame's body; raise WireError unless it is a JSON object."""
    try:
        message = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WireError("a frame is not valid JSON") from exc
    if type(message) is not dict:
        raise WireError("a frame is not a JSON object")
    if _SURROGATE_ESCAPE.search(body):
        message = _without_lone_surrogates(message)
    return message


#: A JSON escape of a surrogate: decoded, a lone one is a str no UTF-8 file can hold.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _without_lone_surrogates(value: Any) -> Any:
    """``value`` with each lone surrogate in its strings made "?" (a forged frame's, which the
    grader would otherwise fail to write into a report). Iterative: a frame nests deep."""
    def clean(text: str) -> str:
        return text.encode("utf-8", "replace").decode("utf-8")

    root = [value]
    stack = [(root, 0)]
    while stack:
        container, key = stack.pop()
        item = container[key]
        if type(item) is str:
            container[key] = clean(item)
        elif type(item) is list:
            stack.extend((item, index) for index in range(len(item)))
        elif type(item) is dict:
            cleaned = {clean(k) if type(k) is str else k: v for k, v in item.items()}
            container[key] = cleaned
            stack.extend((cleaned, k) for k in cleaned)
    return root[0]


class FrameReader:
    """Splits a byte stream into frame bodies, refusing any frame over the limit.

    Frames that arrived whole before a bad one are still returned; ``broken`` then says why the
    stream cannot go on, and every later ``feed`` raises it.
    """

    def __init__(self, limit: int = MAX_FRAME_BYTES):
        self._buffer = bytearray()
        self._limit = limit
        self.broken: WireError | None = None

    def feed(self, data: bytes) -> list[bytes]:
        if self.broken is not None:
            raise self.broken
        self._buffer += data
        bodies = []
        while len(self._buffer) >= _HEADER.size:
            (length,) = _HEADER.unpack_from(self._buffer)
            if length > self._limit:
                self.broken = WireError(f"a frame of {length} bytes exceeds the limit of {self._limit}")
                self._buffer.clear()
                break
            end = _HEADER.size + length
            if len(self._buffer) < end:
                break
            bodies.append(bytes(self._buffer[_HEADER.size:end]))
            del self._buffer[:end]
        return bodies
