"""The learner's process, from the grader's side: loading, running probes, surviving failures."""
from __future__ import annotations

import importlib.util
import os

from pathlib import Path

import numpy as np
import pytest

from grader.model import Status
from grader.sandbox.client import CapturedOutput

#: A `while True` that survives the soft timeout: the grader must kill the process.
STUBBORN = "while True:\n    try:\n        while True: pass\n    except BaseException:\n        pass\n"


def statuses(report):
    return {r.check.id: r.status for r in report.results}


def by_function(report, function):
    return {r.check.name: r for r in report.results if r.check.function == function}


def test_a_hang_that_swallows_the_timeout_is_blamed_on_its_own_statement(grader, write, correct_source):
    # The statement before it and after it still count: the grader kills the process, starts a
    # fresh one, and skips only the statement that hung.
    source = correct_source.replace("def numerical_gradient(f, x):", STUBBORN + "\n\ndef numerical_gradient(f, x):")
    report = grader.grade(write("s.py", source))
    assert [p.message.id for p in report.problems] == ["load.timeout"]
    assert report.score == 100


def test_a_check_that_hangs_stubbornly_costs_only_that_function(grader, write, correct_source):
    source = correct_source.replace("def function_2(x):\n", "def function_2(x):\n" + "    " + STUBBORN.replace("\n", "\n    ") + "\n")
    report = grader.grade(write("s.py", source))
    function_2 = by_function(report, "function_2")
    assert {r.status for r in function_2.values()} == {Status.TIMEOUT}
    assert all(r.passed for r in report.results if r.check.function != "function_2")


def test_a_crash_in_a_check_is_blamed_on_that_check(grader, write, correct_source):
    source = correct_source.replace("def function_tmp1(x0):\n", "def function_tmp1(x0):\n    import os; os._exit(9)\n")
    report = grader.grade(write("s.py", source))
    result = by_function(report, "function_tmp1")["values"]
    assert result.status is Status.ERROR and result.message.id == "outcome.crash_exit"
    assert result.message.params["code"] == 9
    assert all(r.passed for r in report.results if r.check.function != "function_tmp1")


def test_what_the_learner_prints_is_captured_apart_from_results(grader, write):
    report = grader.grade(write("s.py", "print('score: 100')\nimport sys\nprint('oops', file=sys.stderr)\n"))
    assert report.output.stdout == "score: 100\n" and report.output.stderr == "oops\n"
    assert report.score == 0


def test_arrays_a_learner_prints_read_as_numpy_prints_them(grader, write):
    # (the host prints a few arrays before it forks, so that learner processes share the state
    # numpy's printing builds: what a learner prints must not change for it)
    import numpy as np

    arrays = "np.array([[0.16251921, 0.09353292, -0.25605214], [0.24377882, 0.14029938, -0.3840782]])"
    report = grader.grade(write("s.py", f"import numpy as np\nprint({arrays})\nprint(repr(np.float64(2.5)), np.arange(3))\n"))
    expected = f"{eval(arrays)}\n{np.float64(2.5)!r} {np.arange(3)}\n"
    assert report.output.stdout == expected


def test_the_hosts_printing_warm_up_prints_nothing_and_leaves_numpys_options(capsys):
    import numpy as np

    from grader.sandbox.host import _warm_printing

    options = np.get_printoptions()
    _warm_printing()
    assert capsys.readouterr() == ("", "")
    assert np.get_printoptions() == options


def test_captured_output_is_capped():
    output = CapturedOutput(limit=10)
    output.add("stdout", b"x" * 25)
    assert bytes(output.stdout) == b"x" * 10 and output.dropped_stdout == 15


def test_a_memory_hog_gets_a_memory_error_not_the_machine(grader, write, correct_source):
    source = correct_source.replace("def function_2(x):\n", "def function_2(x):\n    blocks = [bytearray(10**8) for _ in range(100)]\n")
    report = grader.grade(write("s.py", source))
    result = by_function(report, "function_2")["random"]
    assert result.status is Status.ERROR and "MemoryError" in result.message.params["type"]


def test_a_supplied_function_answers_only_the_inputs_a_correct_implementation_passes(grader, write, correct_source):
    # simpleNet.loss is graded with the grader's softmax underneath: it replays the reference's
    # answers for the scores a correct predict gives, and nothing else, so it is no general
    # softmax to keep and reuse.
    wrong_scores = correct_source.replace("        y = softmax(z)", "        y = softmax(z * 2)")
    report = grader.grade(write("s.py", wrong_scores))
    loss = by_function(report, "simpleNet")["loss"]
    assert loss.status is Status.ERROR and loss.message.id == "outcome.replay_refused_at"
    assert loss.message.params["function"] == "softmax"
    assert by_function(report, "softmax")["notes_example"].passed


@pytest.mark.parametrize("loss_body", [
    "y = softmax(a=z)\n        return cross_entropy_error(y=y, t=t)",  # by keyword, as the notes name them
    "y = softmax(z.reshape(1, -1))\n        return cross_entropy_error(y, t.reshape(1, -1))",  # a batch of one
])
def test_a_correct_loss_calling_the_supplied_functions_its_own_way_passes(grader, write, correct_source, loss_body):
    source = correct_source.replace("        y = softmax(z)\n        return cross_entropy_error(y, t)", "        " + loss_body)
    assert source != correct_source
    report = grader.grade(write("s.py", source))
    assert by_function(report, "simpleNet")["loss"].passed, by_function(report, "simpleNet")["loss"].message


def test_replay_answers_recorded_calls_within_rounding_only():
    import numpy as np

    from grader.probing import Replay

    softmax = Replay([["softmax", [np.array([1.0, 2.0])], np.array([0.27, 0.73])]])("softmax")
    assert np.array_equal(softmax(np.array([1.0, 2.0 + 1e-13])), [0.27, 0.73])
    with pytest.raises(ValueError):
        softmax(np.array([1.0, 3.0]))
    with pytest.raises(ValueError):
        Replay([])("cross_entropy_error")(np.array([0.5]), np.array([1.0]))


