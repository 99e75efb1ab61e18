"""Grading whole submissions end to end, through the sandbox."""
from __future__ import annotations

import dataclasses

import nbformat
import pytest
from conftest import EXAMPLES

from grader.messages import collect_messages
from grader.model import Status


def statuses(report):
    return {result.check.id: result.status for result in report.results}


def test_the_bundled_example_gets_full_marks(grader):
    report = grader.grade(EXAMPLES / "student.py")
    failed = {cid: s for cid, s in statuses(report).items() if s is not Status.PASSED}
    assert failed == {}
    assert report.score == report.max_score == 100


def test_the_notes_as_a_notebook_fail_only_where_the_notes_are_wrong_or_silent(grader):
    report = grader.grade(EXAMPLES / "notes.ipynb")
    lost = {r.check.id for r in report.results if not r.passed and not r.check.extra}
    assert lost == {
        "minibatch.get_mini_batch.shapes",
        "minibatch.get_mini_batch.drawn_from_data",
        "minibatch.get_mini_batch.paired",
        "minibatch.get_mini_batch.different_draws",
        "derivatives.function_1.scalars",
        "derivatives.function_1.array",
        "derivatives.function_tmp2.values",
        "gradient.numerical_gradient.n_dimensional",
        "gradient.numerical_gradient.non_contiguous",
        "simplenet.simpleNet.gradient",
    }
    assert report.score == 76


def test_a_near_miss_name_is_suggested(grader, write, correct_source):
    source = correct_source.replace("def function_tmp1(", "def function_temp1(").replace(
        "def numerical_diff(", "def numberical_diff(").replace("numerical_diff(function_tmp1, 3.0)", "0")
    report = grader.grade(write("s.py", source))
    messages = {r.check.function: r.message for r in report.results if r.status is Status.MISSING}
    assert messages["function_tmp1"].params["candidate"] == "function_temp1"
    assert messages["numerical_diff"].params["candidate"] == "numberical_diff"


def test_loading_a_dataset_or_plotting_fails_without_costing_the_definitions(grader, write, correct_source):
    source = (
        "from dataset.mnist import load_mnist\n"
        "(x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)\n"
        "import matplotlib.pyplot as plt\n"
        "plt.plot([1, 2, 3])\n"
        "plt.show()\n"
        + correct_source
    )
    report = grader.grade(write("s.py", source))
    assert report.score == 100
    assert [p.where.line for p in report.problems][:2] == [1, 2]


def test_errors_far_down_a_file_are_reported_at_their_own_lines(grader, write, correct_source):
    """Each statement runs on its own, compiled where it stands in the file: a traceback, and a
    statement that parses but does not compile, name the file's own line numbers."""
    head = correct_source.rstrip("\n") + "\n\n"
    first = head.count("\n") + 1
    source = head + "def broken():\n    values = [1]\n    return values[5]\n\nbroken()\nreturn 5\n"
    report = grader.grade(write("s.py", source))
    assert report.score == 100
    failing_call, top_level_return = report.problems
    assert failing_call.where.line == first + 4
    assert [(f["line"], f["text"]) for f in failing_call.traceback] == [(first + 4, "broken()"), (first + 2, "return values[5]")]
    assert top_level_return.message.id == "load.syntax_error" and top_level_return.where.line == first + 5


@pytest.mark.parametrize("signature, body", [
    ("f, x, step_num, lr", "x = x"),  # the notes' names, in another order: their call passes keywords
    ("f, x, lr, step_num", "x = x"),  # the notes' own definition
    ("func, start, rate, n", "f, x, lr, step_num = func, start, rate, n"),  # other names: by position
    ("f, init_x, *, lr=0.01, step_num=100", "x = init_x"),  # keyword-only
])
def test_gradient_descent_is_called_as_the_notes_call_it(grader, write, correct_source, signature, body):
    learner = f"def gradient_descent({signature}):\n    {body}\n    for i in range(step_num):\n" \
              "        x = x - lr * numerical_gradient(f, x)\n    return x\n"
    start = correct_source.index("def gradient_descent(")
    end = correct_source.index("def softmax(")
    report = grader.grade(write("s.py", correct_source[:start] + learner + "\n\n" + correct_source[end:]))
    assert [r.check.id for r in report.results if not r.passed] == [] and report.score == 100


