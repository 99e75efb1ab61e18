"""The grader's side of the sandbox: drive learner processes, enforce limits.

Nothing here trusts the learner's process. Its replies are size-capped frames of plain data
(``grader.wire``); its stdout and stderr are drained continuously and capped; every wait has a
deadline after which its whole process group is killed.
"""
from __future__ import annotations

import fcntl
import os
import selectors
import shutil
import socket
import time
from dataclasses import dataclass, field

from grader import wire
from grader.sandbox.cleanup import remove_tree
from grader.sandbox.control import Host
from grader.sandbox.host import kill_group
from grader.submission import MEGABYTE, project_files

#: Seconds a learner's process gets past its own soft timeout before it is killed.
GRACE_SECONDS = 1.0
#: Most a learner's scratch folder may hold (RLIMIT_FSIZE bounds each file, not how many there
#: are), and the most entries the grader walks to find out; looked at every DISK_CHECK_SECONDS
#: while the grader waits on the process (a submission that finishes sooner is never looked at).
SCRATCH_MAX_BYTES = 256 * MEGABYTE
SCRATCH_MAX_ENTRIES = 10_000
DISK_CHECK_SECONDS = 0.25


@dataclass(frozen=True)
class Settings:
    """Limits for one submission's learner processes."""

    check_timeout: float = 5.0
    load_timeout: float = 10.0
    memory_mb: int = 1024
    output_bytes: int = 64 * 1024
    #: Seconds all of a submission's code may take to load in one process; None: three
    #: statements' worth. (A file of a thousand endless loops must not take hours.)
    load_budget: float | None = None

    @property
    def total_load_seconds(self) -> float:
        return self.load_budget if self.load_budget is not None else 3 * self.load_timeout


@dataclass
class CapturedOutput:
    """The first ``limit`` bytes of each stream, and how many more there were."""

    limit: int
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    dropped_stdout: int = 0
    dropped_stderr: int = 0
    muted: bool = False  #: while a process started ahead dies unused
    #: Per stream, the marker a restarted process writes once the units it runs again (printing
    #: what they printed before) have run: what comes before it is not kept.
    awaiting: dict = field(default_factory=dict)
    _held: dict = field(default_factory=dict)

    def keep_after(self, marker: bytes) -> None:
        self.awaiting = {"stdout": marker, "stderr": marker}
        self._held = {"stdout": b"", "stderr": b""}

    def mark(self) -> tuple[int, int, int, int]:
        return len(self.stdout), len(self.stderr), self.dropped_stdout, self.dropped_stderr

    def back_to(self, mark: tuple[int, int, int, int]) -> None:
        """Forget what was added since ``mark``."""
        del self.stdout[mark[0]:], self.stderr[mark[1]:]
        self.dropped_stdout, self.dropped_stderr = mark[2], mark[3]

    def add(self, stream: str, data: bytes) -> None:
        if self.muted:
            return
        marker = self.awaiting.get(stream)
        if marker is not None:
            held = self._held[stream] + data
            found = held.find(marker)
            if found < 0:
                self._held[stream] = held[-(len(marker) - 1):]  # (a marker split between two reads)
                return
            del self.awaiting[stream]
            data = held[found + len(marker):]
        kept = getattr(self, stream)
        room = max(self.limit - len(kept), 0)
        kept += data[:room]
        if len(data) > room:
            setattr(self, f"dropped_{stream}", getattr(self, f"dropped_{stream}") + len(data) - room)


