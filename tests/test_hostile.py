"""Hostile submissions, graded by the real sandbox.

Each test takes the correct example (``correct_source``), adds one misbehaviour at top level or
inside one function, grades it with the shared ``grader`` fixture and checks that:

* ``grader.grade`` returns a Report (never raises, never hangs past its limits);
* the hostile part is what is reported (a load problem, or the checks of that one function);
* everything else is still graded (unrelated checks pass);
* nothing leaks (no process the submission started is alive, no file outside its scratch
  folder is touched, the grader's memory does not balloon).

Most hostile code goes into ``function_tmp2``: it has exactly one check
(``derivatives.function_tmp2.values``, 2 points) and nothing else in the catalogue or in the
example calls it, so "only that function's checks are lost" is exactly ``{TMP2}`` and a score of
98. The slow tests (each waits out a 3 s timeout) are marked in their docstrings; the whole file
runs in well under a minute.

Where the audit hook cannot see an action (``_posixsubprocess``, pidfds, ``mknod``), the kernel's
system-call filter refuses it (``grader/sandbox/seccomp.py``), reported as ``refused.system``.
"""
from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

import reference
from grader.model import Report, Status

#: The only check of function_tmp2; nothing else depends on that function.
TMP2 = "derivatives.function_tmp2.values"
SOFTMAX_CHECKS = {
    "simplenet.softmax.notes_example",
    "simplenet.softmax.random",
    "simplenet.softmax.overflow",
    "simplenet.softmax.uniform",
    "simplenet.softmax.batch",
}
#: The end-to-end check that runs the learner's own softmax underneath.
SOFTMAX_USERS = {"simplenet.simpleNet.gradient"}
#: The grader's files, found from the test's side and written into submissions as literals.
REFERENCE_DIR = os.path.dirname(os.path.realpath(reference.__file__))
PROJECT_ROOT = os.path.dirname(REFERENCE_DIR)
REFERENCE_FILE = os.path.join(REFERENCE_DIR, "derivatives.py")  # holds function_tmp2
MB = 1024 * 1024
RIGHT_TMP2 = "return 3.0**2.0 + x1 * x1"
WRONG_TMP2 = "return x1 * 2.0"


# --- helpers ---------------------------------------------------------------------------------------

def grade(grader, write, source, name="submission.py") -> Report:
    report = grader.grade(write(name, source))
    assert isinstance(report, Report)
    return report


def lost(report) -> set[str]:
    """Ids of the checks that did not pass."""
    return {r.check.id for r in report.results if not r.passed}


def result_of(report, check_id):
    (found,) = [r for r in report.results if r.check.id == check_id]
    return found


def problem_ids(report) -> list[str]:
    return [p.message.id for p in report.problems]


def inject(source: str, function: str, body: str) -> str:
    """``source`` with ``body`` run first thing in ``def function(...)`` (any indentation)."""
    match = re.search(rf"^([ \t]*)def {re.escape(function)}\(.*\):\n", source, re.M)
    assert match, f"no def {function} in the source"
    indent = match.group(1) + "    "
    block = textwrap.indent(textwrap.dedent(body).strip("\n") + "\n", indent)
    return source[: match.end()] + block + source[match.end():]


def at_top(source: str, code: str) -> str:
    """``source`` with ``code`` appended as top-level statements."""
    return source.rstrip("\n") + "\n\n" + textwrap.dedent(code).strip("\n") + "\n"


def first_line_of(source: str, text: str) -> int:
    return source[: source.index(text)].count("\n") + 1


def assert_only_tmp2_lost(report, status: Status | None = None):
    assert lost(report) == {TMP2}, lost(report)
    assert report.score == 98
    if status is not None:
        assert result_of(report, TMP2).status is status


