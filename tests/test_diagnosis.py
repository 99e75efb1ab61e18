"""Diagnosis: a failing check gets the hint of the known mistake whose output matches the learner's.

Each known mistake is tested by a one-bug variant of a correct solution: ``examples/student.py``
with one function (or ``class simpleNet``) replaced by a wrong version written out in full here,
independently of ``exercises.mistakes``, as a learner following the notes would write it. The
variant must fail only the checks that depend on the function it breaks (``check.names``,
end-to-end dependencies included; extras count) and must report exactly that mistake's hint.

The variants are graded without the correct solution's top-level demo code (the prints and the
notes' last cell): ``grade_source`` runs the source in one ``exec``, so a wrong function called at
top level would stop the whole file, where a real run only reports a load problem for that
statement. The two sandbox tests at the end keep the demo code.
"""
from __future__ import annotations

import ast
import textwrap

import pytest

from grader.model import Status

# --- building variants ----------------------------------------------------------------------------


def _top_level(source: str) -> list[ast.stmt]:
    return ast.parse(source).body


def _cut(source: str, nodes: list[ast.stmt], replacement: dict[int, str] | None = None) -> str:
    """``source`` without the lines of ``nodes`` (or with ``replacement[id(node)]`` instead)."""
    lines = source.splitlines(keepends=True)
    replacement = replacement or {}
    for node in sorted(nodes, key=lambda n: n.lineno, reverse=True):
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
        new = replacement.get(id(node), "")
        lines[start:node.end_lineno] = [new] if new else []
    return "".join(lines)


def definitions_only(source: str) -> str:
    """The imports, functions and classes of ``source``, without its top-level demo code."""
    kept = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
    return _cut(source, [node for node in _top_level(source) if not isinstance(node, kept)])


def replace(source: str, name: str, code: str) -> str:
    """``source`` with the top-level ``def name`` / ``class name`` block replaced by ``code``."""
    found = [node for node in _top_level(source)
             if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name]
    assert len(found) == 1, f"{name} is defined {len(found)} times"
    block = textwrap.dedent(code).strip("\n") + "\n"
    assert [n.name for n in _top_level(block) if isinstance(n, (ast.FunctionDef, ast.ClassDef))] == [name]
    return _cut(source, found, {id(found[0]): block})


def remove(source: str, name: str) -> str:
    found = [node for node in _top_level(source)
             if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name]
    assert len(found) == 1
    return _cut(source, found)


def without_numpy_import(source: str) -> str:
    imports = [node for node in _top_level(source)
               if isinstance(node, ast.Import) and [a.name for a in node.names] == ["numpy"]]
    assert len(imports) == 1
    return _cut(source, imports)


@pytest.fixture(scope="module")
def base(correct_source):
    return definitions_only(correct_source)


def failing(results: dict) -> dict:
    return {check_id: r for check_id, r in results.items() if not r.passed}


def hint_ids(results: dict) -> set[str]:
    return {hint.id for r in results.values() for hint in r.hints}


def summary(results: dict) -> str:
    return "\n".join(
        f"  {check_id}: {r.status.value} names={r.check.names} hints={[h.id for h in r.hints]}"
        for check_id, r in results.items() if not r.passed or r.hints
    ) or "  (everything passed, no hints)"


def assert_hint_texts(results: dict) -> None:
    for r in results.values():
        for hint in r.hints:
            for language in ("en", "ja"):
                text = hint.text.get(language)
                assert isinstance(text, str) and text.strip(), f"hint {hint.id} has no {language} text"


def assert_one_bug(results: dict, function: str, mistake_id: str) -> None:
    """Only checks depending on ``function`` fail, one of its own among them, and the hint ids
    over all checks are exactly ``{mistake_id}``."""
    failed = failing(results)
    detail = summary(results)
    assert any(r.check.function == function for r in failed.values()), \
        f"no check of {function} failed:\n{detail}"
    others = [check_id for check_id, r in failed.items() if function not in r.check.names]
    assert not others, f"checks not depending on {function} failed: {others}\n{detail}"
    assert all(r.status in (Status.FAILED, Status.ERROR) for r in failed.values()), detail
    assert hint_ids(results) == {mistake_id}, f"expected only {mistake_id}:\n{detail}"
    for r in results.values():
        assert not (r.passed and r.hints), f"a passed check has hints:\n{detail}"
    assert_hint_texts(results)


