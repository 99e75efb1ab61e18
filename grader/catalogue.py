"""Build the catalogue from what plugins register, refusing anything the grader could not run."""
from __future__ import annotations

import dataclasses
import dis
import importlib
import importlib.util
import math
import numbers
import sys
from typing import Mapping

import pluggy

from grader.defaults import DEFAULT_PROBE_MODULES
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
    if not exercise.checks:
        raise PluginError(f"exercise {exercise.id!r} of plugin {plugin!r} has no checks")
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
        if not all(_is_number(tolerance) and math.isfinite(tolerance) and tolerance >= 0 for tolerance in (check.rtol, check.atol)):
            raise PluginError(f"{where} has a tolerance that is not a finite number, 0 or more")
        # (a numpy integer or a Fraction as a plain float: it would not go into a JSON report or a listing)
        check = dataclasses.replace(check, **{field: float(getattr(check, field)) for field in ("points", "rtol", "atol")
                                              if type(getattr(check, field)) not in (int, float)})
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


def refuse_probe_imports(catalogue: Catalogue, forbidden: tuple[str, ...]) -> None:
    """A pack's probe that imports one of ``forbidden`` (a reference) when it runs, not when its
    module is imported, would meet the learner process's refusal and fail every learner: the
    plugin's error, found before anyone is graded. (Importing them at the top of a probe module
    is found when the sandbox imports it: ``grader.sandbox.control``.)"""
    for module_name in probe_modules(catalogue):
        if module_name in DEFAULT_PROBE_MODULES:
            continue  # (the built-in probes are tested not to)
        module = sys.modules.get(module_name)
        for imported in sorted(_imports_in(module)) if module is not None else ():
            if any(imported == name or imported.startswith(name + ".") for name in forbidden):
                raise PluginError(f"the probe module {module_name} imports {imported} in a function: a learner's "
                                  "process may not hold it, and the import would fail every learner there. "
                                  "A probe gets correct functions from probing.trusted")


def _imports_in(module) -> set[str]:
    """The modules the functions and methods of ``module`` import when they run (``import x``,
    ``from x import y``, relative ones resolved), read from their bytecode."""
    codes = []
    for value in vars(module).values():
        functions = [value] + (list(vars(value).values()) if isinstance(value, type) else [])
        while functions:
            function = functions.pop()
            # (a static or class method, a property, a decorated or cached function: what it wraps)
            functions.extend(inner for inner in (getattr(function, attribute, None) for attribute in ("__func__", "fget", "__wrapped__"))
                             if inner is not None and inner is not function)
            code = getattr(function, "__code__", None)
            if code is not None and getattr(function, "__module__", None) == module.__name__:
                codes.append(code)
    found: set[str] = set()
    while codes:
        code = codes.pop()
        codes.extend(const for const in code.co_consts if hasattr(const, "co_code"))
        base, level = None, 0
        for instruction in dis.get_instructions(code):
            if instruction.opname == "LOAD_CONST" and type(instruction.argval) is int:
                level = instruction.argval
            elif instruction.opname == "IMPORT_NAME":
                try:
                    base = importlib.util.resolve_name("." * level + instruction.argval, module.__package__ or "") \
                        if level else instruction.argval
                except (ImportError, ValueError):
                    base = instruction.argval
                found.add(base)
            elif instruction.opname == "IMPORT_FROM" and base is not None:
                found.add(f"{base}.{instruction.argval}")
    return found
