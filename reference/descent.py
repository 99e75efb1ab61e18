"""Gradient descent (4.7): x ← x − η ∂f/∂x, step_num times."""
import numpy as np

from reference.gradient import numerical_gradient


def gradient_descent(f, init_x, lr=0.01, step_num=100):
    """Return x after ``step_num`` steps of x ← x − lr·∂f/∂x   (4.7).

    (This version works on a copy, so the caller's ``init_x`` is left as it was.)
    """
    x = np.array(init_x, dtype=float)
    for _ in range(step_num):
        grad = numerical_gradient(f, x)
        x -= lr * grad
    return x
