"""Grading a class: `grade batch`, its outputs, --resume, --shard and `grade merge`."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unicodedata
import xml.etree.ElementTree as ElementTree
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES

from grader.batch.discover import in_shard, safe_file_name, unpack_zip
from grader.batch.run import progress_bar
from grader.cli import cli

CORRECT = (EXAMPLES / "student.py").read_text(encoding="utf-8")
FORWARD = CORRECT.replace("return (f(x + h) - f(x - h)) / (2 * h)", "return (f(x + h) - f(x)) / h")
NO_HALF = CORRECT.replace("return 0.5 * np.sum((y - t) ** 2)", "return np.sum((y - t) ** 2)")


@pytest.fixture
def run():
    runner = CliRunner()

    def _run(*args):
        return runner.invoke(cli, [str(a) for a in args])

    return _run


@pytest.fixture
def klass(tmp_path):
    """A small class: Japanese names with spaces, a notebook, a project folder, a broken file
    and something that is not a submission."""
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "山田 太郎.py").write_text(CORRECT, encoding="utf-8")
    (folder / "佐藤 花子.py").write_text(FORWARD, encoding="utf-8")
    (folder / "suzuki.py").write_text(NO_HALF, encoding="utf-8")
    (folder / "notes.ipynb").write_bytes((EXAMPLES / "notes.ipynb").read_bytes())
    project = folder / "tanaka"
    (project / "common").mkdir(parents=True)
    (project / "main.py").write_text("from common.functions import softmax\n", encoding="utf-8")
    (project / "common" / "functions.py").write_text(
        "import numpy as np\n\ndef softmax(a):\n    c = np.max(a)\n    e = np.exp(a - c)\n    return e / np.sum(e)\n",
        encoding="utf-8")
    (folder / "broken.py").write_bytes(b"\x00\xff\x00")
    (folder / "README.txt").write_text("not a submission", encoding="utf-8")
    return folder


def read_csv(path):
    text = path.read_bytes().decode("utf-8")
    assert text.startswith("\ufeff"), "a BOM, so spreadsheets read UTF-8"
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_a_class_is_graded_into_one_row_per_submission(run, klass, tmp_path):
    out = tmp_path / "out" / "results.csv"
    result = run("batch", klass, "--out", out, "--seed", 7, "--jobs", 2)
    assert result.exit_code == 0, result.output
    rows = {row["submission"]: row for row in read_csv(out)}
    assert sorted(rows) == sorted(["山田 太郎.py", "佐藤 花子.py", "suzuki.py", "notes.ipynb", "tanaka", "broken.py"])
    assert rows["山田 太郎.py"]["score"] == "100" and rows["山田 太郎.py"]["status"] == "graded"
    assert rows["佐藤 花子.py"]["derivatives"] == "15" and rows["suzuki.py"]["losses"] == "10"
    assert rows["notes.ipynb"]["score"] == "76" and rows["notes.ipynb"]["status"] == "load errors"
    assert rows["broken.py"]["status"] == "unreadable" and rows["broken.py"]["score"] == "0"
    assert rows["tanaka"]["simplenet"] == "8"
    assert list(rows["tanaka"])[:4] == ["submission", "score", "max_score", "status"]
    assert "README.txt" in result.output  # reported as skipped


def test_the_batch_agrees_exactly_with_grade_submit_on_each_file(run, klass, tmp_path):
    out = tmp_path / "results.csv"
    run("batch", klass, "--out", out, "--seed", 11, "--json-dir", tmp_path / "json")
    rows = {row["submission"]: row for row in read_csv(out)}
    for name in ["佐藤 花子.py", "suzuki.py", "notes.ipynb"]:
        alone = json.loads(run("submit", klass / name, "--format", "json", "--seed", 11).output)
        batched = json.loads((tmp_path / "json" / f"{name}.json").read_text(encoding="utf-8"))
        assert float(rows[name]["score"]) == alone["score"] == batched["score"]
        assert [(c["id"], c["status"]) for c in batched["checks"]] == [(c["id"], c["status"]) for c in alone["checks"]]
        assert set(batched) == set(alone)
        assert batched["output"] == alone["output"]  # what unseeded code drew, and printed, too


def test_every_output_format_is_written(run, klass, tmp_path):
    out = tmp_path / "results.csv"
    result = run("batch", klass, "--out", out, "--seed", 3, "--json-dir", tmp_path / "json",
                 "--gradescope-dir", tmp_path / "gs", "--junit", tmp_path / "junit.xml")
    assert result.exit_code == 0
    assert len(list((tmp_path / "json").glob("*.json"))) == 6
    gradescope = json.loads((tmp_path / "gs" / "山田 太郎.py" / "results.json").read_text(encoding="utf-8"))
    assert gradescope["score"] == 100 and len(gradescope["tests"]) == 41
    suites = ElementTree.parse(tmp_path / "junit.xml").getroot().findall("testsuite")
    assert len(suites) == 6
    summary = json.loads((tmp_path / "results.summary.json").read_text(encoding="utf-8"))
    assert summary["submissions"] == 6 and summary["seed"] == 3
    assert summary["scores"]["full_marks"] == 1 and sum(summary["scores"]["distribution"].values()) == 6
    mistakes = {m["id"]: m["submissions"] for m in summary["mistakes"]}
    assert mistakes["numerical_diff.forward_difference"] == 1 and mistakes["mean_squared_error.missing_half"] == 1
    assert summary["checks"]["derivatives.numerical_diff.square_at_zero"]["passed"] == 3


def test_every_submission_is_graded_with_the_same_seed(run, klass, tmp_path):
    out = tmp_path / "results.csv"
    run("batch", klass, "--out", out, "--json-dir", tmp_path / "json")
    seeds = {json.loads(p.read_text(encoding="utf-8"))["seed"] for p in (tmp_path / "json").glob("*.json")}
    assert len(seeds) == 1


def test_resume_regrades_only_what_changed_and_ends_identical(run, klass, tmp_path):
    first = tmp_path / "a" / "results.csv"
    assert run("batch", klass, "--out", first, "--seed", 5).exit_code == 0
    (klass / "suzuki.py").write_text(CORRECT, encoding="utf-8")
    result = run("batch", klass, "--out", first, "--resume")
    assert "5 unchanged submissions kept" in result.output
    fresh = tmp_path / "b" / "results.csv"
    run("batch", klass, "--out", fresh, "--seed", 5)
    assert first.read_bytes() == fresh.read_bytes()
    assert {r["submission"]: r["score"] for r in read_csv(first)}["suzuki.py"] == "100"


def _slow_batch_under_way(tmp_path):
    """A batch of 8 submissions of 0.4 s each, started, with 2 of them recorded: (the process,
    its command, its CSV, its records folder)."""
    folder = tmp_path / "slow"
    folder.mkdir()
    for index in range(8):
        (folder / f"s{index}.py").write_text("import time\ntime.sleep(0.4)\n" + CORRECT, encoding="utf-8")
    out = tmp_path / "results.csv"
    command = [sys.executable, "-c", "from grader.cli import main; main()", "batch", str(folder), "--out", str(out),
               "--seed", "9", "--jobs", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    records = tmp_path / "results.state" / "records"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(records.glob("*.json"))) < 2:
        time.sleep(0.05)
    return process, command, out, records


def test_an_interrupted_batch_keeps_what_it_graded_and_resume_completes_it(tmp_path):
    process, command, out, _ = _slow_batch_under_way(tmp_path)
    folder = tmp_path / "slow"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2, stderr.decode()
    kept = read_csv(out)
    assert 2 <= len(kept) < 8 and all(row["score"] == "100" for row in kept)
    cut_off = json.loads((tmp_path / "results.summary.json").read_text(encoding="utf-8"))
    assert cut_off["ungraded"] == sorted({f"s{index}.py" for index in range(8)} - {row["submission"] for row in kept})
    done = subprocess.run(command + ["--resume"], capture_output=True, timeout=120)
    assert done.returncode == 0
    assert f"{len(kept)} unchanged submissions kept" in done.stderr.decode()
    complete = tmp_path / "complete.csv"
    uninterrupted = [sys.executable, "-c", "from grader.cli import main; main()", "batch", str(folder),
                     "--out", str(complete), "--seed", "9"]
    subprocess.run(uninterrupted, capture_output=True, timeout=120, check=True)
    assert out.read_bytes() == complete.read_bytes()
    summary = (tmp_path / "results.summary.json").read_bytes()
    assert summary == (tmp_path / "complete.summary.json").read_bytes()


@pytest.mark.parametrize("signals", [(signal.SIGTERM,), (signal.SIGHUP,), (signal.SIGINT, signal.SIGINT)],
                         ids=["SIGTERM", "SIGHUP", "Ctrl-C twice"])
def test_a_batch_stopped_by_a_signal_or_two_keeps_a_csv_of_every_record(tmp_path, signals):
    """A CI job cancelled (SIGTERM), a terminal closed (SIGHUP) or an impatient second Ctrl-C: the
    CSV and the summary still hold every record written, as after one Ctrl-C."""
    process, _, out, records = _slow_batch_under_way(tmp_path)
    for sent in signals:
        process.send_signal(sent)
        time.sleep(0.01)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2, stderr.decode()
    assert "--resume" in stderr.decode()
    kept = read_csv(out)
    assert len(kept) == len(list(records.glob("*.json"))) and 2 <= len(kept) < 8
    cut_off = json.loads((tmp_path / "results.summary.json").read_text(encoding="utf-8"))
    assert cut_off["ungraded"] == sorted({f"s{index}.py" for index in range(8)} - {row["submission"] for row in kept})


def test_shards_partition_the_class_and_merge_into_the_whole(run, klass, tmp_path):
    whole = tmp_path / "whole.csv"
    assert run("batch", klass, "--out", whole, "--seed", 13).exit_code == 0
    parts = []
    for index in (1, 2, 3):
        part = tmp_path / f"shard{index}.csv"
        assert run("batch", klass, "--out", part, "--seed", 13, "--shard", f"{index}/3").exit_code == 0
        parts.append(part)
    names = [sorted(r["submission"] for r in read_csv(p)) for p in parts]
    assert sorted(sum(names, [])) == sorted(r["submission"] for r in read_csv(whole))
    merged = tmp_path / "merged.csv"
    result = run("merge", *parts, "--out", merged)
    assert result.exit_code == 0, result.output
    assert merged.read_bytes() == whole.read_bytes()
    summary = json.loads((tmp_path / "merged.summary.json").read_text(encoding="utf-8"))
    assert summary["submissions"] == 6
    assert (tmp_path / "merged.summary.json").read_bytes() == (tmp_path / "whole.summary.json").read_bytes()


@pytest.fixture
def two_of_three_shards(run, klass, tmp_path):
    parts = [tmp_path / f"shard{index}.csv" for index in (1, 2)]
    for index, part in enumerate(parts, 1):
        assert run("batch", klass, "--out", part, "--seed", 13, "--shard", f"{index}/3").exit_code == 0
    return parts


def test_merge_warns_when_a_shard_is_missing_and_the_summary_says_so(run, two_of_three_shards, tmp_path):
    merged = tmp_path / "merged.csv"
    result = run("merge", *two_of_three_shards, "--out", merged)
    assert "shard 3 of 3 not given" in result.output and "that shard's submissions" in result.output
    summary = json.loads((tmp_path / "merged.summary.json").read_text(encoding="utf-8"))
    assert summary["missing_shards"] == [3]


def test_merge_with_a_shard_missing_exits_1(run, two_of_three_shards, tmp_path):
    assert run("merge", *two_of_three_shards, "--out", tmp_path / "merged.csv").exit_code == 1


def test_the_missing_shard_warning_follows_lang(run, two_of_three_shards, tmp_path):
    result = run("merge", *two_of_three_shards, "--out", tmp_path / "merged.csv", "--lang", "ja")
    assert "3" in result.output and "shard 3 of 3" not in result.output


def test_missing_shards_are_told_only_of_a_split_every_input_shares():
    from grader.batch.merge import missing_shards

    assert missing_shards([[1, 4], [3, 4]]) == ([2, 4], 4)
    assert missing_shards([[1, 3], [2, 3], [3, 3]]) == ([], 3)
    assert missing_shards([[1, 2], [2, 4]])[0] == []
    assert missing_shards([None, [1, 2]])[0] == []


def test_shards_of_different_splits_are_checked_for_gaps():
    from grader.batch.merge import splits_leave_gaps

    assert not splits_leave_gaps([[1, 2], [2, 4], [4, 4]])  # hashes 0 mod 2, 1 mod 4, 3 mod 4: all
    assert splits_leave_gaps([[1, 2], [2, 4]])  # 3 mod 4 in none
    assert splits_leave_gaps([[1, 2], [3, 4]])
    assert not splits_leave_gaps([[1, 3], [3, 3]])  # one split: missing_shards tells
    assert not splits_leave_gaps([None, [1, 2], [1, 4]])  # a whole run leaves no gap


def test_merge_of_splits_that_leave_a_gap_warns_and_exits_1(run, klass, tmp_path):
    parts = [tmp_path / "half.csv", tmp_path / "quarter.csv"]
    for part, shard in zip(parts, ("1/2", "2/4")):
        assert run("batch", klass, "--out", part, "--seed", 13, "--shard", shard).exit_code == 0
    result = run("merge", *parts, "--out", tmp_path / "merged.csv")
    assert result.exit_code == 1
    assert "(1/2, 2/4) are of different splits" in result.output
    summary = json.loads((tmp_path / "merged.summary.json").read_text(encoding="utf-8"))
    assert summary["incomplete_split"] == ["1/2", "2/4"]


@pytest.mark.parametrize("outputs", [
    ("--out", "afile/r.csv"),
    ("--out", "o/r.csv", "--junit", "o"),
    ("--out", "o/r.csv", "--junit", "afile/j.xml"),
    ("--out", "o/r.csv", "--json-dir", "afile/json"),
    ("--out", "o/r.csv", "--gradescope-dir", "afile/gs"),
])
def test_outputs_that_cannot_be_written_are_refused_before_anything_is_graded(run, tmp_path, monkeypatch, outputs):
    """Not an internal error after grading the whole class: a usage error, at once."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("", encoding="utf-8")
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "s.py").write_text(CORRECT, encoding="utf-8")
    result = run("batch", folder, *outputs, "--seed", 1)
    assert result.exit_code == 4, result.output
    assert result.output.startswith("Error: Cannot write ") and "Graded" not in result.output
    assert not (tmp_path / "o").exists()  # and nothing made for a run that did not start
    assert run("batch", folder, "--out", tmp_path / "s.csv", "--seed", 1, "--shard", "1/2").exit_code == 0
    merged = run("merge", tmp_path / "s.csv", "--out", tmp_path / "afile" / "m.csv")
    # (refused before a word about the missing slice 2/2: there is no result to warn of)
    assert merged.exit_code == 4 and "Cannot write" in merged.output and "2" not in merged.output.split("Error:")[0]
    not_a_class = run("batch", tmp_path / "afile", "--out", "nd/r.csv", "--json-dir", "nj", "--gradescope-dir", "ng")
    assert not_a_class.exit_code == 4
    assert not any((tmp_path / name).exists() for name in ("nd", "nj", "ng"))


