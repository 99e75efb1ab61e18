"""The plugin manager: the built-in plugins, then the ``grader`` entry-point group.

Set ``GRADE_DISABLE_PLUGIN_AUTOLOAD=1`` to skip entry points (installed third-party packs), and
``GRADE_PLUGINS=module,module`` to register extra plugin modules by name.
"""
from __future__ import annotations

import importlib
import os
import sys
from typing import Iterable, NamedTuple, Optional

import pluggy

from grader import hookspecs
from grader.defaults import DEFAULT_PLUGINS
from grader.errors import PluginError, describe_exception

ENTRY_POINT_GROUP = "grader"
DISABLE_AUTOLOAD_ENV = "GRADE_DISABLE_PLUGIN_AUTOLOAD"
EXTRA_PLUGINS_ENV = "GRADE_PLUGINS"

def get_plugin_manager(extra: Iterable[object] = ()) -> pluggy.PluginManager:
    """A plugin manager with every hook, the default plugins, installed packs, and ``extra``."""
    manager = pluggy.PluginManager("grader")
    manager.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        manager.register(importlib.import_module(name), name)
    if not os.environ.get(DISABLE_AUTOLOAD_ENV):
        _load_entry_points(manager)
    for name in filter(None, (n.strip() for n in os.environ.get(EXTRA_PLUGINS_ENV, "").split(","))):
        if manager.get_plugin(name) is None:
            try:
                module = importlib.import_module(name)
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - name the broken plugin, whatever broke
                raise PluginError(f"{EXTRA_PLUGINS_ENV} names {name!r}, which cannot be imported: {describe_exception(exc)}") from exc
            if not manager.is_registered(module):  # (installed too: its entry point has it)
                _register(manager, module, name, f"the plugin {name!r} ({EXTRA_PLUGINS_ENV})")
    for plugin in extra:
        _register(manager, plugin, None, f"the plugin {getattr(plugin, '__name__', plugin)!r}")
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(str(exc)) from exc
    return manager


def _register(manager: pluggy.PluginManager, plugin: object, name: Optional[str], what: str) -> None:
    """Register ``plugin``; a hook implementation pluggy refuses (arguments the hook does not
    have), or a ``grader_`` function without ``@hookimpl`` (silently no hook), is the plugin's
    error, said as such."""
    try:
        manager.register(plugin, name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"{what}: {exc}") from exc
    unmarked = [attribute for attribute in dir(plugin) if attribute.startswith("grader_") and callable(getattr(plugin, attribute, None))
                and manager.parse_hookimpl_opts(plugin, attribute) is None]
    if unmarked:
        manager.unregister(plugin)
        raise PluginError(f"{what} defines {', '.join(unmarked)} without @hookimpl (from grader import hookimpl), so it "
                          "would never be called")


#: The entry point each plugin loaded from one came from, by the plugin's id.
_LOADED_FROM: dict[int, "EntryPoint"] = {}


class EntryPoint(NamedTuple):
    name: str
    value: str  #: "module:attr"
    distribution: str  #: "name version"
    #: The top-level packages and modules the distribution installs: learner code may read none
    #: of them (its reference may import answers from another of its packages).
    packages: tuple[str, ...] = ()


def find_entry_points(group: str = ENTRY_POINT_GROUP) -> list[EntryPoint]:
    """Every installed entry point in ``group``. Reads the ``entry_points.txt`` of each
    distribution on sys.path directly: it is what importlib.metadata reads, without the cost of
    importing it on every ``grade`` run."""
    found, seen = [], set()
    for folder in sys.path:
        try:
            entries = [e for e in os.scandir(folder or ".") if e.name.endswith((".dist-info", ".egg-info"))]
        except OSError:
            continue
        for entry in sorted(entries, key=lambda e: e.name):
            stem = entry.name.rsplit(".", 1)[0]
            distribution, _, version = stem.partition("-")
            if distribution.lower() in seen:
                continue  # the first on sys.path wins, as for imports
            seen.add(distribution.lower())
            try:
                with open(os.path.join(entry.path, "entry_points.txt"), encoding="utf-8") as stream:
                    text = stream.read()
            except (OSError, UnicodeDecodeError):
                continue
            if f"[{group}]" not in text:
                continue  # most distributions: no need to parse
            import configparser

            parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
            parser.optionxform = str
            try:
                parser.read_string(text)
            except configparser.Error:
                continue
            if parser.has_section(group):
                packages = distribution_packages(entry.path)
                for name, value in parser.items(group):
                    found.append(EntryPoint(name, value.strip(), f"{distribution} {version.split('-')[0]}".strip(), packages))
    return found


