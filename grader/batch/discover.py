"""Finding a class's submissions: a folder of files or project folders, or an LMS's .zip of one."""
from __future__ import annotations

import hashlib
import json
import os
import re
import lzma
import stat
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Optional

from grader.errors import UsageError
from grader.loaders import readable_name
from grader.submission import IGNORED_DIRS, MEGABYTE, PROJECT_MAX_BYTES, PROJECT_MAX_DEPTH, project_files

#: What an LMS export carries besides submissions.
IGNORED = {"__MACOSX", "__pycache__", ".ipynb_checkpoints", "Thumbs.db", ".DS_Store"}
#: How Moodle names the folder of a learner's online text ("download all submissions" gives each
#: learner one folder per submission plugin): with no code in it, it is no submission of its own.
MOODLE_ONLINE_TEXT = "_assignsubmission_onlinetext_"
#: Limits on a .zip, so an archive cannot fill the disk ("zip bomb"): members, and bytes unpacked.
ZIP_MAX_BYTES = 2 * 1024**3
ZIP_MAX_FILES = 100_000
#: The largest member unpacked. No gradable submission holds a larger file (a project folder is
#: capped at this in all; a single file far below it), so a larger member is left in the zip and
#: only its learner is reported, rather than the whole class refused.
ZIP_MEMBER_MAX_BYTES = PROJECT_MAX_BYTES
#: Most folders a member may lie in: a wrapping folder or two, the learner's, and a project's.
MEMBER_MAX_DEPTH = PROJECT_MAX_DEPTH + 4
#: Bytes copied at a time while unpacking.
COPY_CHUNK_BYTES = 1024 * 1024


class MemberDamaged(Exception):
    """Reading a member's data failed (what bz2 raises as OSError, told from a failed write)."""


#: What reading one damaged member raises (a bad CRC, corrupt or truncated compressed data, a
#: compression zipfile cannot undo). Its learner is reported, the others graded.
MEMBER_DAMAGE = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, RuntimeError, NotImplementedError,
                 MemberDamaged)
#: Hex digits of the hash that tells clashing output names apart; longer ones only if still alike.
SUFFIX_LENGTHS = (8, 12, 16, 24, 32, 64)


@dataclass(frozen=True)
class Entry:
    """One learner's submission: its name (the entry's name) and where it is."""

    name: str
    path: Path


@dataclass(frozen=True)
class Listing:
    """What a class folder holds: the submissions, and the names of the entries left out that
    the instructor should hear of (hidden files and an LMS's clutter are left out silently)."""

    entries: list[Entry]
    #: Neither a submission file nor a folder (``README.txt``), or a Moodle online-text folder
    #: holding no code (its learner's code is in the folder beside it).
    skipped: list[str] = field(default_factory=list)
    #: Symbolic links: never followed, so a class folder cannot make the batch read (and hand
    #: to learner code) files from elsewhere.
    links: list[str] = field(default_factory=list)
    #: This batch's own outputs (its CSV, records, reports), written into the class folder: a
    #: learner's name must not be taken by them on the next run.
    outputs: list[str] = field(default_factory=list)
    #: The class's own export (.zip), lying in the folder it was unpacked into: every learner it
    #: holds is an entry beside it already, so it is no learner's submission.
    exports: list[str] = field(default_factory=list)


def find_submissions(root: Path, suffixes: Iterable[str], outputs: Iterable[Path] = ()) -> Listing:
    """Files with a loader's suffix are submissions; so is every folder (a project, or a folder
    holding one learner's file), unless it is, or holds, one of ``outputs``."""
    suffixes = tuple(suffixes)
    if not root.is_dir():
        raise UsageError("usage.not_a_class", path=root)
    paths = sorted(root.iterdir(), key=lambda p: p.name)
    own = [absolute_path(Path(output)) for output in outputs]
    for path in paths:
        # An earlier batch's records, whatever its --out. (Only the folder itself: what its
        # batch.json lists could be anyone's name, were the folder a learner's look-alike.)
        if _is_records_folder(path) or _is_reports_folder(path, suffixes, paths):
            own.append(absolute_path(path))
    listing = Listing([])
    folder = absolute_path(root / "_").parent  # (each entry's place is in it: resolved once)
    own_places = [str(output) for output in own]
    for path in paths:
        if path.name in IGNORED or path.name.startswith("."):
            continue
        place = str(folder / path.name)  # = absolute_path(path)
        if any(output == place or output.startswith(place + "/") for output in own_places):
            listing.outputs.append(path.name)
        elif path.is_symlink():
            listing.links.append(path.name)
        elif path.is_dir() and path.name.endswith(MOODLE_ONLINE_TEXT) and not holds_gradable(path, suffixes) \
                and _has_other_plugin_folder(path.name, paths):
            listing.skipped.append(path.name)
        elif path.is_dir() or (path.is_file() and path.suffix.lower() in suffixes) or is_archive(path):
            listing.entries.append(Entry(readable_name(path.name), path))
        else:
            listing.skipped.append(path.name)
    archives = [entry for entry in listing.entries if is_archive(entry.path)]
    if archives:
        beside = {path.name for path in paths}  # (a Moodle online-text folder too, though left out)
        exports = [entry for entry in archives if is_unpacked_export(entry.path, beside - {entry.path.name})]
        listing.exports.extend(entry.path.name for entry in exports)
        listing.entries[:] = [entry for entry in listing.entries if entry not in exports]
    return listing