def processes_with(marker: str) -> list[int]:
    """Pids of live processes whose command line contains ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                arguments = cmdline.read().split(b"\0")
            with open(f"/proc/{entry}/stat", "rb") as stat:
                state = stat.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state != b"Z" and marker.encode() in arguments:
            found.append(int(entry))
    return found


def kill_survivors(marker: str) -> list[int]:
    """Kill (by pid) the processes a submission started with ``marker``; return their pids."""
    survivors = processes_with(marker)
    for pid in survivors:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return survivors


def marker() -> str:
    """A unique argument for ``sleep``: 98 followed by seven random digits."""
    return "98" + str(uuid.uuid4().int % 10**7).zfill(7)


def sandbox_hosts() -> list[int]:
    """Pids of the sandbox hosts this test process started."""
    hosts = []
    for task in os.listdir(f"/proc/{os.getpid()}/task"):
        try:
            with open(f"/proc/{os.getpid()}/task/{task}/children") as children:
                hosts.extend(int(pid) for pid in children.read().split())
        except OSError:
            pass
    found = []
    for pid in hosts:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if b"grader.sandbox.host" in cmdline.read():
                    found.append(pid)
        except OSError:
            pass
    return found


def learner_processes() -> list[int]:
    """Live (not zombie) children of this process's sandbox hosts: learner processes, and
    whatever they started that the host inherited as their subreaper."""
    found = []
    for host in sandbox_hosts():
        try:
            for task in os.listdir(f"/proc/{host}/task"):
                with open(f"/proc/{host}/task/{task}/children") as children:
                    found.extend(int(pid) for pid in children.read().split())
        except OSError:
            pass
    return [pid for pid in found if _state(pid) not in (None, "Z")]


def _state(pid: int):
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0].decode()
    except OSError:
        return None


@pytest.fixture(autouse=True)
def no_learner_process_left():
    """After each test, every learner process of this test process's hosts is gone (the host
    reaps them asynchronously, so allow it a moment)."""
    yield
    # Twice empty in a row: when it runs as root with its own users and without the seccomp
    # filter, the host reaping a learner process forks a short-lived helper (to kill whatever
    # else that user runs), which a single look can catch in passing.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not learner_processes():
            time.sleep(0.1)
            if not learner_processes():
                break
        time.sleep(0.05)
    assert learner_processes() == []


# --- 1. loops forever ------------------------------------------------------------------------------

def test_an_endless_loop_at_import_costs_only_its_statement(grader, write, correct_source):
    """Slow: waits out the 3 s load timeout once."""
    loop = "while True:\n    pass\n"
    source = correct_source.replace("def softmax(a):", loop + "\n\ndef softmax(a):")
    report = grade(grader, write, source)
    assert problem_ids(report) == ["load.timeout"]
    assert report.problems[0].where.line == first_line_of(source, loop)
    # softmax and simpleNet are defined after the loop, and still count.
    assert report.score == 100


def test_endless_loops_at_import_share_one_time_budget(host, manager, write, correct_source):
    """A file of many endless loops must not take each one's time limit in turn: once the code
    has had its total, what is left is not run, and said so once. Slow: ~2.5 s."""
    from grader.runner import Grader, Options
    from grader.sandbox.client import Settings

    function_1 = "def function_1(x):\n    return 0.01 * x**2 + 0.1 * x\n"
    assert function_1 in correct_source
    source = correct_source.replace(function_1, "") + "\n" + "while True:\n    pass\n" * 5 + function_1
    settings = Settings(check_timeout=3.0, load_timeout=1.0, load_budget=2.5)
    started = time.monotonic()
    with Grader(manager, Options(seed=1, settings=settings), host) as grader:
        report = grade(grader, write, source)
    assert time.monotonic() - started < 8
    assert problem_ids(report) == ["load.timeout"] * 2 + ["load.budget"]  # the third loop is cut
    assert report.problems[-1].message.params["count"] == 3  # the last two loops and ``def function_1``
    # The definitions before the loops ran; function_1, after them, is said not to have been reached.
    missed = {r.check.function for r in report.results if not r.passed}
    assert missed == {"function_1"} and report.score == 96
    cut = report.problems[-1].where.line
    assert {(r.message.id, r.message.params["line"]) for r in report.results if not r.passed} == {("outcome.missing_not_reached", cut)}


def test_filling_the_disk_is_stopped_and_costs_only_its_statement(grader, write, correct_source, monkeypatch):
    """Each file is capped by RLIMIT_FSIZE, not their number: a loop writing file after file is
    stopped once the scratch folder passes its cap, and only that statement is lost."""
    from grader.sandbox import client

    monkeypatch.setattr(client, "SCRATCH_MAX_BYTES", 20 * MB)
    loop = "number = 0\nwhile True:\n    number += 1\n    with open(f'fill{number}.bin', 'wb') as f:\n        f.write(b'x' * 2**20)\n"
    source = at_top(correct_source, loop)
    started = time.monotonic()
    report = grade(grader, write, source)
    assert time.monotonic() - started < 10
    assert problem_ids(report) == ["load.disk"]
    assert report.problems[0].where.line == first_line_of(source, "while True:")
    assert report.score == 100


def test_a_crash_in_a_check_after_a_slow_load_does_not_cost_the_other_checks(host, manager, write, correct_source):
    """A fresh process started after a check crashes runs the code again with the whole time
    budget: a load that took most of it must not leave the later checks without definitions."""
    from grader.runner import Grader, Options
    from grader.sandbox.client import Settings

    source = "import time\ntime.sleep(0.9)\ntime.sleep(0.9)\n" + inject(correct_source, "function_tmp2", "import os; os._exit(1)")
    settings = Settings(check_timeout=3.0, load_timeout=1.0, load_budget=2.5)
    with Grader(manager, Options(seed=1, settings=settings), host) as grader:
        report = grade(grader, write, source)
    assert_only_tmp2_lost(report)
    assert report.problems == ()


def test_loading_again_after_crashes_has_a_time_budget_of_its_own(host, manager, write, correct_source, monkeypatch):
    """A slow file whose checks keep ending its process would hold its slot for MAX_STARTS whole
    loads: once reloading has taken RELOAD_BUDGETS load budgets in all, the remaining checks are
    given up. (One budget here: ~1 s of reloads, so a few checks crash and the rest are given up.)"""
    from grader.runner import Grader, Options
    from grader.sandbox import session
    from grader.sandbox.client import Settings

    monkeypatch.setattr(session, "RELOAD_BUDGETS", 1)
    source = "import time\ntime.sleep(0.4)\n" + inject(correct_source, "numerical_gradient", "import os; os._exit(1)")
    settings = Settings(check_timeout=3.0, load_timeout=1.0, load_budget=1.0)
    started = time.monotonic()
    with Grader(manager, Options(seed=1, settings=settings), host) as grader:
        report = grade(grader, write, source)
    assert time.monotonic() - started < 6
    statuses = {r.check.id: r.message.id for r in report.results if r.message is not None}
    crashed = [check for check, message in statuses.items() if message == "outcome.crash_exit"]
    given_up = [check for check, message in statuses.items() if message == "outcome.exhausted"]
    assert 2 <= len(crashed) <= 4 and given_up, statuses
    assert result_of(report, "losses.mean_squared_error.notes_example").status is Status.PASSED  # before any crash


def test_an_endless_loop_in_one_function_times_out_only_its_checks(grader, write, correct_source):
    """Slow: waits out the 3 s check timeout once."""
    report = grade(grader, write, inject(correct_source, "function_tmp2", "while True:\n    pass"))
    assert_only_tmp2_lost(report, Status.TIMEOUT)
    assert report.problems == ()


def test_a_hang_that_swallows_the_timeout_is_killed_within_its_limits(grader, write, correct_source):
    """Slow: ~18 s today (should be ~8 s: two attempts of load_timeout + grace)."""
    stubborn = "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass\n"
    source = correct_source.replace("def softmax(a):", stubborn + "\n\ndef softmax(a):")
    started = time.monotonic()
    report = grade(grader, write, source)
    elapsed = time.monotonic() - started
    assert problem_ids(report) == ["load.timeout"] and report.score == 100
    assert elapsed < 2 * (3.0 + 1.0) + 2.0, f"took {elapsed:.1f} s"


#: One top-level statement that writes replies of its own onto the learner process's channel
#: (found among its descriptors) every ``PAUSE`` seconds, swallowing every timeout, for a minute.
FORGE_REPLIES = """
if True:
    import json, os, stat, time
    def channel():
        return next(fd for fd in range(3, 256) if _is_socket(fd))
    def _is_socket(fd):
        try:
            return stat.S_ISSOCK(os.fstat(fd).st_mode)
        except OSError:
            return False
    started, sent = time.monotonic(), 0
    while time.monotonic() - started < 60:
        try:
            while time.monotonic() - started < 60:
                body = json.dumps({"type": "replies", "items": [ITEM]}).encode()
                os.write(channel(), len(body).to_bytes(4, "big") + body)
                sent += 1
                time.sleep(PAUSE)
        except BaseException:
            pass
