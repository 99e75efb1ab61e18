"""Start grading a submission before the grader has finished starting (``grade submit``).

The learner's process is forked as soon as the sandbox host is up, and the submission's code
loads while the grader is still importing numpy and its plugins. The grader then takes that
process over only if it is exactly the one it would have started itself (same code, same
isolation); otherwise it is discarded and grading starts afresh, so this is a shortcut, never
a different path.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Iterable, Optional

from grader import isolation
from grader.defaults import DEFAULT_PROBE_MODULES
from grader.model import Submission
from grader.sandbox.client import Settings
from grader.sandbox.control import Host
from grader.sandbox.session import Session


def default_modules() -> tuple[list[str], list[str]]:
    """The modules whose packages a learner may not touch, as far as is known without loading
    any plugin: the built-in ones, and those named by installed entry points; and the other
    packages those entry points' distributions install (``isolation.off_limits``)."""
    from grader.plugins import DISABLE_AUTOLOAD_ENV, EXTRA_PLUGINS_ENV, find_entry_points

    modules = [*DEFAULT_PROBE_MODULES, "reference", "exercises.mistakes"]
    packages: list[str] = []
    if not os.environ.get(DISABLE_AUTOLOAD_ENV):
        for entry_point in find_entry_points():
            modules.append(entry_point.value.partition(":")[0].strip())
            packages += entry_point.packages
    modules += [name.strip() for name in os.environ.get(EXTRA_PLUGINS_ENV, "").split(",")]
    return modules, packages


class EarlyStart:
    """A learner process started, in a thread, for the submission at ``path``, to be graded with
    ``seed``."""

    def __init__(self, host: Host, path: os.PathLike | str, entry: Optional[str], settings: Settings, seed: int):
        self._arguments = (host, Path(path), entry, settings, seed)
        self._started: Optional[tuple[Submission, dict, Session]] = None
        self._thread = threading.Thread(target=self._start, name="grade-prestart", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        host, path, entry, settings, seed = self._arguments
        try:
            from grader.loaders import notebook, script
            from grader.submission import read_submission

            submission = read_submission(path, {".py": script.load, ".ipynb": notebook.load}, entry)
            if not submission.units:
                return
            hidden, deny = isolation.off_limits(*default_modules())
            base = isolation.base_config(hidden, deny, settings, host.can_drop_privileges, seed)
            config = isolation.learner_config(base, submission, settings)
            session = Session(host, isolation.program(submission), settings, config)
            session.begin()
            self._started = (submission, config, session)
        except Exception:  # noqa: BLE001 - the grader's own path will meet and report it
            self._started = None

    def take(self, submission: Submission, config: dict, probe_modules: Iterable[str]) -> Optional[Session]:
        """The started session, if it is the one the grader would start for ``submission``,
        in a process that holds every module of ``probe_modules`` (a plugin's probes are known
        only once the plugins have loaded, which may be after the process was forked)."""
        self._thread.join()
        started, self._started = self._started, None
        if started is None:
            return None
        early_submission, early_config, session = started
        forked_with = set(session.process.probe_modules) if session.process is not None else set()
        if (early_config == config and early_submission.digest == submission.digest
                and isolation.program(early_submission) == isolation.program(submission)
                and forked_with.issuperset(probe_modules)):
            return session
        session.close()
        return None

    def discard(self) -> None:
        self._thread.join()
        if self._started is not None:
            self._started[2].close()
            self._started = None
