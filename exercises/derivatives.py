"""Numerical differentiation (4.4) and the functions of the notes' partial derivatives.

``numerical_diff`` is graded on functions of the probe's own, so a bug in the learner's
``function_tmp1`` is charged to ``function_tmp1`` only. Its tolerance accepts any central
difference with 1e-6 ≤ h ≤ 1e-3; the forward difference of (4.4) fails where the curvature is
not negligible (x² at 0), and so does h = 1e-50, whose x + h rounds back to x.
"""
import numpy as np

from exercises import T
from grader import hookimpl, probing
from grader.model import Check, Exercise

DIFF_TOLERANCE = dict(rtol=1e-5, atol=1e-6)
#: The central difference of x² at 0 is exactly 0, whatever h: ((0+h)² − (0−h)²) / 2h. The forward
#: difference gives h, so with the usual atol one with h = 1e-6 would pass; with this, any h from
#: 1e-12 up fails here, and a smaller one fails the other checks of numerical_diff by its rounding
#: error (an h such as 2⁻⁴⁰, exact at x = 1, still fails function_1 and random).
ZERO_ATOL = 1e-12


def _notes_tmp1(x0):
    return x0 * x0 + 4.0**2.0


def _square(x):
    return x**2


def _book_function_1(x):
    return 0.01 * x**2 + 0.1 * x


def _differentiate(module, cases):
    return [_differentiated(module, f, x) for f, x in cases]


def _differentiated(module, f, x):
    probing.show(f=f.__name__, x=x)  # (each call's own: a failure at [i] shows the i-th)
    return probing.value(module.numerical_diff(f, x))


def probe_diff_notes(module, rng):
    return _differentiate(module, [(_notes_tmp1, 3.0)])


def probe_diff_square_at_zero(module, rng):
    return _differentiate(module, [(_square, 0.0), (_square, 1.0)])


def probe_diff_function_1(module, rng):
    return _differentiate(module, [(_book_function_1, 5), (_book_function_1, 10)])


def probe_diff_random(module, rng):
    points = rng.uniform(-3, 3, 4)
    return _differentiate(module, [(np.sin, float(points[0])), (np.sin, float(points[1])),
                                   (np.exp, float(points[2])), (np.cos, float(points[3]))])


def probe_function_1_scalars(module, rng):
    points = [0.0, 5.0, 10.0, float(rng.uniform(-20, 20))]
    probing.show(x=points)
    return [probing.value(module.function_1(x)) for x in points]


def probe_function_1_array(module, rng):
    x = np.arange(0.0, 20.0, 0.1)  # as the book plots it
    probing.show(x=x)
    return probing.value(module.function_1(x.copy()))


def probe_function_2_notes(module, rng):
    points = [np.array([3.0, 4.0]), np.array([-3.0, 4.0]), np.array([0.0, 2.0])]
    probing.show(x=points)
    return [probing.value(module.function_2(x.copy())) for x in points]


def probe_function_2_random(module, rng):
    points = rng.normal(0, 10, (4, 2))
    probing.show(x=points)
    return [probing.value(module.function_2(x.copy())) for x in points]


def probe_function_tmp1(module, rng):
    points = [3.0, 0.0, float(rng.uniform(-10, 10))]
    probing.show(x0=points)
    return [probing.value(module.function_tmp1(x)) for x in points]


def probe_function_tmp2(module, rng):
    points = [4.0, 0.0, float(rng.uniform(-10, 10))]
    probing.show(x1=points)
    return [probing.value(module.function_tmp2(x)) for x in points]


CHECKS = (
    Check("numerical_diff", "notes_example", 3, probe_diff_notes,
          T("The notes' ∂f/∂x0 at (3, 4): numerical_diff(function_tmp1, 3.0) ≈ 6.00000000000378.",
            "ノートの (3, 4) での ∂f/∂x0: numerical_diff(function_tmp1, 3.0) ≈ 6.00000000000378。"),
          **DIFF_TOLERANCE),
    Check("numerical_diff", "square_at_zero", 3, probe_diff_square_at_zero,
          T("The derivative of x² at 0 is 0 (and 2 at 1): the forward difference of (4.4) gives h instead, "
            "however small h is.",
            "x² の 0 での微分は 0（1 では 2）。(4.4) の前方差分では、h をどれほど小さくしても h になってしまいます。"),
          **{**DIFF_TOLERANCE, "atol": ZERO_ATOL}),
    Check("numerical_diff", "function_1", 3, probe_diff_function_1,
          T("The book's function_1 = 0.01x² + 0.1x at x = 5 and 10 (≈ 0.2 and 0.3).",
            "本の function_1 = 0.01x² + 0.1x の x = 5 と 10 での微分（≈ 0.2 と 0.3）。"),
          **DIFF_TOLERANCE),
    Check("numerical_diff", "random", 3, probe_diff_random,
          T("sin, exp and cos at random points.", "ランダムな点での sin、exp、cos。"),
          **DIFF_TOLERANCE),
    Check("function_1", "scalars", 2, probe_function_1_scalars,
          T("function_1(x) = 0.01x² + 0.1x (the notes call it but never define it).",
            "function_1(x) = 0.01x² + 0.1x（ノートは呼び出していますが定義していません）。"), rtol=1e-9),
    Check("function_1", "array", 2, probe_function_1_array,
          T("function_1 on np.arange(0.0, 20.0, 0.1), as the book plots it.",
            "本のグラフのように np.arange(0.0, 20.0, 0.1) に function_1 を適用する。"), rtol=1e-9),
    Check("function_2", "notes_example", 2, probe_function_2_notes,
          T("f(x0, x1) = x0² + x1² at (3, 4), (-3, 4) and (0, 2).",
            "f(x0, x1) = x0² + x1² の (3, 4)、(-3, 4)、(0, 2) での値。"), rtol=1e-9),
    Check("function_2", "random", 2, probe_function_2_random,
          T("f(x0, x1) = x0² + x1² at random 2-element vectors.",
            "ランダムな 2 要素ベクトルでの f(x0, x1) = x0² + x1²。"), rtol=1e-9),
    Check("function_tmp1", "values", 2, probe_function_tmp1,
          T("function_tmp1(x0) = x0² + 4² (f with x1 held at 4).",
            "function_tmp1(x0) = x0² + 4²（x1 を 4 に固定した f）。"), rtol=1e-9),
    Check("function_tmp2", "values", 2, probe_function_tmp2,
          T("function_tmp2(x1) = 3² + x1² (f with x0 held at 3).",
            "function_tmp2(x1) = 3² + x1²（x0 を 3 に固定した f）。"), rtol=1e-9),
)


@hookimpl
def grader_exercises(register):
    register(Exercise("derivatives", T("Numerical differentiation and partial derivatives (4.4)",
                                       "数値微分と偏微分 (4.4)"), CHECKS,
                      calls=(("numerical_diff", "numerical_diff(f, x)"), ("function_1", "function_1(x)"),
                             ("function_2", "function_2(x)"), ("function_tmp1", "function_tmp1(x0)"),
                             ("function_tmp2", "function_tmp2(x1)"))))
