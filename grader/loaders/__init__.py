"""Loaders turn a submission file into code units (top-level statements, or notebook cells).

They run in the grader's process on untrusted bytes, so they only read and parse: nothing of the
learner's is executed here, and every failure becomes a ``Problem`` in the submission, never an
exception.
"""
from __future__ import annotations

import ast
import bisect
import codecs
import hashlib
import io
import os
import re
import tokenize
from typing import Optional

from grader.model import CodeUnit, Location, Message, Problem

#: Largest submission file read, in bytes.
MAX_FILE_BYTES = 4 * 1024 * 1024
#: Most code parsed from one file or cell, in bytes (a notebook's file also holds its outputs).
#: Parsing builds the whole syntax tree in the grader's process: this bounds its memory.
MAX_CODE_BYTES = 1024 * 1024
#: Most units (top-level statements, or cells) a submission may have. A course's solution has a
#: few dozen; each unit costs a message entry and, at worst, its own time limit.
MAX_UNITS = 5000
#: Code past this size has its names, numbers and symbols counted before it is parsed; more than
#: MAX_TOKENS is refused (a course's file has a few thousand).
SMALL_CODE_BYTES = 64 * 1024
MAX_TOKENS = 200_000
WORD_OR_SYMBOL = re.compile(r"\w+|[^\w\s]")
#: Each syntax error costs a parse of what follows it: past this many errors, or this much text
#: parsed in all, the rest of a file is not parsed again.
MAX_SYNTAX_ERRORS = 200
MAX_PARSED_BYTES = 16 * 1024 * 1024
#: Lines an IPython kernel would treat as magics or shell commands, not Python: ``%name``,
#: ``!command`` and ``files = !ls`` (not a wrapped line that goes on with ``% x)`` or ``!= y``).
MAGIC_LINE = re.compile(r"^\s*(?:[\w.]+(?:\s*,\s*[\w.]+)*\s*=\s*)?(?:%{1,2}[A-Za-z_]|!(?!=))")
#: A line that may be one of them, found anywhere in a source (one scan, before looking line by line).
ANY_MAGIC_LINE = re.compile(r"^[\t ]*(?:[\w.][\w., \t]*=[\t ]*)?[%!]", re.M)
#: Cell magics that run their cell as Python in the notebook's namespace, only timing it or
#: capturing its output: the cell's code counts. (``%%timeit`` runs it inside a function of
#: its own, so what it defines is gone after; other cell magics are another language.)
BODY_MAGICS = frozenset({"time", "capture"})


def readable_name(name: str) -> str:
    """A file name as a learner's name: as it is, if it is UTF-8 (as good as every name); else
    its bytes read with "\ufffd" for what is not, and a hash of them, so that two such names stay
    apart. (Raw, it could be written into no UTF-8 report, CSV or record.)"""
    raw = name.encode("utf-8", "surrogateescape")
    try:
        raw.decode("utf-8")
        return name
    except UnicodeDecodeError:
        return f"{raw.decode('utf-8', 'replace')}~{hashlib.sha256(raw).hexdigest()[:8]}"


def name_of(path) -> str:
    """The learner's name of the file or folder at ``path``: its last part, as it is called in
    its folder (``.`` and ``..`` named as the folders they are), readable (``readable_name``)."""
    return readable_name(os.path.basename(os.path.abspath(path)))


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode(data: bytes, where: Location, python: bool = False) -> tuple[Optional[str], Optional[Problem]]:
    """The text of a submission, or the Problem that stops it being read. ``python``: the bytes
    are a Python file, which may declare its own encoding (``# -*- coding: latin-1 -*-``, PEP
    263) as Python itself allows; anything else is UTF-8."""
    if len(data) > MAX_FILE_BYTES:
        return None, Problem(where, Message("load.too_large", {"size": len(data), "limit": MAX_FILE_BYTES}))
    if not data.removeprefix(codecs.BOM_UTF8).strip():  # (a byte-order mark alone is no code either)
        return None, Problem(where, Message("load.empty"))
    if b"\x00" in data:
        return None, Problem(where, Message("load.binary"))
    encoding = "utf-8-sig"
    if python:
        try:
            encoding = tokenize.detect_encoding(io.BytesIO(data).readline)[0]
            if not _text_encoding(encoding):
                raise SyntaxError(encoding)
        except SyntaxError:  # an encoding Python does not know, contradicts a BOM, or is no text
            return None, _not_utf8(data, 0)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        return None, _not_utf8(data, exc.start)
    # Windows and old-Mac line breaks count as lines too, as they do for Python itself.
    return text.replace("\r\n", "\n").replace("\r", "\n"), None