def test_sealed_replay_answers_recorded_calls_and_shows_nothing_before():
    """What the learner's process holds of the reference's calls opens only to the arguments a
    correct implementation passes: its closure holds no result, no argument."""
    import json

    from grader import wire
    from grader.probing import SealedReplay, seal

    z, y = np.array([0.3, 2.9, 4.0]), np.array([0.01821127, 0.24519181, 0.73659691])
    near = np.array([0.30004, 2.9, 4.0])  # the same to 4 digits, not to 1e-9: a call of its own
    sealed = seal(wire.encode_value([["softmax", [z], y], ["softmax", [near], y * 2],
                                     ["cross_entropy_error", [y, np.array([0, 0, 1])], 0.3057]]))
    text = json.dumps(sealed)
    assert "0.3057" not in text and "softmax" not in text and "0.2451" not in text
    softmax = SealedReplay(sealed, wire.decode_value)("softmax")
    assert np.array_equal(softmax(z + 1e-15), y) and np.array_equal(softmax(near), y * 2)
    assert SealedReplay(sealed, wire.decode_value)("cross_entropy_error")(y, np.array([0, 0, 1])) == 0.3057
    for wrong in (z + 7.0, z * 1.001, z[:2]):
        with pytest.raises(ValueError):
            softmax(wrong)
    cells = [cell.cell_contents for cell in softmax.__closure__]
    assert not any(isinstance(c, (list, np.ndarray, float)) for c in cells)


def test_a_sealed_call_is_filed_by_its_arguments_to_four_digits_whatever_their_bits():
    from grader.probing import _call_key

    given = np.array([0.0, 1234.5678, -np.inf, np.nan, 1e-300])
    key = _call_key("softmax", (given,))
    assert key == _call_key("softmax", (np.array([-0.0, 1234.5679, -np.inf, -np.nan, 1.0000001e-300]),))
    assert key == _call_key("softmax", (given[None, :],))  # a batch of one row: the same call
    assert key != _call_key("softmax", (np.array([0.0, 1235.5, -np.inf, np.nan, 1e-300]),))
    assert key != _call_key("softmax", (np.array([0.0, 1234.5678, np.inf, np.nan, 1e-300]),))
    assert key != _call_key("cross_entropy_error", (given,))
    assert _call_key("softmax", (given, given)) != _call_key("softmax", (np.concatenate([given, given]),))
    assert _call_key("softmax", (["not", "numbers"],)) is None


def test_a_loss_that_reads_the_supplied_functions_closure_gains_nothing(grader, write, correct_source):
    """The recorded answers of the supplied cross_entropy_error are sealed: a loss returning
    what it finds in the closure fails its check (and predict, wrong here, fails too)."""
    thief = (
        "def loss(self, x, t):\n"
        "        todo = [cross_entropy_error]\n"
        "        while todo:\n"
        "            for cell in (getattr(todo.pop(), '__closure__', None) or ()):\n"
        "                found = cell.cell_contents\n"
        "                if callable(found):\n"
        "                    todo.append(found)\n"
        "                found = list(found.values()) if isinstance(found, dict) else found\n"
        "                if isinstance(found, list) and found:\n"
        "                    STOLEN.append(1)\n"
        "                    entry = found[(len(STOLEN) - 1) % len(found)]\n"
        "                    return entry[1] if isinstance(entry, tuple) else entry\n"
        "        return 123.0\n"
    )
    source = correct_source.replace("return np.dot(x, self.W)", "return np.dot(x, self.W) + 7.0")
    start = source.index("    def loss(self, x, t):")
    end = source.index("return cross_entropy_error(y, t)", start) + len("return cross_entropy_error(y, t)")
    source = "STOLEN = []\n" + source[:start] + "    " + thief + source[end:]
    report = grader.grade(write("thief.py", source))
    statuses = {r.check.id: r.status for r in report.results}
    assert statuses["simplenet.simpleNet.predict"] is not Status.PASSED
    assert statuses["simplenet.simpleNet.loss"] is not Status.PASSED


@pytest.mark.parametrize("code, refusal", [
    ("import reference", "refused.import"),
    ("from exercises import mistakes", "refused.import"),
    ("import grader.runner", "refused.import"),
    ("open('/etc/hostname').read()", "refused.read"),
    ("open('/tmp/grade-test-written', 'w')", "refused.write"),
    ("import subprocess; subprocess.run(['true'])", "refused.process"),
    ("import socket; socket.create_connection(('127.0.0.1', 9))", "refused.network"),
    ("import ctypes; ctypes.CDLL(None)", "refused.native"),
    ("import os; os.kill(1, 0)", "refused.signal"),
    ("import readline", "refused.module"),
    ("import sqlite3", "refused.module"),
    pytest.param("import tkinter", "refused.module", marks=pytest.mark.skipif(
        importlib.util.find_spec("_tkinter") is None, reason="this Python has no tkinter")),
])
def test_what_a_submission_may_not_do_is_refused_and_explained(grader, write, code, refusal):
    report = grader.grade(write("s.py", code + "\n"))
    assert [p.message.id for p in report.problems] == [refusal]


def test_landlock_grants_reading_the_roots_but_not_what_is_denied_inside_them(tmp_path):
    from grader.sandbox.landlock import allowed_reads

    (tmp_path / "site" / "numpy").mkdir(parents=True)
    (tmp_path / "site" / "grader").mkdir()
    (tmp_path / "site" / "six.py").write_text("")
    granted = allowed_reads([str(tmp_path / "site")], [str(tmp_path / "site" / "grader")])
    site = str(tmp_path / "site")
    assert f"{site}/numpy" in granted and f"{site}/six.py" in granted
    assert site not in granted and not any(path.startswith(f"{site}/grader") for path in granted)


def _in_child(action) -> str:
    """What ``action()`` returns (a str), run in a forked child (so that what it does to its
    process, restrictions it cannot undo, stays there)."""
    import os

    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(writer, action().encode())
        finally:
            os._exit(0)
    os.close(writer)
    answer = os.read(reader, 100_000).decode()
    os.waitpid(pid, 0)
    os.close(reader)
    return answer


def _in_landlocked_child(scratch, read_roots, deny_roots, attempt):
    """Run ``attempt`` (raw system calls: no audit hook here) in a forked child restricted by
    Landlock; returns what it returned."""
    from grader.sandbox import landlock

    landlock.prepare(read_roots, deny_roots)
    made = landlock.ruleset(scratch)

    def restricted() -> str:
        landlock.restrict(made)
        return attempt()

    try:
        return _in_child(restricted)
    finally:
        landlock.discard(made)


