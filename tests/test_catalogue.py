"""Requirements of the exercise catalogue: its shape, its probes, its faithfulness to the notes,
and that it tells right from wrong (each known bug fails where it lives, and only there)."""
from __future__ import annotations

import dataclasses
import importlib
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import EXAMPLES, ROOT, SEED

import reference
from grader import probing, wire
from grader.catalogue import build_catalogue, probe_modules, probe_path
from grader.expected import run_probe
from grader.judge import judge
from grader.model import LANGUAGES, Check, Status
from grader.plugins import get_plugin_manager


def _catalogue():
    return build_catalogue(get_plugin_manager())


#: Check ids, known at collection time so that families are parametrized by check.
CHECK_IDS = [check.id for check in _catalogue().checks]
SEEDS = (0, 20261127)


@pytest.fixture(scope="module")
def checks(catalogue):
    return {check.id: check for check in catalogue.checks}


def ids_of(catalogue, function: str, *, extras: bool = True) -> set[str]:
    return {c.id for c in catalogue.checks if c.function == function and (extras or not c.extra)}


def failed(results: dict) -> set[str]:
    return {check_id for check_id, result in results.items() if not result.passed}


def non_extra(results: dict) -> set[str]:
    return {check_id for check_id, result in results.items() if not result.check.extra}


def variant(source: str, old: str, new: str) -> str:
    """``source`` with its one occurrence of ``old`` replaced: a one-bug variant."""
    assert source.count(old) == 1, f"expected exactly one occurrence of {old!r}"
    return source.replace(old, new)


def run_on_reference(check: Check, seed: int):
    """The probe's raw result on the reference, and the names it supplied."""
    with probing.trusted_from(lambda name: getattr(reference, name)) as supplied:
        result = check.probe(probing.Subject(vars(reference)), np.random.default_rng(seed))
    return result, list(supplied)


# --- the catalogue's shape ----------------------------------------------------------------------

def test_the_points_of_all_checks_sum_to_exactly_100(catalogue):
    assert sum(check.points for check in catalogue.checks) == 100
    assert catalogue.max_score == 100


def test_every_check_id_is_unique(catalogue):
    ids = [check.id for check in catalogue.checks]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_every_check_id_is_exercise_dot_function_dot_name(catalogue, checks, check_id):
    check = checks[check_id]
    exercise_ids = {exercise.id for exercise in catalogue.exercises if check in exercise.checks}
    assert exercise_ids == {check.exercise}
    assert re.fullmatch(r"[A-Za-z_]\w*\.[A-Za-z_]\w*\.[A-Za-z_]\w*", check_id)
    assert check_id.split(".") == [check.exercise, check.function, check.name]


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_every_check_title_has_english_and_japanese_text(checks, check_id):
    title = checks[check_id].title
    assert all(isinstance(title.get(lang), str) and title[lang].strip() for lang in LANGUAGES)


def test_every_exercise_title_has_english_and_japanese_text(catalogue):
    for exercise in catalogue.exercises:
        assert all(isinstance(exercise.title.get(lang), str) and exercise.title[lang].strip() for lang in LANGUAGES), exercise.id


def test_every_mistake_hint_has_english_and_japanese_text(catalogue):
    assert catalogue.mistakes
    for mistake in catalogue.mistakes:
        assert all(isinstance(mistake.hint.get(lang), str) and mistake.hint[lang].strip() for lang in LANGUAGES), mistake.id


@pytest.mark.parametrize("function, name", [("cross_entropy_error", "batch"), ("cross_entropy_error", "labels"), ("softmax", "batch")])
def test_the_book_only_forms_are_zero_point_extras(catalogue, function, name):
    found = [c for c in catalogue.checks if c.function == function and c.name == name]
    assert len(found) == 1
    assert found[0].points == 0 and found[0].extra


# --- the probes ---------------------------------------------------------------------------------

def test_the_reference_scores_100_with_every_check_passed(grade_source):
    results = grade_source("from reference import *\n")
    assert failed(results) == set()
    assert sum(result.score for result in results.values()) == 100


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_every_probe_returns_a_value_on_the_reference(checks, check_id, seed):
    outcome = run_probe(checks[check_id], vars(reference), seed, reference)
    assert outcome["kind"] == "value", outcome


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_every_probe_returns_only_plain_values(checks, check_id, seed):
    result, _ = run_on_reference(checks[check_id], seed)
    json.dumps(wire.encode_value(result))  # raises WireError on anything but plain data


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_every_probe_is_a_module_level_function_importable_by_its_path(checks, check_id):
    check = checks[check_id]
    module_name, qualname = probe_path(check).split(":")
    assert "<locals>" not in qualname
    found = importlib.import_module(module_name)
    for part in qualname.split("."):
        found = getattr(found, part)
    assert found is check.probe


