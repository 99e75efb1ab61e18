"""Reading submissions: .py statements, notebook cells, exported notebooks, folders, bad files."""
from __future__ import annotations

import json
import sys

import nbformat
import pytest
from conftest import EXAMPLES

from grader.errors import UsageError
from grader.runner import collect_loaders
from grader.submission import read_submission


@pytest.fixture(scope="module")
def loaders(manager):
    return collect_loaders(manager)


def read(path, loaders, **kwargs):
    return read_submission(path, loaders, **kwargs)


def message_ids(submission):
    return [problem.message.id for problem in submission.problems]


def notebook(*cells, counts=None) -> str:
    book = nbformat.v4.new_notebook()
    for index, source in enumerate(cells):
        if source.startswith("#md "):
            book.cells.append(nbformat.v4.new_markdown_cell(source[4:]))
        else:
            cell = nbformat.v4.new_code_cell(source)
            cell.execution_count = counts[index] if counts else None
            book.cells.append(cell)
    return nbformat.writes(book)


# --- .py -------------------------------------------------------------------------------------------

def test_each_top_level_statement_is_a_unit_with_its_line(write, loaders):
    submission = read(write("s.py", "import numpy as np\n\ndef f(x):\n    return x\n\ny = f(2)\n"), loaders)
    assert [unit.first_line for unit in submission.units] == [1, 3, 6]
    assert submission.units[1].source.startswith("def f(x):")


def test_a_decorated_function_starts_at_its_decorator(write, loaders):
    submission = read(write("s.py", "import functools\n@functools.lru_cache\ndef f(x):\n    return x\n"), loaders)
    assert [unit.first_line for unit in submission.units] == [1, 2]


def test_statements_sharing_a_line_stay_together(write, loaders):
    submission = read(write("s.py", "a = 1; b = 2\nc = 3\n"), loaders)
    assert [unit.source for unit in submission.units] == ["a = 1; b = 2\n", "c = 3\n"]


def test_a_syntax_error_costs_only_its_statement(write, loaders):
    source = "def good():\n    return 1\n\ndef bad(:\n    pass\n\ndef after():\n    return 2\n"
    submission = read(write("s.py", source), loaders)
    assert [unit.source.split("(")[0] for unit in submission.units] == ["def good", "def after"]
    assert message_ids(submission) == ["load.syntax_error"]
    assert submission.problems[0].where.line == 4


def test_an_unclosed_bracket_is_reported_where_it_opens(write, loaders):
    submission = read(write("s.py", "x = [1, 2\n\ndef f():\n    return 1\n"), loaders)
    assert "load.syntax_error" in message_ids(submission)
    assert submission.problems[0].where.line == 1


def test_magics_and_shell_lines_in_a_script_are_skipped_with_a_note(write, loaders):
    submission = read(write("s.py", "%matplotlib inline\n!pip install numpy\nx = 1\n"), loaders)
    assert [unit.source for unit in submission.units] == ["x = 1\n"]
    assert [note.id for note in submission.notes] == ["load.skipped_magic", "load.skipped_magic"]
    assert submission.problems == ()


def test_a_plain_script_is_imported_under_its_own_name(write, loaders):
    assert read(write("student.py", "x = 1\n"), loaders).module_name == "student"
    assert read(write("my-work.py", "x = 1\n"), loaders).module_name == "submission"


# --- notebooks exported as scripts -----------------------------------------------------------------

def test_an_exported_notebook_grades_cell_by_cell(loaders):
    submission = read(EXAMPLES / "notes_export.py", loaders)
    cells = [unit.location for unit in submission.units]
    assert [c.execution_count for c in cells][:4] == [3, 22, 7, 1]
    assert cells[0].cell == 1 and submission.module_name == "__main__"
    assert submission.problems == ()


def test_get_ipython_calls_in_an_exported_notebook_are_skipped(write, loaders):
    source = "# In[1]:\n\n\nget_ipython().run_line_magic('matplotlib', 'inline')\nx = 1\n\n# In[2]:\n\n\ny = 2\n"
    submission = read(write("s.py", source), loaders)
    assert len(submission.units) == 2
    assert "get_ipython" not in submission.units[0].source
    assert [note.id for note in submission.notes] == ["load.skipped_magic"]