def test_a_function_whose_definition_has_a_syntax_error_points_there_not_at_its_name(grader, write, correct_source):
    source = correct_source.replace("def numerical_diff(f, x):", "def numerical_diff(f, x)")
    line = source[:source.index("def numerical_diff(")].count("\n") + 1
    report = grader.grade(write("s.py", source))
    messages = {r.message.id: r.message.params for r in report.results if r.check.function == "numerical_diff"}
    assert messages == {"outcome.missing_not_run": {"name": "numerical_diff", "line": line}}
    # (a name the file never defines is still just "not defined")
    other = grader.grade(write("t.py", correct_source.replace("def softmax(", "def soft_max(")))
    assert {r.message.id for r in other.results if not r.passed and r.check.function == "softmax"} == {"outcome.missing_did_you_mean"}


def test_a_notebook_cell_with_a_syntax_error_points_its_functions_there(grader, write, correct_source):
    import nbformat

    head, tail = correct_source.split("def softmax(", 1)
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell(head), nbformat.v4.new_code_cell("x = [1, 2\n\ndef softmax(" + tail),
                  nbformat.v4.new_code_cell("y = undefined_name")]
    report = grader.grade(write("n.ipynb", nbformat.writes(book)))
    softmax = {r.message.id: r.message.params for r in report.results if r.check.function == "softmax"}
    assert softmax == {"outcome.missing_not_run_cell": {"name": "softmax", "cell": 2}}
    # every problem in the notebook's order, whether found reading it or running it
    assert [(p.where.cell, p.message.id) for p in report.problems] == [(2, "load.syntax_error"), (3, "load.exception")]


@pytest.mark.parametrize("ending", ["import os; os._exit(0)", "import os; os.kill(os.getpid(), 9)"])
def test_what_the_file_prints_around_a_statement_that_ends_its_process_is_kept_once(grader, write, correct_source, ending):
    """The rest of the file runs in a fresh process, which runs the statements before again:
    their output appears once, and that of the statements after too, in the file's order."""
    source = f"print('A')\n{ending}\nprint('B')\n" + correct_source + "\nprint('C')\n"
    for _ in range(2):
        report = grader.grade(write("s.py", source))
        assert report.output.stdout.startswith("A\nB\n") and report.output.stdout.endswith("C\n")
        assert report.output.stdout.count("A\n") == 1 and report.score == 100


def test_statements_run_again_after_a_restart_see_the_same_streams_and_print_once(grader, write, correct_source):
    """What a fresh process runs again is the same code with the same sys.stdout (its buffer, its
    encoding): only the grader leaves out what it prints, whichever way it writes."""
    source = ("import sys, os\nsys.stdout.reconfigure(encoding='utf-8')\nsys.stdout.buffer.write('開始\\n'.encode())\n"
              "print('raw', file=sys.__stdout__)\nsys.stdout.flush()\nos.write(1, b'fd\\n')\n"
              + correct_source.replace("def function_1(x):\n", "def function_1(x):\n    import os; os._exit(3)\n"))
    report = grader.grade(write("s.py", source))
    assert report.problems == () and report.score == 96
    assert report.output.stdout.startswith("開始\nraw\nfd\n") and report.output.stdout.count("開始") == 1


def test_a_check_that_ends_the_process_does_not_repeat_what_the_file_printed(grader, write, correct_source):
    source = "print('top')\n" + correct_source.replace("def function_1(x):\n", "def function_1(x):\n    import os; os._exit(3)\n")
    report = grader.grade(write("s.py", source))
    assert report.output.stdout.count("top\n") == 1
    assert any(r.check.function == "function_1" and not r.passed for r in report.results)


