"""From a path on the command line to a ``Submission``: a file, or a learner's project folder."""
from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Optional

from grader.errors import UsageError
from grader.loaders import MAX_CODE_BYTES, MAX_UNITS, name_of
from grader.model import Location, Message, Problem, Submission

Loader = Callable[[Path, str], Submission]
#: Folders never searched for an entry file, nor copied as part of a project's identity.
IGNORED_DIRS = {"__pycache__", ".ipynb_checkpoints", ".git", ".venv", "venv", "node_modules"}
#: Folders below a project's top that are read (a project needs a few; a learner could make thousands).
PROJECT_MAX_DEPTH = 32
#: A project folder is copied into every learner process's scratch folder, so it is capped:
#: a course's project is a few scripts and small data files, not a dataset.
PROJECT_MAX_FILES = 1000
MEGABYTE = 1024 * 1024
PROJECT_MAX_BYTES = 64 * MEGABYTE


#: A project folder's refusals, said as the reason a learner's folder could not be graded (by
#: `grade batch`, and `grade submit` of a folder it reports as unreadable): no --entry to give.
UNREADABLE_MESSAGE_OF = {"usage.folder_entries": "load.folder_entries", "usage.folder_no_entry": "load.folder_no_entry"}
#: Refusals of what a path holds, not of how grade was asked: `grade submit` reports them as a
#: submission that could not be read, as `grade batch` does (a folder without the --entry file
#: too: on an LMS, the learner uploaded another name). A --entry of a kind grade does not read
#: stays the instructor's usage error.
UNGRADABLE_CONTENT = (*UNREADABLE_MESSAGE_OF, "usage.wrong_suffix", "usage.entry_not_in_folder")


def read_submission(path: Path, loaders: Mapping[str, Loader], entry: Optional[str] = None,
                    name: Optional[str] = None) -> Submission:
    """Read ``path`` with the loader for its suffix. A folder is a project: its entry file is
    ``entry`` (relative to it) or its only top-level file a loader reads."""
    path = Path(path)
    if not path.exists():
        raise UsageError("usage.no_such_path", path=path)
    name = name or name_of(path)  # (as ``grade batch`` names it: a report is UTF-8)
    if path.is_dir():
        return _read_project(path, loaders, entry, name)
    if not path.is_file():  # a named pipe or a device: reading it could wait for ever
        raise UsageError("usage.not_a_file", path=path)
    if entry:
        raise UsageError("usage.entry_for_file", path=path)
    loader = loaders.get(path.suffix.lower())
    if loader is None:
        raise UsageError("usage.wrong_suffix", path=path, suffixes=_suffixes(loaders))
    try:
        return within_limits(loader(path, name))
    except OSError as exc:
        return _unreadable(path, name, exc)


def within_limits(submission: Submission) -> Submission:
    """``submission``, or, if its code as a whole is more than a learner process is sent
    (a notebook of many cells, a loader of a third-party pack), the same without units and
    with the problem stated. Each loader refuses a single oversized file or cell sooner."""
    size = sum(len(unit.source.encode("utf-8", "surrogatepass")) for unit in submission.units)
    if not submission.units and not submission.problems:  # only comments, or empty cells
        return dataclasses.replace(submission, problems=(Problem(Location(), Message("load.no_code")),))
    if size > MAX_CODE_BYTES:
        message = Message("load.too_much_code", {"size": size, "limit": MAX_CODE_BYTES})
    elif len(submission.units) > MAX_UNITS:
        message = Message("load.too_many_units", {"limit": MAX_UNITS})
    else:
        return submission
    return dataclasses.replace(submission, units=(), problems=(*submission.problems, Problem(Location(), message)))


def _read_project(folder: Path, loaders, entry, name) -> Submission:
    if entry:
        entry_path = (folder / entry)
        if not entry_path.is_file() or not _inside(entry_path, folder):
            raise UsageError("usage.entry_not_in_folder", path=folder, entry=entry)
    else:
        candidates = find_entries(folder, loaders)
        if not candidates:
            raise UsageError("usage.folder_no_entry", path=folder, suffixes=_suffixes(loaders))
        if len(candidates) > 1:
            found = ", ".join(c.name for c in candidates)
            raise UsageError("usage.folder_entries", path=folder, suffixes=_suffixes(loaders), found=found)
        entry_path = candidates[0]
    loader = loaders.get(entry_path.suffix.lower())
    if loader is None:
        raise UsageError("usage.wrong_suffix", path=entry_path, suffixes=_suffixes(loaders))
    try:
        submission = within_limits(loader(entry_path, name))
        files, total = [], 0
        for entry_file in project_files(folder):
            files.append(entry_file)
            total += entry_file[2]
            # Stop walking early: a folder with a million files must not take minutes to refuse.
            if len(files) > PROJECT_MAX_FILES or total > PROJECT_MAX_BYTES:
                return _too_large(folder, name, len(files), total)
    except OSError as exc:
        return _unreadable(entry_path, name, exc)
    return dataclasses.replace(
        submission,
        path=str(folder),
        project_dir=str(folder),
        workdir="" if entry_path.parent == folder else str(entry_path.parent.relative_to(folder)),
        digest=_digest(files),
    )


