"""What a learner's process may not do, enforced from inside it before any learner code runs.

Two layers: resource limits and, as root, a user of its own with no capabilities (the kernel
enforces these, even against native code); and a PEP 578 audit hook that refuses, at the Python
level, imports of the grader's packages, reading outside the Python installation and the
scratch folder, writing outside the scratch folder, starting processes, signalling other
processes, the network and ctypes. A refusal is a PermissionError (ImportError for imports)
whose message starts with ``[grade:<code>]``, so the grader can explain it in the learner's
language.
"""
from __future__ import annotations

import _signal
import builtins
import os
import resource
import signal
import struct
import sys
import types
from dataclasses import dataclass
from typing import Optional

from grader.sandbox.seccomp import FCNTL_SIGNALLING

#: flags of os.open that mean the file is written.
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_DEVICES_READ = ("/dev/null", "/dev/urandom", "/dev/random", "/dev/zero")
_SIGXFSZ = int(signal.SIGXFSZ)
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_S_IFMT, _S_IFLNK = 0o170000, 0o120000
#: Compiled modules that open files themselves, out of the audit hook's sight (readline's
#: history, Tcl's ``open``, SQLite's ``ATTACH``, dbm and curses files): refused where Landlock
#: is not there to stop what they open, and where it is (no chapter's code needs them).
_UNWATCHED_MODULES = frozenset({"readline", "_tkinter", "_sqlite3", "_dbm", "_gdbm", "_curses", "_curses_panel"})


@dataclass(frozen=True)
class Policy:
    """Where a learner's process may read and write, and what it may not import."""

    scratch: str
    read_roots: tuple[str, ...]
    deny_roots: tuple[str, ...]
    hidden_packages: frozenset[str]


