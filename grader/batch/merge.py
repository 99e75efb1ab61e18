"""``grade merge``: join the outputs of ``grade batch --shard K/N`` runs into one class result."""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Callable, Iterator, Optional

from grader.batch.run import outputs_of, write_class_outputs
from grader.batch.state import BatchState, check_outputs, of_run, prepare_outputs, state_folder, summary_file
from grader.errors import UsageError
from grader.messages import Messages, en, ja

#: ``warn(message_id, **params)``: how merge reports what is wrong but not fatal.
Warn = Callable[..., None]


def merge(inputs: list[Path], out: Path, junit: Optional[Path], warn: Warn, messages: Optional[Messages] = None) -> dict:
    """Merge the records behind each input CSV; returns the class summary. Only each shard's
    own records of its last run count (the names, seed and grader its ``batch.json`` gives).
    Shards of the same K/N split that were not given are warned about and listed in the
    summary as ``missing_shards``; shards of different splits that leave some submissions in
    none of them, as ``incomplete_split``; submissions a shard listed but never graded (it was
    interrupted), as ``ungraded``; shards run on different listings of the class, as
    ``classes_differ``: each way the result is incomplete. ``messages``
    write the JUnit file (from each record's JSON report), if asked. Everything that could
    refuse the merge is checked before anything is written: a refused merge leaves no part
    of a result."""
    if junit and messages is None:
        messages = Messages({"en": en.MESSAGES, "ja": ja.MESSAGES})  # the built-in sentences
    check_outputs([out, state_folder(out), summary_file(out), junit],
                   [part for path in inputs for part in (path, state_folder(path), summary_file(path))],
                   inside=[state_folder(path) for path in inputs])
    shards, columns, seeds, fingerprints = [], [], set(), set()
    for path in inputs:
        state = BatchState(state_folder(path))
        meta = state.meta()
        if (meta is None or type(meta.get("names")) is not list or not all(type(name) is str for name in meta["names"])
                or type(meta.get("seed")) is not int or type(meta.get("fingerprint")) is not str):
            raise UsageError("usage.no_records", path=path, folder=state.folder)
        seeds.add(meta.get("seed"))
        fingerprints.add(meta.get("fingerprint"))
        shards.append((state, meta))
        try:
            with open(path, encoding="utf-8-sig", newline="") as stream:
                for column in next(csv.reader(stream), []):
                    if column not in columns:
                        columns.append(column)
        except OSError as exc:
            raise UsageError("usage.cannot_read", path=path, error=exc.strerror) from exc
    if len(seeds) > 1:
        raise UsageError("usage.seeds_differ", seeds=", ".join(sorted(map(str, seeds))))
    if len(fingerprints) > 1:
        raise UsageError("usage.graders_differ")
    # Which record comes from which shard, read once to check (records can be many and large:
    # they are read again to be written rather than held).
    chosen: dict[str, BatchState] = {}
    ungraded: list[str] = []  # listed by a shard's run, which ended before grading them
    for state, meta in shards:
        graded = set()
        for record in _records_of_last_run(state, meta):
            if record["name"] in chosen:
                raise UsageError("usage.duplicate_in_shards", name=record["name"])
            chosen[record["name"]] = state
            graded.add(record["name"])
        ungraded += [name for name in meta["names"] if name not in graded]
    ungraded = sorted(set(ungraded) - set(chosen))
    merged_state = BatchState(state_folder(out))
    # (once nothing can refuse the merge: a refused merge makes no folder, and warns of nothing)
    prepare_outputs([out, summary_file(out), junit], [merged_state.folder])
    if ungraded:
        warn("summary.ungraded", count=len(ungraded), names=_some(ungraded))
    given = [meta.get("shard") for _, meta in shards]
    missing, count = missing_shards(given)
    if missing:
        warn("summary.missing_shards", missing=", ".join(map(str, missing)), missing_count=len(missing), count=count)
    gaps = [f"{index}/{count}" for index, count in given] if splits_leave_gaps(given) else []
    if gaps:
        warn("summary.split_incomplete", shards=", ".join(gaps))
    # Each run records which learners the whole class had: shards run while the class changed
    # may have left a learner in none of them.
    # (slices only: two whole runs are two classes, sections of a course, merged on purpose)
    classes = {meta.get("class") for _, meta in shards if type(meta.get("class")) is str and _is_shard(meta.get("shard"))}
    classes_differ = len(classes) > 1
    if classes_differ:
        warn("summary.classes_differ")
    # An input that is itself an incomplete merge passes its incompleteness on.
    incomplete_inputs = [str(path) for path, (_, meta) in zip(inputs, shards)
                         if any(meta.get(key) for key in INCOMPLETE)]
    if incomplete_inputs:
        warn("summary.input_incomplete", inputs=", ".join(incomplete_inputs))
    for state, meta in shards:
        for record in _records_of_last_run(state, meta):
            if chosen.get(record["name"]) is state:
                merged_state.write({k: v for k, v in record.items() if k != "format"})
    ordered = sorted(chosen)
    seed = next(iter(seeds))
    merged_state.save_meta({"seed": seed, "fingerprint": next(iter(fingerprints)),
                            "names": ordered, "merged_from": [str(p) for p in inputs],
                            "missing_shards": missing, "incomplete_split": gaps, "ungraded": ungraded,
                            "classes_differ": classes_differ, "incomplete_inputs": incomplete_inputs})
    rows, summary, suites = outputs_of(merged_state.records(ordered), messages if junit else None, seed)
    # (a complete merge: the same summary as one run)
    incomplete = (("missing_shards", missing), ("incomplete_split", gaps), ("ungraded", ungraded),
                  ("classes_differ", classes_differ), ("incomplete_inputs", incomplete_inputs))
    extra = {key: value for key, value in incomplete if value} or None
    return write_class_outputs(out, columns, rows, summary, junit, suites, extra)