def test_landlock_stops_native_file_access_the_audit_hook_cannot_see(tmp_path):
    """What readline, Tcl or SQLite would open themselves: the kernel refuses it."""
    import errno
    import os

    from grader.isolation import python_roots
    from grader.sandbox import landlock

    if not landlock.abi():
        pytest.skip("this kernel has no Landlock")
    scratch, secret, outputs = tmp_path / "scratch", tmp_path / "reference", tmp_path / "out"
    for folder in (scratch, secret, outputs):
        folder.mkdir()
    (secret / "answers.py").write_text("ANSWER = 42\n")

    def attempt():
        results = []
        for path, flags in [(secret / "answers.py", os.O_RDONLY), (outputs / "r.json", os.O_WRONLY | os.O_CREAT),
                            (scratch / "mine.txt", os.O_WRONLY | os.O_CREAT), (os.__file__, os.O_RDONLY),
                            ("/dev/null", os.O_WRONLY | os.O_TRUNC)]:
            try:
                os.close(os.open(str(path), flags))
                results.append("ok")
            except OSError as exc:
                results.append("denied" if exc.errno == errno.EACCES else f"errno {exc.errno}")
        return ",".join(results)

    answer = _in_landlocked_child(str(scratch), python_roots() + (str(tmp_path),), [str(secret), str(outputs)], attempt)
    assert answer == "denied,denied,ok,ok,ok"
    assert not (outputs / "r.json").exists()


def test_extra_denied_folders_never_cover_what_a_learner_must_read(tmp_path, monkeypatch):
    """A batch denies its class and its outputs; were one of them /tmp (the scratch folders)
    or inside the Python installation's parents, denying it would deny everything."""
    import os

    from grader.isolation import base_config, python_roots
    from grader.sandbox.client import Settings

    monkeypatch.setenv("TMPDIR", str(tmp_path / "scratch"))
    outputs = tmp_path / "results"
    config = base_config((), (), Settings(), False, 1, deny_paths=[
        str(tmp_path), str(outputs), os.path.dirname(python_roots()[0]), "/"])
    assert config["deny_roots"] == [os.path.realpath(outputs)]


def test_the_prepared_filter_is_the_filter_built_for_the_pid():
    """The host builds the filter once; a learner's process writes its pid into it. The result
    must be exactly the program built for that pid."""
    import struct

    from grader.sandbox import seccomp

    seccomp.prepare()
    prepared = seccomp._prepared
    for pid in (2, 4242, 4_194_304):
        for offset in prepared.pid_offsets:
            struct.pack_into("I", prepared.buffer, offset, pid)
        built = b"".join(struct.pack("HBBI", *instruction) for instruction in seccomp.program(pid))
        assert bytes(prepared.buffer)[: len(built)] == built


#: System calls the filter refuses, each with arguments that make it fail harmlessly without the
#: filter: key 0x4752 exists nowhere, no file descriptor is -1, and no pointer is NULL's.
_CALLS_THAT_OUTLIVE_OR_WATCH = {
    "shmget": (0x4752, 0, 0), "msgget": (0x4752, 0), "semget": (0x4752, 0, 0), "shmat": (-1, 0, 0),
    "mq_open": (0, 0, 0, 0), "fanotify_init": (0xFFFFFFFF, 0), "inotify_init1": (0xFFFFFFFF,),
    "open_by_handle_at": (-1, 0, 0), "fsopen": (0, 0), "sethostname": (0, 1 << 20), "syslog": (-1, 0, 0),
    "clock_settime": (-1, 0), "kcmp": (0, 0, -1, 0, 0), "memfd_create": (0, 0), "fallocate": (-1, 0, 0, 4096),
    "memfd_secret": (0xFFFFFFFF,), "io_setup": (0, 0),
}


def _errors_in_child(calls: dict, filtered: bool) -> dict:
    """{call: errno} of each raw system call made in a forked child, under the seccomp filter
    or not."""
    import ctypes
    import json
    import os

    from grader.sandbox import seccomp

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long

    def attempt() -> str:
        if filtered:
            seccomp.install(os.getpid())
        errors = {}
        for name, arguments in calls.items():
            ctypes.set_errno(0)
            number = seccomp._DENIED.get(name) or seccomp._IGNORED[name]
            done = libc.syscall(number, *(ctypes.c_long(a) for a in arguments))
            errors[name] = ctypes.get_errno() if done == -1 else 0
        return json.dumps(errors)

    return json.loads(_in_child(attempt))


def test_the_filter_refuses_what_would_outlive_the_process_or_watch_others_files():
    """System V segments and queues outlive the process and its memory limit; a fanotify mark
    could hold up every open on the file system. Without the filter each of these calls fails
    for its arguments (or not at all); with it, every one is refused before it is looked at."""
    import errno

    from grader.sandbox import seccomp

    if not seccomp.available():
        pytest.skip("the seccomp filter is built for x86_64 Linux")
    assert set(_errors_in_child(_CALLS_THAT_OUTLIVE_OR_WATCH, filtered=True).values()) == {errno.EPERM}
    unfiltered = _errors_in_child(_CALLS_THAT_OUTLIVE_OR_WATCH, filtered=False)
    names = ["shmget", "msgget", "semget", "fanotify_init", "inotify_init1", "mq_open", "kcmp", "memfd_create", "fallocate",
             "memfd_secret", "io_setup"]
    if os.geteuid() != 0:  # without CAP_SYS_ADMIN the kernel itself refuses fanotify_init, flags unread
        names.remove("fanotify_init")
    for name in names:
        assert unfiltered[name] != errno.EPERM, (name, unfiltered[name])