# --- the wrong functions, as learners write them ----------------------------------------------------

MSE_MISSING_HALF = """
def mean_squared_error(y, t):
    return np.sum((y - t) ** 2)
"""

CEE_MISSING_DELTA = """
def cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    # one-hot labels become indices of the correct class
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t])) / batch_size
"""

CEE_NOT_AVERAGED = """
def cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    # one-hot labels become indices of the correct class
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7))
"""

# The book's batch version for one-hot labels: right except that t may not be indices.
CEE_ONE_HOT_ONLY = """
def cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    batch_size = y.shape[0]
    return -np.sum(t * np.log(y + 1e-7)) / batch_size
"""

# The book's batch version for labels given as indices: the one-hot conversion is missing.
CEE_LABELS_ONLY = """
def cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size
"""

# Another correct cross_entropy_error, in the notes' -Σ t log y form: indices become one-hot.
CEE_ONE_HOT_FORM = """
def cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    # labels given as indices become one-hot
    if t.size != y.size:
        t = np.eye(y.shape[1])[t]
    batch_size = y.shape[0]
    delta = 1e-7
    return -np.sum(t * np.log(y + delta)) / batch_size
"""

# ... and the same with y and t swapped in the formula.
CEE_SWAPPED = """
def cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    # labels given as indices become one-hot
    if t.size != y.size:
        t = np.eye(y.shape[1])[t]
    batch_size = y.shape[0]
    delta = 1e-7
    return -np.sum(y * np.log(t + delta)) / batch_size
"""

# ... and that one-hot form without dividing by N.
CEE_NOT_AVERAGED_ONE_HOT_FORM = """
def cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    # labels given as indices become one-hot
    if t.size != y.size:
        t = np.eye(y.shape[1])[t]
    delta = 1e-7
    return -np.sum(t * np.log(y + delta))
"""

BATCH_UNPAIRED = """
def get_mini_batch(x_train, t_train, batch_size):
    train_size = x_train.shape[0]
    x_batch = x_train[np.random.choice(train_size, batch_size)]
    t_batch = t_train[np.random.choice(train_size, batch_size)]
    return x_batch, t_batch
"""

BATCH_FIRST_ROWS = """
def get_mini_batch(x_train, t_train, batch_size):
    x_batch = x_train[:batch_size]
    t_batch = t_train[:batch_size]
    return x_batch, t_batch
"""

DIFF_FORWARD = """
def numerical_diff(f, x):
    h = 1e-4
    return (f(x + h) - f(x)) / h
"""

DIFF_ROUNDING = """
def numerical_diff(f, x):
    h = 10e-50
    return (f(x + h) - f(x - h)) / (2 * h)
"""

DIFF_MISSING_FACTOR_2 = """
def numerical_diff(f, x):
    h = 1e-4
    return (f(x + h) - f(x - h)) / h
"""

DIFF_PRECEDENCE = """
def numerical_diff(f, x):
    h = 1e-4
    return (f(x + h) - f(x - h)) / 2*h
"""

# The notes' own code.
GRADIENT_ONLY_1D = """
def numerical_gradient(f,x):
    h = 1e-4
    grad = np.zeros_like(x)

    for idx in range(x.size):
        tmp_val = x[idx]
        #f(x+h)の計算
        x[idx] = tmp_val+h
        fxh1 = f(x)
        #f(x-h)の計算
        x[idx] = tmp_val-h
        fxh2 = f(x)

        grad[idx] = (fxh1 - fxh2)/(2*h)
        x[idx] = tmp_val
    return grad
"""

GRADIENT_NOT_RESTORED = """
def numerical_gradient(f, x):
    h = 1e-4
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
        it.iternext()
    return grad
"""

GRADIENT_PERTURBS_COPY = """
def numerical_gradient(f, x):
    h = 1e-4
    x = x.copy()  # so that the caller's x is not changed
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
"""

