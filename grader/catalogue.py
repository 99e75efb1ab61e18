"""Build the catalogue from what plugins register, refusing anything the grader could not run."""
from __future__ import annotations

import dataclasses
import importlib
import math
import numbers
from typing import Mapping

import pluggy

from grader.errors import PluginError, describe_exception
from grader.model import LANGUAGES, Catalogue, Check, Exercise, Mistake
from grader.plugins import call_each


def build_catalogue(manager: pluggy.PluginManager) -> Catalogue:
    exercises: list[Exercise] = []
    mistakes: list[Mistake] = []

    def exercise_registrar(plugin: str):
        def register(exercise: Exercise) -> None:
            exercises.append(_validated_exercise(exercise, plugin, exercises))
        return {"register": register}

    mistake_plugins: list[str] = []

    def mistake_registrar(plugin: str):
        def register(mistake: Mistake) -> None:
            mistakes.append(_validated_mistake(mistake, plugin, mistakes))
            mistake_plugins.append(plugin)
        return {"register": register}

    call_each(manager, "grader_exercises", exercise_registrar)
    call_each(manager, "grader_mistakes", mistake_registrar)
    graded = {check.function for exercise in exercises for check in exercise.checks}
    for mistake, plugin in zip(mistakes, mistake_plugins):
        if mistake.function != "*" and mistake.function not in graded:
            raise PluginError(f"mistake {mistake.id!r} of plugin {plugin!r} is a mistake in {mistake.function!r}, which no "
                              f"check grades (the functions graded: {', '.join(sorted(graded))}; '*' for any)")
    return Catalogue(tuple(exercises), tuple(mistakes))


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def probe_path(check: Check) -> str:
    """``module:qualname`` of a check's probe: how the learner's process finds it."""
    return f"{check.probe.__module__}:{check.probe.__qualname__}"


def probe_modules(catalogue: Catalogue) -> tuple[str, ...]:
    return tuple(dict.fromkeys(check.probe.__module__ for check in catalogue.checks))


def _validated_exercise(exercise: Exercise, plugin: str, registered: list[Exercise]) -> Exercise:
    if not isinstance(exercise, Exercise):
        raise PluginError(f"plugin {plugin!r} registered {type(exercise).__name__}, not an Exercise")
    if any(other.id == exercise.id for other in registered):
        raise PluginError(f"plugin {plugin!r} registered exercise {exercise.id!r}, which already exists")
    _require_text(exercise.title, f"exercise {exercise.id!r} title", plugin)
    checks = []
    seen = set()
    for check in exercise.checks:
        check = dataclasses.replace(check, exercise=exercise.id)
        where = f"check {check.id!r} of plugin {plugin!r}"
        if check.id in seen:
            raise PluginError(f"{where} is registered twice")
        seen.add(check.id)
        if not _is_number(check.points) or not math.isfinite(check.points) or check.points < 0:
            raise PluginError(f"{where} has points {check.points!r}: give a number, 0 or more (0 makes it an extra)")
        if not all(_is_number(tolerance) and tolerance >= 0 for tolerance in (check.rtol, check.atol)):
            raise PluginError(f"{where} has a tolerance that is not a number, 0 or more")
        _require_text(check.title, f"{where} title", plugin)
        _require_importable(check.probe, where)
        checks.append(check)
    try:
        importlib.import_module(exercise.reference)
    except Exception as exc:  # noqa: BLE001 - whatever its code raises, the plugin is to blame
        raise PluginError(f"exercise {exercise.id!r} of plugin {plugin!r}: its reference {exercise.reference!r} "
                          f"cannot be imported: {describe_exception(exc)}") from exc
    return dataclasses.replace(exercise, checks=tuple(checks), plugin=plugin)


def _validated_mistake(mistake: Mistake, plugin: str, registered: list[Mistake]) -> Mistake:
    if not isinstance(mistake, Mistake):
        raise PluginError(f"plugin {plugin!r} registered {type(mistake).__name__}, not a Mistake")
    if any(other.id == mistake.id for other in registered):
        raise PluginError(f"plugin {plugin!r} registered mistake {mistake.id!r}, which already exists")
    if not mistake.implementations and not mistake.exception:
        raise PluginError(f"mistake {mistake.id!r} of plugin {plugin!r} has neither implementations nor an exception pattern")
    _require_text(mistake.hint, f"mistake {mistake.id!r} hint", plugin)
    return mistake


def _require_text(text: Mapping[str, str], what: str, plugin: str) -> None:
    missing = [lang for lang in LANGUAGES if not isinstance(text, Mapping) or not text.get(lang)]
    if missing:
        raise PluginError(f"{what} (plugin {plugin!r}) has no text in {', '.join(missing)}")


def _require_importable(probe, where: str) -> None:
    module_name = getattr(probe, "__module__", None)
    qualname = getattr(probe, "__qualname__", "")
    try:
        found = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError, TypeError, ValueError):
        found = None
    if found is not probe:
        raise PluginError(
            f"{where}: its probe {qualname or probe!r} must be a module-level function, "
            "because the learner's process imports it by name"
        )