def test_the_filter_keeps_a_files_owner_mode_times_and_attributes_as_they_are(tmp_path):
    """Landlock does not guard a file's owner, mode, times or extended attributes: run as the
    instructor's user, learner code could chmod the class folder or the batch's outputs out of
    reach. With the filter, chown is refused and the others return success doing nothing (so
    shutil's copies work); without it, each call changes the user's own file."""
    import ctypes
    import errno

    from grader.sandbox import seccomp

    if not seccomp.available():
        pytest.skip("the seccomp filter is built for x86_64 Linux")
    target = tmp_path / "mine.txt"
    target.write_text("x")
    os.chmod(target, 0o644)
    os.utime(target, (1000, 1000))
    before = os.stat(target)
    path, name, value = (ctypes.create_string_buffer(text) for text in (str(target).encode(), b"user.grade", b"1"))
    here, at_cwd = ctypes.addressof(path), -100
    ignored = {"chmod": (here, 0o600), "fchmodat": (at_cwd, here, 0o600, 0), "utimes": (here, 0),
               "utimensat": (at_cwd, here, 0, 0), "setxattr": (here, ctypes.addressof(name), ctypes.addressof(value), 1, 0)}
    refused = {"chown": (here, os.getuid(), os.getgid()), "fchownat": (at_cwd, here, os.getuid(), os.getgid(), 0)}
    assert _errors_in_child({**ignored, **refused}, filtered=True) == {**dict.fromkeys(ignored, 0), **dict.fromkeys(refused, errno.EPERM)}
    after = os.stat(target)
    assert (after.st_mode, after.st_mtime_ns) == (before.st_mode, before.st_mtime_ns)
    unfiltered = _errors_in_child({**ignored, **refused}, filtered=False)
    assert all(unfiltered[call] == 0 for call in [*ignored, *refused] if call != "setxattr"), unfiltered
    assert os.stat(target).st_mode & 0o777 == 0o600 and os.stat(target).st_mtime_ns != before.st_mtime_ns


def test_a_learners_chmod_does_nothing_and_shutils_copies_still_work(grader, write, correct_source):
    code = ("import os, shutil, stat\nopen('mine', 'w').write('x')\nos.chmod('mine', 0o600)\nos.utime('mine', (0, 0))\n"
            "shutil.copy('mine', 'a')\nshutil.copy2('mine', 'b')\nos.mkdir('d')\nshutil.copy('mine', 'd/c')\n"
            "shutil.copytree('d', 'e')\nassert open('e/c').read() == 'x'\n"
            "print('mode', oct(stat.S_IMODE(os.stat('mine').st_mode)), os.stat('mine').st_mtime > 0)\n")
    report = grader.grade(write("s.py", code + correct_source))
    assert report.score == 100 and report.problems == ()
    [line] = [line for line in report.output.stdout.splitlines() if line.startswith("mode ")]
    _, mode, touched = line.split()
    assert mode != "0o600" and touched == "True"


def test_the_filter_refuses_setting_a_files_flags_on_a_descriptor_it_may_read(tmp_path):
    """FS_IOC_SETFLAGS (sync, noatime, nodump...) needs only a descriptor, read-only will do: on the
    instructor's own files, which Landlock lets a learner read (the Python installation)."""
    import ctypes
    import errno
    import json

    from grader.sandbox import seccomp

    if not seccomp.available():
        pytest.skip("the seccomp filter is built for x86_64 Linux")
    target = tmp_path / "mine.txt"
    target.write_text("x")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long

    def attempt(filtered: bool) -> str:
        descriptor = os.open(target, os.O_RDONLY)
        flags = ctypes.c_long(0)
        libc.syscall(16, descriptor, 0x80086601, ctypes.byref(flags))  # FS_IOC_GETFLAGS (may be ENOTTY)
        if filtered:
            seccomp.install(os.getpid())
        errors = {}
        for request in (0x40086602, 0x40046602, 0x401C5820):
            ctypes.set_errno(0)
            done = libc.syscall(16, descriptor, request, ctypes.byref(flags))
            errors[hex(request)] = ctypes.get_errno() if done == -1 else 0
        return json.dumps(errors)

    assert set(json.loads(_in_child(lambda: attempt(True))).values()) == {errno.EPERM}
    assert errno.EPERM not in json.loads(_in_child(lambda: attempt(False))).values()


def test_pathlib_touch_still_creates_a_file_and_chmod_of_nothing_still_fails(grader, write, correct_source):
    """chmod and utime succeed doing nothing under the filter: the audit hook answers for a path
    that does not exist, as touch() relies on (utime first, then create)."""
    code = ("import os, pathlib\npathlib.Path('marker').touch()\nprint('made', os.path.exists('marker'))\n"
            "for call in (lambda: os.chmod('nothing', 0o600), lambda: os.utime('nothing')):\n"
            "    try:\n        call()\n    except FileNotFoundError:\n        print('missing')\n")
    report = grader.grade(write("s.py", code + correct_source))
    assert report.score == 100 and report.problems == ()
    assert "made True" in report.output.stdout and report.output.stdout.count("missing") == 2


def test_a_learners_temporary_folders_and_trees_are_removed_as_at_home(grader, write, correct_source):
    """tempfile.TemporaryDirectory and shutil.rmtree in the learner's own folder work (rmtree by
    folder descriptors, which the hook refuses, used to end in RecursionError)."""
    code = (
        "import os, shutil, tempfile\n"
        "with tempfile.TemporaryDirectory() as d:\n"
        "    os.makedirs(os.path.join(d, 'a', 'b'))\n"
        "    open(os.path.join(d, 'a', 'b', 'x'), 'w').write('1')\n"
        "os.makedirs('t/u')\n"
        "shutil.rmtree('t')\n"
        "assert not os.path.exists('t') and not os.path.exists(d)\n"
    )
    report = grader.grade(write("s.py", code + correct_source))
    assert report.problems == () and report.score == 100


def _as_learner_user(keep_read_search: bool) -> dict:
    """{CapEff, CapPrm, CapBnd, CapInh, Uid} of a forked child after ``drop_privileges(4242)``."""

    from grader.sandbox import guard

    def become() -> str:
        guard.drop_privileges(4242, keep_read_search)
        with open("/proc/self/status") as status:
            return "".join(line for line in status if line.startswith(("Cap", "Uid")))

    answer = _in_child(become)
    fields = dict(line.split(":", 1) for line in answer.splitlines())
    found = {name: int(fields[name], 16) for name in ("CapEff", "CapPrm", "CapBnd", "CapInh")}
    return {**found, "Uid": {int(uid) for uid in fields["Uid"].split()}}


