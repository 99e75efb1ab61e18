"""``grade batch``: grade a class in parallel, one seed for all, every result kept as it comes."""
from __future__ import annotations

import collections
import contextlib
import csv
import dataclasses
import gc
import hashlib
import io
import json
import os
import queue
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

import pluggy

from grader import __version__
from grader.batch import summary as class_summary
from grader.batch.discover import (
    Entry, Listing, Unpacked, absolute_path, find_submissions, holds_gradable, in_shard, is_archive, lookalike_names,
    output_names, safe_file_name, unpack_zip, wrapped_class,
)
from grader.batch.state import BatchState, atomic_write, check_outputs, of_run, prepare_outputs, state_folder, summary_file
from grader.errors import UsageError
from grader.formats import RenderContext
from grader.formats import csv as csv_format
from grader.formats import gradescope, junit
from grader.formats.json import report_data
from grader.formats.text import plain
from grader.messages import collect_messages
from grader.model import ExitCode, Location, Message, Problem, Report, Submission
from grader.runner import Grader, Options
from grader.sandbox.client import Settings
from grader.sandbox.control import Host
from grader.seeds import fresh_seed
from grader.submission import (
    MEGABYTE, PROJECT_MAX_BYTES, PROJECT_MAX_FILES, UNREADABLE_MESSAGE_OF, folder_digest, refuse_output_over_code,
)

#: ``grade submit``'s refusals of a project folder, and what a batch says instead.
#: Seconds between two rewrites of the CSV while the batch runs.
CSV_REWRITE_SECONDS = 1.0


@dataclass(frozen=True)
class BatchOptions:
    submissions: Path
    out: Path
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    json_dir: Optional[Path] = None
    gradescope_dir: Optional[Path] = None
    junit: Optional[Path] = None
    resume: bool = False
    seed: Optional[int] = None
    #: In a learner's folder holding several files a loader reads, the one to grade (``--entry``).
    entry: Optional[str] = None
    shard: Optional[tuple[int, int]] = None
    lang: str = "en"
    settings: Settings = Settings()


@dataclass
class BatchResult:
    summary: dict
    graded: int = 0
    resumed: int = 0
    skipped: list = field(default_factory=list)
    #: Symbolic links in the class folder (never followed), and this batch's own outputs found
    #: there: left out, and said so.
    links: list = field(default_factory=list)
    own_outputs: list = field(default_factory=list)
    #: The class's own export .zip, found in the folder it was unpacked into: left out, and said so.
    exports: list = field(default_factory=list)
    #: The one folder the class folder held, whose entries were graded as the class (``wrapped_class``).
    wrapper: Optional[str] = None
    #: Names that look alike but are different strings (NFC and NFD): rows the CSV cannot tell apart.
    lookalikes: list = field(default_factory=list)
    #: Members of the class's .zip not unpacked (links, paths leaving it or too deep).
    zip_refused: tuple = ()
    #: Submissions in the class (every shard's), to warn of a class where none were found.
    found: int = 0
    interrupted: bool = False
    internal_errors: int = 0

    @property
    def exit_code(self) -> ExitCode:
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if self.internal_errors:
            return ExitCode.INTERNAL_ERROR
        return ExitCode.OK


def run_batch(options: BatchOptions, manager: pluggy.PluginManager,
              progress: Optional[Callable[[int, int], None]] = None, host: Optional[Host] = None) -> BatchResult:
    """Grade every submission in ``options.submissions``; return the class summary."""
    with tempfile.TemporaryDirectory(prefix="grade-batch-") as folder:
        # (the class's .zip unpacked in one folder, learners' own .zip files in another)
        class_folder, archives = Path(folder) / "class", Path(folder) / "archives"
        class_folder.mkdir()
        archives.mkdir()
        unpacked = Unpacked(options.submissions)
        if options.submissions.is_file() and options.submissions.suffix.lower() == ".zip":
            unpacked = unpack_zip(options.submissions, class_folder)
        return _Batch(options, manager, unpacked, host, archives).run(progress)