def wrapped_class(listing: Listing, suffixes: Iterable[str], entry: Optional[str] = None) -> Optional[Path]:
    """The one folder a class folder holds, when it is the class rather than a learner: as an
    export unpacked by hand into a folder of its own (``課題4/`` holding every learner) lies, and
    as ``unpack_zip`` descends into it. Not one learner's project: a folder with its entry (the
    ``entry`` given, or its only file of code at its top) is one, and so is a folder of fewer than
    two entries."""
    if len(listing.entries) != 1 or listing.exports or not listing.entries[0].path.is_dir():
        return None
    folder = listing.entries[0].path
    suffixes = tuple(suffix.lower() for suffix in suffixes)
    if entry and (folder / entry).is_file():
        return None
    visible = [child for child in folder.iterdir() if child.name not in IGNORED and not child.name.startswith(".")
               and not child.is_symlink()]
    # (an earlier run's reports in it name its children, or, where it was one learner, it)
    children = [child for child in visible if not _is_records_folder(child)
                and not _is_reports_folder(child, suffixes, [*visible, folder])]
    code = [child for child in children if child.is_file() and child.suffix.lower() in suffixes and child.name != "__init__.py"]
    entries = [child for child in children if child.is_dir() or child in code or is_archive(child)]
    return folder if len(code) != 1 and len(entries) >= 2 else None


#: Fewest learners a .zip must hold, all of them beside it, to be taken for the class's export.
EXPORT_MIN_ENTRIES = 2


def is_unpacked_export(archive: Path, beside: set[str]) -> bool:
    """Whether ``archive`` is the class's own export, unpacked where it lies: it holds at least
    two entries (files or folders, under a single wrapping folder if it has one) and each of
    them is among the names ``beside`` it. A learner's .zip holds one project, whose files are
    not the class's entries; a .zip that cannot be read is left to be reported as its learner's."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            names = [_member_name(member) for member in bundle.infolist()]
    except Exception:  # noqa: BLE001 - a learner's .zip (zipfile raises NotImplementedError for a version it
        return False   # does not know): whatever is wrong with it is that learner's row, not the class's end
    paths = []
    for name in names:
        parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
        if parts and not _never_graded(name):
            paths.append(parts)
    tops = {parts[0] for parts in paths}
    if len(tops) == 1 and all(len(parts) > 1 for parts in paths):  # one wrapping folder
        tops = {parts[1] for parts in paths}
    tops = {top for top in tops if top not in IGNORED and not top.startswith(".")}
    return len(tops) >= EXPORT_MIN_ENTRIES and tops <= beside


def _has_other_plugin_folder(name: str, paths: list[Path]) -> bool:
    """Whether the learner of Moodle's online-text folder ``name`` has another folder beside it
    (``NAME_ID_assignsubmission_file_``), which holds their work. A learner who handed in only
    online text has none: their folder is their row, unreadable for want of code, so that the
    instructor sees who handed in no file."""
    prefix = name[:-len(MOODLE_ONLINE_TEXT)] + "_assignsubmission_"
    return any(path.name != name and path.name.startswith(prefix) for path in paths)


def is_archive(path: Path) -> bool:
    """A learner's .zip in the class: graded as the folder it holds (``unpack_zip``)."""
    return path.suffix.lower() == ".zip" and path.is_file() and not path.is_symlink()


