"""Finding a class's submissions: a folder of files or project folders, or an LMS's .zip of one."""
from __future__ import annotations

import hashlib
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from grader.errors import UsageError

#: What an LMS export carries besides submissions.
IGNORED = {"__MACOSX", "__pycache__", ".ipynb_checkpoints", "Thumbs.db", ".DS_Store"}
#: Limits on a .zip, so an archive cannot fill the disk ("zip bomb").
ZIP_MAX_BYTES = 2 * 1024**3
ZIP_MAX_FILES = 100_000


@dataclass(frozen=True)
class Entry:
    """One learner's submission: its name (the entry's name) and where it is."""

    name: str
    path: Path


def find_submissions(root: Path, suffixes: Iterable[str]) -> tuple[list[Entry], list[str]]:
    """(submissions, names of entries skipped). Files with a loader's suffix are submissions;
    so is every folder (a project, or a folder holding one learner's file)."""
    suffixes = tuple(suffixes)
    if not root.is_dir():
        raise UsageError("usage.not_a_class", path=root)
    entries, skipped = [], []
    for path in sorted(root.iterdir(), key=lambda p: p.name):
        if path.name in IGNORED or path.name.startswith(".") or path.is_symlink():
            continue
        if path.is_dir() or (path.is_file() and path.suffix.lower() in suffixes):
            entries.append(Entry(path.name, path))
        else:
            skipped.append(path.name)
    return entries, skipped


def unpack_zip(archive: Path, destination: Path) -> Path:
    """Extract an LMS export safely and return the folder of submissions in it (descending
    into a single top-level folder, as exports often wrap everything in one)."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = bundle.infolist()
            if len(members) > ZIP_MAX_FILES or sum(m.file_size for m in members) > ZIP_MAX_BYTES:
                raise UsageError("usage.zip_too_large", path=archive, count=len(members))
            for member in members:
                name = _member_name(member)
                target = _safe_target(destination, name)
                if target is None or _is_link(member):
                    continue
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(member) as source, open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise UsageError("usage.bad_zip", path=archive, error=exc) from exc
    visible = [p for p in destination.iterdir() if p.name not in IGNORED and not p.name.startswith(".")]
    if len(visible) == 1 and visible[0].is_dir():
        return visible[0]
    return destination


def _member_name(member: zipfile.ZipInfo) -> str:
    """A member's name, decoded as its maker meant it. Zips made on Japanese Windows carry
    Shift_JIS names without the UTF-8 flag, which zipfile reads as cp437."""
    if member.flag_bits & 0x800:
        return member.filename
    raw = member.filename.encode("cp437", errors="replace")
    for encoding in ("utf-8", "shift_jis", "cp932"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return member.filename


def _safe_target(destination: Path, name: str) -> Path | None:
    """Where a member goes, or None for a path that would leave ``destination``."""
    parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
    if not parts or ".." in parts or name.startswith("/") or ":" in parts[0]:
        return None
    return destination.joinpath(*parts)


def _is_link(member: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(member.external_attr >> 16)


def entry_key(name: str) -> str:
    """A file name for a submission's record, whatever characters its name has."""
    return hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:20]


def safe_file_name(name: str) -> str:
    """``name`` usable as a file name (Japanese kept; separators and control characters not)."""
    cleaned = "".join("_" if c in '/\\:*?"<>|' or ord(c) < 32 else c for c in name).strip(" .")
    return cleaned[:150] or "submission"


def in_shard(name: str, shard: tuple[int, int] | None) -> bool:
    """Whether ``name`` belongs to shard K of N: a hash of the name, so every machine splits
    the class the same way whatever order it lists the folder in."""
    if shard is None:
        return True
    index, count = shard
    digest = int.from_bytes(hashlib.sha256(name.encode("utf-8", "surrogateescape")).digest()[:8], "big")
    return digest % count == index - 1


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise UsageError("usage.bad_shard", shard=text) from None
    if not 1 <= index <= count:
        raise UsageError("usage.bad_shard", shard=text)
    return index, count
