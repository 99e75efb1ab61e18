"""The ``grade`` command: parse, call the library, print, exit. Nothing else.

Exit codes follow pytest's: 0 full marks, 1 graded below full marks, 2 interrupted, 3 internal
error, 4 usage error.
"""
from __future__ import annotations

import errno
import json
import math
import os
import sys
from pathlib import Path
from typing import Optional

import click

from grader import __version__
from grader.errors import GraderError, PluginError, UsageError
from grader.model import ExitCode

#: The language chosen with --lang, for messages printed after the command has ended.
_chosen_language: dict = {}


def _remember_language(ctx, param, value):
    _chosen_language["lang"] = value
    return value


def language_option(what: str = "the report"):
    return click.option(
        "--lang", type=click.Choice(["en", "ja"]), default=None, callback=_remember_language, is_eager=True,
        help=f"Language of {what} (default: from LANG/LC_ALL; Japanese when it starts with 'ja').",
    )


LANG_OPTION = language_option()


class FilePath(click.Path):
    """An output file's path: one that ends with "/" names a folder (``--out reports/``), which
    would otherwise be written as a file of that name."""

    def __init__(self):
        super().__init__(dir_okay=False, path_type=Path)

    def convert(self, value, param, ctx):
        if isinstance(value, str) and value.endswith(("/", os.sep)):
            self.fail(f"{value!r} ends with '/': it names a folder; give a file's name ({value}results.csv)", param, ctx)
        return super().convert(value, param, ctx)


def _say(message_id: str, **params) -> str:
    """A sentence of grader.messages in the chosen language (without loading any plugin)."""
    from grader.messages import Messages, default_language, en, ja

    from grader.formats.text import plain

    lang = _chosen_language.get("lang") or default_language(os.environ)
    # Names and paths are the learners' (a file called "\x1b[2J..." would clear the terminal):
    # their control characters are shown as "\ufffd", not obeyed.
    params = {key: plain(os.fspath(value)) if isinstance(value, (str, os.PathLike)) else value
              for key, value in params.items()}
    return Messages({"en": en.MESSAGES, "ja": ja.MESSAGES}).text(message_id, lang, **params)