def holds_gradable(folder: Path, suffixes: Iterable[str], leaving_out: Iterable[Path] = ()) -> bool:
    """Whether a file with one of ``suffixes`` lies in ``folder`` as a project's copy sees it
    (``project_files``: links not followed, any depth of nesting walked without recursion),
    besides the files ``leaving_out`` (absolute paths)."""
    suffixes = tuple(suffix.lower() for suffix in suffixes)
    leaving_out = {str(path) for path in leaving_out}
    return any(os.path.splitext(path)[1].lower() in suffixes and path not in leaving_out
               for _, path, _ in project_files(folder))


def _is_records_folder(path: Path) -> bool:
    """Whether ``path`` is a batch's ``.state`` folder (``state.BatchState``). (By its name too:
    a learner's project folder holding a ``batch.json`` and a ``records`` folder is graded.)"""
    return (path.name.endswith(".state") and not path.is_symlink() and path.is_dir() and (path / "batch.json").is_file()
            and (path / "records").is_dir())


#: At most this many bytes of one report are read to tell an earlier batch's reports folder.
REPORT_PEEK_BYTES = 4 * MEGABYTE


def _is_reports_folder(path: Path, suffixes: Iterable[str], beside: Iterable[Path]) -> bool:
    """Whether ``path`` is an earlier batch's ``--json-dir`` (``NAME.json``) or ``--gradescope-dir``
    (``NAME/results.json``) of the class ``beside`` it, whatever its ``--out``: a folder of JSON
    files only, no code, the first of them a report ``grade`` writes, and one of them named for a
    classmate beside it. (Such a folder graded would be an ``unreadable`` learner, for want of
    code; a learner's folder holding code is graded whatever else it holds, and one holding a
    report of their own file is still their row.)"""
    if path.is_symlink() or not path.is_dir():
        return False
    files = []
    for relative, file, _ in project_files(path):
        name = os.path.basename(file)
        if name in IGNORED or name.startswith("."):
            continue  # (a Finder's .DS_Store)
        if not name.endswith(".json") or os.path.splitext(file)[1].lower() in suffixes:
            return False
        files.append((relative, file))
    if not files:
        return False
    try:
        with open(min(files)[1], "rb") as stream:
            data = json.loads(stream.read(REPORT_PEEK_BYTES))
    except (OSError, ValueError, RecursionError):
        return False
    if not isinstance(data, dict):
        return False
    extra = data.get("extra_data")
    if not ({"grader_version", "checks", "digest"} <= data.keys()  # --json-dir, grade submit --format json
            or ("tests" in data and isinstance(extra, dict) and {"seed", "digest"} <= extra.keys())):  # Gradescope's
        return False
    classmates = {safe_file_name(readable_name(other.name)) for other in beside if other.name != path.name}
    for relative, _ in files:
        # NAME.json, or NAME/results.json; NAME~hash where two names would have clashed
        named = relative[:-len(".json")] if "/" not in relative else relative.partition("/")[0]
        if named in classmates or re.sub(r"~[0-9a-f]{8}$", "", named) in classmates:
            return True
    return False


def absolute_path(path: Path) -> Path:
    """``path`` made absolute through its folder's real path, the last part not followed: so a
    class folder given by another path still meets its outputs, and a link is not taken for
    what it points to. (``.`` and ``..`` are taken as parts of the path first: ``.`` is the
    current folder, not its last part.)"""
    path = Path(os.path.abspath(path))
    return path.parent.resolve() / path.name


@dataclass(frozen=True)
class Unpacked:
    """A class's folder of submissions and, when it came from a .zip, the members left out of it
    for their size, and those too damaged to unpack: each (path relative to ``root``, for a
    damaged one what is wrong with it: ``damage_kind``), by the entry they belong to."""

    root: Path
    left_out: Mapping[str, tuple[tuple[str, Optional[str]], ...]] = field(default_factory=dict)
    member_limit: int = ZIP_MEMBER_MAX_BYTES
    damaged: Mapping[str, tuple[tuple[str, Optional[str]], ...]] = field(default_factory=dict)
    #: Members protected by a password (grade has none to give).
    encrypted: Mapping[str, tuple[tuple[str, Optional[str]], ...]] = field(default_factory=dict)
    #: Members not unpacked at all: links, and paths that would leave the folder or lie too deep.
    refused: tuple[str, ...] = ()


