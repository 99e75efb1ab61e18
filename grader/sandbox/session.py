"""One submission in the sandbox: load its code, run checks, survive whatever its process does.

A learner's process that hangs, crashes or breaks the protocol costs only the unit or the check
it was running: the session starts a fresh process, loads the code again without the units that
failed that way, and carries on with the next check.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Callable

from grader import wire
from grader.sandbox.client import GRACE_SECONDS, CapturedOutput, LearnerProcess, ProcessGone, Settings
from grader.sandbox.control import Host

#: Seconds a fresh learner process may take to be ready, on top of its first unit's time.
STARTUP_SECONDS = 2.0
#: Fresh processes a submission may use before its remaining checks are given up.
MAX_STARTS = 40
#: Wall time that loading the code again in fresh processes may take in all, as a multiple of
#: one process's load budget: a file that loads slowly and keeps ending its process would
#: otherwise hold a batch's slot for MAX_STARTS whole loads. A file that loads once is untouched.
RELOAD_BUDGETS = 4
#: Names of the learner's module kept (for "did you mean"), and their length.
NAMES_LIMIT = 500

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
    #: Each plain function's positional parameters, as the learner's code names them.
    parameters: dict[str, list[str]] = field(default_factory=dict)


class Session:
    def __init__(self, host: Host, program: Program, settings: Settings, config: dict):
        self.host = host
        self.program = program
        self.requests: list[bytes] = []
        self._requests_key: str | None = None
        self._requests_sent = False
        self.settings = settings
        self.config = config
        self.output = CapturedOutput(settings.output_bytes)
        self.loaded = LoadOutcome()
        self.skip: set[int] = set()
        #: Units that have run in an earlier process: a fresh one runs them again first, and what
        #: it prints before writing ``marker`` (in both streams) is not kept.
        self.ran: set[int] = set()
        self.marker = f"\x00grade-{secrets.token_hex(16)}\x00"
        self.process: LearnerProcess | None = None
        self.starts = 0
        #: Seconds spent loading the code again, in every process after the first.
        self.reload_seconds = 0.0
        self.begun = False
        self._begun = None
        #: A process started by ``spawn_ahead``, waiting for its code (not yet one of ``starts``).
        self._ahead: LearnerProcess | None = None
        #: Whether learner processes must send every reply at once (after a failure that
        #: batching left unattributed).
        self.strict = False
        #: ("units" or "results", index) of the last unit or check that ran out of time.
        self.expired: tuple = ()

    # --- loading ---------------------------------------------------------------------------

    def spawn_ahead(self) -> None:
        """Start a learner process that sets itself apart and then waits for the submission's
        code (``begin`` sends it). Until then it runs none of the learner's code: nothing needs
        to read its output or to watch its time, however long the grader takes to come back."""
        if self._ahead is None and not self.begun:
            self._ahead = LearnerProcess(self.host, self.config, self.output, self.program.project_dir)

    def begin(self) -> None:
        """Start a learner process (or take the one started ahead) and send it the submission's
        code, without waiting: the grader can do its own work while the code loads."""
        self.begun = True
        self._begun = self._spawn_and_send()

    def send_requests(self, requests: list[bytes]) -> None:
        """The checks to run (``check_request`` frames, one per probe), sent at once so the
        learner's process goes from its code to the checks without waiting for the grader."""
        self.requests = list(requests)
        self._requests_key = Host.requests_key(self.requests)
        process, error = self._begun or (None, None)
        if process is not None and error is None:
            try:
                self._send_checks(process, range(len(self.requests)))
                self._requests_sent = True
            except ProcessGone as gone:
                self._begun = (process, gone)

    def _send_checks(self, process: LearnerProcess, indices) -> None:
        """Have ``process`` run the requests at ``indices``: by index, if it was forked holding
        them (``Host.share_requests``), else the frames back to back, in one write."""
        if process.shared_requests is not None and process.shared_requests == self._requests_key:
            process.send({"type": "shared", "key": process.shared_requests, "indices": list(indices)})
        else:
            process.send_frame(b"".join(self.requests[index] for index in indices))

    def load(self) -> LoadOutcome:
        """Run the submission's units once; the problems found are the report's load errors."""
        self._start(self._begun)
        self._begun = None
        return self.loaded

    def _spawn_and_send(self):
        """(process, error): the new process with its load request sent, or why that failed."""
        self._requests_sent = False
        load = {
            "type": "load",
            "units": list(self.program.units),
            "skip": sorted(self.skip),
            "quiet": sorted(self.ran),
            "marker": self.marker if self.ran else None,
            "module_name": self.program.module_name,
            "file": self.program.file,
            "timeout": self.settings.load_timeout,
            # Each process gets the whole budget: a fresh one runs again what ran before, and
            # MAX_STARTS bounds how many there are.
            "budget": self.settings.total_load_seconds,
            "strict": self.strict,
        }
        if self.ran:
            self.output.keep_after(self.marker.encode())
        else:
            self.output.awaiting = {}
        ahead, self._ahead = self._ahead, None
        if ahead is not None and self.starts < MAX_STARTS:
            try:
                ahead.send(load)
                self.starts += 1
                self.process = ahead
                return self.process, None
            except ProcessGone:  # it died waiting, having run nothing: not a start, no one's fault
                muted, self.output.muted = self.output.muted, True  # (what it printed is not the learner's)
                ahead.close()
                self.output.muted = muted
            except BaseException:  # (the code too large for a message): the process must not be left
                ahead.close()
                raise
        elif ahead is not None:
            ahead.close()
        if self.starts >= MAX_STARTS:
            return None, ProcessGone("exhausted", "too many restarts")
        if self.reload_seconds > RELOAD_BUDGETS * self.settings.total_load_seconds:
            return None, ProcessGone("exhausted", f"restarts spent {self.reload_seconds:.0f} s loading the code again")
        self.starts += 1
        self.process = LearnerProcess(self.host, self.config, self.output, self.program.project_dir)
        try:
            self.process.send(load)
        except ProcessGone as gone:
            return self.process, gone
        return self.process, None

    def _replies(self, deadline: list):
        """The learner process's replies, one at a time. ``deadline`` is a one-item list the
        caller moves on; an "expired" notice (a unit or check out of time) shortens it to the
        grace period and is remembered in ``self.expired`` instead of being yielded."""
        while True:
            message = self.process.receive(deadline[0])
            kind = message.get("type")
            items = message.get("items") if kind == "replies" else None
            if type(items) is not list:
                raise self._malformed(f"unexpected message {str(kind)[:30]!r}")
            for item in items:
                if type(item) is not dict:
                    raise self._malformed("malformed reply")
                kind = item.get("kind")
                if kind == "expired":
                    self.expired = (item.get("at"), item.get("index"))
                    # Only ever sooner: learner code can write such notices itself, and one
                    # every second would otherwise hold its slot for ever.
                    deadline[0] = min(deadline[0], time.monotonic() + GRACE_SECONDS)
                    continue
                if self.expired and (kind, item.get("index", item.get("seq"))) == self.expired:
                    self.expired = ()  # it answered after all: the notice is spent
                yield item

    def _blame(self, gone: ProcessGone, kind: str, index: int) -> bool:
        """Whether the process's end can be charged to unit or check ``index`` (the first not
        yet answered). If replies were batched, a later one may be at fault: then the next
        process runs in strict mode, so the next failure names its culprit, and this says no."""
        if self.strict or (gone.reason == "timeout" and self.expired == (kind, index)):
            self.expired = ()
            return True
        self.strict = True
        return False

    def _start(self, begun=None) -> None:
        while True:
            started = time.monotonic()
            try:
                self._start_once(begun)
                return
            except _Restart:
                begun = None
            finally:
                if self.starts > 1:
                    self.reload_seconds += time.monotonic() - started

    def _start_once(self, begun) -> None:
        """Start one process (or take ``begun``) and load the code in it. Raises ``_Restart``
        when a unit ended the process (it is skipped from now on) and another must try."""
        process, error = begun or self._spawn_and_send()
        if process is None:
            raise error
        waiting = [unit["index"] for unit in self.program.units if unit["index"] not in self.skip]
        printed_before, ran_before = self.output.mark(), set(self.ran)
        # The file's whole load budget, held here too: the process keeps it itself, but learner
        # code can write replies that move each unit's deadline on.
        load_ends = time.monotonic() + self.settings.total_load_seconds + GRACE_SECONDS + STARTUP_SECONDS
        deadline = [min(time.monotonic() + self.settings.load_timeout + GRACE_SECONDS + STARTUP_SECONDS, load_ends)]
        try:
            if error is not None:
                raise error
            for item in self._replies(deadline):
                kind = item.get("kind")
                if kind == "units" and waiting and item.get("index") == waiting[0]:
                    self.ran.add(waiting[0])
                    error = _checked_error(item["error"]) if item.get("error") is not None else None
                    if error is not None:
                        self.loaded.problems.setdefault(item["index"], error)
                    if error is not None and error["kind"] == "budget":
                        self.skip.update(waiting)  # neither it nor any after it ran: none will
                        waiting.clear()
                    else:
                        waiting.pop(0)
                    deadline[0] = min(time.monotonic() + self.settings.load_timeout + GRACE_SECONDS, load_ends)
                elif kind == "loaded" and not waiting:
                    names = item.get("names")
                    if type(names) is list and not self.loaded.names:
                        self.loaded.names = [n[:100] for n in names[:NAMES_LIMIT] if type(n) is str]
                    parameters = item.get("parameters")
                    if type(parameters) is dict and not self.loaded.parameters:
                        self.loaded.parameters = {
                            name[:100]: [p[:100] for p in given[:20] if type(p) is str]
                            for name, given in list(parameters.items())[:NAMES_LIMIT] if type(name) is str and type(given) is list}
                    return
                else:
                    raise self._malformed(f"unexpected reply {str(kind)[:30]!r}")
        except ProcessGone as gone:
            status = self.process.exit_status if self.process else None
            self._discard_process()
            if not waiting:
                raise  # after its last unit: not any unit's fault
            if gone.reason == "timeout" and time.monotonic() >= load_ends:
                # Out of the whole budget without saying so: what did not run is not run.
                self.expired = ()
                self.loaded.problems.setdefault(waiting[0], {"kind": "budget", "skipped": len(waiting) - 1})
                self.skip.update(waiting)
                raise _Restart() from None
            if not self._blame(gone, "units", waiting[0]):
                # Which unit ended it is not known (replies were batched), nor which printed what:
                # what this process printed goes, and the next (strict) one prints it once.
                self.output.back_to(printed_before)
                self.ran = ran_before
                raise _Restart() from None
            # Units run in order: the first not reported was running. It takes the blame,
            # and the next process skips it.
            self.loaded.problems.setdefault(
                waiting[0], {"kind": gone.reason, "detail": gone.detail, **_status_fields(status)}
            )
            self.skip.add(waiting[0])
            raise _Restart() from None

    def _discard_process(self) -> None:
        if self.process is not None:
            self.process.close()
            self.process = None

    # --- checks ----------------------------------------------------------------------------

    def run_checks(self, on_outcome: Callable[[int, dict], None]) -> None:
        """Run every request in order, pipelined: the learner's process already has the next
        requests while the grader judges the last results. ``on_outcome(index, outcome)`` gets
        each result as it arrives. A process that dies costs the check it was running; the rest
        are sent again to a fresh process."""
        pending = list(range(len(self.requests)))
        while pending:
            try:
                if self.process is None or not self.process.alive:
                    self._discard_process()
                    self._start()
                if not self._requests_sent:
                    self._send_checks(self.process, pending)
                self._requests_sent = False  # a fresh process needs them again
            except ProcessGone as gone:
                self._discard_process()
                kind = gone.reason if gone.reason in ("exhausted", "disk") else "crash"
                on_outcome(pending.pop(0), {"kind": kind, "detail": gone.detail})
                if kind == "exhausted":
                    for index in pending:
                        on_outcome(index, {"kind": "exhausted"})
                    return
                continue
            self._collect(pending, on_outcome)

    def _collect(self, pending: list[int], on_outcome) -> None:
        """Outcomes of ``pending`` (removed as they come) until they are all in or the process
        is gone."""
        deadline = [time.monotonic() + self.settings.check_timeout + GRACE_SECONDS]
        try:
            for item in self._replies(deadline):
                outcome = item.get("outcome")
                if item.get("kind") != "results" or item.get("seq") != pending[0] or type(outcome) is not dict:
                    raise self._malformed("a result out of order")
                if type(outcome.get("kind")) is not str or outcome["kind"] not in OUTCOME_KINDS:
                    raise self._malformed("unknown outcome")
                on_outcome(pending.pop(0), outcome)
                deadline[0] = time.monotonic() + self.settings.check_timeout + GRACE_SECONDS
                if not pending:
                    return
        except ProcessGone as gone:
            status = self.process.exit_status if self.process else None
            self._discard_process()
            if not self._blame(gone, "results", pending[0]):
                return  # run the rest again
            on_outcome(pending.pop(0), {"kind": gone.reason, "detail": gone.detail, **_status_fields(status)})

    def _malformed(self, detail: str) -> ProcessGone:
        self.process.kill()
        return ProcessGone("malformed", detail)

    def close(self) -> None:
        self._discard_process()
        if self._ahead is not None:
            self._ahead.close()
            self._ahead = None


