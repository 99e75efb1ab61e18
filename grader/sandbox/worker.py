"""The learner's process: set apart, then run the submission's code and the probes it is asked to.

It is forked from the sandbox host and never returns: ``run`` ends with ``os._exit``. Everything
it sends goes through the channel as ``grader.wire`` frames; what the learner prints goes to
stdout and stderr, which the grader reads separately, so printed text is never a result.
"""
from __future__ import annotations

import _signal
import collections
import linecache
import os
import random
import select
import signal
import sys
import time
import traceback
import types
import warnings

import numpy as np

from grader import probing, wire
from grader.sandbox import guard, landlock, seccomp

#: How many of the learner's own frames a traceback keeps (the innermost ones).
TRACEBACK_FRAMES = 5
#: Longest exception message or source line sent back.
TEXT_LIMIT = 500
NAMES_LIMIT = 500


# --- made once in the sandbox host, before it forks ------------------------------------------
# What every learner process needs and costs the same in each: made here, it is shared by every
# fork instead of being made again (and its memory copied) in each one.

#: The probes' generator; each probe sets its state (sent by the grader) instead of seeding a new
#: one, which costs more than most probes.
_GENERATOR = np.random.Generator(np.random.PCG64(0))
#: The learner's stdin, stdout and stderr, over the descriptors 0, 1 and 2 it will have.
_STDIO: tuple = ()
#: The grader's own modules, taken out of sys.modules in the host for a set of hidden packages:
#: (key, modules). Taken out before the fork, every learner process starts without them, instead
#: of each deleting them itself (and copying the pages of sys.modules as it does).
_HIDDEN: tuple = (None, {})
#: The Landlock rule set the next learner process enforces on itself (made in the host).
_RULESET: int | None = None


#: Check requests the host was handed (``share_requests``), decoded there once: key -> requests.
#: Every learner process forked after holds them, and is sent their indices, not the requests.
SHARED_REQUESTS: dict = {}
#: Lists of requests kept: one per grader using the host (a batch's command has one grader).
SHARED_KEPT = 2  # (control.SHARED_KEPT: the grader's side keeps as many)


def share_requests(key: str, requests: list) -> None:
    """In the host: keep ``requests`` under ``key`` for the learner processes forked from now on."""
    SHARED_REQUESTS.pop(key, None)
    SHARED_REQUESTS[key] = tuple(requests)
    while len(SHARED_REQUESTS) > SHARED_KEPT:
        del SHARED_REQUESTS[next(iter(SHARED_REQUESTS))]


#: The environment os.environ was last given in the host (``prepare``), as a learner process's,
#: and the host's own, which ``unhide`` puts back.
_ENVIRONMENT: dict = {}
_HOST_ENVIRONMENT: dict | None = None


def prepare(config: dict) -> None:
    """Make, in the host, what the next learner process (``config``) would otherwise make for
    itself."""
    global _STDIO, _HIDDEN, _RULESET
    if not _STDIO:
        try:
            _STDIO = _open_stdio()
        except OSError:  # the host's own descriptors are not open: each child opens its own
            _STDIO = ()
        if seccomp.available():
            seccomp.prepare()
        guard.prepare()
    hidden_set = frozenset(config.get("hidden", ()))
    if _HIDDEN[0] != (hidden_set, len(sys.modules)):
        unhide()
        modules = _modules_of(hidden_set)
        for name in modules:
            del sys.modules[name]
        _HIDDEN = ((hidden_set, len(sys.modules)), modules)
    _prepare_environment(_environment(config))  # (after ``unhide``, which puts the host's back)
    landlock.prepare(config.get("read_roots", ()), config.get("deny_roots", ()))
    landlock.discard(_RULESET)  # (a spawn that failed before its fork)
    try:
        _RULESET = landlock.ruleset(config["scratch"]) if config.get("scratch") else None
    except OSError:  # refused here (a container's policy, say): the audit hook and seccomp stand
        _RULESET = None


def confined() -> bool:
    """Whether every learner process runs under the seccomp filter, which refuses it any new
    process (``_set_apart`` installs it before any learner code runs, or the process ends)."""
    return seccomp.available()


def forked() -> None:
    """In the host, once the learner process is forked: the rule set made for it is its own."""
    global _RULESET
    landlock.discard(_RULESET)
    _RULESET = None