def install_audit_hook(policy: Policy) -> None:
    """Install the hook; it cannot be removed for the life of the process.

    No learner code ever runs inside the hook: it only checks exact built-in types (a path is a
    str, bytes or a ``DirEntry``, never an object whose methods a submission could have
    replaced), it calls only builtins and C functions bound here (it resolves paths itself
    rather than through ``os.path``, whose helpers are module attributes), its table of handlers
    is read-only, and it refuses the garbage collector's object walks. A submission that reaches
    the hook's frame (through a refusal's traceback, or a signal handler's frame) can still
    change what it does: the hook is the first line, the kernel's limits (Landlock, seccomp, a
    user of its own) the boundary.
    """
    own_pid = os.getpid()
    lstat, readlink, getcwd, isdir_stat = os.lstat, os.readlink, os.getcwd, os.stat
    type, str, bytes, int, len, any, frozenset_ = (  # noqa: A001
        builtins.type, builtins.str, builtins.bytes, builtins.int, builtins.len, builtins.any, builtins.frozenset)
    Refused, Unimportable, OSError_ = builtins.PermissionError, builtins.ImportError, builtins.OSError
    Missing = builtins.FileNotFoundError
    DirEntry = os.DirEntry  # a C type: its path cannot be made to change between check and use
    write_flags, devices_read, fcntl_signalling = _WRITE_FLAGS, _DEVICES_READ, frozenset_(FCNTL_SIGNALLING)
    hidden = frozenset_(policy.hidden_packages)
    unwatched = _UNWATCHED_MODULES

    def refusal(code: str, detail: str):
        return Refused(f"[grade:{code}] {detail}")

    def real(path: str) -> str:
        """``path`` absolute, with ``.``, ``..`` and symbolic links resolved (as far as it exists)."""
        if not path.startswith("/"):
            path = getcwd() + "/" + path
        todo = path.split("/")[::-1]
        done: list = []
        hops = 0
        while todo:
            part = todo.pop()
            if part == "" or part == ".":
                continue
            if part == "..":
                if done:
                    done.pop()
                continue
            candidate = "/" + "/".join(done + [part])
            try:
                mode = lstat(candidate).st_mode
            except OSError_:
                done.append(part)  # does not exist (yet): the rest cannot be a link either
                continue
            if mode & _S_IFMT == _S_IFLNK:
                hops += 1
                if hops > 40:
                    raise refusal("path", "too many symbolic links")
                target = readlink(candidate)
                if target.startswith("/"):
                    done = []
                todo.extend(target.split("/")[::-1])
                continue
            done.append(part)
        return "/" + "/".join(done)

    scratch = real(policy.scratch)
    read_roots = tuple(policy.read_roots) + (scratch,)
    deny_roots = tuple(policy.deny_roots)

    def within(path: str, roots: tuple) -> bool:
        for root in roots:
            if path == root or path.startswith(root if root.endswith("/") else root + "/"):
                return True
        return False

    def resolve(path) -> str:
        kind = type(path)
        if kind is str:
            return real(path)
        if kind is bytes:
            return real(path.decode("utf-8", "surrogateescape"))
        if kind is DirEntry:
            return real(path.path)
        # Python turns a pathlib.Path into a str before most events (open, os.*), but not
        # before sqlite3.connect: its string would come from methods a submission can replace.
        raise refusal("path", "only a str path is accepted here: use str(path) for a pathlib.Path")

    def check_read(path) -> None:
        if type(path) is int:
            if path in (0, 1, 2):
                return
            raise refusal("fd", f"file descriptor {path} is not the submission's to use")
        resolved = resolve(path)
        if within(resolved, deny_roots):
            raise refusal("read", f"reading {resolved} is not allowed: the grader's files are off limits")
        if resolved in devices_read or within(resolved, read_roots):
            return
        raise refusal("read", f"reading {resolved} is not allowed: a submission may read only its own folder")

    def check_write(path) -> None:
        if type(path) is int:
            if path in (1, 2):
                return
            raise refusal("fd", f"file descriptor {path} is not the submission's to use")
        resolved = resolve(path)
        if resolved == "/dev/null" or (within(resolved, (scratch,)) and not within(resolved, deny_roots)):
            return
        raise refusal("write", f"writing {resolved} is not allowed: a submission may write only inside its own folder")

    def on_open(args):
        path, mode, flags = args
        if mode is not None and type(mode) is not str or type(flags) is not int:
            raise refusal("path", "an unusual mode or flags object is not accepted here")
        writes = (mode is not None and any(c in mode for c in "wax+")) or (mode is None and flags & write_flags)
        (check_write if writes else check_read)(path)
        if mode is None and type(path) is not int:
            try:
                is_folder = isdir_stat(resolve(path)).st_mode & _S_IFMT == 0o040000
            except OSError_:
                is_folder = False
            if is_folder:
                # A folder's descriptor (dir_fd=...) would let relative paths escape these checks.
                raise refusal("path", "opening a folder as a file descriptor is not allowed")

    def on_import(args):
        name = args[0]
        if type(name) is str and name.partition(".")[0] in hidden:
            raise Unimportable(f"[grade:import] {name} is the grader's own code: a submission may not import it")
        if type(name) is str and name in unwatched:
            raise Unimportable(f"[grade:module] {name}")
        filename = args[1] if len(args) > 1 else None
        if type(filename) is str and within(real(filename), (scratch,)):
            raise Unimportable(f"[grade:native] loading the compiled module {filename} is not allowed")

    def on_list(args):
        path = args[0]
        check_read("." if path is None else path)

    def on_write_path(args):
        check_write(args[0])

    def on_metadata(args):
        # The kernel's filter makes chmod, utime and the xattr calls succeed doing nothing
        # (``seccomp._IGNORED``): one on a path that does not exist must still fail, as
        # pathlib's touch() relies on (utime first, then create the file if that fails).
        path = args[0]
        check_write(path)
        if type(path) is not int:
            try:
                isdir_stat(resolve(path))
            except OSError_:
                raise Missing(2, "No such file or directory", path) from None

    def on_two_paths(args):
        check_write(args[0])
        check_write(args[1])

    # shutil's events show the caller's objects, but every file it then touches is checked
    # again as a str (open, os.mkdir, os.rename...): a pathlib.Path can be let through here.
    def on_shutil_copy(args):
        source, destination = args[0], args[1]
        if type(source) is str or type(source) is bytes:
            check_read(source)
        if type(destination) is str or type(destination) is bytes:
            check_write(destination)

    def on_shutil_change(args):
        for path in args[:2]:
            if type(path) is str or type(path) is bytes:
                check_write(path)

    def on_kill(args):
        if args[0] != own_pid:
            raise refusal("signal", "signalling another process is not allowed")

    def on_killpg(args):
        raise refusal("signal", "signalling a process group is not allowed")

    def on_process(args):
        raise refusal("process", "starting another process is not allowed in a submission")

    def on_link(args):
        raise refusal("write", "creating links is not allowed in a submission")

    def on_limits(args):
        raise refusal("limits", "changing resource limits is not allowed in a submission")

    def on_fcntl(args):
        if type(args[1]) is not int or args[1] in fcntl_signalling:
            raise refusal("signal", "asking the kernel to signal another process is not allowed")

    def on_ioctl(args):
        # Device control (terminals, sockets' owners) is never needed for the chapter's code.
        raise refusal("device", "controlling a device or terminal (ioctl) is not allowed in a submission")

    def on_introspection(args):
        # Walking every object in the process is how a submission would find this hook.
        raise refusal("introspection", "inspecting the garbage collector's objects is not allowed in a submission")

    def on_database(args):
        database = args[0]
        if type(database) is str and (database == ":memory:" or database == ""):
            return
        if type(database) is str and database.startswith("file:"):
            raise refusal("write", "database URIs are not allowed in a submission")
        check_write(database)

    handlers = types.MappingProxyType({
        "open": on_open,
        "import": on_import,
        "os.listdir": on_list,
        "os.scandir": on_list,
        "os.remove": on_write_path,
        "os.rmdir": on_write_path,
        "os.mkdir": on_write_path,
        "os.chmod": on_metadata,
        "os.chown": on_write_path,
        "os.chflags": on_write_path,
        "os.truncate": on_write_path,
        "os.utime": on_metadata,
        "os.setxattr": on_metadata,
        "os.removexattr": on_metadata,
        "os.rename": on_two_paths,
        "shutil.copyfile": on_shutil_copy,
        "shutil.copytree": on_shutil_copy,
        "shutil.move": on_shutil_change,
        "shutil.rmtree": on_shutil_change,
        "sqlite3.connect": on_database,
        "os.link": on_link,
        "os.symlink": on_link,
        "os.kill": on_kill,
        "os.killpg": on_killpg,
        "fcntl.fcntl": on_fcntl,
        "os.fork": on_process,
        "os.forkpty": on_process,
        "os.system": on_process,
        "os.exec": on_process,
        "os.posix_spawn": on_process,
        "os.spawn": on_process,
        "os.startfile": on_process,
        "subprocess.Popen": on_process,
        "pty.spawn": on_process,
        "webbrowser.open": on_process,
        "resource.setrlimit": on_limits,
        "resource.prlimit": on_limits,
        "fcntl.ioctl": on_ioctl,
        "gc.get_objects": on_introspection,
        "gc.get_referrers": on_introspection,
        "gc.get_referents": on_introspection,
    })
    get_handler = handlers.get

    def audit(event, args):
        handler = get_handler(event)
        if handler is not None:
            handler(args)
        elif event[:7] == "socket.":
            raise refusal("network", "network access is not allowed in a submission")
        elif event[:7] == "ctypes.":
            raise refusal("native", "ctypes is not allowed in a submission")

    sys.addaudithook(audit)


