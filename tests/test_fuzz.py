"""Fuzzing what reads untrusted bytes in the grader's own process: the loaders (a submission's
file) and the wire decoder (what a learner's process sends back).

A loader must always return a Submission, with problems when the file cannot be read as code; the
decoder must return plain data or raise ``wire.WireError``, never anything else (the grader only
catches WireError there, so any other exception would end ``grade()`` itself).

Files are written with ``tmp_path_factory`` (hypothesis runs many examples per test function, so
function-scoped fixtures would be shared between them).
"""
from __future__ import annotations

import base64
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from grader import wire
from grader.model import CodeUnit, Message, Problem, Submission
from grader.runner import collect_loaders
from grader.submission import read_submission

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def loaders(manager):
    return collect_loaders(manager)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def read(folder, loaders, data: bytes, suffix: str) -> Submission:
    path = folder / f"fuzzed{suffix}"
    path.write_bytes(data)
    return read_submission(path, loaders)


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def check_submission(submission, data: bytes) -> None:
    """The invariants of any Submission: a unit is never blank, problems and notes are messages,
    and what is not text gets a problem and nothing to run."""
    assert isinstance(submission, Submission)
    for unit in submission.units:
        assert isinstance(unit, CodeUnit)
        assert type(unit.source) is str
        assert unit.source.strip()
        assert type(unit.first_line) is int and unit.first_line >= 1
    for problem in submission.problems:
        assert isinstance(problem, Problem) and isinstance(problem.message, Message)
        assert type(problem.message.id) is str and problem.message.id
    assert all(isinstance(note, Message) for note in submission.notes)
    if not data.strip() or b"\0" in data or not is_utf8(data):
        # not text: nothing to run, and the learner is told why
        assert submission.units == () and submission.problems != ()


# --- strategies ------------------------------------------------------------------------------------

#: Lines that stress the statement splitter and the notebook-export and magic handling.
PYTHON_LINES = [
    "import numpy as np", "def f(x):", "    return x", "class A:", "    pass", "x = (", ")", "]",
    "else:", "elif x:", "except Exception:", "finally:", "@decorator", "@", "# In[3]:", "# In[ ]:",
    "# In[]:", "%matplotlib inline", "!pip install numpy", "%%time", "get_ipython().run_line_magic('x', '')",
    "if x:", "try:", '"""', "'''", "x = 1; y = 2", "\\", "\t", "    ", "", "lambda: (yield)",
    "async def g():", "    await h()", "match x:", "    case 1:", "print('日本語')", "\x0c", "é = 1",
    "def (", ")]}", "[", "from __future__ import annotations", "return 5", "yield 1", "global x",
    "nonlocal x", "break", "x: int = 3", "#", "# coding: latin-1", "x = '", "f'{'", "0x", "1_000",
    "(" * 50, ")" * 50, "print(" * 200, "    def g(self):", "        return 1",
]


def python_text_with(separators):
    return st.builds(
        lambda lines, separator, bom: ("\ufeff" if bom else "") + separator.join(lines),
        st.lists(st.sampled_from(PYTHON_LINES) | st.text(max_size=20).filter(lambda s: "\r" not in s), max_size=40),
        st.sampled_from(separators),
        st.booleans(),
    )


python_text = python_text_with(["\n", "\r\n", "\n\n"])
#: Old Mac line endings: Python reads "\r" alone as a line break too.
python_text_cr = python_text_with(["\r"])

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=10), children, max_size=6),
    max_leaves=30,
)

cell_source = python_text | st.lists(python_text, max_size=5) | json_values
cell = st.fixed_dictionaries(
    {"cell_type": st.sampled_from(["code", "markdown", "raw", "heading", "other"]) | json_values,
     "source": cell_source},
    optional={
        "metadata": st.just({}) | json_values,
        "outputs": st.just([]) | json_values,
        "execution_count": st.none() | st.integers(-5, 10**6) | json_values,
        "id": st.text(max_size=12) | json_values,
        "attachments": json_values,
    },
)
notebooks = st.fixed_dictionaries(
    {"cells": st.lists(cell, max_size=6) | json_values},
    optional={
        "metadata": st.just({}) | json_values,
        "nbformat": st.sampled_from([4, 3, 2, 5, 0, -1, "4"]) | json_values,
        "nbformat_minor": st.sampled_from([0, 1, 2, 4, 5, 99, -1]) | json_values,
        "worksheets": st.lists(st.fixed_dictionaries({"cells": st.lists(cell, max_size=3)}), max_size=2) | json_values,
    },
)


