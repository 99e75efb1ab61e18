"""One record per graded submission, each written atomically the moment it is known.

The records, not the CSV, are the batch's memory: an interrupted or crashed batch keeps every
record written; ``--resume`` reuses those whose submission, seed and grader are unchanged; the
CSV, the summary and ``grade merge`` are all rebuilt from them.
"""
from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Optional

from grader.batch.discover import absolute_path, entry_key
from grader.errors import UsageError

RECORD_FORMAT = 1
#: The longest name of a file or folder, in bytes, on Linux's file systems and macOS's.
NAME_MAX = 255


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half:
    an interrupted or killed grade leaves no torn file. (No fsync: surviving a power cut is not
    worth a disk flush per learner.)"""
    path.parent.mkdir(parents=True, exist_ok=True)
    # (the name cut short: a name of 250 bytes is a file's, but not with a prefix and a suffix)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:40]}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def of_run(record: dict, seed, fingerprint, run: Optional[str], kept) -> bool:
    """Whether ``record`` belongs to run ``run`` (graded by it, or kept by it on --resume), not
    left over from an earlier one. A run with no id (a merged result's, an older grade's) goes
    by its seed and grader alone."""
    if record.get("seed") != seed or record.get("fingerprint") != fingerprint:
        return False
    return run is None or record.get("run") == run or record.get("name") in kept


def state_folder(out: Path) -> Path:
    """``results.csv`` keeps its records in ``results.state/`` beside it."""
    return out.with_name(out.stem + ".state")


def summary_file(out: Path) -> Path:
    """``results.csv``'s class summary: ``results.summary.json`` beside it."""
    return out.with_name(out.stem + ".summary.json")


def check_outputs(outputs: Iterable[Optional[Path]], inputs: Iterable[Path] = (), inside: Iterable[Path] = ()) -> None:
    """Refuse (exit 4) two outputs at one path (``--junit`` given the CSV's name: one of them
    would be lost), and an output at an input's path or ``inside`` an input's folder (a merge
    writing over one of its shards, or into a shard's records)."""
    seen: dict[Path, Path] = {}
    for path in outputs:
        if path is None:
            continue
        key = absolute_path(path)
        if key in seen:
            raise UsageError("usage.outputs_clash", path=path, other=seen[key])
        seen[key] = path
    for path in inputs:
        if absolute_path(path) in seen:
            raise UsageError("usage.merge_into_input", path=seen[absolute_path(path)])
    for folder in inside:
        for key, path in seen.items():
            if absolute_path(folder) in key.parents:
                raise UsageError("usage.merge_into_input", path=path)


def prepare_outputs(files: Iterable[Optional[Path]], folders: Iterable[Optional[Path]]) -> None:
    """Make the folders the outputs go in, once sure each can be (tried by writing in it, or in
    the folder it would be made in), before anything is graded: an output that cannot be
    written (under a file, in /proc, a file's path that is a folder) is a usage error now (exit
    4) that makes nothing, not a failure after the whole class."""
    files = [path for path in files if path is not None]
    # (each folder to make, and the output a refusal names: the file asked for, if it is one's)
    places = [(path.parent, path) for path in files] + [(path, path) for path in folders if path is not None]
    for _, path in places:
        if any(len(os.fsencode(part)) > NAME_MAX for part in path.parts):
            raise UsageError("usage.cannot_write", path=path, error=os.strerror(errno.ENAMETOOLONG))
    for path in files:  # (checked before anything is made: a refused run makes no folder)
        where = absolute_path(path)
        if path.is_dir() or any(where == absolute_path(folder) or where in absolute_path(folder).parents
                                for folder, _ in places):
            raise UsageError("usage.cannot_write", path=path, error=os.strerror(errno.EISDIR))
        if os.path.lexists(path) and not stat.S_ISREG(os.lstat(path).st_mode):
            # Written by replacing it: a device (/dev/null), a pipe or a link would be replaced by
            # a file, root's /dev/null for every later step of a CI job.
            raise UsageError("usage.cannot_write", path=path, error="not a regular file (a device, a pipe or a link)")
    for folder, output in places:  # each must be, or be made in, a folder this process can write in
        existing = folder
        while not os.path.lexists(existing) and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():  # a file (or a link to nowhere) where a folder must be
            raise UsageError("usage.cannot_write", path=output, error=os.strerror(errno.ENOTDIR))
        try:
            handle, probe = tempfile.mkstemp(dir=existing, prefix=".grade-probe-")
            os.close(handle)
            os.unlink(probe)
        except OSError as exc:
            raise UsageError("usage.cannot_write", path=output, error=exc.strerror or exc) from exc
    for folder, output in places:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError("usage.cannot_write", path=output, error=exc.strerror or exc) from exc


class BatchState:
    def __init__(self, folder: Path):
        self.folder = folder
        self.records_folder = folder / "records"

    def meta(self) -> Optional[dict]:
        try:
            return json.loads((self.folder / "batch.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def save_meta(self, meta: dict) -> None:
        atomic_write(self.folder / "batch.json", json.dumps(meta, ensure_ascii=False, indent=2) + "\n")

    def path_of(self, name: str) -> Path:
        return self.records_folder / f"{entry_key(name)}.json"

    def read(self, name: str) -> Optional[dict]:
        try:
            record = json.loads(self.path_of(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if type(record) is dict and record.get("format") == RECORD_FORMAT and record.get("name") == name else None

    def write(self, record: dict) -> None:
        record = {"format": RECORD_FORMAT, **record}
        atomic_write(self.path_of(record["name"]), json.dumps(record, ensure_ascii=False) + "\n")

    def records(self, names: Optional[list[str]] = None) -> Iterator[dict]:
        """Records one at a time, sorted by submission name (only ``names``, if given)."""
        if names is None:
            names = sorted(self._all_names())
        for name in sorted(names):
            record = self.read(name)
            if record is not None:
                yield record

    def _all_names(self) -> list[str]:
        names = []
        if not self.records_folder.is_dir():
            return names
        for path in self.records_folder.glob("*.json"):
            try:
                names.append(json.loads(path.read_text(encoding="utf-8"))["name"])
            except (OSError, ValueError, KeyError):
                continue
        return names