class _Batch:
    def __init__(self, options: BatchOptions, manager, unpacked: Unpacked, host: Optional[Host], scratch: Path):
        self.options = options
        #: Where learners' own .zip files are unpacked, each removed once its learner is graded.
        self.scratch = scratch
        self.archive_folders: dict[str, Path] = {}
        self.unpacked = unpacked
        self.root = unpacked.root
        self.state = BatchState(state_folder(options.out))
        self.messages = collect_messages(manager)
        self.context = RenderContext(self.messages, options.lang)
        self.seed = self._seed()
        #: Every file or folder this batch writes.
        self.outputs = [p for p in (options.out, self.state.folder, summary_file(options.out), options.json_dir,
                                    options.gradescope_dir, options.junit) if p is not None]
        check_outputs(self.outputs, inside=[self.state.folder])
        # A report folder that is the class folder would write into learners' projects.
        for folder in (options.json_dir, options.gradescope_dir):
            if folder is not None and absolute_path(folder) == absolute_path(options.submissions):
                raise UsageError("usage.cannot_write", path=folder, error="it is the class folder")
        self.grader = Grader(manager, Options(
            seed=self.seed,
            settings=options.settings,
            # Learner code may read none of the class's files nor the batch's outputs.
            deny_paths=tuple(str(p) for p in [options.submissions, self.root, *self.outputs]),
        ), host)
        self.fingerprint = _fingerprint(self.grader, options)
        self.stop = threading.Event()
        #: This run's rows and class summary, kept as results come (not read back at the end).
        self.rows: dict[str, dict] = {}
        self.summary = class_summary.ClassSummary(check_order=tuple(c.id for c in self.grader.catalogue.checks),
                                                  seed=self.seed)
        self.rows_lock = threading.Lock()
        self.last_csv_write = 0.0
        #: Each submission's name -> the name of its report files; set once the class is listed.
        self.output_names: dict[str, str] = {}
        self.class_reports: dict[str, str] = {}
        #: This run, as its records say; and the names of the records it kept (--resume).
        self.run_id = secrets.token_hex(8)
        self.kept: set[str] = set()
        #: Each report file this run wrote (as ``_report_files`` names it): when it wrote it.
        self.report_times: dict[str, Optional[int]] = {}

    def _seed(self) -> int:
        meta = self.state.meta() if self.options.resume else None
        #: The seed of the run --resume takes up (None: no run, or not resuming).
        self.resumed_seed = meta["seed"] if isinstance(meta, dict) and type(meta.get("seed")) is int else None
        #: What the run --resume takes up was graded with (``_fingerprint``).
        self.resumed_fingerprint = meta.get("fingerprint") if isinstance(meta, dict) else None
        if self.options.seed is not None:
            return self.options.seed
        if self.resumed_seed is not None:
            return self.resumed_seed
        return fresh_seed()

    def run(self, progress) -> BatchResult:
        # The threads mostly wait on learner processes; when one is woken (a result, a call
        # for a supplied function) it should not wait a full 5 ms for another's judging.
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(0.0005)
        try:
            with _stopped_once_by_signals():
                return self._run(progress)
        finally:
            sys.setswitchinterval(switch_interval)

    def _run(self, progress) -> BatchResult:
        self.grader.check_plugins()  # (a broken plugin stops the batch before anything is written)
        self.grader.share_checks()
        loaders = self.grader.loaders
        # This run's outputs, and what earlier runs into the same records wrote (their flags
        # may have been others): none of it is a learner.
        self.written = self._outputs_written()
        listing = find_submissions(self.root, loaders, [Path(path) for path in self.written])
        wrapper = wrapped_class(listing, loaders, self.options.entry)
        if wrapper is None and not listing.entries and not listing.exports:
            # The class's one folder holds an output (``--out class/課題4/results.csv``), and so
            # was set aside with the outputs: it is still the class, and the output in it its.
            holding = [name for name, _ in self._learners_folders_holding_outputs(listing)]
            if len(holding) == 1:
                wrapper = wrapped_class(Listing([Entry(holding[0], self.root / holding[0])]), loaders, self.options.entry)
        if wrapper is not None:  # (as an export unpacked by hand: its learners are in it)
            self.root = wrapper
            listing = find_submissions(self.root, loaders, [Path(path) for path in self.written])
        entries = listing.entries
        # From the whole class, before sharding: every shard and every run agree on the names.
        self.output_names = output_names(entry.name for entry in entries)
        #: Every learner's report files, this shard's or not: none is ever removed as stale.
        self.class_reports = self._report_files(self.output_names)
        self._refuse_outputs_among_reports()
        self._refuse_outputs_in_learners_folders(listing)
        self._refuse_outputs_over_code()
        # (once nothing can refuse the run: a refused run makes no folder)
        prepare_outputs([self.options.out, summary_file(self.options.out), self.options.junit],
                        [self.state.folder, self.options.json_dir, self.options.gradescope_dir])
        if self.resumed_seed is not None and self.resumed_seed != self.seed:
            # Not an error: results depend on the seed, so none of the records can be kept.
            print(plain(self.messages.text("summary.seed_differs", self.options.lang, seed=self.seed,
                                           resumed=self.resumed_seed)), file=sys.stderr)
        elif type(self.resumed_fingerprint) is str and self.resumed_fingerprint != self.fingerprint:
            print(plain(self.messages.text("summary.settings_differ", self.options.lang)), file=sys.stderr)
        entries = [entry for entry in entries if in_shard(entry.name, self.options.shard)]
        renamed = {entry.name: self.output_names[entry.name] for entry in entries
                   if self.output_names[entry.name] != safe_file_name(entry.name)}
        # Report files earlier runs into these records wrote (a learner since gone or renamed may
        # have one): kept in the list until this run ends, then removed if no learner of the
        # whole class (this shard's or another's) has it.
        earlier_reports = self._earlier_reports()
        reports = list(self._report_files(entry.name for entry in entries))
        result = BatchResult(summary={}, skipped=listing.skipped, links=listing.links, own_outputs=listing.outputs,
                             exports=listing.exports, zip_refused=self.unpacked.refused,
                             lookalikes=lookalike_names(entry.name for entry in listing.entries),
                             found=len(listing.entries), wrapper=wrapper.name if wrapper is not None else None)
        to_grade = []
        for entry in entries:
            record = self.state.read(entry.name) if self.options.resume else None
            if record and self._still_valid(record, entry):
                self.rows[entry.name] = record["row"]
                self.summary.add(record)
                self.kept.add(entry.name)
                # Reports asked for now may not have been asked for (or kept) last time.
                self._write_reports(entry.name, record["report"])
                result.resumed += 1
            else:
                to_grade.append(entry)
        # Which records are this run's: those it grades (marked with its id) and those it kept.
        # A record of an earlier run, of a file changed since, is not, even if the run is cut
        # off before grading it again (merge then names it as never graded).
        meta = {"seed": self.seed, "grader_version": __version__, "shard": self.options.shard,
                "fingerprint": self.fingerprint, "submissions": str(self.options.submissions),
                "class": class_digest(self.output_names), "run": self.run_id, "kept": sorted(self.kept),
                "names": [entry.name for entry in entries], "renamed_outputs": renamed,
                "outputs": self.written,
                "reports": [[path, None] for path in reports if path not in earlier_reports] + [
                    [path, mtime] for path, mtime in earlier_reports.items()]}
        self.state.save_meta(meta)
        done = result.resumed
        if progress:
            progress(done, len(entries))
        # Three stages, so the threads that drive learner processes do nothing else: one thread
        # reads and parses submissions ahead (a few only: memory stays flat), ``jobs`` threads
        # grade, one thread writes the results.
        jobs = max(1, self.options.jobs)
        reading: queue.Queue = queue.Queue(maxsize=2 * jobs)
        keeping: queue.Queue = queue.Queue(maxsize=2 * jobs)
        # (The main thread waits on this one, and Ctrl-C raises in it there: a SimpleQueue has no
        # lock in Python that the exception could leave held, to hang the writer's next put.)
        finished: queue.SimpleQueue = queue.SimpleQueue()
        prepared = _Prepared()
        threads = [threading.Thread(target=self._read_all, args=(to_grade, reading, jobs), name="grade-read")]
        threads += [threading.Thread(target=self._grade_all, args=(reading, keeping, jobs, prepared), name=f"grade-{n}")
                    for n in range(jobs)]
        threads.append(threading.Thread(target=self._keep_all, args=(keeping, finished, jobs), name="grade-write"))
        # What the grader holds by now (numpy, the catalogue, the references) lives as long as
        # the batch: out of the collector's sight, a full collection no longer walks all of it
        # (30 ms, holding the GIL while learner processes waited for their code). (Not if the
        # process that runs the batch keeps objects frozen itself: they stay as it froze them.)
        freezing = gc.get_freeze_count() == 0
        try:
            if freezing:
                gc.freeze()
            for thread in threads:
                thread.start()
            for _ in to_grade:
                outcome = _get(finished)
                if outcome == "internal_error":
                    result.internal_errors += 1
                result.graded += 1
                done += 1
                if progress:
                    progress(done, len(entries))
        except KeyboardInterrupt:
            # Whatever was graded stays graded; what was running is discarded, never half-kept.
            self.stop.set()
            self.grader.host.close()  # ends the learner processes still running
            result.interrupted = True
        finally:
            self.stop.set()
            for thread in threads:
                if thread.is_alive():
                    thread.join()
            prepared.close_all()
            if freezing:
                gc.unfreeze()
            self.grader.close()
        names = [entry.name for entry in entries]
        # Cut off, the summary says so and whom it lacks (as ``grade merge`` does of a slice cut
        # off): a script reading it must not take it for the class.
        ungraded = sorted(name for name in names if name not in self.rows) if result.interrupted else None
        result.summary = self._write_outputs(names, {"ungraded": ungraded} if ungraded else None)
        removed = set()
        if not result.interrupted:
            removed = self._remove_reports({path: mtime for path, mtime in earlier_reports.items()
                                            if path not in self.class_reports})
        # Each report file with the time it was last written, by this run if it got to it (also
        # when cut off: the next run must know the file it rewrote is still this records'); one
        # written since by another run (another section's, into the same folder) is no longer
        # this records' to remove.
        ours = {path: self.report_times.get(path, earlier_reports.get(path)) for path in reports}
        earlier = [[path, mtime] for path, mtime in earlier_reports.items() if path not in ours and path not in removed]
        self.state.save_meta({**meta, "reports": [[path, mtime] for path, mtime in ours.items()] + earlier})
        return result

    def _refuse_outputs_among_reports(self) -> None:
        """The CSV, its summary or the JUnit file where a learner's report goes (``--junit
        G/alice.py`` with ``--gradescope-dir G``): one of them would be lost."""
        places = dict(self.class_reports)
        places.update({os.path.dirname(path): name for path, name in self.class_reports.items()
                       if os.path.basename(path) == "results.json"})  # (a Gradescope report's folder too)
        for path in (self.options.out, summary_file(self.options.out), self.options.junit, self.state.folder):
            name = places.get(os.path.join(os.path.realpath(path.parent), path.name)) if path is not None else None
            if name is not None:
                raise UsageError("usage.output_is_a_report", path=path, name=name)

    def _refuse_outputs_over_code(self) -> None:
        """An output that would replace the submissions given (``grade batch export.zip --out
        export.zip``), or a file of code, a notebook or an archive (``--out class/yamada.py``,
        picked by tab-completion): that file would be lost, and with it a learner's work."""
        for path in (self.options.out, self.options.junit):
            refuse_output_over_code(path, self.options.submissions, self.grader.loaders)

    def _refuse_outputs_in_learners_folders(self, listing: Listing) -> None:
        """An output inside a learner's folder of the class (``--json-dir class/yamada/reports``,
        yamada's project holding its code): writing there would change that learner's
        submission. A folder of the class holding outputs and no code (``class/reports``) is
        the batch's own, left out of the class as before."""
        for name, inside in self._learners_folders_holding_outputs(listing):
            raise UsageError("usage.output_in_submission", path=inside[0], name=name)

    def _learners_folders_holding_outputs(self, listing: Listing) -> list[tuple[str, list]]:
        """(name, this run's outputs in it) of each folder of the class that holds one of them
        and code besides."""
        found = []
        for name in listing.outputs:
            place = absolute_path(self.root / name)
            if place.is_symlink() or not place.is_dir():
                continue
            inside = [path for path in self.outputs
                      if absolute_path(path) == place or place in absolute_path(path).parents]
            if inside and holds_gradable(place, self.grader.loaders, [absolute_path(path) for path in inside]):
                found.append((name, inside))
        return found

    def _report_files(self, names) -> dict[str, str]:
        """{report file (--json-dir, --gradescope-dir) of each of ``names``: its name}, each in its
        folder's real path (``.`` or a link given for the folder is the same folder next time)."""
        files = {}
        json_dir, gradescope_dir = self._report_folders()
        for name in names:
            if json_dir:
                files[os.path.join(json_dir, f"{self.output_names[name]}.json")] = name
            if gradescope_dir:
                files[os.path.join(gradescope_dir, self.output_names[name], "results.json")] = name
        return files

    def _report_folders(self) -> tuple[Optional[str], Optional[str]]:
        return tuple(os.path.realpath(folder) if folder else None
                     for folder in (self.options.json_dir, self.options.gradescope_dir))

    def _earlier_reports(self) -> dict:
        """{report file an earlier run into these records wrote: when it was written (None:
        not known, for a run cut off)}, of those still there."""
        earlier = (self.state.meta() or {}).get("reports")
        found = {}
        for entry in earlier if type(earlier) is list else []:
            if type(entry) is list and len(entry) == 2 and type(entry[0]) is str and os.path.isfile(entry[0]):
                found[entry[0]] = entry[1] if type(entry[1]) is int else None
        return found

    def _remove_reports(self, stale: dict) -> set:
        """Remove the report files an earlier run wrote for learners the class no longer has
        (gone, or renamed): only in the folders this run writes its own in (a folder of an
        earlier run's reports given up for another is left as it was), and never a file that
        is one of this run's (on a file system that ignores case, ``Alice.py.json`` is
        ``alice.py.json``). Returns those removed."""
        json_dir, gradescope_dir = self._report_folders()
        stale = {path for path, mtime in stale.items() if mtime is not None and _mtime(path) == mtime and (
            (os.path.dirname(path) == json_dir and path.endswith(".json"))
            or (os.path.dirname(os.path.dirname(path)) == gradescope_dir and os.path.basename(path) == "results.json"))}
        if not stale:
            return set()
        live = set()
        for path in [*self.class_reports, *(str(p) for p in self.outputs)]:
            try:
                info = os.stat(path)
                live.add((info.st_dev, info.st_ino))
            except OSError:
                pass
        removed = set()
        for path in sorted(stale):
            try:
                info = os.stat(path)
                if (info.st_dev, info.st_ino) in live:
                    continue
                os.unlink(path)
                removed.add(path)
            except OSError:
                continue
            if os.path.basename(path) == "results.json":
                try:
                    os.rmdir(os.path.dirname(path))  # (only if nothing else is in it)
                except OSError:
                    pass
        return removed

    def _graded_alike(self, record: dict) -> bool:
        """Graded with this run's seed and grader."""
        return record.get("fingerprint") == self.fingerprint and record.get("seed") == self.seed

    def _of_this_run(self, record: dict) -> bool:
        """Graded by this run, or kept by it (--resume), not left over from an earlier run."""
        return of_run(record, self.seed, self.fingerprint, self.run_id, self.kept)

    def _still_valid(self, record: dict, entry: Entry) -> bool:
        """Worth keeping on --resume: this run's, of the same content, and not a failure of the
        grader's own (that is worth another try)."""
        return (
            self._graded_alike(record)
            and record.get("row", {}).get("status") != "internal error"
            and isinstance(record.get("report"), dict)  # every output is written from it
            and record.get("digest") == _digest(entry.path)
        )

    def _records(self, names: list[str]):
        """This run's records of ``names``, one at a time."""
        return (record for record in self.state.records(names) if self._of_this_run(record))

    def _left_out_of_zip(self, entry: Entry, learners: Optional[Unpacked] = None) -> Submission:
        """The submission of a learner whose .zip member(s) were too large or too damaged to
        unpack: unreadable, saying which member, and what the limit is or what is wrong. Of the
        class's .zip, or of ``learners``, the learner's own .zip (every member of it theirs)."""
        def paths(members) -> str:
            return ", ".join(path for path, _ in members)

        def theirs(kind: str):
            if learners is None:
                return getattr(self.unpacked, kind).get(entry.name)
            return [member for members in getattr(learners, kind).values() for member in members] or None

        if theirs("encrypted"):
            message = Message("load.zip_member_encrypted", {"members": paths(theirs("encrypted"))})
        elif theirs("damaged"):
            said = "; ".join(f"{path} ({self.messages.text(f'zip_damage.{kind}', self.options.lang)})"
                             for path, kind in theirs("damaged"))
            message = Message("load.zip_member_damaged", {"members": said})
        else:
            message = Message("load.zip_member_too_large", {"members": paths(theirs("left_out")),
                                                            "max_megabytes": f"{self.unpacked.member_limit / MEGABYTE:g}"})
        return _not_a_submission(entry, message)

    def _outputs_written(self) -> list[str]:
        """What this run writes, and what earlier runs into the same records wrote that is still
        there: a later run, whatever its flags, leaves them all out of the class."""
        earlier = (self.state.meta() or {}).get("outputs")
        earlier = [entry for entry in earlier if type(entry) is str and os.path.lexists(entry)] if type(earlier) is list else []
        return list(dict.fromkeys([str(absolute_path(path)) for path in self.outputs] + earlier))

    def _why_unreadable(self, exc: UsageError) -> Message:
        """Why ``grade submit`` would refuse a submission, said for a batch: with paths relative
        to the class (a .zip's are in a folder deleted once the batch ends); a project folder's
        entries without ``--entry``, which only ``grade submit`` has; anything else as a file
        that could not be read, in the batch's language."""
        params = {key: self._relative(value) if isinstance(value, Path) else value
                  for key, value in exc.params.items()}
        if exc.message_id in UNREADABLE_MESSAGE_OF:
            return Message(UNREADABLE_MESSAGE_OF[exc.message_id], params)
        return Message("load.unreadable", {"error": self.messages.text(exc.message_id, self.options.lang, **params)})

    def _read_archive(self, entry: Entry, archive: Path) -> Submission:
        """A learner who handed in a .zip (an LMS keeps it as it came): unpacked with a project
        folder's limits and graded as the folder it holds, as if they had handed that in. The
        folder is removed once the learner is graded (``_keep``)."""
        folder = Path(tempfile.mkdtemp(dir=self.scratch, prefix="learner-"))
        self.archive_folders[entry.name] = folder
        try:
            unpacked = unpack_zip(archive, folder, max_bytes=PROJECT_MAX_BYTES, max_files=PROJECT_MAX_FILES)
            if unpacked.encrypted or unpacked.damaged or unpacked.left_out:
                return self._left_out_of_zip(entry, unpacked)
            wanted = self.options.entry
            entry_file = wanted if wanted and (unpacked.root / wanted).is_file() else None
            submission = self.grader.read(unpacked.root, entry=entry_file, name=entry.name)
            if unpacked.refused:  # (said in the learner's report, as the class's .zip's are on stderr)
                refused = Message("load.zip_members_refused", {"count": len(unpacked.refused),
                                                               "names": ", ".join(unpacked.refused[:5])})
                submission = dataclasses.replace(submission, notes=submission.notes + (refused,))
            return submission
        except UsageError as exc:  # its paths said as in the learner's .zip, not in this run's folder
            params = {key: self._in_archive(value, folder, entry) if isinstance(value, Path) else value
                      for key, value in exc.params.items()}
            raise UsageError(exc.message_id, **params) from None

    @staticmethod
    def _in_archive(path: Path, folder: Path, entry: Entry) -> str:
        try:
            inside = path.relative_to(folder).as_posix()
        except ValueError:
            return entry.name if path == entry.path or path.suffix.lower() == ".zip" else str(path)
        return f"{entry.name}/{inside}".rstrip("/.") or entry.name

    def _only_archive(self, path: Path) -> Optional[Path]:
        """The one .zip of a learner's folder that holds no code besides (Moodle keeps each
        learner's upload in a folder of its own), else None."""
        if not path.is_dir() or path.is_symlink():
            return None
        archives = [child for child in path.iterdir() if is_archive(child)]
        # (the folder walked for code only when its top holds one .zip: most folders hold none)
        return archives[0] if len(archives) == 1 and not holds_gradable(path, self.grader.loaders) else None

    def _entry_of(self, entry: Entry) -> Optional[str]:
        """``--entry`` for a learner's folder that has it; else None: a file is graded as it is,
        and a folder without it through its only file, as without ``--entry`` (a learner who
        named it otherwise is still graded)."""
        wanted = self.options.entry
        return wanted if wanted and entry.path.is_dir() and (entry.path / wanted).is_file() else None

    def _relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    # --- the three stages ------------------------------------------------------------------

    def _read_all(self, entries: list[Entry], reading: queue.Queue, jobs: int) -> None:
        for entry in entries:
            if self.stop.is_set():
                break
            try:
                if any(entry.name in found for found in (self.unpacked.left_out, self.unpacked.damaged, self.unpacked.encrypted)):
                    item = (entry, self._left_out_of_zip(entry))
                elif (archive := entry.path if is_archive(entry.path) else self._only_archive(entry.path)) is not None:
                    item = (entry, self._read_archive(entry, archive))
                else:
                    item = (entry, self.grader.read(entry.path, entry=self._entry_of(entry), name=entry.name))
            except UsageError as exc:
                item = (entry, _not_a_submission(entry, self._why_unreadable(exc)))
            except Exception as exc:  # noqa: BLE001 - one submission's failure must not stop the class
                item = (entry, exc)
            if not _put(reading, item, self.stop):
                break
        for _ in range(jobs):
            _put(reading, None, self.stop)

    def _grade_all(self, reading: queue.Queue, keeping: queue.Queue, jobs: int = 1,
                   prepared: Optional[_Prepared] = None) -> None:
        # A submission's learner process is forked while the one before it runs (``prepare``)
        # and is sent its code once that one has run (``start_next``), before the grader judges
        # it: forking and judging keep no core waiting, and no more than ``jobs`` learner
        # processes ever run learner code. Until this thread comes back to read it (judging this
        # one and forking the one after: milliseconds), the next one's output waits in its pipe:
        # so it is not started early when the report would wait for the writer to make room.
        # Forked ahead but not started, a submission is any thread's to take (``prepared``): one
        # behind a slow submission is graded by the first thread free, not held.
        prepared = prepared if prepared is not None else _Prepared()
        started: Optional[tuple] = None  # (entry, submission, session or None), this thread's next
        ended = False  # this thread has taken one of the reader's end markers

        def read_next() -> Optional[tuple]:
            nonlocal ended
            try:
                item = reading.get_nowait()
            except queue.Empty:
                return None  # none read yet: it is taken the usual way
            ended = item is None
            return item

        def prepare(item: tuple) -> tuple:
            entry, submission = item
            session = None
            if not isinstance(submission, Exception):
                try:
                    session = self.grader.prepare(submission)
                except Exception:  # noqa: BLE001 - grading it afresh meets the error and reports it
                    session = None
            return entry, submission, session

        def prepare_next() -> None:
            if not self.stop.is_set() and not ended and (item := read_next()) is not None:
                prepared.put(prepare(item))

        def start_next() -> None:
            nonlocal started
            if self.stop.is_set() or not _has_room(keeping, jobs):
                return
            item = prepared.take()
            if item is None and not ended and (item := read_next()) is not None:
                item = prepare(item)
            if item is not None and item[2] is not None:
                try:
                    self.grader.start(item[2])
                except Exception:  # noqa: BLE001 - (closed) grading it afresh meets the error and reports it
                    item = (item[0], item[1], None)
            started = item

        try:
            while not self.stop.is_set():
                item, started = started or prepared.take(), None
                if item is None and not ended:
                    item = _get(reading, self.stop)
                    ended = item is None
                    item = item and (*item, None)
                if item is None:
                    break
                entry, submission, session = item
                prepare_next()
                try:
                    if isinstance(submission, Exception):
                        raise submission
                    report = self.grader.grade_submission(submission, started=session, when_run=start_next)
                    outcome = "graded"
                except Exception as exc:  # noqa: BLE001 - one submission's failure must not stop the class
                    report, outcome = _internal_error_report(entry, exc), "internal_error"
                    if session is not None:
                        session.close()  # (closing twice is harmless)
                if self.stop.is_set() or not _put(keeping, (entry, report, outcome), self.stop):
                    break
        finally:
            if started is not None and started[2] is not None:  # stopped with the next one started
                started[2].close()
            if self.stop.is_set():
                prepared.close_all()
            _put(keeping, None, self.stop)

    def _keep_all(self, keeping: queue.Queue, finished: queue.SimpleQueue, jobs: int) -> None:
        ended = 0
        while ended < jobs:
            item = _get(keeping, self.stop)
            if item is None:
                ended += 1
                continue
            entry, report, outcome = item
            try:
                self._keep(entry, report, outcome)
            except Exception as exc:  # noqa: BLE001 - e.g. a full disk: say so, keep going
                outcome = "internal_error"
                print(plain(f"grade: could not write the result of {entry.name}: {exc}"), file=sys.stderr)
            finished.put(outcome)

    def _keep(self, entry: Entry, report: Report, outcome: str) -> None:
        folder = self.archive_folders.pop(entry.name, None)
        if folder is not None:  # (a learner's unpacked .zip: graded, its processes gone)
            shutil.rmtree(folder, ignore_errors=True)
        row = csv_format.row(report)
        if outcome == "internal_error":
            row["status"] = "internal error"
        data = report_data(report, self.context)
        # The JSON report is all a record needs: every other output (JUnit, Gradescope) is
        # written from it, so --resume and grade merge can write any output for any record.
        record = {
            # (a learner's .zip by its bytes: unpacked, it is in a folder of this run's)
            "name": entry.name, "digest": _digest(entry.path) if folder is not None else report.digest or _digest(entry.path),
            "seed": self.seed,
            "fingerprint": self.fingerprint, "grader_version": __version__, "run": self.run_id,
            "row": row, "report": data,
        }
        self.state.write(record)
        with self.rows_lock:  # the record is written: it counts, whatever happens next
            self.rows[entry.name] = row
            self.summary.add(record)
        self._write_reports(entry.name, data)
        with self.rows_lock:
            if time.monotonic() - self.last_csv_write >= CSV_REWRITE_SECONDS:
                self.last_csv_write = time.monotonic()
                self._write_csv(self.rows)

    # --- outputs -------------------------------------------------------------------------------

    def _write_reports(self, name: str, data: dict) -> None:
        """``name``'s own report files (--json-dir, --gradescope-dir), from its JSON report."""
        output_name = self.output_names[name]
        json_dir, gradescope_dir = self._report_folders()
        if json_dir:
            path = os.path.join(json_dir, f"{output_name}.json")
            atomic_write(Path(path), json.dumps(data, ensure_ascii=False, indent=2) + "\n")
            self.report_times[path] = _mtime(path)
        if gradescope_dir:
            path = os.path.join(gradescope_dir, output_name, "results.json")
            atomic_write(Path(path), gradescope.render_data(data, self.context))
            self.report_times[path] = _mtime(path)

    def _columns(self) -> list[str]:
        return csv_format.header(exercise.id for exercise in self.grader.catalogue.exercises)

    def _write_csv(self, rows: dict) -> None:
        write_csv(self.options.out, self._columns(), [rows[name] for name in sorted(rows)])

    def _write_outputs(self, names: list[str], extra: Optional[dict] = None) -> dict:
        """The CSV, the summary (with ``extra``) and the JUnit file of this run's submissions.
        Rows and summary are those kept as the results came, which are the records' (they are
        written first)."""
        rows = [self.rows[name] for name in sorted(names) if name in self.rows]
        suites = []
        if self.options.junit:
            suites = [junit.suite_of(record["report"], self.context) for record in self._records(names)]
        return write_class_outputs(self.options.out, self._columns(), rows, self.summary, self.options.junit, suites, extra)