# --- limits the kernel enforces ----------------------------------------------------------------

@dataclass(frozen=True)
class Limits:
    memory_bytes: int
    cpu_seconds: int
    file_bytes: int = 16 * 1024 * 1024
    open_files: int = 64
    threads: int = 32


def apply_limits(limits: Limits, unprivileged: bool, current: Optional[int] = None, tasks: Optional[int] = None) -> None:
    """Cap address space (``current``, read now if not given, plus the limit), CPU time, file
    size and open files; no core dumps. When the process runs as its own unprivileged user,
    forbid new processes at the kernel level too; else cap its user's tasks a few past the
    machine's ``tasks`` (read before Landlock hides /proc)."""
    _signal.signal(_SIGXFSZ, _signal.SIG_IGN)  # an oversized write fails instead of killing
    if current is None:
        current = address_space_bytes()
    _set(resource.RLIMIT_AS, current + limits.memory_bytes)
    _set(resource.RLIMIT_CPU, limits.cpu_seconds)
    _set(resource.RLIMIT_FSIZE, limits.file_bytes)
    _set(resource.RLIMIT_NOFILE, limits.open_files)
    _set(resource.RLIMIT_CORE, 0)
    if unprivileged:
        # Its user's processes and threads (it may start no process; a few threads, yes): a
        # loop of threads cannot take the machine's process ids.
        _set(resource.RLIMIT_NPROC, limits.threads)
    elif tasks is not None:
        _set(resource.RLIMIT_NPROC, thread_ceiling(tasks, limits.threads, resource.getrlimit(resource.RLIMIT_NPROC)[0],
                                                   _PIDS_MAX))