def unhide() -> None:
    """Undo ``prepare`` in the host before it imports more: the modules taken out go back into
    sys.modules (a probe module's ``from grader import probing`` must find the one in use) and
    the host's own environment comes back (an import must not read a learner's HOME or TMPDIR)."""
    global _HIDDEN, _ENVIRONMENT
    for name, module in _HIDDEN[1].items():
        sys.modules.setdefault(name, module)
    _HIDDEN = (None, {})
    if _HOST_ENVIRONMENT is not None and _ENVIRONMENT:
        os.environ.clear()
        os.environ.update(_HOST_ENVIRONMENT)
        _ENVIRONMENT = {}


def _environment(config: dict) -> dict:
    scratch = config.get("scratch", "")
    return {**config.get("env", {}), "HOME": scratch, "TMPDIR": scratch, "MPLCONFIGDIR": scratch}


def _prepare_environment(environment: dict) -> None:
    """os.environ as ``environment``, changing only what differs (in the host, between two
    learner processes: the scratch folder)."""
    global _ENVIRONMENT, _HOST_ENVIRONMENT
    if _HOST_ENVIRONMENT is None:
        _HOST_ENVIRONMENT = dict(os.environ)
    if _ENVIRONMENT.keys() != environment.keys():
        os.environ.clear()
    for name, value in environment.items():
        if _ENVIRONMENT.get(name) != value:
            os.environ[name] = value
    _ENVIRONMENT = environment


def _streams() -> tuple:
    streams = (
        open(0, "r", closefd=False, buffering=8192),
        open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=8192),
        open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=8192),
    )
    for stream in streams:
        stream.seekable()  # (decided now, from what the descriptor is now)
    return streams


def _open_stdio() -> tuple:
    """The learner's stdin, stdout and stderr, made while descriptors 1 and 2 are a pipe, as
    they are in a learner's process: a stream remembers whether it can seek, and one made on the
    host's /dev/null could, so ``sys.stdout.reconfigure(encoding="utf-8")`` (common in code
    written on Japanese Windows) tried to and failed with "Illegal seek"."""
    saved = os.dup(1), os.dup(2)
    reading, writing = os.pipe()
    try:
        os.dup2(writing, 1)
        os.dup2(writing, 2)
        return _streams()
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, reading, writing):
            os.close(fd)


def _modules_of(hidden: frozenset) -> dict:
    return {
        name: module for name, module in list(sys.modules.items())
        if module is not None and name.partition(".")[0] in hidden
    }


class SoftTimeout(BaseException):
    """Raised inside learner code when its time is up (the grader kills the process later if
    the learner's code swallows this)."""


class Channel:
    """Frames over one file descriptor. Replies are batched: they wait in an outbox until the
    process is about to block for the next request, or ``MAX_DELAY`` has passed since the last
    flush, so a fast submission costs the grader a few wake-ups instead of one per check. A
    reply about a timeout goes out at once; in ``strict`` mode (after the grader could not tell
    which check killed a process) every reply does."""

    MAX_DELAY = 0.05

    def __init__(self, fd: int):
        self.fd = fd
        self._reader = wire.FrameReader()
        self._pending: list[bytes] = []
        self._outbox: list[dict] = []
        self._last_flush = time.monotonic()
        self.strict = False

    def reply(self, kind: str, item: dict) -> None:
        """Queue one reply: "units" (a unit ran), "loaded", "results" (a probe ran), or
        "expired" (a unit or check ran out of time)."""
        self._outbox.append({"kind": kind, **item})
        timed_out = (item.get("error") or item.get("outcome") or {}).get("kind") == "timeout"
        if self.strict or timed_out:
            self.flush()

    def flush_if_stale(self) -> None:
        """Called before running more learner code, which may hang or crash."""
        if self._outbox and time.monotonic() - self._last_flush > self.MAX_DELAY:
            self.flush()

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        if not self._outbox:
            return
        items, self._outbox = self._outbox, []
        try:
            self.send({"type": "replies", "items": items})
        except (wire.WireError, TypeError, ValueError):
            # One of them is too large, or (a gap in ``encode_value``) not JSON: send each,
            # replacing the culprit's outcome, so this process lives on to run the next check.
            for item in items:
                try:
                    self.send({"type": "replies", "items": [item]})
                except wire.WireError as exc:
                    outcome = {"kind": "too_large", "message": _text(str(exc))}
                    self.send({"type": "replies", "items": [{**item, "outcome": outcome}]})
                except (TypeError, ValueError) as exc:
                    outcome = {"kind": "not_plain", "message": _text(str(exc))}
                    self.send({"type": "replies", "items": [{**item, "outcome": outcome}]})

    def send(self, message: dict) -> None:
        data = memoryview(wire.pack(message))
        while data:
            written = os.write(self.fd, data)
            data = data[written:]

    def receive(self) -> dict:
        if not self._pending and self._outbox:
            if not select.select([self.fd], [], [], 0)[0]:
                self.flush()  # about to wait: let the grader have what is done
        while not self._pending:
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                os._exit(0)  # the grader has gone: nothing left to do
            self._pending.extend(self._reader.feed(chunk))
            if not self._pending and self._reader.broken is not None:
                os._exit(0)  # the grader never sends a bad frame: this is not the grader
        return wire.unpack(self._pending.pop(0))