def test_the_probe_modules_never_import_the_reference(catalogue):
    """The learner's process imports the probe modules: the answers must not come with them."""
    modules = list(probe_modules(catalogue))
    assert modules
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'reference' or m == 'exercises.mistakes')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_every_check_declares_exactly_what_its_probe_supplies(checks, check_id):
    check = checks[check_id]
    _, supplied = run_on_reference(check, SEED)
    assert set(supplied) == set(check.supplied)


def probe_supplying_undeclared_softmax(module, rng):
    with probing.supply(module.simpleNet, softmax=probing.trusted("softmax")):
        net = module.simpleNet()
        return probing.value(net.loss(np.array([0.6, 0.9]), np.array([0, 0, 1])))


UNDECLARED = Check("simpleNet", "sneaky", 0, probe_supplying_undeclared_softmax,
                   {"en": "supplies softmax without saying so", "ja": "宣言せずに softmax を差し替える"},
                   exercise="test")


def test_a_probe_supplying_an_undeclared_name_is_caught():
    outcome = run_probe(UNDECLARED, vars(reference), SEED, reference)
    assert outcome["kind"] == "exception"
    assert outcome["type"] == "RuntimeError"
    assert "softmax" in outcome["message"] and "supplied" in outcome["message"]


def test_a_reference_outcome_with_an_undeclared_supply_cannot_be_judged_against():
    expected = run_probe(UNDECLARED, vars(reference), SEED, reference)
    with pytest.raises(RuntimeError):
        judge(UNDECLARED, {"kind": "value", "value": 0.0}, expected)


def test_the_same_probe_declaring_its_supply_runs():
    declared = dataclasses.replace(UNDECLARED, supplied=("softmax",))
    assert run_probe(declared, vars(reference), SEED, reference)["kind"] == "value"


# --- faithful to the notes ----------------------------------------------------------------------

CELL_MARKER = re.compile(r"^# In\[\s*\d*\s*\]:\s*$", re.M)


def notes_cells() -> list[str]:
    text = (EXAMPLES / "notes_export.py").read_text(encoding="utf-8")
    return [cell for cell in CELL_MARKER.split(text)[1:] if cell.strip()]


def cell_by_cell(cells: list[str]) -> str:
    """Source that runs each cell on its own and goes on after one raises, as the grader does."""
    return (
        f"_CELLS = {cells!r}\n"
        "for _cell in _CELLS:\n"
        "    try:\n"
        "        exec(compile(_cell, 'notes.py', 'exec'), globals())\n"
        "    except Exception:\n"
        "        pass\n"
    )


@pytest.fixture(scope="module")
def notes_results(grade_source):
    return grade_source(cell_by_cell(notes_cells()))


def test_the_notes_export_has_the_notes_code_cells():
    cells = notes_cells()
    assert len(cells) == 15
    assert any("def gradient_descent(f, x, lr, step_num):" in cell for cell in cells)
    assert any("for idx in range(x.size):" in cell for cell in cells)


NOTES_PASS = [
    "losses.mean_squared_error.notes_example",
    "losses.mean_squared_error.random",
    "losses.mean_squared_error.other_sizes",
    "losses.cross_entropy_error.notes_example",
    "losses.cross_entropy_error.random",
    "losses.cross_entropy_error.zero_probability",
    "derivatives.numerical_diff.notes_example",
    "derivatives.numerical_diff.square_at_zero",
    "derivatives.numerical_diff.function_1",
    "derivatives.numerical_diff.random",
    "derivatives.function_2.notes_example",
    "derivatives.function_2.random",
    "derivatives.function_tmp1.values",
    "gradient.numerical_gradient.notes_example",
    "gradient.numerical_gradient.random_1d",
    "gradient.numerical_gradient.restores_input",
    "gradient.numerical_gradient.reads_weights",
    "descent.gradient_descent.notes_example",
    "descent.gradient_descent.step_count",
    "descent.gradient_descent.learning_rates",
    "simplenet.softmax.notes_example",
    "simplenet.softmax.random",
    "simplenet.softmax.overflow",
    "simplenet.softmax.uniform",
    "simplenet.simpleNet.weight_shape",
    "simplenet.simpleNet.weight_distribution",
    "simplenet.simpleNet.predict",
    "simplenet.simpleNet.loss",
]