# --- .ipynb ---------------------------------------------------------------------------------------

def test_notebook_code_cells_run_in_order_with_their_numbers_and_counts(write, loaders):
    text = notebook("#md # Title", "import numpy as np", "def f(x):\n    return x", counts=[None, 4, 7])
    submission = read(write("n.ipynb", text), loaders)
    assert [(u.location.cell, u.location.execution_count) for u in submission.units] == [(1, 4), (2, 7)]


def test_a_notebook_cell_with_a_syntax_error_is_skipped_and_the_rest_run(write, loaders):
    submission = read(write("n.ipynb", notebook("x = 1", "def f(:\n  pass", "y = 2")), loaders)
    assert [u.source.strip() for u in submission.units] == ["x = 1", "y = 2"]
    assert submission.problems[0].where.cell == 2


def test_cell_magics_and_line_magics_are_skipped(write, loaders):
    submission = read(write("n.ipynb", notebook("%%timeit\nx = 1", "%matplotlib inline\ny = 2", "!ls", "%%bash\necho 1",
                                                "files = !ls\nz = 3")), loaders)
    assert [u.source.strip() for u in submission.units] == ["y = 2", "z = 3"]
    assert len(submission.notes) == 5


def test_a_cell_under_time_or_capture_keeps_its_code_as_in_jupyter(write, loaders):
    # (Jupyter runs such a cell in the notebook's namespace: what it defines is defined after.)
    submission = read(write("n.ipynb", notebook("%%time\ndef f():\n    return 1", "%%capture out\n%matplotlib inline\ng = 2")), loaders)
    assert [u.source.strip() for u in submission.units] == ["def f():\n    return 1", "g = 2"]
    assert [n.params["line"] for n in submission.notes] == ["%%time", "%%capture out", "%matplotlib inline"]
    assert submission.units[0].location.cell == 1 and submission.problems == ()


def test_an_exported_time_cell_keeps_its_code(write, loaders):
    body = "def f(x):\n    return 2 * x\n"
    source = f"# In[1]:\n\n\nget_ipython().run_cell_magic('time', '', {body!r})\n\n# In[2]:\n\n\n" \
             "get_ipython().run_cell_magic('bash', '', 'echo 1\\n')\ny = 2\n"
    submission = read(write("s.py", source), loaders)
    assert [u.source.strip() for u in submission.units] == [body.strip(), "y = 2"]
    assert [n.params["line"] for n in submission.notes][0] == "%%time"


@pytest.mark.parametrize("source", [
    "def f(a, b):\n    if (a\n            != b):\n        return 1\n    return 0\n",
    "def f(x):\n    return ('%f'\n            % x)\n",
    "DOC = \"\"\"\n!important\n%magic\n\"\"\"\n",
])
def test_python_lines_that_start_like_a_magic_are_left_alone(write, loaders, source):
    submission = read(write("s.py", source), loaders)
    assert submission.problems == () and "".join(u.source for u in submission.units) == source
    if "DOC" not in source:  # beside a real magic, only what is a magic line (not inside a string) goes
        submission = read(write("s.py", source + "%matplotlib inline\n"), loaders)
        assert submission.problems == () and "".join(u.source for u in submission.units) == source


def test_the_notes_saved_as_a_notebook_load_every_cell(loaders):
    submission = read(EXAMPLES / "notes.ipynb", loaders)
    assert len(submission.units) == 15 and submission.problems == ()


# --- files that are not code ------------------------------------------------------------------

@pytest.mark.parametrize("name, data, message", [
    ("empty.py", b"", "load.empty"),
    ("blank.py", b"  \n\n\t\n", "load.empty"),
    ("binary.py", b"\x7fELF\x00\x01\x02", "load.binary"),
    ("latin1.py", "x = 'caf\xe9'\n".encode("latin-1"), "load.not_utf8"),
    ("text.ipynb", b"print('not json')", "load.not_json"),
    ("array.ipynb", b"[1, 2, 3]", "load.not_notebook"),
    ("cells.ipynb", json.dumps({"cells": "nope", "nbformat": 4}).encode(), "load.not_notebook"),
    ("empty.ipynb", b"", "load.empty"),
])
def test_a_file_that_is_not_a_submission_gets_a_problem_not_an_exception(write, loaders, name, data, message):
    submission = read(write(name, data), loaders)
    assert submission.units == ()
    assert message_ids(submission) == [message]


