"""One submission in the sandbox: load its code, run checks, survive whatever its process does.

A learner's process that hangs, crashes or breaks the protocol costs only the unit or the check
it was running: the session starts a fresh process, loads the code again without the units that
failed that way, and carries on with the next check.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from grader.sandbox.client import GRACE_SECONDS, CapturedOutput, LearnerProcess, ProcessGone, Settings
from grader.sandbox.control import Host

#: Seconds a fresh learner process may take to be ready, on top of its first unit's time.
STARTUP_SECONDS = 10.0
#: Fresh processes a submission may use before its remaining checks are given up.
MAX_STARTS = 40

OUTCOME_KINDS = frozenset({"value", "missing", "not_implemented", "not_plain", "exception", "timeout", "too_large"})


@dataclass(frozen=True)
class Program:
    """What the learner's process is asked to run: plain data, ready for the wire."""

    units: tuple[dict, ...]  # {"index", "source", "first_line", "filename"}
    module_name: str
    file: str
    project_dir: str | None = None


@dataclass
class LoadOutcome:
    problems: dict[int, dict] = field(default_factory=dict)  # unit index -> error
    names: list[str] = field(default_factory=list)


class Session:
    def __init__(self, host: Host, program: Program, settings: Settings, config: dict):
        self.host = host
        self.program = program
        self.settings = settings
        self.config = config
        self.output = CapturedOutput(settings.output_bytes)
        self.loaded = LoadOutcome()
        self.skip: set[int] = set()
        self.process: LearnerProcess | None = None
        self.starts = 0

    # --- loading ---------------------------------------------------------------------------

    def load(self) -> LoadOutcome:
        """Run the submission's units once; the problems found are the report's load errors."""
        self._start()
        return self.loaded

    def _start(self) -> None:
        while True:
            if self.starts >= MAX_STARTS:
                raise ProcessGone("exhausted", "too many restarts")
            self.starts += 1
            self.process = LearnerProcess(self.host, self.config, self.output, self.program.project_dir)
            waiting = [unit["index"] for unit in self.program.units if unit["index"] not in self.skip]
            current = None
            try:
                self.process.send({
                    "type": "load",
                    "units": list(self.program.units),
                    "skip": sorted(self.skip),
                    "module_name": self.program.module_name,
                    "file": self.program.file,
                    "timeout": self.settings.load_timeout,
                })
                # Units run in order, so the one running is the first not yet reported.
                current = waiting.pop(0) if waiting else None
                deadline = time.monotonic() + self.settings.load_timeout + GRACE_SECONDS + STARTUP_SECONDS
                while True:
                    message = self.process.receive(deadline)
                    kind = message.get("type")
                    if kind == "unit_done" and current is not None and message.get("index") == current:
                        error = message.get("error")
                        if error is not None:
                            self.loaded.problems.setdefault(current, _checked_error(error))
                        current = waiting.pop(0) if waiting else None
                        deadline = time.monotonic() + self.settings.load_timeout + GRACE_SECONDS
                    elif kind == "loaded" and current is None:
                        names = message.get("names")
                        if type(names) is list:
                            self.loaded.names = [n for n in names if type(n) is str]
                        return
                    else:
                        self.process.kill()
                        raise ProcessGone("malformed", f"unexpected message {str(kind)[:30]!r}")
            except ProcessGone as gone:
                status = self.process.exit_status if self.process else None
                self._discard_process()
                if current is None:
                    raise
                # The unit that was running takes the blame; the next process skips it.
                self.loaded.problems.setdefault(
                    current, {"kind": gone.reason, "detail": gone.detail, **_status_fields(status)}
                )
                self.skip.add(current)

    def _discard_process(self) -> None:
        if self.process is not None:
            self.process.close()
            self.process = None

    # --- checks ----------------------------------------------------------------------------

    def run_checks(self, requests: list[dict], answer_call: Callable[[int, dict], dict],
                   on_outcome: Callable[[int, dict], None]) -> None:
        """Run every request in order, pipelined: the learner's process already has the next
        request while the grader judges the last result. ``answer_call(index, message)`` answers
        a probe's call to a function the grader supplies; ``on_outcome(index, outcome)`` gets
        each result as it arrives. A process that dies costs the check it was running; the rest
        are sent again to a fresh process."""
        pending = list(range(len(requests)))
        while pending:
            try:
                if self.process is None or not self.process.alive:
                    self._discard_process()
                    self._start()
                for index in pending:
                    self.process.send({**requests[index], "type": "check", "seq": index,
                                       "timeout": self.settings.check_timeout})
            except ProcessGone as gone:
                self._discard_process()
                kind = "exhausted" if gone.reason == "exhausted" else "crash"
                on_outcome(pending.pop(0), {"kind": kind, "detail": gone.detail})
                if kind == "exhausted":
                    for index in pending:
                        on_outcome(index, {"kind": "exhausted"})
                    return
                continue
            while pending:
                index = pending[0]
                outcome = self._await(index, answer_call)
                pending.pop(0)
                on_outcome(index, outcome)
                if self.process is None:
                    break  # it died with this check: start afresh for the rest

    def _await(self, index: int, answer_call) -> dict:
        deadline = time.monotonic() + self.settings.check_timeout + GRACE_SECONDS
        try:
            while True:
                message = self.process.receive(deadline)
                kind = message.get("type")
                if kind == "call":
                    self.process.send(answer_call(index, message))
                elif kind == "result" and message.get("seq") == index and type(message.get("outcome")) is dict:
                    outcome = message["outcome"]
                    if outcome.get("kind") not in OUTCOME_KINDS:
                        raise self._malformed("unknown outcome")
                    return outcome
                else:
                    raise self._malformed(f"unexpected message {str(kind)[:30]!r}")
        except ProcessGone as gone:
            status = self.process.exit_status if self.process else None
            self._discard_process()
            return {"kind": gone.reason, "detail": gone.detail, **_status_fields(status)}

    def _malformed(self, detail: str) -> ProcessGone:
        self.process.kill()
        return ProcessGone("malformed", detail)

    def close(self) -> None:
        self._discard_process()


def _status_fields(status: dict | None) -> dict:
    status = status or {}
    return {"signal": status.get("signal"), "exit": status.get("exit")}


def _checked_error(error) -> dict:
    """A unit's error as the learner's process reported it, reduced to known fields."""
    if type(error) is not dict:
        return {"kind": "malformed"}
    kind = error.get("kind")
    if kind not in ("syntax", "exception", "timeout"):
        return {"kind": "malformed"}
    frames = error.get("frames") if type(error.get("frames")) is list else []
    return {
        "kind": kind,
        "type": str(error.get("type", ""))[:100],
        "message": str(error.get("message", ""))[:500],
        "line": error.get("line") if type(error.get("line")) is int else None,
        "frames": [f for f in frames[:10] if type(f) is dict],
    }