def unpack_zip(archive: Path, destination: Path, max_bytes: Optional[int] = None, max_files: Optional[int] = None) -> Unpacked:
    """Extract an LMS export safely and return the folder of submissions in it (descending
    into a single top-level folder, as exports often wrap everything in one). A member over
    ``ZIP_MEMBER_MAX_BYTES`` is left out, and so is a damaged one, an empty file in its place so
    that its learner is still found (and reported); more than ``ZIP_MAX_BYTES`` in all, or an
    unreadable list of members, refuses the archive."""
    limit = ZIP_MEMBER_MAX_BYTES
    max_bytes = ZIP_MAX_BYTES if max_bytes is None else max_bytes  # (an export's limits, unless a learner's .zip)
    max_files = ZIP_MAX_FILES if max_files is None else max_files
    left_out: list[Path] = []
    damaged: list[tuple[Path, str]] = []
    encrypted: list[tuple[Path, None]] = []
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = bundle.infolist()
            if len(members) > max_files:
                raise UsageError("usage.zip_too_large", path=archive, count=len(members))
            wanted, refused = _members_to_unpack(members, destination)
            # Declared sizes only refuse early, before gigabytes are written; the bytes actually
            # copied are what is counted.
            if sum(m.file_size for m, _ in wanted if not m.is_dir() and m.file_size <= limit) > max_bytes:
                raise _too_many_bytes(archive, max_bytes)
            room = max_bytes
            for member, target in wanted:
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                if member.flag_bits & 0x1:  # encrypted
                    target.touch()
                    encrypted.append((target, None))
                    continue
                try:
                    copied = _copy_member(bundle, member, target, limit, room)
                except MEMBER_DAMAGE as exc:
                    target.unlink(missing_ok=True)
                    target.touch()
                    damaged.append((target, damage_kind(exc)))
                    continue
                if copied is None:
                    target.touch()
                    left_out.append(target)
                elif copied > room:
                    raise _too_many_bytes(archive, max_bytes)
                else:
                    room -= copied
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, UnicodeDecodeError, NotImplementedError,
            ValueError) as exc:
        # (UnicodeDecodeError: a member's name flagged UTF-8 that is not; NotImplementedError: a zip
        # version zipfile does not know)
        raise UsageError("usage.bad_zip", path=archive, error=exc) from exc
    root = _submissions_folder(destination)
    return Unpacked(root, _by_entry(root, [(target, None) for target in left_out]), limit,
                    _by_entry(root, damaged), _by_entry(root, encrypted), tuple(refused))


def _members_to_unpack(members: list[zipfile.ZipInfo], destination: Path
                       ) -> tuple[list[tuple[zipfile.ZipInfo, Path]], list[str]]:
    """(member, where it goes) of each member to unpack; and the names of those refused: links,
    and paths that would leave ``destination`` or lie too deep."""
    wanted, refused = [], []
    for member in members:
        name = _member_name(member)
        if _never_graded(name):
            continue
        target = _safe_target(destination, name)
        if target is not None and not _is_link(member):
            wanted.append((member, target))
        else:
            refused.append(name)
    return wanted, refused


def _never_graded(name: str) -> bool:
    """Whether a member is in a folder neither grading nor a project's copy ever reads (``.git``,
    virtual environments, ``__MACOSX``...): it is not unpacked, however large it is."""
    parts = [part for part in name.replace("\\", "/").split("/") if part]
    if not parts:
        return True
    *folders, file_name = parts
    # ("..": not a hidden folder, but a path leaving the archive's folder: refused, and said so)
    return file_name in IGNORED or any(f in IGNORED or f in IGNORED_DIRS or (f.startswith(".") and f != "..")
                                       for f in folders)


def _copy_member(bundle: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path, limit: int,
                 room: int) -> Optional[int]:
    """Copy ``member`` to ``target`` and return the bytes copied: None (nothing kept) for a
    member over ``limit``, more than ``room`` (nothing kept) for one the archive has no room
    left for. Counts the bytes read, not the size the member's header declares."""
    if member.file_size > limit:
        return None
    copied = 0
    with bundle.open(member) as source, open(target, "wb") as sink:
        while True:
            try:
                chunk = source.read(COPY_CHUNK_BYTES)
            except OSError as exc:  # bz2's corrupt data; a failed write (a full disk) is not this
                raise MemberDamaged(str(exc)) from exc
            if not chunk:
                return copied
            copied += len(chunk)
            if copied > limit or copied > room:
                break
            sink.write(chunk)
    target.unlink()
    return None if copied > limit else copied


