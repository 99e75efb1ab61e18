"""The names of a batch's per-submission report files (--json-dir, --gradescope-dir): one for
every submission, the same on every run and shard, and none a learner can take from another."""
from __future__ import annotations

import csv
import io
import json
import random

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES

from grader.batch.discover import output_names, safe_file_name
from grader.cli import cli

CORRECT = (EXAMPLES / "student.py").read_text(encoding="utf-8")
FORWARD = CORRECT.replace("return (f(x + h) - f(x - h)) / (2 * h)", "return (f(x + h) - f(x)) / h")
NO_HALF = CORRECT.replace("return 0.5 * np.sum((y - t) ** 2)", "return np.sum((y - t) ** 2)")
#: Three names ``safe_file_name`` makes alike, and the score each one's code gets.
CLASHING = {'q"x.py': (CORRECT, 100), "q_x.py": (FORWARD, 91), "q:x.py": (NO_HALF, 94)}


def batch(*args):
    result = CliRunner().invoke(cli, ["batch", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result


def reports_by_file(folder, pattern):
    """{file path relative to ``folder``: the report's submission name}."""
    return {path.relative_to(folder).as_posix(): json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(folder.glob(pattern))}


@pytest.fixture
def clashing_class(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for name, (source, _) in CLASHING.items():
        (folder / name).write_text(source, encoding="utf-8")
    (folder / "alone.py").write_text(CORRECT, encoding="utf-8")
    return folder


def test_names_that_clash_with_nothing_keep_their_usual_form():
    names = output_names(["山田 太郎.py", "a/b.py", "tanaka"])
    assert names == {name: safe_file_name(name) for name in ["山田 太郎.py", "a/b.py", "tanaka"]}


def test_every_clashing_name_gets_a_hash_suffix_and_all_are_distinct():
    names = output_names(CLASHING)
    assert len(set(names.values())) == 3
    for output in names.values():
        stem, suffix = output.split("~")
        assert stem == "q_x.py" and len(suffix) == 8 and int(suffix, 16) >= 0


def test_names_alike_but_for_case_or_unicode_normalisation_clash():
    """macOS and Windows would store them as one file."""
    assert all("~" in output for output in output_names(["Yamada.py", "yamada.PY"]).values())
    assert all("~" in output for output in output_names(["caf\u00e9.py", "cafe\u0301.py"]).values())


def test_the_names_depend_on_the_class_not_on_the_order_it_is_listed_in():
    names = [*CLASHING, "A.py", "a.py", "b.py", "山田.py"]
    expected = output_names(names)
    for seed in range(5):
        random.Random(seed).shuffle(names)
        assert output_names(names) == expected


def test_a_name_made_to_look_like_anothers_suffixed_name_cannot_take_its_file():
    honest = output_names(CLASHING)
    impostor = honest["q:x.py"]
    names = output_names([*CLASHING, impostor, impostor.upper()])
    assert names["q:x.py"] == honest["q:x.py"]  # the honest name is not even moved
    assert names[impostor] != honest["q:x.py"]
    assert len({output.casefold() for output in names.values()}) == len(names)


def test_each_clashing_submission_gets_its_own_json_and_gradescope_report(clashing_class, tmp_path):
    impostor = output_names(CLASHING)["q:x.py"]
    project = clashing_class / impostor  # a project folder: any name is a submission
    project.mkdir()
    (project / "main.py").write_text(FORWARD, encoding="utf-8")
    batch(clashing_class, "--out", tmp_path / "r.csv", "--seed", 3,
          "--json-dir", tmp_path / "json", "--gradescope-dir", tmp_path / "gs")
    names = output_names([*CLASHING, "alone.py", impostor])
    reports = reports_by_file(tmp_path / "json", "*.json")
    assert {file: report["submission"] for file, report in reports.items()} == {
        f"{output}.json": name for name, output in names.items()}
    gradescope = reports_by_file(tmp_path / "gs", "*/results.json")
    assert len(gradescope) == 5
    for name, (_, score) in CLASHING.items():
        assert reports[f"{names[name]}.json"]["score"] == score
        assert gradescope[f"{names[name]}/results.json"]["score"] == score
    assert reports[f"{names[impostor]}.json"]["submission"] == impostor
    assert reports["alone.py.json"]["score"] == 100  # no clash: the name it always had


def test_a_shard_writes_its_reports_under_the_names_of_the_whole_run(clashing_class, tmp_path):
    batch(clashing_class, "--out", tmp_path / "whole.csv", "--seed", 5, "--json-dir", tmp_path / "whole")
    whole = reports_by_file(tmp_path / "whole", "*.json")
    sharded = {}
    for index in (1, 2):
        folder = tmp_path / f"shard{index}"
        batch(clashing_class, "--out", tmp_path / f"s{index}.csv", "--seed", 5, "--shard", f"{index}/2",
              "--json-dir", folder)
        mine = reports_by_file(folder, "*.json")
        assert 0 < len(mine) < 4  # the clashing names fall into both shards
        sharded.update(mine)
    assert {file: r["submission"] for file, r in sharded.items()} == {file: r["submission"] for file, r in whole.items()}


def test_resume_writes_a_changed_submissions_report_under_the_same_name(clashing_class, tmp_path):
    out, folder = tmp_path / "r.csv", tmp_path / "json"
    batch(clashing_class, "--out", out, "--seed", 6, "--json-dir", folder)
    before = reports_by_file(folder, "*.json")
    (clashing_class / "q:x.py").write_text(CORRECT, encoding="utf-8")
    assert "3 unchanged submissions kept" in batch(clashing_class, "--out", out, "--resume", "--json-dir", folder).output
    after = reports_by_file(folder, "*.json")
    assert sorted(after) == sorted(before)
    changed = f"{output_names(CLASHING)['q:x.py']}.json"
    assert after[changed]["submission"] == "q:x.py" and after[changed]["score"] == 100
    meta = json.loads((tmp_path / "r.state" / "batch.json").read_text(encoding="utf-8"))
    assert meta["renamed_outputs"] == output_names(CLASHING)


def test_a_name_a_spreadsheet_would_compute_is_written_to_the_csv_as_text(tmp_path):
    """A learner's name is the learner's to choose: ``=HYPERLINK(...)`` or ``-1`` must show in a
    spreadsheet as written, not run as a formula or read as a number. The reports keep it as is."""
    folder = tmp_path / "class"
    folder.mkdir()
    names = ['=HYPERLINK("http:", "x").py', "-1.py", "+81 90.py", "@SUM(A1).py", "田中 = 1.py", "'-1.py", "0012345"]
    for name in names[:-1]:
        (folder / name).write_text(CORRECT, encoding="utf-8")
    (folder / names[-1]).mkdir()  # a student number: a project folder
    (folder / names[-1] / "main.py").write_text(CORRECT, encoding="utf-8")
    batch(folder, "--out", tmp_path / "r.csv", "--seed", 3, "--json-dir", tmp_path / "json")
    text = (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    cells = sorted(row[0] for row in list(csv.reader(io.StringIO(text)))[1:])
    assert cells == sorted("'" + name if name[0] in "=-+@'0" else name for name in names)
    assert len(set(cells)) == len(names)  # "'-1.py" is not taken for "-1.py"
    reports = reports_by_file(tmp_path / "json", "*.json")
    assert sorted(report["submission"] for report in reports.values()) == sorted(names)


def test_a_folder_name_a_spreadsheet_would_read_as_a_value_is_written_as_text(tmp_path):
    values = ["12,345", "$100", "(123)", "50%", "2024-01-01", "01-02", "Jan-5", "3:45", "TRUE", "1月5日", "2024年1月5日", "1,000円",
              "５０％", "１．５", "１，２３４", "＄１００", "－１", "１２：３０"]  # (full-width: the same to a Japanese spreadsheet)
    names = ["Decker-1", "mayer", "山田 太郎", "Ａさん"]  # (which a spreadsheet leaves as they are)
    folder = tmp_path / "class"
    for name in values + names:
        (folder / name).mkdir(parents=True)
        (folder / name / "main.py").write_text(CORRECT, encoding="utf-8")
    batch(folder, "--out", tmp_path / "r.csv", "--seed", 3)
    text = (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    cells = sorted(row[0] for row in list(csv.reader(io.StringIO(text)))[1:])
    assert cells == sorted(["'" + value for value in values] + names)


def test_reports_of_learners_gone_or_renamed_since_an_earlier_run_are_removed(tmp_path):
    """An upload of --gradescope-dir must hold no report that no longer belongs to anyone: a
    learner removed from the class, or whose name now clashes with another's (renamed)."""
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("Alice.py", "bob.py", "gone.py"):
        (folder / name).write_text(CORRECT, encoding="utf-8")
    outputs = ("--out", tmp_path / "o" / "r.csv", "--seed", 1, "--json-dir", tmp_path / "json", "--gradescope-dir", tmp_path / "gs")
    batch(folder, *outputs)
    (tmp_path / "gs" / "bob.py" / "notes.txt").write_text("the instructor's own", encoding="utf-8")
    (folder / "gone.py").unlink()
    (folder / "alice.py").write_text(CORRECT, encoding="utf-8")  # Alice.py's file names now clash
    batch(folder, *outputs, "--resume")
    names = output_names(["Alice.py", "alice.py", "bob.py"])
    assert sorted(p.name for p in (tmp_path / "json").iterdir()) == sorted(f"{names[n]}.json" for n in names)
    assert sorted(p.name for p in (tmp_path / "gs").iterdir()) == sorted(names.values())
    assert (tmp_path / "gs" / "bob.py" / "notes.txt").exists()


def test_a_folder_of_reports_given_up_for_another_is_left_as_it_was(tmp_path):
    """Stale reports are removed only from the folders a run writes its own in; the records
    remember which files their runs wrote."""
    import json as json_module

    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("a.py", "gone.py"):
        (folder / name).write_text(CORRECT, encoding="utf-8")
    outputs = ("--out", tmp_path / "o" / "r.csv", "--seed", 1, "--json-dir", tmp_path / "json")
    batch(folder, *outputs)
    (folder / "gone.py").unlink()
    meta_file = tmp_path / "o" / "r.state" / "batch.json"
    meta = json_module.loads(meta_file.read_text(encoding="utf-8"))
    assert any(path.endswith("gone.py.json") and type(written) is int for path, written in meta["reports"])
    batch(folder, *outputs, "--json-dir", tmp_path / "other")  # (the last --json-dir counts)
    assert (tmp_path / "json" / "gone.py.json").exists()  # a folder given up for another: left as it was
    assert sorted(p.name for p in (tmp_path / "other").iterdir()) == ["a.py.json"]


def test_a_shard_removes_no_report_of_a_learner_still_in_the_class(tmp_path, monkeypatch):
    """A shard grades part of the class: the other shards' learners' reports stay, also when an
    earlier whole run wrote them into the same records. A folder given as ``.`` is found again."""
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("a.py", "b.py", "c.py", "d.py", "gone.py"):
        (folder / name).write_text(CORRECT, encoding="utf-8")
    (tmp_path / "json").mkdir()
    monkeypatch.chdir(tmp_path / "json")
    outputs = ("--out", tmp_path / "o" / "r.csv", "--seed", 1, "--json-dir", ".")
    batch(folder, *outputs)
    (folder / "gone.py").unlink()
    batch(folder, *outputs, "--shard", "1/2")
    assert sorted(p.name for p in (tmp_path / "json").iterdir()) == ["a.py.json", "b.py.json", "c.py.json", "d.py.json"]


def test_a_report_rewritten_by_a_run_cut_off_is_still_removed_once_its_learner_is_gone(tmp_path, monkeypatch):
    """A run cut off after rewriting a report used to leave the records remembering the time
    the run before wrote it: the file looked like another run's, and was never removed."""
    import threading

    from grader.batch import run as batch_run

    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("s1.py", "s2.py", "s3.py"):
        (folder / name).write_text(CORRECT, encoding="utf-8")
    outputs = ("--out", tmp_path / "o" / "r.csv", "--seed", 1, "--json-dir", tmp_path / "json", "--jobs", 1)
    batch(folder, *outputs)
    (folder / "s1.py").write_text(CORRECT + "# resubmitted\n", encoding="utf-8")
    (folder / "s4.py").write_text(CORRECT, encoding="utf-8")
    real_get, results = batch_run._get, []

    def cut_off_after_one_result(source, stop=None):
        if threading.current_thread() is threading.main_thread():
            if results:
                raise KeyboardInterrupt
            results.append(real_get(source, stop))
            return results[-1]
        return real_get(source, stop)

    monkeypatch.setattr(batch_run, "_get", cut_off_after_one_result)
    cut_off = CliRunner().invoke(cli, ["batch", str(folder), *map(str, outputs), "--resume"])
    assert cut_off.exit_code == 2, cut_off.output
    monkeypatch.setattr(batch_run, "_get", real_get)
    (folder / "s1.py").unlink()
    batch(folder, *outputs, "--resume")
    assert sorted(p.name for p in (tmp_path / "json").iterdir()) == ["s2.py.json", "s3.py.json", "s4.py.json"]
