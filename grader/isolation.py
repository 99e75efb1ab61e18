"""What a learner's process is told about itself: its limits, its environment, what it may read,
and which packages it may not import. Plain data for ``grader.sandbox``; nothing here imports
numpy, so the CLI can start a learner's process before the grader has finished importing.
"""
from __future__ import annotations

import importlib.util
import os
import site
import sys
import sysconfig
from typing import Iterable

from grader.model import Submission
from grader.sandbox.client import Settings
from grader.sandbox.session import Program
from grader.seeds import learner_seed

#: Packages a learner's process may never import or read, whatever plugins are loaded.
ALWAYS_HIDDEN = ("grader", "exercises", "reference")
WORKER_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "MPLBACKEND": "Agg",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONIOENCODING": "utf-8",
}
#: CPU seconds a learner's process may use besides its load: a backstop for the wall-clock
#: timeouts, which are what normally stops it.
CPU_SECONDS_FOR_CHECKS = 300


def off_limits(modules: Iterable[str], unreadable: Iterable[str] = ()) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The top-level packages of ``modules`` (and the grader's own) a learner's process may not
    import, and the folders it may not read them, nor the installed packages ``unreadable``, from.
    (``unreadable``, the rest of an installed pack, is refused by where it lies, not by its name:
    a pack that installs a ``utils`` must not take a learner's own ``utils.py`` from them.)"""
    names = set(ALWAYS_HIDDEN) | {name.partition(".")[0] for name in modules if name}
    folders = []
    for name in sorted(names | {name.partition(".")[0] for name in unreadable if name}):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            continue
        locations = list(spec.submodule_search_locations or []) or ([spec.origin] if spec.origin else [])
        folders.extend(os.path.realpath(location) for location in locations)
    return tuple(sorted(names)), tuple(folders)


def python_roots() -> tuple[str, ...]:
    """Folders of the Python installation a learner's code must read to import modules."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    paths = sysconfig.get_paths()
    roots.update(paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths)
    try:
        roots.update(site.getsitepackages())
    except AttributeError:
        pass
    numpy = importlib.util.find_spec("numpy")
    if numpy is not None and numpy.origin:
        roots.add(os.path.dirname(os.path.dirname(numpy.origin)))
    roots.update(("/usr/share/zoneinfo", "/usr/share/fonts", "/etc/localtime"))
    return tuple(sorted(os.path.realpath(root) for root in roots if root))


def base_config(hidden: tuple[str, ...], deny: tuple[str, ...], settings: Settings, drop_privileges: bool,
                run_seed: int, deny_paths: Iterable[str] = ()) -> dict:
    """What every learner process of one grader (seeded ``run_seed``) is told. ``deny_paths`` (a
    batch's outputs and its class) are off limits too, unless one contains what the learner must
    use (a scratch folder under the temporary folder, the Python installation): denying /tmp
    would deny all."""
    read_roots = python_roots()
    needed = read_roots + (os.path.realpath(scratch_base()),)
    extra = [os.path.realpath(p) for p in deny_paths]
    extra = [p for p in extra if not any(n == p or n.startswith(p.rstrip("/") + "/") for n in needed)]
    return {
        "env": dict(WORKER_ENV),
        "memory_bytes": settings.memory_mb * 1024 * 1024,
        "read_roots": list(read_roots),
        "deny_roots": list(deny) + extra,
        "hidden": list(hidden),
        "drop_privileges": bool(drop_privileges),
        "seed": learner_seed(run_seed),
    }


def scratch_base() -> str:
    """Where learner processes get their scratch folders."""
    return os.environ.get("TMPDIR") or "/tmp"


def learner_config(base: dict, submission: Submission, settings: Settings) -> dict:
    """What one submission's learner process is told."""
    budget = min(settings.load_timeout * (len(submission.units) + 1), settings.total_load_seconds) + CPU_SECONDS_FOR_CHECKS
    return {
        **base,
        "cpu_seconds": int(budget) + 30,
        "workdir": submission.workdir,
        "argv0": os.path.basename(submission.path) or "submission",
    }


def program(submission: Submission) -> Program:
    """The submission's code, as the learner's process receives it."""
    units = tuple(
        {"index": index, "source": unit.source, "first_line": unit.first_line, "filename": unit.filename}
        for index, unit in enumerate(submission.units)
    )
    entry = os.path.basename(submission.units[0].filename).split(" [cell")[0] if submission.units else "submission.py"
    return Program(
        units=units,
        module_name=submission.module_name,
        file=os.path.join(submission.workdir, entry),
        project_dir=submission.project_dir,
    )