# The notes' loop made to work for any shape by flattening x: the flat array is a copy.
#: The notes' IndexError mended by flattening: right wherever reshape gives a view of x, which
#: for a transposed x it does not.
GRADIENT_RESHAPED_VIEW = """
def numerical_gradient(f, x):
    h = 1e-4
    flat = x.reshape(-1)
    grad = np.zeros_like(flat)
    for idx in range(flat.size):
        tmp_val = flat[idx]
        flat[idx] = tmp_val + h
        fxh1 = f(x)
        flat[idx] = tmp_val - h
        fxh2 = f(x)
        grad[idx] = (fxh1 - fxh2) / (2 * h)
        flat[idx] = tmp_val
    return grad.reshape(x.shape)
"""
GRADIENT_RAVELED_VIEW_FLAT_RESULT = GRADIENT_RESHAPED_VIEW.replace("x.reshape(-1)", "x.ravel()").replace(
    "return grad.reshape(x.shape)", "return grad")

GRADIENT_PERTURBS_FLAT_COPY = """
def numerical_gradient(f, x):
    h = 1e-4
    x = x.flatten()
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
"""

GRADIENT_RETURN_IN_LOOP = """
def numerical_gradient(f, x):
    h = 1e-4
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
"""

GRADIENT_PRECEDENCE = """
def numerical_gradient(f, x):
    h = 1e-4
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        idx = it.multi_index
        tmp_val = x[idx]
        x[idx] = float(tmp_val) + h
        fxh1 = f(x)
        x[idx] = tmp_val - h
        fxh2 = f(x)
        grad[idx] = (fxh1 - fxh2) / 2*h
        x[idx] = tmp_val
        it.iternext()
    return grad
"""

DESCENT_WRONG_SIGN = """
def gradient_descent(f, init_x, lr=0.01, step_num=100):
    x = init_x
    for i in range(step_num):
        grad = numerical_gradient(f, x)
        x += lr * grad
    return x
"""

DESCENT_ONE_STEP_MORE = """
def gradient_descent(f, init_x, lr=0.01, step_num=100):
    x = init_x
    for i in range(step_num + 1):
        grad = numerical_gradient(f, x)
        x -= lr * grad
    return x
"""

DESCENT_ONE_STEP_LESS = """
def gradient_descent(f, init_x, lr=0.01, step_num=100):
    x = init_x
    for i in range(step_num - 1):
        grad = numerical_gradient(f, x)
        x -= lr * grad
    return x
"""

# softmax: student.py's, without subtracting the maximum (in both branches).
SOFTMAX_OVERFLOW = """
def softmax(a):
    if a.ndim == 2:
        return np.exp(a) / np.sum(np.exp(a), axis=1, keepdims=True)
    exp_a = np.exp(a)
    return exp_a / np.sum(exp_a)
"""

# The notes' own softmax: right for vectors, fails only the 0-point batch extra.
SOFTMAX_NOTES = """
def softmax(a):
    c = np.max(a)
    exp_a = np.exp(a-c)
    sum_exp_a = np.sum(exp_a)
    y = exp_a / sum_exp_a
    return y
"""

# Made ready for a batch by half: the maximum per row, the sum still over the whole matrix.
SOFTMAX_BATCH_WHOLE_SUM = """
def softmax(a):
    c = np.max(a, axis=-1, keepdims=True)
    exp_a = np.exp(a - c)
    return exp_a / np.sum(exp_a)
"""

# The notes' own cross_entropy_error: right for one example, fails only the 0-point extras.
CEE_NOTES = """
def cross_entropy_error(y,t):
    delta = 1e-7
    return-np.sum(t * np.log(y + delta))
"""

# ... without the delta.
CEE_NOTES_MISSING_DELTA = """
def cross_entropy_error(y,t):
    return -np.sum(t * np.log(y))
"""

# ... with y and t swapped.
CEE_NOTES_SWAPPED = """
def cross_entropy_error(y,t):
    delta = 1e-7
    return -np.sum(y * np.log(t + delta))
"""

NET_WITHOUT_SOFTMAX = """
class simpleNet:
    def __init__(self):
        self.W = np.random.randn(2, 3)

    def predict(self, x):
        return np.dot(x, self.W)

    def loss(self, x, t):
        z = self.predict(x)
        loss = cross_entropy_error(z, t)
        return loss
"""