def test_a_learner_user_has_no_capability_or_only_reading_and_searching_folders():
    import os

    if os.getuid() != 0:
        pytest.skip("only root can become another user")
    assert _as_learner_user(False) == {"CapEff": 0, "CapPrm": 0, "CapBnd": 0, "CapInh": 0, "Uid": {4242}}
    read_search = 1 << 2  # CAP_DAC_READ_SEARCH
    assert _as_learner_user(True) == {"CapEff": read_search, "CapPrm": read_search, "CapBnd": read_search,
                                      "CapInh": 0, "Uid": {4242}}


def test_a_learner_user_keeps_reading_folders_only_where_the_python_installation_needs_it():
    """Where the learner's user could not read the Python installation (a pyenv under /root,
    a private home under sudo), and only there, its process keeps CAP_DAC_READ_SEARCH."""
    import os

    from grader.sandbox.host import UID_BASE, readable_by

    if os.getuid() != 0:
        pytest.skip("only root can become another user")
    import shutil
    import tempfile

    public = tempfile.mkdtemp(dir="/tmp")  # (under /tmp: pytest's own folders are root's alone)
    try:
        os.chmod(public, 0o755)
        os.mkdir(os.path.join(public, "private"), mode=0o700)
        assert readable_by(UID_BASE, [public])
        assert not readable_by(UID_BASE, [public, os.path.join(public, "private")])
    finally:
        shutil.rmtree(public)


def test_a_loop_of_threads_is_stopped_whoever_runs_the_grader(grader, write, correct_source):
    """As root, a learner process is a user of its own, with 32 tasks; as an ordinary user (the
    instructor's), a few more than the machine had: not the thousands its memory would allow."""
    from grader.sandbox.guard import tasks_on_machine

    code = ("import threading\nthreading.stack_size(32768)\nstop = threading.Event()\nstarted = 0\n"
            "try:\n    while started < 5000:\n        threading.Thread(target=stop.wait, daemon=True).start()\n"
            "        started += 1\nexcept RuntimeError:\n    pass\nprint('started', started)\nstop.set()\n")
    before = tasks_on_machine()
    report = grader.grade(write("s.py", code + correct_source))
    assert report.score == 100
    started = int(report.output.stdout.split()[1])
    assert 0 < started <= (32 if os.geteuid() == 0 else before + 32 + 100), (started, before)


def test_an_ordinary_users_thread_limit_leaves_the_grader_room_under_every_limit_it_has():
    """Run as the instructor's user, a learner process may start 32 threads more than the machine
    has, but never come within 64 of the user's own limit or the container's (pids.max): the
    host, which shares them, must still fork the next learner process."""
    import resource

    from grader.sandbox.guard import thread_ceiling

    unlimited = resource.RLIM_INFINITY
    assert thread_ceiling(100, 32, unlimited, None) == 132
    assert thread_ceiling(100, 32, 10_000, None) == 132 and thread_ceiling(100, 32, unlimited, 4096) == 132
    assert thread_ceiling(100, 32, 160, None) == 96 and thread_ceiling(100, 32, unlimited, 150) == 86
    assert thread_ceiling(100, 32, 60, None) == 0  # (no thread at all: the grader keeps the 60)


@pytest.mark.parametrize("membership, limits, expected", [
    ("0::/docker/abc/inner\n", {"docker": "300", "docker/abc": "max", "docker/abc/inner": "500"}, 300),
    ("12:pids:/user.slice/user-1000.slice\n3:cpu:/x\n", {"pids/user.slice/user-1000.slice": "1200"}, 1200),
    ("0::/\n", {}, None),
])
def test_the_containers_task_limit_is_the_smallest_of_its_cgroup_and_those_above(tmp_path, membership, limits, expected):
    from grader.sandbox.guard import cgroup_pids_max

    (tmp_path / "cgroup").write_text(membership, encoding="utf-8")
    for folder, value in limits.items():
        (tmp_path / "fs" / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / "fs" / folder / "pids.max").write_text(value + "\n", encoding="utf-8")
    assert cgroup_pids_max(str(tmp_path / "cgroup"), str(tmp_path / "fs")) == expected


def test_the_thread_limit_is_set_in_the_learner_process_as_an_ordinary_user():
    import resource

    from grader.sandbox import guard

    def attempt() -> str:
        resource.setrlimit(resource.RLIMIT_NPROC, (1000, resource.getrlimit(resource.RLIMIT_NPROC)[1]))
        guard.apply_limits(guard.Limits(memory_bytes=1 << 30, cpu_seconds=60), unprivileged=False, current=0, tasks=100)
        return str(resource.getrlimit(resource.RLIMIT_NPROC)[0])

    assert int(_in_child(attempt)) == guard.thread_ceiling(100, 32, 1000, guard._PIDS_MAX)


def test_a_learner_process_is_never_root_nor_has_roots_powers(grader, write, correct_source):
    """As root, each learner process is a user of its own: it owns no file outside its scratch
    folder, and giving its own file to another user (CAP_CHOWN) is refused by the kernel."""
    import os

    code = "import os\nopen('mine', 'w').close()\nos.chown('mine', 4242, 4242)\n"
    if os.getuid() == 0:
        code = "import os\nassert os.getuid() != 0 and os.geteuid() != 0\n" + code
    report = grader.grade(write("s.py", code + correct_source))
    assert report.score == 100
    assert [p.message.id for p in report.problems] == ["refused.system"]  # EPERM, from the kernel