#: Tasks a learner process run as the instructor's user leaves that user, and the container,
#: for the grader and the host: without them, a loop of threads would keep the host from
#: forking the next learner process.
TASKS_LEFT_FOR_THE_GRADER = 64
#: The cgroup's pids.max (a container's limit on tasks), read once in the host (``prepare``).
_PIDS_MAX: Optional[int] = None


def thread_ceiling(tasks: int, threads: int, soft: int, pids_max: Optional[int]) -> int:
    """RLIMIT_NPROC for a learner process run as the instructor's user, whose count of tasks
    the kernel limits: ``threads`` more than the whole machine has now (``tasks``, which that
    user's are among), not thousands; and ``TASKS_LEFT_FOR_THE_GRADER`` under the user's own limit
    (``soft``) and the container's (``pids_max``), never above them."""
    ceiling = tasks + threads
    for limit in (soft, pids_max):
        if limit is not None and limit != resource.RLIM_INFINITY:
            ceiling = min(ceiling, limit - TASKS_LEFT_FOR_THE_GRADER)
    return max(ceiling, 0)


def cgroup_pids_max(membership: str = "/proc/self/cgroup", root: str = "/sys/fs/cgroup") -> Optional[int]:
    """The smallest limit on tasks of this process's cgroup and those above it (cgroup v2, or
    v1's pids controller: a container's, a systemd slice's TasksMax), or None."""
    try:
        with open(membership, encoding="utf-8") as stream:
            lines = stream.read().splitlines()
    except OSError:
        return None
    limits = []
    for line in lines:
        _, controllers, path = line.split(":", 2) if line.count(":") >= 2 else ("", "", "")
        folder = root if controllers == "" else root + "/pids" if "pids" in controllers.split(",") else None
        if folder is None:
            continue
        parts = [part for part in path.split("/") if part]
        for depth in range(len(parts), 0, -1):  # (the root cgroup has no pids.max)
            try:
                with open("/".join([folder, *parts[:depth], "pids.max"]), encoding="utf-8") as stream:
                    value = stream.read().strip()
            except OSError:
                continue
            if value.isdigit():
                limits.append(int(value))
    return min(limits) if limits else None


def tasks_on_machine() -> Optional[int]:
    """The machine's processes and threads, all users' (``/proc/loadavg``'s "running/total")."""
    try:
        with open("/proc/loadavg", "rb") as stream:
            return int(stream.read().split()[3].partition(b"/")[2])
    except (OSError, ValueError, IndexError):
        return None


def _set(which: int, value: int) -> None:
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


