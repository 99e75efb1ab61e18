"""``grade init``: a starter file with every function and class the catalogue grades, each
with its signature, a docstring quoting the formula, and ``raise NotImplementedError``.

Signatures and docstrings come from the exercises' reference modules; their bodies never do.
"""
from __future__ import annotations

import importlib
import inspect
import textwrap
from typing import Iterator

from grader.model import Catalogue

HEADER = '''"""Chapter 4, learning in neural networks: fill in each function, then check your work with
    grade submit {name}
(or one function at a time: grade submit {name} -k numerical_diff).
"""
import numpy as np
'''


def stubs(catalogue: Catalogue) -> Iterator[tuple[str, str]]:
    """(name, source) of a stub for each graded function or class, in catalogue order."""
    reference_of = {}
    for exercise in catalogue.exercises:
        for check in exercise.checks:
            reference_of.setdefault(check.function, exercise.reference)
    for name, module_name in reference_of.items():
        target = getattr(importlib.import_module(module_name), name, None)
        if inspect.isclass(target):
            yield name, _class_stub(name, target)
        elif callable(target):
            yield name, _function_stub(name, target, "")
        else:
            yield name, f"def {name}(*args):\n    raise NotImplementedError\n"


def _function_stub(name: str, function, indent: str) -> str:
    try:
        signature = str(inspect.signature(function))
    except (TypeError, ValueError):
        signature = "(*args)"
    lines = [f"def {name}{signature}:"]
    doc = inspect.getdoc(function)
    if doc:
        lines.append(textwrap.indent(f'"""{doc}\n"""' if "\n" in doc else f'"""{doc}"""', "    "))
    lines.append(f"    raise NotImplementedError  # TODO: write {name}")
    return textwrap.indent("\n".join(lines), indent) + "\n"


def _class_stub(name: str, klass) -> str:
    lines = [f"class {name}:"]
    doc = inspect.getdoc(klass)
    if doc:
        lines.append(textwrap.indent(f'"""{doc}"""', "    "))
    for method_name, method in vars(klass).items():
        if inspect.isfunction(method):
            lines.append("")
            lines.append(_function_stub(method_name, method, "    ").rstrip("\n"))
    return "\n".join(lines) + "\n"


def script(catalogue: Catalogue, name: str) -> str:
    parts = [HEADER.format(name=name)]
    parts += [source for _, source in stubs(catalogue)]
    return "\n\n".join(parts)


def notebook(catalogue: Catalogue, name: str) -> str:
    import nbformat

    book = nbformat.v4.new_notebook()
    book.cells.append(nbformat.v4.new_markdown_cell(
        f"# ニューラルネットワークの学習 / Learning in neural networks\n\n"
        f"Fill in each function, then check your work with `grade submit {name}` "
        f"(one function at a time: `grade submit {name} -k numerical_diff`)."
    ))
    book.cells.append(nbformat.v4.new_code_cell("import numpy as np"))
    for _, source in stubs(catalogue):
        book.cells.append(nbformat.v4.new_code_cell(source.rstrip("\n")))
    return nbformat.writes(book) + "\n"