def test_names_the_batch_tells_of_cannot_drive_the_terminal(run, tmp_path):
    """Files it skips and links it refuses are named on stderr: their control characters are
    shown, never obeyed (a name could clear the screen or set the window's title)."""
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "ok.py").write_text(CORRECT, encoding="utf-8")
    (folder / "\x1b[2J\x1b[Hfake.txt").write_text("x", encoding="utf-8")
    (folder / "l\x1b]0;pwned\x07.py").symlink_to(folder / "ok.py")
    (folder / "x\rAll graded.txt").write_text("x", encoding="utf-8")
    result = run("batch", folder, "--out", tmp_path / "out" / "r.csv", "--seed", 1)
    assert result.exit_code == 0, result.output
    assert not any(c in result.output for c in "\x1b\x07\r")
    assert "\ufffd\ufffdfake.txt" in result.output and "x\ufffdAll graded.txt" in result.output
    assert "l\ufffd" in result.output and "pwned" in result.output


def test_merge_of_a_shard_interrupted_before_the_end_names_what_it_never_graded_and_exits_1(run, klass, tmp_path):
    """A CI job killed mid-shard leaves its listed learners without records: merging must not
    pass their absence off as a whole class."""
    from grader.batch.discover import entry_key

    parts = [tmp_path / "s1.csv", tmp_path / "s2.csv"]
    for index, part in enumerate(parts, 1):
        assert run("batch", klass, "--out", part, "--seed", 13, "--shard", f"{index}/2").exit_code == 0
    listed = {part: json.loads((tmp_path / f"{part.stem}.state" / "batch.json").read_text(encoding="utf-8"))["names"]
              for part in parts}
    part = max(parts, key=lambda p: len(listed[p]))
    lost = listed[part][0]
    (tmp_path / f"{part.stem}.state" / "records" / f"{entry_key(lost)}.json").unlink()  # as if cut off before it
    result = run("merge", *parts, "--out", tmp_path / "merged.csv")
    assert result.exit_code == 1
    assert "1 submission a shard listed was never graded" in result.output and lost in result.output
    summary = json.loads((tmp_path / "merged.summary.json").read_text(encoding="utf-8"))
    assert summary["ungraded"] == [lost] and summary["submissions"] == 5


def test_merge_takes_no_record_an_interrupted_run_left_from_an_earlier_one(run, klass, tmp_path):
    """A run cut off before grading a resubmitted file again must not pass the earlier run's
    result off as its own (records of the same seed and grader, but another run)."""
    out = tmp_path / "r.csv"
    assert run("batch", klass, "--out", out, "--seed", 13).exit_code == 0
    meta_file = tmp_path / "r.state" / "batch.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    meta_file.write_text(json.dumps({**meta, "run": "a-later-run", "kept": meta["names"][1:]}), encoding="utf-8")
    result = run("merge", out, "--out", tmp_path / "m.csv")
    assert result.exit_code == 1
    summary = json.loads((tmp_path / "m.summary.json").read_text(encoding="utf-8"))
    assert summary["ungraded"] == [meta["names"][0]]


def test_merge_of_whole_runs_of_two_classes_is_complete_and_of_an_incomplete_merge_is_not(run, tmp_path):
    """Two sections graded apart and merged: nothing is missing. A merge of a merge that lacked
    a shard: still lacking."""
    for section, names in (("A", ("alice.py", "bob.py")), ("B", ("carol.py",))):
        (tmp_path / section).mkdir()
        for name in names:
            (tmp_path / section / name).write_text(CORRECT, encoding="utf-8")
        assert run("batch", tmp_path / section, "--out", tmp_path / f"{section}.csv", "--seed", 1).exit_code == 0
    assert run("merge", tmp_path / "A.csv", tmp_path / "B.csv", "--out", tmp_path / "AB.csv").exit_code == 0
    assert run("batch", tmp_path / "A", "--out", tmp_path / "s1.csv", "--seed", 1, "--shard", "1/3").exit_code == 0
    assert run("merge", tmp_path / "s1.csv", "--out", tmp_path / "partial.csv").exit_code == 1
    again = run("merge", tmp_path / "partial.csv", "--out", tmp_path / "again.csv")
    assert again.exit_code == 1 and "an incomplete merge itself" in again.output


def test_a_learner_who_handed_in_a_zip_is_graded_as_the_folder_it_holds(run, tmp_path):
    def archive(path, members):
        with zipfile.ZipFile(path, "w") as bundle:
            for name, text in members.items():
                bundle.writestr(name, text)

    folder = tmp_path / "class"
    (folder / "moodle_1_assignsubmission_file_").mkdir(parents=True)
    archive(folder / "bob.zip", {"bob/main.py": CORRECT, "../../evil.py": "x = 1\n"})  # (a wrapping folder, as zipping a folder gives)
    archive(folder / "moodle_1_assignsubmission_file_" / "upload.zip", {"main.py": NO_HALF})
    (folder / "broken.zip").write_bytes(b"not a zip")
    with zipfile.ZipFile(folder / "huge.zip", "w", compression=zipfile.ZIP_DEFLATED) as bundle:  # (a project's limit, not the export's)
        bundle.writestr("main.py", CORRECT)
        bundle.writestr("data.bin", b"\0" * (65 * 1024 * 1024))
    export = tmp_path / "export.zip"  # the same class inside an LMS's export
    with zipfile.ZipFile(export, "w") as bundle:
        for path in folder.rglob("*"):
            if path.is_file():
                bundle.write(path, path.relative_to(tmp_path).as_posix())
    for given, out in ((folder, tmp_path / "r.csv"), (export, tmp_path / "z.csv")):
        result = run("batch", given, "--out", out, "--seed", 4, "--json-dir", tmp_path / out.stem)
        assert result.exit_code == 0, result.output
        rows = {row["submission"]: row for row in read_csv(out)}
        assert {name: (row["score"], row["status"]) for name, row in rows.items()} == {
            "bob.zip": ("100", "graded"), "moodle_1_assignsubmission_file_": ("94", "graded"), "broken.zip": ("0", "unreadable"),
            "huge.zip": ("0", "unreadable")}
        huge = json.loads((tmp_path / out.stem / "huge.zip.json").read_text(encoding="utf-8"))
        assert "64 MB" in huge["errors"][0]["message"]
        bob = json.loads((tmp_path / out.stem / "bob.zip.json").read_text(encoding="utf-8"))
        assert any("../../evil.py" in note for note in bob["notes"]), bob["notes"]
    assert (tmp_path / "r.csv").read_bytes() == (tmp_path / "z.csv").read_bytes()
    again = run("batch", folder, "--out", tmp_path / "r.csv", "--seed", 4, "--resume")
    assert "4 unchanged submissions kept" in again.output


