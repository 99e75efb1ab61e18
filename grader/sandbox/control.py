"""The sandbox host, from the grader's side: start it early, ask it for learner processes.

Imports nothing heavy, so the CLI can start the host's interpreter (and its numpy import) before
the grader itself has finished importing.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
from typing import Callable, NamedTuple, Optional

from grader.errors import PluginError, SandboxError
from grader.defaults import DEFAULT_PROBE_MODULES

HOST_START_TIMEOUT = 60.0
#: One thread for the numerical libraries: the processes that use them run side by side already.
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
#: Largest set of check requests handed to the host to share: one message on its socket, which
#: must fit the socket's send buffer (208 KiB by default on Linux; a smaller one refuses it, and
#: each learner process is sent the requests instead).
SHARED_REQUESTS_MAX_BYTES = 192 * 1024
#: Lists of shared requests kept, here and in the host: one per grader using the host.
SHARED_KEPT = 2


class Spawned(NamedTuple):
    pid: int
    probe_modules: tuple[str, ...]  #: the probe modules it was forked with
    shared: bool  #: whether it was forked holding the check requests its config names


class Host:
    """The sandbox host process. Thread-safe; restarts itself if it dies."""

    def __init__(self, preload: tuple[str, ...] = DEFAULT_PROBE_MODULES):
        #: Held for a request and its reply (the host answers in order).
        self._lock = threading.Lock()
        #: Held for each message sent and while the socket changes: a ``release``, which awaits
        #: no reply, goes out while another thread waits for its reply (a fork, milliseconds).
        self._sending = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._control: socket.socket | None = None
        self._hello: dict | None = None
        self._preload = tuple(preload)
        self._forbidden: tuple[str, ...] = ()
        self._started_preload: tuple[str, ...] = ()
        self._closed = False
        #: Check requests to share (``share_requests``): key -> the message that hands them over.
        self._shared: dict[str, bytes] = {}
        #: The keys the running host process holds.
        self._shared_in_host: set[str] = set()

    def start(self) -> "Host":
        """Start the host's interpreter without waiting for it (its numpy import overlaps with
        whatever the grader does next)."""
        with self._lock:
            self._closed = False
            if self._process is None:
                self._launch()
        return self

    def _launch(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        # -S skips the site module (and its .pth files): the host gets this process's path as is.
        path = [root] + [entry for entry in sys.path if entry and os.path.isdir(entry)]
        boot = f"import sys; sys.path[:] = {path!r}; from grader.sandbox.host import main; main()"
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **SINGLE_THREADED}
        debug = os.environ.get("GRADE_DEBUG_HOST")
        self._process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", boot, str(theirs.fileno()), str(os.getpid()), ",".join(self._preload),
             ",".join(self._forbidden)],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=None if debug else subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        theirs.close()
        ours.settimeout(HOST_START_TIMEOUT)
        with self._sending:
            self._control = ours
        self._hello = None
        self._started_preload = ()
        self._shared_in_host = set()

    def _ensure(self) -> None:
        if self._closed:
            raise SandboxError("the sandbox host has been closed")
        if self._process is None or self._process.poll() is not None:
            self._stop_locked()
            self._launch()
        if self._hello is None:
            self._hello = self._receive()
            self._refuse_forbidden_held(self._hello)
            if not self._hello.get("preload_error"):
                self._started_preload = tuple(m for m in self._preload if m in self._hello.get("preloaded", ()))
        if self._preload and self._started_preload != self._preload:
            self._send({"op": "preload", "modules": list(self._preload), "path": _import_roots(self._preload),
                        "forbidden": list(self._forbidden)})
            reply = self._receive()
            if reply.get("error"):
                raise SandboxError(f"the sandbox could not import a probe module: {reply['error']}")
            self._refuse_forbidden_held(reply)
            self._started_preload = self._preload

    def _refuse_forbidden_held(self, reply: dict) -> None:
        held_by = reply.get("forbidden_held")
        if held_by:
            self._stop_locked()  # (its memory holds them now: no learner process may be forked from it)
            which = "; ".join(f"{f'the probe module {probe}' if probe else 'a probe module imported earlier'} imports "
                              f"{', '.join(held)}" for probe, held in sorted(held_by.items()))
            raise PluginError(
                f"{which}, which learner code must never share a process with (a reference, known mistakes, or "
                "another package of the pack). A probe module gets the learner's functions from its `module` "
                "argument and correct ones from probing.trusted")

    def set_preload(self, modules: tuple[str, ...], forbidden: tuple[str, ...] = ()) -> None:
        """Probe modules every learner process is forked with, and the modules importing them
        must not import (checked when the host imports them)."""
        with self._lock:
            self._preload = tuple(dict.fromkeys(self._preload + tuple(modules)))
            self._forbidden = tuple(dict.fromkeys(self._forbidden + tuple(forbidden)))

    @property
    def can_drop_privileges(self) -> bool:
        """Whether each learner process becomes a user of its own (the grader runs as root)."""
        return bool(self._hello_field("can_drop"))

    @property
    def keeps_read_search(self) -> bool:
        """Whether those users keep CAP_DAC_READ_SEARCH, to read a Python installation they
        could not (a pyenv under /root)."""
        return bool(self._hello_field("keep_read_search"))

    def _hello_field(self, name: str):
        with self._lock:
            if self._hello is None:
                self._call_with_restart(lambda: None)
            return self._hello.get(name) if self._hello else None

    def _send(self, message: dict, fds: list[int] | None = None) -> None:
        self._send_bytes(json.dumps(message).encode(), fds)

    def _send_bytes(self, data: bytes, fds: list[int] | None = None) -> None:
        with self._sending:
            if fds:
                socket.send_fds(self._control, [data], fds)
            else:
                self._control.send(data)

    def _receive(self) -> dict:
        try:
            data = self._control.recv(1 << 20)
        except socket.timeout as exc:
            # Its answer, if it ever comes, would be read as the next request's: this host is
            # stopped (its learner processes with it), and the next request starts another.
            self._stop_locked()
            raise SandboxError("the sandbox host did not answer in time") from exc
        if not data:
            raise ConnectionError("the sandbox host has gone")
        return json.loads(data)

    def _call_with_restart(self, action: Callable[[], dict | None]):
        for attempt in range(2):
            try:
                self._ensure()
                return action()
            except (ConnectionError, BrokenPipeError, OSError) as exc:
                if attempt:
                    raise SandboxError(f"the sandbox host failed: {exc}") from exc
                self._stop_locked()

    def ready(self) -> None:
        """Start the host if it is not running, and have it import the probe modules (a
        PluginError if one of them imports a module it must not)."""
        with self._lock:
            self._call_with_restart(lambda: None)

    @staticmethod
    def requests_key(frames: list[bytes]) -> str:
        """The key of a list of check request frames (``share_requests``)."""
        return hashlib.sha256(b"".join(frames)).hexdigest()[:32]

    def share_requests(self, frames: list[bytes]) -> Optional[str]:
        """Have every learner process forked from now on hold ``frames`` (check requests, the
        same for a whole batch), decoded once in the host: a spawn whose config names the key
        (``shared_requests``) is forked with them, and its session sends their indices instead.
        None when they are too large to hand over in one message."""
        bodies = [frame[4:] for frame in frames]  # (each frame: a 4-byte length, then its JSON)
        key = self.requests_key(frames)
        message = b'{"op":"share","key":"' + key.encode() + b'","requests":[' + b",".join(bodies) + b"]}"
        if len(message) > SHARED_REQUESTS_MAX_BYTES:
            return None
        with self._lock:
            self._shared.pop(key, None)
            self._shared[key] = message
            while len(self._shared) > SHARED_KEPT:  # (as many as the host keeps)
                del self._shared[next(iter(self._shared))]
        return key

    def spawn(self, config: dict, fds: list[int]) -> Spawned:
        """A new learner process: its pid, the probe modules it was forked with, and whether it
        holds the shared check requests its config names."""
        key = config.get("shared_requests")

        def action():
            if key in self._shared and key not in self._shared_in_host:
                self._hand_over(key)
            self._send({"op": "spawn", "config": config}, fds)
            reply = self._receive()
            if type(reply.get("pid")) is not int:
                raise SandboxError(f"the sandbox host could not start a learner process: {reply.get('error')}")
            shared = reply.get("shared") is True
            if not shared:
                self._shared_in_host.discard(key)  # (the host let them go, for another grader's)
            return Spawned(reply["pid"], self._started_preload, shared)

        with self._lock:
            return self._call_with_restart(action)

    def _hand_over(self, key: str) -> None:
        """Send the host the shared requests ``key`` names. Requests it cannot take (larger than
        this socket's buffer, or refused) are not offered again: each process gets them sent."""
        try:
            self._send_bytes(self._shared[key])
        except OSError as exc:
            if exc.errno != errno.EMSGSIZE:
                raise  # (the host has gone: it is started again)
            del self._shared[key]
            return
        if self._receive().get("op") == "shared":
            self._shared_in_host.add(key)
        else:
            del self._shared[key]

    def reap(self, pid: int, scratch: Optional[str] = None) -> dict:
        """Collect a learner process's exit status; the host also removes its scratch folder."""
        with self._lock:
            if self._control is None:
                return {"exit": None, "signal": None}
            try:
                self._send({"op": "reap", "pid": pid, "scratch": scratch})
                return self._receive()
            except (OSError, ValueError, SandboxError):
                return {"exit": None, "signal": None}

    def release(self, pid: int, scratch: Optional[str] = None) -> None:
        """Let the host reap a killed learner process and remove its scratch folder, without
        waiting for it, nor for another thread's request (the host never answers this one)."""
        data = json.dumps({"op": "release", "pid": pid, "scratch": scratch}).encode()
        with self._sending:
            if self._control is None:
                return
            try:
                self._control.send(data)
            except OSError:
                pass

    def _stop_locked(self, wait: bool = True) -> None:
        with self._sending:
            if self._control is not None:
                self._control.close()  # the host kills every learner process left, then exits
                self._control = None
        if self._process is not None and wait:
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if wait:
            self._process = None
        self._hello = None

    def close(self, wait: bool = True) -> None:
        """Stop the host; it kills every learner process still alive as it goes. ``wait=False``
        does not wait for it to exit (for a process about to exit itself)."""
        with self._lock:
            self._closed = True
            self._stop_locked(wait)

    def __enter__(self) -> "Host":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()


#: A host started before the command line was parsed (``grader.launch``), for the command to take.
_prestarted: Optional[Host] = None


def prestart() -> None:
    """Start a host now, for ``take_or_start`` to hand to the command that grades."""
    global _prestarted
    _prestarted = Host().start()


def take_or_start() -> Host:
    """The host started by ``prestart``, or a new one."""
    global _prestarted
    host, _prestarted = _prestarted, None
    return host if host is not None else Host().start()


def _import_roots(modules: tuple[str, ...]) -> list[str]:
    """The sys.path entries the host needs to import ``modules`` as this process does."""
    roots = []
    for name in modules:
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None)
        if not path:
            continue
        root = os.path.dirname(os.path.abspath(path))
        for _ in range(name.count(".") + (1 if os.path.basename(path) == "__init__.py" else 0)):
            root = os.path.dirname(root)
        if root not in roots:
            roots.append(root)
    return roots

