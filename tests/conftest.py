"""Shared fixtures: the catalogue, and grading in-process or through the sandbox."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# Tests must not pick up whatever third-party packs happen to be installed.
os.environ.setdefault("GRADE_DISABLE_PLUGIN_AUTOLOAD", "1")
for variable in ("LANG", "LC_ALL", "LC_MESSAGES"):
    os.environ.pop(variable, None)


@pytest.fixture(scope="session")
def manager():
    from grader.plugins import get_plugin_manager

    return get_plugin_manager()


@pytest.fixture(scope="session")
def catalogue(manager):
    from grader.catalogue import build_catalogue

    return build_catalogue(manager)


@pytest.fixture(scope="session")
def host():
    from grader.sandbox.control import Host

    with Host() as running:
        yield running


@pytest.fixture(scope="session")
def grader(manager, host):
    """A Grader with a fixed seed, shared by the tests that grade real files."""
    from grader.runner import Grader, Options
    from grader.sandbox.client import Settings

    with Grader(manager, Options(seed=20261127, settings=Settings(check_timeout=3.0, load_timeout=3.0)), host) as shared:
        yield shared


@pytest.fixture
def write(tmp_path):
    """write("name.py", source) -> Path of a file in a fresh folder."""

    def _write(name: str, text: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    return _write


SEED = 20261127


@pytest.fixture(scope="session")
def expectations(catalogue):
    from grader.expected import Expectations

    return Expectations(catalogue, SEED)


@pytest.fixture(scope="session")
def grade_source(catalogue, expectations):
    """Grade Python source in this process (no sandbox): fast, for tests of the catalogue and
    of diagnosis. Returns {check id: CheckResult}, hints included. The comparison, the
    supplied functions and the diagnosis are exactly those of a real run; only the process
    boundary is missing."""
    from grader.diagnosis import diagnose
    from grader.expected import run_probe
    from grader.judge import judge
    from grader.wire import encode_value

    def _grade(source: str, only: str | None = None) -> dict:
        namespace: dict = {"__name__": "submission"}
        exec(compile(source, "submission.py", "exec"), namespace)
        results, outcomes = [], {}
        for exercise in catalogue.exercises:
            reference = expectations.reference_module(exercise.checks[0])
            for check in exercise.checks:
                if only and only not in (check.function, exercise.id, check.id):
                    continue
                outcome = run_probe(check, namespace, expectations.seed(check), reference, expectations.replay(check))
                if outcome["kind"] == "value":  # as the learner's process sends it
                    outcome = {"kind": "value", "value": encode_value(outcome["value"])}
                outcomes[check.id] = outcome
                results.append(judge(check, outcome, expectations.expected(check),
                                     names=tuple(namespace), rng=expectations.rng(check)))
        results = diagnose(results, outcomes, catalogue.mistakes, expectations)
        return {result.check.id: result for result in results}

    return _grade


@pytest.fixture(scope="session")
def correct_source():
    return (EXAMPLES / "student.py").read_text(encoding="utf-8")


@pytest.fixture
def sent_by_index(monkeypatch):
    """For each time a session has a learner process run check requests: whether it sent their
    indices (the process was forked holding them, ``Host.share_requests``) rather than them."""
    from grader.sandbox import session as session_module

    sent: list[bool] = []
    original = session_module.Session._send_checks

    def recording(self, process, indices):
        sent.append(process.shared_requests is not None and process.shared_requests == self._requests_key)
        return original(self, process, indices)

    monkeypatch.setattr(session_module.Session, "_send_checks", recording)
    return sent