NET_SOFTMAX_OF_INPUT = """
class simpleNet:
    def __init__(self):
        self.W = np.random.randn(2, 3)

    def predict(self, x):
        return np.dot(x, self.W)

    def loss(self, x, t):
        z = self.predict(x)
        y = softmax(x)
        loss = cross_entropy_error(y, t)
        return loss
"""

NET_WEIGHT_SHAPE = """
class simpleNet:
    def __init__(self):
        self.W = np.random.randn(3, 2)

    def predict(self, x):
        return np.dot(x, self.W)

    def loss(self, x, t):
        z = self.predict(x)
        y = softmax(z)
        return cross_entropy_error(y, t)
"""

NET_UNIFORM_WEIGHTS = """
class simpleNet:
    def __init__(self):
        self.W = np.random.rand(2, 3)

    def predict(self, x):
        return np.dot(x, self.W)

    def loss(self, x, t):
        z = self.predict(x)
        y = softmax(z)
        return cross_entropy_error(y, t)
"""

#: (mistake id, the name replaced, the wrong code)
VARIANTS = [
    pytest.param("mean_squared_error.missing_half", "mean_squared_error", MSE_MISSING_HALF, id="mse-missing_half"),
    pytest.param("cross_entropy_error.missing_delta", "cross_entropy_error", CEE_MISSING_DELTA, id="cee-missing_delta"),
    pytest.param("cross_entropy_error.not_averaged", "cross_entropy_error", CEE_NOT_AVERAGED, id="cee-not_averaged"),
    pytest.param("cross_entropy_error.not_averaged", "cross_entropy_error", CEE_NOT_AVERAGED_ONE_HOT_FORM,
                 id="cee-not_averaged-one_hot_form"),
    pytest.param("cross_entropy_error.one_hot_only", "cross_entropy_error", CEE_ONE_HOT_ONLY, id="cee-one_hot_only"),
    pytest.param("cross_entropy_error.labels_only", "cross_entropy_error", CEE_LABELS_ONLY, id="cee-labels_only"),
    pytest.param("cross_entropy_error.swapped_arguments", "cross_entropy_error", CEE_SWAPPED, id="cee-swapped_arguments"),
    pytest.param("get_mini_batch.unpaired", "get_mini_batch", BATCH_UNPAIRED, id="batch-unpaired"),
    pytest.param("get_mini_batch.first_rows", "get_mini_batch", BATCH_FIRST_ROWS, id="batch-first_rows"),
    pytest.param("numerical_diff.forward_difference", "numerical_diff", DIFF_FORWARD, id="diff-forward_difference"),
    pytest.param("numerical_diff.rounding_error", "numerical_diff", DIFF_ROUNDING, id="diff-rounding_error"),
    pytest.param("numerical_diff.missing_factor_2", "numerical_diff", DIFF_MISSING_FACTOR_2, id="diff-missing_factor_2"),
    pytest.param("numerical_diff.operator_precedence", "numerical_diff", DIFF_PRECEDENCE, id="diff-operator_precedence"),
    pytest.param("numerical_gradient.only_1d", "numerical_gradient", GRADIENT_ONLY_1D, id="gradient-only_1d"),
    pytest.param("numerical_gradient.input_not_restored", "numerical_gradient", GRADIENT_NOT_RESTORED, id="gradient-input_not_restored"),
    pytest.param("numerical_gradient.perturbs_copy", "numerical_gradient", GRADIENT_PERTURBS_COPY, id="gradient-perturbs_copy"),
    pytest.param("numerical_gradient.perturbs_copy", "numerical_gradient", GRADIENT_PERTURBS_FLAT_COPY, id="gradient-perturbs_copy-flatten"),
    pytest.param("numerical_gradient.flattened_copy", "numerical_gradient", GRADIENT_RESHAPED_VIEW, id="gradient-flattened_copy-reshape"),
    pytest.param("numerical_gradient.flattened_copy", "numerical_gradient", GRADIENT_RAVELED_VIEW_FLAT_RESULT,
                 id="gradient-flattened_copy-ravel"),
    pytest.param("numerical_gradient.return_inside_loop", "numerical_gradient", GRADIENT_RETURN_IN_LOOP, id="gradient-return_inside_loop"),
    pytest.param("numerical_gradient.operator_precedence", "numerical_gradient", GRADIENT_PRECEDENCE, id="gradient-operator_precedence"),
    pytest.param("gradient_descent.wrong_sign", "gradient_descent", DESCENT_WRONG_SIGN, id="descent-wrong_sign"),
    pytest.param("gradient_descent.step_count", "gradient_descent", DESCENT_ONE_STEP_MORE, id="descent-step_count-one_more"),
    pytest.param("gradient_descent.step_count", "gradient_descent", DESCENT_ONE_STEP_LESS, id="descent-step_count-one_less"),
    pytest.param("softmax.overflow", "softmax", SOFTMAX_OVERFLOW, id="softmax-overflow"),
    pytest.param("softmax.batch_whole_matrix", "softmax", SOFTMAX_BATCH_WHOLE_SUM, id="softmax-batch_whole_matrix"),
    pytest.param("cross_entropy_error.missing_delta", "cross_entropy_error", CEE_NOTES_MISSING_DELTA,
                 id="cee-missing_delta-notes_form"),
    pytest.param("cross_entropy_error.swapped_arguments", "cross_entropy_error", CEE_NOTES_SWAPPED,
                 id="cee-swapped_arguments-notes_form"),
    pytest.param("simpleNet.weight_shape", "simpleNet", NET_WEIGHT_SHAPE, id="net-weight_shape"),
    pytest.param("simpleNet.uniform_weights", "simpleNet", NET_UNIFORM_WEIGHTS, id="net-uniform_weights"),
]

