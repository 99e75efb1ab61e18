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