def test_an_endless_loop_is_reported_where_it_was_stopped(grader, write, correct_source):
    looping = correct_source.replace("def function_2(x):\n", "def function_2(x):\n    while True:\n        pass\n")
    line = looping.index("        pass\n")
    line = looping[:line].count("\n") + 1
    source = looping + "\nfunction_2(1)\n"
    report = grader.grade(write("s.py", source))
    stopped = [r.message for r in report.results if r.check.function == "function_2"]
    assert stopped and all(m.id == "outcome.timeout_at" and m.params["line"] in (line - 1, line) for m in stopped)
    [problem] = report.problems
    assert problem.message.id == "load.timeout_in" and problem.message.params["name"] == "function_2"
    assert problem.where.line == source.count("\n")


def test_a_function_with_other_parameters_is_told_how_the_grader_calls_it(grader, write, correct_source):
    start, end = correct_source.index("def mean_squared_error("), correct_source.index("def cross_entropy_error(")
    source = correct_source[:start] + "def mean_squared_error(y):\n    return 0.0\n\n\n" + correct_source[end:]
    report = grader.grade(write("s.py", source))
    failed = {r.message.id: r.message.params for r in report.results if not r.passed}
    assert set(failed) == {"outcome.call_failed"} and failed["outcome.call_failed"]["call"] == "mean_squared_error(y, t)"
    # (a TypeError inside the learner's own code is that, at its line)
    inside = correct_source[:start] + "def mean_squared_error(y, t):\n    return len(3)\n\n\n" + correct_source[end:]
    assert {r.message.id for r in grader.grade(write("t.py", inside)).results if not r.passed} == {"outcome.exception_at"}
    # (nor is a probe's own TypeError about what came back)
    one = correct_source.replace("    return x_train[batch_mask], t_train[batch_mask]", "    return x_train[batch_mask]")
    assert "outcome.call_failed" not in {r.message.id for r in grader.grade(write("u.py", one)).results if r.message}


@pytest.mark.parametrize("source, expected", [
    ("for i in range(10**9):\n    step()\n", "load.timeout"),  # a training loop: the advice is for it
    ("train()\n", "load.timeout_in"),  # one call that never returns: where it was
    ("total = sum(i for i in range(10**12))\n", "load.timeout"),  # (a generator is no function of the learner's)
])
def test_a_statement_out_of_time_is_explained_by_what_it_is(grader, source, expected):
    from grader.model import CodeUnit, Location

    frames = [{"file": "s.py", "line": 1, "name": "<module>", "text": source.split("\n")[0]},
              {"file": "s.py", "line": 9, "name": "<genexpr>" if "sum" in source else "step" if "for" in source else "train",
               "text": "x = x"}]
    unit = CodeUnit(source, 1, "s.py", Location(line=1))
    problem = grader._unit_problem(unit, {"kind": "timeout", "frames": frames})
    assert problem.message.id == expected


def test_a_function_that_prints_instead_of_returning_is_told_so(grader, write, correct_source):
    source = correct_source.replace("    return 0.5 * np.sum((y - t) ** 2)", "    print(0.5 * np.sum((y - t) ** 2))")
    assert source != correct_source
    report = grader.grade(write("s.py", source))
    failed = [r for r in report.results if not r.passed]
    assert {r.check.function for r in failed} == {"mean_squared_error"}
    assert {(r.message.id, r.message.params["name"]) for r in failed} == {("outcome.returned_none", "mean_squared_error")}


@pytest.mark.parametrize("source", ["def f(:\n", "def f(:\n    pass\n\nx = = 2\n"])
def test_a_syntax_error_does_not_say_the_rest_ran_when_nothing_did(grader, write, source):
    report = grader.grade(write("s.py", source))
    assert {p.message.id for p in report.problems} == {"load.syntax_error_alone"}
    assert {r.message.id for r in report.results} == {"outcome.not_loaded"} and report.score == 0


