"""The `grade` command, through click's CliRunner."""
from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ElementTree

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES

from grader.cli import cli

STUDENT = str(EXAMPLES / "student.py")


@pytest.fixture
def run():
    runner = CliRunner()

    def _run(*args, env=None):
        return runner.invoke(cli, [str(a) for a in args], env=env)

    return _run


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    """A submission that loses points: the forward difference, and no softmax."""
    source = (EXAMPLES / "student.py").read_text(encoding="utf-8")
    source = source.replace("return (f(x + h) - f(x - h)) / (2 * h)", "return (f(x + h) - f(x)) / h")
    path = tmp_path_factory.mktemp("broken") / "broken.py"
    path.write_text(source, encoding="utf-8")
    return str(path)


def test_a_full_marks_submission_exits_0_with_a_readable_report(run):
    result = run("submit", STUDENT, "--seed", 1)
    assert result.exit_code == 0, result.output
    assert "Score: 100 / 100" in result.output and "Full marks" in result.output
    assert "\x1b[" not in result.output  # not a terminal: no colour


def test_a_submission_below_full_marks_exits_1_and_says_what_to_fix(run, broken):
    result = run("submit", broken, "--seed", 1)
    assert result.exit_code == 1
    assert "What to fix" in result.output and "numerical_diff.forward_difference" in result.output


def test_json_is_one_object_with_the_public_schema(run, broken):
    result = run("submit", broken, "--format", "json", "--seed", 1)
    report = json.loads(result.output)
    assert set(report) >= {"submission", "score", "max_score", "checks", "errors"}
    check = report["checks"][0]
    assert set(check) >= {"exercise", "name", "function", "status", "score", "max_score", "message", "hints"}
    statuses = {c["status"] for c in report["checks"]}
    assert statuses <= {"passed", "failed", "error", "timeout", "missing"}
    failed = [c for c in report["checks"] if c["status"] == "failed"]
    assert failed and all(h.keys() == {"id", "text"} for c in failed for h in c["hints"])
    assert report["score"] < report["max_score"] == 100
    # one type for every score, passed or not, whole or not (a typed client reads one)
    numbers = [report["score"], report["max_score"]] + [c[k] for c in report["checks"] for k in ("score", "max_score")]
    assert {type(n) for n in numbers} == {float}


def test_the_report_speaks_japanese_when_asked(run, broken):
    result = run("submit", broken, "--lang", "ja", "--seed", 1)
    assert "得点" in result.output and "直すべきところ" in result.output
    as_json = json.loads(run("submit", broken, "--lang", "ja", "--format", "json", "--seed", 1).output)
    hint = next(h for c in as_json["checks"] for h in c["hints"])
    assert hint["id"] == "numerical_diff.forward_difference" and "中心差分" in hint["text"]


def test_the_language_defaults_from_the_locale(run, broken):
    result = run("submit", broken, "--seed", 1, env={"LANG": "ja_JP.UTF-8"})
    assert "得点" in result.output


def test_load_errors_are_listed_with_their_line(run, write):
    path = write("s.py", "import numpy as np\nundefined_function()\n\ndef softmax(a):\n    return a\n")
    report = json.loads(run("submit", path, "--format", "json").output)
    assert report["errors"][0]["line"] == 2 and "NameError" in report["errors"][0]["message"]


def test_a_report_file_is_written_into_folders_made_for_it(run, tmp_path):
    out = tmp_path / "autograder" / "results" / "results.json"
    result = run("submit", STUDENT, "--format", "gradescope", "-o", out, "--junit", tmp_path / "ci" / "r.xml", "--seed", 1)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8"))["score"] == 100
    assert ElementTree.parse(tmp_path / "ci" / "r.xml").getroot().tag == "testsuites"


def test_gradescope_shows_the_learner_what_their_code_printed_where_something_failed(run, write):
    """Gradescope shows a learner the results' outputs only: what their code printed is there, as
    the text report shows it (20 lines, control characters inert), not for a full-marks file."""
    source = (EXAMPLES / "student.py").read_text(encoding="utf-8")
    printing = "for i in range(25):\n    print('line', i, '\\x1b[2J')\n"
    data = json.loads(run("submit", write("s.py", printing + source + "\ndef softmax(a):\n    return a\n"),
                          "--format", "gradescope", "--seed", 1).output)
    assert "What your code printed:\n  | line 0 \ufffd\n" in data["output"] and "  | line 19" in data["output"]
    assert "line 20" not in data["output"] and "more bytes not shown" in data["output"]
    full = json.loads(run("submit", write("t.py", printing + source), "--format", "gradescope", "--seed", 1).output)
    assert full["score"] == 100 and "printed" not in full["output"]