_prctl = None
#: libc's capset, empty capability sets to give it, and the highest capability this kernel has
#: (made in the host before it forks: ``prepare``).
_capset = None
_NO_CAPABILITIES: tuple = ()
_CAP_LAST = 63
_PR_CAPBSET_DROP = 24
_PR_SET_KEEPCAPS = 8
_CAPABILITY_VERSION_3 = 0x20080522
#: The one capability a learner's process may keep: reading and searching folders whatever
#: their mode, for a Python installation its user could not read (a pyenv under /root). Kept
#: only where it is needed (the host tries without it first).
CAP_DAC_READ_SEARCH = 2


def prepare() -> None:
    """Look up what the learner's process will call, once, in the host before it forks."""
    global _capset, _NO_CAPABILITIES, _CAP_LAST, _PIDS_MAX
    _libc_prctl()
    _PIDS_MAX = cgroup_pids_max()
    import ctypes

    _capset = ctypes.CDLL(None, use_errno=True).capset
    # struct __user_cap_header_struct {u32 version; int pid;}, then two __user_cap_data_struct
    # {u32 effective, permitted, inheritable;}: none at all, and only CAP_DAC_READ_SEARCH.
    header = ctypes.create_string_buffer(struct.pack("Ii", _CAPABILITY_VERSION_3, 0), 8)
    read_search = 1 << CAP_DAC_READ_SEARCH
    _NO_CAPABILITIES = (header, ctypes.create_string_buffer(24),
                        ctypes.create_string_buffer(struct.pack("6I", read_search, read_search, 0, 0, 0, 0), 24))
    try:
        with open("/proc/sys/kernel/cap_last_cap", "rb") as last:
            _CAP_LAST = int(last.read())
    except (OSError, ValueError):
        pass


def _libc_prctl():
    """libc's prctl, looked up once (in the host, before it forks)."""
    global _prctl
    if _prctl is None:
        import ctypes

        _prctl = ctypes.CDLL(None).prctl
    return _prctl


def address_space_bytes() -> int:
    statm = os.open("/proc/self/statm", os.O_RDONLY)
    try:
        pages = int(os.read(statm, 200).split()[0])
    finally:
        os.close(statm)
    return pages * _PAGE_SIZE


def die_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when the sandbox host dies (set after any change of user, which
    clears it)."""
    _libc_prctl()(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:
        os._exit(0)


def drop_capabilities() -> None:
    """No capability left, the bounding set's included: for a learner process that keeps the
    grader's user (root, when it may not have one of its own; or a user without capabilities)."""
    if _capset is None:
        prepare()
    _drop_bounding_set(keep_read_search=False)
    _set_capabilities(keep_read_search=False)


def _set_capabilities(keep_read_search: bool) -> None:
    header, none, read_search = _NO_CAPABILITIES
    if _capset(header, read_search if keep_read_search else none) != 0:
        import ctypes

        raise OSError(ctypes.get_errno(), "capset failed: the learner's process keeps its capabilities")


def _drop_bounding_set(keep_read_search: bool) -> None:
    prctl = _libc_prctl()
    for capability in range(_CAP_LAST + 1):
        if not (keep_read_search and capability == CAP_DAC_READ_SEARCH):
            prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0)  # (refused without CAP_SETPCAP: none to drop)


def drop_privileges(uid: int, keep_read_search: bool = False) -> None:
    """Become ``uid`` (and a group of the same number), with no supplementary groups and no
    capability; but CAP_DAC_READ_SEARCH if ``keep_read_search``, to read a Python installation
    that user could not (a pyenv under /root): reading is Landlock's to bound, while root's uid
    would own, and could chmod, lease or set the times of, every root-owned file."""
    if _capset is None:
        prepare()
    _drop_bounding_set(keep_read_search)
    prctl = _libc_prctl()
    if keep_read_search:
        prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0)  # (setuid would clear the permitted set)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if keep_read_search:
        _set_capabilities(keep_read_search=True)
        prctl(_PR_SET_KEEPCAPS, 0, 0, 0, 0)
