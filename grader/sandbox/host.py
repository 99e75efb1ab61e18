"""The sandbox host: imports numpy and the probes once, then forks a learner process on request.

Started by the grader as a fresh interpreter with one end of a SOCK_SEQPACKET socket pair. It
never runs learner code itself; each forked child sets itself apart (``worker.run``) before it
does. Requests and replies are single JSON datagrams; a spawn request carries the three file
descriptors of the new learner process (its channel, stdout and stderr) as SCM_RIGHTS.
"""
from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import socket
import sys
from typing import Iterable

from grader.sandbox.cleanup import remove_tree

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
#: Modules a learner may import, loaded before any learner process is forked: a learner
#: process running as an unprivileged user may not be able to read them from disk.
PRELOADED = (
    "numpy", "numpy.random", "numpy.linalg", "math", "random", "collections", "itertools", "functools", "copy", "json", "pickle",
    "re", "typing", "dataclasses", "operator", "time", "os.path", "warnings", "contextlib",
)
#: Seconds between two looks at released learner processes still dying, while no request comes.
DYING_POLL_SECONDS = 0.005
#: First uid of the range a learner's process becomes when the grader runs as root.
UID_BASE = 200_000


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(option, value, 0, 0, 0)


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    grader_pid = int(sys.argv[2])
    # The host ends with the grader, after cleaning up: when its control socket closes, or when
    # the grader's process exits (a pidfd; a process the grader forked may hold the socket open).
    # Without pidfds, the kernel kills it with the thread that started it instead.
    grader_gone = _pidfd(grader_pid)
    if grader_gone is None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != grader_pid:
        os._exit(0)  # the grader is already gone (or the pidfd may be another process's)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans of learner processes come to us, to be killed
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the grader's to handle
    import importlib

    for name in PRELOADED:
        importlib.import_module(name)
    # shutil.rmtree opens each folder as a descriptor and removes by name relative to it, which
    # the audit hook refuses (relative to a descriptor, a name escapes its checks); so
    # tempfile.TemporaryDirectory's clean-up failed, and retried until RecursionError. Learner
    # processes get shutil with removal by path instead, which the hook checks name by name.
    import shutil

    shutil._use_fd_functions = False
    # ``exit()`` and ``quit()``, which a learner's file may call (as a script run by python
    # could): the site module would have made them, but the host starts without it (-S).
    import site

    site.setquit()
    _warm_blas()
    _warm_printing()
    from grader.sandbox import worker

    host = Host(control, worker, grader_gone)
    host.preloaded = host._preload(sys.argv[3].split(",") if len(sys.argv) > 3 and sys.argv[3] else [],
                                   sys.argv[4].split(",") if len(sys.argv) > 4 and sys.argv[4] else [])
    host.serve()


