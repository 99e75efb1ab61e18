"""From what a probe returned in the learner's process to a verdict on one check.

Every outcome here came from an untrusted process: its values are decoded again (plain data
only) and every field is read defensively.
"""
from __future__ import annotations

import difflib
import re
from typing import Any, Mapping, Optional

from grader import probing, wire
from grader.compare import compare, describe
from grader.model import Check, CheckResult, Message, Status

#: The marker the sandbox's guard puts at the start of a refusal: ``[grade:write] ...``.
REFUSAL = re.compile(r"^\[grade:([a-z_]+)\]\s*(.*)$", re.S)


def judge(check: Check, outcome: Mapping[str, Any], expected: Mapping[str, Any], *,
          names: tuple[str, ...] = (), rng=None, timeout: float = 0.0, arrays: Optional[dict] = None) -> CheckResult:
    """The verdict on ``check``: the learner's ``outcome`` against the reference's ``expected``.
    ``arrays``: one dict shared by the checks that judge the same outcome, so that each of its
    arrays is decoded once (``wire.decode_value``)."""
    if expected.get("kind") != "value":
        raise RuntimeError(f"the reference fails its own check {check.id}: {expected}")
    status, message, got = _verdict(check, outcome, expected, names, rng, timeout, arrays)
    details = {}
    if status is not Status.PASSED:  # rendering values is slow: only for what is shown
        inputs = probing.inputs_of_call(expected.get("inputs") or [], _failing_call(outcome, expected, message))
        for name, value in inputs.items():
            details[name] = value if isinstance(value, str) else describe(value)
        if check.verify is None:
            details["expected"] = describe(expected["value"])
        if got is not _NOTHING:
            details["got"] = describe(got)
    score = float(check.points) if status is Status.PASSED else 0.0  # (always a float: JSON keeps one type)
    return CheckResult(check=check, status=status, score=score, message=message, details=details)


_NOTHING = object()
#: The first index of a mismatch's place in a result: "[3]" and "[3][1]" are in its 4th element.
FIRST_INDEX = re.compile(r"^\[(\d+)\]")


def _failing_call(outcome: Mapping[str, Any], expected: Mapping[str, Any], message: Optional[Message]) -> Optional[int]:
    """Which of the probe's calls (its ``show``s, in order) the failure is in, if it can tell: the
    call whose element of the result differs (one call per element), or, for a check that raised
    or timed out, the last call the learner's process had begun (it says how many it began)."""
    calls = len(expected.get("inputs") or ())
    if calls < 2:
        return None
    if outcome.get("kind") == "value":
        where = FIRST_INDEX.match(str((message.params or {}).get("where", ""))) if message is not None else None
        value = expected.get("value")
        if where and type(value) is list and len(value) == calls:
            return int(where.group(1))
        return None
    begun = outcome.get("shown")
    return begun - 1 if type(begun) is int and 1 <= begun <= calls else None


def _verdict(check, outcome, expected, names, rng, timeout, arrays):
    kind = outcome.get("kind")
    if kind == "value":
        if check.verify is None and _identical(outcome.get("value"), expected.get("encoded")):
            # Sent as exactly the reference's value (same types, the same bits in every
            # array): what compare() would pass, found without decoding. Most checks of most
            # submissions end here.
            return Status.PASSED, None, _NOTHING
        try:
            got = wire.decode_value(outcome.get("value"), arrays=arrays)
        except (wire.WireError, RecursionError):
            return Status.ERROR, Message("outcome.malformed"), _NOTHING
        # The value is plain data, but of any shape: a property check or a comparison that
        # chokes on it is the learner's failure, never the grader's.
        try:
            if check.verify is not None:
                problem = check.verify(got, rng)
                if problem is None:
                    return Status.PASSED, None, got
                return Status.FAILED, Message("outcome.property", text=problem), got
            mismatch = compare(expected["value"], got, check.rtol, check.atol)
        except Exception:  # noqa: BLE001
            return Status.ERROR, Message("outcome.malformed"), got
        if mismatch is None:
            return Status.PASSED, None, got
        return Status.FAILED, Message(mismatch.message_id, {**mismatch.params, "where": mismatch.path}), got
    if kind == "missing":
        return Status.MISSING, missing_message(_text(outcome.get("name")), names), _NOTHING
    if kind == "not_implemented":
        return Status.MISSING, Message("outcome.not_attempted", {"name": check.function}), _NOTHING
    if kind == "exception":
        return Status.ERROR, exception_message(outcome), _NOTHING
    if kind == "timeout":
        frames = frames_of(outcome)
        if frames:  # where it was when stopped: most often the loop that never ends
            line = frames[-1]
            return Status.TIMEOUT, Message("outcome.timeout_at", {"seconds": f"{timeout:g}", "file": line["file"],
                                                                  "line": line["line"], "code": line["text"]}), _NOTHING
        return Status.TIMEOUT, Message("outcome.timeout", {"seconds": f"{timeout:g}"}), _NOTHING
    if kind == "not_plain":
        if outcome.get("message") == probing.RETURNED_NONE:
            return Status.ERROR, Message("outcome.returned_none", {"name": check.function}), _NOTHING
        return Status.ERROR, Message("outcome.not_plain", {"detail": _text(outcome.get("message"))}), _NOTHING
    if kind == "too_large":
        return Status.ERROR, Message("outcome.too_large", {"detail": _text(outcome.get("message"))}), _NOTHING
    if kind == "crash":
        return Status.ERROR, crash_message(outcome), _NOTHING
    if kind == "disk":
        return Status.ERROR, Message("outcome.disk", {"megabytes": _text(outcome.get("detail"))}), _NOTHING
    if kind == "exhausted":
        return Status.ERROR, Message("outcome.exhausted"), _NOTHING
    return Status.ERROR, Message("outcome.malformed"), _NOTHING


