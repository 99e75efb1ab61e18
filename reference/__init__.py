"""The chapter "ニューラルネットワークの学習" (learning in neural networks), executable.

Every name a learner writes in the chapter's notes is importable from here under the same name,
so a probe can run the same way on this package as on a learner's module:

    from reference import numerical_gradient

Nothing in this package imports the grader: it is plain numpy, trusted, and never sent to the
learner's process.
"""
from reference.activations import softmax
from reference.derivatives import (
    function_1,
    function_2,
    function_tmp1,
    function_tmp2,
    numerical_diff,
)
from reference.descent import gradient_descent
from reference.gradient import numerical_gradient
from reference.losses import cross_entropy_error, mean_squared_error
from reference.minibatch import get_mini_batch
from reference.simplenet import simpleNet

__all__ = [
    "cross_entropy_error",
    "function_1",
    "function_2",
    "function_tmp1",
    "function_tmp2",
    "get_mini_batch",
    "gradient_descent",
    "mean_squared_error",
    "numerical_diff",
    "numerical_gradient",
    "simpleNet",
    "softmax",
]