#: Mistakes seen where the grader supplies softmax and cross_entropy_error under simpleNet.loss.
#: Only the learner's process refuses inputs a correct predict never gives them (``grade_source``
#: serves the reference itself, which answers anything), so these are named through the sandbox.
SUPPLIED_VARIANTS = [
    pytest.param("simpleNet.loss_without_softmax", "simpleNet", NET_WITHOUT_SOFTMAX, id="net-loss_without_softmax"),
    pytest.param("simpleNet.softmax_of_input", "simpleNet", NET_SOFTMAX_OF_INPUT, id="net-softmax_of_input"),
]


# --- the tests --------------------------------------------------------------------------------------

def test_correct_solution_passes_everything_without_hints(grade_source, correct_source, base):
    for source in (correct_source, base):
        results = grade_source(source)
        assert results and not failing(results), summary(results)
        assert hint_ids(results) == set()


def test_alternative_correct_cross_entropy_error_passes(grade_source, base):
    """The base of the swapped-arguments and one-hot-form not-averaged variants is itself correct."""
    results = grade_source(replace(base, "cross_entropy_error", CEE_ONE_HOT_FORM))
    assert not failing(results), summary(results)
    assert hint_ids(results) == set()


NET_W_TIMES_X = NET_WEIGHT_SHAPE.replace("np.dot(x, self.W)", "np.dot(self.W, x)")


def test_the_same_exception_type_from_another_operation_names_no_mistake(grade_source, base):
    """W·x with W of shape (3, 2) fails np.dot ("not aligned"); softmax of the input instead of the
    scores fails an element-wise operation ("could not be broadcast"): both ValueErrors, but
    the second mistake is not this learner's."""
    results = grade_source(replace(base, "simpleNet", NET_W_TIMES_X))
    assert "simplenet.simpleNet.gradient" in failing(results)
    assert hint_ids(results) == {"simpleNet.weight_shape"}, summary(results)


@pytest.mark.parametrize("mistake_id, function, code", VARIANTS)
def test_one_bug_variant_reports_exactly_its_hint(grade_source, catalogue, base, mistake_id, function, code):
    assert mistake_id in {m.id for m in catalogue.mistakes}
    results = grade_source(replace(base, function, code))
    assert_one_bug(results, function, mistake_id)


@pytest.mark.parametrize("mistake_id, function, code",
                         [pytest.param(*p.values, id=p.id) for p in VARIANTS + SUPPLIED_VARIANTS])
def test_variant_breaks_only_its_function(grade_source, base, mistake_id, function, code):
    """Each variant is a one-bug variant: it fails a check of its function
    and no check that does not depend on it."""
    results = grade_source(replace(base, function, code))
    failed = failing(results)
    assert any(r.check.function == function for r in failed.values()), summary(results)
    assert all(function in r.check.names for r in failed.values()), summary(results)