def run(config: dict, channel_fd: int, stdout_fd: int, stderr_fd: int) -> None:
    """Become the learner's process (called in the child right after fork); never returns."""
    try:
        for key in [key for key in SHARED_REQUESTS if key != config.get("shared_requests")]:
            del SHARED_REQUESTS[key]  # (another grader's: not this process's to hold)
        _set_apart(config, channel_fd, stdout_fd, stderr_fd)
        Worker(config, Channel(channel_fd)).serve()
    except BaseException:  # noqa: BLE001 - whatever happened, the process must end here
        try:
            traceback.print_exc()
            sys.stderr.flush()
        finally:
            os._exit(70)
    os._exit(0)


def _set_apart(config: dict, channel_fd: int, stdout_fd: int, stderr_fd: int) -> None:
    os.setsid()
    # First, while the host's descriptors of the readable folders are still open: from here on
    # the kernel lets this process read only those and write only in its scratch folder.
    address_space = guard.address_space_bytes()  # (/proc is not among them)
    tasks = guard.tasks_on_machine() if config.get("uid") is None else None
    landlock.restrict(_RULESET)
    # (_signal: signal's wrappers turn numbers into enums, at a cost out of all proportion here)
    for signum in _DEFAULT_SIGNALS:
        _signal.signal(signum, _signal.SIG_DFL)
    _signal.signal(_SIGINT, _signal.default_int_handler)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(stdout_fd, 1)
    os.dup2(stderr_fd, 2)
    os.closerange(3, channel_fd)
    os.closerange(channel_fd + 1, 65536)
    sys.stdin, sys.stdout, sys.stderr = _STDIO or _streams()  # (here 1 and 2 are the pipes already)

    scratch = config["scratch"]
    uid = config.get("uid")
    if uid is not None:
        for folder, subfolders, files in os.walk(scratch):
            for name in [folder, *(os.path.join(folder, entry) for entry in subfolders + files)]:
                os.chown(name, uid, uid)
    workdir = os.path.join(scratch, config["workdir"]) if config.get("workdir") else scratch
    if workdir != scratch:  # (the scratch folder itself exists already)
        os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)
    environment = _environment(config)
    if _ENVIRONMENT != environment:  # not made in the host (``prepare``)
        os.environ.clear()
        os.environ.update(environment)
    # As at home: the entry file's folder first, then the project's root.
    sys.path[:0] = list(dict.fromkeys([os.path.realpath(workdir), os.path.realpath(scratch)]))
    sys.argv = [config.get("argv0", "submission")]
    sys.dont_write_bytecode = True
    guard.apply_limits(
        guard.Limits(memory_bytes=config["memory_bytes"], cpu_seconds=config["cpu_seconds"]),
        unprivileged=uid is not None,
        current=address_space,
        tasks=tasks,
    )
    if uid is not None:
        guard.drop_privileges(uid, keep_read_search=bool(config.get("keep_read_search")))
    else:
        guard.drop_capabilities()
    guard.die_with_parent(config["host_pid"])
    if seccomp.available():
        seccomp.install(os.getpid())


