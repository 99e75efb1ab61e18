"""Tolerant comparison of what a learner's code returned with what the reference returned.

Runs in the grader's process only, with the grader's numpy: nothing the learner does to numpy
in its own process can change a verdict. Values are the plain data of ``grader.wire``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: How many differing elements a message lists before it says "and N more".
SHOWN_ELEMENTS = 3


@dataclass(frozen=True)
class Mismatch:
    """Why ``got`` is not ``expected``: a message id of ``grader.messages`` and its parameters."""

    message_id: str
    params: dict = field(default_factory=dict)
    path: str = ""


def describe(value: Any) -> str:
    """A short, readable rendering of a plain value for messages."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fc":
            text = np.array2string(value, precision=8, threshold=12, edgeitems=3, max_line_width=100)
        else:
            text = np.array2string(value, threshold=12, edgeitems=3, max_line_width=100)
        return text if value.ndim else text + " (0-d array)"
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    if isinstance(value, list):
        shown = ", ".join(describe(item) for item in value[:4])
        return f"[{shown}{', ...' if len(value) > 4 else ''}]"
    if isinstance(value, dict):
        shown = ", ".join(f"{key}: {describe(item)}" for key, item in list(value.items())[:4])
        return "{" + shown + (", ..." if len(value) > 4 else "") + "}"
    return repr(value)


def kind_of(value: Any) -> str:
    """The kind of a plain value, in the words messages use."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, np.ndarray):
        return f"array{value.shape}"
    return type(value).__name__


def compare(expected: Any, got: Any, rtol: float, atol: float, path: str = "") -> Mismatch | None:
    """None when ``got`` matches ``expected`` within ``rtol``/``atol``; else the first Mismatch."""
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        if type(got) is type(expected) and got == expected:
            return None
        return Mismatch("compare.value", {"expected": describe(expected), "got": describe(got)}, path)
    if isinstance(expected, (int, float)) or isinstance(expected, np.ndarray):
        return _compare_numeric(expected, got, rtol, atol, path)
    if isinstance(expected, list):
        if not isinstance(got, list) or len(got) != len(expected):
            return Mismatch("compare.kind", {"expected": f"list of {len(expected)}", "got": kind_of(got)}, path)
        for index, (want, have) in enumerate(zip(expected, got)):
            found = compare(want, have, rtol, atol, f"{path}[{index}]")
            if found:
                return found
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return Mismatch("compare.kind", {"expected": "dict", "got": kind_of(got)}, path)
        for key in expected:
            found = compare(expected[key], got[key], rtol, atol, f"{path}.{key}" if path else key)
            if found:
                return found
        return None
    raise TypeError(f"cannot compare expected values of type {type(expected).__name__}")


def _compare_numeric(expected, got, rtol, atol, path) -> Mismatch | None:
    want = np.asarray(expected)
    if isinstance(got, bool) or not isinstance(got, (int, float, np.ndarray)):
        return Mismatch("compare.kind", {"expected": kind_of(expected), "got": kind_of(got)}, path)
    have = np.asarray(got)
    if want.dtype == have.dtype and want.shape == have.shape and want.tobytes() == have.tobytes():
        return None  # the same bits: the common case for a correct learner, and the cheapest
    if want.shape != have.shape:
        return Mismatch("compare.shape", {"expected": str(want.shape), "got": str(have.shape)}, path)
    if not _kinds_compatible(want.dtype.kind, have.dtype.kind):
        return Mismatch("compare.dtype", {"expected": str(want.dtype), "got": str(have.dtype)}, path)
    if want.dtype.kind == "b":
        bad = want != have
    else:
        bad = ~_close(want, have, rtol, atol)
    if not bad.any():
        return None
    if want.ndim == 0:
        return Mismatch(
            "compare.number",
            {"expected": describe(want.item()), "got": describe(have.item())},
            path,
        )
    positions = np.argwhere(bad)
    shown = [
        f"[{', '.join(str(int(i)) for i in index)}] {describe(want[tuple(index)].item())} → {describe(have[tuple(index)].item())}"
        for index in positions[:SHOWN_ELEMENTS]
    ]
    return Mismatch(
        "compare.array",
        {
            "count": int(bad.sum()),
            "size": int(want.size),
            "first": "; ".join(shown),
            "expected": describe(want),
            "got": describe(have),
        },
        path,
    )


def _kinds_compatible(expected: str, got: str) -> bool:
    if expected == "f":
        return got in "fiu"
    if expected in "iu":
        return got in "iu"
    return expected == got


def _close(want: np.ndarray, have: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """Elementwise closeness where NaN matches only NaN and an infinity only the same infinity."""
    want = want.astype(np.complex128 if want.dtype.kind == "c" or have.dtype.kind == "c" else np.float64)
    have = have.astype(want.dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        finite = np.isfinite(want) & np.isfinite(have)
        close = np.zeros(want.shape, dtype=bool)
        close[finite] = np.abs(have[finite] - want[finite]) <= atol + rtol * np.abs(want[finite])
        both_nan = np.isnan(want) & np.isnan(have)
        same_inf = np.isinf(want) & np.isinf(have) & (want == have)
    return close | both_nan | same_inf
