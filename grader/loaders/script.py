"""Loader for ``.py`` submissions: each top-level statement is a unit, as if typed into a
notebook one cell at a time. A script exported from a notebook (``# In[3]:`` markers) is split
into its cells instead, and grades as the notebook would."""
from __future__ import annotations

import ast
import dataclasses
import os
import re
from pathlib import Path

from grader import hookimpl
from grader.loaders import BODY_MAGICS, decode, defined_in, digest, readable_name, split_statements, strip_magics
from grader.model import CodeUnit, Location, Message, Submission

#: The cell markers ``jupyter nbconvert --to script`` writes.
CELL_MARKER = re.compile(r"^# In\[\s*(\d*)\s*\]:\s*$")
#: What nbconvert writes for a magic: ``get_ipython().run_line_magic('matplotlib', 'inline')``,
#: or ``files = get_ipython().getoutput('ls')`` for ``files = !ls``.
IPYTHON_CALL = re.compile(r"^\s*(?:[\w.][\w., \t]*=\s*)?get_ipython\(\)\.")


def load(path: Path, name: str) -> Submission:
    data = Path(path).read_bytes()
    text, problem = decode(data, Location(), python=True)
    base = dict(name=name, path=str(path), digest=digest(data))
    if problem:
        return Submission(units=(), module_name="__main__", problems=(problem,), **base)
    filename = readable_name(os.path.basename(path))  # (shown in reports, which are UTF-8)
    lines = text.split("\n")
    markers = [(number, match.group(1)) for number, line in enumerate(lines) if (match := CELL_MARKER.match(line))
               ] if "# In[" in text else []
    if markers:
        return _load_cells(lines, markers, filename, base)
    source, skipped = strip_magics(text)
    units, problems = split_statements(source, filename)
    return Submission(
        units=tuple(units),
        module_name=_module_name(filename),
        problems=tuple(problems),
        notes=tuple(Message("load.skipped_magic", {"line": line[:80]}) for line in skipped),
        **base,
    )


def _load_cells(lines, markers, filename, base) -> Submission:
    units, problems, notes = [], [], []
    bounds = [number for number, _ in markers] + [len(lines)]
    for cell, ((start, count), end) in enumerate(zip(markers, bounds[1:]), start=1):
        body = lines[start + 1:end]
        for offset, line in enumerate(body):
            if IPYTHON_CALL.match(line):
                magic, body[offset] = _cell_magic_body(line)
                notes.append(Message("load.skipped_magic", {"line": (magic or line.strip())[:80]}))
        source, skipped = strip_magics("\n".join(body))
        notes.extend(Message("load.skipped_magic", {"line": line[:80]}) for line in skipped)
        if not source.strip():
            continue
        execution_count = int(count) if count else None
        # A cell runs as one unit, as in the notebook; a syntax error costs that cell only.
        cell_units, cell_problems = split_statements(source, filename, start + 2, cell, execution_count)
        if cell_problems:  # the whole cell is skipped, as Jupyter would not run it
            cell_problems[0] = dataclasses.replace(cell_problems[0], defines=defined_in(source.split("\n")))
        problems.extend(cell_problems)
        if cell_problems or not cell_units:
            continue
        units.append(CodeUnit(source + "\n", start + 2, filename, Location(line=start + 2, cell=cell, execution_count=execution_count)))
    return Submission(units=tuple(units), module_name="__main__", problems=tuple(problems), notes=tuple(notes), **base)


def _cell_magic_body(line: str) -> tuple[str, str]:
    """("%%time", its code) for ``get_ipython().run_cell_magic('time', '', 'code')``, a ``%%time``
    cell as nbconvert writes it, whose code counts as it does in the notebook; else ("", "")."""
    try:
        call = ast.parse(line.strip(), mode="eval").body
    except SyntaxError:
        return "", ""
    if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "run_cell_magic"
            and len(call.args) == 3 and all(isinstance(a, ast.Constant) and type(a.value) is str for a in call.args)
            and call.args[0].value in BODY_MAGICS):
        return f"%%{call.args[0].value} {call.args[1].value}".strip(), call.args[2].value
    return "", ""


def _module_name(filename: str) -> str:
    stem = os.path.splitext(filename)[0]
    return stem if stem.isidentifier() else "submission"


@hookimpl
def grader_loaders(register):
    register(".py", load)