def test_sys_exit_and_exceptions_without_a_message_say_what_happened(grader, write, correct_source):
    source = correct_source + ("\nraise ValueError\nimport sys\nsys.exit()\nsys.exit('done')\nsys.exit(3)\nexit(4)\n"
                               "quit()\nraise SystemExit(5)\nraise SystemExit\n")
    report = grader.grade(write("student.py", source))
    assert report.score == 100
    rendered = [(p.where.line, p.message.id, dict(p.message.params)) for p in report.problems]
    raised = source.splitlines().index("raise ValueError") + 1
    assert rendered == [
        (raised, "load.exception_bare", {"type": "ValueError"}),
        (raised + 2, "load.system_exit", {"exit_code": "", "call": "sys.exit()"}),
        (raised + 3, "load.system_exit", {"exit_code": "'done'", "call": "sys.exit('done')"}),
        (raised + 4, "load.system_exit", {"exit_code": "3", "call": "sys.exit(3)"}),
        # exit() and quit() as written, not as sys.exit(): python itself has them
        (raised + 5, "load.system_exit", {"exit_code": "4", "call": "exit(4)"}),
        (raised + 6, "load.system_exit", {"exit_code": "", "call": "quit()"}),
        (raised + 7, "load.system_exit", {"exit_code": "5", "call": "raise SystemExit(5)"}),
        (raised + 8, "load.system_exit", {"exit_code": "", "call": "raise SystemExit"}),
    ]
    text = collect_messages(grader.manager).render(report.problems[4].message, "en")
    assert text.startswith("`exit(4)` here would end the program: the grader ignored it")


def test_in_a_check_too_sys_exit_reads_as_called_and_a_bare_exception_by_its_type(grader, write, correct_source):
    source = correct_source.replace("def function_1(x):", "def function_1(x):\n    raise ValueError", 1)
    source = source.replace("def function_2(x):", "def function_2(x):\n    import sys; sys.exit('3')", 1)
    report = grader.grade(write("student.py", source))
    messages = {r.check.function: r.message for r in report.results if r.message is not None}
    assert messages["function_1"].id == "outcome.exception_bare_at"
    assert messages["function_1"].params["type"] == "ValueError"
    assert messages["function_2"].id == "outcome.system_exit_at"
    assert messages["function_2"].params["exit_code"] == "'3'"  # a str, as written
    assert messages["function_2"].params["call"] == "sys.exit('3')"


def test_a_compiler_warning_names_its_own_line(grader, write, correct_source):
    source = correct_source.rstrip("\n") + "\n\nflag = (1 is 1)\n"
    report = grader.grade(write("warned.py", source))
    line = source.count("\n")
    assert f"warned.py:{line}: SyntaxWarning" in report.output.stderr, report.output.stderr


def test_code_too_large_for_one_message_is_a_report_not_an_internal_error(grader, write, correct_source, monkeypatch):
    from grader import wire

    grader.grade(write("warm.py", correct_source))  # (the check requests are packed once, before)
    monkeypatch.setattr(wire, "MAX_FRAME_BYTES", 60_000)
    report = grader.grade(write("s.py", correct_source + "PADDING = '" + "x" * 100_000 + "'\n"))
    assert [p.message.id for p in report.problems] == ["load.too_large_to_send"]
    assert report.score == 0 and {r.message.id for r in report.results} == {"outcome.not_loaded"}


def test_a_project_folder_imports_its_own_modules_as_at_home(grader, tmp_path, correct_source):
    project = tmp_path / "book"
    (project / "common").mkdir(parents=True)
    (project / "ch04").mkdir()
    (project / "common" / "__init__.py").write_text("", encoding="utf-8")
    (project / "common" / "functions.py").write_text(correct_source, encoding="utf-8")
    (project / "ch04" / "main.py").write_text(
        "import sys, os\nsys.path.append(os.pardir)\nfrom common.functions import *\n", encoding="utf-8")
    report = grader.grade(project, entry="ch04/main.py")
    assert report.problems == () and report.score == 100


def test_a_project_module_in_a_traceback_is_named_by_its_path_in_the_project(grader, tmp_path, correct_source):
    project = tmp_path / "book"
    (project / "common").mkdir(parents=True)
    (project / "common" / "functions.py").write_text("def broken(x):\n    return x.nonexistent\n", encoding="utf-8")
    (project / "main.py").write_text("from common.functions import broken\nbroken(3)\n" + correct_source, encoding="utf-8")
    report = grader.grade(project)
    (problem,) = report.problems
    assert problem.where.line == 2 and problem.message.id == "load.exception"
    assert [(frame["file"], frame["line"]) for frame in problem.traceback] == [("main.py", 2), ("common/functions.py", 2)]