def distribution_packages(metadata_folder: str) -> tuple[str, ...]:
    """The top-level import names a distribution installs: its ``top_level.txt``, else the first
    part of each path in its ``RECORD`` (an editable install's finder and ``.pth`` left out)."""
    try:
        with open(os.path.join(metadata_folder, "top_level.txt"), encoding="utf-8") as stream:
            names = {line.strip().replace("/", ".").partition(".")[0] for line in stream}
    except (OSError, UnicodeDecodeError):
        names = set()
        try:
            with open(os.path.join(metadata_folder, "RECORD"), encoding="utf-8") as stream:
                paths = [line.partition(",")[0] for line in stream]
        except (OSError, UnicodeDecodeError):
            paths = []
        for path in paths:
            first, slash, _ = path.partition("/")
            if not first or first.startswith(("..", "__editable__", "__pycache__")) or \
                    first.endswith((".dist-info", ".egg-info", ".data", ".pth")):
                continue
            if slash:
                names.add(first)
            elif first.endswith((".py", ".so", ".pyd")):
                names.add(first.partition(".")[0])
    return tuple(sorted(name for name in names if name.isidentifier()))


def _load_entry_points(manager: pluggy.PluginManager) -> None:
    loaded_from: dict[str, str] = {}
    for name, value, distribution, packages in find_entry_points():
        if name in loaded_from and loaded_from[name] != distribution:
            # (pluggy keeps one plugin of a name: the second would be left out without a word)
            raise PluginError(f"two installed packs name a plugin {name!r}: {loaded_from[name]} and {distribution}. "
                              "Rename the entry point of one of them")
        loaded_from[name] = distribution
        if manager.get_plugin(name) is not None or manager.is_blocked(name):
            continue
        module_name, _, attribute = value.partition(":")
        try:
            plugin = importlib.import_module(module_name.strip())
            for part in filter(None, attribute.strip().split(".")):
                plugin = getattr(plugin, part)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - name the broken plugin, whatever broke
            raise PluginError(f"the plugin {name!r} of {distribution} (entry point {value}) cannot be loaded: "
                              f"{describe_exception(exc)}") from exc
        if manager.is_registered(plugin):
            continue  # (a built-in, or the same module under two entry points' names)
        _register(manager, plugin, name, f"the plugin {name!r} of {distribution} (entry point {value})")
        _LOADED_FROM[id(plugin)] = EntryPoint(name, value, distribution, packages)


def entry_point_packages(manager: pluggy.PluginManager) -> tuple[str, ...]:
    """The top-level packages of every distribution a plugin of ``manager`` came from."""
    return tuple(sorted({package for plugin in manager.get_plugins()
                         for package in getattr(_LOADED_FROM.get(id(plugin)), "packages", ())}))


def describe_plugins(manager: pluggy.PluginManager) -> list[dict]:
    """Each loaded plugin: its name, where its code is, and the distribution it came from."""
    rows = []
    for name, plugin in manager.list_name_plugin():
        if plugin is None:
            continue
        dist = getattr(_LOADED_FROM.get(id(plugin)), "distribution", None)
        hooks = sorted(caller.name for caller in manager.get_hookcallers(plugin) or ())
        rows.append({
            "name": name,
            "module": getattr(plugin, "__name__", type(plugin).__name__),
            "file": getattr(plugin, "__file__", None),
            "distribution": dist,
            "source": "entry point" if dist else ("built-in" if name in DEFAULT_PLUGINS else "registered"),
            "hooks": hooks,
        })
    return rows


def call_each(manager: pluggy.PluginManager, hook_name: str, make_kwargs) -> None:
    """Call a hook on each plugin in registration order, with the keyword arguments
    ``make_kwargs(plugin_name)`` returns, so what a plugin registers can be traced to it."""
    caller = getattr(manager.hook, hook_name)
    for implementation in caller.get_hookimpls():
        kwargs = make_kwargs(implementation.plugin_name)
        try:
            implementation.function(**{name: kwargs[name] for name in implementation.argnames})
        except PluginError:
            raise
        except Exception as exc:  # noqa: BLE001 - the plugin's own code failed: name it, not the grader
            raise PluginError(f"the plugin {implementation.plugin_name!r}'s {hook_name} raised "
                              f"{describe_exception(exc)}") from exc
