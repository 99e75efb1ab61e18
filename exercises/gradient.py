"""The gradient: every partial derivative at once, for arrays of any shape.

The functions differentiated here are the probe's own. Some read the array they are given;
others, like ``f(W) = net.loss(x, t)`` in the notes, ignore their argument and read the same
array elsewhere, which only works if ``numerical_gradient`` perturbs ``x`` itself, in place.
"""
import numpy as np

from exercises import T
from grader import hookimpl, probing
from grader.model import Check, Exercise

GRADIENT_TOLERANCE = dict(rtol=1e-5, atol=1e-6)


def _function_2(x):
    return x[0] ** 2 + x[1] ** 2


class _Weighted:
    """f(x) = Σ c·sin(x) + Σ d·x²: smooth, every element matters, any shape."""

    def __init__(self, rng, shape):
        self.c = rng.normal(size=shape)
        self.d = rng.normal(size=shape)

    def __call__(self, x):
        # (np.add.reduce is what np.sum runs, without its Python wrapper: a learner's
        # numerical_gradient calls this twice per element)
        return float(np.add.reduce(self.c * np.sin(x), axis=None) + np.add.reduce(self.d * x**2, axis=None))


def _gradient(module, f, x):
    return probing.value(module.numerical_gradient(f, x))


def probe_notes(module, rng):
    points = [np.array([3.0, 4.0]), np.array([0.0, 2.0]), np.array([3.0, 0.0])]
    probing.show(f="x0² + x1²", x=points)
    return [_gradient(module, _function_2, x.copy()) for x in points]


def probe_random_1d(module, rng):
    f = _Weighted(rng, 5)
    x = rng.normal(size=5)
    probing.show(x=x)
    return _gradient(module, f, x)


def probe_restores_input(module, rng):
    f = _Weighted(rng, 4)
    x = rng.normal(size=4)
    probing.show(x=x)
    module.numerical_gradient(f, x)
    return probing.value(x)


def probe_n_dimensional(module, rng):
    results = []
    for shape in ((2, 3), (2, 2, 2)):
        f = _Weighted(rng, shape)
        x = rng.normal(size=shape)
        probing.show(x=x)
        results.append(_gradient(module, f, x))
    return results


def probe_reads_weights(module, rng):
    """As ``f(W) = net.loss(x, t)``: f ignores its argument and reads W, the array passed."""
    weights = rng.normal(size=6)
    g = _Weighted(rng, 6)

    def f(_ignored):
        return g(weights)

    probing.show(x=weights)
    return _gradient(module, f, weights)


def probe_non_contiguous(module, rng):
    """A transposed view: perturbing a flattened copy of it would not reach the weights."""
    weights = rng.normal(size=(2, 3))
    g = _Weighted(rng, (2, 3))

    def f(_ignored):
        return g(weights)

    view = weights.T
    probing.show(x=view)
    return _gradient(module, f, view)


CHECKS = (
    Check("numerical_gradient", "notes_example", 4, probe_notes,
          T("The gradient of x0² + x1² at (3, 4) is [6, 8] (and [0, 4] at (0, 2), [6, 0] at (3, 0)).",
            "x0² + x1² の (3, 4) での勾配は [6, 8]（(0, 2) で [0, 4]、(3, 0) で [6, 0]）。"),
          **GRADIENT_TOLERANCE),
    Check("numerical_gradient", "random_1d", 3, probe_random_1d,
          T("A random smooth function of a 5-element vector.", "5 要素のベクトルのランダムな滑らかな関数。"),
          **GRADIENT_TOLERANCE),
    Check("numerical_gradient", "restores_input", 3, probe_restores_input,
          T("After the call, x holds exactly the values it had before (each x[idx] put back).",
            "呼び出しの後、x は元どおりの値に戻っている（x[idx] を元に戻す）。"), rtol=1e-12),
    Check("numerical_gradient", "n_dimensional", 4, probe_n_dimensional,
          T("x of shape (2, 3) and (2, 2, 2), like simpleNet's W: the notes' range(x.size) loop raises IndexError here.",
            "形状 (2, 3) と (2, 2, 2) の x（simpleNet の W のような配列）。ノートの range(x.size) のループでは IndexError になります。"),
          **GRADIENT_TOLERANCE),
    Check("numerical_gradient", "reads_weights", 2, probe_reads_weights,
          T("f ignores its argument and reads the array passed as x, as f(W) = net.loss(x, t) does: x itself must be perturbed.",
            "f(W) = net.loss(x, t) のように f が引数を使わず x として渡した配列を読む場合。x そのものを書き換える必要があります。"),
          **GRADIENT_TOLERANCE),
    Check("numerical_gradient", "non_contiguous", 2, probe_non_contiguous,
          T("x is a transposed view (W.T) and f reads W: flattening x makes a copy that f never sees.",
            "x が転置したビュー (W.T) で f は W を読む場合。x を平坦化するとコピーになり、f には伝わりません。"),
          **GRADIENT_TOLERANCE),
)


@hookimpl
def grader_exercises(register):
    register(Exercise("gradient", T("Gradient", "勾配"), CHECKS, calls=(("numerical_gradient", "numerical_gradient(f, x)"),)))