@pytest.mark.parametrize("body", [
    "c = np.min(a)\n    return np.exp(a - c) / np.sum(np.exp(a - c))",  # wrong from the 4th input on
    "if a[0] == 1000:\n        raise ValueError('no')\n    c = np.max(a)\n    return np.exp(a - c) / np.sum(np.exp(a - c))",
    "if a[0] == 1000:\n        return None\n    c = np.max(a)\n    return np.exp(a - c) / np.sum(np.exp(a - c))",
])
def test_a_failure_shows_the_inputs_of_the_call_that_failed(grader, write, correct_source, body):
    """The overflow check calls softmax on four vectors; it fails on the 4th, [1000, 0, -1000],
    whether by a wrong value, by raising or by returning None (the learner's process says how many
    calls it began)."""
    source = correct_source.replace("def softmax(a):", f"def softmax(a):\n    {body}\n\ndef _old_softmax(a):", 1)
    report = grader.grade(write("s.py", source))
    (overflow,) = [r for r in report.results if r.check.id == "simplenet.softmax.overflow"]
    assert not overflow.passed
    assert "1000, 0, -1000" in overflow.details["a"] and "1010" not in overflow.details["a"], overflow.details


def test_a_function_whose_definition_stopped_says_so_rather_than_not_defined(grader, write, correct_source, tmp_path):
    """The learner named it right: the message points at the code that stopped before defining it."""
    source = correct_source.replace("def function_1(x):", "def function_1(x=undefined_default):", 1)
    report = grader.grade(write("s.py", source))
    line = source.splitlines().index("def function_1(x=undefined_default):") + 1
    messages = {(r.message.id, r.message.params.get("line")) for r in report.results if r.check.function == "function_1"}
    assert messages == {("outcome.missing_stopped", line)}
    # A notebook cell that fails before its def: the cell is named.
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(correct_source.replace("def function_1(x):", "import not_a_module_here\n\ndef function_1(x):", 1)),
    ])
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook, path)
    report = grader.grade(path)
    missed = {(r.message.id, r.message.params.get("cell")) for r in report.results if r.check.function == "function_1"}
    assert missed == {("outcome.missing_stopped_cell", 1)}
    # A cell that could not be read at all (an expression nested too deeply to parse): not run.
    rest = correct_source.replace("def function_1(x):\n    return 0.01 * x**2 + 0.1 * x\n", "")
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(rest),
        nbformat.v4.new_code_cell("y = " + "-" * 50000 + "1\ndef function_1(x):\n    return 0.01 * x**2 + 0.1 * x\n"),
    ])
    nbformat.write(notebook, path)
    report = grader.grade(path)
    missed = {(r.message.id, r.message.params.get("cell")) for r in report.results if r.check.function == "function_1"}
    assert missed == {("outcome.missing_not_read_cell", 2)}