class GradeGroup(click.Group):
    """Maps every way a command can end to pytest's exit codes, and never shows a traceback
    unless GRADE_DEBUG is set."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args, prog_name or "grade", complete_var, standalone_mode=False, **extra)
        except click.UsageError as exc:
            exc.show()
            code = ExitCode.USAGE_ERROR
        except UsageError as exc:
            click.echo(_say("usage.error", message=_say(exc.message_id, **exc.params)), err=True)
            code = ExitCode.USAGE_ERROR
        except click.ClickException as exc:
            exc.show()
            code = ExitCode.USAGE_ERROR
        except (click.Abort, KeyboardInterrupt):
            click.echo(_say("cli.interrupted"), err=True)
            code = ExitCode.INTERRUPTED
        except PluginError as exc:
            from grader.plugins import DISABLE_AUTOLOAD_ENV, EXTRA_PLUGINS_ENV

            click.echo(f"Error: a plugin is broken: {exc}. Fix the plugin, or grade without it ({DISABLE_AUTOLOAD_ENV}=1 "
                       f"leaves out installed packs; {EXTRA_PLUGINS_ENV} names the others).", err=True)
            code = ExitCode.INTERNAL_ERROR
        except GraderError as exc:
            click.echo(f"Error: {exc}", err=True)
            code = ExitCode.INTERNAL_ERROR
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            if os.environ.get("GRADE_DEBUG"):
                raise
            click.echo(_say("cli.internal_error", version=__version__, error=f"{type(exc).__name__}: {exc}"), err=True)
            code = ExitCode.INTERNAL_ERROR
        if standalone_mode:
            sys.exit(int(code or 0))
        return int(code or 0)


@click.group(cls=GradeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="grade")
def cli():
    """Grade a learner's code for the chapter "ニューラルネットワークの学習" (learning in neural
    networks): loss functions, mini-batches, numerical differentiation, gradients, gradient
    descent and simpleNet."""


# --- grade submit -------------------------------------------------------------------------------

@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--format", "format_name", default="text", show_default=True,
              help="Output format: text, json, gradescope, junit, csv (or one a plugin adds).")
@click.option("-o", "--output", type=FilePath(),
              help="Write the report to this file instead of standard output.")
@click.option("--junit", type=FilePath(), help="Also write a JUnit XML report here.")
@click.option("--entry", help="The entry file of a folder submission, relative to the folder.")
@click.option("-k", "keyword", multiple=True, callback=lambda _ctx, _param, value: _keywords(value),
              help="Grade only the checks of this exercise or function (e.g. -k numerical_diff); repeat it for more.")
@click.option("-v", "--verbose", is_flag=True, help="Show inputs, expected and got for every failed check.")
@click.option("--seed", type=int, help="Seed for the random inputs (default: a fresh one, shown in the report).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=5.0, show_default=True, help="Seconds per check.")
@click.option("--load-timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds for each top-level statement or cell while the file loads.")
@click.option("--memory", type=click.IntRange(min=64), default=1024, show_default=True,
              help="Memory the learner's code may use, in MB.")
@click.option("--min-score", type=float, callback=lambda ctx, param, value: _check_min_score(value),
              help="Exit 0 when the score is at least this (for CI gates).")
@LANG_OPTION
@click.option("--color/--no-color", default=None, help="Colour the text report (default: when writing to a terminal and NO_COLOR is unset).")
def submit(path, format_name, output, junit, entry, keyword, verbose, seed, timeout, load_timeout, memory,
           min_score, lang, color):
    """Grade one submission: a .py file, an .ipynb notebook, or a project folder."""
    from grader.prestart import EarlyStart
    from grader.sandbox.client import Settings
    from grader.sandbox.control import take_or_start
    from grader.seeds import fresh_seed

    # The host's interpreter, then the learner's process, start while the grader finishes
    # importing: a learner waits for the slower of the two, not for both. (The seed is settled
    # first: the learner's process starts from it.)
    seed = seed if seed is not None else fresh_seed()
    host = take_or_start()
    settings = Settings(check_timeout=timeout, load_timeout=load_timeout, memory_mb=memory)
    early = EarlyStart(host, path, entry, settings, seed) if path.is_file() else None
    try:
        from grader import api
        from grader.submission import refuse_output_over_code

        session = api.open_grader(
            host=host, seed=seed, keyword=keyword, timeout=timeout, load_timeout=load_timeout, memory=memory,
        )
        with session:
            for target in (output, junit):
                refuse_output_over_code(target, path, session.grader.loaders)
            if min_score is not None and min_score > session.grader.catalogue.max_score:
                # A gate no submission could pass is a mistake in the CI step, not a failing learner.
                raise UsageError("usage.min_score_too_high", min_score=_exactly(min_score),
                                 max_score=f"{session.grader.catalogue.max_score:g}")
            renderer = session.renderer(format_name, lang=lang, verbose=verbose, color=_color(color, output))
            report = session.grader.grade_as_handed_in(path, entry=entry, early=early, lang=renderer.context.lang)
            _write(renderer.render(report) if output is None else renderer.render_file(report), output, renderer.context.color)
            if junit:
                _write(session.renderer("junit", lang=lang).render(report), junit)
            return api.exit_code(report, min_score)
    finally:
        if early is not None:
            early.discard()
        host.close(wait=False)


# --- grade list / plugins / init -------------------------------------------------------------------

@cli.command("list")
@click.option("--format", "format_name", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("-k", "keyword", multiple=True, callback=lambda _ctx, _param, value: _keywords(value),
              help="Only the checks of this exercise or function; repeat it for more.")
@language_option("the titles")
def list_checks(format_name, keyword, lang):
    """Show the catalogue: every exercise, check and its points."""
    from grader import api

    catalogue = api.catalogue(keyword)
    lang = lang or api.language()
    if format_name == "json":
        click.echo(json.dumps(api.catalogue_data(catalogue, lang), ensure_ascii=False, indent=2))
        return ExitCode.OK
    for exercise in catalogue.exercises:
        click.echo(f"{exercise.id}  ({exercise.title.get(lang, '')}, {exercise.points:g} points)")
        for check in exercise.checks:
            points = f"{check.points:g}" if check.points else "0, extra"
            notes = []
            if check.supplied:
                notes.append("grader supplies " + ", ".join(check.supplied))
            if check.uses:
                notes.append("end to end: " + ", ".join(check.names))
            note = f"  [{'; '.join(notes)}]" if notes else ""
            click.echo(f"  {check.id}  ({points}){note}")
            click.echo(f"      {check.title.get(lang, '')}")
    click.echo(f"{len(catalogue.checks)} checks, {catalogue.max_score:g} points, {len(catalogue.mistakes)} known mistakes")
    return ExitCode.OK


@cli.command()
@click.option("--format", "format_name", type=click.Choice(["text", "json"]), default="text", show_default=True)
def plugins(format_name):
    """Show which plugins are loaded and where they come from."""
    from grader import api

    rows = api.plugin_rows()
    if format_name == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return ExitCode.OK
    for row in rows:
        origin = "  ".join(part for part in (row["distribution"], row["file"]) if part)
        click.echo(f"{row['name']}  [{row['source']}]  {origin}")
        click.echo(f"    hooks: {', '.join(row['hooks'])}")
    return ExitCode.OK


@cli.command()
@click.argument("path", type=FilePath())
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
@language_option("the line printed (the starter's comments are in English)")
def init(path, force, lang):
    """Write a starter .py or .ipynb with every graded function, ready to fill in."""
    from grader import api

    count = api.write_starter(path, force=force)
    click.echo(api.messages().text("cli.starter_written", lang or api.language(), path=path, count=count))
    return ExitCode.OK


# --- grade batch / merge -------------------------------------------------------------------------

@cli.command()
@click.argument("submissions", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=FilePath(), required=True,
              help="The results CSV (one row per submission); records and the summary go beside it.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Submissions graded at once (default: the number of cores).")
@click.option("--json-dir", type=click.Path(file_okay=False, path_type=Path), help="Also write one JSON report per submission here.")
@click.option("--gradescope-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write a Gradescope results.json per submission here (DIR/NAME/results.json).")
@click.option("--junit", type=FilePath(), help="Also write one JUnit XML file for the class.")
@click.option("--resume", is_flag=True, help="Skip submissions already graded with the same content, seed and grader.")
@click.option("--seed", type=int, help="Seed for every submission's inputs (default: a fresh one, kept for --resume).")
@click.option("--entry", help="In a learner's folder holding several .py/.ipynb files, the one to grade (e.g. main.py).")
@click.option("--shard", help="Grade only slice K of N (e.g. 2/4), for CI matrices; join the slices with grade merge.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=5.0, show_default=True, help="Seconds per check.")
@click.option("--load-timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds for each top-level statement or cell while a file loads.")
@click.option("--memory", type=click.IntRange(min=64), default=1024, show_default=True, help="Memory per learner, in MB.")
@LANG_OPTION
def batch(submissions, out, jobs, json_dir, gradescope_dir, junit, resume, seed, entry, shard, timeout, load_timeout, memory,
          lang):
    """Grade a class: a folder of .py/.ipynb files or project folders, or an LMS's .zip of one."""
    from grader.sandbox.control import take_or_start

    host = take_or_start()
    try:
        from grader import api

        manager = api.plugin_manager()  # (once: finding the installed packs reads every package's metadata)
        result = api.run_batch(
            submissions, out, host=host, jobs=jobs, json_dir=json_dir, gradescope_dir=gradescope_dir, junit=junit,
            resume=resume, seed=seed, entry=entry, shard=shard, timeout=timeout, load_timeout=load_timeout,
            memory=memory, lang=lang, manager=manager,
        )
        click.echo(api.render_summary(result.summary, lang, manager), err=True)
        if result.resumed:
            click.echo(_say("summary.resumed", count=result.resumed), err=True)
        if not result.found:
            click.echo(_say("summary.no_submissions", path=submissions), err=True)
        if result.skipped:
            click.echo(_say("summary.skipped", count=len(result.skipped), names=", ".join(result.skipped[:5])), err=True)
        if result.wrapper:
            click.echo(_say("summary.wrapper", name=result.wrapper, count=result.found), err=True)
        if result.lookalikes:
            click.echo(_say("summary.lookalikes", count=len(result.lookalikes),
                            names=", ".join(group[0] for group in result.lookalikes[:5])), err=True)
        if result.exports:
            click.echo(_say("summary.exports", count=len(result.exports), names=", ".join(result.exports[:5])), err=True)
        if result.zip_refused:
            click.echo(_say("summary.zip_refused", count=len(result.zip_refused),
                            names=", ".join(result.zip_refused[:5])), err=True)
        if result.links:
            click.echo(_say("summary.links", count=len(result.links), names=", ".join(result.links[:5])), err=True)
        if result.own_outputs:
            click.echo(_say("summary.own_outputs", count=len(result.own_outputs), names=", ".join(result.own_outputs)),
                       err=True)
        if result.interrupted:
            click.echo(_say("summary.interrupted", out=out), err=True)
        return result.exit_code
    finally:
        host.close(wait=False)


