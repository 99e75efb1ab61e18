"""A seccomp filter for the learner's process: system calls no submission needs, refused by the
kernel whatever code makes them (Python, a module the audit hook does not watch, or native code).

Refused with EPERM: creating processes (fork, vfork, clone without CLONE_THREAD, execve),
signalling any process but itself (kill, tgkill, pidfd; and asking the kernel to signal one
for it: fcntl F_SETOWN/F_SETSIG, leases and F_NOTIFY, ioctl FIOSETOWN/SIOCSPGRP), acting on
other processes' scheduling or limits (setpriority, sched_*, ioprio_set, prlimit64 but for
itself), tracing others (ptrace, process_vm_*), device files and pipes on disk (mknod), new
sockets, kernel interfaces a sandbox escape would start from (mount and the new mount API,
unshare, setns, bpf, io_uring, userfaultfd, keyrings, module loading, perf events, file
handles), what outlives the process or watches others' files (System V IPC, POSIX message
queues, fanotify, inotify), memory and disk taken past its limits' sight (memfd_create,
memfd_secret, fallocate), the machine's asynchronous I/O contexts (io_setup), a file's owner
(chown: Landlock does not guard it), and the machine's own settings (host name, clock, kernel log,
I/O ports, quotas). A file's mode, times and extended attributes (chmod, utime and the xattr
calls, which Landlock does not guard either) are not changed, though the calls return success.
Threads stay possible.

Installed only on x86_64, the architecture it is tested on; elsewhere the audit hook alone
stands (see ``available``).
"""
from __future__ import annotations

import ctypes
import errno
import os
import struct

# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6]
_NR, _ARCH, _ARG = 0, 4, 16
_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_BIT = 0x40000000
_CLONE_THREAD = 0x00010000

_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000

# BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2

#: x86_64 system call numbers.
_DENIED = {
    "fork": 57, "vfork": 58, "execve": 59, "execveat": 322,
    "tkill": 200, "pidfd_open": 434, "pidfd_send_signal": 424, "pidfd_getfd": 438,
    "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
    "mknod": 133, "mknodat": 259,
    "socket": 41, "socketpair": 53,
    "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "unshare": 272, "setns": 308,
    "bpf": 321, "perf_event_open": 298, "io_uring_setup": 425, "userfaultfd": 323,
    "keyctl": 250, "add_key": 248, "request_key": 249,
    "kexec_load": 246, "kexec_file_load": 320, "init_module": 175, "finit_module": 313, "delete_module": 176,
    "personality": 135, "acct": 163, "swapon": 167, "swapoff": 168, "reboot": 169,
    "setpriority": 141, "sched_setparam": 142, "sched_setscheduler": 144, "sched_setattr": 314,
    "ioprio_set": 251,
    # What outlives the process or reaches beyond it: System V IPC (segments and queues stay
    # after it ends, outside its memory limit), POSIX message queues, fanotify marks and
    # inotify watches (on files anyone opens), file handles (open_by_handle_at opens any
    # inode), the new mount API, the host name, the kernel's log, the clock, I/O ports, quotas.
    "shmget": 29, "shmat": 30, "shmctl": 31, "shmdt": 67, "semget": 64, "semop": 65, "semctl": 66,
    "semtimedop": 220, "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71,
    "mq_open": 240, "mq_unlink": 241, "mq_timedsend": 242, "mq_timedreceive": 243, "mq_notify": 244,
    "mq_getsetattr": 245,
    "fanotify_init": 300, "fanotify_mark": 301, "inotify_init": 253, "inotify_init1": 294,
    "name_to_handle_at": 303, "open_by_handle_at": 304,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "mount_setattr": 442,
    "sethostname": 170, "setdomainname": 171, "syslog": 103, "vhangup": 153,
    "settimeofday": 164, "clock_settime": 227, "adjtimex": 159, "clock_adjtime": 305,
    "iopl": 172, "ioperm": 173, "quotactl": 179, "quotactl_fd": 443, "kcmp": 312,
    # Memory no address-space limit counts (a memfd's pages need no mapping), and disk taken
    # faster than the scratch folder's size is looked at (fallocate reserves gigabytes at once).
    "memfd_create": 319, "memfd_secret": 447, "fallocate": 285,
    # Kernel-wide tables one process can drain: the machine's asynchronous I/O contexts.
    "io_setup": 206,
    # A file's owner, which Landlock does not guard (see _IGNORED).
    "chown": 92, "fchown": 93, "lchown": 94, "fchownat": 260,
}
#: A file's mode, times and extended attributes, which Landlock does not guard: run as the
#: instructor's user, learner code could otherwise chmod the class, the batch's outputs or
#: ~/.ssh (any file of that user's it can name) out of anyone's reach. These calls return
#: success and do nothing (errno 0): shutil's copy, copy2 and copytree, which copy a file's mode,
#: times and attributes after its bytes, keep working in the learner's own folder.
_IGNORED = {
    "chmod": 90, "fchmod": 91, "fchmodat": 268, "fchmodat2": 452,
    "utime": 132, "utimes": 235, "futimesat": 261, "utimensat": 280,
    "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190, "setxattrat": 463,
    "removexattr": 197, "lremovexattr": 198, "fremovexattr": 199, "removexattrat": 466,
}
_CLONE, _CLONE3 = 56, 435
#: Calls whose first argument is a process: allowed only for this process itself (or 0, itself
#: too for these: its own process group, alone in its session, for kill).
_SELF_ONLY = {"kill": 62, "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297,
              "prlimit64": 302, "sched_setaffinity": 203}