def test_the_notes_pass_list_covers_every_non_extra_check_of_the_notes_functions(catalogue):
    for function in ("mean_squared_error", "cross_entropy_error", "numerical_diff", "function_2",
                     "function_tmp1", "gradient_descent", "softmax"):
        assert ids_of(catalogue, function, extras=False) <= set(NOTES_PASS), function


@pytest.mark.parametrize("check_id", NOTES_PASS)
def test_the_notes_code_passes(notes_results, check_id):
    assert notes_results[check_id].passed, notes_results[check_id].message


def test_the_notes_numerical_gradient_fails_n_dimensional_with_index_error(notes_results):
    result = notes_results["gradient.numerical_gradient.n_dimensional"]
    assert result.status is Status.ERROR
    assert result.message.params["type"] == "IndexError"


def test_the_notes_name_no_mistake_but_the_1d_gradient(notes_results):
    """README: the notes fail the extras (the book's later cross_entropy_error and softmax) by
    design, and extras never cost them, so no mistake is named there for the class summary."""
    named = {hint.id for result in notes_results.values() for hint in result.hints}
    assert named == {"numerical_gradient.only_1d"}
    extras = [r for r in notes_results.values() if r.check.extra]
    assert extras and not any(r.passed for r in extras if r.check.function in ("cross_entropy_error", "softmax"))


# --- discriminating: one-bug variants of a correct solution ------------------------------------

CENTRAL = "    h = 1e-4\n    return (f(x + h) - f(x - h)) / (2 * h)\n"
DESCENT_LOOP = "    for i in range(step_num):\n        grad = numerical_gradient(f, x)\n        x -= lr * grad\n"
RESTORE = "        x[idx] = tmp_val\n        it.iternext()\n"
GRADIENT_START = "def numerical_gradient(f, x):\n    h = 1e-4\n    grad = np.zeros_like(x)\n    it = np.nditer("
GRADIENT_BODY = '''    h = 1e-4
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        idx = it.multi_index
        tmp_val = x[idx]
        x[idx] = float(tmp_val) + h
        fxh1 = f(x)
        x[idx] = tmp_val - h
        fxh2 = f(x)
        grad[idx] = (fxh1 - fxh2) / (2 * h)
        x[idx] = tmp_val
        it.iternext()
    return grad
'''
NOTES_GRADIENT_BODY = '''    h = 1e-4
    grad = np.zeros_like(x)
    for idx in range(x.size):
        tmp_val = x[idx]
        x[idx] = tmp_val + h
        fxh1 = f(x)
        x[idx] = tmp_val - h
        fxh2 = f(x)
        grad[idx] = (fxh1 - fxh2) / (2 * h)
        x[idx] = tmp_val
    return grad
'''
DESCENT = '''def gradient_descent(f, init_x, lr=0.01, step_num=100):
    x = init_x
    for i in range(step_num):
        grad = numerical_gradient(f, x)
        x -= lr * grad
    return x
'''
BOOK_DESCENT = '''def gradient_descent(f, init_x, lr=0.01, step_num=100):
    x = init_x
    x_history = []
    for i in range(step_num):
        x_history.append(x.copy())
        grad = numerical_gradient(f, x)
        x -= lr * grad
    return x, np.array(x_history)
'''


def test_the_correct_solution_passes_every_check(grade_source, correct_source):
    assert failed(grade_source(correct_source)) == set()


def test_forward_difference_fails_numerical_diff(grade_source, correct_source):
    source = variant(correct_source, CENTRAL, "    h = 1e-4\n    return (f(x + h) - f(x)) / h\n")
    results = grade_source(source, only="numerical_diff")
    assert "derivatives.numerical_diff.square_at_zero" in failed(results)


def test_h_of_1e_minus_50_fails_numerical_diff(grade_source, correct_source):
    source = variant(correct_source, CENTRAL, CENTRAL.replace("1e-4", "1e-50"))
    results = grade_source(source, only="numerical_diff")
    assert {"derivatives.numerical_diff.notes_example", "derivatives.numerical_diff.square_at_zero"} <= failed(results)


@pytest.mark.parametrize("h", ["1e-6", "1e-5", "1e-4", "1e-3"])
def test_a_central_difference_with_a_reasonable_h_passes_numerical_diff(grade_source, correct_source, h):
    source = variant(correct_source, CENTRAL, CENTRAL.replace("1e-4", h))
    results = grade_source(source, only="numerical_diff")
    assert results and failed(results) == set()