class Host:
    def __init__(self, control: socket.socket, worker_module, grader_gone: int | None = None):
        self.control = control
        self.grader_gone = grader_gone
        self.worker = worker_module
        self.children: dict[int, int | None] = {}
        #: Each live learner process's scratch folder, removed at shutdown if not before.
        self.scratch_of: dict[int, str | None] = {}
        #: Learner processes killed (``release``) but not yet gone: pid -> (scratch folder, uid).
        #: Reaped as they finish dying, so the host answers the next spawn meanwhile.
        self.dying: dict[int, tuple[str | None, int | None]] = {}
        self.preloaded: dict = {}
        self.preloaded_modules: set[str] = set()
        #: Whether a learner process, a user of its own, keeps CAP_DAC_READ_SEARCH, because
        #: the Python installation is not readable by that user (``readable_by``).
        self.keep_read_search = False

    def reply(self, message: dict) -> None:
        try:
            self.control.send(json.dumps(message).encode())
        except OSError:  # the grader hung up in the middle of a request: it has gone
            self._shutdown()

    def serve(self) -> None:
        # As root, every learner process becomes a user of its own (a uid owns no file outside
        # its scratch folder, and has a process limit); it keeps CAP_DAC_READ_SEARCH only if
        # that user could not read the Python installation (a pyenv under /root).
        can_drop = os.getuid() == 0
        self.keep_read_search = can_drop and not readable_by(UID_BASE, _import_roots())
        self.reply({"op": "hello", "pid": os.getpid(), "can_drop": can_drop, "keep_read_search": self.keep_read_search,
                    "preloaded": sorted(self.preloaded_modules), "preload_error": self.preloaded.get("error"),
                    "forbidden_held": self.preloaded.get("forbidden_held")})
        watched = [self.control] + ([self.grader_gone] if self.grader_gone is not None else [])
        while True:
            if self.dying:
                self._reap_dying()
            ready = select.select(watched, [], [], DYING_POLL_SECONDS if self.dying else None)[0]
            if not ready:
                continue
            if self.control not in ready:
                self._shutdown()  # the grader exited
            try:
                data, fds, _flags, _addr = socket.recv_fds(self.control, 1 << 20, 3)
            except OSError:
                data, fds = b"", []
            if not data:
                self._shutdown()
            request = json.loads(data)
            op = request["op"]
            try:
                self._handle(op, request, fds)
            except Exception as exc:  # noqa: BLE001 - every learner process depends on the host
                if op != "release":  # (the one request no reply is awaited for)
                    self.reply({"op": "error", "error": f"{type(exc).__name__}: {exc}"[:500]})

    def _handle(self, op: str, request: dict, fds: list[int]) -> None:
        if op == "preload":
            for entry in request.get("path", []):
                if entry not in sys.path:
                    sys.path.append(entry)
            self.reply(self._preload(request["modules"], request.get("forbidden", ())))
        elif op == "spawn":
            shared = request["config"].get("shared_requests") in self.worker.SHARED_REQUESTS
            self.reply({"op": "spawned", "pid": self._spawn(request["config"], fds), "shared": shared})
        elif op == "share":
            self.worker.share_requests(request["key"], request["requests"])
            _out_of_collectors_sight()
            self.reply({"op": "shared", "key": request["key"]})
        elif op == "reap":
            self.reply({"op": "reaped", **self._reap(request["pid"], request.get("scratch"))})
        elif op == "release":  # the same, but no reply is awaited: no need to wait for it to die
            self._release(request["pid"], request.get("scratch"))
        else:
            self.reply({"op": "error", "error": f"unknown request {op!r}"})

    def _preload(self, modules: list[str], forbidden: Iterable[str] = ()) -> dict:
        """Import the probe modules ``modules``; an error if one of them imports a module of
        ``forbidden`` (the reference, known mistakes), which every learner process would hold."""
        import importlib

        self.worker.unhide()
        forbidden = tuple(forbidden)

        def held() -> set:
            return {name for name in sys.modules if any(name == f or name.startswith(f + ".") for f in forbidden)}

        held_by: dict[str, list] = {}
        try:
            for name in modules:
                before = held() if forbidden else set()
                importlib.import_module(name)
                self.preloaded_modules.add(name)
                brought = held() - before if forbidden else set()
                if brought:
                    held_by[name] = sorted(brought)
        except BaseException as exc:  # noqa: BLE001 - report, never die
            return {"op": "preloaded", "error": f"{name}: {type(exc).__name__}: {exc}"}
        earlier = held() - {module for brought in held_by.values() for module in brought} if forbidden else set()
        if earlier:  # (imported by an earlier request's probe modules, in a host shared by graders)
            held_by[""] = sorted(earlier)
        if held_by:
            return {"op": "preloaded", "error": None, "forbidden_held": held_by}
        _out_of_collectors_sight()
        return {"op": "preloaded", "error": None}

    def _spawn(self, config: dict, fds: list[int]) -> int:
        try:
            self.worker.prepare(config)
            pid = os.fork()
        except BaseException:
            for fd in fds:  # the learner process's, and there is none
                os.close(fd)
            raise
        if pid == 0:
            self.control.close()  # (its signals it sets itself: ``worker.run``)
            config["host_pid"] = os.getppid()
            config["keep_read_search"] = self.keep_read_search
            if config.get("drop_privileges"):
                config["uid"] = UID_BASE + os.getpid()
            self.worker.run(config, *fds)
            os._exit(0)
        self.worker.forked()
        for fd in fds:
            os.close(fd)
        # The uid whose every process is killed once this one is reaped. Not needed where the
        # learner process is under the seccomp filter (which it installs before running learner
        # code, or dies): it cannot start a process, so killing its group ends all it ran,
        # without forking a killer that runs as its user (2-3 ms of CPU per learner).
        confined = self.worker.confined()
        self.children[pid] = UID_BASE + pid if config.get("drop_privileges") and not confined else None
        self.scratch_of[pid] = config.get("scratch")
        return pid

    def _reap(self, pid: int, scratch: str | None = None) -> dict:
        """Kill learner process ``pid``, wait for it to end, and say how it ended."""
        if pid not in self.children:
            self._remove_scratch(scratch)
            return {"exit": None, "signal": None}
        uid = self.children.pop(pid)
        self.scratch_of.pop(pid, None)
        kill_group(pid)
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            status = None
        if uid is not None:
            self._kill_everything_of(uid)
        self._remove_scratch(scratch)
        self._kill_orphans()
        if status is None:
            return {"exit": None, "signal": None}
        if os.WIFSIGNALED(status):
            return {"exit": None, "signal": os.WTERMSIG(status)}
        return {"exit": os.WEXITSTATUS(status), "signal": None}

    def _release(self, pid: int, scratch: str | None) -> None:
        if pid not in self.children:
            self._remove_scratch(scratch)
            return
        self.dying[pid] = (scratch, self.children.pop(pid))
        self.scratch_of.pop(pid, None)
        kill_group(pid)
        self._reap_dying()

    def _reap_dying(self) -> None:
        """Reap the released learner processes that have finished dying, then clean up after them."""
        gone = False
        for pid in list(self.dying):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                scratch, uid = self.dying.pop(pid)
                gone = True
                if uid is not None:
                    self._kill_everything_of(uid)
                self._remove_scratch(scratch)
        if gone:
            self._kill_orphans()

    @staticmethod
    def _remove_scratch(scratch: str | None) -> None:
        if scratch and os.path.basename(scratch).startswith("grade-scratch-"):
            remove_tree(scratch)  # here, not in the grader: it has more to do

    def _kill_everything_of(self, uid: int) -> None:
        """A process of ``uid`` that escaped its group (native code) cannot escape this."""
        pid = os.fork()
        if pid == 0:
            try:
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)

    def _kill_orphans(self) -> None:
        """Kill and reap every child that is not a live learner process: as the subreaper, the
        host inherits whatever a learner's process started and left behind."""
        me = os.getpid()
        for _ in range(20):
            strays = [pid for pid in _children_of(me) if pid not in self.children and pid not in self.dying]
            for pid in strays:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            for pid in strays:
                # Each stray by its pid: waiting for any child would also collect a live
                # learner's exit, which its own reap then could not report.
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    pass
            if not strays:
                return

    def _shutdown(self) -> None:
        """The grader has gone or is going: end every learner process and remove every scratch
        folder (each once its process is dead, so nothing is written after)."""
        if self.grader_gone is None:
            _prctl(PR_SET_PDEATHSIG, 0)  # the grader may exit now: let this cleaning finish
        for pid in self.children:
            kill_group(pid)
        ending = {pid: (self.scratch_of.get(pid), uid) for pid, uid in self.children.items()}
        ending.update(self.dying)
        for pid, (scratch, uid) in ending.items():
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            if uid is not None:
                self._kill_everything_of(uid)
            self._remove_scratch(scratch)
        self.children.clear()
        self.dying.clear()
        self._kill_orphans()
        os._exit(0)


