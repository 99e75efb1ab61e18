"""Exercise sets are plugins: one registered from a test, and one installed through an entry
point, add exercises that `grade list` and `grade submit` then use."""
from __future__ import annotations

import dataclasses
import json
import textwrap

import pytest
from click.testing import CliRunner

from grader import hookspecs
from grader.catalogue import build_catalogue
from grader.cli import cli
from grader.errors import PluginError
from grader.model import Check, Exercise
from grader.plugins import DEFAULT_PLUGINS, get_plugin_manager

PACK = textwrap.dedent('''
    import numpy as np
    from grader import hookimpl, probing
    from grader.model import Check, Exercise

    def probe_sigmoid(module, rng):
        x = rng.normal(size=5)
        return probing.value(module.sigmoid(x.copy()))

    @hookimpl
    def grader_exercises(register):
        register(Exercise(
            "activation",
            {"en": "Activation functions", "ja": "活性化関数"},
            (Check("sigmoid", "random", 5, probe_sigmoid,
                   {"en": "sigmoid of random values", "ja": "ランダムな値の sigmoid"}, rtol=1e-9),),
            reference="{pack}_reference",
        ))
''')
REFERENCE = "import numpy as np\n\ndef sigmoid(x):\n    return 1 / (1 + np.exp(-x))\n"
SUBMISSION = "import numpy as np\n\ndef sigmoid(x):\n    return 1.0 / (1.0 + np.exp(-x))\n"


@pytest.fixture
def pack(tmp_path, monkeypatch):
    """A third-party pack in a folder on sys.path: ``name`` (the plugin) and its reference."""

    def _make(name: str):
        (tmp_path / f"{name}.py").write_text(PACK.replace("{pack}", name), encoding="utf-8")
        (tmp_path / f"{name}_reference.py").write_text(REFERENCE, encoding="utf-8")
        monkeypatch.syspath_prepend(str(tmp_path))
        return name

    return _make


def test_every_hook_is_documented_and_prefixed():
    hooks = [name for name in dir(hookspecs) if name.startswith("grader_")]
    assert len(hooks) == 5
    for name in hooks:
        assert getattr(hookspecs, name).__doc__.strip()


def test_built_in_parts_are_ordinary_plugins(manager):
    names = [name for name, _ in manager.list_name_plugin()]
    assert names[: len(DEFAULT_PLUGINS)] == list(DEFAULT_PLUGINS)


def test_a_plugin_registered_from_a_test_adds_its_exercise(pack):
    import importlib

    module = importlib.import_module(pack("testpack_direct"))
    catalogue = build_catalogue(get_plugin_manager(extra=[module]))
    assert "activation" in [exercise.id for exercise in catalogue.exercises]
    assert catalogue.max_score == 105


def test_grade_list_and_submit_use_a_plugin_named_in_the_environment(pack, write):
    name = pack("testpack_env")
    runner = CliRunner()
    env = {"GRADE_PLUGINS": name}
    listing = runner.invoke(cli, ["list", "--format", "json"], env=env)
    assert listing.exit_code == 0
    data = json.loads(listing.output)
    assert "activation.sigmoid.random" in [c["id"] for e in data["exercises"] for c in e["checks"]]
    path = write("learner.py", SUBMISSION)
    result = runner.invoke(cli, ["submit", str(path), "-k", "activation", "--format", "json", "--seed", "3"], env=env)
    report = json.loads(result.output)
    assert result.exit_code == 0, result.output
    assert [(c["id"], c["status"]) for c in report["checks"]] == [("activation.sigmoid.random", "passed")]