class Worker:
    def __init__(self, config: dict, channel: Channel):
        self.channel = channel
        self.scratch = config["scratch"]
        hidden = frozenset(config["hidden"])
        # Keep our own modules where only this object can reach them, then hide them: a
        # learner's ``import exercises`` must go through the import system and be refused.
        key, prepared = _HIDDEN
        if key == (hidden, len(sys.modules)):
            self.modules = prepared  # taken out in the host already
        else:  # (with whatever the host took out already, if it did)
            self.modules = {**prepared, **_modules_of(hidden)}
            for name in list(sys.modules):
                if name.partition(".")[0] in hidden:
                    del sys.modules[name]
        guard.install_audit_hook(
            guard.Policy(
                scratch=self.scratch,
                read_roots=tuple(config["read_roots"]),
                deny_roots=tuple(config["deny_roots"]),
                hidden_packages=hidden,
            )
        )
        self.module: types.ModuleType | None = None
        self.namespace: dict = {}
        self.filenames: set[str] = set()
        self.seed: int | None = config.get("seed")

    def serve(self) -> None:
        while True:
            request = self.channel.receive()
            kind = request.get("type")
            if kind == "load":
                self.load(request)
            elif kind == "check":
                self.check(request)
            elif kind == "shared":  # requests this process was forked with, by their index
                shared = SHARED_REQUESTS[request["key"]]
                for index in request["indices"]:
                    self.check(shared[index])
            else:
                return

    # --- loading ---------------------------------------------------------------------------

    def load(self, request: dict) -> None:
        module = types.ModuleType(request["module_name"])
        module.__file__ = os.path.join(self.scratch, request["file"])
        module.__builtins__ = __builtins__
        sys.modules[request["module_name"]] = module
        self.module = module
        # The namespace itself, kept now: the learner's code may later replace what
        # ``module.__dict__`` or ``vars(module)`` return, but not this dict.
        self.namespace = module.__dict__
        if self.seed is not None:  # what unseeded code draws is the same in every run with this seed
            np.random.seed(self.seed)
            random.seed(self.seed)
        skip = set(request.get("skip", ()))
        quiet = set(request.get("quiet", ()))
        # Units that ran in an earlier process come first; the grader keeps this process's output
        # from this marker on (written once they have run, or at once if there are none).
        marker = request.get("marker")
        marker = marker.encode() if type(marker) is str else None
        timeout = float(request["timeout"])
        budget_ends = time.monotonic() + float(request.get("budget", float("inf")))
        self.channel.strict = bool(request.get("strict"))
        self._register_sources(request["units"])
        to_run = [unit for unit in request["units"] if unit["index"] not in skip]
        for position, unit in enumerate(to_run):
            self.channel.flush_if_stale()
            left = budget_ends - time.monotonic()
            cut = left < timeout  # this unit's own limit is what is left of the file's
            if marker is not None and unit["index"] not in quiet:
                _write_marker(marker)
                marker = None
            error = self._run_unit(unit, module, min(timeout, left)) if left > 0 else {"kind": "timeout"}
            if cut and error is not None and error.get("kind") == "timeout":
                # The file's code has had all its time: this unit did not finish, the rest is not run.
                error = {"kind": "budget", "skipped": len(to_run) - position - 1}
                self.channel.reply("units", {"index": unit["index"], "error": error})
                break
            self.channel.reply("units", {"index": unit["index"], "error": error})
        if marker is not None:
            _write_marker(marker)
        self.channel.reply("loaded", {"names": self._names(self.namespace), "parameters": self._parameters(self.namespace)})
        self.channel.flush()

    def _register_sources(self, units: list) -> None:
        """Let tracebacks show the learner's lines: units of one file share one line map."""
        files: dict[str, list[str]] = {}
        for unit in units:
            lines = files.setdefault(unit["filename"], [])
            first = unit["first_line"] - 1
            body = unit["source"].splitlines(keepends=True)
            if len(lines) < first + len(body):
                lines.extend(["\n"] * (first + len(body) - len(lines)))
            lines[first:first + len(body)] = body
        for filename, lines in files.items():
            self.filenames.add(filename)
            linecache.cache[filename] = (sum(map(len, lines)), None, lines, filename)

    def _run_unit(self, unit: dict, module: types.ModuleType, timeout: float) -> dict | None:
        offset = unit["first_line"] - 1  # lines of the file before the unit
        try:
            with warnings.catch_warnings(record=True) as compiler_warnings:
                warnings.simplefilter("always")
                code = _shifted(compile(unit["source"], unit["filename"], "exec", dont_inherit=True, optimize=0), offset)
            for warning in compiler_warnings:  # (a SyntaxWarning, at its line in the file)
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno + offset)
        except SyntaxError as exc:
            return {
                "kind": "syntax",
                "type": "SyntaxError",
                "message": _text(exc.msg),
                "line": exc.lineno + offset if type(exc.lineno) is int else None,
                "frames": [],
            }
        except Exception as exc:  # noqa: BLE001 - too deep to compile, null bytes: the unit's error
            return self._describe_exception(exc)
        try:
            with _time_limit(timeout, ("units", unit["index"]), self.channel):
                exec(code, module.__dict__)
        except SoftTimeout as exc:
            return {"kind": "timeout", "frames": self._frames(exc)}
        except BaseException as exc:  # noqa: BLE001 - the learner may raise anything at all
            return self._describe_exception(exc)
        finally:
            _flush_output()
        return None

    @staticmethod
    def _parameters(namespace: dict) -> dict:
        """The positional parameters of each plain function the code defined, read from its code
        object (no learner code runs): the grader tells a learner whose parameters are in another
        order than its calls' why every check of the function fails."""
        parameters = {}
        for name, value in list(namespace.items()):
            if type(name) is str and type(value) is types.FunctionType and not name.startswith("__"):
                code = value.__code__
                parameters[name[:100]] = [parameter[:100] for parameter in code.co_varnames[:min(code.co_argcount, 20)]]
                if len(parameters) >= NAMES_LIMIT:  # (functions only: `from numpy import *` brings 500 names)
                    break
        return parameters

    @staticmethod
    def _names(namespace: dict) -> list[str]:
        names = [name for name in list(namespace) if type(name) is str and not name.startswith("__")]
        return [name[:100] for name in names[:NAMES_LIMIT]]

    # --- checks ----------------------------------------------------------------------------

    def check(self, request: dict) -> None:
        self.channel.flush_if_stale()
        outcome = self._run_probe(request)
        self.channel.reply("results", {"seq": request.get("seq"), "outcome": outcome})

    def _run_probe(self, request: dict) -> dict:
        if self.module is None:
            return {"kind": "missing", "name": "?"}
        module_name, _, qualname = request["probe"].partition(":")
        probe = self.modules[module_name]
        for part in qualname.split("."):
            probe = getattr(probe, part)
        rng = _GENERATOR
        rng.bit_generator.state = request["rng"]  # as np.random.default_rng(the check's seed) starts
        # The probe's calls begun (its ``show``s): a check that raises or runs out of time says how
        # many, so that the grader shows the inputs of the call that failed.
        shown: list = []
        try:
            subject = probing.Subject(self.namespace)
            supplied = request.get("replay") or {}
            replay = probing.SealedReplay(supplied.get("sealed") or [], wire.decode_value, supplied.get("params"))
            with probing.trusted_from(replay), probing.recording_inputs() as shown, \
                    _time_limit(float(request["timeout"]), ("results", request.get("seq")), self.channel):
                result = probe(subject, rng)
            return {"kind": "value", "value": wire.encode_value(result)}
        except SoftTimeout as exc:
            return {"kind": "timeout", "frames": self._frames(exc), "shown": len(shown)}  # (where it was when stopped)
        except probing.MissingName as exc:
            return {"kind": "missing", "name": _text(exc.name)}
        except NotImplementedError as exc:
            return {**self._describe_exception(exc), "kind": "not_implemented", "shown": len(shown)}
        except (probing.NotPlain, wire.WireError) as exc:  # (None, say, from one of the calls)
            return {"kind": "not_plain", "message": _text(str(exc)), "shown": len(shown)}
        except BaseException as exc:  # noqa: BLE001
            return {**self._describe_exception(exc), "shown": len(shown)}
        finally:
            _flush_output()

    # --- reporting -------------------------------------------------------------------------

    def _describe_exception(self, exc: BaseException) -> dict:
        # Learner code may run here (its __str__, a metaclass): before frames are readable.
        try:
            # sys.exit's argument as written (sys.exit('3') is not sys.exit(3)); none: ""
            message = (repr(exc.code) if exc.code is not None else "") if type(exc) is SystemExit else str(exc)
        except BaseException:  # noqa: BLE001 - a learner's __str__ may itself fail
            message = "<unprintable>"
        type_name = _type_name(exc)
        described = {
            "kind": "exception",
            "type": _text(type_name),
            "message": _text(message),
            "frames": self._frames(exc),
        }
        refused = probing.refused_call(exc)  # a supplied function's refusal: which, and of what
        return {**described, "refused": refused} if refused else described

    def _frames(self, exc: BaseException) -> list[dict]:
        """The learner's own frames of ``exc``'s traceback, innermost last."""
        frames = []
        try:
            # Only the innermost of the learner's frames are kept, and only they are looked up:
            # a recursion a million frames deep must not take seconds to describe.
            kept: collections.deque = collections.deque(maxlen=TRACEBACK_FRAMES)
            filenames, prefix = self.filenames, self.scratch + "/"
            tb = exc.__traceback__
            while type(tb) is types.TracebackType:
                code = tb.tb_frame.f_code
                filename = code.co_filename
                if type(filename) is str and (filename in filenames or filename.startswith(prefix)):
                    kept.append((filename, tb.tb_lineno, code.co_name))
                tb = tb.tb_next
            for filename, line, name in kept:
                frames.append({
                    # (a project's module by its path in the project: common/functions.py)
                    "file": _text(filename[len(prefix):] if filename.startswith(prefix) else
                                  os.path.basename(filename) if filename.startswith("/") else filename),
                    "line": line,
                    "name": _text(name),
                    "text": _text(linecache.getline(filename, line).strip()),
                })
        except BaseException:  # noqa: BLE001
            frames = []
        return frames