#: The summary's keys that say a merged result is incomplete (and ``grade merge`` exits 1).
INCOMPLETE = ("missing_shards", "incomplete_split", "ungraded", "classes_differ", "incomplete_inputs")


def _some(names: list[str], shown: int = 5) -> str:
    return ", ".join(names[:shown]) + (f", ... (+{len(names) - shown})" if len(names) > shown else "")


def _records_of_last_run(state: BatchState, meta: dict) -> Iterator[dict]:
    """A shard's records of the run its ``batch.json`` describes: graded by that run (its id)
    or kept by it (--resume), not left over from an earlier one. (A merged result's records,
    and an older run's, have no run id: their seed and grader tell.)"""
    kept = {name for name in meta.get("kept") or () if type(name) is str} if type(meta.get("kept")) is list else set()
    for record in state.records(meta["names"]):
        if of_run(record, meta.get("seed"), meta.get("fingerprint"), meta.get("run"), kept):
            yield record


def missing_shards(shards: list) -> tuple[list[int], int]:
    """(the numbers of the shards not among ``shards``, N): shards are ``[K, N]`` as each
    ``batch.json`` records them. Nothing is missing unless every input is a shard of the same N
    (a split of another N, or a whole run, leaves nothing this can tell)."""
    if not shards or not all(_is_shard(shard) for shard in shards):
        return [], 0
    counts = {count for _, count in shards}
    if len(counts) != 1:
        return [], 0
    (count,) = counts
    return sorted(set(range(1, count + 1)) - {index for index, _ in shards}), count


#: The largest least common multiple of the splits' N for which their coverage is checked.
MAX_SPLIT_PERIOD = 10_000_000


def splits_leave_gaps(shards: list) -> bool:
    """Whether shards of different splits (``[K, N]`` with different N) leave some submissions
    in none of them. Shard K of N holds the names whose hash is K - 1 modulo N, so the hashes
    modulo the least common multiple of the N tell. Shards of one split are ``missing_shards``'
    to tell; an input that is not a shard (a whole run) leaves no gap."""
    if not shards or not all(_is_shard(shard) for shard in shards) or len({n for _, n in shards}) < 2:
        return False
    period = math.lcm(*(count for _, count in shards))
    if period > MAX_SPLIT_PERIOD:
        return True  # too many to check: say so rather than claim a whole class
    covered = bytearray(period)
    for index, count in shards:
        covered[index - 1::count] = b"\1" * len(range(index - 1, period, count))
    return 0 in covered


def _is_shard(value) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) == 2
            and all(type(part) is int for part in value) and 1 <= value[0] <= value[1])