class ProcessGone(Exception):
    """The learner's process ended, was killed, or broke the protocol."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason, detail)
        self.reason = reason  # "timeout", "crash", "malformed", "exhausted", "disk"
        self.detail = detail


# --- one learner process -----------------------------------------------------------------------

class LearnerProcess:
    """One forked learner process: its channel, its output, its scratch folder."""

    def __init__(self, host: Host, config: dict, output: CapturedOutput, project_dir: str | None):
        self.host = host
        self.output = output
        self.scratch = _scratch_folder()
        if project_dir:
            _copy_project(project_dir, self.scratch)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        for fd in (out_r, err_r):
            _enlarge_pipe(fd)
        try:
            spawned = host.spawn({**config, "scratch": self.scratch}, [theirs.fileno(), out_w, err_w])
        except BaseException:
            for fd in (out_r, out_w, err_r, err_w):
                os.close(fd)
            ours.close()
            theirs.close()
            remove_tree(self.scratch)
            raise
        self.pid, self.probe_modules = spawned.pid, spawned.probe_modules
        #: The key of the check requests it was forked with (``Host.share_requests``), if any.
        self.shared_requests = config.get("shared_requests") if spawned.shared else None
        theirs.close()
        os.close(out_w)
        os.close(err_w)
        self.channel = ours
        self.channel.setblocking(False)
        for fd in (out_r, err_r):
            os.set_blocking(fd, False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.channel, selectors.EVENT_READ, "channel")
        self.selector.register(out_r, selectors.EVENT_READ, "stdout")
        self.selector.register(err_r, selectors.EVENT_READ, "stderr")
        self._streams = {"stdout": out_r, "stderr": err_r}
        self.reader = wire.FrameReader()
        self.pending: list[bytes] = []
        self.alive = True
        self.exit_status: dict | None = None
        self._disk_checked = time.monotonic()

    def send(self, message: dict) -> None:
        self.send_frame(wire.pack(message))

    def send_frame(self, data: bytes) -> None:
        """Send packed frames (one, or several back to back)."""
        deadline = time.monotonic() + 10
        view = memoryview(data)
        while view:
            try:
                sent = self.channel.send(view)
                view = view[sent:]
            except BlockingIOError:
                self._pump(min(deadline, time.monotonic() + 0.05), want_frame=False)
                if time.monotonic() > deadline:
                    self.kill()
                    raise ProcessGone("timeout", "the learner's process stopped reading")
            except OSError as exc:
                self.kill()
                raise ProcessGone("crash", str(exc)) from exc

    def receive(self, deadline: float) -> dict:
        """The next message, or ProcessGone when the deadline passes or the process ends."""
        while not self.pending:
            if self.reader.broken is not None:  # whatever came whole before it is used first
                self.kill()
                raise ProcessGone("malformed", str(self.reader.broken))
            now = time.monotonic()
            if now >= deadline:
                self.kill()
                raise ProcessGone("timeout")
            if now - self._disk_checked >= DISK_CHECK_SECONDS:
                self._check_disk()
            self._pump(min(deadline, self._disk_checked + DISK_CHECK_SECONDS), want_frame=True)
        body = self.pending.pop(0)
        try:
            return wire.unpack(body)
        except wire.WireError as exc:
            self.kill()
            raise ProcessGone("malformed", str(exc)) from exc

    def _check_disk(self) -> None:
        """Kill the process if its scratch folder holds more than it may: files written in a
        loop would otherwise fill the disk the grader and every other learner share."""
        self._disk_checked = time.monotonic()
        used = scratch_usage(self.scratch)
        if used is None or used > SCRATCH_MAX_BYTES:
            self.kill()
            raise ProcessGone("disk", f"{SCRATCH_MAX_BYTES // MEGABYTE}")

    def _pump(self, deadline: float, want_frame: bool) -> None:
        timeout = max(deadline - time.monotonic(), 0)
        for key, _ in self.selector.select(timeout):
            if key.data == "channel":
                try:
                    chunk = self.channel.recv(1 << 16)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    self._drain_streams()
                    self.kill()
                    raise ProcessGone("crash")
                try:
                    self.pending.extend(self.reader.feed(chunk))
                except wire.WireError as exc:
                    self.kill()
                    raise ProcessGone("malformed", str(exc)) from exc
            else:
                self._read_stream(key.data)

    def _read_stream(self, stream: str) -> None:
        fd = self._streams[stream]
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.selector.unregister(fd)
            return
        self.output.add(stream, data)

    def _drain_streams(self) -> None:
        deadline = time.monotonic() + 0.2
        for stream, fd in self._streams.items():
            while time.monotonic() < deadline:
                try:
                    data = os.read(fd, 1 << 16)
                except (BlockingIOError, OSError):
                    break
                if not data:
                    break
                self.output.add(stream, data)

    def kill(self) -> None:
        """Kill the learner's whole process group and collect its exit status."""
        if not self.alive:
            return
        self.alive = False
        kill_group(self.pid)
        self.exit_status = self.host.reap(self.pid, self.scratch)

    def close(self) -> None:
        if self.alive:
            # Done with it: kill it now, and let the host reap it and remove its scratch folder
            # while this thread moves on (its exit status no longer matters).
            self.alive = False
            kill_group(self.pid)
            self.host.release(self.pid, self.scratch)
        self._drain_streams()
        self.selector.close()
        self.channel.close()
        for fd in self._streams.values():
            try:
                os.close(fd)
            except OSError:
                pass
        if self.exit_status is not None and os.path.exists(self.scratch):
            remove_tree(self.scratch)  # the host normally does it


def scratch_usage(folder: str) -> int | None:
    """Bytes the files under ``folder`` take on disk (sparse parts do not count); None if that
    cannot be known: more than SCRATCH_MAX_ENTRIES entries, or a folder the grader cannot read."""
    used, entries, folders = 0, 0, [folder]
    while folders:
        try:
            with os.scandir(folders.pop()) as listing:
                for entry in listing:
                    entries += 1
                    if entries > SCRATCH_MAX_ENTRIES:
                        return None
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            folders.append(entry.path)
                        else:
                            used += entry.stat(follow_symlinks=False).st_blocks * 512
                    except FileNotFoundError:
                        continue  # removed meanwhile by the learner's code: it takes nothing now
        except FileNotFoundError:
            continue
        except OSError:
            return None
    return used


#: What a learner process's stdout and stderr each hold unread. A batch sends the next
#: submission its code before it comes back to read it (``Grader.start``): a statement printing
#: more than this meanwhile waits, its time running, until the grader reads. (Four times
#: Linux's default; charged to the grader's user, as every pipe it makes.)
PIPE_BYTES = 256 * 1024


def _enlarge_pipe(fd: int) -> None:
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except OSError:  # (past the user's share of pipe memory: the default size)
        pass


def _scratch_folder() -> str:
    """A new, empty folder of the learner process's own, private to it (when it becomes an
    unprivileged user, it is made the owner)."""
    base = os.environ.get("TMPDIR") or "/tmp"
    while True:
        path = os.path.join(base, f"grade-scratch-{os.urandom(8).hex()}")
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        return path


def _copy_project(source: str, destination: str) -> None:
    """Copy a learner's project folder: its plain files only (``project_files``)."""
    for relative, path, _ in project_files(source):
        target = os.path.join(destination, relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(path, target)
