"""Every learner-facing sentence of the grader, by id, in English and Japanese.

This module is itself a plugin (``grader_messages``); a course can reword any sentence by
registering the same id later. ``Messages`` renders a ``grader.model.Message`` in one language.

A template names its parameters as ``str.format`` does (``{count}``); ``{count:plural:file|files}``
says the first word when ``count`` reads as 1, else the second, for languages that have a plural
(English: "1 file", "2 files", "1.5 files").
"""
from __future__ import annotations

import os
import string
from typing import Mapping, Optional

import pluggy

from grader import hookimpl
from grader.messages import en, ja
from grader.model import LANGUAGES, Location, Message
from grader.plugins import call_each


@hookimpl
def grader_messages(register):
    register("en", en.MESSAGES)
    register("ja", ja.MESSAGES)


def default_language(environ: Mapping[str, str] = os.environ) -> str:
    """Japanese when the locale says so (``LC_ALL``, then ``LC_MESSAGES``, then ``LANG``)."""
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(variable)
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


class _Lenient(dict):
    def __missing__(self, key):
        return "{" + key + "}"


class _Templates(string.Formatter):
    """``str.format``, plus the ``plural:ONE|MANY`` format of a number."""

    def format_field(self, value, format_spec: str):
        if format_spec.startswith("plural:"):
            one, _, many = format_spec[len("plural:"):].partition("|")
            # As the number reads in the sentence: "1" is one, "1.0" and "0.5" are not.
            return one if format(value, "") in ("1", "-1") else many
        return super().format_field(value, format_spec)


def fill(template: str, params: Mapping) -> str:
    """``template`` with ``params`` in it; a parameter not given is left as ``{name}``."""
    return _Templates().vformat(template, (), _Lenient(params))


class Messages:
    """Message templates by language and id."""

    def __init__(self, tables: Mapping[str, Mapping[str, str]]):
        self.tables = {lang: dict(table) for lang, table in tables.items()}

    def text(self, message_id: str, lang: str, **params) -> str:
        table = self.tables.get(lang) or self.tables["en"]
        template = table.get(message_id) or self.tables["en"].get(message_id)
        if template is None:
            return message_id
        return fill(template, params)

    def render(self, message: Optional[Message], lang: str) -> str:
        if message is None:
            return ""
        if message.text is not None:
            return message.text.get(lang) or message.text.get("en", "")
        params = dict(message.params)
        text = self.text(message.id, lang, **params)
        where = params.get("where")
        return self.text("compare.at", lang, where=where) + text if where else text

    def location(self, where: Location, lang: str) -> str:
        if where.cell is not None:
            count = f" (In [{where.execution_count}])" if where.execution_count is not None else ""
            if where.line is not None:
                return self.text("location.cell_line", lang, cell=where.cell, count=count, line=where.line)
            return self.text("location.cell", lang, cell=where.cell, count=count)
        if where.line is not None:
            return self.text("location.line", lang, line=where.line)
        return self.text("location.file", lang)


def collect_messages(manager: pluggy.PluginManager) -> Messages:
    tables: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}

    def registrar(plugin: str):
        def register(language: str, messages: Mapping[str, str]) -> None:
            tables.setdefault(language, {}).update(messages)
        return {"register": register}

    call_each(manager, "grader_messages", registrar)
    return Messages(tables)