class _Restart(Exception):
    """A unit ended the learner's process while the code loaded: load it in a fresh one."""


def check_request(seq: int, probe: str, generator_state: dict, timeout: float, replay: dict,
                  check_id: str = "") -> bytes:
    """A packed request to run one probe (with its random generator's starting state, and what
    its ``trusted`` functions may answer); the same bytes serve every submission of a batch."""
    return wire.pack({"type": "check", "seq": seq, "probe": probe, "rng": generator_state, "timeout": timeout,
                      "replay": replay, "id": check_id})


def _status_fields(status: dict | None) -> dict:
    status = status or {}
    return {"signal": status.get("signal"), "exit": status.get("exit")}


def _checked_error(error) -> dict:
    """A unit's error as the learner's process reported it, reduced to known fields."""
    if type(error) is not dict:
        return {"kind": "malformed"}
    kind = error.get("kind")
    if kind not in ("syntax", "exception", "timeout", "budget"):
        return {"kind": "malformed"}
    if kind == "budget":  # this unit and every one after it were not run
        skipped = error.get("skipped")
        return {"kind": kind, "skipped": skipped if type(skipped) is int and skipped >= 0 else 0}
    frames = error.get("frames") if type(error.get("frames")) is list else []
    return {
        "kind": kind,
        "type": str(error.get("type", ""))[:100],
        "message": str(error.get("message", ""))[:500],
        "line": error.get("line") if type(error.get("line")) is int else None,
        "frames": [f for f in frames[:10] if type(f) is dict],
    }