def test_a_report_file_is_written_into_not_replaced(run, tmp_path):
    """A link is followed (``-o /dev/stdout`` as much as a link to a file); a file keeps its
    mode, so a private report stays private."""
    target = tmp_path / "target.json"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o600)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    result = run("submit", STUDENT, "--format", "json", "-o", link, "--seed", 1)
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and json.loads(target.read_text(encoding="utf-8"))["score"] == 100
    assert target.stat().st_mode & 0o777 == 0o600


def test_a_report_file_under_a_file_is_a_usage_error(run, tmp_path):
    blocker = tmp_path / "results"
    blocker.write_text("not a folder", encoding="utf-8")
    result = run("submit", STUDENT, "-o", blocker / "results.json", "--seed", 1)
    assert result.exit_code == 4
    assert f"Cannot write {blocker / 'results.json'}: Not a directory." in result.output


def test_a_report_over_the_submission_or_other_code_is_refused_and_the_code_kept(run, tmp_path):
    learner, other = tmp_path / "student.py", tmp_path / "other.ipynb"
    learner.write_bytes((EXAMPLES / "student.py").read_bytes())
    other.write_text("{}", encoding="utf-8")
    (tmp_path / "link.txt").symlink_to(learner)
    os.link(learner, tmp_path / "hard.txt")
    for option, target in (("-o", learner), ("--junit", learner), ("-o", other), ("--junit", tmp_path / "." / "student.py"),
                           ("-o", tmp_path / "link.txt"), ("-o", tmp_path / "hard.txt")):
        result = run("submit", learner, option, target, "--seed", 1)
        assert result.exit_code == 4 and "would overwrite it" in result.output, result.output
    assert learner.read_bytes() == (EXAMPLES / "student.py").read_bytes() and other.read_text(encoding="utf-8") == "{}"


@pytest.mark.parametrize("fmt", ["gradescope", "junit", "csv"])
def test_each_output_format_renders(run, fmt, tmp_path):
    out = tmp_path / f"report.{fmt}"
    result = run("submit", STUDENT, "--format", fmt, "-o", out, "--seed", 1)
    assert result.exit_code == 0 and result.output == ""
    text = out.read_text(encoding="utf-8-sig" if fmt == "csv" else "utf-8")  # (a CSV file begins with a byte-order mark)
    if fmt == "gradescope":
        data = json.loads(text)
        assert data["score"] == 100 and len(data["tests"]) == 41
        assert set(data["tests"][0]) >= {"name", "score", "max_score", "status", "output", "visibility"}
    elif fmt == "junit":
        suite = ElementTree.fromstring(text).find("testsuite")
        assert suite.get("tests") == "41" and suite.get("failures") == "0"
    else:
        assert text.splitlines()[0].startswith("submission,score,max_score,status,losses")


def test_junit_can_be_written_beside_the_main_report(run, broken, tmp_path):
    result = run("submit", broken, "--junit", tmp_path / "junit.xml", "--seed", 1)
    assert result.exit_code == 1
    suite = ElementTree.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert int(suite.get("failures")) >= 3


def test_an_output_path_ending_with_a_slash_is_refused_not_written_as_a_file(run, tmp_path):
    for args in (("submit", STUDENT, "-o", f"{tmp_path}/reports/"), ("batch", EXAMPLES, "--out", f"{tmp_path}/out/")):
        result = run(*args, "--seed", 1)
        assert result.exit_code == 4 and "names a folder" in result.output, result.output
    assert list(tmp_path.iterdir()) == []


def test_junit_counts_an_extra_not_passed_as_skipped_not_failed(run, tmp_path):
    """The notes' own code scores full marks but for the notes' gaps, and fails extras worth nothing:
    a CI reading the XML must not see those as failures."""
    source = (EXAMPLES / "student.py").read_text(encoding="utf-8")
    source = source.replace("    if a.ndim == 2:\n        a = a - np.max(a, axis=1, keepdims=True)\n"
                            "        return np.exp(a) / np.sum(np.exp(a), axis=1, keepdims=True)\n", "")
    learner = tmp_path / "s.py"
    learner.write_text(source, encoding="utf-8")
    result = run("submit", learner, "--junit", tmp_path / "j.xml", "--seed", 1)
    assert result.exit_code == 0, result.output
    suite = ElementTree.parse(tmp_path / "j.xml").getroot().find("testsuite")
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("0", "0", "1")
    [skipped] = [case for case in suite.iter("testcase") if case.find("skipped") is not None]
    assert skipped.get("classname") == "simplenet.softmax" and skipped.get("name") == "batch"