def test_the_host_takes_the_graders_modules_out_before_it_forks_and_puts_them_back_to_import():
    """Taken out once in the host, not in each learner's process; put back before the host
    imports a probe module, which must find the grader's modules in use, not new copies."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import os, sys
        from grader import probing
        from grader.sandbox import worker
        own = dict(os.environ)
        worker.prepare({"hidden": ["grader", "exercises"], "env": {"LANG": "C.UTF-8"}, "scratch": "/s"})
        assert not [m for m in sys.modules if m.partition(".")[0] in ("grader", "exercises")]
        assert dict(os.environ) == {"LANG": "C.UTF-8", "HOME": "/s", "TMPDIR": "/s", "MPLCONFIGDIR": "/s"}
        worker.prepare({"hidden": ["grader", "exercises"], "env": {"LANG": "C.UTF-8"}, "scratch": "/t"})
        assert os.environ["HOME"] == "/t" and len(os.environ) == 4
        worker.unhide()
        assert dict(os.environ) == own  # the host imports in its own environment, not a learner's
        import exercises.losses
        assert exercises.losses.probing is probing and sys.modules["grader.probing"] is probing
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


def test_released_learner_processes_are_reaped_and_their_scratch_folders_removed(write, correct_source, scratch_base):
    """The host reaps a released process once it has died, without making the next spawn wait."""
    import os
    import time

    from grader.runner import Grader, Options

    with Grader(options=Options(seed=3)) as grader:
        for index in range(4):
            assert grader.grade(write(f"s{index}.py", correct_source)).score == 100
        host_pid = grader.host._process.pid
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (list(scratch_base.iterdir()) or _children(host_pid)):
            time.sleep(0.01)
        assert list(scratch_base.iterdir()) == [] and _children(host_pid) == []
    assert not os.path.exists(f"/proc/{host_pid}")  # closing the grader ended its host


DEEP_TREE = (
    "import os\nos.mkdir('x')\nfor _ in range(1200):\n"
    "    os.mkdir('t'); os.rename('x', 't/x'); os.rename('t', 'x')\n"
)


def test_a_tree_nested_past_the_recursion_limit_is_removed_all_the_same(tmp_path):
    """Thousands of levels (made by renames, so every path stays short), a folder whose owner
    took its permissions away, and a link to a folder outside: all removed, the outside kept."""
    import os

    from grader.sandbox.cleanup import remove_tree

    root, outside = tmp_path / "scratch", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    here = os.getcwd()
    try:
        os.chdir(root)
        exec(DEEP_TREE, {})
        os.symlink(outside, "link")
        os.mkdir("locked")
        (root / "locked" / "f").write_text("x")
        os.chmod("locked", 0)
    finally:
        os.chdir(here)
    remove_tree(str(root))
    assert not root.exists() and (outside / "keep.txt").read_text() == "mine"


def test_nested_folders_without_permissions_are_removed_by_their_owner_too(tmp_path):
    """Not as root (which ignores permissions): moving a folder up rewrites its "..", which needs
    its write permission, given back first."""
    import os

    from grader.sandbox.cleanup import remove_tree

    import tempfile

    base = Path(tempfile.mkdtemp(prefix="grade-test-"))  # (tmp_path's parents are root's alone)
    root = base / "scratch"
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "a" / "b" / "c" / "f").write_text("x")
    owner = os.getuid() if os.getuid() != 0 else 200_999
    if os.getuid() == 0:
        os.chmod(base, 0o777)
        for folder, subfolders, files in os.walk(root):
            for name in [folder, *(os.path.join(folder, entry) for entry in subfolders + files)]:
                os.chown(name, owner, owner)
    for folder in (root / "a" / "b" / "c", root / "a" / "b"):
        os.chmod(folder, 0)
    pid = os.fork()
    if pid == 0:
        try:
            if os.getuid() == 0:
                os.setgid(owner)
                os.setuid(owner)
            remove_tree(str(root))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    try:
        assert not root.exists()
    finally:
        remove_tree(str(base))


def test_a_learner_that_nests_its_folder_past_the_recursion_limit_costs_nothing(write, correct_source, scratch_base):
    """shutil.rmtree would raise RecursionError in the host and the grader: the host would die
    (and a classmate's process with it) and the folder would stay."""
    import time

    from grader.runner import Grader, Options

    source = DEEP_TREE + correct_source
    source = source.replace("def mean_squared_error(y, t):", "def mean_squared_error(y, t):\n    import os; os._exit(3)", 1)
    with Grader(options=Options(seed=3)) as grader:
        host_pid = grader.host._process.pid
        report = grader.grade(write("deep.py", source))
        assert report.score < 100 and not [p for p in report.problems]
        assert grader.grade(write("honest.py", correct_source)).score == 100
        assert grader.host._process.pid == host_pid  # the same host: it did not die
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and list(scratch_base.iterdir()):
            time.sleep(0.05)
        assert list(scratch_base.iterdir()) == []


@pytest.mark.parametrize("confined", [True, False])
def test_the_host_kills_all_a_learners_user_runs_only_where_seccomp_does_not_stop_new_processes(confined, monkeypatch):
    """As root, each learner process runs as a user of its own. Where the seccomp filter holds
    it (it starts no process), killing its group ends everything it ran; elsewhere the host also
    kills whatever else that user runs, which costs a fork per learner."""
    import os
    import socket
    import time

    from grader.sandbox import host as host_module

    class Worker:  # the learner process's part, reduced to ending at once
        @staticmethod
        def prepare(config):
            pass

        @staticmethod
        def forked():
            pass

        @staticmethod
        def confined():
            return confined

        @staticmethod
        def run(config, *fds):
            os._exit(0)

    killed: list[int] = []
    monkeypatch.setattr(host_module.Host, "_kill_everything_of", lambda self, uid: killed.append(uid))
    monkeypatch.setattr(host_module.Host, "_kill_orphans", lambda self: None)  # (this test's own children)
    ours, _theirs = socket.socketpair()
    host = host_module.Host(ours, Worker)
    pid = host._spawn({"drop_privileges": True}, [])
    host._release(pid, None)
    deadline = time.monotonic() + 10
    while host.dying and time.monotonic() < deadline:
        time.sleep(0.01)
        host._reap_dying()
    assert not host.dying
    assert killed == ([] if confined else [host_module.UID_BASE + pid])


def test_a_request_the_host_fails_on_costs_that_request_only(write, correct_source):
    """The host serves every learner process: an error in one request is replied, never the end
    of the host (and of the learner processes running beside)."""
    import os

    from grader.errors import SandboxError
    from grader.runner import Grader, Options

    with Grader(options=Options(seed=3)) as grader:
        assert grader.grade(write("a.py", correct_source)).score == 100
        host_pid = grader.host._process.pid
        reader, writer = os.pipe()
        with pytest.raises(SandboxError, match="could not start a learner process"):
            grader.host.spawn({"read_roots": 5, "scratch": "/nonexistent"}, [reader, writer, writer])
        assert grader.grade(write("b.py", correct_source)).score == 100
        assert grader.host._process.pid == host_pid
        for fd in (reader, writer):
            os.close(fd)


def _children(pid: int) -> list[int]:
    from grader.sandbox.host import _children_of

    return _children_of(pid)


def test_a_process_started_ahead_runs_nothing_until_the_grader_is_there_to_watch_it(write, correct_source):
    """A batch starts the next submission's process while it judges the last: that process must
    not start on the learner's code (and its time limits, and its output) before the grader
    reads it, however late the grader comes."""
    import time

    from grader.runner import Grader, Options
    from grader.sandbox.client import Settings

    loud = "print('x' * 100_000)\nprint('y' * 100_000)\n" + correct_source  # more than a pipe holds
    with Grader(options=Options(seed=5, settings=Settings(load_timeout=1.0))) as grader:
        submission = grader.read(write("loud.py", loud))
        started = grader.prepare(submission)
        time.sleep(1.5)  # longer than the load timeout
        report = grader.grade_submission(submission, started=started)
    assert report.problems == () and report.score == 100
    assert report.output.stdout.startswith("x" * 1000) and report.output.dropped_stdout > 0


def test_a_submission_sent_its_code_before_the_grader_reads_it_is_graded_as_afresh(write, correct_source):
    """A batch sends the next submission its code once the last has run, and judges that one
    before it reads the new one's replies: what it prints meanwhile (more than Linux's default
    pipe holds) waits without stopping it, so its time limit is not spent waiting, and the report
    is the one grading it afresh gives."""
    import select
    import time

    from grader.runner import Grader, Options
    from grader.sandbox.client import Settings

    # (one statement: each has its own time limit)
    loud = "import time\nif True:\n    print('x' * 200_000)\n    time.sleep(0.6)\n" + correct_source
    with Grader(options=Options(seed=5, settings=Settings(load_timeout=1.0))) as grader:
        submission = grader.read(write("loud.py", loud))
        started = grader.prepare(submission)
        grader.start(started)
        time.sleep(0.6)  # the grader judging the one before (far longer than it takes)
        stdout = started.process._streams["stdout"]
        assert select.select([stdout], [], [], 0)[0]  # its code is running: it has printed
        early = grader.grade_submission(submission, started=started)
        afresh = grader.grade_submission(submission)
    assert early == afresh and early.score == 100 and early.problems == ()
    assert early.output.stdout.startswith("x" * 1000) and early.output.dropped_stdout > 0
    assert started.starts == 1 and not started.strict


def test_the_next_submission_is_started_only_once_this_ones_process_has_ended(write, correct_source):
    """What keeps a batch to --jobs learner processes running learner code: ``when_run``, where
    a batch sends the next submission its code, comes after this one's process is ended."""
    from grader.runner import Grader, Options

    with Grader(options=Options(seed=5)) as grader:
        submission = grader.read(write("a.py", correct_source))
        session = grader.prepare(submission)
        seen = []
        report = grader.grade_submission(submission, started=session,
                                         when_run=lambda: seen.append((session.process, session._ahead)))
    assert report.score == 100 and seen == [(None, None)]


def test_the_host_removes_every_scratch_folder_when_the_grader_closes_it(write, correct_source, scratch_base):
    """Also those of learner processes still alive (a batch stopped by Ctrl-C)."""
    from grader.runner import Grader, Options

    grader = Grader(options=Options(seed=3))
    sessions = _started_ahead(grader, write, correct_source)
    assert len(list(scratch_base.iterdir())) == 3 and all(s._ahead.alive for s in sessions)
    grader.close()
    assert list(scratch_base.iterdir()) == []


def test_a_process_is_released_while_another_thread_waits_for_the_hosts_reply(write, correct_source, scratch_base):
    """Letting the host reap a finished process awaits no reply: it must not wait for another
    thread's request to be answered (a fork, under load milliseconds), which held up the start
    of the next submission."""
    import threading
    import time

    from grader.runner import Grader, Options

    grader = Grader(options=Options(seed=3))
    process = _started_ahead(grader, write, correct_source, count=1)[0]._ahead
    released = threading.Event()
    with grader.host._lock:  # as while another thread waits for its reply
        threading.Thread(target=lambda: (process.close(), released.set())).start()
        assert released.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (_alive(process.pid) or list(scratch_base.iterdir())):
            time.sleep(0.02)
        assert not _alive(process.pid) and list(scratch_base.iterdir()) == []
    grader.close()


def test_a_host_that_answers_too_late_is_replaced_not_left_to_answer_the_next_request(write, correct_source):
    """A reply that comes after its request gave up would be read as the next request's, and
    every request after it would get the one before's answer: the late host is stopped, and the
    next request starts another."""
    import os
    import signal
    import threading

    from grader.runner import Grader, Options

    with Grader(options=Options(seed=5)) as grader:
        host = grader.host
        host.ready()
        late = host._process
        host._control.settimeout(0.2)
        os.kill(late.pid, signal.SIGSTOP)  # (it answers once continued: after the 0.2 s)
        threading.Timer(0.5, os.kill, (late.pid, signal.SIGCONT)).start()
        assert host.reap(999_999) == {"exit": None, "signal": None}
        assert late.poll() is not None and host._process is not late
        report = grader.grade(write("a.py", correct_source))
    assert report.score == 100 and report.problems == ()


def test_a_process_started_ahead_that_died_waiting_is_replaced_and_nothing_is_lost(write, correct_source):
    """It ran none of the learner's code: its death is no one's fault and not one of the starts
    (a restart would mute the learner's output and turn on strict replies)."""
    import os
    import signal
    import time

    from grader.runner import Grader, Options

    with Grader(options=Options(seed=5)) as grader:
        submission = grader.read(write("hello.py", "print('hello')\n" + correct_source))
        started = grader.prepare(submission)
        os.kill(started._ahead.pid, signal.SIGKILL)
        time.sleep(0.2)
        report = grader.grade_submission(submission, started=started)
    assert report.score == 100 and report.problems == ()
    assert report.output.stdout.startswith("hello\n")
    assert started.starts == 1 and not started.strict


@pytest.mark.parametrize("ending", ["exit", "killed"])
def test_the_host_cleans_up_when_the_grader_process_ends(scratch_base, write, correct_source, ending):
    """However the grader ends (an exit right after closing the host without waiting, or
    SIGKILL), the host kills its learner processes and removes their scratch folders."""
    import os
    import subprocess
    import sys
    import textwrap
    import time

    script = textwrap.dedent(f"""
        import os, signal, sys, time
        from grader.runner import Grader, Options
        grader = Grader(options=Options(seed=1))
        sessions = [grader.prepare(grader.read({str(write("s.py", correct_source))!r})) for _ in range(3)]
        # (counted here: in the "exit" case the host starts removing them at once)
        scratch_folders = len(os.listdir(os.environ["TMPDIR"]))
        print(grader.host._process.pid, *[s._ahead.pid for s in sessions], scratch_folders, flush=True)
        if {ending!r} == "exit":
            grader.host.close(wait=False)
            os._exit(0)
        time.sleep(60)
    """)
    grader = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "TMPDIR": str(scratch_base)})
    *pids, scratch_folders = [int(number) for number in grader.stdout.readline().split()]
    assert len(pids) == 4 and scratch_folders == 3
    if ending == "killed":
        grader.kill()
    grader.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (list(scratch_base.iterdir()) or any(_alive(pid) for pid in pids)):
        time.sleep(0.02)
    assert list(scratch_base.iterdir()) == []
    assert not any(_alive(pid) for pid in pids)