#: Hiragana and katakana: Japanese prose has them, and bytes of another encoding read as
#: Shift_JIS almost never make them (their lead bytes are control characters in Latin-1).
KANA = re.compile("[\u3041-\u30ff]")


def _not_utf8(data: bytes, bad: int) -> Problem:
    """The problem of a file that cannot be read as text, at the line of its byte ``bad`` (that of
    its first byte that is not UTF-8, when Python's own reading of the first two lines failed)."""
    if bad == 0:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = exc.start
    line = data[:bad].count(b"\n") + 1
    message_id = "load.shift_jis" if _shift_jis(data) else "load.not_utf8"
    return Problem(Location(line=line), Message(message_id, {"line": line}))


def _shift_jis(data: bytes) -> bool:
    """Whether bytes that are not UTF-8 are Japanese text saved as Shift_JIS (Windows' cp932),
    as older Japanese editors save it: then the learner is told so, and how to fix it."""
    try:
        return bool(KANA.search(data.decode("cp932")))
    except UnicodeDecodeError:
        return False


def _text_encoding(name: str) -> bool:
    """Whether a declared encoding decodes Python source as Python would: a text encoding
    (``rot13``, ``base64`` are codecs, not encodings) that keeps ASCII as ASCII (not UTF-16)."""
    try:
        info = codecs.lookup(name)
        return info._is_text_encoding and b"x = 1\n".decode(info.name) == "x = 1\n"
    except (LookupError, UnicodeError, ValueError):
        return False


def syntax_problem(exc: SyntaxError, location: Location, defines: tuple[str, ...] = ()) -> Problem:
    return Problem(
        location,
        Message("load.syntax_error", {"error": exc.msg or "invalid syntax", "text": (exc.text or "").strip()[:200]}),
        defines=defines,
    )


#: ``def name`` or ``class name`` at the start of a line, found without parsing (the code does not parse).
DEFINITION = re.compile(r"^(?:async[ \t]+)?(?:def|class)[ \t]+([A-Za-z_]\w*)", re.M)


def defined_in(lines: list[str]) -> tuple[str, ...]:
    """The top-level functions and classes ``lines`` (code that does not parse) would define."""
    return tuple(dict.fromkeys(DEFINITION.findall("\n".join(lines))))[:50]