def find_entries(folder: Path, loaders) -> list[Path]:
    return sorted(
        p for p in folder.iterdir()
        if p.is_file() and not p.is_symlink() and p.suffix.lower() in loaders and p.name != "__init__.py"
    )


def project_files(folder) -> Iterator[tuple[str, str, int]]:
    """Each plain file of a project folder as (relative path, path, size), in a stable order;
    symbolic links (which could point at the grader's files), special files and
    ``IGNORED_DIRS`` are left out. The one walk both the digest and the copy use."""
    # Walked with a stack, not os.walk (recursive in this Python: a folder nested a thousand
    # deep would raise RecursionError), top-down in sorted order; folders deeper than
    # PROJECT_MAX_DEPTH are left out (no project needs them).
    folder = os.fspath(folder)
    pending = [(folder, 0)]
    while pending:
        current, depth = pending.pop()
        files, subfolders = [], []
        try:
            with os.scandir(current) as listing:
                for entry in listing:
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name not in IGNORED_DIRS and depth < PROJECT_MAX_DEPTH:
                            subfolders.append(entry.name)
                    else:
                        files.append(entry.name)
        except OSError:
            continue  # unreadable: left out, as os.walk would
        for filename in sorted(files):
            path = os.path.join(current, filename)
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                yield os.path.relpath(path, folder), path, info.st_size
        pending.extend((os.path.join(current, name), depth + 1) for name in sorted(subfolders, reverse=True))


def folder_digest(folder: Path) -> str:
    """A hash of every file's relative path and content, so --resume notices any change."""
    return _digest(project_files(folder))


def _digest(files) -> str:
    digest = hashlib.sha256()
    for relative, path, _ in files:
        digest.update(relative.encode("utf-8", "surrogateescape") + b"\0")
        with open(path, "rb") as handle:
            digest.update(handle.read())
        digest.update(b"\0")
    return digest.hexdigest()


def _too_large(folder: Path, name: str, count: int, total: int) -> Submission:
    # The walk stopped at the first file past a limit, so the figures are "at least".
    # Megabytes of 2**20 bytes, as the limit is set (and the README states it): 64, not 67.
    # (which limit it passed: "1001 files or 0.0 MB" would leave the learner to guess)
    problem = Problem(Location(), Message("load.project_too_many_files" if count > PROJECT_MAX_FILES else "load.project_too_large", {
        "files": count, "megabytes": f"{total / MEGABYTE:.1f}",
        "max_files": PROJECT_MAX_FILES, "max_megabytes": f"{PROJECT_MAX_BYTES / MEGABYTE:g}",
    }))
    return Submission(name=name, path=str(folder), units=(), module_name="__main__", digest="", problems=(problem,))


def _unreadable(path: Path, name: str, exc: OSError) -> Submission:
    problem = Problem(Location(), Message("load.unreadable", {"error": exc.strerror or str(exc)}))
    return Submission(name=name, path=str(path), units=(), module_name="__main__", digest="", problems=(problem,))


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _suffixes(loaders) -> str:
    return "/".join(sorted(loaders))  # (no word: the sentence around it is in the learner's language)


def refuse_output_over_code(output: Optional[Path], given: Path, suffixes: Iterable[str]) -> None:
    """Refuse (exit 4) to write ``output`` over the submission ``given`` (``grade submit s.py -o
    s.py``, ``grade batch export.zip --out export.zip``), or over any file of code, notebook or
    archive (``--out class/yamada.py``, picked by tab-completion): a learner's work would be lost."""
    if output is None:
        return
    suffixes = (*suffixes, ".zip")
    target = Path(os.path.realpath(output))  # (a link is written through: what it points to counts)
    over = target == Path(os.path.realpath(given)) or (
        target.is_file() and (target.suffix.lower() in suffixes or output.suffix.lower() in suffixes))
    try:  # the same file under another name (a hard link)
        over = over or os.path.samefile(target, given)
    except OSError:
        pass
    if over:
        raise UsageError("usage.output_over_code", path=output)