def test_a_plugin_installed_through_an_entry_point_is_loaded(pack, write, tmp_path, monkeypatch):
    name = pack("testpack_installed")
    dist = tmp_path / "testpack_installed-1.2.dist-info"
    dist.mkdir()
    (dist / "entry_points.txt").write_text(f"[grader]\nactivation = {name}\n", encoding="utf-8")
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: testpack-installed\nVersion: 1.2\n", encoding="utf-8")
    monkeypatch.delenv("GRADE_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    runner = CliRunner()
    plugins = runner.invoke(cli, ["plugins", "--format", "json"])
    row = next(r for r in json.loads(plugins.output) if r["name"] == "activation")
    assert row["source"] == "entry point" and row["distribution"] == "testpack_installed 1.2"
    text = runner.invoke(cli, ["plugins"]).output
    assert f"activation  [entry point]  testpack_installed 1.2  {tmp_path / name}.py" in text  # (which file, too)
    path = write("learner.py", SUBMISSION)
    result = runner.invoke(cli, ["submit", str(path), "-k", "sigmoid", "--format", "json", "--seed", "3"])
    assert json.loads(result.output)["score"] == 5


def test_every_package_of_an_installed_pack_is_off_limits_to_learners(pack, write, tmp_path, monkeypatch):
    """A pack's reference may import its answers from another package of the pack: the whole
    distribution (its top_level.txt, else its RECORD) is hidden, not only the reference's package."""
    from grader.plugins import distribution_packages, find_entry_points
    from grader.prestart import default_modules
    from grader.runner import Grader, Options

    name = pack("testpack_whole")
    (tmp_path / "testpack_answers").mkdir()
    (tmp_path / "testpack_answers" / "__init__.py").write_text(REFERENCE, encoding="utf-8")
    (tmp_path / f"{name}_reference.py").write_text("from testpack_answers import sigmoid\n", encoding="utf-8")
    dist = tmp_path / "testpack_whole-1.0.dist-info"
    dist.mkdir()
    (dist / "entry_points.txt").write_text(f"[grader]\nactivation = {name}\n", encoding="utf-8")
    (dist / "top_level.txt").write_text(f"{name}\n{name}_reference\ntestpack_answers\n", encoding="utf-8")
    monkeypatch.delenv("GRADE_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    [entry_point] = [e for e in find_entry_points() if e.name == "activation"]
    assert entry_point.packages == ("testpack_answers", name, f"{name}_reference")
    assert "testpack_answers" in default_modules()[1]  # (the learner process started early is told so too)
    path = write("learner.py", "from testpack_answers import sigmoid\n")
    result = CliRunner().invoke(cli, ["submit", str(path), "-k", "activation", "--format", "json"])
    report = json.loads(result.output)
    assert report["score"] == 0 and "testpack_answers" in report["errors"][0]["message"]
    with Grader(options=Options(seed=3)) as grader:  # (its folder denied to every learner process)
        hidden, denied = grader._hidden, grader._deny
    assert str(tmp_path / "testpack_answers") in denied and "testpack_answers" not in hidden
    # Refused by where it lies, not by its name: a learner's project of its own testpack_answers
    # (a pack may install a package as common as ``utils``) imports its own.
    project = tmp_path / "project"
    project.mkdir()
    (project / "testpack_answers.py").write_text(REFERENCE, encoding="utf-8")
    (project / "main.py").write_text("from testpack_answers import sigmoid\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["submit", str(project), "--entry", "main.py", "-k", "activation", "--format", "json", "--seed", "3"])
    assert json.loads(result.output)["score"] == 5, result.output
    # Without a top_level.txt: the first part of each path its RECORD lists.
    (dist / "top_level.txt").unlink()
    (dist / "RECORD").write_text("testpack_answers/__init__.py,sha256=x,1\ntestpack_whole.py,,\n"
                                 "../../../bin/tool,,\n__editable___testpack_finder.py,,\n__editable__.testpack.pth,,\n"
                                 "testpack_whole-1.0.dist-info/RECORD,,\n_speedups.cpython-311-x86_64-linux-gnu.so,,\n",
                                 encoding="utf-8")
    assert distribution_packages(str(dist)) == ("_speedups", "testpack_answers", "testpack_whole")


def test_autoloading_can_be_disabled(pack, tmp_path, monkeypatch):
    name = pack("testpack_disabled")
    dist = tmp_path / "testpack_disabled-1.0.dist-info"
    dist.mkdir()
    (dist / "entry_points.txt").write_text(f"[grader]\nactivation = {name}\n", encoding="utf-8")
    monkeypatch.setenv("GRADE_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert get_plugin_manager().get_plugin("activation") is None
    monkeypatch.delenv("GRADE_DISABLE_PLUGIN_AUTOLOAD")
    assert get_plugin_manager().get_plugin("activation") is not None


def test_a_learner_cannot_import_a_plugin_pack_or_its_reference(pack, write):
    name = pack("testpack_hidden")
    runner = CliRunner()
    source = SUBMISSION.replace("def sigmoid", f"from {name}_reference import sigmoid\ndef unused")
    path = write("learner.py", source)
    result = runner.invoke(cli, ["submit", str(path), "-k", "activation", "--format", "json"], env={"GRADE_PLUGINS": name})
    report = json.loads(result.output)
    assert report["score"] == 0
    assert "grader's own code" in report["errors"][0]["message"] or "import" in report["errors"][0]["message"]


def test_a_probe_that_is_not_module_level_is_refused():
    from grader import hookimpl

    class Pack:
        @hookimpl
        def grader_exercises(self, register):
            register(Exercise("bad", {"en": "x", "ja": "x"},
                              (Check("f", "c", 1, lambda module, rng: 1, {"en": "x", "ja": "x"}),)))

    with pytest.raises(PluginError, match="module-level"):
        build_catalogue(get_plugin_manager(extra=[Pack()]))


def test_a_duplicate_exercise_id_is_refused():
    from grader import hookimpl
    from exercises import losses

    class Again:
        @hookimpl
        def grader_exercises(self, register):
            register(Exercise("losses", {"en": "x", "ja": "x"}, losses.CHECKS))

    with pytest.raises(PluginError, match="already exists"):
        build_catalogue(get_plugin_manager(extra=[Again()]))


def test_a_text_missing_a_language_is_refused():
    from grader import hookimpl
    from exercises import losses

    class English:
        @hookimpl
        def grader_exercises(self, register):
            register(Exercise("english_only", {"en": "x"}, losses.CHECKS[:1]))

    with pytest.raises(PluginError, match="ja"):
        build_catalogue(get_plugin_manager(extra=[English()]))


def test_a_misspelled_hook_fails_loudly():
    from grader import hookimpl

    class Typo:
        @hookimpl
        def grader_exercise(self, register):
            pass

    with pytest.raises(PluginError):
        get_plugin_manager(extra=[Typo()])


def test_a_pack_both_installed_and_named_in_the_environment_is_loaded_once(pack, write, tmp_path, monkeypatch):
    name = pack("testpack_twice")
    dist = tmp_path / "testpack_twice-1.0.dist-info"
    dist.mkdir()
    (dist / "entry_points.txt").write_text(f"[grader]\nactivation = {name}\n", encoding="utf-8")
    monkeypatch.delenv("GRADE_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.setenv("GRADE_PLUGINS", name)
    manager = get_plugin_manager()
    assert [n for n, p in manager.list_name_plugin() if getattr(p, "__name__", "") == name] == ["activation"]
    listing = CliRunner().invoke(cli, ["list", "--format", "json"])
    assert listing.exit_code == 0, listing.output
    ids = [c["id"] for e in json.loads(listing.output)["exercises"] for c in e["checks"]]
    assert ids.count("activation.sigmoid.random") == 1



def test_a_process_forked_before_a_packs_probe_module_was_known_is_not_taken_over(tmp_path, write, monkeypatch):
    """`grade submit` forks the learner's process before the plugins load, so a pack's probe
    module, in a module of its own, may not be in it: the grader starts another rather than
    send it probes it cannot run."""
    from grader.prestart import EarlyStart
    from grader.runner import Grader, Options
    from grader.sandbox.client import Settings
    from grader.sandbox.control import Host

    package = tmp_path / "splitpack"
    package.mkdir()
    probes, _, hook = PACK.partition("@hookimpl")
    (package / "checks.py").write_text(probes, encoding="utf-8")
    (package / "__init__.py").write_text(
        "from grader import hookimpl\nfrom grader.model import Check, Exercise\n"
        "from splitpack.checks import probe_sigmoid\n\n@hookimpl" + hook.replace("{pack}_reference", "splitpack.reference"),
        encoding="utf-8")
    (package / "reference.py").write_text(REFERENCE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("GRADE_PLUGINS", "splitpack")
    path = write("learner.py", SUBMISSION.replace("np.exp(-x)", "np.exp(x)"))
    options = Options(seed=3, keyword="activation")
    with Host() as host:
        early = EarlyStart(host, path, None, Settings(), options.seed)
        early._thread.join()  # forked with the built-in probe modules only
        with Grader(options=options, host=host) as grader:
            report = grader.grade(path, early=early)
    assert [(r.check.id, r.status) for r in report.results] == [("activation.sigmoid.random", "failed")]
    assert "KeyError" not in report.output.stdout + report.output.stderr


# --- a plugin's author's mistakes: each named, as the plugin's -----------------------------------

def _pack_of(check: Check, reference: str = "reference"):
    from grader import hookimpl

    class Pack:
        @hookimpl
        def grader_exercises(self, register):
            register(Exercise("authored", {"en": "x", "ja": "x"}, (check,), reference=reference))

    return Pack()


@pytest.mark.parametrize("points", [float("nan"), float("inf"), "3", True, -1])
def test_points_that_are_not_a_number_of_0_or_more_are_refused(points):
    from exercises import losses

    check = dataclasses.replace(losses.CHECKS[0], points=points)
    with pytest.raises(PluginError, match="has points"):
        build_catalogue(get_plugin_manager(extra=[_pack_of(check)]))


def test_a_reference_that_raises_on_import_is_named_with_its_line(pack, tmp_path):
    import importlib

    module = importlib.import_module(pack("testpack_badref"))
    (tmp_path / "testpack_badref_reference.py").write_text("import numpy\n\nx = 1 / 0\n", encoding="utf-8")
    with pytest.raises(PluginError) as raised:
        build_catalogue(get_plugin_manager(extra=[module]))
    assert "ZeroDivisionError: division by zero" in str(raised.value)
    assert "testpack_badref_reference.py, line 3" in str(raised.value) and "'activation'" in str(raised.value)


def test_hook_arguments_a_hook_does_not_have_and_a_hook_without_hookimpl_are_the_plugins_errors():
    from grader import hookimpl

    class WrongArguments:
        @hookimpl
        def grader_exercises(self, register, catalogue):
            pass

    class Unmarked:
        def grader_exercises(self, register):
            pass

    with pytest.raises(PluginError, match="catalogue"):
        get_plugin_manager(extra=[WrongArguments()])
    with pytest.raises(PluginError, match="without @hookimpl"):
        get_plugin_manager(extra=[Unmarked()])


def test_a_plugin_that_exits_while_it_is_imported_is_named(tmp_path, monkeypatch):
    (tmp_path / "testpack_exits.py").write_text("import sys\nsys.exit(2)\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = CliRunner().invoke(cli, ["list"], env={"GRADE_PLUGINS": "testpack_exits"})
    assert result.exit_code == 3
    assert "testpack_exits" in result.output and "SystemExit: 2" in result.output
    assert "GRADE_DISABLE_PLUGIN_AUTOLOAD=1" in result.output


def test_a_mistake_in_a_function_no_check_grades_is_refused():
    from grader import hookimpl
    from grader.model import Mistake

    class Typo:
        @hookimpl
        def grader_mistakes(self, register):
            register(Mistake("sigmod.wrong", "sigmod", (lambda x: x,), {"en": "x", "ja": "x"}))

    with pytest.raises(PluginError, match="'sigmod', which no check grades"):
        build_catalogue(get_plugin_manager(extra=[Typo()]))


def test_a_reference_that_fails_its_own_check_stops_submit_and_batch_naming_the_plugin(pack, write, tmp_path):
    name = pack("testpack_failing")
    (tmp_path / f"{name}_reference.py").write_text("def sigmoid(x):\n    raise ValueError('unfinished')\n", encoding="utf-8")
    runner, env = CliRunner(), {"GRADE_PLUGINS": name}
    path = write("learner.py", SUBMISSION)
    result = runner.invoke(cli, ["submit", str(path), "--seed", "3"], env=env)
    assert result.exit_code == 3
    assert f"check 'activation.sigmoid.random' of plugin '{name}' fails on its own reference" in result.output
    assert f"{name}_reference.py, line 2, in sigmoid" in result.output and "bug in the grader" not in result.output
    # Left out with -k, it stops nothing.
    assert runner.invoke(cli, ["submit", str(path), "--seed", "3", "-k", "losses"], env=env).exit_code == 1
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "a.py").write_text(SUBMISSION, encoding="utf-8")
    out = tmp_path / "out" / "r.csv"
    result = runner.invoke(cli, ["batch", str(folder), "--out", str(out), "--seed", "3"], env=env)
    assert result.exit_code == 3 and "fails on its own reference" in result.output
    assert not out.parent.exists()  # (nothing written: no row of "internal error" for every learner)


def test_a_probe_module_that_imports_its_reference_is_refused_before_a_learner_could_read_it(pack, write, tmp_path):
    """A learner's function called by the probe could find the reference in the probe's globals."""
    name = pack("testpack_leaky")
    source = (tmp_path / f"{name}.py").read_text(encoding="utf-8")
    (tmp_path / f"{name}.py").write_text(f"import {name}_reference as _answers\n" + source, encoding="utf-8")
    cheat = write("cheat.py", "import sys\n\ndef sigmoid(x):\n    return sys._getframe(1).f_globals['_answers'].sigmoid(x)\n")
    runner, env = CliRunner(), {"GRADE_PLUGINS": name}
    result = runner.invoke(cli, ["submit", str(cheat), "--seed", "3", "-k", "activation"], env=env)
    assert result.exit_code == 3, result.output
    assert f"the probe module {name} imports {name}_reference" in result.output
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "cheat.py").write_text(cheat.read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "out" / "r.csv"
    result = runner.invoke(cli, ["batch", str(folder), "--out", str(out), "--seed", "3"], env=env)
    assert result.exit_code == 3 and f"imports {name}_reference" in result.output
    assert not out.parent.exists()


@pytest.mark.parametrize("draw", ["np.random.normal(size=5)", "np.full(5, time.time() % 1)"])
def test_a_probe_that_does_not_draw_from_its_rng_is_refused(pack, write, tmp_path, draw):
    """Its reference's result differs from run to run, so a correct learner would fail it."""
    name = pack("testpack_unseeded")
    source = (tmp_path / f"{name}.py").read_text(encoding="utf-8").replace("rng.normal(size=5)", draw)
    (tmp_path / f"{name}.py").write_text("import time\n" + source, encoding="utf-8")
    result = CliRunner().invoke(cli, ["submit", str(write("learner.py", SUBMISSION)), "--seed", "3"], env={"GRADE_PLUGINS": name})
    assert result.exit_code == 3 and "gives another result each time its probe runs" in result.output


def test_a_check_that_verifies_results_random_by_design_is_not_taken_for_an_unseeded_probe(pack, write, tmp_path):
    name = pack("testpack_verified")
    source = (tmp_path / f"{name}.py").read_text(encoding="utf-8")
    source = source.replace("rng.normal(size=5)", "np.random.normal(size=5)").replace(
        "rtol=1e-9", "verify=verify_bounded").replace("@hookimpl", "def verify_bounded(got, rng):\n"
                                                      "    return None if np.all((got > 0) & (got < 1)) else 'out of (0, 1)'\n\n@hookimpl")
    (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
    result = CliRunner().invoke(cli, ["submit", str(write("learner.py", SUBMISSION)), "--seed", "3", "-k", "activation",
                                      "--format", "json"], env={"GRADE_PLUGINS": name})
    assert result.exit_code == 0 and json.loads(result.output)["score"] == 5, result.output


def test_points_of_numpy_or_fraction_types_are_taken_as_plain_numbers_and_infinite_tolerances_refused():
    from fractions import Fraction

    import numpy as np

    from exercises import losses

    for points in (np.int64(2), np.float32(2.5), Fraction(1, 3)):
        check = dataclasses.replace(losses.CHECKS[0], points=points)
        catalogue = build_catalogue(get_plugin_manager(extra=[_pack_of(check)]))
        [graded] = [c for c in catalogue.checks if c.exercise == "authored"]
        assert type(graded.points) is float and json.dumps(graded.points)
    with pytest.raises(PluginError, match="not a finite number"):
        build_catalogue(get_plugin_manager(extra=[_pack_of(dataclasses.replace(losses.CHECKS[0], atol=float("inf")))]))


def test_a_hook_that_raises_is_the_plugins_error_with_its_line():
    from grader import hookimpl

    class Raising:
        @hookimpl
        def grader_exercises(self, register):
            raise ZeroDivisionError("division by zero")

    with pytest.raises(PluginError) as raised:
        build_catalogue(get_plugin_manager(extra=[Raising()]))
    assert "grader_exercises raised ZeroDivisionError: division by zero" in str(raised.value)
    assert "test_plugins.py, line" in str(raised.value)


def test_two_installed_packs_naming_their_plugin_alike_are_refused(pack, tmp_path, monkeypatch):
    first, second = pack("testpack_same_a"), pack("testpack_same_b")
    for name in (first, second):
        dist = tmp_path / f"{name}-1.0.dist-info"
        dist.mkdir()
        (dist / "entry_points.txt").write_text(f"[grader]\nactivation = {name}\n", encoding="utf-8")
    monkeypatch.delenv("GRADE_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    with pytest.raises(PluginError, match="two installed packs name a plugin 'activation'"):
        get_plugin_manager()


def test_a_probe_module_that_imports_the_module_its_reference_takes_answers_from_is_refused(pack, write, tmp_path):
    """The reference's sigmoid comes from another module of the pack: a probe module importing
    that module (for a constant, say) would put the answers in every learner's process."""
    name = pack("testpack_helper")
    (tmp_path / "testpack_helper_answers.py").write_text(REFERENCE, encoding="utf-8")
    (tmp_path / f"{name}_reference.py").write_text("from testpack_helper_answers import sigmoid\n", encoding="utf-8")
    source = (tmp_path / f"{name}.py").read_text(encoding="utf-8")
    (tmp_path / f"{name}.py").write_text("import testpack_helper_answers\n" + source, encoding="utf-8")
    result = CliRunner().invoke(cli, ["submit", str(write("learner.py", SUBMISSION)), "--seed", "3"], env={"GRADE_PLUGINS": name})
    assert result.exit_code == 3 and f"the probe module {name} imports testpack_helper_answers" in result.output


@pytest.mark.parametrize("statement", ["from {name}_reference import sigmoid", "import {name}_reference"])
def test_a_probe_that_imports_its_reference_when_it_runs_is_refused_before_anyone_is_graded(pack, write, tmp_path, statement):
    """In the learner's process that import is refused: every learner would fail the check."""
    name = pack("testpack_lazy")
    source = (tmp_path / f"{name}.py").read_text(encoding="utf-8")
    source = source.replace("    x = rng.normal(size=5)\n", "    " + statement.format(name=name) + "\n    x = rng.normal(size=5)\n")
    (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
    result = CliRunner().invoke(cli, ["submit", str(write("learner.py", SUBMISSION)), "--seed", "3"], env={"GRADE_PLUGINS": name})
    assert result.exit_code == 3 and f"the probe module {name} imports {name}_reference in a function" in result.output


def test_an_exercise_of_no_checks_is_refused():
    from grader import hookimpl

    class Empty:
        @hookimpl
        def grader_exercises(self, register):
            register(Exercise("empty", {"en": "x", "ja": "x"}, (), reference="math"))

    with pytest.raises(PluginError, match="has no checks"):
        build_catalogue(get_plugin_manager(extra=[Empty()]))


def test_only_a_packs_own_modules_are_forbidden_to_its_probes_not_installed_libraries(tmp_path, monkeypatch):
    from grader import isolation
    from grader.runner import _packs_own

    installed = tuple(root.rstrip("/") + "/" for root in isolation.python_roots())
    (tmp_path / "local_helper.py").write_text("x = 1\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    import local_helper  # noqa: F401

    assert not _packs_own("click.utils", set(), installed) and not _packs_own("json", set(), installed)
    assert _packs_own("local_helper", set(), installed) and _packs_own("click.utils", {"click"}, installed)


def test_a_probe_module_that_imports_a_helper_its_reference_wraps_is_refused(tmp_path, write, monkeypatch):
    """The reference's sigmoid is defined in the reference but calls the pack's `_impl`, which the
    probes' package imports (for a constant): a learner's function could reach it."""
    package = tmp_path / "wrappack"
    package.mkdir()
    (package / "_impl.py").write_text(REFERENCE + "SCALE = 1.0\n", encoding="utf-8")
    (package / "reference.py").write_text("from wrappack import _impl\n\ndef sigmoid(x):\n    return _impl.sigmoid(x)\n",
                                          encoding="utf-8")
    (package / "__init__.py").write_text("from wrappack._impl import SCALE\n" + PACK.replace("{pack}_reference", "wrappack.reference"),
                                         encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    cheat = write("cheat.py", "import sys\n\ndef sigmoid(x):\n    return sys._getframe(1).f_globals['_impl'].sigmoid(x)\n")
    result = CliRunner().invoke(cli, ["submit", str(cheat), "--seed", "3", "-k", "activation"], env={"GRADE_PLUGINS": "wrappack"})
    assert result.exit_code == 3 and "the probe module wrappack imports wrappack._impl" in result.output