def _identical(got: Any, expected: Any) -> bool:
    """Whether two wire-encoded values are the same, type for type (True is not 1, nor 1 1.0).
    The recursion follows ``expected``, the reference's own value, so its depth is bounded."""
    if type(got) is not type(expected):
        return False
    if type(expected) is list:
        return len(got) == len(expected) and all(map(_identical, got, expected))
    if type(expected) is dict:
        return got.keys() == expected.keys() and all(_identical(got[key], expected[key]) for key in expected)
    return got == expected  # (a NaN is never equal: compare() decides)


def missing_message(name: str, names: tuple[str, ...]) -> Message:
    """"``name`` is not defined", with the closest name the learner did define, if any."""
    by_lower = {n.lower(): n for n in names}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.75)
    if close:
        return Message("outcome.missing_did_you_mean", {"name": name, "candidate": by_lower[close[0]]})
    return Message("outcome.missing", {"name": name})


def refusal_message(type_name: str, text: str) -> Optional[Message]:
    """The explanation of a refusal by the sandbox: by its audit hook (a ``[grade:...]``
    message) or by the kernel's system-call filter (EPERM, which a submission never meets
    otherwise)."""
    refused = REFUSAL.match(text)
    if refused:
        return Message(f"refused.{refused.group(1)}", {"detail": refused.group(2)})
    if type_name == "PermissionError" and text.startswith("[Errno 1]"):
        return Message("refused.system", {"detail": text})
    if type_name == "PermissionError" and text.startswith("[Errno 13]"):
        # Landlock's refusal (native code opening a file the audit hook did not see), or a
        # file in the learner's own folder without permission: both are about files.
        return Message("refused.files", {"detail": text})
    return None


def exception_message(outcome: Mapping[str, Any], during: str = "outcome") -> Message:
    """An exception raised in the learner's code, ``during`` a check ("outcome": at the
    learner's innermost line) or a statement of its file ("load": the problem has the line).
    ``sys.exit()`` reads as the call it is, and an exception without a message by its type."""
    type_name, text = _text(outcome.get("type")) or "Exception", _text(outcome.get("message"))
    refused = refusal_message(type_name, text)
    if refused:
        return refused
    if during == "load" and text.endswith(".") and not text.endswith(".."):
        text = text[:-1]  # (the sentence goes on: "{message}. The rest of the file still ran.")
    refused_by = outcome.get("refused")
    if during == "outcome" and type(refused_by) is list and refused_by and type(refused_by[0]) is str:
        message_id, params = "outcome.replay_refused", {"function": refused_by[0]}
    elif type_name == "SystemExit":  # (its message is the repr of its code, or "")
        message_id, params = f"{during}.system_exit", {"exit_code": text, "call": exit_call(frames_of(outcome), text)}
    elif not text:
        message_id, params = f"{during}.exception_bare", {"type": type_name}
    else:
        message_id, params = f"{during}.exception", {"type": type_name, "message": text}
    frames = frames_of(outcome)
    if during == "outcome" and frames:
        line = frames[-1]
        params.update(file=line["file"], line=line["line"], code=line["text"])
        message_id += "_at"
    return Message(message_id, params)


def crash_message(outcome: Mapping[str, Any], during: str = "outcome") -> Message:
    """Why the learner's process ended, ``during`` a check ("outcome") or its load ("load")."""
    signal_number = outcome.get("signal")
    if type(signal_number) is int:
        import signal as signals

        try:
            name = signals.Signals(signal_number).name
        except ValueError:
            name = str(signal_number)
        return Message(f"{during}.crash_signal", {"signal": name})
    exit_code = outcome.get("exit")
    if type(exit_code) is int:
        return Message(f"{during}.crash_exit", {"code": exit_code})
    return Message(f"{during}.crash")


#: What ended the program, as a learner's line has it: ``sys.exit(``, ``exit(``, ``quit(``, ``raise SystemExit``.
EXIT_CALL = re.compile(r"\braise\s+SystemExit\b|\b((?:\w+\.)*(?:exit|quit))\s*\(")


def exit_call(frames: list[dict], exit_code: str) -> str:
    """The code that raised SystemExit with ``exit_code``, as written on the innermost of the
    learner's ``frames`` that has some (``exit(4)``, not ``sys.exit(4)``); ``sys.exit`` if none does."""
    for frame in reversed(frames):
        match = EXIT_CALL.search(frame["text"])
        if match and match.group(1):
            return f"{match.group(1)}({exit_code})"
        if match:
            return f"raise SystemExit({exit_code})" if exit_code else "raise SystemExit"
    return f"sys.exit({exit_code})"


def frames_of(outcome: Mapping[str, Any]) -> list[dict]:
    frames = outcome.get("frames")
    if type(frames) is not list:
        return []
    clean = []
    for frame in frames[:10]:
        if type(frame) is dict and type(frame.get("line")) is int:
            clean.append({"file": _text(frame.get("file")), "line": frame["line"],
                          "name": _text(frame.get("name")), "text": _text(frame.get("text"))})
    return clean


def _text(value: Any, limit: int = 500) -> str:
    if type(value) is not str:
        return ""
    return value if len(value) <= limit else value[: limit - 3] + "..."
