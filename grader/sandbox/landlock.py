"""Landlock (Linux 5.13 and later): the kernel's own limits on which files a learner's process
may touch, whatever code touches them.

The audit hook (``guard``) sees only what Python reports. Native code does its own file I/O
unseen: readline's history files, Tcl's ``open``, SQLite's ``ATTACH DATABASE``. Under Landlock
the kernel refuses them too: the process may read only the Python installation, the system's
shared libraries and a few device and time-zone files (never the grader's folders, a batch's
outputs or the class), and may write only in its own scratch folder. From Landlock ABI 4 it may
not use TCP; from ABI 6 it may not signal processes outside its own sandbox.

The host opens the folders once (``prepare``) and, before each fork, makes the learner process's
own rule set from them and its scratch folder (``ruleset``); the process enforces it on itself
(``restrict``) as soon as it is forked. Where the kernel has no Landlock, none of this does
anything and the audit hook and seccomp filter stand alone.
"""
from __future__ import annotations

import ctypes
import os
import struct
from typing import Iterable, Optional

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # the same on every architecture
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

# File-system access rights, by the ABI that introduced them.
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_FS_RIGHTS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_NET_BIND_TCP, _NET_CONNECT_TCP = 1, 2
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1, 2
#: Rights that apply to a file itself (a rule on a file may grant only these).
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV

READ = READ_FILE | READ_DIR
#: The scratch folder: everything but executing, devices, pipes, sockets and links.
SCRATCH = READ | WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | REFER | TRUNCATE

#: Files every process reads or writes, besides the Python installation.
SYSTEM_READ = ("/etc/ld.so.cache", "/etc/localtime", "/dev/urandom", "/dev/random", "/dev/zero")
#: Where the dynamic loader finds the shared libraries of modules not loaded before the fork.
SYSTEM_LIBRARIES = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib")
#: Most paths opened for one rule set: a deny inside a very wide read root could otherwise
#: make the host open a whole tree.
MAX_PATHS = 4000

_syscall = None
_prctl = None
#: What ``prepare`` opened: ((read_roots, deny_roots), [(descriptor, is_folder)]).
_PREPARED: tuple = ((), [])
_ABI: Optional[int] = None


def abi() -> int:
    """The kernel's Landlock ABI version; 0 if it has none (or has it turned off)."""
    global _ABI, _syscall, _prctl
    if _ABI is None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            _syscall, _prctl = libc.syscall, libc.prctl
            _syscall.restype = ctypes.c_long
            version = _syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
        except (OSError, AttributeError):
            version = -1
        _ABI = max(int(version), 0)
    return _ABI


def allowed_reads(read_roots: Iterable[str], deny_roots: Iterable[str]) -> list[str]:
    """The paths to grant reading: ``read_roots`` and the system's, minus ``deny_roots``. A root
    with a denied path inside it is granted entry by entry, down to what is denied."""
    deny = [os.path.realpath(path) for path in deny_roots]
    granted: list[str] = []
    todo = sorted({os.path.realpath(path) for path in (*read_roots, *SYSTEM_LIBRARIES, *SYSTEM_READ)})
    while todo and len(granted) < MAX_PATHS:
        path = todo.pop()
        if not os.path.exists(path) or any(path == d or path.startswith(d + "/") for d in deny):
            continue
        inside = [d for d in deny if d.startswith(path.rstrip("/") + "/")]
        if not inside:
            granted.append(path)
            continue
        try:
            todo.extend(os.path.join(path, entry) for entry in os.listdir(path))
        except OSError:
            continue  # unreadable: granting nothing in it is safe
    return sorted(set(granted))


def prepare(read_roots: Iterable[str], deny_roots: Iterable[str]) -> None:
    """In the host: open (O_PATH) what learner processes may read, once per policy."""
    global _PREPARED
    key = (tuple(read_roots), tuple(deny_roots))
    if _PREPARED[0] == key or not abi():
        return
    for descriptor, _ in _PREPARED[1]:
        os.close(descriptor)
    opened = []
    for path in allowed_reads(*key):
        try:
            descriptor = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        opened.append((descriptor, os.path.isdir(path)))
    _PREPARED = (key, opened)


def ruleset(scratch: str) -> Optional[int]:
    """In the host, for the next learner process: a rule set that lets it read what ``prepare``
    opened and its ``scratch`` folder, and write only in the latter; None without Landlock (or
    without ``prepare``). Made before the fork, where the calls are cheap; each rule set serves
    one process only (``discard`` it once forked), for it names that process's scratch folder."""
    version = abi()
    if not version or not _PREPARED[1]:
        return None
    fs_rights = _FS_RIGHTS_BY_ABI[max(v for v in _FS_RIGHTS_BY_ABI if v <= version)]
    if version >= 6:
        attr = struct.pack("=QQQ", fs_rights, _NET_BIND_TCP | _NET_CONNECT_TCP, _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL)
    elif version >= 4:
        attr = struct.pack("=QQ", fs_rights, _NET_BIND_TCP | _NET_CONNECT_TCP)
    else:
        attr = struct.pack("=Q", fs_rights)
    made = _check(_syscall(_SYS_CREATE_RULESET, attr, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0)))
    try:
        for descriptor, is_folder in _PREPARED[1]:
            _add(made, descriptor, READ if is_folder else READ_FILE)
        for path, rights in ((scratch, SCRATCH & fs_rights), ("/dev/null", (READ_FILE | WRITE_FILE | TRUNCATE) & fs_rights)):
            descriptor = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                _add(made, descriptor, rights)
            finally:
                os.close(descriptor)
    except BaseException:
        os.close(made)
        raise
    return made


def restrict(made: Optional[int]) -> bool:
    """In the learner process, before its code runs: enforce rule set ``made`` on it for good.
    True if done (False: no Landlock here)."""
    if made is None:
        return False
    _check(_prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
    _check(_syscall(_SYS_RESTRICT_SELF, made, ctypes.c_uint32(0)))
    os.close(made)
    return True


def discard(made: Optional[int]) -> None:
    """In the host, once the learner process is forked: its rule set is its own."""
    if made is not None:
        os.close(made)


def _add(ruleset: int, descriptor: int, rights: int) -> None:
    rule = struct.pack("=Qi", rights & (_FILE_RIGHTS if rights & ~_FILE_RIGHTS == 0 else ~0), descriptor)
    _check(_syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, rule, ctypes.c_uint32(0)))


def _check(result: int) -> int:
    if result < 0:
        error = ctypes.get_errno()
        raise OSError(error, f"landlock: {os.strerror(error)}")
    return result