def test_a_notebook_nbformat_finds_invalid_but_jupyter_opens_is_graded_with_a_note(write, loaders):
    """A code cell written by hand without "outputs": Jupyter opens it after a warning, so its
    cells are read; a cell without a source could not be, and is refused."""
    cell = {"cell_type": "code", "execution_count": 1, "metadata": {}, "source": ["x = 1\n", "y = 2\n"]}
    notebook = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    submission = read(write("hand.ipynb", json.dumps(notebook)), loaders)
    assert len(submission.units) == 1 and submission.problems == ()
    assert [note.id for note in submission.notes] == ["load.notebook_invalid"]
    assert "'outputs' is a required property" in submission.notes[0].params["error"]
    del cell["source"]
    refused = read(write("nosource.ipynb", json.dumps(notebook)), loaders)
    assert refused.units == () and message_ids(refused) == ["load.not_notebook"]


NOTEBOOK = {"cells": [{"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [], "source": "x = 1\n"}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


@pytest.mark.parametrize("change, said", [
    (lambda nb: [], 'it holds a list, where a notebook is an object with "cells"'),
    (lambda nb: {**nb, "metadata": []}, 'its "metadata" is a list, where a notebook has an object'),
    (lambda nb: {**nb, "nbformat": "4"}, 'its "nbformat" is text ("4"), where a notebook has a whole number (4)'),
    (lambda nb: {**nb, "cells": [None]}, "cell 1 is null, where a notebook has an object"),
    (lambda nb: {**nb, "cells": [{**nb["cells"][0], "source": ["x = 1\n", None]}]}, "the source of cell 1 is not text"),
    (lambda nb: {"metadata": {}}, 'it has no "nbformat" or no "cells"'),
])
def test_json_shaped_unlike_a_notebook_is_said_plainly_not_with_a_python_error(write, loaders, change, said):
    submission = read(write("odd.ipynb", json.dumps(change(NOTEBOOK))), loaders)
    assert submission.units == () and message_ids(submission) == ["load.not_notebook"]
    assert said in submission.problems[0].message.params["error"]


def test_a_number_of_thousands_of_digits_is_said_plainly(write, loaders):
    text = json.dumps(NOTEBOOK).replace('"execution_count": 1', '"execution_count": ' + "9" * 5000)
    submission = read(write("big.ipynb", text), loaders)
    assert message_ids(submission) == ["load.not_json"]
    assert submission.problems[0].message.params["error"] == "a number in it is written with thousands of digits"


def test_invalid_utf8_is_reported_with_its_line(write, loaders):
    submission = read(write("s.py", b"x = 1\ny = 2\nz = '\xff'\n"), loaders)
    assert submission.problems[0].where.line == 3


SHIFT_JIS_SOURCE = "x = 1\n# 勾配降下法の練習\ny = '損失'\n"


@pytest.mark.parametrize("source, line", [(SHIFT_JIS_SOURCE, 2), ("# 損失関数\n" + SHIFT_JIS_SOURCE, 1)])
def test_japanese_saved_as_shift_jis_is_named_as_such_at_its_line(write, loaders, source, line):
    # (On line 1 or 2, Python's own reading of an encoding declaration fails first.)
    submission = read(write("s.py", source.encode("cp932")), loaders)
    assert message_ids(submission) == ["load.shift_jis"]
    assert submission.problems[0].where.line == line and submission.units == ()


@pytest.mark.parametrize("data", [
    "x = 1\n# café olé: résumé\n".encode("latin-1"),
    "x = 1\n# ÉaÉb\n".encode("latin-1"),  # (read as cp932 without error, but no kana)
    b"x = 1\n# \x82\n",  # (not cp932 either)
])
def test_other_bytes_that_are_not_utf8_are_not_called_shift_jis(write, loaders, data):
    assert message_ids(read(write("s.py", data), loaders)) == ["load.not_utf8"]


def test_shift_jis_declared_as_python_allows_is_read(write, loaders):
    submission = read(write("s.py", ("# -*- coding: cp932 -*-\n" + SHIFT_JIS_SOURCE).encode("cp932")), loaders)
    assert submission.problems == () and submission.units[-1].source == "y = '損失'\n"


def test_a_bom_is_accepted(write, loaders):
    submission = read(write("s.py", "\ufeffx = 1\n".encode("utf-8")), loaders)
    assert submission.problems == () and len(submission.units) == 1


def test_a_name_with_spaces_and_japanese_characters_is_read(write, loaders):
    submission = read(write("学生 提出.py", "x = 1\n"), loaders)
    assert submission.name == "学生 提出.py" and len(submission.units) == 1


@pytest.mark.parametrize("name", ["missing.py", "notes.txt"])
def test_a_path_that_cannot_be_a_submission_is_a_usage_error(tmp_path, loaders, name):
    if name.endswith(".txt"):
        (tmp_path / name).write_text("hello")
    with pytest.raises(UsageError):
        read(tmp_path / name, loaders)


# --- project folders -----------------------------------------------------------------------------

def test_a_folder_with_one_script_is_a_project(write, loaders, tmp_path):
    write("project/student.py", "from common.functions import softmax\n")
    write("project/common/functions.py", "def softmax(a):\n    return a\n")
    submission = read(tmp_path / "project", loaders)
    assert submission.name == "project" and submission.project_dir == str(tmp_path / "project")
    assert submission.workdir == ""


def test_the_entry_of_a_folder_can_be_named(write, loaders, tmp_path):
    write("book/ch04/gradient_simplenet.py", "import sys, os\nsys.path.append(os.pardir)\n")
    write("book/ch04/other.py", "x = 1\n")
    submission = read(tmp_path / "book", loaders, entry="ch04/gradient_simplenet.py")
    assert submission.workdir == "ch04"


@pytest.mark.parametrize("files", [[], ["a.py", "b.py"]])
def test_a_folder_without_exactly_one_entry_is_a_usage_error(write, loaders, tmp_path, files):
    (tmp_path / "p").mkdir()
    for name in files:
        write(f"p/{name}", "x = 1\n")
    with pytest.raises(UsageError, match="--entry"):
        read(tmp_path / "p", loaders)


def test_the_digest_of_a_folder_changes_with_any_file(write, loaders, tmp_path):
    write("p/main.py", "x = 1\n")
    write("p/lib/helper.py", "y = 1\n")
    before = read(tmp_path / "p", loaders).digest
    write("p/lib/helper.py", "y = 2\n")
    assert read(tmp_path / "p", loaders).digest != before


def test_the_digest_of_a_folder_ignores_caches_and_links(write, loaders, tmp_path):
    write("p/main.py", "x = 1\n")
    before = read(tmp_path / "p", loaders).digest
    write("p/__pycache__/main.cpython-311.pyc", "compiled")
    (tmp_path / "p" / "link.py").symlink_to(tmp_path / "p" / "main.py")
    assert read(tmp_path / "p", loaders).digest == before


def test_project_files_leave_out_links_and_ignored_folders(write, tmp_path):
    from grader.submission import project_files

    write("p/main.py", "x = 1\n")
    write("p/data/w.txt", "12")
    write("p/.git/HEAD", "ref")
    (tmp_path / "outside").mkdir()
    (tmp_path / "p" / "escape").symlink_to(tmp_path / "outside", target_is_directory=True)
    found = [(relative, size) for relative, _, size in project_files(tmp_path / "p")]
    assert sorted(found) == [("data/w.txt", 2), ("main.py", 6)]


def test_a_project_folder_past_the_limits_is_reported_not_graded(write, loaders, tmp_path, monkeypatch):
    import grader.submission

    monkeypatch.setattr(grader.submission, "PROJECT_MAX_FILES", 3)
    write("p/main.py", "x = 1\n")
    for i in range(5):
        write(f"p/data/{i}.csv", "1,2\n")
    submission = read(tmp_path / "p", loaders)
    assert submission.units == ()
    [problem] = submission.problems
    assert problem.message.id == "load.project_too_many_files"
    assert problem.message.params["files"] == 4


def test_a_project_folder_past_the_byte_limit_states_the_limit_in_the_readmes_unit(write, loaders, tmp_path, monkeypatch):
    import grader.submission

    monkeypatch.setattr(grader.submission, "PROJECT_MAX_BYTES", 2 * grader.submission.MEGABYTE)
    write("p/main.py", "x = 1\n")
    (tmp_path / "p" / "data.bin").write_bytes(b"0" * (3 * grader.submission.MEGABYTE))
    [problem] = read(tmp_path / "p", loaders).problems
    assert problem.message.id == "load.project_too_large"
    assert problem.message.params["max_megabytes"] == "2"
    assert problem.message.params["megabytes"] == "3.0"


def test_the_project_byte_limit_is_the_64_mb_the_readme_states():
    import grader.submission

    assert grader.submission.PROJECT_MAX_BYTES == 64 * 2**20


# --- limits that keep a hostile file from costing the grader seconds and memory ------------------

def test_more_code_than_the_limit_is_refused_before_parsing(write, loaders, tmp_path, monkeypatch):
    import grader.loaders

    monkeypatch.setattr(grader.loaders, "MAX_CODE_BYTES", 1000)
    submission = read(write("s.py", "x = 1\n" * 200), loaders)
    assert submission.units == () and message_ids(submission) == ["load.too_much_code"]
    assert submission.problems[0].message.params == {"size": 1200, "limit": 1000}


def test_code_of_too_many_names_and_symbols_is_refused_before_parsing(write, loaders, monkeypatch):
    import grader.loaders

    monkeypatch.setattr(grader.loaders, "SMALL_CODE_BYTES", 100)
    monkeypatch.setattr(grader.loaders, "MAX_TOKENS", 300)
    monkeypatch.setattr(grader.loaders.ast, "parse", lambda *a, **k: pytest.fail("parsed"))
    for source in ("".join(f"x{i} = {i}\n" for i in range(101)), "x=1;" * 101, "values = [" + "1," * 200 + "]\n"):
        submission = read(write("s.py", source), loaders)
        assert submission.units == () and message_ids(submission) == ["load.too_many_tokens"], source[:20]


def test_a_file_of_more_statements_than_the_limit_is_refused(write, loaders, monkeypatch):
    import grader.submission

    monkeypatch.setattr(grader.submission, "MAX_UNITS", 50)
    submission = read(write("s.py", "".join(f"x{i} = {i}\n" for i in range(51))), loaders)
    assert submission.units == () and message_ids(submission) == ["load.too_many_units"]


def test_statements_up_to_the_limit_each_run_on_their_own(write, loaders, monkeypatch):
    import grader.loaders

    monkeypatch.setattr(grader.loaders, "MAX_UNITS", 50)
    # many lines, few statements: a long literal does not count as statements
    source = "values = [\n" + "".join(f"    {i},\n" for i in range(100)) + "]\n" + "".join(f"x{i} = {i}\n" for i in range(49))
    submission = read(write("s.py", source), loaders)
    assert len(submission.units) == 50 and submission.problems == ()


def test_a_notebook_of_more_cells_than_the_limit_is_refused(tmp_path, loaders, monkeypatch):
    import grader.submission

    monkeypatch.setattr(grader.submission, "MAX_UNITS", 3)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"x{i} = {i}") for i in range(4)])
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook, str(path))
    submission = read(path, loaders)
    assert submission.units == () and message_ids(submission) == ["load.too_many_units"]