#: What stops a batch as Ctrl-C does: a CI job cancelled, ``kill``, a cluster's time limit (SIGTERM),
#: a closed terminal (SIGHUP).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def _stopped_once_by_signals():
    """While a batch runs, the first of ``STOP_SIGNALS`` interrupts it (KeyboardInterrupt: what
    was graded is written, with its summary) and the next ones are ignored, so that a second
    Ctrl-C cannot cut that writing short and leave a CSV of a few rows. (Only in the main thread,
    where Python delivers signals; a batch run from another thread keeps the default handling.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = []

    def stop(signum, frame):
        if not stopping:
            stopping.append(signum)
            raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, stop) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _put(target: queue.Queue, item, stop: threading.Event) -> bool:
    """Put ``item``, giving up (False) once the batch is stopping."""
    while True:
        try:
            target.put(item, timeout=0.2)
            return True
        except queue.Full:
            if stop.is_set():
                return False


class _Prepared:
    """Submissions whose learner processes were forked ahead (each waiting for its code), for
    whichever grading thread is free first."""

    def __init__(self):
        self._lock = threading.Lock()
        self._items: collections.deque = collections.deque()

    def put(self, item: tuple) -> None:
        with self._lock:
            self._items.append(item)

    def take(self) -> Optional[tuple]:
        with self._lock:
            return self._items.popleft() if self._items else None

    def close_all(self) -> None:
        """End the processes of those left (the batch is stopping)."""
        while (item := self.take()) is not None:
            if item[2] is not None:
                item[2].close()


def _has_room(target: queue.Queue, puts: int) -> bool:
    """Whether ``puts`` more items go into ``target`` without waiting, if each of the other
    threads that put into it puts one meanwhile."""
    return target.maxsize <= 0 or target.maxsize - target.qsize() >= puts


def _get(source: queue.Queue | queue.SimpleQueue, stop: Optional[threading.Event] = None):
    """The next item; None once the batch is stopping. Waits in short steps, so Ctrl-C is seen."""
    while True:
        try:
            return source.get(timeout=0.2)
        except queue.Empty:
            if stop is not None and stop.is_set():
                return None


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    """UTF-8 with a byte-order mark, so a spreadsheet opens Japanese names correctly."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, csv_format.BYTE_ORDER_MARK + buffer.getvalue())


