"""``grade merge``: join the outputs of ``grade batch --shard K/N`` runs into one class result."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Optional

from grader.batch import summary as class_summary
from grader.batch.run import write_csv, write_junit
from grader.batch.state import BatchState, atomic_write, state_folder
from grader.errors import UsageError


def merge(inputs: list[Path], out: Path, junit: Optional[Path] = None) -> dict:
    """Merge the records behind each input CSV; returns the class summary."""
    states, columns, seeds = [], [], set()
    for path in inputs:
        state = BatchState(state_folder(path))
        meta = state.meta()
        if meta is None:
            raise UsageError("usage.no_records", path=path, folder=state.folder)
        seeds.add(meta.get("seed"))
        states.append(state)
        try:
            with open(path, encoding="utf-8-sig", newline="") as stream:
                for column in next(csv.reader(stream), []):
                    if column not in columns:
                        columns.append(column)
        except OSError as exc:
            raise UsageError("usage.cannot_read", path=path, error=exc.strerror) from exc
    if len(seeds) > 1:
        raise UsageError("usage.seeds_differ", seeds=", ".join(sorted(map(str, seeds))))
    merged_state = BatchState(state_folder(out))
    names = set()
    for state in states:
        for record in state.records():
            if record["name"] in names:
                raise UsageError("usage.duplicate_in_shards", name=record["name"])
            names.add(record["name"])
            merged_state.write({k: v for k, v in record.items() if k != "format"})
    merged_state.save_meta({"seed": seeds.pop() if seeds else None, "merged_from": [str(p) for p in inputs]})
    ordered = sorted(names)
    write_csv(out, columns, [record["row"] for record in merged_state.records(ordered)])
    if junit:
        write_junit(junit, merged_state.records(ordered))
    data = class_summary.build(merged_state.records(ordered)).data()
    atomic_write(out.with_name(out.stem + ".summary.json"), json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    return data