@cli.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=FilePath(), required=True, help="The merged CSV.")
@click.option("--junit", type=FilePath(), help="Also write one JUnit XML file for the class.")
@LANG_OPTION
def merge(inputs, out, junit, lang):
    """Join the CSVs (and records) of grade batch --shard runs into one."""
    from grader import api

    summary = api.merge_batches(list(inputs), out, junit, lang)
    click.echo(api.render_summary(summary, lang), err=True)
    # Shards not given: the class result is incomplete, which a CI step must not take for done.
    from grader.batch.merge import INCOMPLETE

    incomplete = any(summary.get(key) for key in INCOMPLETE)
    return ExitCode.NOT_FULL_MARKS if incomplete else ExitCode.OK


def _exactly(value: float) -> str:
    """``value`` as given (100, 100.5, 100.00000000000001), never rounded to look like another."""
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def _check_min_score(value: Optional[float]) -> Optional[float]:
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise click.BadParameter(f"{value:g} is not a score: give a number from 0 to the maximum.")
    return value


def _keywords(given: tuple) -> Optional[str]:
    """Every ``-k`` given, as the one keyword ``Catalogue.select`` reads (commas between)."""
    return ",".join(given) or None


def _color(flag: Optional[bool], output: Optional[Path]) -> bool:
    if flag is not None:
        return flag
    return output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _write(text: str, path: Optional[Path], color: bool = False) -> None:
    if path is None:
        click.echo(text, nl=False, color=color)  # click keeps the colour only if told to
        return
    try:
        if not path.is_symlink() and not path.exists():  # its folders made as needed (/autograder/results/)
            path.parent.mkdir(parents=True, exist_ok=True)
        # Written into, never replaced: a link (/dev/stdout) is followed, a file keeps its mode and owner.
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        # (making its folders, EEXIST means a file stands where a folder of the path must be)
        error = os.strerror(errno.ENOTDIR) if isinstance(exc, FileExistsError) else exc.strerror or exc
        raise UsageError("usage.cannot_write", path=path, error=error) from exc


def main() -> None:
    """The console script: run, flush, and exit at once (tearing down numpy and the rest of the
    interpreter would only add to the time a learner waits)."""
    code = cli.main(standalone_mode=False)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or ExitCode.INTERNAL_ERROR
    os._exit(int(code or 0))