@pytest.mark.parametrize("function, code", [
    pytest.param("cross_entropy_error", CEE_NOTES, id="cross_entropy_error"),
    pytest.param("softmax", SOFTMAX_NOTES, id="softmax"),
])
def test_the_notes_own_code_fails_only_extras_and_names_no_mistake(grade_source, base, function, code):
    """README: extras never cost a learner who follows the notes, and a named mistake would count
    them in the class's "what to re-teach"."""
    results = grade_source(replace(base, function, code))
    failed = failing(results)
    assert failed and all(r.check.extra and r.check.function == function for r in failed.values()), summary(results)
    assert hint_ids(results) == set(), summary(results)


@pytest.mark.parametrize("mistake_id, code", [
    pytest.param("cross_entropy_error.missing_delta", CEE_NOTES_MISSING_DELTA, id="missing_delta"),
    pytest.param("cross_entropy_error.swapped_arguments", CEE_NOTES_SWAPPED, id="swapped_arguments"),
])
def test_an_exception_of_the_same_type_does_not_name_unrelated_mistakes(grade_source, base, mistake_id, code):
    """The notes' form raises ValueError on the labels extra, as several other wrong versions do
    there; only the mistake that also behaves as the learner on the other checks is named, and
    not on the extra: the notes' form fails it whatever else is wrong (adding the delta, or putting
    the arguments in order, does not mend it)."""
    results = grade_source(replace(base, "cross_entropy_error", code))
    labels = results["losses.cross_entropy_error.labels"]
    assert labels.status is Status.ERROR and labels.message.params.get("type") == "ValueError"
    assert all(not r.hints for r in results.values() if r.check.extra), summary(results)
    assert hint_ids(results) == {mistake_id}, summary(results)


def test_an_exception_many_codes_raise_names_only_the_mistake_whose_values_agree_too(grade_source, base):
    """A 1-D loop with a forward difference raises the IndexError of only_1d and of `/ 2*h`
    in a 1-D loop alike; only_1d is right wherever it does not raise, `/ 2*h` gives other wrong
    values than the learner's, so only only_1d is named."""
    code = """
def numerical_gradient(f, x):
    h = 1e-4
    grad = np.zeros_like(x)
    for idx in range(x.size):
        tmp_val = x[idx]
        fx = f(x)
        x[idx] = tmp_val + h
        grad[idx] = (f(x) - fx) / h
        x[idx] = tmp_val
    return grad
"""
    results = grade_source(replace(base, "numerical_gradient", code))
    assert results["gradient.numerical_gradient.n_dimensional"].status is Status.ERROR
    assert hint_ids(results) == {"numerical_gradient.only_1d"}, summary(results)


def test_gradient_descent_with_its_own_gradient_helper_passes_every_check(grade_source, base):
    """With lr = 10 a numerical gradient stalls near 1e13 (the notes print -2.6e13) where the
    exact one the grader supplies as numerical_gradient reaches 1e128: both have diverged."""
    code = """
def gradient_descent(f, init_x, lr=0.01, step_num=100):
    x = init_x
    for i in range(step_num):
        g = np.zeros_like(x)
        for j in range(x.size):
            t = x[j]
            x[j] = t + 1e-4
            a = f(x)
            x[j] = t - 1e-4
            b = f(x)
            g[j] = (a - b) / 2e-4
            x[j] = t
        x -= lr * g
    return x
"""
    results = grade_source(replace(base, "gradient_descent", code))
    assert not failing(results), summary(results)


@pytest.mark.parametrize("h", ["1e-4", "1e-6", "1e-9", "1e-13"])
def test_a_forward_difference_fails_whatever_its_h(grade_source, base, h):
    code = f"""
def numerical_diff(f, x):
    h = {h}
    return (f(x + h) - f(x)) / h
"""
    results = grade_source(replace(base, "numerical_diff", code))
    assert any(r.check.function == "numerical_diff" for r in failing(results).values()), summary(results)
    central = code.replace("(f(x + h) - f(x)) / h", "(f(x + h) - f(x - h)) / (2 * h)")
    if h != "1e-13":  # (too small for a central difference as well: the notes' rounding error)
        assert not failing(grade_source(replace(base, "numerical_diff", central)))