def test_an_expression_too_deep_to_parse_costs_only_its_statement(correct_source):
    from grader.loaders import split_statements

    rest = [unit.first_line + 1 for unit in split_statements(correct_source, "s.py")[0]]
    for deep in ("x = " + "-" * 50_000 + "1\n", "x = 1" + "+1" * 50_000 + "\n"):
        units, problems = split_statements(deep + correct_source, "s.py")
        if not problems and deep.startswith("x = 1+") and sys.version_info < (3, 11):
            # Python 3.10's parser takes a chain of additions of any length; compiling it then
            # fails in the learner's process, for that statement only (as in test_runner).
            assert [unit.first_line for unit in units] == [1] + rest
            continue
        [problem] = problems
        assert problem.where.line == 1 and problem.message.id == "load.unparsable"
        assert problem.message.params["error"] == "nested too deeply to parse"
        assert [unit.first_line for unit in units] == rest


def test_a_python_file_may_declare_its_own_encoding_as_python_allows(tmp_path, loaders):
    latin = tmp_path / "latin.py"
    latin.write_bytes("# -*- coding: latin-1 -*-\nname = 'café'\n".encode("latin-1"))
    sjis = tmp_path / "sjis.py"
    sjis.write_bytes("# coding: shift_jis\n# 損失関数\nx = 1\n".encode("shift_jis"))
    for path, text in ((latin, "café"), (sjis, "x = 1")):
        submission = read(path, loaders)
        assert submission.problems == () and text in "".join(u.source for u in submission.units)
    unknown = tmp_path / "unknown.py"
    unknown.write_bytes(b"# coding: no-such-codec\nx = 1\n")
    assert message_ids(read(unknown, loaders)) == ["load.not_utf8"]
    undeclared = tmp_path / "undeclared.py"
    undeclared.write_bytes("name = 'café'\n".encode("latin-1"))
    assert message_ids(read(undeclared, loaders)) == ["load.not_utf8"]