def _out_of_collectors_sight() -> None:
    """Everything the host holds so far is shared by every fork: keep the collector off it, so a
    learner process does not copy pages merely by collecting garbage."""
    import gc

    gc.collect()
    gc.freeze()


def _warm_blas() -> None:
    """One matrix-vector and one matrix-matrix product, so that OpenBLAS takes its working memory
    here, once, before any fork. The OpenBLAS of numpy 1.x takes it on its first call: in a learner's
    process whose code had used up its memory limit, that call then waited until its time limit (the
    first check using a matrix product timed out)."""
    import numpy

    matrix = numpy.ones((2, 3))
    numpy.dot(numpy.ones(2), matrix)
    numpy.dot(numpy.ones((2, 2)), matrix)


def _warm_printing() -> None:
    """Print a few arrays and numpy numbers, once, before any fork. Learners print their
    results as the notes do, and numpy's first print in a process builds its formatters' state;
    built here, it is shared by every learner process instead of made again in each."""
    import io

    import numpy

    stream = io.StringIO()
    for value in (numpy.array([[0.1, -2.5, 3.0], [1e-3, 2.0, 5.0]]), numpy.array([1, 2, 3]),
                  numpy.array([1e-10, 8.1e-10]), numpy.float64(1.5), numpy.int64(2), numpy.array([True, False])):
        print(value, repr(value), file=stream)


def _import_roots() -> list[str]:
    """The folders a learner's imports read: the standard library's and numpy's."""
    import numpy

    return [os.path.dirname(os.__file__), os.path.dirname(numpy.__file__)]


def readable_by(uid: int, roots: list[str]) -> bool:
    """Whether user ``uid`` (with no capability) can read and search every one of ``roots``:
    tried in a forked child that becomes that user, as a learner's process would."""
    pid = os.fork()
    if pid == 0:
        readable = False
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            readable = all(os.access(root, os.R_OK | os.X_OK) for root in roots)
        finally:
            os._exit(0 if readable else 1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when process ``pid`` exits, where the kernel has them."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def kill_group(pid: int) -> None:
    """SIGKILL a learner process's group, and the process itself (in case it has not made its
    group yet)."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _children_of(parent: int) -> list[int]:
    """The children of ``parent``: from /proc/PID/task/*/children where the kernel offers it
    (one small read), else by scanning every process's stat."""
    try:
        found = []
        for task in os.listdir(f"/proc/{parent}/task"):
            with open(f"/proc/{parent}/task/{task}/children", "rb") as children:
                found.extend(int(pid) for pid in children.read().split())
        return found
    except OSError:
        pass
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(entry))
    return found


if __name__ == "__main__":
    main()