def _too_many_bytes(archive: Path, max_bytes: int) -> UsageError:
    return UsageError("usage.zip_too_many_bytes", path=archive, max_megabytes=f"{max_bytes / MEGABYTE:g}")


def _submissions_folder(destination: Path) -> Path:
    visible = [p for p in destination.iterdir() if p.name not in IGNORED and not p.name.startswith(".")]
    if len(visible) == 1 and visible[0].is_dir():
        return visible[0]
    return destination


def _by_entry(root: Path, members: list[tuple[Path, Optional[str]]]) -> dict[str, tuple[tuple[str, Optional[str]], ...]]:
    """Members, each (path relative to ``root``, what is wrong with it if said), by the entry
    (top-level file or folder under ``root``) they belong to."""
    by_entry: dict[str, list[tuple[str, Optional[str]]]] = {}
    for target, problem in members:
        try:
            relative = target.relative_to(root)
        except ValueError:
            continue  # beside the wrapping folder: not part of any submission
        by_entry.setdefault(relative.parts[0], []).append((relative.as_posix(), problem))
    return {entry: tuple(members) for entry, members in by_entry.items()}


def damage_kind(exc: BaseException) -> str:
    """What is wrong with a damaged member, as a word messages can say in any language."""
    if isinstance(exc, zipfile.BadZipFile):
        return "crc" if "CRC" in str(exc) else "header"
    if isinstance(exc, NotImplementedError):
        return "compression"
    return "data"  # corrupt or truncated compressed data


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
    """Where a member goes, or None for a path that would leave ``destination``, or that lies
    deeper than a class's folder, a project and its folders could need (a member thousands of
    folders deep would break the tools that walk the tree)."""
    parts = [part for part in name.replace("\\", "/").split("/") if part not in ("", ".")]
    if not parts or ".." in parts or name.startswith("/") or ":" in parts[0]:
        return None
    if len(parts) > MEMBER_MAX_DEPTH:
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
    # At most 150 bytes, not characters: file systems count bytes (255 at most), and a Japanese
    # character is 3; the rest leaves room for a ``~`` suffix and ``.json``.
    return cleaned.encode("utf-8", "surrogateescape")[:150].decode("utf-8", "ignore") or "submission"


def output_names(names: Iterable[str]) -> dict[str, str]:
    """Each submission's name -> the name of its report files (``--json-dir``, ``--gradescope-dir``),
    distinct for every name. A name keeps its ``safe_file_name`` form unless that clashes with
    another's, compared as a case-insensitive file system would; then each clashing name gets
    ``~`` and a hash of its original name. Alike still (a name chosen to look like another's
    suffixed form), the plainer of them gets a suffix, or a longer one, until none are alike; so
    nobody's name can take another's file. Depends on the set of names only: every run, --resume
    and every shard of a class agree, whatever order the folder lists in."""
    levels = dict.fromkeys(sorted(set(names)), 0)  # 0: as is; n: SUFFIX_LENGTHS[n - 1] digits
    while True:
        chosen = {name: _output_name(name, level) for name, level in levels.items()}
        groups: dict[str, list[str]] = {}
        for name, output in chosen.items():
            groups.setdefault(_file_system_key(output), []).append(name)
        clashes = [group for group in groups.values() if len(group) > 1]
        if not clashes:
            return chosen
        for group in clashes:
            lowest = min(levels[name] for name in group)
            for name in group:
                if levels[name] == lowest:
                    levels[name] += 1


def _output_name(name: str, level: int) -> str:
    if level == 0:
        return safe_file_name(name)
    if level > len(SUFFIX_LENGTHS):  # two names with the same SHA-256
        raise RuntimeError(f"no distinct output name for {name!r}")
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{safe_file_name(name)}~{digest[:SUFFIX_LENGTHS[level - 1]]}"


def lookalike_names(names: Iterable[str]) -> list[list[str]]:
    """Groups of names that differ only in how their characters are encoded (Unicode NFC, as
    Windows and Linux write "が", against NFD, "か" + "゛", as macOS does): distinct submissions
    whose rows look the same in the CSV. Each group sorted, the groups by their first name."""
    groups: dict[str, list[str]] = {}
    for name in sorted(set(names)):
        groups.setdefault(unicodedata.normalize("NFC", name), []).append(name)
    return [group for group in groups.values() if len(group) > 1]


def _file_system_key(name: str) -> str:
    """What macOS and Windows compare when they compare file names: case and Unicode
    normalisation (macOS stores é as e + accent) do not count."""
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", name).casefold())


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
