"""The reference reproduces every value the chapter's notes print, to the printed precision, and
behaves as the probes rely on (any shape, in-place perturbation, the caller's arrays left alone)."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import reference
from reference import (
    cross_entropy_error,
    function_1,
    function_2,
    function_tmp1,
    function_tmp2,
    get_mini_batch,
    gradient_descent,
    mean_squared_error,
    numerical_diff,
    numerical_gradient,
    simpleNet,
    softmax,
)

#: The notes' example: the correct label is "2" and the network gives it probability 0.6.
NOTES_Y = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
NOTES_T = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
#: The book's worse guess: probability 0.6 on "7" while the answer is "2".
WRONG_Y = np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0])

#: The W the notes print (rounded to 8 digits), and the input and label used with it.
NOTES_W = np.array([[-0.62006546, -1.59333854, -0.42197585], [0.6357717, -0.24165729, 0.68248515]])
NOTES_X = np.array([0.6, 0.9])
NOTES_LABEL = np.array([0, 0, 1])


def notes_net() -> simpleNet:
    net = simpleNet()
    net.W = NOTES_W.copy()
    return net


class Weighted:
    """f(x) = Σ c·sin(x) for any shape, with the exact gradient c·cos(x)."""

    def __init__(self, shape, seed=0):
        self.c = np.random.default_rng(seed).normal(size=shape)

    def __call__(self, x):
        return float(np.sum(self.c * np.sin(x)))

    def gradient(self, x):
        return self.c * np.cos(x)


# --- values the notes print ---------------------------------------------------------------------

def test_cross_entropy_error_of_the_notes_example_is_0_510825457099338():
    assert cross_entropy_error(NOTES_Y, NOTES_T) == pytest.approx(0.510825457099338, rel=1e-15)


def test_numerical_diff_of_function_tmp1_at_3_is_6_00000000000378():
    assert numerical_diff(function_tmp1, 3.0) == pytest.approx(6.00000000000378, rel=1e-15)


def test_numerical_diff_of_function_tmp2_at_4_is_7_999999999999119():
    assert numerical_diff(function_tmp2, 4.0) == pytest.approx(7.999999999999119, rel=1e-15)


def test_numerical_gradient_of_function_2_at_3_4_is_6_8():
    grad = numerical_gradient(function_2, np.array([3.0, 4.0]))
    np.testing.assert_allclose(grad, [6.0, 8.0], rtol=1e-9)


@pytest.mark.parametrize(
    "lr, printed",
    [
        (0.1, [-6.11110793e-10, 8.14814391e-10]),
        (10.0, [-2.58983747e13, -1.29524862e12]),
        (1e-10, [-2.99999994, 3.99999992]),
    ],
    ids=["lr=0.1 converges", "lr=10 diverges", "lr=1e-10 barely moves"],
)
def test_gradient_descent_from_minus_3_4_ends_where_the_notes_print(lr, printed):
    result = gradient_descent(function_2, np.array([-3.0, 4.0]), lr=lr, step_num=100)
    np.testing.assert_allclose(result, printed, rtol=1e-8)


def test_simplenet_predict_with_the_notes_w_gives_the_printed_scores():
    """The notes print -1.17349468; the rounded W gives -1.173494685, so both 8-digit roundings
    are within the tolerance."""
    scores = notes_net().predict(NOTES_X)
    np.testing.assert_allclose(scores, [0.20015525, -1.17349468, 0.36105113], rtol=0, atol=1e-8)


def test_simplenet_predict_with_the_notes_w_has_argmax_2():
    assert np.argmax(notes_net().predict(NOTES_X)) == 2


def test_simplenet_loss_with_the_notes_w_is_0_7260662834310464():
    """The printed W is rounded to 8 digits, so the loss agrees to about 1e-8 only."""
    assert notes_net().loss(NOTES_X, NOTES_LABEL) == pytest.approx(0.7260662834310464, rel=0, abs=1e-8)


def test_numerical_gradient_of_simplenet_loss_is_2_by_3_where_the_notes_raise_index_error():
    net = notes_net()

    def f(W):
        return net.loss(NOTES_X, NOTES_LABEL)

    dW = numerical_gradient(f, net.W)
    assert dW.shape == (2, 3)
    assert np.all(np.isfinite(dW))


def test_each_row_of_the_simplenet_gradient_sums_to_zero():
    """dL/dW_ij = x_i (y_j − t_j), and both y and t sum to 1."""
    net = notes_net()
    dW = numerical_gradient(lambda W: net.loss(NOTES_X, NOTES_LABEL), net.W)
    np.testing.assert_allclose(dW.sum(axis=1), [0.0, 0.0], atol=1e-8)


def test_the_simplenet_gradient_matches_the_analytic_one():
    net = notes_net()
    dW = numerical_gradient(lambda W: net.loss(NOTES_X, NOTES_LABEL), net.W)
    exact = np.outer(NOTES_X, softmax(NOTES_X @ NOTES_W) - NOTES_LABEL)
    np.testing.assert_allclose(dW, exact, atol=1e-6)


# --- loss functions -------------------------------------------------------------------------------

@pytest.mark.parametrize("y, expected", [(NOTES_Y, 0.0975), (WRONG_Y, 0.5975)], ids=["right guess", "wrong guess"])
def test_mean_squared_error_of_the_book_examples(y, expected):
    assert mean_squared_error(y, NOTES_T) == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_error_of_the_wrong_guess_is_2_302584092994546():
    assert cross_entropy_error(WRONG_Y, NOTES_T) == pytest.approx(2.302584092994546, rel=1e-15)


def test_cross_entropy_error_of_a_zero_probability_is_finite():
    assert cross_entropy_error(NOTES_Y, np.eye(10)[3]) == pytest.approx(-np.log(1e-7), rel=1e-9)


def test_cross_entropy_error_with_label_indices_equals_the_one_hot_version():
    rng = np.random.default_rng(1)
    y = rng.dirichlet(np.ones(10), size=6)
    labels = rng.integers(0, 10, 6)
    assert cross_entropy_error(y, labels) == pytest.approx(cross_entropy_error(y, np.eye(10)[labels]), rel=1e-12)


def test_cross_entropy_error_with_a_single_label_index_equals_the_one_hot_version():
    assert cross_entropy_error(NOTES_Y, np.array(2)) == pytest.approx(cross_entropy_error(NOTES_Y, NOTES_T), rel=1e-12)


def test_cross_entropy_error_of_a_batch_is_averaged_over_n():
    rng = np.random.default_rng(2)
    y = rng.dirichlet(np.ones(10), size=5)
    t = np.eye(10)[rng.integers(0, 10, 5)]
    each = [cross_entropy_error(row_y, row_t) for row_y, row_t in zip(y, t)]
    assert cross_entropy_error(y, t) == pytest.approx(np.mean(each), rel=1e-12)


# --- softmax --------------------------------------------------------------------------------------

def test_softmax_of_1010_1000_990_is_finite_and_sums_to_1():
    y = softmax(np.array([1010.0, 1000.0, 990.0]))
    assert np.all(np.isfinite(y))
    assert y.sum() == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(y, [9.99954600e-01, 4.53978686e-05, 2.06106005e-09], rtol=1e-8)


def test_softmax_of_the_book_example():
    np.testing.assert_allclose(softmax(np.array([0.3, 2.9, 4.0])), [0.01821127, 0.24519181, 0.73659691], rtol=0, atol=1e-8)


def test_softmax_normalises_a_2d_batch_row_by_row():
    batch = np.random.default_rng(3).normal(0, 3, (4, 5))
    result = softmax(batch)
    np.testing.assert_allclose(result.sum(axis=1), np.ones(4), rtol=1e-12)
    for row, out in zip(batch, result):
        np.testing.assert_allclose(out, softmax(row), rtol=1e-12)


# --- numerical differentiation and the gradient --------------------------------------------------

@pytest.mark.parametrize(
    "function, x, expected",
    [(function_1, 5.0, 0.75), (function_1, 10.0, 2.0), (function_1, 0.0, 0.0),
     (function_2, np.array([3.0, 4.0]), 25.0), (function_tmp1, 3.0, 25.0), (function_tmp2, 4.0, 25.0)],
    ids=["function_1(5)", "function_1(10)", "function_1(0)", "function_2([3,4])", "function_tmp1(3)", "function_tmp2(4)"],
)
def test_the_example_functions_have_their_textbook_values(function, x, expected):
    assert function(x) == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("x, expected", [(5.0, 0.2), (10.0, 0.3)])
def test_numerical_diff_of_function_1_matches_the_book(x, expected):
    assert numerical_diff(function_1, x) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("shape", [(), (5,), (2, 3), (2, 2, 2)], ids=["0-d", "1-d", "2-d", "3-d"])
def test_numerical_gradient_works_on_any_shape(shape):
    f = Weighted(shape)
    x = np.random.default_rng(4).normal(size=shape)
    grad = numerical_gradient(f, x)
    assert np.shape(grad) == shape
    np.testing.assert_allclose(grad, f.gradient(x), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("shape", [(5,), (2, 3), (2, 2, 2)], ids=["1-d", "2-d", "3-d"])
def test_numerical_gradient_restores_x_exactly(shape):
    x = np.random.default_rng(5).normal(size=shape)
    before = x.copy()
    numerical_gradient(Weighted(shape), x)
    assert np.array_equal(x, before)


def test_numerical_gradient_perturbs_the_array_passed_so_f_may_ignore_its_argument():
    weights = np.random.default_rng(6).normal(size=(2, 3))
    g = Weighted((2, 3))
    grad = numerical_gradient(lambda _ignored: g(weights), weights)
    np.testing.assert_allclose(grad, g.gradient(weights), rtol=1e-6, atol=1e-8)


def test_numerical_gradient_of_a_transposed_view_perturbs_the_base_array():
    weights = np.random.default_rng(7).normal(size=(2, 3))
    before = weights.copy()
    g = Weighted((2, 3))
    view = weights.T
    assert not view.flags.c_contiguous
    grad = numerical_gradient(lambda _ignored: g(weights), view)
    assert grad.shape == (3, 2)
    np.testing.assert_allclose(grad, g.gradient(weights).T, rtol=1e-6, atol=1e-8)
    assert np.array_equal(weights, before)


def test_gradient_descent_does_not_modify_the_callers_init_x():
    init_x = np.array([-3.0, 4.0])
    gradient_descent(function_2, init_x, lr=0.1, step_num=100)
    assert np.array_equal(init_x, [-3.0, 4.0])


def test_gradient_descent_runs_exactly_step_num_steps():
    """On x0² + x1² each step multiplies x by (1 − 2·lr)."""
    result = gradient_descent(function_2, np.array([-3.0, 4.0]), lr=0.1, step_num=7)
    np.testing.assert_allclose(result, np.array([-3.0, 4.0]) * 0.8**7, rtol=1e-7)


# --- mini-batches ---------------------------------------------------------------------------------

def training_data(size=600, features=7):
    rng = np.random.default_rng(8)
    x_train = rng.normal(size=(size, features))
    x_train[:, 0] = np.arange(size)  # each row says which row it is
    return x_train, np.arange(size)


def test_get_mini_batch_returns_batch_size_rows_of_inputs_and_labels():
    np.random.seed(0)
    x_train, t_train = training_data()
    x_batch, t_batch = get_mini_batch(x_train, t_train, 100)
    assert x_batch.shape == (100, 7)
    assert t_batch.shape == (100,)


def test_get_mini_batch_keeps_each_label_with_its_row():
    np.random.seed(0)
    x_train, t_train = training_data()
    x_batch, t_batch = get_mini_batch(x_train, t_train, 100)
    assert np.array_equal(x_batch[:, 0], t_batch)
    assert np.array_equal(x_train[t_batch], x_batch)


def test_get_mini_batch_draws_anew_on_each_call():
    np.random.seed(0)
    x_train, t_train = training_data()
    first, _ = get_mini_batch(x_train, t_train, 100)
    second, _ = get_mini_batch(x_train, t_train, 100)
    assert not np.array_equal(first, second)


# --- the package ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", reference.__all__)
def test_every_public_name_is_importable_from_reference(name):
    namespace: dict = {}
    exec(f"from reference import {name}", namespace)
    assert namespace[name] is getattr(reference, name)


REFERENCE_FILES = sorted(Path(reference.__file__).parent.glob("*.py"))


@pytest.mark.parametrize("path", REFERENCE_FILES, ids=[p.name for p in REFERENCE_FILES])
def test_reference_modules_do_not_import_the_grader_or_the_exercises(path):
    """The reference is plain numpy: it never depends on what it is the answer key for."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert {name.split(".")[0] for name in imported} <= {"numpy", "reference", "__future__"}