def test_a_notebook_without_cell_ids_loads_without_warnings(tmp_path, loaders):
    import warnings

    cell = {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [], "source": "x = 1"}
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        submission = read(path, loaders)
    assert caught == [] and len(submission.units) == 1


def test_a_declared_codec_that_is_no_text_encoding_is_refused_not_a_crash(tmp_path, loaders):
    for codec in ("rot13", "base64", "hex", "utf-16", "zlib"):
        path = tmp_path / f"{codec}.py"
        path.write_bytes(f"# coding: {codec}\ndef f(): pass\n".encode("ascii"))
        assert message_ids(read(path, loaders)) == ["load.not_utf8"], codec


def test_hundreds_of_syntax_errors_end_in_a_report(correct_source):
    from grader.loaders import MAX_SYNTAX_ERRORS, split_statements

    units, problems = split_statements("a b\n" * 30 + correct_source, "s.py")
    assert len(problems) == 30 and len(units) == len(split_statements(correct_source, "s.py")[0])
    units, problems = split_statements("a b\n" * 1000 + correct_source, "s.py")
    assert units == [] and len(problems) == MAX_SYNTAX_ERRORS + 1
    assert problems[-1].message.id == "load.too_many_errors" and problems[-1].where.line == MAX_SYNTAX_ERRORS + 1


