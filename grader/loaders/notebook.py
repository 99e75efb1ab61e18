"""Loader for ``.ipynb`` submissions: each code cell is a unit, run in order as Jupyter would; a
cell that fails is reported by its number and execution count, and the cells after it still run.
IPython magics and ``!shell`` lines are skipped with a note."""
from __future__ import annotations

import dataclasses
import json
import os
import warnings
from pathlib import Path

from grader import hookimpl
from grader.loaders import decode, defined_in, digest, readable_name, split_statements, strip_magics
from grader.model import CodeUnit, Location, Message, Problem, Submission


def load(path: Path, name: str) -> Submission:
    data = Path(path).read_bytes()
    base = dict(name=name, path=str(path), digest=digest(data), module_name="__main__")
    text, problem = decode(data, Location())
    if problem:
        return Submission(units=(), problems=(problem,), **base)
    notebook, problem, invalid = _read_notebook(text)
    if problem:
        return Submission(units=(), problems=(problem,), **base)
    filename = readable_name(os.path.basename(path))  # (shown in reports, which are UTF-8)
    units, problems, notes = [], [], ([invalid] if invalid else [])
    code_cells = [cell for cell in notebook.cells if cell.get("cell_type") == "code"]
    for number, cell in enumerate(code_cells, start=1):
        execution_count = cell.get("execution_count")
        if type(execution_count) is not int:
            execution_count = None
        raw = cell.get("source", "")
        raw = raw if isinstance(raw, str) else "".join(raw)
        source, skipped = strip_magics(raw.replace("\r\n", "\n").replace("\r", "\n"))
        notes.extend(Message("load.skipped_magic", {"line": line[:80], "cell": number}) for line in skipped)
        if not source.strip():
            continue
        cell_filename = f"{filename} [cell {number}]"
        cell_units, cell_problems = split_statements(source, cell_filename, 1, number, execution_count)
        if cell_problems:  # the whole cell is skipped, as Jupyter would not run it
            cell_problems[0] = dataclasses.replace(cell_problems[0], defines=defined_in(source.split("\n")))
        problems.extend(cell_problems)
        if cell_problems or not cell_units:
            continue
        units.append(CodeUnit(source + "\n", 1, cell_filename, Location(line=1, cell=number, execution_count=execution_count)))
    if not code_cells:
        problems.append(Problem(Location(), Message("load.no_code_cells")))
    return Submission(units=tuple(units), problems=tuple(problems), notes=tuple(notes), **base)


def _read_notebook(text: str):
    """The notebook as nbformat reads it (version 4), or the Problem that stops it; and, for a
    notebook nbformat finds invalid whose cells can still be read (a code cell written by hand
    without ``outputs``, which Jupyter opens after a warning), the note that says so."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        error = str(exc)
        if "digits" in error:  # (int_max_str_digits: Python's advice is not the learner's)
            error = "a number in it is written with thousands of digits"
        return None, Problem(Location(), Message("load.not_json", {"error": error[:200]})), None
    except RecursionError:
        return None, Problem(Location(), Message("load.not_json", {"error": "nested too deeply"})), None
    shape = _misshapen(data)
    if shape:
        return None, Problem(Location(), Message("load.not_notebook", {"error": shape})), None
    import nbformat  # imported here: it is slow to import, and only notebooks need it

    invalid = None
    try:
        # nbformat warns on stderr about what it repairs (cells without ids, in older
        # notebooks): nothing the learner or the instructor should have to read.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            notebook = nbformat.reads(text, as_version=4)
            try:
                nbformat.validate(notebook)
            except nbformat.ValidationError as exc:
                if not _cells_readable(notebook):
                    raise
                invalid = Message("load.notebook_invalid", {"error": _first_line(exc)})
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds for a bad notebook
        return None, Problem(Location(), Message("load.not_notebook", {"error": _first_line(exc)})), None
    return notebook, None, invalid


def _misshapen(data) -> str | None:
    """What keeps JSON ``data`` from being a notebook of format 4 or later, said plainly (nbformat
    would say it with a Python error: "'list' object has no attribute 'get'"), or None."""
    if not isinstance(data, dict):
        return f"it holds {_kind(data)}, where a notebook is an object with \"cells\""
    version = data.get("nbformat")
    if "nbformat" not in data or "cells" not in data and "worksheets" not in data:
        return "it has no \"nbformat\" or no \"cells\", which every notebook has"
    if type(version) is not int:
        return f"its \"nbformat\" is {_kind(version)}, where a notebook has a whole number (4)"
    if "metadata" in data and not isinstance(data["metadata"], dict):
        return f"its \"metadata\" is {_kind(data['metadata'])}, where a notebook has an object"
    if version < 4:
        return None  # (nbformat converts older notebooks, whose cells lie elsewhere)
    cells = data.get("cells")
    if not isinstance(cells, list):
        return f"its \"cells\" is {_kind(cells)}, where a notebook has a list"
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            return f"cell {number} is {_kind(cell)}, where a notebook has an object"
        source = cell.get("source", "")
        if not (isinstance(source, str) or (isinstance(source, list) and all(isinstance(line, str) for line in source))):
            return f"the source of cell {number} is not text (a string, or a list of strings)"
    return None


def _kind(value) -> str:
    if value is None:
        return "null"
    names = {dict: "an object", list: "a list", str: "text", bool: "true or false", int: "a number", float: "a number"}
    shown = json.dumps(value)[:20] if isinstance(value, (str, int, float)) else ""
    return names.get(type(value), "something else") + (f" ({shown})" if shown else "")


def _first_line(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def _cells_readable(notebook) -> bool:
    """Whether every cell has a kind and a source, all that grading reads of it."""
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    return type(cells) is list and all(
        isinstance(cell, dict) and isinstance(cell.get("cell_type"), str)
        and (isinstance(cell.get("source"), str) or (type(cell.get("source")) is list and all(isinstance(line, str) for line in cell["source"])))
        for cell in cells)


@hookimpl
def grader_loaders(register):
    register(".ipynb", load)
