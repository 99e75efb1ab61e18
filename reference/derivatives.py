"""Numerical differentiation (4.4) and the example functions of the notes' partial derivatives."""

#: The step the notes recommend: small, but not so small that rounding error takes over.
H = 1e-4


def numerical_diff(f, x):
    """Central difference (f(x+h) − f(x−h)) / 2h, which is closer to the true derivative than the
    forward difference of (4.4)."""
    return (f(x + H) - f(x - H)) / (2 * H)


def function_1(x):
    """y = 0.01x² + 0.1x: the notes call it but never define it; this is the book's definition."""
    return 0.01 * x**2 + 0.1 * x


def function_2(x):
    """f(x0, x1) = x0² + x1²."""
    return x[0] ** 2 + x[1] ** 2


def function_tmp1(x0):
    """f with x1 held at 4, for ∂f/∂x0 at (3, 4)."""
    return x0 * x0 + 4.0**2.0


def function_tmp2(x1):
    """f with x0 held at 3, for ∂f/∂x1 at (3, 4)."""
    return 3.0**2.0 + x1 * x1