"""


def test_forged_out_of_time_notices_do_not_hold_off_the_time_limit(grader, write, correct_source):
    """Each "expired" notice gave the process another grace period: one a second kept a batch's
    slot for as long as the code liked. A notice only ever brings the deadline nearer."""
    forge = FORGE_REPLIES.replace("ITEM", '{"kind": "expired", "at": "units", "index": 0}').replace("PAUSE", "0.3")
    started = time.monotonic()
    report = grade(grader, write, forge + correct_source)
    assert time.monotonic() - started < 15
    assert problem_ids(report) == ["load.timeout"] and report.problems[0].where.line == 2
    assert report.score == 100


def test_forged_unit_replies_do_not_hold_off_the_files_time_budget(host, manager, write, correct_source):
    """Replies for statements not yet run moved each one's deadline on: a file of many
    statements could hold its slot for minutes. The file's whole budget holds in the grader too,
    for each process, and reloading has its own (``RELOAD_BUDGETS``). Slow: ~9 s."""
    from grader.runner import Grader, Options
    from grader.sandbox import session
    from grader.sandbox.client import Settings

    forge = FORGE_REPLIES.replace("ITEM", '{"kind": "units", "index": sent, "error": None}').replace("PAUSE", "0.4")
    settings = Settings(check_timeout=3.0, load_timeout=1.0, load_budget=1.0)
    started = time.monotonic()
    with Grader(manager, Options(seed=1, settings=settings), host) as grader:
        report = grade(grader, write, forge + correct_source + "x = 1\n" * 200)
    elapsed = time.monotonic() - started
    bound = (1 + session.RELOAD_BUDGETS) * (1.0 + session.GRACE_SECONDS + session.STARTUP_SECONDS) + 5
    assert elapsed < bound, f"took {elapsed:.1f} s"
    assert "load.budget" in problem_ids(report)


# --- 2. allocates without bound -------------------------------------------------------------------

HOG = "hoard = []\nwhile True:\n    hoard.append(bytearray(10**7))\n"


def test_unbounded_allocation_costs_only_its_part_and_not_the_graders_memory(grader, write, correct_source):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

    top = at_top(correct_source, HOG)
    report = grade(grader, write, top)
    assert report.score == 100
    (problem,) = report.problems
    start = first_line_of(top, "while True:")
    assert start <= problem.where.line <= start + 1  # the loop, or the line inside it that failed
    assert problem.message.id in ("load.exception", "load.exception_bare", "load.timeout", "outcome.crash_signal", "outcome.crash")
    if problem.message.id in ("load.exception", "load.exception_bare"):
        assert problem.message.params["type"] == "MemoryError"

    report = grade(grader, write, inject(correct_source, "function_tmp2", HOG))
    assert lost(report) == {TMP2} and report.score == 98
    assert result_of(report, TMP2).status in (Status.ERROR, Status.TIMEOUT)

    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown < 50 * 1024, f"the grader grew by {grown // 1024} MB"


# --- 3. a gigantic result --------------------------------------------------------------------------

def test_a_gigantic_array_is_an_error_not_a_pass(grader, write, correct_source):
    source = inject(correct_source, "softmax", "return np.zeros(10**8)")
    report = grade(grader, write, source)
    for check_id in SOFTMAX_CHECKS:
        assert result_of(report, check_id).status is Status.ERROR
    assert SOFTMAX_CHECKS <= lost(report) <= SOFTMAX_CHECKS | SOFTMAX_USERS  # everything else passes
    assert report.problems == ()


def test_extended_precision_results_are_judged_like_any_number(grader, write, correct_source):
    """np.longdouble is a number: it used to end the learner's process while its reply was
    encoded, which the report blamed on the learner's code."""
    source = inject(correct_source, "mean_squared_error", "return np.longdouble(0.5 * np.sum((y - t) ** 2))")
    source = inject(source, "function_tmp2", "return np.longdouble(3.0**2.0 + x1 * x1)")
    source = source.replace("    return exp_a / np.sum(exp_a)", "    return (exp_a / np.sum(exp_a)).astype(np.longdouble)")
    report = grade(grader, write, source)
    assert report.score == 100, lost(report)
    assert report.problems == ()