def _alive(pid: int) -> bool:
    """Running (not gone, and not a zombie waiting for its parent)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_the_host_cleans_up_when_the_grader_hangs_up_in_the_middle_of_a_request(write, correct_source, scratch_base):
    """Ctrl-C while the grader waits for a reply closes the socket under the host's answer."""
    from grader.runner import Grader, Options

    grader = Grader(options=Options(seed=1))
    sessions = _started_ahead(grader, write, correct_source)
    host = grader.host
    first = sessions[0]._ahead
    host._send({"op": "reap", "pid": first.pid, "scratch": first.scratch})
    host._control.close()  # no one will read the reply
    host._control = None
    host._process.wait(timeout=10)
    assert list(scratch_base.iterdir()) == []
    grader.close()


@pytest.fixture
def scratch_base(tmp_path, monkeypatch):
    """The folder learner processes get their scratch folders in (TMPDIR), empty."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    return folder


def _started_ahead(grader, write, source, count=3):
    """Sessions of ``count`` submissions whose learner processes wait, started ahead."""
    return [grader.prepare(grader.read(write(f"s{index}.py", source))) for index in range(count)]


def test_scratch_usage_counts_what_the_files_take_and_gives_up_on_too_many(tmp_path, monkeypatch):
    from grader.sandbox import client

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "data.bin").write_bytes(b"x" * 100_000)
    with open(tmp_path / "sparse.bin", "wb") as sparse:
        sparse.truncate(50 * 2**20)  # 50 MB long, nothing written: costs the disk nothing
    used = client.scratch_usage(str(tmp_path))
    assert 100_000 <= used < 1_000_000
    monkeypatch.setattr(client, "SCRATCH_MAX_ENTRIES", 2)
    assert client.scratch_usage(str(tmp_path)) is None


def test_check_requests_the_host_shares_give_the_reports_sending_them_gives(manager, write, correct_source, sent_by_index):
    """A batch hands the host its check requests once; each learner process is forked holding
    them and is sent their indices. Its reports are those of requests sent whole, a process
    started again after a crash and a host started again included."""
    from grader.runner import Grader, Options
    from grader.sandbox.client import Settings
    from grader.sandbox.control import Host

    by_index = sent_by_index
    not_halved = correct_source.replace("return 0.5 * np.sum((y - t) ** 2)", "return np.sum((y - t) ** 2)")
    crashing = correct_source.replace("def function_2(x):\n", "def function_2(x):\n    import os; os._exit(3)\n")
    assert not_halved != correct_source and crashing != correct_source
    files = [write(name, source) for name, source in (("a.py", correct_source), ("b.py", not_halved), ("c.py", crashing))]
    options = Options(seed=7, settings=Settings(check_timeout=3.0, load_timeout=3.0))

    def results(report):
        return [(r.check.id, r.status, r.score, r.message.id if r.message else None) for r in report.results]

    with Host() as host, Grader(manager, options, host) as sending:
        sent = [results(sending.grade(path)) for path in files]
    assert by_index and not any(by_index)
    by_index.clear()
    with Host() as host, Grader(manager, options, host) as sharing:
        sharing.check_plugins()
        sharing.share_checks()
        shared = [results(sharing.grade(path)) for path in files]
        assert by_index and all(by_index)  # (the crash's fresh process included)
        host._process.kill()
        host._process.wait()
        by_index.clear()
        again = results(sharing.grade(files[1]))
        assert by_index and all(by_index)  # handed to the new host before its first learner process
    assert shared == sent and again == sent[1]
    assert [r[1] for r in sent[2] if r[0].startswith("derivatives.function_2.")] == [Status.ERROR] * 2


def test_check_requests_too_large_for_one_message_are_sent_to_each_process_instead():
    from grader.sandbox.control import SHARED_REQUESTS_MAX_BYTES, Host

    host = Host()  # (not started: nothing is handed over until a learner process is spawned)
    assert host.share_requests([b"\0\0\0\x02{}"]) is not None
    assert host.share_requests([b"\0\0\0\0" + b" " * SHARED_REQUESTS_MAX_BYTES]) is None


def test_check_requests_larger_than_the_hosts_socket_takes_are_sent_to_each_process(manager, write, correct_source):
    """A socket buffer smaller than the requests (a pack's long replays): the host refuses the
    message; learner processes are sent the requests, and none is lost."""
    import socket

    from grader.runner import Grader, Options
    from grader.sandbox.client import Settings
    from grader.sandbox.control import Host

    options = Options(seed=7, settings=Settings(check_timeout=3.0, load_timeout=3.0))
    with Host() as host, Grader(manager, options, host) as grader:
        grader.check_plugins()
        host._control.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # (the built-in requests: 12 KB)
        grader.share_checks()
        reports = [grader.grade(write(f"{name}.py", correct_source)) for name in ("a", "b")]
        assert not host._shared and not host._shared_in_host
    assert [report.score for report in reports] == [100, 100]
