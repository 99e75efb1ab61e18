"""Every learner-facing sentence exists in English and Japanese."""
from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from grader.messages import Messages, collect_messages, default_language, en, ja
from grader.model import LANGUAGES, Location, Message, Status

GRADER = Path(__file__).resolve().parent.parent / "grader"


def literal_message_ids() -> set[str]:
    """Every message id written literally in the grader's code."""
    found = set()
    pattern = re.compile(r"""(?:Message\(|\.text\(|say\()\s*["']([a-z_]+\.[a-z_.]+)["']""")
    for path in GRADER.rglob("*.py"):
        found.update(pattern.findall(path.read_text(encoding="utf-8")))
    return found


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_english_and_japanese_have_the_same_message_ids():
    assert set(en.MESSAGES) == set(ja.MESSAGES)


@pytest.mark.parametrize("message_id", sorted(en.MESSAGES))
def test_both_languages_use_the_same_placeholders(message_id):
    assert fields(en.MESSAGES[message_id]) == fields(ja.MESSAGES[message_id])
    words = re.sub(r"\{[a-z_]+\}", "", en.MESSAGES[message_id])
    assert ja.MESSAGES[message_id] != en.MESSAGES[message_id] or not re.search("[a-z]{4}", words)


def test_every_message_id_the_code_uses_exists():
    assert literal_message_ids() - set(en.MESSAGES) == set()
    assert len(literal_message_ids()) > 40


def test_every_status_and_every_refusal_has_a_message():
    for status in Status:
        assert f"status.{status.value}" in en.MESSAGES
    guard = (GRADER / "sandbox" / "guard.py").read_text(encoding="utf-8")
    codes = set(re.findall(r'refusal\("([a-z_]+)"', guard)) | set(re.findall(r"\[grade:([a-z_]+)\]", guard))
    assert codes and {f"refused.{code}" for code in codes} <= set(en.MESSAGES)


def test_every_plugin_text_is_in_both_languages(catalogue):
    for exercise in catalogue.exercises:
        assert all(exercise.title.get(lang) for lang in LANGUAGES)
        for check in exercise.checks:
            assert all(check.title.get(lang) for lang in LANGUAGES), check.id
    for mistake in catalogue.mistakes:
        assert all(mistake.hint.get(lang) for lang in LANGUAGES), mistake.id


@pytest.mark.parametrize("environ, expected", [
    ({}, "en"),
    ({"LANG": "ja_JP.UTF-8"}, "ja"),
    ({"LANG": "en_US.UTF-8"}, "en"),
    ({"LANG": "en_US.UTF-8", "LC_ALL": "ja_JP.UTF-8"}, "ja"),
    ({"LANG": "ja_JP.UTF-8", "LC_ALL": "C"}, "en"),
])
def test_the_default_language_follows_the_locale(environ, expected):
    assert default_language(environ) == expected


def test_messages_render_in_the_chosen_language(manager):
    messages = collect_messages(manager)
    message = Message("outcome.missing", {"name": "function_1"})
    assert messages.render(message, "en") == "`function_1` is not defined. Define it with exactly this name."
    assert "定義されていません" in messages.render(message, "ja")
    assert messages.location(Location(line=3, cell=2, execution_count=5), "ja") == "セル2 (In [5]) の3行目"


def test_a_plugin_can_reword_a_message(manager):
    messages = Messages({"en": {**en.MESSAGES, "status.passed": "ok"}, "ja": ja.MESSAGES})
    assert messages.text("status.passed", "en") == "ok"