def test_the_largest_legal_result_does_not_balloon_the_graders_memory(tmp_path, correct_source):
    """Measured in a fresh interpreter with tracemalloc (steadier than ru_maxrss, a high-water
    mark shared with every other test). Slow: ~4 s."""
    big = tmp_path / "big.py"
    big.write_text(inject(correct_source, "softmax", "return np.random.rand(2 * 10**6 - 10)"), encoding="utf-8")
    warm = tmp_path / "warm.py"
    warm.write_text(correct_source, encoding="utf-8")
    script = textwrap.dedent(f"""
        import tracemalloc
        from grader.runner import Grader, Options
        from grader.sandbox.client import Settings
        with Grader(options=Options(seed=1, settings=Settings(check_timeout=3.0, load_timeout=3.0))) as grader:
            assert grader.grade({str(warm)!r}).score == 100  # the grader's own imports and caches
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            report = grader.grade({str(big)!r})
            peak = tracemalloc.get_traced_memory()[1]
        print((peak - before) // 2**20, report.score)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=PROJECT_ROOT, env={**os.environ, "GRADE_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    grown_mb, score = done.stdout.split()
    assert float(score) < 100
    assert int(grown_mb) < 50, f"the grader's peak grew by {grown_mb} MB"


# --- 4. unbounded recursion ------------------------------------------------------------------------

#: Recursion through a C function (map) uses the C stack: with the limit lifted it segfaults.
DEEP = """
import sys
sys.setrecursionlimit(10**6)
def dive(n):
    return list(map(dive, [n + 1]))
dive(0)
"""


def test_unbounded_recursion_in_a_function_is_reported(grader, write, correct_source):
    report = grade(grader, write, inject(correct_source, "function_tmp2", DEEP + "return 0.0"))
    assert_only_tmp2_lost(report)
    assert result_of(report, TMP2).status in (Status.ERROR, Status.TIMEOUT)


def test_unbounded_recursion_at_import_is_reported(grader, write, correct_source):
    source = correct_source.replace("def softmax(a):", textwrap.dedent(DEEP).strip() + "\n\n\ndef softmax(a):")
    report = grade(grader, write, source)
    assert report.score == 100
    assert report.problems and all(p.message.id != "load.syntax_error" for p in report.problems)
    assert report.problems[-1].where.line == first_line_of(source, "dive(0)")


# --- 5. prints megabytes ---------------------------------------------------------------------------

def test_megabytes_of_output_are_capped_and_counted(grader, write, correct_source):
    flood = "import sys\nsys.stdout.write('x' * (50 * 1024 * 1024))\nsys.stderr.write('e' * (2 * 1024 * 1024))\n"
    report = grade(grader, write, at_top(correct_source, flood))
    assert report.score == 100 and report.problems == ()
    output = report.output
    assert len(output.stdout.encode("utf-8")) <= 64 * 1024
    assert len(output.stderr.encode("utf-8")) <= 64 * 1024
    assert output.dropped_stdout >= 50 * MB - 64 * 1024
    assert output.dropped_stderr >= 2 * MB - 64 * 1024


# --- 6. crashes its own process --------------------------------------------------------------------

CRASHES = {
    "segfault-ctypes": "import ctypes\nctypes.string_at(0)",
    "segfault-faulthandler": "import faulthandler\nfaulthandler._sigsegv()",
    "os._exit": "import os\nos._exit(3)",
    "sys.exit": "import sys\nsys.exit(0)",
    "SystemExit": "raise SystemExit",
    "KeyboardInterrupt": "raise KeyboardInterrupt",
    "SIGINT-to-itself": "import os, signal\nos.kill(os.getpid(), signal.SIGINT)",
}


@pytest.mark.parametrize("crash", CRASHES.values(), ids=CRASHES.keys())
def test_a_crash_inside_a_function_costs_only_its_checks(grader, write, correct_source, crash):
    report = grade(grader, write, inject(correct_source, "function_tmp2", crash + "\nreturn 3.0**2.0 + x1 * x1"))
    assert_only_tmp2_lost(report, Status.ERROR)
    assert report.problems == ()


@pytest.mark.parametrize("crash", CRASHES.values(), ids=CRASHES.keys())
def test_a_crash_at_import_costs_only_its_statement(grader, write, correct_source, crash):
    source = correct_source.replace("def softmax(a):", crash + "\n\n\ndef softmax(a):")
    report = grade(grader, write, source)
    assert report.score == 100
    assert report.problems, "the crash is reported"
    assert report.problems[-1].where.line >= first_line_of(source, crash.splitlines()[0])


def test_a_timeout_then_a_crash_are_each_blamed_on_their_own_check(grader, write, correct_source):
    """Slow: waits out the 3 s check timeout once. A timed-out check's late notice must not
    be taken for a later check's outcome, nor a later crash for the timed-out check's."""
    source = inject(correct_source, "function_tmp2", "while True:\n    pass")
    source = inject(source, "gradient_descent", "import os\nos._exit(5)")
    report = grade(grader, write, source)
    descent = {r.check.id for r in report.results if r.check.id.startswith("descent.")}
    assert lost(report) == {TMP2} | descent
    assert result_of(report, TMP2).status is Status.TIMEOUT
    for check_id in descent:
        result = result_of(report, check_id)
        assert result.status is Status.ERROR and result.message.params.get("code") == 5, result.message


def test_a_file_that_keeps_ending_its_process_ends_in_a_report(grader, write, correct_source):
    """Each of 45 statements ends the process, and each restart runs the rest of the file: the
    restarts are capped, and the report says so rather than restarting for ever."""
    report = grade(grader, write, at_top(correct_source, "import os\n" + "os._exit(3)\n" * 45))
    ids = problem_ids(report)
    assert ids[0] == "load.exhausted" and 30 <= ids.count("load.crash_exit") < 45, ids
    assert report.score == 0
    assert {r.message.id for r in report.results} == {"outcome.exhausted"}


def test_output_is_shown_once_though_the_file_ran_again(grader, write, correct_source):
    """After a crash the file runs again in a fresh process; its prints are not repeated."""
    printed = at_top(correct_source, "print('loaded once')")
    calm = grade(grader, write, printed, "calm.py")
    crashing = grade(grader, write, inject(printed, "function_tmp2", "import os\nos._exit(1)"), "crashing.py")
    assert crashing.output.stdout == calm.output.stdout
    assert crashing.output.stdout.count("loaded once") == 1


# --- 7. starts processes ---------------------------------------------------------------------------

STARTERS = {
    "os.fork": "import os\nif os.fork() == 0:\n    os.execvp('sleep', ['sleep', 'MARK'])",
    "subprocess.run": "import subprocess\nsubprocess.run(['sleep', 'MARK'])",
    "subprocess.Popen": "import subprocess\nsubprocess.Popen(['sleep', 'MARK'], start_new_session=True)",
    "os.system": "import os\nos.system('sleep MARK &')",
    "os.popen": "import os\nos.popen('sleep MARK &')",
    "os.posix_spawnp": "import os\nos.posix_spawnp('sleep', ['sleep', 'MARK'], {})",
    "multiprocessing": (
        "import multiprocessing, os\n"
        "multiprocessing.Process(target=os.execvp, args=('sleep', ['sleep', 'MARK'])).start()"
    ),
}


@pytest.mark.parametrize("where", ["function", "top"])
@pytest.mark.parametrize("starter", STARTERS.values(), ids=STARTERS.keys())
def test_starting_a_process_is_refused_and_nothing_survives(grader, write, correct_source, starter, where):
    mark = marker()
    code = starter.replace("MARK", mark)
    try:
        if where == "function":
            report = grade(grader, write, inject(correct_source, "function_tmp2", code + "\nreturn 3.0**2.0 + x1 * x1"))
            assert_only_tmp2_lost(report, Status.ERROR)
            message = result_of(report, TMP2).message
        else:
            report = grade(grader, write, at_top(correct_source, code))
            assert report.score == 100
            message = report.problems[0].message
        assert message.id in ("refused.process", "refused.fd"), message
        assert processes_with(mark) == []
    finally:
        kill_survivors(mark)


FORK_EXEC = """
import _posixsubprocess, os, sys
errors_read, errors_write = os.pipe()
head = ([b"/bin/sh", b"-c", b"touch PROOF; exec sleep MARK"], [b"/bin/sh"], True, (), None, None,
        -1, -1, -1, -1, -1, -1, errors_read, errors_write, True, True)
if sys.version_info >= (3, 11):  # (which added a process group and allow_vfork)
    pid = _posixsubprocess.fork_exec(*head, -1, None, None, None, -1, None, False)
else:
    pid = _posixsubprocess.fork_exec(*head, None, None, None, -1, None)
os.close(errors_write)
os.read(errors_read, 100)  # the exec has happened
import time
for _ in range(100):  # until the shell has left its proof
    if os.path.exists("PROOF"):
        break
    time.sleep(0.01)
"""


def test_starting_a_process_through_posixsubprocess_is_refused(grader, write, correct_source, tmp_path):
    mark = marker()
    proof = tmp_path / "started"
    code = FORK_EXEC.replace("MARK", mark).replace("PROOF", str(proof))
    try:
        report = grade(grader, write, at_top(correct_source, code))
        alive = processes_with(mark)
        assert report.score == 100
        # refused by the kernel's system-call filter: this module raises no audit event
        assert [p.message.id for p in report.problems] == ["refused.system"]
        assert not proof.exists(), "a shell started by the submission wrote outside its scratch folder"
        assert alive == [], "a process started by the submission outlived grade()"
    finally:
        kill_survivors(mark)


# --- 8. signals the grader -------------------------------------------------------------------------

#: Each first sends signal 0 (which harms nothing) and goes on only if that is refused: if the
#: guard were ever broken, the test fails instead of killing init or the host.
SIGNALS = {
    "kill-parent": "os.kill(os.getppid(), 0)", "kill-init": "os.kill(1, 0)", "killpg-own": "os.killpg(0, 0)",
}
SIGNAL_FOR_REAL = {
    "kill-parent": "os.kill(os.getppid(), 9)", "kill-init": "os.kill(1, 9)", "killpg-own": "os.killpg(0, 9)",
}


@pytest.mark.parametrize("case", SIGNALS.keys())
def test_signalling_other_processes_is_refused_and_the_grader_survives(grader, write, correct_source, case):
    body = f"""
    import os
    try:
        {SIGNALS[case]}
    except PermissionError as refused:
        if "[grade:signal]" not in str(refused):
            raise
    else:
        return -1.0  # not refused: stop here, the test fails
    {SIGNAL_FOR_REAL[case]}
    return 3.0**2.0 + x1 * x1
    """
    hosts_before = sandbox_hosts()
    report = grade(grader, write, inject(correct_source, "function_tmp2", body))
    assert_only_tmp2_lost(report, Status.ERROR)
    assert result_of(report, TMP2).message.id == "refused.signal"
    assert sandbox_hosts() == hosts_before  # the host was not killed (nor restarted)


def test_signalling_through_a_pidfd_is_refused(grader, write, correct_source):
    victim = subprocess.Popen(["sleep", "60"])
    try:
        body = f"""
        import os, signal
        signal.pidfd_send_signal(os.pidfd_open({victim.pid}), signal.SIGKILL)
        return 3.0**2.0 + x1 * x1
        """
        report = grade(grader, write, inject(correct_source, "function_tmp2", body))
        time.sleep(0.1)
        assert victim.poll() is None, "the submission killed a process outside the sandbox"
        assert_only_tmp2_lost(report, Status.ERROR)
        assert result_of(report, TMP2).message.id == "refused.system"  # the kernel's filter
    finally:
        victim.kill()
        victim.wait()


@pytest.fixture
def own_grader(manager):
    """A grader with a host of its own, for a test that kills its host: (grader, host pid)."""
    from grader.runner import Grader, Options
    from grader.sandbox.client import Settings
    from grader.sandbox.control import Host

    others = set(sandbox_hosts())
    with Host() as host:
        deadline = time.monotonic() + 10
        while not set(sandbox_hosts()) - others and time.monotonic() < deadline:
            time.sleep(0.01)  # until the new interpreter shows its command line
        (pid,) = set(sandbox_hosts()) - others
        with Grader(manager, Options(seed=20261127, settings=Settings(check_timeout=3.0, load_timeout=3.0)), host) as own:
            yield own, pid


def test_killing_the_host_through_a_pidfd_is_refused(own_grader, write, correct_source):
    """Slow: ~5 s (a host of its own, so the shared one is not disturbed)."""
    grader, host_pid = own_grader
    code = f"""
    import os, signal
    parent = os.getppid()
    if parent == {host_pid}:  # only ever the sandbox host this test started
        signal.pidfd_send_signal(os.pidfd_open(parent), signal.SIGKILL)
    """
    report = grade(grader, write, at_top(correct_source, code))
    assert _state(host_pid) not in (None, "Z"), "the submission killed its sandbox host"
    assert report.score == 100, f"score {report.score}; lost {sorted(lost(report))}"
    assert problem_ids(report) == ["refused.system"]  # the kernel's filter


#: Asks the kernel to send SIGKILL (F_SETSIG) to the host (F_SETOWN) when a pipe has input
#: (O_ASYNC); signal 0 first, as above, is not possible here, so it only ever aims at the host
#: of a grader of its own.
SIGNAL_DRIVEN_IO = """
import fcntl, os, signal
parent = os.getppid()
if parent == HOST:
    readable, writable = os.pipe()
    fcntl.fcntl(readable, fcntl.F_SETOWN, parent)
    fcntl.fcntl(readable, 10, signal.SIGKILL)  # F_SETSIG
    fcntl.fcntl(readable, fcntl.F_SETFL, fcntl.fcntl(readable, fcntl.F_GETFL) | os.O_ASYNC)
    os.write(writable, b"x")
"""


def test_signal_driven_io_aimed_at_the_host_is_refused(own_grader, write, correct_source):
    grader, host_pid = own_grader
    report = grade(grader, write, at_top(correct_source, SIGNAL_DRIVEN_IO.replace("HOST", str(host_pid))))
    time.sleep(0.1)
    assert _state(host_pid) not in (None, "Z"), "the submission killed its sandbox host"
    assert report.score == 100
    assert problem_ids(report) == ["refused.signal"]
    assert grade(grader, write, correct_source, "next.py").score == 100


def test_device_control_is_refused(grader, write, correct_source):
    report = grade(grader, write, at_top(correct_source, "import fcntl, termios\nfcntl.ioctl(0, termios.TIOCSTI, b'x')"))
    assert report.score == 100 and problem_ids(report) == ["refused.device"]


# --- 9. borrows the grader's answers ---------------------------------------------------------------

RAISE_ON_ERROR = "def raise_(error):\n    raise error\n"
BORROWERS = {
    "import reference": ("import reference\nreturn reference.function_tmp2(x1)", "refused.import"),
    "from exercises import mistakes": ("from exercises import mistakes\nreturn mistakes.softmax(x1)", "refused.import"),
    "import grader": ("import grader.probing\nreturn grader.probing.value(3.0**2.0 + x1 * x1)", "refused.import"),
    "open the reference": (
        f"namespace = {{}}\nexec(open({REFERENCE_FILE!r}).read(), namespace)\nreturn namespace['function_tmp2'](x1)",
        "refused.read"),
    "list the project": (f"import os\nos.listdir({PROJECT_ROOT!r})\nreturn 0.0", "refused.read"),
    "walk the disk": (
        RAISE_ON_ERROR
        + "import os\nfor folder, subfolders, files in os.walk('/', onerror=raise_):\n"
        + "    if folder.endswith('reference') and 'derivatives.py' in files:\n"
        + "        namespace = {}\n        exec(open(os.path.join(folder, 'derivatives.py')).read(), namespace)\n"
        + "        return namespace['function_tmp2'](x1)\nreturn 0.0",
        "refused.read"),
}


@pytest.mark.parametrize("case", BORROWERS.keys())
def test_borrowing_the_graders_answers_in_a_function_is_refused_and_explained(grader, write, correct_source, case):
    code, message_id = BORROWERS[case]
    report = grade(grader, write, inject(correct_source, "function_tmp2", code))
    assert_only_tmp2_lost(report, Status.ERROR)
    message = result_of(report, TMP2).message
    assert message.id == message_id, message
    assert message.params.get("detail")


@pytest.mark.parametrize("case", BORROWERS.keys())
def test_borrowing_the_graders_answers_at_import_is_refused_and_explained(grader, write, correct_source, case):
    code, message_id = BORROWERS[case]
    # The same code run at import time: its refusal is a load problem of that statement.
    code = "def steal(x1):\n" + textwrap.indent(code, "    ") + "\n\n\nborrowed = steal(2.0)\n"
    source = at_top(correct_source, code)
    report = grade(grader, write, source)
    (problem,) = report.problems
    assert problem.message.id == message_id, problem.message
    assert problem.message.params.get("detail")
    assert problem.where.line == first_line_of(source, "borrowed = steal(2.0)")
    assert report.score == 100


#: Finds the guard's audit hook among the learner process's objects and empties its table of
#: handlers: every check but the network and ctypes prefixes is gone.
DISARM = """
import gc
for candidate in gc.get_objects():
    if type(candidate).__name__ == "function" and candidate.__name__ == "audit" \\
            and candidate.__code__.co_filename.endswith("guard.py"):
        for cell in candidate.__closure__ or ():
            handlers = getattr(cell.cell_contents, "__self__", None)
            if type(handlers) is dict:
                handlers.clear()
"""


def test_a_submission_cannot_disarm_the_guard_and_import_the_reference(grader, write):
    report = grade(grader, write, DISARM + "\nfrom reference import *\n")
    assert report.score == 0


def test_reading_the_reference_through_a_directory_fd_is_refused(grader, write, correct_source):
    body = f"""
    import os
    scratch = os.open(os.getcwd(), os.O_RDONLY)
    depth = os.getcwd().count("/")
    deeper = os.path.join(os.getcwd(), *(["d"] * depth))
    os.makedirs(deeper, exist_ok=True)
    os.chdir(deeper)
    sneaky = "../" * depth + {REFERENCE_FILE.lstrip("/")!r}
    fd = os.open(sneaky, os.O_RDONLY, dir_fd=scratch)
    namespace = {{}}
    exec(os.read(fd, 1 << 20).decode(), namespace)
    return namespace["function_tmp2"](x1)
    """
    # function_tmp2 itself is wrong: only the borrowed reference could make its check pass.
    source = inject(correct_source.replace(RIGHT_TMP2, WRONG_TMP2), "function_tmp2", body)
    report = grade(grader, write, source)
    assert_only_tmp2_lost(report, Status.ERROR)
    assert result_of(report, TMP2).message.id == "refused.path"  # no folder descriptors at all


#: Replaces the path functions the guard could have relied on, then reads the reference.
PATCHED_PATHS = f"""
import os, posixpath
for name in ("realpath", "abspath", "normpath", "join", "expanduser", "isabs"):
    setattr(posixpath, name, lambda *args, **kwargs: "/tmp/harmless")
os.getcwd = lambda: "/tmp"
print(open({REFERENCE_FILE!r}).read())
"""


def test_patching_the_path_functions_does_not_open_the_reference(grader, write, correct_source):
    report = grade(grader, write, at_top(correct_source, PATCHED_PATHS))
    assert problem_ids(report) == ["refused.read"]
    assert "def function_tmp2" not in report.output.stdout
    assert report.score == 100


def test_pathlib_works_inside_the_scratch_folder(grader, write, correct_source):
    """Python hands the guard a str for open() and os.*, whatever path object the code used."""
    body = """
    import pathlib, shutil
    notes = pathlib.Path("notes")
    notes.mkdir(exist_ok=True)
    (notes / "nine.txt").write_text("9.0")
    shutil.copyfile(notes / "nine.txt", notes / "copy.txt")
    names = sorted(p.name for p in notes.iterdir())
    (notes / "nine.txt").unlink()
    assert names == ["copy.txt", "nine.txt"], names
    return float((notes / "copy.txt").read_text()) + x1 * x1
    """
    assert grade(grader, write, inject(correct_source, "function_tmp2", body)).score == 100


def test_sqlite_which_opens_files_itself_is_refused_and_costs_only_its_check(grader, write, correct_source):
    """SQLite opens what ``ATTACH DATABASE`` names itself, unseen by the audit hook: the module
    is refused (and Landlock, where the kernel has it, would refuse the file)."""
    body = ("import sqlite3\nc = sqlite3.connect(':memory:')\nc.execute(\"ATTACH DATABASE 'x.db' AS e\")\n"
            "return 3.0**2.0 + x1 * x1")
    report = grade(grader, write, inject(correct_source, "function_tmp2", body))
    assert_only_tmp2_lost(report, Status.ERROR)
    message = result_of(report, TMP2).message
    assert message.id == "refused.module" and message.params["detail"] == "_sqlite3"


# --- 10. writes outside its scratch folder ---------------------------------------------------------

WRITERS = {
    "open-w": "open(TARGET, 'w').write('{\"score\": 100}')",
    "open-a": "open(TARGET, 'a').write('pwned')",
    "os.open": "import os\nos.write(os.open(TARGET, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), b'pwned')",
    "pathlib": "import pathlib\npathlib.Path(TARGET).write_text('pwned')",
    "shutil.copyfile": "import shutil\nopen('mine.txt', 'w').write('pwned')\nshutil.copyfile('mine.txt', TARGET)",
    "os.replace": "import os\nopen('mine.txt', 'w').write('pwned')\nos.replace('mine.txt', TARGET)",
    "os.remove": "import os\nos.remove(TARGET)",
    "os.truncate": "import os\nos.truncate(TARGET, 0)",
    "os.chmod": "import os\nos.chmod(TARGET, 0o777)",
    "os.mkdir": "import os\nos.mkdir(TARGET + '.d')",
}


@pytest.fixture
def targets(tmp_path):
    """Files a submission must not touch: the grader's results file and a shell start-up file
    (both under tmp_path, filled), and a fresh name in /tmp (absent)."""
    results = tmp_path / "results" / "report.json"
    results.parent.mkdir()
    results.write_text('{"score": 12}')
    home = tmp_path / "home" / ".bashrc"
    home.parent.mkdir()
    home.write_text("# the grader's shell\n")
    fresh = Path(f"/tmp/grade-hostile-{uuid.uuid4().hex}")
    found = {"results": results, "home": home, "tmp": fresh}
    yield found
    for leftover in (fresh, Path(str(fresh) + ".d")):
        if leftover.is_dir():
            leftover.rmdir()
        elif leftover.exists():
            leftover.unlink()


def snapshot(path: Path):
    if not path.exists():
        return None
    stat = path.stat()
    return path.read_bytes(), stat.st_mode, stat.st_size


@pytest.mark.parametrize("target", ["results", "home", "tmp"])
@pytest.mark.parametrize("writer", WRITERS.values(), ids=WRITERS.keys())
def test_writing_outside_the_scratch_folder_is_refused(grader, write, correct_source, targets, writer, target):
    path = targets[target]
    before = snapshot(path)
    code = writer.replace("TARGET", repr(str(path)))
    report = grade(grader, write, at_top(correct_source, code))
    assert report.score == 100
    assert problem_ids(report) == ["refused.write"], problem_ids(report)
    assert snapshot(path) == before
    assert not Path(str(path) + ".d").exists()


def test_writing_inside_its_own_folder_is_allowed(grader, write, correct_source):
    body = """
    import os
    os.makedirs("notes/deeper", exist_ok=True)
    with open("notes/deeper/nine.txt", "w") as notes:
        notes.write("9.0")
    with open(os.path.expanduser("~/square.txt"), "w") as notes:  # HOME is the scratch folder
        notes.write("1")
    os.replace("notes/deeper/nine.txt", "nine.txt")
    with open("nine.txt") as notes, open(os.path.expanduser("~/square.txt")) as power:
        return float(notes.read()) + x1 ** (2 * int(power.read()))
    """
    report = grade(grader, write, inject(correct_source, "function_tmp2", body))
    assert report.score == 100 and report.problems == ()


#: Ways to write outside the scratch folder that the guard does not see (TARGET is a fresh path).
UNSEEN_WRITERS = {
    "directory-fd": """
        import os
        scratch = os.open(os.getcwd(), os.O_RDONLY)
        depth = os.getcwd().count("/")
        deeper = os.path.join(os.getcwd(), *(["d"] * depth))
        os.makedirs(deeper)
        os.chdir(deeper)
        sneaky = "../" * depth + TARGET.lstrip("/")
        os.write(os.open(sneaky, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=scratch), b"pwned")
    """,
    "os.mknod": "import os\nos.mknod(TARGET)",
    "os.mkfifo": "import os\nos.mkfifo(TARGET)",
    "sqlite3": "import sqlite3\nsqlite3.connect(TARGET).execute('create table pwned (x)')",
}


@pytest.mark.parametrize("writer", UNSEEN_WRITERS.values(), ids=UNSEEN_WRITERS.keys())
def test_writing_outside_the_scratch_folder_by_other_means_is_refused(grader, write, correct_source, tmp_path, writer):
    path = tmp_path / "outside" / "planted"
    path.parent.mkdir()
    code = textwrap.dedent(writer).replace("TARGET", repr(str(path)))
    report = grade(grader, write, at_top(correct_source, code))
    assert report.score == 100
    assert not path.exists(), "the submission created a file outside its scratch folder"
    assert [p.message.id for p in report.problems] and report.problems[0].message.id.startswith("refused.")


def test_changing_attributes_outside_the_scratch_folder_is_refused(grader, write, correct_source, targets):
    path = targets["results"]
    report = grade(grader, write, at_top(correct_source, f"import os\nos.setxattr({str(path)!r}, 'user.score', b'100')"))
    assert report.score == 100
    with pytest.raises(OSError):
        os.getxattr(path, "user.score")
    assert problem_ids(report) == ["refused.write"]


# --- 11. fakes a report ----------------------------------------------------------------------------

FAKE_REPORT = """
import json, os, time
fake = {"submission": "me", "score": 100, "max_score": 100, "type": "replies", "items": [],
        "results": [{"check": "derivatives.function_tmp2.values", "status": "passed"}]}
text = json.dumps(fake)
print(text)


def write_everywhere():
    # Every earlier reply has reached the grader by now: this test is about what is written,
    # not about the FrameReader bug (see test_garbage_on_the_channel_... below).
    time.sleep(1.0)
    for fd in range(3, 21):
        for data in (text.encode(), len(text).to_bytes(4, "big") + text.encode()):
            try:
                os.write(fd, data)
            except OSError:
                pass


write_everywhere()
"""


def test_a_printed_or_injected_report_is_ignored(grader, write, correct_source):
    """Slow: ~2 s (the pause, in two attempts)."""
    source = at_top(inject(correct_source, "function_tmp2", WRONG_TMP2), FAKE_REPORT)
    report = grade(grader, write, source)
    assert '"score": 100' in report.output.stdout  # printed, captured, and nothing more
    assert_only_tmp2_lost(report, Status.FAILED)
    # the statement that wrote into the grader's channel is the one blamed
    assert [p.where.line for p in report.problems] == [first_line_of(source, "write_everywhere()\n")]


#: Run at import: wraps the learner process's channel so that the result of function_tmp1's check
#: (a correct function) is held back instead of sent.
HOLD_BACK = """
import sys


def find(test):
    frame = sys._getframe(1)
    while frame is not None and not test(frame.f_locals):
        frame = frame.f_back
    return frame.f_locals if frame is not None else None


def running_check(names):
    request = names.get("request")
    return type(request) is dict and request.get("type") == "check"


channel = find(lambda names: hasattr(names.get("self"), "channel"))["self"].channel
held = []
send = channel.send


def holding_send(message):
    check = find(running_check)
    if check is not None and str(check["request"].get("probe", "")).endswith("function_tmp1"):
        held.append(message)
    else:
        send(message)


channel.send = holding_send
"""
#: In function_tmp2: the held-back result, intact, then garbage, in one write.
SEND_HELD_THEN_GARBAGE = """
import json, os
frames = b"".join(len(body).to_bytes(4, "big") + body for body in (json.dumps(m).encode() for m in held))
os.write(channel.fd, frames + b'{"score": 100}')
return x1 * 2.0
"""


def test_garbage_on_the_channel_costs_only_the_function_that_wrote_it(grader, write, correct_source):
    source = at_top(inject(correct_source, "function_tmp2", SEND_HELD_THEN_GARBAGE), HOLD_BACK)
    report = grade(grader, write, source)
    assert lost(report) == {TMP2}, sorted(lost(report))
    assert report.score == 98


#: Forges a result frame for the check that is running, straight onto the channel (os.write is
#: not audited; the channel and the request are found on the stack), and lets the real result
#: follow.
FORGE = """
import json, os, sys
frame = sys._getframe()
def running_check(frame):
    request = frame.f_locals.get("request")
    return type(request) is dict and request.get("type") == "check" and hasattr(frame.f_locals.get("self"), "channel")
while frame is not None and not running_check(frame):
    frame = frame.f_back
if frame is not None and not globals().get("forged"):
    globals()["forged"] = True
    worker, request = frame.f_locals["self"], frame.f_locals["request"]
    worker.channel.flush()
    outcome = {"kind": "value", "value": VALUE}
    body = json.dumps({"type": "replies", "items": [{"kind": "results", "seq": request.get("seq"), "outcome": outcome}]})
    os.write(worker.channel.fd, len(body.encode()).to_bytes(4, "big") + body.encode())
"""
FORGED = {
    # the dtype pattern's `$` also matches before a trailing newline; np.dtype then raises TypeError
    "dtype-with-newline": ("function_tmp2", '{"$nd": ["f8\\n", [1], "AAAAAAAAAAA="]}'),
    # an empty array whose other dimensions overflow: reshape raises ValueError
    "empty-but-huge-shape": ("function_tmp2", '{"$nd": ["f8", [0, 16777216, 16777216, 16777216, 16777216], ""]}'),
    # a plain value a verify function does not expect: it raises TypeError in the grader
    "verify-gets-a-number": ("__init__", "5"),
}
#: Outcomes of a kind no outcome has: a list or a dict is not even hashable.
FORGED_KINDS = {"list": "[1]", "dict": '{"a": 1}', "unknown": '"passed"'}


@pytest.mark.parametrize("case", FORGED.keys())
def test_a_forged_result_frame_does_not_crash_the_grader(grader, write, correct_source, case):
    function, value = FORGED[case]
    report = grade(grader, write, inject(correct_source, function, FORGE.replace("VALUE", value)))
    assert isinstance(report, Report)


@pytest.mark.parametrize("case", FORGED_KINDS.keys())
def test_a_forged_outcome_of_no_known_kind_costs_only_its_check(grader, write, correct_source, case):
    """An unhashable kind was a grader crash ("internal error", exit 3), not the learner's own loss."""
    forge = FORGE.replace('{"kind": "value", "value": VALUE}', '{"kind": %s}' % FORGED_KINDS[case])
    report = grade(grader, write, inject(correct_source, "function_tmp2", forge))
    assert lost(report) == {TMP2}
    assert report.score == 98


def test_a_forged_frame_of_lone_surrogates_still_gives_a_report_that_can_be_written(grader, write, correct_source):
    """JSON reads "\\ud800" into a str no UTF-8 file can hold; such a frame cost the whole
    submission its report (and a batch its exit code). Now only its own check."""
    forged = ('outcome = {"kind": "exception", "type": "E\\ud800", "message": "m\\udcff", "frames": [], '
              '"refused": ["soft\\ud800max", "h"]}')
    forge = FORGE.replace('outcome = {"kind": "value", "value": VALUE}', forged)
    assert forge != FORGE
    report = grade(grader, write, inject(correct_source, "function_tmp2", forge))
    assert lost(report) == {TMP2}
    lost_check = result_of(report, TMP2)
    assert lost_check.message.params == {"function": "soft?max"}  # (the refusal, as forged, made printable)
    for result in report.results:
        for text in [*(result.message.params.values() if result.message else ()), *result.details.values()]:
            str(text).encode("utf-8")  # (raises UnicodeEncodeError on a lone surrogate)


# --- 12. monkeypatches numpy -----------------------------------------------------------------------

MONKEYPATCH = """
import math
import numpy as np
import numpy.testing
always = lambda *args, **kwargs: True
np.allclose = np.isclose = np.array_equal = np.array_equiv = always
np.testing.assert_allclose = np.testing.assert_array_almost_equal = lambda *args, **kwargs: None
math.isclose = always
try:
    np.ndarray.__eq__ = always
except TypeError:
    pass
"""


@pytest.mark.parametrize("where", ["top", "function"])
def test_monkeypatching_numpy_does_not_make_a_wrong_answer_pass(grader, write, correct_source, where):
    wrong = correct_source.replace("return exp_a / np.sum(exp_a)", "return exp_a")  # not normalised
    assert wrong != correct_source
    source = at_top(wrong, MONKEYPATCH) if where == "top" else inject(wrong, "softmax", MONKEYPATCH)
    report = grade(grader, write, source)
    for check_id in SOFTMAX_CHECKS - {"simplenet.softmax.batch"}:  # batch (2-D) takes the other branch
        assert result_of(report, check_id).status is Status.FAILED
    # simpleNet.loss may be lost too: the grader's softmax underneath it is a replay of recorded
    # answers that matches inputs with the learner process's own (here patched) np.allclose.
    may_lose = SOFTMAX_CHECKS | SOFTMAX_USERS | {"simplenet.simpleNet.loss"}
    assert SOFTMAX_CHECKS - {"simplenet.softmax.batch"} <= lost(report) <= may_lose


# --- 13. returns objects that lie ------------------------------------------------------------------

LIARS = {
    "eq-always-true": "class Yes:\n    def __eq__(self, other): return True\n    def __ne__(self, other): return False\nreturn Yes()",
    "float-subclass": "class Lying(float):\n    def __eq__(self, other): return True\nreturn Lying(3.0**2.0 + x1 * x1)",
    "float-subclass-wrong": "class Lying(float):\n    def __eq__(self, other): return True\nreturn Lying(0.0)",
    "int-subclass": "class Lying(int):\n    pass\nreturn Lying(25)",
    "__array__": (
        "import numpy as np\nclass Lying:\n    def __array__(self, dtype=None, copy=None):\n"
        "        return np.asarray(3.0**2.0 + x1 * x1)\nreturn Lying()"),
    "ndarray-subclass": "import numpy as np\nclass Lying(np.ndarray):\n    pass\nreturn np.asarray([3.0**2.0 + x1 * x1]).view(Lying)",
    "float64-subclass": "import numpy as np\nclass Lying(np.float64):\n    pass\nreturn Lying(3.0**2.0 + x1 * x1)",
    "object-array": "import numpy as np\nreturn np.array([3.0**2.0 + x1 * x1], dtype=object)",
    "structured-array": "import numpy as np\nreturn np.array([(3.0**2.0 + x1 * x1,)], dtype=[('v', 'f8')])",
    "string": "return str(3.0**2.0 + x1 * x1)",
}


@pytest.mark.parametrize("liar", LIARS.values(), ids=LIARS.keys())
def test_objects_that_lie_get_no_points(grader, write, correct_source, liar):
    report = grade(grader, write, inject(correct_source, "function_tmp2", liar))
    assert_only_tmp2_lost(report)
    assert result_of(report, TMP2).status in (Status.ERROR, Status.FAILED)


# --- 14. not code at all ---------------------------------------------------------------------------

NOT_CODE = {
    "empty": ("empty.py", b"", "load.empty"),
    "whitespace": ("blank.py", b"  \n\t\n\n", "load.empty"),
    "nul-bytes": ("binary.py", b"x = 1\n\x00\x01\x02\xff", "load.binary"),
    "invalid-utf8": ("latin1.py", "x = 'café'\n".encode("latin-1"), "load.not_utf8"),
    "elf": ("a.out.py", b"\x7fELF\x02\x01\x01" + bytes(range(256)), None),
    "notebook-not-json": ("notes.ipynb", b"{\"cells\": [", "load.not_json"),
    "notebook-deep-json": ("deep.ipynb", b"[" * 100_000 + b"]" * 100_000, "load.not_json"),
    "notebook-json-list": ("list.ipynb", b"[1, 2, 3]", "load.not_notebook"),
    "notebook-json-not-notebook": ("dict.ipynb", b'{"cells": 5, "metadata": []}', "load.not_notebook"),
    "notebook-empty": ("empty.ipynb", b"", "load.empty"),
    "deeply-nested-source": ("deep.py", b"x = " + b"(" * 10_000 + b")" * 10_000 + b"\n", None),
    "too-large": ("huge.py", b"# padding\n" * 500_000, "load.too_large"),
}


@pytest.mark.parametrize("case", NOT_CODE.keys())
def test_a_file_that_is_not_code_gets_a_clear_error(grader, write, case):
    name, data, message_id = NOT_CODE[case]
    report = grade(grader, write, data, name)
    assert report.score == 0
    assert report.problems, "a clear error"
    if message_id is not None:
        assert message_id in problem_ids(report)


def test_a_notebook_without_code_cells_gets_a_clear_error(grader, write):
    import nbformat

    book = nbformat.v4.new_notebook()
    book.cells.append(nbformat.v4.new_markdown_cell("# only words"))
    report = grade(grader, write, nbformat.writes(book), "words.ipynb")
    assert report.score == 0 and "load.no_code_cells" in problem_ids(report)


def test_a_script_with_windows_line_endings_is_graded_normally(grader, write, correct_source):
    report = grade(grader, write, correct_source.replace("\n", "\r\n").encode("utf-8"))
    assert report.score == 100 and report.problems == ()


def test_a_script_with_old_mac_line_endings_is_graded_or_explained(grader, write, correct_source):
    report = grade(grader, write, correct_source.replace("\n", "\r").encode("utf-8"))
    assert report.score == 100 or report.problems


def test_a_file_named_in_japanese_with_spaces_is_graded_normally(grader, write, correct_source):
    report = grade(grader, write, correct_source, "学生 提出.py")
    assert report.score == 100 and report.problems == ()
    assert report.submission == "学生 提出.py"


# --- one submission does not change another's result ----------------------------------------------

POLLUTER = """
import builtins, os, signal, sys
import numpy as np
np.sum = lambda *args, **kwargs: 0.0
np.exp = np.log = lambda *args, **kwargs: 0.0
np.random.seed = lambda *args, **kwargs: None
builtins.len = lambda *args: 0
signal.signal(signal.SIGALRM, signal.SIG_IGN)
os.environ["OPENBLAS_NUM_THREADS"] = "64"
open("leftover.py", "w").write("def softmax(a):\\n    return a\\n")
sys.setrecursionlimit(60)
"""


def test_a_hostile_submission_does_not_change_the_next_ones_result(grader, write, correct_source):
    hostile = grade(grader, write, at_top(inject(correct_source, "function_tmp2", WRONG_TMP2), POLLUTER), "hostile.py")
    assert TMP2 in lost(hostile)
    assert grade(grader, write, correct_source, "correct.py").score == 100
    # and after an exit at import, a segfault in a check and a disarmed guard, too
    for hostile_source in (
        at_top(correct_source, "import os\nos._exit(1)"),
        inject(correct_source, "function_tmp2", "import faulthandler\nfaulthandler._sigsegv()"),
        at_top(correct_source, DISARM + "\nimport numpy\nnumpy.sum = None\n"),
    ):
        grade(grader, write, hostile_source, "hostile.py")
        assert grade(grader, write, correct_source, "correct.py").score == 100