# --- (a) the loaders -------------------------------------------------------------------------------

@FUZZ
@given(data=st.binary(max_size=3000))
@example(data=b"")
@example(data=b"\xef\xbb\xbf")
@example(data=b"x = 1\x00")
@example(data=b"\xff\xfe\x00x")
def test_any_bytes_as_a_script_give_a_submission(loaders, folder, data):
    check_submission(read(folder, loaders, data, ".py"), data)


@FUZZ
@given(text=python_text)
@example(text="# In[1]:\n\nx=1\n# In[ ]:\ndef(\n")
@example(text="@\n@\ndef f(:\n")
@example(text="x = " + "(" * 5000 + ")" * 5000)
def test_python_like_text_as_a_script_gives_a_submission(loaders, folder, text):
    data = text.encode("utf-8", "surrogatepass")
    check_submission(read(folder, loaders, data, ".py"), data)


@pytest.mark.filterwarnings("ignore")
@FUZZ
@given(data=st.binary(max_size=3000))
@example(data=b"{")
@example(data=b"[" * 50_000)
@example(data=b"\x00{}")
def test_any_bytes_as_a_notebook_give_a_submission(loaders, folder, data):
    submission = read(folder, loaders, data, ".ipynb")
    check_submission(submission, data)
    try:
        json.loads(data)
    except (ValueError, RecursionError):
        assert submission.units == () and submission.problems != ()


@pytest.mark.filterwarnings("ignore")
@FUZZ
@given(document=json_values)
@example(document=[])
@example(document={"cells": []})
@example(document={"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": None})
def test_any_json_document_as_a_notebook_gives_a_submission(loaders, folder, document):
    data = json.dumps(document).encode("utf-8")
    check_submission(read(folder, loaders, data, ".ipynb"), data)


@pytest.mark.filterwarnings("ignore")
@FUZZ
@given(document=notebooks)
@example(document={"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                   "cells": [{"cell_type": "code", "source": ["x = 1\n", "y = (\n"], "metadata": {},
                              "outputs": [], "execution_count": 3, "id": "a"}]})
@example(document={"nbformat": 3, "nbformat_minor": 0, "metadata": {},
                   "worksheets": [{"cells": [{"cell_type": "code", "input": "x = 1", "outputs": [],
                                              "language": "python", "metadata": {}}]}]})
def test_notebook_shaped_json_gives_a_submission(loaders, folder, document):
    data = json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")
    submission = read(folder, loaders, data, ".ipynb")
    check_submission(submission, data)
    # every unit is a code cell's own text, named after its cell
    for unit in submission.units:
        assert unit.location.cell is not None and "[cell " in unit.filename


@FUZZ
@given(text=python_text_cr)
@example(text="import numpy as np\rimport numpy as np")
def test_python_like_text_with_cr_line_endings_gives_a_submission(loaders, folder, text):
    data = text.encode("utf-8", "surrogatepass")
    check_submission(read(folder, loaders, data, ".py"), data)


# --- (b) the wire ----------------------------------------------------------------------------------

def decodes_or_refuses(data) -> None:
    try:
        wire.decode_value(data)
    except wire.WireError:
        pass


@FUZZ
@given(data=json_values)
@example(data={"$nd": None})
@example(data={"$other": 1})
@example(data={"$nd": ["f8", [1], "AAAAAAAAAAA="], "x": 1})
@example(data=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]])
def test_decoding_any_json_value_gives_plain_data_or_a_wire_error(data):
    decodes_or_refuses(json.loads(json.dumps(data)))


VALID_DTYPES = ["<f8", ">f8", "|b1", "<i8", "<u2", "<f4", "<c16", "<c8", "|i1", "|u1", "=f8", "f2", "i4"]
arrays = st.builds(
    lambda dtype, shape, seed: np.random.default_rng(seed).standard_normal(math.prod(shape)).reshape(shape).astype(dtype),
    st.sampled_from(["float64", "float32", "int64", "int8", "uint16", "bool", "complex128", "float16"]),
    st.lists(st.integers(0, 5), max_size=4),
    st.integers(0, 2**32 - 1),
)
#: dtype strings the decoder must refuse or accept cleanly.
dtype_strings = st.sampled_from(VALID_DTYPES) | st.text(max_size=8)
small_shapes = (
    st.lists(st.integers(-3, 2**24 + 1), max_size=5)
    | st.lists(st.integers(0, 4), max_size=40)
    | json_values
)