@pytest.mark.parametrize("loop", ["range(step_num + 1)", "range(step_num - 1)"], ids=["one step more", "one step less"])
def test_a_wrong_step_count_fails_gradient_descent(grade_source, correct_source, loop):
    source = variant(correct_source, DESCENT_LOOP, DESCENT_LOOP.replace("range(step_num)", loop))
    results = grade_source(source, only="gradient_descent")
    assert "descent.gradient_descent.step_count" in failed(results)


def test_the_books_gradient_descent_returning_x_history_passes(grade_source, correct_source):
    """The book's version modifies init_x in place and returns (x, x_history)."""
    source = variant(correct_source, DESCENT, BOOK_DESCENT)
    results = grade_source(source, only="gradient_descent")
    assert results and failed(results) == set()


def test_the_notes_gradient_descent_signature_without_defaults_passes(grade_source, correct_source):
    source = variant(correct_source, "def gradient_descent(f, init_x, lr=0.01, step_num=100):\n    x = init_x\n",
                     "def gradient_descent(f, x, lr, step_num):\n")
    results = grade_source(source, only="gradient_descent")
    assert results and failed(results) == set()


def test_a_numerical_gradient_that_forgets_to_restore_x_fails_restores_input(grade_source, correct_source):
    source = variant(correct_source, RESTORE, "        it.iternext()\n")
    results = grade_source(source, only="numerical_gradient")
    assert "gradient.numerical_gradient.restores_input" in failed(results)


def test_a_1d_only_numerical_gradient_fails_n_dimensional(grade_source, correct_source):
    """The solution's last line then raises the notes' IndexError: it runs as a cell that fails."""
    source = variant(correct_source, GRADIENT_BODY, NOTES_GRADIENT_BODY)
    results = grade_source(cell_by_cell([source]), only="numerical_gradient")
    assert "gradient.numerical_gradient.n_dimensional" in failed(results)


@pytest.mark.parametrize("copy", ["x = x.copy()", "x = x.flatten()"])
def test_a_numerical_gradient_that_perturbs_a_copy_fails_reads_weights(grade_source, correct_source, copy):
    source = variant(correct_source, GRADIENT_START, GRADIENT_START.replace("    h = 1e-4\n", f"    h = 1e-4\n    {copy}\n"))
    results = grade_source(source, only="numerical_gradient")
    assert "gradient.numerical_gradient.reads_weights" in failed(results)


def test_cross_entropy_error_without_delta_fails_zero_probability(grade_source, correct_source):
    source = variant(correct_source, "np.log(y[np.arange(batch_size), t] + 1e-7)", "np.log(y[np.arange(batch_size), t])")
    results = grade_source(source, only="cross_entropy_error")
    # Only where the delta counts: elsewhere the loss is (4.2) itself, to a few parts in a million.
    assert failed(results) == {"losses.cross_entropy_error.zero_probability"}


@pytest.mark.parametrize("shift", ["np.min(a)", "np.mean(a)"])
def test_softmax_shifted_by_other_than_the_maximum_fails_overflow(grade_source, correct_source, shift):
    source = variant(correct_source, "    c = np.max(a)\n", f"    c = {shift}\n")
    assert failed(grade_source(source, only="softmax")) == {"simplenet.softmax.overflow"}


def test_cross_entropy_error_that_clips_y_instead_of_adding_delta_passes(grade_source, correct_source):
    source = variant(correct_source, "np.log(y[np.arange(batch_size), t] + 1e-7)",
                     "np.log(np.clip(y[np.arange(batch_size), t], 1e-7, 1.0))")
    assert failed(grade_source(source, only="cross_entropy_error")) == set()


def test_cross_entropy_error_with_a_delta_far_from_the_notes_fails(grade_source, correct_source):
    source = variant(correct_source, "np.log(y[np.arange(batch_size), t] + 1e-7)", "np.log(y[np.arange(batch_size), t] + 1e-3)")
    assert {"losses.cross_entropy_error.notes_example", "losses.cross_entropy_error.random"} <= failed(
        grade_source(source, only="cross_entropy_error"))


def test_a_batch_loss_not_divided_by_n_fails_the_batch_extra(grade_source, correct_source):
    source = variant(correct_source, " + 1e-7)) / batch_size\n", " + 1e-7))\n")
    results = grade_source(source, only="cross_entropy_error")
    assert "losses.cross_entropy_error.batch" in failed(results)
    assert not failed(results) & non_extra(results)