def strip_magics(source: str) -> tuple[str, list[str]]:
    """Blank out IPython magic and ``!shell`` lines (keeping line numbers); return the lines.
    A cell under ``%%time`` or ``%%capture`` keeps its code; under another cell magic, none."""
    if not ANY_MAGIC_LINE.search(source):
        return source, []
    lines = source.split("\n")
    first = lines[0].strip()
    if first.startswith("%%"):
        name = first[2:].split(maxsplit=1)
        if name and name[0] in BODY_MAGICS:
            body, skipped = strip_magics("\n".join([""] + lines[1:]))
            return body, [first] + skipped
        return "", [first]
    if _parses(source):  # Python as it is: a line that looks like a magic is part of a statement
        return source, []
    skipped = []
    for number, line in enumerate(lines):
        if MAGIC_LINE.match(line):
            skipped.append(line.strip())
            lines[number] = ""
    return "\n".join(lines), skipped


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def split_statements(source: str, filename: str, first_line: int = 1,
                     cell: Optional[int] = None, execution_count: Optional[int] = None
                     ) -> tuple[list[CodeUnit], list[Problem]]:
    """Top-level statements of ``source`` as units, statements sharing a line kept together.

    A syntax error costs only the statement it is in: the rest of the file is split into blocks
    at lines that start a new top-level statement, and each block is parsed on its own.
    """
    units: list[CodeUnit] = []
    problems: list[Problem] = []
    lines = source.split("\n")

    def where(line: int) -> Location:
        return Location(line=line, cell=cell, execution_count=execution_count)

    # Refused before parsing: the syntax tree of megabytes of code, or of hundreds of thousands
    # of names and numbers, would take the grader seconds and hundreds of megabytes.
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > MAX_CODE_BYTES:
        return [], [Problem(where(first_line), Message("load.too_much_code", {"size": size, "limit": MAX_CODE_BYTES}))]
    if size > SMALL_CODE_BYTES:  # (a course's file is far smaller: it pays nothing for this)
        tokens = sum(1 for _ in WORD_OR_SYMBOL.finditer(source))
        if tokens > MAX_TOKENS:
            return [], [Problem(where(first_line), Message("load.too_many_tokens", {"count": tokens, "limit": MAX_TOKENS}))]

    def add_parsed(start: int, end: int, tree: ast.Module) -> None:
        # start/end: 0-based line range of this chunk within ``lines``
        spans = []
        for node in tree.body:
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            last = node.end_lineno or node.lineno
            if spans and first <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], last)
            else:
                spans.append([first, last])
        for first, last in spans:
            text = "\n".join(lines[start + first - 1: start + last]) + "\n"
            line = first_line + start + first - 1
            units.append(CodeUnit(text, line, filename, where(line)))

    starts: Optional[list[int]] = None  # where a top-level statement could begin (``_blocks``)

    def blocks_of(start: int, end: int) -> list[tuple[int, int]]:
        nonlocal starts
        if starts is None:  # found once, only for a file that fails to parse
            starts = [block_start for block_start, _ in _blocks(lines, 0, len(lines))]
        inside = [start] + starts[bisect.bisect_right(starts, start):bisect.bisect_left(starts, end)]
        return list(zip(inside, inside[1:] + [end]))

    # Ranges of lines still to parse, the next on top. A range that fails is split and its parts
    # pushed (no recursion: a file of a thousand syntax errors must not exhaust the stack).
    ranges = [(0, len(lines))]
    syntax_errors = parsed = 0
    while ranges:
        start, end = ranges.pop()
        chunk = "\n".join(lines[start:end])
        parsed += len(chunk)
        try:
            tree = ast.parse(chunk)
        except SyntaxError as exc:
            syntax_errors += 1
            bad_line = min(max(start + (exc.lineno or 1) - 1, start), end - 1)
            if (syntax_errors >= MAX_SYNTAX_ERRORS or parsed > MAX_PARSED_BYTES) and end > bad_line + 1:
                problems.append(syntax_problem(exc, where(first_line + bad_line)))
                problems.append(Problem(where(first_line + bad_line + 1), Message("load.too_many_errors", {"count": syntax_errors})))
                continue
            bad_start, bad_end = next((b for b in blocks_of(start, end) if b[0] <= bad_line < b[1]), (start, end))
            problems.append(syntax_problem(exc, where(first_line + bad_line), defined_in(lines[bad_start:bad_end])))
            if bad_end < end:
                ranges.append((bad_end, end))
            if bad_start > start:
                ranges.append((start, bad_start))
        except (ValueError, RecursionError, MemoryError) as exc:
            # No line to go by (an expression nested too deep for the parser): halve the range
            # at a statement boundary until the part that fails is one statement, so the rest
            # of the file still counts.
            blocks = blocks_of(start, end)
            if len(blocks) > 1:
                middle = blocks[len(blocks) // 2][0]
                ranges.append((middle, end))
                ranges.append((start, middle))
                continue
            reason = str(exc) if isinstance(exc, ValueError) and str(exc) else "nested too deeply to parse"
            problems.append(Problem(where(first_line + start), Message("load.unparsable", {"error": reason[:200]})))
        else:
            add_parsed(start, end, tree)

    units.sort(key=lambda unit: unit.first_line)
    problems.sort(key=lambda problem: problem.where.line or 0)
    return units, problems


_CONTINUATION = re.compile(r"^(else|elif|except|finally)\b|^[)\]}]")


def _blocks(lines: list[str], start: int, end: int) -> list[tuple[int, int]]:
    """Line ranges that each begin where a new top-level statement could begin."""
    starts = [start]
    for number in range(start + 1, end):
        line = lines[number]
        if line and not line[0].isspace() and not line.startswith("#") and not _CONTINUATION.match(line):
            if lines[number - 1].startswith("@"):
                continue
            starts.append(number)
    return [(s, e) for s, e in zip(starts, starts[1:] + [end])]