def write_class_outputs(out: Path, columns: list[str], rows: list[dict], summary: class_summary.ClassSummary,
                        junit_path: Optional[Path] = None, suites: Iterable = (),
                        extra: Optional[dict] = None) -> dict:
    """The class's CSV, its summary (``<out>.summary.json``, with ``extra`` added) and, if asked,
    one JUnit file of every submission's suite (``<testsuite>`` elements); returns the summary's
    data."""
    write_csv(out, columns, rows)
    if junit_path:
        atomic_write(junit_path, junit.render_suites(suites))
    data = {**summary.data(), **(extra or {})}
    atomic_write(summary_file(out), json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    return data


def outputs_of(records: Iterable[dict], messages=None, seed: Optional[int] = None
               ) -> tuple[list[dict], class_summary.ClassSummary, list]:
    """Rows, class summary (``seed``: the run's, for a class of no records) and, given the
    ``messages`` to write them in, JUnit suites of ``records``, from one pass over them."""
    rows, summary, suites = [], class_summary.ClassSummary(seed=seed), []
    contexts: dict[str, RenderContext] = {}
    for record in records:
        rows.append(record["row"])
        summary.add(record)
        if messages is not None:
            lang = record["report"].get("lang", "en")  # each report's own: its hints are in it
            context = contexts.setdefault(lang, RenderContext(messages, lang))
            suites.append(junit.suite_of(record["report"], context))
    return rows, summary, suites


def _mtime(path: str) -> Optional[int]:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def class_digest(names) -> str:
    """Which learners the whole class had (before sharding): shards that disagree were graded
    from different states of the class."""
    return hashlib.sha256("\0".join(sorted(names)).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _digest(path: Path) -> str:
    if path.is_dir():
        return folder_digest(path)
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def _fingerprint(grader: Grader, options: BatchOptions) -> str:
    """What a record's validity depends on besides the submission and the seed."""
    catalogue = grader.catalogue
    identity = [
        __version__, options.lang, options.settings.check_timeout, options.settings.load_timeout,
        options.settings.memory_mb, options.entry,
        [(c.id, c.points, c.rtol, c.atol) for c in catalogue.checks],
        [m.id for m in catalogue.mistakes],
    ]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:16]


def _not_a_submission(entry: Entry, reason: Message) -> Submission:
    problem = Problem(Location(), reason)
    return Submission(name=entry.name, path=str(entry.path), units=(), module_name="__main__",
                      digest=_digest(entry.path), problems=(problem,))


def _internal_error_report(entry: Entry, exc: Exception) -> Report:
    problem = Problem(Location(), Message("load.unreadable", {"error": f"internal error: {type(exc).__name__}: {exc}"}))
    return Report(submission=entry.name, results=(), problems=(problem,), digest=_digest(entry.path))


def progress_bar(stream=None) -> Optional["ProgressBar"]:
    """A progress callback drawing a bar on stderr, or None when stderr is not a terminal."""
    stream = stream or sys.stderr
    if not stream.isatty():
        return None
    return ProgressBar(stream)


class ProgressBar:
    """``progress(done, total)`` draws the bar; ``close()`` ends it. The bar hides the cursor
    while it is drawn, so ``close()`` must run however the batch ends (Ctrl-C, an error):
    it shows the cursor again and ends the bar's line, so what is printed next starts on a
    line of its own. Closing twice is harmless."""

    def __init__(self, stream):
        self.stream = stream
        self.bar = None
        self.closed = False

    def __call__(self, done: int, total: int) -> None:
        import click

        if self.closed:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label="grading", file=self.stream, show_pos=True)
            self.bar.__enter__()
        self.bar.update(done - self.bar.pos)
        if done >= total:
            self.close()

    def close(self) -> None:
        self.closed = True
        bar, self.bar = self.bar, None
        if bar is not None:
            bar.__exit__(None, None, None)