def _shifted(code: types.CodeType, lines: int) -> types.CodeType:
    """``code`` as if compiled ``lines`` lines further down its file, nested code included.
    (Padding the source with blank lines instead costs a file's length per unit: quadratic in
    a file of many statements.) A code object's lines count from its ``co_firstlineno``."""
    if not lines:
        return code
    consts = tuple(_shifted(item, lines) if type(item) is types.CodeType else item for item in code.co_consts)
    return code.replace(co_firstlineno=code.co_firstlineno + lines, co_consts=consts)


def _type_name(exc: BaseException) -> str:
    try:
        name = type(exc).__name__
        return name if type(name) is str else "Exception"
    except BaseException:  # noqa: BLE001
        return "Exception"


def _text(value) -> str:
    text = value if type(value) is str else "<not a string>"
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 3] + "..."


def _write_marker(marker: bytes) -> None:
    """Mark, in both streams, where the output of units not run before begins."""
    _flush_output()
    for fd in (1, 2):
        try:
            os.write(fd, marker)
        except OSError:
            pass


def _flush_output() -> None:
    for stream in (sys.__stdout__, sys.__stderr__, sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - the learner may have replaced or closed them
            pass


_SIGALRM = int(signal.SIGALRM)
_SIGINT = int(signal.SIGINT)
_DEFAULT_SIGNALS = tuple(int(signum) for signum in (signal.SIGCHLD, signal.SIGPIPE, signal.SIGTERM, signal.SIGHUP))


class _time_limit:
    """Raise SoftTimeout in the learner's code after ``seconds`` of wall time. First, tell the
    grader which unit or check ran out of time (with whatever replies were waiting), so that if
    the learner's code swallows the exception and has to be killed, the blame is already known."""

    running: tuple = ()
    channel = None

    def __init__(self, seconds: float, running: tuple, channel: "Channel"):
        self.seconds = seconds
        self.running = running
        self.channel = channel

    def __enter__(self):
        _time_limit.running, _time_limit.channel = self.running, self.channel
        # The learner's code may have replaced the handler; put ours back each time.
        # (_signal: signal's wrappers turn numbers into enums, which costs more than the rest)
        if _signal.getsignal(_SIGALRM) is not _expire:
            _signal.signal(_SIGALRM, _expire)
        signal.setitimer(signal.ITIMER_REAL, max(self.seconds, 0.001))

    def __exit__(self, *exc_info):
        signal.setitimer(signal.ITIMER_REAL, 0)
        _time_limit.running = ()
        return False


def _expire(signum, frame):
    running, channel = _time_limit.running, _time_limit.channel
    if running and channel is not None:
        _time_limit.running = ()
        kind, index = running
        try:
            channel.reply("expired", {"at": kind, "index": index})
            channel.flush()
        except Exception:  # noqa: BLE001 - the timeout itself must still be raised
            pass
    raise SoftTimeout()