#: Calls refused for some values of their second argument.
_FCNTL, _IOCTL = 72, 16
#: fcntl commands that would make the kernel signal another process (SIGIO to its owner); the
#: audit hook (``guard``) refuses them too, with a message, where Python's fcntl is called.
FCNTL_SIGNALLING = (8, 10, 15, 1024, 1026)  # F_SETOWN, F_SETSIG, F_SETOWN_EX, F_SETLEASE, F_NOTIFY
#: ioctl requests refused: those that would make the kernel signal another process (FIOSETOWN,
#: SIOCSPGRP), and those that change a file for good through a descriptor of any file it may read
#: (the instructor's own, say), which Landlock does not guard: its flags (FS_IOC_SETFLAGS and its
#: 32-bit form), attributes (FS_IOC_FSSETXATTR), version (FS_IOC_SETVERSION and its 32-bit form),
#: fs-verity, which makes it read-only for ever (FS_IOC_ENABLE_VERITY), and a folder's encryption
#: (FS_IOC_SET_ENCRYPTION_POLICY).
_IOCTL_REFUSED = (0x8901, 0x8902, 0x40086602, 0x40046602, 0x401C5820, 0x40087602, 0x40047602, 0x40806685, 0x800C6613)


def available() -> bool:
    return os.uname().machine == "x86_64" and os.uname().sysname == "Linux"


def program(own_pid: int) -> list[tuple[int, int, int, int]]:
    """The filter, as (code, jump if true, jump if false, k) instructions."""
    deny = _RET_ERRNO | errno.EPERM
    code: list[tuple] = [
        (_LD_W_ABS, 0, 0, _ARCH),
        (_JEQ_K, 1, 0, _AUDIT_ARCH_X86_64),
        (_RET_K, 0, 0, deny),  # another ABI (i386 on x86_64): refuse everything
        (_LD_W_ABS, 0, 0, _NR),
        (_JGE_K, 0, 1, _X32_BIT),
        (_RET_K, 0, 0, deny),  # the x32 ABI: refuse everything
    ]
    for number in _DENIED.values():
        code += [(_JEQ_K, 0, 1, number), (_RET_K, 0, 0, deny)]
    for number in _IGNORED.values():
        code += [(_JEQ_K, 0, 1, number), (_RET_K, 0, 0, _RET_ERRNO | 0)]
    # clone: threads only.
    code += [
        (_JEQ_K, 0, 4, _CLONE),
        (_LD_W_ABS, 0, 0, _ARG),
        (_JSET_K, 1, 0, _CLONE_THREAD),
        (_RET_K, 0, 0, deny),
        (_RET_K, 0, 0, _RET_ALLOW),
        # clone3 hides its flags in memory: say it does not exist (libc falls back to clone).
        (_JEQ_K, 0, 1, _CLONE3),
        (_RET_K, 0, 0, _RET_ERRNO | errno.ENOSYS),
    ]
    for number in _SELF_ONLY.values():
        # (the low 32 bits of a pid suffice: its high ones are a sign extension)
        code += [
            (_JEQ_K, 0, 5, number),
            (_LD_W_ABS, 0, 0, _ARG),
            (_JEQ_K, 2, 0, own_pid),
            (_JEQ_K, 1, 0, 0),
            (_RET_K, 0, 0, deny),
            (_RET_K, 0, 0, _RET_ALLOW),
        ]
    for number, refused in ((_FCNTL, FCNTL_SIGNALLING), (_IOCTL, _IOCTL_REFUSED)):
        code += [(_JEQ_K, 0, 2 + len(refused) + 1, number), (_LD_W_ABS, 0, 0, _ARG + 8)]
        code += [(_JEQ_K, len(refused) - i, 0, value) for i, value in enumerate(refused)]
        code += [(_RET_K, 0, 0, _RET_ALLOW), (_RET_K, 0, 0, deny)]
    code.append((_RET_K, 0, 0, _RET_ALLOW))
    return code


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class _Prepared:
    """The filter built once, in the sandbox host before it forks: a learner's process only
    writes its pid into the places that hold it and makes two system calls."""

    #: A stand-in for the pid, found afterwards in the built program (no real constant is it).
    PLACEHOLDER = 0xFFFFFFF7

    def __init__(self):
        instructions = program(self.PLACEHOLDER)
        self.buffer = ctypes.create_string_buffer(
            b"".join(struct.pack("HBBI", *instruction) for instruction in instructions))
        self.pid_offsets = [8 * i + 4 for i, instruction in enumerate(instructions) if instruction[3] == self.PLACEHOLDER]
        self.fprog = _SockFprog(len(instructions), ctypes.addressof(self.buffer))
        self.prctl = ctypes.CDLL(None, use_errno=True).prctl


_prepared: _Prepared | None = None


def prepare() -> None:
    """Build the filter now (the host calls this once, so every fork inherits it)."""
    global _prepared
    if _prepared is None:
        _prepared = _Prepared()


def install(own_pid: int) -> None:
    """Install the filter for this process (and any thread it starts); it cannot be removed."""
    prepare()
    for offset in _prepared.pid_offsets:
        struct.pack_into("I", _prepared.buffer, offset, own_pid)
    prctl = _prepared.prctl
    if prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(_prepared.fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