def test_min_score_gates_ci(run, broken):
    assert run("submit", broken, "--min-score", 80, "--seed", 1).exit_code == 0
    assert run("submit", broken, "--min-score", 99, "--seed", 1).exit_code == 1


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_a_min_score_that_is_not_a_score_is_a_usage_error(run, broken, value):
    result = run("submit", broken, "--min-score", value)
    assert result.exit_code == 4 and "is not a score" in result.output


def test_a_min_score_above_the_maximum_is_a_usage_error(run, broken):
    result = run("submit", broken, "--min-score", 101, "--seed", 1)
    assert result.exit_code == 4 and "more than the 100 points" in result.output
    assert run("submit", broken, "--min-score", 100, "--seed", 1).exit_code == 1  # possible, just not met


def test_a_min_score_just_above_the_maximum_says_so_exactly(run, broken):
    for given in ("100.0000001", "100.00000000000001"):
        result = run("submit", broken, "--min-score", given, "--seed", 1)
        assert result.exit_code == 4 and f"--min-score {given}:" in result.output


def test_an_empty_file_graded_on_extras_alone_is_not_full_marks(run, tmp_path):
    """0 of 0 points: full marks only for a file that loaded."""
    empty = tmp_path / "empty.py"
    empty.write_text("", encoding="utf-8")
    assert run("submit", empty, "-k", "softmax.batch", "--seed", 1).exit_code == 1
    correct = tmp_path / "correct.py"
    source = (EXAMPLES / "student.py").read_text(encoding="utf-8")
    correct.write_text(source + "\nload_mnist()\n", encoding="utf-8")  # a line that fails, as with a full run
    assert run("submit", correct, "-k", "softmax.batch", "--seed", 1).exit_code == 0
    assert run("submit", correct, "--seed", 1).exit_code == 0
    wrong = tmp_path / "wrong.py"  # a 1-D softmax only: the 2-D extra fails
    wrong.write_text(source.replace("    if a.ndim == 2:", "    if False:"), encoding="utf-8")
    assert run("submit", wrong, "-k", "softmax.batch", "--seed", 1).exit_code == 1


def test_k_grades_one_function_only(run, broken):
    report = json.loads(run("submit", broken, "-k", "numerical_diff", "--format", "json", "--seed", 1).output)
    assert {c["function"] for c in report["checks"]} == {"numerical_diff"}
    assert report["max_score"] == 12


def test_v_shows_inputs_expected_and_got(run, broken):
    result = run("submit", broken, "-v", "-k", "numerical_diff", "--seed", 1)
    assert "expected:" in result.output and "got:" in result.output and "f: _square" in result.output


@pytest.mark.parametrize("args", [
    ["submit", "no-such-file.py"],
    ["submit", STUDENT, "--format", "yaml"],
    ["submit", STUDENT, "--timeout", "-1"],
    ["submit", STUDENT, "-k", "no_such_function"],
    ["submit"],
    ["frobnicate"],
    ["list", "--format", "xml"],
])
def test_usage_errors_exit_4_with_a_message(run, args):
    result = run(*args)
    assert result.exit_code == 4
    assert "Error" in result.output or "Usage" in result.output


@pytest.mark.parametrize("command", [[], ["submit"], ["list"], ["plugins"], ["init"]])
def test_every_command_has_help(run, command):
    result = run(*command, "--help")
    assert result.exit_code == 0 and "Usage:" in result.output


def test_list_shows_the_catalogue(run):
    result = run("list")
    assert "derivatives.numerical_diff.square_at_zero" in result.output and "100 points" in result.output
    data = json.loads(run("list", "--format", "json").output)
    assert data["max_score"] == 100 and sum(len(e["checks"]) for e in data["exercises"]) == 41


def test_plugins_shows_where_each_plugin_comes_from(run):
    result = run("plugins")
    assert "exercises.losses  [built-in]" in result.output and "grader_exercises" in result.output


@pytest.mark.parametrize("name", ["starter.py", "starter.ipynb"])
def test_an_untouched_starter_scores_0_with_every_check_not_attempted(run, tmp_path, name):
    path = tmp_path / name
    result = run("init", path)
    assert result.exit_code == 0 and path.exists()
    graded = run("submit", path, "--format", "json")
    assert graded.exit_code == 1
    report = json.loads(graded.output)
    assert report["score"] == 0 and report["errors"] == []
    assert {c["status"] for c in report["checks"]} == {"missing"}
    assert all("NotImplementedError" in c["message"] for c in report["checks"])
    assert "not attempted" in run("submit", path).output