def test_missing_numpy_import_names_every_failure(grade_source, base):
    results = grade_source(without_numpy_import(base))
    failed = failing(results)
    assert len(failed) >= 10, summary(results)
    for check_id, r in failed.items():
        assert r.status is Status.ERROR, f"{check_id}:\n{summary(results)}"
        assert r.message.params.get("type") == "NameError", check_id
        assert r.message.params.get("message") == "name 'np' is not defined", check_id
        assert [h.id for h in r.hints] == ["numpy.missing_import"], f"{check_id}:\n{summary(results)}"
    assert hint_ids(results) == {"numpy.missing_import"}
    assert_hint_texts(results)


def test_missing_function_is_missing_without_hint(grade_source, base):
    results = grade_source(remove(base, "mean_squared_error"))
    failed = failing(results)
    assert failed and all(r.check.function == "mean_squared_error" for r in failed.values()), summary(results)
    assert all(r.status is Status.MISSING for r in failed.values()), summary(results)
    assert {r.status.value for r in failed.values()} == {"missing"}
    assert hint_ids(results) == set(), summary(results)


def test_two_bugs_in_two_functions_report_both(grade_source, base):
    source = replace(replace(base, "mean_squared_error", MSE_MISSING_HALF), "numerical_diff", DIFF_FORWARD)
    results = grade_source(source)
    failed = failing(results)
    assert {r.check.function for r in failed.values()} == {"mean_squared_error", "numerical_diff"}, summary(results)
    assert hint_ids(results) == {"mean_squared_error.missing_half", "numerical_diff.forward_difference"}
    for r in failed.values():
        expected = {"mean_squared_error": "mean_squared_error.missing_half",
                    "numerical_diff": "numerical_diff.forward_difference"}[r.check.function]
        assert {h.id for h in r.hints} <= {expected}
    assert_hint_texts(results)


# --- through the sandbox -----------------------------------------------------------------------------

def _report_hint_ids(report) -> set[str]:
    return {h.id for r in report.results for h in r.hints}


def test_sandbox_names_only_1d(grader, write, correct_source):
    source = replace(correct_source, "numerical_gradient", GRADIENT_ONLY_1D)
    report = grader.grade(write("only_1d.py", source))
    assert "numerical_gradient.only_1d" in _report_hint_ids(report)
    failed = [r for r in report.results if not r.passed]
    assert failed and all("numerical_gradient" in r.check.names for r in failed)


def test_sandbox_names_missing_numpy_import(grader, write, correct_source):
    source = without_numpy_import(correct_source)
    report = grader.grade(write("no_numpy.py", source))
    failed = [r for r in report.results if not r.passed]
    assert len(failed) >= 10
    for r in failed:
        assert r.status is Status.ERROR, r.check.id
        assert [h.id for h in r.hints] == ["numpy.missing_import"], r.check.id
    # `net = simpleNet()` at top level calls a function that uses np: its load problem is named.
    line = next(node.lineno for node in _top_level(source)
                if isinstance(node, ast.Assign) and ast.unparse(node) == "net = simpleNet()")
    at_line = [p for p in report.problems if p.where.line == line]
    assert at_line, report.problems
    assert at_line[0].message.params.get("type") == "NameError"
    assert [h.id for h in at_line[0].hints] == ["numpy.missing_import"]
    # ... and so is every other load problem raised by the missing np.
    np_problems = [p for p in report.problems if "name 'np' is not defined" in str(p.message.params.get("message", ""))]
    for problem in np_problems:
        assert [h.id for h in problem.hints] == ["numpy.missing_import"], problem


@pytest.mark.parametrize("mistake_id, function, code", SUPPLIED_VARIANTS)
def test_sandbox_names_the_mistake_under_supplied_functions(grader, write, correct_source, mistake_id, function, code):
    """loss without softmax and softmax of the input both hand the grader's functions inputs a
    correct predict never gives (a ValueError either way); which function refused tells them apart."""
    report = grader.grade(write("net.py", replace(correct_source, function, code)))
    results = {r.check.id: r for r in report.results}
    assert [h.id for h in results["simplenet.simpleNet.loss"].hints] == [mistake_id], summary(results)
    assert_one_bug(results, function, mistake_id)