def test_a_file_of_comments_only_or_empty_cells_says_there_is_no_code(write, tmp_path, loaders):
    assert message_ids(read(write("comments.py", "# TODO\n\n# later\n"), loaders)) == ["load.no_code"]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("  \n"), nbformat.v4.new_markdown_cell("# 4.1")])
    path = tmp_path / "blank.ipynb"
    nbformat.write(notebook, str(path))
    assert message_ids(read(path, loaders)) == ["load.no_code"]


def test_a_project_nested_past_the_recursion_limit_is_read_down_to_its_depth_limit(tmp_path):
    """os.walk recurses once per level: a folder a learner nested 1500 deep must cost nothing,
    and files below PROJECT_MAX_DEPTH are left out."""
    import os

    from grader.sandbox.cleanup import remove_tree
    from grader.submission import PROJECT_MAX_DEPTH, project_files

    project = tmp_path / "project"
    project.mkdir()
    (project / "main.py").write_text("x = 1\n")
    here = os.getcwd()
    try:
        os.chdir(project)
        os.mkdir("d")
        for _ in range(1500):  # (renames: every path stays short)
            os.mkdir("t")
            os.rename("d", "t/d")
            os.rename("t", "d")
        os.chdir(project / "d" / "d")
        open("shallow.py", "w").close()
    finally:
        os.chdir(here)
    try:
        found = [relative for relative, _, _ in project_files(project)]
    finally:
        remove_tree(str(project))  # (pytest's own clean-up of tmp_path would recurse too deep)
    assert found == ["main.py", "d/d/shallow.py"]
    assert PROJECT_MAX_DEPTH < 1500