def test_a_class_folder_holding_one_folder_of_learners_is_graded_as_that_folder(run, tmp_path):
    """An export unzipped by hand lies in a folder of its own (``macx/課題4/*.py``): its learners are
    graded, as from the .zip, not the folder as one learner. A folder of one learner's project
    (its entry at its top) is still that learner."""
    folder = tmp_path / "macx"
    (folder / "課題4" / "suzuki_3_assignsubmission_file_").mkdir(parents=True)
    (folder / "__MACOSX").mkdir()
    (folder / "課題4" / "山田.py").write_text(CORRECT, encoding="utf-8")
    (folder / "課題4" / "佐藤.py").write_text(NO_HALF, encoding="utf-8")
    (folder / "課題4" / "suzuki_3_assignsubmission_file_" / "main.py").write_text(CORRECT, encoding="utf-8")
    result = run("batch", folder, "--out", tmp_path / "r.csv", "--seed", 4)
    assert result.exit_code == 0, result.output
    rows = {row["submission"]: row["score"] for row in read_csv(tmp_path / "r.csv")}
    assert rows == {"山田.py": "100", "佐藤.py": "94", "suzuki_3_assignsubmission_file_": "100"}
    assert "holds one folder, 課題4, which holds the learners: its 3 entries were graded as the class" in result.stderr
    alone = tmp_path / "one"
    (alone / "yamada" / "common").mkdir(parents=True)
    (alone / "yamada" / "main.py").write_text(CORRECT, encoding="utf-8")
    (alone / "yamada" / "common" / "util.py").write_text("x = 1\n", encoding="utf-8")
    result = run("batch", alone, "--out", tmp_path / "one.csv", "--seed", 4)
    assert [(row["submission"], row["score"]) for row in read_csv(tmp_path / "one.csv")] == [("yamada", "100")]


def test_outputs_inside_the_class_folders_one_folder_of_learners_are_that_class_s(run, tmp_path):
    """--out inside the one folder a class folder holds (``macx/課題4/results.csv``) is an output
    in the class, as ``macx/results.csv`` would be: not a learner's folder written into; and an
    earlier run's records there are not a learner that makes one learner's folder a class."""
    folder = tmp_path / "macx"
    (folder / "課題4").mkdir(parents=True)
    for name, code in (("山田.py", CORRECT), ("佐藤.py", NO_HALF)):
        (folder / "課題4" / name).write_text(code, encoding="utf-8")
    out = folder / "課題4" / "results.csv"
    for _ in range(2):  # (the second run meets the first one's outputs there)
        result = run("batch", folder, "--out", out, "--seed", 4)
        assert result.exit_code == 0, result.output
        assert {row["submission"]: row["score"] for row in read_csv(out)} == {"山田.py": "100", "佐藤.py": "94"}
    assert "its 2 entries were graded as the class" in result.stderr
    alone = tmp_path / "one"
    (alone / "yamada" / "src").mkdir(parents=True)  # (no entry at its top: it scores 0, but is one learner)
    (alone / "yamada" / "src" / "main.py").write_text(CORRECT, encoding="utf-8")
    (alone / "yamada" / "old.state" / "records").mkdir(parents=True)
    (alone / "yamada" / "old.state" / "batch.json").write_text("{}")
    result = run("batch", alone, "--out", tmp_path / "one.csv", "--seed", 4, "--json-dir", tmp_path / "reports")
    assert [row["submission"] for row in read_csv(tmp_path / "one.csv")] == ["yamada"]
    shutil.copytree(tmp_path / "reports", alone / "yamada" / "reports")  # (an earlier run's, put in it)
    result = run("batch", alone, "--out", tmp_path / "one.csv", "--seed", 4)
    assert [row["submission"] for row in read_csv(tmp_path / "one.csv")] == ["yamada"]
    result = run("batch", alone, "--out", alone / "yamada" / "r.csv", "--seed", 4)
    assert result.exit_code == 4 and "would change yamada, a learner's submission" in result.output


