"""Gradient descent (4.7), graded with a correct gradient underneath.

A bug in the learner's ``numerical_gradient`` is charged to that function's checks, not again
here: while these probes run, ``gradient_descent`` sees, under the name ``numerical_gradient``, the
exact gradient of the probe's own quadratic (valid for that function only, so it gives away
nothing). The learner's function is called with every argument, by keyword as the notes call it
(``x=``, ``lr=``, ``step_num=``; ``init_x=`` as the book names it) when its parameters have those
names, else positionally; on fresh copies; the book's ``(x, x_history)`` return is accepted by
taking its first element.
"""
import numpy as np

from exercises import T
from grader import hookimpl, probing
from grader.model import Check, Exercise


class _Quadratic:
    """f(x) = Σ a·x²; its gradient 2·a·x stands in for ``numerical_gradient`` on it alone."""

    def __init__(self, a):
        self.a = np.asarray(a, dtype=float)
        self.slopes = 2.0 * self.a  # (made once: a descent asks for the gradient at every step)

    def __call__(self, x):
        return float(np.sum(self.a * x**2))

    def gradient(self, f, x):
        return self.slopes * np.asarray(x, dtype=float)


#: The names the notes (``x``) and the book (``init_x``) give the arguments after ``f``.
STARTING_POINT_LR_STEPS = (("x", "init_x"), ("lr",), ("step_num",))


def _descend(module, f, init_x, lr, step_num):
    probing.show(init_x=init_x, lr=lr, step_num=step_num)
    with probing.supply(module.gradient_descent, numerical_gradient=f.gradient):
        result = probing.call_by_name(module.gradient_descent, (f, init_x.copy(), lr, step_num), STARTING_POINT_LR_STEPS)
    return probing.value(probing.first(result))


def probe_notes(module, rng):
    return _descend(module, _Quadratic([1.0, 1.0]), np.array([-3.0, 4.0]), 0.1, 100)


def probe_step_count(module, rng):
    results = []
    for _ in range(3):
        f = _Quadratic(rng.uniform(0.5, 2.0, 3))
        steps = int(rng.integers(5, 30))
        results.append(_descend(module, f, rng.normal(0, 5, 3), 0.05, steps))
    return results


#: How far from (-3, 4) a descent has diverged. With lr = 10 the exact gradient reaches 1e128 in
#: 100 steps, but a numerical one (the notes' own, which prints about -2.6e13) stalls near 1e13,
#: where x ± h rounds back to x: a learner's own gradient helper, which the grader's exact one does
#: not replace, must not lose the check for that.
DIVERGED = 1e6


def probe_learning_rates(module, rng):
    f = _Quadratic([1.0, 1.0])
    init_x = np.array([-3.0, 4.0])
    too_large, too_small, small = (_descend(module, f, init_x, lr, 100) for lr in (10.0, 1e-10, 0.01))
    return [_diverged(too_large), too_small, small]


def _diverged(x):
    """Whether each element of ``x`` is past ``DIVERGED`` (inf and nan too)."""
    return ~(np.abs(np.asarray(x, dtype=float)) <= DIVERGED)


CHECKS = (
    Check("gradient_descent", "notes_example", 4, probe_notes,
          T("The notes' example: f = x0² + x1² from (-3, 4), lr = 0.1, step_num = 100 ends near (-6.1e-10, 8.1e-10).",
            "ノートの例: f = x0² + x1² を (-3, 4) から lr = 0.1、step_num = 100 で進めると (-6.1e-10, 8.1e-10) 付近になる。"),
          rtol=1e-6, supplied=("numerical_gradient",)),
    Check("gradient_descent", "step_count", 4, probe_step_count,
          T("Exactly step_num steps of x ← x − lr·∇f, for random quadratics and step counts.",
            "ランダムな二次関数とステップ数で、x ← x − lr·∇f をちょうど step_num 回行う。"),
          rtol=1e-6, supplied=("numerical_gradient",)),
    Check("gradient_descent", "learning_rates", 4, probe_learning_rates,
          T("lr = 10.0 diverges (in [0]: True where |x| ends above 1e6), lr = 1e-10 barely moves, lr = 0.01 converges "
            "slowly, as the notes describe.",
            "ノートにあるとおり lr = 10.0 は発散し（in [0]: |x| が 1e6 を超えれば True）、lr = 1e-10 はほとんど動かず、"
            "lr = 0.01 はゆっくり収束する。"),
          rtol=1e-6, supplied=("numerical_gradient",)),
)


@hookimpl
def grader_exercises(register):
    register(Exercise("descent", T("Gradient descent (4.7)", "勾配法 (4.7)"), CHECKS,
                      calls=(("gradient_descent", "gradient_descent(f, x, lr=lr, step_num=step_num)"),)))
