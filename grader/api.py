"""The library API behind the ``grade`` command, usable from Python as well.

    from grader import api
    with api.open_grader(seed=1) as session:
        report = session.grader.grade("student.py")
        print(session.renderer("text").render(report))
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pluggy

from grader.errors import UsageError
from grader.formats import Format, RenderContext, collect_formats
from grader.messages import Messages, collect_messages, default_language
from grader.model import Catalogue, ExitCode, Report
from grader.plugins import describe_plugins, get_plugin_manager
from grader.runner import Grader, Options
from grader.sandbox.client import Settings
from grader.sandbox.control import Host


def plugin_manager() -> pluggy.PluginManager:
    """The plugins of this environment (built-ins, entry points, GRADE_PLUGINS)."""
    return get_plugin_manager()


def language(lang: Optional[str] = None) -> str:
    return lang or default_language(os.environ)


def messages(manager: Optional[pluggy.PluginManager] = None) -> Messages:
    return collect_messages(manager or plugin_manager())


@dataclass
class Renderer:
    format: Format
    context: RenderContext

    def render(self, report: Report) -> str:
        return self.format.render(report, self.context)

    def render_file(self, report: Report) -> str:
        """The report as a file of its format holds it (``Format.file_start`` first)."""
        return self.format.file_start + self.render(report)


class GradingSession:
    """A Grader with the messages and formats of the same plugins."""

    def __init__(self, grader: Grader):
        self.grader = grader
        self.messages = collect_messages(grader.manager)
        self.formats = collect_formats(grader.manager)

    def renderer(self, name: str, lang: Optional[str] = None, verbose: bool = False, color: bool = False) -> Renderer:
        if name not in self.formats:
            raise UsageError("usage.unknown_format", name=name, choices=", ".join(sorted(self.formats)))
        return Renderer(self.formats[name], RenderContext(self.messages, language(lang), verbose, color))

    def close(self) -> None:
        self.grader.close()

    def __enter__(self) -> "GradingSession":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def open_grader(host: Optional[Host] = None, seed: Optional[int] = None, keyword: Optional[str] = None,
                timeout: float = 5.0, load_timeout: float = 10.0, memory: int = 1024,
                deny_paths: tuple[str, ...] = (), manager: Optional[pluggy.PluginManager] = None) -> GradingSession:
    options = Options(
        seed=seed,
        settings=Settings(check_timeout=timeout, load_timeout=load_timeout, memory_mb=memory),
        keyword=keyword,
        deny_paths=deny_paths,
    )
    grader = Grader(manager or plugin_manager(), options, host)
    unmatched = grader.full_catalogue.unmatched(keyword)
    if unmatched:
        grader.close()
        raise UsageError("usage.keyword", keyword=unmatched[0])
    return GradingSession(grader)


def exit_code(report: Report, min_score: Optional[float] = None) -> ExitCode:
    """0 at full marks (or at least ``min_score``), else 1."""
    if min_score is not None:
        return ExitCode.OK if report.score >= min_score else ExitCode.NOT_FULL_MARKS
    return ExitCode.OK if report.full_marks else ExitCode.NOT_FULL_MARKS


def catalogue(keyword: Optional[str] = None, manager: Optional[pluggy.PluginManager] = None) -> Catalogue:
    from grader.catalogue import build_catalogue

    full = build_catalogue(manager or plugin_manager())
    unmatched = full.unmatched(keyword)
    if unmatched:
        raise UsageError("usage.keyword", keyword=unmatched[0])
    return full.select(keyword)


def catalogue_data(selected: Catalogue, lang: str) -> dict:
    """The catalogue as plain data, for tools (``grade list --format json``)."""
    from grader.catalogue import probe_path

    return {
        "max_score": selected.max_score,
        "exercises": [
            {
                "id": exercise.id,
                "title": exercise.title.get(lang, ""),
                "points": exercise.points,
                "checks": [
                    {
                        "id": check.id,
                        "exercise": exercise.id,
                        "name": check.name,
                        "function": check.function,
                        "points": check.points,
                        "extra": check.extra,
                        "title": check.title.get(lang, ""),
                        "rtol": check.rtol,
                        "atol": check.atol,
                        "kind": "property" if check.verify else "value",
                        "supplied": list(check.supplied),
                        "end_to_end": list(check.names) if check.uses else [],
                        "probe": probe_path(check),
                    }
                    for check in exercise.checks
                ],
            }
            for exercise in selected.exercises
        ],
        "mistakes": [
            {"id": m.id, "function": m.function, "hint": m.hint.get(lang, "")} for m in selected.mistakes
        ],
    }


def plugin_rows(manager: Optional[pluggy.PluginManager] = None) -> list[dict]:
    return describe_plugins(manager or plugin_manager())


def write_starter(path: Path, force: bool = False, manager: Optional[pluggy.PluginManager] = None) -> int:
    """Write a starter file; returns how many functions and classes it holds."""
    from grader import starter

    path = Path(path)
    if path.exists() and not force:
        raise UsageError("usage.exists", path=path)
    selected = catalogue(manager=manager)
    if path.suffix == ".ipynb":
        text = starter.notebook(selected, path.name)
    elif path.suffix == ".py":
        text = starter.script(selected, path.name)
    else:
        raise UsageError("usage.starter_suffix", path=path)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError("usage.cannot_write", path=path, error=exc.strerror or exc) from exc
    return len(list(starter.stubs(selected)))


def run_batch(submissions: Path, out: Path, host: Optional[Host] = None, jobs: Optional[int] = None,
              json_dir: Optional[Path] = None, gradescope_dir: Optional[Path] = None, junit: Optional[Path] = None,
              resume: bool = False, seed: Optional[int] = None, entry: Optional[str] = None, shard: Optional[str] = None,
              timeout: float = 5.0, load_timeout: float = 10.0, memory: int = 1024, lang: Optional[str] = None,
              progress: bool = True, manager: Optional[pluggy.PluginManager] = None):
    """Grade a class (see ``grade batch --help``); returns a ``grader.batch.run.BatchResult``."""
    from grader.batch.discover import parse_shard
    from grader.batch.run import BatchOptions, progress_bar
    from grader.batch.run import run_batch as run

    options = BatchOptions(
        submissions=Path(submissions), out=Path(out), jobs=jobs or os.cpu_count() or 1,
        json_dir=json_dir, gradescope_dir=gradescope_dir, junit=junit, resume=resume, seed=seed, entry=entry,
        shard=parse_shard(shard), lang=language(lang),
        settings=Settings(check_timeout=timeout, load_timeout=load_timeout, memory_mb=memory),
    )
    bar = progress_bar() if progress else None
    try:
        return run(options, manager or plugin_manager(), bar, host)
    finally:
        if bar is not None:
            bar.close()  # however the batch ended: the cursor shown, the bar's line ended


def merge_batches(inputs: list[Path], out: Path, junit: Optional[Path] = None, lang: Optional[str] = None) -> dict:
    """The class summary of the merged shards; warnings (a shard not given) go to stderr in
    ``lang``, and the summary lists the missing shards."""
    import sys

    from grader.batch.merge import merge
    from grader.formats.text import plain
    from grader.model import Message

    catalog, chosen = messages(), language(lang)

    def warn(message_id: str, **params) -> None:
        # (learners' names among them: their control characters shown as "\ufffd", not obeyed)
        print(plain(catalog.render(Message(message_id, params), chosen)), file=sys.stderr)

    return merge([Path(p) for p in inputs], Path(out), junit, warn=warn, messages=catalog)


def render_summary(summary: dict, lang: Optional[str] = None, manager: Optional[pluggy.PluginManager] = None) -> str:
    from grader.batch.summary import render

    return render(summary, messages(manager), language(lang))