def test_names_that_differ_only_in_unicode_normalisation_are_both_graded_and_said_to_look_alike(run, tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    composed = unicodedata.normalize("NFC", "がくせい.py")
    decomposed = unicodedata.normalize("NFD", composed)  # (as a .zip made on macOS names it)
    assert composed != decomposed
    for name in (composed, decomposed, "other.py"):
        (folder / name).write_text(CORRECT, encoding="utf-8")
    if len(list(folder.iterdir())) < 3:
        pytest.skip("this file system normalises names")
    result = run("batch", folder, "--out", tmp_path / "r.csv", "--seed", 4)
    assert result.exit_code == 0, result.output
    assert sorted(row["submission"] for row in read_csv(tmp_path / "r.csv")) == sorted([composed, decomposed, "other.py"])
    assert "(1 name is written in two ways" in result.stderr and f": {decomposed}; rename one" in result.stderr


def test_the_classs_own_export_lying_where_it_was_unpacked_is_left_out_and_said_so(run, tmp_path):
    folder = tmp_path / "class"
    (folder / "bob_2_assignsubmission_file_").mkdir(parents=True)
    (folder / "alice.py").write_text(CORRECT, encoding="utf-8")
    (folder / "bob_2_assignsubmission_file_" / "main.py").write_text(NO_HALF, encoding="utf-8")
    online_text = folder / "bob_2_assignsubmission_onlinetext_"  # (left out: no code, as Moodle has it)
    online_text.mkdir()
    (online_text / "onlinetext.html").write_text("<p>hi</p>", encoding="utf-8")
    with zipfile.ZipFile(folder / "submissions.zip", "w") as bundle:  # unpacked here, then kept
        bundle.writestr("submissions/alice.py", CORRECT)
        bundle.writestr("submissions/bob_2_assignsubmission_file_/main.py", NO_HALF)
        bundle.writestr("submissions/bob_2_assignsubmission_onlinetext_/onlinetext.html", "<p>hi</p>")
        bundle.writestr("__MACOSX/submissions/._alice.py", "")
    with zipfile.ZipFile(folder / "carol.zip", "w") as bundle:  # a learner's: her project
        bundle.writestr("carol/main.py", CORRECT)
        bundle.writestr("carol/alice.py", CORRECT)
    with zipfile.ZipFile(folder / "dave.zip", "w") as bundle:  # a learner's files, one named as another's entry
        bundle.writestr("alice.py", CORRECT)
        bundle.writestr("helper.py", "x = 1\n")
    result = run("batch", folder, "--out", tmp_path / "r.csv", "--seed", 4)
    assert result.exit_code == 0, result.output
    assert {row["submission"] for row in read_csv(tmp_path / "r.csv")} == {"alice.py", "bob_2_assignsubmission_file_", "carol.zip", "dave.zip"}
    assert "the class's own export found in the folder it was unpacked into (1): submissions.zip" in result.stderr


def test_an_output_over_a_learners_code_or_the_export_itself_is_refused_and_nothing_is_lost(run, klass, tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("class/a.py", CORRECT)
    code = (klass / "suzuki.py").read_bytes()
    for args in ((archive, "--out", archive), (klass, "--out", klass / "suzuki.py"),
                 (klass, "--out", tmp_path / "r.csv", "--junit", klass / "notes.ipynb"),
                 (klass, "--out", tmp_path / "r.csv", "--junit", archive)):
        result = run("batch", *args, "--seed", 1)
        assert result.exit_code == 4 and "would overwrite it" in result.output, result.output
    assert zipfile.ZipFile(archive).namelist() == ["class/a.py"] and (klass / "suzuki.py").read_bytes() == code
    assert not (tmp_path / "r.csv").exists()


def test_outputs_that_would_replace_a_device_a_pipe_or_a_link_or_go_into_a_shards_records_are_refused(run, klass, tmp_path):
    import os

    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    for outputs in (("--junit", tmp_path / "fifo"), ("--json-dir", tmp_path / "link" / "j"), ("--out", tmp_path / "link")):
        result = run("batch", klass, "--out", tmp_path / "o" / "r.csv", *outputs, "--seed", 1)
        assert result.exit_code == 4 and "Cannot write" in result.output, result.output
    assert not (tmp_path / "o").exists() and (tmp_path / "fifo").is_fifo()
    assert run("batch", klass, "--out", tmp_path / "s.csv", "--seed", 1).exit_code == 0
    into_records = run("merge", tmp_path / "s.csv", "--out", tmp_path / "m.csv", "--junit", tmp_path / "s.state" / "batch.json")
    assert into_records.exit_code == 4 and (tmp_path / "s.state" / "batch.json").read_text(encoding="utf-8").startswith("{")
    own_records = run("batch", klass, "--out", tmp_path / "s.csv", "--junit", tmp_path / "s.state" / "batch.json")
    assert own_records.exit_code == 4 and (tmp_path / "s.state" / "batch.json").read_text(encoding="utf-8").startswith("{")
    into_class = run("batch", klass, "--out", tmp_path / "t.csv", "--gradescope-dir", klass)
    assert into_class.exit_code == 4 and "it is the class folder" in into_class.output
    gradescope = tmp_path / "gs"
    over_a_report = run("batch", klass, "--out", tmp_path / "u.csv", "--junit", gradescope / "suzuki.py",
                        "--gradescope-dir", gradescope)
    assert over_a_report.exit_code == 4 and "is where the report of suzuki.py goes" in over_a_report.output
    beside_reports = run("batch", klass, "--out", gradescope / "r.csv", "--gradescope-dir", gradescope, "--seed", 1)
    assert beside_reports.exit_code == 0 and (gradescope / "suzuki.py" / "results.json").is_file()


def test_merge_of_shards_graded_from_different_states_of_the_class_warns_and_exits_1(run, klass, tmp_path):
    """A learner added between two shards' runs may fall in the shard that ran before it came."""
    parts = [tmp_path / "s1.csv", tmp_path / "s2.csv"]
    assert run("batch", klass, "--out", parts[0], "--seed", 13, "--shard", "1/2").exit_code == 0
    (klass / "late.py").write_text(CORRECT, encoding="utf-8")
    assert run("batch", klass, "--out", parts[1], "--seed", 13, "--shard", "2/2").exit_code == 0
    result = run("merge", *parts, "--out", tmp_path / "merged.csv")
    assert result.exit_code == 1 and "different listings of the class" in result.output
    summary = json.loads((tmp_path / "merged.summary.json").read_text(encoding="utf-8"))
    assert summary["classes_differ"] is True


def test_merge_refuses_shards_graded_with_different_seeds(run, klass, tmp_path):
    run("batch", klass, "--out", tmp_path / "a.csv", "--seed", 1, "--shard", "1/2")
    run("batch", klass, "--out", tmp_path / "b.csv", "--seed", 2, "--shard", "2/2")
    result = run("merge", tmp_path / "a.csv", tmp_path / "b.csv", "--out", tmp_path / "m.csv")
    assert result.exit_code == 4 and "different seeds" in result.output


def test_one_hostile_submission_does_not_change_the_others(run, tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "a_hang.py").write_text(CORRECT.replace("def softmax(a):", "def softmax(a):\n    while True: pass"), encoding="utf-8")
    (folder / "b_exit.py").write_text("import os\nos._exit(0)\n", encoding="utf-8")
    (folder / "c_good.py").write_text(CORRECT, encoding="utf-8")
    (folder / "d_syntax.py").write_text("def softmax(a)\n    return a\n", encoding="utf-8")
    (folder / "e_latin1.py").write_bytes("# café\nx = 1\n".encode("latin-1"))
    (folder / "f_shift_jis.py").write_bytes("# 損失関数\nx = 1\n".encode("cp932"))
    (folder / "g_empty.py").write_bytes(b"\xef\xbb\xbf\n")
    out = tmp_path / "results.csv"
    result = run("batch", folder, "--out", out, "--seed", 2, "--timeout", 0.5, "--load-timeout", 2)
    assert result.exit_code == 0
    rows = {r["submission"]: r for r in read_csv(out)}
    assert rows["c_good.py"]["score"] == "100"
    # softmax's 8 points lost, and the 2 of simpleNet's end-to-end gradient, which calls it
    assert float(rows["a_hang.py"]["score"]) == 90
    assert rows["b_exit.py"]["score"] == "0"
    # code that could be read but did not run is a load error, not an unreadable file
    assert [rows[name]["status"] for name in ("a_hang.py", "b_exit.py", "d_syntax.py")] == ["load errors"] * 3
    assert rows["e_latin1.py"]["status"] == rows["f_shift_jis.py"]["status"] == rows["g_empty.py"]["status"] == "unreadable"


def test_a_zip_export_with_a_wrapping_folder_and_shift_jis_names(run, tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("assignment4/山田.py", CORRECT)  # UTF-8, and flagged so by zipfile
        bundle.writestr("assignment4/ABCD.py", FORWARD)  # renamed below to Shift_JIS, unflagged
        bundle.writestr("../escape.py", CORRECT)
        bundle.writestr("__MACOSX/._山田.py", "junk")
    shift_jis = "佐藤.py".encode("shift_jis")
    assert len(shift_jis) == len(b"ABCD.py")
    archive.write_bytes(archive.read_bytes().replace(b"ABCD.py", shift_jis))
    out = tmp_path / "results.csv"
    result = run("batch", archive, "--out", out, "--seed", 4)
    assert result.exit_code == 0, result.output
    rows = {r["submission"]: r["score"] for r in read_csv(out)}
    assert rows == {"山田.py": "100", "佐藤.py": "91"}
    assert not (tmp_path / "escape.py").exists()


def test_unpacking_leaves_out_members_deeper_than_any_project(tmp_path):
    archive = tmp_path / "deep.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("a/" * 1500 + "deep.py", "x = 1")
        bundle.writestr("ok.py", "x = 1")
    (tmp_path / "out").mkdir()
    root = unpack_zip(archive, tmp_path / "out").root
    assert [p.name for p in root.iterdir()] == ["ok.py"]


def test_unpacking_refuses_paths_that_leave_the_folder(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("/etc/evil.py", "x = 1")
        bundle.writestr("a/../../evil2.py", "x = 1")
        bundle.writestr("ok.py", "x = 1")
    (tmp_path / "out").mkdir()
    unpacked = unpack_zip(archive, tmp_path / "out")
    assert [p.name for p in unpacked.root.rglob("*.py")] == ["ok.py"]
    assert sorted(unpacked.refused) == ["/etc/evil.py", "a/../../evil2.py"]  # (said so: summary.zip_refused)


@pytest.fixture
def small_zip_limits(monkeypatch):
    """1 MB a member, 3 MB in all: a few MB of zeros stand for an oversized export."""
    from grader.batch import discover

    monkeypatch.setattr(discover, "ZIP_MEMBER_MAX_BYTES", 1024 * 1024)
    monkeypatch.setattr(discover, "ZIP_MAX_BYTES", 3 * 1024 * 1024)


def test_an_oversized_zip_member_is_reported_for_its_learner_and_the_others_graded(run, tmp_path, small_zip_limits):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("assignment4/good.py", CORRECT)
        bundle.writestr("assignment4/big.py", b"\0" * (2 * 1024 * 1024))
        bundle.writestr("assignment4/tanaka/main.py", CORRECT)
        bundle.writestr("assignment4/tanaka/data/weights.npy", b"\0" * (2 * 1024 * 1024))
    out = tmp_path / "results.csv"
    result = run("batch", archive, "--out", out, "--seed", 4, "--json-dir", tmp_path / "json")
    assert result.exit_code == 0, result.output
    rows = {r["submission"]: r for r in read_csv(out)}
    assert rows["good.py"]["score"] == "100" and rows["good.py"]["status"] == "graded"
    for name, member in [("big.py", "big.py"), ("tanaka", "tanaka/data/weights.npy")]:
        assert rows[name]["status"] == "unreadable" and rows[name]["score"] == "0"
        [error] = json.loads((tmp_path / "json" / f"{name}.json").read_text(encoding="utf-8"))["errors"]
        assert error["message"].startswith(f"{member}: larger than 1 MB"), error["message"]


def _damage(archive, marker, count=1):
    """Flip ``count`` bytes of the member data that follows ``marker`` in ``archive``."""
    data = bytearray(archive.read_bytes())
    at = data.index(marker) + len(marker) + 10
    for offset in range(count):
        data[at + 20 * offset] ^= 0xFF
    archive.write_bytes(bytes(data))


def _mark_encrypted(archive, name):
    """Set the 'encrypted' flag of member ``name`` in its local and its central header."""
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as bundle:
        local = bundle.getinfo(name).header_offset
    data[local + 6] |= 0x1
    at = 0
    while (at := data.find(b"PK\x01\x02", at)) != -1:
        name_length = int.from_bytes(data[at + 28:at + 30], "little")
        if data[at + 46:at + 46 + name_length] == name.encode():
            data[at + 8] |= 0x1
        at += 4
    archive.write_bytes(bytes(data))


def test_a_damaged_zip_member_is_reported_for_its_learner_and_the_others_graded(run, tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("assignment4/good.py", CORRECT)
        bundle.writestr("assignment4/crc.py", "# STORED-MARKER " + "x = 1\n" * 50, zipfile.ZIP_STORED)
        bundle.writestr("assignment4/sato/main.py", CORRECT * 3, zipfile.ZIP_DEFLATED)
        bundle.writestr("assignment4/bz.py", CORRECT * 3, zipfile.ZIP_BZIP2)  # bz2 raises OSError
        bundle.writestr("assignment4/locked.py", CORRECT)
    _damage(archive, b"# STORED-MARKER ")
    _damage(archive, b"sato/main.py")  # inside the deflated data of the local header's member
    _damage(archive, b"assignment4/bz.py", count=20)
    _mark_encrypted(archive, "assignment4/locked.py")  # there is no password to give
    out = tmp_path / "results.csv"
    result = run("batch", archive, "--out", out, "--seed", 4, "--json-dir", tmp_path / "json")
    assert result.exit_code == 0, result.output
    rows = {r["submission"]: r for r in read_csv(out)}
    assert rows["good.py"]["score"] == "100" and rows["good.py"]["status"] == "graded"
    for name, member in [("crc.py", "crc.py ("), ("sato", "sato/main.py ("), ("bz.py", "bz.py (")]:
        assert rows[name]["status"] == "unreadable" and rows[name]["score"] == "0"
        [error] = json.loads((tmp_path / "json" / f"{name}.json").read_text(encoding="utf-8"))["errors"]
        assert error["message"].startswith(member) and "damaged in the .zip" in error["message"], error["message"]
    crc = json.loads((tmp_path / "json" / "crc.py.json").read_text(encoding="utf-8"))["errors"][0]["message"]
    assert crc.startswith("crc.py (its checksum does not match): ")  # the grader's words, not zipfile's
    assert rows["locked.py"]["status"] == "unreadable"
    [error] = json.loads((tmp_path / "json" / "locked.py.json").read_text(encoding="utf-8"))["errors"]
    assert error["message"].startswith("locked.py: protected by a password"), error["message"]


def test_large_files_in_folders_never_graded_are_not_unpacked_nor_held_against_anyone(run, tmp_path, small_zip_limits):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("assignment4/suzuki/main.py", CORRECT)
        for folder in (".git", "venv", "node_modules", "__pycache__"):
            bundle.writestr(f"assignment4/suzuki/{folder}/blob", b"\0" * (2 * 1024 * 1024))
    out = tmp_path / "results.csv"
    result = run("batch", archive, "--out", out, "--seed", 4)
    assert result.exit_code == 0, result.output
    [row] = read_csv(out)
    assert row["submission"] == "suzuki" and row["score"] == "100" and row["status"] == "graded"


def test_a_zip_refused_for_its_total_size_says_the_limit_in_megabytes(run, tmp_path, small_zip_limits):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for index in range(4):
            bundle.writestr(f"s{index}.py", b"#" * (1024 * 1024 - 1))
    result = run("batch", archive, "--out", tmp_path / "results.csv")
    assert result.exit_code == 4
    assert "more than 3 MB in all" in result.output and "files" not in result.output


class _LyingBundle:
    """A zip whose member yields more bytes than its header declares."""

    def __init__(self, data):
        self.data = data

    def open(self, member):
        return io.BytesIO(self.data)


def test_unpacking_counts_the_bytes_copied_not_the_size_a_header_declares(tmp_path):
    from grader.batch.discover import _copy_member

    member = zipfile.ZipInfo("liar.py")
    member.file_size = 10
    target = tmp_path / "liar.py"
    assert _copy_member(_LyingBundle(b"x" * 5000), member, target, limit=1000, room=10**6) is None
    assert not target.exists()
    assert _copy_member(_LyingBundle(b"x" * 5000), member, target, limit=10**6, room=1000) > 1000
    assert not target.exists()
    assert _copy_member(_LyingBundle(b"x" * 500), member, target, limit=1000, room=1000) == 500
    assert target.stat().st_size == 500


@pytest.mark.parametrize("args", [["batch", "/no/such/folder", "--out", "x.csv"], ["batch", ".", "--out", "x.csv", "--shard", "3/2"]])
def test_batch_usage_errors_exit_4(run, args, tmp_path):
    assert run(*args).exit_code == 4


def test_shards_are_stable_and_cover_everyone():
    names = [f"learner {i}" for i in range(50)]
    for count in (1, 2, 5):
        slices = [[n for n in names if in_shard(n, (k, count))] for k in range(1, count + 1)]
        assert sorted(sum(slices, [])) == sorted(names)


def test_file_names_for_outputs_keep_japanese_and_drop_separators():
    assert safe_file_name("山田/太郎:1") == "山田_太郎_1"
    long_name = "山" * 100 + ".py"  # 303 bytes: more than a file name may have
    assert safe_file_name(long_name) == "山" * 50 and len(safe_file_name(long_name).encode()) <= 150


def test_the_progress_bar_is_drawn_only_on_a_terminal():
    assert progress_bar(io.StringIO()) is None


def test_crash_messages_are_the_same_whatever_the_number_of_jobs(run, tmp_path):
    """Each learner's exit code reaches its own report, however many are graded at once."""
    folder = tmp_path / "class"
    folder.mkdir()
    for code in range(1, 9):
        source = CORRECT.replace("def function_tmp2(x1):\n", f"def function_tmp2(x1):\n    import os; os._exit({code})\n")
        assert source != CORRECT
        (folder / f"exit_{code}.py").write_text(source, encoding="utf-8")
    messages = {}
    for jobs in (1, 4):
        json_dir = tmp_path / f"json{jobs}"
        result = run("batch", folder, "--out", tmp_path / f"r{jobs}.csv", "--seed", 4, "--jobs", jobs, "--json-dir", json_dir)
        assert result.exit_code == 0, result.output
        for report_file in json_dir.glob("*.json"):
            report = json.loads(report_file.read_text(encoding="utf-8"))
            [check] = [c for c in report["checks"] if c["id"] == "derivatives.function_tmp2.values"]
            code = report["submission"].removeprefix("exit_").removesuffix(".py")
            assert f"(exit code {code})" in check["message"], check["message"]
            assert report["score"] == 98
            messages.setdefault(report["submission"], set()).add(check["message"])
    assert len(messages) == 8 and all(len(seen) == 1 for seen in messages.values())


class _FakeSession:
    def __init__(self, log, name):
        self.log, self.name = log, name

    def close(self):
        self.log.append(("close", self.name))


class _FakeGrader:
    """Records the order in which the batch starts, grades and finishes submissions."""

    def __init__(self, stop_after_first_run=None):
        self.log = []
        self.stop = stop_after_first_run

    def prepare(self, submission):
        self.log.append(("prepare", submission))
        return _FakeSession(self.log, submission)

    def start(self, session):
        self.log.append(("start", session.name))

    def grade_submission(self, submission, started=None, when_run=None):
        self.log.append(("grade", submission, started.name if started else None))
        if self.stop is not None:
            self.stop.set()
        when_run()  # its code and checks have run; it is judged next
        self.log.append(("judged", submission))
        return f"report of {submission}"


def _grade_all_with(grader, items, stop=None, keeping=None, jobs=1):
    import queue
    import threading

    from grader.batch.run import _Batch

    batch = object.__new__(_Batch)  # only what the grading stage uses
    batch.grader, batch.stop = grader, stop or threading.Event()
    reading, keeping = queue.Queue(), keeping or queue.Queue()
    for item in items:
        reading.put(item)
    batch._grade_all(reading, keeping, jobs)
    kept = []
    while not keeping.empty():
        kept.append(keeping.get())
    return kept


def test_the_next_submission_starts_when_the_last_has_run_not_before():
    """Its learner process is forked while the one before runs, and sent its code once that
    one's process has done its work, before it is judged: never more than --jobs learner
    processes running learner code."""
    grader = _FakeGrader()
    kept = _grade_all_with(grader, [("e1", "a.py"), ("e2", "b.py"), ("e3", "c.py"), None])
    assert grader.log == [
        ("prepare", "b.py"), ("grade", "a.py", None), ("start", "b.py"), ("judged", "a.py"),
        ("prepare", "c.py"), ("grade", "b.py", "b.py"), ("start", "c.py"), ("judged", "b.py"),
        ("grade", "c.py", "c.py"), ("judged", "c.py"),
    ]
    assert [item[1] for item in kept[:3]] == ["report of a.py", "report of b.py", "report of c.py"]
    assert kept[3] is None


def test_the_next_submission_waits_for_its_code_while_the_writer_is_behind():
    """Started, its output would wait in a pipe until this thread is back to read it: not while
    putting the report may wait for the writer (a slow disk). It is sent its code when graded."""
    import queue

    keeping = queue.Queue(maxsize=10)
    keeping.put("a report not yet written")  # room for 9 more, and 10 threads could put one each
    grader = _FakeGrader()
    _grade_all_with(grader, [("e1", "a.py"), ("e2", "b.py"), None], keeping=keeping, jobs=10)
    assert ("start", "b.py") not in grader.log
    assert grader.log[:3] == [("prepare", "b.py"), ("grade", "a.py", None), ("judged", "a.py")]
    assert ("grade", "b.py", "b.py") in grader.log  # its process, forked ahead, still serves


def test_a_submission_forked_ahead_is_graded_by_the_first_thread_free_not_held():
    """Forked while a slow submission runs, the next one is any thread's: another thread, free
    first, grades it, rather than it waiting for the slow one (a class's end would wait too)."""
    import queue
    import threading

    from grader.batch.run import _Batch, _Prepared

    class Slow(_FakeGrader):
        def __init__(self):
            super().__init__()
            self.grading_a = threading.Event()

        def grade_submission(self, submission, started=None, when_run=None):
            self.log.append(("grade", submission, started.name if started else None))
            if submission == "a.py":
                self.grading_a.set()
                time.sleep(1.0)
            when_run()
            self.log.append(("judged", submission))
            return f"report of {submission}"

    grader = Slow()
    batch = object.__new__(_Batch)
    batch.grader, batch.stop = grader, threading.Event()
    reading, keeping, prepared = queue.Queue(), queue.Queue(), _Prepared()
    for item in [("e1", "a.py"), ("e2", "b.py"), ("e3", "c.py"), None, None]:
        reading.put(item)
    first = threading.Thread(target=batch._grade_all, args=(reading, keeping, 2, prepared))
    first.start()
    assert grader.grading_a.wait(10)  # (b.py is forked ahead by then: before a.py is graded)
    second = threading.Thread(target=batch._grade_all, args=(reading, keeping, 2, prepared))
    second.start()
    first.join(10)
    second.join(10)
    assert ("prepare", "b.py") in grader.log
    assert grader.log.index(("judged", "b.py")) < grader.log.index(("judged", "a.py"))
    assert sorted(entry[1] for entry in grader.log if entry[0] == "judged") == ["a.py", "b.py", "c.py"]


def test_a_stopping_batch_starts_nothing_more():
    import threading

    stop = threading.Event()
    grader = _FakeGrader(stop_after_first_run=stop)
    _grade_all_with(grader, [("e1", "a.py"), ("e2", "b.py"), None], stop)
    assert ("start", "b.py") not in grader.log and not any(entry[:2] == ("grade", "b.py") for entry in grader.log)
    assert ("close", "b.py") in grader.log  # the process forked for it is ended


def test_a_batch_keeps_what_the_grader_holds_out_of_the_collectors_sight_while_it_runs(run, klass, tmp_path,
                                                                                       monkeypatch):
    """A full collection of the grader's start-up objects held the GIL for tens of milliseconds
    while learner processes waited: frozen while the batch grades, and given back after."""
    import gc

    from grader.runner import Grader

    frozen = []
    grade = Grader.grade_submission

    def recording(self, *args, **kwargs):
        frozen.append(gc.get_freeze_count())
        return grade(self, *args, **kwargs)

    monkeypatch.setattr(Grader, "grade_submission", recording)
    assert gc.get_freeze_count() == 0
    assert run("batch", klass, "--out", tmp_path / "r.csv", "--seed", 1).exit_code == 0
    assert len(frozen) == 6 and min(frozen) > 10_000
    assert gc.get_freeze_count() == 0


def test_the_class_summary_is_the_same_in_whatever_order_results_come(run, klass, tmp_path):
    """A batch adds each result to the summary as it comes, in an order the number of jobs
    decides; the summary must be the one its records give in any order."""
    import random

    from grader.batch.run import outputs_of
    from grader.batch.state import BatchState

    out = tmp_path / "r.csv"
    assert run("batch", klass, "--out", out, "--seed", 8, "--jobs", 3).exit_code == 0
    written = json.loads((tmp_path / "r.summary.json").read_text(encoding="utf-8"))
    records = list(BatchState(tmp_path / "r.state").records())
    assert len(records) == 6
    for seed in range(3):
        random.Random(seed).shuffle(records)
        rebuilt = outputs_of(records)[1].data()
        assert rebuilt == written
        assert list(rebuilt["checks"]) != sorted(rebuilt["checks"])  # the catalogue's order, not by name


def _files(folder):
    """{path relative to ``folder``: bytes} of every file under it."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_resume_writes_the_outputs_newly_asked_for_from_the_records(run, klass, tmp_path):
    first = tmp_path / "a" / "results.csv"
    assert run("batch", klass, "--out", first, "--seed", 5).exit_code == 0
    a = tmp_path / "a"
    result = run("batch", klass, "--out", first, "--resume", "--junit", a / "junit.xml", "--json-dir", a / "json",
                 "--gradescope-dir", a / "gs")
    assert result.exit_code == 0 and "6 unchanged submissions kept" in result.output  # none graded again
    b = tmp_path / "b"
    assert run("batch", klass, "--out", b / "results.csv", "--seed", 5, "--junit", b / "junit.xml",
               "--json-dir", b / "json", "--gradescope-dir", b / "gs").exit_code == 0
    assert len(ElementTree.parse(a / "junit.xml").getroot().findall("testsuite")) == 6
    assert (a / "junit.xml").read_bytes() == (b / "junit.xml").read_bytes()
    assert len(_files(a / "json")) == 6 and _files(a / "json") == _files(b / "json")
    assert len(_files(a / "gs")) == 6 and _files(a / "gs") == _files(b / "gs")


def test_resume_grades_again_a_record_that_lacks_its_report(run, klass, tmp_path):
    from grader.batch.state import BatchState

    out = tmp_path / "results.csv"
    assert run("batch", klass, "--out", out, "--seed", 5).exit_code == 0
    state = BatchState(tmp_path / "results.state")
    record = state.read("suzuki.py")
    del record["report"]
    state.write(record)
    result = run("batch", klass, "--out", out, "--resume", "--json-dir", tmp_path / "json")
    assert "5 unchanged submissions kept" in result.output
    assert len(_files(tmp_path / "json")) == 6


def test_merge_writes_junit_for_shards_graded_without_it(run, klass, tmp_path):
    assert run("batch", klass, "--out", tmp_path / "whole.csv", "--seed", 13, "--junit", tmp_path / "whole.xml").exit_code == 0
    parts = [tmp_path / f"shard{index}.csv" for index in (1, 2)]
    for index, part in enumerate(parts, 1):
        assert run("batch", klass, "--out", part, "--seed", 13, "--shard", f"{index}/2").exit_code == 0
    result = run("merge", *parts, "--out", tmp_path / "merged.csv", "--junit", tmp_path / "merged.xml")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "merged.xml").read_bytes() == (tmp_path / "whole.xml").read_bytes()


def test_outputs_written_inside_the_class_folder_are_not_taken_for_learners(run, klass, tmp_path):
    out = klass / "results.csv"
    outputs = ["--json-dir", klass / "js", "--gradescope-dir", klass / "gs", "--junit", klass / "j.xml"]
    assert run("batch", klass, "--out", out, "--seed", 5, *outputs).exit_code == 0
    uninterrupted = out.read_bytes()
    result = run("batch", klass, "--out", out, "--resume", *outputs)
    assert result.exit_code == 0, result.output
    assert "6 unchanged submissions kept" in result.output
    assert "outputs of this or an earlier batch found in the class folder (6)" in result.output
    assert "(skipped, not submissions (1): README.txt)" in result.output
    assert len(ElementTree.parse(klass / "j.xml").getroot().findall("testsuite")) == 6
    assert out.read_bytes() == uninterrupted


def test_symbolic_links_in_a_class_are_not_followed_and_are_reported(run, klass, tmp_path):
    outside = tmp_path / "outside.py"
    outside.write_text(CORRECT, encoding="utf-8")
    (klass / "linked.py").symlink_to(outside)
    (klass / "linked_folder").symlink_to(klass / "tanaka", target_is_directory=True)
    out = tmp_path / "results.csv"
    result = run("batch", klass, "--out", out, "--seed", 5)
    assert result.exit_code == 0
    assert "symbolic links not followed (2): linked.py, linked_folder" in result.output
    assert not {"linked.py", "linked_folder"} & {row["submission"] for row in read_csv(out)}


def test_an_empty_class_says_so_and_records_the_seed_it_used(run, tmp_path):
    (tmp_path / "empty").mkdir()
    result = run("batch", tmp_path / "empty", "--out", tmp_path / "results.csv", "--seed", 5)
    assert result.exit_code == 0
    assert "Graded no submissions (seed 5)." in result.output and "no submissions found" in result.output
    assert "): " not in result.output  # (no list of statuses to follow)
    assert json.loads((tmp_path / "results.summary.json").read_text(encoding="utf-8"))["seed"] == 5


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_progress_bar_shows_the_cursor_again_and_ends_its_line_however_the_batch_ends(monkeypatch, tmp_path):
    from grader import api
    from grader.batch import run as batch_run

    terminal, drawing = _Terminal(), batch_run.progress_bar
    monkeypatch.setattr(batch_run, "progress_bar", lambda: drawing(terminal))

    def interrupted(options, manager, progress, host):
        progress(1, 5)
        raise KeyboardInterrupt

    monkeypatch.setattr(batch_run, "run_batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        api.run_batch(tmp_path, tmp_path / "results.csv")
    drawn = terminal.getvalue()
    assert "\x1b[?25l" in drawn  # the bar hid the cursor...
    assert drawn.rindex("\x1b[?25h") > drawn.rindex("\x1b[?25l") and drawn.endswith("\n")  # ...and showed it again


def test_a_refused_merge_writes_nothing(run, klass, tmp_path):
    run("batch", klass, "--out", tmp_path / "whole.csv", "--seed", 1)
    run("batch", klass, "--out", tmp_path / "half.csv", "--seed", 1, "--shard", "1/2")
    result = run("merge", tmp_path / "whole.csv", tmp_path / "half.csv", "--out", tmp_path / "m.csv")
    assert result.exit_code == 4 and "more than one shard" in result.output
    assert not (tmp_path / "m.state").exists() and not (tmp_path / "m.csv").exists()


def test_merge_refuses_to_write_over_one_of_its_shards(run, klass, tmp_path):
    parts = [tmp_path / "1of2.csv", tmp_path / "2of2.csv"]
    for index, part in enumerate(parts, 1):
        run("batch", klass, "--out", part, "--seed", 1, "--shard", f"{index}/2")
    before = (tmp_path / "1of2.state" / "batch.json").read_bytes()
    result = run("merge", *parts, "--out", parts[0])
    assert result.exit_code == 4 and "give --out a path of its own" in result.output
    assert (tmp_path / "1of2.state" / "batch.json").read_bytes() == before


def _two_entries(folder):
    (folder / "tanaka").mkdir(parents=True)
    (folder / "tanaka" / "a.py").write_text(CORRECT, encoding="utf-8")
    (folder / "tanaka" / "b.py").write_text(CORRECT, encoding="utf-8")
    (folder / "sato.py").write_text(CORRECT, encoding="utf-8")  # (a .zip of one folder is unwrapped)


@pytest.mark.parametrize("packed", [False, True])
def test_a_project_folder_with_two_entries_is_explained_without_grade_submits_options(run, tmp_path, packed):
    folder = tmp_path / "class"
    _two_entries(folder)
    submissions = folder
    if packed:
        submissions = tmp_path / "export.zip"
        with zipfile.ZipFile(submissions, "w") as bundle:
            for path in folder.rglob("*.py"):
                bundle.write(path, path.relative_to(folder).as_posix())
    result = run("batch", submissions, "--out", tmp_path / "results.csv", "--seed", 1, "--json-dir", tmp_path / "json")
    assert result.exit_code == 0, result.output
    [error] = json.loads((tmp_path / "json" / "tanaka.json").read_text(encoding="utf-8"))["errors"]
    assert "tanaka: a project folder needs exactly one" in error["message"] and "(found: a.py, b.py)" in error["message"]
    assert "--entry" not in error["message"] and "grade-batch-" not in error["message"], error["message"]


def test_a_project_folder_with_no_entry_says_it_has_none_in_the_batchs_language(run, tmp_path):
    folder = tmp_path / "class"
    (folder / "suzuki").mkdir(parents=True)
    (folder / "suzuki" / "data.txt").write_text("1 2 3\n")
    out = tmp_path / "results.csv"
    result = run("batch", folder, "--out", out, "--seed", 1, "--json-dir", tmp_path / "json", "--lang", "ja")
    assert result.exit_code == 0, result.output
    [row] = read_csv(out)
    assert row["status"] == "unreadable"
    [error] = json.loads((tmp_path / "json" / "suzuki.json").read_text(encoding="utf-8"))["errors"]
    assert error["message"].startswith("suzuki: ") and "ありません" in error["message"]
    assert ".ipynb/.py" in error["message"] and " or " not in error["message"]


def test_an_earlier_runs_outputs_in_the_class_folder_are_left_out_whatever_this_runs_flags(run, tmp_path, monkeypatch):
    """Reports asked for last time (not now) are an earlier batch's outputs, not learners; so
    are the records of a run with another --out."""
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("alice.py", "bob.py"):
        (folder / name).write_text(CORRECT, encoding="utf-8")
    monkeypatch.chdir(folder)
    first = run("batch", ".", "--out", "results.csv", "--seed", 3, "--json-dir", "reports", "--gradescope-dir", "gs")
    assert first.exit_code == 0, first.output
    for _ in range(2):  # and the run after that too: the records remember what was written
        result = run("batch", ".", "--out", "results.csv", "--seed", 3)
        assert result.exit_code == 0, result.output
        assert sorted(row["submission"] for row in read_csv(folder / "results.csv")) == ["alice.py", "bob.py"]
    assert "gs, reports" in result.output
    (folder / "reports").rename(tmp_path / "reports")
    (folder / "gs").rename(tmp_path / "gs")
    result = run("batch", ".", "--out", "other.csv", "--seed", 3)
    assert sorted(row["submission"] for row in read_csv(folder / "other.csv")) == ["alice.py", "bob.py"]
    assert "results.state" in result.output


def test_an_earlier_runs_report_folders_are_left_out_whatever_its_out(run, tmp_path, monkeypatch):
    """--json-dir and --gradescope-dir folders of a run with another --out (which this run's
    records do not know) are told by what they hold: reports grade writes, and no code."""
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("alice.py", "bob.py"):
        (folder / name).write_text(CORRECT, encoding="utf-8")
    monkeypatch.chdir(folder)
    first = run("batch", ".", "--out", str(tmp_path / "first.csv"), "--seed", 3, "--json-dir", "reports",
                "--gradescope-dir", "gs")
    assert first.exit_code == 0, first.output
    (folder / "reports" / ".DS_Store").write_bytes(b"\0")
    # Look-alikes are learners: JSON that is not a report, and a report beside code.
    (folder / "carol").mkdir()
    (folder / "carol" / "data.json").write_text('{"score": 1}')
    (folder / "dave").mkdir()
    shutil.copyfile(folder / "reports" / "alice.py.json", folder / "dave" / "alice.py.json")
    (folder / "dave" / "main.py").write_text(CORRECT, encoding="utf-8")
    # A report of a file no classmate is named for (one's own, or forged to drop out): a learner.
    (folder / "erin").mkdir()
    shutil.copyfile(folder / "reports" / "alice.py.json", folder / "erin" / "essay.json")
    result = run("batch", ".", "--out", str(tmp_path / "second.csv"), "--seed", 3)
    assert result.exit_code == 0, result.output
    rows = {row["submission"]: row["status"] for row in read_csv(tmp_path / "second.csv")}
    assert rows == {"alice.py": "graded", "bob.py": "graded", "carol": "unreadable", "dave": "graded", "erin": "unreadable"}
    assert "gs, reports" in result.output


def test_a_learners_folder_that_looks_like_records_cannot_leave_out_a_classmate(run, tmp_path):
    folder = tmp_path / "class"
    for name in ("mallory", "trudy.state"):
        (folder / name / "records").mkdir(parents=True)
        (folder / name / "batch.json").write_text(json.dumps({"outputs": [str(folder / "alice.py")]}))
    (folder / "alice.py").write_text(CORRECT, encoding="utf-8")
    out = tmp_path / "results.csv"
    result = run("batch", folder, "--out", out, "--seed", 3)
    assert result.exit_code == 0
    # Only a folder named as records are (``NAME.state``) is left out as one, and said so: a
    # learner's folder that merely holds such files is graded, not quietly dropped from the class.
    rows = {row["submission"]: row["status"] for row in read_csv(out)}
    assert rows == {"alice.py": "graded", "mallory": "unreadable"}
    assert "trudy.state" in result.output


@pytest.mark.parametrize("extra", [["--junit", "{out}"], ["--junit", "{summary}"], ["--json-dir", "{state}"]])
def test_two_outputs_at_one_path_are_refused_before_anything_is_written(run, klass, tmp_path, extra):
    out = tmp_path / "r.csv"
    names = {"out": out, "summary": tmp_path / "r.summary.json", "state": tmp_path / "r.state"}
    result = run("batch", klass, "--out", out, "--seed", 1, *[part.format(**names) for part in extra])
    assert result.exit_code == 4 and "two outputs cannot share a path" in result.output
    assert not out.exists() and not (tmp_path / "r.state").exists()


def test_merge_refuses_a_junit_file_over_one_of_its_shards(run, klass, tmp_path):
    parts = [tmp_path / "1of2.csv", tmp_path / "2of2.csv"]
    for index, part in enumerate(parts, 1):
        run("batch", klass, "--out", part, "--seed", 1, "--shard", f"{index}/2")
    before = parts[0].read_bytes()
    result = run("merge", *parts, "--out", tmp_path / "m.csv", "--junit", parts[0])
    assert result.exit_code == 4 and parts[0].read_bytes() == before


def test_the_class_summary_says_its_statuses_in_the_batchs_language(run, tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "good.py").write_text(CORRECT, encoding="utf-8")
    (folder / "binary.py").write_bytes(b"\x00\x01\x02")
    result = run("batch", folder, "--out", tmp_path / "r.csv", "--seed", 1, "--lang", "ja")
    assert "採点済み 1 件" in result.output and "読めない 1 件" in result.output and "graded" not in result.output
    assert {row["status"] for row in read_csv(tmp_path / "r.csv")} == {"graded", "unreadable"}  # (the CSV's own words)



def test_a_file_name_that_is_not_utf8_is_graded_under_a_readable_name(run, tmp_path):
    import os

    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "honest.py").write_text(CORRECT, encoding="utf-8")
    raw = os.path.join(os.fsencode(folder), b"bad\xff\xfename.py")
    with open(raw, "w", encoding="utf-8") as handle:
        handle.write(CORRECT)
    out = tmp_path / "r.csv"
    result = run("batch", folder, "--out", out, "--seed", 1, "--json-dir", tmp_path / "json")
    assert result.exit_code == 0, result.output
    rows = {row["submission"]: row for row in read_csv(out)}
    [odd] = [name for name in rows if name != "honest.py"]
    assert odd.startswith("bad\ufffd\ufffdname.py~") and rows[odd]["score"] == rows["honest.py"]["score"] == "100"
    assert (tmp_path / "json" / f"{odd}.json").exists()


def test_a_zip_whose_member_name_is_not_the_utf8_it_claims_is_refused_not_a_crash(run, tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("\u00e9.py", CORRECT)  # flagged UTF-8 by zipfile
    data = bytearray(archive.read_bytes())
    data = data.replace("\u00e9".encode(), b"\xff\xfe")
    archive.write_bytes(bytes(data))
    result = run("batch", archive, "--out", tmp_path / "r.csv")
    assert result.exit_code == 4 and "not a readable .zip" in result.output


def test_an_output_whose_name_is_too_long_is_refused_before_anything_is_graded(run, tmp_path):
    """246 letters and ".csv" make a file's name, but not its summary's (``.summary.json``) nor
    the temporary file it is written through: that failed after grading the whole class."""
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "s.py").write_text(CORRECT, encoding="utf-8")
    result = run("batch", folder, "--out", tmp_path / "o" / ("a" * 246 + ".csv"), "--seed", 1)
    assert result.exit_code == 4 and "Cannot write" in result.output and "Graded" not in result.output
    assert not (tmp_path / "o").exists()
    long_enough = run("batch", folder, "--out", tmp_path / "o" / ("a" * 240 + ".csv"), "--seed", 1)
    assert long_enough.exit_code == 0, long_enough.output
    assert read_csv(tmp_path / "o" / ("a" * 240 + ".csv"))[0]["status"] == "graded"


def test_the_records_folder_where_a_learners_report_goes_is_refused(run, tmp_path):
    folder = tmp_path / "class"
    (folder / "r.state").mkdir(parents=True)
    (folder / "r.state" / "main.py").write_text(CORRECT, encoding="utf-8")
    gradescope = tmp_path / "gs"
    result = run("batch", folder, "--out", gradescope / "r.csv", "--gradescope-dir", gradescope, "--seed", 1)
    assert result.exit_code == 4 and "is where the report of r.state goes" in result.output


@pytest.mark.parametrize("damage", [{"names": [1, "s.py"]}, {"names": "s.py"}, {"kept": [["s.py"]]}, {"kept": [{}]},
                                    {"seed": [1]}, {"seed": "1"}, {"fingerprint": {}}])
def test_merge_of_records_damaged_by_hand_is_no_internal_error(run, tmp_path, damage):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "s.py").write_text(CORRECT, encoding="utf-8")
    assert run("batch", folder, "--out", tmp_path / "s.csv", "--seed", 1).exit_code == 0
    meta_file = tmp_path / "s.state" / "batch.json"
    meta_file.write_text(json.dumps({**json.loads(meta_file.read_text(encoding="utf-8")), **damage}), encoding="utf-8")
    (tmp_path / "s.state" / "records" / "junk.json").write_text("[1, 2]", encoding="utf-8")
    result = run("merge", tmp_path / "s.csv", "--out", tmp_path / "m.csv")
    assert result.exit_code in (0, 1, 4) and "Internal error" not in result.output, result.output
    if {"names", "seed", "fingerprint"} & set(damage):
        assert result.exit_code == 4 and "records" in result.output


def test_a_moodle_online_text_folder_holding_no_code_is_skipped_not_graded(run, tmp_path):
    """Moodle's "download all submissions" gives each learner a folder per submission plugin:
    the online text's alone (``onlinetext.html``) is no submission of its own, beside the
    learner's file folder; a learner who handed in online text only has a row, for want of code."""
    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("山田 太郎_12345_assignsubmission_file_/main.py", CORRECT)
        bundle.writestr("山田 太郎_12345_assignsubmission_onlinetext_/onlinetext.html", "<p>done</p>")
        bundle.writestr("佐藤 花子_67890_assignsubmission_onlinetext_/onlinetext.html", "<p>pasted</p>")
        bundle.writestr("佐藤 花子_67890_assignsubmission_onlinetext_/answer.py", FORWARD)  # code: graded
        bundle.writestr("鈴木 一郎_24680_assignsubmission_file_/report.pdf", "%PDF")  # no code, other name: graded
        bundle.writestr("高橋 蓮_13579_assignsubmission_onlinetext_/onlinetext.html", "<p>forgot</p>")  # text only
    out = tmp_path / "results.csv"
    result = run("batch", archive, "--out", out, "--seed", 4)
    assert result.exit_code == 0, result.output
    rows = {row["submission"]: row for row in read_csv(out)}
    assert sorted(rows) == ["佐藤 花子_67890_assignsubmission_onlinetext_", "山田 太郎_12345_assignsubmission_file_",
                            "鈴木 一郎_24680_assignsubmission_file_", "高橋 蓮_13579_assignsubmission_onlinetext_"]
    assert rows["佐藤 花子_67890_assignsubmission_onlinetext_"]["score"] == "91"
    assert rows["鈴木 一郎_24680_assignsubmission_file_"]["status"] == "unreadable"
    assert rows["高橋 蓮_13579_assignsubmission_onlinetext_"]["status"] == "unreadable"
    assert "(skipped, not submissions (1): 山田 太郎_12345_assignsubmission_onlinetext_)" in result.stderr
    assert json.loads((tmp_path / "results.summary.json").read_text(encoding="utf-8"))["submissions"] == 4


def test_an_empty_file_gets_in_a_batch_exactly_what_grade_submit_gives_it(run, tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "empty.py").write_bytes(b"")
    result = run("batch", folder, "--out", tmp_path / "r.csv", "--seed", 2, "--json-dir", tmp_path / "json")
    assert result.exit_code == 0, result.output
    [row] = read_csv(tmp_path / "r.csv")
    alone = CliRunner().invoke(cli, ["submit", str(folder / "empty.py"), "--format", "csv", "--seed", "2"])
    assert row == next(csv.DictReader(io.StringIO(alone.stdout)))
    assert row["status"] == "unreadable" and row["score"] == "0"  # (as binary or undecodable files are)
    batched = json.loads((tmp_path / "json" / "empty.py.json").read_text(encoding="utf-8"))
    report = json.loads(run("submit", folder / "empty.py", "--format", "json", "--seed", 2).stdout)
    assert batched == report
    assert [error["message"] for error in batched["errors"]] == ["The file is empty: there is no code to grade."]


@pytest.fixture
def unreadable_class(tmp_path):
    """Twelve learners whose files are not text, and one readable."""
    folder = tmp_path / "class"
    folder.mkdir()
    for number in range(12):
        (folder / f"b{number:02d}.py").write_bytes(b"\x00\xff")
    (folder / "ok.py").write_text("x = 1\n", encoding="utf-8")
    return folder


def test_the_summary_names_the_submissions_that_could_not_be_read(run, unreadable_class, tmp_path):
    result = run("batch", unreadable_class, "--out", tmp_path / "r.csv", "--seed", 1)
    assert result.exit_code == 0, result.output
    named = ", ".join(f"b{number:02d}.py" for number in range(10))
    assert f"12 submissions could not be read or graded: {named} and 2 more\n" in result.stderr
    summary = json.loads((tmp_path / "r.summary.json").read_text(encoding="utf-8"))
    assert summary["not_graded"] == {"count": 12, "names": [f"b{number:02d}.py" for number in range(10)]}
    # Their checks never ran: the pass rates are ok.py's alone (which defines nothing).
    assert {check["graded"] for check in summary["checks"].values()} == {1}
    assert summary["scores"]["distribution"]["0-10%"] == 13
    japanese = run("batch", unreadable_class, "--out", tmp_path / "r.csv", "--resume", "--lang", "ja")
    assert f"読めなかった、または採点できなかった提出物 12 件: {named} ほか 2 件" in japanese.stderr


def test_the_names_of_submissions_not_read_cannot_drive_the_terminal(run, tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "\x1b[2Jx.py").write_bytes(b"\x00")
    result = run("batch", folder, "--out", tmp_path / "r.csv", "--seed", 1)
    assert "1 submission could not be read or graded: \ufffdx.py" in result.stderr and "\x1b" not in result.stderr


def test_the_names_of_submissions_not_graded_are_the_same_whatever_order_records_come_in():
    import random

    from grader.batch.summary import ClassSummary

    records = [{"name": f"n{number:02d}", "row": {"status": "internal error" if number % 2 else "unreadable"}}
               for number in range(30)]
    records.append({"name": "a-graded", "row": {"status": "graded"}})
    datas = []
    for seed in range(3):
        random.Random(seed).shuffle(records)
        summary = ClassSummary()
        for record in records:
            summary.add(record)
        datas.append(summary.data()["not_graded"])
    assert datas[0] == datas[1] == datas[2] == {"count": 30, "names": [f"n{number:02d}" for number in range(10)]}


def test_the_batchs_english_counts_of_one_are_singular(run, tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "only.py").write_bytes(b"\x00")
    first = run("batch", folder, "--out", tmp_path / "r.csv", "--seed", 1)
    assert "Graded 1 submission (seed 1): 1 unreadable\n" in first.stderr
    again = run("batch", folder, "--out", tmp_path / "r.csv", "--resume")
    assert "(1 unchanged submission kept from the last run)" in again.stderr


#: Each English message with a count, the count at 1, and what it must then say.
SINGULAR = [
    ("summary.graded", {"count": 1, "seed": 5, "statuses": ""}, "Graded 1 submission (seed 5)"),
    ("summary.resumed", {"count": 1}, "(1 unchanged submission kept"),
    ("summary.not_graded", {"count": 1, "names": "a.py"}, "1 submission could not be read or graded: a.py"),
    ("summary.ungraded", {"count": 1, "names": "a.py"}, "1 submission a shard listed was never graded"),
    ("summary.missing_shards", {"missing": "3", "missing_count": 1, "count": 3}, "shard 3 of 3 not given"),
    ("report.more_failures", {"count": 1}, "and 1 more failed check (use"),
    ("report.output_dropped", {"count": 1}, "(1 more byte not shown)"),
    ("outcome.timeout", {"seconds": "1"}, "within 1 second (an"),
    ("load.timeout", {"seconds": "1"}, "more than 1 second and"),
    ("load.budget", {"count": 1, "seconds": "3"}, "the 1 statement or cell after it was not run"),
    ("load.too_many_errors", {"count": 1}, "After 1 syntax error the"),
    ("load.exhausted", {"starts": 1}, "ended 1 time while"),
    ("compare.array", {"count": 1, "size": 1, "first": "[0] 1 → 2"}, "1 of 1 value differs;"),
    ("cli.starter_written", {"path": "s.py", "count": 1}, "1 function or class to fill in"),
    ("usage.min_score_too_high", {"min_score": "2", "max_score": "1"}, "the 1 point these checks give"),
    ("usage.zip_too_large", {"path": "a.zip", "count": 1}, "(1 file)"),
    ("load.too_large", {"size": 1, "limit": 1}, "is 1 byte; grade reads files of up to 1 byte."),
]


@pytest.mark.parametrize("message_id, params, said", SINGULAR, ids=[item[0] for item in SINGULAR])
def test_english_messages_say_a_count_of_one_in_the_singular_and_others_in_the_plural(message_id, params, said):
    from grader.messages import Messages, en, ja

    messages = Messages({"en": en.MESSAGES, "ja": ja.MESSAGES})
    assert said in messages.text(message_id, "en", **params)
    plural = messages.text(message_id, "en", **{key: 2 if value in (1, "1") else value for key, value in params.items()})
    assert said not in plural and "1" not in plural.replace("1 →", "")


def test_no_english_message_says_one_of_a_plural_noun():
    """Every parameter at 1: no "1 submissions", "1 seconds", "1 more failed checks"."""
    import re
    import string

    from grader.messages import Messages, en

    messages = Messages({"en": en.MESSAGES})
    nouns = "submissions|seconds|checks|bytes|values|times|errors|points|statements|cells|files|shards|functions|names"
    plural_after_one = re.compile(rf"\b1 (?:more |failed |unchanged |syntax |top-level )*(?:{nouns})\b")
    for message_id, template in en.MESSAGES.items():
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        text = messages.text(message_id, "en", **{name: ".py" if name == "suffixes" else 1 for name in names})
        assert not plural_after_one.search(text), text


def test_resuming_with_another_seed_warns_that_everything_is_graded_again(run, tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "only.py").write_bytes(b"\x00")
    assert run("batch", folder, "--out", tmp_path / "r.csv", "--seed", 1).exit_code == 0
    result = run("batch", folder, "--out", tmp_path / "r.csv", "--seed", 2, "--resume")
    assert result.exit_code == 0
    warning = "Warning: --seed 2 is not the seed of the run being resumed (1), so every submission is graded again"
    assert [line for line in result.stderr.splitlines() if "seed 2" in line and "(1)" in line] == [result.stderr.splitlines()[0]]
    assert result.stderr.startswith(warning) and "unchanged" not in result.stderr
    same = run("batch", folder, "--out", tmp_path / "r.csv", "--seed", 2, "--resume")
    assert "Warning" not in same.stderr and "(1 unchanged submission kept" in same.stderr
    japanese = run("batch", folder, "--out", tmp_path / "r.csv", "--seed", 3, "--resume", "--lang", "ja")
    assert japanese.stderr.startswith("警告: --seed 3 は再開する実行のシード（2）と違うため")


@pytest.mark.parametrize("flag, where", [("--json-dir", "yamada/reports"), ("--gradescope-dir", "yamada"),
                                         ("--out", "yamada/out/results.csv"), ("--junit", "yamada/j.xml")])
def test_an_output_inside_a_learners_folder_in_the_class_is_refused_before_grading(run, klass, tmp_path, flag, where):
    (klass / "yamada").mkdir()
    (klass / "yamada" / "main.py").write_text(CORRECT, encoding="utf-8")
    before = _files(klass)
    out = ["--out", tmp_path / "r.csv"] if flag != "--out" else []
    result = run("batch", klass, *out, flag, klass / where, "--seed", 1)
    assert result.exit_code == 4, result.output
    assert f"{klass / where}: writing there would change yamada, a learner's submission in the class folder" in result.stderr
    assert "Graded" not in result.output and _files(klass) == before and not (tmp_path / "r.csv").exists()


def test_outputs_in_a_folder_of_their_own_in_the_class_folder_are_still_written(run, klass, tmp_path):
    outputs = ["--out", klass / "out" / "results.csv", "--json-dir", klass / "reports", "--gradescope-dir", klass / "gs"]
    for _ in range(2):  # the second time, the folders are there, full of reports
        result = run("batch", klass, *outputs, "--seed", 1)
        assert result.exit_code == 0, result.output
        assert len(read_csv(klass / "out" / "results.csv")) == 6
    assert "(3): gs, out, reports" in result.stderr


def test_entry_names_the_file_to_grade_in_a_learners_folder_of_several(run, tmp_path):
    """`--entry main.py`: a folder of several files is graded through it, exactly as `grade submit
    FOLDER --entry main.py` grades it; a folder of one file is graded through that one whatever
    its name; a folder of several without it stays unreadable, naming what it found."""
    folder = tmp_path / "class"
    helpers, _, rest = CORRECT.partition("def numerical_diff")
    (folder / "yamada").mkdir(parents=True)
    (folder / "yamada" / "utils.py").write_text(helpers, encoding="utf-8")
    (folder / "yamada" / "main.py").write_text("from utils import *\n\ndef numerical_diff" + rest, encoding="utf-8")
    (folder / "sato").mkdir()
    (folder / "sato" / "solution.py").write_text(CORRECT, encoding="utf-8")
    (folder / "suzuki").mkdir()
    for name in ("a.py", "b.py"):
        (folder / "suzuki" / name).write_text(CORRECT, encoding="utf-8")
    without = run("batch", folder, "--out", tmp_path / "without" / "r.csv", "--seed", 4)
    assert {row["submission"]: row["status"] for row in read_csv(tmp_path / "without" / "r.csv")}["yamada"] == "unreadable"
    result = run("batch", folder, "--out", tmp_path / "with" / "r.csv", "--seed", 4, "--entry", "main.py",
                 "--json-dir", tmp_path / "with" / "json")
    assert without.exit_code == 0 and result.exit_code == 0, result.output
    rows = {row["submission"]: (row["status"], row["score"]) for row in read_csv(tmp_path / "with" / "r.csv")}
    assert rows == {"yamada": ("graded", "100"), "sato": ("graded", "100"), "suzuki": ("unreadable", "0")}
    report = json.loads((tmp_path / "with" / "json" / "suzuki.json").read_text(encoding="utf-8"))
    assert "found: a.py, b.py" in report["errors"][0]["message"]
    alone = json.loads(run("submit", folder / "yamada", "--entry", "main.py", "--format", "json", "--seed", 4).output)
    batch = json.loads((tmp_path / "with" / "json" / "yamada.json").read_text(encoding="utf-8"))
    assert batch["checks"] == alone["checks"] and batch["score"] == alone["score"] == 100
    resumed = run("batch", folder, "--out", tmp_path / "without" / "r.csv", "--seed", 4, "--entry", "main.py", "--resume")
    assert resumed.exit_code == 0  # another --entry: nothing kept from the run without it
    assert {row["submission"]: row["status"] for row in read_csv(tmp_path / "without" / "r.csv")}["yamada"] == "graded"


def test_a_deeply_nested_folder_is_looked_through_without_an_internal_error(run, tmp_path):
    """Whether a Moodle online-text folder holds code, and whether an output's folder in the class
    is a learner's, are found by a walk that does not recurse: a folder nested past Python's
    recursion limit is no internal error. (The class is made outside pytest's temporary folders:
    pytest removes those with shutil.rmtree, which recurses, so a run cut off before this test
    removes its tree must not leave one there.)"""
    folder = Path(tempfile.mkdtemp(prefix="grade-deep-")) / "class"
    (folder / "a.py").parent.mkdir(parents=True)
    (folder / "a.py").write_text(CORRECT, encoding="utf-8")
    (folder / "x_1_assignsubmission_file_").mkdir()  # (the learner's code: their online text is skipped)
    (folder / "x_1_assignsubmission_file_" / "main.py").write_text(CORRECT, encoding="utf-8")
    deep = folder / "x_1_assignsubmission_onlinetext_"
    deep.mkdir()
    nested = str(deep)
    for _ in range(1100):  # (one at a time: Path.mkdir(parents=True) would itself recurse)
        nested += "/d"
        os.mkdir(nested)
    try:
        result = run("batch", folder, "--out", tmp_path / "o" / "r.csv", "--seed", 1)
        assert result.exit_code == 0 and "Internal error" not in result.output, result.output
        assert "x_1_assignsubmission_onlinetext_" in result.output  # named among what was skipped
        assert [row["submission"] for row in read_csv(tmp_path / "o" / "r.csv")] == ["a.py", "x_1_assignsubmission_file_"]
        reports = run("batch", folder, "--out", tmp_path / "p" / "r.csv", "--seed", 1, "--json-dir", deep / "reports")
        assert reports.exit_code == 0 and "Internal error" not in reports.output, reports.output
    finally:  # (removed one at a time: shutil.rmtree would recurse too)
        while nested != str(deep):
            os.rmdir(nested)
            nested = os.path.dirname(nested)
        shutil.rmtree(folder.parent)


def test_the_summary_prints_a_pass_rate_rounded_once():
    """14 of 17 is 82.35...%: 82.4%, not the 82.3% of the JSON's 0.8235 rounded again."""
    from grader.api import messages
    from grader.batch.summary import ClassSummary, render

    summary = ClassSummary()
    for number in range(17):
        status = "passed" if number < 14 else "failed"
        summary.add({"name": f"s{number}", "row": {"status": "graded"},
                     "report": {"score": 1.0, "max_score": 1.0, "checks": [{"id": "a.b.c", "status": status}]}})
    data = summary.data()
    assert data["checks"]["a.b.c"]["pass_rate"] == 0.8235
    assert "   82.4%  a.b.c" in render(data, messages())


def test_a_class_of_internal_errors_has_no_one_with_full_marks():
    """Their reports score 0 of 0: not full marks."""
    from grader.batch.summary import ClassSummary

    summary = ClassSummary()
    for number in range(2):
        summary.add({"name": f"s{number}", "row": {"status": "internal error"}, "report": {"score": 0.0, "max_score": 0.0}})
    assert summary.data()["scores"]["full_marks"] == 0


def test_resume_with_other_settings_says_why_it_grades_everything_again(run, tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "a.py").write_text(CORRECT, encoding="utf-8")
    assert run("batch", folder, "--out", tmp_path / "r.csv", "--seed", 2).exit_code == 0
    changed = run("batch", folder, "--out", tmp_path / "r.csv", "--resume", "--timeout", 7)
    assert changed.exit_code == 0 and "are not those of the run being resumed" in changed.stderr
    assert "kept from the last run" not in changed.stderr
    again = run("batch", folder, "--out", tmp_path / "r.csv", "--resume", "--timeout", 7)
    assert "1 unchanged submission kept" in again.stderr and "not those of the run" not in again.stderr


def test_a_zip_of_a_version_zipfile_does_not_know_is_its_learners_row_not_the_classs_end(run, tmp_path):
    """zipfile raises NotImplementedError for a "version needed to extract" it does not know:
    a learner's such .zip is their unreadable row; the class's own export is refused (exit 4)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("a/main.py", CORRECT)
        bundle.writestr("b/main.py", CORRECT)
    data = bytearray(buffer.getvalue())
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        data[at + 6:at + 8] = (87).to_bytes(2, "little")  # (version 8.7)
        at = data.find(b"PK\x01\x02", at + 4)
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "alice.py").write_text(CORRECT, encoding="utf-8")
    (folder / "mallory.zip").write_bytes(bytes(data))
    result = run("batch", folder, "--out", tmp_path / "r.csv", "--seed", 1)
    assert result.exit_code == 0, result.output
    rows = {row["submission"]: row["status"] for row in read_csv(tmp_path / "r.csv")}
    assert rows == {"alice.py": "graded", "mallory.zip": "unreadable"}
    (tmp_path / "export.zip").write_bytes(bytes(data))
    refused = run("batch", tmp_path / "export.zip", "--out", tmp_path / "e.csv")
    assert refused.exit_code == 4 and "not a readable .zip" in refused.output


def test_a_batchs_learner_processes_are_forked_holding_the_check_requests(run, klass, tmp_path, sent_by_index):
    """The requests, the same for the whole class, go to the sandbox host once; each learner
    process gets their indices (graded as when they are sent whole: test_sandbox)."""
    assert run("batch", klass, "--out", tmp_path / "results.csv", "--seed", 13).exit_code == 0
    assert len(sent_by_index) >= 4 and all(sent_by_index)