def test_init_does_not_overwrite_without_force(run, tmp_path):
    path = tmp_path / "mine.py"
    path.write_text("precious")
    assert run("init", path).exit_code == 4 and path.read_text() == "precious"
    assert run("init", path, "--force").exit_code == 0


def test_an_unreadable_file_gets_a_report_with_score_0_and_exit_1(run, write):
    result = run("submit", write("binary.py", b"\x00\x01\x02"), "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["score"] == 0 and report["errors"][0]["message"]


def test_colour_is_used_only_when_asked_or_on_a_terminal(run, monkeypatch):
    from grader.cli import _color

    assert "\x1b[" in run("submit", STUDENT, "--seed", 1, "--color").output
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    assert _color(None, None) is False
    monkeypatch.delenv("NO_COLOR")
    assert _color(None, None) is True


def test_control_characters_from_the_learner_never_reach_the_terminal(run, write):
    """A learner's output, exception messages and file name could carry terminal escapes
    (clear the screen, retitle the window, fake a score): the text report shows them inert."""
    escapes = "\x1b[2J\x1b]0;owned\x07\rScore: 100 / 100"
    source = (EXAMPLES / "student.py").read_text(encoding="utf-8")
    source += f"\nprint({escapes!r})\nraise ValueError({escapes!r})\n"
    result = run("submit", write("escapes.py", source), "--seed", 1, "-v")
    assert "owned" in result.output, "the text is shown"
    assert "\x1b" not in result.output and "\x07" not in result.output and "\r" not in result.output


@pytest.mark.parametrize("files, reason", [
    (("a.py", "b.py"), "a project folder needs exactly one .ipynb/.py file at its top, its entry, to be graded (found: a.py, b.py)"),
    (("notes.txt",), "a project folder needs one .ipynb/.py file at its top, its entry, to be graded, and this one has none"),
    (("hw4/student.py",), "a project folder needs one .ipynb/.py file at its top, its entry, to be graded, and this one has none"),
])
def test_a_folder_that_cannot_be_graded_gets_a_report_of_0_as_an_lms_needs(run, tmp_path, files, reason):
    """On Gradescope, `grade submit /autograder/submission --format gradescope -o results.json`
    must leave a results.json whatever the learner handed in: as `grade batch` does, a folder it
    cannot grade is that learner's 0, with the reason."""
    folder = tmp_path / "submission"
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("x = 1\n", encoding="utf-8")
    results = tmp_path / "results" / "results.json"
    result = run("submit", folder, "--format", "gradescope", "-o", results, "--seed", 1)
    assert result.exit_code == 1, result.output
    data = json.loads(results.read_text(encoding="utf-8"))
    assert data["score"] == 0 and f"submission: {reason}" in data["output"]
    assert {test["status"] for test in data["tests"]} == {"failed"} and len(data["tests"]) > 30


def test_a_file_grade_does_not_read_gets_a_report_of_0_and_a_missing_path_is_refused(run, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("print(1)\n", encoding="utf-8")
    result = run("submit", notes, "--format", "json", "--seed", 1)
    assert result.exit_code == 1
    [error] = json.loads(result.output)["errors"]
    assert "notes.txt: grade reads .ipynb/.py files" in error["message"]
    result = run("submit", tmp_path / "nothing.py")
    assert result.exit_code == 4 and "no such file or folder" in result.output


def test_an_entry_the_learner_did_not_hand_in_is_their_0_but_an_entry_grade_cannot_read_is_a_usage_error(run, tmp_path, monkeypatch):
    """On an LMS, `--entry main.py` meets a learner who uploaded `main_final.py`: their 0, with the
    reason, as `grade batch` gives it. `--entry notes.txt` is the instructor's mistake (exit 4)."""
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "main_final.py").write_text("x = 1\n", encoding="utf-8")
    (folder / "notes.txt").write_text("x\n", encoding="utf-8")
    result = run("submit", folder, "--entry", "main.py", "--format", "json", "--seed", 1)
    assert result.exit_code == 1
    [error] = json.loads(result.output)["errors"]
    assert "there is no entry file main.py in this folder" in error["message"]
    assert run("submit", folder, "--entry", "notes.txt").exit_code == 4
    assert run("submit", folder, "--entry", "../main.py").exit_code == 4  # (no upload leaves the folder)
    assert run("submit", folder, "--entry", str(tmp_path / "main.py")).exit_code == 4
    monkeypatch.chdir(folder)  # `grade submit .` names the folder
    assert json.loads(run("submit", ".", "--entry", "main.py", "--format", "json").output)["submission"] == "submission"


def test_a_named_pipe_is_refused_not_waited_on(run, tmp_path):
    pipe = tmp_path / "fifo.py"
    os.mkfifo(pipe)
    result = run("submit", pipe)
    assert result.exit_code == 4 and "not a regular file" in result.output


def test_a_file_none_of_whose_code_ran_says_why_before_what_to_fix(run, tmp_path):
    empty = tmp_path / "empty.py"
    empty.write_text("# nothing yet\n", encoding="utf-8")
    output = run("submit", empty, "--seed", 1).output
    assert "see the problems found in the file" in output
    assert output.index("Problems while running your file") < output.index("What to fix")


def test_a_file_name_that_is_not_utf8_is_named_as_grade_batch_names_it(run, tmp_path):
    """A name of bytes that are not UTF-8 (from an old archive): the reports, which are UTF-8, say
    it with "\ufffd" and a hash of its bytes, as grade batch does, rather than failing."""
    folder = tmp_path / "class"
    folder.mkdir()
    path = folder / os.fsdecode(b"bad\xff.py")
    path.write_bytes((EXAMPLES / "student.py").read_bytes())
    result = run("submit", path, "-o", tmp_path / "report.txt", "--seed", 1)
    assert result.exit_code == 0, result.output
    assert "Score: 100 / 100" in (tmp_path / "report.txt").read_text(encoding="utf-8")
    report = json.loads(run("submit", path, "--format", "json", "--seed", 1).stdout_bytes.decode("utf-8"))
    batch = run("batch", folder, "--out", tmp_path / "r.csv", "--seed", 1, "--json-dir", tmp_path / "json")
    assert batch.exit_code == 0, batch.output
    (batched,) = [json.loads(p.read_text(encoding="utf-8")) for p in (tmp_path / "json").glob("*.json")]
    assert report["submission"].startswith("bad\ufffd.py~") and batched == report


def test_k_given_twice_grades_the_checks_of_both(run):
    result = run("submit", STUDENT, "-k", "derivatives", "-k", "losses", "--format", "json", "--seed", 1)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {check["id"].split(".")[0] for check in report["checks"]} == {"derivatives", "losses"}
    assert report["max_score"] == 40
    listed = run("list", "-k", "softmax", "-k", "gradient_descent")
    assert "softmax" in listed.output and "gradient_descent" in listed.output and "mean_squared_error" not in listed.output
    for command in (("submit", STUDENT), ("list",)):  # a typo in one -k is not passed over
        typo = run(*command, "-k", "softmax", "-k", "sofmax")
        assert typo.exit_code == 4 and "sofmax" in typo.output and "softmax," not in typo.output


def test_the_notes_own_form_failing_only_extras_is_told_full_marks(run, tmp_path):
    """Extras are worth nothing: a learner who follows the notes has full marks, said so, and
    the extras not passed are listed under their own heading, not under "What to fix"."""
    source = (EXAMPLES / "student.py").read_text(encoding="utf-8")
    start, end = source.index("def cross_entropy_error"), source.index("def get_mini_batch")
    notes_form = "def cross_entropy_error(y, t):\n    delta = 1e-7\n    return -np.sum(t * np.log(y + delta))\n\n\n"
    path = tmp_path / "notes.py"
    path.write_text(source[:start] + notes_form + source[end:], encoding="utf-8")
    result = run("submit", path, "--seed", 1)
    assert result.exit_code == 0, result.output
    assert "Full marks. Well done!" in result.output and "What to fix" not in result.output
    assert "Extras not passed" in result.output and "cross_entropy_error.batch" in result.output


def test_a_csv_written_to_a_file_starts_with_a_byte_order_mark_as_the_batchs_does(run, tmp_path):
    """So a spreadsheet reads a Japanese name as UTF-8; on stdout, for tools, there is none."""
    path = tmp_path / "山田.py"
    path.write_bytes((EXAMPLES / "student.py").read_bytes())
    assert run("submit", path, "--format", "csv", "-o", tmp_path / "r.csv", "--seed", 1).exit_code == 0
    assert (tmp_path / "r.csv").read_bytes().startswith("\ufeffsubmission,".encode("utf-8"))
    assert run("submit", path, "--format", "csv", "--seed", 1).stdout.startswith("submission,")