def test_softmax_without_subtracting_the_max_fails_overflow(grade_source, correct_source):
    source = variant(correct_source, "    c = np.max(a)\n    exp_a = np.exp(a - c)\n", "    exp_a = np.exp(a)\n")
    results = grade_source(source, only="softmax")
    assert "simplenet.softmax.overflow" in failed(results)


# --- charged once ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def zero_gradient_results(grade_source, correct_source):
    return grade_source(variant(correct_source, "    return grad\n", "    return np.zeros_like(x)\n"))


def test_a_zero_numerical_gradient_fails_numerical_gradient(zero_gradient_results):
    assert "gradient.numerical_gradient.notes_example" in failed(zero_gradient_results)


def test_a_zero_numerical_gradient_does_not_fail_gradient_descent(catalogue, zero_gradient_results):
    assert not failed(zero_gradient_results) & ids_of(catalogue, "gradient_descent")


def test_a_zero_numerical_gradient_fails_simplenet_gradient_end_to_end(zero_gradient_results):
    assert "simplenet.simpleNet.gradient" in failed(zero_gradient_results)


@pytest.fixture(scope="module")
def identity_softmax_results(grade_source, correct_source):
    return grade_source(variant(correct_source, "def softmax(a):\n", "def softmax(a):\n    return a\n"))


def test_an_identity_softmax_fails_softmax(identity_softmax_results):
    assert "simplenet.softmax.notes_example" in failed(identity_softmax_results)


@pytest.mark.parametrize("check_id", ["simplenet.simpleNet.loss", "simplenet.simpleNet.predict"])
def test_an_identity_softmax_does_not_fail_simplenet(identity_softmax_results, check_id):
    assert identity_softmax_results[check_id].passed


# --- edge inputs ----------------------------------------------------------------------------------

def calls_to(checks, check_id: str, name: str) -> list[tuple]:
    """The arguments the probe of ``check_id`` passes to ``name`` on the reference."""
    calls = []
    original = getattr(reference, name)

    def recorder(*args):
        calls.append(tuple(np.array(arg, copy=True) if isinstance(arg, np.ndarray) else arg for arg in args))
        if name == "numerical_gradient":
            calls[-1] = calls[-1] + (args[1].flags.c_contiguous, args[1].base is not None)
        return original(*args)

    check = checks[check_id]
    with probing.trusted_from(lambda n: getattr(reference, n)):
        check.probe(probing.Subject({**vars(reference), name: recorder}), np.random.default_rng(SEED))
    return calls


def test_the_softmax_overflow_check_includes_1010_1000_990(checks):
    inputs = [args[0] for args in calls_to(checks, "simplenet.softmax.overflow", "softmax")]
    assert any(np.array_equal(a, [1010.0, 1000.0, 990.0]) for a in inputs)


def test_a_numerical_gradient_check_passes_a_non_contiguous_view(catalogue, checks):
    views = [check_id for check_id in ids_of(catalogue, "numerical_gradient")
             if any(not contiguous and is_view for *_, contiguous, is_view in calls_to(checks, check_id, "numerical_gradient"))]
    assert views


# --- selection ------------------------------------------------------------------------------------

def test_select_numerical_diff_keeps_only_numerical_diff_checks(catalogue):
    selected = catalogue.select("numerical_diff")
    assert {c.id for c in selected.checks} == ids_of(catalogue, "numerical_diff")


def test_select_gradient_keeps_the_gradient_exercise(catalogue):
    selected = catalogue.select("gradient")
    gradient = next(exercise for exercise in catalogue.exercises if exercise.id == "gradient")
    assert [exercise.id for exercise in selected.exercises] == ["gradient"]
    assert [c.id for c in selected.checks] == [c.id for c in gradient.checks]


def test_select_simplenet_keeps_the_simplenet_checks(catalogue):
    selected = catalogue.select("simpleNet")
    assert {c.id for c in selected.checks} == ids_of(catalogue, "simpleNet")


def test_the_minibatch_checks_redraw_the_probes_training_data_once_per_seed():
    from exercises import minibatch

    first = minibatch._training_data_again(np.random.default_rng(5))
    again = minibatch._training_data_again(np.random.default_rng(5))
    fresh = minibatch.training_data(np.random.default_rng(5))
    assert again is first and all(np.array_equal(a, b) for a, b in zip(first, fresh))
    assert not first[0].flags.writeable and not first[1].flags.writeable
    other = minibatch._training_data_again(np.random.default_rng(6))
    assert not np.array_equal(other[0], first[0])