def test_parameters_in_another_order_than_the_call_say_how_the_grader_calls_the_function(grader, write, correct_source):
    source = correct_source.replace("def get_mini_batch(x_train, t_train, batch_size):",
                                    "def get_mini_batch(batch_size, x_train, t_train):", 1)
    assert source != correct_source
    report = grader.grade(write("s.py", source))
    failed = [r for r in report.results if r.check.function == "get_mini_batch" and not r.passed]
    assert failed and all([h.id for h in r.hints] == ["call.parameter_order"] for r in failed)
    assert "Your get_mini_batch takes (batch_size, x_train, t_train), but the grader calls it as " \
           "`get_mini_batch(x_train, t_train, batch_size)`" in failed[0].hints[0].text["en"]
    # Found among the learner's functions however many other names it imports.
    starred = "from numpy import *\n" + source
    failed = [r for r in grader.grade(write("star.py", starred)).results if r.check.function == "get_mini_batch" and not r.passed]
    assert failed and all([h.id for h in r.hints] == ["call.parameter_order"] for r in failed)
    # Where a named mistake explains the failure, it is the hint: mean_squared_error is symmetric,
    # so its parameters' order is not why it fails.
    halved = correct_source.replace("def mean_squared_error(y, t):", "def mean_squared_error(t, y):", 1).replace(
        "0.5 * np.sum((y - t) ** 2)", "np.sum((y - t) ** 2)", 1)
    assert halved.count("def mean_squared_error(t, y):") == 1 and "0.5 * np.sum" not in halved
    hints = {h.id for r in grader.grade(write("h.py", halved)).results for h in r.hints}
    assert hints == {"mean_squared_error.missing_half"}
    # Other parameter names, in whatever order, are the learner's to choose: no such hint.
    renamed = correct_source.replace("def get_mini_batch(x_train, t_train, batch_size):", "def get_mini_batch(x, t, n):", 1)
    assert all(not r.hints for r in grader.grade(write("r.py", renamed)).results)


def test_input_at_top_level_is_explained(grader, write, correct_source):
    report = grader.grade(write("s.py", "steps = int(input('steps? '))\n" + correct_source))
    (problem,) = report.problems
    assert problem.message.params["type"] == "EOFError" and [h.id for h in problem.hints] == ["input.while_graded"]
    assert report.score == 100


def test_a_missing_function_is_not_mistaken_for_another_graded_one(grader):
    report = grader.grade(EXAMPLES / "notes.ipynb")
    function_1 = next(r for r in report.results if r.check.function == "function_1")
    assert function_1.message.id == "outcome.missing"  # not "did you mean function_2?"


def test_what_unseeded_learner_code_draws_is_the_same_with_the_same_seed(grader, manager, write):
    """numpy's global generator and Python's random start from the run's seed in every learner
    process: the notes' simpleNet() at top level prints the same dW in every run with the seed."""
    from grader.runner import Grader

    path = write("s.py", "import random\nimport numpy as np\nprint(np.random.rand(), np.random.randn(2), random.random())\n")
    first, again = grader.grade(path).output.stdout, grader.grade(path).output.stdout
    assert first == again and first.count(" ") >= 3
    with Grader(manager, dataclasses.replace(grader.options, seed=grader.seed + 1)) as other:
        assert other.grade(path).output.stdout != first


@pytest.fixture
def started(monkeypatch):
    """A list that grows by one for each learner process a session starts."""
    from grader.sandbox import session as session_module

    started = []

    class Counted(session_module.LearnerProcess):
        def __init__(self, *args, **kwargs):
            started.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(session_module, "LearnerProcess", Counted)
    return started


def test_grade_submit_without_a_seed_still_takes_over_its_early_process(write, correct_source, started):
    """The seed is settled before the early process starts, so it is the one the grader would start."""
    from click.testing import CliRunner

    from grader.cli import cli

    result = CliRunner().invoke(cli, ["submit", str(write("s.py", correct_source))])
    assert result.exit_code == 0, result.output
    assert len(started) == 1


def test_grade_submit_takes_over_the_process_it_started_early(write, correct_source, started):
    """`grade submit` forks the learner's process while the grader is still starting; the grader
    uses it when it is exactly the one it would have started (and a fresh one otherwise)."""
    from grader.prestart import EarlyStart
    from grader.runner import Grader, Options
    from grader.sandbox.client import Settings

    path = write("s.py", "print('early')\n" + correct_source)
    with Grader(options=Options(seed=2)) as grader:
        early = EarlyStart(grader.host, path, None, Settings(), grader.seed)
        report = grader.grade(path, early=early)
        assert report.score == 100 and report.output.stdout.startswith("early\n")
        assert len(started) == 1  # the early process, taken over
        other = EarlyStart(grader.host, path, None, Settings(load_timeout=7.0), grader.seed)  # not what it would start
        assert grader.grade(path, early=other).score == 100
        assert len(started) == 3  # discarded, and a fresh one started