@st.composite
def mangled_arrays(draw):
    """A well-formed array message, then one part replaced by something arbitrary."""
    encoded = wire.encode_value(draw(arrays))
    dtype, shape, payload = encoded["$nd"]
    part = draw(st.sampled_from(["dtype", "shape", "payload", "spec", "nothing"]))
    if part == "dtype":
        dtype = draw(dtype_strings)
    elif part == "shape":
        shape = draw(small_shapes)
    elif part == "payload":
        payload = draw(
            st.text(max_size=40)
            | st.binary(max_size=60).map(lambda raw: base64.b64encode(raw).decode())
            | st.just(payload[:-4])
            | st.just(payload + "A")
            | json_values
        )
    elif part == "spec":
        return {"$nd": draw(json_values)}
    return {"$nd": [dtype, shape, payload]}


@FUZZ
@given(message=mangled_arrays())
def test_decoding_a_mangled_array_gives_an_array_or_a_wire_error(message):
    try:
        value = wire.decode_value(json.loads(json.dumps(message)))
    except wire.WireError:
        return
    assert type(value) is np.ndarray and value.dtype.kind in "biufc"
    assert value.nbytes <= wire.MAX_ARRAY_BYTES


@FUZZ
@given(
    dtype=st.sampled_from(VALID_DTYPES) | st.text(max_size=8),
    suffix=st.sampled_from(["", "\n", " ", "\x00"]),
    shape=st.lists(st.integers(0, 2**24), max_size=6),
    payload=st.sampled_from(["", "AAAAAAAAAAA=", "AA=="]) | st.text(max_size=12),
)
@example(dtype="f8", suffix="\n", shape=[1], payload="AAAAAAAAAAA=")
@example(dtype="f8", suffix="", shape=[0, 2**24, 2**24, 2**24, 2**24], payload="")
def test_decoding_any_array_spec_raises_only_wire_errors(dtype, suffix, shape, payload):
    decodes_or_refuses({"$nd": [dtype + suffix, shape, payload]})


def test_a_dtype_with_a_trailing_newline_is_a_wire_error():
    with pytest.raises(wire.WireError):
        wire.decode_value({"$nd": ["f8\n", [1], "AAAAAAAAAAA="]})


def test_an_empty_array_with_overflowing_dimensions_is_a_wire_error():
    with pytest.raises(wire.WireError):
        wire.decode_value({"$nd": ["f8", [0, 2**24, 2**24, 2**24, 2**24], ""]})


@FUZZ
@given(body=st.binary(max_size=2000) | json_values.map(lambda value: json.dumps(value).encode()))
@example(body=b"")
@example(body=b"\xff")
@example(body=b"[" * 100_000)
@example(body=b"1" * 5000)
@example(body=b'{"a": 1}')
def test_unpacking_any_bytes_gives_a_dict_or_a_wire_error(body):
    try:
        message = wire.unpack(body)
    except wire.WireError:
        return
    assert type(message) is dict


@FUZZ
@given(chunks=st.lists(st.binary(max_size=300), max_size=12))
@example(chunks=[b"\xff\xff\xff\xff"])
@example(chunks=[b"\x00\x00", b"\x00\x02{}"])
def test_the_frame_reader_splits_any_bytes_or_raises_a_wire_error(chunks):
    reader = wire.FrameReader(limit=1024)
    for chunk in chunks:
        try:
            bodies = reader.feed(chunk)
        except wire.WireError:
            return
        assert type(bodies) is list and all(type(body) is bytes and len(body) <= 1024 for body in bodies)


@FUZZ
@given(messages=st.lists(st.dictionaries(st.text(max_size=5), json_values, max_size=4), max_size=6),
       cuts=st.lists(st.integers(0, 10_000), max_size=10))
def test_frames_cut_anywhere_come_out_whole_and_in_order(messages, cuts):
    stream = b"".join(wire.pack(message) for message in messages)
    points = sorted({0, len(stream), *(cut % (len(stream) + 1) for cut in cuts)})
    reader = wire.FrameReader()
    bodies = []
    for start, end in zip(points, points[1:]):
        bodies.extend(reader.feed(stream[start:end]))
    assert [wire.unpack(body) for body in bodies] == [json.loads(json.dumps(m)) for m in messages]
