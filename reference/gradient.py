"""The gradient: every partial derivative of f at x, by central differences."""
import numpy as np

H = 1e-4


def numerical_gradient(f, x):
    """∂f/∂x for an array ``x`` of any shape.

    ``x`` itself is perturbed, one element at a time, and restored, so an ``f`` that ignores its
    argument and reads the same array elsewhere (``f(W)`` returning ``net.loss(x, t)``) still
    sees the change. Indexing with full multi-indices is what lets the 2-D weight matrix of
    simpleNet through, where the notes' ``for idx in range(x.size)`` raises IndexError.
    """
    grad = np.zeros_like(x, dtype=float)
    for idx in np.ndindex(x.shape):
        tmp_val = x[idx]
        x[idx] = float(tmp_val) + H
        fxh1 = f(x)
        x[idx] = float(tmp_val) - H
        fxh2 = f(x)
        grad[idx] = (fxh1 - fxh2) / (2 * H)
        x[idx] = tmp_val
    return grad
